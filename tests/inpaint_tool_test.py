"""tools/inpaint.py on images of odd sizes and modes."""

import json
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_inpaint_tool(trained_run, tmp_path):
  _, workdir = trained_run

  inputs = tmp_path / 'in'
  inputs.mkdir()
  rng = np.random.default_rng(0)
  Image.fromarray(rng.integers(0, 255, (100, 37, 3), np.uint8)).save(
      inputs / 'tall.jpg')
  Image.fromarray(rng.integers(0, 255, (50, 90), np.uint8), 'L').save(
      inputs / 'grey.png')
  Image.new('CMYK', (65, 65), (10, 200, 30, 0)).save(inputs / 'cmyk.jpg')
  Image.fromarray(rng.integers(0, 65535, (80, 80), np.uint16)).save(
      inputs / 'deep.png')
  (inputs / 'captions.json').write_text(json.dumps({'tall.jpg': 'a red box'}))

  result = subprocess.run(
      [sys.executable, 'tools/inpaint.py', '--config=configs/tiny.py',
       f'--workdir={workdir}', f'--output_dir={tmp_path / "out"}',
       '--paste_back', f'--captions={inputs / "captions.json"}',
       '--caption=a blue disc',
       *[str(inputs / n) for n in ('tall.jpg', 'grey.png', 'cmyk.jpg',
                                   'deep.png')]],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "caption 'a red box'" in result.stderr
  sizes = {'tall': (100, 37), 'grey': (50, 90), 'cmyk': (65, 65),
           'deep': (80, 80)}
  for stem, (height, width) in sizes.items():
    small = np.asarray(Image.open(tmp_path / 'out' / f'{stem}_inpainted.png'))
    assert small.shape == (64, 64, 3)
    full = np.asarray(Image.open(tmp_path / 'out' / f'{stem}_full.png'))
    assert full.shape == (height, width, 3)

  bad = subprocess.run(
      [sys.executable, 'tools/inpaint.py', '--config=configs/tiny.py',
       f'--workdir={workdir}', f'--output_dir={tmp_path / "out2"}',
       str(inputs / 'missing.jpg')],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert bad.returncode != 0
  assert 'missing.jpg: no such file' in bad.stderr
  assert 'Traceback' not in bad.stderr


def _run_tool(workdir, tmp_path, *args):
  return subprocess.run(
      [sys.executable, 'tools/inpaint.py', '--config=configs/tiny.py',
       f'--workdir={workdir}', *args],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_inpaint_tool_with_a_mask_file_and_a_box(trained_run, tmp_path):
  _, workdir = trained_run
  rng = np.random.default_rng(1)
  photo = rng.integers(0, 255, (128, 160, 3), np.uint8)
  Image.fromarray(photo).save(tmp_path / 'photo.png')
  # A hole of the photo's own size, off centre: rows 20-51, columns 96-119
  # of the photo; its centre square is columns 16-143, so in the 64x64
  # input rows 10-25, columns 40-51.
  hole = np.zeros((128, 160), np.uint8)
  hole[20:52, 96:120] = 255
  Image.fromarray(hole).save(tmp_path / 'hole.png')
  result = _run_tool(workdir, tmp_path, f'--output_dir={tmp_path / "m"}',
                     f'--mask={tmp_path / "hole.png"}', '--paste_back',
                     str(tmp_path / 'photo.png'))
  assert result.returncode == 0, result.stderr[-3000:]
  filled = np.asarray(Image.open(tmp_path / 'm' / 'photo_inpainted.png'))
  original = np.asarray(Image.fromarray(photo[:, 16:144]).resize(
      (64, 64), Image.Resampling.LANCZOS))
  changed = np.any(filled != original, axis=-1)
  assert changed[10:26, 40:52].mean() > 0.9  # the hole is filled ...
  outside = np.ones((64, 64), bool)
  outside[10:26, 40:52] = False
  assert not changed[outside].any()  # ... and nothing else
  full = np.asarray(Image.open(tmp_path / 'm' / 'photo_full.png'))
  assert full.shape == photo.shape
  differs = np.any(full != photo, axis=-1)
  assert differs[20:52, 96:120].mean() > 0.9
  differs[20:52, 96:120] = False
  assert not differs.any()

  result = _run_tool(workdir, tmp_path, f'--output_dir={tmp_path / "b"}',
                     '--box=5,30,10,20', str(tmp_path / 'photo.png'))
  assert result.returncode == 0, result.stderr[-3000:]
  filled = np.asarray(Image.open(tmp_path / 'b' / 'photo_inpainted.png'))
  changed = np.any(filled != original, axis=-1)
  assert changed[5:15, 30:50].mean() > 0.9
  changed[5:15, 30:50] = False
  assert not changed.any()


def test_inpaint_tool_refuses_bad_holes(trained_run, tmp_path):
  _, workdir = trained_run
  Image.new('RGB', (64, 64)).save(tmp_path / 'photo.png')
  Image.new('L', (64, 64), 0).save(tmp_path / 'black.png')
  for args, message in (
      (['--box=1,2,3'], '--box=1,2,3: expected four integers'),
      (['--box=60,0,10,10'], 'must lie within the 64x64 model input'),
      (['--box=0,0,64,64'], 'the hole covers the whole image'),
      ([f'--mask={tmp_path / "black.png"}'], 'no white pixels'),
      ([f'--mask={tmp_path / "none.png"}'], 'none.png: no such file'),
      (['--box=1,1,4,4', f'--mask={tmp_path / "black.png"}'],
       'Give --mask or --box, not both')):
    result = _run_tool(workdir, tmp_path, f'--output_dir={tmp_path / "o"}',
                       *args, str(tmp_path / 'photo.png'))
    assert result.returncode == 1, (args, result.stderr[-2000:])
    assert message in result.stderr, (args, result.stderr[-2000:])
    assert 'Traceback' not in result.stderr
  assert not (tmp_path / 'o').exists()  # refused before writing anything


def test_a_sampler_writes_draws_that_follow_their_seed(sampler_run,
                                                       trained_run, tmp_path):
  _, workdir = sampler_run
  photo = tmp_path / 'photo.png'
  Image.fromarray(np.random.default_rng(0).integers(
      0, 255, (70, 90, 3), np.uint8)).save(photo)

  def run(out, *args, config='configs/tiny_sampler.py', run_dir=workdir):
    return subprocess.run(
        [sys.executable, 'tools/inpaint.py', f'--config={config}',
         f'--workdir={run_dir}', f'--output_dir={tmp_path / out}', *args,
         str(photo)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)

  first = run('a', '--samples=2', '--seed=3')
  assert first.returncode == 0, first.stderr[-3000:]
  again = run('b', '--samples=1', '--seed=3')
  assert again.returncode == 0, again.stderr[-3000:]
  read = lambda path: np.asarray(Image.open(tmp_path / path))
  drawn = [read(f'a/photo_sample{k}.png') for k in (1, 2)]
  assert not (tmp_path / 'a' / 'photo_sample3.png').exists()
  np.testing.assert_array_equal(read('b/photo_sample1.png'), drawn[0])
  assert np.abs(drawn[0].astype(int) - drawn[1]).max() > 0
  # The known pixels are the photo's, in every draw.
  centre = read('a/photo_inpainted.png').copy()
  for image in drawn:
    outside = np.ones(image.shape[:2], bool)
    outside[16:48, 16:48] = False
    np.testing.assert_array_equal(image[outside], centre[outside])

  _, gan_workdir = trained_run
  refused = run('c', '--samples=2', config='configs/tiny.py',
                run_dir=gan_workdir)
  assert refused.returncode != 0
  assert '--samples=2: ' in refused.stderr and 'one fill' in refused.stderr
  assert 'Traceback' not in refused.stderr
