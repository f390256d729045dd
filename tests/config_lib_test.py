"""Bad configs fail at once, naming the field and the value."""

import importlib
import pathlib
import re

import ml_collections
import pytest

from configs import caption_gan
from configs import context_encoder
from configs import default
from configs import sampler
from configs import seed
from configs import tiny
from configs import tiny_sampler
from inpainting import config_lib


def _validate(config, device_count=2, process_count=1):
  config_lib.validate(config, device_count=device_count,
                      process_count=process_count,
                      reference=default.get_config())


@pytest.mark.parametrize('module', [default, caption_gan, context_encoder,
                                    seed, sampler, tiny, tiny_sampler])
def test_shipped_configs_are_valid(module):
  _validate(module.get_config())


EXPERIMENTS = sorted(
    p.stem for p in (pathlib.Path(__file__).resolve().parents[1] / 'configs' /
                     'experiments').glob('*.py') if p.stem != '__init__')


@pytest.mark.parametrize('name', EXPERIMENTS)
def test_experiment_configs_are_valid_and_say_how_to_run_them(name):
  """Each run the docs cite is a valid config whose docstring gives its
  command (with this file's name), its budget and its result."""
  module = importlib.import_module(f'configs.experiments.{name}')
  config = module.get_config()
  if not config.dataset.manual_dir:  # the command's PATH/coco64-captions.zip
    config.dataset.manual_dir = 'coco64-captions.zip'
  _validate(config)
  doc = module.__doc__
  assert doc.startswith(f'{name}: '), doc.splitlines()[0]
  assert re.search(r'^Budget: .*images', doc, re.M), name
  assert re.search(r'^Result', doc, re.M), name
  assert 'python -m inpainting.main' in doc and (
      f'configs/experiments/{name}.py' in doc or name == 'coco64'), name


def _unlocked_tiny():
  config = tiny.get_config()
  config.unlock()
  return config


@pytest.mark.parametrize('edit, expected', [
    (lambda c: setattr(c.model, 'encoder_featurs', (8, 8)),
     'config.model.encoder_featurs: unknown field'),
    (lambda c: setattr(c, 'num_train_step', 3),
     'config.num_train_step: unknown field'),
])
def test_unknown_fields_are_named(edit, expected):
  config = _unlocked_tiny()
  edit(config)
  with pytest.raises(config_lib.ConfigError, match=expected):
    _validate(config)


def test_wrong_types_are_named():
  # A config written from scratch has no type-safe defaults to catch these.
  config = ml_collections.ConfigDict(tiny.get_config().to_dict(),
                                    type_safe=False)
  config.batch_size = '8'
  config.model.use_captions = 1
  config.dataset.data_dir = 3
  with pytest.raises(config_lib.ConfigError) as error:
    _validate(config)
  message = str(error.value)
  assert "config.batch_size='8': must be of type int, not str" in message
  assert 'config.model.use_captions=1: must be of type bool' in message
  assert 'config.dataset.data_dir=3: must be of type str or None' in message


@pytest.mark.parametrize('field, value, expected', [
    ('image_size', 40,
     r'config.model.generator.encoder_features=\(8, 8, 16, 16\): 4 stride-2 layers '
     r'need config.image_size=40 to be divisible by 2\*\*4=16'),
    ('model.critic.features', (8, 8, 16, 16, 16, 16, 16),
     r'config.model.critic.features=\(8, 8, 16, 16, 16, 16, 16\): 7 '
     'stride-2'),
    ('model.generator.decoder_features', (16, 8, 3),
     r'config.model.generator.decoder_features=\(16, 8, 3\): must have as many entries'),
    ('model.generator.decoder_features', (16, 8, 8, 4),
     'the last entry is the output image and must be 3'),
    ('model.generator.encoder_features', (8, 0, 16, 16),
     r'config.model.generator.encoder_features=\(8, 0, 16, 16\): must be a non-empty'),
    ('batch_size', 9,
     r'config.batch_size=9: must be divisible by the number of devices \(2\)'),
    ('mask.size', 80,
     'config.mask.size=80: the hole must be smaller than config.image_size=64'),
    ('mask.size', 64, 'config.mask.size=64: the hole must be smaller'),
    ('mask.size', 31, 'config.mask.size=31: .* must be even'),
    ('mask.size', 0, 'config.mask.size=0: must be a positive integer'),
    ('num_train_steps', -1,
     'config.num_train_steps=-1: must be a positive integer'),
    ('keep_checkpoints_every', -1,
     r'config.keep_checkpoints_every=-1: must be an integer >= 0'),
    ('model.generator.activation', 'swishy',
     "config.model.generator.activation='swishy': must be one of"),
    ('model.layers.conv_impl', 'fft', "config.model.layers.conv_impl='fft': must be one of"),
    ('model.layers.batch_norm_impl', 'sum',
     "config.model.layers.batch_norm_impl='sum': must be one of"),
    ('model.dtype', 'float16', "config.model.dtype='float16': must be one of"),
    ('model.generator.caption_conditioning', 'attention',
     "config.model.generator.caption_conditioning='attention': must be one of "
     r"\['after_bottleneck', 'before_bottleneck', 'film'\]"),
    ('model.critic.caption_conditioning', 'matching',
     "config.model.critic.caption_conditioning='matching': must be one of"),
    ('model.generator.film_encoder', True,
     "config.model.generator.film_encoder=True: needs "
     "config.model.generator.caption_conditioning='film'"),
    ('eval.num_examples', 0,
     'config.eval.num_examples=0: must be a positive integer, or None'),
    ('optimizer.b1', 1.0, r'config.optimizer.b1=1.0: must be in \[0, 1\)'),
    ('optimizer.generator_learning_rate', 0.0,
     'config.optimizer.generator_learning_rate=0.0: must be > 0'),
    ('caption_dropout', 1.5, 'config.caption_dropout=1.5: must be in'),
    ('guidance', -1.0, 'config.guidance=-1.0: must be >= 0'),
    ('noise_scale', -0.5, 'config.noise_scale=-0.5: must be >= 0'),
    ('loss.noise_free_reconstruction', True,
     'config.loss.noise_free_reconstruction=True scores the generator '
     r'without its noise inputs; it needs config.model.generator.noise_levels > 0'),
    ('model.layers.upsampling', 'pixel_shuffle',
     "config.model.layers.upsampling='pixel_shuffle': must be one of"),
    ('model.generator.decoder_kernel_size', 0,
     'config.model.generator.decoder_kernel_size=0: must be positive or None'),
    ('model.generator.full_resolution_features', -1,
     'config.model.generator.full_resolution_features=-1: must be >= 0'),
    ('model.generator.prefill', 'telea', "config.model.generator.prefill='telea': must be one of"),
    ('model.generator.dilated_blocks', -1,
     'config.model.generator.dilated_blocks=-1: must be >= 0'),
    ('loss.r1_interval', 0, 'config.loss.r1_interval=0: must be an integer'),
    ('loss.reconstruction', 'ssim',
     "config.loss.reconstruction='ssim': must be one of \\['mse', 'psnr'\\]"),
    # The tiny decoder's 4 layers: 3 blocks with BatchNorm before the head.
    ('model.generator.noise_levels', 4,
     r'config.model.generator.noise_levels=4: must be from 0 \(none\) to 3'),
    ('dataset.num_shards', 3,
     'config.batch_size=8: must be divisible by config.dataset.num_shards=3'),
])
def test_impossible_values_are_named(field, value, expected):
  config = tiny.get_config()
  *parents, leaf = field.split('.')
  group = config
  for parent in parents:
    group = group[parent]
  group[leaf] = value
  with pytest.raises(config_lib.ConfigError, match=expected):
    _validate(config)


def test_dilated_blocks_need_a_second_encoder_layer():
  config = tiny.get_config()
  config.model.generator.dilated_blocks = 2
  config.model.generator.encoder_features = (8,)
  config.model.generator.decoder_features = (3,)
  with pytest.raises(config_lib.ConfigError,
                     match=r"dilated_blocks=2 follow the encoder's second "
                     r'layer; config.model.generator.encoder_features=\(8,\) has '
                     'fewer'):
    _validate(config)


def test_prefill_needs_a_tanh_output():
  config = tiny.get_config()
  config.model.generator.prefill = 'pull_push'
  config.model.generator.output_activation = 'sigmoid'
  with pytest.raises(config_lib.ConfigError,
                     match="needs config.model.generator.output_activation='tanh'"):
    _validate(config)


def test_shards_must_split_over_processes():
  config = tiny.get_config()
  config.dataset.num_shards = 2
  _validate(config, device_count=4, process_count=2)
  with pytest.raises(config_lib.ConfigError,
                     match=r'num_shards=2: must be divisible by the number '
                     r'of processes \(4\)'):
    _validate(config, device_count=8, process_count=4)


def test_every_problem_is_reported_at_once():
  config = tiny.get_config()
  config.mask.size = 80
  config.batch_size = 9
  with pytest.raises(config_lib.ConfigError) as error:
    _validate(config)
  assert 'config.mask.size=80' in str(error.value)
  assert 'config.batch_size=9' in str(error.value)
