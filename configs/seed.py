"""The 2017 seed exactly: its losses weighted 0.8 (MSE) and 0.2 (adversarial).

The architecture, optimiser and schedule are those of caption_gan.py; only
the loss weights differ. Kept to measure what the seed's weighting does (see
docs/model.md): the adversarial term dominates and the reconstruction stalls.
"""

from configs import caption_gan


def get_config(dataset=None):
  config = caption_gan.get_config(dataset)
  config.loss.reconstruction_weight = 0.8
  config.loss.adversarial_weight = 0.2
  return config
