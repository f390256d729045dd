"""XLA compiler options for the project's compiled functions.

On CPU, XLA (jaxlib 0.10) hands convolutions to the YNNPACK library by
default, whose kernels for these layers are slower than XLA's own (Eigen)
convolutions. Stock convolutions, batch 64, 2-core CPU (ms, YNNPACK /
XLA's own): 64 px 4 -> 64 forward + gradients 251 / 67; 32 px 64 -> 128
forward 105 / 46, forward + gradients 412 / 267; 16 px 128 -> 256 forward +
gradients 275 / 190. The whole training step went from 11.6 to 15.3
images/s with nothing else changed. So on CPU the only library fusions XLA
may form are single dots (`LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT`, where
YNNPACK is as fast as the alternatives); convolutions stay with XLA.

The option is an experimental field of XLA's DebugOptions; it is given to
CPU compilations only, per compilation (not through the process-wide
XLA_FLAGS), so code that imports this package keeps its own settings.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax

CPU_OPTIONS = {
    'xla_cpu_experimental_ynn_fusion_type':
        'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT',
}


def compiler_options(backend: str | None = None) -> dict[str, str] | None:
  """The options for compiling on `backend` (default: JAX's default)."""
  backend = backend or jax.default_backend()
  return dict(CPU_OPTIONS) if backend == 'cpu' else None


def jit(fun: Callable[..., Any], **jit_kwargs) -> Callable[..., Any]:
  """`jax.jit(fun, **jit_kwargs)` compiled with `compiler_options()`.

  The backend is looked up at the first call, not here, so that module-level
  uses do not initialise JAX's backends at import time.
  """

  @functools.cache
  def jitted():
    return jax.jit(fun, compiler_options=compiler_options(), **jit_kwargs)

  @functools.wraps(fun)
  def call(*args, **kwargs):
    return jitted()(*args, **kwargs)

  return call


def compile_pmapped(pmapped: Callable[..., Any], *args) -> Callable[..., Any]:
  """`pmapped` (a `jax.pmap`), compiled for `args` with `compiler_options()`.

  `jax.pmap` takes no compiler options, so it is lowered and compiled here
  for the given arguments; the result runs on arguments of the same shapes,
  dtypes and shardings. Where there are no options (GPU, TPU), or with
  several processes, `pmapped` itself is returned: JAX 0.10's compiled pmap
  checks a multi-process call's local arguments against the global shapes
  and refuses them, so multi-process runs (on CPU, the tests' loopback
  runs) compile pmap's own way, with XLA's default options.
  """
  options = compiler_options()
  if options is None or jax.process_count() > 1:
    return pmapped
  return pmapped.lower(*args).compile(options)
