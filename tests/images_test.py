"""Reading images of any mode; clear errors for bad files."""

import numpy as np
import pytest
from PIL import Image

from inpainting import images


def test_modes_convert_to_rgb(tmp_path):
  grey = Image.fromarray(np.full((5, 7), 100, np.uint8), 'L')
  grey.save(tmp_path / 'grey.png')
  np.testing.assert_array_equal(images.load_rgb(tmp_path / 'grey.png'),
                                np.full((5, 7, 3), 100))

  sixteen = Image.fromarray(np.full((4, 4), 65535 // 2, np.uint16))
  sixteen.save(tmp_path / 'sixteen.png')
  rgb = images.load_rgb(tmp_path / 'sixteen.png')
  assert rgb.shape == (4, 4, 3) and abs(int(rgb[0, 0, 0]) - 127) <= 1

  cmyk = Image.new('CMYK', (3, 3), (0, 255, 255, 0))  # pure red
  cmyk.save(tmp_path / 'red.jpg')
  red = images.load_rgb(tmp_path / 'red.jpg')
  assert red[1, 1, 0] > 200 and red[1, 1, 1] < 60 and red[1, 1, 2] < 60

  rgba = Image.new('RGBA', (2, 2), (0, 0, 0, 0))  # transparent -> white
  rgba.save(tmp_path / 'clear.png')
  np.testing.assert_array_equal(images.load_rgb(tmp_path / 'clear.png'), 255)

  palette = Image.new('P', (2, 2), 1)
  palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
  palette.save(tmp_path / 'palette.png')
  np.testing.assert_array_equal(images.load_rgb(tmp_path / 'palette.png')[0, 0],
                                [10, 20, 30])


def test_bad_files_name_the_path(tmp_path):
  (tmp_path / 'empty.png').write_bytes(b'')
  with pytest.raises(images.ImageReadError, match='empty.png: empty file'):
    images.load_rgb(tmp_path / 'empty.png')
  (tmp_path / 'text.jpg').write_text('not an image')
  with pytest.raises(images.ImageReadError, match='text.jpg: not a readable'):
    images.load_rgb(tmp_path / 'text.jpg')
  Image.new('RGB', (64, 64), (1, 2, 3)).save(tmp_path / 'full.jpg')
  data = (tmp_path / 'full.jpg').read_bytes()
  (tmp_path / 'cut.jpg').write_bytes(data[:len(data) // 2])
  with pytest.raises(images.ImageReadError, match='cut.jpg: unreadable or '
                     'truncated'):
    images.load_rgb(tmp_path / 'cut.jpg')
  with pytest.raises(images.ImageReadError, match='missing.png: no such'):
    images.load_rgb(tmp_path / 'missing.png')


def test_centre_crop_resize():
  rgb = np.zeros((30, 50, 3), np.uint8)
  rgb[:, 10:40] = 200  # the centred 30x30 square
  out = images.centre_crop_resize(rgb, 16)
  assert out.shape == (16, 16, 3)
  assert out.min() >= 195
