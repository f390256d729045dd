"""A trained generator as two small files that fill without orbax or a workdir.

`NAME.safetensors` holds the generator's variables that inference fills
with (its moving average where the run kept one, with its BatchNorm
statistics), each under its path in the variables ('params/encoder/conv0/
kernel', ...), in float16 or float32, and in its metadata the step and
the data it was trained on; `NAME.json` beside it is the part of the run's
config that says how it fills (`MODEL_FIELDS`: the network, the image size,
the fill's options). `load` reads them back onto `configs/default.py`,
checks every array against the network the config describes, and returns
what `inference.fill` takes.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from absl import logging
import flax
from flax import traverse_util
import jax
import ml_collections
import numpy as np
import safetensors
from safetensors import numpy as safetensors_numpy

from inpainting import checkpoints
from inpainting import config_lib
from inpainting import errors
from inpainting import models
from inpainting import state as state_lib

FORMAT = 'inpainting-generator/1'
DTYPES = ('float16', 'float32')
# The generator the package ships (configs/experiments/reference.py's run):
# what tools/inpaint.py fills with when given no model, and what
# `--weights=shipped` names.
SHIPPED = pathlib.Path(__file__).resolve().parent / 'weights' / (
    'reference.safetensors')
# The fields of a config that say how the exported generator fills; the
# rest (data, evaluation) are the caller's.
MODEL_FIELDS = ('method', 'image_size', 'model', 'guidance', 'flip_average',
                'noise_scale')


class ExportError(errors.UserError, ValueError):
  """An exported file is missing, unreadable or not of this model."""


@flax.struct.dataclass
class GeneratorState:
  """What an exported file restores: enough to fill, nothing to train.

  `ema` holds the generator's variables, named as `state.GANState`'s
  average, which inference fills with (`state.generator_variables`).
  """
  ema: dict[str, Any]
  step: int = flax.struct.field(pytree_node=False, default=0)


def config_path(weights: pathlib.Path) -> pathlib.Path:
  """The JSON config beside a weights file."""
  return pathlib.Path(weights).with_suffix('.json')


def resolve(weights: str | pathlib.Path) -> pathlib.Path:
  """The file `weights` names: 'shipped' is the package's `SHIPPED`."""
  if str(weights) == 'shipped':
    if not SHIPPED.exists():
      raise ExportError(
          f'{SHIPPED}: the shipped weights are not in this installation '
          '(a checkout without its large files?); train and export a model '
          '(README), or pass --weights=FILE.safetensors.')
    return SHIPPED
  return pathlib.Path(weights)


def for_evaluation(config: ml_collections.ConfigDict,
                   weights: str | pathlib.Path
                   ) -> tuple[ml_collections.ConfigDict, GeneratorState]:
  """`config` (its data and evaluation fields) with an exported generator's
  `MODEL_FIELDS`, and the generator: to score it on any dataset."""
  exported, state = load(resolve(weights))
  merged = config.copy_and_resolve_references()
  merged.unlock()
  for name in MODEL_FIELDS:
    merged[name] = exported[name]
  merged.lock()
  config_lib.validate(merged, device_count=jax.device_count(),
                      process_count=jax.process_count())
  return merged, state


def named_model(config: ml_collections.ConfigDict | None,
                workdir: str | None, step: int | None,
                weights: str | None) -> tuple[ml_collections.ConfigDict,
                                              Any, str]:
  """The model a tool's flags name: (config, state, how to call it).

  An exported file (`weights`, or 'shipped'); a run's checkpoint (`config`
  with `workdir`, and `step` or its latest); or, with none of them, the
  shipped weights.
  """
  from inpainting import inference  # pylint: disable=g-import-not-at-top
  if weights or (config is None and not workdir and step is None):
    if workdir or step is not None:
      raise errors.UserError('Give --weights, or --config with --workdir '
                             '(and --step), not both.')
    if not weights:
      logging.info('No model named: filling with the shipped weights (%s).',
                   SHIPPED)
    path = resolve(weights or 'shipped')
    exported, state = load(path)
    return exported, state, path.name
  if config is None or not workdir:
    raise errors.UserError('Name the model: --config=FILE with '
                           '--workdir=RUN, or --weights=FILE.safetensors '
                           '(none: the shipped weights).')
  config_lib.validate_for_tool(config, reads_data=False)
  state = inference.restore(config, workdir, step)
  return config, state, f'{workdir} step {int(state.step)}'


def check_exportable(config: ml_collections.ConfigDict) -> None:
  """Raises ExportError unless the run's method is the context encoder,
  whose generator is what a file holds."""
  if config.method != 'context_encoder':
    raise ExportError(
        f'config.method={config.method!r}: an export holds a context '
        "encoder's generator; use this run from its checkpoint "
        '(--config=... --workdir=...).')


def export(config: ml_collections.ConfigDict, state: Any,
           weights: str | pathlib.Path, dtype: str = 'float16') -> None:
  """Writes the generator's inference variables and the config.

  Args:
    config: the run's config.
    state: a restored state (a `GANState`; its average if it has one).
    weights: the .safetensors file to write; neither it nor its .json may
      exist.
    dtype: 'float16' (half the size) or 'float32'.

  Raises:
    ExportError: for another dtype or an existing output.
  """
  if dtype not in DTYPES:
    raise ExportError(f'dtype={dtype!r}: must be one of {DTYPES}.')
  check_exportable(config)
  weights = pathlib.Path(weights)
  for path in (weights, config_path(weights)):
    if path.exists():
      raise ExportError(f'{path} exists; choose another name (nothing is '
                        'overwritten).')
  variables = jax.device_get(state_lib.generator_variables(state))
  flat = traverse_util.flatten_dict(variables, sep='/')
  tensors = {name: np.ascontiguousarray(np.asarray(value, dtype))
             for name, value in flat.items()}
  weights.parent.mkdir(parents=True, exist_ok=True)
  safetensors_numpy.save_file(tensors, str(weights), metadata={
      'format': FORMAT, 'step': str(int(state.step)),
      'dataset': config.dataset.name,
      'train_split': config.dataset.train_split,
      'batch_size': str(config.batch_size)})
  # How it fills, not where it was trained (no paths of the trainer's).
  fields = ml_collections.ConfigDict(
      {name: config[name] for name in MODEL_FIELDS})
  config_path(weights).write_text(
      fields.to_json_best_effort(indent=2, sort_keys=True) + '\n')


def _overlay(target: ml_collections.ConfigDict, values: dict, where: str,
             prefix: str = 'config') -> None:
  """Sets `values` (from the JSON file `where`) into `target`, keeping its
  types (tuples); a field it lacks, or of another type, is an ExportError."""
  for key, value in values.items():
    field = f'{prefix}.{key}'
    if key not in target:
      raise ExportError(f'{where}: unknown config field {field}.')
    if isinstance(target[key], ml_collections.ConfigDict):
      if not isinstance(value, dict):
        raise ExportError(f'{where}: {field}={value!r}: must be a group of '
                          'fields.')
      _overlay(target[key], value, where, field)
      continue
    if isinstance(target[key], tuple) and isinstance(value, list):
      value = tuple(value)
    try:
      target[key] = value
    except TypeError as e:
      raise ExportError(f'{where}: {field}={value!r}: {e}') from None


def load_config(weights: str | pathlib.Path) -> ml_collections.ConfigDict:
  """The config beside an exported file, as `configs/default.py`'s fields,
  validated."""
  from configs import default  # pylint: disable=g-import-not-at-top
  path = config_path(weights)
  try:
    values = json.loads(path.read_text())
  except FileNotFoundError:
    raise ExportError(f'{path}: no such file; an exported generator is a '
                      '.safetensors file with its .json config beside it '
                      '(tools/export.py writes both).') from None
  except (OSError, ValueError) as e:
    raise ExportError(f'{path}: not a readable JSON config ({e}).') from None
  if not isinstance(values, dict):
    raise ExportError(f'{path}: not a JSON object of config fields.')
  config = default.get_config()
  _overlay(config, config_lib.grouped_model_fields(values), str(path))
  config_lib.validate(config, device_count=1, reads_data=False)
  return config


def load(weights: str | pathlib.Path
         ) -> tuple[ml_collections.ConfigDict, GeneratorState]:
  """An exported generator: its config and a state `inference.fill` takes.

  Raises:
    ExportError: naming the file, when it is missing, unreadable, of another
      format, or does not fit the network its config describes.
  """
  weights = pathlib.Path(weights)
  config = load_config(weights)
  try:
    with safetensors.safe_open(str(weights), framework='numpy') as f:
      metadata = f.metadata() or {}
      tensors = {name: f.get_tensor(name) for name in f.keys()}
  except FileNotFoundError:
    raise ExportError(f'{weights}: no such file.') from None
  except Exception as e:  # safetensors raises its own types
    raise ExportError(f'{weights}: not a readable safetensors file '
                      f'({type(e).__name__}: {e}).') from None
  if metadata.get('format') != FORMAT:
    raise ExportError(f'{weights}: format {metadata.get("format")!r}, not '
                      f'{FORMAT!r}; was it written by tools/export.py?')
  variables = traverse_util.unflatten_dict(
      {k: v.astype(np.float32) for k, v in tensors.items()}, sep='/')
  expected = _generator_variables_shapes(config)
  problems = checkpoints.mismatches(expected, variables)
  if problems:
    raise ExportError(f'{weights} does not fit the network its config '
                      'describes:\n  ' + '\n  '.join(problems))
  return config, GeneratorState(ema=variables,
                                step=int(metadata.get('step', 0)))


def _generator_variables_shapes(config: ml_collections.ConfigDict) -> Any:
  """The generator's variables' shapes for `config`, computed abstractly."""
  generator = models.generator_from_config(config.model)
  batch = state_lib.example_batch(config)
  shapes = jax.eval_shape(
      lambda: generator.init(jax.random.key(0), batch['image'],
                             batch['mask'], batch['embedding'], train=False))
  return {k: shapes[k] for k in ('params', 'batch_stats') if k in shapes}
