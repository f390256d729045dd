"""The metric protocol of docs/evaluation.md, per image, in JAX.

Images are RGB in [0, 1]; the hole is given by a [H, W, 1] mask whose hole
is a rectangle (the centre square by default). Every metric is computed per
image on the hole; callers average over images.
"""

from __future__ import annotations

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

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
