"""Shapes, parameter counts and the bottleneck of the seed's networks."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import seed
from configs import context_encoder
from configs import tiny
from inpainting import layers
from inpainting import models
from inpainting import prefill
from inpainting import state as state_lib
from inpainting import text_encoder

E = text_encoder.EMBEDDING_DIM


def _inputs(batch=2):
  b = state_lib.example_batch(tiny.get_config(), batch)
  return b['image'], b['mask'], b['embedding']


def _generator(upsampling='transpose', **fields):
  """(tiny config, its generator with these `config.model.generator`
  fields and `upsampling` layers, variables, inputs)."""
  config = tiny.get_config()
  config.model.lock()  # a misspelt field is an error, not a new field
  config.model.generator.update(fields)
  config.model.layers.upsampling = upsampling
  generator = models.generator_from_config(config.model)
  inputs = _inputs()
  variables = generator.init(jax.random.key(0), *inputs, train=False)
  return config, generator, variables, inputs


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


def _conv(k, cin, cout, bias=True):
  return k * k * cin * cout + (cout if bias else 0)


def test_generator_shapes_and_parameter_count():
  config = seed.get_config()
  generator = models.generator_from_config(config.model)
  image, mask, embedding = _inputs()
  variables = jax.jit(functools.partial(generator.init, train=False))(
      jax.random.key(0), image, mask, embedding)
  out, _ = jax.jit(functools.partial(
      generator.apply, train=True, mutable=['batch_stats']))(
          variables, image, mask, embedding)
  assert out.shape == (2, 64, 64, 3)
  assert float(jnp.abs(out).max()) <= 1.0  # tanh

  bn = lambda c: 2 * c  # scale and bias
  # Convolutions followed by BatchNorm have no bias.
  encoder = (_conv(5, 4, 64, False) + bn(64) + _conv(5, 64, 128, False) +
             bn(128) + _conv(5, 128, 256, False) + bn(256) +
             _conv(5, 256, 256, False) + bn(256))
  bottleneck = 256 * 16 * 16 + 256 * 16
  caption = E * 256 + 256
  # Decoder inputs: 4x4x(256+256), then skips double each input's channels.
  decoder = (_conv(5, 512, 256, False) + bn(256) +
             _conv(5, 256 + 256, 128, False) + bn(128) +
             _conv(5, 128 + 128, 64, False) + bn(64) + _conv(5, 64 + 64, 3))
  params = variables['params']
  assert _count(params['encoder']) == encoder
  assert _count(params['bottleneck']) == bottleneck
  assert _count(params['caption']) == caption
  assert _count(params['decoder']) == decoder
  assert _count(params) == encoder + bottleneck + caption + decoder


def test_critic_shapes_and_parameter_count():
  config = seed.get_config()
  critic = models.critic_from_config(config.model)
  image, mask, embedding = _inputs(3)
  variables = critic.init(jax.random.key(0), image, mask, embedding,
                          train=False)
  logits = critic.apply(variables, image, mask, embedding, train=False)
  assert logits.shape == (3,)
  bn = lambda c: 2 * c
  expected = (_conv(5, 3, 64) + _conv(5, 64, 128, False) + bn(128) +
              _conv(5, 128, 256, False) + bn(256) +
              _conv(5, 256, 256, False) + bn(256) +
              E * 256 + 256 + 4 * 4 * 512 + 1)
  assert _count(variables['params']) == expected
  # No BatchNorm after the first convolution.
  assert 'bn0' not in variables['params']['features']


def test_without_captions_has_no_caption_parameters():
  config = context_encoder.get_config()
  image, mask, _ = _inputs()
  generator = models.generator_from_config(config.model)
  params = generator.init(jax.random.key(0), image, mask, None,
                          train=False)['params']
  assert 'caption' not in params
  critic = models.critic_from_config(config.model)
  params = critic.init(jax.random.key(0), image, mask, None,
                       train=False)['params']
  assert 'caption' not in params
  assert params['logit']['kernel'].shape == (4 * 4 * 256, 1)


def test_caption_changes_the_output():
  config = seed.get_config()
  generator = models.generator_from_config(config.model)
  image, mask, embedding = _inputs()
  variables = generator.init(jax.random.key(0), image, mask, embedding,
                             train=False)
  a = generator.apply(variables, image, mask, embedding, train=False)
  b = generator.apply(variables, image, mask, -embedding, train=False)
  assert float(jnp.abs(a - b).max()) > 1e-4


@pytest.mark.parametrize('prefill', ['none', 'pull_push'])
def test_generator_ignores_hidden_pixels(prefill):
  config = seed.get_config()
  config.model.generator.prefill = prefill
  generator = models.generator_from_config(config.model)
  image, mask, embedding = _inputs()
  variables = generator.init(jax.random.key(0), image, mask, embedding,
                             train=False)
  variables = jax.tree.map(  # a head that is not zero
      lambda x: x + 0.1 * jax.random.uniform(jax.random.key(1), x.shape),
      variables)
  changed = np.where(mask > 0, 0.7, image).astype(np.float32)
  np.testing.assert_allclose(
      generator.apply(variables, changed, mask, embedding, train=False),
      generator.apply(variables, image, mask, embedding, train=False),
      atol=1e-6)


def test_channel_wise_fc_equals_per_channel_dense():
  x = jax.random.normal(jax.random.key(0), (3, 4, 4, 5))
  layer = models.ChannelWiseFC()
  params = layer.init(jax.random.key(1), x)
  params = jax.tree.map(
      lambda p: p + jax.random.normal(jax.random.key(2), p.shape), params)
  y = np.asarray(layer.apply(params, x))
  kernel = np.asarray(params['params']['kernel'])  # [C, 16, 16]
  bias = np.asarray(params['params']['bias'])  # [C, 16]
  xn = np.asarray(x)
  expected = np.zeros_like(xn)
  for b in range(3):
    for c in range(5):
      flat = xn[b, :, :, c].reshape(16)  # row-major spatial positions
      expected[b, :, :, c] = (flat @ kernel[c] + bias[c]).reshape(4, 4)
  np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('impl', ['xla', 'phase', 'adjoint', 'auto'])
def test_implementations_share_parameters(impl):
  config = seed.get_config()
  config.model.layers.conv_impl = impl
  image, mask, embedding = _inputs()
  generator = models.generator_from_config(config.model)
  shapes = jax.tree.map(jnp.shape, jax.eval_shape(
      lambda: generator.init(jax.random.key(0), image, mask, embedding,
                             train=False)))
  config.model.layers.conv_impl = 'xla'
  config.model.layers.batch_norm_impl = 'flax'
  reference = models.generator_from_config(config.model)
  expected = jax.tree.map(jnp.shape, jax.eval_shape(
      lambda: reference.init(jax.random.key(0), image, mask, embedding,
                             train=False)))
  assert shapes == expected


@pytest.mark.parametrize('conv_impl,batch_norm_impl', [
    ('phase', 'flax'), ('adjoint', 'flax'), ('xla', 'dot'), ('adjoint', 'dot')])
@pytest.mark.parametrize('train', [False, True])
def test_implementations_compute_the_same_function(conv_impl, batch_norm_impl,
                                                   train):
  config = tiny.get_config()
  config.model.layers.conv_impl = 'xla'
  config.model.layers.batch_norm_impl = 'flax'
  image, mask, embedding = _inputs()
  stock = models.generator_from_config(config.model)
  variables = stock.init(jax.random.key(0), image, mask, embedding,
                         train=False)
  config.model.layers.conv_impl = conv_impl
  config.model.layers.batch_norm_impl = batch_norm_impl
  other = models.generator_from_config(config.model)
  mutable = ['batch_stats'] if train else False
  np.testing.assert_allclose(
      other.apply(variables, image, mask, embedding, train=train,
                  mutable=mutable)[0 if train else ...],
      stock.apply(variables, image, mask, embedding, train=train,
                  mutable=mutable)[0 if train else ...],
      rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('train', [False, True])
def test_modules_built_by_hand_compute_what_the_config_builds(train):
  config = tiny.get_config()  # conv_impl and batch_norm_impl 'auto'
  model = config.model
  from_config = (models.generator_from_config(model),
                 models.critic_from_config(model))
  # The seed's layers by default: stock Flax, BatchNorm momentum 0.9.
  by_hand = (models.Generator(encoder_features=model.generator.encoder_features,
                              decoder_features=model.generator.decoder_features,
                              caption_features=model.caption_features),
             models.Critic(features=model.critic.features,
                           caption_features=model.caption_features))
  image, mask, embedding = _inputs()
  mutable = ['batch_stats'] if train else False
  for ours, theirs, args in zip(from_config, by_hand,
                                ((image, mask, embedding),) * 2):
    # So the comparison is between different layers: the fast forms on CPU.
    assert (ours.conv, theirs.conv) == (layers.AdjointConv, nn.Conv)
    variables = theirs.init(jax.random.key(0), *args, train=False)
    assert jax.tree.map(jnp.shape, ours.init(
        jax.random.key(0), *args, train=False)) == jax.tree.map(
            jnp.shape, variables)
    out_ours = ours.apply(variables, *args, train=train, mutable=mutable)
    out_theirs = theirs.apply(variables, *args, train=train, mutable=mutable)
    # Outputs, and in training the running statistics (momentum 0.9).
    for a, b in zip(jax.tree.leaves(out_ours), jax.tree.leaves(out_theirs)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    'impl,upsampling,decoder_kernel,full_resolution,prefill', [
        ('xla', 'transpose', None, 0, 'none'),
        ('adjoint', 'transpose', None, 0, 'none'),
        ('adjoint', 'transpose', 4, 0, 'none'),
        ('adjoint', 'nearest', None, 0, 'none'),
        ('adjoint', 'bilinear', 3, 0, 'none'),
        ('adjoint', 'nearest', None, 8, 'none'),
        ('adjoint', 'transpose', 4, 8, 'none'),
        ('adjoint', 'nearest', None, 0, 'pull_push'),
        ('adjoint', 'nearest', None, 8, 'pull_push')])
def test_a_window_is_the_crop_of_the_whole_output(impl, upsampling,
                                                  decoder_kernel,
                                                  full_resolution, prefill):
  config = tiny.get_config()
  config.model.generator.prefill = prefill
  config.model.layers.conv_impl = impl
  config.model.layers.upsampling = upsampling
  config.model.generator.decoder_kernel_size = decoder_kernel
  config.model.generator.full_resolution_features = full_resolution
  generator = models.generator_from_config(config.model)
  image, mask, embedding = _inputs()
  variables = generator.init(jax.random.key(0), image, mask, embedding,
                             train=False)
  variables = jax.tree.map(  # running averages other than 0 and 1
      lambda x: x + 0.3 * jax.random.uniform(jax.random.key(1), x.shape),
      variables)
  apply = functools.partial(generator.apply, variables, image, mask,
                            embedding, train=False)
  whole = apply()
  for window in [(16, 48, 16, 48),  # the hole
                 (0, 64, 0, 64),  # everything
                 (0, 5, 59, 64),  # a corner
                 (7, 8, 30, 51)]:  # one odd row
    top, bottom, left, right = window
    np.testing.assert_allclose(apply(window=window),
                               whole[:, top:bottom, left:right],
                               rtol=1e-5, atol=1e-6, err_msg=str(window))


@pytest.mark.parametrize('full_resolution', [0, 8])
def test_a_window_needs_inference_mode_and_must_fit(full_resolution):
  config = tiny.get_config()
  config.model.generator.full_resolution_features = full_resolution
  generator = models.generator_from_config(config.model)
  image, mask, embedding = _inputs()
  variables = generator.init(jax.random.key(0), image, mask, embedding,
                             train=False)
  with pytest.raises(ValueError, match='train=False'):
    generator.apply(variables, image, mask, embedding, train=True,
                    window=(16, 48, 16, 48), mutable=['batch_stats'])
  with pytest.raises(ValueError, match=r'window=\(16, 65, 16, 48\)'):
    generator.apply(variables, image, mask, embedding, train=False,
                    window=(16, 65, 16, 48))


def test_film_with_zero_scale_and_shift_is_the_identity():
  x = jax.random.normal(jax.random.key(0), (2, 3, 3, 4))
  embedding = jax.random.normal(jax.random.key(1), (2, 5))
  film = models.FiLM()
  variables = film.init(jax.random.key(2), x, embedding)
  np.testing.assert_array_equal(film.apply(variables, x, embedding), x)
  kernel = jax.random.normal(jax.random.key(3), (5, 8))
  bias = jax.random.normal(jax.random.key(4), (8,))
  out = film.apply({'params': {'dense': {'kernel': kernel, 'bias': bias}}},
                   x, embedding)
  scale_shift = np.asarray(embedding) @ np.asarray(kernel) + np.asarray(bias)
  scale, shift = scale_shift[:, :4], scale_shift[:, 4:]
  np.testing.assert_allclose(
      out, np.asarray(x) * (1 + scale[:, None, None]) + shift[:, None, None],
      rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('film_encoder', [False, True])
def test_film_generator_starts_as_the_captionless_one(film_encoder):
  config = tiny.get_config()
  config.model.generator.caption_conditioning = 'film'
  config.model.generator.film_encoder = film_encoder
  image, mask, embedding = _inputs()
  film = models.generator_from_config(config.model)
  variables = film.init(jax.random.key(0), image, mask, embedding,
                        train=False)
  params = variables['params']
  films = [k for k in params['decoder'] if k.startswith('film')]
  assert films == ['film0', 'film1', 'film2']  # every block but the output
  assert ('film0' in params['encoder']) == film_encoder
  assert 'caption' not in params
  # The decoder's input is the bottleneck alone: 16 channels, no caption.
  assert params['decoder']['deconv0']['kernel'].shape[2] == 16
  config.model.use_captions = False
  plain = models.generator_from_config(config.model)
  plain_variables = {
      'params': {part: {k: v for k, v in layers_.items()
                        if not k.startswith('film')}
                 for part, layers_ in params.items()},
      'batch_stats': variables['batch_stats']}
  np.testing.assert_allclose(
      film.apply(variables, image, mask, embedding, train=False),
      plain.apply(plain_variables, image, mask, None, train=False),
      rtol=1e-5, atol=1e-6)
  # Once the FiLM layers learn, the caption changes the fill.
  variables = jax.tree_util.tree_map_with_path(
      lambda path, x: x + 0.1 * jax.random.normal(jax.random.key(1), x.shape)
      if 'film' in jax.tree_util.keystr(path) else x, variables)
  a = film.apply(variables, image, mask, embedding, train=False)
  b = film.apply(variables, image, mask, -embedding, train=False)
  assert float(jnp.abs(a - b).max()) > 1e-3


def test_caption_before_the_bottleneck_goes_through_it():
  config = tiny.get_config()
  config.model.generator.caption_conditioning = 'before_bottleneck'
  generator = models.generator_from_config(config.model)
  image, mask, embedding = _inputs()
  variables = generator.init(jax.random.key(0), image, mask, embedding,
                             train=False)
  params = variables['params']
  width = (config.model.generator.encoder_features[-1] +
           config.model.caption_features)
  assert params['bottleneck']['kernel'].shape == (width, 16, 16)
  assert params['caption']['dense']['kernel'].shape == (
      E, config.model.caption_features)
  # The decoder sees the same width as with the seed's concatenation after.
  assert params['decoder']['deconv0']['kernel'].shape[2] == width
  a = generator.apply(variables, image, mask, embedding, train=False)
  b = generator.apply(variables, image, mask, -embedding, train=False)
  assert a.shape == image.shape
  assert float(jnp.abs(a - b).max()) > 1e-4


def test_projection_critic_adds_the_inner_product():
  config = tiny.get_config()
  config.model.critic.caption_conditioning = 'projection'
  critic = models.critic_from_config(config.model)
  image, mask, embedding = _inputs(3)
  variables = critic.init(jax.random.key(0), image, mask, embedding,
                          train=False)
  variables = jax.tree.map(  # non-trivial statistics and weights
      lambda x: x + 0.1 * jax.random.normal(jax.random.key(1), x.shape),
      variables)
  params = variables['params']
  assert 'caption' not in params
  channels = config.model.critic.features[-1]
  assert params['projection']['kernel'].shape == (E, channels)
  logits, state = critic.apply(variables, image, mask, embedding,
                               train=False, capture_intermediates=True)
  features = state['intermediates']['features']['__call__'][0][-1]
  config.model.use_captions = False
  plain = models.critic_from_config(config.model)
  plain_variables = {'params': {k: v for k, v in params.items()
                                if k != 'projection'},
                     'batch_stats': variables['batch_stats']}
  without = plain.apply(plain_variables, image, mask, None, train=False)
  pooled = np.asarray(features).mean(axis=(1, 2))
  projected = np.asarray(embedding) @ np.asarray(params['projection']['kernel'])
  np.testing.assert_allclose(logits - without,
                             (projected * pooled).sum(-1), rtol=1e-4,
                             atol=1e-4)


@pytest.mark.parametrize('method', ['nearest', 'bilinear'])
def test_resize_conv_is_upsampling_then_a_stride_1_convolution(method):
  x = jax.random.normal(jax.random.key(0), (2, 4, 6, 3))
  layer = layers.ResizeConv(5, (3, 3), strides=(2, 2), padding='SAME',
                            method=method)
  variables = layer.init(jax.random.key(1), x)
  kernel = variables['params']['conv']['kernel']
  assert kernel.shape == (3, 3, 3, 5)
  y = layer.apply(variables, x)
  assert y.shape == (2, 8, 12, 5)
  if method == 'nearest':  # every input pixel a 2x2 block
    up = np.repeat(np.repeat(np.asarray(x), 2, axis=1), 2, axis=2)
  else:
    up = jax.image.resize(x, (2, 8, 12, 3), 'bilinear')
  expected = jax.lax.conv_general_dilated(
      up, kernel, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  np.testing.assert_allclose(y, expected + variables['params']['conv']['bias'],
                             rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="stride 2 with 'SAME' padding only"):
    layers.ResizeConv(5, (3, 3), strides=1).init(jax.random.key(1), x)


def test_config_chooses_the_decoders_upsampling():
  config = tiny.get_config()
  image, mask, embedding = _inputs()
  config.model.layers.upsampling = 'nearest'
  params = models.generator_from_config(config.model).init(
      jax.random.key(0), image, mask, embedding, train=False)['params']
  assert params['decoder']['deconv0']['conv']['kernel'].shape[:2] == (5, 5)
  assert params['encoder']['conv0']['kernel'].shape[:2] == (5, 5)
  config.model.layers.upsampling = 'transpose'
  config.model.generator.decoder_kernel_size = 4
  params = models.generator_from_config(config.model).init(
      jax.random.key(0), image, mask, embedding, train=False)['params']
  assert params['decoder']['deconv0']['kernel'].shape[:2] == (4, 4)
  assert params['encoder']['conv0']['kernel'].shape[:2] == (5, 5)


def test_full_resolution_layer_reads_features_and_the_masked_image():
  config, generator, variables, (image, mask, embedding) = _generator(
      full_resolution_features=8)
  params = variables['params']
  k = models.FULL_RESOLUTION_KERNEL
  decoder_in = (config.model.generator.decoder_features[-2] +
                config.model.generator.encoder_features[0])
  # The last upsampling gives 8 features (no bias: BatchNorm follows), and
  # the full-resolution convolution reads them, the masked image and the
  # mask.
  assert params['decoder']['deconv3']['kernel'].shape[-2:] == (decoder_in, 8)
  assert 'bias' not in params['decoder']['deconv3']
  assert set(params['decoder']['bn3']) == {'scale', 'bias'}
  assert params['full_resolution']['kernel'].shape == (k, k, 8 + 4, 3)
  # With the centre tap copying the image's channels and nothing else, the
  # output is tanh of the masked image: it reads the known pixels directly.
  kernel = np.zeros((k, k, 8 + 4, 3), np.float32)
  for c in range(3):
    kernel[k // 2, k // 2, 8 + c, c] = 1.0
  params = {**params, 'full_resolution': {'kernel': kernel,
                                          'bias': np.zeros(3, np.float32)}}
  out = generator.apply({**variables, 'params': params}, image, mask,
                        embedding, train=False)
  np.testing.assert_allclose(out, np.tanh(image * (1 - mask)), atol=1e-6)


@pytest.mark.parametrize('full_resolution', [0, 8])
def test_pull_push_generator_starts_as_the_fill_and_corrects_it(
    full_resolution):
  config = tiny.get_config()
  config.model.generator.prefill = 'pull_push'
  config.model.generator.full_resolution_features = full_resolution
  generator = models.generator_from_config(config.model)
  image, mask, embedding = _inputs()
  variables = generator.init(jax.random.key(0), image, mask, embedding,
                             train=False)
  guess = prefill.pull_push(image, mask)
  apply = functools.partial(generator.apply, image=image, mask=mask,
                            embedding=embedding, train=False)
  # At initialisation the last layer is zero: the output is the guess
  # (within the 1e-3 its atanh is clipped to near +-1).
  np.testing.assert_allclose(apply(variables), guess, atol=1e-3)
  # A head of zero kernel and bias b gives tanh(b + atanh(guess)).
  head = 'full_resolution' if full_resolution else 'decoder'
  params = jax.tree.map(lambda x: x, variables['params'])
  layer = params[head] if full_resolution else params[head]['deconv3']
  assert not np.any(layer['kernel'])
  layer['bias'] = np.array([0.5, -0.25, 0.0], np.float32)
  limit = 1 - 1e-3
  np.testing.assert_allclose(
      apply({**variables, 'params': params}),
      np.tanh(layer['bias'] + np.arctanh(np.clip(guess, -limit, limit))),
      atol=1e-5)


def test_prefill_needs_a_tanh_output():
  config = tiny.get_config()
  config.model.generator.prefill = 'pull_push'
  config.model.generator.output_activation = 'linear'
  generator = models.generator_from_config(config.model)
  with pytest.raises(ValueError, match="output_activation='tanh'"):
    generator.init(jax.random.key(0), *_inputs(), train=False)


def test_dilated_blocks_are_residual_dilated_convolutions():
  x = jax.random.normal(jax.random.key(0), (2, 16, 16, 4))
  blocks = models.DilatedBlocks(3, norm=None)
  variables = blocks.init(jax.random.key(1), x, train=False)
  params = variables['params']
  assert {k: v['kernel'].shape for k, v in params.items()} == {
      f'conv{i}': (3, 3, 4, 4) for i in range(3)}
  # Zero kernels and biases: every block adds act(0) = 0, the identity.
  zeros = jax.tree.map(jnp.zeros_like, params)
  np.testing.assert_array_equal(blocks.apply({'params': zeros}, x,
                                             train=False), x)
  # One block is x + relu(conv(x)) with its kernel's taps 2 apart.
  one = models.DilatedBlocks(1, norm=None)
  p = one.init(jax.random.key(2), x, train=False)['params']['conv0']
  expected = x + jax.nn.relu(jax.lax.conv_general_dilated(
      x, p['kernel'], (1, 1), 'SAME', rhs_dilation=(2, 2),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + p['bias'])
  np.testing.assert_allclose(one.apply({'params': {'conv0': p}}, x,
                                       train=False), expected,
                             rtol=1e-5, atol=1e-5)


def test_dilated_blocks_let_the_encoder_see_the_whole_map():
  """Rates 2, 4, 8 reach across a 16x16 map: a pixel at one corner of the
  image moves the second encoder layer's output at the opposite corner,
  which the 5x5 stride-2 layers alone do not reach."""
  config = tiny.get_config()
  image, mask, embedding = _inputs(1)
  mask = jnp.zeros_like(mask)

  def far_corner(blocks):
    encoder = models.Encoder(tuple(config.model.generator.encoder_features),
                             dilated_blocks=blocks)
    variables = encoder.init(jax.random.key(0), image, train=False)

    def corner(img):
      return encoder.apply(variables, img, train=False)[1][0, -1, -1].sum()

    return jnp.abs(jax.grad(corner)(image)[0, :4, :4]).max()

  assert far_corner(0) == 0
  assert far_corner(3) > 0


def test_dilated_blocks_follow_the_encoders_second_layer():
  config, generator, variables, (image, mask, embedding) = _generator(
      dilated_blocks=2)
  dilated = variables['params']['encoder']['dilated']
  width = config.model.generator.encoder_features[1]
  assert set(dilated) == {'conv0', 'conv1', 'bn0', 'bn1'}
  assert dilated['conv0']['kernel'].shape == (3, 3, width, width)
  assert 'bias' not in dilated['conv0']  # BatchNorm follows
  out = generator.apply(variables, image, mask, embedding, train=False)
  assert out.shape == image.shape
  with pytest.raises(ValueError, match='dilated_after=4'):
    models.Encoder((8, 8, 8, 8), dilated_blocks=1, dilated_after=4).init(
        jax.random.key(0), image, train=False)


def _with_noise_strength(variables, value):
  """The variables with every noise strength set to `value`."""
  def set_strength(path, x):
    if 'noise_strength' in jax.tree_util.keystr(path):
      return jnp.full_like(x, value)
    return x
  return jax.tree_util.tree_map_with_path(set_strength, variables)


@pytest.mark.parametrize('full_resolution', [0, 8])
def test_noise_inputs_start_silent_then_vary_the_fill(full_resolution):
  config, generator, variables, (image, mask, embedding) = _generator(
      noise_levels=2, full_resolution_features=full_resolution)
  decoder = variables['params']['decoder']
  # The last two blocks with BatchNorm (without the full-resolution layer
  # the last upsampling is the head, which has none).
  blocks = (2, 3) if full_resolution else (1, 2)
  assert {k for k in decoder if k.startswith('noise')} == {
      f'noise_strength{i}' for i in blocks}
  widths = (*config.model.generator.decoder_features[:-1], full_resolution)
  for i in blocks:
    assert decoder[f'noise_strength{i}'].shape == (widths[i],)
  apply = functools.partial(generator.apply, image=image, mask=mask,
                            embedding=embedding, train=False)
  z1, z2 = (models.draw_noise(jax.random.key(k), image.shape, 2)
            for k in (1, 2))
  assert z1.shape == (*image.shape[:3], 2)
  # Zero strength (the initialisation): the noiseless generator.
  silent = apply(variables)
  np.testing.assert_array_equal(apply(variables, noise=z1), silent)
  # With a strength, each draw its own fill; no noise is zeros.
  loud = _with_noise_strength(variables, 0.5)
  one, two = apply(loud, noise=z1), apply(loud, noise=z2)
  assert np.abs(one - two).max() > 1e-3
  np.testing.assert_array_equal(apply(loud), silent)
  np.testing.assert_array_equal(
      apply(loud, noise=jnp.zeros_like(z1)), silent)
  # model.generator.noise_init starts the strengths elsewhere.
  _, _, variables, _ = _generator(noise_levels=2, noise_init=1.5,
                                  full_resolution_features=full_resolution)
  for i in blocks:
    np.testing.assert_array_equal(
        variables['params']['decoder'][f'noise_strength{i}'], 1.5)


def test_noise_is_added_after_batch_norm_times_a_strength_per_channel():
  # Linear activations, so that the noise's share of the output is the
  # head's transposed convolution (without its bias) of strength * z, z
  # every other pixel of the noise's channel (the block's output is half
  # the image's size).
  decoder = models.Decoder((4, 3), activation='linear',
                           output_activation='linear', noise_levels=1)
  code = jax.random.normal(jax.random.key(0), (2, 8, 8, 5))
  noise = models.draw_noise(jax.random.key(1), (2, 32, 32), 1)
  variables = decoder.init(jax.random.key(2), code, [], train=False)
  strength = jnp.arange(1.0, 5.0)
  variables = {**variables, 'params': {**variables['params'],
                                       'noise_strength0': strength}}
  apply = functools.partial(decoder.apply, variables, code, [], train=False)
  head = variables['params']['deconv1']
  expected = models.CONV_TRANSPOSE(3, (5, 5), strides=(2, 2),
                                   padding='SAME', use_bias=False).apply(
      {'params': {'kernel': head['kernel']}},
      noise[:, ::2, ::2, :1] * strength)
  np.testing.assert_allclose(apply(noise=noise) - apply(), expected,
                             rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match='noise_levels=2: this decoder has 1'):
    models.Decoder((4, 3), noise_levels=2).init(jax.random.key(2), code, [],
                                                train=False)


@pytest.mark.parametrize('upsampling,full_resolution,prefill', [
    ('transpose', 0, 'none'), ('nearest', 8, 'pull_push')])
def test_a_window_with_noise_is_the_crop_of_the_whole_output(
    upsampling, full_resolution, prefill):
  _, generator, variables, (image, mask, embedding) = _generator(
      noise_levels=2, upsampling=upsampling, prefill=prefill,
      full_resolution_features=full_resolution)
  # Weights away from their initial zeros (pull_push's head), strength on.
  params = jax.tree.map(
      lambda x: x + 0.1 * jax.random.normal(jax.random.key(3), x.shape),
      variables['params'])
  variables = _with_noise_strength({**variables, 'params': params}, 0.5)
  noise = models.draw_noise(jax.random.key(1), image.shape, 2)
  apply = functools.partial(generator.apply, variables, image, mask,
                            embedding, train=False, noise=noise)
  whole = apply()
  assert np.abs(whole - apply(noise=None)).max() > 1e-3
  for window in [(16, 48, 16, 48), (0, 5, 59, 64), (7, 8, 30, 51)]:
    top, bottom, left, right = window
    np.testing.assert_allclose(apply(window=window),
                               whole[:, top:bottom, left:right],
                               rtol=1e-5, atol=1e-6, err_msg=str(window))
