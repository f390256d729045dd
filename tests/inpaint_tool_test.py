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
