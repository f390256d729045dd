"""The seed without captions: the same model with no caption input."""

from configs import caption_gan


def get_config():
  config = caption_gan.get_config()
  config.model.use_captions = False
  return config
