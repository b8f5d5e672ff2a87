"""Central finite differences: gradients without any derivative written by hand.

:func:`central_gradient` differentiates any scalar function of a flat float64 vector;
:func:`loss_gradients` applies it to the NumPy reference's forward pass and loss, to get
``∂L/∂ŷ``, ``∂L/∂w``, ``∂L/∂b`` and ``∂L/∂x`` from function values alone.  For the
``upstream`` kind (no loss, ∂L/∂ŷ = g given) it differentiates the linear functional
``L = Σ g·ŷ``, whose gradients are exactly those of a layer inside a larger network.

Step size: entry ``i`` is perturbed by ``h_i = rel_step · max(1, |v_i|)`` with
``rel_step = ε^(1/3) ≈ 6.1e-6`` (ε the float64 machine epsilon).  This balances the two
errors of a central difference, truncation ``O(h²·f''')`` and rounding
``O(ε·|f| / h)``, so the result carries about 10 correct digits relative to the size of
``f``; scaling with ``|v_i|`` keeps the perturbation visible for a large entry.  The
difference quotient divides by the step actually taken, ``(v_i + h_i) − (v_i − h_i)`` as
stored in float64, not by the nominal ``2·h_i``.

The losses here are quadratic (or linear, for upstream) in each single entry, so the
truncation error is zero and only rounding remains: expect an absolute error around
``1e-10 · max(1, |L|)``.

Cost: two forward passes per entry of x, w and b.  Meant for small layers only: more than
``max_entries`` (default :data:`MAX_ENTRIES`) entries are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from symconv.errors import UsageError
from symconv.layer import Layer
from symconv.reference.numpy_conv import Array, Quantities, forward, loss

__all__ = ["MAX_ENTRIES", "REL_STEP", "central_gradient", "loss_gradients", "objective"]

REL_STEP = float(np.finfo(np.float64).eps ** (1 / 3))
"""Relative step of the central difference, ε^(1/3) for float64."""

MAX_ENTRIES = 2000
"""Most entries (x, w, b and ŷ together) that :func:`loss_gradients` differentiates."""


def central_gradient(
    f: Callable[[Array], Any], v: ArrayLike, *, rel_step: float = REL_STEP
) -> Array:
    """∇f at ``v``, shape ``(N,)``, for ``f`` mapping a float64 vector ``(N,)`` to a scalar.

    ``∂f/∂v_i ≈ (f(v + h_i·e_i) − f(v − h_i·e_i)) / (2·h_i)``, ``h_i = rel_step·max(1, |v_i|)``.

    Example:
        >>> central_gradient(lambda v: float(v @ v), [1.0, -2.0])
        array([ 2., -4.])
    """
    point = np.asarray(v, dtype=np.float64).ravel()
    grad = np.empty_like(point)
    for i in range(point.size):
        h = rel_step * max(1.0, abs(float(point[i])))
        up = point.copy()
        down = point.copy()
        up[i] += h
        down[i] -= h
        # the difference quotient over the step that float64 actually stored
        grad[i] = (float(f(up)) - float(f(down))) / float(up[i] - down[i])
    return grad


def objective(kind: str, yhat: Array, target: Array) -> float:
    """The scalar that is differentiated: the loss, or ``Σ g·ŷ`` for ``upstream``.

    Example:
        >>> objective("upstream", np.array([[[14., 20.]]]), np.array([[[12., 16.]]]))
        488.0
    """
    if kind == "upstream":
        return float(np.sum(target * yhat))
    return float(loss(kind, yhat, target))


def loss_gradients(
    layer: Layer,
    kind: str,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    target: ArrayLike,
    *,
    rel_step: float = REL_STEP,
    max_entries: int = MAX_ENTRIES,
) -> Quantities:
    """``grad_yhat``, ``grad_w``, ``grad_b``, ``grad_x`` of the NumPy forward pass and loss
    by central differences; always float64, shaped like ŷ, w, b (None without a bias), x.

    ``target`` is y, or the given ∂L/∂ŷ for ``kind="upstream"``.  Raises
    :class:`~symconv.errors.UsageError` for more than ``max_entries`` entries.

    Example:
        >>> from symconv.arrays import problem_arrays
        >>> from symconv.problem import load_problem
        >>> p = load_problem("exercise2")
        >>> a = problem_arrays(p)
        >>> loss_gradients(p.layer, p.loss, a.x, a.w, a.b, a.target)["grad_w"].round(6)
        array([[[ 44.,  72., 100.]]])
    """
    xa = np.asarray(x, dtype=np.float64)
    wa = np.asarray(w, dtype=np.float64)
    ta = np.asarray(target, dtype=np.float64)
    ba = None if layer.bias == "none" or b is None else np.asarray(b, dtype=np.float64)
    entries = xa.size + wa.size + (0 if ba is None else ba.size) + ta.size
    if entries > max_entries:
        raise UsageError(
            f"finite differences of a layer with {entries} entries (x, w, b, ŷ) are refused; "
            f"allowed: at most `max_entries` (={max_entries})"
        )

    # all inputs and parameters as one flat vector θ = (x, w, b)
    sizes = [xa.size, wa.size, 0 if ba is None else ba.size]
    flat = np.concatenate([xa.ravel(), wa.ravel(), np.zeros(0) if ba is None else ba.ravel()])

    def objective_of(theta: Array) -> float:
        x_part, w_part, b_part = np.split(theta, np.cumsum(sizes)[:2])
        bias = None if ba is None else b_part.reshape(ba.shape)
        yhat = forward(layer, x_part.reshape(xa.shape), w_part.reshape(wa.shape), bias)
        return objective(kind, yhat, ta)

    grad = central_gradient(objective_of, flat, rel_step=rel_step)
    grad_x, grad_w, grad_b = np.split(grad, np.cumsum(sizes)[:2])

    # ∂L/∂ŷ: the objective as a function of ŷ alone, at the forward pass's ŷ
    yhat = forward(layer, xa, wa, ba)

    def objective_of_yhat(values: Array) -> float:
        return objective(kind, values.reshape(yhat.shape), ta)

    grad_yhat = central_gradient(objective_of_yhat, yhat, rel_step=rel_step)
    return {
        "grad_yhat": grad_yhat.reshape(yhat.shape),
        "grad_w": grad_w.reshape(wa.shape),
        "grad_b": None if ba is None else grad_b.reshape(ba.shape),
        "grad_x": grad_x.reshape(xa.shape),
    }
