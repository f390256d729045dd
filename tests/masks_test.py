"""Masks, compositing and sample grids."""

import numpy as np
import pytest

from inpainting import masks


def test_centre_mask():
  mask = masks.centre_mask(64, 32)
  assert mask.shape == (64, 64, 1)
  assert mask.sum() == 32 * 32
  assert mask[16:48, 16:48].min() == 1 and mask[15, 16, 0] == 0
  assert masks.hole_box(mask) == (16, 48, 16, 48)


def test_hole_box_of_a_batch_holds_every_hole():
  batch = np.zeros((2, 8, 8, 1), np.float32)
  batch[0, 2:4, 3:5] = 1
  batch[1, 5, 1] = 1
  assert masks.hole_box(batch) == (2, 6, 1, 5)
  with pytest.raises(ValueError, match='no hole'):
    masks.hole_box(np.zeros((2, 8, 8, 1)))


@pytest.mark.parametrize('size', [0, 65])
def test_bad_hole_size(size):
  with pytest.raises(ValueError, match=f'mask.size={size}'):
    masks.centre_mask(64, size)


def test_composite_keeps_the_border():
  image = np.full((1, 4, 4, 3), 0.5, np.float32)
  prediction = np.full((1, 4, 4, 3), -0.25, np.float32)
  mask = masks.centre_mask(4, 2)[None]
  out = masks.composite(image, prediction, mask)
  assert np.all(out[0, 1:3, 1:3] == -0.25)
  out[0, 1:3, 1:3] = 0.5
  np.testing.assert_array_equal(out, image)


def _mask_config(**fields):
  from configs import default
  config = default.get_config().mask
  for name, value in fields.items():
    config[name] = value
  return config


def test_boxes_keep_their_bounds_and_a_border():
  config = _mask_config(box_min=5, box_max=20)
  holes = masks.sample_masks(config, 64, 0, np.arange(400), kind='box')
  for hole in holes:
    top, bottom, left, right = masks.hole_box(hole)
    assert 5 <= bottom - top <= 20 and 5 <= right - left <= 20
    assert hole.sum() == (bottom - top) * (right - left)  # a solid rectangle
    assert top >= 1 and left >= 1 and bottom <= 63 and right <= 63
  # Anywhere: every side of the image is reached, and both extreme sizes.
  boxes = np.array([masks.hole_box(h) for h in holes])
  assert boxes[:, 0].min() == 1 and boxes[:, 1].max() == 63
  assert boxes[:, 2].min() == 1 and boxes[:, 3].max() == 63
  sides = boxes[:, 1] - boxes[:, 0]
  assert sides.min() == 5 and sides.max() == 20


def test_free_form_strokes_cover_a_share_and_leave_the_frame():
  config = _mask_config()
  holes = masks.sample_masks(config, 64, 0, np.arange(400), kind='free_form')
  coverage = masks.coverage(holes)
  assert coverage.min() > 0  # never empty
  assert 0.05 < coverage.mean() < 0.3
  assert coverage.max() < 0.6
  assert holes[:, [0, -1]].max() == 0 and holes[:, :, [0, -1]].max() == 0
  assert set(np.unique(holes)) == {0.0, 1.0}
  # Irregular: not their bounding boxes.
  boxes = [masks.hole_box(h) for h in holes]
  filled = np.mean([h.sum() / ((b - t) * (r - l))
                    for h, (t, b, l, r) in zip(holes, boxes)])
  assert filled < 0.8


def test_a_mask_is_a_function_of_the_seed_and_position():
  config = _mask_config(kind='mixture')
  a = masks.sample_masks(config, 64, 3, np.arange(50))
  b = masks.sample_masks(config, 64, 3, np.arange(50))
  np.testing.assert_array_equal(a, b)
  # One at a time, in any order: the same.
  np.testing.assert_array_equal(masks.sample_mask(config, 64, 3, 17), a[17])
  assert not np.array_equal(masks.sample_masks(config, 64, 4, np.arange(50)),
                            a)


def test_a_mixture_draws_each_kind_by_its_weight():
  config = _mask_config(kind='mixture')
  config.mixture.centre = 2.0
  config.mixture.box = 1.0
  config.mixture.free_form = 1.0
  holes = masks.sample_masks(config, 64, 0, np.arange(2000))
  centre = masks.centre_mask(64, 32)
  is_centre = np.array([np.array_equal(h, centre) for h in holes])
  is_box = np.array([h.sum() == np.prod(np.subtract(
      masks.hole_box(h)[1::2], masks.hole_box(h)[::2])) for h in holes])
  assert abs(is_centre.mean() - 0.5) < 0.04
  assert abs((is_box & ~is_centre).mean() - 0.25) < 0.04
  assert masks.kind_weights(config) == {'centre': 0.5, 'box': 0.25,
                                        'free_form': 0.25}
  config.mixture.box = 0.0
  assert 'box' not in masks.kind_weights(config)


def test_the_centre_kind_is_the_seeds_square():
  config = _mask_config()
  np.testing.assert_array_equal(masks.sample_mask(config, 64, 0, 5),
                                masks.centre_mask(64, 32))
