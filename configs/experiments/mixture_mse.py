"""mixture_mse: ema_full_res on the mixture of holes.

The fifth comparison, a first guess from the border
(docs/experiments/05_first_guess.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0342, PSNR
15.45 dB, SSIM 0.195, sharpness 0.252; boxes 16.93 dB, strokes 17.78 dB.

  python -m inpainting.main --config=configs/experiments/mixture_mse.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/mixture_mse
"""

from configs.experiments import ema_full_res


def get_config(dataset='folder'):
  config = ema_full_res.get_config(dataset)
  config.mask.kind = 'mixture'
  config.eval.mask_kinds = ('centre', 'box', 'free_form')
  return config
