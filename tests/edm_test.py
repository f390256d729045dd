"""EDM's formulas and sampler, checked against a distribution whose exact
denoiser is known: independent Gaussian pixels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inpainting import edm

SCHEDULE = edm.Schedule()


@pytest.mark.parametrize('sigma', [0.002, 0.1, 0.5, 2.0, 80.0])
def test_the_preconditioning_gives_unit_variance_inputs_and_targets(sigma):
  sd = SCHEDULE.sigma_data
  c_skip, c_out, c_in, c_noise = edm.precondition(jnp.float32(sigma), sd)
  # y ~ N(0, sd^2), x = y + sigma n: the network's input c_in x ...
  assert float(c_in**2 * (sd**2 + sigma**2)) == pytest.approx(1, rel=1e-5)
  # ... and its target (y - c_skip x) / c_out have unit variance,
  target = ((1 - c_skip)**2 * sd**2 + c_skip**2 * sigma**2) / c_out**2
  assert float(target) == pytest.approx(1, rel=1e-4)
  # and lambda(sigma) c_out^2 = 1: every level weighs the same.
  assert float(edm.loss_weight(jnp.float32(sigma), sd) * c_out**2
               ) == pytest.approx(1, rel=1e-5)
  assert float(c_noise) == pytest.approx(np.log(sigma) / 4, rel=1e-5)


def test_the_schedule_runs_from_sigma_max_to_zero():
  sigmas = np.asarray(edm.karras_sigmas(16, SCHEDULE))
  assert sigmas.shape == (17,)
  assert sigmas[0] == pytest.approx(80, rel=1e-5)
  assert sigmas[-2] == pytest.approx(0.002, rel=1e-4)
  assert sigmas[-1] == 0 and np.all(np.diff(sigmas) < 0)
  draws = edm.training_sigmas(jax.random.PRNGKey(0), (20000,), SCHEDULE)
  assert float(jnp.log(draws).mean()) == pytest.approx(-1.2, abs=0.03)
  assert float(jnp.log(draws).std()) == pytest.approx(1.2, abs=0.03)


def _gaussian(shape=(4, 4, 3), seed=0):
  """Per-pixel means and deviations, and the exact denoiser of that data:
  E[y | y + sigma n = x] = mu + s^2 / (s^2 + sigma^2) (x - mu)."""
  rng = np.random.default_rng(seed)
  mu = jnp.asarray(rng.uniform(-0.5, 0.5, shape), jnp.float32)
  s = jnp.asarray(rng.uniform(0.1, 0.5, shape), jnp.float32)

  def denoiser(x, sigma):
    sigma = sigma.reshape(-1, 1, 1, 1)
    return mu + s**2 / (s**2 + sigma**2) * (x - mu)

  return mu, s, denoiser


@pytest.mark.parametrize('churn', [0.0, 10.0])
def test_samples_from_the_exact_denoiser_have_the_data_distribution(churn):
  mu, s, denoiser = _gaussian()
  n = 4000
  hole = jnp.zeros((n, 4, 4, 1)).at[:, 1:3, :].set(1.0)
  # 64 steps put the discretisation's error (which falls with the steps,
  # below) under the tolerance; at 16 these narrow pixels come out about 8%
  # too spread, 17% with churn.
  sigmas = edm.karras_sigmas(64, SCHEDULE)
  x = np.asarray(jax.jit(lambda rng: edm.sample(
      denoiser, rng, hole, sigmas, churn=churn))(jax.random.PRNGKey(1)))
  inside = np.asarray(hole[0, ..., 0]) > 0
  drawn = x[:, inside]  # [n, pixels, 3]
  np.testing.assert_allclose(drawn.mean(axis=0), np.asarray(mu)[inside],
                             atol=0.04)
  np.testing.assert_allclose(drawn.std(axis=0), np.asarray(s)[inside],
                             rtol=0.05)
  # Nothing is drawn outside the hole: the caller pastes the known pixels.
  assert np.all(x[:, ~inside] == 0)


def test_heuns_error_falls_as_a_second_order_method_s():
  mu, s, denoiser = _gaussian()
  hole = jnp.ones((2000, 4, 4, 1))
  errors = []
  for steps in (8, 16, 32):
    x = edm.sample(denoiser, jax.random.PRNGKey(2), hole,
                   edm.karras_sigmas(steps, SCHEDULE))
    errors.append(float(jnp.abs(x.std(axis=0) / s - 1).mean()))
  # Each doubling of the steps divides the error by about four or more.
  assert errors[1] < errors[0] / 3 and errors[2] < errors[1] / 3, errors


def test_sampling_is_deterministic_for_a_seed():
  _, _, denoiser = _gaussian()
  hole = jnp.ones((3, 4, 4, 1))
  sigmas = edm.karras_sigmas(8, SCHEDULE)
  draw = jax.jit(lambda rng: edm.sample(denoiser, rng, hole, sigmas,
                                        churn=5.0))
  a, b = draw(jax.random.PRNGKey(7)), draw(jax.random.PRNGKey(7))
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, draw(jax.random.PRNGKey(8)))


def test_guidance_extrapolates_from_the_unconditional_denoising():
  c, u = jnp.array([1.0, 2.0]), jnp.array([0.5, 3.0])
  np.testing.assert_array_equal(edm.guide(c, u, 0.0), c)
  np.testing.assert_allclose(edm.guide(c, u, 2.0), [2.0, 0.0])


def test_the_denoiser_wraps_the_network_with_its_preconditioning():
  sd = SCHEDULE.sigma_data
  x = jnp.ones((2, 3, 3, 3))
  sigma = jnp.array([0.5, 4.0])
  # A network that returns its input: D = (c_skip + c_out c_in) x.
  out = edm.denoise(lambda inp, noise: inp, x, sigma, sd)
  c_skip, c_out, c_in, _ = edm.precondition(sigma, sd)
  np.testing.assert_allclose(out[:, 0, 0, 0], c_skip + c_out * c_in,
                             rtol=1e-6)
