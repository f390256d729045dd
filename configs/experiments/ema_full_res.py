"""ema_full_res: a full-resolution skip (16 features) before the output.

The fourth comparison, a full-resolution skip and the projection critic
(docs/experiments/04_full_resolution_projection.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0335, PSNR
15.58 dB, SSIM 0.201, sharpness 0.263.

  python -m inpainting.main --config=configs/experiments/ema_full_res.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/ema_full_res
"""

from configs.experiments import ema_seed_cond


def get_config(dataset='folder'):
  config = ema_seed_cond.get_config(dataset)
  config.model.generator.full_resolution_features = 16
  return config
