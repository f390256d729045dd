"""The interface between a method and everything that trains or uses it.

A method (the context encoder with its critic; the diffusion sampler) is a module
that builds one `Method`. The trainer, checkpoints, evaluation, sample
grids and the tools reach a model only through it, chosen by
`config.method` (`methods.METHODS`), and never branch on which method it
is (VDM's `Experiment`: `get_model_and_params`, `loss_fn`, `sample_fn`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Hashable, Sequence

from flax import jax_utils
import jax
import ml_collections

# The pmap axis a method's `train_step` runs under and averages over.
AXIS = 'batch'

State = Any
Batch = dict[str, Any]
Box = tuple[int, int, int, int]  # (top, bottom, left, right), ends excluded


@dataclasses.dataclass(frozen=True)
class FillOptions:
  """The few choices a fill takes beyond the model (hashable: static).

  Attributes:
    guidance: caption guidance s: p + s (p - p0), p0 filled with a zero
      caption (what caption dropout trains for); 0: off.
    flip_average: the mean with the mirrored fill of the mirrored input.
    noise_scale: the scale of the model's noise inputs, if it has any.
  """
  guidance: float = 0.0
  flip_average: bool = False
  noise_scale: float = 1.0

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> 'FillOptions':
    return cls(guidance=float(config.guidance),
               flip_average=bool(config.flip_average),
               noise_scale=float(config.noise_scale))


@dataclasses.dataclass(frozen=True)
class Method:
  """What a method gives the trainer and the tools.

  Attributes:
    create_state: (config, example batch or None) -> the state at step 0,
      on the default device: one pytree, that the trainer pmaps and orbax
      checkpoints. Its `step` attribute counts the updates done.
    train_step: (state, batch, *, config, variant) -> (state, metrics), a
      pure function run under `jax.pmap` over the axis 'batch' on this
      device's shard of the global batch, averaging what it must over it.
    step_variant: (config, step) -> a hashable choice among the compiled
      forms of `train_step` that the update from state step `step`
      (0-based) uses (e.g. whether it pays a lazy regulariser); the
      trainer compiles once per value it meets.
    predict: (state, batch, *, model, options, window) -> [B, H, W, 3]
      float32 in [-1, 1], the method's fill of the whole image (or of
      `window`, a Box holding every hole), jit-compatible with `model` (the
      frozen `config.model`), `options` (`FillOptions`) and `window`
      static; `batch` holds image, mask and embedding. Inference
      composites it with the known pixels.
    model_config: config -> the group of the config its networks and fill
      read (`model` of `predict`, frozen by the caller): `config.model` by
      default.
    logged: the metrics of `train_step` the trainer's log line shows (all
      go to TensorBoard).
    sample: None for a method with one fill; else (state, batch, rng, *,
      model, options) -> [B, H, W, 3] float32, a draw of each hole from
      the key `rng` (traced: one compilation for any number of draws),
      whatever outside the holes. Evaluation scores several per image.
    caption_loss: None, or (state, batch, *, model) -> [B], a loss of each
      image's hole given its `embedding` that is lower where the caption
      fits (evaluation ranks captions by it).
    caption_loss_by_level: None, or (state, batch, *, model) ->
      {name: [B]}: parts of the caption loss (a sampler's noise levels),
      each reported with the caption's share of it.
  """
  create_state: Callable[[ml_collections.ConfigDict, Batch | None], State]
  train_step: Callable[..., tuple[State, dict[str, jax.Array]]]
  step_variant: Callable[[ml_collections.ConfigDict, int], Hashable]
  predict: Callable[..., jax.Array]
  model_config: Callable[[ml_collections.ConfigDict],
                         ml_collections.ConfigDict] = lambda c: c.model
  logged: tuple[str, ...] = ()
  sample: Callable[..., jax.Array] | None = None
  caption_loss: Callable[..., jax.Array] | None = None
  caption_loss_by_level: Callable[..., dict[str, jax.Array]] | None = None


def replicate(tree: Any, devices: Sequence[jax.Device] | None = None) -> Any:
  """Copies a pytree onto devices (all local ones by default).

  Sharded on the pmap's own axis name, so that the arrays pmap returns have
  the same sharding and the second step does not recompile.
  """
  return jax_utils.replicate(tree, devices=devices, axis_name=AXIS)


def unreplicate(tree: Any) -> Any:
  """The first local device's copy of a pytree with a leading device axis.

  Reads the first addressable shard rather than indexing the global array,
  which would gather from every device (and is wrong for flax's helper on a
  pmap over a subset of the devices).
  """
  return jax.tree.map(lambda x: x.addressable_shards[0].data[0], tree)
