"""Speed and memory of training, inference and the input pipeline.

  python tools/benchmark.py [--config=configs/caption_gan.py] \
      [--batch_size=64] [--inference_batch_size=256] [--steps=20] \
      [--config.model.conv_impl=xla] [--config.model.dtype=bfloat16] \
      [--compare_conv_impls=phase,xla] [--compare_dtypes=bfloat16] \
      [--compare_batch_norm_impls=flax] [--torch]

Prints one Markdown table for the devices present:

- train step compile time (lowering + XLA compilation, no persistent cache);
- training images/s: the pmapped train step of the config's model at a
  global batch of --batch_size, the median over --steps steps after
  --warmup steps (random batches already on the devices: the model alone);
- inference images/s at --inference_batch_size, one device, median:
  inpainting (jitted `inference.inpaint`, the generator computed over the
  hole's box only) and, alternating with it, the generator's whole output
  (`inference.predict`);
- input pipeline images/s: the training stream of the config's dataset
  (read, shuffle, parse, decode, mask, caption draw, batch), the throughput
  over --pipeline_batches batches, median of 5 rounds (the dataset is built
  first if needed; e.g. `--config=configs/caption_gan.py:tiny_imagenet
  --config.dataset.manual_dir=DIR` for Tiny ImageNet);
- --notraining, --noinference, --nopipeline leave a row out;
- peak resident memory of the process after compiling and warming up the
  training step (ru_maxrss, before PyTorch loads);
- with --compare_conv_impls (--compare_dtypes, --compare_batch_norm_impls),
  the training step with other convolution implementations (computation
  dtypes, BatchNorm implementations), and with
  --torch, the same step in PyTorch (tools/torch_reference.py), timed in
  alternating rounds with ours, so all see the same machine load.

Timings are medians of per-step wall times, so one slow step on a shared
machine does not move them; compare implementations within one run or on
the same idle machine.
"""

from __future__ import annotations

import functools
import os
import pathlib
import platform
import resource
import statistics
import time

from absl import flags
import jax
from ml_collections import config_flags

from inpainting import compilation
from inpainting import errors
from inpainting import implementations
from inpainting import inference
from inpainting import masks
from inpainting import state as state_lib
from inpainting import train_step

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', str(pathlib.Path(__file__).resolve().parents[1] / 'configs' /
                  'caption_gan.py'),
    'The config whose model is measured.', lock_config=True)
flags.DEFINE_integer('batch_size', 64, 'Global training batch.')
flags.DEFINE_integer('inference_batch_size', 256, 'Generator batch.')
flags.DEFINE_integer('warmup', 3, 'Untimed steps after compilation.')
flags.DEFINE_integer('steps', 20, 'Timed training steps.')
flags.DEFINE_integer('inference_steps', 10, 'Timed inference batches.')
flags.DEFINE_bool('training', True, 'Measure the training step (and memory).')
flags.DEFINE_bool('inference', True, 'Measure generator inference.')
flags.DEFINE_bool('pipeline', True, 'Measure the input pipeline.')
flags.DEFINE_bool('torch', False, 'Also time the PyTorch reference '
                  '(tools/torch_reference.py) in alternating rounds.')
flags.DEFINE_list('compare_conv_impls', [], 'Also time the training step '
                  'with these model.conv_impl values (e.g. xla,phase), in '
                  'alternating rounds with the config\'s own.')
flags.DEFINE_list('compare_dtypes', [], 'Also time the training step with '
                  'these model.dtype values (e.g. bfloat16), alternating.')
flags.DEFINE_list('compare_batch_norm_impls', [], 'Also time the training '
                  'step with these model.batch_norm_impl values (e.g. '
                  'flax), alternating.')
flags.DEFINE_integer('rounds', 5, 'Alternating rounds, with --torch or '
                     'a --compare_* flag.')
flags.DEFINE_integer('pipeline_batches', 200, 'Timed pipeline batches.')


def _time(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def _median_time(fn, steps: int) -> float:
  return statistics.median(_time(fn) for _ in range(steps))


def jax_training(config):
  """(compile seconds, a function running one pmapped train step)."""
  devices = jax.local_device_count()
  batch = state_lib.example_batch(config, config.batch_size)
  state = state_lib.create_train_state(config)
  # On the devices once, as pmap shards it: the model alone is timed.
  sharded = jax.pmap(lambda x: x)(jax.tree.map(
      lambda x: x.reshape(devices, -1, *x.shape[1:]), batch))
  p_step = jax.pmap(functools.partial(train_step.train_step, config=config),
                    axis_name=train_step.AXIS, donate_argnums=(0,))
  p_state = train_step.replicate(state)

  start = time.perf_counter()
  compiled = compilation.compile_pmapped(p_step, p_state, sharded)
  compile_s = time.perf_counter() - start
  holder = {'state': p_state}

  def one_step():
    holder['state'], metrics = compiled(holder['state'], sharded)
    jax.block_until_ready(metrics)

  return compile_s, one_step


def torch_training(config):
  """A function running one step of the PyTorch reference."""
  import torch  # pylint: disable=g-import-not-at-top
  import torch_reference  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(os.cpu_count())
  step = torch_reference.TrainStep(config)
  batch = torch_reference.random_batch(config, config.batch_size)
  return lambda: step(*batch)


def _variants() -> list[tuple[str, str]]:
  """The (model field, value) pairs compared with the config's own step."""
  return ([('conv_impl', impl) for impl in FLAGS.compare_conv_impls] +
          [('dtype', dtype) for dtype in FLAGS.compare_dtypes] +
          [('batch_norm_impl', impl)
           for impl in FLAGS.compare_batch_norm_impls])


def measure_training(config) -> dict[str, float]:
  """Compile seconds and median images/s of each compared training step.

  The config's own step is 'jax'; each --compare_* value adds
  'jax:<field>=<value>' and --torch adds 'torch'.
  With more than one, they run in alternating rounds, so that all see the
  same machine load.
  """
  def warmed_up(step):
    for _ in range(FLAGS.warmup):
      step()
    return step

  compile_s, jax_step = jax_training(config)
  steps = {'jax': warmed_up(jax_step)}
  # Before anything else allocates.
  peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
  for field, value in _variants():
    other = config.copy_and_resolve_references()
    other.model[field] = value
    steps[f'jax:{field}={value}'] = warmed_up(jax_training(other)[1])
  if FLAGS.torch:
    steps['torch'] = warmed_up(torch_training(config))
  times = {name: [] for name in steps}
  rounds = FLAGS.rounds if len(steps) > 1 else 1
  per_round = max(1, FLAGS.steps // rounds)
  for _ in range(rounds):
    for name, step in steps.items():
      times[name] += [_time(step) for _ in range(per_round)]
  result = {'compile_s': compile_s, 'peak_rss_gb': peak_rss_gb}
  for name, seconds in times.items():
    result[f'{name}_images_per_s'] = (config.batch_size /
                                      statistics.median(seconds))
  return result


def measure_inference(config) -> dict[str, float]:
  """Median images/s of inpainting and of the whole generator, one device.

  'inpaint' is `inference.inpaint`, which computes the generator only over the
  hole's box (what filling holes costs); 'whole' is `inference.predict` of the
  whole image. The two alternate, one batch each, --inference_steps times.
  """
  n = FLAGS.inference_batch_size
  batch = state_lib.example_batch(config, n)
  state = state_lib.create_train_state(config)
  functions = {
      'inpaint': functools.partial(inference.inpaint, config=config,
                                   box=masks.hole_box(batch['mask'])),
      'whole': functools.partial(inference.predict, config=config),
  }
  runs = {name: functools.partial(_run, compilation.jit(fn), state, batch)
          for name, fn in functions.items()}
  times = {name: [] for name in runs}
  for run in runs.values():
    run()  # compiles
  for _ in range(FLAGS.inference_steps):
    for name, run in runs.items():
      times[name].append(_time(run))
  return {name: n / statistics.median(t) for name, t in times.items()}


def _run(fn, *args) -> None:
  jax.block_until_ready(fn(*args))


def measure_pipeline(config) -> float:
  """Images/s of the training stream of the config's dataset.

  Throughput (batches x batch size / wall time) over --pipeline_batches
  batches, the median of 5 such rounds; after a warm-up that fills the
  shuffle buffer and the prefetch. Imports TensorFlow (the input pipeline)
  only here: the other rows run without it.
  """
  from inpainting import input_pipeline  # pylint: disable=g-import-not-at-top
  builder = input_pipeline.get_builder(config)
  it = input_pipeline.device_batches(
      input_pipeline.create_train_dataset(config, builder))
  for _ in range(max(20, config.dataset.shuffle_buffer_size //
                     config.batch_size)):
    next(it)
  def round_():
    for _ in range(FLAGS.pipeline_batches):
      next(it)
  seconds = _median_time(round_, 5)
  return FLAGS.pipeline_batches * config.batch_size / seconds


def _cpu_name() -> str:
  try:
    for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
      if line.startswith('model name'):
        return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def _training_rows(config) -> list[tuple[str, str]]:
  training = measure_training(config)
  rows = [('train step compile', f'{training["compile_s"]:.1f} s'),
          (f'training, global batch {config.batch_size}',
           f'{training["jax_images_per_s"]:.1f} images/s')]
  for field, value in _variants():
    rows.append((f'training, {field}={value}, same batch, alternating',
                 f'{training[f"jax:{field}={value}_images_per_s"]:.1f} '
                 'images/s'))
  if FLAGS.torch:
    import torch  # pylint: disable=g-import-not-at-top
    rows.append((f'PyTorch {torch.__version__} reference, same model and '
                 'batch, alternating',
                 f'{training["torch_images_per_s"]:.1f} images/s'))
  rows.append(('peak resident memory after training',
               f'{training["peak_rss_gb"]:.2f} GB'))
  return rows


def main(argv):
  del argv
  config = FLAGS.config.copy_and_resolve_references()
  with config.unlocked():
    config.batch_size = FLAGS.batch_size
  # The compile time is measured, not read from a cache.
  jax.config.update('jax_enable_compilation_cache', False)

  rows = []
  if FLAGS.training:
    rows += _training_rows(config)
  if FLAGS.inference:
    inference = measure_inference(config)
    n = FLAGS.inference_batch_size
    rows.append((f'inpainting (generator over the hole\'s box), batch {n}',
                 f'{inference["inpaint"]:.0f} images/s'))
    rows.append((f'generator, whole {config.image_size}x{config.image_size} '
                 f'output, batch {n}, alternating',
                 f'{inference["whole"]:.0f} images/s'))
  if FLAGS.pipeline:
    rows.append((f'input pipeline ({config.dataset.name}), batch '
                 f'{config.batch_size}',
                 f'{measure_pipeline(config):.0f} images/s'))

  devices = jax.local_devices()
  print(f'\n{len(devices)} x {devices[0].device_kind} device(s), '
        f'{_cpu_name()}, {os.cpu_count()} cores, jax {jax.__version__}, '
        'conv_impl=%s, batch_norm_impl=%s, dtype=%s\n' % (
            *implementations.resolve(config.model.conv_impl,
                                     config.model.batch_norm_impl),
            config.model.dtype))
  print('| what | figure |\n| --- | --- |')
  for what, figure in rows:
    print(f'| {what} | {figure} |')


if __name__ == '__main__':
  errors.run(main)
