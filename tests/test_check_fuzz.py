"""Fuzzing `symconv check`: random and mutated LaTeX never crash it nor make it hang."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symconv.check.run import check_text
from symconv.problem import load_problem

PROBLEM = load_problem("exercise2")
DATA = Path(__file__).parent / "data" / "check"
TOKENS = [
    "x_1",
    "w_2",
    "b",
    "\\hat{y}_1",
    "\\hat{\\mathbf{y}}",
    "=",
    "+",
    "-",
    "\\cdot",
    "(",
    ")",
    "{",
    "}",
    "^",
    "_",
    "2",
    "0.5",
    "10",
    "\\frac{",
    "}{",
    "\\partial",
    "\\mathcal{L}",
    "\\alpha",
    "\\sum_{i=1}^{2}",
    "i",
    "||",
    "\\lVert",
    "\\rVert",
    "\\begin{bmatrix}",
    "\\end{bmatrix}",
    "&",
    "\\\\",
    "^T",
    "^{(1)}",
    "\\left(",
    "\\right)",
    "\\tag{1}",
    ",",
    "'",
    "\\nabla_w",
    "*",
    "/",
    "\\sqrt{",
    "y_i",
    "x_{i+1}",
    "|",
]
EQUATIONS = [
    line.strip()
    for path in sorted(DATA.glob("*.md"))
    for line in path.read_text("utf-8").split("$$")[1::2]
]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def _check(body: str) -> dict[str, object]:
    start = time.perf_counter()
    result = check_text(f"$${body}$$\n", PROBLEM, time_limit=1.0)
    assert time.perf_counter() - start < 5.0
    return result


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30))
def test_random_token_soup(tokens: list[str]) -> None:
    _check(" ".join(tokens))


@FUZZ
@given(
    st.sampled_from(EQUATIONS),
    st.integers(0, 400),
    st.integers(0, 400),
    st.sampled_from([*TOKENS, ""]),
)
def test_mutated_equations(equation: str, start: int, length: int, insert: str) -> None:
    cut = start % (len(equation) + 1)
    _check(equation[:cut] + insert + equation[cut + length % 5 :])


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(1, 3000), st.sampled_from(["(", "{", "\\left(", "\\frac{1}{", "\\sqrt{", "-"]))
def test_deep_nesting(depth: int, opener: str) -> None:
    closer = {
        "(": ")",
        "{": "}",
        "\\left(": "\\right)",
        "\\frac{1}{": "}",
        "\\sqrt{": "}",
        "-": "",
    }[opener]
    _check("\\hat{y}_1 = " + opener * depth + "x_1" + closer * depth)


def test_huge_numbers_and_exponents() -> None:
    for body in [
        "\\hat{y}_1 = 10^{10^{10}}",
        "\\hat{y}_1 = 2^{2^{2^{2^{2}}}}",
        "\\hat{y}_1 = x_1^{99999}",
        "\\hat{y}_1 = " + "9" * 5000,
        "L = \\sum_{i=1}^{10^{9}} x_1",
        "\\hat{y}_1 = (x_1 + x_2)^{16} - (x_2 + x_1)^{16}",
    ]:
        equations = _check(body)["equations"]
        assert equations[0]["verdict"] in ("unchecked", "incorrect")  # type: ignore[index]


def test_unbalanced_and_enormous_matrices() -> None:
    rows = " \\\\ ".join(" & ".join(["1"] * 60) for _ in range(60))
    for body in [
        "\\hat{\\mathbf{y}} = \\begin{bmatrix} " + rows + " \\end{bmatrix}",
        "\\hat{y}_1 = \\begin{bmatrix} 1 & 2 \\\\ 3 \\end{bmatrix}",
        "\\hat{y}_1 = {{{x_1}",
        "\\hat{y}_1 = x_1}}}",
        "\\hat{y}_1 = \\frac{1}{0}",
    ]:
        _check(body)


def test_unclosed_blocks_and_empty_documents() -> None:
    for text in ["$$ x = 1", "", "$$$$", "\\[ \\]", "\\begin{align} \\end{align}"]:
        check_text(text, PROBLEM)
