"""Filling holes with a trained generator: restore, predict, inpaint.

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
from inpainting import models
from inpainting import state as state_lib

# The generator's noise inputs (model.noise_levels) at inference: drawn
# from this seed for each call, so that evaluation and samples are
# reproducible (and a caption ablation compares fills with the same noise).
NOISE_SEED = 0


def restore(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
            step: int | None = None) -> state_lib.GANState:
  """The state of a run's checkpoint at `step` (the latest if None).

  Raises:
    checkpoints.NoCheckpointError: when there is none (or not that step).
    checkpoints.CheckpointMismatchError: when it does not fit the config.
  """
  return checkpoints.restore_from_workdir(
      workdir, config, state_lib.create_train_state(config), step)


def predict(state: state_lib.GANState, batch: dict[str, jax.Array], *,
            config: ml_collections.ConfigDict,
            window: models.Box | None = None) -> jax.Array:
  """Generator output in inference mode (BatchNorm running averages).

  With `optimizer.ema_decay` > 0 the generator's moving average fills.

  With `config.guidance` s > 0 (and captions), caption guidance: p + s (p -
  p0), p predicted with the caption and p0 with a zero embedding (what
  caption dropout trains for), clipped to [-1, 1].

  With `config.flip_average`, the mean of that prediction and the mirrored
  prediction of the mirrored input (a window is mirrored with it).

  With `model.noise_levels`, the generator's noise is drawn from
  `NOISE_SEED` for the batch (mirrored with the mirrored input), times
  `config.noise_scale`.

  Args:
    state: an unreplicated state.
    batch: image, mask and embedding, [B, ...].
    config: the run config.
    window: (top, bottom, left, right): compute only this part of the
      output (see `models.Generator`).

  Returns:
    [B, H, W, 3] float32 predictions of the whole image, or of the window.
  """
  noise = models.draw_noise(jax.random.key(NOISE_SEED), batch['image'].shape,
                           config.model.noise_levels)
  if noise is not None:
    noise = noise * config.noise_scale
  if config.flip_average:
    width = batch['image'].shape[2]
    mirrored = dict(batch, image=batch['image'][:, :, ::-1],
                    mask=batch['mask'][:, :, ::-1])
    mirrored_window = None
    if window is not None:
      top, bottom, left, right = window
      mirrored_window = (top, bottom, width - right, width - left)
    return 0.5 * (_predict(state, batch, config, window, noise) + _predict(
        state, mirrored, config, mirrored_window,
        None if noise is None else noise[:, :, ::-1])[:, :, ::-1])
  return _predict(state, batch, config, window, noise)


def _predict(state: state_lib.GANState, batch: dict[str, jax.Array],
             config: ml_collections.ConfigDict,
             window: models.Box | None,
             noise: jax.Array | None) -> jax.Array:
  """`predict` without mirroring."""
  generator = models.generator_from_config(config.model)

  def generate(embedding):
    return generator.apply(
        state_lib.generator_variables(state),
        batch['image'], batch['mask'], embedding, train=False,
        window=window, noise=noise).astype(jnp.float32)

  prediction = generate(batch['embedding'])
  if config.guidance and config.model.use_captions:
    unconditional = generate(jnp.zeros_like(batch['embedding']))
    prediction = jnp.clip(
        prediction + config.guidance * (prediction - unconditional), -1, 1)
  return prediction


def inpaint(state: state_lib.GANState, batch: dict[str, jax.Array], *,
            config: ml_collections.ConfigDict,
            box: models.Box) -> jax.Array:
  """The filled images: the visible border as given, the prediction inside.

  Equal to `masks.composite(image, predict(...), mask)`, but the generator
  runs only over `box`.

  Args:
    state: an unreplicated state.
    batch: image, mask and embedding, [B, ...].
    config: the run config.
    box: (top, bottom, left, right), holding every missing pixel of the
      batch: `masks.hole_box(batch['mask'])`.

  Returns:
    [B, H, W, 3] float32 in the output activation's range.
  """
  top, bottom, left, right = box
  prediction = predict(state, batch, config=config, window=box)
  mask = batch['mask']
  hole = mask[:, top:bottom, left:right]
  border = jnp.asarray(masks.apply_mask(batch['image'], mask), jnp.float32)
  return border.at[:, top:bottom, left:right].add(prediction * hole)


# Compiled once per config (a FrozenConfigDict hashes by content) and hole
# box, not once per call.
_compiled_inpaint = compilation.jit(inpaint, static_argnames=('config', 'box'))


def fill(state: state_lib.GANState, batch: dict[str, np.ndarray],
         config: ml_collections.ConfigDict) -> np.ndarray:
  """`inpaint` of a host batch over its holes' box, compiled and cached.

  Args:
    state: an unreplicated state.
    batch: at least image, mask and embedding, [B, ...].
    config: the run config.

  Returns:
    [B, H, W, 3] float32 numpy, in [-1, 1].
  """
  return np.asarray(_compiled_inpaint(
      state, {k: batch[k] for k in state_lib.INPUT_KEYS},
      config=ml_collections.FrozenConfigDict(config),
      box=masks.hole_box(batch['mask'])))
