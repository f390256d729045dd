"""Pure loss functions of the generator and the critic, and the registry of
the generator's loss terms (`GENERATOR_TERMS`)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

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
RECONSTRUCTION_LOSSES: dict[str, Callable[[jax.Array], jax.Array]] = {
    'mse': lambda per_image_mse: per_image_mse.mean(),
    'psnr': lambda per_image_mse: -metrics.psnr(per_image_mse / 4.0).mean(),
}


def reconstruction_loss(per_image_mse: jax.Array, kind: str) -> jax.Array:
  """The reconstruction term from each image's (weighted) hole MSE.

  Args:
    per_image_mse: [B], on the model's [-1, 1] scale (`hole_mse`,
      `weighted_mse`).
    kind: a key of RECONSTRUCTION_LOSSES (checked by config_lib).

  Returns:
    A scalar: the mean MSE ('mse') or minus the mean PSNR in dB of the
    errors on [0, 1] RGB ('psnr').
  """
  return RECONSTRUCTION_LOSSES[kind](per_image_mse)


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


@dataclasses.dataclass(frozen=True)
class CriticScores:
  """What the critic said of a batch of images, for the generator's terms.

  Attributes:
    logits: [B], or [B, h, w] for a critic with a logit per patch.
    weights: the hole's share of each logit's patch (as `logits`), from the
      critic itself (`models.Critic.fake_weights`); None: every logit
      scores the whole fill.
    features: every convolution block's output (feature matching).
  """
  logits: jax.Array
  weights: jax.Array | None
  features: list[jax.Array]


@dataclasses.dataclass(frozen=True)
class GeneratorLossInputs:
  """What the generator's loss terms read, on one device in one step.

  Attributes:
    prediction: [B, H, W, 3] float32, the fill that the critic scores.
    reconstructed: [B, H, W, 3] float32, the fill the reconstruction term
      scores (`prediction`, or its noiseless twin with
      `loss.noise_free_reconstruction`).
    image, mask: the batch's targets [B, H, W, 3] and holes [B, H, W, 1].
    loss: `config.loss`.
    fake: the critic on the composite, where a term reads it, else None.
    real_features: the critic's features of the real images, where a term
      reads them (gradient stopped), else None.
  """
  prediction: jax.Array
  reconstructed: jax.Array
  image: jax.Array
  mask: jax.Array
  loss: Any
  fake: CriticScores | None = None
  real_features: list[jax.Array] | None = None


def reconstruction_term(inputs: GeneratorLossInputs) -> jax.Array:
  """`loss.reconstruction` of the hole's error, boundary-aware where
  `loss.edge_weight` or `loss.known_weight` ask (`reconstruction_weights`)."""
  cfg = inputs.loss
  if cfg.edge_weight != 1.0 or cfg.known_weight != 0.0:
    weights = reconstruction_weights(inputs.mask, band=cfg.band,
                                     edge_weight=cfg.edge_weight,
                                     known_weight=cfg.known_weight)
    per_image = weighted_mse(inputs.reconstructed, inputs.image, weights)
  else:  # the seed: the hole's plain MSE
    per_image = hole_mse(inputs.reconstructed, inputs.image, inputs.mask)
  return reconstruction_loss(per_image, cfg.reconstruction)


def adversarial_term(inputs: GeneratorLossInputs) -> jax.Array:
  """`loss.adversarial`'s generator loss: the composite scored real."""
  return adversarial_loss(inputs.fake.logits, kind=inputs.loss.adversarial,
                          fake_weights=inputs.fake.weights)


def feature_matching_term(inputs: GeneratorLossInputs) -> jax.Array:
  """The critic's features of the composite against the real image's."""
  return feature_matching(inputs.real_features, inputs.fake.features)


@dataclasses.dataclass(frozen=True)
class LossTerm:
  """A term of the generator's loss: `config.loss[weight]` times `fn`.

  Attributes:
    fn: the term, from the step's `GeneratorLossInputs`.
    weight: its weight's field in `config.loss`; a term of weight 0 is not
      computed, and a critic that no term reads is neither run nor trained.
    reads: what `fn` needs beyond the fills: 'critic' (the critic's scores
      of the composite, `fake`) and 'real_features'.
  """
  fn: Callable[[GeneratorLossInputs], jax.Array]
  weight: str
  reads: frozenset[str] = frozenset()


# The generator's loss, term by term, summed in this order. A new term is
# a function here, an entry below and its weight field in configs/default.py.
GENERATOR_TERMS: dict[str, LossTerm] = {
    'reconstruction': LossTerm(reconstruction_term, 'reconstruction_weight'),
    'adversarial': LossTerm(adversarial_term, 'adversarial_weight',
                            frozenset({'critic'})),
    'feature_matching': LossTerm(feature_matching_term,
                                 'feature_matching_weight',
                                 frozenset({'critic', 'real_features'})),
}


def active_terms(loss_config: Any) -> dict[str, LossTerm]:
  """The terms of `GENERATOR_TERMS` whose weight in `config.loss` is > 0."""
  return {name: term for name, term in GENERATOR_TERMS.items()
          if loss_config[term.weight] > 0}


def reads(loss_config: Any, what: str) -> bool:
  """Whether an active term reads `what` ('critic', 'real_features')."""
  return any(what in term.reads for term in active_terms(loss_config).values())


def generator_terms(inputs: GeneratorLossInputs
                    ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """The weighted sum of the active terms, and each term's value.

  Returns:
    (loss, {term name: its unweighted value}) as scalars.
  """
  loss, parts = 0.0, {}
  for name, term in active_terms(inputs.loss).items():
    parts[name] = term.fn(inputs)
    loss = loss + inputs.loss[term.weight] * parts[name]
  return loss, parts
