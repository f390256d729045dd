"""Image grids a person can judge: enlarged, with captions and titles.

A 64-pixel image is too small to see a seam, a blur or a checkerboard by
eye, so grids are enlarged by nearest-neighbour repetition (every pixel a
`scale` x `scale` block, nothing smoothed), each row can carry its caption
on the right and each column a title above.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

SCALE = 4  # the enlargement of sample grids and reports
GUTTER = 2  # white pixels around each enlarged image
_FONT_SIZE = 14
_LINE_HEIGHT = 17
_CAPTION_WIDTH = 240  # pixels of caption text beside each row
_WHITE = 255


def _to_uint8(image: np.ndarray) -> np.ndarray:
  """[0, 1] floats -> uint8."""
  return np.round(np.clip(np.asarray(image, np.float32), 0, 1) *
                  255).astype(np.uint8)


def _enlarge(image: np.ndarray, scale: int) -> np.ndarray:
  return image.repeat(scale, axis=0).repeat(scale, axis=1)


def _text_panel(lines: Sequence[str], width: int, height: int) -> np.ndarray:
  """White [height, width, 3] uint8 with the lines written from the top."""
  panel = Image.new('RGB', (width, height), (_WHITE,) * 3)
  draw = ImageDraw.Draw(panel)
  font = ImageFont.load_default(size=_FONT_SIZE)
  for i, line in enumerate(lines):
    if (i + 1) * _LINE_HEIGHT > height:
      break
    draw.text((4, 2 + i * _LINE_HEIGHT), line, fill=(0, 0, 0), font=font)
  return np.asarray(panel)


def _wrap(text: str, width: int) -> list[str]:
  """Lines of at most about `width` pixels of the default font."""
  return textwrap.wrap(text, max(8, width // 7)) or ['']


def image_grid(columns: Sequence[np.ndarray], *, scale: int = SCALE,
               captions: Sequence[str] | None = None,
               titles: Sequence[str] | None = None) -> np.ndarray:
  """Lays out images as rows of examples and columns of methods.

  Args:
    columns: each [N, H, W, 3] in [0, 1], one per column.
    scale: each image enlarged this many times (nearest neighbour).
    captions: N texts, written to the right of their rows.
    titles: one per column, written above it.

  Returns:
    uint8 [rows, cols, 3]: each image enlarged and framed by a white gutter
    of GUTTER pixels.
  """
  rows = []
  for parts in zip(*columns):
    rows.append(np.concatenate([
        np.pad(_enlarge(_to_uint8(p), scale),
               ((GUTTER, GUTTER), (GUTTER, GUTTER), (0, 0)),
               constant_values=_WHITE) for p in parts], axis=1))
  if captions is not None:
    if len(captions) != len(rows):
      raise ValueError(f'{len(captions)} captions for {len(rows)} rows.')
    rows = [np.concatenate([row, _text_panel(
        _wrap(caption, _CAPTION_WIDTH), _CAPTION_WIDTH, row.shape[0])], axis=1)
            for row, caption in zip(rows, captions)]
  grid = np.concatenate(rows, axis=0)
  if titles is not None:
    if len(titles) != len(columns):
      raise ValueError(f'{len(titles)} titles for {len(columns)} columns.')
    cell = columns[0].shape[2] * scale + 2 * GUTTER
    lines = max(len(_wrap(t, cell)) for t in titles)
    header = np.concatenate(
        [_text_panel(_wrap(t, cell), cell, lines * _LINE_HEIGHT + 4)
         for t in titles], axis=1)
    header = np.pad(header, ((0, 0), (0, grid.shape[1] - header.shape[1]),
                             (0, 0)), constant_values=_WHITE)
    grid = np.concatenate([header, grid], axis=0)
  return grid


def sample_grid(image: np.ndarray, mask: np.ndarray,
                filled: np.ndarray | dict[str, np.ndarray],
                captions: Sequence[str] | None = None, *,
                scale: int = SCALE) -> np.ndarray:
  """Rows of (masked input | inpainted | target), enlarged, as one image.

  Args:
    image: [N, H, W, 3] targets in [-1, 1].
    mask: [N, H, W, 1], 1 in the hole.
    filled: [N, H, W, 3] inpainted images in [-1, 1]; or {title: such
      images}, one column each in order (a sampler's draws).
    captions: N captions, written beside their rows.
    scale: the enlargement.

  Returns:
    uint8, as `image_grid`; the masked input shows the hole in mid-grey.
  """
  if not isinstance(filled, dict):
    filled = {'inpainted': filled}
  image, mask = (np.asarray(x, np.float32) for x in (image, mask))
  masked = image * (1.0 - mask)
  columns = [masked, *(np.asarray(x, np.float32) for x in filled.values()),
             image]
  return image_grid([(x + 1.0) / 2.0 for x in columns],
                    scale=scale, captions=captions,
                    titles=('masked', *filled, 'target'))


def decode(texts: Sequence[bytes | str]) -> list[str]:
  """Captions as str, whether they come as bytes (tf.data) or str."""
  return [t.decode() if isinstance(t, bytes) else str(t) for t in texts]
