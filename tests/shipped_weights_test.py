"""The shipped weights load and fill photographs they never saw.

The photographs (tests/data/photos/, from scikit-image) are not MSCOCO's;
the tool fills them with no model named, as a user with a fresh clone
would, and the fills must beat OpenCV's Telea in the hole.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image
from PIL import ImageDraw
import pytest

from configs.experiments import reference as experiments_reference
from inpainting import baselines
from inpainting import export
from inpainting import metrics

REPO = pathlib.Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPO / 'tests' / 'data' / 'photos').glob('*.png'))


def test_the_shipped_file_loads_and_is_small():
  assert export.SHIPPED.is_file(), 'inpainting/weights/ is not committed'
  assert export.SHIPPED.stat().st_size < 20e6
  config, state = export.load(export.SHIPPED)
  # The shipped network is the reference run's, as the docs describe it.
  reference = experiments_reference.get_config()
  for name in export.MODEL_FIELDS:
    assert _plain(config[name]) == _plain(reference[name]), name
  # The run's last step: its whole budget, the schedule's end.
  assert int(state.step) == reference.num_train_steps == 4000


def _plain(value):
  """A config value as JSON reads it back (tuples as lists)."""
  if hasattr(value, 'to_dict'):
    value = value.to_dict()
  return json.loads(json.dumps(value))


def _drawn_mask() -> np.ndarray:
  """A hand-drawn hole: a thick stroke across the middle, True where
  missing."""
  mask = Image.new('L', (64, 64), 0)
  ImageDraw.Draw(mask).line([(8, 40), (24, 20), (44, 30), (58, 14)],
                            fill=255, width=9, joint='curve')
  return np.asarray(mask) > 127


@pytest.mark.parametrize('hole', ['box', 'drawn'])
def test_the_tool_fills_with_the_shipped_weights_better_than_telea(tmp_path,
                                                                   hole):
  if hole == 'box':
    args = ['--box=16,16,32,32']
    missing = np.zeros((64, 64), bool)
    missing[16:48, 16:48] = True
  else:
    missing = _drawn_mask()
    Image.fromarray(missing.astype(np.uint8) * 255).save(tmp_path / 'm.png')
    args = [f'--mask={tmp_path / "m.png"}']
  result = subprocess.run(
      [sys.executable, 'tools/inpaint.py', f'--output_dir={tmp_path / "out"}',
       '--caption=a photograph', *args, *map(str, PHOTOS)],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'shipped weights' in result.stderr

  model_mse, telea_mse = [], []
  for photo in PHOTOS:
    target = np.asarray(Image.open(photo).convert('RGB'), np.float32) / 255
    filled = np.asarray(Image.open(
        tmp_path / 'out' / f'{photo.stem}_inpainted.png'), np.float32) / 255
    # The visible pixels are the photograph's, as it was given.
    np.testing.assert_allclose(filled[~missing], target[~missing],
                               atol=1 / 255 + 1e-6)
    telea = baselines.telea(target, missing)
    model_mse.append(np.mean((filled[missing] - target[missing]) ** 2))
    telea_mse.append(np.mean((telea[missing] - target[missing]) ** 2))
  model_psnr = metrics.psnr(np.mean(model_mse))
  telea_psnr = metrics.psnr(np.mean(telea_mse))
  assert model_psnr > telea_psnr, (hole, model_psnr, telea_psnr)
