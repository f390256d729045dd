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

import errno
import os
from typing import Iterator

from absl import logging
import jax
import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from inpainting import datasets  # registers the builders
from inpainting import masks
from inpainting import state as state_lib
from inpainting import text_encoder



def _builder_kwargs(config: ml_collections.ConfigDict) -> dict:
  """Constructor arguments of the configured builder, beyond its name."""
  name, _, config_name = config.dataset.name.partition('/')
  try:
    cls = tfds.builder_cls(name)
  except tfds.core.registered.DatasetNotFoundError:
    raise datasets.common.DatasetError(
        f'dataset.name={config.dataset.name!r} is not a registered TFDS '
        f'dataset. This project\'s: {", ".join(datasets.BUILDERS)} (or a '
        'config argument, e.g. configs/caption_gan.py:tiny_imagenet); every '
        'TFDS name: python -c "import tensorflow_datasets as tfds; '
        'print(tfds.list_builders())".') from None
  kwargs = {}
  if issubclass(cls, datasets.common.CaptionedImageBuilder):
    kwargs['on_bad_input'] = config.dataset.on_bad_input
  if cls is datasets.image_folder.ImageFolder:
    if config_name:
      raise datasets.common.DatasetError(
          f'dataset.name={config.dataset.name!r}: image_folder takes its '
          'folder from dataset.manual_dir, not a config name.')
    if not config.dataset.manual_dir:
      raise datasets.common.DatasetError(
          "dataset.name='image_folder' needs the folder: set "
          '--config.dataset.manual_dir=/path/to/images.')
    kwargs['config'] = datasets.image_folder.builder_config(
        config.dataset.manual_dir, config.dataset.captions_file)
  return kwargs


# What storage that is full, over quota, over the file-size limit or
# read-only raises: as TensorFlow's errors (TFDS writes through tf.io) ...
_STORAGE_OP_ERRORS = (tf.errors.ResourceExhaustedError,
                      tf.errors.OutOfRangeError,
                      tf.errors.PermissionDeniedError)
# ... and as Python's.
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG,
                             errno.EROFS, errno.EACCES, errno.EPERM})


def _storage_refusal(error: BaseException) -> str | None:
  """The message of a refused write behind `error`, if that is its cause."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, _STORAGE_OP_ERRORS):
      return error.message
    if isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
      return str(error)
    error = error.__cause__ or error.__context__
  return None


def get_builder(config: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
  """The dataset's TFDS builder, built (once) if it is not yet.

  Args:
    config: the run config; reads `dataset.name`, `dataset.data_dir`,
      `dataset.manual_dir`, `dataset.captions_file` and
      `dataset.on_bad_input`.

  Returns:
    A prepared builder.

  Raises:
    datasets.common.DatasetError: for an unknown dataset, a missing folder,
      or (BadInputError) a bad source file under on_bad_input='stop'.
    datasets.common.SourceNotFoundError: for an archive neither in the
      manual dir nor downloadable.
  """
  builder = tfds.builder(config.dataset.name,
                         data_dir=config.dataset.data_dir,
                         **_builder_kwargs(config))
  try:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=config.dataset.manual_dir))
  except Exception as e:  # TFDS re-raises storage errors as other types
    refused = _storage_refusal(e)
    if refused is None:
      raise
    # TFDS writes into a temporary folder that it renames only when
    # complete, so nothing half-built is left to load.
    raise datasets.common.DatasetError(
        f'Could not write the dataset {config.dataset.name!r} under '
        f'{builder.data_dir_root} (dataset.data_dir): {refused}. Is the '
        'disk full or read-only? Free space or choose another '
        '--config.dataset.data_dir; nothing half-built was kept.') from None
  skipped = builder.info.metadata.get('skipped_inputs') if (
      builder.info.metadata is not None) else None
  if skipped:
    logging.warning('%s was built without %d bad input file(s), e.g. %s '
                    "(all listed in its metadata.json, 'skipped_inputs').",
                    builder.info.full_name, len(skipped), skipped[0])
  _check_features(builder)
  return builder


def check_split(builder: tfds.core.DatasetBuilder, split: str,
                field: str) -> None:
  """Refuses a split name the dataset does not have, naming the field.

  Args:
    builder: a prepared builder.
    split: a split name, as in the config (sub-splits such as 'train[:10%]'
      are checked by their base name).
    field: the config field it came from, e.g. 'eval.split'.

  Raises:
    datasets.common.DatasetError: when the dataset has no such split.
  """
  available = sorted(builder.info.splits.keys())
  if split.split('[', 1)[0] not in available:
    raise datasets.common.DatasetError(
        f'config.{field}={split!r}: {builder.info.full_name} has no such '
        f'split; it has {available}.')


def _record_ranges(builder: tfds.core.DatasetBuilder,
                   split: str) -> list[tuple[str, int, int]]:
  """(file, first record, end) of each run of records a split reads."""
  return [(os.path.basename(i.filename), i.skip, i.skip + i.take)
          for i in builder.info.splits[split].file_instructions]


def check_held_out(builder: tfds.core.DatasetBuilder,
                   config: ml_collections.ConfigDict) -> None:
  """Refuses a held-out split that shares examples with the training split.

  Splits are compared by the records they read, so sub-splits and unions
  count ('train[90%:]' is inside 'train'; 'train[:90%]' and 'train[90%:]'
  are disjoint). A deliberate overfitting check sets
  `eval.allow_train_overlap`.

  Raises:
    datasets.common.DatasetError: naming both fields and the overlap.
  """
  if config.eval.allow_train_overlap:
    return
  train_split, eval_split = config.dataset.train_split, config.eval.split
  if any(part.split('[', 1)[0].strip() not in builder.info.splits
         for part in train_split.split('+')):
    return  # scoring on a dataset that has no such split: none trained on
  trained = _record_ranges(builder, train_split)
  shared = total = 0
  for name, start, end in _record_ranges(builder, eval_split):
    total += end - start
    for other, lo, hi in trained:
      if other == name:
        shared += max(0, min(end, hi) - max(start, lo))
  if shared:
    raise datasets.common.DatasetError(
        f'config.eval.split={eval_split!r} shares {shared} of its {total} '
        f'examples with config.dataset.train_split={train_split!r} '
        f'({builder.info.full_name}): the model would be scored on images '
        'it was trained on. Choose disjoint splits (e.g. train[:90%] and '
        'train[90%:]), or set config.eval.allow_train_overlap=True for a '
        'deliberate overfitting check.')


def _check_features(builder: tfds.core.DatasetBuilder) -> None:
  """Refuses datasets without the features every builder here provides."""
  expected = datasets.common.features().get_serialized_info()
  actual = builder.info.features.get_serialized_info()
  wrong = [k for k, v in expected.items()
           if k not in actual or actual[k] != v]
  if wrong:
    raise datasets.common.DatasetError(
        f'{builder.info.full_name} lacks the features of the builders in '
        f'inpainting/datasets (datasets.common.features): {wrong} differ. '
        'Datasets built by an older version of this code must be rebuilt.')


def per_device_batch_size(global_batch_size: int) -> int:
  """The batch of one device; the global batch must divide evenly."""
  devices = jax.device_count()
  if global_batch_size % devices:
    raise ValueError(f'batch_size={global_batch_size} is not divisible by '
                     f'the {devices} devices.')
  return global_batch_size // devices


def _to_model_input(example, caption_index, *, mask: tf.Tensor):
  """One decoded example with its caption `caption_index` (evaluation)."""
  return {
      'image': tf.cast(example['image'], tf.float32) / 127.5 - 1.0,
      'mask': mask,
      'embedding': example['embeddings'][caption_index],
      'caption': example['captions'][caption_index],
  }


# The serialized form of the features every builder writes.
_PARSE_SPEC = {
    'image': tf.io.FixedLenFeature([], tf.string),
    'captions': tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64),
    'embeddings': tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64),
}


def _parse_batch(serialized: tf.Tensor, positions: tf.Tensor, *, seed: int,
                 mask: tf.Tensor | None, image_size: int,
                 mask_config: ml_collections.ConfigDict,
                 random_flip: bool = False):
  """Parses, decodes and draws captions for a whole batch at once.

  Vectorised over the batch (one `parse_example`, one `decode_raw`, one
  gather), which is several times faster than TFDS's per-example parsing.

  Args:
    serialized: [B] serialized tf.train.Examples.
    positions: [B] their positions in the stream; the first seeds the draw
      of each example's caption, so a resumed stream draws the same.
    seed: the shard's seed.
    mask: the [H, W, 1] hole mask of every example, or None: each example's
      own, drawn from (seed, its position) by `masks.sample_masks`.
    image_size: H = W.
    mask_config: `config.mask`.
    random_flip: mirror each image left to right with probability 1/2,
      drawn, like its caption, from (seed, the batch's first position); the
      hole is not mirrored (it is drawn apart).
  """
  ex = tf.io.parse_example(serialized, _PARSE_SPEC)
  batch = tf.shape(serialized)[0]
  image = tf.reshape(tf.io.decode_raw(ex['image'], tf.uint8),
                     [batch, image_size, image_size, 3])
  captions = ex['captions']
  count = captions.row_lengths()
  tf.debugging.assert_positive(count, 'An example without captions.')
  batch_seed = tf.stack([tf.constant(seed, tf.int64), positions[0]])
  draw = tf.random.stateless_uniform([batch], seed=batch_seed)
  index = tf.minimum(tf.cast(draw * tf.cast(count, tf.float32), tf.int64),
                     count - 1)
  row = captions.row_starts() + index
  embeddings = tf.reshape(ex['embeddings'].flat_values,
                          [-1, text_encoder.EMBEDDING_DIM])
  if mask is None:
    holes = tf.numpy_function(
        lambda p: masks.sample_masks(mask_config, image_size, seed, p),
        [positions], tf.float32, stateful=False)
    holes = tf.ensure_shape(holes, [None, image_size, image_size, 1])
  else:
    holes = tf.broadcast_to(mask, [batch, image_size, image_size, 1])
  if random_flip:
    flip = tf.random.stateless_uniform(
        [batch], seed=tf.random.experimental.stateless_fold_in(
            batch_seed, 1)) < 0.5
    image = tf.where(flip[:, None, None, None], tf.reverse(image, [2]), image)
  return {
      'image': tf.cast(image, tf.float32) / 127.5 - 1.0,
      'mask': holes,
      'embedding': tf.gather(embeddings, row),
      'caption': tf.gather(captions.flat_values, row),
  }


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


def _serialized_records(builder: tfds.core.DatasetBuilder, split,
                        seed: int) -> tf.data.Dataset:
  """The split's serialized examples, files in a new random order each epoch."""
  instructions = builder.info.splits[split].file_instructions
  files = tf.data.Dataset.from_tensor_slices((
      [str(i.filename) for i in instructions],
      tf.constant([i.skip for i in instructions], tf.int64),
      tf.constant([i.take for i in instructions], tf.int64)))
  files = files.repeat().shuffle(len(instructions), seed=seed,
                                 reshuffle_each_iteration=True)
  return files.interleave(
      lambda path, skip, take: tf.data.TFRecordDataset(
          path, buffer_size=1 << 20).skip(skip).take(take),
      cycle_length=min(4, len(instructions)), block_length=16,
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _shard_stream(config: ml_collections.ConfigDict,
                  builder: tfds.core.DatasetBuilder, split, shard: int,
                  shards: int, start_step: int) -> tf.data.Dataset:
  """Batches of one shard of the split: a pure function of (seed, shard).

  Shuffling, skipping and batching act on the serialized records, which is
  cheap; parsing and decoding then happen once per batch (`_parse_batch`).
  """
  shard_batch = config.batch_size // shards
  seed = config.seed + 1_000_003 * shard
  ds = _serialized_records(builder, split, seed)
  buffer = max(1, config.dataset.shuffle_buffer_size // shards)
  ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
  # Positions in the stream seed the caption and mask draws, so they survive
  # resumes.
  ds = ds.enumerate().skip(start_step * shard_batch)
  ds = ds.batch(shard_batch, drop_remainder=True)
  # The seed's centre square is one constant; other holes are drawn per
  # example from (seed, position), so they too survive resumes.
  mask = None
  if config.mask.kind == 'centre':
    mask = tf.constant(masks.centre_mask(config.image_size, config.mask.size))
  return ds.map(
      lambda positions, records: _parse_batch(
          records, positions, seed=seed, mask=mask,
          image_size=config.image_size, mask_config=config.mask,
          random_flip=config.dataset.random_flip),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


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
    shuffled_captions: add 'shuffled_embedding', the embedding of another
      image's caption, for caption ablations: that of the first image after
      it in the stored order (cyclically; the order is random at build
      time) whose first caption is none of this image's own captions, among
      the next SHUFFLE_CANDIDATES; so an image never gets a caption of its
      own (in a class-captioned set, the next image is often of its class).

  Returns:
    A dataset of [batch, ...] batches (no device axis).
  """
  ds = builder.as_dataset(split=split, shuffle_files=False,
                          read_config=tfds.ReadConfig(options=_options(),
                                                      try_autocache=False))
  if num_examples is not None:
    ds = ds.take(num_examples)
  mask = tf.constant(masks.centre_mask(config.image_size, config.mask.size))
  if shuffled_captions:
    ds = _with_shuffled_captions(ds)
  ds = ds.map(lambda ex: {**_to_model_input(ex, 0, mask=mask),
                          **({'shuffled_embedding': ex['shuffled_embedding'],
                              'shuffled_differs': ex['shuffled_differs']}
                             if shuffled_captions else {})},
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(batch_size).prefetch(2)


# How many of the following images `_with_shuffled_captions` considers.
SHUFFLE_CANDIDATES = 16


def _with_shuffled_captions(ds: tf.data.Dataset) -> tf.data.Dataset:
  """Adds to each example the first caption's embedding of another image.

  The first of the next SHUFFLE_CANDIDATES images (cyclically) whose first
  caption is not among the example's own captions (`shuffled_differs`);
  where there is none (images without captions, all ''), the example's own
  first embedding and `shuffled_differs` False: the caption ablation leaves
  such images out of its shuffled comparison.
  """
  following = [ds.skip(k).concatenate(ds.take(k))
               for k in range(1, SHUFFLE_CANDIDATES + 1)]

  def choose(example, *others):
    candidates = tf.stack([o['captions'][0] for o in others])
    own = example['captions']
    differs = tf.reduce_all(
        tf.not_equal(candidates[:, None], own[None, :]), axis=1)
    any_differs = tf.reduce_any(differs)
    index = tf.argmax(tf.cast(differs, tf.int32))
    embeddings = tf.stack([o['embeddings'][0] for o in others])
    return {**example,
            'shuffled_embedding': tf.where(any_differs,
                                           tf.gather(embeddings, index),
                                           example['embeddings'][0]),
            'shuffled_differs': any_differs}

  return tf.data.Dataset.zip(ds, *following).map(choose)


def device_batches(ds: tf.data.Dataset) -> Iterator[dict[str, np.ndarray]]:
  """Numpy batches with only the keys the devices need."""
  for batch in tfds.as_numpy(ds):
    yield {k: batch[k] for k in state_lib.INPUT_KEYS}
