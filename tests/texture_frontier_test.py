"""The detail frontier (evaluate.detail_frontier, tools/texture_frontier.py)."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from inpainting import evaluate
from inpainting import metrics

REPO = pathlib.Path(__file__).resolve().parents[1]
BOX = (8, 24, 8, 24)


def _images(n=4, seed=0):
  """Real images in [0.2, 0.8] and fills that are a flat 0.5 in the hole."""
  rng = np.random.default_rng(seed)
  targets = rng.uniform(0.2, 0.8, (n, 32, 32, 3)).astype(np.float32)
  fills = targets.copy()
  top, bottom, left, right = BOX
  fills[:, top:bottom, left:right] = 0.5
  return fills, targets


def test_the_full_residual_of_a_flat_fill_is_the_next_image():
  fills, targets = _images()
  model, texture, noise = evaluate.detail_frontier(fills, targets, BOX, [1.0])
  assert (model['kind'], texture['kind'], noise['kind']) == (
      'model', 'texture', 'noise')
  assert model['sharpness'] == 0.0  # flat
  # 0.5 + (next image - 0.5): the next image's hole, whose detail summed
  # over the split is the real images' own.
  assert texture['sharpness'] == pytest.approx(1.0, rel=1e-5)
  top, bottom, left, right = BOX
  hole = targets[:, top:bottom, left:right]
  mse = ((np.roll(hole, -1, axis=0) - hole) ** 2).mean(axis=(1, 2, 3))
  assert texture['psnr'] == pytest.approx(
      float(np.mean(metrics.psnr(mse))), rel=1e-5)
  assert model['psnr'] == pytest.approx(float(np.mean(metrics.psnr(
      ((0.5 - hole) ** 2).mean(axis=(1, 2, 3))))), rel=1e-5)


def test_noise_has_the_residuals_energy_times_the_strength():
  fills, targets = _images(n=8, seed=1)
  fills[1::2] = targets[1::2]  # odd images filled exactly
  s = 0.1  # small enough that nothing is clipped
  model, _, noise = evaluate.detail_frontier(fills, targets, BOX, [s])
  top, bottom, left, right = BOX
  # An odd image (no error of its own) gets noise with the energy of the
  # next (even) image's residual, times s^2, which is all its MSE; an even
  # one gets none (its next image has no residual).
  residual = (targets - fills)[:, top:bottom, left:right]
  expected = s ** 2 * (residual[0::2] ** 2).mean() / 2  # over all 8
  assert noise['mse'] - model['mse'] == pytest.approx(expected, rel=0.08)
  assert noise['sharpness'] > model['sharpness']


def test_strength_zero_adds_nothing_and_one_image_is_refused():
  fills, targets = _images()
  rows = evaluate.detail_frontier(fills, targets, BOX, [0.0, 0.5])
  assert [r['kind'] for r in rows] == ['model', 'texture', 'noise']
  with pytest.raises(ValueError, match='two or more'):
    evaluate.detail_frontier(fills[:1], targets[:1], BOX, [0.5])


def test_the_tool_writes_a_table_and_never_overwrites_it(trained_run,
                                                         tmp_path):
  config, workdir = trained_run
  output = tmp_path / 'frontier.md'
  report_dir = tmp_path / 'scored'  # a report of the run, on the plot
  report_dir.mkdir()
  model = {'psnr': 15.0, 'ssim': 0.2, 'seam': -0.01, 'sharpness': 0.4}
  (report_dir / 'report.json').write_text(json.dumps({'methods': {
      evaluate.MODEL: model, 'OpenCV Telea (r=3)': model}}))
  command = [sys.executable, 'tools/texture_frontier.py',
             '--config=configs/tiny.py',
             f'--config.dataset.data_dir={config.dataset.data_dir}',
             '--config.eval.num_examples=8', f'--workdir={workdir}',
             f'--output={output}', '--strengths=0.5,1',
             f'--reports={report_dir}']
  result = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = json.loads(output.with_suffix('.json').read_text())['rows']
  assert [(r['kind'], r['strength']) for r in rows] == [
      ('model', 0.0), ('texture', 0.5), ('texture', 1.0), ('noise', 0.5),
      ('noise', 1.0)]
  table = output.read_text()
  assert "| the next image's residual | 0.5 |" in table
  assert 'step 3: 8 images' in table
  assert '| scored | 15.00 | 0.200 | -0.010 | 0.400 |' in table
  assert '| OpenCV Telea (r=3) | 15.00 |' in table
  assert output.with_suffix('.png').stat().st_size > 0
  before = table
  again = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                         timeout=600, check=False)
  assert again.returncode == 1
  assert f'error: --output: {output} exists' in again.stderr
  assert 'Traceback' not in again.stderr
  assert output.read_text() == before
  bad = subprocess.run([*command[:-3], f'--output={tmp_path / "b.md"}',
                        '--strengths=0.5,-1'], cwd=REPO, capture_output=True,
                       text=True, timeout=600, check=False)
  assert bad.returncode == 1
  assert 'error: --strengths=0.5,-1: each must be >= 0.' in bad.stderr
