"""EDM's diffusion formulas (Karras et al. 2022), for a sampler of holes.

Pure functions of JAX arrays, the network passed in:

- `precondition`: c_skip, c_out, c_in and c_noise of the denoiser
  D(x; sigma) = c_skip x + c_out F(c_in x, c_noise), so that the network's
  input and target have unit variance at every noise level;
- `training_sigmas` and `loss_weight`: the log-normal noise levels of
  training and the weight lambda(sigma) = 1 / c_out^2 that gives every
  level the same expected loss;
- `karras_sigmas`: the sampling schedule (rho = 7);
- `sample`: EDM's Heun sampler, deterministic (Algorithm 1) or with
  `churn` stochastic (Algorithm 2), over the hole's pixels only: outside
  the hole x stays 0 and the known pixels are the caller's to paste;
- `guide`: classifier-free guidance of two denoisings.

Images are in [-1, 1], so sigma_data = 0.5 (EDM's value for such data).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Schedule:
  """The noise levels of training and sampling (EDM's Table 1 values)."""
  sigma_data: float = 0.5
  sigma_min: float = 0.002
  sigma_max: float = 80.0
  rho: float = 7.0
  p_mean: float = -1.2
  p_std: float = 1.2


def precondition(sigma: jax.Array, sigma_data: float
                 ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
  """(c_skip, c_out, c_in, c_noise) at noise level `sigma`."""
  total = sigma**2 + sigma_data**2
  c_skip = sigma_data**2 / total
  c_out = sigma * sigma_data / jnp.sqrt(total)
  c_in = 1.0 / jnp.sqrt(total)
  c_noise = jnp.log(sigma) / 4.0
  return c_skip, c_out, c_in, c_noise


def loss_weight(sigma: jax.Array, sigma_data: float) -> jax.Array:
  """lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2."""
  return (sigma**2 + sigma_data**2) / (sigma * sigma_data)**2


def training_sigmas(rng: jax.Array, shape: tuple[int, ...],
                    schedule: Schedule) -> jax.Array:
  """ln sigma ~ N(p_mean, p_std^2)."""
  return jnp.exp(schedule.p_mean +
                 schedule.p_std * jax.random.normal(rng, shape))


def denoise(network: Callable[[jax.Array, jax.Array], jax.Array],
            x: jax.Array, sigma: jax.Array, sigma_data: float) -> jax.Array:
  """D(x; sigma) from the network F(c_in x, c_noise); `sigma` is [B]."""
  c_skip, c_out, c_in, c_noise = precondition(sigma, sigma_data)
  expand = lambda c: c.reshape(-1, *([1] * (x.ndim - 1)))
  return expand(c_skip) * x + expand(c_out) * network(expand(c_in) * x,
                                                      c_noise)


def karras_sigmas(steps: int, schedule: Schedule) -> jax.Array:
  """`steps` levels from sigma_max down to sigma_min, spaced evenly in
  sigma^(1/rho), then 0: [steps + 1]."""
  ramp = jnp.linspace(0.0, 1.0, steps)
  low = schedule.sigma_min**(1 / schedule.rho)
  high = schedule.sigma_max**(1 / schedule.rho)
  sigmas = (high + ramp * (low - high))**schedule.rho
  return jnp.concatenate([sigmas, jnp.zeros(1)])


def guide(conditional: jax.Array, unconditional: jax.Array,
          scale: float) -> jax.Array:
  """Classifier-free guidance: D_c + s (D_c - D_u); s = 0 is D_c."""
  return conditional + scale * (conditional - unconditional)


def sample(denoiser: Callable[[jax.Array, jax.Array], jax.Array],
           rng: jax.Array, hole: jax.Array, sigmas: jax.Array, *,
           churn: float = 0.0, s_noise: float = 1.0, s_tmin: float = 0.0,
           s_tmax: float = float('inf')) -> jax.Array:
  """EDM's Heun sampler over the hole's pixels.

  Args:
    denoiser: (x, sigma [B]) -> D(x; sigma), the hole's clean estimate
      (conditioning and guidance are the caller's).
    rng: the draws: the start, and with `churn` each step's extra noise.
    hole: [B, H, W, 1] or [B, H, W, C], 1 where a pixel is drawn.
    sigmas: `karras_sigmas(steps)`, ending in 0: 2 steps - 1 evaluations.
    churn: EDM's S_churn (0: deterministic, Algorithm 1).
    s_noise, s_tmin, s_tmax: the rest of Algorithm 2.

  Returns:
    The drawn pixels, 0 outside the hole: [B, H, W, C] like `hole`
    broadcast to the denoiser's channels.
  """
  steps = sigmas.shape[0] - 1
  start, rng = jax.random.split(rng)
  shape = hole.shape[:-1] + (3,) if hole.shape[-1] == 1 else hole.shape
  x = jax.random.normal(start, shape) * sigmas[0] * hole
  batch = shape[0]
  gamma_max = min(churn / steps, 2**0.5 - 1) if churn > 0 else 0.0

  def step(i, carry):
    x, rng = carry
    rng, draw = jax.random.split(rng)
    t_cur, t_next = sigmas[i], sigmas[i + 1]
    gamma = jnp.where((t_cur >= s_tmin) & (t_cur <= s_tmax), gamma_max, 0.0)
    t_hat = t_cur * (1 + gamma)
    x_hat = x + jnp.sqrt(t_hat**2 - t_cur**2) * s_noise * hole * (
        jax.random.normal(draw, x.shape))
    d_cur = (x_hat - denoiser(x_hat, jnp.full((batch,), t_hat))) / t_hat
    x_next = (x_hat + (t_next - t_hat) * d_cur) * hole

    def corrected(x_next):
      d_next = (x_next - denoiser(x_next, jnp.full((batch,), t_next))
                ) / t_next
      return (x_hat + (t_next - t_hat) * 0.5 * (d_cur + d_next)) * hole

    x_next = jax.lax.cond(t_next > 0, corrected, lambda x: x, x_next)
    return x_next, rng

  x, _ = jax.lax.fori_loop(0, steps, step, (x, rng))
  return x
