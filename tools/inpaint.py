"""Fill holes in your own images: shipped weights, a run or an exported file.

  python tools/inpaint.py --output_dir=out photo1.jpg photo2.png \
      [--config=configs/caption_gan.py --workdir=runs/caption_gan |
       --weights=generator.safetensors] \
      [--caption="a red circle"] [--captions=captions.json] [--paste_back] \
      [--mask=hole.png | --box=top,left,height,width] [--samples=K --seed=S]

With no model named, the weights shipped in the package
(inpainting/weights/reference.safetensors, configs/experiments/reference.py)
fill.

Each image (any size, any colour mode) is centre-cropped to a square and
resized to the model's 64x64; the hole is filled by the generator and
written as `<output_dir>/<name>_inpainted.png` (files of the same name get
`-2`, `-3`, ... in argument order: a/good.jpg, b/good.png -> good, good-2).
No existing file is replaced: a name that is taken (an earlier result, or
any file of yours) becomes the next free `-N` one, unless --overwrite (which
never replaces an input image). The hole is the config's centre square, or
--mask: an image file of any size whose white (bright) pixels are missing,
centre-cropped and resized like the images (a 64x64 pixel is missing if any
part of it is; a mask the size of the photo lines up with it), or --box: a
rectangle in the 64x64 model input (`16,16,32,32` is the centre square).
With --paste_back, the filled image is also resized back and its missing
pixels pasted into the original at full size (`<name>_full.png`). Instead of
--config and --workdir, --weights=NAME.safetensors fills with an exported
generator (tools/export.py). Captions: --captions names a JSON file {"file
name": "caption", ...}; --caption applies to the others; the rest get the
empty caption.
"""

from __future__ import annotations

import json
import pathlib

from absl import flags
from absl import logging
import numpy as np
from PIL import Image

from inpainting import errors
from inpainting import images
from inpainting import inference
from inpainting import masks
from inpainting import methods
from inpainting import model_flags
from inpainting import text_encoder

FLAGS = flags.FLAGS
model_flags.define()
flags.DEFINE_string('output_dir', None, 'Where the PNGs go.')
flags.DEFINE_string('caption', '', 'Caption for images without their own.')
flags.DEFINE_string('captions', None, 'JSON file {file name: caption}.')
flags.DEFINE_bool('paste_back', False, 'Also write the original-size image '
                  'with the filled hole pasted back.')
flags.DEFINE_string('mask', None, 'An image file whose white pixels are the '
                    'hole (any size; cropped and resized like the images).')
flags.DEFINE_list('box', None, 'The hole as top,left,height,width in the '
                  '64x64 model input.')
flags.DEFINE_bool('overwrite', False, 'Replace existing output files (never '
                  'an input image). Without it, an existing name gets the '
                  'next free one: x_inpainted-2.png, ...')
flags.DEFINE_integer('samples', 0, 'A sampler (config.method=diffusion) '
                     'also writes this many draws of each hole, '
                     '<name>_sample<k>.png, beside its fill.')
flags.DEFINE_integer('seed', 0, 'The draws\' seed: the same seed draws the '
                     'same fills.')
flags.mark_flags_as_required(['output_dir'])


def paste_back(original: np.ndarray, filled: np.ndarray,
               mask: np.ndarray) -> np.ndarray:
  """Pastes the filled hole of a 64x64 result into the full-size original.

  The hole's box of the result is resized to its place in the original's
  centre square (Lanczos), and its missing pixels (the mask resized with
  it, nearest neighbour) replace the original's.
  """
  top, left, side = images.centre_square(*original.shape[:2])
  size = filled.shape[0]
  h0, h1, w0, w1 = masks.hole_box(mask)
  scale = side / size
  y0, y1 = top + round(h0 * scale), top + round(h1 * scale)
  x0, x1 = left + round(w0 * scale), left + round(w1 * scale)
  patch = Image.fromarray(filled[h0:h1, w0:w1]).resize(
      (x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
  missing = Image.fromarray(mask[h0:h1, w0:w1, 0] > 0).resize(
      (x1 - x0, y1 - y0), Image.Resampling.NEAREST)
  out = original.copy()
  region = out[y0:y1, x0:x1]
  region[np.asarray(missing)] = np.asarray(patch)[np.asarray(missing)]
  return out


def hole_from_flags(size: int, centre: int) -> np.ndarray:
  """The [size, size, 1] hole: --mask, --box, or the config's centre."""
  if FLAGS.mask and FLAGS.box:
    raise errors.UserError('Give --mask or --box, not both.')
  if FLAGS.box:
    try:
      top, left, height, width = (int(v) for v in FLAGS.box)
    except ValueError:
      raise errors.UserError(
          f'--box={",".join(FLAGS.box)}: expected four integers '
          'top,left,height,width') from None
    if not (height > 0 and width > 0 and top >= 0 and left >= 0 and
            top + height <= size and left + width <= size):
      raise errors.UserError(
          f'--box={",".join(FLAGS.box)}: must lie within the {size}x{size} '
          'model input, with a positive height and width')
    mask = np.zeros((size, size, 1), np.float32)
    mask[top:top + height, left:left + width] = 1.0
  elif FLAGS.mask:
    white = images.load_rgb(FLAGS.mask).mean(axis=-1) > 127
    top, left, side = images.centre_square(*white.shape)
    square = Image.fromarray(white[top:top + side, left:left + side])
    # The area each model pixel covers: missing if any of it is.
    covered = np.asarray(square.convert('L').resize(
        (size, size), Image.Resampling.BOX))
    mask = (covered > 0).astype(np.float32)[..., None]
    if not mask.any():
      raise errors.UserError(
          f'--mask={FLAGS.mask}: no white pixels: nothing to fill')
  else:
    return masks.centre_mask(size, centre)
  if mask.all():
    raise errors.UserError(
        f'--{"box" if FLAGS.box else "mask"}: the hole covers the whole '
        'image; the model needs some of it to see')
  return mask


def output_stems(paths: list[str]) -> list[str]:
  """Unique, predictable output names: each file's stem, in argument order.

  A stem already taken in this call gets '-2', '-3', ... (a/good.jpg and
  b/good.png -> good, good-2), so that no result overwrites another.
  """
  stems, taken = [], set()
  for path in paths:
    stem = base = pathlib.Path(path).stem
    n = 1
    while stem in taken:
      n += 1
      stem = f'{base}-{n}'
    taken.add(stem)
    stems.append(stem)
  return stems


def output_paths(output_dir: pathlib.Path, names: list[str],
                 inputs: list[str], overwrite: bool) -> list[pathlib.Path]:
  """Where each output goes, decided before anything is written.

  Without `overwrite`, a name whose file exists (an earlier run's result,
  or any file of the user's) becomes the next free `<stem>-N<suffix>`, so
  that no existing file is ever replaced. With it, existing outputs are
  replaced, but never one of this call's input images.

  Args:
    output_dir: the output folder.
    names: the wanted file names, distinct.
    inputs: this call's input image paths.
    overwrite: --overwrite.

  Raises:
    errors.UserError: with `overwrite`, when an output is an input.
  """
  inputs_resolved = {pathlib.Path(p).resolve() for p in inputs}
  paths, taken = [], set()
  for name in names:
    path = output_dir / name
    if overwrite:
      if path.resolve() in inputs_resolved:
        raise errors.UserError(
            f'{path} is one of the input images; --overwrite replaces '
            'earlier results, never an input. Choose another --output_dir.')
    else:
      stem, suffix, n = pathlib.Path(name).stem, pathlib.Path(name).suffix, 1
      while path.exists() or path in taken:
        n += 1
        path = output_dir / f'{stem}-{n}{suffix}'
    taken.add(path)
    paths.append(path)
  return paths


def _save(image: np.ndarray, path: pathlib.Path, overwrite: bool) -> None:
  """Writes a PNG; without `overwrite`, only as a new file (an existing one,
  appeared since the names were chosen, is an error, never replaced)."""
  try:
    with open(path, 'wb' if overwrite else 'xb') as f:
      Image.fromarray(image).save(f, format='PNG')
  except FileExistsError:
    raise errors.UserError(
        f'{path} appeared while this ran (another process writing into '
        '--output_dir?); it was left as it is. Rerun to pick a free name.'
    ) from None
  except OSError as e:
    raise errors.UserError(
        f'Could not write {path}: {e.strerror or e}. Is --output_dir '
        'read-only, or the disk full?') from None


def make_output_dir(output_dir: str) -> pathlib.Path:
  """Creates --output_dir (and its parents), or says why it cannot."""
  path = pathlib.Path(output_dir)
  try:
    path.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise errors.UserError(
        f'--output_dir={output_dir}: cannot create it ({e.strerror or e}'
        f'{": " + e.filename if e.filename else ""}). Choose a folder you '
        'can write to.') from None
  return path


def inpaint_files(config, state, paths, captions, default_caption,
                  output_dir: pathlib.Path, paste, mask, overwrite=False,
                  samples: int = 0, seed: int = 0):
  """Fills each file's hole (`mask`, [H, W, 1]); returns the written paths.

  Every input is read and every output name chosen before the first file
  is written. A sampler also writes `samples` draws of each (seed `seed`).
  """
  size = config.image_size
  originals = [images.load_rgb(p) for p in paths]
  texts = [captions.get(pathlib.Path(p).name, default_caption)
           for p in paths]
  names = []
  for stem in output_stems(paths):
    names += [f'{stem}_inpainted.png'] + ([f'{stem}_full.png'] if paste
                                          else [])
    names += [f'{stem}_sample{k + 1}.png' for k in range(samples)]
  outputs = iter(output_paths(output_dir, names, paths, overwrite))
  batch = {
      'image': np.stack([images.centre_crop_resize(o, size)
                         for o in originals]).astype(np.float32) / 127.5 - 1,
      'mask': np.repeat(mask[None], len(paths), axis=0),
      'embedding': (text_encoder.TextEncoder().embed(texts)
                    if config.model.use_captions else
                    np.zeros((len(paths), text_encoder.EMBEDDING_DIM),
                             np.float32)),
  }
  filled = masks.to_uint8(inference.fill(state, batch, config))
  draws = [masks.to_uint8(inference.draw(state, batch, config, seed, k))
           for k in range(samples)]
  written = []
  for i, (path, original, result, text) in enumerate(
      zip(paths, originals, filled, texts)):
    out = next(outputs)
    _save(result, out, overwrite)
    written.append(out)
    if paste:
      full = next(outputs)
      _save(paste_back(original, result, mask), full, overwrite)
      written.append(full)
    for drawn in draws:
      written.append(next(outputs))
      _save(drawn[i], written[-1], overwrite)
    logging.info('%s (caption %r) -> %s%s', path, text, out,
                 f' and {samples} draws' if samples else '')
  return written


def main(argv):
  paths = argv[1:]
  if not paths:
    raise errors.UserError('Name one or more image files after the flags.')
  captions = {}
  if FLAGS.captions:
    try:
      captions = json.loads(pathlib.Path(FLAGS.captions).read_text())
    except (OSError, json.JSONDecodeError) as e:
      raise errors.UserError(f'--captions={FLAGS.captions}: {e}') from None
    if not isinstance(captions, dict) or not all(
        isinstance(v, str) for v in captions.values()):
      raise errors.UserError(f'--captions={FLAGS.captions}: expected a JSON '
                             'object {"file name": "caption"}.')
  config, state, name = model_flags.named_model()
  if FLAGS.samples < 0:
    raise errors.UserError(f'--samples={FLAGS.samples}: must be >= 0.')
  if FLAGS.samples and methods.get(config).sample is None:
    raise errors.UserError(
        f'--samples={FLAGS.samples}: {name} is a {config.method} model, '
        'which gives one fill; draws need a sampler (a run of '
        'configs/sampler.py).')
  mask = hole_from_flags(config.image_size, config.mask.size)
  output_dir = make_output_dir(FLAGS.output_dir)
  inpaint_files(config, state, paths, captions, FLAGS.caption, output_dir,
                FLAGS.paste_back, mask, FLAGS.overwrite, FLAGS.samples,
                FLAGS.seed)


if __name__ == '__main__':
  errors.run(main)
