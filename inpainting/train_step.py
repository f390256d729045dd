"""The context encoder's training step: pure functions, pmapped over devices.

`train_step` is built from parts, each a function of its own:

- `step_inputs`: the batch as the networks read it (the caption dropped
  where `caption_dropout` says, the noise inputs drawn);
- `generate`: the generator's forward pass, once, with its VJP;
- `critic_update`: `optimizer.critic_steps` updates of the critic, where a
  loss term reads it (`losses.reads(config.loss, 'critic')`);
- `generator_update`: the generator's loss terms (`losses.GENERATOR_TERMS`),
  its update and the moving average.

Gradients, BatchNorm statistics and metrics are averaged over the devices
of the pmap axis `AXIS`. It imports neither TensorFlow nor the input
pipeline: the training loop (`train.py`) feeds it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
from jax import lax
import jax.numpy as jnp
import ml_collections
import optax

from inpainting import losses
from inpainting import masks
from inpainting import method
from inpainting import models
from inpainting import state as state_lib

AXIS = method.AXIS
# Placing a state on the devices and reading it back: the same for every
# method (method.py), named here for the step's callers.
replicate = method.replicate
unreplicate = method.unreplicate
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


def _global_draw(draw: Callable[[int], jax.Array | None],
                 local: int) -> jax.Array | None:
  """This device's slice of a draw made for the whole global batch, so that
  the same example gets the same draw on any number of devices."""
  drawn = draw(local * lax.axis_size(AXIS))
  if drawn is None:
    return None
  return lax.dynamic_slice_in_dim(drawn, lax.axis_index(AXIS) * local, local)


@dataclasses.dataclass(frozen=True)
class StepInputs:
  """The batch as the networks read it in one step, on one device."""
  image: jax.Array  # [b, H, W, 3]
  mask: jax.Array  # [b, H, W, 1]
  embedding: jax.Array  # [b, E], zero where the caption was dropped
  noise: jax.Array | None  # the generator's noise inputs, if it has any


def step_inputs(state: state_lib.GANState, batch: dict[str, jax.Array],
                config: ml_collections.ConfigDict) -> StepInputs:
  """Drops captions (`caption_dropout`) and draws the noise inputs."""
  image, mask, embedding = batch['image'], batch['mask'], batch['embedding']
  n = image.shape[0]
  rng = jax.random.wrap_key_data(state.rng, impl=state_lib.RNG_IMPL)
  step_rng = jax.random.fold_in(rng, state.step)
  if config.caption_dropout > 0:
    keep = _global_draw(lambda total: jax.random.bernoulli(
        step_rng, 1.0 - config.caption_dropout, (total, 1)), n)
    embedding = embedding * keep
  noise = _global_draw(lambda total: models.draw_noise(
      jax.random.fold_in(step_rng, _NOISE_STREAM),
      (total, *image.shape[1:]), config.model.generator.noise_levels), n)
  return StepInputs(image, mask, embedding, noise)


@dataclasses.dataclass(frozen=True)
class Generated:
  """The generator's forward pass of a step.

  Attributes:
    predictions: (the fill the critic scores,) and, with
      `loss.noise_free_reconstruction`, the noiseless fill the
      reconstruction term scores; float32.
    vjp: maps the gradient of the predictions to the parameters'.
    batch_stats: the BatchNorm statistics of the pass.
  """
  predictions: tuple[jax.Array, ...]
  vjp: Callable[[Any], tuple[Any]]
  batch_stats: Any

  @property
  def fill(self) -> jax.Array:
    return self.predictions[0]


def generate(generator: models.Generator, state: state_lib.GANState,
             inputs: StepInputs, config: ml_collections.ConfigDict
             ) -> Generated:
  """The generator's forward pass, computed once, with its VJP.

  Its parameters do not change during the critic's update, so the critic
  trains on the same composite that the generator's gradient flows
  through. With `loss.noise_free_reconstruction` (and noise inputs) a
  second pass without the noise is what the reconstruction term scores:
  the noiseless generator stays the MSE predictor and only the critic's
  terms ask for (and shape) the noise; its BatchNorm statistics are the
  noisy pass's.
  """
  noise_free = (config.loss.noise_free_reconstruction and
                inputs.noise is not None)

  def forward(params):
    variables = {'params': params,
                 'batch_stats': state.generator.batch_stats}
    prediction, updates = generator.apply(
        variables, inputs.image, inputs.mask, inputs.embedding, train=True,
        noise=inputs.noise, mutable=['batch_stats'])
    predictions = (prediction.astype(jnp.float32),)
    if noise_free:
      clean, _ = generator.apply(variables, inputs.image, inputs.mask,
                                 inputs.embedding, train=True,
                                 mutable=['batch_stats'])
      predictions += (clean.astype(jnp.float32),)
    return predictions, updates['batch_stats']

  predictions, vjp, batch_stats = jax.vjp(forward, state.generator.params,
                                          has_aux=True)
  return Generated(predictions, vjp, batch_stats)


def _apply_critic(critic: models.Critic, variables, x: jax.Array,
                  inputs: StepInputs, **kwargs):
  return critic.apply(variables, x, inputs.mask, inputs.embedding,
                      train=True, mutable=['batch_stats'], **kwargs)


def critic_update(critic: models.Critic, critic_state: state_lib.TrainState,
                  inputs: StepInputs, fake: jax.Array,
                  config: ml_collections.ConfigDict, *, with_r1: bool
                  ) -> tuple[state_lib.TrainState, dict[str, jax.Array]]:
  """`optimizer.critic_steps` updates of the critic on this batch.

  Args:
    critic: the critic module.
    critic_state: its replica.
    inputs: the step's inputs (the real images among them).
    fake: the composites of the generator's fill.
    config: the run config.
    with_r1: whether this step pays the R1 penalty (`computes_r1`); it is
      weighed `r1_weight * r1_interval`, so that lazy R1's mean weight per
      step is `r1_weight`.

  Returns:
    (the new critic, its metrics from the last update).
  """
  kind = config.loss.adversarial
  r1_weight = (config.loss.r1_weight * config.loss.r1_interval if with_r1
               else 0.0)

  def loss_fn(params, batch_stats):
    def summed_real_logits(x):
      logits, updates = _apply_critic(
          critic, {'params': params, 'batch_stats': batch_stats}, x, inputs)
      return logits.sum(), (logits, updates['batch_stats'])

    if r1_weight > 0:
      input_grads, (real_logits, stats) = jax.grad(
          summed_real_logits, has_aux=True)(inputs.image)
      r1 = losses.r1_penalty(input_grads)
    else:
      _, (real_logits, stats) = summed_real_logits(inputs.image)
      r1 = jnp.zeros(())
    fake_logits, updates = _apply_critic(
        critic, {'params': params, 'batch_stats': stats},
        lax.stop_gradient(fake), inputs)
    loss = losses.critic_loss(
        real_logits, fake_logits, kind=kind,
        fake_weights=critic.fake_weights(inputs.mask, fake_logits))
    return loss + 0.5 * r1_weight * r1, (updates['batch_stats'], real_logits,
                                         fake_logits, r1)

  metrics = {}
  for _ in range(config.optimizer.critic_steps):
    (loss, (batch_stats, real_logits, fake_logits, r1)), grads = (
        jax.value_and_grad(loss_fn, has_aux=True)(
            critic_state.params, critic_state.batch_stats))
    grads = lax.pmean(grads, AXIS)
    critic_state = critic_state.apply_gradients(
        grads=grads, batch_stats=lax.pmean(batch_stats, AXIS))
    metrics = {
        'critic_loss': loss,
        'critic_real_prob': jax.nn.sigmoid(real_logits).mean(),
        'critic_fake_prob': jax.nn.sigmoid(fake_logits).mean(),
        'critic_grad_norm': optax.tree.norm(grads),
    }
    if config.loss.r1_weight > 0:
      # The same metrics from both compiled steps: r1_interval times the
      # penalty where computed, 0 between, so that its mean over a logging
      # window of whole intervals is the penalty's.
      metrics['r1'] = r1 * config.loss.r1_interval
  return critic_state, metrics


def _critic_scores(critic: models.Critic, variables, x: jax.Array,
                   inputs: StepInputs) -> losses.CriticScores:
  """The critic's scores of `x` for the generator's terms; this pass does
  not update the critic's statistics (they are its own business)."""
  (logits, features), _ = _apply_critic(critic, variables, x, inputs,
                                        return_features=True)
  return losses.CriticScores(logits, critic.fake_weights(inputs.mask, logits),
                             features)


def generator_update(state: state_lib.GANState, critic: models.Critic,
                     critic_state: state_lib.TrainState, inputs: StepInputs,
                     generated: Generated,
                     config: ml_collections.ConfigDict
                     ) -> tuple[state_lib.TrainState, Any,
                                dict[str, jax.Array]]:
  """The generator's loss terms, its update and its moving average.

  The terms (`losses.active_terms`) are differentiated with respect to the
  predictions, then through the generator's VJP.

  Returns:
    (the new generator, the new average or None, metrics).
  """
  critic_variables = {'params': critic_state.params,
                      'batch_stats': critic_state.batch_stats}
  real_features = None
  if losses.reads(config.loss, 'real_features'):
    real_features = lax.stop_gradient(_critic_scores(
        critic, critic_variables, inputs.image, inputs).features)

  def loss_fn(predictions):
    prediction = predictions[0]
    fake = None
    if losses.reads(config.loss, 'critic'):
      fake = _critic_scores(
          critic, critic_variables,
          masks.composite(inputs.image, prediction, inputs.mask), inputs)
    return losses.generator_terms(losses.GeneratorLossInputs(
        prediction=prediction, reconstructed=predictions[-1],
        image=inputs.image, mask=inputs.mask, loss=config.loss, fake=fake,
        real_features=real_features))

  (loss, parts), d_predictions = jax.value_and_grad(
      loss_fn, has_aux=True)(generated.predictions)
  (grads,) = generated.vjp(d_predictions)
  grads = lax.pmean(grads, AXIS)
  generator = state.generator.apply_gradients(
      grads=grads, batch_stats=lax.pmean(generated.batch_stats, AXIS))
  ema = state.ema
  if ema is not None:
    ema = optax.incremental_update(
        {'params': generator.params, 'batch_stats': generator.batch_stats},
        ema, step_size=1.0 - state_lib.ema_decay(config, generator.step))
  metrics = {
      'generator_loss': loss,
      # On [0, 1] RGB, as evaluation's hole MSE (the loss's is on [-1, 1]).
      'hole_mse': losses.hole_mse(generated.predictions[-1], inputs.image,
                                  inputs.mask).mean() / 4.0,
      'generator_grad_norm': optax.tree.norm(grads),
      'learning_rate': _learning_rate(config, state.step),
      **{f'{name}_loss' if name == 'adversarial' else name: value
         for name, value in parts.items() if name != 'reconstruction'},
  }
  if len(generated.predictions) > 1:
    # The fill the critic saw; hole_mse is the noiseless one's.
    metrics['hole_mse_with_noise'] = losses.hole_mse(
        generated.fill, inputs.image, inputs.mask).mean() / 4.0
  return generator, ema, metrics


def train_step(state: state_lib.GANState, batch: dict[str, jax.Array], *,
               config: ml_collections.ConfigDict, with_r1: bool = True
               ) -> tuple[state_lib.GANState, dict[str, jax.Array]]:
  """One step of the context encoder with its critic; run under `jax.pmap`.

  Args:
    state: this device's replica.
    batch: this device's shard: image [b, H, W, 3], mask [b, H, W, 1],
      embedding [b, E].
    config: the run config (bound with functools.partial).
    with_r1: whether this step computes the R1 penalty, where
      `loss.r1_weight > 0` (bound with functools.partial; the training loop
      passes `computes_r1(config, step)`); the logged `r1` is `r1_interval`
      times the penalty on the steps with it and 0 on the others.

  Returns:
    (new state, metrics averaged over the devices).
  """
  generator = models.generator_from_config(config.model, axis_name=AXIS)
  critic = models.critic_from_config(config.model, axis_name=AXIS)
  inputs = step_inputs(state, batch, config)
  generated = generate(generator, state, inputs, config)
  new_critic, metrics = state.critic, {}
  # A critic that no term reads (an MSE-only run) is neither run nor
  # trained: the generator's gradient is the same, without its passes.
  if losses.reads(config.loss, 'critic'):
    new_critic, metrics = critic_update(
        critic, state.critic, inputs,
        masks.composite(inputs.image, generated.fill, inputs.mask), config,
        with_r1=with_r1)
  new_generator, ema, generator_metrics = generator_update(
      state, critic, new_critic, inputs, generated, config)
  metrics = lax.pmean({**generator_metrics, **metrics}, AXIS)
  return state.replace(generator=new_generator, critic=new_critic,
                       ema=ema), metrics


def _learning_rate(config: ml_collections.ConfigDict,
                   step: jax.Array) -> jax.Array:
  """The generator's learning rate of this step (logged)."""
  rate = state_lib.learning_rate_schedule(
      config, config.optimizer.generator_learning_rate)
  return jnp.asarray(rate(step) if callable(rate) else rate, jnp.float32)
