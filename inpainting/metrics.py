"""The metric protocol of docs/evaluation.md, per image, in JAX.

Images are RGB in [0, 1]. `hole_metrics` scores a rectangular hole given
by its box (the centre square of the seed's protocol); `mask_metrics`
scores holes of any shape given by per-image masks (boxes anywhere,
free-form strokes), and agrees with `hole_metrics` on a rectangle but for
SSIM, which it takes over the hole's bounding box with the context of the
neighbouring pixels. Every metric is computed per image on the hole;
callers average over images.
"""

from __future__ import annotations

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

from inpainting import masks

# PSNR of a perfect prediction (MSE 0) is infinite; it is reported as this
# cap (the PSNR of MSE 1e-10), and perfect images are counted separately.
PSNR_CAP_DB = 100.0
_MSE_FLOOR = 10.0 ** (-PSNR_CAP_DB / 10.0)


def psnr(mse: jax.Array) -> jax.Array:
  """`10 log10(1 / mse)`, capped at PSNR_CAP_DB where mse is 0."""
  return -10.0 * jnp.log10(jnp.maximum(mse, _MSE_FLOOR))


def _boundary_pairs(box: tuple[int, int, int, int]):
  """(inside, outside) index arrays of the pixel pairs across the hole edge."""
  top, bottom, left, right = box
  r0, r1, c0, c1 = top, bottom - 1, left, right - 1
  inside, outside = [], []
  for c in range(c0, c1 + 1):
    inside += [(r0, c), (r1, c)]
    outside += [(r0 - 1, c), (r1 + 1, c)]
  for r in range(r0, r1 + 1):
    inside += [(r, c0), (r, c1)]
    outside += [(r, c0 - 1), (r, c1 + 1)]
  inside, outside = np.array(inside), np.array(outside)
  return (inside[:, 0], inside[:, 1]), (outside[:, 0], outside[:, 1])


def detail(image: jax.Array) -> jax.Array:
  """Mean absolute finite difference of each image, rows and columns.

  Args:
    image: [B, H, W, C], e.g. the hole's crop.

  Returns:
    [B]: the mean of |x[i+1, j] - x[i, j]| and |x[i, j+1] - x[i, j]| over
    every such pair of pixels and every channel.
  """
  rows = jnp.abs(image[:, 1:] - image[:, :-1])
  cols = jnp.abs(image[:, :, 1:] - image[:, :, :-1])
  b = image.shape[0]
  return jnp.concatenate([rows.reshape(b, -1), cols.reshape(b, -1)],
                         axis=1).mean(axis=1)


def sharpness(fill_detail: np.ndarray, real_detail: np.ndarray) -> float:
  """A split's sharpness: the fills' summed detail over the real images'.

  1 means as much detail in the hole as the real images have, below 1 blur,
  above 1 noise (judge it with SSIM: noise is no win).

  Args:
    fill_detail: per image, `detail` of the fill in the hole.
    real_detail: per image, `detail` of the real image in the hole.
  """
  return float(np.sum(fill_detail) / max(float(np.sum(real_detail)), 1e-12))


def hole_metrics(prediction: jax.Array, target: jax.Array,
                 box: tuple[int, int, int, int]) -> dict[str, jax.Array]:
  """Per-image metrics of the hole.

  Args:
    prediction: [B, H, W, 3] in [0, 1]; only the hole is read.
    target: [B, H, W, 3] in [0, 1].
    box: (top, bottom, left, right) of the hole, ends excluded (see
      masks.hole_box); the hole must not touch the image edge, so that the
      seam has outside neighbours.

  Returns:
    {'l1', 'mse', 'psnr', 'ssim', 'seam', 'detail', 'real_detail'}, each [B]
    float32; `detail` and `real_detail` are the fill's and the real image's
    `detail` in the hole, for the split's `sharpness`.
  """
  top, bottom, left, right = box
  height, width = target.shape[1:3]
  if top < 1 or left < 1 or bottom > height - 1 or right > width - 1:
    raise ValueError(f'The hole {box} must leave a border on every side.')
  p = prediction[:, top:bottom, left:right].astype(jnp.float32)
  t = target[:, top:bottom, left:right].astype(jnp.float32)
  mse = jnp.mean(jnp.square(p - t), axis=(1, 2, 3))
  inside, outside = _boundary_pairs(box)
  target_out = target[:, outside[0], outside[1]]
  seam = (jnp.mean(jnp.abs(prediction[:, inside[0], inside[1]] - target_out),
                   axis=(1, 2)) -
          jnp.mean(jnp.abs(target[:, inside[0], inside[1]] - target_out),
                   axis=(1, 2)))
  return {
      'l1': jnp.mean(jnp.abs(p - t), axis=(1, 2, 3)),
      'mse': mse,
      'psnr': psnr(mse),
      'ssim': dm_pix.ssim(p, t, max_val=1.0, filter_size=11, filter_sigma=1.5,
                          k1=0.01, k2=0.03),
      'seam': seam,
      'detail': detail(p),
      'real_detail': detail(t),
  }


def _shift(x: jax.Array, dy: int, dx: int) -> jax.Array:
  """x[:, i + dy, j + dx] at [i, j], zero where that falls outside."""
  height, width = x.shape[1:3]
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return padded[:, 1 + dy:1 + dy + height, 1 + dx:1 + dx + width]


def mask_metrics(prediction: jax.Array, target: jax.Array,
                 mask: jax.Array) -> dict[str, jax.Array]:
  """Per-image metrics of holes of any shape (docs/evaluation.md).

  Args:
    prediction: [B, H, W, 3] in [0, 1], the composite (only the hole is
      read, but for SSIM's context).
    target: [B, H, W, 3] in [0, 1].
    mask: [B, H, W, 1], 1 where pixels are missing; every image needs a
      hole.

  Returns:
    As `hole_metrics`: L1, MSE and PSNR over the missing pixels; SSIM (11x11
    Gaussian, sigma 1.5) of the composite averaged over the windows centred
    in the missing region's bounding box; the seam over every pair of
    4-neighbours with one pixel missing and one known; `detail` and
    `real_detail` over pairs of neighbours both missing.
  """
  p = prediction.astype(jnp.float32)
  t = target.astype(jnp.float32)
  m = mask.astype(jnp.float32)
  channels = p.shape[-1]
  count = m.sum(axis=(1, 2, 3)) * channels
  error = p - t
  mse = (jnp.square(error) * m).sum(axis=(1, 2, 3)) / count
  l1 = (jnp.abs(error) * m).sum(axis=(1, 2, 3)) / count

  seam_fill = seam_real = pairs = 0.0
  detail_fill = detail_real = inner = 0.0
  for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
    neighbour_missing = _shift(m, dy, dx)
    neighbour_known = _shift(1.0 - m, dy, dx)  # 0 outside the image
    across = m * neighbour_known
    t_next = _shift(t, dy, dx)
    seam_fill += (jnp.abs(p - t_next).mean(-1, keepdims=True) * across).sum(
        axis=(1, 2, 3))
    seam_real += (jnp.abs(t - t_next).mean(-1, keepdims=True) * across).sum(
        axis=(1, 2, 3))
    pairs += across.sum(axis=(1, 2, 3))
    if dy >= 0 and dx >= 0:  # each pair inside the hole once
      both = m * neighbour_missing
      detail_fill += (jnp.abs(_shift(p, dy, dx) - p) * both).sum(
          axis=(1, 2, 3))
      detail_real += (jnp.abs(t_next - t) * both).sum(axis=(1, 2, 3))
      inner += both.sum(axis=(1, 2, 3)) * channels
  pairs = jnp.maximum(pairs, 1.0)
  inner = jnp.maximum(inner, 1.0)

  ssim_map = dm_pix.ssim(p, t, max_val=1.0, filter_size=11, filter_sigma=1.5,
                         k1=0.01, k2=0.03, return_map=True).mean(-1)
  # Window centres in the hole's bounding box (the map is 'valid': window
  # (i, j) is centred on pixel (i + 5, j + 5)).
  rows = m.max(axis=(2, 3))
  cols = m.max(axis=(1, 3))
  box = (_span(rows)[:, :, None] * _span(cols)[:, None, :])[:, 5:-5, 5:-5]
  ssim = (ssim_map * box).sum(axis=(1, 2)) / jnp.maximum(
      box.sum(axis=(1, 2)), 1.0)
  return {
      'l1': l1,
      'mse': mse,
      'psnr': psnr(mse),
      'ssim': ssim,
      'seam': (seam_fill - seam_real) / pairs,
      'detail': detail_fill / inner,
      'real_detail': detail_real / inner,
  }


def _span(any_missing: jax.Array) -> jax.Array:
  """[B, N] 0/1 -> 1 from the first to the last 1 of each row."""
  first, last = masks.hole_extent(any_missing)
  index = jnp.arange(any_missing.shape[1])
  return ((index >= first[:, None]) &
          (index <= last[:, None])).astype(jnp.float32)


def bootstrap_mean_ci(values: np.ndarray, *, confidence: float = 0.95,
                      num_resamples: int = 10_000,
                      seed: int = 0) -> tuple[float, float, float]:
  """Mean of `values` and its percentile-bootstrap confidence interval.

  Returns:
    (mean, low, high).
  """
  values = np.asarray(values, np.float64)
  if values.size == 0:
    raise ValueError('No values to bootstrap.')
  rng = np.random.default_rng(seed)
  means = np.empty(num_resamples)
  for start in range(0, num_resamples, 1000):
    stop = min(start + 1000, num_resamples)
    idx = rng.integers(0, values.size, size=(stop - start, values.size))
    means[start:stop] = values[idx].mean(axis=1)
  alpha = (1.0 - confidence) / 2
  low, high = np.quantile(means, [alpha, 1 - alpha])
  return float(values.mean()), float(low), float(high)
