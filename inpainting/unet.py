"""A small U-Net for denoising a hole's pixels, sized for a CPU.

F(c_in x, c_noise | masked image, mask, caption) of EDM's denoiser
(`inpainting/edm.py`): the noisy hole (0 outside it), the visible image
(0 inside the hole) and the mask enter as 7 channels at 64x64; the noise
level (a sinusoidal embedding of c_noise) and the caption embedding enter
every residual block by FiLM (a scale and a shift of its normalised
features, from an MLP of their sum). Caption dropout at training time (a
zero embedding) makes classifier-free guidance possible. Group
normalisation (no batch statistics: a denoiser must not depend on the
rest of its batch), SiLU, self-attention at the coarsest levels, a
zero-initialised output so that training starts from D = c_skip x.

At the defaults: 3.90 M parameters, 2.47 GFLOP an image an evaluation
(XLA's count of the forward pass at 64x64), so a sample of 31 evaluations
(16 Heun steps) is about 77 GFLOP.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def noise_embedding(c_noise: jax.Array, features: int) -> jax.Array:
  """[B] -> [B, features]: sines and cosines of c_noise at geometric
  frequencies (the transformer's positional embedding)."""
  half = features // 2
  frequencies = jnp.exp(-math.log(10_000.0) * jnp.arange(half) / half)
  angles = 1_000.0 * c_noise[:, None] * frequencies[None]
  return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def _groups(features: int) -> int:
  return min(32, features // 4) or 1


class ResBlock(nn.Module):
  """GroupNorm-SiLU-conv twice, FiLM by the conditioning, a skip."""
  features: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, condition: jax.Array) -> jax.Array:
    h = nn.GroupNorm(_groups(x.shape[-1]), dtype=self.dtype)(x)
    h = nn.Conv(self.features, (3, 3), dtype=self.dtype)(nn.silu(h))
    scale, shift = jnp.split(
        nn.Dense(2 * self.features, dtype=self.dtype)(condition), 2, axis=-1)
    h = nn.GroupNorm(_groups(self.features), dtype=self.dtype)(h)
    h = h * (1 + scale[:, None, None]) + shift[:, None, None]
    h = nn.Conv(self.features, (3, 3), dtype=self.dtype,
                kernel_init=nn.initializers.zeros)(nn.silu(h))
    if x.shape[-1] != self.features:
      x = nn.Conv(self.features, (1, 1), dtype=self.dtype, name='skip')(x)
    return (x + h) / math.sqrt(2)


class Attention(nn.Module):
  """Self-attention over the positions of a feature map, residual."""
  heads: int = 4
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b, h, w, c = x.shape
    y = nn.GroupNorm(_groups(c), dtype=self.dtype)(x).reshape(b, h * w, c)
    y = nn.MultiHeadDotProductAttention(
        num_heads=self.heads, dtype=self.dtype,
        out_kernel_init=nn.initializers.zeros)(y, y)
    return (x + y.reshape(b, h, w, c)) / math.sqrt(2)


class UNet(nn.Module):
  """The denoising network F of the hole's pixels.

  Attributes:
    features: channels at each resolution, finest first (64, 32, 16, 8
      pixels for a 64x64 input with four entries).
    blocks: residual blocks at each resolution, on the way down (one more
      on the way up).
    attention_levels: the resolutions' indices that get self-attention.
    embedding_features: the width of the noise and caption embeddings.
    use_captions: whether the caption embedding enters (else ignored).
  """
  features: Sequence[int] = (32, 64, 96, 128)
  blocks: int = 1
  attention_levels: Sequence[int] = (3,)
  embedding_features: int = 128
  use_captions: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, noisy: jax.Array, c_noise: jax.Array,
               masked_image: jax.Array, mask: jax.Array,
               caption: jax.Array) -> jax.Array:
    """[B, H, W, 3] noisy hole (scaled by c_in), [B] c_noise, the masked
    image [B, H, W, 3], the mask [B, H, W, 1] and the caption embedding
    [B, E] -> [B, H, W, 3]."""
    e = self.embedding_features
    condition = nn.Dense(e, dtype=self.dtype, name='noise_in')(
        noise_embedding(c_noise, e))
    if self.use_captions:
      condition += nn.Dense(e, dtype=self.dtype, name='caption_in')(caption)
    condition = nn.Dense(e, dtype=self.dtype, name='condition')(
        nn.silu(condition))
    condition = nn.silu(condition)

    x = jnp.concatenate([noisy, masked_image, mask], axis=-1)
    x = nn.Conv(self.features[0], (3, 3), dtype=self.dtype, name='in')(x)
    skips = [x]
    for level, features in enumerate(self.features):
      for _ in range(self.blocks):
        x = ResBlock(features, self.dtype)(x, condition)
        if level in self.attention_levels:
          x = Attention(dtype=self.dtype)(x)
        skips.append(x)
      if level < len(self.features) - 1:
        x = nn.Conv(features, (3, 3), strides=(2, 2), dtype=self.dtype)(x)
        skips.append(x)
    x = ResBlock(self.features[-1], self.dtype)(x, condition)
    x = Attention(dtype=self.dtype)(x)
    x = ResBlock(self.features[-1], self.dtype)(x, condition)
    for level in reversed(range(len(self.features))):
      for _ in range(self.blocks + 1):
        x = jnp.concatenate([x, skips.pop()], axis=-1)
        x = ResBlock(self.features[level], self.dtype)(x, condition)
        if level in self.attention_levels:
          x = Attention(dtype=self.dtype)(x)
      if level > 0:
        b, h, w, c = x.shape
        x = jax.image.resize(x, (b, 2 * h, 2 * w, c), 'nearest')
        x = nn.Conv(c, (3, 3), dtype=self.dtype)(x)
    x = nn.silu(nn.GroupNorm(_groups(x.shape[-1]), dtype=self.dtype)(x))
    return nn.Conv(3, (3, 3), dtype=self.dtype, name='out',
                   kernel_init=nn.initializers.zeros)(x).astype(jnp.float32)
