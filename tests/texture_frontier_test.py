"""The detail frontier (frontier.detail_frontier, tools/texture_frontier.py)."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from PIL import Image

from inpainting import evaluate
from inpainting import frontier
from inpainting import grids
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


def _frontier(fills, targets, strengths, **kwargs):
  return frontier.detail_frontier(
      fills, targets, BOX, frontier.frontier_additions(fills, targets, BOX),
      strengths, **kwargs)


def test_the_full_residual_of_a_flat_fill_is_the_next_image():
  fills, targets = _images()
  model, texture, noise = _frontier(fills, targets, [1.0])
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
  model, _, noise = _frontier(fills, targets, [s])
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
  rows = _frontier(fills, targets, [0.0, 0.5])
  assert [r['kind'] for r in rows] == ['model', 'texture', 'noise']
  with pytest.raises(ValueError, match='two or more'):
    frontier.frontier_additions(fills[:1], targets[:1], BOX)


def test_high_pass_keeps_no_ramp_and_damps_a_checker_by_the_blurs_response():
  rows, cols = np.mgrid[:16, :16].astype(np.float32)
  ramp = (0.1 + 0.01 * rows + 0.02 * cols)[None, :, :, None]
  # A linear ramp has no detail away from the edges (the kernel's radius,
  # 3), where reflection folds it.
  detail = frontier.high_pass(ramp, 1.0)
  np.testing.assert_allclose(detail[:, 3:-3, 3:-3], 0.0, atol=1e-6)
  assert np.abs(detail[:, :, 0]).max() > 1e-3
  # A constant image has none anywhere.
  np.testing.assert_allclose(frontier.high_pass(np.full_like(ramp, 0.3), 1.0),
                             0.0, atol=1e-6)
  # A pixel checker is the blur's highest frequency: the blur keeps g^2 of
  # it, g = sum_t k_t (-1)^t of the normalised 1-D kernel k (sigma 1,
  # radius 3), so the high-pass keeps 1 - g^2.
  checker = ((-1.0) ** (rows + cols))[None, :, :, None]
  t = np.arange(-3, 4)
  k = np.exp(-t ** 2 / 2.0)
  k /= k.sum()
  g = float((k * (-1.0) ** t).sum())
  np.testing.assert_allclose(frontier.high_pass(checker, 1.0),
                             (1 - g ** 2) * checker, rtol=1e-4, atol=1e-5)


def test_sharpened_rows_add_the_fills_own_detail_in_the_hole():
  fills, targets = _images(n=4, seed=2)
  top, bottom, left, right = BOX
  # The fill: the real hole's detail halved (a blurred guess), so adding
  # it back sharpens towards the target.
  fills[:, top:bottom, left:right] = 0.5 + 0.5 * (
      targets[:, top:bottom, left:right] - 0.5)
  rows = _frontier(fills, targets, [0.5], sharpen=[0.0, 1.0])
  assert [r['kind'] for r in rows] == ['model', 'texture', 'noise',
                                       'sharpened']
  sharpened = rows[-1]
  expected = np.clip(fills + frontier.high_pass(fills, 1.0) * _hole(fills),
                     0.0, 1.0)
  scored = metrics.hole_metrics(expected, targets, BOX)
  assert sharpened['strength'] == 1.0
  assert sharpened['psnr'] == pytest.approx(
      float(np.mean(scored['psnr'])), rel=1e-5)
  assert sharpened['sharpness'] == pytest.approx(float(metrics.sharpness(
      scored['detail'], scored['real_detail'])), rel=1e-5)
  assert sharpened['sharpness'] > rows[0]['sharpness']


def _hole(images):
  top, bottom, left, right = BOX
  hole = np.zeros(images.shape[:3] + (1,), np.float32)
  hole[:, top:bottom, left:right] = 1.0
  return hole


def test_the_tool_writes_a_table_and_never_overwrites_it(trained_run,
                                                         tmp_path):
  config, workdir = trained_run
  output = tmp_path / 'frontier.md'
  report_dir = tmp_path / 'scored'  # a report of the run, on the plot
  report_dir.mkdir()
  model = {'l1': 0.1, 'mse': 0.03, 'psnr': 15.0, 'ssim': 0.2, 'seam': -0.01,
           'sharpness': 0.4}
  (report_dir / 'report.json').write_text(json.dumps({
      'step': 3, 'num_examples': 16,
      'methods': {evaluate.MODEL: model, 'OpenCV Telea (r=3)': model}}))
  command = [sys.executable, 'tools/texture_frontier.py',
             '--config=configs/tiny.py',
             f'--config.dataset.data_dir={config.dataset.data_dir}',
             '--config.eval.num_examples=8', f'--workdir={workdir}',
             f'--output={output}', '--strengths=0.5,1', '--sharpen=2',
             f'--reports={report_dir}']
  result = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = json.loads(output.with_suffix('.json').read_text())['rows']
  assert [(r['kind'], r['strength']) for r in rows] == [
      ('model', 0.0), ('texture', 0.5), ('texture', 1.0), ('noise', 0.5),
      ('noise', 1.0), ('sharpened', 2.0)]
  table = output.read_text()
  assert "| the next image's residual | 0.5 |" in table
  assert "| the fill's own detail (unsharp mask) | 2 |" in table
  assert 'step 3: 8 images' in table
  assert '| scored | 15.00 | 0.200 | -0.010 | 0.400 |' in table
  assert '| OpenCV Telea (r=3) | 15.00 |' in table
  assert output.with_suffix('.png').stat().st_size > 0
  # The grid: 8 images, 5 columns (real, model, texture, noise, sharpened),
  # each enlarged 4x in a 2-pixel gutter, under a row of titles.
  grid = np.asarray(Image.open(tmp_path / 'frontier_fills.png'))
  cell = config.image_size * grids.SCALE + 2 * grids.GUTTER
  assert grid.shape[1] == 5 * cell
  assert grid.shape[0] > 8 * cell
  before = table
  again = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                         timeout=600, check=False)
  assert again.returncode == 1
  assert f'error: --output: {output} exists' in again.stderr
  assert 'Traceback' not in again.stderr
  assert output.read_text() == before
  bad = subprocess.run([*command[:-4], f'--output={tmp_path / "b.md"}',
                        '--strengths=0.5,-1'], cwd=REPO, capture_output=True,
                       text=True, timeout=600, check=False)
  assert bad.returncode == 1
  assert 'error: --strengths=0.5,-1: each must be >= 0.' in bad.stderr
  bad = subprocess.run([*command[:-4], f'--output={tmp_path / "b.md"}',
                        '--sharpen_sigma=0'], cwd=REPO, capture_output=True,
                       text=True, timeout=600, check=False)
  assert bad.returncode == 1
  assert 'error: --sharpen_sigma=0.0: must be > 0.' in bad.stderr
