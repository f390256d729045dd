"""gl_r1_mean_noise_loud: loud noise inputs in the 64x64 block, the
reconstruction scored without them.

The tenth comparison, what detail costs, and noise for the critic
(docs/experiments/10_detail_cost_noise.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): 14.14 dB, SSIM 0.120,
sharpness 0.946, seam +0.002 at noise_scale 1 (as trained); at noise_scale 0:
15.63 dB, SSIM 0.206.

  python -m inpainting.main --config=configs/experiments/gl_r1_mean_noise_loud.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_mean_noise_loud
"""

from configs.experiments import gl_r1_mean


def get_config(dataset='folder'):
  config = gl_r1_mean.get_config(dataset)
  config.model.generator.noise_levels = 1
  config.model.generator.noise_init = 1.0
  config.loss.noise_free_reconstruction = True
  return config
