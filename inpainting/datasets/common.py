"""What the builders of captioned photographs share.

Every builder yields the same features (see `features`), so the input
pipeline treats them alike:
- `image`: uint8 [64, 64, 3], stored as raw bytes (12 KiB an image): the
  training stream decodes a whole batch with one `tf.io.decode_raw`, which is
  what lets it stream over 10,000 images/s on two CPU cores (PNG decoding
  alone manages about 4,000);
- `captions`: all the image's captions (at least one; '' for an image that
  has none);
- `embeddings`: [num_captions, 384] float32, from `inpainting.text_encoder`.

Building reads source images of any size and colour mode, converts them to
RGB, takes the centred square and resizes it to 64x64 with antialiasing,
in parallel threads; each distinct caption is embedded once, in batches.

Bad input (an unreadable, truncated or empty image, a captions file naming
a missing image) is handled as `dataset.on_bad_input` says: 'stop' raises
`BadInputError` naming the file; 'skip' leaves it out, logs it, counts it,
summarises the count at the end of the build and records the skipped files
in the dataset's metadata (`skipped_inputs`), so a smaller dataset is never a
silent one.
"""

from __future__ import annotations

import abc
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import pathlib
import zipfile
from typing import Callable, Iterable, Iterator, Sequence

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from inpainting import errors
from inpainting import images
from inpainting import text_encoder

IMAGE_SIZE = 64
ON_BAD_INPUT = ('stop', 'skip')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.webp', '.bmp', '.gif', '.tif',
                    '.tiff')
# Images decoded per parallel chunk while writing a split (bounds memory).
_CHUNK = 2048
# The split that training reads by default; the others are held out.
TRAIN_SPLIT = 'train'
# The version of the builders of photographs (tiny_imagenet,
# mscoco_captions, image_folder), bumped together: what they build changed.
VERSION = tfds.core.Version('1.1.0')
RELEASE_NOTES = {
    '1.0.0': 'First release.',
    '1.1.0': 'The training split leaves out exact copies of held-out '
             "images (HeldOutCopies; the metadata's held_out_copies).",
}


class DatasetError(errors.UserError, ValueError):
  """A dataset cannot be built or read; the message says which and why."""


class BadInputError(DatasetError):
  """A source file is unusable; the message names it and says what to do."""


class SourceNotFoundError(FileNotFoundError):
  """A dataset's archive is neither in the manual dir nor downloadable."""


def features(**extra: tfds.features.FeatureConnector
             ) -> tfds.features.FeaturesDict:
  """The features of every captioned-image builder, plus `extra` ones."""
  return tfds.features.FeaturesDict({
      'image': tfds.features.Tensor(
          shape=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8,
          encoding=tfds.features.Encoding.BYTES),
      'captions': tfds.features.Sequence(tfds.features.Text()),
      'embeddings': tfds.features.Sequence(tfds.features.Tensor(
          shape=(text_encoder.EMBEDDING_DIM,), dtype=np.float32)),
      **extra,
  })


def to_example_image(rgb: np.ndarray) -> np.ndarray:
  """The centred square of an RGB image, resized to 64x64 (antialiased)."""
  return images.centre_crop_resize(rgb, IMAGE_SIZE)


class BadInputLog:
  """Applies the `dataset.on_bad_input` policy and remembers what it skipped."""

  def __init__(self, policy: str):
    if policy not in ON_BAD_INPUT:
      raise ValueError(f'dataset.on_bad_input={policy!r}: must be one of '
                       f'{ON_BAD_INPUT}.')
    self.policy = policy
    self.skipped: list[str] = []

  def report(self, message: str) -> None:
    """Stops with `message` (naming the file), or logs and counts it."""
    if self.policy == 'stop':
      raise BadInputError(
          f'{message}\nNothing was built. To leave such files out instead '
          "(each one logged, and counted in the dataset's metadata), set "
          "--config.dataset.on_bad_input=skip.")
    logging.warning('Skipping bad input: %s', message)
    self.skipped.append(message)


@dataclasses.dataclass(frozen=True)
class Item:
  """One image to build: where it is, its captions, and extra features."""
  key: str  # unique within its split; the source path, for messages
  path: str  # how the source reads it (a member of an archive, a file)
  captions: tuple[str, ...]  # none given: the empty caption ('',)
  extra: dict = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    object.__setattr__(self, 'captions', tuple(self.captions) or ('',))


class Source(abc.ABC):
  """Files read by name from a zip archive or a folder (thread-safe)."""

  @abc.abstractmethod
  def names(self) -> list[str]:
    """Every file's name, '/'-separated, relative to the source."""

  @abc.abstractmethod
  def read(self, name: str) -> bytes:
    """A file's bytes; FileNotFoundError if it is missing."""

  @abc.abstractmethod
  def describe(self, name: str) -> str:
    """The file's location, for messages."""


class ZipSource(Source):
  """A zip archive, read in place (never extracted)."""

  def __init__(self, path: os.PathLike | str):
    self.path = pathlib.Path(path)
    try:
      self._zip = zipfile.ZipFile(self.path)
    except (OSError, zipfile.BadZipFile) as e:
      raise BadInputError(f'{self.path}: not a readable zip archive ({e}).'
                          ) from None

  def names(self) -> list[str]:
    return [n for n in self._zip.namelist() if not n.endswith('/')]

  def read(self, name: str) -> bytes:
    try:
      return self._zip.read(name)
    except KeyError:
      raise FileNotFoundError(self.describe(name)) from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
      raise BadInputError(f'{self.describe(name)}: cannot be read from the '
                          f'archive ({e}).') from None

  def describe(self, name: str) -> str:
    return f'{self.path}:{name}'


class DirSource(Source):
  """A folder of files."""

  def __init__(self, path: os.PathLike | str):
    self.path = pathlib.Path(path)

  def names(self) -> list[str]:
    return sorted(str(p.relative_to(self.path).as_posix())
                  for p in self.path.rglob('*') if p.is_file())

  def read(self, name: str) -> bytes:
    return (self.path / name).read_bytes()

  def describe(self, name: str) -> str:
    return str(self.path / name)


def open_source(path: os.PathLike | str) -> Source:
  """A zip archive or a folder, by what `path` is."""
  path = pathlib.Path(path)
  return DirSource(path) if path.is_dir() else ZipSource(path)


def find_in_manual_dir(dl_manager: tfds.download.DownloadManager,
                       candidates: Sequence[str]) -> pathlib.Path | None:
  """The first of `candidates` (archives or folders) in the manual dir.

  The manual dir may also be one of the candidates itself (the archive's
  own path, as `image_folder` takes it).

  Raises:
    SourceNotFoundError: the manual dir is a file other than a candidate.
  """
  given = getattr(dl_manager, '_manual_dir', None)
  if given is not None and pathlib.Path(given).is_file():
    given = pathlib.Path(given)
    if given.name in candidates:
      return given
    raise SourceNotFoundError(
        f'dataset.manual_dir={str(given)!r} is a file, not '
        f'{" or ".join(candidates)}: point it at one of those, or at the '
        'folder that holds it.')
  try:
    manual_dir = pathlib.Path(dl_manager.manual_dir)
  except AssertionError:  # TFDS: no manual dir, or an empty one
    return None
  for name in candidates:
    if (manual_dir / name).exists():
      return manual_dir / name
  return None


def fetch(dl_manager: tfds.download.DownloadManager, candidates: Sequence[str],
          url: str) -> pathlib.Path:
  """An archive from the manual dir (as a zip or extracted), else downloaded.

  Args:
    dl_manager: the builder's download manager.
    candidates: names to look for in the manual dir, e.g. the zip's name and
      the folder it extracts to.
    url: the official download URL.

  Raises:
    SourceNotFoundError: if it is not in the manual dir and cannot be
      downloaded, saying where to put it.
  """
  found = find_in_manual_dir(dl_manager, candidates)
  if found is not None:
    logging.info('Reading %s', found)
    return found
  try:
    return pathlib.Path(dl_manager.download(url))
  except Exception as e:  # pylint: disable=broad-except
    manual_dir = getattr(dl_manager, '_manual_dir', None)
    raise SourceNotFoundError(
        f'{" or ".join(candidates)} is not in the manual dir ({manual_dir}) '
        f'and could not be downloaded from {url} ({type(e).__name__}: {e}). '
        'Download it yourself and point --config.dataset.manual_dir at the '
        'folder that holds it.') from None


def load_example_image(source: Source, name: str, log: BadInputLog
                       ) -> np.ndarray | None:
  """A source image as a 64x64 RGB example image, or None if it was skipped."""
  try:
    data = source.read(name)
  except FileNotFoundError:
    log.report(f'{source.describe(name)}: no such file.')
    return None
  except BadInputError as e:
    log.report(str(e))
    return None
  try:
    return to_example_image(images.decode_rgb(data, source.describe(name)))
  except images.ImageReadError as e:
    log.report(str(e))
    return None


def embed_captions(splits: Iterable[Sequence[Item]]) -> dict[str, np.ndarray]:
  """{caption: embedding} for every distinct caption of the items."""
  captions = {c for items in splits for item in items for c in item.captions}
  logging.info('Embedding %d distinct captions.', len(captions))
  return text_encoder.embed_unique(text_encoder.TextEncoder(), captions)


def _workers() -> int:
  return min(32, (os.cpu_count() or 1) + 2)


def load_example_images(source: Source, items: Sequence[Item],
                        log: BadInputLog
                        ) -> Iterator[tuple[Item, np.ndarray | None]]:
  """(item, its 64x64 image or None if bad) for each item, in order,
  decoded in parallel threads (PIL releases the GIL while it decodes and
  resizes, so threads use all cores)."""
  load: Callable[[Item], np.ndarray | None] = (
      lambda item: load_example_image(source, item.path, log))
  with concurrent.futures.ThreadPoolExecutor(_workers()) as pool:
    for start in range(0, len(items), _CHUNK):
      chunk = items[start:start + _CHUNK]
      yield from zip(chunk, pool.map(load, chunk))


def image_digest(image: np.ndarray) -> bytes:
  """SHA-256 of an example image's pixels: equal iff the images are."""
  return hashlib.sha256(np.ascontiguousarray(image).tobytes()).digest()


class HeldOutCopies:
  """Finds training images whose pixels equal a held-out image's.

  Datasets are not always clean: Tiny ImageNet's archive holds 4 of its
  validation photographs, byte for byte, among its training images, and a
  folder of photographs can hold a copy under two names. A model trained
  on such a copy is scored on an image it has seen. The building of the
  training split asks this, for each image, and leaves the copies out
  (logged, and listed in the dataset's metadata, `held_out_copies`); the
  held-out splits stay whole, so their figures stay comparable. Exact
  copies only (after the 64x64 resize): a mirrored or re-encoded copy is
  not found.
  """

  def __init__(self, held_out: dict[str, tuple[Source, Sequence[Item]]]):
    self._held_out = held_out
    self._digests: dict[bytes, str] | None = None
    self.found: list[str] = []

  def _held_out_digests(self) -> dict[bytes, str]:
    if self._digests is None:
      self._digests = {}
      quiet = BadInputLog('skip')  # each split's own build reports them
      for source, items in self._held_out.values():
        for item, image in load_example_images(source, items, quiet):
          if image is not None:
            self._digests.setdefault(image_digest(image),
                                     source.describe(item.path))
    return self._digests

  def is_copy(self, source: Source, item: Item, image: np.ndarray) -> bool:
    """Whether a training image is a copy of a held-out one (then noted)."""
    original = self._held_out_digests().get(image_digest(image))
    if original is None:
      return False
    copy = f'{source.describe(item.path)} = {original}'
    logging.warning('Leaving out of the training split a copy of a held-out '
                    'image: %s.', copy)
    self.found.append(copy)
    return True


def generate_examples(source: Source, items: Sequence[Item],
                      embeddings: dict[str, np.ndarray], log: BadInputLog,
                      copies: HeldOutCopies | None = None
                      ) -> Iterator[tuple[str, dict]]:
  """(key, example) for each item, its image decoded in parallel threads.

  Items whose image is bad go to `log` (stop or skip); with `copies` (the
  training split), images that copy a held-out one are left out.
  """
  for item, image in load_example_images(source, items, log):
    if image is None or (copies is not None and
                         copies.is_copy(source, item, image)):
      continue
    yield item.key, {
        'image': image,
        'captions': list(item.captions),
        'embeddings': np.stack([embeddings[c] for c in item.captions]),
        **item.extra,
    }


class CaptionedImageBuilder(tfds.core.GeneratorBasedBuilder, abc.ABC):
  """A builder of captioned 64x64 images with the policy for bad input.

  Subclasses implement `_split_generators`, returning
  `self._split_examples({split: (source, items)}, embeddings)`, and may
  add features with `_extra_features`.
  """

  def __init__(self, *, on_bad_input: str = 'stop', **kwargs):
    self._bad_input = BadInputLog(on_bad_input)
    self._copies: HeldOutCopies | None = None
    super().__init__(**kwargs)

  def _extra_features(self) -> dict[str, tfds.features.FeatureConnector]:
    return {}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=features(**self._extra_features()),
        metadata=tfds.core.MetadataDict(),
        supervised_keys=None)

  def _split_examples(self, splits: dict[str, tuple[Source, Sequence[Item]]],
                      embeddings: dict[str, np.ndarray]) -> dict:
    """What `_split_generators` returns: each split's examples, the training
    split's without copies of held-out images (`HeldOutCopies`).

    Args:
      splits: {split name: (its source, its items)}.
      embeddings: {caption: embedding} of every caption.
    """
    copies = HeldOutCopies({name: split for name, split in splits.items()
                            if name != TRAIN_SPLIT})
    self._copies = copies
    return {name: self._generate_examples(
        source, items, embeddings, copies if name == TRAIN_SPLIT else None)
            for name, (source, items) in splits.items()}

  def _generate_examples(self, source: Source, items: Sequence[Item],
                         embeddings: dict[str, np.ndarray],
                         copies: HeldOutCopies | None = None):
    yield from generate_examples(source, items, embeddings, self._bad_input,
                                 copies)
    # Runs when the split is written, before TFDS saves the metadata.
    self.info.metadata['skipped_inputs'] = list(self._bad_input.skipped)
    if copies is not None:
      self.info.metadata['held_out_copies'] = list(copies.found)

  def _download_and_prepare(self, dl_manager, download_config=None):
    self.info.metadata['skipped_inputs'] = []
    self.info.metadata['held_out_copies'] = []
    super()._download_and_prepare(dl_manager, download_config)
    if self._copies is not None and self._copies.found:
      logging.warning(
          'Built %s without %d training image(s) that copy held-out ones; '
          "they are listed above and in the dataset's metadata "
          '(held_out_copies).', self.name, len(self._copies.found))
    skipped = self._bad_input.skipped
    if skipped:
      logging.warning(
          'Built %s without %d bad input file(s) (dataset.on_bad_input='
          "'skip'); they are listed above and in the dataset's metadata "
          '(skipped_inputs).', self.name, len(skipped))


def read_text(source: Source, name: str) -> str:
  """A text file of a source, as UTF-8."""
  return source.read(name).decode('utf-8')


def read_json_bytes(data: bytes, where: str):
  """Parses JSON, naming `where` if it is not valid."""
  try:
    return json.loads(data)
  except (ValueError, UnicodeDecodeError) as e:
    raise BadInputError(f'{where}: not valid JSON ({e}).') from None
