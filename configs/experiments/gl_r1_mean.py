"""gl_r1_mean: the critic's averaging head (continued from its 400-step screen
to 800 steps).

The ninth comparison, three critic changes against the stripes
(docs/experiments/09_critic_patterns.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0352, PSNR
15.32 dB, SSIM 0.164, sharpness 0.444; horizontal zigzag bands, the same in
every hole.

  python -m inpainting.main --config=configs/experiments/gl_r1_mean.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_mean
"""

from configs.experiments import gl_r1_prefill


def get_config(dataset='folder'):
  config = gl_r1_prefill.get_config(dataset)
  config.model.critic.head = 'mean'
  config.optimizer.decay_steps = 800
  return config
