"""The seed: caption-conditioned context encoder with an adversarial critic.

The architecture, losses and optimiser are the seed's (configs/default.py).
The schedule is a short one, sized so that the quick start on the embedded
synthetic dataset finishes in about 15 minutes on a 2-core CPU; on a GPU or
TPU raise it, e.g.
`--config.num_train_steps=20000 --config.batch_size=64`.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.batch_size = 16
  config.num_train_steps = 500
  config.log_every_steps = 25
  config.checkpoint_every_steps = 100
  config.eval_every_steps = 250
  config.eval.num_examples_during_training = 250
  return config
