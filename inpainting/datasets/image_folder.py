"""`image_folder`: any folder tree of images, with optional captions.

The folder is `dataset.manual_dir`: a folder, or a zip archive of one, read
in place (never extracted; a zip whose entries all sit under one top folder
is that folder). Images are the files with an image extension (JPEG, PNG, WebP, BMP, GIF, TIFF; any size; RGB, greyscale,
palette, RGBA, CMYK, 16-bit), anywhere under it; each becomes a 64x64 RGB
example (centred square, antialiased resize).

Splits: `train/`, `validation/` (or `val/`) and `test/` subfolders, where
they exist, are the splits; otherwise every image is in `train` except a
fixed 5% chosen by a hash of its path (stable as images are added), which
is `validation`. The same goes for a `train/` without a validation folder.
A `validation/` (or `val/`, `test/`) folder without `train/` is refused:
re-splitting it would train on held-out images.

Captions, in this order of precedence for each image:
1. a COCO-style captions JSON (`dataset.captions_file`, or `captions.json` at
   the folder's root, in a zip too): {"images": [{"id", "file_name"}], "annotations":
   [{"image_id", "caption"}]}, `file_name` relative to the root (or to the
   split folder, or a bare file name where that is unique); every caption
   of an image is kept;
2. a text file beside the image with the same name and `.txt`
   (`cat.jpg` -> `cat.txt`), one caption a line;
3. none: the image gets the empty caption ''.

The built dataset is named after the folder and a fingerprint of its
listing (paths, sizes, modification times; a zip's own size and time) and of
the captions file, so a changed folder is built afresh, never read stale.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import os
import pathlib
import re
import zipfile

import tensorflow_datasets as tfds

from inpainting.datasets import mscoco_captions
from inpainting.datasets import common

VALIDATION_PERCENT = 5
_SPLIT_DIRS = {'train': ('train',), 'validation': ('validation', 'val'),
               'test': ('test',)}


@dataclasses.dataclass
class ImageFolderConfig(tfds.core.BuilderConfig):
  root: str = ''
  captions_file: str | None = None


def _is_image(name: str) -> bool:
  return pathlib.PurePosixPath(name).suffix.lower() in common.IMAGE_EXTENSIONS


def _image_paths(root: pathlib.Path) -> list[pathlib.Path]:
  return sorted(p for p in root.rglob('*') if _is_image(p.name) and p.is_file())


def builder_config(root: str | os.PathLike,
                   captions_file: str | os.PathLike | None = None
                   ) -> ImageFolderConfig:
  """The config for a folder or zip, named after it and a fingerprint of it.

  Raises:
    FileNotFoundError: if the folder or zip, or the captions file, does not
      exist.
  """
  root = pathlib.Path(root).expanduser().resolve()
  if not (root.is_dir() or (root.is_file() and zipfile.is_zipfile(root))):
    raise FileNotFoundError(f'dataset.manual_dir={str(root)!r}: not a folder '
                            'of images, nor a zip archive of one.')
  if captions_file is not None:
    captions_file = pathlib.Path(captions_file).expanduser().resolve()
    if not captions_file.is_file():
      raise FileNotFoundError(f'dataset.captions_file={str(captions_file)!r}:'
                              ' no such file.')
  elif root.is_dir() and (root / 'captions.json').is_file():
    captions_file = root / 'captions.json'
  digest = hashlib.sha256(str(root).encode())
  # A zip is one file: its size and time stand for its contents.
  listed = ([*_image_paths(root), *root.rglob('*.txt')] if root.is_dir()
            else [root])
  if captions_file is not None:
    listed.append(captions_file)
  for path in sorted(listed):
    stat = path.stat()
    digest.update(f'{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n'.encode())
  name = root.name if root.is_dir() else root.stem
  slug = re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_') or 'root'
  return ImageFolderConfig(
      name=f'{slug}_{digest.hexdigest()[:12]}', root=str(root),
      captions_file=None if captions_file is None else str(captions_file),
      description=f'The images under {root}.')


def _top_folder(names: list[str]) -> str:
  """'top/' if every name of a zip lies under one folder 'top', else ''."""
  tops = {name.split('/', 1)[0] if '/' in name else '' for name in names}
  return f'{tops.pop()}/' if len(tops) == 1 and '' not in tops else ''


def _hash_percent(relative: str) -> int:
  return int(hashlib.sha256(relative.encode()).hexdigest(), 16) % 100


def assign_splits(relatives: list[str]) -> dict[str, list[str]]:
  """Split name -> relative image paths (see the module docstring).

  Raises:
    common.DatasetError: for held-out split folders without `train/`.
  """
  top = collections.defaultdict(list)
  for rel in relatives:
    top[rel.split('/', 1)[0] if '/' in rel else ''].append(rel)
  splits = {}
  for split, names in _SPLIT_DIRS.items():
    found = [rel for name in names for rel in top.get(name, [])]
    if found:
      splits[split] = found
  if 'train' not in splits:
    if splits:
      folders = sorted({rel.split('/', 1)[0] for split in splits.values()
                        for rel in split})
      raise common.DatasetError(
          f'The folder has {", ".join(f + "/" for f in folders)} but no '
          'train/: its images would be re-split and held-out images '
          'trained on. Put the training images in train/, or use no split '
          'folders at all (then a fixed 5% is held out).')
    splits = {'train': list(relatives)}
  if 'validation' not in splits:
    train = splits['train']
    held = [r for r in train if _hash_percent(r) < VALIDATION_PERCENT]
    if not held and len(train) > 1:  # a tiny folder still gets one
      held = [min(train, key=lambda r: hashlib.sha256(r.encode()).digest())]
    splits['train'] = [r for r in train if r not in set(held)]
    splits['validation'] = held
  return {k: v for k, v in splits.items() if v}


class ImageFolder(common.CaptionedImageBuilder):
  """A folder of images (`dataset.manual_dir`), optionally captioned."""

  VERSION = common.VERSION
  RELEASE_NOTES = common.RELEASE_NOTES
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Point dataset.manual_dir at the folder of images.')

  def _extra_features(self):
    return {'file_name': tfds.features.Text()}  # relative to the root

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # the config names the folder
    config = self.builder_config
    if not isinstance(config, ImageFolderConfig) or not config.root:
      raise ValueError('image_folder needs a folder: set '
                       '--config.dataset.manual_dir=/path/to/images.')
    root = pathlib.Path(config.root)
    source = common.open_source(root)
    names = source.names()
    # A zip whose entries all sit under one folder is that folder.
    top = '' if isinstance(source, common.DirSource) else _top_folder(names)
    present = {name[len(top):] for name in names}
    relatives = sorted(rel for rel in present if _is_image(rel))
    if not relatives:
      raise common.BadInputError(
          f'{root}: no images (files ending in '
          f'{", ".join(common.IMAGE_EXTENSIONS)}) in it.')
    if config.captions_file:
      path = pathlib.Path(config.captions_file)
      from_json = self._json_captions(relatives, path.read_bytes(), str(path))
    elif 'captions.json' in present:  # inside a zip
      from_json = self._json_captions(
          relatives, source.read(top + 'captions.json'),
          source.describe(top + 'captions.json'))
    else:
      from_json = {}
    try:
      splits = assign_splits(relatives)
    except common.DatasetError as e:
      raise common.DatasetError(f'{root}: {e}') from None
    items = {}
    for split, split_names in splits.items():
      items[split] = []
      for rel in split_names:
        captions = (from_json.get(rel) or
                    self._txt_captions(source, top, rel, present))
        items[split].append(common.Item(key=rel, path=top + rel,
                                        captions=captions,
                                        extra={'file_name': rel}))
    embeddings = common.embed_captions(items.values())
    return self._split_examples(
        {split: (source, split_items) for split, split_items in items.items()},
        embeddings)

  def _txt_captions(self, source: common.Source, top: str, rel: str,
                    present: set[str]) -> tuple[str, ...]:
    """The lines of the .txt beside an image, if there is one."""
    txt = str(pathlib.PurePosixPath(rel).with_suffix('.txt'))
    if txt not in present:
      return ()
    try:
      text = common.read_text(source, top + txt)
    except (OSError, UnicodeDecodeError, common.BadInputError) as e:
      self._bad_input.report(f'{source.describe(top + txt)}: caption file '
                             f'cannot be read as UTF-8 text ({e}).')
      return ()
    return tuple(line.strip() for line in text.splitlines() if line.strip())

  def _json_captions(self, relatives: list[str], data: bytes,
                     path: str) -> dict[str, tuple[str, ...]]:
    """Relative image path -> captions, from the COCO-style JSON's bytes."""
    data = common.read_json_bytes(data, path)
    items = mscoco_captions.items_from_captions_json(data, path, '',
                                                   self._bad_input)
    known = set(relatives)
    by_basename = collections.defaultdict(list)
    by_split_relative = {}
    for rel in relatives:
      by_basename[rel.rsplit('/', 1)[-1]].append(rel)
      if '/' in rel:
        by_split_relative.setdefault(rel.split('/', 1)[1], rel)
    captions = {}
    for item in items:
      name = item.path
      rel = (name if name in known else by_split_relative.get(name) or
             (by_basename[name][0] if len(by_basename.get(name, ())) == 1
              else None))
      if rel is None:
        self._bad_input.report(
            f'{path}: names the image {name!r} (id {item.extra["image_id"]}),'
            f' which is not under {self.builder_config.root}.')
        continue
      captions[rel] = tuple(c for c in item.captions if c)
    return captions
