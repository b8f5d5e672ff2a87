"""Mistakes in the indices: a symbol the problem does not have, every index of a family
shifted, two indices swapped, a window moved, the kernel flipped.

The index mistakes rename symbols of the truth (in the placeholders ŷ_i, then in the
inputs) and compare the written side with the renamed truth.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from functools import partial

from sympy import Expr, ImmutableMatrix, Integer, Symbol

from symconv.check.diagnose.base import (
    OWN,
    Candidate,
    Case,
    Diagnoser,
    Fallback,
    Recompute,
    Rewrite,
    full_value,
    substituted,
)
from symconv.check.diagnose.readings import flipped_truth
from symconv.check.evaluate import Mat
from symconv.check.truth import Truth
from symconv.mathtext import name, sub

__all__ = [
    "CONVOLUTION",
    "FLIPPED",
    "NONEXISTENT",
    "SHIFTED",
    "SWAPPED",
    "WINDOW",
    "shifted_member",
]


def _nonexistent_text(case: Case) -> str:
    problem = case.truth.problem
    names = ", ".join(sorted(name(s.name) for s in case.strangers))
    sizes = f"n = {problem.n}, k = {problem.k}, m = {problem.m}"
    return f"wrong index: {names} does not exist ({sizes})"


NONEXISTENT = Diagnoser(
    "a symbol the problem does not have",
    "wrong_index",
    applies=lambda case: bool(case.strangers),
    tries=lambda case: [Fallback(lambda: _nonexistent_text(case))],
)


# -- the kernel flipped ------------------------------------------------------------------


def _is_input_gradient(case: Case) -> bool:
    """The left side is ∂L/∂x or one of its entries (it correlates with the flipped kernel)."""
    grad_x = case.truth.d.grad_x
    if isinstance(case.expected, Mat):
        column = Mat(ImmutableMatrix([[g] for g in grad_x]), free=True)
        return case.expected.is_vector and case.same(case.expected, column)
    return any(case.same(case.expected, g) for g in grad_x if g != 0)


def _flipped_text(case: Case) -> str:
    if _is_input_gradient(case):
        return (
            "flipped kernel: ∂L/∂x pairs ∂L/∂ŷ with the kernel reversed (a full correlation "
            "with the flipped kernel); this side pairs them in the kernel's own order"
        )
    mirror = "k+1−j" if case.truth.base == 1 else "k−1−j"
    return (
        f"flipped kernel: this reads the kernel reversed (w_j ↔ w_{{{mirror}}}), a true "
        "convolution; the layer is a cross-correlation (a deep-learning convolution does not "
        "flip its kernel)"
    )


def _flips(case: Case) -> Iterator[Candidate]:
    """The truth with ``w_j ↔ w_{k+1−j}``, in the placeholders and in the inputs; and the
    outputs after the update computed with the updated kernel reversed."""
    w = case.truth.d.symbols.w
    flip: dict[Symbol, Expr] = dict(zip(w, reversed(w)))
    for target in (case.expected, full_value(case.expected, case.truth)):
        yield Recompute(substituted(target, flip), lambda: _flipped_text(case))
    yield from _flipped_after_update(case)


def _flipped_after_update(case: Case) -> Iterator[Candidate]:
    """``ŷ' = x ⊛ w' + b'`` worked out with w' reversed: the update right, the forward
    pass after it a true convolution."""
    truth = case.truth
    d = truth.d
    after = truth.next_map
    w = d.symbols.w
    forward = [truth.full(y) for y in d.yhat]
    updated = [f.xreplace(after) for f in forward]
    reversed_update = {**after, **{wj: after[wr] for wj, wr in zip(w, reversed(w))}}
    flipped = [f.xreplace(reversed_update) for f in forward]
    expected = case.expected
    if isinstance(expected, Mat):
        column = Mat(ImmutableMatrix(len(updated), 1, updated), free=True)
        if expected.is_vector and case.same(expected, column):
            yield Recompute(
                Mat(ImmutableMatrix(len(flipped), 1, flipped), free=True),
                lambda: _flipped_text(case),
            )
        return
    for now, then in zip(updated, flipped):
        if case.same(expected, now):
            yield Recompute(then, lambda: _flipped_text(case))
            return


def _convolution(case: Case) -> Iterator[Candidate]:
    """The truth of the layer as a true convolution: its gradients too (∂L/∂w_j meets
    x_{i+k−j}), with the outputs of that layer, or with the layer's own."""
    flipped = case.variant("flipped", partial(flipped_truth, case.truth))
    if flipped is None:
        return
    want = case.value_of(case.lhs, OWN, flipped)
    if want is not None:
        yield Rewrite(case.side, lambda: _flipped_text(case), want=want, truth=flipped)
        yield Recompute(want, lambda: _flipped_text(case))


def _two_weights(case: Case) -> bool:
    return len(case.truth.d.symbols.w) >= 2


FLIPPED = Diagnoser("flipped kernel", "flipped_kernel", applies=_two_weights, tries=_flips)
CONVOLUTION = Diagnoser(
    "a true convolution", "flipped_kernel", applies=_two_weights, tries=_convolution
)


# -- shifted and swapped indices ---------------------------------------------------------


def shifted_member(stem: str, family: tuple[Symbol, ...], position: int, truth: Truth) -> Expr:
    """The member at 0-based ``position`` of a shifted family: x reads its padding there."""
    if 0 <= position < len(family):
        return family[position]
    problem = truth.problem
    if (
        stem == "x"
        and problem.padding
        and -problem.padding <= position < len(family) + problem.padding
    ):
        if problem.padding_mode == "circular":
            return family[position % len(family)]
        return Integer(0)
    if stem == "w":
        return Integer(0)  # the kernel is 0 outside its taps (as a sum over them reads it)
    return Symbol(f"{stem}{position + 1}", real=True)


_NAMES = {"x": "x", "w": "w", "y": "y", "yhat": "ŷ", "b": "b"}


def _families(truth: Truth) -> list[tuple[str, tuple[Symbol, ...]]]:
    sym = truth.d.symbols
    families: list[tuple[str, tuple[Symbol, ...]]] = [
        ("x", sym.x),
        ("w", sym.w),
        ("y", sym.y),
        ("yhat", sym.yhat),
    ]
    if isinstance(sym.b, tuple):
        families.append(("b", sym.b))
    return families


def _renamed(case: Case, mapping: dict[Symbol, Expr], text: str) -> Iterator[Candidate]:
    """The truth renamed, with indices in the placeholders, then in the inputs."""
    for target in (case.expected, full_value(case.expected, case.truth)):
        yield Recompute(substituted(target, mapping), text)


def _shifts(case: Case) -> Iterator[Candidate]:
    truth = case.truth
    for stem, family in _families(truth):
        label = _NAMES[stem]
        for delta in (1, -1, 2, -2):
            mapping: dict[Symbol, Expr] = {
                s: shifted_member(stem, family, i + delta, truth) for i, s in enumerate(family)
            }
            where = sub(1 + delta) if 1 + delta > 0 else "_" + str(1 + delta)
            yield from _renamed(
                case,
                mapping,
                f"shifted index: every {label} index is off by {delta:+d} "
                f"({label}{where} where {label}₁ belongs)",
            )


def _swaps(case: Case) -> Iterator[Candidate]:
    for _, family in _families(case.truth):
        for a, b in itertools.permutations(family, 2):
            yield from _renamed(
                case, {a: b}, f"wrong index: {name(b.name)} where {name(a.name)} belongs"
            )


SHIFTED = Diagnoser("shifted index", "wrong_index", applies=lambda case: True, tries=_shifts)
SWAPPED = Diagnoser("swapped index", "wrong_index", applies=lambda case: True, tries=_swaps)


# -- a window moved ----------------------------------------------------------------------


def _window_shifts(case: Case) -> Iterator[Candidate]:
    """ŷ_i computed with its window moved by a few inputs.

    Renaming the x of the truth (as :data:`SHIFTED` does) misses a window that moves onto
    or off the padding: the truth has no term for a tap that reads a zero.  Here the window
    is rebuilt, tap by tap, at the moved positions.
    """
    truth, output = case.truth, case.output
    if output is None:
        return
    problem = truth.problem
    sym = truth.d.symbols
    bias: Expr = Integer(0)
    if isinstance(sym.b, tuple):
        bias = sym.b[output]
    elif sym.b is not None:
        bias = sym.b
    layer = problem.layer
    start = layer.position(0, output, 0)  # the input position the window's first tap reads
    for delta in (1, -1, 2, -2):
        terms: list[Expr] = []
        for j in range(problem.k):
            position = layer.position(0, output, j) + delta
            terms.append(sym.w[j] * shifted_member("x", sym.x, position, truth))
        candidate: Expr = sum(terms, bias)
        yield Recompute(
            candidate,
            f"shifted index: the window of ŷ{sub(output + 1)} is moved by {delta:+d} "
            f"input{'s' if abs(delta) > 1 else ''} (it reads x from position "
            f"{start + 1 + delta}, not {start + 1})",
        )


def _one_output(case: Case) -> bool:
    return case.output is not None and case.lhs_kind == "output" and case.output < case.truth.m


WINDOW = Diagnoser("window moved", "wrong_index", applies=_one_output, tries=_window_shifts)
