"""One writer per workdir: an advisory lock held while a run writes into it.

Two trainings on one workdir would each save the same steps and delete the
other's checkpoints; an evaluation writing its report into a workdir that
is training would mix two runs' files. So training and evaluation hold
`<workdir>/.lock` while they write, and a second process that asks for it
gets one error naming the holder (its host, process id, start time and
what it is doing).

The lock is the kernel's `flock` on that file, not the file's existence:
the kernel releases it when the holding process ends, however it ends
(SIGKILL, a crash, a machine reboot), so a lock left by a killed process
never blocks a rerun, and no stale-lock guesswork (is that process id still
alive? on which host?) is needed. The file itself stays behind, holding
the last holder's description; it is only read to say who holds the lock.
On a network file system, flock is as good as the server's locking (Linux
NFS clients emulate it with POSIX locks).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import pathlib
import socket
from typing import Iterator

from inpainting import errors

LOCK_NAME = '.lock'


class WorkdirBusyError(errors.UserError, RuntimeError):
  """Another process holds the workdir's lock."""


def _holder(path: pathlib.Path) -> str:
  """Who holds the lock at `path`, as its holder wrote it."""
  try:
    holder = json.loads(path.read_text())
    return (f"{holder['what']} (process {holder['pid']} on host "
            f"{holder['host']}, since {holder['since']})")
  except (OSError, ValueError, KeyError, TypeError):
    return 'another process (its description is unreadable)'


@contextlib.contextmanager
def hold(workdir: str | os.PathLike, what: str) -> Iterator[pathlib.Path]:
  """Holds `workdir`'s lock for the block (the workdir is created).

  Args:
    workdir: the folder to write into.
    what: what this process does there, for the message another process
      gets (e.g. 'training').

  Yields:
    The lock file's path.

  Raises:
    WorkdirBusyError: another process holds it.
    OSError: the workdir or its lock file cannot be created.
  """
  workdir = pathlib.Path(workdir).absolute()
  workdir.mkdir(parents=True, exist_ok=True)
  path = workdir / LOCK_NAME
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
        raise
      raise WorkdirBusyError(
          f'{workdir} is in use by {_holder(path)}; nothing was written. '
          'Wait for it to end or stop it, or use another --workdir. (The '
          'lock is released when its process ends, however it ends.)'
      ) from None
    description = json.dumps({
        'what': what, 'pid': os.getpid(), 'host': socket.gethostname(),
        'since': datetime.datetime.now().astimezone().isoformat(
            timespec='seconds')})
    os.ftruncate(fd, 0)
    os.pwrite(fd, description.encode() + b'\n', 0)
    yield path
  finally:
    os.close(fd)  # releases the lock
