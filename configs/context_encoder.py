"""The main job without captions: configs/caption_gan.py with no caption
input, its twin for measuring what captions add."""

from configs import caption_gan


def get_config(dataset=None):
  config = caption_gan.get_config(dataset)
  config.model.use_captions = False
  return config
