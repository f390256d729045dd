"""ema_film_dropout_guided: ema_film_dropout's checkpoint scored with caption
guidance 1.0 (evaluation only: --mode=evaluate on a copy of its workdir).

The third comparison, where captions enter, a schedule and a moving average
(docs/experiments/03_conditioning_schedule_average.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-29, coco64 validation, centre holes): hole MSE 0.0338, PSNR
15.53 dB, SSIM 0.199, sharpness 0.298.

  python -m inpainting.main --config=configs/experiments/ema_film_dropout_guided.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/ema_film_dropout_guided --mode=evaluate
"""

from configs.experiments import ema_film_dropout


def get_config(dataset='folder'):
  config = ema_film_dropout.get_config(dataset)
  config.guidance = 1.0
  return config
