"""SIGTERM saves and exits; after SIGKILL a rerun continues bit-identically."""

import re
import signal

import numpy as np


def _common(data_dir, workdir, steps):
  return ['--config=configs/tiny.py', f'--workdir={workdir}',
          f'--config.dataset.data_dir={data_dir}',
          f'--config.num_train_steps={steps}', '--config.log_every_steps=1',
          '--config.eval_every_steps=1000']


def _wait_for(process, pattern: str) -> str:
  """Reads the process's log until a line matches; returns what it read."""
  seen = []
  for line in process.stderr:
    seen.append(line)
    if re.search(pattern, line):
      return ''.join(seen)
  raise AssertionError(f'{pattern!r} never logged:\n' + ''.join(seen)[-3000:])


def _complete_steps(workdir):
  return sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir()
                if p.name.isdigit())


def test_sigterm_saves_the_current_step_and_exits_cleanly(
    data_dir, tmp_path, start_main, run_main):
  workdir = tmp_path / 'run'
  process = start_main(*_common(data_dir, workdir, 10_000),
                       '--config.checkpoint_every_steps=10000')
  log = _wait_for(process, r'step 3/10000')
  process.send_signal(signal.SIGTERM)
  _, rest = process.communicate(timeout=300)
  log += rest
  assert process.returncode == 0, log[-3000:]
  saved = int(re.search(r'Preempted: saved the checkpoint at step (\d+)',
                        log).group(1))
  assert saved >= 3
  # The step it saved is the last one it trained, and nothing later ran.
  assert f'step {saved}/10000' in log
  assert f'step {saved + 1}/10000' not in log
  assert _complete_steps(workdir) == [saved]

  resumed = run_main(*_common(data_dir, workdir, saved + 1),
                     '--config.checkpoint_every_steps=10000')
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f'Resumed from the checkpoint at step {saved}.' in resumed.stderr


def test_sigkill_then_rerun_equals_an_uninterrupted_run(
    data_dir, tmp_path, start_main, run_main, read_checkpoint):
  steps = 8
  killed = tmp_path / 'killed'
  process = start_main(*_common(data_dir, killed, steps),
                       '--config.checkpoint_every_steps=1')
  # While checkpoint 4 is being written, asynchronously, and step 5 runs.
  _wait_for(process, r'Saving checkpoint 4 ')
  process.kill()
  process.communicate(timeout=60)
  last_complete = _complete_steps(killed)[-1]
  assert 3 <= last_complete < steps
  # A half-written checkpoint of a later step, as a kill mid-save leaves it.
  partial = killed / 'checkpoints' / f'{steps - 1}.orbax-checkpoint-tmp-1'
  (partial / 'default').mkdir(parents=True)
  (partial / 'default' / 'manifest.ocdbt').write_bytes(b'\0' * 10)

  rerun = run_main(*_common(data_dir, killed, steps),
                   '--config.checkpoint_every_steps=1')
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert (f'Resumed from the checkpoint at step {last_complete}.'
          in rerun.stderr)

  uninterrupted = tmp_path / 'uninterrupted'
  reference = run_main(*_common(data_dir, uninterrupted, steps),
                       f'--config.checkpoint_every_steps={steps}')
  assert reference.returncode == 0, reference.stderr[-3000:]
  after_kill = read_checkpoint(killed, steps)
  expected = read_checkpoint(uninterrupted, steps)
  assert after_kill.keys() == expected.keys()
  for name in expected:
    np.testing.assert_array_equal(after_kill[name], expected[name],
                                  err_msg=name)
