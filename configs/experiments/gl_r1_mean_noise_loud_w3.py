"""gl_r1_mean_noise_loud_w3: three times the critic weight (0.03).

The eleventh comparison, a louder critic on the noise
(docs/experiments/11_louder_critic.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-30, coco64 validation, centre holes): 13.26 dB, SSIM 0.101,
sharpness 1.095, seam +0.023; at noise_scale 0: 15.63 dB, SSIM 0.202.

  python -m inpainting.main --config=configs/experiments/gl_r1_mean_noise_loud_w3.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/gl_r1_mean_noise_loud_w3
"""

from configs.experiments import gl_r1_mean_noise_loud


def get_config(dataset='folder'):
  config = gl_r1_mean_noise_loud.get_config(dataset)
  config.loss.adversarial_weight = 0.03
  config.loss.reconstruction_weight = 0.97
  return config
