"""The GAN state: both networks, their optimisers and BatchNorm statistics.

One pytree (`GANState`) is what a step takes and returns, what is pmapped
and what is checkpointed.
"""

from __future__ import annotations

import functools
from typing import Any

import flax
from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from inpainting import masks
from inpainting import models

# XLA's RngBitGenerator: compiles in a fraction of threefry's time on CPU
# (initialising the seed's networks: ~2 s instead of ~6-10 s).
RNG_IMPL = 'rbg'


class TrainState(train_state.TrainState):
  """A network's parameters, optimiser state and BatchNorm statistics."""
  batch_stats: Any = None


@flax.struct.dataclass
class GANState:
  """Everything a run carries from step to step: one pytree to checkpoint."""
  generator: TrainState
  critic: TrainState
  rng: jax.Array  # raw key data; folded with the device and the step.

  @property
  def step(self) -> jax.Array:
    return self.generator.step


def create_optimizer(config: ml_collections.ConfigDict,
                     learning_rate: float) -> optax.GradientTransformation:
  """`clip_by_global_norm` then Adam, as in the seed."""
  opt = config.optimizer
  return optax.chain(optax.clip_by_global_norm(opt.grad_clip_norm),
                     optax.adam(learning_rate, b1=opt.b1, b2=opt.b2,
                                eps=opt.eps))


def create_train_state(config: ml_collections.ConfigDict,
                       batch: dict[str, np.ndarray]) -> GANState:
  """Initialises both networks and their optimisers from `config.seed`.

  Args:
    config: the run config.
    batch: an example batch [B, ...] (no device axis) giving input shapes.

  Returns:
    The state at step 0, on the default device.
  """
  rng = jax.random.key(config.seed, impl=RNG_IMPL)
  generator = models.generator_from_config(config.model)
  critic = models.critic_from_config(config.model)
  g_rng, c_rng, step_rng = jax.random.split(rng, 3)
  image, mask, embedding = batch['image'], batch['mask'], batch['embedding']
  g_vars = jax.jit(functools.partial(generator.init, train=False))(
      g_rng, image, mask, embedding)
  c_vars = jax.jit(functools.partial(critic.init, train=False))(
      c_rng, image, embedding)
  opt = config.optimizer
  return GANState(
      generator=TrainState.create(
          apply_fn=generator.apply, params=g_vars['params'],
          batch_stats=g_vars['batch_stats'],
          tx=create_optimizer(config, opt.generator_learning_rate)),
      critic=TrainState.create(
          apply_fn=critic.apply, params=c_vars['params'],
          batch_stats=c_vars['batch_stats'],
          tx=create_optimizer(config, opt.critic_learning_rate)),
      rng=jax.random.key_data(step_rng))


def predict(state: GANState, batch: dict[str, jax.Array], *,
            config: ml_collections.ConfigDict,
            window: models.Box | None = None) -> jax.Array:
  """Generator output in inference mode (BatchNorm running averages).

  Args:
    state: an unreplicated state.
    batch: image, mask and embedding, [B, ...].
    config: the run config.
    window: (top, bottom, left, right): compute only this part of the
      output (see `models.Generator`).

  Returns:
    [B, H, W, 3] float32 predictions of the whole image, or of the window.
  """
  generator = models.generator_from_config(config.model)
  prediction = generator.apply(
      {'params': state.generator.params,
       'batch_stats': state.generator.batch_stats},
      batch['image'], batch['mask'], batch['embedding'], train=False,
      window=window)
  return prediction.astype(jnp.float32)


def inpaint(state: GANState, batch: dict[str, jax.Array], *,
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
