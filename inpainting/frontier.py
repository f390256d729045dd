"""The detail frontier (issue 16): what adding detail to a fill costs.

Beside a model's fill, three kinds of detail are added inside the hole at
several strengths and scored: another image's residual, noise of that
energy, and the fill's own detail amplified (an unsharp mask). Used by
`tools/texture_frontier.py` only; evaluation's protocol is `evaluate.py`.
"""

from __future__ import annotations

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

from inpainting import metrics


def high_pass(images: np.ndarray, sigma: float) -> np.ndarray:
  """`images` minus their Gaussian blur (standard deviation `sigma` pixels).

  The blur pads by reflection, so an image's edge is not read as a step to
  black (zero padding would); a linear ramp has no detail away from the
  edges (a symmetric kernel keeps it).

  Args:
    images: [N, H, W, C].
    sigma: the blur's standard deviation in pixels (> 0).

  Returns:
    [N, H, W, C] float32: the detail an unsharp mask amplifies.
  """
  radius = max(1, int(np.ceil(3 * sigma)))
  padded = jnp.pad(jnp.asarray(images, jnp.float32),
                   ((0, 0), (radius, radius), (radius, radius), (0, 0)),
                   mode='reflect')
  blurred = dm_pix.gaussian_blur(padded, sigma, 2 * radius + 1,
                                 padding='VALID')
  return np.asarray(images, np.float32) - np.asarray(blurred)


def frontier_additions(fills: np.ndarray, targets: np.ndarray,
                       box: tuple[int, int, int, int], *, seed: int = 0,
                       sharpen_sigma: float = 1.0) -> dict[str, np.ndarray]:
  """The detail `detail_frontier` adds to fills, per kind, at strength 1.

  Args:
    fills: [N, H, W, 3] a model's composites in [0, 1] (N >= 2).
    targets: [N, H, W, 3] the real images in [0, 1].
    box: (top, bottom, left, right) of the hole (`masks.hole_box`).
    seed: the noise's seed.
    sharpen_sigma: the unsharp mask's blur, its standard deviation in
      pixels.

  Returns:
    {'texture', 'noise', 'sharpened'}: each [N, H, W, 3], zero outside the
    hole; a fill with s times one is `np.clip(fills + s * it, 0, 1)`.
  """
  if len(fills) < 2 or fills.shape != targets.shape:
    raise ValueError(f'Need two or more fills the shape of their targets; '
                     f'got {fills.shape} and {targets.shape}.')
  top, bottom, left, right = box
  hole = np.zeros(fills.shape[:3] + (1,), np.float32)
  hole[:, top:bottom, left:right] = 1.0
  residual = (targets - fills) * hole
  other = np.roll(residual, -1, axis=0)  # image i gets image i + 1's
  rms = np.sqrt((other ** 2).sum(axis=(1, 2, 3), keepdims=True) /
                (hole.sum(axis=(1, 2, 3), keepdims=True) * fills.shape[-1]))
  noise = np.random.default_rng(seed).standard_normal(
      fills.shape).astype(np.float32) * rms * hole
  return {'texture': other, 'noise': noise,
          'sharpened': high_pass(fills, sharpen_sigma) * hole}


def detail_frontier(fills: np.ndarray, targets: np.ndarray,
                    box: tuple[int, int, int, int],
                    added: dict[str, np.ndarray], strengths: list[float],
                    *, sharpen: list[float] = (),
                    batch_size: int = 256) -> list[dict]:
  """What detail costs a fill in PSNR when it is not the real detail.

  To each image's fill m it adds, inside the hole, s times (kind
  'texture') the next image's residual, that image's real hole minus its
  fill (natural detail, cyclically the next image of the split's), or
  (kind 'noise') Gaussian noise per pixel and channel with that residual's
  root mean square; or (kind 'sharpened', for each a in `sharpen`) a
  times the fill's own detail, `high_pass` of the composite (an unsharp
  mask: the edges the model drew, steeper); clipped to [0, 1]; scored by
  `metrics.hole_metrics` (tools/texture_frontier.py).

  Args:
    fills: [N, H, W, 3] a model's composites in [0, 1] (N >= 2).
    targets: [N, H, W, 3] the real images in [0, 1].
    box: (top, bottom, left, right) of the hole (`masks.hole_box`).
    added: `frontier_additions(fills, targets, box, ...)`: the detail of
      each kind at strength 1 (its seed draws the noise, its sharpen_sigma
      blurs for the unsharp mask).
    strengths: the multiples s.
    sharpen: the unsharp mask's amounts a.
    batch_size: images scored at once.

  Returns:
    One dict per kind and strength ('texture' rows first, then 'noise',
    then 'sharpened'; s = 0 once, as kind 'model'): kind, strength, and
    the split's mean psnr, ssim, seam, mse, and its sharpness.
  """
  score = jax.jit(lambda p, t: metrics.hole_metrics(p, t, box))

  def row(kind, strength, detail):
    per_image = {}
    for start in range(0, len(fills), batch_size):
      part = slice(start, start + batch_size)
      filled = np.clip(fills[part] + strength * detail[part], 0.0, 1.0)
      for k, v in score(jnp.asarray(filled),
                        jnp.asarray(targets[part])).items():
        per_image.setdefault(k, []).append(np.asarray(v, np.float64))
    per_image = {k: np.concatenate(v) for k, v in per_image.items()}
    return {'kind': kind, 'strength': strength,
            **{k: float(per_image[k].mean())
               for k in ('psnr', 'ssim', 'seam', 'mse')},
            'sharpness': metrics.sharpness(per_image['detail'],
                                           per_image['real_detail'])}

  rows = [row('model', 0.0, added['texture'])]
  for kind in ('texture', 'noise'):
    rows += [row(kind, s, added[kind]) for s in strengths if s > 0]
  rows += [row('sharpened', a, added['sharpened']) for a in sharpen if a > 0]
  return rows


def frontier_markdown(rows: list[dict], title: str) -> str:
  """The rows as a Markdown table, PSNR also as the change from the model's."""
  base = rows[0]['psnr']
  lines = [f'# {title}', '',
           '| added to the fill | strength | PSNR | change | SSIM | seam | '
           'sharpness |', '| --- | --- | --- | --- | --- | --- | --- |']
  names = {'model': 'nothing (the model)',
           'texture': "the next image's residual",
           'noise': 'noise of that energy',
           'sharpened': "the fill's own detail (unsharp mask)"}
  for r in rows:
    lines.append(
        f"| {names[r['kind']]} | {r['strength']:g} | {r['psnr']:.2f} | "
        f"{r['psnr'] - base:+.2f} | {r['ssim']:.3f} | {r['seam']:+.3f} | "
        f"{r['sharpness']:.3f} |")
  return '\n'.join(lines) + '\n'
