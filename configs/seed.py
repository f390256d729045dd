"""The 2017 seed exactly: its model, its losses weighted 0.8 (MSE) and 0.2
(adversarial), its optimiser.

configs/default.py holds the seed's fields; this adds the short schedule of
the quick start (configs/caption_gan.py), so that the two compare at one
budget. Kept to measure what the seed does (docs/model.md): the
adversarial term dominates and the reconstruction stalls.
"""

from configs import default


def get_config(dataset=None):
  config = default.get_config(dataset)
  default.set_quick_schedule(config)
  return config
