"""Stride-2 convolutions in two interchangeable formulations.

`Conv` and `ConvTranspose` hold exactly the parameters of `flax.linen.Conv`
and `flax.linen.ConvTranspose` ('kernel' [kh, kw, in, out] and 'bias' [out],
same initialisers) and compute the same outputs, so a checkpoint moves freely
between implementations and platforms. The implementation is a config field:

- 'xla': the stock Flax layers.
- 'phase': phase-decomposed forms whose forward *and* backward passes are
  stride-1 convolutions. XLA:CPU is slow at lhs-dilated convolutions, which
  are the input gradient of a strided convolution and the forward pass of a
  transposed one. A stride-2 convolution equals a stride-1 convolution of
  the space-to-depth input with a rearranged kernel; a stride-2 transposed
  convolution equals a stride-1 convolution with 4x the output channels
  followed by depth-to-space (sub-pixel convolution).

- 'auto': per layer, whichever of the two is faster on XLA:CPU for the
  layer's input size and for what the pass is: training (forward and
  backward; AUTO_STOCK_MIN_SIZE) or inference (forward only, `train=False`;
  AUTO_INFERENCE_PHASE_MAX_SIZE).

Both formulations are for stride 2 and 'SAME' padding, the only case the
models use.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

IMPLEMENTATIONS = ('xla', 'phase', 'auto')
# With 'auto', a strided convolution whose input is at least this many
# pixels high runs as the stock layer, a smaller one as the phase layer; a
# transposed convolution is always the phase layer. Measured per layer on a
# 2-core CPU (tools/benchmark.py has the end-to-end figures): XLA's own
# strided convolution and its gradients win at 64, 32 and 16 pixels, while
# its input gradient at 8 pixels, and its transposed convolutions at any
# size, are many times slower than the phase forms.
AUTO_STOCK_MIN_SIZE = 16
# With 'auto' and train=False (inference, evaluation: no gradients), every
# strided convolution runs as the stock layer, and a transposed one as the
# phase layer only if its input is at most this many pixels high. Forward
# passes alone, batch 256, 2-core CPU (ms, stock / phase): strided 64 px
# 95 / 120, 32 px 271 / 424, 16 px 270 / 422, 8 px 225 / 301; transposed
# 4 px 11,928 / 387, 8 px 567 / 848, 16 px 725 / 751, 32 px 142 / 289.
AUTO_INFERENCE_PHASE_MAX_SIZE = 4
# A phase transposed convolution whose input is at most this many pixels
# high computes its kernel gradient as one matmul per kernel tap
# (`_conv_stride1_matmul_grad`): XLA:CPU's own kernel gradient of these
# convolutions runs at 17-30 GFLOP/s. Forward + kernel gradient, batch 64,
# 2-core CPU (ms, XLA's / matmuls): 4 px 308 / 152, 8 px 481 / 366, 16 px
# 1,005 / 399, but 32 px (3 output channels) 297 / 344.
MATMUL_KERNEL_GRAD_MAX_SIZE = 16
_STRIDE = 2


def _phase_taps(kernel_size: int, offset: int, sign: int):
  """Kernel taps of each output/input phase along one axis.

  For both formulations, the tap j of the original kernel that links a
  stride-1 window position `a` and phase `r` is `j = 2 * (a + q_min) + offset
  + sign * r`.

  Returns:
    (indices [A, 2] into the kernel axis, valid [A, 2] float mask, q_min):
    window position a of the stride-1 convolution reads offset a + q_min.
  """
  qs = [(j - offset - sign * r) // 2
        for r in (0, 1) for j in range(kernel_size)
        if (j - offset - sign * r) % 2 == 0]
  q_min, q_max = min(qs), max(qs)
  a = np.arange(q_max - q_min + 1)[:, None]
  r = np.arange(2)[None, :]
  j = 2 * (a + q_min) + offset + sign * r
  valid = (j >= 0) & (j < kernel_size)
  return np.where(valid, j, 0), valid.astype(np.float32), q_min


def _rearrange_kernel(kernel: jax.Array, taps_y, taps_x) -> jax.Array:
  """Gathers kernel [kh, kw, C, F] into [Ay, 2, Ax, 2, C, F] phase taps."""
  (iy, vy, _), (ix, vx, _) = taps_y, taps_x
  k = kernel[iy][:, :, ix]
  mask = vy[:, :, None, None] * vx[None, None, :, :]
  return k * mask[..., None, None].astype(kernel.dtype)


def _padding(taps) -> tuple[int, int]:
  indices, _, q_min = taps
  return -q_min, indices.shape[0] - 1 + q_min


def _conv_stride1(x, kernel, padding_y, padding_x, precision):
  return jax.lax.conv_general_dilated(
      x, kernel, window_strides=(1, 1), padding=(padding_y, padding_x),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'), precision=precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_stride1_matmul_grad(x, kernel, padding_y, padding_x):
  """`_conv_stride1` whose kernel gradient is one matmul per kernel tap.

  d kernel[i, j] = sum over batch and positions of x_padded[., y + i, x + j,
  :]^T dy[., y, x, :]: a [C, N] x [N, F] matmul per tap (N = batch x
  positions), which XLA:CPU runs several times faster than the convolution
  it otherwise uses. The input gradient is XLA's own.
  """
  return _conv_stride1(x, kernel, padding_y, padding_x, None)


def _conv_stride1_matmul_grad_fwd(x, kernel, padding_y, padding_x):
  return _conv_stride1(x, kernel, padding_y, padding_x, None), (x, kernel)


def _conv_stride1_matmul_grad_bwd(padding_y, padding_x, residuals, dy):
  x, kernel = residuals
  _, input_vjp = jax.vjp(
      lambda x: _conv_stride1(x, kernel, padding_y, padding_x, None), x)
  dx, = input_vjp(dy)
  kh, kw, c, f = kernel.shape
  padded = jnp.pad(x, ((0, 0), padding_y, padding_x, (0, 0)))
  h, w = dy.shape[1:3]
  dy_rows = dy.reshape(-1, f)
  taps = [jnp.dot(padded[:, i:i + h, j:j + w, :].reshape(-1, c).T, dy_rows)
          for i in range(kh) for j in range(kw)]
  return dx, jnp.stack(taps).reshape(kh, kw, c, f).astype(kernel.dtype)


_conv_stride1_matmul_grad.defvjp(_conv_stride1_matmul_grad_fwd,
                                 _conv_stride1_matmul_grad_bwd)


def space_to_depth(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H/2, W/2, 4C], channels ordered (row, col, c)."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h // 2, w // 2, 4 * c)


def depth_to_space(x: jax.Array) -> jax.Array:
  """[B, H, W, 4F] (channels ordered (row, col, f)) -> [B, 2H, 2W, F]."""
  b, h, w, c4 = x.shape
  f = c4 // 4
  x = x.reshape(b, h, w, 2, 2, f).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, 2 * h, 2 * w, f)


def phase_conv(x: jax.Array, kernel: jax.Array, precision=None) -> jax.Array:
  """`lax.conv` with stride 2 and 'SAME' padding, via space-to-depth.

  Args:
    x: [B, H, W, C] with H and W even.
    kernel: [kh, kw, C, F].
    precision: passed to the convolution.

  Returns:
    [B, H/2, W/2, F], equal to the strided convolution.
  """
  kh, kw, c, f = kernel.shape
  if x.shape[1] % 2 or x.shape[2] % 2:
    raise ValueError(f'phase_conv needs even height and width, got {x.shape}.')
  # 'SAME' for stride 2 on an even size pads k - 2 in all, the smaller half
  # before: output i reads input 2i + j - pad_before.
  taps_y = _phase_taps(kh, (kh - 2) // 2, 1)
  taps_x = _phase_taps(kw, (kw - 2) // 2, 1)
  k = _rearrange_kernel(kernel, taps_y, taps_x)  # [Ay, 2, Ax, 2, C, F]
  ay, ax = k.shape[0], k.shape[2]
  k = k.transpose(0, 2, 1, 3, 4, 5).reshape(ay, ax, 4 * c, f)
  return _conv_stride1(space_to_depth(x), k, _padding(taps_y),
                       _padding(taps_x), precision)


def _transpose_pad_before(kernel_size: int) -> int:
  """The leading pad of `lax.conv_transpose(..., 'SAME')` for stride 2."""
  if _STRIDE > kernel_size - 1:
    return kernel_size - 1
  return int(np.ceil((kernel_size + _STRIDE - 2) / 2))


def phase_conv_transpose(x: jax.Array, kernel: jax.Array,
                         precision=None,
                         matmul_kernel_grad: bool = False) -> jax.Array:
  """`lax.conv_transpose` with stride 2 and 'SAME' padding, as sub-pixel conv.

  Args:
    x: [B, H, W, C].
    kernel: [kh, kw, C, F], as `flax.linen.ConvTranspose` holds it (not
      flipped: `transpose_kernel=False`).
    precision: passed to the convolution (not with matmul_kernel_grad).
    matmul_kernel_grad: compute the kernel gradient as per-tap matmuls
      (see MATMUL_KERNEL_GRAD_MAX_SIZE); the same values.

  Returns:
    [B, 2H, 2W, F], equal to the transposed convolution.
  """
  kh, kw, c, f = kernel.shape
  # Output 2i + r reads the dilated, padded input at 2i + r + j, which holds
  # input (2i + r + j - pad_before) / 2 when that is an integer.
  taps_y = _phase_taps(kh, _transpose_pad_before(kh), -1)
  taps_x = _phase_taps(kw, _transpose_pad_before(kw), -1)
  k = _rearrange_kernel(kernel, taps_y, taps_x)  # [Ay, 2, Ax, 2, C, F]
  ay, ax = k.shape[0], k.shape[2]
  k = k.transpose(0, 2, 4, 1, 3, 5).reshape(ay, ax, c, 4 * f)
  if matmul_kernel_grad:
    y = _conv_stride1_matmul_grad(x, k, _padding(taps_y), _padding(taps_x))
  else:
    y = _conv_stride1(x, k, _padding(taps_y), _padding(taps_x), precision)
  return depth_to_space(y)


class _PhaseLayer(nn.Module):
  """Parameters laid out exactly as the stock Flax convolution's."""
  features: int
  kernel_size: Sequence[int]
  use_bias: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32

  def _compute(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
    raise NotImplementedError

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (*self.kernel_size, x.shape[-1], self.features),
                        self.param_dtype)
    if self.use_bias:
      bias = self.param('bias', nn.initializers.zeros_init(),
                        (self.features,), self.param_dtype)
    else:
      bias = jnp.zeros((), self.param_dtype)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias,
                                              dtype=self.dtype)
    return self._compute(x, kernel) + bias


class PhaseConv(_PhaseLayer):
  """Stride-2 'SAME' convolution computed by `phase_conv`."""

  def _compute(self, x, kernel):
    return phase_conv(x, kernel)


class PhaseConvTranspose(_PhaseLayer):
  """Stride-2 'SAME' transposed convolution computed by sub-pixel conv."""
  matmul_kernel_grad: bool = False

  def _compute(self, x, kernel):
    return phase_conv_transpose(x, kernel,
                                matmul_kernel_grad=self.matmul_kernel_grad)


def _check_impl(impl: str):
  if impl not in IMPLEMENTATIONS:
    raise ValueError(f'Unknown convolution implementation {impl!r}; '
                     f'expected one of {IMPLEMENTATIONS}.')


def _resolve(impl: str, transposed: bool, input_size: int | None,
             train: bool) -> str:
  """'xla' or 'phase' for a layer; 'auto' picks by size and pass."""
  _check_impl(impl)
  if impl != 'auto':
    return impl
  if input_size is None:
    raise ValueError("conv_impl='auto' needs the layer's input_size.")
  if not train:
    small = input_size <= AUTO_INFERENCE_PHASE_MAX_SIZE
    return 'phase' if transposed and small else 'xla'
  if transposed:
    return 'phase'
  return 'xla' if input_size >= AUTO_STOCK_MIN_SIZE else 'phase'


def strided_conv(features: int, kernel_size: int, impl: str, name: str,
                 use_bias: bool = True, dtype=None,
                 input_size: int | None = None,
                 train: bool = True) -> nn.Module:
  """A stride-2 'SAME' convolution layer of the chosen implementation.

  Args:
    features: output channels.
    kernel_size: square kernel side.
    impl: one of IMPLEMENTATIONS.
    name: the module's name (the parameters are the same for all).
    use_bias: whether it has a bias.
    dtype: the computation dtype.
    input_size: the input's height; needed by 'auto'.
    train: whether gradients will be taken (for 'auto').
  """
  if _resolve(impl, False, input_size, train) == 'xla':
    return nn.Conv(features, (kernel_size, kernel_size), strides=_STRIDE,
                   padding='SAME', use_bias=use_bias, dtype=dtype, name=name)
  return PhaseConv(features, (kernel_size, kernel_size), use_bias=use_bias,
                   dtype=dtype, name=name)


def upsampling_conv(features: int, kernel_size: int, impl: str, name: str,
                    use_bias: bool = True, dtype=None,
                    input_size: int | None = None,
                    train: bool = True) -> nn.Module:
  """A stride-2 'SAME' transposed convolution (arguments: `strided_conv`)."""
  if _resolve(impl, True, input_size, train) == 'xla':
    return nn.ConvTranspose(features, (kernel_size, kernel_size),
                            strides=(_STRIDE, _STRIDE), padding='SAME',
                            use_bias=use_bias, dtype=dtype, name=name)
  matmul = (input_size is not None and
            input_size <= MATMUL_KERNEL_GRAD_MAX_SIZE)
  return PhaseConvTranspose(features, (kernel_size, kernel_size),
                            use_bias=use_bias, dtype=dtype, name=name,
                            matmul_kernel_grad=matmul)
