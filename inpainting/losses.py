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


def _dilate(mask: jax.Array, radius: int) -> jax.Array:
  """1 where a pixel of `mask` [B, H, W, 1] lies within `radius` (Chebyshev)."""
  size = 2 * radius + 1
  return jax.lax.reduce_window(mask, 0.0, jax.lax.max, (1, size, size, 1),
                               (1, 1, 1, 1), 'SAME')


def reconstruction_weights(mask: jax.Array, *, band: int, edge_weight: float,
                           known_weight: float) -> jax.Array:
  """Per-pixel weights of the reconstruction loss, boundary-aware.

  Hole pixels weigh 1, or `edge_weight` within `band` pixels of a known
  pixel (the step at the hole's edge is what a seam is made of); known
  pixels within `band` of the hole weigh `known_weight`: a loss on the
  generator's prediction of the border it is given, which the composite
  then discards (the context encoder's released code predicts a region 4
  pixels larger than the hole and weighs that band 10x).

  Args:
    mask: [B, H, W, 1], 1 in the hole.
    band: the band's width in pixels.
    edge_weight: weight of hole pixels near a known pixel.
    known_weight: weight of known pixels near the hole.

  Returns:
    [B, H, W, 1] float32.
  """
  mask = mask.astype(jnp.float32)
  near_known = _dilate(1.0 - mask, band)
  near_hole = _dilate(mask, band)
  return (mask * (1.0 + (edge_weight - 1.0) * near_known) +
          (1.0 - mask) * near_hole * known_weight)


def weighted_mse(prediction: jax.Array, target: jax.Array,
                 weights: jax.Array) -> jax.Array:
  """Squared error averaged over channels, weighted per pixel, per example.

  Returns:
    [B]: sum(weights * error) / sum(weights); `hole_mse` for weights = mask.
  """
  squared = jnp.square(prediction.astype(jnp.float32) - target) * weights
  channels = prediction.shape[-1]
  return squared.sum((1, 2, 3)) / (weights.sum((1, 2, 3)) * channels)


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
                   adversarial_weight: float,
                   pixel_weights: jax.Array | None = None
                   ) -> tuple[jax.Array, dict]:
  """`w_rec * MSE(hole) + w_adv * BCE(D(fake), real)`.

  Args:
    prediction, target, mask: [B, H, W, C], [B, H, W, C], [B, H, W, 1].
    fake_logits: the critic's logits of the composites.
    reconstruction_weight, adversarial_weight: the two terms' weights.
    pixel_weights: [B, H, W, 1] weights of the reconstruction term
      (`reconstruction_weights`); None: the hole's plain MSE (the seed).

  Returns:
    (loss, {'mse': hole MSE, 'adversarial': ...}) as scalars.
  """
  mse = hole_mse(prediction, target, mask).mean()
  reconstruction = mse if pixel_weights is None else weighted_mse(
      prediction, target, pixel_weights).mean()
  adversarial = binary_cross_entropy(fake_logits, 1.0)
  loss = reconstruction_weight * reconstruction + (
      adversarial_weight * adversarial)
  return loss, {'mse': mse, 'adversarial': adversarial}
