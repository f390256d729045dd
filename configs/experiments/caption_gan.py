"""caption_gan: the main job of the time (0.999 MSE + 0.001 adversarial, the
seed's critic).

The second comparison, sharper fills, no grid, any hole
(docs/experiments/02_grid_critics_holes.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-26, coco64 validation, centre holes): hole MSE 0.0352, PSNR
15.28 dB, SSIM 0.177, sharpness 0.484; a grid of the transposed convolutions in
the enlarged fills.

  python -m inpainting.main --config=configs/experiments/caption_gan.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/caption_gan
"""

from configs.experiments import coco64


def get_config(dataset='folder'):
  config = coco64.get_config(dataset)
  return config
