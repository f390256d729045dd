"""mse_only_nearest: nearest-neighbour resize-convolutions in the decoder (no
grid).

The second comparison, sharper fills, no grid, any hole
(docs/experiments/02_grid_critics_holes.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-26, coco64 validation, centre holes): hole MSE 0.0341, PSNR
15.44 dB, SSIM 0.198, sharpness 0.281.

  python -m inpainting.main --config=configs/experiments/mse_only_nearest.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/mse_only_nearest
"""

from configs.experiments import mse_only


def get_config(dataset='folder'):
  config = mse_only.get_config(dataset)
  config.model.layers.upsampling = 'nearest'
  return config
