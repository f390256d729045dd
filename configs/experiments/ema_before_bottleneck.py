"""ema_before_bottleneck: the caption map before the channel-wise bottleneck.

The third comparison, where captions enter, a schedule and a moving average
(docs/experiments/03_conditioning_schedule_average.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-29, coco64 validation, centre holes): hole MSE 0.0339, PSNR
15.54 dB, SSIM 0.199, sharpness 0.300.

  python -m inpainting.main --config=configs/experiments/ema_before_bottleneck.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/ema_before_bottleneck
"""

from configs.experiments import ema_seed_cond


def get_config(dataset='folder'):
  config = ema_seed_cond.get_config(dataset)
  config.model.generator.caption_conditioning = 'before_bottleneck'
  return config
