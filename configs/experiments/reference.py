"""reference: the main job on coco64, long: the shipped weights.

The main job's recipe (configs/caption_gan.py: no critic, membrane first
guess, full-resolution skip, PSNR loss, holes of every kind) on the coco64
training split, 4,000 steps at batch 32. Its averaged generator is
inpainting/weights/reference.safetensors (tools/export.py), which
tools/inpaint.py fills with when given no model
(docs/experiments/13_reference.md).
Budget: 4,000 steps at batch 32 = 128,000 training images.
Result (2026-12-07, step 4,000 = 128,000 images, coco64 validation): hole
MSE 0.0320, PSNR 15.90 dB, SSIM 0.217, sharpness 0.232 on centre holes
(+1.11 dB over Telea, +0.53 over the pull-push membrane); boxes 18.26 dB,
strokes 20.20 dB; the shipped weights (docs/experiments/13_reference.md).
Trained in two sessions: stopped at step 2,948, resumed exactly.

  python -m inpainting.main --config=configs/experiments/reference.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/reference
  python tools/export.py --config=configs/experiments/reference.py --step=4000 \
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
