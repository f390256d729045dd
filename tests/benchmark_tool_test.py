"""tools/benchmark.py: its input pipeline row and a lazy-R1 contender (no
timing is asserted).

Its training and inference rows run in tests/no_tensorflow_test.py, with
TensorFlow blocked.
"""

import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_benchmark_prints_the_pipeline_row(data_dir):
  result = subprocess.run(
      [sys.executable, 'tools/benchmark.py', '--config=configs/tiny.py',
       f'--config.dataset.data_dir={data_dir}', '--batch_size=8',
       '--pipeline_batches=2', '--notraining', '--noinference'],
      cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert '| input pipeline (synthetic_shapes/tiny), batch 8 |' in (
      result.stdout), result.stdout


def test_a_lazy_r1_contender_runs_both_compiled_steps():
  # With loss.r1_interval=2 a timed call is the loop's cycle: one step with
  # R1, one without (each compiled), and the figure is per step.
  result = subprocess.run(
      [sys.executable, 'tools/benchmark.py', '--config=configs/tiny.py',
       '--config.loss.r1_weight=1.0', '--config.loss.r1_interval=2',
       '--batch_size=8', '--warmup=0', '--steps=1', '--contender=jax'],
      cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  figures = json.loads(result.stdout.strip().splitlines()[-1])
  assert figures['step_s'] > 0 and figures['compile_s'] > 0
