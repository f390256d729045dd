"""Two processes on loopback (gloo) train exactly like one process."""

import re
import socket

import numpy as np

_FINGERPRINT = re.compile(r'Saving checkpoint 3 \(state fingerprint (\w+)\)')


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _run_two_processes(start_main, *args) -> list[str]:
  """Runs `inpainting.main ARGS` as 2 processes x 2 devices; their logs."""
  port = _free_port()
  processes = [start_main(*args, f'--coordinator_address=localhost:{port}',
                          '--num_processes=2', f'--process_id={i}', devices=2)
               for i in range(2)]
  logs = []
  for process in processes:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    logs.append(stderr)
  return logs


def test_two_processes_match_one_process_with_the_same_global_batch(
    data_dir, tmp_path, start_main, run_main, read_checkpoint):
  common = ['--config=configs/tiny.py',
            f'--config.dataset.data_dir={data_dir}',
            # Two shards of the data: one per process below, both in the one
            # process run, so that both runs see the same global batches.
            '--config.dataset.num_shards=2',
            '--config.num_train_steps=3', '--config.checkpoint_every_steps=1']
  workdir = tmp_path / 'two_processes'
  logs = _run_two_processes(start_main, *common, f'--workdir={workdir}')
  assert 'JAX process 1/2' in logs[1]
  # Every process holds the same state; only the primary one writes it.
  fingerprints = [_FINGERPRINT.search(log).group(1) for log in logs]
  assert fingerprints[0] == fingerprints[1]

  # Evaluation: the primary scores the split once and writes the report;
  # the other waits for it and writes nothing.
  logs = _run_two_processes(start_main, *common, f'--workdir={workdir}',
                            '--mode=evaluate', '--config.eval.baselines=false')
  assert 'Wrote ' in logs[0] and 'report.md' in logs[0]
  assert 'Evaluating' not in logs[1] and 'report' not in logs[1].replace(
      'writes the report', '')
  assert 'the primary process (0) evaluates' in logs[1]
  assert (workdir / 'report.json').is_file()

  single = tmp_path / 'one_process'
  result = run_main(*common, f'--workdir={single}', devices=4)
  assert result.returncode == 0, result.stderr[-3000:]

  # After one step the whole state (parameters, optimiser moments, BatchNorm
  # statistics) agrees up to the order of float sums in the all-reduce.
  two, one = read_checkpoint(workdir, 1), read_checkpoint(single, 1)
  assert two.keys() == one.keys()
  for name in one:
    np.testing.assert_allclose(two[name], one[name], rtol=1e-4, atol=1e-5,
                               err_msg=name)
  # Later, Adam and BatchNorm over 2 examples a device amplify those last-bit
  # differences in the gradients (measured: up to 2e-3 in the first moments
  # at step 2, with parameters still within 1e-5), so the whole state can no
  # longer be compared bitwise. The BatchNorm moving statistics are a
  # function of the batches seen: they still agree to 1e-3 at steps 2 and 3,
  # which a different global batch would not.
  for step in (2, 3):
    two, one = read_checkpoint(workdir, step), read_checkpoint(single, step)
    stats = [name for name in one if "['batch_stats']" in name]
    assert len(stats) > 10
    for name in stats:
      np.testing.assert_allclose(two[name], one[name], rtol=1e-2, atol=1e-4,
                                 err_msg=f'step {step}: {name}')
