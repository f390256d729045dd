"""The training step: multi-device equivalence, checkpoints, non-finite stops."""

import functools
import pathlib

import jax
import numpy as np
import pytest

from inpainting import checkpoints
from inpainting import context_encoder
from inpainting import inference
from inpainting import input_pipeline
from inpainting import losses
from inpainting import masks
from inpainting import models
from inpainting import state as state_lib
from inpainting import train
from inpainting import train_step

from trees import assert_trees_close


def _batch(config, seed=0):
  return state_lib.example_batch(config, config.batch_size, seed)


def _init(config):
  return state_lib.create_train_state(config)


def _pmapped_steps(config, devices):
  """{with_r1: the pmapped step}, as the training loop builds them."""
  return {with_r1: train_step.pmapped(config, with_r1=with_r1,
                                     devices=devices)
          for with_r1 in (False, True)}


def _run_steps(config, state, batches, devices, steps=None):
  """Steps from `state`, each with the loop's choice of R1 (`steps`, from
  _pmapped_steps, if given: compiled once for several calls)."""
  steps = steps or _pmapped_steps(config, devices)
  first = int(state.step)
  state = train_step.replicate(state, devices)
  n = len(devices)
  metrics = []
  for i, batch in enumerate(batches):
    sharded = jax.tree.map(lambda x: x.reshape(n, -1, *x.shape[1:]), batch)
    step = steps[train_step.computes_r1(config, first + i)]
    state, m = step(state, sharded)
    metrics.append(jax.device_get(train_step.unreplicate(m)))
  return jax.device_get(train_step.unreplicate(state)), metrics


def test_inpaint_equals_the_composite_of_the_whole_prediction(tiny_config):
  batch = _batch(tiny_config)
  batch['mask'][0, 20:24, 30:40] = 0  # holes of their own, in the box
  batch['mask'][1, 16:20] = 0
  state = _init(tiny_config)
  predict = jax.jit(functools.partial(inference.predict, config=tiny_config))
  filled = jax.jit(functools.partial(inference.inpaint, config=tiny_config,
                                     box=(16, 48, 16, 48)))(state, batch)
  np.testing.assert_allclose(inference.fill(state, batch, tiny_config),
                             filled, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(
      filled, masks.composite(batch['image'], predict(state, batch),
                              batch['mask']), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(filled[1, 16:20], batch['image'][1, 16:20])


# The options beside the seed's, all on at once (with the 'dot' BatchNorm
# on CPU, whose sums round more than Flax's: 1e-6 apart after two steps
# with FiLM, Flax's 3e-8; within the tolerances below).
VARIANTS = {
    'model.generator.caption_conditioning': 'film',
    'model.generator.film_encoder': True,
    'model.critic.caption_conditioning': 'projection', 'model.layers.upsampling': 'nearest',
    'model.generator.full_resolution_features': 8, 'model.generator.prefill': 'pull_push',
    'model.generator.dilated_blocks': 2, 'model.generator.noise_levels': 2,
    'loss.noise_free_reconstruction': True,
    'dataset.random_flip': True,
    'loss.edge_weight': 5.0, 'loss.known_weight': 10.0,
    'loss.reconstruction': 'psnr',
    'caption_dropout': 0.5,
    'model.critic.view': 'patch', 'model.critic.spectral_norm': True,
    'model.critic.batch_norm': False, 'loss.adversarial': 'hinge',
    'loss.r1_weight': 1.0, 'loss.r1_interval': 2,
    'loss.feature_matching_weight': 1.0,
    'optimizer.critic_steps': 2,
    'mask.kind': 'mixture',  # random holes (in the training stream)
    'optimizer.schedule': 'cosine', 'optimizer.warmup_steps': 1,
    'optimizer.decay_steps': 10,  # fixed: the resume test changes the steps
    'optimizer.ema_decay': 0.99,
}
# The critic views with BatchNorm, beside the seed's.
CRITIC_VIEWS = {'model.critic.view': 'global_local',
                'model.critic.window': 32}


def _set(config, fields):
  for dotted, value in fields.items():
    *groups, name = dotted.split('.')
    group = config
    for g in groups:
      group = group[g]
    group[name] = value


@pytest.mark.parametrize('variants', [{}, VARIANTS, CRITIC_VIEWS],
                         ids=['seed', 'variants', 'global_local'])
def test_two_devices_equal_one_device_with_the_same_global_batch(tiny_config,
                                                                 variants):
  _set(tiny_config, variants)
  # Adam's update of a parameter whose gradient is near zero is about +-lr
  # whatever the gradient's size, so the all-reduce's rounding could flip
  # it. With an epsilon far above the gradients, the update is proportional
  # to the gradient (times lr / eps) and the comparison sees the gradients.
  tiny_config.optimizer.eps = 1.0
  tiny_config.optimizer.generator_learning_rate = 0.1
  tiny_config.optimizer.critic_learning_rate = 0.1
  state = _init(tiny_config)
  batches = [_batch(tiny_config, seed) for seed in (1, 2)]
  devices = jax.local_devices()
  assert len(devices) == 2
  two, metrics_two = _run_steps(tiny_config, state, batches, devices)
  one, metrics_one = _run_steps(tiny_config, state, batches, devices[:1])
  assert_trees_close(two.generator.params, one.generator.params,
                      rtol=1e-4, atol=1e-5)
  assert_trees_close(two.critic.params, one.critic.params,
                      rtol=1e-4, atol=1e-5)
  assert_trees_close(two.generator.batch_stats, one.generator.batch_stats,
                      rtol=1e-4, atol=1e-5)
  assert_trees_close(two.ema, one.ema, rtol=1e-4, atol=1e-5)
  assert_trees_close(metrics_two, metrics_one, rtol=1e-4, atol=1e-5)
  # And the step did something.
  moved = jax.tree.map(lambda a, b: np.abs(a - b).max(),
                       state.generator.params, two.generator.params)
  assert max(jax.tree.leaves(moved)) > 1e-4
  assert int(two.step) == 2


def test_reconstruction_improves_on_a_fixed_batch(tiny_config):
  tiny_config.loss.adversarial_weight = 0.0
  tiny_config.optimizer.generator_learning_rate = 3e-3
  state = _init(tiny_config)
  batch = _batch(tiny_config, 3)
  # A learnable target: each image one flat colour, border and hole alike.
  batch['image'] = np.broadcast_to(batch['image'][:, :1, :1],
                                   batch['image'].shape).copy()
  _, metrics = _run_steps(tiny_config, state, [batch] * 15,
                          jax.local_devices())
  assert metrics[-1]['hole_mse'] < 0.5 * metrics[0]['hole_mse']


def test_without_adversarial_terms_the_critic_is_skipped(tiny_config):
  tiny_config.loss.adversarial_weight = 0.0
  # Adam's first update is about +-lr for a gradient near its epsilon, so
  # rounding could flip it; with epsilon far above the gradients the update
  # is lr / eps times the gradient, and the comparison sees the gradients
  # (as in the 2-device test above).
  tiny_config.optimizer.eps = 1.0
  tiny_config.optimizer.generator_learning_rate = 0.1
  state = _init(tiny_config)
  batch = _batch(tiny_config, 6)
  new, (metrics,) = _run_steps(tiny_config, state, [batch],
                               jax.local_devices()[:1])
  assert not any(k.startswith('critic') for k in metrics)
  assert_trees_close(new.critic, state.critic, rtol=0, atol=0)

  # The generator's update is Adam's on the gradient of the weighted hole
  # MSE alone.
  generator = models.generator_from_config(tiny_config.model)

  def loss(params):
    prediction, _ = generator.apply(
        {'params': params, 'batch_stats': state.generator.batch_stats},
        batch['image'], batch['mask'], batch['embedding'], train=True,
        mutable=['batch_stats'])
    return tiny_config.loss.reconstruction_weight * losses.hole_mse(
        prediction, batch['image'], batch['mask']).mean()

  expected = state.generator.apply_gradients(
      grads=jax.grad(loss)(state.generator.params))
  assert_trees_close(new.generator.params, expected.params, rtol=1e-5,
                      atol=1e-6)


def _noise_strengths(params):
  return {jax.tree_util.keystr(p): np.asarray(x) for p, x in
          jax.tree_util.tree_flatten_with_path(params)[0]
          if 'noise_strength' in jax.tree_util.keystr(p)}


@pytest.mark.parametrize('noise_free', [False, True])
def test_noise_free_reconstruction_leaves_the_noise_to_the_critic(
    tiny_config, noise_free):
  tiny_config.model.generator.noise_levels = 2
  tiny_config.loss.noise_free_reconstruction = noise_free
  devices = jax.local_devices()[:1]
  batch = _batch(tiny_config, 3)
  # The reconstruction term alone: noise_free scores the noiseless pass,
  # which the noise strengths do not reach (no gradient, no update); the
  # noisy pass's MSE moves them.
  tiny_config.loss.adversarial_weight = 0.0
  state = _init(tiny_config)
  new, (metrics,) = _run_steps(tiny_config, state, [batch], devices)
  moved = [float(np.abs(a - b).max()) for a, b in zip(
      _noise_strengths(new.generator.params).values(),
      _noise_strengths(state.generator.params).values())]
  assert len(moved) == 2
  if noise_free:
    assert max(moved) == 0.0
  else:
    assert min(moved) > 1e-6
  # With the critic, its gradient reaches them either way; and the noisy
  # fill's MSE is logged beside the noiseless one's.
  tiny_config.loss.adversarial_weight = 0.5
  new, (metrics,) = _run_steps(tiny_config, state, [batch], devices)
  assert min(float(np.abs(a - b).max()) for a, b in zip(
      _noise_strengths(new.generator.params).values(),
      _noise_strengths(state.generator.params).values())) > 1e-6
  assert ('hole_mse_with_noise' in metrics) == noise_free


def test_lazy_r1_weighs_every_other_step_twice(tiny_config):
  # r1_interval=2: step 0 is the step of r1_weight * 2 every step, step 1
  # that of no penalty.
  tiny_config.loss.r1_weight = 1.0
  tiny_config.optimizer.eps = 1.0  # updates see the gradients (see above)
  tiny_config.optimizer.critic_learning_rate = 0.1
  state = _init(tiny_config)
  b0, b1 = [_batch(tiny_config, seed) for seed in (7, 8)]
  device = jax.local_devices()[:1]
  configs = {}
  for name, interval, weight in (('lazy', 2, 1.0), ('double', 1, 2.0),
                                 ('none', 1, 0.0)):
    configs[name] = tiny_config.copy_and_resolve_references()
    configs[name].loss.r1_interval = interval
    configs[name].loss.r1_weight = weight
  assert [train_step.computes_r1(configs['lazy'], s) for s in range(4)] == [
      True, False, True, False]
  steps = {name: _pmapped_steps(c, device) for name, c in configs.items()}

  def run(name, start, batches):
    return _run_steps(configs[name], start, batches, device, steps[name])

  after_two, (m0, m1) = run('lazy', state, [b0, b1])
  expected_one, (d0,) = run('double', state, [b0])
  expected_two, _ = run('none', expected_one, [b1])
  assert_trees_close(after_two.critic.params, expected_two.critic.params,
                      rtol=1e-5, atol=1e-6)
  # The logged penalty: times the interval where computed, 0 between.
  assert m0['r1'] == pytest.approx(2 * d0['r1'], rel=1e-5)
  assert m1['r1'] == 0
  # And the penalty moved the critic: step 0 differs from no R1's.
  unpenalised, _ = run('none', state, [b0])
  moved = jax.tree.map(lambda a, b: np.abs(a - b).max(),
                       expected_one.critic.params, unpenalised.critic.params)
  assert max(jax.tree.leaves(moved)) > 1e-5


def test_save_restore_then_next_step_is_identical(tiny_config, tmp_path):
  devices = jax.local_devices()
  batches = [_batch(tiny_config, seed) for seed in (4, 5)]
  state, _ = _run_steps(tiny_config, _init(tiny_config), batches[:1], devices)
  manager = checkpoints.create_manager(tmp_path, tiny_config)
  checkpoints.save(manager, 1, state)
  manager.wait_until_finished()
  restored = checkpoints.restore_latest(
      checkpoints.create_manager(tmp_path, tiny_config), _init(tiny_config))
  assert_trees_close(restored, state, rtol=0, atol=0)
  after_saved, _ = _run_steps(tiny_config, state, batches[1:], devices)
  after_restored, _ = _run_steps(tiny_config, restored, batches[1:], devices)
  assert_trees_close(after_restored, after_saved, rtol=0, atol=0)


def test_checkpoints_at_the_kept_period_outlive_the_latest_few(tiny_config,
                                                              tmp_path):
  tiny_config.max_checkpoints_to_keep = 1
  tiny_config.keep_checkpoints_every = 2
  manager = checkpoints.create_manager(tmp_path, tiny_config)
  state = _init(tiny_config)
  for step in range(1, 6):
    checkpoints.save(manager, step, state)
  manager.wait_until_finished()
  assert checkpoints.create_manager(tmp_path, tiny_config).all_steps() == [
      2, 4, 5]


def test_restore_names_mismatched_parameters(tiny_config, tmp_path):
  manager = checkpoints.create_manager(tmp_path, tiny_config)
  checkpoints.save(manager, 1, _init(tiny_config))
  manager.wait_until_finished()
  tiny_config.model.caption_features = 12
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    checkpoints.restore_latest(manager, _init(tiny_config))
  message = str(error.value)
  assert ('generator/params/caption/dense/kernel: checkpoint (384, 8), '
          'config (384, 12)') in message
  assert 'critic/params/caption/dense/kernel' in message
  assert 'encoder' not in message  # only what differs


def test_non_finite_loss_stops_the_run(tiny_config, tmp_path, monkeypatch):
  real_batches = input_pipeline.device_batches

  def poisoned(ds):
    for step, batch in enumerate(real_batches(ds), start=1):
      if step == 5:
        batch['image'][...] = np.nan
      yield batch

  monkeypatch.setattr(input_pipeline, 'device_batches', poisoned)
  with pytest.raises(train.NonFiniteLossError, match='step 5: .*hole_mse=nan'):
    train.train_and_evaluate(tiny_config, str(tmp_path))
  manager = checkpoints.create_manager(tmp_path, tiny_config)
  assert manager.all_steps() == [3]
  state = checkpoints.restore_latest(manager, _init(tiny_config))
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(state))


@pytest.mark.parametrize('variants', [{}, VARIANTS], ids=['seed', 'variants'])
def test_train_and_evaluate_resumes_exactly(tiny_config, tmp_path, variants):
  _set(tiny_config, variants)
  straight = train.train_and_evaluate(tiny_config, str(tmp_path / 'straight'))
  tiny_config.num_train_steps = 3
  train.train_and_evaluate(tiny_config, str(tmp_path / 'resumed'))
  tiny_config.num_train_steps = 6
  resumed = train.train_and_evaluate(tiny_config, str(tmp_path / 'resumed'))
  assert int(resumed.step) == int(straight.step) == 6
  assert_trees_close(resumed, straight, rtol=0, atol=0)
  workdir = pathlib.Path(tmp_path / 'straight')
  assert (workdir / 'samples' / 'step_0000006.png').is_file()
  assert list(workdir.glob('events.out.tfevents.*'))
  assert (workdir / 'config.json').is_file()


def test_guidance_extrapolates_from_the_captionless_prediction(tiny_config):
  batch = _batch(tiny_config)
  state = _init(tiny_config)
  state = state.replace(generator=state.generator.replace(
      params=jax.tree.map(lambda x: x + 0.05 * np.sign(x),
                          state.generator.params)))
  with_caption = inference.predict(state, batch, config=tiny_config)
  without = inference.predict(state, {**batch, 'embedding': np.zeros_like(
      batch['embedding'])}, config=tiny_config)
  assert float(np.abs(with_caption - without).max()) > 1e-3
  tiny_config.guidance = 2.0
  guided = inference.predict(state, batch, config=tiny_config)
  np.testing.assert_allclose(
      guided, np.clip(with_caption + 2.0 * (with_caption - without), -1, 1),
      rtol=1e-5, atol=1e-5)


def test_inference_draws_the_noise_from_its_seed_times_the_scale(
    tiny_config):
  tiny_config.model.generator.noise_levels = 2
  batch = _batch(tiny_config)
  state = _init(tiny_config)
  strengthen = lambda path, x: (  # pylint: disable=g-long-lambda
      x + 0.5 if 'noise_strength' in jax.tree_util.keystr(path) else x)
  state = state.replace(generator=state.generator.replace(
      params=jax.tree_util.tree_map_with_path(strengthen,
                                              state.generator.params)))
  generator = models.generator_from_config(tiny_config.model)
  noise = models.draw_noise(jax.random.key(context_encoder.NOISE_SEED),
                            batch['image'].shape, 2)

  def apply(noise):
    return generator.apply(state_lib.generator_variables(state),
                           batch['image'], batch['mask'], batch['embedding'],
                           train=False, noise=noise)

  for scale in (1.0, 0.5, 0.0):
    tiny_config.noise_scale = scale
    np.testing.assert_allclose(
        inference.predict(state, batch, config=tiny_config),
        apply(noise * scale), rtol=1e-6, atol=1e-6, err_msg=str(scale))
  # The scale matters: 0 is the generator without noise.
  assert float(np.abs(apply(noise) - apply(None)).max()) > 1e-3
  np.testing.assert_array_equal(apply(noise * 0.0), apply(None))


def test_flip_average_is_the_mean_with_the_mirrored_prediction(tiny_config):
  batch = _batch(tiny_config)
  # An off-centre hole, so that mirroring moves it (and its window).
  mask = np.zeros_like(batch['mask'])
  mask[:, 10:30, 4:20] = 1.0
  batch = {**batch, 'mask': mask}
  state = _init(tiny_config)
  state = state.replace(generator=state.generator.replace(
      params=jax.tree.map(lambda x: x + 0.05 * np.sign(x),
                          state.generator.params)))
  plain = inference.predict(state, batch, config=tiny_config)
  mirrored = inference.predict(state, {
      **batch, 'image': batch['image'][:, :, ::-1],
      'mask': mask[:, :, ::-1]}, config=tiny_config)
  assert float(np.abs(plain - mirrored[:, :, ::-1]).max()) > 1e-3
  tiny_config.flip_average = True
  averaged = inference.predict(state, batch, config=tiny_config)
  np.testing.assert_allclose(averaged, 0.5 * (plain + mirrored[:, :, ::-1]),
                             rtol=1e-5, atol=1e-5)
  # Filling over the hole's box only (a window) gives the same crop.
  box = masks.hole_box(mask)
  window = inference.predict(state, batch, config=tiny_config, window=box)
  np.testing.assert_allclose(window, averaged[:, 10:30, 4:20],
                             rtol=1e-5, atol=1e-5)


def _saved_run(config, workdir, state):
  manager = checkpoints.create_manager(workdir, config)
  checkpoints.save(manager, int(state.step), state)
  manager.wait_until_finished()
  manager.close()


def test_warm_start_takes_the_networks_and_starts_the_rest_fresh(
    tiny_config, tmp_path):
  tiny_config.optimizer.ema_decay = 0.9
  tiny_config.seed = 1
  source = _init(tiny_config)
  source = source.replace(
      generator=source.generator.replace(step=5),
      ema=jax.tree.map(lambda x: x + 1.0, source.ema))
  _saved_run(tiny_config, tmp_path / 'source', source)
  tiny_config.seed = 0
  fresh = _init(tiny_config)

  started = checkpoints.warm_start(tmp_path / 'source', tiny_config, fresh)
  for network in ('generator', 'critic'):
    assert_trees_close(getattr(started, network).params,
                        getattr(source, network).params, rtol=0, atol=0)
    assert_trees_close(getattr(started, network).batch_stats,
                        getattr(source, network).batch_stats, rtol=0, atol=0)
    assert_trees_close(getattr(started, network).opt_state,
                        getattr(fresh, network).opt_state, rtol=0, atol=0)
  assert_trees_close(started.ema, source.ema, rtol=0, atol=0)
  assert int(started.step) == 0
  np.testing.assert_array_equal(started.rng, fresh.rng)
  assert not all(np.allclose(a, b) for a, b in zip(
      jax.tree.leaves(fresh.generator.params),
      jax.tree.leaves(source.generator.params)))  # the seeds differ

  generator_only = checkpoints.warm_start(tmp_path / 'source', tiny_config,
                                          fresh, critic=False)
  assert_trees_close(generator_only.critic.params, fresh.critic.params,
                      rtol=0, atol=0)


def test_warm_start_without_an_average_starts_it_from_the_generator(
    tiny_config, tmp_path):
  source = _init(tiny_config)  # no average (ema_decay 0)
  _saved_run(tiny_config, tmp_path / 'source', source)
  tiny_config.optimizer.ema_decay = 0.9
  tiny_config.seed = 3
  started = checkpoints.warm_start(tmp_path / 'source', tiny_config,
                                   _init(tiny_config))
  assert_trees_close(started.ema, {'params': source.generator.params,
                                    'batch_stats': source.generator.batch_stats},
                      rtol=0, atol=0)


def test_warm_start_reads_the_step_asked_for(tiny_config, tmp_path):
  early = _init(tiny_config)
  early = early.replace(generator=early.generator.replace(step=5))
  late = early.replace(generator=early.generator.replace(
      step=9, params=jax.tree.map(lambda x: x + 1.0, early.generator.params)))
  _saved_run(tiny_config, tmp_path / 'source', early)
  _saved_run(tiny_config, tmp_path / 'source', late)
  fresh = _init(tiny_config)
  for step, source in ((None, late), (9, late), (5, early)):
    started = checkpoints.warm_start(tmp_path / 'source', tiny_config, fresh,
                                     step=step)
    assert_trees_close(started.generator.params, source.generator.params,
                        rtol=0, atol=0)
  with pytest.raises(checkpoints.NoCheckpointError,
                     match=r'no checkpoint at step 4; it has \[5, 9\]'):
    checkpoints.warm_start(tmp_path / 'source', tiny_config, fresh, step=4)


def test_warm_start_names_what_does_not_fit(tiny_config, tmp_path):
  _saved_run(tiny_config, tmp_path / 'source', _init(tiny_config))
  tiny_config.model.caption_features = 12
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match=r'\(generator\) does not fit this config:'
                     r'(.|\n)*params/caption/dense/kernel: '
                     r'checkpoint \(384, 8\), config \(384, 12\)'):
    checkpoints.warm_start(tmp_path / 'source', tiny_config,
                           _init(tiny_config))
  with pytest.raises(checkpoints.NoCheckpointError,
                     match="config.init.workdir='.*nothing': .*nothing has "
                     'no checkpoints/ folder'):
    tiny_config.init.workdir = str(tmp_path / 'nothing')
    train.train_and_evaluate(tiny_config, str(tmp_path / 'run'))


def test_a_run_starts_from_another_runs_networks_once(tiny_config, trained_run,
                                                      tmp_path):
  source_config, source_workdir = trained_run
  source = checkpoints.restore_from_workdir(source_workdir, source_config,
                                            _init(source_config))
  tiny_config.init.workdir = str(source_workdir)
  tiny_config.num_train_steps = 1
  tiny_config.seed = 7
  tuned = train.train_and_evaluate(tiny_config, str(tmp_path / 'tuned'))
  assert int(tuned.step) == 1
  # One Adam step moves each parameter by at most about the learning rate.
  rate = tiny_config.optimizer.generator_learning_rate
  for tuned_leaf, source_leaf in zip(jax.tree.leaves(tuned.generator.params),
                                     jax.tree.leaves(source.generator.params)):
    assert np.abs(tuned_leaf - source_leaf).max() <= 1.01 * rate
  # Rerun with a longer schedule: it resumes from its own checkpoint.
  tiny_config.num_train_steps = 2
  tiny_config.init.workdir = str(tmp_path / 'nothing')  # never read again
  resumed = train.train_and_evaluate(tiny_config, str(tmp_path / 'tuned'))
  assert int(resumed.step) == 2
