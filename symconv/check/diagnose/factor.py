"""A missing factor: the side is the truth times 2, ½, m or 1/m (the ½ of the loss, the 2
of the square's derivative, the mean's 1/m)."""

from __future__ import annotations

from collections.abc import Iterator

from sympy import Rational

from symconv.check.diagnose.base import Candidate, Case, Diagnoser, Recompute, scaled
from symconv.mathtext import fmt

__all__ = ["FACTOR", "fmt_factor"]


def fmt_factor(factor: Rational) -> str:
    """``2`` → "twice", ``1/2`` → "half", ``4`` → "4 times", ``1/4`` → "1/4 of"."""
    if factor == 2:
        return "twice"
    if factor == Rational(1, 2):
        return "half"
    if factor.q == 1:
        return f"{factor} times"
    return f"{factor.p}/{factor.q} of"


def _loss_factors(case: Case) -> Iterator[Candidate]:
    """The loss itself: its normalisation (½ Σ or the mean 1/m Σ) is the one that is off."""
    problem = case.truth.problem
    m = problem.m
    meant = problem.loss_spec.normalisation(m)
    for factor in sorted({Rational(2), Rational(1, 2), Rational(m), Rational(1, m)}):
        if factor == 1:
            continue
        yield Recompute(
            scaled(case.expected, factor),
            f"missing factor: the side is {fmt_factor(factor)} the loss — its "
            f"normalisation is off (this problem's loss is {meant})",
        )


def _gradient_factors(case: Case) -> Iterator[Candidate]:
    problem = case.truth.problem
    m = problem.m
    mse = problem.loss_spec.averaged  # a mean (1/m Σ) rather than a sum (½ Σ)
    candidates: list[tuple[Rational, str]] = [
        (
            Rational(2),
            "missing factor: the side is twice the truth — "
            + (
                "the 2 of the square's derivative is counted twice"
                if mse
                else "the ½ of the loss is missing (or the 2 of the square's derivative is "
                "kept although the ½ cancels it)"
            ),
        ),
        (
            Rational(1, 2),
            "missing factor: the side is half the truth — the 2 from differentiating the "
            "square is missing",
        ),
    ]
    if mse and m > 2:
        # ŷ − y for the derivative of the mean: the whole factor 2/m is left out
        candidates.insert(
            0,
            (
                Rational(m, 2),
                f"missing factor: the side is m/2 = {fmt(Rational(m, 2))} times the truth — the "
                f"factor 2/m of the mean's derivative is missing (m = {m})",
            ),
        )
    if m > 2:
        candidates += [
            (
                Rational(m),
                f"missing factor: the side is m = {m} times the truth — "
                + (
                    "the mean's 1/m is missing"
                    if mse
                    else "the loss is a sum, not a mean (a 1/m too few)"
                ),
            ),
            (
                Rational(1, m),
                f"missing factor: the side is the truth divided by m = {m} — "
                + ("divided by m once too often" if mse else "the loss is a sum, not a mean"),
            ),
        ]
    for factor, text in candidates:
        yield Recompute(scaled(case.expected, factor), text)


def _factors(case: Case) -> Iterator[Candidate]:
    if case.lhs_kind == "loss":
        return _loss_factors(case)
    return _gradient_factors(case)


def _after_the_loss(case: Case) -> bool:
    """The loss or a gradient (or a quantity that cannot be told): the factors of the
    loss's normalisation never reach the forward pass or the parameters themselves."""
    return case.lhs_kind not in ("output", "parameter")


FACTOR = Diagnoser("missing factor", "missing_factor", applies=_after_the_loss, tries=_factors)
