"""Test set-up: 2 fake CPU devices, set before JAX (or TensorFlow) loads."""

import os
import tempfile

os.environ['XLA_FLAGS'] = ' '.join(
    [os.environ.get('XLA_FLAGS', ''),
     '--xla_force_host_platform_device_count=2']).strip()
os.environ['JAX_PLATFORMS'] = 'cpu'
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Tests (and the processes they start) compile the same tiny train step many
# times: a persistent cache for this session turns repeats into loads.
os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(
    prefix='jax-cache-')

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

from configs import tiny  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory):
  """A TFDS data dir holding the tiny synthetic dataset, built once."""
  path = tmp_path_factory.mktemp('tfds')
  from inpainting import input_pipeline  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.dataset.data_dir = str(path)
  input_pipeline.get_builder(config)
  return str(path)


@pytest.fixture
def tiny_config(data_dir):
  """The tiny test config reading the prebuilt tiny dataset."""
  config = tiny.get_config()
  config.dataset.data_dir = data_dir
  return config


def pytest_configure(config):
  del config
  assert jax.device_count() == 2, 'conftest must run before JAX initialises'
