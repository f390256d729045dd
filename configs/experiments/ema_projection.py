"""ema_projection: the projection critic.

The fourth comparison, a full-resolution skip and the projection critic
(docs/experiments/04_full_resolution_projection.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0345, PSNR
15.45 dB, SSIM 0.186, sharpness 0.392.

  python -m inpainting.main --config=configs/experiments/ema_projection.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/ema_projection
"""

from configs.experiments import ema_critic


def get_config(dataset='folder'):
  config = ema_critic.get_config(dataset)
  config.model.critic.caption_conditioning = 'projection'
  return config
