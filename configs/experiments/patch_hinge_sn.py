"""patch_hinge_sn: a spectral-norm patch critic with the hinge loss (DeepFill
v2), weight 0.01.

The second comparison, sharper fills, no grid, any hole
(docs/experiments/02_grid_critics_holes.md).
Budget: 800 steps at batch 32 = 25,600 training images.
Result (2026-11-26, coco64 validation, centre holes): hole MSE 0.0364, PSNR
15.12 dB, SSIM 0.168, sharpness 0.448.

  python -m inpainting.main --config=configs/experiments/patch_hinge_sn.py \
      --config.dataset.manual_dir=PATH/coco64-captions.zip --workdir=runs/patch_hinge_sn
"""

from configs.experiments import coco64


def get_config(dataset='folder'):
  config = coco64.get_config(dataset)
  config.model.layers.upsampling = 'nearest'
  config.model.critic.view = 'patch'
  config.model.critic.features = (64, 128, 256)
  config.model.critic.spectral_norm = True
  config.model.critic.batch_norm = False
  config.model.critic.activation = 'leaky_relu'
  config.loss.adversarial = 'hinge'
  config.loss.known_weight = 1.0
  config.loss.adversarial_weight = 0.01
  return config
