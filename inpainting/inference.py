"""Filling holes with a trained model: restore, predict, inpaint.

Whatever the method (`config.method`), through its `method.Method`.

Used by evaluation, the training loop's sample grids and `tools/inpaint.py`.
Imports neither TensorFlow nor the input pipeline, so a checkpoint can be
used where only JAX and its libraries are installed.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from inpainting import checkpoints
from inpainting import compilation
from inpainting import masks
from inpainting import method as method_lib
from inpainting import methods
from inpainting import models
from inpainting import state as state_lib


def restore(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
            step: int | None = None) -> state_lib.GANState:
  """The state of a run's checkpoint at `step` (the latest if None).

  Raises:
    checkpoints.NoCheckpointError: when there is none (or not that step).
    checkpoints.CheckpointMismatchError: when it does not fit the config.
  """
  return checkpoints.restore_from_workdir(
      workdir, config, methods.get(config).create_state(config, None), step)


def fill_args(config: ml_collections.ConfigDict) -> dict:
  """What a method's fill reads of a run config: the method, the model
  (frozen: hashable) and the fill's options; static under jit."""
  return dict(method=config.method,
              model=ml_collections.FrozenConfigDict(
                  methods.get(config).model_config(config)),
              options=method_lib.FillOptions.from_config(config))


def _predict(state, batch: dict[str, jax.Array], *, method: str,
             model: ml_collections.ConfigDict,
             options: method_lib.FillOptions,
             window: models.Box | None) -> jax.Array:
  return methods.METHODS[method].predict(state, batch, model=model,
                                         options=options, window=window)


def predict(state, batch: dict[str, jax.Array], *,
            config: ml_collections.ConfigDict,
            window: models.Box | None = None) -> jax.Array:
  """The fill of `config.method` (`method.Method.predict`): [B, H, W, 3]
  float32 predictions of the whole image, or of the window."""
  return _predict(state, batch, window=window, **fill_args(config))


def inpaint_with(state, batch: dict[str, jax.Array], *, method: str,
             model: ml_collections.ConfigDict,
             options: method_lib.FillOptions,
             box: models.Box) -> jax.Array:
  """`inpaint` with the method, model and options of `fill_args`."""
  top, bottom, left, right = box
  prediction = _predict(state, batch, method=method, model=model,
                        options=options, window=box)
  mask = batch['mask']
  hole = mask[:, top:bottom, left:right]
  border = jnp.asarray(masks.apply_mask(batch['image'], mask), jnp.float32)
  return border.at[:, top:bottom, left:right].add(prediction * hole)


def inpaint(state, batch: dict[str, jax.Array], *,
            config: ml_collections.ConfigDict,
            box: models.Box) -> jax.Array:
  """The filled images: the visible border as given, the prediction inside.

  Equal to `masks.composite(image, predict(...), mask)`, but the model
  runs only over `box`.

  Args:
    state: an unreplicated state.
    batch: image, mask and embedding, [B, ...].
    config: the run config (its method, model and fill options are read).
    box: (top, bottom, left, right), holding every missing pixel of the
      batch: `masks.hole_box(batch['mask'])`.

  Returns:
    [B, H, W, 3] float32 in the output activation's range.
  """
  return inpaint_with(state, batch, box=box, **fill_args(config))


# Compiled once per method, model, fill options and hole box, not once
# per call (and not again when fields that a fill does not read change).
_compiled_inpaint = compilation.jit(
    inpaint_with, static_argnames=('method', 'model', 'options', 'box'))


def fill(state, batch: dict[str, np.ndarray],
         config: ml_collections.ConfigDict,
         box: models.Box | None = None) -> np.ndarray:
  """`inpaint` of a host batch, compiled and cached.

  Args:
    state: an unreplicated state (or an exported generator's).
    batch: at least image, mask and embedding, [B, ...].
    config: the run config.
    box: where the model runs, holding every hole: by default the holes'
      box (least work; one compilation per box). A server that fills holes
      of every shape passes the whole image, (0, H, 0, W): one compilation.

  Returns:
    [B, H, W, 3] float32 numpy, in [-1, 1].
  """
  return np.asarray(_compiled_inpaint(
      state, {k: batch[k] for k in state_lib.INPUT_KEYS},
      box=box or masks.hole_box(batch['mask']), **fill_args(config)))


def draw_with(state, batch: dict[str, jax.Array], rng: jax.Array, *,
              method: str, model: ml_collections.ConfigDict,
              options: method_lib.FillOptions) -> jax.Array:
  """One draw of a sampler's holes (`method.Method.sample`), composited
  with the known pixels: [B, H, W, 3] in [-1, 1]."""
  sample = methods.METHODS[method].sample
  if sample is None:
    raise ValueError(f'config.method={method!r} gives one fill; it does not '
                     'draw (a sampler does: config.method=\'diffusion\').')
  drawn = sample(state, batch, rng, model=model, options=options)
  return masks.composite(batch['image'], drawn, batch['mask'])


# The key is traced: one compilation for every draw.
_compiled_draw = compilation.jit(
    draw_with, static_argnames=('method', 'model', 'options'))


def draw(state, batch: dict[str, np.ndarray],
         config: ml_collections.ConfigDict, seed: int,
         index: int = 0) -> np.ndarray:
  """Draw `index` of seed `seed` of a sampler's holes (`draw_with`),
  compiled and cached: [B, H, W, 3] float32 numpy in [-1, 1]. The same
  seed and index give the same draw."""
  rng = jax.random.fold_in(jax.random.key(seed), index)
  return np.asarray(_compiled_draw(
      state, {k: batch[k] for k in state_lib.INPUT_KEYS}, rng,
      **fill_args(config)))
