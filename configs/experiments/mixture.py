"""mixture: trained on a mixture of centre squares, boxes and strokes.

The second comparison, sharper fills, no grid, any hole
(docs/experiments/02_grid_critics_holes.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-26, coco64 validation, centre holes): hole MSE 0.0386, PSNR
14.89 dB, SSIM 0.162, sharpness 0.518; centre holes.

  python -m inpainting.main --config=configs/experiments/mixture.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/mixture
"""

from configs.experiments import coco64


def get_config(dataset='folder'):
  config = coco64.get_config(dataset)
  config.mask.kind = 'mixture'
  config.eval.mask_kinds = ('centre', 'box', 'free_form')
  return config
