"""gl_r1_prefill: a global+local critic with spectral norm and lazy R1, weight
0.01.

The sixth comparison, a longer run and a critic on the first guess
(docs/experiments/06_longer_run_critic.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0381, PSNR
14.96 dB, SSIM 0.147, sharpness 0.601; a coarse checker of blotches in the
enlarged fills.

  python -m inpainting.main --config=configs/experiments/gl_r1_prefill.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_prefill
"""

from configs.experiments import centre_prefill


def get_config(dataset='folder'):
  config = centre_prefill.get_config(dataset)
  config.loss.adversarial_weight = 0.01
  config.loss.reconstruction_weight = 0.99
  config.model.critic.view = 'global_local'
  config.model.critic.spectral_norm = True
  config.model.critic.batch_norm = False
  config.model.critic.activation = 'leaky_relu'
  config.loss.r1_weight = 1.0
  config.loss.r1_interval = 16
  config.checkpoint_every_steps = 200
  return config
