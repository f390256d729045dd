"""psnr_long: minus the mean hole PSNR as the reconstruction term.

The twelfth comparison, the model's own detail, the PSNR loss and a wider
generator (docs/experiments/12_psnr_loss_width.md).
Budget: 2,000 steps at batch 32 = 64,000 training images.
Result (2026-12-01, coco64 validation, centre holes): hole MSE 0.0320, PSNR
15.87 dB, SSIM 0.215, sharpness 0.227; +1.08 dB over Telea, the best single-
pass model of the comparisons.

  python -m inpainting.main --config=configs/experiments/psnr_long.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/psnr_long
"""

from configs.experiments import prefill_long_lr


def get_config(dataset='folder'):
  config = prefill_long_lr.get_config(dataset)
  config.loss.reconstruction = 'psnr'
  return config
