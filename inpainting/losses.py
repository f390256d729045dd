"""Pure loss functions of the generator and the critic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from inpainting import metrics


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


# The reconstruction term (loss.reconstruction), from the per-image error:
# 'mse', the seed's, its mean; 'psnr', minus the mean of the images' PSNR in
# dB, as evaluation reports it (metrics.psnr of the hole MSE on [0, 1] RGB).
# The mean of log MSEs weighs each image's gradient by 1 / its MSE, so the
# images already filled well count for more: what the mean PSNR rewards,
# where the mean MSE rewards the hardest holes.
RECONSTRUCTION_LOSSES = ('mse', 'psnr')


def reconstruction_loss(per_image_mse: jax.Array, kind: str) -> jax.Array:
  """The reconstruction term from each image's (weighted) hole MSE.

  Args:
    per_image_mse: [B], on the model's [-1, 1] scale (`hole_mse`,
      `weighted_mse`).
    kind: one of RECONSTRUCTION_LOSSES.

  Returns:
    A scalar: the mean MSE ('mse') or minus the mean PSNR in dB of the
    errors on [0, 1] RGB ('psnr').
  """
  if kind == 'mse':
    return per_image_mse.mean()
  if kind == 'psnr':
    return -metrics.psnr(per_image_mse / 4.0).mean()
  raise ValueError(f'reconstruction loss {kind!r}: must be one of '
                   f'{RECONSTRUCTION_LOSSES}')


def binary_cross_entropy(logits: jax.Array, label: float) -> jax.Array:
  """Mean sigmoid cross-entropy of logits against a constant label."""
  return optax.sigmoid_binary_cross_entropy(
      logits, jnp.full_like(logits, label)).mean()


# The adversarial losses (loss.adversarial), each as the critic's per-logit
# loss for a real and for a fake input, and the generator's for a fake one.
ADVERSARIAL_LOSSES = {
    # The seed's cross-entropy: -log D(real) - log(1 - D(fake)); the
    # generator's -log D(fake) is the non-saturating form.
    'bce': (lambda x: jax.nn.softplus(-x), jax.nn.softplus,
            lambda x: jax.nn.softplus(-x)),
    # Hinge (Lim and Ye 2017; SN-GAN, DeepFill v2): the critic stops pushing
    # logits beyond a margin of 1; the generator raises D(fake).
    'hinge': (lambda x: jax.nn.relu(1.0 - x), lambda x: jax.nn.relu(1.0 + x),
              lambda x: -x),
}


def _weighted_mean(values: jax.Array, weights: jax.Array | None) -> jax.Array:
  if weights is None:
    return values.mean()
  return (values * weights).sum() / jnp.maximum(weights.sum(), 1e-8)


def critic_loss(real_logits: jax.Array, fake_logits: jax.Array, *,
                kind: str = 'bce',
                fake_weights: jax.Array | None = None) -> jax.Array:
  """The critic's loss: real inputs scored real, fakes fake.

  Args:
    real_logits, fake_logits: [B] or [B, h, w] (a patch critic's).
    kind: a key of ADVERSARIAL_LOSSES; 'bce' is
      BCE(D(real), real) + BCE(D(fake), fake).
    fake_weights: the hole's share of each fake logit's patch, as
      `fake_logits` (models.patch_weights); where it is below 1 the rest is
      real pixels of the composite and is scored as real, as LaMa does.
      None: every fake logit is wholly fake.

  Returns:
    A scalar.
  """
  real_loss, fake_loss, _ = ADVERSARIAL_LOSSES[kind]
  fake = fake_loss(fake_logits)
  if fake_weights is not None:
    fake = fake_weights * fake + (1.0 - fake_weights) * real_loss(fake_logits)
  return real_loss(real_logits).mean() + fake.mean()


def adversarial_loss(fake_logits: jax.Array, *, kind: str = 'bce',
                     fake_weights: jax.Array | None = None) -> jax.Array:
  """The generator's adversarial loss: its fakes scored real.

  With `fake_weights` (a patch critic's) the mean is over the hole's share
  of each position: positions of known pixels only carry no gradient to
  the fill anyway.
  """
  return _weighted_mean(ADVERSARIAL_LOSSES[kind][2](fake_logits),
                        fake_weights)


def r1_penalty(input_gradients: jax.Array) -> jax.Array:
  """Mean over examples of |d sum(D(real)) / d real|^2 (Mescheder et al. 2018).

  The loss adds `r1_weight / 2` times it: it keeps the critic's surface
  flat around real images, which keeps its gradients to the generator
  informative rather than steep.

  Args:
    input_gradients: [B, H, W, C], the gradient of the critic's summed
      logits with respect to the real images.
  """
  return jnp.square(input_gradients).sum(axis=(1, 2, 3)).mean()


def feature_matching(real_features: list[jax.Array],
                     fake_features: list[jax.Array]) -> jax.Array:
  """Mean over the critic's blocks of the mean |real - fake| features.

  (Salimans et al. 2016; pix2pixHD): the fill should make the critic's
  intermediate features of the composite those of the real image. No
  pretrained network is needed.
  """
  return sum(jnp.abs(r.astype(jnp.float32) - f.astype(jnp.float32)).mean()
             for r, f in zip(real_features, fake_features)) / len(
                 real_features)


def generator_loss(prediction: jax.Array, target: jax.Array, mask: jax.Array,
                   fake_logits: jax.Array | None, *,
                   reconstruction_weight: float,
                   adversarial_weight: float,
                   pixel_weights: jax.Array | None = None,
                   kind: str = 'bce',
                   fake_weights: jax.Array | None = None,
                   reconstruction: str = 'mse',
                   ) -> tuple[jax.Array, dict]:
  """`w_rec * MSE(hole) + w_adv * adversarial` (the seed: BCE(D(fake), real)).

  Args:
    prediction, target, mask: [B, H, W, C], [B, H, W, C], [B, H, W, 1].
    fake_logits: the critic's logits of the composites; None: no critic
      (the reconstruction term alone).
    reconstruction_weight, adversarial_weight: the two terms' weights.
    pixel_weights: [B, H, W, 1] weights of the reconstruction term
      (`reconstruction_weights`); None: the hole's plain MSE (the seed).
    kind, fake_weights: of the adversarial term (`adversarial_loss`).
    reconstruction: the reconstruction term's form (`reconstruction_loss`):
      'mse' (the seed) or 'psnr', minus the mean PSNR in dB.

  Returns:
    (loss, {'mse': hole MSE, 'adversarial': ...}) as scalars; without
    fake_logits, {'mse': ...}.
  """
  per_image = hole_mse(prediction, target, mask)
  mse = per_image.mean()
  if pixel_weights is not None:
    per_image = weighted_mse(prediction, target, pixel_weights)
  loss = reconstruction_weight * reconstruction_loss(per_image, reconstruction)
  if fake_logits is None:
    return loss, {'mse': mse}
  adversarial = adversarial_loss(fake_logits, kind=kind,
                                 fake_weights=fake_weights)
  loss = loss + adversarial_weight * adversarial
  return loss, {'mse': mse, 'adversarial': adversarial}
