"""The tiny CPU config of the diffusion sampler, for tests: a 2-level
U-Net, 2 levels of Heun's sampler, 3 draws of each of 8 images."""

from configs import tiny


def get_config(dataset=None):
  config = tiny.get_config(dataset)
  config.method = 'diffusion'
  config.caption_dropout = 0.25
  config.diffusion.unet.features = (8, 16)
  config.diffusion.unet.attention_levels = (1,)
  config.diffusion.unet.embedding_features = 16
  config.diffusion.sampling_steps = 2
  config.eval.samples = 3
  config.eval.sample_examples = 8
  config.eval.guidance_scales = (2.0,)
  return config
