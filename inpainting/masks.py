"""Masks and compositing. A mask is 1 where pixels are missing.

Holes of every kind (`config.mask.kind`, MASK_KINDS): the seed's centre
square; random rectangles (`box_mask`); random brush strokes
(`free_form_mask`, after DeepFill v2's irregular masks); or a mixture.
`sample_mask` draws one from (seed, position) alone, so that a stream's
masks depend only on its seed and each example's position in it: a resumed
run draws the same, and so does any number of processes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

MASK_KINDS = ('centre', 'box', 'free_form')


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


def hole_extent(any_missing: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The first and last index of each row's holes, in JAX (`hole_box`'s twin).

  Args:
    any_missing: [B, N], > 0 where a row (or column) of the image has a
      missing pixel.

  Returns:
    (first, last), each [B]; (N, -1) for a row without any.
  """
  n = any_missing.shape[1]
  index = jnp.arange(n)
  first = jnp.min(jnp.where(any_missing > 0, index, n), axis=1)
  last = jnp.max(jnp.where(any_missing > 0, index, -1), axis=1)
  return first, last


def to_uint8(image: jax.Array | np.ndarray) -> np.ndarray:
  """[-1, 1] floats -> uint8 [0, 255]."""
  image = np.asarray(image, np.float32)
  return np.round((np.clip(image, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def box_mask(rng: np.random.Generator, image_size: int, min_size: int,
             max_size: int) -> np.ndarray:
  """A rectangle of random sides in [min_size, max_size], anywhere, leaving
  at least one pixel of border on every side: [H, W, 1] float32."""
  height, width = rng.integers(min_size, max_size + 1, size=2)
  top = rng.integers(1, image_size - height)  # rows 1 .. size - 2 - height
  left = rng.integers(1, image_size - width)
  mask = np.zeros((image_size, image_size, 1), np.float32)
  mask[top:top + height, left:left + width] = 1.0
  return mask


def free_form_mask(rng: np.random.Generator, image_size: int, *,
                   max_strokes: int, max_vertices: int, max_length: int,
                   min_width: int, max_width: int) -> np.ndarray:
  """Random brush strokes, as DeepFill v2's irregular masks: [H, W, 1].

  1 to `max_strokes` strokes, each a polyline from a random start through 1
  to `max_vertices` segments of random direction and length (up to
  `max_length`), drawn with a round brush of a random width in [min_width,
  max_width]. The outermost ring of pixels is never missing, so that every
  hole has a border to see.
  """
  # Imported here: the model path (models, state, inference) imports this
  # module and runs where OpenCV is not installed.
  import cv2  # pylint: disable=g-import-not-at-top
  canvas = np.zeros((image_size, image_size), np.uint8)
  low, high = 1, image_size - 2
  for _ in range(rng.integers(1, max_strokes + 1)):
    x, y = rng.integers(low, high + 1, size=2)
    width = int(rng.integers(min_width, max_width + 1))
    for _ in range(rng.integers(1, max_vertices + 1)):
      angle = rng.uniform(0, 2 * math.pi)
      length = rng.integers(1, max_length + 1)
      nx = int(np.clip(x + length * math.cos(angle), low, high))
      ny = int(np.clip(y + length * math.sin(angle), low, high))
      cv2.line(canvas, (int(x), int(y)), (nx, ny), 1, width)
      cv2.circle(canvas, (nx, ny), width // 2, 1, -1)
      x, y = nx, ny
  canvas[[0, -1], :] = 0
  canvas[:, [0, -1]] = 0
  return canvas[..., None].astype(np.float32)


def kind_weights(mask_config: ml_collections.ConfigDict) -> dict[str, float]:
  """The probability of each kind of MASK_KINDS in a training stream."""
  if mask_config.kind != 'mixture':
    return {mask_config.kind: 1.0}
  weights = {k: float(mask_config.mixture[k]) for k in MASK_KINDS}
  total = sum(weights.values())
  return {k: w / total for k, w in weights.items() if w > 0}


def draw(kind: str, rng: np.random.Generator, image_size: int,
         mask_config: ml_collections.ConfigDict) -> np.ndarray:
  """One [H, W, 1] mask of `kind` (MASK_KINDS) from `rng`."""
  if kind == 'centre':
    return centre_mask(image_size, mask_config.size)
  if kind == 'box':
    return box_mask(rng, image_size, mask_config.box_min, mask_config.box_max)
  if kind == 'free_form':
    return free_form_mask(
        rng, image_size, max_strokes=mask_config.max_strokes,
        max_vertices=mask_config.max_vertices,
        max_length=mask_config.max_length, min_width=mask_config.min_width,
        max_width=mask_config.max_width)
  raise ValueError(f'Unknown mask kind {kind!r}; expected one of '
                   f'{MASK_KINDS}.')


def sample_mask(mask_config: ml_collections.ConfigDict, image_size: int,
                seed: int, position: int,
                kind: str | None = None) -> np.ndarray:
  """The mask of the example at `position` of the stream seeded `seed`.

  A pure function of its arguments (numpy's generator seeded with (seed,
  position)): the same on any machine, in any process, after any resume.

  Args:
    mask_config: `config.mask`.
    image_size: H = W.
    seed: the stream's seed.
    position: the example's position in the stream.
    kind: one of MASK_KINDS; None: drawn from the config's kind or mixture.

  Returns:
    [H, W, 1] float32, 1 where pixels are missing.
  """
  rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(position)])
  if kind is None:
    weights = kind_weights(mask_config)
    kinds = list(weights)
    kind = kinds[int(rng.choice(len(kinds), p=list(weights.values())))]
  return draw(kind, rng, image_size, mask_config)


def sample_masks(mask_config: ml_collections.ConfigDict, image_size: int,
                 seed: int, positions: np.ndarray,
                 kind: str | None = None) -> np.ndarray:
  """`sample_mask` of each position: [N, H, W, 1] float32."""
  return np.stack([sample_mask(mask_config, image_size, seed, p, kind)
                   for p in np.asarray(positions).reshape(-1)])


def coverage(mask: np.ndarray) -> np.ndarray:
  """The missing share of each mask [..., H, W, 1] -> [...]."""
  return np.asarray(mask).mean(axis=(-3, -2, -1))


def describe(mask_config: ml_collections.ConfigDict) -> str:
  """The config's holes in words, for logs and reports."""
  weights = kind_weights(mask_config)
  names = {'centre': f'centre {mask_config.size}x{mask_config.size}',
           'box': f'boxes {mask_config.box_min}-{mask_config.box_max} a side',
           'free_form': 'free-form strokes'}
  if len(weights) == 1:
    return names[next(iter(weights))]
  return ', '.join(f'{names[k]} {w:.0%}' for k, w in weights.items())
