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


def test_generator_loss_weights():
  prediction = np.zeros((1, 1, 1, 1), np.float32)
  target = np.full((1, 1, 1, 1), 0.5, np.float32)
  mask = np.ones((1, 1, 1, 1), np.float32)
  fake_logits = np.array([0.0], np.float32)
  loss, parts = losses.generator_loss(
      prediction, target, mask, fake_logits, reconstruction_weight=0.8,
      adversarial_weight=0.2)
  assert parts['mse'] == pytest.approx(0.25)
  assert parts['adversarial'] == pytest.approx(np.log(2))
  assert loss == pytest.approx(0.8 * 0.25 + 0.2 * np.log(2), rel=1e-6)
