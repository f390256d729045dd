"""The seed without captions: the same model with no caption input."""

from configs import caption_gan


def get_config(dataset=None):
  config = caption_gan.get_config(dataset)
  config.model.use_captions = False
  return config
