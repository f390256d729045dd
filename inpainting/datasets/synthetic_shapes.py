"""`synthetic_shapes`: the embedded captioned dataset, generated, no download.

Built so that the caption carries what the border cannot. Each 64x64 image
is a background texture (stripes, a gradient or a checkerboard, in random
colours) that continues from the border into the centre, and one object
inside the centre 32x32 hole: its shape, colour and size are drawn from
named sets and are hidden by the mask, while each caption names them. Every
example has three captions from different paraphrase templates (with
synonyms), so the caption's meaning, not its wording, carries the object.
A model that ignores captions can only guess the average object; one that
reads them can draw it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from inpainting import text_encoder
from inpainting.datasets import common

IMAGE_SIZE = common.IMAGE_SIZE
CAPTIONS_PER_IMAGE = 3

# name -> RGB in [0, 1]; each drawn with a little jitter.
COLOURS = {
    'red': (0.85, 0.1, 0.1),
    'green': (0.1, 0.7, 0.15),
    'blue': (0.1, 0.2, 0.85),
    'yellow': (0.95, 0.85, 0.1),
    'cyan': (0.1, 0.8, 0.85),
    'magenta': (0.85, 0.1, 0.75),
    'orange': (0.95, 0.5, 0.05),
    'purple': (0.45, 0.15, 0.6),
    'white': (0.95, 0.95, 0.95),
    'black': (0.05, 0.05, 0.05),
}
SHAPES = ('circle', 'square', 'triangle', 'diamond', 'cross')
# Object half-extent in pixels; the hole's half-size is 16.
SIZES = {'small': 6.0, 'medium': 9.0, 'large': 12.5}
BACKGROUNDS = ('striped', 'gradient', 'checkered')

_SHAPE_WORDS = {
    'circle': ('circle', 'disc'),
    'square': ('square', 'box'),
    'triangle': ('triangle',),
    'diamond': ('diamond', 'rhombus'),
    'cross': ('cross', 'plus sign'),
}
_SIZE_WORDS = {
    'small': ('small', 'little'),
    'medium': ('medium-sized', 'mid-sized'),
    'large': ('large', 'big'),
}
_TEMPLATES = (
    'a {size} {colour} {shape}',
    'a {colour} {shape}, {size}, in the middle of the picture',
    'there is a {size} {colour} {shape} in the centre',
    'a picture of a {shape} coloured {colour}; it is {size}',
    'a {size} {colour} {shape} on a {background} background',
    'the centre shows a {colour} {shape} that is {size}',
    'an image with a {size} {shape} painted {colour}',
    'a {colour} {shape} ({size}) surrounded by a {background} pattern',
)


@dataclasses.dataclass(frozen=True)
class Scene:
  """What one example shows; captions are written from it."""
  shape: str
  colour: str
  size: str
  background: str


def _background(rng: np.random.Generator, kind: str) -> np.ndarray:
  """A [64, 64, 3] texture that continues smoothly across the image."""
  yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
  c0, c1 = rng.uniform(0.15, 0.85, size=(2, 3)).astype(np.float32)
  if kind == 'striped':
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(8, 20)
    phase = rng.uniform(0, 2 * np.pi)
    t = xx * np.cos(angle) + yy * np.sin(angle)
    w = 0.5 + 0.5 * np.sin(2 * np.pi * t / period + phase)
  elif kind == 'gradient':
    angle = rng.uniform(0, 2 * np.pi)
    t = (xx - 31.5) * np.cos(angle) + (yy - 31.5) * np.sin(angle)
    w = np.clip(0.5 + t / 64.0, 0.0, 1.0)
  elif kind == 'checkered':
    cell = rng.integers(6, 14)
    oy, ox = rng.integers(0, cell, size=2)
    w = (((yy + oy) // cell + (xx + ox) // cell) % 2).astype(np.float32)
  else:
    raise ValueError(f'Unknown background {kind!r}.')
  return c0 * (1 - w[..., None]) + c1 * w[..., None]


def _signed_distance(shape: str, y: np.ndarray, x: np.ndarray,
                     r: float) -> np.ndarray:
  """Approximate signed distance (pixels, < 0 inside) to a centred shape."""
  if shape == 'circle':
    return np.hypot(x, y) - r
  if shape == 'square':
    return np.maximum(np.abs(x), np.abs(y)) - r * 0.85
  if shape == 'diamond':
    return (np.abs(x) + np.abs(y) - r * 1.1) / np.sqrt(2)
  if shape == 'cross':
    arm = r * 0.38
    horizontal = np.maximum(np.abs(x) - r, np.abs(y) - arm)
    vertical = np.maximum(np.abs(y) - r, np.abs(x) - arm)
    return np.minimum(horizontal, vertical)
  if shape == 'triangle':
    # Upward equilateral triangle with its centroid at the origin.
    half_angle_normals = np.array([[0.0, 1.0], [np.sqrt(3) / 2, -0.5],
                                   [-np.sqrt(3) / 2, -0.5]])
    inradius = r * 0.5
    # y grows downwards in images: flip so the apex points up.
    d = [(-y) * ny + x * nx - inradius for ny, nx in
         ((-n[1], n[0]) for n in half_angle_normals)]
    return np.max(np.stack(d), axis=0)
  raise ValueError(f'Unknown shape {shape!r}.')


def render(scene: Scene,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """Draws a scene.

  Returns:
    (uint8 [64, 64, 3] image, float [64, 64] coverage of the object).
  """
  image = _background(rng, scene.background)
  centre = 31.5 + rng.uniform(-2.0, 2.0, size=2)
  yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
  d = _signed_distance(scene.shape, yy - centre[0], xx - centre[1],
                       SIZES[scene.size])
  coverage = np.clip(0.5 - d, 0.0, 1.0)[..., None]  # antialiased edge
  colour = np.clip(np.array(COLOURS[scene.colour]) +
                   rng.normal(0, 0.04, size=3), 0, 1)
  image = image * (1 - coverage) + colour * coverage
  image = image + rng.normal(0, 0.015, size=image.shape)
  return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), coverage[..., 0]


def captions_for(scene: Scene, rng: np.random.Generator,
                 count: int = CAPTIONS_PER_IMAGE) -> list[str]:
  """`count` paraphrases of the scene from distinct templates."""
  captions = []
  for t in rng.choice(len(_TEMPLATES), size=count, replace=False):
    captions.append(_TEMPLATES[t].format(
        size=rng.choice(_SIZE_WORDS[scene.size]),
        colour=scene.colour,
        shape=rng.choice(_SHAPE_WORDS[scene.shape]),
        background=scene.background))
  return captions


def make_example(split_seed: int, index: int) -> tuple[Scene, np.ndarray,
                                                       list[str]]:
  """The example `index` of a split: a pure function of its arguments."""
  rng = np.random.default_rng([split_seed, index])
  scene = Scene(shape=SHAPES[rng.integers(len(SHAPES))],
                colour=list(COLOURS)[rng.integers(len(COLOURS))],
                size=list(SIZES)[rng.integers(len(SIZES))],
                background=BACKGROUNDS[rng.integers(len(BACKGROUNDS))])
  image, _ = render(scene, rng)
  return scene, image, captions_for(scene, rng)


@dataclasses.dataclass
class SyntheticShapesConfig(tfds.core.BuilderConfig):
  """Split sizes."""
  num_train: int = 20_000
  num_validation: int = 2_000


_SPLIT_SEEDS = {'train': 1, 'validation': 2}


class SyntheticShapes(tfds.core.GeneratorBasedBuilder):
  """Procedural captioned shapes on textured backgrounds."""

  VERSION = tfds.core.Version('2.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'First release.',
      '2.0.0': 'Images stored as raw uint8 (datasets/common.py), not PNG.',
  }
  BUILDER_CONFIGS = [
      SyntheticShapesConfig(name='default', description='20k train, 2k val.'),
      SyntheticShapesConfig(name='small', num_train=2_000,
                            num_validation=500,
                            description='For quick experiments.'),
      SyntheticShapesConfig(name='tiny', num_train=96, num_validation=40,
                            description='For tests.'),
  ]
  DEFAULT_CONFIG_NAME = 'default'

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=common.features(
            shape=tfds.features.ClassLabel(names=SHAPES),
            colour=tfds.features.ClassLabel(names=list(COLOURS)),
            size=tfds.features.ClassLabel(names=list(SIZES)),
            background=tfds.features.ClassLabel(names=BACKGROUNDS)),
        supervised_keys=None,
        homepage='https://github.com/inpainting/inpainting',
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Nothing to download.
    sizes = {'train': self.builder_config.num_train,
             'validation': self.builder_config.num_validation}
    examples = {split: [make_example(_SPLIT_SEEDS[split], i)
                        for i in range(n)] for split, n in sizes.items()}
    all_captions = [c for split in examples.values()
                    for _, _, captions in split for c in captions]
    embeddings = text_encoder.embed_unique(text_encoder.TextEncoder(),
                                           all_captions)
    return {split: self._generate_examples(ex, embeddings)
            for split, ex in examples.items()}

  def _generate_examples(self, examples, embeddings):
    for index, (scene, image, captions) in enumerate(examples):
      yield index, {
          'image': image,
          'captions': captions,
          'embeddings': np.stack([embeddings[c] for c in captions]),
          'shape': scene.shape,
          'colour': scene.colour,
          'size': scene.size,
          'background': scene.background,
      }
