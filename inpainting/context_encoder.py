"""The context encoder with its critic, as a `method.Method`.

The seed's method (docs/model.md): a generator trained against a
caption-conditioned critic, its state a `state.GANState`, its step
`train_step.train_step`, and its fill one pass of the generator (or its
moving average), optionally guided by the caption and mirrored.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections

from inpainting import losses
from inpainting import method
from inpainting import models
from inpainting import state as state_lib
from inpainting import train_step as train_step_lib

# The generator's noise inputs (model.generator.noise_levels) at inference:
# drawn from this seed for each call, so that evaluation and samples are
# reproducible (and a caption ablation compares fills with the same noise).
NOISE_SEED = 0


def predict(state: state_lib.GANState, batch: dict[str, jax.Array], *,
            model: ml_collections.ConfigDict, options: method.FillOptions,
            window: models.Box | None = None) -> jax.Array:
  """Generator output in inference mode (BatchNorm running averages).

  With `optimizer.ema_decay` > 0 the generator's moving average fills.

  With `options.guidance` s > 0 (and captions), caption guidance: p + s (p -
  p0), p predicted with the caption and p0 with a zero embedding (what
  caption dropout trains for), clipped to [-1, 1].

  With `options.flip_average`, the mean of that prediction and the mirrored
  prediction of the mirrored input (a window is mirrored with it).

  With `model.generator.noise_levels`, the generator's noise is drawn from
  `NOISE_SEED` for the batch (mirrored with the mirrored input), times
  `options.noise_scale`.

  Args:
    state: an unreplicated state (or anything `state.generator_variables`
      reads, such as `export.GeneratorState`).
    batch: image, mask and embedding, [B, ...].
    model: `config.model`.
    options: the fill's options.
    window: (top, bottom, left, right): compute only this part of the
      output (see `models.Generator`).

  Returns:
    [B, H, W, 3] float32 predictions of the whole image, or of the window.
  """
  generator = models.generator_from_config(model)
  noise = models.draw_noise(jax.random.key(NOISE_SEED), batch['image'].shape,
                           model.generator.noise_levels)
  if noise is not None:
    noise = noise * options.noise_scale
  guidance = options.guidance if model.use_captions else 0.0
  one = functools.partial(_predict, generator, state, guidance=guidance)
  if options.flip_average:
    width = batch['image'].shape[2]
    mirrored = dict(batch, image=batch['image'][:, :, ::-1],
                    mask=batch['mask'][:, :, ::-1])
    mirrored_window = None
    if window is not None:
      top, bottom, left, right = window
      mirrored_window = (top, bottom, width - right, width - left)
    return 0.5 * (one(batch, window, noise) + one(
        mirrored, mirrored_window,
        None if noise is None else noise[:, :, ::-1])[:, :, ::-1])
  return one(batch, window, noise)


def _predict(generator: models.Generator, state: state_lib.GANState,
             batch: dict[str, jax.Array], window: models.Box | None,
             noise: jax.Array | None, *, guidance: float) -> jax.Array:
  """`predict` without mirroring."""

  def generate(embedding):
    return generator.apply(
        state_lib.generator_variables(state),
        batch['image'], batch['mask'], embedding, train=False,
        window=window, noise=noise).astype(jnp.float32)

  prediction = generate(batch['embedding'])
  if guidance:
    unconditional = generate(jnp.zeros_like(batch['embedding']))
    prediction = jnp.clip(
        prediction + guidance * (prediction - unconditional), -1, 1)
  return prediction


def _train_step(state: state_lib.GANState, batch: dict[str, jax.Array], *,
                config: ml_collections.ConfigDict, variant: bool):
  """`train_step.train_step`, its variant whether it pays R1."""
  return train_step_lib.train_step(state, batch, config=config,
                                   with_r1=variant)


def caption_loss(state: state_lib.GANState, batch: dict[str, jax.Array], *,
                 model: ml_collections.ConfigDict) -> jax.Array:
  """[B]: the hole MSE of the fill given each image's embedding (no
  guidance, not mirrored): lower where the caption helps the fill."""
  filled = predict(state, batch, model=model, options=method.FillOptions())
  return losses.hole_mse(filled, batch['image'], batch['mask'])


METHOD = method.Method(
    create_state=state_lib.create_train_state,
    train_step=_train_step,
    step_variant=train_step_lib.computes_r1,
    predict=predict,
    logged=('generator_loss', 'hole_mse', 'critic_loss'),
    caption_loss=caption_loss,
)
