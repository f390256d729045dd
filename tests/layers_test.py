"""The phase formulations equal the stock Flax layers, values and gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inpainting import layers


def _perturbed(params):
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(7), len(leaves))
  return jax.tree.unflatten(tree, [
      x + 0.1 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])


@pytest.mark.parametrize('use_bias', [True, False])
@pytest.mark.parametrize('kernel_size', [3, 4, 5])
@pytest.mark.parametrize('kind', ['strided', 'upsampling',
                                  'upsampling_matmul_kernel_grad'])
def test_phase_matches_stock(kernel_size, kind, use_bias):
  make = layers.strided_conv if kind == 'strided' else layers.upsampling_conv
  stock = make(6, kernel_size, 'xla', name='c', use_bias=use_bias)
  phase = make(6, kernel_size, 'phase', name='c', use_bias=use_bias)
  if kind == 'upsampling_matmul_kernel_grad':
    phase = layers.PhaseConvTranspose(6, (kernel_size, kernel_size),
                                      use_bias=use_bias, name='c',
                                      matmul_kernel_grad=True)
  x = jax.random.normal(jax.random.key(0), (2, 8, 12, 5))
  params = stock.init(jax.random.key(1), x)
  phase_params = phase.init(jax.random.key(1), x)
  # Same names, shapes and initial values: checkpoints move between them.
  chex_shapes = jax.tree.map(jnp.shape, params)
  assert jax.tree.map(jnp.shape, phase_params) == chex_shapes
  np.testing.assert_array_equal(params['params']['kernel'],
                                phase_params['params']['kernel'])
  params = _perturbed(params)  # non-zero bias, generic kernel

  y_stock = stock.apply(params, x)
  y_phase = phase.apply(params, x)
  expected_hw = ((4, 6) if kind == 'strided' else (16, 24))
  assert y_stock.shape == (2, *expected_hw, 6)
  np.testing.assert_allclose(y_phase, y_stock, atol=1e-5, rtol=1e-5)

  def loss(module):
    return lambda p, x: jnp.sum(jnp.sin(module.apply(p, x)))

  g_stock = jax.grad(loss(stock), argnums=(0, 1))(params, x)
  g_phase = jax.grad(loss(phase), argnums=(0, 1))(params, x)
  for a, b in zip(jax.tree.leaves(g_phase), jax.tree.leaves(g_stock)):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_space_to_depth_round_trip():
  x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
  s2d = layers.space_to_depth(x)
  assert s2d.shape == (2, 2, 3, 12)
  # Channel block (row 1, col 0) of output (0, 0) is input pixel (1, 0).
  np.testing.assert_array_equal(s2d[0, 0, 0, 6:9], x[0, 1, 0])
  y = layers.depth_to_space(s2d)
  np.testing.assert_array_equal(y, x)


def test_odd_size_is_refused():
  module = layers.PhaseConv(4, (5, 5))
  with pytest.raises(ValueError, match='even height and width'):
    module.init(jax.random.key(0), jnp.zeros((1, 7, 8, 3)))


def test_unknown_implementation():
  with pytest.raises(ValueError, match="'cudnn'"):
    layers.strided_conv(4, 5, 'cudnn', name='c')


def test_stock_is_flax():
  assert isinstance(layers.strided_conv(4, 5, 'xla', name='c'), nn.Conv)


def test_auto_picks_stock_for_large_inputs_and_phase_for_small():
  size = layers.AUTO_STOCK_MIN_SIZE
  assert isinstance(layers.strided_conv(4, 5, 'auto', name='c',
                                        input_size=size), nn.Conv)
  assert isinstance(layers.strided_conv(4, 5, 'auto', name='c',
                                        input_size=size // 2),
                    layers.PhaseConv)
  assert isinstance(layers.upsampling_conv(4, 5, 'auto', name='c',
                                           input_size=32),
                    layers.PhaseConvTranspose)
  with pytest.raises(ValueError, match='input_size'):
    layers.strided_conv(4, 5, 'auto', name='c')


def test_auto_picks_the_faster_forward_pass_for_inference():
  small = layers.AUTO_INFERENCE_PHASE_MAX_SIZE
  for size in (8, 64):
    assert isinstance(layers.strided_conv(4, 5, 'auto', name='c',
                                          input_size=size, train=False),
                      nn.Conv)
  assert isinstance(layers.upsampling_conv(4, 5, 'auto', name='c',
                                           input_size=small, train=False),
                    layers.PhaseConvTranspose)
  assert isinstance(layers.upsampling_conv(4, 5, 'auto', name='c',
                                           input_size=2 * small, train=False),
                    nn.ConvTranspose)
