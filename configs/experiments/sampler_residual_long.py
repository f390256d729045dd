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
Result: in progress (docs/experiments/14_sampler.md says how far).

  python -m inpainting.main --config=configs/experiments/sampler_residual_long.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip \
      --workdir=runs/sampler_residual_long
  # then the same command with --mode=evaluate (report.{json,md,png})
"""

from configs.experiments import sampler_residual_coco64


def get_config(dataset='folder'):
  config = sampler_residual_coco64.get_config(dataset)
  config.num_train_steps = 4_000
  config.log_every_steps = 50
  config.checkpoint_every_steps = 100
  config.eval_every_steps = 1_000
  return config
