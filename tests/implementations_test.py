"""Which layers a config builds, per backend."""

import flax.linen as nn
import pytest

from configs import default
from inpainting import implementations
from inpainting import layers
from inpainting import normalization


@pytest.mark.parametrize('backend,expected', [
    ('cpu', ('adjoint', 'dot')), ('gpu', ('xla', 'flax')),
    ('tpu', ('xla', 'flax'))])
def test_auto_resolves_per_backend(backend, expected):
  assert implementations.resolve('auto', 'auto', backend) == expected


def test_explicit_names_are_kept_on_every_backend():
  for backend in ('cpu', 'gpu', 'tpu'):
    assert implementations.resolve('phase', 'flax', backend) == ('phase',
                                                                 'flax')
    assert implementations.resolve('xla', 'auto', backend)[0] == 'xla'
  assert implementations.resolve('auto', 'flax', 'cpu') == ('adjoint', 'flax')


def test_from_config_gives_classes_and_batch_norm_settings():
  layers_config = default.get_config().model.layers
  layers_config.batch_norm_momentum = 0.8
  cpu = implementations.from_config(layers_config, axis_name='batch',
                                    backend='cpu')
  assert (cpu.conv, cpu.conv_transpose) == (layers.AdjointConv,
                                            layers.AdjointConvTranspose)
  assert cpu.norm.func is normalization.BatchNorm
  assert cpu.norm.keywords == {'momentum': 0.8, 'axis_name': 'batch'}
  gpu = implementations.from_config(layers_config, backend='gpu')
  assert (gpu.conv, gpu.conv_transpose) == (nn.Conv, nn.ConvTranspose)
  assert gpu.norm.func is nn.BatchNorm
  assert (gpu.conv_impl, gpu.batch_norm_impl) == ('xla', 'flax')
