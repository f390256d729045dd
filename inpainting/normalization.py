"""BatchNorm whose per-channel sums are matrix products.

`BatchNorm` holds exactly the variables of `flax.linen.BatchNorm` (params
'scale' and 'bias', batch_stats 'mean' and 'var', same initialisers) and
computes what it computes with its defaults (`use_fast_variance`: the
variance is E[x^2] - E[x]^2, statistics in float32, averaged over
`axis_name` in one `pmean`), so checkpoints move between the two. Which
one a model uses is the config field `model.layers.batch_norm_impl`, resolved in
`implementations.py`:

- 'flax': `flax.linen.BatchNorm`.
- 'dot' (what 'auto' picks on CPU): every sum over the batch and spatial
  positions, in the forward pass and in the gradient, is a product with a
  vector of ones. XLA:CPU rewrites a large reduction into a tree of
  `reduce-window`s (for accuracy) and runs those slowly; its dot kernels
  do the same sums 3-10x faster. Per-channel sums of a [64, 32, 32, 64]
  tensor on a 2-core CPU: 4.95 ms reduction, 1.73 ms dot; [64, 8, 8,
  256]: 2.46 / 0.26 ms. In the training step the reductions took about
  250 ms of 2.4 s.

Training-mode BatchNorm's gradient is written by hand
(`_train_batch_norm`, a `jax.custom_vjp`): the channel sums of the
cotangent and of the cotangent times x - mean, then one pass over x;
autodiff of the composed statistics made more passes over the activations
(the training step at batch 64 went from 2.21 to 2.12 s a step with this
and the bias gradients of `layers.py` as dots; `tools/benchmark.py`, see
docs/performance.md). In inference mode autodiff differentiates the plain
formula, its sums from `broadcast_channels`, whose transpose (the sum of
its cotangent over every position) is the same ones-vector product.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def channel_sum(x: jax.Array) -> jax.Array:
  """Sum over every axis but the last, as (ones vector) @ x, in float32.

  Args:
    x: [..., C].

  Returns:
    [C] float32.
  """
  channels = x.shape[-1]
  flat = x.reshape(-1, channels)
  # In two levels, each a dot: m partial sums of n / m terms, then their
  # sum. A dot accumulates in sequence, so one over all n terms errs by up
  # to about n * 1e-7 relative (1e-5 at 64x32x32 positions); two near
  # sqrt(n) each err about 20 times less, and run no slower.
  n = flat.shape[0]
  m = _divisor_near_sqrt(n)
  if m > 1:
    flat = jnp.dot(jnp.ones(m, flat.dtype), flat.reshape(m, -1),
                   preferred_element_type=jnp.float32).reshape(-1, channels)
  return jnp.dot(jnp.ones(flat.shape[0], flat.dtype), flat,
                 preferred_element_type=jnp.float32)


def _divisor_near_sqrt(n: int) -> int:
  """The largest divisor of n that is at most sqrt(n)."""
  return max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def broadcast_channels(v: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """v [C] broadcast to shape [..., C]; its gradient sums by `channel_sum`.

  `x + broadcast_channels(bias, x.shape)` is `x + bias` whose bias
  gradient is a dot, not a slow reduction.
  """
  return jnp.broadcast_to(v, shape)


def _broadcast_channels_fwd(v, shape):
  return broadcast_channels(v, shape), jnp.zeros((), v.dtype)


def _broadcast_channels_bwd(shape, like_v, cotangent):
  del shape
  return (channel_sum(cotangent).astype(like_v.dtype),)


broadcast_channels.defvjp(_broadcast_channels_fwd, _broadcast_channels_bwd)


def _train_forward(x, shift, scale, bias, axis_name, epsilon):
  """(y, mean, var, residuals) of training-mode BatchNorm.

  The statistics as `flax.linen.BatchNorm` computes them by default: var =
  E[x^2] - E[x]^2, clipped at 0, the two means averaged over `axis_name`
  together; but of x - shift, a per-channel constant near the mean (the
  running mean), added back to the mean after. The same function, with
  less rounding: the sums of a matrix product are less accurate than XLA's
  reduction tree (relative errors of 1e-6 to 1e-5 for 16k terms where a
  reduction has 1e-7), and E[x^2] - E[x]^2 multiplies their error by
  (mean / std)^2; shifting by about the mean leaves little to amplify.
  """
  xf = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  shift = shift.astype(xf.dtype)
  count = xf.size // xf.shape[-1]
  # The first sum reads x itself (no pass writing x - shift); the shift
  # matters for the second, whose cancellation it prevents, and barely for
  # the first: m1 near zero enters var only as m1^2.
  means = jnp.stack([channel_sum(xf) / count - shift,
                     channel_sum(jnp.square(xf - shift)) / count])
  if axis_name is not None:
    means = jax.lax.pmean(means, axis_name)
  m1, m2 = means[0], means[1]
  spread = m2 - jnp.square(m1)
  var = jnp.maximum(0.0, spread)
  mean = m1 + shift
  rstd = jax.lax.rsqrt(var + epsilon)
  multiplier = rstd * scale
  y = (xf - mean) * multiplier + bias
  residuals = (x, shift, scale, bias, m1, mean, rstd, multiplier, spread > 0)
  return y, mean, var, residuals


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _train_batch_norm(x, shift, scale, bias, axis_name, epsilon):
  """Training-mode BatchNorm over the last axis: (y in float32, mean, var).

  What `_train_forward` computes, differentiated by hand
  (`_train_batch_norm_bwd`) so that the gradient takes two channel sums
  and one pass over x, not the many passes of the composed autodiff. mean
  and var are for the running averages: no gradient flows back through
  them (the module stops it), and shift gets none.
  """
  return _train_forward(x, shift, scale, bias, axis_name, epsilon)[:3]


def _train_batch_norm_fwd(x, shift, scale, bias, axis_name, epsilon):
  y, mean, var, residuals = _train_forward(x, shift, scale, bias, axis_name,
                                           epsilon)
  return (y, mean, var), residuals


def _train_batch_norm_bwd(axis_name, epsilon, residuals, cotangents):
  """The gradient autodiff gives `_train_forward`, in fewer passes.

  With y = (x - mean) * a + bias, a = rstd * scale, rstd = (var +
  epsilon)^-1/2, var = m2 - m1^2, mean = m1 + shift, and (m1, m2) the
  pmean over devices of the local means of x - shift and its square:
  dx = a dy + G1 + 2 (x - shift) G2, where (G1, G2) is the pmean (the
  transpose of pmean) of the cotangents of (m1, m2), divided by the local
  count. Those take the channel sums of dy and of dy (x - mean).
  """
  del epsilon
  x, shift, scale, bias, m1, mean, rstd, multiplier, unclipped = residuals
  dy = cotangents[0]
  xf = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  dy = dy.astype(xf.dtype)
  count = x.size // x.shape[-1]
  d_bias = channel_sum(dy)
  d_multiplier = channel_sum(dy * (xf - mean))
  d_var = jnp.where(unclipped, -0.5 * rstd ** 3 * scale * d_multiplier, 0.0)
  d_means = jnp.stack([-multiplier * d_bias - 2.0 * m1 * d_var, d_var])
  if axis_name is not None:
    d_means = jax.lax.pmean(d_means, axis_name)
  d_means = d_means / count
  dx = dy * multiplier + d_means[0] + 2.0 * (xf - shift) * d_means[1]
  return (dx.astype(x.dtype), jnp.zeros_like(shift),
          (rstd * d_multiplier).astype(scale.dtype),
          d_bias.astype(bias.dtype))


_train_batch_norm.defvjp(_train_batch_norm_fwd, _train_batch_norm_bwd)


class BatchNorm(nn.Module):
  """`flax.linen.BatchNorm` over the last axis, with matmul sums.

  Attributes are those of `flax.linen.BatchNorm` that the models set.
  """
  use_running_average: bool = False
  momentum: float = 0.99
  epsilon: float = 1e-5
  axis_name: str | None = None
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    running_mean = self.variable('batch_stats', 'mean', jnp.zeros,
                                 (features,), jnp.float32)
    running_var = self.variable('batch_stats', 'var', jnp.ones,
                                (features,), jnp.float32)
    scale = self.param('scale', nn.initializers.ones, (features,),
                       self.param_dtype)
    bias = self.param('bias', nn.initializers.zeros, (features,),
                      self.param_dtype)
    dtype = self.dtype or jnp.result_type(x, scale)
    if self.use_running_average:
      multiplier = (jax.lax.rsqrt(running_var.value + self.epsilon) *
                    scale)
      y = ((x - broadcast_channels(running_mean.value, x.shape)) *
           broadcast_channels(multiplier, x.shape) +
           broadcast_channels(bias, x.shape))
      return y.astype(dtype)
    y, mean, var = _train_batch_norm(
        x, jax.lax.stop_gradient(running_mean.value), scale, bias,
        self.axis_name, self.epsilon)
    if not self.is_initializing():
      mean, var = jax.lax.stop_gradient((mean, var))
      running_mean.value = (self.momentum * running_mean.value +
                            (1 - self.momentum) * mean)
      running_var.value = (self.momentum * running_var.value +
                           (1 - self.momentum) * var)
    return y.astype(dtype)
