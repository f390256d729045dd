"""Evaluation of fills as a distribution, and of what the caption decides.

The protocol's part for samplers (docs/evaluation.md, "Samplers"), run by
`evaluate` on the centre holes after the per-image table:

- `swd_table`: the SWD of every method's fills (the model's, each
  baseline's) against the real holes, and the floor, two disjoint halves
  of the real holes: each method's fills of the even images against the
  real holes of the odd ones, so that every entry compares sets of the
  floor's size;
- `draw_metrics`, for a method that draws (`Method.sample`): K draws of
  each of the first `eval.sample_examples` holes (the first is the fill the
  table scored), their sample PSNR (one draw; the mean of K), calibration,
  sharpness and seam; `guidance_sweep`: one draw an image at each of
  `eval.guidance_scales`, its SWD and sample PSNR;
- `caption_scores`, for a method with a `Method.caption_loss`: the loss
  with true against shuffled captions, paired, with a 95% CI and as a %
  of the loss; and caption retrieval: each of the first
  `eval.retrieval_examples` images ranks its own caption among
  `RETRIEVAL_CANDIDATES` (its own and the other images') by the loss each
  gives. Chance is 1 / RETRIEVAL_CANDIDATES. A method with a
  `Method.caption_loss_by_level` has the paired comparison by level too.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Iterator

import jax.numpy as jnp
import ml_collections
import numpy as np

from inpainting import compilation
from inpainting import inference
from inpainting import method as method_lib
from inpainting import methods
from inpainting import metrics
from inpainting import sample_metrics

RETRIEVAL_CANDIDATES = 100
# The keys of draws 1, 2, ... are folded from this (draw 0 is the method's
# fill, `Method.predict`, whatever its seed).
DRAW_SEED = 1


def _first(batches: Iterable[dict[str, np.ndarray]], n: int
           ) -> Iterator[dict[str, np.ndarray]]:
  """The batches cut to their first `n` images in all."""
  done = 0
  for batch in batches:
    if done >= n:
      return
    batch = {k: v[:n - done] for k, v in batch.items()}
    done += len(batch['image'])
    yield batch


def swd_table(crops: dict[str, np.ndarray], real: np.ndarray) -> dict:
  """{'real (floor)': SWD of real[even] vs real[odd], name: SWD of
  crops[name][even] vs real[odd], ...}, each {'swd_<res>', 'swd_mean'}.

  Args:
    crops: each method's fills of the hole box, [N, h, w, 3] in [0, 1].
    real: the real holes of the same images.
  """
  half = len(real) // 2
  odd = real[1:2 * half:2]
  table = {'real (floor)': sample_metrics.swd(odd, real[0:2 * half:2])}
  for name, fills in crops.items():
    table[name] = sample_metrics.swd(odd, fills[0:2 * half:2])
  return table


def draw_metrics(config: ml_collections.ConfigDict, state: Any,
                 batches: Iterable[dict[str, np.ndarray]],
                 first_draws: np.ndarray, box: method_lib.Box) -> dict:
  """Sample PSNR, calibration, sharpness and seam of K draws an image.

  Args:
    config: the run config (`eval.samples` = K, `eval.sample_examples`).
    state: an unreplicated state.
    batches: the evaluation batches, in the order `first_draws` was made.
    first_draws: the method's fills of the first images, [n, H, W, 3] in
      [0, 1] (draw 0).
    box: the centre hole (top, bottom, left, right).

  Returns:
    The metrics, and 'draws': [K, n, h, w, 3] crops of the hole box.
  """
  n = len(first_draws)
  draws, targets = [[first_draws]] + [[] for _ in
                                      range(1, config.eval.samples)], []
  for batch in _first(batches, n):
    for k in range(1, config.eval.samples):
      draws[k].append((inference.draw(state, batch, config, DRAW_SEED, k)
                       + 1) / 2)
    targets.append((batch['image'] + 1) / 2)
  full = np.stack([np.concatenate(d) for d in draws])  # [K, n, H, W, 3]
  target = np.concatenate(targets)
  top, bottom, left, right = box
  crops = full[:, :, top:bottom, left:right]
  hole = np.ones(crops.shape[2:4] + (1,), np.float32)
  out = {'samples': config.eval.samples, 'examples': n,
         **sample_metrics.sample_psnr(
             crops, target[:, top:bottom, left:right], hole)}
  if config.eval.samples > 1:
    out['calibration'] = sample_metrics.calibration(
        crops, target[:, top:bottom, left:right], hole)
  per_draw = [metrics.hole_metrics(jnp.asarray(d), jnp.asarray(target), box)
              for d in full]
  out['sharpness'] = float(np.mean([
      metrics.sharpness(np.asarray(m['detail']), np.asarray(m['real_detail']))
      for m in per_draw]))
  out['seam'] = float(np.mean([np.asarray(m['seam']).mean()
                               for m in per_draw]))
  out['draws'] = crops
  return out


def guidance_sweep(config: ml_collections.ConfigDict, state: Any,
                   batches: Iterable[dict[str, np.ndarray]], real: np.ndarray,
                   box: method_lib.Box) -> dict:
  """One draw of each of the first images at each `eval.guidance_scales`
  scale: {scale: {'swd_<res>', 'swd_mean', 'psnr_one_sample'}}, its SWD
  computed as `swd_table`'s rows (the scale 0 row is `draw_metrics`')."""
  top, bottom, left, right = box
  out = {}
  for scale in config.eval.guidance_scales:
    guided = config.copy_and_resolve_references()
    guided.guidance = float(scale)
    crops = np.concatenate([
        (inference.draw(state, batch, guided, DRAW_SEED) + 1) / 2
        for batch in _first(batches(), len(real))])[:, top:bottom, left:right]
    row = swd_table({'draw': crops}, real)['draw']
    hole = np.ones(crops.shape[1:3] + (1,), np.float32)
    row['psnr_one_sample'] = sample_metrics.sample_psnr(
        crops[None], real, hole)['psnr_one_sample']
    out[f'{float(scale):g}'] = row
  return out


@functools.partial(compilation.jit, static_argnames=('method', 'model'))
def _caption_loss(state, batch, *, method, model):
  return methods.METHODS[method].caption_loss(state, batch, model=model)


@functools.partial(compilation.jit, static_argnames=('method', 'model'))
def _caption_loss_by_level(state, batch, *, method, model):
  return methods.METHODS[method].caption_loss_by_level(state, batch,
                                                       model=model)


def _paired(true: np.ndarray, shuffled: np.ndarray) -> dict:
  """True against shuffled captions' losses, paired per image."""
  mean, low, high = metrics.bootstrap_mean_ci(shuffled - true)
  return {'examples': len(true), 'true_loss': float(true.mean()),
          'shuffled_loss': float(shuffled.mean()),
          'shuffled_minus_true': {'mean': mean, 'ci95': [low, high],
                                  'significant': bool(low > 0 or high < 0)},
          'percent': 100 * mean / float(true.mean())}


def caption_scores(config: ml_collections.ConfigDict, state: Any,
                   batches: Iterable[dict[str, np.ndarray]]) -> dict:
  """The caption loss with true and shuffled captions, and retrieval.

  Args:
    config: the run config (`eval.sample_examples` images are scored,
      `eval.retrieval_examples` rank captions).
    state: an unreplicated state.
    batches: evaluation batches with 'shuffled_embedding' and
      'shuffled_differs' (`input_pipeline.create_eval_dataset`).
  """
  args = inference.fill_args(config)
  args = dict(method=args['method'], model=args['model'])
  by_level = methods.METHODS[args['method']].caption_loss_by_level
  true, shuffled, images = [], [], []
  level_true, level_shuffled = [], []
  for batch in _first(batches, config.eval.sample_examples):
    keep = np.asarray(batch['shuffled_differs'], bool)
    device_batch = {k: batch[k] for k in ('image', 'mask', 'embedding')}
    shuffled_batch = dict(device_batch,
                          embedding=batch['shuffled_embedding'])
    true.append(np.asarray(_caption_loss(state, device_batch, **args))[keep])
    shuffled.append(np.asarray(_caption_loss(state, shuffled_batch,
                                             **args))[keep])
    if by_level is not None:
      for collected, b in ((level_true, device_batch),
                           (level_shuffled, shuffled_batch)):
        collected.append({name: np.asarray(loss)[keep] for name, loss in
                          _caption_loss_by_level(state, b, **args).items()})
    images.append(device_batch)
  out = _paired(np.concatenate(true), np.concatenate(shuffled))
  if by_level is not None:
    out['by_level'] = {
        name: _paired(np.concatenate([b[name] for b in level_true]),
                      np.concatenate([b[name] for b in level_shuffled]))
        for name in level_true[0]}
  pool = {k: np.concatenate([b[k] for b in images]) for k in images[0]}
  out['retrieval'] = _retrieval(state, pool, config.eval.retrieval_examples,
                                args)
  return out


def _retrieval(state, pool: dict[str, np.ndarray], examples: int,
               args: dict) -> dict:
  """Each of the first `examples` images ranks its own caption among its
  own and RETRIEVAL_CANDIDATES - 1 of the pool's other captions (the next
  ones, cyclically) by the caption loss; rank 1 is the lowest loss."""
  size = len(pool['image'])
  candidates = min(RETRIEVAL_CANDIDATES, size)
  examples = min(examples, size)
  ranks = []
  for i in range(examples):
    others = (i + np.arange(candidates)) % size  # own caption first
    batch = {'image': np.repeat(pool['image'][i:i + 1], candidates, 0),
             'mask': np.repeat(pool['mask'][i:i + 1], candidates, 0),
             'embedding': pool['embedding'][others]}
    losses = np.asarray(_caption_loss(state, batch, **args))
    ranks.append(1 + int((losses[1:] < losses[0]).sum()))
  ranks = np.asarray(ranks)
  return {'examples': examples, 'candidates': candidates,
          'top1': float((ranks == 1).mean()),
          'top10': float((ranks <= 10).mean()),
          'mean_rank': float(ranks.mean()), 'chance_top1': 1 / candidates}


def markdown(report: dict) -> list[str]:
  """The report's distribution and caption sections, as Markdown lines."""
  lines = []
  table = report.get('swd')
  if table:
    levels = [k for k in next(iter(table.values())) if k != 'swd_mean']
    lines += ['', '## Distribution of the fills (SWD x 1e3, lower is closer '
              'to the real holes)', '',
              'Each method\'s fills of the even images against the real '
              'holes of the odd ones; the floor is the real holes of the even '
              'images against the same (docs/evaluation.md).', '',
              '| method | ' + ' | '.join(levels) + ' | mean |',
              '| --- ' * (len(levels) + 2) + '|']
    for name, row in table.items():
      lines.append(f'| {name} | ' + ' | '.join(
          f'{row[k]:.2f}' for k in levels) + f" | {row['swd_mean']:.2f} |")
  draws = report.get('draws')
  if draws:
    k = draws['samples']
    lines += ['', f"## Draws ({k} an image, the first {draws['examples']} "
              'images)', '',
              '| PSNR of one draw | PSNR of the mean of '
              f'{k} | calibration | sharpness | seam |',
              '| --- | --- | --- | --- | --- |',
              f"| {draws['psnr_one_sample']:.2f} | "
              f"{draws[f'psnr_mean_of_{k}']:.2f} | "
              f"{draws.get('calibration', float('nan')):.3f} | "
              f"{draws['sharpness']:.3f} | {draws['seam']:+.4f} |"]
  sweep = report.get('guidance')
  if sweep:
    lines += ['', '## Guidance (one draw an image at each scale)', '',
              '| guidance | SWD mean | PSNR of one draw |', '| --- | --- | --- |']
    for scale, row in sweep.items():
      lines.append(f"| {scale} | {row['swd_mean']:.2f} | "
                   f"{row['psnr_one_sample']:.2f} |")
  scores = report.get('caption_scores')
  if scores:
    d, r = scores['shuffled_minus_true'], scores['retrieval']
    lines += ['', '## Caption scores (the method\'s caption loss: '
              f"{report.get('caption_loss', 'see docs/evaluation.md')})", '',
              f"{scores['examples']} images, paired; 95% bootstrap CI. "
              f"Retrieval: {r['examples']} images each rank their own caption "
              f"among {r['candidates']} (chance top-1 "
              f"{100 * r['chance_top1']:.0f}%).", '',
              '| true | shuffled | shuffled - true | 95% CI | % of true | '
              'top-1 | top-10 | mean rank |',
              '| --- | --- | --- | --- | --- | --- | --- | --- |',
              f"| {scores['true_loss']:.5f} | {scores['shuffled_loss']:.5f} | "
              f"{d['mean']:+.6f} | [{d['ci95'][0]:+.6f}, {d['ci95'][1]:+.6f}] "
              f"| {scores['percent']:+.2f}% | {100 * r['top1']:.0f}% | "
              f"{100 * r['top10']:.0f}% | {r['mean_rank']:.1f} |"]
  levels = (scores or {}).get('by_level')
  if levels:
    lines += ['', 'By level (`Method.caption_loss_by_level`, the same images '
              'and captions; docs/evaluation.md):', '',
              '| level | true | shuffled | shuffled - true | 95% CI | '
              '% of true |', '| --- | --- | --- | --- | --- | --- |']
    for name, row in levels.items():
      d = row['shuffled_minus_true']
      lines.append(f"| {name} | {row['true_loss']:.5f} | "
                   f"{row['shuffled_loss']:.5f} | {d['mean']:+.6f} | "
                   f"[{d['ci95'][0]:+.6f}, {d['ci95'][1]:+.6f}] | "
                   f"{row['percent']:+.2f}% |")
  return lines
