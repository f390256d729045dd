"""Evaluation from a checkpoint: report rows, ablation, clear errors."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from inpainting import checkpoints
from inpainting import evaluate

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_report_has_every_method_and_the_ablation(trained_run):
  config, workdir = trained_run
  report = evaluate.evaluate(config, str(workdir))
  assert report['step'] == 3
  assert report['num_examples'] == 40  # the whole tiny validation split
  assert list(report['methods']) == [
      evaluate.MODEL, 'border mean colour', 'OpenCV Telea (r=3)',
      'OpenCV Navier-Stokes', 'scikit-image biharmonic',
      'pull-push membrane']
  for row in report['methods'].values():
    for key in ('l1', 'mse', 'psnr', 'psnr_of_mean_mse', 'ssim', 'seam',
                'sharpness', 'ms_per_image'):
      assert np.isfinite(row[key]), (row, key)
    assert 0 < row['mse'] < 1
  ablation = report['caption_ablation']
  for name in ('shuffled', 'zero'):
    low, high = ablation[f'{name}_minus_true']['ci95']
    assert low <= ablation[f'{name}_minus_true']['mean'] <= high
    assert ablation[f'{name}_mse'] == pytest.approx(
        ablation['true_mse'] + ablation[f'{name}_minus_true']['mean'])
  saved = json.loads((workdir / 'report.json').read_text())
  assert saved['methods'].keys() == report['methods'].keys()
  markdown = (workdir / 'report.md').read_text()
  assert '| OpenCV Telea (r=3) |' in markdown and 'shuffled' in markdown
  assert (workdir / 'report.png').is_file()
  with np.load(workdir / 'report_samples.npz') as samples:  # the grid's
    assert samples['model'].shape == samples['target'].shape == (8, 64, 64, 3)


def test_evaluate_a_named_step_and_a_subset(trained_run, tmp_path):
  config, workdir = trained_run
  config = config.copy_and_resolve_references()
  config.eval.num_examples = 10
  config.eval.baselines = False
  before = {p.name: p.read_bytes() for p in workdir.glob('report*')}
  elsewhere = tmp_path / 'on_another_split'
  report = evaluate.evaluate(config, str(workdir), step=3,
                             report_dir=str(elsewhere))
  assert report['num_examples'] == 10
  assert list(report['methods']) == [evaluate.MODEL]
  assert json.loads((elsewhere / 'report.json').read_text()) == report
  assert (elsewhere / 'report.png').is_file()
  # The run's own report, if any, is left as it was.
  assert {p.name: p.read_bytes() for p in workdir.glob('report*')} == before


def test_missing_step_and_empty_workdir(trained_run, tmp_path):
  config, workdir = trained_run
  with pytest.raises(checkpoints.NoCheckpointError, match='no checkpoint at '
                     r'step 7; it has \[3\]'):
    evaluate.evaluate(config, str(workdir), step=7)
  with pytest.raises(checkpoints.NoCheckpointError, match='no checkpoints/'):
    evaluate.evaluate(config, str(tmp_path))


def test_cli_errors_are_one_clear_line(trained_run, tmp_path):
  config, workdir = trained_run
  result = subprocess.run(
      [sys.executable, '-m', 'inpainting.main', '--config=configs/tiny.py',
       f'--workdir={workdir}', '--mode=evaluate',
       f'--config.dataset.data_dir={config.dataset.data_dir}',
       '--config.model.caption_features=12'],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode != 0
  assert 'does not fit this config' in result.stderr
  assert 'generator/params/caption/dense/kernel' in result.stderr
  assert 'Traceback' not in result.stderr
  result = subprocess.run(
      [sys.executable, '-m', 'inpainting.main', '--config=configs/tiny.py',
       f'--workdir={tmp_path}', f'--report_dir={tmp_path / "r"}'],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1] == (
      f'error: --report_dir={tmp_path / "r"}: only with --mode=evaluate '
      '(training writes to --workdir).')
  assert not list(tmp_path.iterdir())


def test_mismatch_names_parameters(trained_run):
  config, workdir = trained_run
  config = config.copy_and_resolve_references()
  config.model.generator.encoder_features = (8, 8, 16, 32)
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='encoder/conv3/kernel'):
    evaluate.evaluate(config, str(workdir))


def test_every_kind_of_hole_has_its_own_table(trained_run):
  config, workdir = trained_run
  config = config.copy_and_resolve_references()
  config.eval.num_examples = 10
  centre_only = evaluate.evaluate(config, str(workdir))
  config.eval.mask_kinds = ('centre', 'box', 'free_form')
  report = evaluate.evaluate(config, str(workdir))
  # The centre table is the protocol's, unchanged.
  for method, row in report['methods'].items():
    for metric in ('mse', 'ssim', 'seam', 'sharpness'):
      assert row[metric] == centre_only['methods'][method][metric]
  assert set(report['mask_kinds']) == {'box', 'free_form'}
  by_kind = {}
  for kind, table in report['mask_kinds'].items():
    assert table['num_examples'] == 10
    assert list(table['methods']) == list(report['methods'])
    assert 'caption_ablation' not in table
    by_kind[kind] = table['methods']['border mean colour']['mse']
    assert (workdir / f'report_{kind}.png').is_file()
    assert (workdir / f'report_samples_{kind}.npz').is_file()
  # Different holes, different scores.
  assert len({*by_kind.values(),
              report['methods']['border mean colour']['mse']}) == 3
  markdown = (workdir / 'report.md').read_text()
  assert '## Random boxes' in markdown and '## Free-form holes' in markdown
  # The holes are a fixed set: evaluating again gives the same table.
  again = evaluate.evaluate(config, str(workdir))
  # ... and the first report was moved aside, whole, not overwritten.
  previous = workdir / evaluate.PREVIOUS_REPORTS
  latest = previous / str(max(int(p.name) for p in previous.iterdir()))
  assert json.loads((latest / 'report.json').read_text()) == report
  assert (latest / 'report_box.png').is_file()
  assert (latest / 'report.md').read_text() == markdown
  assert again['mask_kinds']['box']['methods']['OpenCV Telea (r=3)'][
      'mse'] == report['mask_kinds']['box']['methods'][
          'OpenCV Telea (r=3)']['mse']
