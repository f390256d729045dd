"""tools/benchmark.py's input pipeline row (no timing is asserted).

Its training and inference rows run in tests/no_tensorflow_test.py, with
TensorFlow blocked.
"""

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
