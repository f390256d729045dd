"""The sampler's denoising U-Net: shapes, size, and per-image independence."""

import jax
import jax.numpy as jnp
import numpy as np

from inpainting import unet


def _inputs(batch=3, size=16, seed=0):
  rng = np.random.default_rng(seed)
  mask = np.zeros((batch, size, size, 1), np.float32)
  mask[:, size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
  image = rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
  return (jnp.asarray(rng.normal(size=(batch, size, size, 3)) * mask,
                      jnp.float32),
          jnp.asarray(rng.normal(size=batch), jnp.float32),
          jnp.asarray(image * (1 - mask)), jnp.asarray(mask),
          jnp.asarray(rng.normal(size=(batch, 384)), jnp.float32))


def test_the_default_unet_is_small_enough_for_a_cpu():
  shapes = jax.eval_shape(unet.UNet().init, jax.random.PRNGKey(0),
                          *_inputs(batch=1, size=64))
  count = sum(p.size for p in jax.tree.leaves(shapes))
  assert 1e6 < count < 5e6, count


def test_the_unet_starts_at_zero_and_reads_its_caption_per_image():
  model = unet.UNet(features=(8, 16), attention_levels=(1,),
                    embedding_features=16)
  inputs = _inputs()
  params = jax.jit(model.init)(jax.random.PRNGKey(0), *inputs)
  apply = jax.jit(model.apply)
  out = apply(params, *inputs)
  assert out.shape == (3, 16, 16, 3)
  # Zero-initialised output: training starts from D(x) = c_skip x.
  assert float(jnp.abs(out).max()) == 0.0
  # With every weight random, the caption changes the output, and an
  # image's output does not depend on the rest of its batch.
  params = jax.tree.map(
      lambda p: jax.random.normal(jax.random.PRNGKey(p.size), p.shape) *
      0.2, params)
  out = apply(params, *inputs)
  # The other images replaced (the same shapes: no second compilation).
  others = _inputs(seed=1)
  mixed = [jnp.concatenate([x[:1], y[1:]]) for x, y in zip(inputs, others)]
  np.testing.assert_allclose(apply(params, *mixed)[0], out[0], rtol=1e-4,
                             atol=1e-5)
  captions = inputs[4].at[0].set(others[4][0])
  assert not np.allclose(apply(params, *inputs[:4], captions)[0], out[0])
