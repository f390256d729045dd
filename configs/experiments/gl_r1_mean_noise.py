"""gl_r1_mean_noise: noise inputs in the last two decoder blocks, strengths
from 0 (stopped at step 400).

The tenth comparison, what detail costs, and noise for the critic
(docs/experiments/10_detail_cost_noise.md).
Budget: 400 steps at batch 32 = 12,800 training images.
Result (2026-11-30, coco64 validation, centre holes): the strengths stayed near
0.003; the figures those of gl_r1_mean_screen.

  python -m inpainting.main --config=configs/experiments/gl_r1_mean_noise.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_mean_noise
"""

from configs.experiments import gl_r1_mean


def get_config(dataset='folder'):
  config = gl_r1_mean.get_config(dataset)
  config.model.generator.noise_levels = 2
  return config
