"""The JAX all-MiniLM-L6-v2 against its known behaviour and a NumPy reference."""

import math

import numpy as np
import pytest
import safetensors.numpy

from inpainting import text_encoder


@pytest.fixture(scope='module')
def encoder():
  return text_encoder.TextEncoder()


def _numpy_reference(model_dir, ids):
  """BERT + mean pooling + L2 norm for one unpadded sentence, in NumPy."""
  w = safetensors.numpy.load_file(str(model_dir / 'model.safetensors'))
  w = {k: v.astype(np.float64) for k, v in w.items()}

  def layer_norm(x, name):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-12) * w[name + '.weight'] + w[
        name + '.bias']

  def linear(x, name):
    return x @ w[name + '.weight'].T + w[name + '.bias']

  n = len(ids)
  x = (w['embeddings.word_embeddings.weight'][ids] +
       w['embeddings.position_embeddings.weight'][:n] +
       w['embeddings.token_type_embeddings.weight'][0])
  x = layer_norm(x, 'embeddings.LayerNorm')
  heads, dim = 12, 32
  for i in range(6):
    p = f'encoder.layer.{i}'
    q, k, v = (linear(x, f'{p}.attention.self.{m}').reshape(n, heads, dim)
               for m in ('query', 'key', 'value'))
    out = np.zeros((n, heads, dim))
    for h in range(heads):
      scores = q[:, h] @ k[:, h].T / math.sqrt(dim)
      probs = np.exp(scores - scores.max(-1, keepdims=True))
      probs /= probs.sum(-1, keepdims=True)
      out[:, h] = probs @ v[:, h]
    x = layer_norm(x + linear(out.reshape(n, -1), f'{p}.attention.output.dense'),
                   f'{p}.attention.output.LayerNorm')
    hidden = linear(x, f'{p}.intermediate.dense')
    erf = np.vectorize(math.erf)
    hidden = 0.5 * hidden * (1 + erf(hidden / math.sqrt(2)))
    x = layer_norm(x + linear(hidden, f'{p}.output.dense'),
                   f'{p}.output.LayerNorm')
  pooled = x.mean(0)
  return pooled / np.linalg.norm(pooled)


def test_matches_numpy_reference(encoder):
  sentence = 'A large red circle on a striped background.'
  ids, mask = encoder.tokenize([sentence])
  real = ids[0][mask[0] == 1]
  assert real[0] == 101 and real[-1] == 102  # [CLS] ... [SEP]
  reference = _numpy_reference(text_encoder.default_model_dir(), real)
  embedding = encoder.embed([sentence])[0]
  np.testing.assert_allclose(embedding, reference, atol=1e-5)


def test_unit_norm_and_shape(encoder):
  embeddings = encoder.embed(['a cat', '', 'a much longer sentence ' * 20])
  assert embeddings.shape == (3, text_encoder.EMBEDDING_DIM)
  np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0,
                             atol=1e-5)


def test_padding_does_not_change_an_embedding(encoder):
  alone = encoder.embed(['a man riding a horse'])[0]
  in_batch = encoder.embed(['a man riding a horse',
                            'and a far longer sentence that forces padding '
                            'of the first one to many more tokens'])[0]
  np.testing.assert_allclose(alone, in_batch, atol=1e-5)


def test_chunked_batches_agree(encoder):
  sentences = [f'a photo of a number {i}' for i in range(7)]
  np.testing.assert_allclose(encoder.embed(sentences, batch_size=3),
                             encoder.embed(sentences, batch_size=16),
                             atol=1e-5)


def test_paraphrases_are_nearer_than_unrelated_sentences(encoder):
  horse, horseback, soup = encoder.embed(
      ['a man riding a horse', 'a person on horseback', 'a bowl of soup'])
  assert horse @ horseback > 0.5
  assert horse @ horseback > horse @ soup + 0.3


def test_embed_unique(encoder):
  table = text_encoder.embed_unique(encoder, ['b', 'a', 'b'])
  assert sorted(table) == ['a', 'b']
  np.testing.assert_allclose(table['a'], encoder.embed(['a'])[0], atol=1e-6)


def test_missing_model_folder(tmp_path):
  with pytest.raises(FileNotFoundError, match='config.json'):
    text_encoder.TextEncoder(tmp_path)
