"""The layers a model is built with, chosen once per run and platform.

`models.py` writes the seed's network with three building blocks passed in,
as flax's ResNet takes `conv` and `norm`: a stride-2 convolution, a
stride-2 transposed convolution and a BatchNorm. This module turns the
config's names for them into module classes, in one place:

- `model.layers.conv_impl`: 'xla' (`flax.linen.Conv` / `ConvTranspose`), 'phase'
  or 'adjoint' (the same layers computed by faster formulations on XLA:CPU,
  `layers.py`);
- `model.layers.batch_norm_impl`: 'flax' (`flax.linen.BatchNorm`) or 'dot' (the
  same, its sums as matrix products, `normalization.py`);
- 'auto' (the default of both): what was measured fastest on the backend
  JAX runs on (`AUTO`): on CPU the adjoint convolutions and the dot
  BatchNorm; elsewhere (GPU, TPU) the stock Flax layers, which cuDNN and
  XLA's accelerator backends are tuned for.

Every choice holds the same parameters and computes the same function, so a
checkpoint moves between them and between platforms.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import ml_collections

from inpainting import layers
from inpainting import normalization

ModuleDef = Any

# name -> (stride-2 convolution, stride-2 transposed convolution).
CONVOLUTIONS: dict[str, tuple[ModuleDef, ModuleDef]] = {
    'xla': (nn.Conv, nn.ConvTranspose),
    'phase': (layers.PhaseConv, layers.PhaseConvTranspose),
    'adjoint': (layers.AdjointConv, layers.AdjointConvTranspose),
}
BATCH_NORMS: dict[str, ModuleDef] = {
    'flax': nn.BatchNorm,
    'dot': normalization.BatchNorm,
}
# What 'auto' means on each backend: (conv_impl, batch_norm_impl). On a
# 2-core CPU the whole training step at batch 64 ran 2.5 images/s with the
# stock layers and 25-28 with these (docs/performance.md).
AUTO: dict[str, tuple[str, str]] = {'cpu': ('adjoint', 'dot')}
AUTO_ELSEWHERE = ('xla', 'flax')
# The decoder's 2x upsampling (model.layers.upsampling): the seed's stride-2
# transposed convolution (of conv_impl), or resizing then a stride-1
# convolution (layers.ResizeConv, stock: stride-1 convolutions are fast
# everywhere).
UPSAMPLING = ('transpose', 'nearest', 'bilinear')


@dataclasses.dataclass(frozen=True)
class Layers:
  """The building blocks of a model, and the names they were chosen by."""
  conv: ModuleDef
  conv_transpose: ModuleDef  # the decoder's upsampling layer
  upsample_span: Callable[..., tuple[int, int]]  # its input rows, windows
  norm: ModuleDef
  conv_impl: str
  batch_norm_impl: str


def resolve(conv_impl: str, batch_norm_impl: str,
            backend: str | None = None) -> tuple[str, str]:
  """The concrete (conv_impl, batch_norm_impl) for a backend.

  Args:
    conv_impl: 'auto' or a key of CONVOLUTIONS.
    batch_norm_impl: 'auto' or a key of BATCH_NORMS.
    backend: 'cpu', 'gpu', 'tpu', ...; JAX's default backend if None.

  The names are checked by config_lib.
  """
  if 'auto' in (conv_impl, batch_norm_impl):
    auto = AUTO.get(backend or jax.default_backend(), AUTO_ELSEWHERE)
    conv_impl = auto[0] if conv_impl == 'auto' else conv_impl
    batch_norm_impl = auto[1] if batch_norm_impl == 'auto' else batch_norm_impl
  return conv_impl, batch_norm_impl


def from_config(layers_config: ml_collections.ConfigDict,
                axis_name: str | None = None,
                backend: str | None = None) -> Layers:
  """The building blocks `config.model.layers` asks for, on `backend`.

  Args:
    layers_config: `config.model.layers` (conv_impl, batch_norm_impl,
      batch_norm_momentum, upsampling).
    axis_name: the pmap axis BatchNorm averages its statistics over.
    backend: as in `resolve`.
  """
  conv_impl, batch_norm_impl = resolve(layers_config.conv_impl,
                                       layers_config.batch_norm_impl, backend)
  conv, conv_transpose = CONVOLUTIONS[conv_impl]
  upsample_span = layers.transpose_input_span
  if layers_config.upsampling != 'transpose':
    conv_transpose = functools.partial(layers.ResizeConv,
                                       method=layers_config.upsampling)
    upsample_span = functools.partial(layers.resize_conv_input_span,
                                      method=layers_config.upsampling)
  norm = functools.partial(BATCH_NORMS[batch_norm_impl],
                           momentum=layers_config.batch_norm_momentum,
                           axis_name=axis_name)
  return Layers(conv, conv_transpose, upsample_span, norm, conv_impl,
                batch_norm_impl)
