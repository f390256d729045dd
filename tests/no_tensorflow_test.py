"""The model path runs where TensorFlow and TFDS are not installed.

Accelerator images often have JAX without TensorFlow: the models, losses,
the train step, the state, inference, metrics and the benchmark's training
and inference rows must not import it (only the data modules do).
"""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]

# A sitecustomize module, run first in every Python process started with
# its folder on PYTHONPATH (the benchmark's own subprocesses too): importing
# either package then fails, as where it is not installed.
BLOCK = ("import sys; sys.modules['tensorflow'] = None; "
         "sys.modules['tensorflow_datasets'] = None\n")

TRAIN_AND_INFER = '''
import sys
import functools
import jax
import numpy as np
from configs import tiny
from inpainting import inference, losses, metrics, models, train_step
from inpainting import state as state_lib

config = tiny.get_config()
batch = state_lib.example_batch(config, config.batch_size)
state = state_lib.create_train_state(config)
step = jax.pmap(functools.partial(train_step.train_step, config=config),
                axis_name=train_step.AXIS)
n = jax.local_device_count()
p_state, m = step(train_step.replicate(state),
                  jax.tree.map(lambda x: x.reshape(n, -1, *x.shape[1:]),
                               batch))
state = train_step.unreplicate(p_state)
filled = inference.fill(state, batch, config)
scores = metrics.hole_metrics((filled + 1) / 2, (batch['image'] + 1) / 2,
                              (16, 48, 16, 48))
assert int(state.step) == 1 and np.isfinite(filled).all()
assert np.isfinite(float(train_step.unreplicate(m)['generator_loss']))
assert sys.modules['tensorflow'] is None
print('trained and filled without TensorFlow')
'''


def _run(tmp_path, *args):
  (tmp_path / 'sitecustomize.py').write_text(BLOCK)
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      [str(tmp_path)] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
  return subprocess.run([sys.executable, *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=600,
                        check=False)


def test_a_train_step_and_inference_without_tensorflow(tmp_path):
  result = _run(tmp_path, '-c', TRAIN_AND_INFER)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'trained and filled without TensorFlow' in result.stdout


def test_the_benchmark_without_tensorflow(tmp_path):
  argv = ['tools/benchmark.py', '--config=configs/tiny.py', '--batch_size=8',
          '--inference_batch_size=8', '--warmup=1', '--steps=2',
          '--rounds=2', '--inference_steps=1', '--compare_conv_impls=xla',
          '--nopipeline']
  result = _run(tmp_path, *argv)
  assert result.returncode == 0, result.stderr[-3000:]
  # Each contender timed in processes of its own, two rounds: a median
  # and the range over the rounds.
  for row in ('| train step compile |',
              '| training, global batch 8 (median over 2 rounds, their '
              'range) |', '| training, layers.conv_impl=xla, same batch |',
              '| peak memory (the training process) |',
              "| the step's work (XLA's count, stock layers) |",
              "| inpainting (generator over the hole's box), batch 8 |",
              '| generator, whole 64x64 output, batch 8, alternating |'):
    assert row in result.stdout, result.stdout
  assert '| input pipeline' not in result.stdout
