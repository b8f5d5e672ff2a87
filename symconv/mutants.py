"""Deliberately wrong implementations: proof that the cross-check can fail.

Each mutant is the NumPy reference (:mod:`symconv.reference.numpy_conv`) with one classic
mistake.  It takes a :class:`~symconv.problem.Problem` with values and a dtype and returns
the same :data:`Quantities` as a real backend (the shapes of :mod:`symconv.arrays`).
``symconv verify --mutant NAME`` adds one as a backend; the check must report it (exit 1)
— on a problem where the mistake can show at all.  Each docstring says when that is
(with generic values: no coincidences such as a symmetric kernel or a zero gradient), and
:func:`detectable` says it for a layer and a loss.

The float32 overflow case needs no mutant: a problem with huge values (``--x 1e30,...``)
makes the float32 backends return inf, which the check reports as not finite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from symconv.arrays import problem_arrays
from symconv.layer import Layer
from symconv.problem import Problem
from symconv.reference import numpy_conv as nc
from symconv.reference.numpy_conv import Array, Quantities

__all__ = ["DETECTABLE", "MUTANTS", "Mutant", "Quantities", "detectable"]

Mutant = Callable[[Problem, np.dtype[Any]], Quantities]


def _arrays(problem: Problem, dtype: np.dtype[Any]) -> tuple[Array, Array, Array | None, Array]:
    arrays = problem_arrays(problem, dtype)
    return arrays.x, arrays.w, arrays.b, arrays.target


def _step(problem: Problem, dtype: np.dtype[Any], layer: Layer | None = None) -> Quantities:
    """The correct step (on ``layer`` instead of the problem's, if given)."""
    x, w, b, target = _arrays(problem, dtype)
    return nc.step(layer or problem.layer, problem.loss, x, w, b, target, float(problem.lr))


def _update(problem: Problem, out: Quantities, x: Array, w: Array, b: Array | None) -> None:
    """Redo the SGD step from ``out``'s (wrong) gradients, and the forward pass after it."""
    rate = w.dtype.type(float(problem.lr))
    out["w_next"] = w - rate * out["grad_w"]
    out["b_next"] = None if b is None else b - rate * out["grad_b"]
    out["yhat_next"] = nc.forward(problem.layer, x, out["w_next"], out["b_next"])
    if out["loss"] is not None:
        _, _, _, target = _arrays(problem, w.dtype)
        out["loss_next"] = nc.loss(problem.loss, out["yhat_next"], target)


def _kernel_permuted(
    problem: Problem,
    dtype: np.dtype[Any],
    read: Callable[[Array], Array],
    unread: Callable[[Array], Array],
) -> Quantities:
    """A layer that reads its kernel through ``read`` (a permutation of the taps) and is
    otherwise right: its gradients are mapped back with ``unread`` (the inverse)."""
    x, w, b, target = _arrays(problem, dtype)
    out = nc.step(problem.layer, problem.loss, x, read(w), b, target, float(problem.lr))
    out["grad_w"] = unread(out["grad_w"])
    out["w_next"] = unread(out["w_next"])
    return out


def flipped_kernel(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """A true convolution: the kernel flipped along every spatial axis in the forward pass.

    Detectable when some kernel axis has size > 1 (and the kernel is not symmetric).
    """
    spatial = tuple(range(2, 2 + problem.layer.ndim))

    def flip(w: Array) -> Array:
        return np.flip(w, axis=spatial).copy()

    return _kernel_permuted(problem, dtype, flip, flip)


def transposed_axes(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """The kernel's spatial axes swapped (2-D/3-D): tap ``(j₁, …, j_D)`` reads the weight
    stored at ``(j_D, …, j₁)`` — the kernel read in column-major order, which for a square
    kernel is its transpose.

    Detectable on a 2-D or 3-D layer with at least two kernel axes of size > 1 (and a
    kernel that is not symmetric under the swap); a 1-D layer has nothing to swap.
    """
    layer = problem.layer
    kernel = layer.kernel_size
    reverse = (0, 1, *range(1 + layer.ndim, 1, -1))

    def read(w: Array) -> Array:
        # the stored values, viewed with the spatial axes in the opposite order
        return w.reshape(*w.shape[:2], *kernel[::-1]).transpose(reverse).copy()

    def unread(w: Array) -> Array:
        return w.transpose(reverse).reshape(w.shape[:2] + kernel).copy()

    return _kernel_permuted(problem, dtype, read, unread)


def off_by_one_window(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """Every window starts one position late along every spatial axis (``x`` read as
    ``x[t + 1]``, the last position repeated), consistently in forward and backward.

    Detectable when some spatial axis has at least two positions (and the input varies
    along it).
    """
    x, w, b, target = _arrays(problem, dtype)
    shifted = x
    for axis in range(2, x.ndim):
        # x'[t] = x[min(t + 1, n − 1)]
        n = x.shape[axis]
        shifted = np.take(shifted, np.minimum(np.arange(n) + 1, n - 1), axis=axis)
    return nc.step(problem.layer, problem.loss, shifted, w, b, target, float(problem.lr))


def missing_bias(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """The bias left out of the forward pass (its gradient and update still reported).

    Detectable when the layer has a bias (shared or untied) with non-zero values.
    """
    x, w, b, target = _arrays(problem, dtype)
    layer = problem.layer
    out = nc.step(replace(layer, bias="none"), problem.loss, x, w, None, target, float(problem.lr))
    if b is not None:
        out["grad_b"] = nc.bias_gradient(layer, out["grad_yhat"])
        out["b_next"] = b - dtype.type(float(problem.lr)) * out["grad_b"]
    return out


def wrong_sign(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """Gradient ascent: ``θ' = θ + lr·∂L/∂θ``.

    Detectable whenever a parameter gradient is non-zero (``w_next``, ``b_next`` and the
    forward pass after the step).
    """
    x, w, b, target = _arrays(problem, dtype)
    return nc.step(problem.layer, problem.loss, x, w, b, target, -float(problem.lr))


def stride_ignored_in_backward(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """The backward pass reads the windows with stride 1 (along every axis) whatever the
    forward stride: a right ŷ, wrong ∂L/∂w and ∂L/∂x.

    Detectable when some axis has stride > 1 and more than one output position.
    """
    layer = problem.layer
    # output i reads i + d·j instead of s·i + d·j (inside the padded input: i ≤ s·i)
    positions = tuple(
        table - (s - 1) * np.arange(table.shape[0], dtype=np.intp)[:, None]
        for table, s in zip(nc.padded_positions(layer), layer.stride)
    )
    return _wrong_backward(problem, dtype, positions)


def dilation_ignored_in_backward(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """The backward pass reads the taps without dilation (``s·i + j`` for ``s·i + d·j``): a
    right ŷ, wrong ∂L/∂w and ∂L/∂x.

    Detectable when some axis has dilation > 1 and a kernel of size > 1.
    """
    layer = problem.layer
    positions = tuple(
        table - (d - 1) * np.arange(table.shape[1], dtype=np.intp)[None, :]
        for table, d in zip(nc.padded_positions(layer), layer.dilation)
    )
    return _wrong_backward(problem, dtype, positions)


def _wrong_backward(problem: Problem, dtype: np.dtype[Any], positions: nc.Positions) -> Quantities:
    """The correct forward pass; ∂L/∂w and ∂L/∂x from windows at the wrong ``positions``."""
    layer = problem.layer
    x, w, b, _ = _arrays(problem, dtype)
    out = _step(problem, dtype)
    g = out["grad_yhat"]
    padded = nc.pad(layer, x)
    out["grad_w"] = nc.kernel_gradient(layer, nc.gather(padded, positions), g)
    grad_windows = nc.window_gradient(layer, w, g)
    out["grad_x"] = nc.unpad(layer, nc.scatter(grad_windows, positions, padded.shape))
    _update(problem, out, x, w, b)
    return out


def squared_not_halved(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """∂L/∂ŷ doubled: ``2(ŷ − y)`` for the half sum of squares (the ½ forgotten in the
    derivative; ``(4/N)(ŷ − y)`` for mse), and every gradient and the update after it.

    Detectable with a loss (sse_half or mse) and ŷ ≠ y; with an upstream gradient the
    given ∂L/∂ŷ is used as it is (nothing to halve).
    """
    x, w, b, _ = _arrays(problem, dtype)
    out = _step(problem, dtype)
    if out["loss"] is None:
        return out
    out["grad_yhat"] = out["grad_yhat"] * dtype.type(2)
    grad_x, grad_w, grad_b = nc.backward(problem.layer, x, w, b, out["grad_yhat"])
    out |= {"grad_x": grad_x, "grad_w": grad_w, "grad_b": grad_b}
    _update(problem, out, x, w, b)
    return out


def wrong_group(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """Each output channel of group ``g`` reads the input channels of group ``g + 1``
    (mod G), consistently in forward and backward.

    Detectable when groups > 1 and the groups' input channels hold different values.
    """
    layer = problem.layer
    x, w, b, target = _arrays(problem, dtype)
    per_group = layer.in_channels // layer.groups
    # the input channels as the wrong groups see them: x'[:, c] = x[:, c + C_in/G mod C_in]
    seen = np.roll(x, -per_group, axis=1)
    out = nc.step(layer, problem.loss, seen, w, b, target, float(problem.lr))
    # ∂L/∂x: the gradient on what channel c was read as, back onto channel c + C_in/G
    out["grad_x"] = np.roll(out["grad_x"], per_group, axis=1)
    return out


def batch_not_summed(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """∂L/∂w and ∂L/∂b from the first example only (the batch sum forgotten); ŷ, the loss,
    ∂L/∂ŷ and ∂L/∂x are right.

    Detectable when the batch has more than one example (whose gradients are non-zero).
    """
    layer = problem.layer
    x, w, b, _ = _arrays(problem, dtype)
    out = _step(problem, dtype)
    _, grad_w, grad_b = nc.backward(layer, x[:1], w, b, out["grad_yhat"][:1])
    out |= {"grad_w": grad_w, "grad_b": grad_b}
    _update(problem, out, x, w, b)
    return out


def padding_side(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """Asymmetric padding applied the wrong way round: ``(after, before)`` for
    ``(before, after)`` on every axis (the output shape is the same).

    Detectable when some axis pads unevenly (before ≠ after).
    """
    layer = problem.layer
    swapped = replace(layer, padding=tuple((after, before) for before, after in layer.padding))
    return _step(problem, dtype, swapped)


def no_circular_wrap(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """Circular padding read as zeros (the wrap-around forgotten).

    Detectable when the padding is circular and some axis pads (with non-zero values
    wrapped in).
    """
    return _step(problem, dtype, replace(problem.layer, padding_mode="zeros"))


MUTANTS: dict[str, Mutant] = {
    "flipped-kernel": flipped_kernel,
    "off-by-one": off_by_one_window,
    "missing-bias": missing_bias,
    "wrong-sign": wrong_sign,
    "stride-ignored": stride_ignored_in_backward,
    "unhalved-square": squared_not_halved,
    "wrong-group": wrong_group,
    "batch-not-summed": batch_not_summed,
    "padding-side": padding_side,
    "no-circular-wrap": no_circular_wrap,
    "dilation-ignored": dilation_ignored_in_backward,
    "transposed-axes": transposed_axes,
}


def _has(values: tuple[int, ...] | list[int], minimum: int) -> bool:
    return any(v >= minimum for v in values)


DETECTABLE: dict[str, Callable[[Layer, str], bool]] = {
    "flipped-kernel": lambda layer, kind: _has(layer.kernel_size, 2),
    "off-by-one": lambda layer, kind: _has(layer.input_shape, 2),
    "missing-bias": lambda layer, kind: layer.bias != "none",
    "wrong-sign": lambda layer, kind: True,
    "stride-ignored": lambda layer, kind: any(
        s > 1 and m > 1 for s, m in zip(layer.stride, layer.output_shape)
    ),
    "unhalved-square": lambda layer, kind: kind != "upstream",
    "wrong-group": lambda layer, kind: layer.groups > 1,
    "batch-not-summed": lambda layer, kind: layer.batch > 1,
    "padding-side": lambda layer, kind: any(a != b for a, b in layer.padding),
    "no-circular-wrap": lambda layer, kind: layer.padding_mode == "circular"
    and any(a or b for a, b in layer.padding),
    "dilation-ignored": lambda layer, kind: any(
        d > 1 and k > 1 for d, k in zip(layer.dilation, layer.kernel_size)
    ),
    "transposed-axes": lambda layer, kind: sum(k > 1 for k in layer.kernel_size) >= 2,
}
"""Per mutant, whether its mistake can show on a layer with a loss kind (each docstring's
condition; generic values assumed)."""


def detectable(name: str, layer: Layer, kind: str) -> bool:
    """True when mutant ``name`` can differ from the truth on ``layer`` with loss ``kind``
    (for generic values: no symmetric kernel, zero gradient or constant input by chance).

    Example:
        >>> from symconv.problem import load_problem
        >>> p = load_problem("exercise2")
        >>> detectable("stride-ignored", p.layer, p.loss), detectable("off-by-one", p.layer, p.loss)
        (False, True)
    """
    return DETECTABLE[name](layer, kind)
