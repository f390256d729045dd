"""Speed and memory of training, inference and the input pipeline.

  python tools/benchmark.py [--config=configs/seed.py] \
      [--batch_size=64] [--inference_batch_size=256] [--steps=20] \
      [--config.model.layers.conv_impl=xla] [--config.model.dtype=bfloat16] \
      [--compare_conv_impls=phase,xla] [--compare_dtypes=bfloat16] \
      [--compare_batch_norm_impls=flax] [--torch] [--peak_tflops=790]

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
- peak resident memory of the process that ran the training step, and on
  a GPU its peak device memory;
- the step's floating-point operations an image (XLA's count of the step
  with the stock layers, `cost_analysis` of its lowering) and, with
  --peak_tflops, the fraction of that peak each training figure reaches;
- with --compare_conv_impls (--compare_dtypes, --compare_batch_norm_impls),
  the training step with other convolution implementations (computation
  dtypes, BatchNorm implementations), each with its compile time, and with
  --torch, the same step in PyTorch (tools/torch_reference.py) in the
  config's dtype and in each --compare_dtypes one (bfloat16: autocast),
  with the ratio of ours to it at each dtype. PyTorch runs on the GPU where
  it sees one (cuDNN autotuned, float32 products in TF32 as JAX's), else on
  the CPU with all its cores.

Every training step compared (a "contender") is timed in a fresh process
of its own, which holds only its own runtime: JAX and PyTorch in one
process share and contend for threads, which made PyTorch look slower than
it is. The contenders take turns, one process each per round, --rounds
rounds, so that all see the same machine load over the run; each process
compiles, warms up and times --steps steps, and reports their median. A
contender's figure is the median over rounds of those, with the range over
rounds beside it; the ratio to PyTorch is the ratio of the medians, with
the range of the per-round ratios. The inference and pipeline rows run in
a process of their own after them.

Timings are medians of per-step wall times, so one slow step on a shared
machine does not move them; compare implementations within one run or on
the same idle machine.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time

from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from inpainting import compilation
from inpainting import config_lib
from inpainting import errors
from inpainting import implementations
from inpainting import inference
from inpainting import masks
from inpainting import method as method_lib
from inpainting import methods
from inpainting import state as state_lib

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', str(pathlib.Path(__file__).resolve().parents[1] / 'configs' /
                  'seed.py'),
    'The config whose model is measured (default: the seed\'s, with its '
    'critic: the heaviest step).', lock_config=True)
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
                  'with these model.layers.conv_impl values (e.g. '
                  'xla,phase), in alternating rounds with the config\'s '
                  'own.')
flags.DEFINE_list('compare_dtypes', [], 'Also time the training step with '
                  'these model.dtype values (e.g. bfloat16), alternating.')
flags.DEFINE_list('compare_batch_norm_impls', [], 'Also time the training '
                  'step with these model.layers.batch_norm_impl values (e.g. '
                  'flax), alternating.')
flags.DEFINE_integer('rounds', 3, 'Rounds: each contender\'s training '
                     'step is timed once a round, in a fresh process.')
flags.DEFINE_integer('pipeline_batches', 200, 'Timed pipeline batches.')
flags.DEFINE_float('peak_tflops', 0.0, 'The device\'s peak rate in TFLOP/s '
                   '(e.g. 790, an H200\'s measured bf16 matrix rate): each '
                   'training figure is also given as a fraction of it. 0: '
                   'none.')
flags.DEFINE_string('contender', None, 'Internal: time only this training '
                    'step in this process and print its figures as JSON (the '
                    'benchmark runs itself so, once per contender a round).')


def _time(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def _median_time(fn, steps: int) -> float:
  return statistics.median(_time(fn) for _ in range(steps))


def _variant_cycle(config) -> list:
  """The step variants of the training loop's cycle (`Method.step_variant`):
  one step, or with the context encoder's lazy R1 loss.r1_interval steps,
  one of them with the penalty."""
  method = methods.get(config)
  return [method.step_variant(config, step)
          for step in range(config.loss.r1_interval)]


def _pmapped_step(config, variant, **pmap_kwargs):
  """The method's train step for `variant` under pmap, as the loop has it."""
  return jax.pmap(functools.partial(methods.get(config).train_step,
                                    config=config, variant=variant),
                  axis_name=method_lib.AXIS, **pmap_kwargs)


def jax_training(config):
  """(compile seconds, a function running train steps, steps it runs).

  The function runs one pmapped train step of the config's method; where
  the training loop alternates compiled variants (the context encoder's
  lazy R1, `loss.r1_interval=k > 1`: one with the penalty every k steps),
  it runs such a cycle of k steps, and the compile seconds are all of
  them.
  """
  devices = jax.local_device_count()
  batch = state_lib.example_batch(config, config.batch_size)
  state = methods.get(config).create_state(config, None)
  # On the devices once, as pmap shards it: the model alone is timed.
  sharded = jax.pmap(lambda x: x)(jax.tree.map(
      lambda x: x.reshape(devices, -1, *x.shape[1:]), batch))
  p_state = method_lib.replicate(state)
  cycle = _variant_cycle(config)

  start = time.perf_counter()
  compiled = {}
  for variant in set(cycle):
    p_step = _pmapped_step(config, variant, donate_argnums=(0,))
    compiled[variant] = compilation.compile_pmapped(p_step, p_state, sharded)
    if compiled[variant] is p_step:  # no options (GPU, TPU): compile now
      compiled[variant] = p_step.lower(p_state, sharded).compile()
  compile_s = time.perf_counter() - start
  holder = {'state': p_state}

  def steps():
    for variant in cycle:
      holder['state'], metrics = compiled[variant](holder['state'], sharded)
    jax.block_until_ready(metrics)

  return compile_s, steps, len(cycle)


def step_gflop(config) -> float:
  """GFLOP an image of the config's training step, as XLA counts them.

  `cost_analysis` of the step's lowering with the stock layers (which
  compute the same function as the others; the count is not the
  implementation's), at the global batch on one device. The count is the
  model's, not the platform's: it is taken from the lowering for the CPU,
  which JAX always has (on a GPU, JAX 0.11's lowering gives no count).
  With lazy R1, the mean over the loop's cycle of steps.
  """
  config = config.copy_and_resolve_references()
  config.model.layers.conv_impl = 'xla'
  config.model.layers.batch_norm_impl = 'flax'
  cpu = jax.devices('cpu')[:1]
  batch = jax.tree.map(lambda x: x[None],
                       state_lib.example_batch(config, config.batch_size))
  with jax.default_device(cpu[0]):
    state = method_lib.replicate(
        methods.get(config).create_state(config, None), cpu)
  cycle = _variant_cycle(config)
  flops = 0.0
  for variant in cycle:
    p_step = _pmapped_step(config, variant, devices=cpu)
    cost = p_step.lower(state, batch).cost_analysis()
    flops += (cost[0] if isinstance(cost, list) else cost)['flops']
  return flops / len(cycle) / config.batch_size / 1e9


def torch_training(config):
  """A function running one step of the PyTorch reference, and its device."""
  import torch  # pylint: disable=g-import-not-at-top
  import torch_reference  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(os.cpu_count())
  device = torch_reference.default_device()
  step = torch_reference.TrainStep(config, device)
  batch = torch_reference.random_batch(config, config.batch_size,
                                       device=device)
  return (lambda: step(*batch)), device


def _variants() -> list[tuple[str, str]]:
  """The (model field, value) pairs compared with the config's own step."""
  return ([('layers.conv_impl', impl) for impl in FLAGS.compare_conv_impls]
          + [('dtype', dtype) for dtype in FLAGS.compare_dtypes] +
          [('layers.batch_norm_impl', impl)
           for impl in FLAGS.compare_batch_norm_impls])


def _contenders() -> list[str]:
  """'jax' (the config's step), 'jax:<field>=<value>' per --compare_*
  value, and with --torch 'torch' (the config's dtype) and
  'torch:dtype=<value>' per --compare_dtypes value."""
  return (['jax'] + [f'jax:{field}={value}' for field, value in _variants()]
          + (['torch'] + [f'torch:dtype={dtype}'
                          for dtype in FLAGS.compare_dtypes]
             if FLAGS.torch else []))


def _with_field(config, name: str):
  """The config, with the model field a contender's name sets
  ('jax:<field>=<value>', 'torch:dtype=<value>')."""
  if ':' not in name:
    return config
  field, value = name.split(':', 1)[1].split('=', 1)
  config = config.copy_and_resolve_references()
  *groups, last = field.split('.')
  target = config.model
  for group in groups:
    target = target[group]
  target[last] = value
  return config


def time_contender(config, name: str) -> dict[str, float]:
  """Times one contender's training step in this process (--contender).

  Returns:
    {'compile_s' (JAX only), 'step_s': the median of --steps steps after
    --warmup (with lazy R1, of --steps cycles of loss.r1_interval steps,
    over the interval), 'peak_rss_gb': this process's peak resident memory,
    'peak_device_gb': its peak device memory (None on the CPU), 'version':
    of the runtime, 'device': where the step ran}.
  """
  result = {}
  steps_per_call = 1
  config = _with_field(config, name)
  if name.startswith('torch'):
    import torch  # pylint: disable=g-import-not-at-top
    step, device = torch_training(config)
    result['version'] = f'PyTorch {torch.__version__}'
    on_gpu = device.type == 'cuda'
    result['device'] = torch.cuda.get_device_name(device) if on_gpu else 'cpu'
    peak_bytes = lambda: torch.cuda.max_memory_allocated() if on_gpu else None
  else:
    result['compile_s'], step, steps_per_call = jax_training(config)
    result['version'] = f'jax {jax.__version__}'
    result['device'] = jax.local_devices()[0].device_kind
    peak_bytes = lambda: (jax.local_devices()[0].memory_stats() or {}).get(
        'peak_bytes_in_use')
  for _ in range(FLAGS.warmup):
    step()
  result['step_s'] = _median_time(step, FLAGS.steps) / steps_per_call
  result['peak_rss_gb'] = (
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
  peak = peak_bytes()
  result['peak_device_gb'] = None if peak is None else peak / 2**30
  return result


def _run_contender(name: str) -> dict[str, float]:
  """This script, run afresh for one contender; its JSON line, parsed."""
  argv = [a for a in sys.argv[1:] if not a.startswith('--contender')]
  command = [sys.executable, os.path.abspath(__file__), *argv,
             f'--contender={name}']
  env = dict(os.environ)
  if name.startswith('torch'):  # JAX there only builds the batch: no GPU
    env['JAX_PLATFORMS'] = 'cpu'
  result = subprocess.run(command, capture_output=True, text=True,
                          check=False, env=env)
  if result.returncode:
    raise errors.UserError(
        f'The benchmark of {name!r} failed (exit status '
        f'{result.returncode}): {result.stderr.strip()[-2000:]}')
  return json.loads(result.stdout.strip().splitlines()[-1])


def measure_training(config) -> dict[str, dict]:
  """Each contender timed in its own process, --rounds alternating rounds.

  Returns:
    {contender: {'images_per_s': [per round], 'compile_s': [...],
    'peak_rss_gb': [...], 'version': ...}}.
  """
  del config  # each process reads it from the flags
  results = {name: {'images_per_s': [], 'compile_s': [], 'peak_rss_gb': [],
                    'peak_device_gb': []}
             for name in _contenders()}
  for _ in range(FLAGS.rounds):
    for name, result in results.items():
      figures = _run_contender(name)
      logging.info('%s, batch %d: %s', name, FLAGS.batch_size, figures)
      result['images_per_s'].append(FLAGS.batch_size / figures['step_s'])
      result['peak_rss_gb'].append(figures['peak_rss_gb'])
      if figures['peak_device_gb'] is not None:
        result['peak_device_gb'].append(figures['peak_device_gb'])
      if 'compile_s' in figures:
        result['compile_s'].append(figures['compile_s'])
      result['version'] = figures['version']
      result['device'] = figures['device']
  return results


def measure_inference(config) -> dict[str, float]:
  """Median images/s of inpainting and of the whole generator, one device
  (a sampler's: of one draw at its default number of evaluations).

  'inpaint' is `inference.inpaint`, which computes the generator only over the
  hole's box (what filling holes costs); 'whole' is `inference.predict` of the
  whole image. The two alternate, one batch each, --inference_steps times.
  """
  n = FLAGS.inference_batch_size
  batch = state_lib.example_batch(config, n)
  state = methods.get(config).create_state(config, None)
  functions = {
      'inpaint': functools.partial(inference.inpaint, config=config,
                                   box=masks.hole_box(batch['mask'])),
      'whole': functools.partial(inference.predict, config=config),
  }
  if methods.get(config).sample is not None:
    del functions['whole']  # a sampler's draw is of the whole image anyway
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


def _spread(values: list[float], fmt: str) -> str:
  """'median (min-max)' of per-round figures, or the one figure."""
  median = format(statistics.median(values), fmt)
  if len(values) == 1:
    return median
  return f'{median} ({format(min(values), fmt)}-{format(max(values), fmt)})'


def _ratio(ours: list[float], theirs: list[float]) -> str:
  """The ratio of the medians, and the range of the rounds' ratios."""
  ratios = [a / b for a, b in zip(ours, theirs)]
  ratio = statistics.median(ours) / statistics.median(theirs)
  return f'{ratio:.2f}' + (f' ({min(ratios):.2f}-{max(ratios):.2f})'
                           if len(ratios) > 1 else '')


def _training_rows(config) -> list[tuple[str, str]]:
  results = measure_training(config)
  gflop = step_gflop(config)
  rounds = f'{FLAGS.rounds} rounds' if FLAGS.rounds > 1 else '1 round'

  def speed(result, with_compile: bool = True) -> str:
    figure = _spread(result['images_per_s'], '.1f') + ' images/s'
    if FLAGS.peak_tflops:
      share = (statistics.median(result['images_per_s']) * gflop /
               (FLAGS.peak_tflops * 1e3))
      figure += f', {share:.2%} of {FLAGS.peak_tflops:g} TFLOP/s'
    if with_compile and result['compile_s']:
      figure += f'; compile {_spread(result["compile_s"], ".1f")} s'
    return figure

  def memory(result) -> str:
    figure = _spread(result['peak_rss_gb'], '.2f') + ' GB resident'
    if result['peak_device_gb']:
      figure += f', {_spread(result["peak_device_gb"], ".2f")} GB device'
    return figure

  ours = results['jax']
  rows = [('train step compile', _spread(ours['compile_s'], '.1f') + ' s'),
          ('the step\'s work (XLA\'s count, stock layers)',
           f'{gflop:.3g} GFLOP an image'),
          (f'training, global batch {config.batch_size} (median over '
           f'{rounds}, their range)', speed(ours, with_compile=False))]
  for name, result in results.items():
    if name.startswith('jax:'):
      rows.append((f'training, {name[len("jax:"):]}, same batch',
                   speed(result)))
  for name, result in results.items():
    if not name.startswith('torch'):
      continue
    dtype = _with_field(config, name).model.dtype
    where = 'GPU' if result['device'] != 'cpu' else 'CPU'
    rows.append((f'{result["version"]} reference ({where}, {dtype}), same '
                 'model and batch', speed(result)))
    jax_name = 'jax' if name == 'torch' else 'jax' + name[len('torch'):]
    rows.append((f'ours / PyTorch, {dtype} (ratio of medians; range of the '
                 'rounds\' ratios)', _ratio(results[jax_name]['images_per_s'],
                                            result['images_per_s'])))
    rows.append((f'PyTorch peak memory, {dtype}', memory(result)))
  rows.append(('peak memory (the training process)', memory(ours)))
  return rows


def main(argv):
  del argv
  config = FLAGS.config.copy_and_resolve_references()
  with config.unlocked():
    config.batch_size = FLAGS.batch_size
  config_lib.validate_for_tool(config, device_count=jax.local_device_count(),
                              reads_data=FLAGS.pipeline)
  # The compile time is measured, not read from a cache.
  jax.config.update('jax_enable_compilation_cache', False)
  if FLAGS.contender:
    print(json.dumps(time_contender(config, FLAGS.contender)))
    return

  rows = []
  if FLAGS.training:
    rows += _training_rows(config)
  if FLAGS.inference:
    inference = measure_inference(config)
    n = FLAGS.inference_batch_size
    if methods.get(config).sample is not None:
      evaluations = 2 * config.diffusion.sampling_steps - 1
      rows.append((f'fills (one draw, {evaluations} U-Net evaluations: '
                   f'diffusion.sampling_steps={config.diffusion.sampling_steps}'
                   f'), batch {n}', f'{inference["inpaint"]:.2f} images/s'))
    else:
      rows.append((f'inpainting (generator over the hole\'s box), batch {n}',
                   f'{inference["inpaint"]:.0f} images/s'))
      rows.append((f'generator, whole {config.image_size}x'
                   f'{config.image_size} output, batch {n}, alternating',
                   f'{inference["whole"]:.0f} images/s'))
  if FLAGS.pipeline:
    rows.append((f'input pipeline ({config.dataset.name}), batch '
                 f'{config.batch_size}',
                 f'{measure_pipeline(config):.0f} images/s'))

  devices = jax.local_devices()
  print(f'\n{len(devices)} x {devices[0].device_kind} device(s), '
        f'{_cpu_name()}, {os.cpu_count()} cores, jax {jax.__version__}, '
        'conv_impl=%s, batch_norm_impl=%s, dtype=%s\n' % (
            *implementations.resolve(config.model.layers.conv_impl,
                                     config.model.layers.batch_norm_impl),
            config.model.dtype))
  print('| what | figure |\n| --- | --- |')
  for what, figure in rows:
    print(f'| {what} | {figure} |')


if __name__ == '__main__':
  errors.run(main)
