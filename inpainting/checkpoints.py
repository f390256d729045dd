"""Orbax checkpoints of the whole GAN state.

Saves are asynchronous and atomic (orbax writes to a temporary folder and
renames it when complete), so a run killed at any moment leaves only
complete checkpoints behind; the latest of them is where a rerun resumes.
"""

from __future__ import annotations

import pathlib
from typing import Any, TypeVar

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


class CheckpointWriteError(OSError):
  """A checkpoint could not be written (read-only or full storage, ...).

  The incomplete checkpoint stays in orbax's temporary folder, which is
  never restored: a rerun resumes from the last complete checkpoint.
  """


def create_manager(workdir: pathlib.Path, config: ml_collections.ConfigDict,
                   read_only: bool = False) -> ocp.CheckpointManager:
  """A manager of `workdir/checkpoints`, keeping the latest few."""
  options = ocp.CheckpointManagerOptions(
      max_to_keep=config.max_checkpoints_to_keep, create=not read_only,
      read_only=read_only)
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
  metadata = manager.item_metadata(step)
  problems = mismatches(target, getattr(metadata, 'tree', metadata))
  if problems:
    raise CheckpointMismatchError(
        f'The checkpoint {manager.directory / str(step)} does not fit this '
        'config:\n  ' + '\n  '.join(problems))
  return manager.restore(step, args=ocp.args.StandardRestore(target))


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
  directory = pathlib.Path(workdir).absolute() / 'checkpoints'
  if not directory.is_dir():
    raise NoCheckpointError(f'{workdir} has no checkpoints/ folder: train '
                            'first, or point --workdir at a training run.')
  manager = create_manager(pathlib.Path(workdir), config, read_only=True)
  try:
    steps = manager.all_steps()
    if not steps:
      raise NoCheckpointError(f'{directory} holds no complete checkpoint.')
    if step is None:
      step = max(steps)
    elif step not in steps:
      raise NoCheckpointError(f'{directory} has no checkpoint at step '
                              f'{step}; it has {sorted(steps)}.')
    return restore(manager, step, target)
  finally:
    manager.close()


def restore_latest(manager: ocp.CheckpointManager, target: State) -> State:
  """The latest checkpoint restored into `target`, or `target` if none."""
  step = manager.latest_step()
  if step is None:
    return target
  return restore(manager, step, target)
