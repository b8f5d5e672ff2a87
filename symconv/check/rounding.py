"""A numeric side with rounded decimals: exact only up to the rounding of its literals.

A student who writes α = 1/3 as ``0.333`` and carries it (``1 − 0.333·8``) is right up to
rounding, though the side's exact value (−1.664) is not the truth (−5/3).  Each decimal
literal with p places stands for some number within ½·10⁻ᵖ of it; the side is evaluated
once more with every such literal ``d`` read as ``d + ½·10⁻ᵖ·r`` (a fresh symbol r, see
``Context.perturb``), and the first-order error bound ``Σ |∂side/∂r|`` — exact, from the
parse tree's own numbers — times a safety factor is the tolerance of that side.

The tolerance opens only for a *genuine* rounding: a decimal of at least three
significant digits that is not itself one of the problem's exact values (the inputs, the
targets, the weights and biases of any step, the learning rate).  Integers and exact
decimal inputs (``0.01``, ``1.56`` for an updated weight of exactly 1.56) open nothing,
and a side that is a single literal is left to :func:`symconv.check.match.is_rounding_of`.
"""

from __future__ import annotations

from collections.abc import Iterator

from lark import Token, Tree
from sympy import Abs, Expr, Rational, Symbol, diff

from symconv.check.evaluate import Context, EvalError, Value, evaluate
from symconv.check.match import entries_of, is_rounding_of, is_zero
from symconv.check.truth import Truth

__all__ = ["MESSAGE", "SAFETY", "genuine", "has_rounding", "within_rounding"]

SAFETY = Rational(3, 2)  # the first-order bound times this (second-order terms, products)
MESSAGE = "holds up to the rounding of the written decimals"


def _literals(tree: Tree[Token]) -> Iterator[str]:
    for node in tree.iter_subtrees():
        if node.data == "number" and node.children and isinstance(node.children[0], Token):
            yield str(node.children[0])


def _significant(text: str) -> int:
    """Significant digits of a decimal literal (``0.333`` → 3, ``10.0`` → 3, ``0.01`` → 1)."""
    digits = text.replace(".", "").lstrip("0")
    return len(digits)


def genuine(text: str, exact: frozenset[Rational]) -> bool:
    """Is the literal a rounding (three significant digits, not an exact value)?"""
    return "." in text and _significant(text) >= 3 and Rational(text) not in exact


def exact_values(truth: Truth) -> frozenset[Rational]:
    """The problem's exact numbers: inputs, targets, parameters of every step, the rate."""
    found: set[Rational] = {Rational(truth.problem.lr)}
    for step in range(len(truth.steps or ())):
        values = truth.values(step)
        for value in (values or {}).values():
            if value.is_Rational:
                found.add(Rational(value))
                found.add(-Rational(value))
    return frozenset(found)


def has_rounding(side: Tree[Token], truth: Truth) -> bool:
    """Does the side write a genuine rounding (cheap: the parse tree only)?"""
    texts = [t for t in _literals(side) if "." in t]
    if not texts:
        return False
    exact = exact_values(truth)
    return any(genuine(t, exact) for t in texts)


def within_rounding(
    side: Tree[Token],
    ctx: Context,
    written: Value,
    expected: Value,
    truth: Truth,
    step: int,
    *,
    approx: bool = False,
) -> bool:
    """Does ``written`` (the side ``side`` read in ``ctx``) hold up to its rounding?

    Every entry must hold exactly, as a rounding of the truth (a single literal), or
    within the propagated rounding error of its genuine literals.
    """
    values = truth.values(step)
    if values is None:
        return False
    ctx.perturb = []
    ctx.flags = []
    try:
        perturbed = evaluate(side, ctx)
    except EvalError:
        return False
    marks = ctx.perturb
    exact = exact_values(truth)
    zeros: dict[Symbol, Expr] = {mark: Rational(0) for mark, _, _ in marks}
    fixed: dict[Symbol, Expr] = {mark: Rational(0) for mark, value, _ in marks if value in exact}
    rounding = {mark for mark, _, text in marks if genuine(text, exact)}
    half = {mark: Rational(1, 2 * 10 ** len(text.split(".", 1)[1])) for mark, _, text in marks}
    pairs, shape = entries_of(perturbed, expected)
    plain, _ = entries_of(written, expected)
    if shape or len(pairs) != len(plain):
        return False
    opened = False
    for (raw_p, raw_e), (raw_w, _) in zip(pairs, plain):
        w_at = truth.full(raw_p).xreplace(values).xreplace(fixed)
        e_at = truth.full(raw_e).xreplace(values)
        w0 = w_at.xreplace(zeros)
        if not is_zero(truth.full(raw_w).xreplace(values) - w0):
            return False  # the perturbed reading is not the side (a literal in a script…)
        if not (w0.is_number and e_at.is_number) or w_at.free_symbols - set(zeros):
            return False
        if is_zero(w0 - e_at):
            continue
        if w0.is_Rational and e_at.is_Rational and is_rounding_of(w0, e_at, approx=approx):
            continue
        slopes = {mark: diff(w_at, mark).xreplace(zeros) for mark in w_at.free_symbols}
        if not slopes or not set(slopes) & rounding or _single_literal(slopes, half):
            return False
        if any(not slope.is_number for slope in slopes.values()):
            return False
        bound = SAFETY * sum((Abs(slope) for slope in slopes.values()), Rational(0))
        try:
            if not bool(Abs(w0 - e_at) <= bound):
                return False
        except TypeError:
            return False
        opened = True
    return opened


def _single_literal(slopes: dict[Symbol, Expr], half: dict[Symbol, Rational]) -> bool:
    """Is the entry one literal as written (``-1.667``), its own rounding judged alone?"""
    if len(slopes) != 1:
        return False
    mark, slope = next(iter(slopes.items()))
    return bool(Abs(slope) == half[mark])
