"""Test set-up: 2 fake CPU devices, set before JAX (or TensorFlow) loads."""

import gc
import os
import pathlib
import subprocess
import sys
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
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

from configs import tiny_sampler  # pylint: disable=g-import-not-at-top,wrong-import-position
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


@pytest.fixture(scope='session')
def trained_run(data_dir, tmp_path_factory):
  """A tiny run trained for 3 steps, shared by tests that read it.

  Returns:
    (config, workdir). Tests may add reports to the workdir, never
    checkpoints.
  """
  from inpainting import train  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.dataset.data_dir = data_dir
  config.num_train_steps = 3
  workdir = tmp_path_factory.mktemp('run')
  train.train_and_evaluate(config, str(workdir))
  return config, workdir


@pytest.fixture(scope='session')
def sampler_run(data_dir, tmp_path_factory):
  """A tiny run of the diffusion sampler (configs/tiny_sampler.py) trained
  for 3 steps, shared like `trained_run`."""
  from inpainting import train  # pylint: disable=g-import-not-at-top
  config = tiny_sampler.get_config()
  config.dataset.data_dir = data_dir
  config.num_train_steps = 3
  workdir = tmp_path_factory.mktemp('sampler_run')
  train.train_and_evaluate(config, str(workdir))
  return config, workdir


REPO = pathlib.Path(__file__).resolve().parents[1]
MAIN = (sys.executable, '-m', 'inpainting.main')


def main_env(devices: int = 2) -> dict[str, str]:
  """The environment of an `inpainting.main` process with fake CPU devices."""
  return dict(os.environ,
              XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')


@pytest.fixture
def start_main():
  """Starts `python -m inpainting.main ARGS` from the repo root."""
  def start(*args, devices=2, **kwargs):
    return subprocess.Popen([*MAIN, *args], cwd=REPO, env=main_env(devices),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)
  return start


@pytest.fixture
def run_main():
  """Runs `python -m inpainting.main ARGS` to completion from the repo root."""
  def run(*args, devices=2, timeout=600, prefix=(), **kwargs):
    return subprocess.run([*prefix, *MAIN, *args], cwd=REPO,
                          env=main_env(devices),
                          capture_output=True, text=True, timeout=timeout,
                          check=False, **kwargs)
  return run


@pytest.fixture
def read_checkpoint():
  """Reads a run's checkpoint without a target: {path: array}."""
  def read(workdir: pathlib.Path, step: int) -> dict[str, np.ndarray]:
    tree = ocp.StandardCheckpointer().restore(
        pathlib.Path(workdir).absolute() / 'checkpoints' / str(step) /
        'default')
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in
            jax.tree_util.tree_flatten_with_path(tree)[0]}
  return read


def _memory_maps() -> tuple[int, int]:
  """(memory mappings of this process, the kernel's limit), 0s off Linux."""
  try:
    limit = int(pathlib.Path('/proc/sys/vm/max_map_count').read_text())
    with open('/proc/self/maps', encoding='ascii') as maps:
      return sum(1 for _ in maps), limit
  except (OSError, ValueError):
    return 0, 0


@pytest.fixture(autouse=True)
def _release_compiled_code():
  """Frees JAX's compiled executables once they hold half the mappings.

  XLA:CPU maps each compiled kernel's code on its own: one compile of the
  tiny train step with every option on adds about 2,500 memory mappings,
  and JAX's caches keep them while the process lives. A whole suite in one
  process reached Linux's limit (vm.max_map_count, 65,530 by default) and
  aborted inside a compile. Past half the limit, the caches are cleared
  after the test (later tests recompile; the persistent compilation cache
  above makes that a load).
  """
  yield
  count, limit = _memory_maps()
  if count > limit // 2:
    jax.clear_caches()
    gc.collect()


def pytest_configure(config):
  del config
  assert jax.device_count() == 2, 'conftest must run before JAX initialises'
