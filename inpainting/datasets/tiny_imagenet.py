"""`tiny_imagenet`: Tiny ImageNet (64x64 photographs, 200 classes), captioned.

Source: the official `tiny-imagenet-200.zip` (CS231n, Stanford), read in
place from the manual dir (`dataset.manual_dir`; the zip or the folder it
extracts to), else downloaded from its official URL. Its layout:

    tiny-imagenet-200/wnids.txt                      the classes, one a line
    tiny-imagenet-200/words.txt                      "<wnid>\\t<names, comma-separated>"
    tiny-imagenet-200/train/<wnid>/images/*.JPEG     training images
    tiny-imagenet-200/val/images/*.JPEG              validation images
    tiny-imagenet-200/val/val_annotations.txt        "<file>\\t<wnid>\\t<box>"

The test split has no labels and so no captions; it is not built. Tiny
ImageNet has no captions: each image gets several, made from its class's
names in different templates ("a photo of a goldfish", "a close-up picture
of a Carassius auratus", ...), so the caption says what the object is and
the model has to draw it.
"""

from __future__ import annotations

import collections
import re

import tensorflow_datasets as tfds

from inpainting.datasets import common

URL = 'http://cs231n.stanford.edu/tiny-imagenet-200.zip'
ROOT = 'tiny-imagenet-200'
TEMPLATES = (
    'a photo of {a} {name}',
    'a close-up picture of {a} {name}',
    'an image showing {a} {name}',
    'a cropped photograph of {a} {name}',
    '{a} {name} in the picture',
)


def class_names(words: str) -> list[str]:
  """A `words.txt` entry's names: 'goldfish, Carassius auratus' -> [...]."""
  return [n.strip() for n in words.split(',') if n.strip()]


def _article(name: str) -> str:
  return 'an' if name[:1].lower() in 'aeiou' else 'a'


def captions_for_class(names: list[str]) -> tuple[str, ...]:
  """One caption per template, cycling through the class's names."""
  return tuple(t.format(a=_article(n), name=n) for t, n in
               zip(TEMPLATES, (names[i % len(names)]
                               for i in range(len(TEMPLATES)))))


def _parse_lines(text: str, where: str, fields: int) -> list[list[str]]:
  rows = []
  for number, line in enumerate(text.splitlines(), 1):
    if not line.strip():
      continue
    parts = line.rstrip('\r').split('\t')
    if len(parts) < fields:
      raise common.BadInputError(
          f'{where}, line {number}: expected {fields} tab-separated fields, '
          f'got {line!r}.')
    rows.append(parts)
  return rows


class TinyImagenet(common.CaptionedImageBuilder):
  """Tiny ImageNet with captions made from the class names."""

  VERSION = common.VERSION
  RELEASE_NOTES = common.RELEASE_NOTES
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f'Put tiny-imagenet-200.zip (from {URL}) or the folder it extracts '
      'to, tiny-imagenet-200/, in the manual dir (dataset.manual_dir).')

  def _extra_features(self):
    return {'label': tfds.features.Text(),  # the WordNet id
            'file_name': tfds.features.Text()}

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    path = common.fetch(dl_manager, (f'{ROOT}.zip', ROOT), URL)
    source = common.open_source(path)
    # A downloaded or manual zip holds tiny-imagenet-200/; a manual folder
    # named tiny-imagenet-200 is that folder itself.
    prefix = '' if isinstance(source, common.DirSource) else f'{ROOT}/'
    names = set(source.names())

    def text(name):
      if f'{prefix}{name}' not in names:
        raise common.BadInputError(
            f'{source.describe(prefix + name)}: missing; is this the '
            'tiny-imagenet-200 archive?')
      return common.read_text(source, prefix + name)

    wnids = [w.strip() for w in text('wnids.txt').splitlines() if w.strip()]
    words = {row[0]: row[1] for row in _parse_lines(
        text('words.txt'), source.describe(prefix + 'words.txt'), 2)}
    captions = {}
    for wnid in wnids:
      if wnid not in words or not class_names(words[wnid]):
        raise common.BadInputError(
            f'{source.describe(prefix + "words.txt")}: no names for the '
            f'class {wnid} listed in wnids.txt.')
      captions[wnid] = captions_for_class(class_names(words[wnid]))

    train = []
    pattern = re.compile(rf'^{re.escape(prefix)}train/([^/]+)/images/([^/]+)$')
    per_class = collections.Counter()
    for name in sorted(names):
      match = pattern.match(name)
      if not match:
        continue
      wnid, file_name = match.groups()
      if wnid not in captions:
        raise common.BadInputError(
            f'{source.describe(name)}: its class {wnid} is not in wnids.txt.')
      per_class[wnid] += 1
      train.append(common.Item(key=name, path=name,
                               captions=captions[wnid],
                               extra={'label': wnid,
                                      'file_name': file_name}))
    if not train:
      raise common.BadInputError(
          f'{source.describe(prefix + "train")}: no training images.')

    validation = []
    annotations = source.describe(prefix + 'val/val_annotations.txt')
    for file_name, wnid, *_ in _parse_lines(
        text('val/val_annotations.txt'), annotations, 2):
      if wnid not in captions:
        raise common.BadInputError(
            f'{annotations}: {file_name} has the class {wnid}, which is not '
            'in wnids.txt.')
      name = f'{prefix}val/images/{file_name}'
      validation.append(common.Item(key=name, path=name,
                                    captions=captions[wnid],
                                    extra={'label': wnid,
                                           'file_name': file_name}))

    embeddings = common.embed_captions((train, validation))
    return self._split_examples({'train': (source, train),
                                 'validation': (source, validation)},
                                embeddings)
