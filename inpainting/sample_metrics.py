"""Metrics of a distribution of fills: for samplers, and for any method.

A posterior sample, a fill drawn from p(hole | border, caption), is judged
by its distribution and its calibration rather than by its distance to
the one true hole (docs/evaluation.md, "Samplers"). None of these needs a
pretrained network:

- `swd`: the sliced Wasserstein distance of Karras et al. 2018 (ProGAN's
  `metrics/sliced_wasserstein.py`) between two sets of hole crops: 7x7x3
  patches of each level of a Laplacian pyramid (5x5 binomial filter), 128
  random patches an image a level, each level's descriptors normalised by
  their own per-channel mean and deviation, 4 x 128 random unit
  projections, sorted, the mean absolute difference, x 1e3;
- `calibration`: whether the samples' spread matches their error;
- `sample_psnr`: the PSNR of one sample and of the mean of K.

Images are float arrays in [0, 1], [N, H, W, C], on the host (NumPy): these
run once over an evaluation split.
"""

from __future__ import annotations

import numpy as np

# ProGAN's choices.
PATCH_SIZE = 7
PATCHES_PER_IMAGE = 128
DIRECTIONS = 128
REPEATS = 4
_BINOMIAL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0


def _filter(images: np.ndarray) -> np.ndarray:
  """The 5x5 binomial filter, edges reflected, per channel."""
  padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode='reflect')
  height, width = images.shape[1:3]
  out = np.zeros_like(images)
  for dy in range(5):
    for dx in range(5):
      out += _BINOMIAL[dy, dx] * padded[:, dy:dy + height, dx:dx + width]
  return out


def _down(images: np.ndarray) -> np.ndarray:
  return _filter(images)[:, ::2, ::2]


def _up(images: np.ndarray) -> np.ndarray:
  """Zeros between the samples, then the filter (x4 for their energy)."""
  n, height, width, c = images.shape
  out = np.zeros((n, 2 * height, 2 * width, c), images.dtype)
  out[:, ::2, ::2] = images
  return 4.0 * _filter(out)


def laplacian_pyramid(images: np.ndarray, levels: int) -> list[np.ndarray]:
  """[N, H, W, C] -> `levels` band-pass images, finest first; the last is
  the low-pass residual. H and W must be divisible by 2**(levels - 1)."""
  pyramid = []
  current = np.asarray(images, np.float64)
  for _ in range(levels - 1):
    smaller = _down(current)
    pyramid.append(current - _up(smaller))
    current = smaller
  pyramid.append(current)
  return pyramid


def pyramid_levels(size: int) -> int:
  """How many levels a hole of `size` pixels holds: levels of at least 16
  pixels (a 7x7 patch then has room to move), and at least one."""
  levels = 1
  while size % 2 == 0 and size // 2 >= 16:
    size //= 2
    levels += 1
  return levels


def patches(level: np.ndarray, rng: np.random.Generator,
            per_image: int = PATCHES_PER_IMAGE) -> np.ndarray:
  """`per_image` random 7x7 patches of each image: [N * per_image, 7, 7, C]."""
  n, height, width, _ = level.shape
  ys = rng.integers(0, height - PATCH_SIZE + 1, size=(n, per_image))
  xs = rng.integers(0, width - PATCH_SIZE + 1, size=(n, per_image))
  offsets = np.arange(PATCH_SIZE)
  rows = (ys[..., None] + offsets)[..., :, None]   # [n, p, 7, 1]
  cols = (xs[..., None] + offsets)[..., None, :]   # [n, p, 1, 7]
  index = np.arange(n)[:, None, None, None]
  return level[index, rows, cols].reshape(n * per_image, PATCH_SIZE,
                                          PATCH_SIZE, -1)


def normalize(descriptors: np.ndarray) -> np.ndarray:
  """A set of [M, 7, 7, C] patches, normalised by its own per-channel mean
  and standard deviation; flattened to [M, 7 * 7 * C]."""
  mean = descriptors.mean(axis=(0, 1, 2), keepdims=True)
  std = descriptors.std(axis=(0, 1, 2), keepdims=True)
  return ((descriptors - mean) / np.maximum(std, 1e-8)).reshape(
      len(descriptors), -1)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                       directions: int = DIRECTIONS,
                       repeats: int = REPEATS) -> float:
  """The mean over random unit directions of the 1-D Wasserstein-1 distance
  between the projections of two equal-sized sets of [M, D] descriptors."""
  if a.shape != b.shape:
    raise ValueError(f'The two descriptor sets differ in shape: {a.shape} '
                     f'and {b.shape}.')
  distances = []
  for _ in range(repeats):
    projection = rng.normal(size=(a.shape[1], directions))
    projection /= np.linalg.norm(projection, axis=0, keepdims=True)
    pa = np.sort(a @ projection, axis=0)
    pb = np.sort(b @ projection, axis=0)
    distances.append(np.abs(pa - pb).mean())
  return float(np.mean(distances))


def swd(real: np.ndarray, fake: np.ndarray, *, seed: int = 0,
        levels: int | None = None) -> dict[str, float]:
  """ProGAN's SWD (x 1e3) between two sets of hole crops [N, H, W, C].

  Args:
    real: the real holes, in [0, 1].
    fake: as many fills of the same size.
    seed: the patches' and directions' draws: the same for every method
      scored, so that their figures differ only by their fills.
    levels: pyramid levels; as many as the crop holds (`pyramid_levels`)
      if None.

  Returns:
    {'swd_<resolution>': ..., finest first, and 'swd_mean'}.
  """
  real, fake = np.asarray(real), np.asarray(fake)
  if real.shape != fake.shape:
    raise ValueError(f'real {real.shape} and fake {fake.shape}: SWD compares '
                     'sets of the same size.')
  levels = levels or pyramid_levels(min(real.shape[1:3]))
  rng = np.random.default_rng(seed)
  out = {}
  for level_real, level_fake in zip(laplacian_pyramid(real, levels),
                                     laplacian_pyramid(fake, levels)):
    # The same patch positions in both sets, then one draw of directions.
    state = rng.bit_generator.state
    a = normalize(patches(level_real, rng))
    rng.bit_generator.state = state
    b = normalize(patches(level_fake, rng))
    out[f'swd_{level_real.shape[1]}'] = 1e3 * sliced_wasserstein(a, b, rng)
  out['swd_mean'] = float(np.mean(list(out.values())))
  return out


def calibration(samples: np.ndarray, target: np.ndarray,
                mask: np.ndarray) -> float:
  """Whether K samples' spread matches the error of their mean.

  Per image: (1 + 1/K) x the samples' variance (ddof 1) averaged over the
  hole's pixels and channels, divided by the squared error of the samples'
  mean averaged over the same; then the mean over images. For a sampler
  whose samples and the truth are draws from one distribution the
  expected error of the mean of K is (1 + 1/K) times that distribution's
  variance, so the ratio is 1; below 1 the samples are over-confident
  (too alike), above 1 they spread more than their error.

  Args:
    samples: [K, N, H, W, C], K >= 2.
    target: [N, H, W, C].
    mask: [N, H, W, 1] (or [H, W, 1]), 1 where missing.
  """
  samples = np.asarray(samples, np.float64)
  k = samples.shape[0]
  if k < 2:
    raise ValueError('Calibration needs at least two samples an image.')
  hole = np.broadcast_to(np.asarray(mask) > 0, target.shape)
  variance = samples.var(axis=0, ddof=1)
  error = (samples.mean(axis=0) - target) ** 2
  axes = tuple(range(1, target.ndim))
  count = hole.sum(axis=axes)
  spread = (1 + 1 / k) * np.where(hole, variance, 0).sum(axis=axes) / count
  miss = np.where(hole, error, 0).sum(axis=axes) / count
  return float(np.mean(spread / np.maximum(miss, 1e-12)))


def sample_psnr(samples: np.ndarray, target: np.ndarray,
                mask: np.ndarray) -> dict[str, float]:
  """The hole PSNR of one sample (the first) and of the mean of all K,
  each per image, then averaged over images (the protocol's PSNR)."""
  samples = np.asarray(samples, np.float64)
  hole = np.broadcast_to(np.asarray(mask) > 0, target.shape)
  axes = tuple(range(1, target.ndim))
  count = hole.sum(axis=axes)

  def psnr(fill):
    mse = np.where(hole, (fill - target) ** 2, 0).sum(axis=axes) / count
    return float(np.mean(10 * np.log10(1 / np.maximum(mse, 1e-12))))

  return {'psnr_one_sample': psnr(samples[0]),
          f'psnr_mean_of_{len(samples)}': psnr(samples.mean(axis=0))}
