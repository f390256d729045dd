"""ema_seed_cond: the same without the critic: the MSE-only recipe of the
comparisons after it.

The third comparison, where captions enter, a schedule and a moving average
(docs/experiments/03_conditioning_schedule_average.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-29, coco64 validation, centre holes): hole MSE 0.0338, PSNR
15.55 dB, SSIM 0.199, sharpness 0.299.

  python -m inpainting.main --config=configs/experiments/ema_seed_cond.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/ema_seed_cond
"""

from configs.experiments import ema_critic


def get_config(dataset='folder'):
  config = ema_critic.get_config(dataset)
  config.loss.adversarial_weight = 0.0
  return config
