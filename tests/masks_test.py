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
