"""Export a run's generator for filling without orbax or a workdir.

  python tools/export.py --config=configs/caption_gan.py WORKDIR OUT.safetensors \
      [--step=N] [--dtype=float16]

Writes OUT.safetensors (the generator's moving average, or its parameters,
with its BatchNorm statistics) and OUT.json (the config) beside it; refuses
to replace either. `tools/inpaint.py --weights=OUT.safetensors` and
`inpainting.export.load` read them back.
"""

from __future__ import annotations

import pathlib

from absl import flags
from absl import logging
from ml_collections import config_flags

from inpainting import config_lib
from inpainting import errors
from inpainting import export
from inpainting import inference

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, "The run's config file.",
                                lock_config=True)
flags.DEFINE_integer('step', None, 'Checkpoint step (the latest if unset).')
flags.DEFINE_enum('dtype', 'float16', export.DTYPES, 'The stored dtype.')
flags.mark_flags_as_required(['config'])


def main(argv):
  if len(argv) != 3:
    raise errors.UserError('Give the run\'s WORKDIR and the OUT.safetensors '
                           f'file after the flags (got {argv[1:]}).')
  workdir, out = argv[1], pathlib.Path(argv[2])
  if out.suffix != '.safetensors':
    raise errors.UserError(f'{out}: name a .safetensors file (its config '
                           'goes beside it, as .json).')
  config = FLAGS.config
  config_lib.validate_for_tool(config, reads_data=False)
  export.check_exportable(config)  # before reading the checkpoint
  state = inference.restore(config, workdir, FLAGS.step)
  export.export(config, state, out, FLAGS.dtype)
  logging.info('Wrote %s (%s, step %d, %.1f MB) and %s.', out, FLAGS.dtype,
               int(state.step), out.stat().st_size / 1e6,
               export.config_path(out))


if __name__ == '__main__':
  errors.run(main)
