"""sampler_coco64: the sampler on coco64, at the mean model's budget.

configs/sampler.py (the caption-conditioned diffusion model, holes of every
kind) on the coco64 training split, batch 32, 400 steps, compared with the
mean model (the shipped model's run, `reference`) after as many training
images, and with the classical methods. A step of the sampler does the
main job's work (7.39 GFLOP an image against 7.35) but takes about 3.3 s
on the 2-core CPU, so this is the budget one session affords beside its
evaluation and the tests. Evaluated on the first 256 validation images
(a draw costs 31 U-Net evaluations), 4 draws of each of the first 128
(`eval.sample_examples`), guidance 2 against none on them, caption
retrieval on 20.
Budget: 400 steps at batch 32 = 12,800 training images.
Result: docs/experiments/14_sampler.md.

  python -m inpainting.main --config=configs/experiments/sampler_coco64.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/sampler_coco64
  # then the same command with --mode=evaluate (report.{json,md,png})
"""

from configs import sampler


def get_config(dataset='folder'):
  config = sampler.get_config(dataset)
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
