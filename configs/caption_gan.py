"""The main job: caption-conditioned context encoder with a critic.

The seed's architecture and optimiser (configs/default.py), with
the loss balance of the context encoder the seed builds on (Pathak et al.
2016): 0.999 * MSE(hole) + 0.001 * adversarial. With the seed's 0.8 / 0.2
(configs/seed.py) the adversarial term dominates and the reconstruction
stalls; docs/model.md has both measured.

The schedule is a short one, sized so that the quick start on the embedded
synthetic dataset finishes in about 15 minutes on a 2-core CPU; on a GPU or
TPU raise it, e.g. `--config.num_train_steps=20000 --config.batch_size=64`.
"""

from configs import default


def get_config(dataset=None):
  config = default.get_config(dataset)
  config.loss.reconstruction_weight = 0.999
  config.loss.adversarial_weight = 0.001
  config.batch_size = 16
  config.num_train_steps = 500
  config.log_every_steps = 25
  config.checkpoint_every_steps = 100
  config.eval_every_steps = 250
  config.eval.num_examples_during_training = 250
  return config
