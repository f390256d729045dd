"""reference: the main job on coco64, long: the shipped weights.

The main job's recipe (configs/caption_gan.py: no critic, membrane first
guess, full-resolution skip, PSNR loss, holes of every kind) on the coco64
training split, 4,000 steps at batch 32. Its averaged generator is
inpainting/weights/reference.safetensors (tools/export.py), which
tools/inpaint.py fills with when given no model
(docs/experiments/13_reference.md).
Budget: 4,000 steps at batch 32 = 128,000 training images.
Result (2026-12-06, stopped at step 2,948 of 4,000 = 94,336 images, coco64
validation): hole MSE 0.0322, PSNR 15.86 dB, SSIM 0.215, sharpness 0.228 on centre holes (+1.08 dB over Telea); boxes 18.22 dB, strokes 20.15 dB; the shipped weights
(docs/experiments/13_reference.md).

  python -m inpainting.main --config=configs/experiments/reference.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/reference
  python tools/export.py --config=configs/experiments/reference.py --step=2948 \
      runs/reference inpainting/weights/reference.safetensors
"""

from configs import caption_gan


def get_config(dataset='folder'):
  config = caption_gan.get_config(dataset)
  config.batch_size = 32
  config.num_train_steps = 4000
  config.checkpoint_every_steps = 200
  config.eval_every_steps = 400
  return config
