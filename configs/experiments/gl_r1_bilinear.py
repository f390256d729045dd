"""gl_r1_bilinear: bilinear resize-convolutions.

The seventh comparison, context, mirroring and the critic's artefact
(docs/experiments/07_context_mirroring.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0376, PSNR
15.00 dB, SSIM 0.156, sharpness 0.510.

  python -m inpainting.main --config=configs/experiments/gl_r1_bilinear.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_bilinear
"""

from configs.experiments import gl_r1_prefill


def get_config(dataset='folder'):
  config = gl_r1_prefill.get_config(dataset)
  config.model.layers.upsampling = 'bilinear'
  return config
