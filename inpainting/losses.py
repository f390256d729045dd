"""Pure loss functions of the generator and the critic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def hole_mse(prediction: jax.Array, target: jax.Array,
             mask: jax.Array) -> jax.Array:
  """Mean squared error over the hole's pixels and channels, per example.

  Args:
    prediction: [B, H, W, C].
    target: [B, H, W, C].
    mask: [B, H, W, 1], 1 in the hole.

  Returns:
    [B] float32.
  """
  squared = jnp.square(prediction.astype(jnp.float32) - target) * mask
  channels = prediction.shape[-1]
  return squared.sum((1, 2, 3)) / (mask.sum((1, 2, 3)) * channels)


def binary_cross_entropy(logits: jax.Array, label: float) -> jax.Array:
  """Mean sigmoid cross-entropy of logits against a constant label."""
  return optax.sigmoid_binary_cross_entropy(
      logits, jnp.full_like(logits, label)).mean()


def critic_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """BCE(D(real), real) + BCE(D(fake), fake)."""
  return (binary_cross_entropy(real_logits, 1.0) +
          binary_cross_entropy(fake_logits, 0.0))


def generator_loss(prediction: jax.Array, target: jax.Array, mask: jax.Array,
                   fake_logits: jax.Array, *, reconstruction_weight: float,
                   adversarial_weight: float) -> tuple[jax.Array, dict]:
  """`w_rec * MSE(hole) + w_adv * BCE(D(fake), real)`.

  Returns:
    (loss, {'mse': ..., 'adversarial': ...}) as scalars.
  """
  mse = hole_mse(prediction, target, mask).mean()
  adversarial = binary_cross_entropy(fake_logits, 1.0)
  loss = reconstruction_weight * mse + adversarial_weight * adversarial
  return loss, {'mse': mse, 'adversarial': adversarial}
