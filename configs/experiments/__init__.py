"""Every run the docs cite (docs/experiments/), one config file each.

Each file imports its parent and overrides only what it changes; its
docstring gives the command, the budget in training images and the
result with its date. `coco64.py` is the common ground.
"""
