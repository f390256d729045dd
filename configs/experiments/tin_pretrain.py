"""tin_pretrain: the long recipe's first 1,000 steps on Tiny ImageNet (pass
:tiny_imagenet and its zip).

The eighth comparison, pretraining on Tiny ImageNet and the critic after
reconstruction (docs/experiments/08_pretraining_critic_after.md).
Budget: 1,000 steps at batch 32 = 32,000 training images.
Result (2026-11-30, Tiny ImageNet validation, centre holes): 15.50 dB on 250 of
its own validation images.

  python -m inpainting.main --config=configs/experiments/tin_pretrain.py:tiny_imagenet \
      --config.dataset.manual_dir=PATH/tiny-imagenet-200.zip --workdir=runs/tin_pretrain
"""

from configs.experiments import centre_prefill


def get_config(dataset='tiny_imagenet'):
  config = centre_prefill.get_config(dataset)
  config.optimizer.generator_learning_rate = 1e-3
  config.optimizer.b1 = 0.9
  config.num_train_steps = 1000
  config.checkpoint_every_steps = 200
  config.eval_every_steps = 500
  return config
