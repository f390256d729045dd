"""Filling a hole in a photograph of any size with a 64x64 model.

The model sees a square crop around the hole: the hole's bounding box,
doubled in each direction about its centre (so that, like the centre 32x32
hole of the training images, it fills about half of the crop's side), made
square where the photograph allows, and resized to the model's size. The
filled crop is resized back and pasted into the photograph's missing pixels
only: every other pixel stays exactly as it was. A hole larger than half
the photograph's shorter side gets the whole photograph's extent along
that side, and the crop is resized unevenly if it cannot be square.
"""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np
from PIL import Image

from inpainting import errors
from inpainting import inference
from inpainting import masks


class HoleError(errors.UserError, ValueError):
  """A mask that cannot be filled: empty, or covering the whole view."""


@dataclasses.dataclass(frozen=True)
class Crop:
  """The region of the photograph the model sees: rows top:bottom,
  columns left:right."""
  top: int
  bottom: int
  left: int
  right: int


def _span(low: int, high: int, length: int, limit: int) -> tuple[int, int]:
  """An interval of `length` (at most `limit`) centred on [low, high),
  shifted to lie within [0, limit)."""
  length = min(max(length, high - low), limit)
  start = (low + high - length) // 2
  start = min(max(start, 0), limit - length)
  return start, start + length


def crop_around(missing: np.ndarray) -> Crop:
  """The square (where it fits) crop around a [H, W] boolean hole."""
  if not missing.any():
    raise HoleError('The mask is empty: paint the hole (white = missing).')
  hole_top, hole_bottom, hole_left, hole_right = masks.hole_box(
      missing[..., None])
  height, width = missing.shape
  side = 2 * max(hole_bottom - hole_top, hole_right - hole_left)
  top, bottom = _span(hole_top, hole_bottom, side, height)
  left, right = _span(hole_left, hole_right, side, width)
  # A crop cut short by one edge of the photograph stays square by
  # shrinking along the other, as long as it keeps the hole.
  side = min(bottom - top, right - left)
  top, bottom = _span(hole_top, hole_bottom, side, height)
  left, right = _span(hole_left, hole_right, side, width)
  return Crop(top, bottom, left, right)


def model_inputs(rgb: np.ndarray, missing: np.ndarray, crop: Crop,
                 size: int) -> tuple[np.ndarray, np.ndarray]:
  """The crop of a uint8 [H, W, 3] photograph as the model's [size, size,
  3] image in [-1, 1], and its [size, size, 1] mask: a model pixel is
  missing if any photograph pixel it covers is."""
  window = (slice(crop.top, crop.bottom), slice(crop.left, crop.right))
  image = Image.fromarray(rgb[window]).resize((size, size),
                                              Image.Resampling.LANCZOS)
  covered = Image.fromarray(missing[window].astype(np.uint8) * 255).resize(
      (size, size), Image.Resampling.BOX)
  mask = (np.asarray(covered) > 0).astype(np.float32)[..., None]
  if mask.all():
    raise HoleError('The hole covers the whole photograph: the model needs '
                    'some of it to see.')
  return np.asarray(image, np.float32) / 127.5 - 1.0, mask


def fill_photo(config: ml_collections.ConfigDict, state, rgb: np.ndarray,
               missing: np.ndarray, embedding: np.ndarray) -> np.ndarray:
  """Fills a photograph's hole with a model at `config.image_size`.

  Args:
    config: the model's config.
    state: its generator (an exported file's, or a restored run's).
    rgb: uint8 [H, W, 3], any size.
    missing: bool [H, W], True where the hole is.
    embedding: [EMBEDDING_DIM] float32, the caption's (zeros for none).

  Returns:
    uint8 [H, W, 3]: `rgb` with its missing pixels filled.

  Raises:
    HoleError: if `missing` is empty, or covers the whole crop.
  """
  if missing.shape != rgb.shape[:2]:
    raise HoleError(f'The mask is {missing.shape[1]}x{missing.shape[0]}; '
                    f'the photograph {rgb.shape[1]}x{rgb.shape[0]}.')
  crop = crop_around(missing)
  image, mask = model_inputs(rgb, missing, crop, config.image_size)
  batch = {'image': image[None], 'mask': mask[None],
           'embedding': np.asarray(embedding, np.float32)[None]}
  # Over the whole model input: one compilation for holes of every shape.
  size = config.image_size
  filled = masks.to_uint8(inference.fill(state, batch, config,
                                         box=(0, size, 0, size)))[0]
  patch = np.asarray(Image.fromarray(filled).resize(
      (crop.right - crop.left, crop.bottom - crop.top),
      Image.Resampling.LANCZOS))
  out = rgb.copy()
  window = (slice(crop.top, crop.bottom), slice(crop.left, crop.right))
  region = out[window]
  hole = missing[window]
  region[hole] = patch[hole]
  return out
