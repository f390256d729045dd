"""What detail costs in PSNR when it cannot be predicted: a frontier.

  python tools/texture_frontier.py --config=configs/caption_gan.py \
      --workdir=runs/mse_only --output=frontier.md \
      [--strengths=0,0.25,0.5,0.75,1] [--step=N] [--config.eval.*=...]

A model trained on MSE predicts the mean of what the hole could hold: it
is blurred (sharpness well below 1) exactly where the border does not
determine the content. Adding detail to such a fill costs PSNR unless the
detail is the right one. This tool measures how much, on the eval split's
centre holes: to each image's fill m it adds, inside the hole,

- `texture`: s times another image's residual (that image's real hole
  minus its own fill: natural detail, with real images' statistics, but
  not this image's), the next image of the split, cyclically;
- `noise`: independent Gaussian noise per pixel and channel with the same
  energy as that residual (its root mean square per image) times s,

clipped to [0, 1], and scores each with the protocol's metrics (hole PSNR,
SSIM, seam, sharpness; docs/evaluation.md). s = 0 is the model itself.
The texture rows are what a fill that draws realistic detail without
knowing the real one would score; a model above that curve (more
sharpness at the same PSNR) gets its sharpness from detail that is right,
or from noise, which the noise rows show is cheap in PSNR and shows in
SSIM. The output is a Markdown table (and the same rows as JSON beside
it); an existing output file is never overwritten.
"""

from __future__ import annotations

import json
import pathlib

from absl import flags
from absl import logging
from ml_collections import config_flags
import numpy as np

from inpainting import errors
from inpainting import evaluate
from inpainting import inference
from inpainting import input_pipeline
from inpainting import masks

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, "The run's config file.",
                                lock_config=True)
flags.DEFINE_string('workdir', None, 'The training run holding checkpoints.')
flags.DEFINE_integer('step', None, 'Checkpoint step (the latest if unset).')
flags.DEFINE_string('output', None, 'The Markdown table to write (.md); the '
                    'rows also go to the same name with .json.')
flags.DEFINE_list('strengths', ['0', '0.25', '0.5', '0.75', '1'],
                  'Multiples s of the added detail, each >= 0.')
flags.DEFINE_integer('seed', 0, 'Seed of the noise rows.')
flags.mark_flags_as_required(['config', 'workdir', 'output'])

def _strengths(values: list[str]) -> list[float]:
  try:
    strengths = [float(v) for v in values]
  except ValueError:
    raise errors.UserError(f'--strengths={",".join(values)}: expected '
                           'numbers, e.g. 0,0.5,1.') from None
  if not strengths or min(strengths) < 0:
    raise errors.UserError(f'--strengths={",".join(values)}: each must be '
                           '>= 0.')
  return strengths


def main(argv):
  if len(argv) > 1:
    raise errors.UserError(f'Unexpected arguments: {argv[1:]}.')
  strengths = _strengths(FLAGS.strengths)
  output = pathlib.Path(FLAGS.output)
  for path in (output, output.with_suffix('.json')):
    if path.exists():
      raise errors.UserError(f'--output: {path} exists; name another file '
                             '(nothing is overwritten).')
  config = FLAGS.config
  state = inference.restore(config, FLAGS.workdir, FLAGS.step)
  builder = input_pipeline.get_builder(config)
  input_pipeline.check_split(builder, config.eval.split, 'eval.split')
  ds = input_pipeline.create_eval_dataset(
      config, builder, config.eval.split, batch_size=config.eval.batch_size,
      num_examples=config.eval.num_examples)
  fills, targets = [], []
  for batch in ds.as_numpy_iterator():
    fills.append((inference.fill(state, batch, config) + 1.0) / 2.0)
    targets.append((batch['image'] + 1.0) / 2.0)
  fills, targets = np.concatenate(fills), np.concatenate(targets)
  box = masks.hole_box(masks.centre_mask(config.image_size, config.mask.size))
  if len(fills) < 2:
    raise errors.UserError(f'config.eval.num_examples: the split '
                           f'{config.eval.split!r} gave {len(fills)} '
                           'image(s); the frontier needs two or more.')
  rows = evaluate.detail_frontier(fills, targets, box, strengths,
                                 seed=FLAGS.seed)
  title = (f'Detail added to {FLAGS.workdir} at step {int(state.step)}: '
           f'{len(fills)} images of {config.dataset.name} '
           f'{config.eval.split}, centre holes')
  output.parent.mkdir(parents=True, exist_ok=True)
  output.write_text(evaluate.frontier_markdown(rows, title))
  output.with_suffix('.json').write_text(json.dumps(
      {'workdir': str(FLAGS.workdir), 'step': int(state.step),
       'num_examples': len(fills), 'rows': rows}, indent=2) + '\n')
  logging.info('Wrote %s:\n%s', output,
               evaluate.frontier_markdown(rows, title))


if __name__ == '__main__':
  errors.run(main)
