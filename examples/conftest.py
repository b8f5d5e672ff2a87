"""The examples' tests: a module whose framework is missing is not collected (its doctests
would fail to import); its tests skip themselves (``pytest.importorskip``)."""

from __future__ import annotations

import importlib.util

_NEEDS = {"jax_conv.py": "jax", "torch_function.py": "torch", "broken.py": "torch"}

collect_ignore = [
    module for module, package in _NEEDS.items() if importlib.util.find_spec(package) is None
]
