"""tin_finetune: 1,000 more steps on coco64 from tin_pretrain.

The eighth comparison, pretraining on Tiny ImageNet and the critic after
reconstruction (docs/experiments/08_pretraining_critic_after.md).
Budget: 1,000 steps at batch 32 = 32,000 training images.
Result (2026-11-30, coco64 validation, centre holes): hole MSE 0.0321, PSNR
15.81 dB, SSIM 0.210, sharpness 0.227; 2,000 steps in all, level with
prefill_long_lr.

  python -m inpainting.main --config=configs/experiments/tin_finetune.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/tin_finetune
"""

from configs.experiments import centre_prefill


def get_config(dataset='folder'):
  config = centre_prefill.get_config(dataset)
  config.optimizer.generator_learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  config.num_train_steps = 1000
  config.checkpoint_every_steps = 200
  config.init.workdir = 'runs/tin_pretrain'
  return config
