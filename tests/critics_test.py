"""The critic's options: views, spectral norm, and the adversarial losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import tiny
from inpainting import losses
from inpainting import models
from inpainting import state as state_lib


def _inputs(batch=2):
  b = state_lib.example_batch(tiny.get_config(), batch)
  return b['image'], b['mask'], b['embedding']


def _critic(use_captions=True, **fields):
  """The tiny config's critic with `config.model.critic` `fields` set."""
  config = tiny.get_config()
  config.model.use_captions = use_captions
  config.model.lock()  # a misspelt field is an error, not a new field
  config.model.critic.update(fields)
  return models.critic_from_config(config.model)


def _perturbed(variables, scale=0.1):
  """Non-trivial weights and statistics (init has zero biases, unit stats)."""
  leaves, tree = jax.tree.flatten(variables)
  keys = jax.random.split(jax.random.key(7), len(leaves))
  return jax.tree.unflatten(tree, [
      x + scale * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])


def test_local_window_is_the_crop_centred_on_each_hole():
  x = np.arange(2 * 16 * 16 * 2, dtype=np.float32).reshape(2, 16, 16, 2)
  mask = np.zeros((2, 16, 16, 1), np.float32)
  mask[0, 4:8, 6:10] = 1  # centre (6, 8): rows 2..10, columns 4..12
  mask[1, 12:16, 0:2] = 1  # at the corner: the window moves inside
  window = np.asarray(models.local_window(x, mask, 8))
  assert window.shape == (2, 8, 8, 2)
  np.testing.assert_array_equal(window[0], x[0, 2:10, 4:12])
  np.testing.assert_array_equal(window[1], x[1, 8:16, 0:8])
  # No hole: the image's centre.
  empty = np.asarray(models.local_window(x, np.zeros_like(mask), 8))
  np.testing.assert_array_equal(empty[0], x[0, 4:12, 4:12])


def test_local_window_of_the_centre_hole_is_the_hole_and_its_margin():
  image, mask, _ = _inputs()  # the 32x32 centre hole of a 64x64 image
  window = models.local_window(image, mask, 48)
  np.testing.assert_array_equal(window, image[:, 8:56, 8:56])


def test_patch_weights_are_the_holes_share_of_each_patch():
  mask = np.zeros((1, 8, 8, 1), np.float32)
  mask[0, 2:6, 2:6] = 1
  weights = np.asarray(models.patch_weights(mask, (2, 2)))
  np.testing.assert_allclose(weights, [[[0.25, 0.25], [0.25, 0.25]]])
  weights = np.asarray(models.patch_weights(mask, (4, 4)))
  expected = np.zeros((4, 4))
  expected[1:3, 1:3] = 1.0
  np.testing.assert_allclose(weights[0], expected)


def test_the_local_critic_scores_the_window_only():
  image, mask, embedding = _inputs()
  critic = _critic(view='local', window=48)
  variables = critic.init(jax.random.key(0), image, mask, embedding,
                          train=False)
  # The seed's network on a 48x48 window: 3x3 last features.
  channels = tiny.get_config().model.critic.features[-1]
  caption = tiny.get_config().model.caption_features
  assert variables['params']['logit']['kernel'].shape == (
      3 * 3 * (channels + caption), 1)
  logits = critic.apply(variables, image, mask, embedding, train=False)
  assert logits.shape == (2,)
  outside = image.copy()
  outside[:, :8] = 0.0  # rows outside the window
  np.testing.assert_array_equal(
      critic.apply(variables, outside, mask, embedding, train=False), logits)
  inside = image.copy()
  inside[:, 10] = 0.0
  assert np.abs(critic.apply(variables, inside, mask, embedding,
                             train=False) - logits).max() > 1e-6


def test_global_local_is_the_sum_of_a_global_and_a_local_critic():
  image, mask, embedding = _inputs()
  both = _critic(view='global_local', window=48)
  variables = _perturbed(both.init(jax.random.key(0), image, mask, embedding,
                                   train=False))
  logits = both.apply(variables, image, mask, embedding, train=False)

  def part(view, prefix):
    tree = {c: {k[len(prefix):]: v for k, v in variables[c].items()
                if k.startswith(prefix) and
                (prefix or not k.startswith('local_'))}
            for c in variables}
    return _critic(view=view, window=48).apply(
        tree, image, mask, embedding, train=False)

  np.testing.assert_allclose(logits, part('global', '') +
                             part('local', 'local_'), rtol=1e-5, atol=1e-5)


def test_the_patch_critic_sees_the_mask_and_scores_every_position():
  image, mask, embedding = _inputs()
  for conditioning in ('concat', 'projection'):
    critic = _critic(view='patch', caption_conditioning=conditioning)
    variables = _perturbed(critic.init(jax.random.key(0), image, mask,
                                       embedding, train=False))
    # 4 stride-2 layers: a 4x4 map of logits of the image and the mask.
    assert variables['params']['features']['conv0']['kernel'].shape[2] == 4
    logits = critic.apply(variables, image, mask, embedding, train=False)
    assert logits.shape == (2, 4, 4)
    other = np.zeros_like(mask)
    assert np.abs(critic.apply(variables, image, other, embedding,
                               train=False) - logits).max() > 1e-6


def test_the_patch_projection_is_the_inner_product_at_every_position():
  image, mask, embedding = _inputs()
  critic = _critic(view='patch', caption_conditioning='projection')
  variables = _perturbed(critic.init(jax.random.key(0), image, mask,
                                     embedding, train=False))
  logits, features = critic.apply(variables, image, mask, embedding,
                                  train=False, return_features=True)
  plain = _critic(view='patch', use_captions=False)
  params = {k: v for k, v in variables['params'].items() if k != 'projection'}
  without = plain.apply({**variables, 'params': params}, image, mask, None,
                        train=False)
  projected = embedding @ np.asarray(
      variables['params']['projection']['kernel'])
  expected = np.einsum('bhwc,bc->bhw', np.asarray(features[-1]), projected)
  np.testing.assert_allclose(logits - without, expected, rtol=1e-4,
                             atol=1e-4)


def test_spectral_norm_divides_each_kernel_by_its_largest_singular_value():
  image, mask, embedding = _inputs()
  critic = _critic(spectral_norm=True, batch_norm=False)
  plain = _critic(batch_norm=False)
  variables = critic.init(jax.random.key(0), image, mask, embedding,
                          train=False)
  plain_params = plain.init(jax.random.key(0), image, mask, embedding,
                            train=False)['params']
  # The same parameters: checkpoints do not depend on the choice.
  assert (jax.tree.map(np.shape, variables['params']) ==
          jax.tree.map(np.shape, plain_params))
  assert 'bn1' not in variables['params']['features']
  # Power iteration converges to the largest singular value as the
  # training passes update it.
  apply = jax.jit(lambda v: critic.apply(v, image, mask, embedding,
                                         train=True, mutable=['batch_stats']))
  for _ in range(30):
    _, updates = apply(variables)
    variables = {**variables, **updates}
  stats = variables['batch_stats']
  kernel = np.asarray(variables['params']['features']['conv1']['kernel'])
  sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]),
                        compute_uv=False)[0]
  np.testing.assert_allclose(
      stats['features']['spectral_norm1']['conv1/kernel/sigma'], sigma,
      rtol=1e-3)
  # And the critic computes the plain network with every kernel divided by
  # its sigma.
  def divided(path, x):
    module = path[-2].key
    if path[-1].key != 'kernel' or not (module == 'logit' or
                                        module.startswith('conv')):
      return x  # the caption's Dense is not normalised
    holder = stats['features'] if path[0].key == 'features' else stats
    name = ('spectral_norm_logit' if module == 'logit'
            else f'spectral_norm{module[len("conv"):]}')
    return x / holder[name][f'{module}/kernel/sigma']

  params = jax.tree_util.tree_map_with_path(divided, variables['params'])
  np.testing.assert_allclose(
      critic.apply(variables, image, mask, embedding, train=False),
      plain.apply({'params': params}, image, mask, embedding, train=False),
      rtol=1e-4, atol=1e-5)


def test_critic_features_are_every_blocks_output():
  image, mask, embedding = _inputs()
  critic = _critic()
  variables = critic.init(jax.random.key(0), image, mask, embedding,
                          train=False)
  logits, features = critic.apply(variables, image, mask, embedding,
                                  train=False, return_features=True)
  widths = tiny.get_config().model.critic.features
  assert [f.shape for f in features] == [
      (2, 64 // 2**(i + 1), 64 // 2**(i + 1), c) for i, c in enumerate(widths)]
  np.testing.assert_array_equal(
      logits, critic.apply(variables, image, mask, embedding, train=False))


def test_hinge_losses_on_fixed_logits():
  real = np.array([2.0, 0.5, -1.0], np.float32)
  fake = np.array([-2.0, 0.0, 1.5], np.float32)
  # relu(1 - real): 0, 0.5, 2; relu(1 + fake): 0, 1, 2.5.
  assert losses.critic_loss(real, fake, kind='hinge') == pytest.approx(
      2.5 / 3 + 3.5 / 3)
  assert losses.adversarial_loss(fake, kind='hinge') == pytest.approx(
      -(-2.0 + 0.0 + 1.5) / 3)


def test_bce_losses_are_the_seeds_cross_entropy():
  real = np.array([3.0, -0.5], np.float32)
  fake = np.array([-1.0, 2.0], np.float32)
  assert losses.critic_loss(real, fake, kind='bce') == pytest.approx(
      float(losses.binary_cross_entropy(real, 1.0) +
            losses.binary_cross_entropy(fake, 0.0)), rel=1e-6)
  assert losses.adversarial_loss(fake, kind='bce') == pytest.approx(
      float(losses.binary_cross_entropy(fake, 1.0)), rel=1e-6)


def test_patch_losses_score_the_known_share_of_a_fake_patch_as_real():
  real = np.zeros((1, 1, 2), np.float32)
  fake = np.array([[[0.5, -3.0]]], np.float32)
  weights = np.array([[[1.0, 0.25]]], np.float32)
  # Position 0 wholly hole: relu(1 + 0.5); position 1 a quarter hole:
  # 0.25 relu(1 - 3) + 0.75 relu(1 + 3).
  expected = 1.0 + (1.5 + 0.75 * 4.0) / 2
  assert losses.critic_loss(real, fake, kind='hinge',
                            fake_weights=weights) == pytest.approx(expected)
  # The generator's term averages over the hole's share.
  assert losses.adversarial_loss(
      fake, kind='hinge', fake_weights=weights) == pytest.approx(
          -(0.5 * 1.0 - 3.0 * 0.25) / 1.25)


def test_r1_penalty_of_a_linear_critic_is_its_squared_weight_norm():
  w = np.array([[[[1.0, -2.0, 0.5]]]], np.float32)  # [1, 1, 1, 3]
  real = np.random.default_rng(0).normal(size=(4, 1, 1, 3)).astype(
      np.float32)
  critic = lambda x: (x * w).sum(axis=(1, 2, 3))
  gradients = jax.grad(lambda x: critic(x).sum())(real)
  assert losses.r1_penalty(gradients) == pytest.approx(1.0 + 4.0 + 0.25)
  # A quadratic critic x^2: the gradient 2x, the penalty mean |2x|^2.
  gradients = jax.grad(lambda x: jnp.square(x).sum())(real)
  assert losses.r1_penalty(gradients) == pytest.approx(
      float((4 * real**2).sum(axis=(1, 2, 3)).mean()), rel=1e-5)


def test_feature_matching_is_the_mean_l1_over_blocks():
  real = [np.zeros((1, 2, 2, 1)), np.ones((1, 1, 1, 2))]
  fake = [np.full((1, 2, 2, 1), 0.5), np.array([[[[1.0, 3.0]]]])]
  assert losses.feature_matching(real, fake) == pytest.approx(
      (0.5 + 1.0) / 2)


def test_critic_options_are_checked():
  from inpainting import config_lib
  config = tiny.get_config()
  config.model.critic.view = 'sideways'
  config.model.critic.window = 48
  config.loss.adversarial = 'wasserstein'
  config.loss.r1_weight = -1.0
  config.loss.r1_interval = 0
  config.optimizer.critic_steps = 0
  config.model.critic.head = 'max'
  with pytest.raises(config_lib.ConfigError) as error:
    config_lib.validate(config, device_count=1)
  for text in ("config.model.critic.view='sideways'",
               "config.model.critic.head='max'",
               "config.loss.adversarial='wasserstein'",
               'config.loss.r1_weight=-1.0', 'config.loss.r1_interval=0',
               'config.optimizer.critic_steps=0'):
    assert text in str(error.value)
  config = tiny.get_config()
  config.model.critic.view = 'local'
  config.model.critic.window = 40  # not divisible by 2**4
  with pytest.raises(config_lib.ConfigError, match=r'critic\.window=40'):
    config_lib.validate(config, device_count=1)


def test_spectral_norm_wraps_the_fast_convolutions_too():
  # On CPU 'auto' picks the adjoint convolutions: flax's SpectralNorm reads
  # their kernel like the stock layer's.
  image, mask, embedding = _inputs()
  config = tiny.get_config()
  config.model.critic.spectral_norm = True
  values = {}
  for impl in ('xla', 'adjoint'):
    config.model.layers.conv_impl = impl
    critic = models.critic_from_config(config.model)
    variables = critic.init(jax.random.key(0), image, mask, embedding,
                            train=False)
    values[impl], _ = critic.apply(variables, image, mask, embedding,
                                   train=True, mutable=['batch_stats'])
  np.testing.assert_allclose(values['xla'], values['adjoint'], rtol=1e-4,
                             atol=1e-5)


def test_blur_passes_no_pixel_period_pattern_and_keeps_a_constant():
  rows = np.where(np.arange(9) % 2, -1.0, 1.0)  # odd length: the edges too
  nyquist = np.broadcast_to(rows[None, :, None, None], (1, 9, 6, 2))
  np.testing.assert_allclose(models.blur(jnp.asarray(nyquist)), 0, atol=1e-7)
  np.testing.assert_allclose(models.blur(jnp.asarray(nyquist.swapaxes(1, 2))),
                             0, atol=1e-7)
  constant = jnp.full((1, 5, 7, 3), 0.3)
  np.testing.assert_allclose(models.blur(constant), constant, rtol=1e-6)
  ramp = jnp.arange(8.0)[None, :, None, None] * jnp.ones((1, 8, 8, 1))
  np.testing.assert_allclose(models.blur(ramp)[0, 1:-1, :, 0],
                             ramp[0, 1:-1, :, 0], rtol=1e-6)  # linear kept


@pytest.mark.parametrize('blur', [False, True])
def test_a_blurring_critics_gradient_holds_no_pixel_period_stripes(blur):
  # The critic's gradient is what it teaches the generator: without the
  # blur it pushes +1, -1, ... patterns along rows and columns (stripes).
  image, mask, embedding = _inputs()
  critic = _critic(blur=blur)
  variables = _perturbed(critic.init(jax.random.key(0), image, mask,
                                     embedding, train=False))
  grad = jax.grad(lambda x: critic.apply(
      variables, x, mask, embedding, train=False).sum())(image)
  alternating = np.where(np.arange(grad.shape[2]) % 2, -1.0, 1.0)
  along_rows = np.einsum('bhwc,w->bhc', np.asarray(grad), alternating)
  along_columns = np.einsum('bhwc,h->bwc', np.asarray(grad), alternating)
  scale = np.abs(grad).sum(axis=2).max()
  if blur:
    assert np.abs(along_rows).max() < 1e-5 * scale
    assert np.abs(along_columns).max() < 1e-5 * scale
  else:
    assert np.abs(along_rows).max() > 1e-2 * scale


def test_the_blur_adds_no_parameters():
  image, mask, embedding = _inputs()
  shapes = [jax.tree.map(jnp.shape, _critic(blur=blur).init(
      jax.random.key(0), image, mask, embedding, train=False))
            for blur in (False, True)]
  assert shapes[0] == shapes[1]


def test_the_mean_head_is_a_dense_layer_over_the_averaged_features():
  # With captions out, the logit is Dense(mean of the last features): one
  # weight per channel, the same at every position (no spatial template).
  image, mask, embedding = _inputs(3)
  critic = _critic(head='mean', use_captions=False)
  variables = _perturbed(critic.init(jax.random.key(0), image, mask, None,
                                     train=False))
  logits, features = critic.apply(variables, image, mask, None, train=False,
                                  return_features=True)
  dense = variables['params']['logit']
  channels = features[-1].shape[-1]
  assert dense['kernel'].shape == (channels, 1)
  expected = (np.asarray(features[-1]).mean(axis=(1, 2)) @
              np.asarray(dense['kernel']))[:, 0] + np.asarray(dense['bias'])
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
  # The seed's head: a weight for every position and channel.
  flat = _critic(use_captions=False).init(jax.random.key(0), image, mask,
                                          None, train=False)
  h, w = features[-1].shape[1:3]
  assert flat['params']['logit']['kernel'].shape == (h * w * channels, 1)
