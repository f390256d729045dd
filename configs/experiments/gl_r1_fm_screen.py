"""gl_r1_fm_screen: a 400-step screen with feature matching on the 800-step
schedule.

The eighth comparison, pretraining on Tiny ImageNet and the critic after
reconstruction (docs/experiments/08_pretraining_critic_after.md).
Budget: 400 steps at batch 32 = 12,800 training images.
Result (2026-11-30, coco64 validation, centre holes): held-out 250 images only
(docs/experiments).

  python -m inpainting.main --config=configs/experiments/gl_r1_fm_screen.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_fm_screen
"""

from configs.experiments import gl_r1_prefill


def get_config(dataset='folder'):
  config = gl_r1_prefill.get_config(dataset)
  config.loss.feature_matching_weight = 1.0
  config.num_train_steps = 400
  config.optimizer.decay_steps = 800
  return config
