"""The builders of real photographs, on fixtures written here (no network).

Each fixture has the layout of the official archive (or of a user's folder),
with images in awkward modes: greyscale and CMYK JPEGs, 16-bit, palette and
RGBA PNGs, a WebP, and bad files (truncated, empty, missing).
"""

import io
import json
import pathlib
import shutil
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from configs import tiny
from inpainting import images
from inpainting import input_pipeline
from inpainting import text_encoder
from inpainting.datasets import common
from inpainting.datasets import image_folder
from inpainting.datasets import tiny_imagenet

WNIDS = {'n01443537': 'goldfish, Carassius auratus',
         'n02123045': 'tabby, tabby cat'}


def _photo(seed: int, size=(64, 64)) -> np.ndarray:
  """A smooth random RGB image (compresses like a photo)."""
  rng = np.random.default_rng(seed)
  small = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
  return np.asarray(Image.fromarray(small).resize(size[::-1],
                                                  Image.Resampling.BICUBIC))


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format=fmt, **kwargs)
  return buffer.getvalue()


def _jpeg(array: np.ndarray, mode: str = 'RGB') -> bytes:
  image = Image.fromarray(array)
  if mode == 'L':
    image = image.convert('L')
  elif mode == 'CMYK':
    image = image.convert('CMYK')
  return _encode(image, 'JPEG', quality=95)


def _truncated(data: bytes) -> bytes:
  return data[:len(data) // 2]


def write_tiny_imagenet(path: pathlib.Path, *, bad_train_file: bool = False,
                        missing_val_file: bool = False) -> dict[str, bytes]:
  """A tiny-imagenet-200.zip: 2 classes x 3 train images, 4 val images."""
  files = {
      'tiny-imagenet-200/wnids.txt': '\n'.join(WNIDS) + '\n',
      'tiny-imagenet-200/words.txt': ''.join(
          f'{w}\t{n}\n' for w, n in {'n00001740': 'entity', **WNIDS}.items()),
  }
  for c, wnid in enumerate(WNIDS):
    for i in range(3):
      mode = ('L', 'CMYK', 'RGB')[i]
      files[f'tiny-imagenet-200/train/{wnid}/images/{wnid}_{i}.JPEG'] = _jpeg(
          _photo(10 * c + i), mode)
    files[f'tiny-imagenet-200/train/{wnid}/{wnid}_boxes.txt'] = ''
  if bad_train_file:
    files['tiny-imagenet-200/train/n01443537/images/n01443537_0.JPEG'] = (
        _truncated(files['tiny-imagenet-200/train/n01443537/images/'
                         'n01443537_0.JPEG']))
  annotations = []
  for k in range(4):
    wnid = list(WNIDS)[k % 2]
    annotations.append(f'val_{k}.JPEG\t{wnid}\t0\t0\t63\t63')
    if not (missing_val_file and k == 3):
      files[f'tiny-imagenet-200/val/images/val_{k}.JPEG'] = _jpeg(
          _photo(100 + k))
  files['tiny-imagenet-200/val/val_annotations.txt'] = (
      '\n'.join(annotations) + '\n')
  path.parent.mkdir(parents=True, exist_ok=True)
  with zipfile.ZipFile(path, 'w') as z:
    for name, data in files.items():
      z.writestr(name, data)
  return {k: v if isinstance(v, bytes) else v.encode()
          for k, v in files.items()}


def _build(name, data_dir, manual_dir, **kwargs):
  builder = tfds.builder(name, data_dir=str(data_dir), **kwargs)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual_dir)))
  return builder


def _examples(builder, split):
  return list(tfds.as_numpy(builder.as_dataset(split=split,
                                               shuffle_files=False)))


@pytest.fixture(scope='module')
def encoder():
  return text_encoder.TextEncoder()


def test_class_captions_use_every_template_and_the_names():
  captions = tiny_imagenet.captions_for_class(
      tiny_imagenet.class_names('goldfish, Carassius auratus'))
  assert captions[0] == 'a photo of a goldfish'
  assert captions[1] == 'a close-up picture of a Carassius auratus'
  assert len(set(captions)) == len(tiny_imagenet.TEMPLATES)
  assert tiny_imagenet.captions_for_class(['orange'])[0] == (
      'a photo of an orange')


def test_tiny_imagenet_builds_from_the_official_zip(tmp_path, encoder):
  files = write_tiny_imagenet(tmp_path / 'manual' / 'tiny-imagenet-200.zip')
  builder = _build('tiny_imagenet', tmp_path / 'data', tmp_path / 'manual')
  assert builder.info.splits['train'].num_examples == 6
  assert builder.info.splits['validation'].num_examples == 4
  train = {ex['file_name'].decode(): ex for ex in _examples(builder, 'train')}
  goldfish = train['n01443537_2.JPEG']
  assert goldfish['label'].decode() == 'n01443537'
  captions = [c.decode() for c in goldfish['captions']]
  assert captions[0] == 'a photo of a goldfish'
  np.testing.assert_allclose(goldfish['embeddings'], encoder.embed(captions),
                             atol=1e-5)
  source = images.decode_rgb(
      files['tiny-imagenet-200/train/n01443537/images/n01443537_2.JPEG'], 'x')
  np.testing.assert_array_equal(goldfish['image'], source)
  # Greyscale JPEGs become 3 equal channels; CMYK ones their RGB colours.
  grey = train['n01443537_0.JPEG']['image']
  assert grey.shape == (64, 64, 3)
  np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
  cmyk = train['n01443537_1.JPEG']['image'].astype(float)
  assert np.abs(cmyk - _photo(1)).mean() < 12  # the colours, not inverted
  val = {ex['file_name'].decode(): ex for ex in _examples(builder,
                                                          'validation')}
  assert val['val_1.JPEG']['label'].decode() == 'n02123045'
  assert val['val_1.JPEG']['captions'][0].decode() == 'a photo of a tabby'


def test_a_truncated_image_stops_the_build_naming_it(tmp_path):
  write_tiny_imagenet(tmp_path / 'manual' / 'tiny-imagenet-200.zip',
                      bad_train_file=True)
  with pytest.raises(common.BadInputError,
                     match=r'n01443537/images/n01443537_0\.JPEG: unreadable '
                     r'or truncated image[\s\S]*on_bad_input=skip'):
    _build('tiny_imagenet', tmp_path / 'data', tmp_path / 'manual')
  assert not tfds.builder('tiny_imagenet',
                          data_dir=str(tmp_path / 'data')).is_prepared()


def test_skipping_bad_input_counts_and_records_it(tmp_path):
  write_tiny_imagenet(tmp_path / 'manual' / 'tiny-imagenet-200.zip',
                      bad_train_file=True, missing_val_file=True)
  builder = _build('tiny_imagenet', tmp_path / 'data', tmp_path / 'manual',
                   on_bad_input='skip')
  assert builder.info.splits['train'].num_examples == 5
  assert builder.info.splits['validation'].num_examples == 3
  # Recorded with the dataset, so a reader learns it was built smaller.
  reloaded = tfds.builder('tiny_imagenet', data_dir=str(tmp_path / 'data'))
  skipped = reloaded.info.metadata['skipped_inputs']
  assert len(skipped) == 2
  assert any('n01443537_0.JPEG: unreadable or truncated' in s for s in skipped)
  assert any('val/images/val_3.JPEG: no such file' in s for s in skipped)


def test_a_missing_archive_says_where_to_put_it(tmp_path, monkeypatch):
  def offline(*args, **kwargs):
    raise ConnectionError('no network')
  monkeypatch.setattr(tfds.download.DownloadManager, 'download', offline)
  (tmp_path / 'manual').mkdir()
  with pytest.raises(common.SourceNotFoundError,
                     match=r'tiny-imagenet-200\.zip or tiny-imagenet-200 is '
                     r'not in the manual dir .* could not be downloaded from '
                     r'http://cs231n.stanford.edu/tiny-imagenet-200.zip'):
    _build('tiny_imagenet', tmp_path / 'data', tmp_path / 'manual')


def test_the_manual_dir_may_be_the_archive_itself(tmp_path):
  candidates = ('tiny-imagenet-200.zip', 'tiny-imagenet-200')
  archive = tmp_path / 'tiny-imagenet-200.zip'
  archive.write_bytes(b'PK')
  other = tmp_path / 'photos.zip'
  other.write_bytes(b'PK')

  def manager(manual_dir):
    return tfds.download.DownloadManager(download_dir=str(tmp_path / 'dl'),
                                         manual_dir=str(manual_dir),
                                         manual_dir_instructions='Get it.')

  assert common.find_in_manual_dir(manager(archive), candidates) == archive
  assert common.find_in_manual_dir(manager(tmp_path), candidates) == archive
  with pytest.raises(common.SourceNotFoundError,
                     match=r"dataset.manual_dir='.*photos\.zip' is a file, "
                     r'not tiny-imagenet-200\.zip or tiny-imagenet-200'):
    common.find_in_manual_dir(manager(other), candidates)


def _coco_json(images_and_captions, extra_annotations=()):
  images_list, annotations = [], []
  for image_id, (name, captions) in images_and_captions.items():
    images_list.append({'id': image_id, 'file_name': name, 'width': 1,
                        'height': 1})
    annotations += [{'id': len(annotations), 'image_id': image_id,
                     'caption': c} for c in captions]
  annotations += list(extra_annotations)
  return json.dumps({'images': images_list, 'annotations': annotations})


def _write_coco(manual: pathlib.Path, *, missing_image: bool = False):
  """MSCOCO 2014: image zips, annotations as the extracted folder."""
  wide = _photo(7, size=(48, 80))  # centre-cropped to 48x48, then resized
  train = {9: ('COCO_train2014_000000000009.jpg', [' A dog on a sofa. ',
                                                   'a brown dog resting']),
           25: ('COCO_train2014_000000000025.jpg', ['a giraffe'])}
  val = {42: ('COCO_val2014_000000000042.jpg', ['a bowl of soup'])}
  if missing_image:
    train[77] = ('COCO_train2014_000000000077.jpg', ['not in the zip'])
  manual.mkdir(parents=True)
  with zipfile.ZipFile(manual / 'train2014.zip', 'w') as z:
    z.writestr('train2014/', '')
    z.writestr(f'train2014/{train[9][0]}', _encode(Image.fromarray(wide),
                                                   'JPEG', quality=95))
    z.writestr(f'train2014/{train[25][0]}', _jpeg(_photo(8), 'L'))
  with zipfile.ZipFile(manual / 'val2014.zip', 'w') as z:
    z.writestr(f'val2014/{val[42][0]}', _jpeg(_photo(9)))
  (manual / 'annotations').mkdir()
  (manual / 'annotations' / 'captions_train2014.json').write_text(
      _coco_json(train))
  (manual / 'annotations' / 'captions_val2014.json').write_text(
      _coco_json(val))
  return wide


def test_coco_keeps_every_caption_and_centre_crops(tmp_path, encoder):
  wide = _write_coco(tmp_path / 'manual')
  builder = _build('mscoco_captions/2014', tmp_path / 'data',
                   tmp_path / 'manual')
  train = {int(ex['image_id']): ex for ex in _examples(builder, 'train')}
  assert sorted(train) == [9, 25]
  dog = train[9]
  assert [c.decode() for c in dog['captions']] == [
      'A dog on a sofa.', 'a brown dog resting']
  np.testing.assert_allclose(
      dog['embeddings'], encoder.embed(['A dog on a sofa.',
                                        'a brown dog resting']), atol=1e-5)
  decoded = images.decode_rgb(
      _encode(Image.fromarray(wide), 'JPEG', quality=95), 'x')
  np.testing.assert_array_equal(dog['image'],
                                images.centre_crop_resize(decoded, 64))
  assert [int(ex['image_id']) for ex in _examples(builder, 'validation')] == [
      42]


def test_mscoco_captions_naming_a_missing_image(tmp_path):
  _write_coco(tmp_path / 'manual', missing_image=True)
  with pytest.raises(common.BadInputError,
                     match=r'COCO_train2014_000000000077\.jpg: no such file'):
    _build('mscoco_captions/2014', tmp_path / 'data', tmp_path / 'manual')
  builder = _build('mscoco_captions/2014', tmp_path / 'data',
                   tmp_path / 'manual', on_bad_input='skip')
  assert builder.info.splits['train'].num_examples == 2


def _write_folder(root: pathlib.Path) -> None:
  """Images of many modes and formats, some captioned by .txt files."""
  (root / 'pets').mkdir(parents=True)
  Image.fromarray(_photo(1, size=(90, 120))).save(root / 'pets' / 'cat.jpg')
  (root / 'pets' / 'cat.txt').write_text('a cat\n\na cat on a mat\n')
  sixteen = np.full((64, 64), 65535 // 2, np.uint16)
  Image.fromarray(sixteen).save(root / 'grey16.png')
  rgba = np.zeros((64, 64, 4), np.uint8)
  rgba[..., 0] = 255
  rgba[:32, :, 3] = 255  # top half opaque red, bottom transparent
  Image.fromarray(rgba, 'RGBA').save(root / 'clear.webp', lossless=True)
  Image.fromarray(_photo(2)).convert('CMYK').save(root / 'print.jpg',
                                                  quality=95)
  palette = Image.new('P', (64, 64), 1)
  palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
  palette.save(root / 'pal.png')
  Image.fromarray(_photo(3)).save(root / 'plain.png')
  (root / 'notes.md').write_text('not an image, ignored')


def _folder_examples(builder):
  out = {}
  for split in builder.info.splits:
    for ex in _examples(builder, split):
      out[ex['file_name'].decode()] = ex
  return out


def test_image_folder_reads_every_mode_and_txt_captions(tmp_path):
  root = tmp_path / 'photos'
  _write_folder(root)
  config = image_folder.builder_config(root)
  builder = _build('image_folder', tmp_path / 'data', root, config=config)
  splits = builder.info.splits
  assert splits['train'].num_examples + splits['validation'].num_examples == 6
  assert splits['validation'].num_examples >= 1
  examples = _folder_examples(builder)
  assert sorted(examples) == ['clear.webp', 'grey16.png', 'pal.png',
                              'pets/cat.jpg', 'plain.png', 'print.jpg']
  assert [c.decode() for c in examples['pets/cat.jpg']['captions']] == [
      'a cat', 'a cat on a mat']
  assert [c.decode() for c in examples['plain.png']['captions']] == ['']
  assert examples['plain.png']['embeddings'].shape == (1, 384)
  np.testing.assert_array_equal(examples['plain.png']['image'], _photo(3))
  assert np.all(np.abs(examples['grey16.png']['image'].astype(int) - 127) <= 1)
  clear = examples['clear.webp']['image']
  np.testing.assert_array_equal(clear[0, 0], [255, 0, 0])
  np.testing.assert_array_equal(clear[63, 0], [255, 255, 255])  # over white
  np.testing.assert_array_equal(examples['pal.png']['image'][5, 5],
                                [10, 20, 30])
  assert np.abs(examples['print.jpg']['image'].astype(float) -
                _photo(2)).mean() < 12


def test_image_folder_coco_json_and_bad_files(tmp_path):
  root = tmp_path / 'photos'
  _write_folder(root)
  (root / 'empty.jpg').write_bytes(b'')
  (root / 'captions.json').write_text(_coco_json({
      1: ('plain.png', ['plain colours']),
      2: ('cat.jpg', ['a cat from the json']),  # bare name: pets/cat.jpg
      3: ('gone.jpg', ['an image nobody kept'])}))
  config = image_folder.builder_config(root)
  with pytest.raises(common.BadInputError) as error:
    _build('image_folder', tmp_path / 'data', root, config=config)
  assert "captions.json: names the image 'gone.jpg'" in str(error.value)
  builder = _build('image_folder', tmp_path / 'data', root, config=config,
                   on_bad_input='skip')
  examples = _folder_examples(builder)
  assert 'empty.jpg' not in examples and len(examples) == 6
  skipped = builder.info.metadata['skipped_inputs']
  assert len(skipped) == 2
  assert any('empty.jpg: empty file' in s for s in skipped)
  # The JSON takes precedence over the .txt beside the image.
  assert [c.decode() for c in examples['pets/cat.jpg']['captions']] == [
      'a cat from the json']
  assert [c.decode() for c in examples['plain.png']['captions']] == [
      'plain colours']


@pytest.mark.parametrize('top_folder', [True, False])
def test_image_folder_reads_a_zip_in_place(tmp_path, top_folder):
  root = tmp_path / 'photos'
  _write_folder(root)
  (root / 'train').mkdir()
  (root / 'validation').mkdir()
  for name, split in (('plain.png', 'train'), ('print.jpg', 'train'),
                      ('pal.png', 'validation')):
    (root / name).rename(root / split / name)
  (root / 'captions.json').write_text(_coco_json({
      1: ('plain.png', ['plain colours', 'flat paint'])}))
  for path in [*root.rglob('*.webp'), *root.rglob('*16.png'),
               *root.rglob('pets/*')]:
    path.unlink()
  archive = tmp_path / 'photos.zip'
  with zipfile.ZipFile(archive, 'w') as z:
    for path in sorted(root.rglob('*')):
      if path.is_file():
        relative = path.relative_to(tmp_path if top_folder else root)
        z.write(path, relative.as_posix())
  shutil.rmtree(root)  # read in place: nothing extracted

  config = image_folder.builder_config(archive)
  assert config.name.startswith('photos_')
  builder = _build('image_folder', tmp_path / 'data', archive, config=config)
  splits = builder.info.splits
  assert (splits['train'].num_examples,
          splits['validation'].num_examples) == (2, 1)
  examples = _folder_examples(builder)
  assert sorted(examples) == ['train/plain.png', 'train/print.jpg',
                              'validation/pal.png']
  assert [c.decode() for c in examples['train/plain.png']['captions']] == [
      'plain colours', 'flat paint']  # from the zip's captions.json
  np.testing.assert_array_equal(examples['train/plain.png']['image'],
                                _photo(3))
  np.testing.assert_array_equal(examples['validation/pal.png']['image'][5, 5],
                                [10, 20, 30])


def test_a_changed_folder_is_a_new_dataset(tmp_path):
  root = tmp_path / 'photos'
  _write_folder(root)
  before = image_folder.builder_config(root).name
  assert image_folder.builder_config(root).name == before
  Image.fromarray(_photo(4)).save(root / 'new.png')
  assert image_folder.builder_config(root).name != before
  assert before.startswith('photos_')


def test_folder_splits_follow_subfolders_or_a_stable_hash():
  assert image_folder.assign_splits(
      ['train/a.png', 'train/b.png', 'val/c.png', 'test/d.png']) == {
          'train': ['train/a.png', 'train/b.png'],
          'validation': ['val/c.png'], 'test': ['test/d.png']}
  names = [f'img_{i}.png' for i in range(400)]
  splits = image_folder.assign_splits(names)
  assert 8 <= len(splits['validation']) <= 40  # about 5%
  more = image_folder.assign_splits(names + ['img_new.png'])
  assert set(splits['validation']) <= set(more['validation'])


def test_config_argument_chooses_the_dataset():
  assert tiny.get_config('tiny_imagenet').dataset.name == 'tiny_imagenet'
  assert tiny.get_config('coco2017').dataset.name == 'mscoco_captions/2017'
  assert tiny.get_config().dataset.name == 'synthetic_shapes/tiny'
  with pytest.raises(ValueError, match="Unknown dataset 'imagenet'"):
    tiny.get_config('imagenet')


def test_training_stream_reads_a_built_photo_dataset(tmp_path):
  write_tiny_imagenet(tmp_path / 'manual' / 'tiny-imagenet-200.zip')
  config = tiny.get_config('tiny_imagenet')
  config.dataset.manual_dir = str(tmp_path / 'manual')
  config.dataset.data_dir = str(tmp_path / 'data')
  builder = input_pipeline.get_builder(config)
  batch = next(input_pipeline.device_batches(
      input_pipeline.create_train_dataset(config, builder)))
  assert batch['image'].shape == (2, 4, 64, 64, 3)
  assert batch['embedding'].shape == (2, 4, 384)
  np.testing.assert_allclose(np.linalg.norm(batch['embedding'], axis=-1), 1,
                             atol=1e-5)


def test_main_trains_on_tiny_imagenet_from_the_archive(tmp_path, run_main):
  write_tiny_imagenet(tmp_path / 'manual' / 'tiny-imagenet-200.zip')
  workdir = tmp_path / 'run'
  result = run_main('--config=configs/tiny.py:tiny_imagenet',
                    f'--workdir={workdir}',
                    f'--config.dataset.manual_dir={tmp_path / "manual"}',
                    f'--config.dataset.data_dir={tmp_path / "data"}',
                    '--config.num_train_steps=3', '--config.eval_every_steps=3',
                    '--config.num_sample_images=2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'step 3/3: generator_loss=' in result.stderr
  assert (workdir / 'checkpoints' / '3').is_dir()
  assert (tmp_path / 'data' / 'tiny_imagenet').is_dir()


def test_main_reports_bad_input_in_one_line(tmp_path, run_main):
  write_tiny_imagenet(tmp_path / 'manual' / 'tiny-imagenet-200.zip',
                      bad_train_file=True)
  result = run_main('--config=configs/tiny.py:tiny_imagenet',
                    f'--workdir={tmp_path / "run"}',
                    f'--config.dataset.manual_dir={tmp_path / "manual"}',
                    f'--config.dataset.data_dir={tmp_path / "data"}')
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr
  assert 'error: ' in result.stderr
  assert 'n01443537_0.JPEG: unreadable or truncated image' in result.stderr
