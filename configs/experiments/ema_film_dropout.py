"""ema_film_dropout: FiLM in every block with caption dropout 0.1.

The third comparison, where captions enter, a schedule and a moving average
(docs/experiments/03_conditioning_schedule_average.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-29, coco64 validation, centre holes): hole MSE 0.0338, PSNR
15.54 dB, SSIM 0.199, sharpness 0.300.

  python -m inpainting.main --config=configs/experiments/ema_film_dropout.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/ema_film_dropout
"""

from configs.experiments import ema_seed_cond


def get_config(dataset='folder'):
  config = ema_seed_cond.get_config(dataset)
  config.model.generator.caption_conditioning = 'film'
  config.model.generator.film_encoder = True
  config.caption_dropout = 0.1
  return config
