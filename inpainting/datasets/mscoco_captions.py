"""`mscoco_captions`: MSCOCO images with all their captions, at 64x64.

(Not `coco_captions`: TFDS ships a builder of that name, for the full-size
images, and two builders may not share a name.)

Configs `2014` (the seed's data; the default) and `2017`, with the standard
splits: `train` (train2014 / train2017) and `validation` (val2014 /
val2017). Each image is centre-cropped to a square and resized to 64x64
with antialiasing; every caption of the image is kept (five, a few have
more).

Sources, from the official URLs where the machine is connected, else from
the manual dir (`dataset.manual_dir`), each as the zip or as the folder it
extracts to:

    train2014.zip  (train2014/*.jpg)      val2014.zip  (val2014/*.jpg)
    annotations_trainval2014.zip  (annotations/captions_{train,val}2014.json)

and the same with 2017.
"""

from __future__ import annotations

import collections
import dataclasses
import posixpath

import numpy as np
import tensorflow_datasets as tfds

from inpainting.datasets import common

IMAGES_URL = 'http://images.cocodataset.org/zips/{split}{year}.zip'
ANNOTATIONS_URL = ('http://images.cocodataset.org/annotations/'
                   'annotations_trainval{year}.zip')
SPLITS = {'train': 'train', 'validation': 'val'}


@dataclasses.dataclass
class MscocoCaptionsConfig(tfds.core.BuilderConfig):
  year: str = '2014'


def items_from_captions_json(data: dict, where: str, image_dir: str,
                             log: common.BadInputLog) -> list[common.Item]:
  """Items (image path + all captions) from a COCO captions JSON.

  Args:
    data: the parsed JSON: {'images': [{'id', 'file_name'}...],
      'annotations': [{'image_id', 'caption'}...]}.
    where: the JSON's location, for messages.
    image_dir: the folder, within the image source, of `file_name`s.
    log: where annotations of unknown images go.

  Returns:
    One item per listed image, in id order.
  """
  try:
    listed = {int(im['id']): str(im['file_name']) for im in data['images']}
    annotations = [(int(a['image_id']), str(a['caption']))
                   for a in data['annotations']]
  except (KeyError, TypeError, ValueError) as e:
    raise common.BadInputError(
        f'{where}: not a COCO captions file (images[].id/file_name and '
        f'annotations[].image_id/caption expected; {type(e).__name__}: {e}).'
    ) from None
  captions = collections.defaultdict(list)
  for image_id, caption in annotations:
    if image_id not in listed:
      log.report(f'{where}: a caption names the image id {image_id}, which '
                 'is not in its images list.')
      continue
    captions[image_id].append(caption.strip())
  return [common.Item(key=posixpath.join(image_dir, name),
                      path=posixpath.join(image_dir, name),
                      captions=tuple(captions[image_id]),
                      extra={'image_id': image_id})
          for image_id, name in sorted(listed.items())]


class MscocoCaptions(common.CaptionedImageBuilder):
  """MSCOCO 2014 / 2017 captions at 64x64."""

  VERSION = common.VERSION
  RELEASE_NOTES = common.RELEASE_NOTES
  BUILDER_CONFIGS = [
      MscocoCaptionsConfig(name='2014', year='2014',
                         description='train2014 / val2014 (the seed).'),
      MscocoCaptionsConfig(name='2017', year='2017',
                         description='train2017 / val2017.'),
  ]
  DEFAULT_CONFIG_NAME = '2014'
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Put train{Y}.zip, val{Y}.zip and annotations_trainval{Y}.zip (from '
      'https://cocodataset.org/#download), or the folders they extract to '
      '(train{Y}/, val{Y}/, annotations/), in the manual dir '
      '(dataset.manual_dir); Y is 2014 or 2017.')

  def _extra_features(self):
    return {'image_id': tfds.features.Scalar(dtype=np.int64)}

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    year = self.builder_config.year
    annotations = common.open_source(common.fetch(
        dl_manager, (f'annotations_trainval{year}.zip', 'annotations'),
        ANNOTATIONS_URL.format(year=year)))
    prefix = ('' if isinstance(annotations, common.DirSource)
              else 'annotations/')
    items, sources = {}, {}
    for split, coco_split in SPLITS.items():
      name = f'{prefix}captions_{coco_split}{year}.json'
      try:
        data = annotations.read(name)
      except FileNotFoundError:
        raise common.BadInputError(
            f'{annotations.describe(name)}: missing; is this the COCO '
            f'annotations_trainval{year} archive?') from None
      folder = f'{coco_split}{year}'
      source = common.open_source(common.fetch(
          dl_manager, (f'{folder}.zip', folder),
          IMAGES_URL.format(split=coco_split, year=year)))
      image_dir = '' if isinstance(source, common.DirSource) else folder
      sources[split] = source
      items[split] = items_from_captions_json(
          common.read_json_bytes(data, annotations.describe(name)),
          annotations.describe(name), image_dir, self._bad_input)
    embeddings = common.embed_captions(items.values())
    return self._split_examples(
        {split: (sources[split], items[split]) for split in SPLITS},
        embeddings)
