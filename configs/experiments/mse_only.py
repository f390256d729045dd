"""mse_only: no critic: the reconstruction term alone.

The second comparison, sharper fills, no grid, any hole
(docs/experiments/02_grid_critics_holes.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-26, coco64 validation, centre holes): hole MSE 0.0347, PSNR
15.36 dB, SSIM 0.194, sharpness 0.319.

  python -m inpainting.main --config=configs/experiments/mse_only.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/mse_only
"""

from configs.experiments import coco64


def get_config(dataset='folder'):
  config = coco64.get_config(dataset)
  config.loss.adversarial_weight = 0.0
  return config
