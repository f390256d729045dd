"""How every command fails: one `error:` line its user can act on.

A failure the user can fix (a bad flag or config value, a missing or
unreadable file, a full disk, a checkpoint of another model, ...) is raised
as a `UserError` (or an `OSError`, whose message names the file) with a
message naming the file, field or value and what to do. `run(main)`, used
by `inpainting.main` and every tool, parses the flags and calls `main`; it
prints such a failure as `error: <message>` on stderr, without a
traceback, and exits with status 1. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import gc
import sys
from typing import Any, Callable, Sequence

from absl import app
from absl import flags


class UserError(Exception):
  """A failure the user can fix; the message says which input and what to do.

  Mixed into the project's own error types (e.g. `ConfigError(UserError,
  ValueError)`), so that they keep their built-in base for callers.
  """


# Reported as one line by `run`. OSError covers storage (full, read-only,
# missing files), whose messages name the path.
USER_ERRORS = (UserError, OSError)

_TRACEBACK = 'Traceback (most recent call last):'


def _flag_problem(error: Exception, argv: Sequence[str]) -> str:
  """One line for a flag that could not be parsed."""
  message = str(error)
  if _TRACEBACK in message:
    # A config file's get_config raised: absl embeds the whole traceback.
    # Its last line is the exception ('ValueError: ...'): keep the message.
    head = message.split(': ', 1)[0]  # 'flag --config=FILE[:ARG]'
    last = message.strip().splitlines()[-1]
    return f'{head.removeprefix("flag ")}: {last.split(": ", 1)[-1]}'
  if isinstance(error, (AttributeError, KeyError)):
    # ml_collections: an override of a field the config does not have.
    key = message.strip('\'"')
    named = [a.split('=')[0] for a in argv
             if a.startswith('--config.') and key in a]
    return (f'{", ".join(named) or key}: no such config field '
            '(configs/default.py lists every field)')
  return message.removeprefix('flag ')


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with every problem reported as one error line."""
  try:
    return flags.FLAGS(argv)
  except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
    sys.exit(f'error: {_flag_problem(e, argv)}')


def exit_on_user_error(main: Callable[[list[str]], Any]
                       ) -> Callable[[list[str]], Any]:
  """`main`, with user errors printed as one `error:` line (exit status 1)."""

  def wrapped(argv: list[str]) -> Any:
    try:
      return main(argv)
    except USER_ERRORS as e:
      message = f'error: {e}'
    # Out of the handler the failed run's frames are free. Among them, a
    # failed background write's futures report when collected: collect them
    # now, so that the run ends on its own message.
    gc.collect()
    sys.exit(message)

  return wrapped


def run(main: Callable[[list[str]], Any]) -> None:
  """`absl.app.run(main)` with the flag parsing and error reporting above."""
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
