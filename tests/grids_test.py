"""Sample grids: enlarged by nearest neighbour, captions beside the rows."""

import numpy as np
import pytest

from inpainting import grids
from inpainting import masks


def _samples():
  image = np.ones((2, 4, 4, 3), np.float32)
  prediction = -np.ones((2, 4, 4, 3), np.float32)
  mask = np.repeat(masks.centre_mask(4, 2)[None], 2, 0)
  return image, mask, masks.composite(image, prediction, mask)


def test_sample_grid_is_enlarged_pixel_for_pixel():
  image, mask, filled = _samples()
  grid = grids.sample_grid(image, mask, filled, scale=3)
  cell = 4 * 3 + 2 * grids.GUTTER
  header = grid.shape[0] - 2 * cell
  assert header > 0  # the column titles
  assert grid.shape[1:] == (3 * cell, 3) and grid.dtype == np.uint8
  row = grid[header:header + cell]
  g = grids.GUTTER
  masked, fill, target = (row[g:cell - g, c * cell + g:(c + 1) * cell - g]
                          for c in range(3))
  # Each source pixel is a 3x3 block of one value: nothing smoothed.
  assert np.all(masked[3:9, 3:9] == 128)  # the hole shown as mid-grey
  assert np.all(masked[:3] == 255)
  assert np.all(fill[3:9, 3:9] == 0) and np.all(fill[:3, :3] == 255)
  assert np.all(target == 255)
  assert np.all(row[:g] == 255)  # gutter


def test_captions_are_written_beside_each_row():
  image, mask, filled = _samples()
  plain = grids.sample_grid(image, mask, filled, scale=4)
  captioned = grids.sample_grid(image, mask, filled, scale=4,
                                captions=['a red box', 'a blue disc'])
  assert captioned.shape[0] == plain.shape[0]
  assert captioned.shape[1] > plain.shape[1]
  text = captioned[:, plain.shape[1]:]
  header = plain.shape[0] - 2 * (16 + 2 * grids.GUTTER)
  first, second = np.split(text[header:], 2)
  # Dark pixels of written text in each row's panel, and different text.
  assert (first < 128).any() and (second < 128).any()
  assert not np.array_equal(first, second)


def test_counts_must_match():
  image, mask, filled = _samples()
  with pytest.raises(ValueError, match='1 captions for 2 rows'):
    grids.sample_grid(image, mask, filled, captions=['one'])
  with pytest.raises(ValueError, match='1 titles for 2 columns'):
    grids.image_grid([image, image], titles=['one'])


def test_a_samplers_draws_are_columns_in_their_order():
  image, mask, filled = _samples()
  grid = grids.sample_grid(image, mask, {'draw 1': filled, 'draw 2': image,
                                         'mean of 2': filled}, scale=3)
  cell = 4 * 3 + 2 * grids.GUTTER
  assert grid.shape[1] == 5 * cell
  row = grid[grid.shape[0] - 2 * cell:grid.shape[0] - cell]
  g = grids.GUTTER
  draw_1, draw_2 = (row[g:cell - g, c * cell + g:(c + 1) * cell - g]
                    for c in (1, 2))
  assert np.all(draw_1[3:9, 3:9] == 0) and np.all(draw_2 == 255)
