"""symconv: derive, verify and check the backprop of a 1-D convolution layer with SymPy.

Example:
    >>> from symconv import derive_explicit, evaluate_steps, load_problem
    >>> steps = evaluate_steps(derive_explicit(load_problem("exercise2")))
    >>> steps[0].grad_w
    (44, 72, 100)
"""

from symconv.errors import ProblemError, SizeError, SymconvError, UsageError
from symconv.problem import Problem, builtin_names, load_problem
from symconv.symbolic.closed import ClosedForm, derive_closed
from symconv.symbolic.explicit import (
    ExplicitDerivation,
    StepValues,
    derive_explicit,
    evaluate_steps,
)

__version__ = "0.1.0"

__all__ = [
    "ClosedForm",
    "ExplicitDerivation",
    "Problem",
    "ProblemError",
    "SizeError",
    "StepValues",
    "SymconvError",
    "UsageError",
    "__version__",
    "builtin_names",
    "derive_closed",
    "derive_explicit",
    "evaluate_steps",
    "load_problem",
]
