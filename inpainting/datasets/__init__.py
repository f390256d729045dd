"""TFDS builders of captioned 64x64 images; importing registers them.

Every builder yields `image` (64x64x3 uint8), `captions` (one or more
strings) and `embeddings` ([num_captions, 384] float32, from
`inpainting.text_encoder`), so the input pipeline treats them alike.
"""

from inpainting.datasets import synthetic_shapes  # registers the builder

__all__ = ['synthetic_shapes']
