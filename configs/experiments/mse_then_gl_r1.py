"""mse_then_gl_r1: 400 critic steps from centre_prefill's step-400 generator (a
fresh critic).

The eighth comparison, pretraining on Tiny ImageNet and the critic after
reconstruction (docs/experiments/08_pretraining_critic_after.md).
Budget: 400 steps at batch 32 = 12,800 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0369, PSNR
15.07 dB, SSIM 0.141, sharpness 0.603.

  python -m inpainting.main --config=configs/experiments/mse_then_gl_r1.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/mse_then_gl_r1
"""

from configs.experiments import gl_r1_prefill


def get_config(dataset='folder'):
  config = gl_r1_prefill.get_config(dataset)
  config.num_train_steps = 400
  config.init.workdir = 'runs/centre_prefill'
  config.init.step = 400
  config.init.critic = False
  return config
