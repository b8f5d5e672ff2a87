"""symconv: derive, verify and check the backprop of a convolution layer with SymPy.

The names below are loaded on first use (PEP 562), so that importing a submodule — the
command line, or the pytest plugin that every test run of a project with symconv installed
loads — does not import SymPy.

Example:
    >>> from symconv import derive_explicit, evaluate_steps, load_problem
    >>> steps = evaluate_steps(derive_explicit(load_problem("exercise2")))
    >>> steps[0].grad_w
    (44, 72, 100)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from symconv.errors import (
        ProblemError,
        SizeError,
        SymconvError,
        UnsupportedLayerError,
        UsageError,
    )
    from symconv.layer import Layer, make_layer
    from symconv.loss import Loss, get_loss
    from symconv.problem import Problem, builtin_names, load_problem
    from symconv.symbolic.closed import (
        ClosedForm,
        ClosedFormND,
        derive_closed,
        derive_closed_layer,
    )
    from symconv.symbolic.explicit import (
        ExplicitDerivation,
        StepValues,
        derive_explicit,
        evaluate_steps,
    )

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "ClosedForm": "symconv.symbolic.closed",
    "ClosedFormND": "symconv.symbolic.closed",
    "ExplicitDerivation": "symconv.symbolic.explicit",
    "Layer": "symconv.layer",
    "Loss": "symconv.loss",
    "Problem": "symconv.problem",
    "ProblemError": "symconv.errors",
    "SizeError": "symconv.errors",
    "StepValues": "symconv.symbolic.explicit",
    "SymconvError": "symconv.errors",
    "UnsupportedLayerError": "symconv.errors",
    "UsageError": "symconv.errors",
    "builtin_names": "symconv.problem",
    "derive_closed": "symconv.symbolic.closed",
    "derive_closed_layer": "symconv.symbolic.closed",
    "derive_explicit": "symconv.symbolic.explicit",
    "evaluate_steps": "symconv.symbolic.explicit",
    "get_loss": "symconv.loss",
    "load_problem": "symconv.problem",
    "make_layer": "symconv.layer",
}

__all__ = [
    "ClosedForm",
    "ClosedFormND",
    "ExplicitDerivation",
    "Layer",
    "Loss",
    "Problem",
    "ProblemError",
    "SizeError",
    "StepValues",
    "SymconvError",
    "UnsupportedLayerError",
    "UsageError",
    "__version__",
    "builtin_names",
    "derive_closed",
    "derive_closed_layer",
    "derive_explicit",
    "evaluate_steps",
    "get_loss",
    "load_problem",
    "make_layer",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'symconv' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
