"""An exported generator fills as the checkpoint it came from."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from inpainting import config_lib
from inpainting import export
from inpainting import inference
from inpainting import state as state_lib

REPO = pathlib.Path(__file__).resolve().parents[1]


def _batch(config):
  batch = state_lib.example_batch(config, 3, seed=5)
  batch['mask'][1] = 0
  batch['mask'][1, 4:20, 30:60] = 1  # a box off the centre
  return batch


@pytest.mark.parametrize('dtype, atol', [('float32', 0.0), ('float16', 2e-2)])
def test_the_exported_file_fills_as_its_checkpoint(trained_run, tmp_path,
                                                   dtype, atol):
  config, workdir = trained_run
  state = inference.restore(config, workdir)
  weights = tmp_path / f'generator_{dtype}.safetensors'
  export.export(config, state, weights, dtype)
  loaded_config, loaded = export.load(weights)
  assert loaded.step == int(state.step)
  assert (loaded_config.model.generator.encoder_features ==
          config.model.generator.encoder_features)
  batch = _batch(config)
  expected = inference.fill(state, batch, config)
  filled = inference.fill(loaded, batch, loaded_config)
  if atol == 0.0:
    np.testing.assert_array_equal(filled, expected)
  else:  # float16 rounding of the weights, through the network
    np.testing.assert_allclose(filled, expected, atol=atol)
    assert np.abs(filled - expected).mean() < atol / 10


def test_a_file_written_before_the_model_groups_loads(trained_run, tmp_path):
  """A config JSON with config.model's fields flat (before it had generator,
  critic and layers groups) loads as the same network."""
  config, workdir = trained_run
  weights = tmp_path / 'g.safetensors'
  export.export(config, inference.restore(config, workdir), weights,
                'float32')
  values = json.loads(export.config_path(weights).read_text())
  flat = {k: v for k, v in values['model'].items()
          if k not in ('generator', 'critic', 'layers')}
  for old, (group, name) in config_lib.FLAT_MODEL_FIELDS.items():
    flat[old] = values['model'][group][name]
  export.config_path(weights).write_text(json.dumps(dict(values, model=flat)))
  loaded_config, _ = export.load(weights)
  assert loaded_config.model.to_dict() == config.model.to_dict()


def test_export_never_overwrites_and_load_names_what_is_wrong(trained_run,
                                                              tmp_path):
  config, workdir = trained_run
  state = inference.restore(config, workdir)
  weights = tmp_path / 'g.safetensors'
  export.export(config, state, weights, 'float32')
  with pytest.raises(export.ExportError, match='exists'):
    export.export(config, state, weights, 'float32')
  # Another network's config beside the weights: every misfit is named.
  values = json.loads(export.config_path(weights).read_text())
  values['model']['generator']['encoder_features'] = [8, 8, 16, 32]
  values['model']['generator']['decoder_features'] = [32, 8, 8, 3]
  export.config_path(weights).write_text(json.dumps(values))
  with pytest.raises(export.ExportError, match='does not fit') as error:
    export.load(weights)
  assert 'encoder/conv3/kernel' in str(error.value)
  with pytest.raises(export.ExportError, match='no such file'):
    export.load(tmp_path / 'missing.safetensors')
  (tmp_path / 'bad.safetensors').write_bytes(b'not a safetensors file')
  export.config_path(tmp_path / 'bad.safetensors').write_text(
      export.config_path(weights).read_text())
  with pytest.raises(export.ExportError, match='not a readable'):
    export.load(tmp_path / 'bad.safetensors')
  values['model'] = 3  # a group of fields replaced by a number
  export.config_path(weights).write_text(json.dumps(values))
  with pytest.raises(export.ExportError,
                     match='config.model=3: must be a group of fields'):
    export.load(weights)


def test_the_tools_export_and_fill_from_the_file(trained_run, tmp_path):
  _, workdir = trained_run
  weights = tmp_path / 'model.safetensors'
  exported = subprocess.run(
      [sys.executable, 'tools/export.py', '--config=configs/tiny.py',
       str(workdir), str(weights)], cwd=REPO, capture_output=True,
      text=True, timeout=300, check=False)
  assert exported.returncode == 0, exported.stderr[-3000:]
  photo = tmp_path / 'photo.png'
  from PIL import Image  # pylint: disable=g-import-not-at-top
  Image.fromarray(np.random.default_rng(0).integers(
      0, 255, (80, 60, 3), np.uint8)).save(photo)
  filled = subprocess.run(
      [sys.executable, 'tools/inpaint.py', f'--weights={weights}',
       f'--output_dir={tmp_path / "out"}', '--box=10,10,20,30', str(photo)],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert filled.returncode == 0, filled.stderr[-3000:]
  out = np.asarray(Image.open(tmp_path / 'out' / 'photo_inpainted.png'))
  assert out.shape == (64, 64, 3)


def test_evaluate_scores_an_exported_file_as_its_checkpoint(trained_run,
                                                            tmp_path):
  """`main --mode=evaluate --weights=FILE` gives the checkpoint's report."""
  config, workdir = trained_run
  state = inference.restore(config, str(workdir))
  weights = tmp_path / 'model.safetensors'
  export.export(config, state, weights, 'float32')
  fields = json.loads(export.config_path(weights).read_text())
  assert sorted(fields) == sorted(export.MODEL_FIELDS)  # no data, no paths

  from inpainting import evaluate  # pylint: disable=g-import-not-at-top
  checkpoint = evaluate.evaluate(config, str(workdir),
                                 report_dir=str(tmp_path / 'checkpoint'))
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=2')
  scored = subprocess.run(
      [sys.executable, '-m', 'inpainting.main', '--config=configs/tiny.py',
       f'--config.dataset.data_dir={config.dataset.data_dir}',
       '--mode=evaluate', f'--weights={weights}',
       f'--report_dir={tmp_path / "file"}'],
      cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
      check=False)
  assert scored.returncode == 0, scored.stderr[-3000:]
  report = evaluate.read_report(tmp_path / 'file')
  assert report['step'] == checkpoint['step']
  for method, row in checkpoint['methods'].items():
    for name, value in row.items():
      if name != 'ms_per_image':
        assert report['methods'][method][name] == pytest.approx(
            value, rel=1e-5, abs=1e-6), (method, name)

  # Misused, it says how it is used instead of starting.
  for args in (['--mode=train', f'--report_dir={tmp_path}'],
               [f'--workdir={workdir}', f'--report_dir={tmp_path}'],
               ['--mode=evaluate']):
    wrong = subprocess.run(
        [sys.executable, '-m', 'inpainting.main', '--config=configs/tiny.py',
         f'--weights={weights}', *args], cwd=REPO, capture_output=True,
        text=True, timeout=300, env=env, check=False)
    assert wrong.returncode != 0
    assert '--weights=' in wrong.stderr and 'only with --mode=evaluate' in (
        wrong.stderr), wrong.stderr[-2000:]
    assert 'Traceback' not in wrong.stderr


def test_shipped_names_the_package_file_or_says_it_is_missing(monkeypatch,
                                                               tmp_path):
  assert export.resolve('shipped') == export.SHIPPED
  assert export.resolve(tmp_path / 'x.safetensors') == tmp_path / (
      'x.safetensors')
  monkeypatch.setattr(export, 'SHIPPED', tmp_path / 'none.safetensors')
  with pytest.raises(export.ExportError,
                     match='none.safetensors: the shipped weights are not'):
    export.resolve('shipped')


def test_a_samplers_run_is_not_exported_as_a_generator(sampler_run, tmp_path):
  _, workdir = sampler_run
  refused = subprocess.run(
      [sys.executable, 'tools/export.py', '--config=configs/tiny_sampler.py',
       str(workdir), str(tmp_path / 'model.safetensors')], cwd=REPO,
      capture_output=True, text=True, timeout=300, check=False)
  assert refused.returncode == 1
  assert "config.method='diffusion': an export holds a context encoder's " \
         'generator' in refused.stderr
  assert 'Traceback' not in refused.stderr
  assert not list(tmp_path.iterdir())
