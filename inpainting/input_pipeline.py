"""TFDS -> tf.data batches of {image, mask, embedding, caption}, per process.

Training batches are shaped [local_devices, per_device, ...] for `jax.pmap`:
- `image`: float32 in [-1, 1], [.., H, W, 3];
- `mask`: float32 [.., H, W, 1], 1 in the hole (the centre square);
- `embedding`: float32 [.., E], the stored embedding of one of the example's
  captions, drawn at random for each example each time it is seen;
- `caption`: the drawn caption's text (for logging; not sent to devices).

The training stream is a pure function of (config.seed, shard, position):
resuming at step s skips the records already consumed (before decoding, so
it is cheap) and yields exactly what an uninterrupted run would have; with a
fixed `dataset.num_shards` it is also the same for any number of processes.
"""

from __future__ import annotations

from typing import Iterator

import jax
import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from inpainting import datasets  # pylint: disable=unused-import  (registers builders)
from inpainting import masks

# Keys that travel to the accelerators; the rest stay on the host.
DEVICE_KEYS = ('image', 'mask', 'embedding')


def get_builder(config: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
  """The dataset's TFDS builder, built (once) if it is not yet.

  Args:
    config: the run config; reads `dataset.name`, `dataset.data_dir` and
      `dataset.manual_dir`.

  Returns:
    A prepared builder.
  """
  try:
    builder = tfds.builder(config.dataset.name,
                           data_dir=config.dataset.data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f'dataset.name={config.dataset.name!r} is not a '
                     f'registered TFDS dataset: {e}') from None
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(
          manual_dir=config.dataset.manual_dir))
  return builder


def per_device_batch_size(global_batch_size: int) -> int:
  """The batch of one device; the global batch must divide evenly."""
  devices = jax.device_count()
  if global_batch_size % devices:
    raise ValueError(f'batch_size={global_batch_size} is not divisible by '
                     f'the {devices} devices.')
  return global_batch_size // devices


def _to_model_input(example, caption_index, *, mask: tf.Tensor,
                    image_size: int):
  """Decodes one example's image and picks its caption `caption_index`."""
  image = tf.io.decode_image(example['image'], channels=3,
                             expand_animations=False)
  image = tf.ensure_shape(image, (image_size, image_size, 3))
  return {
      'image': tf.cast(image, tf.float32) / 127.5 - 1.0,
      'mask': mask,
      'embedding': example['embeddings'][caption_index],
      'caption': example['captions'][caption_index],
  }


def _draw_caption(example, *, seed: int, index: tf.Tensor) -> tf.Tensor:
  """A caption index drawn from (seed, stream position): resumable."""
  return tf.random.stateless_uniform(
      [], seed=tf.stack([tf.constant(seed, tf.int64), index]),
      maxval=tf.shape(example['embeddings'])[0], dtype=tf.int32)


def _split_devices(batch, devices: int):
  return {k: tf.reshape(v, tf.concat([[devices, -1], tf.shape(v)[1:]], 0))
          for k, v in batch.items()}


def _options() -> tf.data.Options:
  options = tf.data.Options()
  options.deterministic = True
  options.autotune.enabled = True
  return options


def num_shards(config: ml_collections.ConfigDict) -> int:
  """The training stream's shards: `dataset.num_shards`, or one per process."""
  return config.dataset.num_shards or jax.process_count()


def _shard_stream(config: ml_collections.ConfigDict,
                  builder: tfds.core.DatasetBuilder, split: str, shard: int,
                  shards: int, start_step: int) -> tf.data.Dataset:
  """Batches of one shard of the split: a pure function of (seed, shard)."""
  shard_batch = config.batch_size // shards
  seed = config.seed + 1_000_003 * shard
  ds = builder.as_dataset(
      split=split, shuffle_files=True,
      decoders={'image': tfds.decode.SkipDecoding()},
      read_config=tfds.ReadConfig(shuffle_seed=seed,
                                  shuffle_reshuffle_each_iteration=True,
                                  options=_options()))
  buffer = max(1, config.dataset.shuffle_buffer_size // shards)
  ds = ds.repeat().shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
  # The position in the stream seeds the caption draw, so it survives resumes.
  ds = ds.enumerate().skip(start_step * shard_batch)
  mask = tf.constant(masks.centre_mask(config.image_size, config.mask.size))
  ds = ds.map(
      lambda i, ex: _to_model_input(
          ex, _draw_caption(ex, seed=seed, index=i), mask=mask,
          image_size=config.image_size),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(shard_batch, drop_remainder=True)


def create_train_dataset(config: ml_collections.ConfigDict,
                         builder: tfds.core.DatasetBuilder,
                         start_step: int = 0) -> tf.data.Dataset:
  """The infinite training stream of this process, from step `start_step`.

  The split is cut into `num_shards(config)` equal shards, each shuffled and
  read on its own; global batch t is the concatenation of every shard's
  batch t, in shard order. A process reads only its own contiguous run of
  shards, so the global batch does not depend on how many processes share
  the work (for a fixed `dataset.num_shards`).

  Args:
    config: the run config.
    builder: a prepared builder (see `get_builder`).
    start_step: the number of steps already taken; their examples are
      skipped.

  Returns:
    A dataset of batches [local_devices, per_device, ...].
  """
  per_device_batch_size(config.batch_size)  # checks divisibility
  shards, processes = num_shards(config), jax.process_count()
  if shards % processes or config.batch_size % shards:
    raise ValueError(f'dataset.num_shards={shards} must be divisible by the '
                     f'{processes} processes and divide batch_size='
                     f'{config.batch_size}.')
  splits = tfds.even_splits(config.dataset.train_split, n=shards,
                            drop_remainder=True)
  per_process = shards // processes
  mine = range(jax.process_index() * per_process,
               (jax.process_index() + 1) * per_process)
  streams = tuple(_shard_stream(config, builder, splits[s], s, shards,
                                start_step) for s in mine)
  if len(streams) == 1:
    ds = streams[0]
  else:
    ds = tf.data.Dataset.zip(streams).map(
        lambda *batches: {k: tf.concat([b[k] for b in batches], 0)
                          for k in batches[0]})
  local_devices = jax.local_device_count()
  ds = ds.map(lambda b: _split_devices(b, local_devices))
  return ds.prefetch(config.dataset.prefetch).with_options(_options())


def create_eval_dataset(config: ml_collections.ConfigDict,
                        builder: tfds.core.DatasetBuilder, split: str,
                        batch_size: int, num_examples: int | None = None,
                        shuffled_captions: bool = False) -> tf.data.Dataset:
  """Examples of a split in their stored order, each once, first caption.

  Args:
    config: the run config.
    builder: a prepared builder.
    split: a TFDS split name, e.g. 'validation'.
    batch_size: examples per batch; the last batch may be smaller.
    num_examples: only the first this many examples, if given.
    shuffled_captions: add 'shuffled_embedding', the caption embedding of
      another image (the next one in the stored order, cyclically; the order
      is random at build time), for caption ablations.

  Returns:
    A dataset of [batch, ...] batches (no device axis).
  """
  ds = builder.as_dataset(split=split, shuffle_files=False,
                          decoders={'image': tfds.decode.SkipDecoding()},
                          read_config=tfds.ReadConfig(options=_options(),
                                                      try_autocache=False))
  if num_examples is not None:
    ds = ds.take(num_examples)
  mask = tf.constant(masks.centre_mask(config.image_size, config.mask.size))
  ds = ds.map(lambda ex: _to_model_input(ex, 0, mask=mask,
                                         image_size=config.image_size),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if shuffled_captions:
    others = ds.skip(1).concatenate(ds.take(1))
    ds = tf.data.Dataset.zip(ds, others).map(
        lambda ex, other: {**ex, 'shuffled_embedding': other['embedding']})
  return ds.batch(batch_size).prefetch(2)


def device_batches(ds: tf.data.Dataset) -> Iterator[dict[str, np.ndarray]]:
  """Numpy batches with only the keys the devices need."""
  for batch in tfds.as_numpy(ds):
    yield {k: batch[k] for k in DEVICE_KEYS}
