"""patch_fm: the patch critic at weight 0.003 with feature matching.

The second comparison, sharper fills, no grid, any hole
(docs/experiments/02_grid_critics_holes.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-26, coco64 validation, centre holes): hole MSE 0.0356, PSNR
15.27 dB, SSIM 0.181, sharpness 0.409.

  python -m inpainting.main --config=configs/experiments/patch_fm.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/patch_fm
"""

from configs.experiments import patch_hinge_sn


def get_config(dataset='folder'):
  config = patch_hinge_sn.get_config(dataset)
  config.loss.adversarial_weight = 0.003
  config.loss.feature_matching_weight = 1.0
  return config
