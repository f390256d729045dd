"""dilated_flip_long: 3 dilated blocks and mirrored training images.

The seventh comparison, context, mirroring and the critic's artefact
(docs/experiments/07_context_mirroring.md).
Budget: 2,000 steps at batch 32 = 64,000 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0316, PSNR
15.86 dB, SSIM 0.214, sharpness 0.228.

  python -m inpainting.main --config=configs/experiments/dilated_flip_long.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/dilated_flip_long
"""

from configs.experiments import prefill_long_lr


def get_config(dataset='folder'):
  config = prefill_long_lr.get_config(dataset)
  config.model.generator.dilated_blocks = 3
  config.dataset.random_flip = True
  return config
