"""The distribution metrics: SWD, calibration and sample PSNR."""

import numpy as np
import pytest

from inpainting import sample_metrics


def _textures(n, seed, size=32):
  """Images with detail at every scale: noise under a 1/f spectrum."""
  rng = np.random.default_rng(seed)
  noise = rng.normal(size=(n, size, size, 3))
  fy = np.fft.fftfreq(size)[:, None]
  fx = np.fft.fftfreq(size)[None, :]
  falloff = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / size)
  spectrum = np.fft.fft2(noise, axes=(1, 2)) * falloff[None, :, :, None]
  images = np.real(np.fft.ifft2(spectrum, axes=(1, 2)))
  images = (images - images.mean()) / images.std()
  return np.clip(0.5 + 0.15 * images, 0, 1)


def _blur(images):
  return sample_metrics._filter(sample_metrics._filter(images))


def test_the_laplacian_pyramid_reconstructs_its_image():
  images = _textures(2, seed=0)
  pyramid = sample_metrics.laplacian_pyramid(images, 3)
  assert [p.shape[1] for p in pyramid] == [32, 16, 8]
  current = pyramid[-1]
  for band in reversed(pyramid[:-1]):
    current = band + sample_metrics._up(current)
  np.testing.assert_allclose(current, images, atol=1e-12)
  assert sample_metrics.pyramid_levels(32) == 2
  assert sample_metrics.pyramid_levels(64) == 3
  assert sample_metrics.pyramid_levels(20) == 1


def test_swd_of_identical_sets_is_zero():
  images = _textures(16, seed=1)
  scores = sample_metrics.swd(images, images.copy())
  assert set(scores) == {'swd_32', 'swd_16', 'swd_mean'}
  assert all(v == 0.0 for v in scores.values())


def test_swd_ranks_a_blurred_set_below_a_fresh_draw():
  real = _textures(64, seed=2)
  fresh = _textures(64, seed=3)
  floor = sample_metrics.swd(real, fresh)
  blurred = sample_metrics.swd(real, _blur(real))
  assert blurred['swd_32'] > 2 * floor['swd_32'], (blurred, floor)
  assert blurred['swd_mean'] > floor['swd_mean']
  # Deterministic for a seed.
  assert sample_metrics.swd(real, fresh) == floor
  with pytest.raises(ValueError, match='same size'):
    sample_metrics.swd(real, fresh[:10])


def test_calibration_is_one_for_draws_from_the_true_distribution():
  rng = np.random.default_rng(4)
  n, k = 40, 8
  mean = rng.uniform(0.2, 0.8, size=(n, 32, 32, 3))
  sigma = rng.uniform(0.02, 0.2, size=(n, 1, 1, 1))
  target = mean + sigma * rng.normal(size=mean.shape)
  samples = mean + sigma * rng.normal(size=(k, *mean.shape))
  mask = np.zeros((n, 32, 32, 1))
  mask[:, 8:24, 8:24] = 1
  assert sample_metrics.calibration(samples, target, mask) == pytest.approx(
      1.0, abs=0.05)
  # Samples half as spread as the truth's distribution: over-confident.
  narrow = mean + 0.5 * sigma * rng.normal(size=(k, *mean.shape))
  assert sample_metrics.calibration(narrow, target, mask) == pytest.approx(
      (1 + 1 / k) * 0.25 / (0.25 / k + 1), abs=0.03)
  with pytest.raises(ValueError, match='two samples'):
    sample_metrics.calibration(samples[:1], target, mask)


def test_the_mean_of_k_samples_errs_by_one_plus_one_over_k():
  rng = np.random.default_rng(5)
  n, k, sigma = 30, 4, 0.1
  mean = np.full((n, 16, 16, 3), 0.5)
  target = mean + sigma * rng.normal(size=mean.shape)
  samples = mean + sigma * rng.normal(size=(k, *mean.shape))
  mask = np.ones((n, 16, 16, 1))
  scores = sample_metrics.sample_psnr(samples, target, mask)
  # One sample: twice the variance; the mean of K: (1 + 1/K) times it.
  assert scores['psnr_one_sample'] == pytest.approx(
      -10 * np.log10(2 * sigma**2), abs=0.1)
  assert scores['psnr_mean_of_4'] == pytest.approx(
      -10 * np.log10((1 + 1 / k) * sigma**2), abs=0.1)
