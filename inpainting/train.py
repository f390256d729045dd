"""The training loop.

`train_and_evaluate` feeds the pmapped step of the config's method
(`methods.get(config).train_step`, `method.Method`) from the input
pipeline, logs, evaluates, writes sample grids and checkpoints; it restarts
from whatever the workdir holds, so rerunning a command resumes it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import pathlib
import re
import signal
import threading
from typing import Any

from absl import logging
from clu import metric_writers
from clu import periodic_actions
import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np
from PIL import Image

from inpainting import checkpoints
from inpainting import compilation
from inpainting import config_lib
from inpainting import distribution
from inpainting import errors
from inpainting import evaluate
from inpainting import grids
from inpainting import inference
from inpainting import input_pipeline
from inpainting import masks
from inpainting import method as method_lib
from inpainting import methods
from inpainting import workdir_lock


class NonFiniteLossError(errors.UserError, FloatingPointError):
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


class _WorkdirWriter(metric_writers.MultiWriter):
  """The run's metric writers; a failed write is one WorkdirError.

  Synchronous, so that a failure (a full or read-only disk) surfaces at the
  call that caused it, once, rather than as a traceback logged by a
  background thread for every later write.
  """

  def __init__(self, workdir: pathlib.Path, is_chief: bool):
    writers = [metric_writers.LoggingWriter()]
    if is_chief:
      writers.append(metric_writers.SummaryWriter(str(workdir)))
    super().__init__(writers)
    self._workdir = workdir

  @contextlib.contextmanager
  def _reporting_failures(self):
    try:
      yield
    except Exception as e:  # TensorFlow and the file system raise many types
      cause = e
      while cause.__cause__ is not None:
        cause = cause.__cause__
      # TensorFlow's messages start with the op's name in {{...}} and may
      # run on over lines: keep the first line's words.
      what = re.sub(r'\{\{.*?\}\}\s*', '', str(cause)).strip()
      what = what.splitlines()[0] if what else ''
      raise WorkdirError(
          f'Could not write TensorBoard events to {self._workdir}: '
          f'{type(cause).__name__}: {what}. Is the disk full or read-only? '
          'Checkpoints already written are complete; rerun the same command '
          'to resume from the latest.') from None

  def write_scalars(self, step, scalars):
    with self._reporting_failures():
      super().write_scalars(step, scalars)

  def write_images(self, step, images):
    with self._reporting_failures():
      super().write_images(step, images)

  def flush(self):
    with self._reporting_failures():
      super().flush()

  def close(self):
    with self._reporting_failures():
      super().close()


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
  """Whether this run was asked to stop (SIGTERM, or Ctrl-C: SIGINT), agreed
  over processes.

  With one process, either signal sets a flag that the loop reads after
  each step, which then saves that step and stops; a second Ctrl-C
  interrupts at once (KeyboardInterrupt), as an impatient user means.
  With several, JAX's preemption sync point makes every process see the
  same step, so that they all save it.
  """

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self._event = threading.Event()

  @contextlib.contextmanager
  def handling_signals(self):
    if (jax.process_count() > 1 or
        threading.current_thread() is not threading.main_thread()):
      yield
      return
    previous = {s: signal.signal(s, self._on_signal) for s in self.SIGNALS}
    try:
      yield
    finally:
      for s, handler in previous.items():
        signal.signal(s, handler)

  def _on_signal(self, signum, frame):
    del frame
    name = signal.Signals(signum).name
    if self._event.is_set() and signum == signal.SIGINT:
      raise KeyboardInterrupt
    logging.warning('%s: saving a checkpoint after this step, then '
                    'stopping%s.', name,
                    ' (Ctrl-C again to stop at once, unsaved)'
                    if signum == signal.SIGINT else '')
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
                  workdir: pathlib.Path) -> pathlib.Path:
  """Writes the run's config.json; a resumed run with another config keeps
  the first and writes config.resumed.json (-2, -3, ...: never replaced)."""
  text = config.to_json_best_effort(indent=2, sort_keys=True)
  path, n = workdir / 'config.json', 1
  while path.exists() and path.read_text() != text:
    if n == 1:
      logging.warning('%s differs from this run\'s config; keeping it.', path)
    path = workdir / ('config.resumed.json' if n == 1 else
                      f'config.resumed-{n}.json')
    n += 1
  if not path.exists():
    path.write_text(text)
  return path


# The draws of each hole in a sampler's training grids.
GRID_DRAWS = 3


def write_samples(config: ml_collections.ConfigDict, state: method_lib.State,
                  samples: dict[str, np.ndarray], step: int,
                  workdir: pathlib.Path,
                  writer: metric_writers.MetricWriter) -> pathlib.Path:
  """Writes an enlarged, captioned (masked | inpainted | target) grid.

  To workdir/samples/step_<N>.png (captions also in step_<N>.txt) and to
  TensorBoard. A sampler's grid shows `GRID_DRAWS` draws of each hole and
  their mean (its estimate of the mean fill) instead of one fill.
  """
  captions = grids.decode(samples['caption'])
  filled = inference.fill(state, samples, config)
  if methods.get(config).sample is not None:
    draws = [filled] + [
        inference.draw(state, samples, config, distribution.DRAW_SEED, k)
        for k in range(1, GRID_DRAWS)]
    filled = {f'draw {k + 1}': d for k, d in enumerate(draws)}
    filled[f'mean of {GRID_DRAWS}'] = masks.composite(
        samples['image'], np.mean(draws, axis=0), samples['mask'])
  grid = grids.sample_grid(samples['image'], samples['mask'], filled,
                           captions)
  path = workdir / 'samples' / f'step_{step:07d}.png'
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
    path.with_suffix('.txt').write_text('\n'.join(captions) + '\n')
  except OSError as e:
    raise WorkdirError(f'Could not write {path}: {e.strerror or e}. Is the '
                       'disk full or read-only?') from e
  writer.write_images(step, {'samples': grid[None]})
  return path


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> method_lib.State:
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
  # The primary process alone writes checkpoints, config and events, so it
  # alone holds the lock (the others may share its file system).
  with (workdir_lock.hold(workdir, 'training')
        if jax.process_index() == 0 else contextlib.nullcontext()):
    return _train_and_evaluate(config, workdir)


def _starting_state(config: ml_collections.ConfigDict,
                    method: method_lib.Method,
                    manager) -> method_lib.State:
  """The latest checkpoint's state, else (with `init.workdir`) another
  run's networks, else a fresh state."""
  state = checkpoints.restore_latest(manager, method.create_state(config,
                                                                  None))
  if int(state.step):
    logging.info('Resumed from the checkpoint at step %d.', int(state.step))
  elif config.init.workdir:
    try:
      state = checkpoints.warm_start(config.init.workdir, config, state,
                                     critic=config.init.critic,
                                     step=config.init.step)
    except (checkpoints.NoCheckpointError,
            checkpoints.CheckpointMismatchError) as e:
      raise type(e)(f'config.init.workdir={config.init.workdir!r}: {e}') from e
    logging.info('Started from the networks of %s, %s (init.workdir%s).',
                 config.init.workdir,
                 'its latest checkpoint' if config.init.step is None else
                 f'its checkpoint at step {config.init.step}',
                 '' if config.init.critic else '; the critic fresh')
  return state


class _CompiledSteps:
  """The method's pmapped step, compiled at its first call for each
  variant (`method.step_variant`: e.g. two with lazy R1, one otherwise)."""

  def __init__(self, config: ml_collections.ConfigDict,
               method: method_lib.Method):
    self._config, self._method, self._compiled = config, method, {}

  def __call__(self, p_state, batch, step: int):
    """Runs the update from state step `step` (0-based)."""
    variant = self._method.step_variant(self._config, step)
    if variant not in self._compiled:  # every batch has the first's shapes
      p_train_step = jax.pmap(
          functools.partial(self._method.train_step, config=self._config,
                            variant=variant),
          axis_name=method_lib.AXIS, donate_argnums=(0,))
      self._compiled[variant] = compilation.compile_pmapped(
          p_train_step, p_state, batch)
    return self._compiled[variant](p_state, batch)


class _Metrics:
  """The steps' metrics, fetched one step behind to keep the devices busy,
  checked finite, and averaged over each logging window."""

  def __init__(self):
    self._pending: list[tuple[int, dict[str, jax.Array]]] = []
    self._history: list[dict[str, np.ndarray]] = []

  def add(self, step: int, metrics: dict[str, jax.Array]) -> None:
    self._pending.append((step, metrics))
    self.finish(step - 1)

  def finish(self, step_done: int) -> None:
    """Fetches the metrics of steps <= step_done; raises if non-finite."""
    while self._pending and self._pending[0][0] <= step_done:
      s, m = self._pending.pop(0)
      m = jax.device_get(method_lib.unreplicate(m))
      _check_finite(s, m)
      self._history.append(m)

  def summary(self, step: int) -> dict[str, float]:
    """The mean of each metric since the last summary, up to `step`."""
    self.finish(step)
    summary = {k: float(np.mean([h[k] for h in self._history]))
               for k in self._history[0]}
    self._history.clear()
    return summary


def _save(manager, step: int, p_state) -> None:
  """Saves the state at `step` once the processes agree on it."""
  state = jax.device_get(method_lib.unreplicate(p_state))
  digest = _fingerprint(state)
  _check_processes_agree(digest, step)
  checkpoints.save(manager, step, state)
  logging.info('Saving checkpoint %d (state fingerprint %s).', step,
               digest[:16])


def _train_and_evaluate(config: ml_collections.ConfigDict,
                        workdir: pathlib.Path) -> method_lib.State:
  """`train_and_evaluate` in a checked workdir that this process holds."""
  is_chief = jax.process_index() == 0
  if is_chief:
    _write_config(config, workdir)
  writer = _WorkdirWriter(workdir, is_chief)

  builder = input_pipeline.get_builder(config)
  input_pipeline.check_split(builder, config.dataset.train_split,
                             'dataset.train_split')
  input_pipeline.check_split(builder, config.eval.split, 'eval.split')
  input_pipeline.check_held_out(builder, config)
  samples = next(iter(input_pipeline.create_eval_dataset(
      config, builder, config.eval.split,
      batch_size=config.num_sample_images).as_numpy_iterator()))

  method = methods.get(config)
  manager = checkpoints.create_manager(workdir, config)
  state = _starting_state(config, method, manager)
  start_step = int(state.step)
  if start_step >= config.num_train_steps:
    logging.info('Already trained %d >= num_train_steps=%d steps.',
                 start_step, config.num_train_steps)
    manager.close()
    return state

  train_iter = input_pipeline.device_batches(
      input_pipeline.create_train_dataset(config, builder, start_step))
  run_step = _CompiledSteps(config, method)
  p_state = method_lib.replicate(state)
  del state
  logging.info('Training %d steps from step %d, global batch %d on %d '
               'devices; holes: %s.', config.num_train_steps, start_step,
               config.batch_size, jax.device_count(),
               masks.describe(config.mask))
  metrics = _Metrics()
  # Logs steps/s, progress and ETA (wall time, evaluations included, with
  # their share) and writes steps_per_sec to TensorBoard.
  report_progress = periodic_actions.ReportProgress(
      num_train_steps=config.num_train_steps, writer=writer,
      every_steps=config.log_every_steps, every_secs=None)
  preemption = _Preemption()
  with preemption.handling_signals(), _saves_settled_on_error(manager):
    for step in range(start_step + 1, config.num_train_steps + 1):
      p_state, step_metrics = run_step(p_state, next(train_iter), step - 1)
      metrics.add(step, step_metrics)
      is_last = step == config.num_train_steps
      if step % config.log_every_steps == 0 or is_last:
        summary = metrics.summary(step)
        logging.info('step %d/%d: %s', step, config.num_train_steps, ' '.join(
            f'{name}={summary[name]:.4f}' for name in method.logged
            if name in summary))  # e.g. no critic_loss without a critic
        writer.write_scalars(step, summary)
      report_progress(step)

      preempted = preemption.reached(step)
      if step % config.checkpoint_every_steps == 0 or is_last or preempted:
        metrics.finish(step)  # never save a state whose step went non-finite
        _save(manager, step, p_state)
      if preempted:
        checkpoints.wait_until_finished(manager)
        logging.warning('Preempted: saved the checkpoint at step %d; rerun the '
                        'same command to resume.', step)
        break

      if is_chief and (step % config.eval_every_steps == 0 or is_last):
        metrics.finish(step)
        with report_progress.timed('eval'):
          state = method_lib.unreplicate(p_state)
          _evaluate_during_training(config, state, builder, step, writer)
          path = write_samples(config, state, samples, step, workdir, writer)
        logging.info('Wrote samples %s.', path)
        writer.flush()

  checkpoints.wait_until_finished(manager)
  manager.close()
  writer.close()
  return jax.device_get(method_lib.unreplicate(p_state))


def _evaluate_during_training(config: ml_collections.ConfigDict,
                              state: method_lib.State,
                              builder, step: int,
                              writer: metric_writers.MetricWriter) -> None:
  """Model metrics (and caption ablation) on held-out images -> TensorBoard."""
  ds = input_pipeline.create_eval_dataset(
      config, builder, config.eval.split, batch_size=config.eval.batch_size,
      num_examples=config.eval.num_examples_during_training,
      shuffled_captions=True)
  report, _, _ = evaluate.run_evaluation(
      config, state, ds.as_numpy_iterator(), with_baselines=False)
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
               'ssim=%.3f seam=%+.3f sharpness=%.3f%s', step,
               report['num_examples'], config.eval.split, model['mse'],
               model['psnr'], model['ssim'], model['seam'],
               model['sharpness'], '' if shuffled is None else
               f' shuffled-true mse={shuffled:+.4f}')
