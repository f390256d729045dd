"""A tiny CPU config for tests: narrow networks, a few steps, tiny data."""

from configs import default


def get_config(dataset=None):
  config = default.get_config()
  config.dataset.name = 'synthetic_shapes/tiny'
  default.set_dataset(config, dataset)
  config.dataset.shuffle_buffer_size = 64
  config.model.generator.encoder_features = (8, 8, 16, 16)
  config.model.generator.decoder_features = (16, 8, 8, 3)
  config.model.critic.features = (8, 8, 16, 16)
  config.model.caption_features = 8
  config.batch_size = 8
  config.num_train_steps = 6
  config.log_every_steps = 2
  config.checkpoint_every_steps = 3
  config.num_sample_images = 4
  config.eval_every_steps = 3
  config.eval.batch_size = 16
  config.eval.num_examples_during_training = 16
  config.eval.sample_examples = 16
  config.eval.retrieval_examples = 4
  return config

