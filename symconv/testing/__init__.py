"""Prove your own convolution layer against symconv's exact truth, in pytest and CI.

An engineer who wrote a convolution (NumPy, Numba, a ``torch.autograd.Function``, JAX)
declares what it supports and lets symconv draw random layers of exactly that kind, with
exact values, and compare ŷ, ∂L/∂x, ∂L/∂w and ∂L/∂b entry by entry::

    import pytest
    from symconv.testing import assert_case
    from my_pkg.conv import forward, backward

    @pytest.mark.symconv(dims=(1, 2), padding_modes=("zeros",))
    def test_my_conv(symconv_case):
        assert_case(forward, backward, symconv_case)

(the ``symconv_case`` fixture and the ``symconv`` marker come with symconv's pytest plugin;
``--symconv-sweep N`` and ``--symconv-seed S`` choose the cases), or without pytest
``assert_conv_matches(forward, backward, sweep=50)``, or from the shell
``symconv verify --impl my_pkg.conv:forward --impl-backward my_pkg.conv:backward``.

The calling convention and the message of a mismatch: :mod:`symconv.testing.api`; the
cases: :mod:`symconv.testing.supports`; the diagnosis: :mod:`symconv.testing.diagnose`.

This package imports nothing heavy until a name is used (the plugin is loaded by every
pytest run), so the names below are resolved on first access.

Example:
    >>> from symconv.testing import Supports, cases
    >>> [case.id for case in cases(Supports(dims=(2,)), sweep=2)]
    ['c01-2d-s3x2-p1-d2x1-g3-shared', 'c02-2d-s3x2-p2x1-shared']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from symconv.crosscheck import Check
    from symconv.errors import ImplementationError
    from symconv.testing.api import (
        CaseResult,
        ConvMismatch,
        assert_case,
        assert_conv_matches,
        check_case,
        implementation_name,
        layer_from_call,
        load_callable,
        run_case,
    )
    from symconv.testing.diagnose import DIAGNOSES
    from symconv.testing.supports import Case, Supports, cases

__all__ = [
    "DIAGNOSES",
    "Case",
    "CaseResult",
    "Check",
    "ConvMismatch",
    "ImplementationError",
    "Supports",
    "assert_case",
    "assert_conv_matches",
    "cases",
    "check_case",
    "implementation_name",
    "layer_from_call",
    "load_callable",
    "run_case",
]

_HOMES = {
    "Check": "symconv.crosscheck",
    "ImplementationError": "symconv.errors",
    "Case": "symconv.testing.supports",
    "Supports": "symconv.testing.supports",
    "cases": "symconv.testing.supports",
    "DIAGNOSES": "symconv.testing.diagnose",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (``symconv.testing.api`` by default)."""
    if name not in __all__:
        raise AttributeError(f"module 'symconv.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES.get(name, "symconv.testing.api")), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
