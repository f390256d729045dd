"""The same model and training step in PyTorch, as a speed reference.

Used by `tools/benchmark.py --torch`: the generator (encoder, channel-wise
fully connected bottleneck, caption projection, decoder with skips), the
caption-conditioned critic and one training step (critic update on real and
detached composite, then generator update against the updated critic, each
with clip_grad_norm(1.0) and Adam), built from the same config fields as
`inpainting/models.py`. Layer for layer the same shapes and FLOPs, in
PyTorch's NCHW layout with its usual symmetric padding.

On a GPU it runs there, with cuDNN's autotuner on (`cudnn.benchmark`, as
XLA autotunes its own) and float32 matrix products in TF32, as JAX computes
them by default on such GPUs; `config.model.dtype='bfloat16'` runs the
networks under `torch.autocast` in bfloat16, the parameters and optimiser
in float32, as the project's bfloat16 does.

Needs `pip install torch==2.13.0` (not a dependency of the project).
"""

from __future__ import annotations

import ml_collections
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from inpainting import state as state_lib


class _ChannelWiseFC(nn.Module):

  def __init__(self, channels: int, positions: int):
    super().__init__()
    self.kernel = nn.Parameter(torch.randn(channels, positions, positions) /
                               positions**0.5)
    self.bias = nn.Parameter(torch.zeros(channels, positions))

  def forward(self, x):
    b, c, h, w = x.shape
    y = torch.einsum('bci,cio->bco', x.reshape(b, c, h * w), self.kernel)
    return (y + self.bias).reshape(b, c, h, w)


def _down(cin: int, cout: int, k: int, batch_norm: bool) -> nn.Sequential:
  layers = [nn.Conv2d(cin, cout, k, stride=2, padding=k // 2,
                      bias=not batch_norm)]
  if batch_norm:
    layers.append(nn.BatchNorm2d(cout, momentum=0.1))
  layers.append(nn.ReLU())
  return nn.Sequential(*layers)


class Generator(nn.Module):
  """Context encoder with skips and a caption, as in inpainting/models.py."""

  def __init__(self, model: ml_collections.ConfigDict, image_size: int,
               embedding_dim: int = 384):
    super().__init__()
    k, enc, dec = model.kernel_size, model.generator.encoder_features, \
        model.generator.decoder_features
    self.encoder = nn.ModuleList(
        _down(c_in, c_out, k, True)
        for c_in, c_out in zip((4, *enc[:-1]), enc))
    side = image_size // 2**len(enc)
    self.bottleneck = _ChannelWiseFC(enc[-1], side * side)
    self.caption = nn.Linear(embedding_dim, model.caption_features)
    self.side = side
    skips = list(reversed(enc[:-1]))
    c_in = enc[-1] + model.caption_features
    self.decoder = nn.ModuleList()
    for i, c_out in enumerate(dec):
      last = i == len(dec) - 1
      conv = nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=k // 2,
                                output_padding=1, bias=last)
      self.decoder.append(conv if last else nn.Sequential(
          conv, nn.BatchNorm2d(c_out, momentum=0.1), nn.ReLU()))
      c_in = c_out + (skips[i] if i < len(skips) else 0)

  def forward(self, image, mask, embedding):
    x = torch.cat([image * (1 - mask), mask], 1)
    skips = []
    for layer in self.encoder:
      x = layer(x)
      skips.append(x)
    code = self.bottleneck(x)
    caption = self.caption(embedding)[:, :, None, None].expand(
        -1, -1, self.side, self.side)
    x = torch.cat([code, caption], 1)
    skips = list(reversed(skips[:-1]))
    for i, layer in enumerate(self.decoder):
      if i > 0:
        x = torch.cat([x, skips[i - 1]], 1)
      x = layer(x)
    return torch.tanh(x)


class Critic(nn.Module):
  """Caption-conditioned critic on whole images, one logit each."""

  def __init__(self, model: ml_collections.ConfigDict, image_size: int,
               embedding_dim: int = 384):
    super().__init__()
    k, feats = model.kernel_size, model.critic.features
    self.features = nn.Sequential(*(
        _down(c_in, c_out, k, i > 0)
        for i, (c_in, c_out) in enumerate(zip((3, *feats[:-1]), feats))))
    self.side = image_size // 2**len(feats)
    self.caption = nn.Linear(embedding_dim, model.caption_features)
    self.logit = nn.Linear(
        (feats[-1] + model.caption_features) * self.side**2, 1)

  def forward(self, image, embedding):
    x = self.features(image)
    caption = self.caption(embedding)[:, :, None, None].expand(
        -1, -1, self.side, self.side)
    return self.logit(torch.cat([x, caption], 1).flatten(1))[:, 0]


DTYPES = {'float32': None, 'bfloat16': torch.bfloat16}


def default_device() -> torch.device:
  """The GPU where PyTorch sees one, else the CPU."""
  return torch.device('cuda' if torch.cuda.is_available() else 'cpu')


class TrainStep:
  """One critic update, then one generator update, like train_step.train_step.

  Calling it returns the losses as Python floats, which waits for the
  step's work on a GPU (as the JAX benchmark waits for its step).
  """

  def __init__(self, config: ml_collections.ConfigDict,
               device: torch.device | str = 'cpu'):
    if config.model.dtype not in DTYPES:
      raise ValueError(f'config.model.dtype={config.model.dtype!r}: the '
                       f'PyTorch reference runs {sorted(DTYPES)}')
    self.config = config
    self.device = torch.device(device)
    self.autocast_dtype = DTYPES[config.model.dtype]
    if self.device.type == 'cuda':
      torch.backends.cudnn.benchmark = True
      torch.backends.cuda.matmul.allow_tf32 = True
      torch.backends.cudnn.allow_tf32 = True
    self.generator = Generator(config.model, config.image_size).to(self.device)
    self.critic = Critic(config.model, config.image_size).to(self.device)
    opt = config.optimizer
    betas = (opt.b1, opt.b2)
    self.g_opt = torch.optim.Adam(self.generator.parameters(),
                                  lr=opt.generator_learning_rate, betas=betas)
    self.c_opt = torch.optim.Adam(self.critic.parameters(),
                                  lr=opt.critic_learning_rate, betas=betas)

  def _autocast(self):
    return torch.autocast(self.device.type, dtype=self.autocast_dtype,
                          enabled=self.autocast_dtype is not None)

  def __call__(self, image, mask, embedding) -> dict[str, float]:
    clip = self.config.optimizer.grad_clip_norm
    with self._autocast():
      prediction = self.generator(image, mask, embedding).float()
    fake = image * (1 - mask) + prediction * mask

    self.c_opt.zero_grad(set_to_none=True)
    with self._autocast():
      real_logits = self.critic(image, embedding).float()
      fake_logits = self.critic(fake.detach(), embedding).float()
    c_loss = (F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)) +
              F.binary_cross_entropy_with_logits(
                  fake_logits, torch.zeros_like(fake_logits)))
    c_loss.backward()
    nn.utils.clip_grad_norm_(self.critic.parameters(), clip)
    self.c_opt.step()

    self.g_opt.zero_grad(set_to_none=True)
    with self._autocast():
      logits = self.critic(fake, embedding).float()
    hole = ((prediction - image)**2 * mask).sum() / (mask.sum() * 3)
    adversarial = F.binary_cross_entropy_with_logits(
        logits, torch.ones_like(logits))
    g_loss = (self.config.loss.reconstruction_weight * hole +
              self.config.loss.adversarial_weight * adversarial)
    g_loss.backward()
    nn.utils.clip_grad_norm_(self.generator.parameters(), clip)
    self.g_opt.step()
    return {'generator_loss': g_loss.item(), 'critic_loss': c_loss.item()}


def random_batch(config: ml_collections.ConfigDict, n: int, seed: int = 0,
                 device: torch.device | str = 'cpu'
                 ) -> tuple[torch.Tensor, ...]:
  """`state.example_batch` in NCHW: image, mask [n, 1, H, W], embedding."""
  batch = state_lib.example_batch(config, n, seed)
  return tuple(torch.from_numpy(np.ascontiguousarray(
      batch[k].transpose(0, 3, 1, 2) if batch[k].ndim == 4 else batch[k])
                                ).to(device)
               for k in ('image', 'mask', 'embedding'))
