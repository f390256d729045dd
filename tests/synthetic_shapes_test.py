"""The embedded dataset: captions carry what the border cannot."""

import numpy as np
import tensorflow_datasets as tfds

from inpainting import input_pipeline
from inpainting import masks
from inpainting.datasets import synthetic_shapes


def test_examples_are_pure_functions_of_their_index():
  scene_a, image_a, captions_a = synthetic_shapes.make_example(1, 5)
  scene_b, image_b, captions_b = synthetic_shapes.make_example(1, 5)
  assert scene_a == scene_b and captions_a == captions_b
  np.testing.assert_array_equal(image_a, image_b)
  _, image_c, _ = synthetic_shapes.make_example(2, 5)
  assert not np.array_equal(image_a, image_c)


def test_the_object_is_inside_the_hole():
  hole = masks.centre_mask(64, 32)[..., 0] > 0
  rng = np.random.default_rng(0)
  for shape in synthetic_shapes.SHAPES:
    for size in synthetic_shapes.SIZES:
      for _ in range(5):
        scene = synthetic_shapes.Scene(shape, 'red', size, 'striped')
        _, coverage = synthetic_shapes.render(scene, rng)
        assert coverage[~hole].max() == 0, scene
        assert coverage[hole].sum() > 30, scene


def test_captions_name_the_object():
  for index in range(50):
    scene, _, captions = synthetic_shapes.make_example(1, index)
    assert len(captions) == synthetic_shapes.CAPTIONS_PER_IMAGE
    assert len(set(captions)) == len(captions)
    for caption in captions:
      assert scene.colour in caption
      assert any(w in caption for w in synthetic_shapes._SHAPE_WORDS[scene.shape])
      assert any(w in caption for w in synthetic_shapes._SIZE_WORDS[scene.size])


def test_built_dataset(tiny_config):
  builder = input_pipeline.get_builder(tiny_config)
  assert builder.info.splits['train'].num_examples == 96
  assert builder.info.splits['validation'].num_examples == 40
  example = next(iter(tfds.as_numpy(builder.as_dataset(split='train'))))
  assert example['image'].shape == (64, 64, 3)
  assert example['embeddings'].shape == (3, 384)
  assert len(example['captions']) == 3
  # Distinct captions have distinct embeddings.
  e = example['embeddings']
  assert np.abs(e[0] - e[1]).max() > 1e-3
