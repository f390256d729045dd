"""What detail costs in PSNR when it cannot be predicted: a frontier.

  python tools/texture_frontier.py --config=configs/caption_gan.py \
      --workdir=runs/mse_only --output=frontier.md \
      [--strengths=0,0.25,0.5,0.75,1] [--sharpen=1,2,4] [--step=N] \
      [--config.eval.*=...]

A model trained on MSE predicts the mean of what the hole could hold: it
is blurred (sharpness well below 1) exactly where the border does not
determine the content. Adding detail to such a fill costs PSNR unless the
detail is the right one. This tool measures how much, on the eval split's
centre holes: to each image's fill m it adds, inside the hole,

- `texture`: s times another image's residual (that image's real hole
  minus its own fill: natural detail, with real images' statistics, but
  not this image's), the next image of the split, cyclically;
- `noise`: independent Gaussian noise per pixel and channel with the same
  energy as that residual (its root mean square per image) times s;
- `sharpened`: a times the fill's own detail, the composite minus its
  Gaussian blur (`--sharpen_sigma` pixels), for a in `--sharpen`: an
  unsharp mask, the edges the model drew made steeper,

clipped to [0, 1], and scores each with the protocol's metrics (hole PSNR,
SSIM, seam, sharpness; docs/evaluation.md). s = 0 is the model itself.
The texture rows are what a fill that draws realistic detail without
knowing the real one would score; a model above that curve (more
sharpness at the same PSNR) gets its sharpness from detail that is right,
or from noise, which the noise rows show is cheap in PSNR and shows in
SSIM; the sharpened rows show what the model's own detail, amplified,
buys. The output is a Markdown table, the same rows as JSON beside it,
and a plot of PSNR against sharpness (.png) with, from --reports (run or
report folders holding a `report.json` of the same split), each run's
model and the first report's baselines, and an enlarged grid of the first
`--grid_examples` images (`<output>_fills.png`: the real image, the
model's fill, then each kind at its largest strength) to look at; an
existing output file is never overwritten.
"""

from __future__ import annotations

import json
import pathlib

from absl import flags
from absl import logging
from ml_collections import config_flags
import matplotlib
matplotlib.use('Agg')  # files only, no display
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
from PIL import Image

from inpainting import config_lib
from inpainting import errors
from inpainting import evaluate
from inpainting import frontier
from inpainting import grids
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
flags.DEFINE_list('sharpen', ['1', '2', '4'], 'Amounts a of the unsharp '
                  "mask's rows (the fill's own detail added a times), each "
                  '>= 0; empty: none.')
flags.DEFINE_float('sharpen_sigma', 1.0, "The unsharp mask's blur, its "
                   'standard deviation in pixels (> 0).')
flags.DEFINE_integer('seed', 0, 'Seed of the noise rows.')
flags.DEFINE_integer('grid_examples', 8, 'Images in the enlarged grid of '
                     'fills (<output>_fills.png), >= 1.')
flags.DEFINE_list('reports', [], 'Folders holding a report.json (runs '
                  'evaluated on the same split) whose models, and the first '
                  "one's baselines, are placed on the plot and tabled.")
flags.mark_flags_as_required(['config', 'workdir', 'output'])

def points(report_dirs: list[pathlib.Path]) -> list[tuple[str, dict]]:
  """(label, metrics) of each report's model, then the first's baselines."""
  out = []
  for i, folder in enumerate(report_dirs):
    methods = evaluate.read_report(folder)['methods']
    for method, values in methods.items():
      if method == evaluate.MODEL:
        out.append((folder.name, values))
      elif i == 0:
        out.append((method, values))
  return out


def points_markdown(labelled: list[tuple[str, dict]]) -> str:
  lines = ['',
           '| run or method (its report) | PSNR | SSIM | seam | sharpness |',
           '| --- | --- | --- | --- | --- |']
  for label, m in labelled:
    lines.append(f"| {label} | {m['psnr']:.2f} | {m['ssim']:.3f} | "
                 f"{m['seam']:+.3f} | {m['sharpness']:.3f} |")
  return '\n'.join(lines) + '\n'


def plot(rows: list[dict], labelled: list[tuple[str, dict]], title: str,
         path: pathlib.Path) -> None:
  """PSNR against sharpness: the frontier's two curves and the points."""
  figure, axis = plt.subplots(figsize=(7.5, 5))
  model = rows[0]
  for kind, style, name in (('texture', 'o-', "+ s x the next image's "
                             'residual'),
                            ('noise', 's--', '+ noise of that energy'),
                            ('sharpened', 'd:', "+ a x its own detail "
                             '(unsharp mask)')):
    curve = [model] + [r for r in rows if r['kind'] == kind]
    if len(curve) == 1:
      continue
    axis.plot([r['sharpness'] for r in curve], [r['psnr'] for r in curve],
              style, label=f'the fill {name}')
    for r in curve[1:]:
      axis.annotate(f"{r['strength']:g}", (r['sharpness'], r['psnr']),
                    textcoords='offset points', xytext=(4, 4), fontsize=7)
  for label, m in labelled:
    axis.plot(m['sharpness'], m['psnr'], 'k^')
    axis.annotate(label, (m['sharpness'], m['psnr']),
                  textcoords='offset points', xytext=(4, -10), fontsize=7)
  axis.axvline(1.0, color='grey', lw=0.5)
  axis.set_xlabel('sharpness (1 = as much detail as the real holes)')
  axis.set_ylabel('hole PSNR (dB)')
  axis.set_title(title, fontsize=8)
  axis.legend(fontsize=8)
  axis.grid(alpha=0.3)
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)


def fills_grid(fills: np.ndarray, targets: np.ndarray,
               added: dict[str, np.ndarray], strengths: list[float],
               sharpen: list[float], examples: int) -> np.ndarray:
  """The real images, the fills, and each kind at its largest strength."""
  columns, titles = [targets[:examples], fills[:examples]], ['real', 'model']
  for kind, amounts, name in (('texture', strengths, "next image's residual"),
                              ('noise', strengths, 'noise'),
                              ('sharpened', sharpen, 'own detail')):
    if amounts and max(amounts) > 0:
      columns.append(np.clip(
          fills[:examples] + max(amounts) * added[kind][:examples], 0, 1))
      titles.append(f'+ {max(amounts):g} x {name}')
  return grids.image_grid(columns, titles=titles)


def _amounts(flag: str, values: list[str], *, empty_ok: bool) -> list[float]:
  try:
    amounts = [float(v) for v in values]
  except ValueError:
    raise errors.UserError(f'--{flag}={",".join(values)}: expected '
                           'numbers, e.g. 0,0.5,1.') from None
  if (not amounts and not empty_ok) or min(amounts, default=0) < 0:
    raise errors.UserError(f'--{flag}={",".join(values)}: each must be '
                           '>= 0.')
  return amounts


def main(argv):
  if len(argv) > 1:
    raise errors.UserError(f'Unexpected arguments: {argv[1:]}.')
  strengths = _amounts('strengths', FLAGS.strengths, empty_ok=False)
  sharpen = _amounts('sharpen', FLAGS.sharpen, empty_ok=True)
  if FLAGS.sharpen_sigma <= 0:
    raise errors.UserError(f'--sharpen_sigma={FLAGS.sharpen_sigma}: must be '
                           '> 0.')
  output = pathlib.Path(FLAGS.output)
  labelled = points([pathlib.Path(d) for d in FLAGS.reports])
  if FLAGS.grid_examples < 1:
    raise errors.UserError(f'--grid_examples={FLAGS.grid_examples}: must be '
                           '>= 1.')
  grid_path = output.with_name(output.stem + '_fills.png')
  for path in (output, *(output.with_suffix(x) for x in ('.json', '.png')),
               grid_path):
    if path.exists():
      raise errors.UserError(f'--output: {path} exists; name another file '
                             '(nothing is overwritten).')
  config = FLAGS.config
  config_lib.validate_for_tool(config)
  state = inference.restore(config, FLAGS.workdir, FLAGS.step)
  builder = input_pipeline.get_builder(config)
  input_pipeline.check_split(builder, config.eval.split, 'eval.split')
  input_pipeline.check_held_out(builder, config)
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
  added = frontier.frontier_additions(fills, targets, box, seed=FLAGS.seed,
                                      sharpen_sigma=FLAGS.sharpen_sigma)
  rows = frontier.detail_frontier(fills, targets, box, added, strengths,
                                 sharpen=sharpen)
  title = (f'Detail added to {FLAGS.workdir} at step {int(state.step)}: '
           f'{len(fills)} images of {config.dataset.name} '
           f'{config.eval.split}, centre holes')
  output.parent.mkdir(parents=True, exist_ok=True)
  table = frontier.frontier_markdown(rows, title) + (
      points_markdown(labelled) if labelled else '')
  output.write_text(table)
  plot(rows, labelled, title, output.with_suffix('.png'))
  Image.fromarray(fills_grid(fills, targets, added, strengths, sharpen,
                             FLAGS.grid_examples)).save(grid_path)
  output.with_suffix('.json').write_text(json.dumps(
      {'workdir': str(FLAGS.workdir), 'step': int(state.step),
       'num_examples': len(fills), 'rows': rows}, indent=2) + '\n')
  logging.info('Wrote %s (and .json, .png, %s):\n%s', output, grid_path.name,
               table)


if __name__ == '__main__':
  errors.run(main)
