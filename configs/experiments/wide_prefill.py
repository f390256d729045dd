"""wide_prefill: every encoder and decoder layer 1.5x as wide (2.25x the work).

The twelfth comparison, the model's own detail, the PSNR loss and a wider
generator (docs/experiments/12_psnr_loss_width.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-12-01, coco64 validation, centre holes): hole MSE 0.0324, PSNR
15.74 dB, SSIM 0.207, sharpness 0.211.

  python -m inpainting.main --config=configs/experiments/wide_prefill.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/wide_prefill
"""

from configs.experiments import centre_prefill


def get_config(dataset='folder'):
  config = centre_prefill.get_config(dataset)
  config.model.generator.encoder_features = (96, 192, 384, 384)
  config.model.generator.decoder_features = (384, 192, 96, 3)
  return config
