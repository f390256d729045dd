"""A workdir that cannot take a checkpoint fails clearly and loses nothing.

Storage is made to refuse writes with RLIMIT_FSIZE (a write beyond the limit
fails with EFBIG, as a full disk fails with ENOSPC), which works without
privileges and for any user, root included.
"""



def _limit_file_size(kib: int) -> tuple[str, ...]:
  """A command prefix: files larger than `kib` KiB cannot be written."""
  # SIGXFSZ ignored: the write fails with EFBIG instead of killing the
  # process, as a full disk fails with ENOSPC.
  return ('bash', '-c', f'trap "" XFSZ; ulimit -f {kib}; exec "$0" "$@"')


def _common(data_dir, workdir, steps):
  return ['--config=configs/tiny.py', f'--workdir={workdir}',
          f'--config.dataset.data_dir={data_dir}',
          f'--config.num_train_steps={steps}']


def test_unwritable_workdir_fails_before_training(data_dir, tmp_path,
                                                  run_main):
  workdir = tmp_path / 'run'
  result = run_main(*_common(data_dir, workdir, 3),
                    prefix=_limit_file_size(1))
  assert result.returncode != 0
  assert f'The workdir {workdir} is not writable' in result.stderr
  assert 'nothing was trained' in result.stderr
  assert 'Traceback' not in result.stderr


def test_failed_checkpoint_write_is_reported_and_never_restored(
    data_dir, tmp_path, run_main):
  workdir = tmp_path / 'run'
  first = run_main(*_common(data_dir, workdir, 3))
  assert first.returncode == 0, first.stderr[-3000:]

  # Room for logs and small files, not for the checkpoint's arrays.
  full = run_main(*_common(data_dir, workdir, 6),
                  prefix=_limit_file_size(32))
  assert full.returncode != 0
  # Orbax logs its background writer's failure; the run ends on ours.
  last_line = full.stderr.strip().splitlines()[-1]
  assert last_line.startswith('error: Could not write'), full.stderr[-3000:]
  assert 'Is the disk full or read-only?' in last_line
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()
                if p.name.isdigit()) == ['3']

  rerun = run_main(*_common(data_dir, workdir, 6))
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert 'Resumed from the checkpoint at step 3.' in rerun.stderr
