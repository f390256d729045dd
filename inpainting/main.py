"""Entry point: `python -m inpainting.main --config=configs/caption_gan.py`.

Kept short on purpose: flags in, one call out. See train.py and evaluate.py.
"""

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags
import tensorflow as tf

from inpainting import evaluate
from inpainting import train

FLAGS = flags.FLAGS

flags.DEFINE_string('workdir', None, 'Where checkpoints, TensorBoard events '
                    'and samples go; rerunning with it resumes the run.')
flags.DEFINE_enum('mode', 'train', ['train', 'evaluate'],
                  'train (resuming from workdir), or evaluate a checkpoint '
                  'of workdir into workdir/report.{json,md,png}.')
flags.DEFINE_integer('step', None, 'With --mode=evaluate: the checkpoint '
                     'step to evaluate (the latest if unset).')
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
  if FLAGS.mode == 'train':
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  else:
    try:
      evaluate.evaluate(FLAGS.config, FLAGS.workdir, FLAGS.step)
    except (evaluate.NoCheckpointError,
            evaluate.checkpoints.CheckpointMismatchError) as e:
      # A clear message, not a stack of orbax internals.
      raise app.UsageError(str(e)) from None


if __name__ == '__main__':
  app.run(main)
