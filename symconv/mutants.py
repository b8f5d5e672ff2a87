"""Deliberately wrong kernels: proof that the cross-check can fail.

Each mutant computes the same quantities as a real backend, with one classic mistake.
``symconv verify --mutant NAME`` adds it as a backend; the check must report it (exit 1).
The float32 overflow case needs no mutant: a problem with huge values (``--x 1e30,...``)
makes the float32 backends return inf, which the check reports as not finite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symconv.crosscheck import Batch, Quantities, _arrays
from symconv.problem import Problem
from symconv.reference import numpy_conv

__all__ = ["MUTANTS"]


def _as_quantities(result: Any) -> Quantities:
    out: Quantities = dict(result)
    return out


def _layer(problem: Problem, **changes: Any) -> numpy_conv.Layer:
    fields: dict[str, Any] = {
        "n": problem.n,
        "k": problem.k,
        "stride": problem.stride,
        "padding": problem.padding,
        "padding_mode": problem.padding_mode,
        "dilation": problem.dilation,
        "bias": problem.bias,
        "loss": problem.loss,
    }
    fields.update(changes)
    return numpy_conv.Layer(**fields)


def _step(problem: Problem, batch: Batch, dtype: np.dtype[Any], **changes: Any) -> Quantities:
    x, w, b, y = _arrays(problem, batch, dtype)
    return _as_quantities(
        numpy_conv.step(_layer(problem, **changes), x, w, b, y, float(problem.lr))
    )


def flipped_kernel(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    """A true convolution: the kernel is flipped (w reversed) in the forward pass."""
    x, w, b, y = _arrays(problem, batch, dtype)
    out = _as_quantities(
        numpy_conv.step(_layer(problem), x, w[::-1].copy(), b, y, float(problem.lr))
    )
    out["grad_w"] = out["grad_w"][::-1]
    out["w_next"] = w - dtype.type(problem.lr) * out["grad_w"]
    return out


def off_by_one_window(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    """Every window starts one position late (x read as x[t + 1], the last one repeated)."""
    x, w, b, y = _arrays(problem, batch, dtype)
    shifted = np.concatenate([x[:, 1:], x[:, -1:]], axis=1)
    return _as_quantities(numpy_conv.step(_layer(problem), shifted, w, b, y, float(problem.lr)))


def missing_bias(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    """The bias is left out of the forward pass (its gradient still reported)."""
    x, w, b, y = _arrays(problem, batch, dtype)
    out = _as_quantities(
        numpy_conv.step(_layer(problem, bias="none"), x, w, None, y, float(problem.lr))
    )
    if b is not None:
        g = out["grad_yhat"]
        out["grad_b"] = g.sum() if problem.bias == "shared" else g.sum(axis=0)
        out["b_next"] = b - dtype.type(problem.lr) * out["grad_b"]
    return out


def wrong_sign(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    """Gradient ascent: θ + α·∂L/∂θ."""
    x, w, b, y = _arrays(problem, batch, dtype)
    return _as_quantities(numpy_conv.step(_layer(problem), x, w, b, y, -float(problem.lr)))


def stride_ignored_in_backward(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    """The backward pass reads windows with stride 1 whatever the forward stride."""
    x, w, b, y = _arrays(problem, batch, dtype)
    forward = _layer(problem)
    out = _as_quantities(numpy_conv.step(forward, x, w, b, y, float(problem.lr)))
    if problem.stride == 1:
        # a stride-1 layer has nothing to ignore: read one position further instead
        return off_by_one_window(problem, batch, dtype)
    g = out["grad_yhat"]
    xpad = numpy_conv.pad(forward, x)
    positions = numpy_conv.padded_positions(_layer(problem, stride=1))[: problem.m]
    out["grad_w"] = np.einsum("bmk,bm->k", xpad[:, positions], g)
    out["w_next"] = w - dtype.type(problem.lr) * out["grad_w"]
    return out


def squared_not_halved(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    """∂L/∂ŷ = 2(ŷ − y) for the half sum of squares (the ½ forgotten in the derivative)."""
    out = _step(problem, batch, dtype)
    scale = dtype.type(2)
    out["grad_yhat"] = out["grad_yhat"] * scale
    out["grad_w"] = out["grad_w"] * scale
    out["grad_x"] = out["grad_x"] * scale
    if out["grad_b"] is not None:
        out["grad_b"] = out["grad_b"] * scale
    return out


MUTANTS: dict[str, Callable[[Problem, Batch, np.dtype[Any]], Quantities]] = {
    "flipped-kernel": flipped_kernel,
    "off-by-one": off_by_one_window,
    "missing-bias": missing_bias,
    "wrong-sign": wrong_sign,
    "stride-ignored": stride_ignored_in_backward,
    "unhalved-square": squared_not_halved,
}
