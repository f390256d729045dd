"""gl_r1_blur_screen: a 400-step screen with an anti-aliased critic ([1, 2, 1]
blur before each stride).

The ninth comparison, three critic changes against the stripes
(docs/experiments/09_critic_patterns.md).
Budget: 400 steps at batch 32 = 12,800 training images.
Result (2026-11-30, coco64 validation, centre holes): 15.09 dB, SSIM 0.153,
sharpness 0.416 on 250 held-out images; a lattice of dark blobs.

  python -m inpainting.main --config=configs/experiments/gl_r1_blur_screen.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_blur_screen
"""

from configs.experiments import gl_r1_prefill


def get_config(dataset='folder'):
  config = gl_r1_prefill.get_config(dataset)
  config.num_train_steps = 400
  config.optimizer.decay_steps = 800
  config.model.critic.blur = True
  return config
