"""coco64: the comparisons' common ground, the seed's model on coco64.

`configs/default.py` (the seed's architecture and optimiser) with the
context encoder's loss balance, 0.999 hole MSE + 0.001 adversarial, which
was `configs/caption_gan.py`'s from the first comparison to the twelfth,
on the coco64 photographs (13,215 MSCOCO images at 64x64 with their
captions: 12,195 train, 1,020 validation), batch 32, 800 steps. Frozen
here, so that the runs stay what they were when the main job moves.
Budget: 800 steps at batch 32 = 25,600 training images.
Result: see its children (docs/experiments/README.md).

  python -m inpainting.main --config=configs/experiments/RUN.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/RUN
  # then the same command with --mode=evaluate (report.{json,md,png})
"""

from configs import default


def get_config(dataset='folder'):
  config = default.get_config(dataset)
  config.loss.reconstruction_weight = 0.999
  config.loss.adversarial_weight = 0.001
  config.batch_size = 32
  config.num_train_steps = 800
  config.log_every_steps = 25
  config.eval_every_steps = 200
  config.checkpoint_every_steps = 400
  config.eval.num_examples_during_training = 250
  return config
