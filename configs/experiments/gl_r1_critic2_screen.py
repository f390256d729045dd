"""gl_r1_critic2_screen: a 400-step screen with two critic updates a step.

The ninth comparison, three critic changes against the stripes
(docs/experiments/09_critic_patterns.md).
Budget: 400 steps at batch 32 = 12,800 training images.
Result (2026-11-30, coco64 validation, centre holes): 15.14 dB, SSIM 0.156,
sharpness 0.511 on 250 held-out images; a finer plaid.

  python -m inpainting.main --config=configs/experiments/gl_r1_critic2_screen.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_critic2_screen
"""

from configs.experiments import gl_r1_prefill


def get_config(dataset='folder'):
  config = gl_r1_prefill.get_config(dataset)
  config.num_train_steps = 400
  config.optimizer.decay_steps = 800
  config.optimizer.critic_steps = 2
  return config
