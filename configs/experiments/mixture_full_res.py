"""mixture_full_res: the mixture of holes with the full-resolution skip.

The fourth comparison, a full-resolution skip and the projection critic
(docs/experiments/04_full_resolution_projection.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0425, PSNR
14.40 dB, SSIM 0.122, sharpness 0.763; centre holes.

  python -m inpainting.main --config=configs/experiments/mixture_full_res.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/mixture_full_res
"""

from configs.experiments import mixture


def get_config(dataset='folder'):
  config = mixture.get_config(dataset)
  config.model.generator.full_resolution_features = 16
  return config
