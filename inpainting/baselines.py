"""Classical inpainting baselines, scored side by side with the model.

Each takes one image, RGB float in [0, 1] [H, W, 3], and its mask [H, W]
(True where missing), and returns the filled image in [0, 1].
"""

from __future__ import annotations

from typing import Callable

import cv2
import jax
import numpy as np
import skimage.restoration

from inpainting import prefill

Baseline = Callable[[np.ndarray, np.ndarray], np.ndarray]


def border_mean(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
  """The hole filled with the mean colour of the visible pixels."""
  out = image.copy()
  out[hole] = image[~hole].mean(axis=0)
  return out


def _opencv(image: np.ndarray, hole: np.ndarray, flags: int) -> np.ndarray:
  image8 = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
  filled = cv2.inpaint(image8, hole.astype(np.uint8), 3, flags)
  return filled.astype(np.float32) / 255.0


def telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
  """OpenCV's fast-marching method (Telea 2004), radius 3."""
  return _opencv(image, hole, cv2.INPAINT_TELEA)


def navier_stokes(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
  """OpenCV's Navier-Stokes based method, radius 3."""
  return _opencv(image, hole, cv2.INPAINT_NS)


def biharmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
  """scikit-image's biharmonic inpainting."""
  return skimage.restoration.inpaint_biharmonic(
      image.astype(np.float64), hole, channel_axis=-1).astype(np.float32)


_pull_push = jax.jit(prefill.pull_push)


def pull_push(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
  """The pull-push membrane (prefill.pull_push), the generator's first guess
  with `model.generator.prefill='pull_push'`: what the network adds is
  beyond it."""
  filled = _pull_push(image[None].astype(np.float32),
                      hole[None, ..., None].astype(np.float32))
  return np.asarray(filled[0])


BASELINES: dict[str, Baseline] = {
    'border mean colour': border_mean,
    'OpenCV Telea (r=3)': telea,
    'OpenCV Navier-Stokes': navier_stokes,
    'scikit-image biharmonic': biharmonic,
    'pull-push membrane': pull_push,
}
