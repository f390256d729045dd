"""Nothing lost, nothing leaked: the workdir lock, outputs that never replace
files, held-out data kept out of training, and one `error:` line for the
faults that used to end in tracebacks (README, "Bad input")."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys

import pytest
import tensorflow_datasets as tfds

from inpainting import config_lib
from inpainting import errors
from inpainting import input_pipeline
from inpainting import workdir_lock
from inpainting.datasets import common
from inpainting.datasets import image_folder

# Shared with the tests of the bad inputs and of preemption.
from bad_input_test import _assert_one_error_line  # pylint: disable=g-bad-import-order
from bad_input_test import _photo  # pylint: disable=g-bad-import-order
from preemption_test import _wait_for  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[1]


def _tool(script, *args, timeout=300):
  return subprocess.run([sys.executable, script, *args], cwd=REPO,
                        capture_output=True, text=True, timeout=timeout,
                        check=False)


# The workdir lock.


def test_the_lock_refuses_a_second_holder_naming_the_first(tmp_path):
  with workdir_lock.hold(tmp_path / 'run', 'training'):
    with pytest.raises(workdir_lock.WorkdirBusyError) as error:
      with workdir_lock.hold(tmp_path / 'run', 'an evaluation'):
        pass
  message = str(error.value)
  assert f'in use by training (process {os.getpid()} on host ' in message
  assert str(tmp_path / 'run') in message
  with workdir_lock.hold(tmp_path / 'run', 'training'):  # released
    pass


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, '-c',
       'import sys, time; from inpainting import workdir_lock\n'
       f'with workdir_lock.hold({str(tmp_path)!r}, "training"):\n'
       '  print("held", flush=True); time.sleep(600)'],
      cwd=REPO, stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'held'
  with pytest.raises(workdir_lock.WorkdirBusyError, match=str(holder.pid)):
    with workdir_lock.hold(tmp_path, 'training'):
      pass
  holder.kill()  # SIGKILL: no chance to clean up
  holder.wait(timeout=60)
  assert (tmp_path / workdir_lock.LOCK_NAME).exists()  # left behind
  with workdir_lock.hold(tmp_path, 'training'):  # and yet free
    pass


def test_a_second_trainer_and_an_evaluation_are_refused_while_training(
    data_dir, tmp_path, start_main, run_main):
  workdir = tmp_path / 'run'
  args = ['--config=configs/tiny.py', f'--workdir={workdir}',
          f'--config.dataset.data_dir={data_dir}',
          '--config.log_every_steps=1', '--config.eval_every_steps=1000']
  first = start_main(*args, '--config.num_train_steps=100000',
                     '--config.checkpoint_every_steps=1')
  try:
    _wait_for(first, r'Saving checkpoint 2 ')
    checkpoints = sorted((workdir / 'checkpoints').iterdir())
    second = run_main(*args, '--config.num_train_steps=5',
                      '--config.optimizer.generator_learning_rate=0.1')
    _assert_one_error_line(second, f'{workdir} is in use by training',
                           f'process {first.pid} on host', 'since ')
    evaluation = run_main(*args, '--mode=evaluate',
                          '--config.eval.num_examples=8',
                          '--config.eval.baselines=False')
    _assert_one_error_line(evaluation, f'{workdir} is in use by training')
    assert not (workdir / 'report.json').exists()
    assert json.loads((workdir / 'config.json').read_text())[
        'optimizer']['generator_learning_rate'] != 0.1
    assert checkpoints  # the first run's, not replaced by a second run's
  finally:
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=300)
  assert first.returncode == 0


# Ctrl-C saves like SIGTERM.


def test_ctrl_c_saves_the_current_step_and_a_second_one_stops_at_once(
    data_dir, tmp_path, start_main):
  workdir = tmp_path / 'run'
  process = start_main('--config=configs/tiny.py', f'--workdir={workdir}',
                       f'--config.dataset.data_dir={data_dir}',
                       '--config.num_train_steps=100000',
                       '--config.log_every_steps=1',
                       '--config.checkpoint_every_steps=100000',
                       '--config.eval_every_steps=100000')
  log = _wait_for(process, r'step 3/100000')
  process.send_signal(signal.SIGINT)
  _, rest = process.communicate(timeout=300)
  log += rest
  assert process.returncode == 0, log[-3000:]
  assert 'Traceback' not in log and 'KeyboardInterrupt' not in log
  saved = int(re.search(r'Preempted: saved the checkpoint at step (\d+)',
                        log).group(1))
  assert saved >= 3
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()
                if p.name.isdigit()) == [str(saved)]


def test_ctrl_c_outside_training_is_one_error_line():
  def interrupted(argv):
    del argv
    raise KeyboardInterrupt
  with pytest.raises(SystemExit) as exit_:
    errors.exit_on_user_error(interrupted)([])
  assert exit_.value.code == 130


# tools/inpaint.py never replaces a file.


def test_inpaint_never_replaces_an_existing_file(trained_run, tmp_path):
  _, workdir = trained_run
  folder = tmp_path / 'photos'
  a = _photo(folder / 'a.png', seed=1)
  users_own = _photo(folder / 'a_inpainted.png', seed=2)
  own_bytes = users_own.read_bytes()
  common_args = ['--config=configs/tiny.py', f'--workdir={workdir}',
                 f'--output_dir={folder}', '--box=20,20,10,10']

  first = _tool('tools/inpaint.py', *common_args, str(a), str(users_own))
  assert first.returncode == 0, first.stderr[-3000:]
  assert users_own.read_bytes() == own_bytes
  written = sorted(p.name for p in folder.iterdir())
  assert written == ['a.png', 'a_inpainted-2.png', 'a_inpainted.png',
                     'a_inpainted_inpainted.png']
  earlier = {p.name: p.read_bytes() for p in folder.iterdir()}

  again = _tool('tools/inpaint.py', *common_args, str(a))
  assert again.returncode == 0, again.stderr[-3000:]
  assert (folder / 'a_inpainted-3.png').exists()
  assert all((folder / n).read_bytes() == b for n, b in earlier.items())

  # --overwrite replaces earlier results, never an input image.
  refused = _tool('tools/inpaint.py', *common_args, '--overwrite', str(a),
                  str(users_own))
  _assert_one_error_line(refused, 'a_inpainted.png is one of the input '
                         'images')
  assert users_own.read_bytes() == own_bytes


# Held-out data stays held out.


def test_overlapping_splits_are_refused_naming_both_fields(tiny_config):
  builder = input_pipeline.get_builder(tiny_config)
  for train_split, eval_split in (('validation', 'validation'),
                                  ('train', 'train[90%:]'),
                                  ('train[:60%]', 'train[50%:]'),
                                  ('train+validation', 'validation[:5]')):
    tiny_config.dataset.train_split = train_split
    tiny_config.eval.split = eval_split
    with pytest.raises(common.DatasetError) as error:
      input_pipeline.check_held_out(builder, tiny_config)
    message = str(error.value)
    assert f'config.eval.split={eval_split!r} shares ' in message
    assert f'config.dataset.train_split={train_split!r}' in message
  tiny_config.eval.allow_train_overlap = True  # a deliberate overfit check
  input_pipeline.check_held_out(builder, tiny_config)
  tiny_config.eval.allow_train_overlap = False
  for train_split, eval_split in (('train', 'validation'),
                                  ('train[:50%]', 'train[50%:]')):
    tiny_config.dataset.train_split = train_split
    tiny_config.eval.split = eval_split
    input_pipeline.check_held_out(builder, tiny_config)


def test_training_on_the_evaluation_split_is_one_error_line(data_dir,
                                                           tmp_path,
                                                           run_main):
  result = run_main('--config=configs/tiny.py', f'--workdir={tmp_path}',
                    f'--config.dataset.data_dir={data_dir}',
                    '--config.dataset.train_split=validation')
  _assert_one_error_line(result, "config.eval.split='validation' shares 40 "
                         "of its 40 examples with config.dataset."
                         "train_split='validation'")
  assert not (tmp_path / 'checkpoints').exists()


def test_a_training_copy_of_a_held_out_image_is_left_out(tmp_path):
  root = tmp_path / 'photos'
  for i in range(3):
    _photo(root / 'train' / f't{i}.png', seed=10 + i)
  _photo(root / 'validation' / 'v0.png', seed=20)
  _photo(root / 'validation' / 'v1.png', seed=21)
  shutil.copy(root / 'validation' / 'v1.png', root / 'train' / 'copy.png')
  builder = tfds.builder('image_folder', data_dir=str(tmp_path / 'data'),
                         config=image_folder.builder_config(root))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(root)))
  names = {split: sorted(ex['file_name'].decode() for ex in tfds.as_numpy(
      builder.as_dataset(split=split))) for split in ('train', 'validation')}
  assert names == {'train': ['train/t0.png', 'train/t1.png', 'train/t2.png'],
                   'validation': ['validation/v0.png', 'validation/v1.png']}
  copies = builder.info.metadata['held_out_copies']
  assert len(copies) == 1
  assert 'train/copy.png' in copies[0] and 'validation/v1.png' in copies[0]


# One error line instead of tracebacks.


def _truncate_largest_file(step_dir: pathlib.Path) -> pathlib.Path:
  largest = max((p for p in step_dir.rglob('*') if p.is_file()),
                key=lambda p: p.stat().st_size)
  with open(largest, 'r+b') as f:
    f.truncate(largest.stat().st_size // 3)
  return largest


def test_a_truncated_checkpoint_is_named_and_kept(trained_run, tmp_path,
                                                  run_main):
  config, trained = trained_run
  workdir = tmp_path / 'run'
  shutil.copytree(trained, workdir)
  steps = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir()
                 if p.name.isdigit())
  broken = _truncate_largest_file(workdir / 'checkpoints' / str(steps[-1]))
  size = broken.stat().st_size

  filled = _tool('tools/inpaint.py', '--config=configs/tiny.py',
                 f'--workdir={workdir}', f'--output_dir={tmp_path / "out"}',
                 str(_photo(tmp_path / 'p.png')))
  advice = (f'--step={steps[-2]}' if len(steps) > 1 else
            'It is the only checkpoint there')
  _assert_one_error_line(
      filled, f'The checkpoint of step {steps[-1]} '
      f'({workdir / "checkpoints" / str(steps[-1])}) cannot be read',
      'Nothing was deleted', advice)
  resumed = run_main('--config=configs/tiny.py', f'--workdir={workdir}',
                     f'--config.dataset.data_dir={config.dataset.data_dir}',
                     f'--config.num_train_steps={steps[-1] + 2}')
  _assert_one_error_line(resumed, f'The checkpoint of step {steps[-1]}',
                         'move ')
  assert broken.stat().st_size == size  # never deleted or rewritten


@pytest.mark.parametrize('flag, named', [
    ('--config.mask.size=80', 'config.mask.size=80'),
    ('--config.guidance=nan', 'config.guidance=nan: must be a finite'),
    ('--config.noise_scale=inf', 'config.noise_scale=inf: must be a finite'),
    ('--box=', '--box=: empty'),
    ('--mask=', '--mask=: empty'),
])
def test_inpaint_refuses_bad_values_before_writing(trained_run, tmp_path,
                                                   flag, named):
  _, workdir = trained_run
  result = _tool('tools/inpaint.py', '--config=configs/tiny.py',
                 f'--workdir={workdir}', f'--output_dir={tmp_path / "out"}',
                 flag, str(_photo(tmp_path / 'p.png')))
  _assert_one_error_line(result, named)
  assert not (tmp_path / 'out').exists()


def test_no_numeric_field_takes_nan_or_infinity(tiny_config):
  from configs import default  # pylint: disable=g-import-not-at-top
  for field, value in (('loss.adversarial_weight', float('nan')),
                       ('optimizer.ema_decay', float('inf')),
                       ('mask.mixture.box', float('nan')),
                       ('caption_dropout', float('-inf'))):
    config = tiny_config.copy_and_resolve_references()
    group, _, name = field.rpartition('.')
    target = config
    for part in filter(None, group.split('.')):
      target = target[part]
    target[name] = value
    with pytest.raises(config_lib.ConfigError,
                       match=re.escape(f'config.{field}=')):
      config_lib.validate(config, device_count=2,
                          reference=default.get_config())


def test_flags_refuse_nan_and_empty_values_generally():
  from absl import flags  # pylint: disable=g-import-not-at-top
  values = flags.FlagValues()
  flags.DEFINE_float('rate', 1.0, '', flag_values=values)
  flags.DEFINE_list('amounts', ['1'], '', flag_values=values)
  flags.DEFINE_string('where', None, '', flag_values=values)
  flags.DEFINE_string('caption', '', '', flag_values=values)
  values(['tool', '--rate=nan', '--amounts=1,-inf', '--where=',
          '--caption=inf'])
  problems = errors.flag_value_problems(values)
  assert problems == ['--amounts=1,-inf: must be a finite number',
                      '--rate=nan: must be a finite number',
                      '--where=: empty; give a value, or leave the flag out']


def test_compare_runs_checks_every_report_before_writing(trained_run,
                                                        tmp_path):
  _, trained = trained_run
  good = tmp_path / 'good'
  shutil.copytree(trained, good)
  bad = tmp_path / 'bad'
  bad.mkdir()
  (bad / 'report.json').write_text('{}')
  (good / 'report.json').write_text(json.dumps(
      {'step': 3, 'num_examples': 4, 'methods': {
          'model (true captions)': {'l1': 0.1, 'mse': 0.02, 'psnr': 17.0,
                                    'ssim': 0.5, 'seam': 0.0}}}))
  output = tmp_path / 'out' / 'comparison'
  result = _tool('tools/compare_runs.py', f'--output={output}', str(good),
                 str(bad))
  _assert_one_error_line(result, f'{bad / "report.json"}: not a report',
                         'report.num_examples', 'report.methods')
  assert not output.parent.exists()


def test_a_resumed_run_with_another_config_replaces_no_config_file(
    tmp_path, tiny_config):
  from inpainting import train  # pylint: disable=g-import-not-at-top
  first = train._write_config(tiny_config, tmp_path)  # pylint: disable=protected-access
  tiny_config.optimizer.generator_learning_rate = 0.5
  second = train._write_config(tiny_config, tmp_path)  # pylint: disable=protected-access
  tiny_config.optimizer.generator_learning_rate = 0.25
  third = train._write_config(tiny_config, tmp_path)  # pylint: disable=protected-access
  again = train._write_config(tiny_config, tmp_path)  # pylint: disable=protected-access
  assert [p.name for p in (first, second, third, again)] == [
      'config.json', 'config.resumed.json', 'config.resumed-2.json',
      'config.resumed-2.json']
  rates = [json.loads(p.read_text())['optimizer']['generator_learning_rate']
           for p in (first, second, third)]
  assert rates == [2e-4, 0.5, 0.25]
