"""A problem's exact values as NumPy arrays in the layer's full shapes.

The one place where flat exact values (:class:`~symconv.problem.Problem`) become float
arrays for the numeric backends (generated kernels, references, finite differences):

- ``x``: ``(batch, in_channels, *input_shape)``
- ``w``: ``(out_channels, in_channels // groups, *kernel_size)``
- ``b``: shared ``(out_channels,)``, untied ``(out_channels, *output_shape)``, or None
- ``target``: ``y`` in ``(batch, out_channels, *output_shape)``; for the ``upstream``
  loss, the given ∂L/∂ŷ in the same shape
- ``lr``: the learning rate as a float

Every backend returns its quantities (:data:`symconv.symbolic.explicit.QUANTITIES`) in the
same shapes: ``yhat``, ``grad_yhat`` and ``yhat_next`` like ``target``; ``grad_w`` and
``w_next`` like ``w``; ``grad_b`` and ``b_next`` like ``b`` (None without a bias);
``grad_x`` like ``x``; ``loss`` and ``loss_next`` 0-d (None for ``upstream``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from symconv.problem import Problem

__all__ = ["ProblemArrays", "problem_arrays"]

Array = NDArray[Any]


class ProblemArrays(NamedTuple):
    """The values of a problem as arrays (see the module docstring for the shapes)."""

    x: Array
    w: Array
    b: Array | None
    target: Array
    lr: float


def problem_arrays(problem: Problem, dtype: DTypeLike = np.float64) -> ProblemArrays:
    """The values of ``problem`` (which must have values) as arrays of ``dtype``.

    Example:
        >>> from symconv.problem import load_problem
        >>> a = problem_arrays(load_problem("exercise2"))
        >>> a.x.shape, a.w.shape, a.b.shape, a.target.shape
        ((1, 1, 4), (1, 1, 3), (1, 2), (1, 1, 2))
    """
    if not problem.has_values or problem.x is None or problem.w is None:
        raise ValueError("problem_arrays needs a problem with values")
    layer = problem.layer

    def array(values: tuple[Any, ...], shape: tuple[int, ...]) -> Array:
        return np.array([float(v) for v in values], dtype=dtype).reshape(shape)

    target_values = problem.y if problem.loss_spec.has_target else problem.grad_yhat
    if target_values is None:
        raise ValueError("problem_arrays needs y (or grad_yhat for an upstream gradient)")
    bias = problem.b_values
    return ProblemArrays(
        x=array(problem.x, layer.x_shape),
        w=array(problem.w, layer.w_shape),
        b=None if bias is None or layer.b_shape is None else array(bias, layer.b_shape),
        target=array(target_values, layer.y_shape),
        lr=float(problem.lr),
    )
