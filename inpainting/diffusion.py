"""A caption-conditioned diffusion sampler of holes, as a `method.Method`.

Where the context encoder predicts one fill, the mean of what the hole may
hold (the best by PSNR, and blurred), this method draws fills from
p(hole | border, caption): each sharp, each different, their mean the mean
fill's estimate. EDM's formulas (`edm.py`: preconditioning, loss weight,
log-normal training levels, Heun's sampler) around a small U-Net
(`unet.py`) that reads the noisy hole, the visible image, the mask, the
noise level and the caption (FiLM). Caption dropout at training makes
classifier-free guidance possible at sampling (`FillOptions.guidance`).

Only the hole's pixels are noised, denoised and scored; the known pixels
are the input's, exactly (inference pastes them back).

With `config.diffusion.mean_fill` (a mean model's exported weights), the
draws are around that model's fill m: m is pasted into the U-Net's
context, and the denoiser is D(y) = m + D_r(y - m), D_r EDM's denoiser of
the residual (its sigma_data the residual's). The squared error of D
against the hole is that of D_r against the residual, so training, the
sampler and the caption score are unchanged; the mean model is frozen and
sees the same (dropped) caption as the U-Net, so guidance guides both.

The state (`DiffusionState`): the network's parameters and optimiser, its
moving average, the step's random key, and the mean model's variables if
any; trained by the same trainer (pmap over `method.AXIS`, orbax
checkpoints, exact resume) as the context encoder. Its config: `config.diffusion` (the network in `.unet`, the noise
schedule, the sampler's steps and churn), `config.model.use_captions` and
`config.model.dtype`, `config.optimizer` (its `generator_learning_rate` is
the network's), `config.caption_dropout` and `config.guidance`.
"""

from __future__ import annotations

import functools
from typing import Any

import flax
import jax
from jax import lax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from inpainting import edm
from inpainting import losses
from inpainting import method
from inpainting import state as state_lib
from inpainting import unet

AXIS = method.AXIS
# The draw of `predict` (evaluation's one-sample fill, grids, the tools'
# default), so that a fill is reproducible; `sample` takes any key.
SAMPLE_SEED = 0
# Fixed noise levels of the caption score (`caption_loss`): the middle of
# the training distribution (ln sigma ~ N(-1.2, 1.2^2)). At low noise the
# noisy hole tells almost all, so the caption's share of the loss grows
# with the level (docs/experiments/14_sampler.md: +0.1-0.2% at these
# levels, +0.8% at the schedule's top).
CAPTION_SIGMAS = (0.1, 0.3, 1.0)
CAPTION_NOISE_SEED = 0
# `caption_loss_by_level` also reports the top of the schedule (sigma_max),
# where the noisy hole tells nothing and the denoiser's output is its
# estimate of the hole's mean given the border and the caption: the mean
# model's quantity, so that the caption's share compares like with like.


@flax.struct.dataclass
class DiffusionState:
  """Everything a run carries from step to step: one pytree to checkpoint."""
  network: state_lib.TrainState
  rng: jax.Array  # raw key data; folded with the step.
  # The network's averaged parameters when `optimizer.ema_decay` > 0.
  ema: Any = None
  # The frozen mean model's variables with `diffusion.mean_fill`.
  mean_model: Any = None

  @property
  def step(self) -> jax.Array:
    return self.network.step


def model_config(config: ml_collections.ConfigDict
                 ) -> ml_collections.ConfigDict:
  """What the network and the sampler read: `config.diffusion` with the
  model's `use_captions` and `dtype`, and with `diffusion.mean_fill` the
  mean model's `config.model` as `mean_model` (static: frozen by the
  caller)."""
  fields = config.diffusion.to_dict()
  fields.update(use_captions=config.model.use_captions,
                dtype=config.model.dtype)
  if config.diffusion.mean_fill:
    fields['mean_model'] = _mean_model_fields(config.diffusion.mean_fill,
                                              config.image_size)
  return ml_collections.ConfigDict(fields)


# Every fill and draw asks for `model_config`: the file is read and checked
# once a process, not once a batch.
@functools.lru_cache(maxsize=8)
def _mean_model_fields(mean_fill: str, image_size: int) -> dict[str, Any]:
  """The exported mean model's `config.model` fields (`diffusion.
  mean_fill`), checked to be a context encoder's at the run's image size."""
  # export reads the method registry, which imports this module.
  from inpainting import export  # pylint: disable=g-import-not-at-top
  path = export.resolve(mean_fill)
  exported = export.load_config(path)
  if exported.method != 'context_encoder':
    raise export.ExportError(f'{path}: method {exported.method!r}; '
                             'config.diffusion.mean_fill names a mean '
                             "model (a context encoder's export)")
  if exported.image_size != image_size:
    raise export.ExportError(
        f'{path}: image_size {exported.image_size}, the run\'s '
        f'config.image_size is {image_size}')
  return exported.model.to_dict()


def _mean_model_variables(config: ml_collections.ConfigDict) -> Any:
  """The exported mean model's variables (`diffusion.mean_fill`)."""
  from inpainting import export  # pylint: disable=g-import-not-at-top
  _, exported = export.load(export.resolve(config.diffusion.mean_fill))
  return exported.ema


def mean_fill(state: DiffusionState, batch: dict[str, jax.Array],
              embedding: jax.Array, model: ml_collections.ConfigDict
              ) -> jax.Array | None:
  """The mean model's fill of the hole (0 outside; its caption
  `embedding`), or None without `diffusion.mean_fill`."""
  if state.mean_model is None:
    return None
  # context_encoder is a sibling method; its fill is the mean model's.
  from inpainting import context_encoder  # pylint: disable=g-import-not-at-top
  from inpainting import export  # pylint: disable=g-import-not-at-top
  filled = context_encoder.predict(
      export.GeneratorState(ema=state.mean_model),
      dict(batch, embedding=embedding), model=model.mean_model,
      options=method.FillOptions())
  return lax.stop_gradient(filled) * batch['mask']


def network(model: ml_collections.ConfigDict) -> unet.UNet:
  """The U-Net of `model_config(config)`."""
  net = model.unet
  return unet.UNet(features=tuple(net.features), blocks=net.blocks,
                   attention_levels=tuple(net.attention_levels),
                   embedding_features=net.embedding_features,
                   use_captions=model.use_captions,
                   dtype=jnp.dtype(model.dtype))


def schedule(model: ml_collections.ConfigDict) -> edm.Schedule:
  """The noise levels of `model_config(config)`."""
  return edm.Schedule(sigma_data=model.sigma_data, sigma_min=model.sigma_min,
                      sigma_max=model.sigma_max, rho=model.rho,
                      p_mean=model.p_mean, p_std=model.p_std)


def _denoiser(net: unet.UNet, params: Any, batch: dict[str, jax.Array],
              embedding: jax.Array, sigma_data: float,
              mean: jax.Array | None = None):
  """(x, sigma [B]) -> D(x; sigma | border, mask, caption); with a mean
  fill `mean` (0 outside the hole), m + D_r(x - m) with m in the context."""
  mask = batch['mask']
  context = batch['image'] * (1.0 - mask)
  if mean is None:
    mean = jnp.zeros_like(context)
  else:
    context = context + mean

  def denoise(x, sigma):
    return mean + edm.denoise(
        lambda scaled, c_noise: net.apply({'params': params}, scaled,
                                          c_noise, context, mask, embedding),
        x - mean, sigma, sigma_data)
  return denoise


def create_state(config: ml_collections.ConfigDict,
                 batch: dict[str, np.ndarray] | None = None
                 ) -> DiffusionState:
  """The network, its optimiser and average at step 0, from `config.seed`."""
  if batch is None:
    batch = state_lib.example_batch(config)
  rng = jax.random.key(config.seed, impl=state_lib.RNG_IMPL)
  init_rng, step_rng = jax.random.split(rng)
  net = network(model_config(config))
  image, mask = batch['image'], batch['mask']
  variables = jax.jit(net.init)(
      init_rng, image * mask, jnp.zeros(image.shape[:1]), image * (1 - mask),
      mask, batch['embedding'])
  opt = config.optimizer
  ema = None
  if opt.ema_decay > 0:  # a copy: the step donates the state's buffers
    ema = jax.tree.map(jnp.copy, variables['params'])
  mean_model = None
  if config.diffusion.mean_fill:
    mean_model = jax.tree.map(jnp.asarray, _mean_model_variables(config))
  return DiffusionState(
      network=state_lib.TrainState.create(
          apply_fn=net.apply, params=variables['params'],
          tx=state_lib.create_optimizer(config, opt.generator_learning_rate)),
      rng=jax.random.key_data(step_rng), ema=ema, mean_model=mean_model)


def _global_draw(draw, local: int) -> jax.Array:
  """This device's slice of a draw for the whole global batch: the same
  example gets the same draw on any number of devices."""
  drawn = draw(local * lax.axis_size(AXIS))
  return lax.dynamic_slice_in_dim(drawn, lax.axis_index(AXIS) * local, local)


def train_step(state: DiffusionState, batch: dict[str, jax.Array], *,
               config: ml_collections.ConfigDict, variant: None = None
               ) -> tuple[DiffusionState, dict[str, jax.Array]]:
  """One denoising step on this device's shard; run under `jax.pmap`.

  Each image's hole (its pixels, 0 outside) is noised at a level drawn
  from EDM's log-normal, denoised given the border, mask and caption
  (dropped with `caption_dropout`), and scored by EDM's weighted squared
  error over the hole (every level the same expected weight).

  Returns:
    (new state, metrics averaged over the devices): `loss` (weighted),
    `denoised_mse` (unweighted, on [0, 1] RGB, averaged over the levels
    drawn), the gradient's norm and the learning rate.
  """
  del variant  # one form
  model = model_config(config)
  net, levels = network(model), schedule(model)
  image, mask, embedding = batch['image'], batch['mask'], batch['embedding']
  n = image.shape[0]
  rng = jax.random.fold_in(
      jax.random.wrap_key_data(state.rng, impl=state_lib.RNG_IMPL),
      state.step)
  keep_rng, sigma_rng, noise_rng = jax.random.split(rng, 3)
  if config.caption_dropout > 0:
    keep = _global_draw(lambda total: jax.random.bernoulli(
        keep_rng, 1.0 - config.caption_dropout, (total, 1)), n)
    embedding = embedding * keep
  sigma = _global_draw(lambda total: edm.training_sigmas(
      sigma_rng, (total,), levels), n)
  noise = _global_draw(lambda total: jax.random.normal(
      noise_rng, (total, *image.shape[1:])), n)
  clean = image * mask
  noisy = clean + sigma[:, None, None, None] * noise * mask
  mean = mean_fill(state, batch, embedding, model)

  def loss_fn(params):
    denoised = _denoiser(net, params, {'image': image, 'mask': mask},
                         embedding, levels.sigma_data, mean)(noisy, sigma)
    per_image = losses.hole_mse(denoised, clean, mask)
    weighted = edm.loss_weight(sigma, levels.sigma_data) * per_image
    return weighted.mean(), per_image

  (loss, per_image), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.network.params)
  grads = lax.pmean(grads, AXIS)
  new_network = state.network.apply_gradients(grads=grads)
  ema = state.ema
  if ema is not None:
    ema = optax.incremental_update(
        new_network.params, ema,
        step_size=1.0 - state_lib.ema_decay(config, new_network.step))
  rate = state_lib.learning_rate_schedule(
      config, config.optimizer.generator_learning_rate)
  metrics = lax.pmean({
      'loss': loss,
      'denoised_mse': per_image.mean() / 4.0,  # [-1, 1] -> [0, 1] RGB
      'grad_norm': optax.tree.norm(grads),
      'learning_rate': jnp.asarray(
          rate(state.step) if callable(rate) else rate, jnp.float32),
  }, AXIS)
  return state.replace(network=new_network, ema=ema), metrics


def _params(state: DiffusionState) -> Any:
  """The parameters that sample: the average if there is one."""
  return state.ema if state.ema is not None else state.network.params


def sample(state: DiffusionState, batch: dict[str, jax.Array],
           rng: jax.Array, *, model: ml_collections.ConfigDict,
           options: method.FillOptions) -> jax.Array:
  """A draw of each image's hole: [B, H, W, 3] float32, 0 outside the hole.

  EDM's Heun sampler with `model.sampling_steps` levels (2 steps - 1
  network evaluations, twice that with guidance), deterministic for a key
  with `model.churn` 0, else stochastic (Algorithm 2). With
  `options.guidance` s > 0 (and captions): D_c + s (D_c - D_u), D_u given
  a zero caption. The draw is clipped to [-1, 1].
  """
  net, levels = network(model), schedule(model)
  params = _params(state)
  embedding = batch['embedding']
  conditional = _denoiser(net, params, batch, embedding, levels.sigma_data,
                          mean_fill(state, batch, embedding, model))
  denoiser = conditional
  guidance = options.guidance if model.use_captions else 0.0
  if guidance:
    zero = jnp.zeros_like(embedding)
    unconditional = _denoiser(net, params, batch, zero, levels.sigma_data,
                              mean_fill(state, batch, zero, model))
    denoiser = lambda x, sigma: edm.guide(
        conditional(x, sigma), unconditional(x, sigma), guidance)
  drawn = edm.sample(denoiser, rng, batch['mask'],
                     edm.karras_sigmas(model.sampling_steps, levels),
                     churn=model.churn)
  return jnp.clip(drawn, -1.0, 1.0) * batch['mask']


def predict(state: DiffusionState, batch: dict[str, jax.Array], *,
            model: ml_collections.ConfigDict, options: method.FillOptions,
            window: method.Box | None = None) -> jax.Array:
  """One draw from `SAMPLE_SEED` (reproducible), of the window if given:
  the U-Net sees the whole image, so the window only crops its output."""
  drawn = sample(state, batch, jax.random.key(SAMPLE_SEED), model=model,
                 options=options)
  if window is not None:
    top, bottom, left, right = window
    drawn = drawn[:, top:bottom, left:right]
  return drawn


def _denoising_losses(state: DiffusionState, batch: dict[str, jax.Array],
                      sigmas: tuple[float, ...],
                      model: ml_collections.ConfigDict) -> jax.Array:
  """[B, len(sigmas)]: the hole's denoising loss given each image's
  embedding at each level, unweighted; level i's noise is fixed (the i-th
  key from CAPTION_NOISE_SEED), so that losses are paired across
  embeddings."""
  net, levels = network(model), schedule(model)
  image, mask = batch['image'], batch['mask']
  clean = image * mask
  denoise = _denoiser(net, _params(state), batch, batch['embedding'],
                      levels.sigma_data,
                      mean_fill(state, batch, batch['embedding'], model))
  rng = jax.random.key(CAPTION_NOISE_SEED)
  per_level = []
  for i, sigma in enumerate(sigmas):
    noise = jax.random.normal(jax.random.fold_in(rng, i), image.shape)
    noisy = clean + sigma * noise * mask
    denoised = denoise(noisy, jnp.full(image.shape[:1], sigma))
    per_level.append(losses.hole_mse(denoised, clean, mask))
  return jnp.stack(per_level, axis=1)


def caption_loss(state: DiffusionState, batch: dict[str, jax.Array], *,
                 model: ml_collections.ConfigDict) -> jax.Array:
  """[B]: the denoising loss of each image's hole given its embedding,
  at the fixed levels `CAPTION_SIGMAS` with fixed noise, unweighted and
  averaged over the levels: lower where the caption explains the hole
  better. Paired across embeddings (same noise), so that true and
  shuffled captions are compared on the same draws."""
  return _denoising_losses(state, batch, CAPTION_SIGMAS, model).mean(axis=1)


def caption_loss_by_level(state: DiffusionState,
                          batch: dict[str, jax.Array], *,
                          model: ml_collections.ConfigDict
                          ) -> dict[str, jax.Array]:
  """{'sigma S': [B]}: `caption_loss`'s levels one by one (with the same
  noise), and the schedule's top level, where the loss is the error of
  the denoiser's estimate of the hole's mean."""
  sigmas = CAPTION_SIGMAS + (schedule(model).sigma_max,)
  per_level = _denoising_losses(state, batch, sigmas, model)
  return {f'sigma {sigma:g}': per_level[:, i]
          for i, sigma in enumerate(sigmas)}


METHOD = method.Method(
    create_state=create_state,
    train_step=train_step,
    step_variant=lambda config, step: None,
    predict=predict,
    model_config=model_config,
    logged=('loss', 'denoised_mse'),
    sample=sample,
    caption_loss=caption_loss,
    caption_loss_by_level=caption_loss_by_level,
)
