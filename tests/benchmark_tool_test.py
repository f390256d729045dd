"""tools/benchmark.py runs and prints its table (no timing is asserted)."""

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_benchmark_prints_every_row(data_dir):
  result = subprocess.run(
      [sys.executable, 'tools/benchmark.py', '--config=configs/tiny.py',
       f'--config.dataset.data_dir={data_dir}', '--batch_size=8',
       '--inference_batch_size=8', '--warmup=1', '--steps=2', '--rounds=2',
       '--inference_steps=1', '--pipeline_batches=2',
       '--compare_conv_impls=xla'],
      cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  for row in ('| train step compile |', '| training, global batch 8 |',
              '| training, conv_impl=xla, same batch, alternating |',
              '| peak resident memory after training |',
              "| inpainting (generator over the hole's box), batch 8 |",
              '| generator, whole 64x64 output, batch 8, alternating |',
              '| input pipeline (synthetic_shapes/tiny), batch 8 |'):
    assert row in result.stdout, result.stdout
