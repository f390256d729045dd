"""GAN state, the pmapped training step and the training loop.

`train_step` is one pure function: a critic update then a generator update,
with gradients, BatchNorm statistics and metrics averaged over the devices
of the pmap axis 'batch'. `train_and_evaluate` restarts from whatever the
workdir holds, so rerunning a command resumes it.
"""

from __future__ import annotations

import functools
import pathlib
import time
from typing import Any, Sequence

from absl import logging
from clu import metric_writers
import flax
import flax.jax_utils
from flax.training import train_state
import jax
from jax import lax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from PIL import Image

from inpainting import checkpoints
from inpainting import input_pipeline
from inpainting import losses
from inpainting import masks
from inpainting import models

AXIS = 'batch'
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
                     optax.adam(learning_rate, b1=opt.b1, b2=opt.b2))


def create_train_state(config: ml_collections.ConfigDict, rng: jax.Array,
                       batch: dict[str, np.ndarray]) -> GANState:
  """Initialises both networks and their optimisers.

  Args:
    config: the run config.
    rng: a PRNG key of implementation `RNG_IMPL`.
    batch: an example batch [B, ...] (no device axis) giving input shapes.

  Returns:
    The state at step 0, on the default device.
  """
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


def train_step(state: GANState, batch: dict[str, jax.Array], *,
               config: ml_collections.ConfigDict
               ) -> tuple[GANState, dict[str, jax.Array]]:
  """One critic update, then one generator update; run under `jax.pmap`.

  The generator's forward pass is computed once, with its VJP: its
  parameters do not change during the critic update, so the critic trains
  on the same composite that the generator's gradient flows through.

  Args:
    state: this device's replica.
    batch: this device's shard: image [b, H, W, 3], mask [b, H, W, 1],
      embedding [b, E].
    config: the run config (bound with functools.partial).

  Returns:
    (new state, metrics averaged over the devices).
  """
  generator = models.generator_from_config(config.model, axis_name=AXIS)
  critic = models.critic_from_config(config.model, axis_name=AXIS)
  image, mask, embedding = batch['image'], batch['mask'], batch['embedding']

  rng = jax.random.wrap_key_data(state.rng, impl=RNG_IMPL)
  rng = jax.random.fold_in(jax.random.fold_in(rng, lax.axis_index(AXIS)),
                           state.step)
  if config.caption_dropout > 0:
    keep = jax.random.bernoulli(rng, 1.0 - config.caption_dropout,
                                (embedding.shape[0], 1))
    embedding = embedding * keep

  def generate(params):
    prediction, updates = generator.apply(
        {'params': params, 'batch_stats': state.generator.batch_stats},
        image, mask, embedding, train=True, mutable=['batch_stats'])
    return prediction.astype(jnp.float32), updates['batch_stats']

  prediction, generator_vjp, g_batch_stats = jax.vjp(
      generate, state.generator.params, has_aux=True)
  fake = masks.composite(image, prediction, mask)

  def critic_loss_fn(params):
    batch_stats = state.critic.batch_stats
    logits = {}
    for name, x in (('real', image), ('fake', lax.stop_gradient(fake))):
      logits[name], updates = critic.apply(
          {'params': params, 'batch_stats': batch_stats}, x, embedding,
          train=True, mutable=['batch_stats'])
      batch_stats = updates['batch_stats']
    return losses.critic_loss(logits['real'], logits['fake']), (batch_stats,
                                                                logits)

  (c_loss, (c_batch_stats, logits)), c_grads = jax.value_and_grad(
      critic_loss_fn, has_aux=True)(state.critic.params)
  c_grads = lax.pmean(c_grads, AXIS)
  new_critic = state.critic.apply_gradients(
      grads=c_grads, batch_stats=lax.pmean(c_batch_stats, AXIS))

  def generator_loss_fn(prediction):
    # The critic's statistics are its own business: this pass does not
    # update them.
    fake_logits, _ = critic.apply(
        {'params': new_critic.params, 'batch_stats': new_critic.batch_stats},
        masks.composite(image, prediction, mask), embedding, train=True,
        mutable=['batch_stats'])
    return losses.generator_loss(
        prediction, image, mask, fake_logits,
        reconstruction_weight=config.loss.reconstruction_weight,
        adversarial_weight=config.loss.adversarial_weight)

  (g_loss, g_parts), d_prediction = jax.value_and_grad(
      generator_loss_fn, has_aux=True)(prediction)
  (g_grads,) = generator_vjp(d_prediction)
  g_grads = lax.pmean(g_grads, AXIS)
  new_generator = state.generator.apply_gradients(
      grads=g_grads, batch_stats=lax.pmean(g_batch_stats, AXIS))

  metrics = {
      'generator_loss': g_loss,
      'hole_mse': g_parts['mse'],
      'adversarial_loss': g_parts['adversarial'],
      'critic_loss': c_loss,
      'critic_real_prob': jax.nn.sigmoid(logits['real']).mean(),
      'critic_fake_prob': jax.nn.sigmoid(logits['fake']).mean(),
      'generator_grad_norm': optax.tree.norm(g_grads),
      'critic_grad_norm': optax.tree.norm(c_grads),
  }
  metrics = lax.pmean(metrics, AXIS)
  return state.replace(generator=new_generator, critic=new_critic), metrics


def predict(state: GANState, batch: dict[str, jax.Array], *,
            config: ml_collections.ConfigDict) -> jax.Array:
  """Generator output in inference mode (BatchNorm running averages).

  Args:
    state: an unreplicated state.
    batch: image, mask and embedding, [B, ...].
    config: the run config.

  Returns:
    [B, H, W, 3] float32 predictions of the whole image.
  """
  generator = models.generator_from_config(config.model)
  prediction = generator.apply(
      {'params': state.generator.params,
       'batch_stats': state.generator.batch_stats},
      batch['image'], batch['mask'], batch['embedding'], train=False)
  return prediction.astype(jnp.float32)


def replicate(tree: Any, devices: Sequence[jax.Device] | None = None) -> Any:
  """Copies a pytree onto devices (all local ones by default).

  Sharded on the pmap's own axis name, so that the arrays pmap returns have
  the same sharding and the second step does not recompile.
  """
  return flax.jax_utils.replicate(tree, devices=devices, axis_name=AXIS)


def unreplicate(tree: Any) -> Any:
  """The first local device's copy of a pytree with a leading device axis.

  Reads the first addressable shard rather than indexing the global array,
  which would gather from every device (and is wrong for flax's helper on a
  pmap over a subset of the devices).
  """
  return jax.tree.map(lambda x: x.addressable_shards[0].data[0], tree)


class NonFiniteLossError(FloatingPointError):
  """A loss or gradient norm became NaN or infinite."""


def _check_finite(step: int, metrics: dict[str, np.ndarray]) -> None:
  bad = {k: float(v) for k, v in metrics.items() if not np.isfinite(v)}
  if bad:
    raise NonFiniteLossError(
        f'Non-finite values at step {step}: ' +
        ', '.join(f'{k}={v}' for k, v in sorted(bad.items())) +
        '. Stopping; the last checkpoint saved before it is intact.')


def _write_config(config: ml_collections.ConfigDict,
                  workdir: pathlib.Path) -> None:
  path = workdir / 'config.json'
  text = config.to_json_best_effort(indent=2, sort_keys=True)
  if path.exists() and path.read_text() != text:
    logging.warning('%s differs from this run\'s config; keeping the old '
                    'file and writing config.resumed.json.', path)
    path = workdir / 'config.resumed.json'
  path.write_text(text)


def write_samples(config: ml_collections.ConfigDict, state: GANState,
                  samples: dict[str, np.ndarray], step: int,
                  workdir: pathlib.Path,
                  writer: metric_writers.MetricWriter) -> pathlib.Path:
  """Writes a (masked | inpainted | target) grid as PNG and to TensorBoard."""
  prediction = np.asarray(jax.jit(functools.partial(predict, config=config))(
      state, {k: samples[k] for k in input_pipeline.DEVICE_KEYS}))
  grid = masks.sample_grid(samples['image'], samples['mask'], prediction)
  path = workdir / 'samples' / f'step_{step:07d}.png'
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(grid).save(path)
  (path.with_suffix('.txt')).write_text('\n'.join(
      c.decode() if isinstance(c, bytes) else str(c)
      for c in samples['caption']) + '\n')
  writer.write_images(step, {'samples': grid[None]})
  return path


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> GANState:
  """Trains, resuming from the latest checkpoint in `workdir` if any.

  Args:
    config: the run config.
    workdir: where checkpoints, TensorBoard events and samples go.

  Returns:
    The final (unreplicated) state.
  """
  workdir = pathlib.Path(workdir).absolute()
  workdir.mkdir(parents=True, exist_ok=True)
  is_chief = jax.process_index() == 0
  if is_chief:
    _write_config(config, workdir)
  writer = metric_writers.create_default_writer(
      str(workdir), just_logging=not is_chief)

  builder = input_pipeline.get_builder(config)
  samples = next(iter(input_pipeline.create_eval_dataset(
      config, builder, config.dataset.eval_split,
      batch_size=config.num_sample_images).as_numpy_iterator()))

  state = create_train_state(
      config, jax.random.key(config.seed, impl=RNG_IMPL), samples)
  manager = checkpoints.create_manager(workdir, config)
  state = checkpoints.restore_latest(manager, state)
  start_step = int(state.step)
  if start_step:
    logging.info('Resumed from the checkpoint at step %d.', start_step)
  if start_step >= config.num_train_steps:
    logging.info('Already trained %d >= num_train_steps=%d steps.',
                 start_step, config.num_train_steps)
    manager.close()
    return state

  train_iter = input_pipeline.device_batches(
      input_pipeline.create_train_dataset(config, builder, start_step))
  p_train_step = jax.pmap(functools.partial(train_step, config=config),
                          axis_name=AXIS, donate_argnums=(0,))
  p_state = replicate(state)
  del state

  logging.info('Training %d steps from step %d, global batch %d on %d '
               'devices.', config.num_train_steps, start_step,
               config.batch_size, jax.device_count())
  pending: list[tuple[int, dict[str, jax.Array]]] = []
  history: list[dict[str, np.ndarray]] = []
  last_log = (start_step, time.perf_counter())

  def finish(step_done: int) -> None:
    """Fetches the metrics of steps <= step_done; raises if non-finite."""
    while pending and pending[0][0] <= step_done:
      s, m = pending.pop(0)
      m = jax.device_get(unreplicate(m))
      _check_finite(s, m)
      history.append(m)

  for step in range(start_step + 1, config.num_train_steps + 1):
    p_state, metrics = p_train_step(p_state, next(train_iter))
    pending.append((step, metrics))
    finish(step - 1)  # one step behind, to keep the devices busy

    is_last = step == config.num_train_steps
    if step % config.log_every_steps == 0 or is_last:
      finish(step)
      now = time.perf_counter()
      steps_per_sec = (step - last_log[0]) / (now - last_log[1])
      last_log = (step, now)
      summary = {k: float(np.mean([h[k] for h in history]))
                 for k in history[0]}
      history.clear()
      eta = (config.num_train_steps - step) / max(steps_per_sec, 1e-9)
      logging.info(
          'step %d/%d: generator_loss=%.4f hole_mse=%.4f critic_loss=%.4f '
          '(%.2f steps/s, %.1f images/s, ETA %s)', step,
          config.num_train_steps, summary['generator_loss'],
          summary['hole_mse'], summary['critic_loss'], steps_per_sec,
          steps_per_sec * config.batch_size, _format_duration(eta))
      writer.write_scalars(step, {**summary, 'steps_per_sec': steps_per_sec})

    if step % config.checkpoint_every_steps == 0 or is_last:
      finish(step)  # never save a state whose step went non-finite
      state = unreplicate(p_state)
      checkpoints.save(manager, step, state)
      if is_chief:
        path = write_samples(config, state, samples, step, workdir, writer)
        logging.info('Saved checkpoint %d and samples %s.', step, path)
      writer.flush()

  manager.wait_until_finished()
  manager.close()
  writer.close()
  return jax.device_get(unreplicate(p_state))


def _format_duration(seconds: float) -> str:
  seconds = int(round(seconds))
  if seconds >= 3600:
    return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'
  return f'{seconds // 60}m{seconds % 60:02d}s'
