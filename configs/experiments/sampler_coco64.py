"""sampler_coco64: the sampler on coco64, at the mean model's budget.

configs/sampler.py (the caption-conditioned diffusion model, holes of every
kind), drawing the hole from nothing (no mean fill; sigma_data 0.5, the
images' own deviation), on the coco64 training split, batch 32, 400 steps, compared with the
mean model (the shipped model's run, `reference`) and the classical
methods. A step of the sampler does the main job's work (XLA counts 7.39
GFLOP an image against 7.35). Evaluated on the first 256 validation images,
4 draws of each of the first 128 (`eval.sample_examples`, a draw costs 31
U-Net evaluations), guidance 2 against none on them, caption retrieval on
20 (the first run used fewer: docs/experiments/14_sampler.md).
Budget: 400 steps at batch 32 = 12,800 training images.
Result (2026-12-07, step 400; the first 128 coco64 validation images,
centre holes): one draw: hole MSE 0.0900, PSNR 10.65 dB, seam +0.078,
sharpness 1.24, SWD 121.8 (floor 51.4, the mean model 185.0, Telea 95.0);
mean of 4 draws 12.86 dB, calibration 1.14; captions +0.11% of the
denoising loss, CI above zero; blotches of colour. Drawing around the mean
fill does better on all but the captions (sampler_residual_coco64;
docs/experiments/14_sampler.md).

  python -m inpainting.main --config=configs/experiments/sampler_coco64.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip \
      --workdir=runs/sampler_coco64
  # then the same command with --mode=evaluate (report.{json,md,png})
"""

from configs import sampler


def get_config(dataset='folder'):
  config = sampler.get_config(dataset)
  config.diffusion.mean_fill = ''
  config.diffusion.sigma_data = 0.5
  config.batch_size = 32
  config.num_train_steps = 400
  config.log_every_steps = 25
  config.checkpoint_every_steps = 100
  config.eval_every_steps = 200
  config.eval.num_examples_during_training = 64
  config.eval.num_examples = 256
  config.eval.sample_examples = 128
  config.eval.retrieval_examples = 20
  config.eval.guidance_scales = (2.0,)
  return config
