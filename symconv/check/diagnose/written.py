"""Mistakes in how the side is written: an arithmetic slip, missing parentheses, a sign
flipped, a factor not transposed.

The rewritings work on ``case.target`` (the side, or its first wrong cell) and must give
``case.want``; each kind tries at most :data:`~.base.MAX_VARIANTS` rewritings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial

from lark import Token, Tree

from symconv.check.diagnose.base import (
    MAX_VARIANTS,
    Candidate,
    Case,
    Diagnoser,
    Fallback,
    Recompute,
    Rewrite,
    numeric_value,
    scaled,
)
from symconv.check.diagnose.trees import (
    bare,
    counterpart,
    regroupings,
    shape,
    sign_flips,
    term_by_term,
    transposes,
)
from symconv.check.match import show
from symconv.check.pretty import pretty

__all__ = [
    "NEGATED",
    "PARENTHESES",
    "PARENTHESES_SUBSTITUTED",
    "SIGN_FLIP",
    "SIGN_SUBSTITUTED",
    "SLIP",
    "SLIP_AFTER_NUMBERS",
    "TRANSPOSE",
]

Rewritings = Callable[[Tree[Token]], Iterator[tuple[Tree[Token], str]]]


def _slip_text(case: Case) -> str:
    shown = show(numeric_value(case.expected, case.truth, case.step))
    return (
        f"arithmetic slip in the last step: the side before is right and equals {shown}, "
        f"not {show(case.written)}"
    )


def _slip(case: Case) -> Iterable[Candidate]:
    """The side before is right, this number is not: the arithmetic slipped."""
    return [Fallback(partial(_slip_text, case))]


def _said(lead: str, reason: str) -> str:
    return f"{lead}: {pretty(reason)}"


def _rewritten(rewritings: Rewritings, lead: str) -> Callable[[Case], Iterator[Candidate]]:
    def tries(case: Case) -> Iterator[Candidate]:
        for tree, reason in rewritings(case.target):
            yield Rewrite(tree, partial(_said, lead, reason))

    return tries


def _substituted_shape(case: Case) -> bool:
    """The side is the one before with numbers for the names (the same operators)."""
    before = counterpart(case.side, case.target, case.previous_side)
    return before is not None and (
        shape(before) == shape(case.target) or term_by_term(before, case.target)
    )


def _negated(case: Case) -> Iterator[Candidate]:
    """The whole side negated."""
    if case.same(case.written, case.expected):
        return
    yield Recompute(scaled(case.expected, -1), "sign error: the side is the negative of the truth")


# -- a number after a right side -------------------------------------------------------

SLIP_AFTER_NUMBERS = Diagnoser(
    "slip after numbers",
    "arithmetic_slip",
    applies=lambda case: case.slip and (bare(case.target) or case.after_numbers),
    tries=_slip,
)
def _may_have_lost_group(case: Case) -> bool:
    """Parentheses can have been lost in substituting, unless the side is the sum before
    it term by term with none grouped there: ``y'_1 x_2 + y'_2 x_3 + y'_3 x_4 = 0 − 1 − 1``
    has a sign wrong, not a group lost."""
    before = counterpart(case.side, case.target, case.previous_side)
    if before is None or not term_by_term(before, case.target):
        return True
    return any(
        node.data == "paren"
        and any(isinstance(c, Tree) and c.data in ("add", "subtract") for c in node.children)
        for node in before.iter_subtrees()
    )


PARENTHESES_SUBSTITUTED = Diagnoser(
    "parentheses lost while substituting",
    "missing_parentheses",
    applies=lambda case: case.slip and _may_have_lost_group(case),
    tries=_rewritten(regroupings, "missing parentheses"),
    limit=MAX_VARIANTS,
)
SIGN_SUBSTITUTED = Diagnoser(
    "sign flipped while substituting",
    "sign_error",
    applies=lambda case: case.slip and _substituted_shape(case),
    tries=_rewritten(sign_flips, "sign error"),
    limit=MAX_VARIANTS,
)
SLIP = Diagnoser("arithmetic slip", "arithmetic_slip", applies=lambda case: case.slip, tries=_slip)

# -- the side as written ---------------------------------------------------------------

PARENTHESES = Diagnoser(
    "missing parentheses",
    "missing_parentheses",
    applies=lambda case: True,
    tries=_rewritten(regroupings, "missing parentheses"),
    limit=MAX_VARIANTS,
)
SIGN_FLIP = Diagnoser(
    "one sign flipped",
    "sign_error",
    applies=lambda case: True,
    tries=_rewritten(sign_flips, "sign error"),
    limit=MAX_VARIANTS,
)
TRANSPOSE = Diagnoser(
    "transpose missing",
    "transpose_missing",
    applies=lambda case: True,
    tries=_rewritten(transposes, "transpose missing"),
    limit=MAX_VARIANTS,
)
NEGATED = Diagnoser("side negated", "sign_error", applies=lambda case: True, tries=_negated)
