"""symconv: derive, verify and check the backprop of a convolution layer with SymPy.

Example:
    >>> from symconv import derive_explicit, evaluate_steps, load_problem
    >>> steps = evaluate_steps(derive_explicit(load_problem("exercise2")))
    >>> steps[0].grad_w
    (44, 72, 100)
"""

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
from symconv.symbolic.closed import ClosedForm, ClosedFormND, derive_closed, derive_closed_layer
from symconv.symbolic.explicit import (
    ExplicitDerivation,
    StepValues,
    derive_explicit,
    evaluate_steps,
)

__version__ = "0.1.0"

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
