"""Orbax checkpoints of the whole GAN state.

Saves are asynchronous and atomic (orbax writes to a temporary folder and
renames it when complete), so a run killed at any moment leaves only
complete checkpoints behind; the latest of them is where a rerun resumes.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any, TypeVar

from absl import logging
import jax
import numpy as np
import ml_collections
import orbax.checkpoint as ocp

from inpainting import errors

State = TypeVar('State')


class CheckpointMismatchError(errors.UserError, ValueError):
  """A checkpoint's arrays do not fit the state the config describes."""


class NoCheckpointError(errors.UserError, FileNotFoundError):
  """The workdir holds no checkpoint (or not the one asked for)."""


class CheckpointReadError(errors.UserError, OSError):
  """A checkpoint's files cannot be read (truncated, damaged, missing)."""


def _deepest_cause(error: BaseException) -> BaseException:
  while error.__cause__ is not None or error.__context__ is not None:
    error = error.__cause__ or error.__context__
  return error


def _quiet_abandoned_reads() -> None:
  """Keeps orbax's abandoned reads of a failed restore from printing.

  When one array of a checkpoint cannot be read, orbax raises and leaves
  the reads of the other arrays as coroutines; each, finalized later, hands
  its own copy of the read error to `sys.unraisablehook`, which prints an
  'Exception ignored ... Traceback' block per array. The error is reported
  once, by `_read_error`; those copies go to the debug log.
  """
  previous = sys.unraisablehook
  if getattr(previous, 'quiets_orbax_reads', False):
    return

  def hook(unraisable):
    code = getattr(unraisable.object, 'cr_code', None)
    if code is not None and 'orbax' in code.co_filename:
      logging.debug('An abandoned checkpoint read: %s', unraisable.exc_value)
      return
    previous(unraisable)

  hook.quiets_orbax_reads = True
  sys.unraisablehook = hook


def _read_error(manager: ocp.CheckpointManager, step: int,
                error: BaseException) -> CheckpointReadError:
  """One message for a checkpoint that cannot be read: which step, which
  file (as orbax and tensorstore name it), and what to do. Nothing is
  deleted on the user's behalf."""
  _quiet_abandoned_reads()
  directory = pathlib.Path(manager.directory) / str(step)
  cause = _deepest_cause(error)
  what = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
  earlier = [s for s in manager.all_steps() if s < step]
  if earlier:
    advice = (f'To use the previous checkpoint (step {max(earlier)}) pass '
              f'--step={max(earlier)} to evaluate or fill; to resume training '
              f'from it, move {directory} out of checkpoints/.')
  else:
    advice = ('It is the only checkpoint there: restore it from a copy, or '
              'move it out of checkpoints/ to train from the start.')
  return CheckpointReadError(
      f'The checkpoint of step {step} ({directory}) cannot be read, a file '
      f'in it is truncated or damaged: {type(cause).__name__}: {what[:500]}. '
      f'Nothing was deleted. {advice}')


class CheckpointWriteError(OSError):
  """A checkpoint could not be written (read-only or full storage, ...).

  The incomplete checkpoint stays in orbax's temporary folder, which is
  never restored: a rerun resumes from the last complete checkpoint.
  """


def create_manager(workdir: pathlib.Path, config: ml_collections.ConfigDict,
                   read_only: bool = False) -> ocp.CheckpointManager:
  """A manager of `workdir/checkpoints`, keeping the latest few (and those
  at multiples of `config.keep_checkpoints_every`, if set)."""
  options = ocp.CheckpointManagerOptions(
      max_to_keep=config.max_checkpoints_to_keep,
      keep_period=config.keep_checkpoints_every or None,
      create=not read_only, read_only=read_only)
  return ocp.CheckpointManager(
      pathlib.Path(workdir).absolute() / 'checkpoints', options=options,
      item_handlers=ocp.StandardCheckpointHandler())


def _write_error(manager: ocp.CheckpointManager, what: str,
                 error: Exception) -> CheckpointWriteError:
  return CheckpointWriteError(
      f'Could not write {what} under {manager.directory}: '
      f'{type(error).__name__}: {error}. Is the disk full or read-only? '
      'Incomplete checkpoints are never restored; a rerun resumes from the '
      'last complete one.')


def save(manager: ocp.CheckpointManager, step: int, state: Any) -> None:
  """Starts saving `state` at `step` (asynchronously).

  The state is fetched to host numpy arrays first: with several processes,
  orbax writes such (replicated) arrays once, from the primary process.

  Raises:
    CheckpointWriteError: this or the previous (asynchronous) save failed.
  """
  state = jax.device_get(state)
  try:
    manager.save(step, args=ocp.args.StandardSave(state))
  except Exception as e:  # orbax and tensorstore raise many types
    raise _write_error(manager, f'the checkpoint of step {step}', e) from e


def wait_until_finished(manager: ocp.CheckpointManager) -> None:
  """Blocks until pending saves are complete.

  Raises:
    CheckpointWriteError: a pending save failed.
  """
  try:
    manager.wait_until_finished()
  except Exception as e:  # orbax and tensorstore raise many types
    raise _write_error(manager, 'a checkpoint', e) from e


def _leaf_names(tree: Any) -> dict[str, Any]:
  """{'generator/params/encoder/conv0/kernel': leaf, ...} for any pytree."""
  def name(key) -> str:
    for attr in ('key', 'name', 'idx'):
      if hasattr(key, attr):
        return str(getattr(key, attr))
    return str(key)
  return {'/'.join(name(k) for k in path): leaf
          for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def mismatches(target: Any, saved: Any) -> list[str]:
  """Leaves whose shapes differ, or that only one tree has, by name."""
  wanted, found = _leaf_names(target), _leaf_names(saved)
  problems = []
  for name, leaf in wanted.items():
    if name not in found:
      problems.append(f'{name}: missing from the checkpoint')
    elif tuple(found[name].shape) != np.shape(leaf):
      problems.append(f'{name}: checkpoint {tuple(found[name].shape)}, '
                      f'config {np.shape(leaf)}')
  problems += [f'{name}: only in the checkpoint'
               for name in sorted(found.keys() - wanted.keys())]
  return problems


def restore(manager: ocp.CheckpointManager, step: int, target: State) -> State:
  """Restores the checkpoint at `step` into the structure of `target`.

  Raises:
    CheckpointMismatchError: naming every parameter whose shape differs, or
      that only one side has, before anything is read.
  """
  try:
    metadata = manager.item_metadata(step)
  except Exception as e:  # orbax and tensorstore raise many types
    raise _read_error(manager, step, e) from None
  problems = mismatches(target, getattr(metadata, 'tree', metadata))
  if problems:
    raise CheckpointMismatchError(
        f'The checkpoint {manager.directory / str(step)} does not fit this '
        'config:\n  ' + '\n  '.join(problems))
  try:
    return manager.restore(step, args=ocp.args.StandardRestore(target))
  except Exception as e:  # orbax and tensorstore raise many types
    raise _read_error(manager, step, e) from None


def _open_run(workdir: str | pathlib.Path, config: ml_collections.ConfigDict,
              step: int | None) -> tuple[ocp.CheckpointManager, int]:
  """A read-only manager of a run's checkpoints and the step to read."""
  directory = pathlib.Path(workdir).absolute() / 'checkpoints'
  if not directory.is_dir():
    raise NoCheckpointError(f'{workdir} has no checkpoints/ folder: train '
                            'first, or point at a training run\'s workdir.')
  manager = create_manager(pathlib.Path(workdir), config, read_only=True)
  steps = manager.all_steps()
  if steps and step is None:
    return manager, max(steps)
  if step in steps:
    return manager, step
  manager.close()
  if not steps:
    raise NoCheckpointError(f'{directory} holds no complete checkpoint.')
  raise NoCheckpointError(f'{directory} has no checkpoint at step {step}; '
                          f'it has {sorted(steps)}.')


def restore_from_workdir(workdir: str | pathlib.Path,
                         config: ml_collections.ConfigDict, target: State,
                         step: int | None = None) -> State:
  """The checkpoint at `step` (latest if None) of a run, read-only.

  Args:
    workdir: a training run's workdir.
    config: the run config.
    target: a state of the config's structure (e.g. at step 0).
    step: the checkpoint's step; the latest if None.

  Raises:
    NoCheckpointError: when there is none (or not that step).
    CheckpointMismatchError: when it does not fit the config.
  """
  manager, step = _open_run(workdir, config, step)
  try:
    return restore(manager, step, target)
  finally:
    manager.close()


def _take(target: Any, saved: Any, where: str) -> Any:
  """`saved`'s arrays in `target`'s structure, after checking every leaf."""
  problems = mismatches(target, saved)
  if problems:
    raise CheckpointMismatchError(
        f'{where} does not fit this config:\n  ' + '\n  '.join(problems))
  found = _leaf_names(saved)
  names = list(_leaf_names(target))
  leaves, treedef = jax.tree_util.tree_flatten(target)
  return jax.tree_util.tree_unflatten(
      treedef, [np.asarray(found[name], dtype=np.asarray(leaf).dtype)
                for name, leaf in zip(names, leaves)])


def warm_start(workdir: str | pathlib.Path, config: ml_collections.ConfigDict,
               target: State, critic: bool = True,
               step: int | None = None) -> State:
  """`target` (a fresh state) with the networks of another run's checkpoint.

  Reads the checkpoint at `step` (the latest if None) of the run in
  `workdir` and takes its
  generator's variables (parameters and BatchNorm statistics), its average
  of them where both runs keep one, and with `critic` the critic's
  variables. Everything else stays `target`'s: the optimiser states (Adam's
  moments and the schedule's count), the step and the random state, so the
  run that starts from the result is a new run on the old networks:
  pretraining then fine-tuning, or a critic added to a reconstruction-only
  model (`critic=False`). Where this run keeps an average and the source did
  not, the average starts from the generator's variables.

  Args:
    workdir: the source run's workdir.
    config: this run's config (its networks must have the source's shapes).
    target: a state of the config's structure at step 0.
    critic: whether to take the critic's variables too.
    step: the source checkpoint's step; the latest if None.

  Raises:
    NoCheckpointError: when the source has no complete checkpoint (or not
      at `step`).
    CheckpointMismatchError: naming every network parameter whose shape
      differs, or that only one side has.
  """
  manager, step = _open_run(workdir, config, step)
  try:
    saved = manager.restore(step, args=ocp.args.StandardRestore())
  except Exception as e:  # orbax and tensorstore raise many types
    raise _read_error(manager, step, e) from None
  finally:
    manager.close()
  where = f'The checkpoint {pathlib.Path(workdir) / "checkpoints" / str(step)}'
  # {'params', 'batch_stats'} of each saved network (a network without
  # BatchNorm may have saved no statistics).
  source = {name: {'params': saved[name]['params'],
                   'batch_stats': saved[name].get('batch_stats')}
            for name in ('generator', 'critic')}
  replaced = {}
  for name in ['generator'] + (['critic'] if critic else []):
    fresh = getattr(target, name)
    variables = _take({'params': fresh.params,
                       'batch_stats': fresh.batch_stats},
                      source[name], f'{where} ({name})')
    replaced[name] = fresh.replace(**variables)
  if target.ema is not None:
    replaced['ema'] = _take(target.ema,
                            saved.get('ema') or source['generator'],
                            f'{where} (average)')
  return target.replace(**replaced)


def restore_latest(manager: ocp.CheckpointManager, target: State) -> State:
  """The latest checkpoint restored into `target`, or `target` if none."""
  step = manager.latest_step()
  if step is None:
    return target
  return restore(manager, step, target)
