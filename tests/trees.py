"""Comparing pytrees in tests: the same paths, arrays close."""

import jax
import numpy as np


def assert_trees_close(a, b, **tolerance):
  """Same paths and arrays (static fields such as `tx` are not compared)."""
  flat_a, _ = jax.tree_util.tree_flatten_with_path(a)
  flat_b, _ = jax.tree_util.tree_flatten_with_path(b)
  assert [p for p, _ in flat_a] == [p for p, _ in flat_b]
  for (path, x), (_, y) in zip(flat_a, flat_b):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tolerance,
                               err_msg=jax.tree_util.keystr(path))
