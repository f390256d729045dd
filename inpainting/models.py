"""The networks: encoder, channel-wise bottleneck, decoder, generator, critic.

The seed's architecture (docs/model.md): a context encoder with skip
connections and a channel-wise fully connected bottleneck, conditioned on a
caption embedding, trained against a caption-conditioned critic. Every width,
kernel, activation and the caption switch is a field, set from the config by
`generator_from_config` / `critic_from_config`.

The layers are passed in, as flax's ResNet takes `conv` and `norm`: a
stride-2 convolution (`conv`), a stride-2 transposed convolution
(`conv_transpose`) and a BatchNorm (`norm`), each a module class or a
partial of one taking the stock Flax layer's arguments. Their defaults are
the stock Flax layers with the seed's BatchNorm momentum; the config picks
faster formulations of the same layers per platform
(`implementations.py`), which compute the same function.

Images are NHWC in [-1, 1]; masks are [B, H, W, 1] with 1 where pixels are
missing.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import ml_collections

from inpainting import implementations
from inpainting import layers
from inpainting import masks
from inpainting import prefill as prefill_lib

ModuleDef = Any
# The seed's layers, computed by stock Flax.
CONV: ModuleDef = nn.Conv
CONV_TRANSPOSE: ModuleDef = nn.ConvTranspose
NORM: ModuleDef = functools.partial(nn.BatchNorm, momentum=0.9)

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    'relu': nn.relu,
    'leaky_relu': lambda x: nn.leaky_relu(x, 0.2),
    'elu': nn.elu,
    'gelu': nn.gelu,
    'tanh': jnp.tanh,
    'sigmoid': nn.sigmoid,
    'linear': lambda x: x,
}


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
  """Looks up an activation by its config name (checked by config_lib)."""
  return ACTIVATIONS[name]


# (top, bottom, left, right) of a region of an image, ends excluded, as
# `masks.hole_box` gives it.
Box = tuple[int, int, int, int]


def _crop(x: jax.Array, span) -> jax.Array:
  """x[:, rows, cols] for span ((top, bottom), (left, right)), or x."""
  if span is None:
    return x
  (top, bottom), (left, right) = span
  return x[:, top:bottom, left:right]


@dataclasses.dataclass(frozen=True)
class GeneratorConditioning:
  """Where the generator's caption enters
  (model.generator.caption_conditioning).

  Attributes:
    before_bottleneck: a caption map (Dense, tiled) concatenated to the
      encoder's code, so it passes through the channel-wise FC with it.
    after_bottleneck: that map concatenated to the channel-wise FC's output.
    film: a per-channel scale and shift from the caption in every decoder
      block (and, with model.generator.film_encoder, every encoder block).
  """
  before_bottleneck: bool = False
  after_bottleneck: bool = False
  film: bool = False


GENERATOR_CONDITIONING = {
    # The seed.
    'after_bottleneck': GeneratorConditioning(after_bottleneck=True),
    # The seed's own untried idea: the caption reaches every position.
    'before_bottleneck': GeneratorConditioning(before_bottleneck=True),
    # As DF-GAN and DAFT-GAN condition on text.
    'film': GeneratorConditioning(film=True),
}
# How a one-logit critic reads its last features (model.critic.head):
CRITIC_HEADS: dict[str, Callable[[jax.Array], jax.Array]] = {
    # A weight for every position (the seed): the logit's gradient holds a
    # fixed spatial template, the same for every input.
    'flatten': lambda x: x.reshape(x.shape[0], -1),
    # Translation-invariant (SN-GAN's ResNet critics sum-pool likewise).
    'mean': lambda x: x.mean(axis=(1, 2)),
}


@dataclasses.dataclass(frozen=True)
class CriticConditioning:
  """How the critic takes the caption (model.critic.caption_conditioning)."""
  concat: bool = False  # a caption map concatenated to the last features
  projection: bool = False  # logit + <V e, pooled features>


CRITIC_CONDITIONING = {
    'concat': CriticConditioning(concat=True),  # the seed
    # Miyato and Koyama 2018.
    'projection': CriticConditioning(projection=True),
}


class FiLM(nn.Module):
  """Feature-wise linear modulation: `x * (1 + scale) + shift`.

  `scale` and `shift` are per example and channel, a Dense map of the
  caption embedding, initialised to zero: the block starts as the identity.
  """
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, embedding: jax.Array) -> jax.Array:
    """x [B, H, W, C], embedding [B, E] -> [B, H, W, C]."""
    scale_shift = nn.Dense(2 * x.shape[-1], dtype=self.dtype,
                           kernel_init=nn.initializers.zeros_init(),
                           name='dense')(embedding)
    scale, shift = jnp.split(scale_shift[:, None, None, :].astype(x.dtype),
                             2, axis=-1)
    return x * (1.0 + scale) + shift


class _ConvBlocks(nn.Module):
  """Stride-2 conv -> [BatchNorm] -> activation, repeated; returns each output.

  Convolutions followed by BatchNorm have no bias (BatchNorm's own offset
  takes its place). With `spectral_norm` every convolution's kernel is
  divided by its largest singular value (Miyato et al. 2018; the power
  iteration's vector lives in `batch_stats`).
  """
  features: Sequence[int]
  kernel_size: int = 5
  activation: str = 'relu'
  batch_norm_first: bool = True
  batch_norm: bool = True  # False: no normalisation at all
  spectral_norm: bool = False
  film: bool = False  # FiLM from the embedding after each normalisation
  blur: bool = False  # `blur` before each stride-2 convolution
  # DilatedBlocks after layer `dilated_after` (0-based): its output, and so
  # the next layer's input and that skip, is theirs.
  dilated_blocks: int = 0
  dilated_after: int = 1
  conv: ModuleDef = CONV
  norm: ModuleDef = NORM
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool,
               embedding: jax.Array | None = None) -> list[jax.Array]:
    if self.dilated_blocks and not 0 <= self.dilated_after < len(
        self.features):
      raise ValueError(f'dilated_after={self.dilated_after} names no layer '
                       f'of the {len(self.features)}.')
    act = activation_fn(self.activation)
    outputs = []
    for i, features in enumerate(self.features):
      batch_norm = self.batch_norm and (i > 0 or self.batch_norm_first)
      # A bias before BatchNorm is cancelled by its mean: leave it out.
      conv = self.conv(features, (self.kernel_size,) * 2, strides=2,
                       padding='SAME', use_bias=not batch_norm,
                       dtype=self.dtype, name=f'conv{i}')
      if self.blur:
        x = blur(x)
      x = _apply(conv, x, spectral_norm=self.spectral_norm, train=train,
                 name=f'spectral_norm{i}')
      if batch_norm:
        x = self.norm(use_running_average=not train, dtype=self.dtype,
                      name=f'bn{i}')(x)
      if self.film:
        x = FiLM(dtype=self.dtype, name=f'film{i}')(x, embedding)
      x = act(x)
      if self.dilated_blocks and i == self.dilated_after:
        x = DilatedBlocks(self.dilated_blocks, activation=self.activation,
                          norm=self.norm if self.batch_norm else None,
                          dtype=self.dtype, name='dilated')(x, train=train)
      outputs.append(x)
    return outputs


class DilatedBlocks(nn.Module):
  """`blocks` x [x + act(norm(conv3x3 dilated d (x)))], d = 2, 4, 8, 2, ...

  Stride 1 and SAME padding keep the shape. Three blocks see 29x29
  positions: the whole of a 16x16 map (Iizuka et al. 2017 dilate the
  middle of their completion network likewise, without the residual sum).
  """
  blocks: int
  activation: str = 'relu'
  norm: ModuleDef | None = NORM  # None: a bias instead
  dtype: Any = None

  RATES = (2, 4, 8)

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    act = activation_fn(self.activation)
    for i in range(self.blocks):
      rate = self.RATES[i % len(self.RATES)]
      y = nn.Conv(x.shape[-1], (3, 3), kernel_dilation=rate, padding='SAME',
                  use_bias=self.norm is None, dtype=self.dtype,
                  name=f'conv{i}')(x)
      if self.norm is not None:
        y = self.norm(use_running_average=not train, dtype=self.dtype,
                      name=f'bn{i}')(y)
      x = x + act(y)
    return x


def blur(x: jax.Array) -> jax.Array:
  """The [1, 2, 1] / 4 binomial filter along height and width, [B, H, W, C].

  Before a stride-2 convolution it removes what the subsampling would fold
  (anti-aliasing: Zhang 2019; StyleGAN2 blurs so before its critic's
  downsampling). It passes nothing at the Nyquist frequency, the pattern
  +1, -1, +1, ... along an axis; and since the filter is symmetric, nor
  does the gradient that flows back through it: a critic that blurs first
  cannot reward or punish such a pattern in what it scores. Edges are
  reflected, which keeps that exact at the image's border.
  """
  x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='reflect')
  x = (x[:, :-2] + 2 * x[:, 1:-1] + x[:, 2:]) / 4
  return (x[:, :, :-2] + 2 * x[:, :, 1:-1] + x[:, :, 2:]) / 4


def _apply(layer: nn.Module, x: jax.Array, *, spectral_norm: bool,
           train: bool, name: str) -> jax.Array:
  """layer(x), its weights spectrally normalised if asked.

  The layer's parameters keep their names and shapes either way (flax's
  SpectralNorm transforms them as they are read), so a checkpoint's
  `params` tree does not depend on the choice.
  """
  if not spectral_norm:
    return layer(x)
  return nn.SpectralNorm(layer, name=name)(x, update_stats=train)


class Encoder(_ConvBlocks):
  """4 x [Conv 5x5 stride 2 -> BatchNorm -> ReLU] in the seed.

  Returns the activation of every layer (the last is the code; the others
  feed the decoder's skip connections).
  """


class ChannelWiseFC(nn.Module):
  """Channel-wise fully connected layer (Pathak et al. 2016).

  Each channel has its own dense map over the spatial positions: for input
  [B, H, W, C], kernel [C, HW, HW] and bias [C, HW]. It lets every unit see
  the whole image at a cost of C (HW)^2 weights instead of (CHW)^2.
  """
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b, h, w, c = x.shape
    n = h * w
    kernel = self.param('kernel', nn.initializers.lecun_normal(
        in_axis=1, out_axis=2, batch_axis=(0,)), (c, n, n))
    bias = self.param('bias', nn.initializers.zeros_init(), (c, n))
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias,
                                              dtype=self.dtype)
    y = jnp.einsum('bic,cio->boc', x.reshape(b, n, c), kernel)
    y = y + bias.T[None]
    return y.reshape(b, h, w, c)


class CaptionProjection(nn.Module):
  """Caption embedding -> Dense (no activation) -> tiled to a spatial map."""
  features: int = 256
  dtype: Any = None

  @nn.compact
  def __call__(self, embedding: jax.Array, height: int,
               width: int) -> jax.Array:
    e = nn.Dense(self.features, dtype=self.dtype, name='dense')(embedding)
    return jnp.broadcast_to(e[:, None, None, :],
                            (e.shape[0], height, width, self.features))


# The full-resolution layer's kernel (Generator.full_resolution_features):
# odd, so that SAME padding is even; it reads a pixel's 8 neighbours.
FULL_RESOLUTION_KERNEL = 3


def check_window(window: Box, height: int, width: int) -> None:
  """Raises unless (top, bottom, left, right) lies in a height x width map."""
  top, bottom, left, right = window
  if not (0 <= top < bottom <= height and 0 <= left < right <= width):
    raise ValueError(f'window={tuple(window)} (top, bottom, left, right) '
                     f'must lie inside the {height}x{width} output.')


class Decoder(nn.Module):
  """4 x [ConvTranspose 5x5 stride 2 -> BatchNorm -> ReLU], tanh at the end.

  With skip connections, the input of each layer after the first is the
  previous output concatenated with the encoder activation of the same size.
  Without the `head`, the last layer is a block like the others (BatchNorm,
  activation) for a layer after it to read.
  """
  features: Sequence[int]
  kernel_size: int = 5
  activation: str = 'relu'
  output_activation: str = 'tanh'
  skip_connections: bool = True
  film: bool = False  # FiLM from the embedding in every block but the last
  # The last `noise_levels` blocks with BatchNorm add `strength * z` after
  # it, z one channel of `noise` (per pixel, shared by the channels) and
  # strength a per-channel parameter initialised to `noise_init` (zero in
  # StyleGAN's noise inputs): a source of detail that differs from image
  # to image.
  noise_levels: int = 0
  noise_init: float = 0.0  # the strengths' initial value
  head: bool = True  # the last layer: bias and output activation
  head_kernel_init: Any = None  # the last layer's; None: the layer's own
  conv_transpose: ModuleDef = CONV_TRANSPOSE
  # The input rows an upsampling layer's output rows read: (start, stop,
  # kernel_size, input size) -> (lo, hi); for windows (see `_spans`).
  upsample_span: Callable[..., tuple[int, int]] = layers.transpose_input_span
  norm: ModuleDef = NORM
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, skips: Sequence[jax.Array], *,
               train: bool, window: Box | None = None,
               embedding: jax.Array | None = None,
               noise: jax.Array | None = None) -> jax.Array:
    """Decodes.

    Args:
      x: the bottleneck code [B, h, w, C].
      skips: encoder activations, any order; those whose spatial size
        matches a decoder layer's input are concatenated to it.
      train: batch statistics (True) or running averages (False).
      window: (top, bottom, left, right), ends excluded: compute just this
        part of the output (see `Generator`). Inference only.
      embedding: [B, E] caption embeddings, with `film`.
      noise: [B, h * 2^L, w * 2^L, noise_levels], with `noise_levels`:
        standard normal, of the whole output even with a window. Block i,
        whose output is 2^(L - 1 - i) times smaller, reads every such
        pixel of its channel (a subsample of independent values); None is
        zeros.

    Returns:
      [B, h * 2^L, w * 2^L, features[-1]], or the window of it.
    """
    if not self.features:
      raise ValueError('Decoder needs at least one layer.')
    act = activation_fn(self.activation)
    by_size = {s.shape[1:3]: s for s in skips} if self.skip_connections else {}
    height, width = x.shape[1:3]
    spans = self._spans(window, height, width, train)
    last = len(self.features) - 1
    normalised = len(self.features) - (1 if self.head else 0)
    if not 0 <= self.noise_levels <= normalised:
      raise ValueError(f'noise_levels={self.noise_levels}: this decoder has '
                       f'{normalised} blocks with BatchNorm to add noise to.')
    first_noisy = normalised - self.noise_levels
    x = _crop(x, spans[0])
    for i, features in enumerate(self.features):
      size = (height * 2**i, width * 2**i)
      if i > 0 and size in by_size:
        skip = _crop(by_size[size], spans[i])
        x = jnp.concatenate([x, skip.astype(x.dtype)], -1)
      init = {}
      if i == last and self.head and self.head_kernel_init is not None:
        init = {'kernel_init': self.head_kernel_init}
      x = self.conv_transpose(features, (self.kernel_size,) * 2,
                              strides=(2, 2), padding='SAME',
                              use_bias=i == last and self.head,
                              dtype=self.dtype,
                              name=f'deconv{i}', **init)(x)
      if spans[i] is not None:
        # x starts at twice the input crop's origin; keep what is asked.
        (r0, _), (c0, _) = spans[i]
        (a, b), (c, d) = spans[i + 1]
        x = x[:, a - 2 * r0:b - 2 * r0, c - 2 * c0:d - 2 * c0]
      if i == last and self.head:
        return activation_fn(self.output_activation)(x)
      x = self.norm(use_running_average=not train, dtype=self.dtype,
                    name=f'bn{i}')(x)
      if i >= first_noisy:
        x = x + self._noise(noise, i, i - first_noisy, x, spans[i + 1])
      if self.film:  # per channel: a window of it is its crop
        x = FiLM(dtype=self.dtype, name=f'film{i}')(x, embedding)
      x = act(x)
    return x

  def _noise(self, noise: jax.Array | None, block: int, channel: int,
             x: jax.Array, span) -> jax.Array:
    """Block `block`'s `strength * z`, z its channel of `noise` (or 0)."""
    strength = self.param(f'noise_strength{block}',
                          nn.initializers.constant(self.noise_init),
                          (x.shape[-1],))
    if noise is None:
      return jnp.zeros((), x.dtype)
    step = 2 ** (len(self.features) - 1 - block)
    z = _crop(noise[:, ::step, ::step, channel:channel + 1], span)
    return (z * strength).astype(x.dtype)

  def _spans(self, window: Box | None, height: int, width: int,
             train: bool) -> list[Any]:
    """Per layer, the ((top, bottom), (left, right)) of its input to compute.

    The last entry is the window itself; all are None without a window.
    """
    n = len(self.features)
    if window is None:
      return [None] * (n + 1)
    if train:
      raise ValueError('A decoder window needs train=False: BatchNorm batch '
                       'statistics of a window differ from the whole '
                       "image's.")
    top, bottom, left, right = window
    check_window(window, height * 2**n, width * 2**n)
    spans = [((top, bottom), (left, right))]
    for i in reversed(range(n)):
      rows, cols = spans[0]
      spans.insert(0, tuple(
          self.upsample_span(*span, self.kernel_size, in_size)
          for span, in_size in zip((rows, cols),
                                   (height * 2**i, width * 2**i))))
    return spans


class Generator(nn.Module):
  """Context encoder: (masked image, mask, caption) -> full image G(x)."""
  encoder_features: Sequence[int] = (64, 128, 256, 256)
  decoder_features: Sequence[int] = (256, 128, 64, 3)
  kernel_size: int = 5
  activation: str = 'relu'
  output_activation: str = 'tanh'
  skip_connections: bool = True
  use_captions: bool = True
  caption_features: int = 256
  caption_conditioning: str = 'after_bottleneck'  # GENERATOR_CONDITIONING
  film_encoder: bool = False  # with 'film': in the encoder's blocks too
  decoder_kernel_size: int | None = None  # None: kernel_size
  # > 0: the decoder's last upsampling gives this many features, and a
  # stride-1 3x3 convolution at full resolution reads them with the masked
  # image and the mask (the outermost skip of a U-Net): the known pixels
  # next to a thin hole reach the output without passing through a stride-2
  # encoder. 0: the seed's decoder, its last upsampling the output.
  full_resolution_features: int = 0
  dilated_blocks: int = 0  # DilatedBlocks on the encoder's second output
  # Noise inputs in the decoder's last blocks (`Decoder.noise_levels`); 0
  # (the seed) has none and a deterministic generator.
  noise_levels: int = 0
  noise_init: float = 0.0  # the noise strengths' initial value
  # What the network reads in the hole (prefill.PREFILLS): 'none', zeros
  # (the seed); 'pull_push', a smooth fill from the border, of which the
  # output is then a correction: tanh(h + atanh(guess)), the last layer
  # initialised to zero, so that at initialisation the model is that fill.
  prefill: str = 'none'
  conv: ModuleDef = CONV
  conv_transpose: ModuleDef = CONV_TRANSPOSE
  upsample_span: Callable[..., tuple[int, int]] = layers.transpose_input_span
  norm: ModuleDef = NORM
  dtype: Any = None

  @nn.compact
  def __call__(self, image: jax.Array, mask: jax.Array,
               embedding: jax.Array | None, *, train: bool,
               window: Box | None = None,
               noise: jax.Array | None = None) -> jax.Array:
    """Predicts the whole image; only its masked part is used.

    Args:
      image: [B, H, W, 3] in [-1, 1]; pixels under the mask are ignored.
      mask: [B, H, W, 1], 1 where missing.
      embedding: [B, E] caption embeddings (unused without captions).
      train: batch statistics (True) or running averages (False).
      window: (top, bottom, left, right), ends excluded, e.g. the hole's
        box: with train=False, compute only this part of the output. The
        encoder and bottleneck run whole (every output sees the whole
        border), the decoder layers only on the rows and columns the window
        reads, so filling a 32x32 hole of a 64x64 image costs about 40%
        fewer multiplies; the result equals the whole output's crop.
      noise: with `noise_levels`, [B, H, W, noise_levels] standard normal
        (`draw_noise`), of the whole image even with a window; None is
        zeros.

    Returns:
      [B, H, W, 3] in the output activation's range, or [B, bottom - top,
      right - left, 3] with a window.
    """
    how = (GENERATOR_CONDITIONING[self.caption_conditioning]
           if self.use_captions else GeneratorConditioning())
    guess = None
    if self.prefill == 'pull_push':
      if self.output_activation != 'tanh':
        raise ValueError("prefill='pull_push' corrects the guess through "
                         "tanh: it needs output_activation='tanh', not "
                         f'{self.output_activation!r}.')
      guess = prefill_lib.pull_push(image, mask)
      x = jnp.concatenate([guess, mask], axis=-1)
    else:
      x = jnp.concatenate([image * (1.0 - mask), mask], axis=-1)
    # With a guess, the network's last layer gives a correction to it (zero
    # at initialisation), applied by `_correct`.
    head = (dict(output_activation='linear',
                 head_kernel_init=nn.initializers.zeros_init())
            if guess is not None else
            dict(output_activation=self.output_activation))
    common = dict(kernel_size=self.kernel_size, activation=self.activation,
                  norm=self.norm, dtype=self.dtype)
    skips = Encoder(self.encoder_features, batch_norm_first=True,
                    film=how.film and self.film_encoder, conv=self.conv,
                    dilated_blocks=self.dilated_blocks,
                    name='encoder', **common)(x, train=train,
                                              embedding=embedding)
    code = skips[-1]
    if how.before_bottleneck or how.after_bottleneck:
      caption = CaptionProjection(self.caption_features, dtype=self.dtype,
                                  name='caption')(embedding, *code.shape[1:3])
    if how.before_bottleneck:
      code = jnp.concatenate([code, caption.astype(code.dtype)], axis=-1)
    code = ChannelWiseFC(dtype=self.dtype, name='bottleneck')(code)
    if how.after_bottleneck:
      code = jnp.concatenate([code, caption.astype(code.dtype)], axis=-1)
    common['kernel_size'] = self.decoder_kernel_size or self.kernel_size
    decoder = functools.partial(
        Decoder, **head,
        skip_connections=self.skip_connections, film=how.film,
        noise_levels=self.noise_levels, noise_init=self.noise_init,
        conv_transpose=self.conv_transpose, upsample_span=self.upsample_span,
        name='decoder', **common)
    if not self.full_resolution_features:
      y = decoder(self.decoder_features)(
          code, skips[:-1], train=train, window=window, embedding=embedding,
          noise=noise)
      return y if guess is None else _correct(guess, y, window)

    # The decoder's features over the window and the margin the last
    # convolution reads (within the image), zeros beyond the image's edge:
    # so a window's output is the crop of the whole output.
    height, width = image.shape[1:3]
    if window is not None:
      check_window(window, height, width)
    top, bottom, left, right = window or (0, height, 0, width)
    r = FULL_RESOLUTION_KERNEL // 2
    wide = (max(top - r, 0), min(bottom + r, height),
            max(left - r, 0), min(right + r, width))
    features = (*self.decoder_features[:-1], self.full_resolution_features)
    y = decoder(features, head=False)(
        code, skips[:-1], train=train,
        window=None if window is None else wide, embedding=embedding,
        noise=noise)
    y = jnp.concatenate(
        [y, x[:, wide[0]:wide[1], wide[2]:wide[3]].astype(y.dtype)], -1)
    y = jnp.pad(y, ((0, 0), (r - (top - wide[0]), r - (wide[1] - bottom)),
                    (r - (left - wide[2]), r - (wide[3] - right)), (0, 0)))
    y = nn.Conv(self.decoder_features[-1], (FULL_RESOLUTION_KERNEL,) * 2,
                padding='VALID', dtype=self.dtype, name='full_resolution',
                **({} if guess is None else
                   {'kernel_init': head['head_kernel_init']}))(y)
    if guess is not None:
      return _correct(guess, y, window)
    return activation_fn(self.output_activation)(y)


def draw_noise(key: jax.Array, shape: Sequence[int],
               levels: int) -> jax.Array | None:
  """The generator's `noise` for `levels` noise levels, or None for 0.

  Args:
    key: a PRNG key.
    shape: the images', [B, H, W, ...].
    levels: `model.generator.noise_levels`.
  """
  if not levels:
    return None
  return jax.random.normal(key, (*shape[:3], levels), jnp.float32)


def _correct(guess: jax.Array, correction: jax.Array,
             window: Box | None) -> jax.Array:
  """tanh(correction + atanh(guess)) over the window (the whole image if
  None): a zero correction gives the guess (within 1e-3 of +-1)."""
  if window is not None:
    top, bottom, left, right = window
    guess = guess[:, top:bottom, left:right]
  limit = 1.0 - 1e-3
  base = jnp.arctanh(jnp.clip(guess, -limit, limit)).astype(correction.dtype)
  return jnp.tanh(correction + base)


@dataclasses.dataclass(frozen=True)
class CriticView:
  """What the critic looks at (model.critic.view).

  Attributes:
    branches: (name prefix of the branch's layers, what it sees) for each
      branch, a network of the seed's critic: 'global' (the whole image),
      'local' (a window-sided window around the hole) or 'patch'
      (the image and the mask). Branches' logits are summed, which is
      their features concatenated before one linear layer.
    per_position: a logit at every position of the last features (for the
      patch view), else one from the whole map.
  """
  branches: tuple[tuple[str, str], ...]
  per_position: bool = False


CRITIC_VIEWS = {
    # The whole composite image, one logit (the seed).
    'global': CriticView((('', 'global'),)),
    # The context encoder's critic: the hole and a margin of border.
    'local': CriticView((('', 'local'),)),
    # Iizuka et al. 2017: a global and a local critic.
    'global_local': CriticView((('', 'global'), ('local_', 'local'))),
    # DeepFill v2's SN-PatchGAN, LaMa: the image and the mask, a logit at
    # every position of the last feature map.
    'patch': CriticView((('', 'patch'),), per_position=True),
}


def local_window(x: jax.Array, mask: jax.Array, size: int) -> jax.Array:
  """The size x size window of `x` centred on each example's hole.

  The centre is that of the hole's bounding box (the image's if the mask is
  empty), moved inwards where the window would leave the image.

  Args:
    x: [B, H, W, C].
    mask: [B, H, W, 1], 1 in the hole.
    size: the window's side, at most H and W.

  Returns:
    [B, size, size, C].
  """
  def centre(hole: jax.Array) -> jax.Array:  # [B, N] -> [B]
    first, last = masks.hole_extent(hole)
    return (first + last + 1) // 2

  height, width = x.shape[1:3]
  top = jnp.clip(centre(mask.max(axis=(2, 3))) - size // 2, 0, height - size)
  left = jnp.clip(centre(mask.max(axis=(1, 3))) - size // 2, 0, width - size)
  crop = lambda image, t, l: lax.dynamic_slice(
      image, (t, l, 0), (size, size, image.shape[-1]))
  return jax.vmap(crop)(x, top, left)


def patch_weights(mask: jax.Array, shape: Sequence[int]) -> jax.Array:
  """The hole's share of each patch critic position: [B, h, w] in [0, 1].

  Args:
    mask: [B, H, W, 1], 1 in the hole.
    shape: (h, w), the critic's map; H and W multiples of them.
  """
  b, height, width, _ = mask.shape
  h, w = shape
  return mask.reshape(b, h, height // h, w, width // w).mean(axis=(2, 4))


class Critic(nn.Module):
  """Caption-conditioned critic -> logits, high for real.

  The seed's critic scores the whole image with one logit; `view` chooses
  another (CRITIC_VIEWS). Every view's network is the seed's: stride-2
  convolutions (`features`), BatchNorm from the second on (or none), a
  caption-conditioned head.
  """
  features: Sequence[int] = (64, 128, 256, 256)
  kernel_size: int = 5
  activation: str = 'relu'
  use_captions: bool = True
  caption_features: int = 256
  caption_conditioning: str = 'concat'  # CRITIC_CONDITIONING
  view: str = 'global'  # CRITIC_VIEWS
  window: int = 48  # the local view's side (the 32x32 hole and 8 pixels)
  batch_norm: bool = True
  spectral_norm: bool = False
  blur: bool = False  # `blur` before each of its stride-2 convolutions
  head: str = 'flatten'  # CRITIC_HEADS (the one-logit views)
  conv: ModuleDef = CONV
  norm: ModuleDef = NORM
  dtype: Any = None

  @nn.compact
  def __call__(self, image: jax.Array, mask: jax.Array,
               embedding: jax.Array | None, *, train: bool,
               return_features: bool = False):
    """Scores images.

    Args:
      image: [B, H, W, 3], a real image or a composite.
      mask: [B, H, W, 1], 1 in the hole (what the composite filled).
      embedding: [B, E] caption embeddings (unused without captions).
      train: batch statistics (True) or running averages (False).
      return_features: also return every convolution block's output (for
        feature matching).

    Returns:
      logits: [B], or [B, h, w] for the patch view (the last features'
      positions); with `return_features`, (logits, [feature maps]).
    """
    def seen(what: str) -> jax.Array:
      if what == 'local':
        return local_window(image, mask, self.window)
      if what == 'patch':
        return jnp.concatenate([image, mask.astype(image.dtype)], axis=-1)
      return image

    logits, all_features = 0.0, []
    for prefix, what in CRITIC_VIEWS[self.view].branches:
      features = _ConvBlocks(
          self.features, kernel_size=self.kernel_size,
          activation=self.activation, batch_norm_first=False,
          batch_norm=self.batch_norm, spectral_norm=self.spectral_norm,
          blur=self.blur, conv=self.conv, norm=self.norm, dtype=self.dtype,
          name=f'{prefix}features')(seen(what), train=train)
      all_features += features
      logits = logits + self._head(features[-1], embedding, train=train,
                                   prefix=prefix)
    logits = logits.astype(jnp.float32)
    return (logits, all_features) if return_features else logits

  def fake_weights(self, mask: jax.Array,
                   logits: jax.Array) -> jax.Array | None:
    """What each of its logits of a composite says of the fill: the hole's
    share of the logit's patch ([B, h, w], `patch_weights`) for the patch
    view, whose logits also score known pixels; None for the one-logit
    views, whose logit scores the whole fill. The training step weighs the
    adversarial terms with it. Needs no variables."""
    if not CRITIC_VIEWS[self.view].per_position:
      return None
    return patch_weights(mask, logits.shape[1:])

  def _head(self, x: jax.Array, embedding: jax.Array | None, *, train: bool,
            prefix: str) -> jax.Array:
    """Last features -> logits, caption-conditioned (CRITIC_CONDITIONING).

    A logit at every position ([B, h, w]) for the patch view, else one from
    the flattened map ([B]). Called from `__call__`, whose scope holds the
    layers (the seed's critic: `caption`, `logit`, `projection`).
    """
    how = (CRITIC_CONDITIONING[self.caption_conditioning]
           if self.use_captions else CriticConditioning())
    per_position = CRITIC_VIEWS[self.view].per_position
    features = x
    if how.concat:
      caption = CaptionProjection(self.caption_features, dtype=self.dtype,
                                  name=f'{prefix}caption')(embedding,
                                                           *x.shape[1:3])
      x = jnp.concatenate([x, caption.astype(x.dtype)], axis=-1)
    if not per_position:
      x = CRITIC_HEADS[self.head](x)
    logits = _apply(nn.Dense(1, dtype=self.dtype, name=f'{prefix}logit'), x,
                    spectral_norm=self.spectral_norm, train=train,
                    name=f'{prefix}spectral_norm_logit')[..., 0]
    if how.projection:
      projected = nn.Dense(features.shape[-1], use_bias=False,
                           dtype=self.dtype, name=f'{prefix}projection')(
                               embedding).astype(features.dtype)
      if per_position:  # <V e, features> at every position
        logits = logits + jnp.einsum('bhwc,bc->bhw', features, projected)
      else:  # <V e, spatially averaged features>
        logits = logits + jnp.sum(projected * features.mean(axis=(1, 2)), -1)
    return logits


def _fields(model: ml_collections.ConfigDict,
            group: str) -> dict[str, Any]:
  """A module's fields: `config.model.<group>` as it is (its sequences as
  tuples, which a Flax module hashes), with the fields under `model` that
  the generator and the critic share."""
  fields = {name: tuple(value) if isinstance(value, (list, tuple)) else value
            for name, value in model[group].items()}
  return dict(fields, kernel_size=model.kernel_size,
              use_captions=model.use_captions,
              caption_features=model.caption_features,
              dtype=jnp.dtype(model.dtype))


def generator_from_config(model: ml_collections.ConfigDict,
                          axis_name: str | None = None) -> Generator:
  """Builds the generator from `config.model` (its `generator` fields, the
  shared ones and the `layers` it is built of).

  Args:
    model: `config.model`.
    axis_name: the pmap axis BatchNorm averages its statistics over.
  """
  blocks = implementations.from_config(model.layers, axis_name)
  return Generator(conv=blocks.conv, conv_transpose=blocks.conv_transpose,
                   upsample_span=blocks.upsample_span, norm=blocks.norm,
                   **_fields(model, 'generator'))


def critic_from_config(model: ml_collections.ConfigDict,
                       axis_name: str | None = None) -> Critic:
  """Builds the critic from `config.model` (arguments: the generator's)."""
  blocks = implementations.from_config(model.layers, axis_name)
  return Critic(conv=blocks.conv, norm=blocks.norm,
                **_fields(model, 'critic'))
