"""prefill_long_lr_tta: prefill_long_lr's checkpoint scored with test-time
mirroring (evaluation only, on a copy of its workdir).

The seventh comparison, context, mirroring and the critic's artefact
(docs/experiments/07_context_mirroring.md).
Budget: 2,000 steps at batch 32 = 64,000 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0316, PSNR
15.87 dB, SSIM 0.214, sharpness 0.229.

  python -m inpainting.main --config=configs/experiments/prefill_long_lr_tta.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/prefill_long_lr_tta --mode=evaluate
"""

from configs.experiments import prefill_long_lr


def get_config(dataset='folder'):
  config = prefill_long_lr.get_config(dataset)
  config.flip_average = True
  config.eval.baselines = False
  return config
