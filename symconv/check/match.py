"""Compare a written side with the truth: exact symbolic equivalence plus numeric checks.

A side may mix symbols and numbers (``[2 1 3]·[1 2 3]ᵀ + b``): the truth is then read
with the problem's values for every symbol the side no longer mentions, and the rest is
compared as functions.  Numbers are exact (rationals); random points are integers, so a
difference of polynomials shows at almost any of them, and ``expand`` confirms equality.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sympy import Expr, Integer, Rational, Symbol, cancel, expand

from symconv.check.evaluate import Mat, Value
from symconv.check.truth import Truth
from symconv.mathtext import fmt, math

__all__ = ["Outcome", "compare", "entries_of", "is_rounding_of", "is_zero", "show", "show_number"]

_POINTS = 3


@dataclass(frozen=True)
class Outcome:
    """The result of one comparison.

    ``equal``; ``written``/``expected``: the first differing entry (as text) when not
    equal; ``counterexample``: where they differ; ``shape``: a shape mismatch reason.
    """

    equal: bool
    written: str = ""
    expected: str = ""
    counterexample: str = ""
    shape: str = ""
    rounded: bool = False


def show_number(value: Expr) -> str:
    """An exact number as people write it (``1.56``, ``1/3``)."""
    if value.is_Rational:
        return fmt(value)
    return math(value)


def show(value: Value | None) -> str:
    """A value as one line of unicode math (vectors as ``(a, b, c)``)."""
    if value is None:
        return "?"
    if isinstance(value, Mat):
        if value.is_vector:
            return "(" + ", ".join(_show_expr(e) for e in value.entries()) + ")"
        rows = [
            "(" + ", ".join(_show_expr(e) for e in value.m.row(r)) + ")"
            for r in range(value.shape[0])
        ]
        return "(" + ", ".join(rows) + ")"
    return _show_expr(value)


def _show_expr(expr: Expr) -> str:
    text = show_number(expr) if expr.is_Rational else math(expr)
    return text if len(text) <= 200 else text[:197] + "…"


def entries_of(written: Value, expected: Value) -> tuple[list[tuple[Expr, Expr]], str]:
    """Pair the entries of two values, or say why their shapes do not match."""
    if not isinstance(written, Mat) and not isinstance(expected, Mat):
        return [(written, expected)], ""
    w = written if isinstance(written, Mat) else None
    e = expected if isinstance(expected, Mat) else None
    if w is not None and e is not None:
        if w.is_vector and e.is_vector:
            a, b = w.entries(), e.entries()
            if len(a) == len(b):
                return list(zip(a, b)), ""
            return [], f"a vector of {len(a)} entries where {len(b)} are expected"
        if w.shape == e.shape:
            return list(zip(w.entries(), e.entries())), ""
        if w.shape == e.shape[::-1]:
            return list(zip(w.entries(), list(e.m.T))), ""
        return [], f"a {w.shape[0]}×{w.shape[1]} matrix where {e.shape[0]}×{e.shape[1]} is expected"
    mat = w if w is not None else e
    assert mat is not None
    if mat.shape == (1, 1):
        scalar = expected if w is not None else written
        assert not isinstance(scalar, Mat)
        pair = (mat.m[0, 0], scalar) if w is not None else (scalar, mat.m[0, 0])
        return [pair], ""
    if w is not None:
        return [], f"a {w.shape[0]}×{w.shape[1]} matrix where a scalar is expected"
    return [], f"a scalar where a {mat.shape[0]}×{mat.shape[1]} value is expected"


def _decimal_places(value: Expr) -> int | None:
    """Places of a terminating decimal (None if it does not terminate)."""
    if not value.is_Rational:
        return None
    q = int(Rational(value).q)
    counts = {2: 0, 5: 0}
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
            counts[prime] += 1
    return max(counts.values()) if q == 1 else None


def is_rounding_of(written: Rational, truth: Rational, *, approx: bool) -> bool:
    """Is ``written`` a decimal rounding of ``truth`` to the places written?

    With ``≈`` any such rounding holds.  With ``=`` only a value that has no finite
    decimal may be rounded (writing 0.667 for 2/3 is the usual way), and to at least
    three significant digits (within 1 % of it): ``= 2`` for 7/3 or ``= 0.7`` for 2/3 is
    wrong, and a terminating value rounded (``= 1.56`` for 1.5625) is another number.

    Example:
        >>> is_rounding_of(Rational(667, 1000), Rational(2, 3), approx=False)
        True
        >>> is_rounding_of(Rational(156, 100), Rational(25, 16), approx=False)
        False
    """
    places = _decimal_places(written)
    if places is None or abs(written - truth) > Rational(1, 2 * 10**places):
        return False
    if approx:
        return True
    if _decimal_places(truth) is not None:
        return False
    return bool(abs(written - truth) <= abs(truth) / 100)


def compare(
    written: Value,
    expected: Value,
    truth: Truth,
    step: int,
    *,
    numeric: bool = False,
    approx: bool = False,
    exact: bool = True,
    seed: int = 0,
) -> Outcome:
    """Is ``written`` the value ``expected`` (see the module docstring)?

    ``numeric``: the chain ends in numbers, so a side also holds if it agrees at the
    problem's values.  ``approx``: the link is ``≈`` (agreement to the places written).
    ``exact``: confirm agreement with ``expand`` and explain a difference in words (both
    off for quick diagnosis searches).
    """
    pairs, shape = entries_of(written, expected)
    if shape:
        return Outcome(False, shape=shape)
    values = truth.values(step)
    rng = random.Random(seed)
    rounded = False
    for position, (raw_w, raw_e) in enumerate(pairs):
        w, e = truth.full(raw_w), truth.full(raw_e)
        fixed_all = False
        if values is not None:
            fixed = {s: v for s, v in values.items() if s not in w.free_symbols}
            e_fixed = e.xreplace(fixed)
            fixed_all = bool(fixed)
        else:
            e_fixed = e
        same, point = _same(w, e_fixed, rng, exact=exact)
        if not same and values is not None and (numeric or approx):
            w_at, e_at = w.xreplace(values), e.xreplace(values)
            same = is_zero(w_at - e_at)
            if not same and w_at.is_Rational and e_at.is_Rational:
                same = is_rounding_of(Rational(w_at), Rational(e_at), approx=approx)
                rounded = rounded or same
        if not same and not exact:
            return Outcome(False)  # a quick search: no texts needed
        if not same:
            where = f"entry {position + 1}: " if len(pairs) > 1 else ""
            return Outcome(
                False,
                written=where + _show_expr(raw_w),
                expected=where + _show_expr(_readable(raw_e, e_fixed, fixed_all)),
                counterexample=_counterexample(w, e, values, point),
            )
    return Outcome(True, rounded=rounded)


def _readable(raw: Expr, fixed: Expr, numbers_used: bool) -> Expr:
    """The truth as shown: with placeholders ŷᵢ unless numbers were put in."""
    return fixed if numbers_used else raw


def is_zero(expr: Expr) -> bool:
    """Is ``expr`` provably zero?  A number is decided (``equals`` for irrationals); an
    expression with free symbols counts as not zero.

    Example:
        >>> from sympy import sqrt
        >>> is_zero(sqrt(8) - 2 * sqrt(2)), is_zero(Rational(1, 3)), is_zero(Symbol("x"))
        (True, False, False)
    """
    if expr == 0:
        return True
    if expr.is_number:
        return bool(expr.equals(0)) if not expr.is_Rational else False
    return False


def _same(
    w: Expr, e: Expr, rng: random.Random, *, exact: bool
) -> tuple[bool, dict[Symbol, Expr] | None]:
    """Equal as functions?  Random integer points first, then ``expand``/``cancel``."""
    difference = w - e
    if difference == 0:
        return True, None
    symbols = sorted(difference.free_symbols, key=lambda s: s.name)
    for _ in range(_POINTS):
        point: dict[Symbol, Expr] = {s: Integer(rng.randint(-9, 9) or 11) for s in symbols}
        try:
            at = difference.xreplace(point)
        except (ZeroDivisionError, ArithmeticError):
            continue
        if at.is_number and not is_zero(at):
            return False, point
    if not exact:
        return True, None
    if expand(difference) == 0:
        return True, None
    return (cancel(difference) == 0), None


def _counterexample(
    w: Expr, e: Expr, values: dict[Symbol, Expr] | None, point: dict[Symbol, Expr] | None
) -> str:
    """Where the two differ: at the problem's values if they show it, else the point."""
    if values is not None:
        w_at, e_at = w.xreplace(values), e.xreplace(values)
        if w_at.is_number and e_at.is_number and not is_zero(w_at - e_at):
            return (
                f"at the problem's values the side is {_show_expr(w_at)}, "
                f"the truth {_show_expr(e_at)}"
            )
    if point:
        shown = ", ".join(f"{math(s)} = {v}" for s, v in list(point.items())[:6])
        more = ", …" if len(point) > 6 else ""
        return (
            f"at {shown}{more} the side is {_show_expr(w.xreplace(point))}, "
            f"the truth {_show_expr(e.xreplace(point))}"
        )
    return ""
