"""The diffusion sampler as a method: its step on several devices, exact
resume, and draws that keep the known pixels and follow their seed."""

import functools

import jax
import ml_collections
import numpy as np
from PIL import Image
import pytest

from configs import tiny_sampler
from inpainting import baselines
from inpainting import config_lib
from inpainting import diffusion
from inpainting import evaluate
from inpainting import export
from inpainting import grids
from inpainting import inference
from inpainting import method
from inpainting import methods
from inpainting import state as state_lib
from inpainting import train

from trees import assert_trees_close


@pytest.fixture
def sampler_config(data_dir):
  config = tiny_sampler.get_config()
  config.dataset.data_dir = data_dir
  return config


def _batch(config, seed=0):
  return state_lib.example_batch(config, config.batch_size, seed)


def _run_steps(config, state, batches, devices):
  step = jax.pmap(functools.partial(diffusion.train_step, config=config),
                  axis_name=method.AXIS, devices=devices)
  state = method.replicate(state, devices)
  n, metrics = len(devices), []
  for batch in batches:
    state, m = step(state, jax.tree.map(
        lambda x: x.reshape(n, -1, *x.shape[1:]), batch))
    metrics.append(jax.device_get(method.unreplicate(m)))
  return jax.device_get(method.unreplicate(state)), metrics


def test_the_method_is_registered_with_its_own_checks():
  assert methods.METHODS['diffusion'] is diffusion.METHOD
  assert set(config_lib.METHOD_PROBLEMS) == set(methods.METHODS)
  config = tiny_sampler.get_config()
  config_lib.validate_for_tool(config)
  config.diffusion.unet.features = (8, 16, 16, 16, 16, 16, 16, 16)
  config.diffusion.sigma_max = 0.001
  config.flip_average = True
  with pytest.raises(config_lib.ConfigError) as error:
    config_lib.validate_for_tool(config)
  message = str(error.value)
  assert 'config.diffusion.unet.features=(8, 16, 16, 16, 16, 16, 16, 16): ' \
         '7 halvings' in message
  assert 'config.diffusion.sigma_max=0.001: must be above' in message
  assert 'config.flip_average=True' in message
  # The context encoder's groups are not the sampler's business.
  config = tiny_sampler.get_config()
  config.model.generator.decoder_features = (8, 8, 8, 8)
  config_lib.validate_for_tool(config)


def test_two_devices_equal_one_device_with_the_same_global_batch(
    sampler_config):
  # Adam with a large epsilon: the update is proportional to the gradient,
  # so that the comparison sees the all-reduced gradients (train_test.py).
  sampler_config.optimizer.eps = 1.0
  sampler_config.optimizer.generator_learning_rate = 0.1
  sampler_config.optimizer.ema_decay = 0.9
  state = diffusion.create_state(sampler_config)
  batches = [_batch(sampler_config, seed) for seed in (1, 2)]
  devices = jax.local_devices()
  assert len(devices) == 2
  two, metrics_two = _run_steps(sampler_config, state, batches, devices)
  one, metrics_one = _run_steps(sampler_config, state, batches, devices[:1])
  assert_trees_close(two.network.params, one.network.params, rtol=1e-4,
                      atol=1e-5)
  assert_trees_close(two.ema, one.ema, rtol=1e-4, atol=1e-5)
  assert_trees_close(metrics_two, metrics_one, rtol=1e-4, atol=1e-5)
  moved = jax.tree.map(lambda a, b: np.abs(a - b).max(),
                       state.network.params, two.network.params)
  assert max(jax.tree.leaves(moved)) > 1e-4
  assert int(two.step) == 2


def test_the_denoising_loss_falls_on_a_fixed_batch(sampler_config):
  sampler_config.optimizer.generator_learning_rate = 3e-3
  batch = _batch(sampler_config)
  # Images of one colour each: their holes can be told from the border.
  batch['image'] = np.broadcast_to(batch['image'][:, :1, :1],
                                   batch['image'].shape).copy()
  state = diffusion.create_state(sampler_config)
  losses = jax.jit(functools.partial(
      diffusion.caption_loss,
      model=diffusion.model_config(sampler_config)))
  before = float(losses(state, batch).mean())
  trained, _ = _run_steps(sampler_config, state, [batch] * 30,
                          jax.local_devices()[:1])
  assert float(losses(trained, batch).mean()) < 0.5 * before


def test_train_and_evaluate_resumes_exactly(sampler_config, tmp_path):
  straight = train.train_and_evaluate(sampler_config,
                                      str(tmp_path / 'straight'))
  sampler_config.num_train_steps = 3
  train.train_and_evaluate(sampler_config, str(tmp_path / 'resumed'))
  sampler_config.num_train_steps = 6
  resumed = train.train_and_evaluate(sampler_config,
                                     str(tmp_path / 'resumed'))
  assert isinstance(resumed, diffusion.DiffusionState)
  assert int(resumed.step) == int(straight.step) == 6
  assert_trees_close(resumed, straight, rtol=0, atol=0)
  assert (tmp_path / 'straight' / 'samples' / 'step_0000006.png').is_file()


def test_evaluation_scores_the_draws_and_the_captions(sampler_run, tmp_path):
  config, workdir = sampler_run
  report = evaluate.evaluate(config, workdir, report_dir=str(tmp_path))
  draws = report['draws']
  assert draws['samples'] == 3 and draws['examples'] == 8
  assert 0 < draws['calibration'] < 100
  assert draws['psnr_mean_of_3'] > draws['psnr_one_sample']
  swd = report['swd']
  assert set(swd) == {'real (floor)', 'model, draw 1', 'model, draw 2',
                      'model, draw 3', *baselines.BASELINES}
  assert all(row['swd_mean'] > 0 for row in swd.values())
  scores = report['caption_scores']
  assert scores['examples'] <= 8
  assert scores['retrieval']['examples'] == 4
  assert scores['retrieval']['candidates'] == 8
  levels = scores['by_level']
  assert list(levels) == ['sigma 0.1', 'sigma 0.3', 'sigma 1', 'sigma 80']
  assert all(row['examples'] == scores['examples'] for row in levels.values())
  np.testing.assert_allclose(
      np.mean([levels[k]['true_loss'] for k in list(levels)[:3]]),
      scores['true_loss'], rtol=1e-5)
  assert set(report['guidance']) == {'0', '2'}
  assert report['guidance']['0']['swd_mean'] == swd['model, draw 1'][
      'swd_mean']
  assert report['guidance']['2']['swd_mean'] > 0
  assert 'caption_ablation' not in report  # the caption scores instead
  markdown = (tmp_path / 'report.md').read_text()
  assert 'Caption ablation: by the caption scores below' in markdown
  assert '## Draws (3 an image, the first 8 images)' in markdown
  assert '| real (floor) |' in markdown
  assert '| sigma 80 |' in markdown
  samples = np.load(tmp_path / 'report_samples.npz')
  assert samples['draws'].shape == (3, 8, 64, 64, 3)
  # masked | 3 draws | their mean | target: the first row's fifth image
  # is the mean of its draws, enlarged.
  grid = np.asarray(Image.open(tmp_path / 'report.png'))
  cell = 64 * grids.SCALE + 2 * grids.GUTTER
  top = grid.shape[0] - 8 * cell + grids.GUTTER  # below the titles
  left = 4 * cell + grids.GUTTER
  shown = grid[top:top + 64 * grids.SCALE, left:left + 64 * grids.SCALE]
  mean = np.round(np.clip(samples['draws'][:, 0].mean(0), 0, 1) * 255)
  np.testing.assert_allclose(
      shown, mean.repeat(grids.SCALE, 0).repeat(grids.SCALE, 1), atol=1)


def _trained_state(config):
  """A state whose network is not the zero it starts as (its output layer
  is zero-initialised): random weights everywhere."""
  state = diffusion.create_state(config)
  leaves, tree = jax.tree.flatten(state.network.params)
  keys = jax.random.split(jax.random.key(1), len(leaves))
  params = jax.tree.unflatten(tree, [
      0.3 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
  return state.replace(network=state.network.replace(params=params),
                       ema=None)


def test_draws_keep_the_known_pixels_and_follow_their_seed():
  config = tiny_sampler.get_config()
  config.diffusion.churn = 10.0  # the stochastic sampler's extra noise too
  state = _trained_state(config)
  batch = _batch(config)
  batch['mask'][0] = 0
  batch['mask'][0, 5:20, 30:60] = 1  # another hole
  filled = inference.fill(state, batch, config, box=(0, 64, 0, 64))
  known = batch['mask'] == 0
  np.testing.assert_array_equal(
      np.where(known, filled, 0), np.where(known, batch['image'], 0))
  assert np.abs(np.where(known, 0, filled - batch['image'])).max() > 0.1
  # The same seed draws the same fill; another seed another.
  np.testing.assert_array_equal(
      inference.fill(state, batch, config, box=(0, 64, 0, 64)), filled)
  draw = jax.jit(functools.partial(
      diffusion.sample, model=ml_collections.FrozenConfigDict(
          diffusion.model_config(config)),
      options=method.FillOptions()))
  first = draw(state, batch, jax.random.key(diffusion.SAMPLE_SEED))
  np.testing.assert_array_equal(
      first, draw(state, batch, jax.random.key(diffusion.SAMPLE_SEED)))
  second = draw(state, batch, jax.random.key(7))
  assert np.abs(np.asarray(first - second)).max() > 0.01
  np.testing.assert_array_equal(np.where(known, first, 0), 0)
  # The fill is the draw of SAMPLE_SEED (two compilations, whose roundings
  # differ through the random weights by up to ~1e-3 on a few pixels).
  np.testing.assert_allclose(np.where(known, 0, filled),
                             np.where(known, 0, first), atol=5e-3)
  assert np.abs(first).max() <= 1.0


def test_caption_loss_reads_the_caption_with_the_same_noise():
  config = tiny_sampler.get_config()
  state = _trained_state(config)
  batch = _batch(config)
  loss = jax.jit(functools.partial(
      diffusion.caption_loss, model=diffusion.model_config(config)))
  true = loss(state, batch)
  assert true.shape == (config.batch_size,)
  np.testing.assert_array_equal(true, loss(state, batch))  # fixed noise
  shuffled = loss(state, dict(batch, embedding=batch['embedding'][::-1]))
  assert np.abs(np.asarray(true - shuffled)).max() > 0
  # By level: the score's levels, with the same noise, then the top one.
  by_level = jax.jit(functools.partial(
      diffusion.caption_loss_by_level,
      model=diffusion.model_config(config)))(state, batch)
  assert list(by_level) == ['sigma 0.1', 'sigma 0.3', 'sigma 1', 'sigma 80']
  np.testing.assert_allclose(
      np.mean([by_level[f'sigma {s:g}'] for s in diffusion.CAPTION_SIGMAS],
              axis=0), true, rtol=1e-5)


def test_a_mean_fill_centres_the_draws_and_stays_frozen(trained_run,
                                                        tmp_path):
  ce_config, workdir = trained_run
  weights = tmp_path / 'mean.safetensors'
  export.export(ce_config, inference.restore(ce_config, workdir), weights,
                'float32')
  config = tiny_sampler.get_config()
  config.diffusion.mean_fill = str(weights)
  config.diffusion.sigma_data = 0.01
  config.diffusion.sampling_steps = 16  # 2 levels are too coarse for this
  config_lib.validate_for_tool(config)
  state = diffusion.create_state(config)  # the U-Net's output starts at 0
  model = ml_collections.FrozenConfigDict(diffusion.model_config(config))
  batch = _batch(config)
  mask = batch['mask']
  # The mean model's fill is the exported generator's, in the hole.
  exported_config, exported = export.load(weights)
  expected = inference.fill(exported, batch, exported_config,
                            box=(0, 64, 0, 64))
  mean = np.asarray(diffusion.mean_fill(state, batch, batch['embedding'],
                                        model))
  np.testing.assert_allclose(mean, expected * mask, atol=1e-5)
  assert np.abs(mean).max() > 0.05
  # D(y) = m + D_r(y - m): with the U-Net's output F = 0 the model is
  # the Gaussian N(m, sigma_data^2): its draws are m + sigma_data z.
  sample = jax.jit(functools.partial(diffusion.sample, model=model,
                                     options=method.FillOptions()))
  drawn = np.asarray(sample(state, batch, jax.random.key(0)))
  deviation = (drawn - mean)[np.broadcast_to(mask, drawn.shape) == 1]
  assert abs(deviation.mean()) < 0.002
  # sigma_data, up to the error of Heun's 16 levels (about 20% here).
  assert 0.005 < deviation.std() < 0.015
  np.testing.assert_array_equal(np.where(mask == 0, drawn, 0), 0)
  # Training moves the U-Net, never the mean model.
  trained, metrics = _run_steps(config, state, [_batch(config, 1)],
                                jax.local_devices())
  assert_trees_close(trained.mean_model, state.mean_model, rtol=0, atol=0)
  assert np.isfinite(metrics[0]['loss'])
  moved = jax.tree.map(lambda a, b: np.abs(a - b).max(),
                       state.network.params, trained.network.params)
  assert max(jax.tree.leaves(moved)) > 0
  # A missing file is named before anything is built.
  config.diffusion.mean_fill = str(tmp_path / 'absent.safetensors')
  with pytest.raises(config_lib.ConfigError, match='absent.safetensors'):
    config_lib.validate_for_tool(config)
