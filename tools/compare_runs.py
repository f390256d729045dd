"""Compare training runs: one Markdown table and one plot of their curves.

  python tools/compare_runs.py runs/a runs/b ... [--output=comparison]

Each WORKDIR is a training run evaluated with `--mode=evaluate` (its
`report.json`) and holding its TensorBoard events. Writes:

- `<output>.md`: one table, a row per run and method (the model and every
  baseline the report scored: hole L1, MSE, PSNR, SSIM, seam), and the
  caption ablation of each run (shuffled and zero minus true hole MSE, with
  its 95% confidence interval and as a percentage of the true MSE);
- `<output>.png`: the training loss, the training hole MSE and the held-out
  `eval/*` metrics of every run against the number of training images seen
  (step x the run's batch size), so runs of different batch sizes line up;
- `<output>_grid.png`: the report's first images side by side, enlarged 4x:
  masked | each run's fill | target (and `<output>_grid_<kind>.png` for
  each kind of hole the reports scored), where the runs were evaluated on
  the same images.

Baseline rows identical in every report (the same images and holes) are
given once; the reports' tables for other kinds of holes (`eval.mask_kinds`)
follow, one per kind.
"""

from __future__ import annotations

import json
import pathlib

from absl import flags
from absl import logging
import matplotlib
matplotlib.use('Agg')  # files only, no display
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top,wrong-import-position
from tensorboard.util import tensor_util  # pylint: disable=g-import-not-at-top,wrong-import-position

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
from PIL import Image  # pylint: disable=g-import-not-at-top,wrong-import-position

from inpainting import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
from inpainting import evaluate  # pylint: disable=g-import-not-at-top,wrong-import-position
from inpainting import grids  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string('output', 'comparison', 'Writes OUTPUT.md and OUTPUT.png; '
                    'neither may exist yet.')

# (TensorBoard tag, plot title), in the plot's order.
CURVES = (
    ('generator_loss', 'generator loss (training)'),
    ('hole_mse', 'hole MSE (training, [0, 1])'),
    ('eval/mse', 'hole MSE (held out)'),
    ('eval/psnr', 'hole PSNR, dB (held out)'),
    ('eval/ssim', 'hole SSIM (held out)'),
    ('eval/seam', 'seam (held out)'),
    ('eval/sharpness', 'sharpness (held out; 1 = real detail)'),
    ('eval/shuffled_minus_true_mse',
     'shuffled - true captions, hole MSE (held out)'),
)


def _run_name(workdir: pathlib.Path) -> str:
  return workdir.name or str(workdir)


def batch_size(workdir: pathlib.Path, report: dict) -> int:
  """The run's global batch size, from the config.json it wrote.

  A report written elsewhere (`--report_dir`) is read with the config of
  the run it names (the report's `workdir`).
  """
  path = workdir / 'config.json'
  if not path.exists() and report.get('workdir'):
    path = pathlib.Path(report['workdir']) / 'config.json'
  try:
    return int(json.loads(path.read_text())['batch_size'])
  except (OSError, ValueError, KeyError) as e:
    raise errors.UserError(f'{path}: cannot read the run\'s batch_size '
                           f'({e}).') from None


def read_curves(workdir: pathlib.Path) -> dict[str, list[tuple[int, float]]]:
  """{tag: [(step, value), ...]} of the CURVES the run's events hold."""
  curves: dict[str, dict[int, float]] = {}
  for path in sorted(workdir.glob('events.out.tfevents.*')):
    events = event_accumulator.EventAccumulator(
        str(path), size_guidance={event_accumulator.TENSORS: 0,
                                  event_accumulator.SCALARS: 0})
    events.Reload()
    tags = events.Tags()
    for tag, _ in CURVES:
      if tag in tags.get('tensors', ()):
        points = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
                  for e in events.Tensors(tag)]
      elif tag in tags.get('scalars', ()):
        points = [(e.step, e.value) for e in events.Scalars(tag)]
      else:
        continue
      # A resumed run repeats steps in a later file: the later value wins.
      curves.setdefault(tag, {}).update(points)
  return {tag: sorted(points.items()) for tag, points in curves.items()}


_SCORES = ('l1', 'mse', 'psnr', 'ssim', 'seam', 'sharpness')


def _table(tables: dict[str, dict]) -> list[str]:
  """Rows of runs x methods; a baseline scored alike in every run, once.

  Args:
    tables: run name -> {'step', 'num_examples', 'methods'}.
  """
  lines = ['| run | step | images | method | L1 | MSE | PSNR | SSIM | seam | '
           'sharpness |',
           '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  def row(run, table, method, m):
    sharp = f"{m['sharpness']:.3f}" if 'sharpness' in m else 'n/a'
    return (f"| {run} | {table['step']} | {table['num_examples']} | "
            f"{method} | {m['l1']:.4f} | {m['mse']:.4f} | {m['psnr']:.2f} | "
            f"{m['ssim']:.3f} | {m['seam']:+.3f} | {sharp} |")

  def scores(m):
    return tuple(m.get(k) for k in _SCORES)

  shared = []
  first = next(iter(tables.values()))
  for method, m in first['methods'].items():
    if not method.startswith('model') and len(tables) > 1 and all(
        method in t['methods'] and scores(t['methods'][method]) == scores(m)
        and t['num_examples'] == first['num_examples']
        for t in tables.values()):
      shared.append(method)
  for name, table in tables.items():
    for method, m in table['methods'].items():
      if method not in shared:
        lines.append(row(name, table, method, m))
  for method in shared:  # the same images and holes: the same scores
    lines.append(row('(every run)', {'step': '', 'num_examples': first[
        'num_examples']}, method, first['methods'][method]))
  return lines


def markdown(reports: dict[str, dict]) -> str:
  """The comparison tables of several runs' reports."""
  lines = _table(reports)
  lines += ['', 'Caption ablation: hole MSE with another image\'s caption '
            '(shuffled) or a zero embedding, minus with the true caption; '
            'paired per image, 95% bootstrap CI.', '',
            '| run | true MSE | shuffled - true | 95% CI | % of true | '
            'zero - true | 95% CI | % of true |',
            '| --- | --- | --- | --- | --- | --- | --- | --- |']
  for name, report in reports.items():
    ablation = report.get('caption_ablation')
    if ablation is None:
      lines.append(f'| {name} | (no caption input) | | | | | | |')
      continue
    cells = [f"{ablation['true_mse']:.4f}"]
    for kind in ('shuffled', 'zero'):
      d = ablation[f'{kind}_minus_true']
      cells += [f"{d['mean']:+.5f}",
                f"[{d['ci95'][0]:+.5f}, {d['ci95'][1]:+.5f}]",
                f"{100 * d['mean'] / ablation['true_mse']:+.1f}%"]
    lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
  kinds = sorted({k for r in reports.values() for k in r.get('mask_kinds', {})})
  for kind in kinds:
    lines += ['', f'Holes of kind `{kind}` (the reports\' fixed sets):', '',
              *_table({n: {**r['mask_kinds'][kind], 'step': r['step']}
                       for n, r in reports.items()
                       if kind in r.get('mask_kinds', {})})]
  return '\n'.join(lines) + '\n'


def read_samples(workdirs: dict[str, pathlib.Path],
                 suffix: str) -> dict[str, dict[str, np.ndarray]] | None:
  """Each run's `report_samples<suffix>.npz`, or None (logged) when a run
  has none, or they are not of the same images and holes."""
  samples = {}
  for name, workdir in workdirs.items():
    path = workdir / f'report_samples{suffix}.npz'
    try:
      with np.load(path) as data:
        samples[name] = {k: data[k] for k in data.files}
    except FileNotFoundError:
      logging.warning('%s has no report_samples%s.npz (evaluated before it '
                      'was written): no side-by-side grid%s.', workdir,
                      suffix, suffix)
      return None
    except (OSError, ValueError, EOFError) as e:
      raise errors.UserError(f'{path}: not readable ({e}).') from None
    missing = {'masked', 'model', 'target', 'captions'} - samples[name].keys()
    if missing:
      raise errors.UserError(f'{path}: lacks {sorted(missing)}; is it a '
                             'file --mode=evaluate wrote?')
  first = next(iter(samples.values()))
  if not all(np.array_equal(s['target'], first['target']) and
             np.array_equal(s['masked'], first['masked'])
             for s in samples.values()):
    logging.warning('The runs were evaluated on different images or holes: '
                    'no side-by-side grid%s.', suffix)
    return None
  return samples


def side_by_side(samples: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
  """masked | each run's fill | target, enlarged, as one image."""
  first = next(iter(samples.values()))
  return grids.image_grid(
      [first['masked'], *(s['model'] for s in samples.values()),
       first['target']], captions=[str(c) for c in first['captions']],
      titles=['masked', *samples, 'target'])


def plot(curves: dict[str, dict[str, list[tuple[int, float]]]],
         batch_sizes: dict[str, int], path: pathlib.Path) -> None:
  """Every run's CURVES against training images seen, one panel a tag."""
  columns = 4
  rows = -(-len(CURVES) // columns)
  figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns,
                                                      3.2 * rows))
  for axis, (tag, title) in zip(axes.flat, CURVES):
    for name, run in curves.items():
      if tag in run:
        steps, values = zip(*run[tag])
        axis.plot([s * batch_sizes[name] for s in steps], values,
                  marker='.' if tag.startswith('eval/') else None,
                  label=name)
    axis.set_title(title, fontsize=10)
    axis.set_xlabel('training images seen')
    axis.grid(alpha=0.3)
  for axis in axes.flat[len(CURVES):]:
    axis.axis('off')
  handles, labels = axes.flat[0].get_legend_handles_labels()
  figure.legend(handles, labels, loc='lower right', fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)


def main(argv):
  workdirs = [pathlib.Path(a) for a in argv[1:]]
  if not workdirs:
    raise errors.UserError('Name one or more run workdirs after the flags.')
  names = [_run_name(w) for w in workdirs]
  if len(set(names)) != len(names):
    raise errors.UserError(f'Runs must have different folder names: {names}.')
  table_path = pathlib.Path(f'{FLAGS.output}.md')
  plot_path = pathlib.Path(f'{FLAGS.output}.png')
  for path in (table_path, plot_path):
    if path.exists():
      raise errors.UserError(f'{path} exists; choose another --output (it '
                             'is never overwritten).')
  reports = {n: evaluate.read_report(w) for n, w in zip(names, workdirs)}
  suffixes = [''] + [f'_{k}' for k in sorted(
      {k for r in reports.values() for k in r.get('mask_kinds', {})})]
  grid_paths = {s: pathlib.Path(f'{FLAGS.output}_grid{s}.png')
                for s in suffixes}
  for path in grid_paths.values():
    if path.exists():
      raise errors.UserError(f'{path} exists; choose another --output (it '
                             'is never overwritten).')
  # Every input is read before anything is written.
  curves = {n: read_curves(w) for n, w in zip(names, workdirs)}
  for name, run in curves.items():
    logging.info('%s: %d of %d curves (%s).', name, len(run), len(CURVES),
                 ', '.join(sorted(run)))
  sizes = {n: batch_size(w, reports[n]) for n, w in zip(names, workdirs)}
  samples = {s: read_samples(dict(zip(names, workdirs)), s)
             for s in suffixes}
  table = markdown(reports)
  table_path.parent.mkdir(parents=True, exist_ok=True)
  table_path.write_text(table)
  plot(curves, sizes, plot_path)
  logging.info('Wrote %s and %s.', table_path, plot_path)
  for suffix, path in grid_paths.items():
    if samples[suffix] is not None:
      Image.fromarray(side_by_side(samples[suffix])).save(path)
      logging.info('Wrote %s.', path)
  print(table)


if __name__ == '__main__':
  errors.run(main)
