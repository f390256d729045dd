"""The pmapped training step and the training loop.

`train_step` is one pure function: a critic update then a generator update,
with gradients, BatchNorm statistics and metrics averaged over the devices
of the pmap axis 'batch'. `train_and_evaluate` restarts from whatever the
workdir holds, so rerunning a command resumes it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import pathlib
import signal
import threading
import time
from typing import Any, Sequence

from absl import logging
from clu import metric_writers
from flax import jax_utils
import jax
from jax import lax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from PIL import Image

from inpainting import checkpoints
from inpainting import compilation
from inpainting import config_lib
from inpainting import evaluate
from inpainting import input_pipeline
from inpainting import losses
from inpainting import masks
from inpainting import models
from inpainting import state as state_lib

AXIS = 'batch'


def train_step(state: state_lib.GANState, batch: dict[str, jax.Array], *,
               config: ml_collections.ConfigDict
               ) -> tuple[state_lib.GANState, dict[str, jax.Array]]:
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

  rng = jax.random.wrap_key_data(state.rng, impl=state_lib.RNG_IMPL)
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


class NonFiniteLossError(FloatingPointError):
  """A loss or gradient norm became NaN or infinite."""


def _check_finite(step: int, metrics: dict[str, np.ndarray]) -> None:
  bad = {k: float(v) for k, v in metrics.items() if not np.isfinite(v)}
  if bad:
    raise NonFiniteLossError(
        f'Non-finite values at step {step}: ' +
        ', '.join(f'{k}={v}' for k, v in sorted(bad.items())) +
        '. Stopping; the last checkpoint saved before it is intact.')


class WorkdirError(OSError):
  """The workdir cannot be created or written to."""


def _check_writable(workdir: pathlib.Path) -> None:
  """Fails early, and clearly, if checkpoints could not be written."""
  probe = workdir / f'.write_test.{jax.process_index()}'
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    probe.write_bytes(b'0' * 4096)
    probe.unlink()
  except OSError as e:
    raise WorkdirError(f'The workdir {workdir} is not writable '
                       f'({e.strerror or e}); nothing was trained.') from None


class _Preemption:
  """Whether this run was asked to stop (SIGTERM), agreed over processes.

  With one process, SIGTERM sets a flag that the loop reads after each
  step. With several, JAX's preemption sync point makes every process see
  the same step, so that they all save it.
  """

  def __init__(self):
    self._event = threading.Event()

  @contextlib.contextmanager
  def handling_sigterm(self):
    if (jax.process_count() > 1 or
        threading.current_thread() is not threading.main_thread()):
      yield
      return
    previous = signal.signal(signal.SIGTERM, self._on_sigterm)
    try:
      yield
    finally:
      signal.signal(signal.SIGTERM, previous)

  def _on_sigterm(self, signum, frame):
    del signum, frame
    logging.warning('SIGTERM: saving a checkpoint after this step, then '
                    'stopping.')
    self._event.set()

  def reached(self, step: int) -> bool:
    if jax.process_count() > 1:
      return multihost_utils.reached_preemption_sync_point(step)
    return self._event.is_set()


@contextlib.contextmanager
def _saves_settled_on_error(manager) -> Any:
  """On an error, lets a checkpoint save in flight end before it propagates.

  Orbax reports a failed background write itself; waiting here keeps that
  report, and any write, from coming after the run's own error message.
  """
  try:
    yield
  except BaseException:
    with contextlib.suppress(Exception):  # orbax has logged it
      manager.wait_until_finished()
    raise


def _fingerprint(state: Any) -> str:
  """SHA-256 of every array of a (host) state: equal iff bitwise equal."""
  digest = hashlib.sha256()
  for leaf in jax.tree.leaves(state):
    digest.update(np.ascontiguousarray(leaf).tobytes())
  return digest.hexdigest()


def _check_processes_agree(digest: str, step: int) -> None:
  """Stops a multi-process run whose replicas diverged.

  Only the primary process writes checkpoints, so a silent divergence of
  another process would otherwise go unnoticed.
  """
  if jax.process_count() == 1:
    return
  multihost_utils.assert_equal(
      np.frombuffer(bytes.fromhex(digest), np.uint8),
      f'The processes hold different states at step {step}; not saving.')


def _write_config(config: ml_collections.ConfigDict,
                  workdir: pathlib.Path) -> None:
  path = workdir / 'config.json'
  text = config.to_json_best_effort(indent=2, sort_keys=True)
  if path.exists() and path.read_text() != text:
    logging.warning('%s differs from this run\'s config; keeping the old '
                    'file and writing config.resumed.json.', path)
    path = workdir / 'config.resumed.json'
  path.write_text(text)


# Compiled once per config (a FrozenConfigDict hashes by content), not once
# per call: samples are written at every evaluation.
_jitted_inpaint = compilation.jit(state_lib.inpaint,
                                  static_argnames=('config', 'box'))


def write_samples(config: ml_collections.ConfigDict, state: state_lib.GANState,
                  samples: dict[str, np.ndarray], step: int,
                  workdir: pathlib.Path,
                  writer: metric_writers.MetricWriter) -> pathlib.Path:
  """Writes a (masked | inpainted | target) grid as PNG and to TensorBoard."""
  filled = np.asarray(_jitted_inpaint(
      state, {k: samples[k] for k in input_pipeline.DEVICE_KEYS},
      config=ml_collections.FrozenConfigDict(config),
      box=masks.hole_box(samples['mask'])))
  grid = masks.sample_grid(samples['image'], samples['mask'], filled)
  path = workdir / 'samples' / f'step_{step:07d}.png'
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
    (path.with_suffix('.txt')).write_text('\n'.join(
        c.decode() if isinstance(c, bytes) else str(c)
        for c in samples['caption']) + '\n')
  except OSError as e:
    raise WorkdirError(f'Could not write {path}: {e.strerror or e}. Is the '
                       'disk full or read-only?') from e
  writer.write_images(step, {'samples': grid[None]})
  return path


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> state_lib.GANState:
  """Trains, resuming from the latest checkpoint in `workdir` if any.

  Args:
    config: the run config.
    workdir: where checkpoints, TensorBoard events and samples go.

  Returns:
    The final (unreplicated) state.
  """
  config_lib.validate(config, device_count=jax.device_count(),
                      process_count=jax.process_count())
  workdir = pathlib.Path(workdir).absolute()
  _check_writable(workdir)
  is_chief = jax.process_index() == 0
  if is_chief:
    _write_config(config, workdir)
  writer = metric_writers.create_default_writer(
      str(workdir), just_logging=not is_chief)

  builder = input_pipeline.get_builder(config)
  samples = next(iter(input_pipeline.create_eval_dataset(
      config, builder, config.eval.split,
      batch_size=config.num_sample_images).as_numpy_iterator()))

  state = state_lib.create_train_state(config, samples)
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
  compiled_step = None
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

  preemption = _Preemption()
  with preemption.handling_sigterm(), _saves_settled_on_error(manager):
    for step in range(start_step + 1, config.num_train_steps + 1):
      batch = next(train_iter)
      if compiled_step is None:  # every batch has the first one's shapes
        compiled_step = compilation.compile_pmapped(p_train_step, p_state,
                                                    batch)
      p_state, metrics = compiled_step(p_state, batch)
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
        writer.write_scalars(step,
                             {**summary, 'steps_per_sec': steps_per_sec})

      preempted = preemption.reached(step)
      if step % config.checkpoint_every_steps == 0 or is_last or preempted:
        finish(step)  # never save a state whose step went non-finite
        state = jax.device_get(unreplicate(p_state))
        digest = _fingerprint(state)
        _check_processes_agree(digest, step)
        checkpoints.save(manager, step, state)
        logging.info('Saving checkpoint %d (state fingerprint %s).', step,
                     digest[:16])
      if preempted:
        checkpoints.wait_until_finished(manager)
        logging.warning('Preempted: saved the checkpoint at step %d; rerun the '
                        'same command to resume.', step)
        break

      if is_chief and (step % config.eval_every_steps == 0 or is_last):
        finish(step)
        state = unreplicate(p_state)
        _evaluate_during_training(config, state, builder, step, writer)
        path = write_samples(config, state, samples, step, workdir, writer)
        logging.info('Wrote samples %s.', path)
        writer.flush()
        last_log = (step, time.perf_counter())  # steps/s counts training only

  checkpoints.wait_until_finished(manager)
  manager.close()
  writer.close()
  return jax.device_get(unreplicate(p_state))


def _evaluate_during_training(config: ml_collections.ConfigDict,
                              state: state_lib.GANState,
                              builder, step: int,
                              writer: metric_writers.MetricWriter) -> None:
  """Model metrics (and caption ablation) on held-out images -> TensorBoard."""
  ds = input_pipeline.create_eval_dataset(
      config, builder, config.eval.split, batch_size=config.eval.batch_size,
      num_examples=config.eval.num_examples_during_training,
      shuffled_captions=True)
  report, _ = evaluate.run_evaluation(config, state, ds.as_numpy_iterator(),
                                      with_baselines=False)
  model = report['methods'][evaluate.MODEL]
  scalars = {f'eval/{k}': model[k] for k in evaluate.METRIC_NAMES}
  ablation = report.get('caption_ablation', {})
  for name in ('shuffled', 'zero'):
    if f'{name}_minus_true' in ablation:
      scalars[f'eval/{name}_minus_true_mse'] = (
          ablation[f'{name}_minus_true']['mean'])
  writer.write_scalars(step, scalars)
  shuffled = scalars.get('eval/shuffled_minus_true_mse')
  logging.info('eval at step %d on %d %s images: hole_mse=%.4f psnr=%.2f '
               'ssim=%.3f seam=%+.3f%s', step, report['num_examples'],
               config.eval.split, model['mse'], model['psnr'], model['ssim'],
               model['seam'], '' if shuffled is None else
               f' shuffled-true mse={shuffled:+.4f}')


def _format_duration(seconds: float) -> str:
  seconds = int(round(seconds))
  if seconds >= 3600:
    return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'
  return f'{seconds // 60}m{seconds % 60:02d}s'
