"""The state's optimiser schedule and the generator's moving average."""

import functools

import jax
import numpy as np
import pytest

from configs import tiny
from inpainting import config_lib
from inpainting import inference
from inpainting import state as state_lib
from inpainting import train_step


def test_cosine_schedule_warms_up_then_decays_to_zero(tiny_config):
  tiny_config.optimizer.schedule = 'cosine'
  tiny_config.optimizer.warmup_steps = 4
  tiny_config.optimizer.decay_steps = 12
  rate = state_lib.learning_rate_schedule(tiny_config, 1e-3)
  values = [float(rate(step)) for step in (0, 2, 4, 8, 12, 20)]
  # Linear to the peak at step 4, then half a cosine over the 8 steps left.
  np.testing.assert_allclose(
      values, [0.0, 5e-4, 1e-3, 1e-3 * 0.5 * (1 + np.cos(np.pi * 4 / 8)),
               0.0, 0.0], rtol=1e-6, atol=1e-9)
  tiny_config.optimizer.schedule = 'constant'
  assert state_lib.learning_rate_schedule(tiny_config, 1e-3) == 1e-3


def test_the_decay_lasts_the_run_unless_set(tiny_config):
  tiny_config.num_train_steps = 30
  tiny_config.optimizer.decay_steps = None
  assert state_lib.decay_steps(tiny_config) == 30
  tiny_config.optimizer.decay_steps = 12
  assert state_lib.decay_steps(tiny_config) == 12


@pytest.fixture(scope='module')
def two_steps(data_dir):
  """Two steps of one compiled step with warm-up, cosine decay and EMA."""
  config = tiny.get_config()
  config.dataset.data_dir = data_dir
  config.optimizer.schedule = 'cosine'
  config.optimizer.warmup_steps = 2
  config.optimizer.ema_decay = 0.999
  step = jax.pmap(functools.partial(train_step.train_step, config=config),
                  axis_name=train_step.AXIS, devices=jax.local_devices()[:1])
  batch = jax.tree.map(lambda x: x[None],
                       state_lib.example_batch(config, 4))
  states = [state_lib.create_train_state(config)]
  metrics = []
  for _ in range(2):
    new, m = step(train_step.replicate(states[-1], jax.local_devices()[:1]),
                  batch)
    states.append(jax.device_get(train_step.unreplicate(new)))
    metrics.append(jax.device_get(train_step.unreplicate(m)))
  return config, states, metrics


def test_the_step_follows_the_schedule(two_steps):
  config, states, metrics = two_steps
  # Step 0 of the warm-up has a learning rate of 0: nothing moves.
  assert metrics[0]['learning_rate'] == 0.0
  np.testing.assert_array_equal(
      jax.tree.leaves(states[1].generator.params)[0],
      jax.tree.leaves(states[0].generator.params)[0])
  assert metrics[1]['learning_rate'] == pytest.approx(
      0.5 * config.optimizer.generator_learning_rate)


def test_ema_averages_parameters_and_statistics(two_steps):
  config, states, _ = two_steps
  assert set(states[0].ema) == {'params', 'batch_stats'}
  before, after = states[1], states[2]
  # After update 2 the decay is min(0.999, 3 / 12).
  decay = 3 / 12
  np.testing.assert_allclose(float(state_lib.ema_decay(config, 2)), decay,
                             rtol=1e-6)
  assert float(state_lib.ema_decay(config, 10**6)) == pytest.approx(0.999)
  for key, live in (('params', after.generator.params),
                    ('batch_stats', after.generator.batch_stats)):
    expected = jax.tree.map(lambda old, x: decay * old + (1 - decay) * x,
                            before.ema[key], live)
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-5,
                                   atol=1e-7), after.ema[key], expected)
  moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), after.ema['params'],
                       before.ema['params'])
  assert max(jax.tree.leaves(moved)) > 0


def test_inference_fills_with_the_average(tiny_config):
  tiny_config.optimizer.ema_decay = 0.5
  state = state_lib.create_train_state(tiny_config)
  shifted = jax.tree.map(lambda x: x + 0.05 * np.sign(x),
                         state.generator.params)
  state = state.replace(ema={**state.ema, 'params': shifted})
  batch = state_lib.example_batch(tiny_config, 2)
  live = state.replace(ema=None, generator=state.generator.replace(
      params=shifted))
  np.testing.assert_array_equal(
      inference.predict(state, batch, config=tiny_config),
      inference.predict(live, batch, config=tiny_config))
  assert np.abs(inference.predict(state.replace(ema=None), batch,
                                  config=tiny_config) -
                inference.predict(state, batch, config=tiny_config)).max() > 0


def test_without_ema_the_state_and_checkpoint_tree_are_the_seeds(tiny_config):
  state = state_lib.create_train_state(tiny_config)
  assert state.ema is None
  paths = [jax.tree_util.keystr(p) for p, _ in
           jax.tree_util.tree_flatten_with_path(state)[0]]
  assert not any('ema' in p for p in paths)
  assert state_lib.generator_variables(state)['params'] is (
      state.generator.params)


@pytest.mark.parametrize('field, value, message', [
    ('schedule', 'linear', "schedule='linear': must be one of"),
    ('warmup_steps', 6, 'warmup_steps=6: must be in [0, 6)'),
    ('decay_steps', 0, 'decay_steps=0: must be a positive integer'),
    ('ema_decay', 1.0, 'ema_decay=1.0: must be in [0, 1)'),
])
def test_config_refuses_bad_optimizer_fields(tiny_config, field, value,
                                             message):
  tiny_config.optimizer[field] = value
  with pytest.raises(config_lib.ConfigError) as error:
    config_lib.validate(tiny_config, device_count=2)
  assert f'config.optimizer.{message}' in str(error.value)
