"""tools/compare_runs.py: one table of several runs' reports, one plot."""

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]


def _report(step, mse, shuffled):
  row = {'l1': 0.1, 'mse': mse, 'psnr': 15.0, 'psnr_of_mean_mse': 14.0,
         'ssim': 0.2, 'seam': 0.01, 'sharpness': 0.5, 'perfect_images': 0,
         'ms_per_image': 1.0}
  baseline = {**row, 'mse': 0.05}
  return {
      'step': step, 'num_examples': 40, 'split': 'validation',
      'methods': {'model (true captions)': row,
                  'OpenCV Telea (r=3)': baseline},
      'mask_kinds': {'box': {'num_examples': 40, 'methods': {
          'model (true captions)': {**row, 'mse': mse / 2},
          'OpenCV Telea (r=3)': {**baseline, 'mse': 0.025}}}},
      'caption_ablation': {
          'true_mse': mse, 'shuffled_mse': mse + shuffled,
          'zero_mse': mse + 0.001,
          'shuffled_minus_true': {'mean': shuffled,
                                  'ci95': [shuffled / 2, shuffled * 2],
                                  'significant': True},
          'zero_minus_true': {'mean': 0.001, 'ci95': [-0.001, 0.003],
                              'significant': False}}}


def test_compare_runs_merges_reports_and_plots_curves(trained_run, tmp_path):
  _, trained = trained_run
  runs = []
  rng = np.random.default_rng(0)
  images = rng.uniform(size=(3, 3, 64, 64, 3))  # masked, target, a fill
  for name, mse, shuffled in (('film', 0.02, 0.004), ('seed', 0.03, 0.0003)):
    run = tmp_path / name
    shutil.copytree(trained, run)  # real TensorBoard events and config.json
    (run / 'report.json').write_text(json.dumps(_report(3, mse, shuffled)))
    fill = images[2] if name == 'film' else 1 - images[2]
    for suffix in ('', '_box'):
      np.savez_compressed(run / f'report_samples{suffix}.npz',
                          masked=images[0], model=fill, target=images[1],
                          captions=np.array(['a', 'b', 'c']))
    runs.append(run)
  # A report written elsewhere (--report_dir): only its files, naming the
  # run whose checkpoint it scored.
  elsewhere = tmp_path / 'film_on_tiny_imagenet'
  elsewhere.mkdir()
  (elsewhere / 'report.json').write_text(json.dumps(
      {**_report(3, 0.025, 0.001), 'workdir': str(runs[0])}))
  for suffix in ('', '_box'):
    shutil.copy(runs[0] / f'report_samples{suffix}.npz', elsewhere)
  runs.append(elsewhere)
  output = tmp_path / 'out' / 'comparison'
  result = subprocess.run(
      [sys.executable, 'tools/compare_runs.py', f'--output={output}',
       *map(str, runs)], cwd=REPO, capture_output=True, text=True,
      timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  table = output.with_suffix('.md').read_text()
  assert ('| film | 3 | 40 | model (true captions) | 0.1000 | 0.0200 | '
          '15.00 | 0.200 | +0.010 | 0.500 |') in table
  # Baselines scored alike in every report: one row.
  assert table.count('OpenCV Telea (r=3) | 0.1000 | 0.0500 |') == 1
  assert '| (every run) |  | 40 | OpenCV Telea (r=3) | 0.1000 | 0.0500 |' in (
      table)
  # The reports' other kinds of holes, in a table of their own.
  assert 'Holes of kind `box`' in table
  assert '| film | 3 | 40 | model (true captions) | 0.1000 | 0.0100 |' in table
  # The ablation as a percentage of the true captions' hole MSE.
  assert ('| film | 0.0200 | +0.00400 | [+0.00200, +0.00800] | +20.0% | '
          '+0.00100 | [-0.00100, +0.00300] | +5.0% |') in table
  assert '| seed | 0.0300 | +0.00030 |' in table and '+1.0%' in table
  for name in ('film', 'seed'):  # every curve read from the events
    assert f'{name}: 8 of 8 curves' in result.stderr, result.stderr[-3000:]
  assert '| film_on_tiny_imagenet | 3 | 40 | model (true captions) |' in table
  assert 'film_on_tiny_imagenet: 0 of 8 curves' in result.stderr
  png = Image.open(output.with_suffix('.png'))
  assert png.size[0] > 1000 and png.size[1] > 400
  # The fills side by side: masked | film | seed | target, enlarged 4x.
  for suffix in ('', '_box'):
    grid = np.asarray(Image.open(f'{output}_grid{suffix}.png'))
    cell = 64 * 4 + 4
    assert grid.shape[1] >= 4 * cell and grid.shape[0] > 3 * cell
    film = grid[-3 * cell + 2:-3 * cell + 2 + 256, cell + 2:cell + 2 + 256]
    expected = np.round(images[2, 0] * 255).astype(np.uint8).repeat(
        4, 0).repeat(4, 1)
    np.testing.assert_allclose(film, expected, atol=1)  # float32 rounding

  # Never overwrites what it wrote.
  again = subprocess.run(
      [sys.executable, 'tools/compare_runs.py', f'--output={output}',
       *map(str, runs)], cwd=REPO, capture_output=True, text=True,
      timeout=300, check=False)
  assert again.returncode == 1
  assert f'error: {output}.md exists' in again.stderr
  assert 'Traceback' not in again.stderr
