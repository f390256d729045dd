"""A checkpoint written before the house was reshaped still restores and
fills identically.

`tests/data/checkpoint_6305060/` holds a tiny run's checkpoint of step 2
written by the code of commit 6305060 (before issue 32's reshaping of the
train step, the loss terms, the registries and the method interface), and
`expected_fill.npz`, that code's fill of four images with holes of four
shapes. Made with `configs/tiny.py` and the overrides of `_config` below,
2 steps on the tiny synthetic dataset, then `inference.fill` of
`state.example_batch(config, 4, seed=7)` with the masks in the file.
"""

import pathlib
import shutil

import numpy as np

from configs import tiny
from inpainting import inference

FIXTURE = pathlib.Path(__file__).parent / 'data' / 'checkpoint_6305060'


def _config():
  config = tiny.get_config()
  config.model.layers.upsampling = 'nearest'
  config.model.generator.full_resolution_features = 8
  config.model.generator.prefill = 'pull_push'
  config.optimizer.ema_decay = 0.9
  config.loss.reconstruction = 'psnr'
  return config


def test_an_old_checkpoint_restores_and_fills_identically(tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(FIXTURE / 'checkpoints', workdir / 'checkpoints')
  config = _config()
  state = inference.restore(config, workdir)
  assert int(state.step) == 2
  with np.load(FIXTURE / 'expected_fill.npz') as data:
    expected = dict(data)
  batch = {k: expected[k] for k in ('image', 'mask', 'embedding')}
  # Equal to float32's rounding, not bit for bit: XLA compiles for the
  # machine's CPU (its vector width), so the fill recorded on another
  # machine differs in the last bit of 0.7% of its values (1.5e-8 at most,
  # seen 2026-12-06). A wrong, missing or misnamed weight moves it by
  # orders of magnitude more.
  np.testing.assert_allclose(inference.fill(state, batch, config),
                             expected['filled'], rtol=0, atol=1e-6)
