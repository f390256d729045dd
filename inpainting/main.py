"""Entry point: `python -m inpainting.main --config=configs/caption_gan.py`.

Kept short on purpose: flags in, one call out. See train.py.
"""

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags
import tensorflow as tf

from inpainting import train

FLAGS = flags.FLAGS

flags.DEFINE_string('workdir', None, 'Where checkpoints, TensorBoard events '
                    'and samples go; rerunning with it resumes the run.')
config_flags.DEFINE_config_file(
    'config', None, 'A config file, e.g. configs/caption_gan.py.',
    lock_config=True)
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # tf.data only: keep TensorFlow off the accelerators JAX uses.
  tf.config.experimental.set_visible_devices([], 'GPU')
  logging.info('JAX process %d/%d, local devices: %s', jax.process_index(),
               jax.process_count(), jax.local_devices())
  train.train_and_evaluate(FLAGS.config, FLAGS.workdir)


if __name__ == '__main__':
  app.run(main)
