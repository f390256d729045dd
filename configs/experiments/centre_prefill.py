"""centre_prefill: the pull-push membrane as first guess.

The fifth comparison, a first guess from the border
(docs/experiments/05_first_guess.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0326, PSNR
15.73 dB, SSIM 0.208, sharpness 0.213; +0.94 dB over Telea.

  python -m inpainting.main --config=configs/experiments/centre_prefill.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/centre_prefill
"""

from configs.experiments import ema_full_res


def get_config(dataset='folder'):
  config = ema_full_res.get_config(dataset)
  config.model.generator.prefill = 'pull_push'
  return config
