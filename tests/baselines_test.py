"""Classical baselines fill only the hole, sensibly."""

import numpy as np
import pytest

from inpainting import baselines


@pytest.mark.parametrize('name', sorted(baselines.BASELINES))
def test_flat_image_is_filled_flat(name):
  image = np.full((16, 16, 3), [0.2, 0.4, 0.6], np.float32)
  hole = np.zeros((16, 16), bool)
  hole[4:12, 4:12] = True
  holed = image.copy()
  holed[hole] = 0.0
  out = baselines.BASELINES[name](holed, hole)
  assert out.shape == image.shape
  # OpenCV works in 8 bits; its fast-marching weights round to +-2 levels.
  np.testing.assert_allclose(out, image, atol=2 / 255 + 1e-6)


def test_border_mean():
  image = np.zeros((4, 4, 3), np.float32)
  image[0] = 1.0  # 4 of the 12 visible pixels are white
  hole = np.zeros((4, 4), bool)
  hole[1:3, 1:3] = True
  out = baselines.border_mean(image, hole)
  np.testing.assert_allclose(out[1, 1], 4 / 12)
  np.testing.assert_array_equal(out[~hole], image[~hole])
