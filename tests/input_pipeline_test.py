"""Batches, determinism and resumption of the tf.data pipeline."""

import jax
import numpy as np
import pytest
import tensorflow as tf

from inpainting import input_pipeline
from inpainting import masks


def _take(ds, n):
  it = ds.as_numpy_iterator()
  return [next(it) for _ in range(n)]


def test_train_batches(tiny_config):
  builder = input_pipeline.get_builder(tiny_config)
  (batch,) = _take(input_pipeline.create_train_dataset(tiny_config, builder), 1)
  devices = jax.local_device_count()
  per_device = tiny_config.batch_size // devices
  assert batch['image'].shape == (devices, per_device, 64, 64, 3)
  assert batch['mask'].shape == (devices, per_device, 64, 64, 1)
  assert batch['embedding'].shape == (devices, per_device, 384)
  assert batch['caption'].shape == (devices, per_device)
  assert batch['image'].dtype == np.float32
  assert -1.0 <= batch['image'].min() and batch['image'].max() <= 1.0
  assert batch['image'].std() > 0.1
  assert batch['mask'].sum() == devices * per_device * 32 * 32
  np.testing.assert_allclose(np.linalg.norm(batch['embedding'], axis=-1), 1.0,
                             atol=1e-5)


def test_deterministic_for_a_seed(tiny_config):
  builder = input_pipeline.get_builder(tiny_config)
  a = _take(input_pipeline.create_train_dataset(tiny_config, builder), 3)
  b = _take(input_pipeline.create_train_dataset(tiny_config, builder), 3)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x['image'], y['image'])
    np.testing.assert_array_equal(x['embedding'], y['embedding'])
  tiny_config.seed = 1
  c = _take(input_pipeline.create_train_dataset(tiny_config, builder), 1)
  assert not np.array_equal(a[0]['image'], c[0]['image'])


def test_random_flip_mirrors_some_images_and_nothing_else(tiny_config):
  builder = input_pipeline.get_builder(tiny_config)
  plain = _take(input_pipeline.create_train_dataset(tiny_config, builder), 3)
  tiny_config.dataset.random_flip = True
  flipped = _take(input_pipeline.create_train_dataset(tiny_config, builder),
                  3)
  again = _take(input_pipeline.create_train_dataset(tiny_config, builder), 3)
  mirrored = []
  for x, y, z in zip(plain, flipped, again):
    np.testing.assert_array_equal(y['image'], z['image'])  # drawn, not random
    for key in ('mask', 'embedding', 'caption'):
      np.testing.assert_array_equal(x[key], y[key])
    for a, b in zip(x['image'].reshape(-1, 64, 64, 3),
                    y['image'].reshape(-1, 64, 64, 3)):
      if np.array_equal(a, b):
        mirrored.append(False)
      else:
        np.testing.assert_array_equal(a[:, ::-1], b)
        mirrored.append(True)
  # 24 images at probability 1/2: both kinds occur (seeded, so always).
  assert 0 < sum(mirrored) < len(mirrored)


@pytest.mark.parametrize('kind', ['centre', 'mixture'])
@pytest.mark.parametrize('random_flip', [False, True])
def test_resuming_continues_the_stream(tiny_config, kind, random_flip):
  tiny_config.mask.kind = kind
  tiny_config.dataset.random_flip = random_flip
  builder = input_pipeline.get_builder(tiny_config)
  # 96 training examples, batch 8: step 13 onwards is in the second epoch.
  straight = _take(input_pipeline.create_train_dataset(tiny_config, builder),
                   16)
  resumed = _take(input_pipeline.create_train_dataset(
      tiny_config, builder, start_step=13), 3)
  for x, y in zip(straight[13:], resumed):
    for key in ('image', 'mask', 'embedding', 'caption'):
      np.testing.assert_array_equal(x[key], y[key])


def test_random_holes_are_drawn_from_the_seed_and_stream_position(
    tiny_config):
  tiny_config.mask.kind = 'mixture'
  builder = input_pipeline.get_builder(tiny_config)
  batches = _take(input_pipeline.create_train_dataset(tiny_config, builder),
                  2)
  n = tiny_config.batch_size
  for step, batch in enumerate(batches):
    expected = masks.sample_masks(tiny_config.mask, 64, tiny_config.seed,
                                  np.arange(step * n, (step + 1) * n))
    np.testing.assert_array_equal(batch['mask'].reshape(expected.shape),
                                  expected)
  # Not all alike: each example its own hole.
  holes = batches[0]['mask'].reshape(n, -1)
  assert len({h.tobytes() for h in holes}) > n // 2


def test_each_step_draws_a_caption(tiny_config):
  builder = input_pipeline.get_builder(tiny_config)
  tiny_config.dataset.shuffle_buffer_size = 1  # keep the file order
  batches = _take(input_pipeline.create_train_dataset(tiny_config, builder), 60)
  captions_of = {}
  for batch in batches:
    for image, caption in zip(batch['image'].reshape(-1, 64 * 64 * 3),
                              batch['caption'].reshape(-1)):
      captions_of.setdefault(image.tobytes(), set()).add(caption)
  # 5 epochs over 96 examples with 3 captions each: most see several.
  several = sum(len(c) > 1 for c in captions_of.values())
  assert several > 0.8 * len(captions_of)


def test_eval_dataset_sees_every_example_once(tiny_config):
  builder = input_pipeline.get_builder(tiny_config)
  ds = input_pipeline.create_eval_dataset(tiny_config, builder, 'validation',
                                          batch_size=16)
  batches = list(ds.as_numpy_iterator())
  assert [len(b['image']) for b in batches] == [16, 16, 8]
  images = np.concatenate([b['image'] for b in batches])
  assert len({im.tobytes() for im in images}) == 40


def test_shuffled_captions_are_never_the_images_own():
  # Runs of images sharing a caption, as in a class-captioned set.
  firsts = ['cat', 'cat', 'cat', 'dog', 'owl', 'owl', 'cat', 'dog']
  captions = [[c, f'{c} again'] for c in firsts]
  captions[4][1] = 'cat'  # an owl image also captioned 'cat'
  embeddings = np.arange(len(firsts) * 2 * 3, dtype=np.float32).reshape(
      len(firsts), 2, 3)
  ds = tf.data.Dataset.from_tensor_slices(
      {'captions': captions, 'embeddings': embeddings})
  out = list(input_pipeline._with_shuffled_captions(ds).as_numpy_iterator())  # pylint: disable=protected-access
  chosen = []
  for example in out:
    (row,) = np.flatnonzero((embeddings[:, 0] ==
                             example['shuffled_embedding']).all(axis=1))
    chosen.append(row)
  # The first following image whose first caption is none of its own.
  assert chosen == [3, 3, 3, 4, 7, 6, 7, 0]
  for i, j in enumerate(chosen):
    assert firsts[j] not in captions[i]


def test_images_without_another_caption_are_marked_not_shuffled():
  ds = tf.data.Dataset.from_tensor_slices(
      {'captions': [['same'], ['same'], ['other']],
       'embeddings': np.arange(6, dtype=np.float32).reshape(3, 1, 2)})
  out = list(input_pipeline._with_shuffled_captions(ds).as_numpy_iterator())  # pylint: disable=protected-access
  assert [bool(e['shuffled_differs']) for e in out] == [True, True, True]
  same = tf.data.Dataset.from_tensor_slices(
      {'captions': [['']] * 3,
       'embeddings': np.arange(6, dtype=np.float32).reshape(3, 1, 2)})
  out = list(input_pipeline._with_shuffled_captions(same).as_numpy_iterator())  # pylint: disable=protected-access
  assert [bool(e['shuffled_differs']) for e in out] == [False] * 3
  for i, e in enumerate(out):  # its own embedding: no difference to score
    np.testing.assert_array_equal(e['shuffled_embedding'], [2 * i, 2 * i + 1])


def test_batch_must_divide_over_devices(tiny_config):
  tiny_config.batch_size = 7
  builder = input_pipeline.get_builder(tiny_config)
  with pytest.raises(ValueError, match='batch_size=7'):
    input_pipeline.create_train_dataset(tiny_config, builder)


def test_unknown_dataset(tiny_config):
  tiny_config.dataset.name = 'no_such_dataset'
  with pytest.raises(ValueError, match="dataset.name='no_such_dataset'"):
    input_pipeline.get_builder(tiny_config)


def test_processes_read_disjoint_shards_of_the_same_global_batch(
    tiny_config, monkeypatch):
  tiny_config.dataset.num_shards = 2
  tiny_config.mask.kind = 'mixture'  # the holes too
  builder = input_pipeline.get_builder(tiny_config)
  one_process = _take(input_pipeline.create_train_dataset(tiny_config,
                                                          builder), 4)
  monkeypatch.setattr(jax, 'process_count', lambda: 2)
  per_process = []
  for index in range(2):
    monkeypatch.setattr(jax, 'process_index', lambda index=index: index)
    per_process.append(_take(input_pipeline.create_train_dataset(
        tiny_config, builder), 4))
  for step, whole in enumerate(one_process):
    for key in ('image', 'mask', 'embedding', 'caption'):
      halves = [p[step][key].reshape(-1, *whole[key].shape[2:])
                for p in per_process]
      np.testing.assert_array_equal(
          np.concatenate(halves), whole[key].reshape(halves[0].shape[0] * 2,
                                                     *halves[0].shape[1:]))
  # Each process reads only its half of the split.
  seen = [{im.tobytes() for b in p for im in b['image'].reshape(-1, 12288)}
          for p in per_process]
  assert not seen[0] & seen[1]
