"""The sampler: draws of the hole by a caption-conditioned diffusion model.

`config.method='diffusion'` (inpainting/diffusion.py): EDM's
preconditioning, loss weight and Heun sampler (16 levels, 31 network
evaluations a draw, deterministic for a seed) around a small U-Net
(3.90 M parameters, 2.47 GFLOP an image an evaluation) that reads the
noisy hole, the visible border, the mask, the noise level and the caption
(FiLM). Caption dropout 0.1 makes classifier-free guidance possible
(`--config.guidance=S`). Trained, like the main job, on holes of every
kind with mirrored images, Adam at 1e-3 with b1 0.9 on a cosine schedule
and a moving average of the weights (EDM's and the main job's choices).

Where the main job (configs/caption_gan.py) gives the best single fill by
PSNR, a blurred mean, this gives sharp fills, each a plausible hole,
judged by their distribution (SWD) and calibration (docs/evaluation.md).

The draws are of the residual around the shipped mean model's fill
(`diffusion.mean_fill='shipped'`, frozen; `sigma_data` 0.3, the residual's
deviation): at an equal budget this beat drawing the hole from nothing on
every measure, SWD 76.9 against 121.8, one draw 12.40 dB against 10.65,
calibration 1.01 against 1.14 (docs/experiments/14_sampler.md). A step
also runs the mean model forward (9.83 GFLOP an image against 7.38).
`--config.diffusion.mean_fill=''` and `--config.diffusion.sigma_data=0.5`
draw from nothing (configs/experiments/sampler_coco64.py).

The schedule is the quick start's, sized for a 2-core CPU on the embedded
data; the coco64 runs are configs/experiments/sampler_*.py.

  python -m inpainting.main --config=configs/sampler.py --workdir=runs/sampler
"""

from configs import caption_gan


def get_config(dataset=None):
  config = caption_gan.get_config(dataset)
  config.method = 'diffusion'
  config.caption_dropout = 0.1
  config.diffusion.mean_fill = 'shipped'
  config.diffusion.sigma_data = 0.3
  return config
