"""Numeric kernels made from the symbolic forms, for every layer of :mod:`symconv.layer`.

Two kinds, with one contract (the shapes of :mod:`symconv.arrays`: ``x``
``(batch, C_in, *input_shape)``, ``w`` ``(C_out, C_in/groups, *kernel_size)``, ``b`` shared
``(C_out,)`` | untied ``(C_out, *output_shape)`` | None, ``target`` = y, or ∂L/∂ŷ for the
``upstream`` loss, ``(batch, C_out, *output_shape)``), both computed in the dtype of ``x``:

- :func:`generate` prints NumPy source from the **closed form**.  Along each axis the window
  index ``s(i−1) + d(j−1) − p + 1`` (:mod:`symconv.symbolic.closed`) is affine in the output
  index ``i`` and the tap ``j``: its coefficients are the steps of a strided view of the
  padded input, so a window is a product of per-axis slices.  Two designs use that view:

  * ``"im2col"`` (layers with channels): the batch is moved last, every window of the
    padded input is read into one column matrix (one ``as_strided`` view, one copy), and the
    forward pass, ∂L/∂w and the adjoint columns of ∂L/∂x are one BLAS matrix product per
    group each; the adjoint columns are sent back through the per-tap slices, then the
    padding is folded (circular: the wrapped copies are added).
  * ``"taps"`` (one channel in and out per group, or when the columns would be too big):
    one strided slice per tap, no column matrix; channels are contracted with ``einsum``.

  ∂L/∂ŷ is the derivative of the loss registry's summand (:func:`symconv.loss.get_loss`),
  taken by SymPy and printed elementwise.  The source holds only integers derived from
  validated sizes, never user text; it is compiled once per layer configuration.  Its
  scratch arrays (padded input, columns, their gradients) are kept from call to call, one
  set per thread and dtype (:data:`WORKSPACE_LIMIT`); every array handed out is new.
- :func:`lambdify_explicit` turns the explicit expressions (one named symbol per entry,
  :mod:`symconv.symbolic.explicit`) into Python functions with ``sympy.lambdify``.

Both give ``step(x, w, b, target, lr)``: every quantity of
:data:`~symconv.symbolic.explicit.QUANTITIES` for one SGD step, in the shapes above
(``loss`` and ``loss_next`` 0-d, None for upstream).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sympy import Add, Expr, Integer, Poly, Symbol, diff, expand, factor_terms, lambdify
from sympy.printing.numpy import NumPyPrinter

from symconv.layer import Layer
from symconv.loss import get_loss
from symconv.problem import Problem
from symconv.symbolic import closed as C
from symconv.symbolic.explicit import ExplicitDerivation, paused_gc

__all__ = [
    "IM2COL_LIMIT",
    "STRATEGIES",
    "WORKSPACE_LIMIT",
    "GeneratedKernels",
    "LambdifiedExplicit",
    "LayerKey",
    "Strategy",
    "generate",
    "lambdify_explicit",
    "layer_key",
]

Array = NDArray[Any]
Strategy = Literal["im2col", "taps"]
STRATEGIES: tuple[Strategy, ...] = ("im2col", "taps")

# The column matrix of "im2col" holds C_in·Πkernel·Πoutput·batch entries; above this many
# the "taps" design (no column matrix) is chosen instead.
IM2COL_LIMIT = 1 << 23
# Scratch arrays (the padded input, the columns and their gradients) of up to this many
# entries are kept from call to call, per thread and dtype; larger ones are made per call.
WORKSPACE_LIMIT = 1 << 22

# The layer configuration a kernel depends on (values do not matter): the layer (sizes,
# channels, groups, batch, padding, bias) and the loss kind.
LayerKey = tuple[Layer, str]


def layer_key(problem: Problem) -> LayerKey:
    """``(layer, loss kind)`` of ``problem``: what its kernels depend on.

    Example:
        >>> from symconv.problem import load_problem
        >>> layer_key(load_problem("exercise2"))[1]
        'sse_half'
    """
    return (problem.layer, problem.loss)


# ---------------------------------------------------------------------------------------
# the per-axis geometry, read off the closed form's window index


@dataclass(frozen=True)
class _Axis:
    """One spatial axis: the window's storage position ``start + out_step·i + tap_step·j``
    (0-based i, j) in the padded input, which is stored from position ``1 − before``."""

    n: int
    k: int
    m: int
    before: int
    after: int
    out_step: int
    tap_step: int
    start: int

    @property
    def padded(self) -> int:
        return self.n + self.before + self.after

    @property
    def interior(self) -> str:
        """The slice of the input inside the padded axis."""
        return f"{self.before}:{self.before + self.n}"

    def tap(self, j: int) -> str:
        """The slice of the positions read by tap ``j`` (0-based) for every output."""
        first = self.start + self.tap_step * j
        return f"{first}:{first + self.out_step * (self.m - 1) + 1}:{self.out_step}"


@lru_cache(maxsize=1)
def _window() -> Expr:
    """The closed form's window index (the same for every bias, loss and padding mode)."""
    window: Expr = C.derive_closed().window
    return window


def _axis(layer: Layer, a: int) -> _Axis:
    """Axis ``a`` of ``layer``: its closed-form window with the axis's s, p_before, d."""
    before, after = layer.padding[a]
    local = _window().xreplace(
        {C.s: Integer(layer.stride[a]), C.p: Integer(before), C.d: Integer(layer.dilation[a])}
    )
    # the padded input x̃ is stored from position 1 − p_before: index = window − (1 − p)
    stored = expand(local - (1 - before))
    poly = Poly(stored, C.i, C.j)
    if poly.total_degree() > 1:
        raise ValueError(f"the window index {local} is not affine in i and j")
    out_step = int(poly.coeff_monomial(C.i))
    tap_step = int(poly.coeff_monomial(C.j))
    start = int(stored.xreplace({C.i: Integer(1), C.j: Integer(1)}))
    axis = _Axis(
        n=layer.input_shape[a],
        k=layer.kernel_size[a],
        m=layer.output_shape[a],
        before=before,
        after=after,
        out_step=out_step,
        tap_step=tap_step,
        start=start,
    )
    last = start + out_step * (axis.m - 1) + tap_step * (axis.k - 1)
    if start < 0 or out_step < 1 or tap_step < 1 or last >= axis.padded:
        raise ValueError(f"the windows of axis {a + 1} leave the padded input ({axis})")
    return axis


# ---------------------------------------------------------------------------------------
# the loss, elementwise, from the registry


class _KernelPrinter(NumPyPrinter):  # type: ignore[misc]
    """NumPy printer for elementwise expressions; a sum prints as ``a + b - c`` (no
    negation pass for a negative term)."""

    def _print_Add(self, expr: Add, order: str | None = None) -> str:
        plus = [self._print(t) for t in expr.args if not t.could_extract_minus_sign()]
        minus = [self._print(-t) for t in expr.args if t.could_extract_minus_sign()]
        if not plus:
            return f"(-({' + '.join(minus)}))"
        return "(" + " - ".join([" + ".join(plus), *minus]) + ")"


def _print(expr: Expr) -> str:
    return str(_KernelPrinter().doprint(expr))


def _loss_source(layer: Layer, kind: str) -> list[str]:
    """``loss(yhat, y)`` and ``grad_yhat(yhat, y)`` on whole arrays, from the registry.

    L = Σ summand(ŷ, y) over every output entry; ∂L/∂ŷ = ∂summand/∂ŷ (SymPy's ``diff``).
    For an upstream gradient there is no loss and ``y`` is ∂L/∂ŷ itself.
    """
    spec = get_loss(kind)
    if not spec.has_target:
        return [
            "def loss(yhat, y):",
            "    return None",
            "",
            "def grad_yhat(yhat, g):",
            "    # ∂L/∂ŷ arrives from the layers above",
            "    return g",
        ]
    yhat, y = Symbol("yhat", real=True), Symbol("y", real=True)
    summand = spec.summand(yhat, y, math.prod(layer.y_shape))
    constant, rest = summand.as_coeff_Mul()
    gradient = factor_terms(diff(summand, yhat))
    if rest.is_Pow and rest.exp == 2:
        # Σ e² is the dot product e·e (no array of squares)
        total = [f"    e = {_print(rest.base)}", "    total = numpy.vdot(e, e)"]
    else:
        total = [f"    total = numpy.sum({_print(rest)})"]
    return [
        "def loss(yhat, y):",
        f"    # L = Σ {summand}",
        *total,
        f"    return {_print(constant)} * total",
        "",
        "def grad_yhat(yhat, y):",
        "    # ∂L/∂ŷ = ∂(summand)/∂ŷ, entry by entry",
        f"    return {_print(gradient)}",
    ]


# ---------------------------------------------------------------------------------------
# closed form -> NumPy source


@dataclass(frozen=True)
class _Plan:
    """Everything the printed source depends on."""

    layer: Layer
    kind: str
    strategy: Strategy
    axes: tuple[_Axis, ...]

    @property
    def batch_last(self) -> bool:
        return self.strategy == "im2col"

    def index(self, spatial: Sequence[str], channel: str = ":", batch: str = ":") -> str:
        """An index of an internal array: ``(C, *spatial, B)`` or ``(B, C, *spatial)``."""
        parts = [channel, *spatial, batch] if self.batch_last else [batch, channel, *spatial]
        return "[" + ", ".join(parts) + "]"

    def shape(self, channels: int, spatial: Sequence[int]) -> str:
        batch = self.layer.batch
        sizes = [channels, *spatial, batch] if self.batch_last else [batch, channels, *spatial]
        return _tuple(sizes)

    @property
    def to_internal(self) -> str:
        """The axis permutation from the contract's layout to the internal one."""
        ndim = self.layer.ndim
        return _tuple([*range(1, ndim + 2), 0]) if self.batch_last else ""

    @property
    def from_internal(self) -> str:
        ndim = self.layer.ndim
        return _tuple([ndim + 1, *range(ndim + 1)]) if self.batch_last else ""


def _tuple(values: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, values)) + ("," if len(values) == 1 else "") + ")"


def _taps(plan: _Plan) -> list[tuple[tuple[int, ...], list[str]]]:
    """Every tap (multi-index) with its per-axis slices over all outputs."""
    out = []
    for flat in range(math.prod(a.k for a in plan.axes)):
        index: list[int] = []
        for axis in reversed(plan.axes):
            flat, rest = divmod(flat, axis.k)
            index.append(rest)
        index.reverse()
        out.append((tuple(index), [axis.tap(j) for axis, j in zip(plan.axes, index)]))
    return out


def _region(plan: _Plan, number: int, here: str) -> str:
    """Axis ``number`` at ``here``; the axes before it whole, the axes after it inside."""
    axes = plan.axes
    return plan.index([":"] * number + [here] + [a.interior for a in axes[number + 1 :]])


def _workspace_source(plan: _Plan) -> list[str]:
    """``workspace(dtype)``: the scratch arrays of one call (never returned to the caller).

    They are kept from call to call (one set per thread and dtype) unless they are large:
    a fresh large array costs its page faults on every call.  The zero padding of x̃ is
    written when x̃ is made, and only the inside is written later.
    """
    layer, axes = plan.layer, plan.axes
    c_in, padded = layer.in_channels, [a.padded for a in axes]
    shapes = {"xpad": plan.shape(c_in, padded), "gxpad": plan.shape(c_in, padded)}
    entries = 2 * layer.in_channels * math.prod(padded) * layer.batch
    if plan.strategy == "im2col":
        kernel, outputs = [a.k for a in axes], [a.m for a in axes]
        columns = _tuple([c_in, *kernel, *outputs, layer.batch])
        shapes |= {"cols": columns, "gcols": columns}
        entries += 2 * c_in * math.prod(kernel) * math.prod(outputs) * layer.batch
    zeros = layer.padding_mode == "zeros" and any(a.before or a.after for a in axes)
    keep = entries <= WORKSPACE_LIMIT
    indent = " " * (12 if keep else 8)
    made = [
        f"{indent}numpy.{'zeros' if zeros and name == 'xpad' else 'empty'}({shape}, dtype),"
        f"  # {name}"
        for name, shape in shapes.items()
    ]
    lines = ["def workspace(dtype):"]
    if keep:
        lines += [
            "    # kept from call to call, one set per thread and dtype",
            "    arrays = getattr(kept, dtype.char, None)",
            "    if arrays is None:",
            "        arrays = (",
            *made,
            "        )",
            "        setattr(kept, dtype.char, arrays)",
            "    return arrays",
        ]
    else:
        lines += ["    # large: made per call", "    return (", *made, "    )"]
    return lines


def _pad_source(plan: _Plan) -> list[str]:
    """``pad(x)``: x (contract layout) → x̃ (internal layout, padded; in the workspace)."""
    layer, axes = plan.layer, plan.axes
    moved = f"x.transpose{plan.to_internal}" if plan.batch_last else "x"
    lines = [
        "def pad(x):",
        "    # x̃: the input in the internal layout, stored from position 1 − p_before",
        "    xpad = workspace(x.dtype)[0]",
        f"    xpad{plan.index([a.interior for a in axes])} = {moved}",
    ]
    if layer.padding_mode == "circular":
        # x̃ outside the input wraps around: axis by axis, over the axes already padded
        for number, axis in enumerate(axes):
            n, before, after = axis.n, axis.before, axis.after
            if before:
                lines.append(
                    f"    xpad{_region(plan, number, f'0:{before}')} = "
                    f"xpad{_region(plan, number, f'{n}:{n + before}')}"
                )
            if after:
                lines.append(
                    f"    xpad{_region(plan, number, f'{before + n}:{before + n + after}')} = "
                    f"xpad{_region(plan, number, f'{before}:{before + after}')}"
                )
    lines.append("    return xpad")
    return lines


def _fold_source(plan: _Plan) -> list[str]:
    """The end of ``grad_x``: ∂L/∂x̃ (padded) folded onto ∂L/∂x, a new array in the
    contract's layout."""
    axes = plan.axes
    lines = []
    if plan.layer.padding_mode == "circular":
        # ∂L/∂x_t = Σ_r ∂L/∂x̃_{t + r·n}: the adjoint of the wrap, the last axis first
        for number in reversed(range(len(axes))):
            n, before, after = axes[number].n, axes[number].before, axes[number].after
            if before:
                lines.append(
                    f"    gxpad{_region(plan, number, f'{n}:{n + before}')} += "
                    f"gxpad{_region(plan, number, f'0:{before}')}"
                )
            if after:
                lines.append(
                    f"    gxpad{_region(plan, number, f'{before}:{before + after}')} += "
                    f"gxpad{_region(plan, number, f'{before + n}:{before + n + after}')}"
                )
    inside = f"gxpad{plan.index([a.interior for a in axes])}"
    if plan.batch_last:
        inside += f".transpose{plan.from_internal}"
    lines.append(f"    return numpy.ascontiguousarray({inside})")
    return lines


def _bias_source(plan: _Plan) -> tuple[str, list[str]]:
    """The bias term of the forward pass, and ``grad_b(g)``."""
    layer = plan.layer
    ones = [1] * layer.ndim
    channels = layer.out_channels
    if layer.bias == "shared":
        # ŷ[co, ...] += b[co];  ∂L/∂b[co] = Σ over batch and positions of g[co, ...]
        if plan.batch_last:
            term = f"b.reshape{_tuple([channels, *ones, 1])}"
            grad = f"g.reshape({channels}, -1).sum(axis=1)"
        else:
            term = f"b.reshape{_tuple([1, channels, *ones])}"
            grad = f"g.sum(axis={_tuple([0, *range(2, layer.ndim + 2)])})"
    elif layer.bias == "untied":
        # ŷ[co, o] += b[co, o];  ∂L/∂b[co, o] = Σ over the batch of g[co, o]
        if plan.batch_last:
            term = f"b.reshape{_tuple([channels, *layer.output_shape, 1])}"
            grad = f"g.sum(axis={layer.ndim + 1})"
        else:
            term = f"b.reshape{_tuple([1, channels, *layer.output_shape])}"
            grad = "g.sum(axis=0)"
    else:
        return "", ["def grad_b(g):", "    return None"]
    return term, ["def grad_b(g):", f"    return {grad}"]


def _im2col_source(plan: _Plan) -> list[str]:
    """columns, forward, grad_w, grad_x of the "im2col" design (internal: batch last)."""
    layer, axes = plan.layer, plan.axes
    groups, batch = layer.groups, layer.batch
    c_in, c_out = layer.in_channels, layer.out_channels
    per_in, per_out = c_in // groups, c_out // groups
    taps = math.prod(a.k for a in axes)
    columns = math.prod(a.m for a in axes) * batch
    kernel = [a.k for a in axes]
    outputs = [a.m for a in axes]
    padded = [a.padded for a in axes]
    ndim = layer.ndim
    bias_term, grad_b = _bias_source(plan)
    w_matrix = f"w.reshape({groups}, {per_out}, {per_in * taps})"
    g_matrix = f"g.reshape({groups}, {per_out}, {columns})"
    # the strides of the windows: per axis, the coefficient of j (tap) and of i (output)
    stride = [f"st[{a + 1}]" for a in range(ndim)]
    strides = [
        "st[0]",
        *(f"{axis.tap_step} * {s}" for axis, s in zip(axes, stride)),
        *(f"{axis.out_step} * {s}" for axis, s in zip(axes, stride)),
        f"st[{ndim + 1}]",
    ]
    origin = plan.index([f"{a.start}:" for a in axes]) if any(a.start for a in axes) else ""
    lines = [
        "def columns(xpad):",
        "    # x̃[ci, window(o, taps), batch] for every input channel, tap, output and example:",
        "    # one strided view (steps: the window's coefficients of j and i), one copy",
        f"    if xpad.shape != {plan.shape(c_in, padded)}:",
        f"        raise ValueError('x̃ must have shape {plan.shape(c_in, padded)}')",
        "    st = xpad.strides",
        f"    view = as_strided(xpad{origin}, shape={_tuple([c_in, *kernel, *outputs, batch])},",
        f"                      strides=({', '.join(strides)}), writeable=False)",
        "    cols = workspace(xpad.dtype)[2]",
        "    numpy.copyto(cols, view)",
        f"    return cols.reshape({groups}, {per_in * taps}, {columns})",
        "",
        "def forward(cols, w, b):",
        "    # ŷ[co, o, batch] = Σ_{ci, taps} w[co, ci, taps] · x̃[ci, window(o, taps), batch] + b:",
        "    # one matrix product per group",
        f"    yhat = numpy.matmul({w_matrix}, cols)"
        f".reshape{_tuple([c_out, *outputs, batch])}",
    ]
    if bias_term:
        lines.append(f"    yhat += {bias_term}")
    lines += [
        "    return yhat",
        "",
        "def grad_w(g, cols):",
        "    # ∂L/∂w[co, ci, taps] = Σ_{o, batch} g[co, o, batch] · x̃[ci, window(o, taps), batch]",
        f"    gw = numpy.matmul({g_matrix}, cols.transpose(0, 2, 1))",
        f"    return gw.reshape{_tuple(list(layer.w_shape))}",
        "",
        *grad_b,
        "",
        "def grad_x(g, w):",
        "    # ∂L/∂x̃: the adjoint of the windows — per tap, w · g sent back to the positions",
        "    # the tap read (the same slices as the forward pass), then the padding folded",
        "    _, gxpad, _, gcols = workspace(g.dtype)",
        f"    numpy.matmul({w_matrix}.transpose(0, 2, 1), {g_matrix},",
        f"                 out=gcols.reshape({groups}, {per_in * taps}, {columns}))",
        "    gxpad.fill(0)",
    ]
    for index, slices in _taps(plan):
        lines.append(f"    gxpad{plan.index(slices)} += gcols[:, {', '.join(map(str, index))}]")
    lines += _fold_source(plan)
    return lines


def _taps_source(plan: _Plan) -> list[str]:
    """columns, forward, grad_w, grad_x of the "taps" design (internal: batch first)."""
    layer, axes = plan.layer, plan.axes
    groups, batch = layer.groups, layer.batch
    c_in, c_out = layer.in_channels, layer.out_channels
    per_in, per_out = c_in // groups, c_out // groups
    kernel = [a.k for a in axes]
    outputs = [a.m for a in axes]
    padded = [a.padded for a in axes]
    ndim = layer.ndim
    letters = "pqr"[:ndim]
    ones = [1] * ndim
    bias_term, grad_b = _bias_source(plan)
    # one channel in and out per group: the taps are numbers, broadcast; else einsum
    scalar = per_in == 1 and per_out == 1
    if scalar:
        weights = [f"    wt = w.reshape({groups}, -1).T.reshape{_tuple([-1, 1, groups, 1, *ones])}"]
    else:
        weights = [f"    wg = w.reshape{_tuple([groups, per_out, per_in, *kernel])}"]
    group_shape = _tuple([batch, groups, per_in, *padded])
    lines = [
        "def columns(xpad):",
        "    # x̃ by group: (batch, group, channel in the group, *padded)",
        f"    if xpad.shape != {plan.shape(c_in, padded)}:",
        f"        raise ValueError('x̃ must have shape {plan.shape(c_in, padded)}')",
        f"    return xpad.reshape{group_shape}",
        "",
        "def forward(xg, w, b):",
        "    # ŷ[batch, co, o] = Σ_{ci, taps} w[co, ci, taps] · x̃[batch, ci, window(o, taps)] + b:",
        "    # one strided slice of x̃ per tap",
        *weights,
    ]
    for number, (index, slices) in enumerate(_taps(plan)):
        window = f"xg[:, :, :, {', '.join(slices)}]"
        tap = ", ".join(map(str, index))
        if scalar:
            term = f"wt[{number}] * {window}"
        else:
            term = f"numpy.einsum('gac,bgc{letters}->bga{letters}', wg[:, :, :, {tap}], {window})"
        lines.append(f"    {'yhat = ' if number == 0 else 'yhat += '}{term}")
    lines.append(f"    yhat = yhat.reshape{_tuple([batch, c_out, *outputs])}")
    if bias_term:
        lines.append(f"    yhat += {bias_term}")
    lines += [
        "    return yhat",
        "",
        "def grad_w(g, xg):",
        "    # ∂L/∂w[co, ci, taps] = Σ_{batch, o} g[batch, co, o] · x̃[batch, ci, window(o, taps)]",
        f"    gg = g.reshape{_tuple([batch, groups, per_out, *outputs])}",
        f"    gw = numpy.empty({_tuple([groups, per_out, per_in, *kernel])}, dtype=g.dtype)",
    ]
    for index, slices in _taps(plan):
        tap = ", ".join(map(str, index))
        window = f"xg[:, :, :, {', '.join(slices)}]"
        lines.append(
            f"    gw[:, :, :, {tap}] = numpy.einsum('bga{letters},bgc{letters}->gac', gg, {window})"
        )
    lines += [
        f"    return gw.reshape{_tuple(list(layer.w_shape))}",
        "",
        *grad_b,
        "",
        "def grad_x(g, w):",
        "    # ∂L/∂x̃: the adjoint of the windows — per tap, w · g sent back through the slice",
        "    # the tap read, then the padding folded",
        f"    gg = g.reshape{_tuple([batch, groups, per_out, *outputs])}",
        *weights,
        "    gxpad = workspace(g.dtype)[1]",
        "    gxpad.fill(0)",
        f"    gxg = gxpad.reshape{group_shape}",
    ]
    for number, (index, slices) in enumerate(_taps(plan)):
        tap = ", ".join(map(str, index))
        target = f"gxg[:, :, :, {', '.join(slices)}]"
        if scalar:
            lines.append(f"    {target} += wt[{number}] * gg")
        else:
            lines.append(
                f"    {target} += numpy.einsum('gac,bga{letters}->bgc{letters}', "
                f"wg[:, :, :, {tap}], gg)"
            )
    lines += _fold_source(plan)
    return lines


def _source(plan: _Plan) -> str:
    """The NumPy source of the kernels of one layer configuration."""
    layer = plan.layer
    y_shape = _tuple(list(layer.y_shape))
    moved = f"target.transpose{plan.to_internal}" if plan.batch_last else "target"
    lines = [
        f"# {layer.describe()}; loss {plan.kind}; design {plan.strategy!r}",
        "# printed by symconv.kernels from the closed form (integers only)",
        "",
        *_workspace_source(plan),
        "",
        *_pad_source(plan),
        "",
        *(_im2col_source(plan) if plan.strategy == "im2col" else _taps_source(plan)),
        "",
        *_loss_source(layer, plan.kind),
        "",
        "def internal(target):",
        f"    # y (or the given ∂L/∂ŷ) {y_shape} in the internal layout: a new array",
        f"    return numpy.array({moved}, order='C')",
        "",
        "def external(a):",
        f"    # an array like ŷ back in the contract's layout {y_shape}",
        f"    return a.transpose{plan.from_internal}" if plan.batch_last else "    return a",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# compiled kernels


def _float_dtype(x: Any) -> np.dtype[Any]:
    dtype = np.asarray(x).dtype
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)


def _checked(
    layer: Layer, x: Any, w: Any, b: Any
) -> tuple[np.dtype[Any], Array, Array, Array | None]:
    """x, w and b in the dtype of ``x`` (float32 or float64), their shapes checked.

    A shared bias of one output channel may be given as a number.
    """
    dtype = _float_dtype(x)
    x = _shaped("x", x, layer.x_shape, dtype)
    w = _shaped("w", w, layer.w_shape, dtype)
    if layer.b_shape is None:
        if b is not None:
            raise ValueError('`b` must be None for a layer with bias "none"')
        return dtype, x, w, None
    if b is None:
        raise ValueError(f"`b` is None; this layer needs a bias of shape {layer.b_shape}")
    bias = np.asarray(b, dtype=dtype)
    if bias.size == 1 and layer.b_shape == (1,):
        bias = bias.reshape(1)
    return dtype, x, w, _shaped("b", bias, layer.b_shape, dtype)


def _shaped(name: str, value: Any, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
    array = np.asarray(value, dtype=dtype)
    if array.shape != shape:
        raise ValueError(f"`{name}` has shape {array.shape}; this layer needs {shape}")
    return array


@dataclass(frozen=True)
class GeneratedKernels:
    """Compiled kernels of one layer configuration (shapes: see the module docstring).

    ``functions`` are the printed functions, on arrays in the internal layout (``"im2col"``:
    ``(channels, *spatial, batch)``; ``"taps"``: the contract's): ``pad``, ``columns``,
    ``forward``, ``loss``, ``grad_yhat``, ``grad_w``, ``grad_b``, ``grad_x``,
    ``internal`` and ``external``.
    """

    key: LayerKey
    strategy: Strategy
    source: str
    functions: Mapping[str, Callable[..., Any]]

    @property
    def layer(self) -> Layer:
        """The layer the kernels were printed for."""
        return self.key[0]

    def forward(self, x: Array, w: Array, b: Array | None) -> Array:
        """ŷ ``(batch, C_out, *output_shape)``."""
        f = self.functions
        _, x, w, b = _checked(self.layer, x, w, b)
        yhat: Array = f["external"](f["forward"](f["columns"](f["pad"](x)), w, b))
        return yhat

    def backward(
        self, x: Array, w: Array, grad_yhat: Array
    ) -> tuple[Array, Array, Array | None]:
        """``(∂L/∂x, ∂L/∂w, ∂L/∂b)`` for a given ∂L/∂ŷ ``(batch, C_out, *output_shape)``
        (∂L/∂b is None without a bias)."""
        f = self.functions
        layer = self.layer
        bias = None if layer.b_shape is None else np.zeros(layer.b_shape)
        dtype, x, w, _ = _checked(layer, x, w, bias)
        g = f["internal"](_shaped("grad_yhat", grad_yhat, layer.y_shape, dtype))
        cols = f["columns"](f["pad"](x))
        return f["grad_x"](g, w), f["grad_w"](g, cols), f["grad_b"](g)

    def step(
        self, x: Array, w: Array, b: Array | None, target: Array, lr: float
    ) -> dict[str, Any]:
        """Every quantity of one SGD step, in the dtype of ``x`` and the contract's shapes.

        ``target`` is y, or ∂L/∂ŷ for the upstream loss (then ``loss`` and ``loss_next``
        are None).  ``b`` is None without a bias.
        """
        f = self.functions
        dtype, x, w, b = _checked(self.layer, x, w, b)
        target = _shaped("target", target, self.layer.y_shape, dtype)
        rate = dtype.type(lr)
        cols = f["columns"](f["pad"](x))
        y = f["internal"](target)
        yhat = f["forward"](cols, w, b)
        g = f["grad_yhat"](yhat, y)
        grad_w = f["grad_w"](g, cols)
        grad_b = f["grad_b"](g)
        w_next = w - rate * grad_w
        b_next = None if b is None else b - rate * grad_b
        yhat_next = f["forward"](cols, w_next, b_next)
        return {
            "yhat": f["external"](yhat),
            "loss": f["loss"](yhat, y),
            "grad_yhat": f["external"](g),
            "grad_w": grad_w,
            "grad_b": grad_b,
            "grad_x": f["grad_x"](g, w),
            "w_next": w_next,
            "b_next": b_next,
            "yhat_next": f["external"](yhat_next),
            "loss_next": f["loss"](yhat_next, y),
        }


def _choose(layer: Layer) -> Strategy:
    """im2col when a channel contraction makes the matrix products pay, and the column
    matrix stays within :data:`IM2COL_LIMIT` entries; else one slice per tap."""
    per_in = layer.in_channels // layer.groups
    per_out = layer.out_channels // layer.groups
    entries = (
        layer.in_channels
        * math.prod(layer.kernel_size)
        * math.prod(layer.output_shape)
        * layer.batch
    )
    if per_in * per_out > 1 and entries <= IM2COL_LIMIT:
        return "im2col"
    return "taps"


@lru_cache(maxsize=32)  # each keeps its scratch arrays: bound the total
def _compiled(key: LayerKey, strategy: Strategy) -> GeneratedKernels:
    layer, kind = key
    plan = _Plan(layer, kind, strategy, tuple(_axis(layer, a) for a in range(layer.ndim)))
    source = _source(plan)
    namespace: dict[str, Any] = {
        "numpy": np,
        "as_strided": np.lib.stride_tricks.as_strided,
        "kept": threading.local(),
    }
    # the source is printed above from the closed form and validated integer sizes only
    exec(compile(source, f"<symconv kernels {layer.describe()}>", "exec"), namespace)
    names = (
        "pad", "columns", "forward", "loss", "grad_yhat", "grad_w", "grad_b", "grad_x",
        "internal", "external",
    )
    return GeneratedKernels(
        key=key,
        strategy=strategy,
        source=source,
        functions={name: namespace[name] for name in names},
    )


def generate(problem: Problem, *, strategy: Strategy | None = None) -> GeneratedKernels:
    """Vectorized NumPy kernels for ``problem``'s layer and loss, printed from the closed form.

    ``strategy`` is ``"im2col"`` or ``"taps"`` (see the module docstring); by default
    im2col for layers with channels and taps for one channel per group.  Cached per layer
    configuration and strategy (values do not matter).

    Example:
        >>> from symconv.problem import load_problem
        >>> kern = generate(load_problem("exercise2"))
        >>> out = kern.step(np.array([[[1., 2, 3, 4]]]), np.array([[[2., 1, 3]]]),
        ...                 np.array([[1., 1]]), np.array([[[2., 4]]]), 0.01)
        >>> out["yhat"], out["loss"], out["grad_w"]
        (array([[[14., 20.]]]), np.float64(200.0), array([[[ 44.,  72., 100.]]]))
    """
    if strategy is not None and strategy not in STRATEGIES:
        raise ValueError(f"`strategy` (={strategy!r}) must be one of {STRATEGIES} or None")
    key = layer_key(problem)
    return _compiled(key, strategy or _choose(problem.layer))


# ---------------------------------------------------------------------------------------
# explicit form -> lambdify


def _scalars(a: Array) -> list[Any]:
    """The entries of ``a``, row-major: Python floats for float64 (the same arithmetic,
    faster), NumPy scalars otherwise (so that float32 stays float32)."""
    flat = a.ravel()
    return flat.tolist() if a.dtype == np.float64 else list(flat)


@dataclass(frozen=True)
class LambdifiedExplicit:
    """``sympy.lambdify`` of the explicit expressions (one argument per named symbol).

    ``forward(*x, *w, *b)`` → the ŷ entries; ``loss(*y, *ŷ)`` → L (None for an upstream
    gradient); ``grads(*x, *w, *b, *target, *ŷ)`` → the entries of ∂L/∂ŷ, ∂L/∂w, ∂L/∂x
    and ∂L/∂b, where ``target`` is y, or the given ∂L/∂ŷ (the symbols g) upstream.  All
    flat, row-major in the layer's full shapes.
    """

    derivation: ExplicitDerivation
    forward: Callable[..., Any]
    loss: Callable[..., Any] | None
    grads: Callable[..., Any]

    def step(
        self, x: Array, w: Array, b: Array | None, target: Array, lr: float
    ) -> dict[str, Any]:
        """Every quantity of one SGD step, in the dtype of ``x`` and the contract's shapes
        (the same as :meth:`GeneratedKernels.step`)."""
        layer = self.derivation.problem.layer
        dtype, x, w, b = _checked(layer, x, w, b)
        target = _shaped("target", target, layer.y_shape, dtype)
        rate = dtype.type(lr)
        xs, targets = _scalars(x), _scalars(target)

        def forward(w: Array, b: Array | None) -> tuple[list[Any], Array]:
            values = self.forward(*xs, *_scalars(w), *([] if b is None else _scalars(b)))
            return values, np.array(values, dtype=dtype).reshape(layer.y_shape)

        def loss(yhat: list[Any]) -> Any:
            return None if self.loss is None else dtype.type(self.loss(*targets, *yhat))

        yhat_values, yhat = forward(w, b)
        bias = [] if b is None else _scalars(b)
        values = np.array(
            self.grads(*xs, *_scalars(w), *bias, *targets, *yhat_values), dtype=dtype
        )
        sizes = [math.prod(layer.y_shape), w.size, x.size]
        g, grad_w, grad_x, grad_b_flat = np.split(values, np.cumsum(sizes))
        grad_b = None if b is None else grad_b_flat.reshape(b.shape)
        grad_w = grad_w.reshape(w.shape)
        w_next = w - rate * grad_w
        b_next = None if b is None or grad_b is None else b - rate * grad_b
        next_values, yhat_next = forward(w_next, b_next)
        return {
            "yhat": yhat,
            "loss": loss(yhat_values),
            "grad_yhat": g.reshape(layer.y_shape),
            "grad_w": grad_w,
            "grad_b": grad_b,
            "grad_x": grad_x.reshape(x.shape),
            "w_next": w_next,
            "b_next": b_next,
            "yhat_next": yhat_next,
            "loss_next": loss(next_values),
        }


class _FlatPrinter(NumPyPrinter):  # type: ignore[misc]
    """NumPy printer for lambdify that parenthesises every sum and product.

    SymPy's printer orders terms and works out precedence for every node, which is most of
    lambdify's time on a large layer; full parentheses need neither (same values).
    """

    def _print_Add(self, expr: Add, order: str | None = None) -> str:
        return "(" + " + ".join(self._print(term) for term in expr.args) + ")"

    def _print_Mul(self, expr: Any) -> str:
        return "(" + "*".join(self._print(factor) for factor in expr.args) + ")"

    def doprint(self, expr: Expr, assign_to: Any = None) -> str:
        # one expression, no assignment: skip CodePrinter's bookkeeping around _print
        # (a walk for UnevaluatedExpr, unsupported-function tracking, line formatting)
        if assign_to is not None:
            text: str = super().doprint(expr, assign_to)
            return text
        self._not_supported: set[Any] = set()
        self._number_symbols: set[Any] = set()
        return str(self._print(expr))


def lambdify_explicit(derivation: ExplicitDerivation) -> LambdifiedExplicit:
    """Lambdify the explicit forward pass, the loss and the chain-rule gradients.

    The gradient functions take the forward outputs ŷ as arguments (the placeholders of the
    chain rule), so the forward pass is not expanded into them.

    Example:
        >>> from symconv.problem import load_problem
        >>> from symconv.symbolic.explicit import derive_explicit
        >>> lam = lambdify_explicit(derive_explicit(load_problem("exercise2")))
        >>> out = lam.step(np.array([[[1., 2, 3, 4]]]), np.array([[[2., 1, 3]]]),
        ...                np.array([[1., 1]]), np.array([[[2., 4]]]), 0.01)
        >>> out["grad_x"], out["loss_next"]
        (array([[[24., 44., 52., 48.]]]), np.float64(63.22...))
    """
    # printing is most of lambdify's time on a large layer: a flat printer, no docstring,
    # no search for user-implemented functions (the explicit forms have none)
    options: dict[str, Any] = {
        "modules": "numpy",
        "printer": _FlatPrinter({"order": "none"}),
        "use_imps": False,
        "docstring_limit": 0,
    }
    with paused_gc():
        return _lambdify(derivation, options)


def _lambdify(derivation: ExplicitDerivation, options: dict[str, Any]) -> LambdifiedExplicit:
    sym = derivation.symbols
    params = [*sym.x, *sym.w, *sym.bias_list()]
    # the values the gradients are taken at: y, or (upstream) the given ∂L/∂ŷ symbols g
    upstream = derivation.loss_of_yhat is None
    targets = list(derivation.grad_yhat if upstream else sym.y)
    forward = lambdify(params, list(derivation.yhat), **options)
    loss = (
        None
        if derivation.loss_of_yhat is None
        else lambdify([*targets, *sym.yhat], derivation.loss_of_yhat, **options)
    )
    outputs = [
        *derivation.grad_yhat,
        *derivation.grad_w,
        *derivation.grad_x,
        *(derivation.grad_b or ()),
    ]
    grads = lambdify([*params, *targets, *sym.yhat], outputs, **options)
    return LambdifiedExplicit(derivation=derivation, forward=forward, loss=loss, grads=grads)
