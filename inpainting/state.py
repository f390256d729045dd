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
from inpainting import text_encoder

# What the models read from a batch (the input pipeline sends only these to
# the devices; `example_batch` builds them).
INPUT_KEYS = ('image', 'mask', 'embedding')

# XLA's RngBitGenerator: compiles in a fraction of threefry's time on CPU
# (initialising the seed's networks: ~2 s instead of ~6-10 s).
RNG_IMPL = 'rbg'


class TrainState(train_state.TrainState):
  """A network's parameters, optimiser state and BatchNorm statistics."""
  batch_stats: Any = None


SCHEDULES = ('constant', 'cosine')


@flax.struct.dataclass
class GANState:
  """Everything a run carries from step to step: one pytree to checkpoint."""
  generator: TrainState
  critic: TrainState
  rng: jax.Array  # raw key data; folded with the device and the step.
  # The generator's averaged variables {'params', 'batch_stats'} when
  # `optimizer.ema_decay` > 0, else None (and not in the checkpoint).
  ema: Any = None

  @property
  def step(self) -> jax.Array:
    return self.generator.step


def generator_variables(state: GANState) -> dict[str, Any]:
  """The generator's variables that inference fills with: the average if any."""
  if state.ema is not None:
    return state.ema
  return {'params': state.generator.params,
          'batch_stats': state.generator.batch_stats}


def ema_decay(config: ml_collections.ConfigDict, step: jax.Array) -> jax.Array:
  """The average's decay after update `step` (1, 2, ...): short at first."""
  step = jnp.asarray(step, jnp.float32)
  return jnp.minimum(config.optimizer.ema_decay, (1 + step) / (10 + step))


def decay_steps(config: ml_collections.ConfigDict) -> int:
  """The cosine decay's length: `optimizer.decay_steps`, else the run's."""
  steps = config.optimizer.decay_steps
  return config.num_train_steps if steps is None else steps


def learning_rate_schedule(config: ml_collections.ConfigDict,
                           peak: float) -> float | optax.Schedule:
  """`peak` itself ('constant', the seed), or warm-up and cosine decay."""
  opt = config.optimizer
  if opt.schedule == 'constant':
    return peak
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=peak, warmup_steps=opt.warmup_steps,
      decay_steps=decay_steps(config), end_value=0.0)


def create_optimizer(config: ml_collections.ConfigDict,
                     learning_rate: float) -> optax.GradientTransformation:
  """`clip_by_global_norm` then Adam, as in the seed, on the schedule."""
  opt = config.optimizer
  return optax.chain(optax.clip_by_global_norm(opt.grad_clip_norm),
                     optax.adam(learning_rate_schedule(config, learning_rate),
                                b1=opt.b1, b2=opt.b2, eps=opt.eps))


def example_batch(config: ml_collections.ConfigDict, batch_size: int = 1,
                  seed: int = 0) -> dict[str, np.ndarray]:
  """Model inputs of the config's shapes, for building, compiling and timing.

  Args:
    config: the run config (image size, hole).
    batch_size: examples in the batch.
    seed: of the random content.

  Returns:
    {'image': [B, H, W, 3] uniform in [-1, 1], 'mask': [B, H, W, 1] the
    config's hole, 'embedding': [B, E] unit-norm random caption
    embeddings}, float32 numpy arrays, as the input pipeline yields them.
  """
  rng = np.random.default_rng(seed)
  size = config.image_size
  mask = masks.centre_mask(size, config.mask.size)
  embedding = rng.normal(size=(batch_size, text_encoder.EMBEDDING_DIM))
  embedding /= np.linalg.norm(embedding, axis=-1, keepdims=True)
  return {
      'image': rng.uniform(-1, 1, (batch_size, size, size, 3)).astype(
          np.float32),
      'mask': np.repeat(mask[None], batch_size, axis=0),
      'embedding': embedding.astype(np.float32),
  }


def create_train_state(config: ml_collections.ConfigDict,
                       batch: dict[str, np.ndarray] | None = None
                       ) -> GANState:
  """Initialises both networks and their optimisers from `config.seed`.

  Args:
    config: the run config.
    batch: an example batch [B, ...] (no device axis) giving input shapes;
      `example_batch(config)` if None.

  Returns:
    The state at step 0, on the default device.
  """
  if batch is None:
    batch = example_batch(config)
  rng = jax.random.key(config.seed, impl=RNG_IMPL)
  generator = models.generator_from_config(config.model)
  critic = models.critic_from_config(config.model)
  g_rng, c_rng, step_rng = jax.random.split(rng, 3)
  image, mask, embedding = batch['image'], batch['mask'], batch['embedding']
  g_vars = jax.jit(functools.partial(generator.init, train=False))(
      g_rng, image, mask, embedding)
  c_vars = jax.jit(functools.partial(critic.init, train=False))(
      c_rng, image, mask, embedding)
  opt = config.optimizer
  ema = None
  if opt.ema_decay > 0:  # copies: the step donates the state's buffers
    ema = jax.tree.map(jnp.copy, {'params': g_vars['params'],
                                  'batch_stats': g_vars['batch_stats']})
  return GANState(
      generator=TrainState.create(
          apply_fn=generator.apply, params=g_vars['params'],
          batch_stats=g_vars['batch_stats'],
          tx=create_optimizer(config, opt.generator_learning_rate)),
      critic=TrainState.create(
          apply_fn=critic.apply, params=c_vars['params'],
          batch_stats=c_vars['batch_stats'],
          tx=create_optimizer(config, opt.critic_learning_rate)),
      rng=jax.random.key_data(step_rng),
      ema=ema)
