"""sampler_residual_long: the sampler around the mean fill, at the mean
model's whole budget.

configs/experiments/sampler_residual_coco64.py (the U-Net drawing the
residual from the shipped model's fill; at 400 steps it beat the sampler
from nothing on SWD, sample PSNR, calibration, sharpness and seam, not on
captions: docs/experiments/14_sampler.md) trained ten
times longer: 4,000 steps at batch 32 = 128,000 training images, the
shipped mean model's own budget, on the same cosine schedule. It runs
for hours on a 2-core CPU: a checkpoint every 100 steps, and the same
command resumes it exactly (also in a later session).
Budget: 4,000 steps at batch 32 = 128,000 training images.
Result (2026-12-07, stopped and scored at step 2,000 = 64,000 images,
first 128 coco64 validation images, centre holes): one draw 12.37 dB,
seam +0.010, sharpness 1.10, SWD 52.2 (floor 51.4: 1.02x, the lowest of
all methods); mean of 4 draws 14.43 dB, calibration 1.05; captions
+0.12% of the denoising loss, +0.76% at the top noise level (the mean
model: +0.93%), CIs above zero. The same command resumes
it to 4,000 steps.

  python -m inpainting.main --config=configs/experiments/sampler_residual_long.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip \
      --workdir=runs/sampler_residual_long
  # then the same command with --mode=evaluate --step=2000 (report.{json,md,png};
  # the evaluation flags are in docs/experiments/14_sampler.md)
"""

from configs.experiments import sampler_residual_coco64


def get_config(dataset='folder'):
  config = sampler_residual_coco64.get_config(dataset)
  config.num_train_steps = 4_000
  config.log_every_steps = 50
  config.checkpoint_every_steps = 100
  config.keep_checkpoints_every = 1_000  # steps 1,000 ... 4,000 stay to score
  config.eval_every_steps = 1_000
  return config
