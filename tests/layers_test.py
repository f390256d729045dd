"""Every formulation equals the stock Flax layers, values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inpainting import compilation
from inpainting import implementations
from inpainting import layers


def _perturbed(params):
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(7), len(leaves))
  return jax.tree.unflatten(tree, [
      x + 0.1 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])


@pytest.mark.parametrize('use_bias', [True, False])
@pytest.mark.parametrize('kernel_size', [2, 3, 4, 5])
@pytest.mark.parametrize('kind', ['strided', 'upsampling'])
@pytest.mark.parametrize('impl,features', [
    ('phase', 6), ('adjoint', 6), ('adjoint', layers.SUBPIXEL_MIN_FEATURES)])
def test_matches_stock(impl, features, kind, kernel_size, use_bias):
  which = 0 if kind == 'strided' else 1
  args = dict(features=features, kernel_size=(kernel_size, kernel_size),
              strides=2, padding='SAME', use_bias=use_bias)
  stock = implementations.CONVOLUTIONS['xla'][which](**args)
  other = implementations.CONVOLUTIONS[impl][which](**args)
  # Both widths for 'adjoint': below SUBPIXEL_MIN_FEATURES its transposed
  # convolutions run as one phase convolution, at and above it as four
  # sub-pixel ones (the strided convolution's input gradient likewise, by
  # its input width).
  x = jax.random.normal(jax.random.key(0), (2, 8, 12, features + 1))
  params = stock.init(jax.random.key(1), x)
  other_params = other.init(jax.random.key(1), x)
  # Same names, shapes and initial values: checkpoints move between them.
  chex_shapes = jax.tree.map(jnp.shape, params)
  assert jax.tree.map(jnp.shape, other_params) == chex_shapes
  np.testing.assert_array_equal(params['params']['kernel'],
                                other_params['params']['kernel'])
  params = _perturbed(params)  # non-zero bias, generic kernel

  y_stock = stock.apply(params, x)
  y_other = other.apply(params, x)
  expected_hw = ((4, 6) if kind == 'strided' else (16, 24))
  assert y_stock.shape == (2, *expected_hw, features)
  np.testing.assert_allclose(y_other, y_stock, atol=1e-5, rtol=1e-5)

  def loss(module):
    return lambda p, x: jnp.sum(jnp.sin(module.apply(p, x)))

  g_stock = jax.grad(loss(stock), argnums=(0, 1))(params, x)
  g_other = jax.grad(loss(other), argnums=(0, 1))(params, x)
  for a, b in zip(jax.tree.leaves(g_other), jax.tree.leaves(g_stock)):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_space_to_depth_round_trip():
  x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
  s2d = layers.space_to_depth(x)
  assert s2d.shape == (2, 2, 3, 12)
  # Channel block (row 1, col 0) of output (0, 0) is input pixel (1, 0).
  np.testing.assert_array_equal(s2d[0, 0, 0, 6:9], x[0, 1, 0])
  y = layers.depth_to_space(s2d)
  np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize('layer', [layers.PhaseConv, layers.AdjointConv])
def test_odd_size_is_refused(layer):
  module = layer(4, (5, 5))
  with pytest.raises(ValueError, match='even height and width'):
    module.init(jax.random.key(0), jnp.zeros((1, 7, 8, 3)))


@pytest.mark.parametrize('layer', [layers.AdjointConv,
                                   layers.PhaseConvTranspose])
@pytest.mark.parametrize('strides,padding', [(1, 'SAME'), ((2, 1), 'SAME'),
                                             (2, 'VALID')])
def test_other_strides_and_paddings_are_refused(layer, strides, padding):
  module = layer(4, (5, 5), strides=strides, padding=padding)
  with pytest.raises(ValueError, match='stride 2 with .SAME. padding only'):
    module.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))


def test_transposed_convolution_is_the_adjoint_of_the_strided_one():
  kernel = jax.random.normal(jax.random.key(0), (5, 5, 3, 4))
  x = jax.random.normal(jax.random.key(1), (2, 6, 8, 3))
  y = jax.random.normal(jax.random.key(2), (2, 12, 16, 4))
  transposed = jax.lax.conv_transpose(
      x, kernel, (2, 2), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  strided = layers._strided(y, layers._adjoint_kernel(kernel))  # pylint: disable=protected-access
  np.testing.assert_allclose(jnp.vdot(transposed, y), jnp.vdot(x, strided),
                             rtol=1e-5)


def test_subpixel_conv_transpose_spends_no_multiplies_on_zeros():
  def flops(fn):
    cost = jax.jit(fn).lower(jnp.zeros((1, 16, 16, 8)),
                             jnp.zeros((5, 5, 8, 16))).compile().cost_analysis()
    return (cost[0] if isinstance(cost, list) else cost)['flops']
  # Every one of the 16 x 16 inputs meets each of the 25 taps at most once
  # (fewer at the borders), where the phase form pays for 36.
  exact = 2 * 16 * 16 * 25 * 8 * 16
  assert flops(layers.subpixel_conv_transpose) <= exact
  assert flops(layers.phase_conv_transpose) > exact


@pytest.mark.parametrize('kernel_size', [2, 3, 4, 5, 6])
def test_transpose_input_span_is_the_rows_read(kernel_size):
  # Which inputs each output reads, from the stock layer itself: one-hot
  # inputs through a kernel of ones.
  size = 6
  eye = jnp.eye(size)[:, :, None, None]  # [input row i, rows, 1 column, 1]
  reads = jax.lax.conv_transpose(
      eye, jnp.ones((kernel_size, 1, 1, 1)), (2, 1), 'SAME',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))[..., 0, 0] != 0
  for start in range(2 * size):
    for stop in range(start + 1, 2 * size + 1):
      rows = np.flatnonzero(reads[:, start:stop].any(axis=1))
      assert layers.transpose_input_span(start, stop, kernel_size, size) == (
          rows.min(), rows.max() + 1), (start, stop)


@pytest.mark.parametrize('impl', ['phase', 'adjoint'])
def test_bias_gradient_is_a_dot_not_a_reduction(impl):
  # XLA:CPU runs a large reduction as a slow tree of reduce-windows; the
  # bias gradient, a sum over every position, is a product with ones.
  layer = implementations.CONVOLUTIONS[impl][0](
      features=32, kernel_size=(5, 5), strides=2, padding='SAME')
  x = jax.random.normal(jax.random.key(0), (8, 32, 32, 4))
  params = layer.init(jax.random.key(1), x)

  def bias_grad(params, x):
    return jax.grad(lambda p: jnp.sum(jnp.sin(layer.apply(p, x))))(
        params)['params']['bias']

  hlo = jax.jit(bias_grad).lower(params, x).compile(
      compilation.compiler_options('cpu')).as_text()
  assert 'reduce-window' not in hlo
  assert 'reduce(' not in hlo
  assert 'dot(' in hlo
