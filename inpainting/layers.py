"""Stride-2 convolutions in interchangeable formulations.

The layer classes here hold exactly the parameters of `flax.linen.Conv`
and `flax.linen.ConvTranspose` ('kernel' [kh, kw, in, out] and 'bias' [out],
same initialisers), take the same constructor arguments, and compute the
same outputs, so a checkpoint moves freely between implementations and
platforms. Which one a model uses is the config field `model.layers.conv_impl`,
resolved in `implementations.py`:

- 'xla': the stock Flax layers.
- 'phase': phase-decomposed forms whose forward *and* backward passes are
  stride-1 convolutions. XLA:CPU is slow at lhs-dilated convolutions, which
  are the input gradient of a strided convolution and the forward pass of a
  transposed one. A stride-2 convolution equals a stride-1 convolution of
  the space-to-depth input with a rearranged kernel; a stride-2 transposed
  convolution equals a stride-1 convolution with 4x the output channels
  followed by depth-to-space (sub-pixel convolution). Both spend 36
  multiplies on a 5x5 kernel's 25 taps (the rearranged kernels hold zeros).
- 'adjoint' (what 'auto' picks on CPU): every pass by a fast, exact
  formulation, wired with `jax.custom_vjp`. A stride-2 transposed convolution is the adjoint of a stride-2 convolution
  with the flipped, channel-swapped kernel (`_adjoint_kernel`); so the
  slow passes of either are fast passes of the other: the strided
  convolution's input gradient is a transposed convolution computed as
  four exact sub-pixel convolutions (`subpixel_conv_transpose`), and the
  transposed convolution's input and kernel gradients are the strided
  convolution's forward pass and kernel gradient.

All are for stride 2 and 'SAME' padding, the only case the models use.
Per layer, forward + both gradients at batch 64 on a 2-core CPU (ms,
phase / adjoint; `tools/benchmark.py` has the whole step): strided 32 px
276 / 168, 16 px 249 / 154, 8 px 153 / 80; transposed 4 px 276 / 166, 8 px
672 / 306, 16 px 424 / 283, 32 px (3 outputs) 101 / 103.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from inpainting import normalization

# A transposed convolution with fewer output channels than this runs its
# forward pass as the single phase convolution rather than as four
# sub-pixel ones, which are too narrow to run well: 32 px, 128 -> 3
# channels, batch 256, 2-core CPU: 101 ms phase, 290 ms sub-pixel (at 64
# and more channels sub-pixel wins, e.g. 8 px 512 -> 128: 618 / 444 ms).
SUBPIXEL_MIN_FEATURES = 16
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


def _check_even(x: jax.Array, what: str) -> None:
  if x.shape[1] % 2 or x.shape[2] % 2:
    raise ValueError(f'{what} needs even height and width, got {x.shape}.')


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
  _check_even(x, 'phase_conv')
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


def transpose_input_span(start: int, stop: int, kernel_size: int,
                         size: int) -> tuple[int, int]:
  """The input rows [lo, hi) that a transposed convolution's outputs read.

  For the stride-2 'SAME' transposed convolution of an input of `size` rows
  (any implementation here, or Flax's): output rows [start, stop) read only
  input rows [lo, hi), clipped to the input. The layer applied to just those
  rows gives output rows from 2 * lo on, and its rows start - 2 * lo to
  stop - 2 * lo equal the whole layer's rows start to stop: the zeros that
  pad the crop stand only for rows those outputs do not read. The same holds
  for columns.
  """
  pad = _transpose_pad_before(kernel_size)
  # Output o reads input i when o <= pad + 2 i <= o + kernel_size - 1.
  lo = -((pad - start) // 2)  # ceil((start - pad) / 2)
  hi = (stop + kernel_size - 2 - pad) // 2 + 1
  return max(lo, 0), min(hi, size)


def phase_conv_transpose(x: jax.Array, kernel: jax.Array,
                         precision=None) -> jax.Array:
  """`lax.conv_transpose` with stride 2 and 'SAME' padding, as sub-pixel conv.

  Args:
    x: [B, H, W, C].
    kernel: [kh, kw, C, F], as `flax.linen.ConvTranspose` holds it (not
      flipped: `transpose_kernel=False`).
    precision: passed to the convolution.

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
  return depth_to_space(
      _conv_stride1(x, k, _padding(taps_y), _padding(taps_x), precision))


def _strided(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The stock stride-2 'SAME' convolution."""
  return jax.lax.conv_general_dilated(
      x, kernel, window_strides=(_STRIDE, _STRIDE), padding='SAME',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _adjoint_kernel(kernel: jax.Array) -> jax.Array:
  """Flipped in space, input and output channels swapped (an involution).

  With it, the stride-2 'SAME' transposed convolution with `kernel`
  (`transpose_kernel=False`, as Flax holds it) is the adjoint of the
  stride-2 'SAME' convolution with `_adjoint_kernel(kernel)`, and back.
  """
  return jnp.swapaxes(kernel[::-1, ::-1], 2, 3)


def _subpixel_taps(kernel_size: int, phase: int):
  """(kernel taps, stride-1 padding) of output phase `phase` along one axis.

  Output o = 2i + pad_before - j of the transposed convolution gets input i
  times kernel tap j; so output 2m + phase sums input m + d times tap
  j = 2d - phase + pad_before, over the taps where d is an integer.
  """
  pad_before = _transpose_pad_before(kernel_size)
  taps = [j for j in range(kernel_size) if (j + phase - pad_before) % 2 == 0]
  offsets = [(j + phase - pad_before) // 2 for j in taps]
  return np.array(taps), (-offsets[0], offsets[-1])


def subpixel_conv_transpose(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """`lax.conv_transpose` (stride 2, 'SAME') as four stride-1 convolutions.

  One per output phase (even/odd row, even/odd column), each with only the
  kernel taps that reach it (3x3, 3x2, 2x3, 2x2 of a 5x5 kernel), so no
  multiply is spent on the zeros of the dilated input, then interleaved.
  Unlike `phase_conv_transpose` (one convolution over a zero-padded 3x3
  tap grid: 36 taps for 25), it does exactly the work of the original.
  """
  kh, kw = kernel.shape[:2]
  rows = []
  for r in (0, 1):
    taps_y, pad_y = _subpixel_taps(kh, r)
    cols = []
    for c in (0, 1):
      taps_x, pad_x = _subpixel_taps(kw, c)
      cols.append(_conv_stride1(x, kernel[taps_y][:, taps_x], pad_y, pad_x,
                                None))
    rows.append(jnp.stack(cols, axis=3))  # [B, H, W, 2 (column phase), F]
  y = jnp.stack(rows, axis=2)  # [B, H, 2 (row phase), W, 2, F]
  b, h, _, w, _, f = y.shape
  return y.reshape(b, 2 * h, 2 * w, f)


def _fast_conv_transpose(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The faster forward form for the kernel's output width."""
  if kernel.shape[-1] < SUBPIXEL_MIN_FEATURES:
    return phase_conv_transpose(x, kernel)
  return subpixel_conv_transpose(x, kernel)


def adjoint_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The stride-2 'SAME' convolution, its input gradient a sub-pixel conv.

  Forward and kernel gradient are XLA's own (fast); the input gradient,
  which XLA computes as a slow lhs-dilated convolution, is the adjoint
  transposed convolution (`_fast_conv_transpose`).

  Args:
    x: [B, H, W, C] with H and W even ('SAME' pads an odd size
      differently, and its adjoint is then not the 'SAME' transposed
      convolution).
    kernel: [kh, kw, C, F].
  """
  _check_even(x, 'adjoint_conv')
  return _adjoint_conv(x, kernel)


@jax.custom_vjp
def _adjoint_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  return _strided(x, kernel)


def _adjoint_conv_fwd(x, kernel):
  return _strided(x, kernel), (x, kernel)


def _adjoint_conv_bwd(residuals, dy):
  x, kernel = residuals
  dx = _fast_conv_transpose(dy, _adjoint_kernel(kernel))
  _, kernel_vjp = jax.vjp(lambda k: _strided(x, k), kernel)
  return dx.astype(x.dtype), kernel_vjp(dy)[0]


_adjoint_conv.defvjp(_adjoint_conv_fwd, _adjoint_conv_bwd)


@jax.custom_vjp
def adjoint_conv_transpose(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The stride-2 'SAME' transposed convolution, every pass a fast one.

  Forward: `_fast_conv_transpose`. Being the adjoint of the strided
  convolution S with the adjoint kernel K', its input gradient is S(dy, K')
  and its kernel gradient is S's kernel gradient at input dy and output
  cotangent x, mapped back through `_adjoint_kernel`: both XLA's own fast
  passes.
  """
  return _fast_conv_transpose(x, kernel)


def _adjoint_conv_transpose_fwd(x, kernel):
  return _fast_conv_transpose(x, kernel), (x, kernel)


def _adjoint_conv_transpose_bwd(residuals, dy):
  x, kernel = residuals
  dx, adjoint_vjp = jax.vjp(lambda k: _strided(dy, k), _adjoint_kernel(kernel))
  return dx.astype(x.dtype), _adjoint_kernel(adjoint_vjp(x)[0])


adjoint_conv_transpose.defvjp(_adjoint_conv_transpose_fwd,
                              _adjoint_conv_transpose_bwd)


class _Stride2(nn.Module):
  """The stock layers' arguments that the models pass; stride 2, 'SAME' only.

  So that a layer here can be passed to a model as its `conv` /
  `conv_transpose` in place of Flax's.
  """
  features: int
  kernel_size: Sequence[int]
  strides: int | Sequence[int] = _STRIDE
  padding: str = 'SAME'
  use_bias: bool = True
  dtype: Any = None
  kernel_init: Any = nn.initializers.lecun_normal()  # Flax's default

  def _check_stride_and_padding(self) -> None:
    strides = ((self.strides,) * 2 if isinstance(self.strides, int)
               else tuple(self.strides))
    if strides != (_STRIDE, _STRIDE) or self.padding != 'SAME':
      raise ValueError(
          f'{type(self).__name__} computes stride {_STRIDE} with \'SAME\' '
          f'padding only, not strides={self.strides!r}, '
          f'padding={self.padding!r}.')


class _Layer(_Stride2):
  """Parameters laid out exactly as the stock Flax convolution's."""
  param_dtype: Any = jnp.float32

  def _compute(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
    raise NotImplementedError

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    self._check_stride_and_padding()
    kernel = self.param('kernel', self.kernel_init,
                        (*self.kernel_size, x.shape[-1], self.features),
                        self.param_dtype)
    if self.use_bias:
      bias = self.param('bias', nn.initializers.zeros_init(),
                        (self.features,), self.param_dtype)
    else:
      bias = jnp.zeros((), self.param_dtype)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias,
                                              dtype=self.dtype)
    y = self._compute(x, kernel)
    if self.use_bias:
      # The bias gradient, a sum over every position, as a dot (XLA:CPU
      # reduces slowly: 38 ms of the step for the critic's first layer).
      y = y + normalization.broadcast_channels(bias, y.shape)
    return y


class PhaseConv(_Layer):
  """Stride-2 'SAME' convolution computed by `phase_conv`."""

  def _compute(self, x, kernel):
    return phase_conv(x, kernel)


class PhaseConvTranspose(_Layer):
  """Stride-2 'SAME' transposed convolution computed by sub-pixel conv."""

  def _compute(self, x, kernel):
    return phase_conv_transpose(x, kernel)


class AdjointConv(_Layer):
  """Stride-2 'SAME' convolution computed by `adjoint_conv`."""

  def _compute(self, x, kernel):
    return adjoint_conv(x, kernel)


class AdjointConvTranspose(_Layer):
  """Stride-2 'SAME' transposed convolution: `adjoint_conv_transpose`."""

  def _compute(self, x, kernel):
    return adjoint_conv_transpose(x, kernel)


class ResizeConv(_Stride2):
  """2x upsampling then a stride-1 'SAME' convolution (resize-convolution).

  The output shape of a stride-2 transposed convolution without its
  checkerboard: a transposed convolution whose kernel the stride does not
  divide (the seed's 5x5) gives neighbouring output pixels different
  numbers of taps, a grid pattern (Odena et al. 2016, "Deconvolution and
  checkerboard artifacts"). Takes the transposed convolution's arguments,
  so it can be a model's `conv_transpose`; its parameters are those of the
  stride-1 convolution, under 'conv'. Stride-1 convolutions are fast on
  every backend: the stock layer serves.
  """
  method: str = 'nearest'  # or 'bilinear' (jax.image.resize)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    self._check_stride_and_padding()
    b, h, w, c = x.shape
    x = jax.image.resize(x, (b, _STRIDE * h, _STRIDE * w, c), self.method)
    return nn.Conv(self.features, self.kernel_size, strides=1, padding='SAME',
                   use_bias=self.use_bias, dtype=self.dtype,
                   kernel_init=self.kernel_init, name='conv')(x)


def resize_conv_input_span(start: int, stop: int, kernel_size: int,
                           size: int, method: str) -> tuple[int, int]:
  """The input rows [lo, hi) that `ResizeConv`'s outputs [start, stop) read.

  As `transpose_input_span`: the layer applied to just those rows gives
  output rows from 2 * lo on, equal to the whole layer's. The convolution
  reads upsampled rows [start - (k - 1) // 2, stop + k // 2). Nearest
  upsampled row u is input row u // 2; bilinear row u (half-pixel centres)
  mixes input rows floor(u / 2 - 1/4) and the next, and of a crop's
  upsampled rows only those not at its ends have both, hence one more
  input row each side.
  """
  lo = max(start - (kernel_size - 1) // 2, 0)
  hi = min(stop + kernel_size // 2, 2 * size)
  if method == 'nearest':
    return lo // 2, (hi - 1) // 2 + 1
  return max((lo - 1) // 2, 0), min(-(-(hi + 1) // 2), size)
