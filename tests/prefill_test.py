"""The pull-push guess of the hole, on hand-made images."""

import numpy as np
import pytest

from inpainting import masks
from inpainting import prefill


def _centre(batch=1, size=16, hole=8):
  return np.broadcast_to(masks.centre_mask(size, hole)[None],
                         (batch, size, size, 1)).astype(np.float32)


def test_known_pixels_are_kept_exactly():
  rng = np.random.default_rng(0)
  image = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
  mask = _centre(2)
  fill = np.asarray(prefill.pull_push(image, mask))
  np.testing.assert_array_equal(fill[mask[..., 0] == 0],
                                image[mask[..., 0] == 0])


def test_a_constant_border_gives_that_constant():
  image = np.full((1, 16, 16, 3), 0.25, np.float32)
  image[_centre()[..., 0] > 0] = -0.9  # hidden: ignored
  fill = np.asarray(prefill.pull_push(image, _centre()))
  np.testing.assert_allclose(fill, 0.25, atol=1e-6)


@pytest.mark.parametrize('hole', [(4, 12, 4, 12), (1, 15, 6, 9),
                                  (9, 15, 2, 14)])
def test_a_linear_image_is_filled_exactly(hole):
  # A plane is harmonic: the membrane through a border all round the hole
  # is the plane itself (a square, a tall and a wide hole): the smoothing
  # converges to it (the default 32 steps leave 2e-4 in the thin one).
  rows, cols = np.mgrid[0:16, 0:16].astype(np.float32)
  image = np.stack([rows / 15 - 0.5, cols / 20, 0.3 * rows - 0.1 * cols],
                   -1)[None]
  mask = np.zeros((1, 16, 16, 1), np.float32)
  top, bottom, left, right = hole
  mask[:, top:bottom, left:right] = 1
  fill = np.asarray(prefill.pull_push(image, mask, smoothing_steps=100))
  np.testing.assert_allclose(fill, image, atol=1e-5)


def test_the_fill_stays_within_the_known_values():
  # A mean of neighbours never leaves their range (the maximum principle).
  rng = np.random.default_rng(1)
  image = rng.uniform(-1, 1, (3, 32, 32, 1)).astype(np.float32)
  mask = _centre(3, 32, 20)
  fill = np.asarray(prefill.pull_push(image, mask))
  known = image[mask == 0]
  assert fill.min() >= known.min() - 1e-6
  assert fill.max() <= known.max() + 1e-6
  # And it is smooth: neighbouring hole pixels are closer than noise.
  inside = fill[:, 8:24, 8:24]
  assert np.abs(np.diff(inside, axis=1)).mean() < 0.05


def test_a_step_edge_is_bridged_between_its_sides():
  # Left half -1, right half +1: the fill rises monotonically across.
  image = np.where(np.arange(16) < 8, -1.0, 1.0).astype(np.float32)
  image = np.broadcast_to(image[None, None, :, None], (1, 16, 16, 1)).copy()
  fill = np.asarray(prefill.pull_push(image, _centre()))
  middle = fill[0, 8, 4:12, 0]
  assert np.all(np.diff(middle) > 0)
  assert middle[0] < -0.2 and middle[-1] > 0.2


def test_an_image_without_known_pixels_is_zero():
  image = np.ones((1, 8, 8, 3), np.float32)
  fill = np.asarray(prefill.pull_push(image, np.ones((1, 8, 8, 1),
                                                     np.float32)))
  np.testing.assert_array_equal(fill, 0)
