"""Evaluation from checkpoints: the metric protocol, baselines, caption ablation.

`evaluate(config, workdir)` restores a checkpoint of `workdir`, streams a
split once (every example exactly once, fixed centre mask, each example's
first caption) and writes `report.json`, `report.md` and `report.png`
(masked | model | baselines | target) into `workdir`. Each further kind of
hole in `eval.mask_kinds` ('box', 'free_form') scores the split again with
a fixed, seeded set of such holes (`eval.mask_seed`), the same for the
model and every baseline, in a table of its own (and `report_<kind>.png`).
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
import time
from typing import Any, Iterable

from absl import logging
import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np
from PIL import Image

from inpainting import baselines
from inpainting import compilation
from inpainting import distribution
from inpainting import errors
from inpainting import grids
from inpainting import inference
from inpainting import input_pipeline
from inpainting import masks
from inpainting import methods
from inpainting import metrics
from inpainting import state as state_lib
from inpainting import workdir_lock

# Per-image metrics averaged over a split; 'sharpness' is the split's ratio
# of the summed fill and real detail (metrics.sharpness).
METRIC_NAMES = ('l1', 'mse', 'psnr', 'ssim', 'seam', 'sharpness')
_PER_IMAGE = ('l1', 'mse', 'psnr', 'ssim', 'seam', 'detail', 'real_detail')
MODEL = 'model (true captions)'


@functools.partial(compilation.jit,
                   static_argnames=('fill_args', 'box', 'window'))
def _model_metrics(state, batch, embedding, *, fill_args, box, window):
  """Per-image metrics of the model with the given caption embeddings.

  `box` is the rectangular hole the metrics score (`metrics.hole_metrics`),
  or None for each image's own mask (`metrics.mask_metrics`); `window` the
  part of the image the generator computes (the box of the batch's holes).
  """
  target = (batch['image'] + 1.0) / 2.0
  filled = (inference.inpaint_with(state, {**batch, 'embedding': embedding},
                                   box=window, **dict(fill_args)) + 1.0) / 2.0
  return _score(filled, target, batch['mask'], box), filled


def _score(filled, target, mask, box):
  if box is None:
    return metrics.mask_metrics(filled, target, mask)
  return metrics.hole_metrics(filled, target, box)


class _Accumulator:
  """Per-image metric values of each method, in example order."""

  def __init__(self):
    self.values: dict[str, dict[str, list[np.ndarray]]] = {}
    self.seconds: dict[str, float] = {}

  def add(self, method: str, per_image: dict[str, Any], seconds: float = 0.0):
    store = self.values.setdefault(method, {k: [] for k in _PER_IMAGE})
    for k in _PER_IMAGE:
      store[k].append(np.asarray(per_image[k], np.float64))
    self.seconds[method] = self.seconds.get(method, 0.0) + seconds

  def per_image(self, method: str) -> dict[str, np.ndarray]:
    return {k: np.concatenate(v) for k, v in self.values[method].items()}


def _summary(per_image: dict[str, np.ndarray], seconds: float) -> dict:
  n = len(per_image['mse'])
  mean = {k: float(v.mean()) for k, v in per_image.items()}
  return {
      **mean,
      'sharpness': metrics.sharpness(per_image['detail'],
                                     per_image['real_detail']),
      'psnr_of_mean_mse': float(metrics.psnr(per_image['mse'].mean())),
      'perfect_images': int((per_image['mse'] == 0).sum()),
      'ms_per_image': 1e3 * seconds / n,
  }


def _paired(difference: np.ndarray) -> dict:
  mean, low, high = metrics.bootstrap_mean_ci(difference)
  return {'mean': mean, 'ci95': [low, high],
          'significant': bool(low > 0 or high < 0)}


def run_evaluation(config: ml_collections.ConfigDict,
                   state: state_lib.GANState,
                   batches: Iterable[dict[str, np.ndarray]], *,
                   with_baselines: bool = True,
                   kind: str = 'centre',
                   collect: dict[str, list[np.ndarray]] | None = None
                   ) -> tuple[dict, np.ndarray, dict[str, np.ndarray]]:
  """Scores the model (and baselines) over batches.

  Args:
    config: the run config.
    state: an unreplicated state.
    batches: eval batches with 'shuffled_embedding' (see
      input_pipeline.create_eval_dataset).
    with_baselines: also score the classical baselines.
    kind: the holes (masks.MASK_KINDS): 'centre', the protocol's centre
      square with the caption ablation; another kind, example i's hole is
      `masks.sample_mask(..., seed=config.eval.mask_seed, position=i)` of
      that kind, scored by `metrics.mask_metrics`, without the ablation.
    collect: if given, receives the first `eval.sample_examples` images'
      fills, per method name and 'target' ([n, H, W, 3] in [0, 1], one
      array a batch), for `distribution`'s metrics.

  Returns:
    (report dict, sample grid uint8 of the first batch, the grid's images:
    {'masked', 'model', 'target': [n, H, W, 3] in [0, 1], 'captions'}).
  """
  box = None  # each image's own hole
  if kind == 'centre':
    box = masks.hole_box(masks.centre_mask(config.image_size,
                                           config.mask.size))
  # What the fill reads of the config (method, model, options), static.
  fill_args = tuple(inference.fill_args(config).items())
  acc = _Accumulator()
  shuffled_differs = []
  grid = None
  count = 0
  compiled = set()
  for batch in batches:
    if kind != 'centre':
      batch = {**batch, 'mask': masks.sample_masks(
          config.mask, config.image_size, config.eval.mask_seed,
          np.arange(count, count + len(batch['image'])), kind=kind)}
    device_batch = {k: batch[k] for k in ('image', 'mask')}
    variants = {'true': batch['embedding']}
    # A sampler's captions are scored by its caption loss
    # (distribution.caption_scores): three draws an image would cost three
    # times the table's.
    if (config.model.use_captions and kind == 'centre' and
        methods.get(config).sample is None):
      variants['shuffled'] = batch['shuffled_embedding']
      shuffled_differs.append(np.asarray(batch['shuffled_differs'], bool))
      variants['zero'] = np.zeros_like(batch['embedding'])
    window = masks.hole_box(batch['mask'])
    run = functools.partial(_model_metrics, state, device_batch,
                            fill_args=fill_args, box=box, window=window)
    if (len(batch['image']), window) not in compiled:  # out of timings
      jax.block_until_ready(run(batch['embedding']))
      compiled.add((len(batch['image']), window))
    for name, embedding in variants.items():
      start = time.perf_counter()
      per_image, filled_variant = jax.block_until_ready(run(embedding))
      seconds = time.perf_counter() - start
      if name == 'true':
        acc.add(MODEL, per_image, seconds)
        filled = filled_variant
      else:
        acc.add(f'model ({name} captions)', per_image)
    columns = [np.asarray(filled)]
    if with_baselines:
      columns += _score_baselines(batch, box, acc)
    if collect is not None and count < config.eval.sample_examples:
      take = config.eval.sample_examples - count
      names = ['model'] + (list(baselines.BASELINES) if with_baselines
                           else [])
      for name, column in zip(['target'] + names,
                              [(batch['image'] + 1) / 2] + columns):
        collect.setdefault(name, []).append(column[:take])
    if grid is None:
      n = min(8, len(batch['image']))
      target = (batch['image'][:n] + 1.0) / 2.0
      masked = target * (1.0 - batch['mask'][:n]) + 0.5 * batch['mask'][:n]
      titles = ['masked', 'model'] + (list(baselines.BASELINES)
                                       if with_baselines else []) + ['target']
      samples = {'masked': masked, 'model': columns[0][:n], 'target': target,
                 'captions': np.array(grids.decode(batch['caption'][:n]))}
      grid = grids.image_grid([masked] + [c[:n] for c in columns] + [target],
                              captions=list(samples['captions']),
                              titles=titles)
    count += len(batch['image'])

  report = _report(acc, count, shuffled_differs)
  return report, grid, samples


def _score_baselines(batch: dict[str, np.ndarray], box, acc: '_Accumulator'
                     ) -> list[np.ndarray]:
  """Fills `batch`'s holes with every classical baseline, scores them into
  `acc` (with their time) and returns the fills, in BASELINES' order."""
  target = (batch['image'] + 1.0) / 2.0
  holes = batch['mask'][..., 0] > 0
  columns = []
  for name, fill in baselines.BASELINES.items():
    start = time.perf_counter()
    out = np.stack([fill(image, hole) for image, hole in zip(target, holes)])
    seconds = time.perf_counter() - start
    out = np.where(batch['mask'] > 0, out, target)
    acc.add(name, _score(out, target, batch['mask'], box), seconds)
    columns.append(out)
  return columns


def _report(acc: '_Accumulator', count: int,
            shuffled_differs: list[np.ndarray]) -> dict:
  """The table of `acc`'s methods and, where it scored shuffled captions,
  the caption ablation."""
  report = {'num_examples': count, 'methods': {}}
  for method in acc.values:
    if method.startswith('model (') and method != MODEL:
      continue
    report['methods'][method] = _summary(acc.per_image(method),
                                         acc.seconds[method])
  true_mse = acc.per_image(MODEL)['mse']
  # Only images with another caption among the following ones take part in
  # the shuffled comparison (an uncaptioned folder has none).
  differs = (np.concatenate(shuffled_differs) if shuffled_differs else
             np.zeros(0, bool))
  if 'model (shuffled captions)' in acc.values and differs.any():
    ablation = {'true_mse': float(true_mse.mean()),
                'shuffled_examples': int(differs.sum())}
    for name in ('shuffled', 'zero'):
      other = acc.per_image(f'model ({name} captions)')['mse']
      keep = differs if name == 'shuffled' else slice(None)
      ablation[f'{name}_mse'] = float(other[keep].mean())
      ablation[f'{name}_minus_true'] = _paired(other[keep] - true_mse[keep])
    report['caption_ablation'] = ablation
  elif 'model (shuffled captions)' in acc.values:
    logging.warning('No image of the split has a caption that another '
                    'image lacks: no caption ablation.')
  return report


def _markdown(report: dict) -> str:
  lines = [
      f"# Evaluation of {report['workdir']} at step {report['step']}",
      '',
      f"Split `{report['split']}` of `{report['dataset']}`: "
      f"{report['num_examples']} images, each once; centre "
      f"{report['hole_size']}x{report['hole_size']} hole; metrics on the hole "
      'in [0, 1] RGB (docs/evaluation.md). PSNR is the mean of per-image PSNRs; '
      f'a perfect image counts as {metrics.PSNR_CAP_DB:.0f} dB.',
      '',
      *_methods_table(report['methods']),
  ]
  ablation = report.get('caption_ablation')
  lines.append('')
  if ablation is None and 'caption_scores' in report:
    lines.append('Caption ablation: by the caption scores below (a '
                 "sampler's, by its denoising loss).")
  elif ablation is None:
    lines.append('Caption ablation: this model has no caption input.')
  else:
    lines += [
        '## Caption ablation (same checkpoint, paired per image)',
        '',
        'Hole MSE with another image\'s caption (shuffled) and with a zero '
        'embedding, minus hole MSE with the true caption; 95% bootstrap '
        'confidence intervals over images (10,000 resamples).',
        '',
        '| captions | hole MSE | difference vs true | 95% CI | significant |',
        '| --- | --- | --- | --- | --- |',
        f"| true | {ablation['true_mse']:.4f} | | | |",
    ]
    for name in ('shuffled', 'zero'):
      d = ablation[f'{name}_minus_true']
      lines.append(
          f"| {name} | {ablation[f'{name}_mse']:.4f} | {d['mean']:+.4f} | "
          f"[{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] | "
          f"{'yes' if d['significant'] else 'no'} |")
  lines += distribution.markdown(report)
  for kind, kind_report in report.get('mask_kinds', {}).items():
    lines += [
        '', f'## {KIND_TITLES[kind]}', '',
        f"The same {kind_report['num_examples']} images, each with its own "
        f'{kind} hole from a fixed set (eval.mask_seed='
        f"{report.get('mask_seed', 0)}), the same for every method; metrics "
        'on the missing pixels, SSIM over their bounding box '
        '(docs/evaluation.md).', '',
        *_methods_table(kind_report['methods'])]
  return '\n'.join(lines) + '\n'


KIND_TITLES = {'box': 'Random boxes', 'free_form': 'Free-form holes'}


def _methods_table(methods: dict) -> list[str]:
  lines = ['| method | L1 | MSE | PSNR | PSNR of mean MSE | SSIM | seam | '
           'sharpness | ms/img |',
           '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  for name, m in methods.items():
    lines.append(
        f"| {name} | {m['l1']:.4f} | {m['mse']:.4f} | {m['psnr']:.2f} | "
        f"{m['psnr_of_mean_mse']:.2f} | {m['ssim']:.3f} | {m['seam']:+.3f} | "
        f"{m['sharpness']:.3f} | {m['ms_per_image']:.2f} |")
  return lines


PREVIOUS_REPORTS = 'previous_reports'


def _keep_previous_reports(out: pathlib.Path) -> pathlib.Path | None:
  """Moves an earlier evaluation's report files to previous_reports/N/.

  N counts up from 1, so no report is ever overwritten, and the files of
  one evaluation (e.g. its per-kind grids) never sit beside another's
  report.json. Returns the folder, or None if there was no report.
  """
  files = sorted(p for p in out.glob('report*') if p.is_file())
  if not files:
    return None
  previous = out / PREVIOUS_REPORTS
  taken = [int(p.name) for p in previous.glob('*') if p.name.isdigit()]
  folder = previous / str(max(taken, default=0) + 1)
  folder.mkdir(parents=True)
  for path in files:
    path.rename(folder / path.name)
  return folder


def _number(value: Any) -> bool:
  return (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value))


def _table_problems(table: Any, where: str) -> list[str]:
  """What a {'num_examples', 'methods'} table of a report lacks."""
  if not isinstance(table, dict):
    return [f'{where}: not an object']
  problems = []
  if not isinstance(table.get('num_examples'), int):
    problems.append(f'{where}.num_examples: missing or not an integer')
  methods = table.get('methods')
  if not isinstance(methods, dict) or not methods:
    return problems + [f'{where}.methods: missing or empty']
  for method, scores in methods.items():
    # Every method's scores (sharpness only since it was added).
    for name in ('l1', 'mse', 'psnr', 'ssim', 'seam'):
      if not isinstance(scores, dict) or not _number(scores.get(name)):
        problems.append(f'{where}.methods[{method!r}].{name}: missing or '
                        'not a number')
  return problems


def report_problems(report: Any) -> list[str]:
  """Fields of a report.json that `evaluate` writes and readers need, which
  this one lacks or holds in another shape (an empty list: none)."""
  if not isinstance(report, dict):
    return ['the file: not a JSON object']
  problems = _table_problems(report, 'report')
  if not isinstance(report.get('step'), int):
    problems.append('report.step: missing or not an integer')
  ablation = report.get('caption_ablation')
  if ablation is not None:
    if not isinstance(ablation, dict) or not _number(
        ablation.get('true_mse')):
      problems.append('report.caption_ablation.true_mse: missing or not a '
                      'number')
    else:
      for kind in ('shuffled', 'zero'):
        d = ablation.get(f'{kind}_minus_true')
        if not (isinstance(d, dict) and _number(d.get('mean')) and
                isinstance(d.get('ci95'), list) and len(d['ci95']) == 2 and
                all(_number(v) for v in d['ci95'])):
          problems.append(f'report.caption_ablation.{kind}_minus_true: '
                          'needs a number mean and a [low, high] ci95')
  kinds = report.get('mask_kinds', {})
  if not isinstance(kinds, dict):
    problems.append('report.mask_kinds: not an object')
  else:
    for kind, table in kinds.items():
      problems += _table_problems(table, f'report.mask_kinds[{kind!r}]')
  return problems


def read_report(folder: pathlib.Path) -> dict:
  """The `report.json` that `evaluate` wrote into `folder`, checked.

  Raises:
    errors.UserError: naming the file, when it is missing, not JSON, or
      not of a report's shape (naming each field that is off).
  """
  path = pathlib.Path(folder) / 'report.json'
  try:
    report = json.loads(path.read_text())
  except FileNotFoundError:
    raise errors.UserError(
        f'{path}: no such file. Evaluate the run first: python -m '
        f'inpainting.main --config=... --workdir={folder} --mode=evaluate'
    ) from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise errors.UserError(f'{path}: not valid JSON ({e}).') from None
  except OSError as e:
    raise errors.UserError(f'{path}: cannot be read ({e}).') from None
  problems = report_problems(report)
  if problems:
    shown = problems[:5] + ([f'... and {len(problems) - 5} more']
                            if len(problems) > 5 else [])
    raise errors.UserError(f'{path}: not a report written by --mode=evaluate'
                           f' ({"; ".join(shown)}).')
  return report


def evaluate(config: ml_collections.ConfigDict, workdir: str,
             step: int | None = None,
             report_dir: str | None = None,
             state: Any = None) -> dict:
  """Evaluates a checkpoint of `workdir`; writes report.{json,md,png}.

  An earlier report where they go is first moved to previous_reports/N/.

  Args:
    config: the run config (`eval.*` fields choose split, size, baselines;
      `dataset.*` the data, which may be other than the run's).
    workdir: a training run's workdir.
    step: the checkpoint step; the latest if None.
    report_dir: where the report goes (created if missing); the workdir if
      None.
    state: a generator to score instead of `workdir`'s checkpoint (an
      exported file's, `export.load`); `workdir` then names it in the
      report and `report_dir` is required.

  Returns:
    The report; None on processes other than the primary one, which alone
    scores and writes it.
  """
  if state is not None and not report_dir:
    raise ValueError('An exported generator has no workdir: give report_dir.')
  out = pathlib.Path(report_dir or workdir)
  if state is None:
    state = inference.restore(config, workdir, step)  # every process: orbax
  if jax.process_index() != 0:
    # Scoring needs no collectives: the primary process scores the split
    # once and alone writes the report; the others wait for it.
    logging.info('Process %d/%d: the primary process (0) evaluates and '
                 'writes the report; waiting for it.', jax.process_index(),
                 jax.process_count())
    multihost_utils.sync_global_devices('evaluation')
    return None
  # Held before scoring: an evaluation that cannot write finds out before
  # it scores the split, not after.
  with workdir_lock.hold(out, 'an evaluation'):
    report = _evaluate_and_write(config, workdir, state, out)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices('evaluation')
  return report


def _evaluate_and_write(config: ml_collections.ConfigDict, workdir: str,
                        state: Any, out: pathlib.Path) -> dict:
  """`evaluate` on the primary process, which holds `out`'s lock."""
  restored_step = int(state.step)
  builder = input_pipeline.get_builder(config)
  input_pipeline.check_split(builder, config.eval.split, 'eval.split')
  input_pipeline.check_held_out(builder, config)
  ds = input_pipeline.create_eval_dataset(
      config, builder, config.eval.split, batch_size=config.eval.batch_size,
      num_examples=config.eval.num_examples, shuffled_captions=True)
  logging.info('Evaluating %s at step %d on %s.', workdir, restored_step,
               config.eval.split)
  collected = {}
  report, grid, samples = run_evaluation(
      config, state, ds.as_numpy_iterator(),
      with_baselines=config.eval.baselines, collect=collected)
  report.update(workdir=str(workdir), step=restored_step,
                dataset=config.dataset.name, split=config.eval.split,
                hole_size=config.mask.size, mask_seed=config.eval.mask_seed)
  draws = _score_distribution(config, state, ds, report, collected)
  if draws is not None:
    # The draws' mean (their estimate of the mean fill) beside them.
    grid = grids.image_grid(
        [samples['masked'], *draws, np.mean(draws, axis=0),
         samples['target']],
        captions=list(samples['captions']),
        titles=['masked'] + [f'draw {k + 1}' for k in range(len(draws))] +
        [f'mean of {len(draws)}', 'target'])
    samples['draws'] = draws
  _score_kinds_and_write(config, state, ds, report, grid, samples, out)
  return report


def _score_distribution(config, state, ds, report: dict,
                        collected: dict[str, list[np.ndarray]]
                        ) -> list[np.ndarray] | None:
  """Adds the centre holes' SWD table, and the method's draws and caption
  scores where it has them, to `report`; returns the grid's draws
  ([n, H, W, 3] each) of a method that draws, else None."""
  method = methods.get(config)
  box = masks.hole_box(masks.centre_mask(config.image_size,
                                         config.mask.size))
  top, bottom, left, right = box
  crops = {name: np.concatenate(v)[:, top:bottom, left:right]
           for name, v in collected.items()}
  real = crops.pop('target')
  crops = {MODEL if name == 'model' else name: v
           for name, v in crops.items()}
  grid_draws = None
  if method.sample is not None:
    logging.info('Drawing %d fills of each of %d holes.', config.eval.samples,
                 len(real))
    draws = distribution.draw_metrics(
        config, state, ds.as_numpy_iterator(),
        np.concatenate(collected['model']), box)
    crops = {f'model, draw {k + 1}': d for k, d in enumerate(draws.pop(
        'draws'))} | {k: v for k, v in crops.items() if k != MODEL}
    report['draws'] = draws
    if config.eval.guidance_scales and config.model.use_captions:
      report['guidance'] = {'0': {
          **distribution.swd_table({'draw': crops['model, draw 1']},
                                   real)['draw'],
          'psnr_one_sample': draws['psnr_one_sample']}}
      report['guidance'].update(distribution.guidance_sweep(
          config, state, ds.as_numpy_iterator, real, box))
    n = min(8, len(collected['target'][0]))
    grid_draws = []
    for k in range(config.eval.samples):
      full = np.array(collected['target'][0][:n])
      full[:, top:bottom, left:right] = crops[f'model, draw {k + 1}'][:n]
      grid_draws.append(full)
  report['swd'] = distribution.swd_table(crops, real)
  if method.caption_loss is not None and config.model.use_captions:
    report['caption_scores'] = distribution.caption_scores(
        config, state, ds.as_numpy_iterator())
  return grid_draws


def _score_kinds_and_write(config, state, ds, report, grid, samples,
                           out: pathlib.Path) -> None:
  """Scores the other hole kinds into `report` and writes it all to `out`
  (whose lock this process holds)."""
  outputs = {'': (grid, samples)}  # file suffix -> (grid, its images)
  for kind in config.eval.mask_kinds:
    if kind == 'centre':
      continue
    logging.info('Evaluating on %s holes.', kind)
    kind_report, kind_grid, kind_samples = run_evaluation(
        config, state, ds.as_numpy_iterator(),
        with_baselines=config.eval.baselines, kind=kind)
    report.setdefault('mask_kinds', {})[kind] = kind_report
    outputs[f'_{kind}'] = (kind_grid, kind_samples)
  kept = _keep_previous_reports(out)
  if kept:
    logging.info('Moved the previous report to %s.', kept)
  (out / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
  (out / 'report.md').write_text(_markdown(report))
  for suffix, (kind_grid, kind_samples) in outputs.items():
    Image.fromarray(kind_grid).save(out / f'report{suffix}.png')
    # The grid's images, for tools/compare_runs.py's side-by-side grids.
    np.savez_compressed(out / f'report_samples{suffix}.npz', **kind_samples)
  logging.info('Wrote %s:\n%s', out / 'report.md', _markdown(report))
