"""Run configs: `get_config(dataset)` in each module; see default.py."""
