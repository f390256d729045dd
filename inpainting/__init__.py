"""Caption-conditioned inpainting of 64x64 images in JAX/Flax."""
