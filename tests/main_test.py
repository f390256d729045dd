"""The entry point end to end, as a user runs it."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def _main(*args, env=None):
  return subprocess.run(
      [sys.executable, '-m', 'inpainting.main', *args], cwd=REPO,
      capture_output=True, text=True, timeout=600, env=env, check=False)


def test_main_trains_logs_checkpoints_and_resumes(data_dir, tmp_path):
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=2')
  workdir = tmp_path / 'run'
  common = ['--config=configs/tiny.py', f'--workdir={workdir}',
            f'--config.dataset.data_dir={data_dir}']
  first = _main(*common, '--config.num_train_steps=4', env=env)
  assert first.returncode == 0, first.stderr[-3000:]
  assert 'step 4/4: generator_loss=' in first.stderr
  assert 'steps/s' in first.stderr and 'ETA' in first.stderr
  # 'auto' resolved once, for this backend, and said.
  assert first.stderr.count('Layers on cpu: conv_impl=adjoint, '
                            'batch_norm_impl=dot (config: auto, auto)') == 1
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()
                if p.name.isdigit()) == ['3', '4']
  assert (workdir / 'samples' / 'step_0000004.png').is_file()
  assert list(workdir.glob('events.out.tfevents.*'))

  second = _main(*common, '--config.num_train_steps=6', env=env)
  assert second.returncode == 0, second.stderr[-3000:]
  assert 'Resumed from the checkpoint at step 4.' in second.stderr
  assert 'step 6/6' in second.stderr
  assert 'step 2/6' not in second.stderr


def test_main_rejects_an_unknown_config_field(tmp_path):
  result = _main('--config=configs/tiny.py', f'--workdir={tmp_path}',
                 '--config.no_such_field=3')
  assert result.returncode != 0
  assert 'no_such_field' in result.stderr
