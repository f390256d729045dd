"""The matmul BatchNorm equals Flax's: values, statistics and gradients."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inpainting import compilation
from inpainting import normalization

KWARGS = dict(momentum=0.9)


def _inputs(shape=(4, 6, 6, 5)):
  x = 2.0 * jax.random.normal(jax.random.key(0), shape) + 1.0
  weights = jax.random.normal(jax.random.key(1), shape)
  return x, weights


def _loss_and_grads(module, variables, x, weights):
  def loss(params, x):
    y, updates = module.apply(
        {'params': params, 'batch_stats': variables['batch_stats']}, x,
        mutable=['batch_stats'])
    return jnp.vdot(jnp.tanh(y), weights), (y, updates)
  (_, (y, updates)), grads = jax.value_and_grad(
      loss, argnums=(0, 1), has_aux=True)(variables['params'], x)
  return y, updates, grads


def _assert_close(a, b):
  for (path, u), (_, v) in zip(jax.tree_util.tree_flatten_with_path(a)[0],
                               jax.tree_util.tree_flatten_with_path(b)[0]):
    np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-5,
                               err_msg=jax.tree_util.keystr(path))


@pytest.mark.parametrize('train', [True, False])
def test_matches_flax(train):
  x, weights = _inputs()
  stock = nn.BatchNorm(use_running_average=not train, **KWARGS)
  ours = normalization.BatchNorm(use_running_average=not train, **KWARGS)
  variables = stock.init(jax.random.key(2), x)
  assert (jax.tree.map(jnp.shape, ours.init(jax.random.key(2), x)) ==
          jax.tree.map(jnp.shape, variables))
  variables = jax.tree.map(  # not the initial 0 and 1
      lambda v: v + jax.random.uniform(jax.random.key(3), v.shape), variables)
  _assert_close(_loss_and_grads(ours, variables, x, weights),
                _loss_and_grads(stock, variables, x, weights))


def test_matches_flax_across_devices():
  # Statistics averaged over 2 devices, and gradients through that pmean.
  x, weights = _inputs((2, 3, 4, 4, 5))
  variables = nn.BatchNorm(use_running_average=False, **KWARGS).init(
      jax.random.key(2), x[0])

  def run(module):
    return jax.pmap(
        functools.partial(_loss_and_grads, module),
        axis_name='batch', in_axes=(None, 0, 0))(variables, x, weights)

  _assert_close(
      run(normalization.BatchNorm(axis_name='batch', **KWARGS)),
      run(nn.BatchNorm(use_running_average=False, axis_name='batch',
                       **KWARGS)))


def test_sums_are_dots_not_reductions():
  x, weights = _inputs((8, 16, 16, 32))
  module = normalization.BatchNorm(use_running_average=False, **KWARGS)
  variables = module.init(jax.random.key(2), x)
  step = functools.partial(_loss_and_grads, module)
  hlo = jax.jit(step).lower(variables, x, weights).compile(
      compilation.compiler_options('cpu')).as_text()
  # XLA:CPU turns every large reduction into a slow reduce-window.
  assert 'reduce-window' not in hlo
  assert 'reduce(' not in hlo
  assert 'dot(' in hlo


def test_bfloat16_computes_statistics_in_float32():
  x, weights = _inputs()
  kwargs = dict(use_running_average=False, dtype=jnp.bfloat16, **KWARGS)
  ours, stock = normalization.BatchNorm(**kwargs), nn.BatchNorm(**kwargs)
  variables = stock.init(jax.random.key(2), x)
  y, updates, _ = _loss_and_grads(ours, variables, x.astype(jnp.bfloat16),
                                  weights)
  y_stock, updates_stock, _ = _loss_and_grads(
      stock, variables, x.astype(jnp.bfloat16), weights)
  assert y.dtype == jnp.bfloat16
  assert updates['batch_stats']['mean'].dtype == jnp.float32
  np.testing.assert_allclose(y.astype(np.float32),
                             y_stock.astype(np.float32), atol=2e-2)
  _assert_close(updates, updates_stock)


@pytest.mark.parametrize('shape', [(64, 32, 32, 16), (7, 13, 1, 3),
                                   (1, 97, 1, 3)])
def test_channel_sums_are_accurate(shape):
  # 64x32x32 positions summed by one dot in sequence erred by 1e-5
  # (relative) on values of mean 3; in two levels, below 1e-6. 7x13
  # positions are summed in levels of 7 and 13, a prime number (97) in one.
  x = 0.1 * jax.random.normal(jax.random.key(0), shape) + 3.0
  exact = np.asarray(x, np.float64).reshape(-1, shape[-1]).sum(0)
  sums = jax.jit(normalization.channel_sum)(x)
  assert sums.dtype == jnp.float32
  np.testing.assert_allclose(sums, exact, rtol=1e-6)


def test_second_order_gradient_matches_flax():
  # The R1 penalty differentiates the critic's input gradient again, so
  # through the hand-written backward pass.
  x, weights = _inputs()
  stock = nn.BatchNorm(use_running_average=False, **KWARGS)
  ours = normalization.BatchNorm(use_running_average=False, **KWARGS)
  variables = stock.init(jax.random.key(2), x)

  def penalty(module):
    def output(params, x):
      y, _ = module.apply(
          {'params': params, 'batch_stats': variables['batch_stats']}, x,
          mutable=['batch_stats'])
      return jnp.vdot(jnp.tanh(y), weights)

    def input_gradient_norm(params, x):
      return jnp.sum(jnp.square(jax.grad(output, argnums=1)(params, x)))

    return jax.grad(input_gradient_norm, argnums=(0, 1))(
        variables['params'], x)

  _assert_close(penalty(ours), penalty(stock))
