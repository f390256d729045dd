"""The CPU compiler options reach the compiled code."""

import jax
import jax.numpy as jnp
import numpy as np

from inpainting import compilation
from inpainting import layers


def _strided(x, kernel):
  return layers._strided(x, kernel)  # pylint: disable=protected-access


def _compiled_text(fn, *args):
  return fn.lower(*args).compile().as_text()


def test_cpu_convolutions_stay_with_xla():
  x = jnp.zeros((2, 8, 8, 4))
  kernel = jnp.zeros((5, 5, 4, 64))
  # Without the options XLA:CPU hands this convolution to YNNPACK ...
  assert 'ynn_fusion' in _compiled_text(jax.jit(_strided), x, kernel)
  # ... with them it keeps it.
  options = compilation.compiler_options('cpu')
  text = _compiled_text(jax.jit(_strided, compiler_options=options),
                        x, kernel)
  assert 'ynn_fusion' not in text
  assert 'convolution(' in text


def test_options_are_for_cpu_only():
  assert compilation.compiler_options('gpu') is None
  assert compilation.compiler_options('tpu') is None


def test_jit_computes_the_same_and_keeps_static_arguments():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 4))
  kernel = jax.random.normal(jax.random.key(1), (5, 5, 4, 64))
  scale = compilation.jit(lambda x, k, *, factor: factor * _strided(x, k),
                          static_argnames=('factor',))
  np.testing.assert_allclose(scale(x, kernel, factor=2.0),
                             2.0 * _strided(x, kernel), rtol=1e-5, atol=1e-5)


def test_compile_pmapped_compiles_with_the_options():
  devices = jax.local_device_count()
  x = jax.random.normal(jax.random.key(0), (devices, 2, 8, 8, 4))
  kernel = jnp.broadcast_to(
      jax.random.normal(jax.random.key(1), (5, 5, 4, 64)),
      (devices, 5, 5, 4, 64))
  pmapped = jax.pmap(lambda x, k: jax.lax.pmean(_strided(x, k), 'i'),
                     axis_name='i')
  assert 'ynn_fusion' in _compiled_text(pmapped, x, kernel)
  compiled = compilation.compile_pmapped(pmapped, x, kernel)
  assert 'ynn_fusion' not in compiled.as_text()
  np.testing.assert_allclose(compiled(x, kernel), pmapped(x, kernel),
                             rtol=1e-5, atol=1e-5)
