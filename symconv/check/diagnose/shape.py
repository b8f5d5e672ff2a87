"""A side of the wrong shape: the layer's matrix or gradient of a changed layer.

A matrix or vector with more or fewer entries than the truth is often the same quantity
of the layer read without its padding, stride or dilation — the banded matrix ``W`` of
the unpadded layer (2×4 where the padded one is 4×4), or ∂L/∂x with an entry for every
padded position (n + 2p entries: the gradient of the padded input, the padding not
dropped).  Each candidate is that quantity, built in the changed problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from sympy import Expr, ImmutableMatrix, Rational, diff

from symconv.check.diagnose.base import Candidate, Case, Diagnoser, Recompute
from symconv.check.evaluate import Mat
from symconv.check.truth import Truth
from symconv.errors import SymconvError

__all__ = ["SHAPES"]

Quantity = Callable[[Truth], Mat]


def _toeplitz(truth: Truth) -> Mat:
    """∂ŷ/∂x: the banded matrix of the layer (m × n)."""
    d = truth.d
    return Mat(ImmutableMatrix([[diff(out, v) for v in d.symbols.x] for out in d.yhat]))


def _windows(truth: Truth) -> Mat:
    """∂ŷ/∂w: the window matrix of the layer (m × k)."""
    d = truth.d
    return Mat(ImmutableMatrix([[diff(out, v) for v in d.symbols.w] for out in d.yhat]))


def _grad_x(truth: Truth) -> Mat:
    full = [truth.full(g) for g in truth.d.grad_x]
    return Mat(ImmutableMatrix(len(full), 1, full), free=True)


_QUANTITIES: tuple[tuple[str, Quantity], ...] = (
    ("the banded matrix ∂ŷ/∂x", _toeplitz),
    ("the window matrix ∂ŷ/∂w", _windows),
    ("∂L/∂x", _grad_x),
)


def _shape_differs(case: Case) -> bool:
    written, expected = case.written, case.expected
    if not (isinstance(written, Mat) and isinstance(expected, Mat)):
        return False
    shapes = {written.shape, written.shape[::-1]}
    return expected.shape not in shapes


def _is(case: Case, value: Mat) -> bool:
    expected = case.expected
    assert isinstance(expected, Mat)
    if expected.shape not in (value.shape, value.shape[::-1]):
        return False
    return case.same(expected, value)


def _padded_input_gradient(truth: Truth) -> Mat | None:
    """∂L/∂x̃ for the padded input x̃ (n + 2p entries), at the problem's values: the layer
    without padding on x̃ has the same outputs, so its input gradient is that."""
    problem = truth.problem
    p = problem.padding
    if not p or problem.x is None:
        return None
    x = list(problem.x)
    if problem.padding_mode == "circular":
        padded = x[len(x) - p :] + x + x[:p]
    elif problem.padding_mode == "zeros":
        padded = [Rational(0)] * p + x + [Rational(0)] * p
    else:
        return None
    try:
        wide = problem.with_layer(input_shape=[len(padded)], padding=0)
        wide = replace(wide, x=tuple(padded))
        other = Truth(wide, base=truth.base)
        values = other.values(0)
        if values is None:
            return None
        entries: list[Expr] = [other.full(g).xreplace(values) for g in other.d.grad_x]
    except (ValueError, TypeError, IndexError, LookupError, SymconvError):
        return None
    return Mat(ImmutableMatrix(len(entries), 1, entries), free=True)


def _shape_tries(
    key: str, change: dict[str, object], text: str
) -> Callable[[Case], Iterator[Candidate]]:
    def tries(case: Case) -> Iterator[Candidate]:
        truth = case.truth
        problem = truth.problem
        for what, quantity in _QUANTITIES:
            try:
                if not _is(case, quantity(truth)):
                    continue
            except (ValueError, TypeError):
                continue
            if quantity is _grad_x and key == "padding=0":
                padded = _padded_input_gradient(truth)
                if padded is not None:
                    yield Recompute(
                        padded,
                        "padding ignored: this is the gradient of the padded input (n + 2p = "
                        f"{problem.n + 2 * problem.padding} entries); the {problem.padding} "
                        "padded entries at each end are not inputs and are dropped",
                    )
            changed = case.variant(key, lambda: truth.variant(**change))
            if changed is None:
                return
            try:
                value = quantity(changed)
            except (ValueError, TypeError):
                return
            if case.numeric_side:
                values = changed.values(case.step)
                if values is None:
                    return
                entries = [e.xreplace(values) for e in value.entries()]
                value = Mat(ImmutableMatrix(value.m.rows, value.m.cols, entries), free=True)
            yield Recompute(
                value,
                text.format(what=what, p=problem.padding, s=problem.stride, d=problem.dilation),
            )
            return

    return tries


def _shape(
    kind: str, key: str, change: dict[str, object], relevant: Callable[[Truth], bool], text: str
) -> Diagnoser:
    return Diagnoser(
        f"{kind.replace('_', ' ')}, by the shape",
        kind,
        applies=lambda case: _shape_differs(case) and relevant(case.truth),
        tries=_shape_tries(key, change, text),
    )


SHAPES = (
    _shape(
        "padding_ignored",
        "padding=0",
        {"padding": 0},
        lambda t: bool(t.problem.padding),
        "padding ignored: this is {what} of the layer without padding; the layer pads {p} on "
        "each side",
    ),
    _shape(
        "stride_ignored",
        "stride=1",
        {"stride": 1},
        lambda t: t.problem.stride != 1,
        "stride ignored: this is {what} of the layer with stride 1; the layer has stride {s}",
    ),
    _shape(
        "dilation_ignored",
        "dilation=1",
        {"dilation": 1},
        lambda t: t.problem.dilation != 1,
        "dilation ignored: this is {what} of the layer with dilation 1; the layer has "
        "dilation {d}",
    ),
)
