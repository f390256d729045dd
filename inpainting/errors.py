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
import math
import sys
from typing import Any, Callable, Sequence

from absl import app
from absl import flags
from absl import logging


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
    from inpainting import config_lib  # pylint: disable=g-import-not-at-top
    moved = [f'--config.model.{old} is now --config.model.{group}.{new}'
             for old, (group, new) in config_lib.FLAT_MODEL_FIELDS.items()
             if any(f'--config.model.{old}=' in a for a in argv)]
    return (f'{", ".join(named) or key}: no such config field '
            '(configs/default.py lists every field)' +
            (f'; {"; ".join(moved)}' if moved else ''))
  return message.removeprefix('flag ')


def _is_finite_number(text: str) -> bool:
  """False for text that reads as NaN or an infinity ('nan', '-inf', ...)."""
  try:
    return math.isfinite(float(text))
  except ValueError:
    return True  # not a number at all: the flag's own parser judges it


def flag_value_problems(flag_values: flags.FlagValues) -> list[str]:
  """Values that absl accepts but no command here can use.

  - An empty value given to a flag whose default is None (`--box=`,
    `--mask=`, `--workdir=`): such a flag means "unset" only when left
    out, so an empty one would silently fall back to the default.
  - NaN or an infinity in a number flag or a list of numbers: they pass
    every range check written as a comparison (`nan < 0` is False).
  """
  problems = []
  for name in sorted(flag_values):
    flag = flag_values[name]
    if not flag.present or name == 'config' or '.' in name:
      continue  # config fields are checked by config_lib
    value = flag.value
    if flag.default is None and value in ('', [], ()):
      problems.append(f'--{name}=: empty; give a value, or leave the flag '
                      'out')
      continue
    # A list flag's items are parsed by its tool (e.g. --strengths=0.5,1):
    # those that read as numbers are checked here; a plain string flag is
    # text (a caption may be "inf").
    is_list = isinstance(value, (list, tuple))
    if any((isinstance(v, float) and not math.isfinite(v)) or
           (is_list and isinstance(v, str) and not _is_finite_number(v))
           for v in (value if is_list else [value])):
      problems.append(f'--{name}={flag.serialize().split("=", 1)[-1]}: '
                      'must be a finite number')
  return problems


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with every problem reported as one error line."""
  try:
    rest = flags.FLAGS(argv)
  except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
    sys.exit(f'error: {_flag_problem(e, argv)}')
  problems = flag_value_problems(flags.FLAGS)
  if problems:
    sys.exit('error: ' + '; '.join(problems))
  return rest


def _collect_quietly() -> None:
  """gc.collect(), with unraisable exceptions logged at debug level."""
  previous = sys.unraisablehook

  def log(unraisable):
    logging.debug('While cleaning up after the error: %s in %r',
                  unraisable.exc_value, unraisable.object)

  sys.unraisablehook = log
  try:
    gc.collect()
  finally:
    sys.unraisablehook = previous


def exit_on_user_error(main: Callable[[list[str]], Any]
                       ) -> Callable[[list[str]], Any]:
  """`main`, with user errors printed as one `error:` line (exit status 1)."""

  def wrapped(argv: list[str]) -> Any:
    try:
      return main(argv)
    except USER_ERRORS as e:
      message = f'error: {e}'
    except KeyboardInterrupt:
      _collect_quietly()
      print('error: interrupted (Ctrl-C). Files already written are '
            'complete; a training run resumes from its latest checkpoint '
            'when rerun.', file=sys.stderr)
      sys.exit(130)
    # Out of the handler the failed run's frames are free. Among them, a
    # failed background write's futures, or the coroutines of a failed
    # checkpoint read that were never awaited, report when collected
    # ("Exception ignored in: ...", with a traceback each): collect them
    # now, quietly (they are this failure's debris, logged at debug level),
    # so that the run ends on its own message.
    _collect_quietly()
    sys.exit(message)

  return wrapped


def run(main: Callable[[list[str]], Any]) -> None:
  """`absl.app.run(main)` with the flag parsing and error reporting above."""
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
