"""Loss values against hand computations."""

import numpy as np
import pytest

from inpainting import losses


def test_hole_mse_only_counts_the_hole():
  prediction = np.zeros((2, 2, 2, 1), np.float32)
  target = np.array([[[[1.0], [2.0]], [[3.0], [4.0]]],
                     [[[0.5], [0.0]], [[0.0], [0.0]]]], np.float32)
  mask = np.zeros((2, 2, 2, 1), np.float32)
  mask[:, 0, :] = 1  # the first row is the hole
  # Example 0: (1 + 4) / 2; example 1: 0.25 / 2.
  np.testing.assert_allclose(losses.hole_mse(prediction, target, mask),
                             [2.5, 0.125])


def test_hole_mse_averages_channels():
  prediction = np.zeros((1, 1, 2, 3), np.float32)
  target = np.ones((1, 1, 2, 3), np.float32) * [1.0, 2.0, 3.0]
  mask = np.array([1.0, 0.0], np.float32).reshape(1, 1, 2, 1)
  np.testing.assert_allclose(losses.hole_mse(prediction, target, mask),
                             [(1 + 4 + 9) / 3])


def test_binary_cross_entropy():
  logits = np.array([0.0, 2.0], np.float32)
  # -log(sigmoid(0)) = log 2; -log(sigmoid(2)) = log(1 + e^-2).
  expected = (np.log(2) + np.log1p(np.exp(-2.0))) / 2
  assert losses.binary_cross_entropy(logits, 1.0) == pytest.approx(
      expected, rel=1e-6)
  # Label 0: -log(1 - sigmoid(x)) = log(1 + e^x).
  expected = (np.log(2) + np.log1p(np.exp(2.0))) / 2
  assert losses.binary_cross_entropy(logits, 0.0) == pytest.approx(
      expected, rel=1e-6)


def test_critic_loss():
  real = np.array([3.0], np.float32)
  fake = np.array([-1.0], np.float32)
  expected = np.log1p(np.exp(-3.0)) + np.log1p(np.exp(-1.0))
  assert losses.critic_loss(real, fake) == pytest.approx(expected, rel=1e-6)


def _loss_config(**fields):
  import ml_collections  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top
  loss = default.get_config().loss
  loss.update(fields)
  return ml_collections.FrozenConfigDict(loss)


def _terms(prediction, target, mask, fake_logits=None, **fields):
  fake = (None if fake_logits is None else
          losses.CriticScores(fake_logits, None, []))
  return losses.generator_terms(losses.GeneratorLossInputs(
      prediction=prediction, reconstructed=prediction, image=target,
      mask=mask, loss=_loss_config(**fields), fake=fake))


def test_generator_loss_weights():
  prediction = np.zeros((1, 1, 1, 1), np.float32)
  target = np.full((1, 1, 1, 1), 0.5, np.float32)
  mask = np.ones((1, 1, 1, 1), np.float32)
  fake_logits = np.array([0.0], np.float32)
  loss, parts = _terms(prediction, target, mask, fake_logits,
                       reconstruction_weight=0.8, adversarial_weight=0.2)
  assert parts['reconstruction'] == pytest.approx(0.25)
  assert parts['adversarial'] == pytest.approx(np.log(2))
  assert loss == pytest.approx(0.8 * 0.25 + 0.2 * np.log(2), rel=1e-6)


def test_a_term_of_weight_zero_is_not_computed_nor_its_inputs_read():
  prediction = np.zeros((1, 1, 1, 1), np.float32)
  target = np.full((1, 1, 1, 1), 0.5, np.float32)
  mask = np.ones((1, 1, 1, 1), np.float32)
  # No critic scores given: the adversarial term must not ask for them.
  loss, parts = _terms(prediction, target, mask, adversarial_weight=0.0,
                       reconstruction_weight=2.0)
  assert list(parts) == ['reconstruction']
  assert loss == pytest.approx(0.5)
  assert not losses.reads(_loss_config(adversarial_weight=0.0), 'critic')
  assert losses.reads(_loss_config(adversarial_weight=0.0,
                                   feature_matching_weight=1.0),
                      'real_features')


def test_boundary_weights_on_a_small_mask():
  mask = np.zeros((1, 8, 8, 1), np.float32)
  mask[0, 2:6, 2:6] = 1  # a 4x4 hole
  w = np.asarray(losses.reconstruction_weights(
      mask, band=1, edge_weight=3.0, known_weight=10.0))[0, ..., 0]
  expected = np.zeros((8, 8), np.float32)
  expected[1:7, 1:7] = 10.0  # known pixels within 1 of the hole
  expected[2:6, 2:6] = 3.0  # the hole's ring next to known pixels
  expected[3:5, 3:5] = 1.0  # its inside
  np.testing.assert_array_equal(w, expected)


def test_seed_weights_are_the_hole_mse():
  rng = np.random.default_rng(0)
  prediction, target = rng.normal(size=(2, 2, 8, 8, 3)).astype(np.float32)
  mask = np.zeros((2, 8, 8, 1), np.float32)
  mask[:, 2:6, 3:7] = 1
  weights = losses.reconstruction_weights(mask, band=2, edge_weight=1.0,
                                          known_weight=0.0)
  np.testing.assert_array_equal(weights, mask)
  np.testing.assert_allclose(losses.weighted_mse(prediction, target, weights),
                             losses.hole_mse(prediction, target, mask),
                             rtol=1e-6)
  # Known pixels weighed in: their error counts, normalised by the weights.
  weights = losses.reconstruction_weights(mask, band=1, edge_weight=1.0,
                                          known_weight=2.0)
  squared = np.square(prediction - target).mean(-1, keepdims=True)
  expected = (np.asarray(weights) * squared).sum((1, 2, 3)) / np.asarray(
      weights).sum((1, 2, 3))
  np.testing.assert_allclose(losses.weighted_mse(prediction, target, weights),
                             expected, rtol=1e-5)


def test_psnr_reconstruction_is_minus_the_mean_psnr():
  # Errors 0.2 and 0.02 on the model's [-1, 1] scale are 0.1 and 0.01 on
  # [0, 1]: MSEs 1e-2 and 1e-4, PSNRs 20 and 40 dB.
  target = np.zeros((2, 4, 4, 3), np.float32)
  prediction = target + np.array([0.2, 0.02], np.float32)[:, None, None,
                                                          None]
  mask = np.zeros((2, 4, 4, 1), np.float32)
  mask[:, 1:3, 1:3] = 1
  prediction[:, 0] = 5.0  # outside the hole: not counted
  loss, _ = _terms(prediction, target, mask, reconstruction_weight=0.5,
                   adversarial_weight=0.0, reconstruction='psnr')
  assert loss == pytest.approx(0.5 * -(20.0 + 40.0) / 2, rel=1e-5)
  # The logged MSE (train_step's hole_mse) stays the plain one.
  assert losses.hole_mse(prediction, target, mask).mean() == pytest.approx(
      (0.04 + 0.0004) / 2, rel=1e-5)


def test_psnr_reconstruction_weighs_images_by_their_inverse_mse():
  import jax
  target = np.zeros((2, 4, 4, 1), np.float32)
  mask = np.ones((2, 4, 4, 1), np.float32)

  def gradient(kind, prediction):
    return np.asarray(jax.grad(lambda p: _terms(
        p, target, mask, reconstruction_weight=1.0, adversarial_weight=0.0,
        reconstruction=kind)[0])(prediction))

  # Two images, uniform errors 0.4 and 0.1: the MSE's gradient per pixel
  # is proportional to the error (4:1), the log MSE's to error / MSE = 1 /
  # error (1:4), 10 / ln 10 * 2 / (n * error) with n = 16 pixels.
  prediction = np.zeros_like(target)
  prediction[0], prediction[1] = 0.4, 0.1
  mse = gradient('mse', prediction)
  np.testing.assert_allclose(mse[0] / mse[1], 4.0, rtol=1e-5)
  psnr = gradient('psnr', prediction)
  np.testing.assert_allclose(psnr[0] / psnr[1], 0.25, rtol=1e-5)
  np.testing.assert_allclose(
      psnr[1], 10 / np.log(10) * 2 / (2 * 16 * 0.1), rtol=1e-5)


def test_unknown_reconstruction_loss_is_refused_by_the_config_check():
  from configs import tiny  # pylint: disable=g-import-not-at-top
  from inpainting import config_lib  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.loss.reconstruction = 'l3'
  with pytest.raises(config_lib.ConfigError,
                     match=r"config.loss.reconstruction='l3': must be one "
                     r"of \['mse', 'psnr'\]"):
    config_lib.validate(config, device_count=2)
