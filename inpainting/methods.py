"""The methods a run can train, by name (`config.method`).

Each maps to a `method.Method`, its module's `METHOD`. A new method is a
module that builds one, an entry here, and a config file that names it.
"""

from __future__ import annotations

import ml_collections

from inpainting import context_encoder
from inpainting import diffusion
from inpainting import method

METHODS: dict[str, method.Method] = {
    # The seed's: a caption-conditioned context encoder and its critic.
    'context_encoder': context_encoder.METHOD,
    # Draws of the hole: a caption-conditioned diffusion model (EDM).
    'diffusion': diffusion.METHOD,
}


def get(config: ml_collections.ConfigDict) -> method.Method:
  """The method `config.method` names (checked by config_lib)."""
  return METHODS[config.method]
