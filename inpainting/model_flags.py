"""The flags by which a tool names the model it fills with.

`--config=FILE --workdir=RUN [--step=N]` (a run's checkpoint), or
`--weights=FILE.safetensors` (an exported generator, `tools/export.py`),
or none of them: the shipped weights. `define()` at a tool's import,
`named_model()` in its main.
"""

from __future__ import annotations

from typing import Any

from absl import flags
import ml_collections
from ml_collections import config_flags

from inpainting import export

FLAGS = flags.FLAGS


def define() -> None:
  """Defines --config, --workdir, --step and --weights."""
  config_flags.DEFINE_config_file('config', None, "The run's config file.",
                                  lock_config=True)
  flags.DEFINE_string('workdir', None, 'The training run holding '
                      'checkpoints (with --config).')
  flags.DEFINE_integer('step', None, 'Checkpoint step (the latest if unset).')
  flags.DEFINE_string('weights', None, 'An exported generator '
                      '(tools/export.py: NAME.safetensors, its config '
                      'NAME.json beside it), instead of --config and '
                      '--workdir; "shipped" (the default when neither is '
                      "given): the package's.")


def named_model() -> tuple[ml_collections.ConfigDict, Any, str]:
  """(config, state, its name) of the model the flags name."""
  return export.named_model(FLAGS.config, FLAGS.workdir, FLAGS.step,
                            FLAGS.weights)
