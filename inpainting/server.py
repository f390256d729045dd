"""A local web page and JSON API that fill a painted hole in a photograph.

`create_app(config, state)` serves, with FastAPI:

- `GET /`: the page (`inpainting/static/index.html`, no CDN): open or drop
  a photograph, paint the hole or drag a rectangle, type a caption, Fill;
- `GET /api/v1/model`: what fills (its name, size, whether it reads
  captions), as JSON;
- `POST /api/v1/inpaint`: IOPaint's shape. A JSON body `{"image": ...,
  "mask": ..., "caption": ...}`, image and mask base64-encoded image files
  (a `data:` URL prefix is accepted; mask white = missing, the image's
  size); the answer is the filled photograph as a PNG, at its full size
  (`inpainting.photo`: the hole's neighbourhood is filled at the model's
  64x64 and pasted back; every other pixel is the photograph's).

A bad request gets a 4xx status and `{"error": "one line"}`; the server
goes on serving. `tools/serve.py` runs it on 127.0.0.1.
"""

from __future__ import annotations

import base64
import binascii
import importlib.resources
import io
import threading
from typing import Any, Callable

import fastapi
from fastapi import responses
from fastapi import exceptions as fastapi_exceptions
import numpy as np
from PIL import Image
import pydantic

from inpainting import images
from inpainting import photo
from inpainting import text_encoder

# A request body larger than this is refused (413) before it is read.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
# Decoded images of more pixels than this are refused (413).
MAX_PIXELS = 40_000_000
MAX_CAPTION_CHARS = 300


class InpaintRequest(pydantic.BaseModel):
  """The body of `POST /api/v1/inpaint`."""
  model_config = pydantic.ConfigDict(extra='forbid')

  image: str = pydantic.Field(min_length=1, description='A base64-encoded '
                              'image file (PNG, JPEG, WebP, ...).')
  mask: str = pydantic.Field(min_length=1, description='A base64-encoded '
                             'image file of the same size: white = missing.')
  caption: str = pydantic.Field('', max_length=MAX_CAPTION_CHARS)


class BadRequest(Exception):
  """A request the server refuses, with its status and one-line reason."""

  def __init__(self, status: int, reason: str):
    super().__init__(reason)
    self.status = status
    self.reason = reason


def _decode(field: str, value: str) -> np.ndarray:
  """A base64 image file (optionally a data: URL) as uint8 RGB."""
  if value.startswith('data:'):
    value = value.partition(',')[2]
  try:
    data = base64.b64decode(value, validate=True)
  except (binascii.Error, ValueError):
    raise BadRequest(400, f'{field}: not valid base64') from None
  try:
    with Image.open(io.BytesIO(data)) as probe:
      width, height = probe.size
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
    raise BadRequest(400, f'{field}: not a readable image file') from None
  if width * height > MAX_PIXELS:
    raise BadRequest(413, f'{field}: {width}x{height} is more than '
                     f'{MAX_PIXELS:,} pixels')
  try:
    return images.decode_rgb(data, field)
  except images.ImageReadError as e:
    raise BadRequest(400, str(e)) from None


def _one_line(error: fastapi_exceptions.RequestValidationError) -> str:
  """pydantic's first complaint, as 'field: message'."""
  first = error.errors()[0]
  where = '.'.join(str(p) for p in first.get('loc', ()) if p != 'body')
  message = first.get('msg', 'invalid request')
  if first.get('type') == 'json_invalid':
    return 'the body is not valid JSON'
  if first.get('type') == 'string_too_long':
    return (f'{where}: longer than {MAX_CAPTION_CHARS} characters'
            if where == 'caption' else f'{where}: too long')
  return f'{where}: {message}' if where else message


def create_app(config, state, *, name: str = 'model',
               embed: Callable[[list[str]], np.ndarray] | None = None
               ) -> fastapi.FastAPI:
  """The web app filling with `state`, a generator of `config`.

  Args:
    config: the model's config (an exported file's, or a run's).
    state: its generator.
    name: how the page names the model.
    embed: captions -> [N, EMBEDDING_DIM] embeddings; the project's text
      encoder, loaded on first use, if None.
  """
  app = fastapi.FastAPI(title='inpainting', docs_url=None, redoc_url=None)
  lock = threading.Lock()  # one fill at a time; JAX runs it on every core
  encoder: dict[str, Any] = {}

  def embedding(caption: str) -> np.ndarray:
    if not config.model.use_captions:
      return np.zeros(text_encoder.EMBEDDING_DIM, np.float32)
    if embed is not None:
      return np.asarray(embed([caption]))[0]
    if 'encoder' not in encoder:
      encoder['encoder'] = text_encoder.TextEncoder()
    return encoder['encoder'].embed([caption])[0]

  # Browsers, curl and Python's clients declare a JSON body's length; a
  # body sent without one (chunked) is limited by MAX_PIXELS once decoded.
  @app.middleware('http')
  async def limit_size(request: fastapi.Request, call_next):
    length = request.headers.get('content-length')
    if length is not None and (not length.isdigit() or
                               int(length) > MAX_REQUEST_BYTES):
      return _error(413, 'the request is larger than '
                    f'{MAX_REQUEST_BYTES / 2**20:g} MiB')
    return await call_next(request)

  @app.exception_handler(fastapi_exceptions.RequestValidationError)
  async def invalid(_, error: fastapi_exceptions.RequestValidationError):
    return _error(422, _one_line(error))

  @app.exception_handler(BadRequest)
  async def refused(_, error: BadRequest):
    return _error(error.status, error.reason)

  @app.get('/', response_class=responses.HTMLResponse)
  def page() -> str:
    return (importlib.resources.files('inpainting') / 'static' /
            'index.html').read_text()

  @app.get('/api/v1/model')
  def model() -> dict[str, Any]:
    return {'name': name, 'image_size': config.image_size,
            'method': config.method,
            'uses_captions': bool(config.model.use_captions),
            'max_caption_chars': MAX_CAPTION_CHARS,
            'max_request_bytes': MAX_REQUEST_BYTES}

  @app.post('/api/v1/inpaint', response_class=responses.Response,
            responses={200: {'content': {'image/png': {}}}})
  def inpaint(request: InpaintRequest) -> responses.Response:
    rgb = _decode('image', request.image)
    missing = _decode('mask', request.mask).mean(axis=-1) > 127
    if missing.shape != rgb.shape[:2]:
      raise BadRequest(400, f'mask: {missing.shape[1]}x{missing.shape[0]}, '
                       f'the image {rgb.shape[1]}x{rgb.shape[0]}; they must '
                       'be the same size')
    if not missing.any():
      raise BadRequest(400, 'mask: no white pixels, nothing to fill')
    vector = embedding(request.caption)
    try:
      with lock:
        filled = photo.fill_photo(config, state, rgb, missing, vector)
    except photo.HoleError as e:
      raise BadRequest(400, f'mask: {e}') from None
    out = io.BytesIO()
    Image.fromarray(filled).save(out, format='PNG')
    return responses.Response(out.getvalue(), media_type='image/png')

  return app


def _error(status: int, reason: str) -> responses.JSONResponse:
  return responses.JSONResponse({'error': reason}, status_code=status)
