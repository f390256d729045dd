"""gl_r1_mean_noise_free: the same, the reconstruction scored without the noise
(stopped at step 230).

The tenth comparison, what detail costs, and noise for the critic
(docs/experiments/10_detail_cost_noise.md).
Budget: 230 steps at batch 32 = 7,360 training images.
Result (2026-11-30, coco64 validation, centre holes): strengths still
0.003-0.006 at step 200.

  python -m inpainting.main --config=configs/experiments/gl_r1_mean_noise_free.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_mean_noise_free
"""

from configs.experiments import gl_r1_mean_noise


def get_config(dataset='folder'):
  config = gl_r1_mean_noise.get_config(dataset)
  config.loss.noise_free_reconstruction = True
  return config
