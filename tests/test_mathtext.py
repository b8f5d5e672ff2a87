"""Unicode math text: names, exact numbers and SymPy expressions as people read them."""

from __future__ import annotations

import pytest
from sympy import Rational, Symbol, symbols

from symconv.mathtext import fmt, fmt_factor, math, name
from symconv.problem import load_problem
from symconv.symbolic.closed import derive_closed, specialize

NAMES = [
    ("x1", "x₁"),
    ("w12", "w₁₂"),
    ("yhat2", "ŷ₂"),
    ("b", "b"),
    ("alpha", "alpha"),
]

NUMBERS = [
    (Rational(14), "14"),
    (Rational(39, 25), "1.56"),
    (Rational(1, 100), "0.01"),
    (Rational(3161, 50), "63.22"),
    (Rational(-1, 5), "−0.2"),
    (Rational(1, 3), "1/3"),
    (Rational(-7, 3), "−7/3"),
    (Rational(0), "0"),
]


@pytest.mark.parametrize(("raw", "pretty"), NAMES)
def test_names(raw: str, pretty: str) -> None:
    assert name(raw) == pretty


@pytest.mark.parametrize(("value", "text"), NUMBERS)
def test_numbers_are_exact(value: Rational, text: str) -> None:
    assert fmt(value) == text


def test_decimal_round_trips_exactly() -> None:
    # every terminating rational prints as a decimal that reads back as the same number
    for numerator in range(-50, 51, 7):
        for denominator in (1, 2, 4, 5, 8, 20, 25, 40, 125):
            q = Rational(numerator, denominator)
            assert Rational(fmt(q).replace("−", "-")) == q


def test_non_terminating_fraction_gets_an_approximation_when_asked() -> None:
    assert fmt(Rational(1, 3), approx=True) == "1/3 ≈ 0.333333"


def test_factors_are_parenthesised_when_negative_or_fractional() -> None:
    assert fmt_factor(Rational(-1, 5)) == "(−0.2)"
    assert fmt_factor(Rational(1, 3)) == "(1/3)"
    assert fmt_factor(Rational(3)) == "3"


def test_expressions() -> None:
    yhat, y = symbols("yhat1 y1")
    assert math((yhat - y) ** 2 / 2) == "(ŷ₁ − y₁)²/2"
    assert math(yhat - y) == "ŷ₁ − y₁"
    assert math(Symbol("w1") * Symbol("x2")) == "w₁·x₂"


def test_closed_form_reads_like_the_textbook() -> None:
    closed = derive_closed("untied")
    assert math(closed.yhat) == "Σⱼ₌₁ᵏ wⱼ·x̃[s(i − 1) + d(j − 1) − p + 1] + bᵢ"
    exercise = load_problem("exercise2")
    assert math(specialize(closed.yhat, exercise)) == "Σⱼ₌₁³ wⱼ·x̃[i + j − 1] + bᵢ"
    assert math(closed.grad_yhat) == "ŷᵢ − yᵢ"


def test_a_wrong_name_is_visible() -> None:
    # the comparison above can fail: a different index prints differently
    assert math(Symbol("x2")) != math(Symbol("x1"))
