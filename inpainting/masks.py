"""Masks and compositing. A mask is 1 where pixels are missing."""

from __future__ import annotations

import jax
import numpy as np


def centre_mask(image_size: int, hole_size: int) -> np.ndarray:
  """A [image_size, image_size, 1] float32 mask with a centred square hole.

  Args:
    image_size: side of the square image.
    hole_size: side of the hole, at most `image_size`.

  Returns:
    1.0 inside the hole, 0.0 elsewhere.
  """
  if not 0 < hole_size <= image_size:
    raise ValueError(f'mask.size={hole_size} must be in (0, image_size='
                     f'{image_size}].')
  mask = np.zeros((image_size, image_size, 1), np.float32)
  start = (image_size - hole_size) // 2
  mask[start:start + hole_size, start:start + hole_size] = 1.0
  return mask


def apply_mask(image: jax.Array, mask: jax.Array) -> jax.Array:
  """The visible border: missing pixels set to 0 (mid-grey in [-1, 1])."""
  return image * (1.0 - mask)


def composite(image: jax.Array, prediction: jax.Array,
              mask: jax.Array) -> jax.Array:
  """`image` outside the hole, `prediction` inside: the border is kept as is."""
  return image * (1.0 - mask) + prediction * mask


def hole_box(mask: np.ndarray) -> tuple[int, int, int, int]:
  """(top, bottom, left, right) of the hole of a [H, W, 1] mask, ends excluded.

  Of a batch of masks [..., H, W, 1], the box that holds every hole. Plain
  ints, so that it can be a static argument of a jitted function.
  """
  mask = np.asarray(mask)
  holes = mask.reshape(-1, *mask.shape[-3:])[..., 0].any(axis=0)
  rows = np.flatnonzero(holes.any(axis=1))
  cols = np.flatnonzero(holes.any(axis=0))
  if rows.size == 0:
    raise ValueError('The mask has no hole.')
  return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def to_uint8(image: jax.Array | np.ndarray) -> np.ndarray:
  """[-1, 1] floats -> uint8 [0, 255]."""
  image = np.asarray(image, np.float32)
  return np.round((np.clip(image, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
