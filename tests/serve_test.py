"""The web page's server: its API on a real loopback server, and the page
itself in headless Chromium.

The server fills with a tiny untrained generator (the page and API do not
depend on what the model learnt) and a stand-in caption encoder: a
caption's embedding is a fixed random vector of its hash.
"""

import base64
import hashlib
import io
import json
import pathlib
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
from PIL import Image
import pytest

from configs import tiny
from inpainting import photo
from inpainting import state as state_lib
from inpainting import text_encoder

pytest.importorskip('fastapi', reason="the serve extra: pip install -e '.[serve]'")
uvicorn = pytest.importorskip('uvicorn')
from inpainting import server  # pylint: disable=g-import-not-at-top,wrong-import-position

CHROMIUM = pathlib.Path('/usr/bin/chromium')
PHOTO = pathlib.Path(__file__).parent / 'data' / 'photos' / 'chelsea.png'


def _embed(texts):
  out = []
  for text in texts:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], 'big')
    out.append(np.random.default_rng(seed).normal(
        size=text_encoder.EMBEDDING_DIM).astype(np.float32))
  return np.stack(out)


@pytest.fixture(scope='module')
def url():
  """A real server of the app on a free loopback port, for this module."""
  config = tiny.get_config()
  state = state_lib.create_train_state(config)
  app = server.create_app(config, state, name='tiny', embed=_embed)
  sock = socket.socket()
  sock.bind(('127.0.0.1', 0))
  uv = uvicorn.Server(uvicorn.Config(app, log_level='warning'))
  thread = threading.Thread(target=uv.run, kwargs={'sockets': [sock]},
                            daemon=True)
  thread.start()
  deadline = time.monotonic() + 60
  while not uv.started:
    assert time.monotonic() < deadline, 'the server did not start'
    time.sleep(0.05)
  yield f'http://127.0.0.1:{sock.getsockname()[1]}/'
  uv.should_exit = True
  thread.join(timeout=10)


def _png(array: np.ndarray) -> bytes:
  out = io.BytesIO()
  Image.fromarray(array).save(out, format='PNG')
  return out.getvalue()


def _b64(data: bytes) -> str:
  return base64.b64encode(data).decode()


def _photo(width=150, height=110) -> np.ndarray:
  """A photograph larger than the model's input, and not square."""
  return np.asarray(Image.open(PHOTO).convert('RGB').resize(
      (width, height), Image.Resampling.BICUBIC))


def _box_mask(shape, top, left, height, width) -> np.ndarray:
  mask = np.zeros((*shape, 3), np.uint8)
  mask[top:top + height, left:left + width] = 255
  return mask


def _post(url, body, raw=None):
  """(status, content type, body bytes) of a POST to the inpaint API."""
  data = raw if raw is not None else json.dumps(body).encode()
  request = urllib.request.Request(
      url + 'api/v1/inpaint', data=data,
      headers={'Content-Type': 'application/json'})
  try:
    with urllib.request.urlopen(request, timeout=120) as response:
      return response.status, response.headers['Content-Type'], response.read()
  except urllib.error.HTTPError as e:
    return e.code, e.headers['Content-Type'], e.read()


def _good(url, image=None, mask=None, caption='a cat'):
  image = _photo() if image is None else image
  mask = _box_mask(image.shape[:2], 30, 50, 40, 36) if mask is None else mask
  return image, mask, _post(url, {'image': _b64(_png(image)),
                                  'mask': _b64(_png(mask)),
                                  'caption': caption})


def test_the_api_fills_the_hole_at_full_size_and_nothing_else(url):
  image, mask, (status, kind, body) = _good(url)
  assert status == 200 and kind == 'image/png'
  filled = np.asarray(Image.open(io.BytesIO(body)))
  assert filled.shape == image.shape
  hole = mask[..., 0] > 127
  np.testing.assert_array_equal(filled[~hole], image[~hole])
  assert np.abs(filled[hole].astype(int) - image[hole]).mean() > 1
  # A data: URL is taken as well as bare base64, and the caption reaches
  # the model: another caption, another fill.
  data_url = 'data:image/png;base64,' + _b64(_png(image))
  status, _, again = _post(url, {'image': data_url, 'mask': _b64(_png(mask)),
                                 'caption': 'a cat'})
  assert status == 200 and again == body
  _, _, (_, _, other) = _good(url, caption='a red bus on a street')
  assert other != body


def _big_bilevel_png() -> bytes:
  out = io.BytesIO()
  Image.new('1', (7000, 6000)).save(out, format='PNG')
  return out.getvalue()


def _bad_requests():
  """(what, body or raw bytes, expected status, words of the reason)."""
  image = _photo()
  good_image = _b64(_png(image))
  good_mask = _b64(_png(_box_mask(image.shape[:2], 30, 50, 40, 36)))
  truncated = _png(image)[:200]
  return [
      ('no image', {'mask': good_mask}, 422, 'image'),
      ('image not base64', {'image': 'not base64!', 'mask': good_mask}, 400,
       'base64'),
      ('image not an image', {'image': _b64(b'hello world'),
                              'mask': good_mask}, 400, 'readable'),
      ('image truncated', {'image': _b64(truncated), 'mask': good_mask}, 400,
       'image'),
      ('mask of another size', {'image': good_image, 'mask': _b64(_png(
          _box_mask((64, 64), 8, 8, 20, 20)))}, 400, 'same size'),
      ('empty mask', {'image': good_image, 'mask': _b64(_png(
          np.zeros_like(image)))}, 400, 'nothing to fill'),
      ('mask covering everything', {'image': good_image, 'mask': _b64(_png(
          np.full_like(image, 255)))}, 400, 'whole photograph'),
      ('image of too many pixels', {'image': _b64(_big_bilevel_png()),
                                    'mask': good_mask}, 413, 'pixels'),
      ('caption too long', {'image': good_image, 'mask': good_mask,
                            'caption': 'a cat ' * 100}, 422, 'caption'),
      ('an unknown field', {'image': good_image, 'mask': good_mask,
                            'prompt': 'a cat'}, 422, 'prompt'),
      ('body not JSON', b'{"image": ', 422, 'JSON'),
  ]


def test_bad_requests_get_a_4xx_with_one_line_and_the_server_goes_on(
    url, monkeypatch):
  # The size limit, lowered so that the test sends little (the server runs
  # in this process).
  limit = 150_000
  too_large = ('body too large', b'x' * (limit + 1), 413, 'larger')
  for what, body, status, words in _bad_requests() + [too_large]:
    if what == 'body too large':
      monkeypatch.setattr(server, 'MAX_REQUEST_BYTES', limit)
    got, kind, answer = _post(url, *(
        (None, body) if isinstance(body, bytes) else (body,)))
    assert got == status, (what, got, answer[:300])
    assert kind == 'application/json', what
    reason = json.loads(answer)['error']
    assert words.lower() in reason.lower(), (what, reason)
    assert '\n' not in reason and len(reason) < 200, (what, reason)
    # Still serving.
    assert _good(url)[2][0] == 200, what


def test_the_page_and_the_model_description_are_served(url):
  with urllib.request.urlopen(url, timeout=30) as response:
    page = response.read().decode()
  assert 'id="paint"' in page and 'api/v1/inpaint' in page
  # Offline: nothing is fetched from another host.
  assert 'http://' not in page and 'https://' not in page
  with urllib.request.urlopen(url + 'api/v1/model', timeout=30) as response:
    description = json.loads(response.read())
  assert description['name'] == 'tiny'
  assert description['image_size'] == 64


def test_a_hole_of_any_size_is_filled_from_a_square_around_it():
  for shape, (top, left, height, width) in [
      ((110, 150), (30, 50, 40, 36)),  # inside
      ((110, 150), (0, 140, 10, 10)),  # in a corner
      ((60, 400), (10, 20, 40, 300)),  # wider than the photograph is high
  ]:
    missing = _box_mask(shape, top, left, height, width)[..., 0] > 0
    crop = photo.crop_around(missing)
    # Inside the photograph, holding the hole, twice its side where it fits.
    assert 0 <= crop.top < crop.bottom <= shape[0]
    assert 0 <= crop.left < crop.right <= shape[1]
    assert crop.top <= top and top + height <= crop.bottom
    assert crop.left <= left and left + width <= crop.right
    side = 2 * max(height, width)
    if side <= min(shape):
      assert crop.bottom - crop.top == crop.right - crop.left == side
  with pytest.raises(photo.HoleError, match='empty'):
    photo.crop_around(np.zeros((10, 10), bool))


def test_the_page_fills_a_painted_stroke_in_chromium(url, tmp_path):
  if not CHROMIUM.exists() or shutil.which('chromium') is None:
    pytest.skip("Debian's chromium is not installed: apt-get install -y "
                'chromium (as root); .ci/run does')
  sync_api = pytest.importorskip('playwright.sync_api')
  image = _photo(200, 150)
  path = tmp_path / 'photo.png'
  Image.fromarray(image).save(path)
  with sync_api.sync_playwright() as playwright:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=['--no-sandbox', '--disable-gpu', '--disable-quic',
              '--no-first-run', '--disable-background-networking',
              '--disable-component-update', '--disable-sync'])
    try:
      page = browser.new_page()
      page.goto(url)
      page.set_input_files('#file', str(path))
      page.wait_for_function(
          "document.getElementById('status').textContent.includes('200x150')")
      box = page.locator('#paint').bounding_box()
      page.mouse.move(box['x'] + 0.3 * box['width'],
                      box['y'] + 0.4 * box['height'])
      page.mouse.down()
      page.mouse.move(box['x'] + 0.6 * box['width'],
                      box['y'] + 0.6 * box['height'], steps=12)
      page.mouse.up()
      page.fill('#caption', 'a cat')
      with page.expect_response('**/api/v1/inpaint') as response:
        page.click('#fill')
      assert response.value.status == 200
      page.wait_for_selector('#results:not([hidden])')
      page.wait_for_function(
          "document.getElementById('result').naturalWidth === 200")
      # What the page shows and offers for download: its object URL.
      result_url = page.evaluate(
          "async () => readAsDataUrl(await (await fetch("
          "document.getElementById('result').src)).blob())")
      mask_url = page.evaluate('maskDataUrl()')
      page.screenshot(path=str(tmp_path / 'page.png'))
    finally:
      browser.close()
  def decode(data_url):
    return Image.open(io.BytesIO(base64.b64decode(data_url.partition(',')[2])))
  filled = np.asarray(decode(result_url).convert('RGB'))
  hole = np.asarray(decode(mask_url).convert('L')) > 127
  # The stroke is where the mouse went, and only there.
  assert hole.shape == (150, 200)
  assert 200 < hole.sum() < 0.5 * hole.size
  assert hole[int(0.5 * 150), int(0.45 * 200)]
  assert filled.shape == image.shape
  np.testing.assert_array_equal(filled[~hole], image[~hole])
  assert np.abs(filled[hole].astype(int) - image[hole]).mean() > 1


def test_the_command_serves_the_shipped_weights_and_prints_the_address():
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  repo = pathlib.Path(__file__).resolve().parents[1]
  bad = subprocess.run([sys.executable, 'tools/serve.py', '--port=70000'],
                       cwd=repo, capture_output=True, text=True, timeout=120,
                       check=False)
  assert bad.returncode == 1
  assert 'error: --port=70000' in bad.stderr and 'Traceback' not in bad.stderr
  process = subprocess.Popen([sys.executable, 'tools/serve.py', '--port=0'],
                             cwd=repo, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
  try:
    line = process.stdout.readline()
    assert 'reference.safetensors at http://127.0.0.1:' in line, line
    address = line.split(' at ')[1].split()[0]
    with urllib.request.urlopen(address + 'api/v1/model',
                                timeout=60) as response:
      description = json.loads(response.read())
    assert description['name'] == 'reference.safetensors'
    assert description['uses_captions']
  finally:
    process.terminate()
    process.wait(timeout=30)
