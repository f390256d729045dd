"""The training step: a pure function, pmapped over the devices.

`train_step` is a critic update then a generator update (the critic's
skipped where no loss reads it), with gradients,
BatchNorm statistics and metrics averaged over the devices of the pmap axis
`AXIS`. It imports neither TensorFlow nor the input pipeline: the training
loop (`train.py`) feeds it.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

from flax import jax_utils
import jax
from jax import lax
import jax.numpy as jnp
import ml_collections
import optax

from inpainting import losses
from inpainting import masks
from inpainting import models
from inpainting import state as state_lib

AXIS = 'batch'
# The step's key is folded with this for the generator's noise inputs (the
# caption dropout draws from the step's key itself).
_NOISE_STREAM = 1


def computes_r1(config: ml_collections.ConfigDict, step: int) -> bool:
  """Whether the step from state step `step` (0-based) pays the R1 penalty.

  Every step with `loss.r1_interval=1`; with `k > 1`, every k-th step only
  (StyleGAN2's lazy regularisation), where the penalty is weighed k times.
  The training loop compiles `train_step` once for each answer it meets and
  calls the one this gives: a choice inside one compiled step (`lax.cond`)
  made every step about 8x slower on XLA:CPU.
  """
  return config.loss.r1_weight > 0 and step % config.loss.r1_interval == 0


def pmapped(config: ml_collections.ConfigDict, *, with_r1: bool,
            **pmap_kwargs) -> Any:
  """`train_step` for `config` and `with_r1` under `jax.pmap` over `AXIS`
  (`pmap_kwargs`: e.g. `devices`, `donate_argnums`)."""
  return jax.pmap(functools.partial(train_step, config=config,
                                    with_r1=with_r1),
                  axis_name=AXIS, **pmap_kwargs)


def train_step(state: state_lib.GANState, batch: dict[str, jax.Array], *,
               config: ml_collections.ConfigDict, with_r1: bool = True
               ) -> tuple[state_lib.GANState, dict[str, jax.Array]]:
  """One critic update, then one generator update; run under `jax.pmap`.

  Without an adversarial or feature-matching term, the critic is neither
  run nor updated, and its metrics are not reported.

  The generator's forward pass is computed once, with its VJP: its
  parameters do not change during the critic update, so the critic trains
  on the same composite that the generator's gradient flows through.

  Args:
    state: this device's replica.
    batch: this device's shard: image [b, H, W, 3], mask [b, H, W, 1],
      embedding [b, E].
    config: the run config (bound with functools.partial).
    with_r1: whether this step computes the R1 penalty, where
      `loss.r1_weight > 0` (bound with functools.partial; the training loop
      passes `computes_r1(config, step)`). The penalty is weighed
      `r1_weight * r1_interval`, so that lazy R1's mean weight per step is
      `r1_weight`; the logged `r1` is `r1_interval` times the penalty on
      the steps with it and 0 on the others.

  Returns:
    (new state, metrics averaged over the devices).
  """
  generator = models.generator_from_config(config.model, axis_name=AXIS)
  critic = models.critic_from_config(config.model, axis_name=AXIS)
  image, mask, embedding = batch['image'], batch['mask'], batch['embedding']

  rng = jax.random.wrap_key_data(state.rng, impl=state_lib.RNG_IMPL)
  step_rng = jax.random.fold_in(rng, state.step)
  if config.caption_dropout > 0:
    # Drawn for the whole global batch and sliced, so that the same
    # examples lose their caption on any number of devices.
    n = embedding.shape[0]
    keep = jax.random.bernoulli(step_rng, 1.0 - config.caption_dropout,
                                (n * lax.axis_size(AXIS), 1))
    keep = lax.dynamic_slice_in_dim(keep, lax.axis_index(AXIS) * n, n)
    embedding = embedding * keep
  # Likewise drawn for the global batch: the same noise for the same
  # example on any number of devices.
  noise = models.draw_noise(
      jax.random.fold_in(step_rng, _NOISE_STREAM),
      (image.shape[0] * lax.axis_size(AXIS), *image.shape[1:]),
      config.model.noise_levels)
  if noise is not None:
    noise = lax.dynamic_slice_in_dim(
        noise, lax.axis_index(AXIS) * image.shape[0], image.shape[0])

  # With loss.noise_free_reconstruction, the reconstruction term scores a
  # second pass without the noise: the noiseless generator stays the MSE
  # predictor and only the critic's terms ask for (and shape) the noise.
  noise_free = config.loss.noise_free_reconstruction and noise is not None

  def generate(params):
    variables = {'params': params,
                 'batch_stats': state.generator.batch_stats}
    prediction, updates = generator.apply(
        variables, image, mask, embedding, train=True, noise=noise,
        mutable=['batch_stats'])
    predictions = (prediction.astype(jnp.float32),)
    if noise_free:  # its BatchNorm statistics are the noisy pass's
      clean, _ = generator.apply(variables, image, mask, embedding,
                                 train=True, mutable=['batch_stats'])
      predictions += (clean.astype(jnp.float32),)
    return predictions, updates['batch_stats']

  predictions, generator_vjp, g_batch_stats = jax.vjp(
      generate, state.generator.params, has_aux=True)
  prediction = predictions[0]
  fake = masks.composite(image, prediction, mask)

  adversarial = config.loss.adversarial
  # Lazy R1 (StyleGAN2): on every r1_interval-th step, weighed as many times.
  r1_weight = (config.loss.r1_weight * config.loss.r1_interval if with_r1
               else 0.0)

  def apply_critic(variables, x, **kwargs):
    return critic.apply(variables, x, mask, embedding, train=True,
                        mutable=['batch_stats'], **kwargs)

  def critic_loss_fn(params, batch_stats):
    def summed_real_logits(x):
      logits, updates = apply_critic(
          {'params': params, 'batch_stats': batch_stats}, x)
      return logits.sum(), (logits, updates['batch_stats'])

    if r1_weight > 0:
      input_grads, (real_logits, stats) = jax.grad(
          summed_real_logits, has_aux=True)(image)
      r1 = losses.r1_penalty(input_grads)
    else:
      _, (real_logits, stats) = summed_real_logits(image)
      r1 = jnp.zeros(())
    fake_logits, updates = apply_critic(
        {'params': params, 'batch_stats': stats}, lax.stop_gradient(fake))
    weights = _patch_weights(mask, fake_logits)
    loss = losses.critic_loss(real_logits, fake_logits, kind=adversarial,
                              fake_weights=weights)
    return loss + 0.5 * r1_weight * r1, (updates['batch_stats'], real_logits,
                                         fake_logits, r1)

  # A critic that nothing reads (no adversarial term, no feature matching:
  # an MSE-only run) is neither run nor trained: the generator's gradient
  # is the same, without the critic's three passes.
  feature_matching_weight = config.loss.feature_matching_weight
  uses_critic = (config.loss.adversarial_weight > 0 or
                 feature_matching_weight > 0)

  # optimizer.critic_steps updates on this batch, then one of the generator.
  new_critic = state.critic
  critic_metrics = {}
  for _ in range(config.optimizer.critic_steps if uses_critic else 0):
    (c_loss, (c_batch_stats, real_logits, fake_logits, r1)), c_grads = (
        jax.value_and_grad(critic_loss_fn, has_aux=True)(
            new_critic.params, new_critic.batch_stats))
    c_grads = lax.pmean(c_grads, AXIS)
    new_critic = new_critic.apply_gradients(
        grads=c_grads, batch_stats=lax.pmean(c_batch_stats, AXIS))
    critic_metrics = {
        'critic_loss': c_loss,
        'critic_real_prob': jax.nn.sigmoid(real_logits).mean(),
        'critic_fake_prob': jax.nn.sigmoid(fake_logits).mean(),
        'critic_grad_norm': optax.tree.norm(c_grads),
    }
    if config.loss.r1_weight > 0:
      # The same metrics from both compiled steps: r1_interval times the
      # penalty where computed, 0 between, so that its mean over a logging
      # window of whole intervals is the penalty's.
      critic_metrics['r1'] = r1 * config.loss.r1_interval

  weighting = config.loss
  pixel_weights = None  # the seed: the hole's plain MSE
  if weighting.edge_weight != 1.0 or weighting.known_weight != 0.0:
    pixel_weights = losses.reconstruction_weights(
        mask, band=weighting.band, edge_weight=weighting.edge_weight,
        known_weight=weighting.known_weight)
  critic_variables = {'params': new_critic.params,
                      'batch_stats': new_critic.batch_stats}

  def generator_loss_fn(predictions):
    # What the critic scores, and what the reconstruction term scores (the
    # same but with noise_free).
    prediction, reconstructed = predictions[0], predictions[-1]
    if not uses_critic:
      return losses.generator_loss(
          reconstructed, image, mask, None,
          reconstruction_weight=config.loss.reconstruction_weight,
          adversarial_weight=0.0, pixel_weights=pixel_weights,
          reconstruction=config.loss.reconstruction)
    # The critic's statistics are its own business: this pass does not
    # update them.
    (fake_logits, fake_features), _ = apply_critic(
        critic_variables, masks.composite(image, prediction, mask),
        return_features=True)
    loss, parts = losses.generator_loss(
        reconstructed, image, mask, fake_logits,
        reconstruction_weight=config.loss.reconstruction_weight,
        adversarial_weight=config.loss.adversarial_weight,
        pixel_weights=pixel_weights, kind=adversarial,
        fake_weights=_patch_weights(mask, fake_logits),
        reconstruction=config.loss.reconstruction)
    if feature_matching_weight > 0:
      (_, real_features), _ = apply_critic(critic_variables, image,
                                           return_features=True)
      parts['feature_matching'] = losses.feature_matching(
          lax.stop_gradient(real_features), fake_features)
      loss = loss + feature_matching_weight * parts['feature_matching']
    return loss, parts

  (g_loss, g_parts), d_predictions = jax.value_and_grad(
      generator_loss_fn, has_aux=True)(predictions)
  (g_grads,) = generator_vjp(d_predictions)
  g_grads = lax.pmean(g_grads, AXIS)
  new_generator = state.generator.apply_gradients(
      grads=g_grads, batch_stats=lax.pmean(g_batch_stats, AXIS))
  ema = state.ema
  if ema is not None:
    ema = optax.incremental_update(
        {'params': new_generator.params,
         'batch_stats': new_generator.batch_stats}, ema,
        step_size=1.0 - state_lib.ema_decay(config, new_generator.step))

  metrics = {
      'generator_loss': g_loss,
      # On [0, 1] RGB, as evaluation's hole MSE (the loss's is on [-1, 1]).
      'hole_mse': g_parts['mse'] / 4.0,
      'generator_grad_norm': optax.tree.norm(g_grads),
      'learning_rate': _learning_rate(config, state.step),
      **critic_metrics,
  }
  if noise_free:  # the fill the critic saw; hole_mse is the noiseless one's
    metrics['hole_mse_with_noise'] = losses.hole_mse(
        prediction, image, mask).mean() / 4.0
  if 'adversarial' in g_parts:
    metrics['adversarial_loss'] = g_parts['adversarial']
  if 'feature_matching' in g_parts:
    metrics['feature_matching'] = g_parts['feature_matching']
  metrics = lax.pmean(metrics, AXIS)
  return state.replace(generator=new_generator, critic=new_critic,
                       ema=ema), metrics


def _learning_rate(config: ml_collections.ConfigDict,
                   step: jax.Array) -> jax.Array:
  """The generator's learning rate of this step (logged)."""
  rate = state_lib.learning_rate_schedule(
      config, config.optimizer.generator_learning_rate)
  return jnp.asarray(rate(step) if callable(rate) else rate, jnp.float32)


def _patch_weights(mask: jax.Array, logits: jax.Array) -> jax.Array | None:
  """A patch critic's fake weights (its logits are [b, h, w]), else None."""
  if logits.ndim != 3:
    return None
  return models.patch_weights(mask, logits.shape[1:])


def replicate(tree: Any, devices: Sequence[jax.Device] | None = None) -> Any:
  """Copies a pytree onto devices (all local ones by default).

  Sharded on the pmap's own axis name, so that the arrays pmap returns have
  the same sharding and the second step does not recompile.
  """
  return jax_utils.replicate(tree, devices=devices, axis_name=AXIS)


def unreplicate(tree: Any) -> Any:
  """The first local device's copy of a pytree with a leading device axis.

  Reads the first addressable shard rather than indexing the global array,
  which would gather from every device (and is wrong for flax's helper on a
  pmap over a subset of the devices).
  """
  return jax.tree.map(lambda x: x.addressable_shards[0].data[0], tree)
