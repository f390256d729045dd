"""TFDS builders of captioned 64x64 images; importing registers them.

Every builder yields `image` (64x64x3 uint8, stored raw), `captions` (one
or more strings) and `embeddings` ([num_captions, 384] float32, from
`inpainting.text_encoder`), so the input pipeline treats them alike
(`common.features`):

- `synthetic_shapes`: the embedded, generated quick-start set (no download);
- `tiny_imagenet`: Tiny ImageNet, captions made from the class names;
- `mscoco_captions/2014`, `mscoco_captions/2017`: MSCOCO with all captions;
- `image_folder`: any folder of images, captions optional.
"""

from inpainting.datasets import common
from inpainting.datasets import image_folder  # registers the builder
from inpainting.datasets import mscoco_captions  # registers the builder
from inpainting.datasets import synthetic_shapes  # registers the builder
from inpainting.datasets import tiny_imagenet  # registers the builder

# The project's builders, by TFDS name (with their configs).
BUILDERS = ('synthetic_shapes', 'tiny_imagenet', 'mscoco_captions/2014',
            'mscoco_captions/2017', 'image_folder')

__all__ = ['BUILDERS', 'common', 'image_folder', 'mscoco_captions', 'synthetic_shapes',
           'tiny_imagenet']
