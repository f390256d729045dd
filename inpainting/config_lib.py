"""Checks a run config before anything is built or compiled.

`validate` collects every problem it finds and raises one `ConfigError`
that names each field and its value, e.g.

    config.model.generator.decoder_features=(256, 128, 3): must have as
    many entries as config.model.generator.encoder_features=(64, 128, 256,
    256) (4), to upsample back to the image size

so that a typo costs seconds, not a compile and a crash deep inside Flax.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import ml_collections

from inpainting import errors
from inpainting import implementations
from inpainting import losses
from inpainting import masks
from inpainting import methods
from inpainting import models
from inpainting import prefill as prefill_lib
from inpainting import state as state_lib

MODEL_DTYPES = ('float32', 'bfloat16')

# Where the fields of `config.model` written before it had groups
# (inpainting-generator files and config.json of runs up to 2026-12-06) are
# now: `grouped_model_fields` moves them.
FLAT_MODEL_FIELDS = {
    **{name: ('generator', name) for name in (
        'encoder_features', 'decoder_features', 'decoder_kernel_size',
        'full_resolution_features', 'dilated_blocks', 'noise_levels',
        'noise_init', 'prefill', 'activation', 'output_activation',
        'skip_connections', 'caption_conditioning', 'film_encoder')},
    **{f'critic_{name}': ('critic', name) for name in (
        'features', 'activation', 'view', 'window', 'batch_norm',
        'spectral_norm', 'blur', 'head')},
    'critic_conditioning': ('critic', 'caption_conditioning'),
    **{name: ('layers', name) for name in (
        'upsampling', 'batch_norm_momentum', 'conv_impl', 'batch_norm_impl')},
}


def grouped_model_fields(values: dict[str, Any]) -> dict[str, Any]:
  """A config's fields as a dict (a JSON config), with a `model` written
  before the generator, critic and layers groups moved into them; a config
  already grouped is returned as it is."""
  model = values.get('model')
  if not isinstance(model, dict) or not set(model) & set(FLAT_MODEL_FIELDS):
    return values
  grouped = {k: v for k, v in model.items() if k not in FLAT_MODEL_FIELDS}
  for old, (group, name) in FLAT_MODEL_FIELDS.items():
    if old in model:
      grouped.setdefault(group, {})[name] = model[old]
  return dict(values, model=grouped)


class ConfigError(errors.UserError, ValueError):
  """A config field has an unknown name, a wrong type or an impossible value."""


def _is_number(value: Any) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_problem(path: str, value: Any, expected: Any) -> str | None:
  """Why `value` cannot stand where the reference has `expected`, or None."""
  if expected is None or value is None:
    return None  # placeholders (None allowed) are typed by the reference
  if isinstance(expected, bool):
    ok = isinstance(value, bool)
  elif isinstance(expected, int):
    ok = isinstance(value, int) and not isinstance(value, bool)
  elif isinstance(expected, float):
    ok = _is_number(value)
  elif isinstance(expected, (tuple, list)):
    ok = isinstance(value, (tuple, list))
  else:
    ok = isinstance(value, type(expected))
  if ok:
    return None
  return (f'{path}={value!r}: must be of type {type(expected).__name__}, '
          f'not {type(value).__name__}')


def _field_type(config: ml_collections.ConfigDict, key: str) -> type | None:
  """The declared type of a placeholder field (None-valued), if any."""
  try:
    return config.get_type(key)
  except (AttributeError, KeyError):
    return None


def unknown_or_mistyped(config: ml_collections.ConfigDict,
                        reference: ml_collections.ConfigDict,
                        prefix: str = 'config') -> list[str]:
  """Fields of `config` that `reference` lacks, or whose type differs."""
  problems = [f'{prefix}.{key}: missing' for key in reference.keys()
              if key not in config]
  for key in config.keys():
    path = f'{prefix}.{key}'
    if key not in reference:
      problems.append(f'{path}: unknown field (known: '
                      f'{", ".join(sorted(reference.keys()))})')
      continue
    value, expected = config[key], reference[key]
    if isinstance(expected, ml_collections.ConfigDict):
      if not isinstance(value, ml_collections.ConfigDict):
        problems.append(f'{path}={value!r}: must be a group of fields')
      else:
        problems += unknown_or_mistyped(value, expected, path)
      continue
    if expected is None and value is not None:
      declared = _field_type(reference, key)
      if declared is not None and not isinstance(value, declared):
        problems.append(f'{path}={value!r}: must be of type '
                        f'{declared.__name__} or None')
      continue
    problem = _type_problem(path, value, expected)
    if problem:
      problems.append(problem)
  return problems


def non_finite(config: ml_collections.ConfigDict,
               prefix: str = 'config') -> list[str]:
  """Fields holding NaN or an infinity, anywhere (in lists too).

  Checked before every other rule: NaN passes any range check written as
  a comparison (`nan < 0` and `nan >= 0` are both False), and no field
  here means anything with an infinity.
  """
  problems = []
  for key in config.keys():
    value, path = config[key], f'{prefix}.{key}'
    if isinstance(value, ml_collections.ConfigDict):
      problems += non_finite(value, path)
      continue
    values = value if isinstance(value, (tuple, list)) else (value,)
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
      problems.append(f'{path}={value!r}: must be a finite number')
  return problems


def _positive_ints(config, names: tuple[str, ...], problems: list[str]):
  for name in names:
    value = _get(config, name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
      problems.append(f'config.{name}={value!r}: must be a positive integer')


def _get(config, dotted: str) -> Any:
  value = config
  for part in dotted.split('.'):
    value = value[part]
  return value


def _check_features(config, name: str, problems: list[str]) -> bool:
  features = _get(config, name)
  if (not isinstance(features, (tuple, list)) or not features or
      not all(isinstance(f, int) and not isinstance(f, bool) and f > 0
              for f in features)):
    problems.append(f'config.{name}={features!r}: must be a non-empty list '
                    'of positive integers')
    return False
  return True


def _mask_problems(mask: ml_collections.ConfigDict, eval_kinds, size: int,
                   problems: list[str]) -> None:
  """The random holes' fields (inpainting/masks.py)."""
  kinds = (*masks.MASK_KINDS, 'mixture')
  if mask.kind not in kinds:
    problems.append(f'config.mask.kind={mask.kind!r}: must be one of {kinds}')
  if mask.box_max > size - 2:
    problems.append(f'config.mask.box_max={mask.box_max}: a box must leave a '
                    f'border, at most config.image_size - 2 = {size - 2}')
  for low, high in (('box_min', 'box_max'), ('min_width', 'max_width')):
    if mask[low] > mask[high]:
      problems.append(f'config.mask.{low}={mask[low]}: must be at most '
                      f'config.mask.{high}={mask[high]}')
  weights = mask.mixture
  unknown_kinds = [k for k in eval_kinds if k not in masks.MASK_KINDS]
  if unknown_kinds or not eval_kinds:
    problems.append(f'config.eval.mask_kinds={tuple(eval_kinds)}: must be '
                    f'one or more of {masks.MASK_KINDS}')
  unknown = sorted(set(weights) - set(masks.MASK_KINDS))
  if unknown:
    problems.append(f'config.mask.mixture: unknown kinds {unknown}; the '
                    f'kinds are {masks.MASK_KINDS}')
  elif any(not _is_number(w) or w < 0 for w in weights.values()) or not any(
      weights.values()):
    problems.append(f'config.mask.mixture={dict(weights)}: weights must be '
                    '>= 0, and one of them > 0')


def _dataset_problems(config: ml_collections.ConfigDict) -> list[str]:
  """The data's fields, where the data modules (TensorFlow) are installed.

  A process that only trains steps or fills (the benchmark's rows on an
  accelerator image without TensorFlow) reads no dataset, so it skips them.
  """
  try:
    from inpainting.datasets import common  # pylint: disable=g-import-not-at-top
  except ImportError:
    return []
  problems = []
  if config.dataset.on_bad_input not in common.ON_BAD_INPUT:
    problems.append('config.dataset.on_bad_input='
                    f'{config.dataset.on_bad_input!r}: must be one of '
                    f'{common.ON_BAD_INPUT}')
  if (config.dataset.name.partition('/')[0] == 'image_folder' and
      not config.dataset.manual_dir):
    problems.append("config.dataset.manual_dir=None: dataset.name="
                    f"{config.dataset.name!r} reads the folder of images "
                    'named by dataset.manual_dir')
  if config.image_size != common.IMAGE_SIZE:
    problems.append(f'config.image_size={config.image_size}: the datasets '
                    f'are built at {common.IMAGE_SIZE}x{common.IMAGE_SIZE}')
  return problems


def _choice(problems: list[str], path: str, value: Any,
            registry: Any, extra: tuple[str, ...] = ()) -> bool:
  """Checks that `value` names an entry of `registry` (or of `extra`)."""
  known = (*extra, *registry)
  if value in known:
    return True
  problems.append(f'config.{path}={value!r}: must be one of '
                  f'{sorted(known) if isinstance(registry, dict) else known}')
  return False


def _hole_problems(config: ml_collections.ConfigDict) -> list[str]:
  """The centre hole against the image size."""
  problems = []
  size, hole = config.image_size, config.mask.size
  if hole >= size:
    problems.append(f'config.mask.size={hole}: the hole must be smaller than '
                    f'config.image_size={size}, leaving a border to see')
  elif (size - hole) % 2:
    problems.append(f'config.mask.size={hole}: config.image_size={size} minus '
                    'the hole must be even, so that the hole is centred')
  return problems


def _shape_problems(config: ml_collections.ConfigDict) -> list[str]:
  """The context encoder's networks' depths and widths against the image
  size."""
  problems = []
  size = config.image_size
  generator, critic = config.model.generator, config.model.critic
  ok = {name: _check_features(config, f'model.{name}', problems)
        for name in ('generator.encoder_features',
                     'generator.decoder_features', 'critic.features')}
  for name in ('generator.encoder_features', 'critic.features'):
    depth = len(_get(config.model, name)) if ok[name] else 0
    if depth and size % 2**depth:
      problems.append(
          f'config.model.{name}={tuple(_get(config.model, name))}: {depth} '
          f'stride-2 layers need config.image_size={size} to be divisible '
          f'by 2**{depth}={2**depth}')
  encoder = tuple(generator.encoder_features)
  decoder = tuple(generator.decoder_features)
  if ok['generator.encoder_features'] and ok['generator.decoder_features']:
    if len(decoder) != len(encoder):
      problems.append(
          f'config.model.generator.decoder_features={decoder}: must have as '
          'many entries as config.model.generator.encoder_features='
          f'{encoder} ({len(encoder)}), to upsample back to the image size')
    if decoder[-1] != 3:
      problems.append(
          f'config.model.generator.decoder_features={decoder}: the last '
          'entry is the output image and must be 3 (RGB)')
  if critic.view in ('local', 'global_local'):
    window = critic.window
    if not 0 < window <= size:
      problems.append(f'config.model.critic.window={window!r}: the local '
                      f'critic\'s window must fit in the image (1 to {size})')
    elif ok['critic.features'] and window % 2**len(critic.features):
      problems.append(
          f'config.model.critic.window={window}: '
          f'{len(critic.features)} stride-2 layers '
          f'(config.model.critic.features) need it divisible by '
          f'{2**len(critic.features)}')
  return problems


def _generator_problems(generator: ml_collections.ConfigDict) -> list[str]:
  """`config.model.generator`: its names against their registries, and the
  fields that go together."""
  problems = []
  for name in ('activation', 'output_activation'):
    _choice(problems, f'model.generator.{name}', generator[name],
            models.ACTIVATIONS)
  _choice(problems, 'model.generator.caption_conditioning',
          generator.caption_conditioning, models.GENERATOR_CONDITIONING)
  if (_choice(problems, 'model.generator.prefill', generator.prefill,
              prefill_lib.PREFILLS) and generator.prefill != 'none' and
      generator.output_activation != 'tanh'):
    problems.append(f'config.model.generator.prefill={generator.prefill!r} '
                    'corrects its guess through tanh: needs '
                    "config.model.generator.output_activation='tanh', not "
                    f'{generator.output_activation!r}')
  kernel = generator.decoder_kernel_size
  if kernel is not None and kernel < 1:
    problems.append(f'config.model.generator.decoder_kernel_size={kernel!r}: '
                    'must be positive or None')
  if generator.full_resolution_features < 0:
    problems.append('config.model.generator.full_resolution_features='
                    f'{generator.full_resolution_features!r}: must be >= 0 '
                    '(0: off)')
  blocks = generator.dilated_blocks
  if blocks < 0:
    problems.append(f'config.model.generator.dilated_blocks={blocks!r}: '
                    'must be >= 0 (0: none)')
  elif blocks and len(generator.encoder_features) < 2:
    problems.append(f'config.model.generator.dilated_blocks={blocks!r} '
                    'follow the encoder\'s second layer; '
                    'config.model.generator.encoder_features='
                    f'{tuple(generator.encoder_features)!r} has fewer')
  noisy_blocks = len(generator.decoder_features) - (
      0 if generator.full_resolution_features else 1)
  if not 0 <= generator.noise_levels <= noisy_blocks:
    problems.append(
        f'config.model.generator.noise_levels={generator.noise_levels!r}: '
        f'must be from 0 (none) to {noisy_blocks}, the decoder blocks with '
        'BatchNorm (decoder_features='
        f'{tuple(generator.decoder_features)!r}, full_resolution_features='
        f'{generator.full_resolution_features!r})')
  if generator.film_encoder and generator.caption_conditioning != 'film':
    problems.append('config.model.generator.film_encoder=True: needs '
                    "config.model.generator.caption_conditioning='film'")
  return problems


def _critic_problems(critic: ml_collections.ConfigDict) -> list[str]:
  """`config.model.critic`: its names against their registries."""
  problems = []
  _choice(problems, 'model.critic.activation', critic.activation,
          models.ACTIVATIONS)
  _choice(problems, 'model.critic.caption_conditioning',
          critic.caption_conditioning, models.CRITIC_CONDITIONING)
  _choice(problems, 'model.critic.head', critic.head, models.CRITIC_HEADS)
  _choice(problems, 'model.critic.view', critic.view, models.CRITIC_VIEWS)
  return problems


def _layers_problems(layers: ml_collections.ConfigDict) -> list[str]:
  """`config.model.layers`: the building blocks (implementations.py)."""
  problems = []
  _choice(problems, 'model.layers.conv_impl', layers.conv_impl,
          implementations.CONVOLUTIONS, ('auto',))
  _choice(problems, 'model.layers.batch_norm_impl', layers.batch_norm_impl,
          implementations.BATCH_NORMS, ('auto',))
  _choice(problems, 'model.layers.upsampling', layers.upsampling,
          implementations.UPSAMPLING)
  if not 0 <= layers.batch_norm_momentum < 1:
    problems.append('config.model.layers.batch_norm_momentum='
                    f'{layers.batch_norm_momentum!r}: must be in [0, 1)')
  return problems


def _model_problems(model: ml_collections.ConfigDict) -> list[str]:
  """`config.model`'s groups of the context encoder, group by group."""
  return (_generator_problems(model.generator) +
          _critic_problems(model.critic) + _layers_problems(model.layers))


def _context_encoder_problems(config: ml_collections.ConfigDict
                              ) -> list[str]:
  """The context encoder's networks and losses."""
  return (_shape_problems(config) + _model_problems(config.model) +
          _loss_problems(config))


def _diffusion_problems(config: ml_collections.ConfigDict) -> list[str]:
  """`config.diffusion`: the U-Net against the image, the noise levels,
  the sampler; and what a sampler does not do."""
  problems, diffusion = [], config.diffusion
  net = diffusion.unet
  if _check_features(config, 'diffusion.unet.features', problems):
    downsamplings = len(net.features) - 1
    if config.image_size % 2**downsamplings:
      problems.append(
          f'config.diffusion.unet.features={tuple(net.features)}: '
          f'{downsamplings} halvings need config.image_size='
          f'{config.image_size} to be divisible by {2**downsamplings}')
    levels = tuple(net.attention_levels)
    if not all(isinstance(level, int) and 0 <= level < len(net.features)
               for level in levels):
      problems.append(
          f'config.diffusion.unet.attention_levels={levels}: must index '
          f'config.diffusion.unet.features (0 to {len(net.features) - 1})')
  _positive_ints(config, ('diffusion.unet.blocks',
                          'diffusion.unet.embedding_features',
                          'diffusion.sampling_steps'), problems)
  if net.embedding_features % 2:
    problems.append('config.diffusion.unet.embedding_features='
                    f'{net.embedding_features}: must be even (sines and '
                    'cosines)')
  for name in ('sigma_data', 'sigma_min', 'rho', 'p_std'):
    if diffusion[name] <= 0:
      problems.append(f'config.diffusion.{name}={diffusion[name]!r}: must be '
                      '> 0')
  if diffusion.sigma_max <= diffusion.sigma_min:
    problems.append(f'config.diffusion.sigma_max={diffusion.sigma_max!r}: '
                    'must be above config.diffusion.sigma_min='
                    f'{diffusion.sigma_min!r}')
  if diffusion.churn < 0:
    problems.append(f'config.diffusion.churn={diffusion.churn!r}: must be '
                    '>= 0 (0: a deterministic sampler)')
  if config.flip_average:
    problems.append('config.flip_average=True averages two fills; a '
                    "sampler's fill is one draw (evaluation averages draws "
                    'itself): set it False with config.method=\'diffusion\'')
  if config.init.workdir:
    problems.append('config.init.workdir: starting from another run\'s '
                    "networks is the context encoder's; "
                    "config.method='diffusion' trains from scratch")
  mean_fill = diffusion.mean_fill
  if mean_fill and mean_fill != 'shipped':
    if not str(mean_fill).endswith('.safetensors'):
      problems.append(f'config.diffusion.mean_fill={mean_fill!r}: must be '
                      "'', 'shipped' or an exported .safetensors file "
                      '(tools/export.py)')
    elif not pathlib.Path(mean_fill).is_file():
      problems.append(f'config.diffusion.mean_fill={mean_fill!r}: no such '
                      'file')
  return problems


# The checks of each method's own fields (`methods.METHODS`' names).
METHOD_PROBLEMS = {
    'context_encoder': _context_encoder_problems,
    'diffusion': _diffusion_problems,
}


def _loss_problems(config: ml_collections.ConfigDict) -> list[str]:
  """`config.loss`: its choices, and every term's weight (the registry's)."""
  problems, loss = [], config.loss
  _choice(problems, 'loss.adversarial', loss.adversarial,
          losses.ADVERSARIAL_LOSSES)
  _choice(problems, 'loss.reconstruction', loss.reconstruction,
          losses.RECONSTRUCTION_LOSSES)
  weights = [term.weight for term in losses.GENERATOR_TERMS.values()]
  for name in (*weights, 'edge_weight', 'known_weight', 'r1_weight'):
    if loss[name] < 0:
      problems.append(f'config.loss.{name}={loss[name]!r}: must be >= 0')
  if not isinstance(loss.r1_interval, int) or loss.r1_interval < 1:
    problems.append(f'config.loss.r1_interval={loss.r1_interval!r}: '
                    'must be an integer >= 1 (1: every step)')
  if loss.noise_free_reconstruction and not config.model.generator.noise_levels:
    problems.append('config.loss.noise_free_reconstruction=True scores the '
                    'generator without its noise inputs; it needs '
                    'config.model.generator.noise_levels > 0')
  return problems


def _optimizer_problems(config: ml_collections.ConfigDict) -> list[str]:
  """`config.optimizer`: rates, Adam's constants, the schedule, the
  average."""
  problems, opt = [], config.optimizer
  for name in ('generator_learning_rate', 'critic_learning_rate',
               'grad_clip_norm', 'eps'):
    if opt[name] <= 0:
      problems.append(f'config.optimizer.{name}={opt[name]!r}: must be > 0')
  for name in ('b1', 'b2'):
    if not 0 <= opt[name] < 1:
      problems.append(f'config.optimizer.{name}={opt[name]!r}: must be in '
                      '[0, 1)')
  if opt.critic_steps < 1:
    problems.append(f'config.optimizer.critic_steps={opt.critic_steps!r}: '
                    'must be >= 1')
  _choice(problems, 'optimizer.schedule', opt.schedule, state_lib.SCHEDULES)
  decay_steps = state_lib.decay_steps(config)
  if opt.decay_steps is not None and opt.decay_steps <= 0:
    problems.append(f'config.optimizer.decay_steps={opt.decay_steps!r}: '
                    'must be a positive integer, or None for '
                    'num_train_steps')
  elif not 0 <= opt.warmup_steps < decay_steps:
    problems.append(f'config.optimizer.warmup_steps={opt.warmup_steps!r}: '
                    f'must be in [0, {decay_steps}) (the decay\'s steps)')
  if not 0 <= opt.ema_decay < 1:
    problems.append(f'config.optimizer.ema_decay={opt.ema_decay!r}: must be '
                    'in [0, 1) (0: off)')
  return problems


def _inference_problems(config: ml_collections.ConfigDict) -> list[str]:
  """Caption dropout and the fill's options (guidance, noise scale)."""
  problems = []
  if config.guidance < 0:
    problems.append(f'config.guidance={config.guidance!r}: must be >= 0')
  if config.noise_scale < 0:
    problems.append(f'config.noise_scale={config.noise_scale!r}: must be '
                    '>= 0')
  scales = config.eval.guidance_scales
  if not isinstance(scales, (tuple, list)) or not all(
      _is_number(v) and v >= 0 for v in scales):
    problems.append(f'config.eval.guidance_scales={scales!r}: must be a '
                    'list of numbers >= 0')
  if not 0 <= config.caption_dropout <= 1:
    problems.append(f'config.caption_dropout={config.caption_dropout!r}: '
                    'must be in [0, 1]')
  return problems


def _run_problems(config: ml_collections.ConfigDict, device_count: int,
                  process_count: int) -> list[str]:
  """The method, evaluation's size, the input stream, and the batch over
  devices, processes and shards."""
  problems = []
  _choice(problems, 'method', config.method, methods.METHODS)
  examples = config.eval.num_examples
  if examples is not None and (not isinstance(examples, int) or
                               isinstance(examples, bool) or examples <= 0):
    problems.append(f'config.eval.num_examples={examples!r}: must be a '
                    'positive integer, or None for the whole split')
  if config.dataset.prefetch < 0:
    problems.append(f'config.dataset.prefetch={config.dataset.prefetch!r}: '
                    'must be >= 0')
  if config.batch_size % device_count:
    problems.append(f'config.batch_size={config.batch_size}: must be '
                    f'divisible by the number of devices ({device_count})')
  shards = config.dataset.num_shards
  if shards is not None:
    if not isinstance(shards, int) or shards <= 0:
      problems.append(f'config.dataset.num_shards={shards!r}: must be a '
                      'positive integer or None')
    else:
      if shards % process_count:
        problems.append(f'config.dataset.num_shards={shards}: must be '
                        'divisible by the number of processes '
                        f'({process_count})')
      if config.batch_size % shards:
        problems.append(f'config.batch_size={config.batch_size}: must be '
                        'divisible by config.dataset.num_shards='
                        f'{shards}')
  return problems


def semantic_problems(config: ml_collections.ConfigDict, *,
                      device_count: int,
                      process_count: int = 1,
                      reads_data: bool = True) -> list[str]:
  """Values that cannot work together (shapes, batch, ranges), section by
  section; the data's fields only where the caller `reads_data`."""
  problems: list[str] = []
  _positive_ints(config, (
      'image_size', 'mask.size', 'batch_size', 'num_train_steps',
      'log_every_steps', 'checkpoint_every_steps', 'eval_every_steps',
      'max_checkpoints_to_keep', 'num_sample_images', 'eval.batch_size',
      'eval.samples', 'eval.sample_examples', 'eval.retrieval_examples',
      'eval.num_examples_during_training', 'dataset.shuffle_buffer_size',
      'model.kernel_size', 'model.caption_features', 'loss.band',
      'mask.box_min', 'mask.box_max', 'mask.max_strokes', 'mask.max_vertices',
      'mask.max_length', 'mask.min_width', 'mask.max_width'), problems)
  keep = config.keep_checkpoints_every
  if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
    problems.append(f'config.keep_checkpoints_every={keep!r}: must be an '
                    'integer >= 0 (0: only the latest checkpoints)')
  if problems:
    return problems  # the checks below do arithmetic on these
  _mask_problems(config.mask, config.eval.mask_kinds, config.image_size,
                 problems)
  problems += _hole_problems(config)
  _choice(problems, 'model.dtype', config.model.dtype, MODEL_DTYPES)
  if config.method in METHOD_PROBLEMS:  # else _run_problems names it
    problems += METHOD_PROBLEMS[config.method](config)
  problems += _optimizer_problems(config)
  problems += _inference_problems(config)
  problems += _run_problems(config, device_count, process_count)
  if reads_data:
    problems += _dataset_problems(config)
  return problems


def validate(config: ml_collections.ConfigDict, *, device_count: int,
             process_count: int = 1,
             reference: ml_collections.ConfigDict | None = None,
             reads_data: bool = True) -> None:
  """Raises one ConfigError listing every problem of `config`, if any.

  Args:
    config: the run config.
    device_count: the number of devices over all processes.
    process_count: the number of processes.
    reference: a config with every known field (configs/default.py); when
      given, unknown fields and wrong types are reported too.
    reads_data: whether the caller reads the dataset (False: its fields are
      not checked, e.g. for a tool that fills the user's own images).
  """
  problems = non_finite(config)
  if reference is not None and not problems:
    problems = unknown_or_mistyped(config, reference)
  if not problems:
    try:
      problems = semantic_problems(config, device_count=device_count,
                                   process_count=process_count,
                                   reads_data=reads_data)
    except (KeyError, AttributeError, TypeError) as e:
      problems = [f'config: {e!r} (is a field missing or of a wrong type?)']
  if problems:
    raise ConfigError('Invalid config:\n  ' + '\n  '.join(problems))


def validate_for_tool(config: ml_collections.ConfigDict, *,
                      device_count: int = 1, reads_data: bool = True) -> None:
  """`validate` for a tool's `--config`, against every known field.

  Tools that fill or score on one device (inpaint, texture_frontier) keep
  `device_count=1`; the benchmark passes its devices.
  """
  from configs import default  # pylint: disable=g-import-not-at-top
  validate(config, device_count=device_count,
           reference=default.get_config(), reads_data=reads_data)
