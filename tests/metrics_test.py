"""The metrics of docs/evaluation.md against hand-computed values."""

import numpy as np
import pytest

from inpainting import masks
from inpainting import metrics

# A 16x16 hole in a 32x32 image: SSIM's 11x11 window fits in the hole.
BOX = (8, 24, 8, 24)


def _flat(value, n=1):
  return np.full((n, 32, 32, 3), value, np.float32)


def test_perfect_prediction():
  target = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3))
  target = target.astype(np.float32)
  m = metrics.hole_metrics(target, target, BOX)
  np.testing.assert_allclose(m['mse'], 0.0)
  np.testing.assert_allclose(m['l1'], 0.0)
  # MSE 0 has infinite PSNR: reported explicitly as the cap.
  np.testing.assert_allclose(m['psnr'], metrics.PSNR_CAP_DB)
  np.testing.assert_allclose(m['ssim'], 1.0, atol=1e-6)
  np.testing.assert_allclose(m['seam'], 0.0, atol=1e-7)


def test_constant_offset():
  target = _flat(0.5)
  prediction = _flat(0.5)
  prediction[:, 8:24, 8:24] += 0.1
  m = metrics.hole_metrics(prediction, target, BOX)
  np.testing.assert_allclose(m['l1'], [0.1], rtol=1e-5)
  np.testing.assert_allclose(m['mse'], [0.01], rtol=1e-5)
  np.testing.assert_allclose(m['psnr'], [20.0], rtol=1e-5)
  # Flat crops: contrast-structure term 1, luminance
  # (2 * 0.5 * 0.6 + C1) / (0.5^2 + 0.6^2 + C1) with C1 = 0.01^2. The
  # float32 variances (E[x^2] - mean^2 ~ 1e-8, against C2 = 9e-4) limit the
  # agreement to ~1e-4.
  c1 = 0.01 ** 2
  np.testing.assert_allclose(m['ssim'], [(0.6 + c1) / (0.61 + c1)],
                             rtol=2e-4)
  # Every pair across the edge jumps by 0.1 more than the natural 0.
  np.testing.assert_allclose(m['seam'], [0.1], rtol=1e-5)


def test_seam_counts_only_the_edge():
  target = _flat(0.2)
  target[:, 8:24, 8:24] = 0.6  # a natural jump of 0.4 at the hole's edge
  prediction = target.copy()
  prediction[:, 9:23, 9:23] = 0.0  # wrong inside, right at the edge
  m = metrics.hole_metrics(prediction, target, BOX)
  np.testing.assert_allclose(m['seam'], [0.0], atol=1e-6)
  assert m['mse'][0] > 0
  # A fill that continues the outside exactly has a seam of -0.4.
  smooth = _flat(0.2)
  m = metrics.hole_metrics(smooth, target, BOX)
  np.testing.assert_allclose(m['seam'], [-0.4], rtol=1e-5)


def test_with_the_centre_mask():
  box = masks.hole_box(masks.centre_mask(64, 32))
  target = np.zeros((1, 64, 64, 3), np.float32)
  prediction = target.copy()
  prediction[:, 16:48, 16:48] = 0.5
  prediction[:, 0, 0] = 1.0  # outside the hole: ignored
  m = metrics.hole_metrics(prediction, target, box)
  np.testing.assert_allclose(m['mse'], [0.25])
  np.testing.assert_allclose(m['psnr'], [10 * np.log10(4)], rtol=1e-5)


def test_hole_must_leave_a_border():
  with pytest.raises(ValueError, match='border'):
    metrics.hole_metrics(_flat(0), _flat(0), (0, 16, 8, 24))


def test_bootstrap():
  mean, low, high = metrics.bootstrap_mean_ci(np.full(50, 0.3))
  assert mean == pytest.approx(0.3) and low == pytest.approx(0.3)
  assert high == pytest.approx(0.3)
  values = np.random.default_rng(0).normal(1.0, 1.0, 400)
  mean, low, high = metrics.bootstrap_mean_ci(values)
  assert low < mean < high
  # The normal-theory interval half-width is 1.96 / sqrt(400) ~ 0.098.
  assert high - low == pytest.approx(0.196, rel=0.15)
  with pytest.raises(ValueError):
    metrics.bootstrap_mean_ci(np.array([]))


def test_sharpness_on_hand_made_fills():
  rng = np.random.default_rng(0)
  target = rng.uniform(0, 1, (3, 32, 32, 3)).astype(np.float32)
  top, bottom, left, right = BOX

  def sharpness(fill):
    m = metrics.hole_metrics(fill, target, BOX)
    return metrics.sharpness(np.asarray(m['detail']),
                             np.asarray(m['real_detail']))

  # A constant fill has no detail; the target itself has all of it.
  constant = target.copy()
  constant[:, top:bottom, left:right] = 0.3
  assert sharpness(constant) == 0.0
  assert sharpness(target) == pytest.approx(1.0)
  # A 2x2 box blur of the target keeps part of it.
  blurred = target.copy()
  blurred[:, :-1, :-1] = (target[:, :-1, :-1] + target[:, 1:, :-1] +
                          target[:, :-1, 1:] + target[:, 1:, 1:]) / 4
  assert 0.2 < sharpness(blurred) < 0.8
  # Noise added is more than real detail.
  noisy = np.clip(target + rng.normal(0, 0.5, target.shape), 0, 1)
  assert sharpness(noisy.astype(np.float32)) > 1.0


def test_detail_is_the_mean_absolute_difference():
  image = np.zeros((1, 2, 3, 1), np.float32)
  image[0, :, :, 0] = [[0, 1, 3], [2, 2, 2]]
  # Rows: |2-0|, |2-1|, |2-3|; columns: |1-0|, |3-1|, |2-2|, |2-2|.
  expected = (2 + 1 + 1 + 1 + 2 + 0 + 0) / 7
  np.testing.assert_allclose(metrics.detail(image), [expected], rtol=1e-6)


def test_mask_metrics_agree_with_the_box_protocol_on_a_rectangle():
  rng = np.random.default_rng(0)
  target = rng.uniform(size=(3, 64, 64, 3)).astype(np.float32)
  fill = rng.uniform(size=(3, 64, 64, 3)).astype(np.float32)
  mask = np.zeros((3, 64, 64, 1), np.float32)
  mask[:, 10:30, 20:50] = 1
  composite = np.where(mask > 0, fill, target)
  by_box = metrics.hole_metrics(composite, target, (10, 30, 20, 50))
  by_mask = metrics.mask_metrics(composite, target, mask)
  for name in ('l1', 'mse', 'psnr', 'seam', 'detail', 'real_detail'):
    np.testing.assert_allclose(by_mask[name], by_box[name], rtol=1e-5,
                               atol=1e-6, err_msg=name)


def test_mask_metrics_of_an_irregular_hole_by_hand():
  target = np.zeros((1, 16, 16, 1), np.float32)
  target[0, :, 8:] = 1.0  # left half 0, right half 1
  mask = np.zeros((1, 16, 16, 1), np.float32)
  mask[0, 4, 4:10] = 1  # a row of 6 pixels, 4 on the left, 2 on the right
  mask[0, 5, 9] = 1  # and one below its end: an L
  fill = np.full_like(target, 0.25)
  composite = np.where(mask > 0, fill, target)
  m = {k: float(np.asarray(v)[0]) for k, v in
       metrics.mask_metrics(np.repeat(composite, 3, -1),
                            np.repeat(target, 3, -1), mask).items()}
  # Errors: 0.25 on the 4 left pixels, 0.75 on the 3 right ones.
  assert m['l1'] == pytest.approx((4 * 0.25 + 3 * 0.75) / 7)
  assert m['mse'] == pytest.approx((4 * 0.0625 + 3 * 0.5625) / 7)
  # Pairs inside the hole: 5 along the row, 1 down the L; the fill has no
  # detail, the target one step (columns 7 -> 8).
  assert m['detail'] == 0.0
  assert m['real_detail'] == pytest.approx(1 / 6)
  # Missing-known 4-neighbour pairs: above the row 6, below it 5, left 1,
  # right of (4, 9) 1, around (5, 9): left, right, below 3; 16 in all. The
  # real image's jumps across them: where a pair straddles columns 7 | 8.
  inside = [(4, c) for c in range(4, 10)] + [(5, 9)]
  fill_jumps = real_jumps = pairs = 0
  for r, c in inside:
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
      if (r + dr, c + dc) in inside:
        continue
      pairs += 1
      outside = target[0, r + dr, c + dc, 0]
      fill_jumps += abs(0.25 - outside)
      real_jumps += abs(target[0, r, c, 0] - outside)
  assert pairs == 16
  assert m['seam'] == pytest.approx((fill_jumps - real_jumps) / pairs)


def test_mask_metrics_of_the_real_image():
  rng = np.random.default_rng(1)
  target = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
  mask = np.zeros((2, 32, 32, 1), np.float32)
  mask[0, 5:9, 3:20] = 1
  mask[1, 20:30, 25:27] = 1
  m = metrics.mask_metrics(target, target, mask)
  np.testing.assert_allclose(m['mse'], 0)
  np.testing.assert_allclose(m['seam'], 0, atol=1e-7)
  np.testing.assert_allclose(m['ssim'], 1, atol=1e-5)
  np.testing.assert_allclose(m['detail'], m['real_detail'])
