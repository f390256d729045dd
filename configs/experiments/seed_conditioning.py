"""seed_conditioning: the main job of the time (the seed's caption
conditioning) on coco64.

The first comparison, captions on real photographs
(docs/experiments/01_captions.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-25, coco64 validation, centre holes): hole MSE 0.0354, PSNR
15.28 dB, SSIM 0.181, sharpness 0.475; shuffled - true captions +0.7% of the
hole MSE, 95% CI above zero.

  python -m inpainting.main --config=configs/experiments/seed_conditioning.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/seed_conditioning
"""

from configs.experiments import coco64


def get_config(dataset='folder'):
  config = coco64.get_config(dataset)
  config.eval_every_steps = 400
  return config
