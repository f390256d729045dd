"""Reading users' image files of any size and colour mode as RGB."""

from __future__ import annotations

import io
import pathlib

import numpy as np
from PIL import Image
from PIL import ImageOps
from PIL import UnidentifiedImageError

from inpainting import errors


class ImageReadError(errors.UserError, ValueError):
  """An image file could not be read; the message names the file."""


def to_rgb(image: Image.Image) -> np.ndarray:
  """Converts any PIL mode to uint8 RGB [H, W, 3].

  16-bit and 32-bit integer greyscale are scaled to 8 bits (PIL's own
  conversion clips them); alpha is composited over white; CMYK, palette,
  greyscale and the rest go through PIL's conversions.
  """
  mode = image.mode
  if mode in ('I;16', 'I;16B', 'I;16L', 'I'):
    array = np.asarray(image, dtype=np.float64)
    peak = 65535.0 if mode.startswith('I;16') or array.max() > 255 else 255.0
    grey = np.round(np.clip(array / peak, 0, 1) * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)
  if mode == 'F':
    grey = np.round(np.clip(np.asarray(image), 0, 1) * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)
  if mode in ('RGBA', 'LA', 'PA') or (mode == 'P' and
                                      'transparency' in image.info):
    rgba = image.convert('RGBA')
    background = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(background, rgba).convert('RGB'))
  return np.asarray(image.convert('RGB'))


def decode_rgb(data: bytes, name: str) -> np.ndarray:
  """Decodes an image file's bytes fully as uint8 RGB [H, W, 3].

  The EXIF orientation, if any, is applied, so photographs come out upright.

  Args:
    data: the file's contents (JPEG, PNG, WebP, or anything PIL reads).
    name: the file's path or name, for error messages.

  Raises:
    ImageReadError: naming the file, if it is empty, truncated, not an image
      or otherwise unreadable.
  """
  if not data:
    raise ImageReadError(f'{name}: empty file (0 bytes).')
  try:
    with Image.open(io.BytesIO(data)) as image:
      image.load()  # decode now, so truncation shows here
      return to_rgb(ImageOps.exif_transpose(image))
  except UnidentifiedImageError:
    raise ImageReadError(f'{name}: not a readable image.') from None
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError
          ) as e:
    raise ImageReadError(f'{name}: unreadable or truncated image ({e}).'
                         ) from None


def load_rgb(path: str | pathlib.Path) -> np.ndarray:
  """Reads an image file fully as uint8 RGB [H, W, 3] (see `decode_rgb`).

  Raises:
    ImageReadError: naming the file, if it is missing, empty, truncated, not
      an image or otherwise unreadable.
  """
  path = pathlib.Path(path)
  try:
    data = path.read_bytes()
  except FileNotFoundError:
    raise ImageReadError(f'{path}: no such file.') from None
  except OSError as e:
    raise ImageReadError(f'{path}: cannot be read ({e}).') from None
  return decode_rgb(data, str(path))


def centre_square(height: int, width: int) -> tuple[int, int, int]:
  """(top, left, side) of the largest centred square."""
  side = min(height, width)
  return (height - side) // 2, (width - side) // 2, side


def centre_crop_resize(rgb: np.ndarray, size: int) -> np.ndarray:
  """The centred square of an image, resized with antialiasing to size^2."""
  top, left, side = centre_square(*rgb.shape[:2])
  crop = Image.fromarray(rgb[top:top + side, left:left + side])
  if side != size:
    crop = crop.resize((size, size), Image.Resampling.LANCZOS)
  return np.asarray(crop)
