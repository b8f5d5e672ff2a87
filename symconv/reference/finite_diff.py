"""Central finite differences: gradients without any derivative written by hand.

:func:`central_gradient` differentiates any scalar function of a flat float64 vector;
:func:`loss_gradients` applies it to the NumPy reference's forward pass and loss, to get
``∂L/∂ŷ``, ``∂L/∂w``, ``∂L/∂b`` and ``∂L/∂x`` from function values alone.

Step size: entry ``i`` is perturbed by ``h_i = rel_step · max(1, |v_i|)`` with
``rel_step = ε^(1/3) ≈ 6.1e-6`` (ε the float64 machine epsilon).  This balances the two
errors of a central difference, truncation ``O(h²·f''')`` and rounding
``O(ε·|f| / h)``, so the result carries about 10 correct digits relative to the size of
``f``; scaling with ``|v_i|`` keeps the perturbation visible for a large entry.  The
difference quotient divides by the step actually taken, ``(v_i + h_i) − (v_i − h_i)`` as
stored in float64, not by the nominal ``2·h_i``.

The losses here are quadratic in each single entry, so the truncation error is zero and
only rounding remains: expect an absolute error around ``1e-10 · max(1, |L|)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

import numpy as np
from numpy.typing import ArrayLike

from symconv.reference.numpy_conv import Array, Layer, forward, loss

__all__ = ["REL_STEP", "FiniteGradients", "central_gradient", "loss_gradients"]

REL_STEP = float(np.finfo(np.float64).eps ** (1 / 3))
"""Relative step of the central difference, ε^(1/3) for float64."""


class FiniteGradients(TypedDict):
    """Gradients of the summed batch loss by central differences (float64)."""

    grad_yhat: Array  # (B, m)
    grad_w: Array  # (k,)
    grad_b: Array | None  # (m,) untied, () shared, None
    grad_x: Array  # (B, n)


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


def loss_gradients(
    layer: Layer,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    y: ArrayLike,
    *,
    rel_step: float = REL_STEP,
) -> FiniteGradients:
    """∂L/∂ŷ, ∂L/∂w, ∂L/∂b, ∂L/∂x of the NumPy forward pass and loss, by central differences.

    Shapes as :class:`~symconv.reference.numpy_conv.Gradients`; always float64.

    Example:
        >>> v = from_problem(load_problem("exercise2"))
        >>> loss_gradients(v.layer, v.x, v.w, v.b, v.y)["grad_w"].round(6)
        array([ 44.,  72., 100.])
    """
    xa = np.asarray(x, dtype=np.float64)
    wa = np.asarray(w, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    ba = None if layer.bias == "none" or b is None else np.asarray(b, dtype=np.float64)

    # all parameters and inputs as one flat vector θ = (x, w, b)
    sizes = [xa.size, wa.size, 0 if ba is None else ba.size]
    flat = np.concatenate([xa.ravel(), wa.ravel(), np.zeros(0) if ba is None else ba.ravel()])

    def loss_of(theta: Array) -> float:
        x_part, w_part, b_part = np.split(theta, np.cumsum(sizes)[:2])
        bias = None if ba is None else b_part.reshape(ba.shape)
        return float(loss(layer, forward(layer, x_part.reshape(xa.shape), w_part, bias), ya))

    grad = central_gradient(loss_of, flat, rel_step=rel_step)
    grad_x, grad_w, grad_b = np.split(grad, np.cumsum(sizes)[:2])

    # ∂L/∂ŷ: the loss as a function of ŷ alone, at the forward pass's ŷ
    yhat = forward(layer, xa, wa, ba)

    def loss_of_yhat(values: Array) -> float:
        return float(loss(layer, values.reshape(yhat.shape), ya))

    grad_yhat = central_gradient(loss_of_yhat, yhat, rel_step=rel_step).reshape(yhat.shape)
    return FiniteGradients(
        grad_yhat=grad_yhat,
        grad_w=grad_w,
        grad_b=None if ba is None else grad_b.reshape(ba.shape),
        grad_x=grad_x.reshape(xa.shape),
    )
