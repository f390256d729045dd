"""Entry point: `python -m inpainting.main --config=configs/caption_gan.py`.

Kept short on purpose: flags in, one call out. See train.py and evaluate.py.

Several processes (multi-host GPU, CPU clusters) run the same command with
`--coordinator_address`, `--num_processes` and `--process_id` (or the
environment variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
JAX_PROCESS_ID); `--distributed` alone lets JAX detect the cluster (TPU
pods, SLURM, ...).
"""

import os

from absl import flags
from absl import logging
import jax
from ml_collections import config_flags
import tensorflow as tf

from configs import default as default_config
from inpainting import config_lib
from inpainting import errors
from inpainting import evaluate
from inpainting import export
from inpainting import implementations
from inpainting import train

FLAGS = flags.FLAGS

flags.DEFINE_string('workdir', None, 'Where checkpoints, TensorBoard events '
                    'and samples go; rerunning with it resumes the run.')
flags.DEFINE_enum('mode', 'train', ['train', 'evaluate'],
                  'train (resuming from workdir), or evaluate a checkpoint '
                  'of workdir into workdir/report.{json,md,png}.')
flags.DEFINE_integer('step', None, 'With --mode=evaluate: the checkpoint '
                     'step to evaluate (the latest if unset).')
flags.DEFINE_string('report_dir', None, 'With --mode=evaluate: where '
                    'report.{json,md,png} go (default: the workdir), e.g. to '
                    'score a checkpoint on another dataset beside its own '
                    'report.')
flags.DEFINE_string('weights', None, 'With --mode=evaluate: score an '
                    'exported generator (tools/export.py: NAME.safetensors, '
                    'NAME.json beside it; "shipped": the package\'s) instead '
                    'of a workdir\'s checkpoint, on the data and eval fields '
                    'of --config; the report goes to --report_dir.')
flags.DEFINE_bool('distributed', False, 'Call jax.distributed.initialize() '
                  'and let JAX detect the cluster (implied by the three '
                  'flags below).')
flags.DEFINE_string('coordinator_address', None, 'host:port of process 0, '
                    'for multi-process runs [$JAX_COORDINATOR_ADDRESS].')
flags.DEFINE_integer('num_processes', None, 'Number of processes '
                     '[$JAX_NUM_PROCESSES].')
flags.DEFINE_integer('process_id', None, 'This process, in [0, '
                     'num_processes) [$JAX_PROCESS_ID].')
config_flags.DEFINE_config_file(
    'config', None, 'A config file, e.g. configs/caption_gan.py.',
    lock_config=True)
flags.mark_flags_as_required(['config'])

def _initialize_distributed() -> None:
  """Joins a multi-process run if the flags or the environment ask for it."""
  address = FLAGS.coordinator_address or os.environ.get(
      'JAX_COORDINATOR_ADDRESS')
  count = FLAGS.num_processes or os.environ.get('JAX_NUM_PROCESSES')
  index = FLAGS.process_id
  if index is None and 'JAX_PROCESS_ID' in os.environ:
    index = os.environ['JAX_PROCESS_ID']
  if not (FLAGS.distributed or address or count or index is not None):
    return
  # Collectives between CPU processes (tests, CPU clusters) need gloo.
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(
      coordinator_address=address,
      num_processes=int(count) if count is not None else None,
      process_id=int(index) if index is not None else None)


def main(argv):
  if len(argv) > 1:
    raise errors.UserError(f'Unexpected arguments {argv[1:]}: every option is '
                           'a flag, e.g. --workdir=DIR.')
  if FLAGS.weights:
    if FLAGS.mode != 'evaluate' or FLAGS.workdir or not FLAGS.report_dir:
      raise errors.UserError(
          f'--weights={FLAGS.weights}: only with --mode=evaluate and '
          '--report_dir=DIR, without --workdir (an exported generator is '
          'scored instead of a checkpoint).')
  elif not FLAGS.workdir:
    raise errors.UserError('--workdir=DIR is required (or, with '
                           '--mode=evaluate, --weights=FILE and '
                           '--report_dir=DIR).')
  if FLAGS.report_dir and FLAGS.mode != 'evaluate':
    raise errors.UserError(f'--report_dir={FLAGS.report_dir}: only with '
                           '--mode=evaluate (training writes to --workdir).')
  _initialize_distributed()
  # tf.data only: keep TensorFlow off the accelerators JAX uses.
  tf.config.experimental.set_visible_devices([], 'GPU')
  logging.info('JAX process %d/%d, local devices: %s', jax.process_index(),
               jax.process_count(), jax.local_devices())
  config_lib.validate(FLAGS.config, device_count=jax.device_count(),
                      process_count=jax.process_count(),
                      reference=default_config.get_config())
  model = FLAGS.config.model
  logging.info('Layers on %s: conv_impl=%s, batch_norm_impl=%s (config: '
               '%s, %s).', jax.default_backend(),
               *implementations.resolve(model.layers.conv_impl,
                                        model.layers.batch_norm_impl),
               model.layers.conv_impl, model.layers.batch_norm_impl)
  if FLAGS.mode == 'train':
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  elif FLAGS.weights:
    config, state = export.for_evaluation(FLAGS.config, FLAGS.weights)
    evaluate.evaluate(config, str(export.resolve(FLAGS.weights)),
                      report_dir=FLAGS.report_dir, state=state)
  else:
    evaluate.evaluate(FLAGS.config, FLAGS.workdir, FLAGS.step,
                      report_dir=FLAGS.report_dir)


if __name__ == '__main__':
  errors.run(main)
