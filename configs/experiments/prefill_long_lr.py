"""prefill_long_lr: 2,000 steps at Adam lr 1e-3, b1 0.9.

The sixth comparison, a longer run and a critic on the first guess
(docs/experiments/06_longer_run_critic.md).
Budget: 2,000 steps at batch 32 = 64,000 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0321, PSNR
15.82 dB, SSIM 0.213, sharpness 0.232; the held-out curve flattens from step
1,400.

  python -m inpainting.main --config=configs/experiments/prefill_long_lr.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/prefill_long_lr
"""

from configs.experiments import centre_prefill


def get_config(dataset='folder'):
  config = centre_prefill.get_config(dataset)
  config.num_train_steps = 2000
  config.checkpoint_every_steps = 200
  config.optimizer.generator_learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  return config
