"""Reading documents and the notation: each form gives the SymPy value it means."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sympy import Rational, Symbol, expand

from symconv.check.document import read_equations
from symconv.check.evaluate import Context, EvalError, Mat, evaluate
from symconv.check.parse import ParseFailure, parse_equation
from symconv.check.truth import Truth
from symconv.problem import load_problem

TRUTH = Truth(load_problem("exercise2"))
S = {
    name: Symbol(name, real=True) for name in "x1 x2 x3 x4 w1 w2 w3 b1 b2 y1 y2 yhat1 yhat2".split()
}

# LaTeX side -> the value it means for the exercise (scalars only)
SCALARS = [
    (r"\hat{y}_1", S["yhat1"]),
    (r"\hat{y_2}", S["yhat2"]),
    (r"\hat{\mathbf{y}}_2", S["yhat2"]),
    (
        r"w^{(1)}_1",
        S["w1"]
        - Rational(1, 100) * ((S["yhat1"] - S["y1"]) * S["x1"] + (S["yhat2"] - S["y2"]) * S["x2"]),
    ),
    (r"\alpha \cdot 2", Rational(1, 50)),
    (r"\sum_{i=1}^{2} x_{2i-1}", S["x1"] + S["x3"]),
    (r"\sum_{j=1}^{k} w_j x_{j+1}", S["w1"] * S["x2"] + S["w2"] * S["x3"] + S["w3"] * S["x4"]),
    (r"\left( x_1 + 2 \right) \cdot 3", 3 * S["x1"] + 6),
    (r"\frac{1}{2} ||y_1 - \hat{y}_1||_2^2", (S["y1"] - S["yhat1"]) ** 2 / 2),
    (r"\frac12 \lVert y_1 - \hat{y}_1 \rVert_2^2", (S["y1"] - S["yhat1"]) ** 2 / 2),
    (r"0.25 x_1", S["x1"] / 4),
    (
        r"\begin{bmatrix} 1 & 2 \end{bmatrix} \begin{pmatrix} x_1 \\ x_2 \end{pmatrix}",
        S["x1"] + 2 * S["x2"],
    ),
    (r"\mathbf{w}^\top \mathbf{w}", S["w1"] ** 2 + S["w2"] ** 2 + S["w3"] ** 2),
    (r"\frac{\partial \mathcal{L}(\hat{y}, y)}{\partial \hat{y}_2}", S["yhat2"] - S["y2"]),
    (r"\frac{\partial \hat{y}_2}{\partial w_3}", S["x4"]),
    (r"\frac{\partial L}{\partial b_1}", S["yhat1"] - S["y1"]),
    (r"\frac{\partial L}{\partial x_1}", (S["yhat1"] - S["y1"]) * S["w1"]),
]


@pytest.mark.parametrize(("latex", "value"), SCALARS)
def test_scalar_notation(latex: str, value: object) -> None:
    tree = parse_equation(latex).children[0]
    got = evaluate(tree, Context(truth=TRUTH))  # type: ignore[arg-type]
    assert not isinstance(got, Mat)
    assert expand(TRUTH.full(got) - TRUTH.full(value)) == 0  # type: ignore[arg-type]


def test_plain_b_inside_the_ith_output_is_b_i() -> None:
    tree = parse_equation(r"w \cdot x + b").children[0]
    got = evaluate(tree, Context(truth=TRUTH, output=1))  # type: ignore[arg-type]
    assert expand(got - TRUTH.d.yhat[1]) == 0  # type: ignore[operator]


def test_column_times_row_is_noted() -> None:
    ctx = Context(truth=TRUTH)
    tree = parse_equation(
        r"\begin{bmatrix} 1 \\ 2 \end{bmatrix} \cdot \begin{bmatrix} 3 & 4 \end{bmatrix}"
    ).children[0]
    assert evaluate(tree, ctx) == 11  # type: ignore[arg-type]
    assert ctx.flags and "outer product" in ctx.flags[0]


@pytest.mark.parametrize(
    "latex",
    [r"\frac{1}{", r"x_{", r"\begin{bmatrix} 1 & 2", r"a \leq b = c", r"\unknowncommand x"],
)
def test_unreadable_notation_is_a_parse_failure(latex: str) -> None:
    with pytest.raises(ParseFailure):
        parse_equation(latex)


@pytest.mark.parametrize(
    "latex", [r"10^{10^{10}}", r"x_1^{100}", r"\frac{1}{0}", r"\sum_{i=1}^{100000} x_1"]
)
def test_limits_refuse_instead_of_hanging(latex: str) -> None:
    tree = parse_equation(latex).children[0]
    with pytest.raises(EvalError):
        evaluate(tree, Context(truth=TRUTH))  # type: ignore[arg-type]


DOCUMENT = r"""# Title

$$a = 1 \tag{1}$$

\[ b = 2 \]
(2b)

\begin{align}
c &= 3 \label{3} \\
  &= 3 \\
d &= 4 \tag{4}
\end{align}

\begin{equation*}
e = 5
\end{equation*}
"""


def test_reading_blocks_labels_and_lines() -> None:
    equations = read_equations(DOCUMENT)
    assert [(e.name, e.line) for e in equations] == [
        ("1", 3),
        ("2b", 5),
        ("3", 9),
        ("4", 11),
        ("line 14", 14),
    ]
    assert "= 3" in equations[2].latex  # an align row starting with = continues the chain


def test_no_eval_of_user_text() -> None:
    """Nothing in the checker evaluates text: no eval, exec, sympify or parse_expr."""
    source = "\n".join(p.read_text() for p in Path("symconv/check").glob("*.py"))
    assert not re.search(r"\b(eval|exec|sympify|parse_expr|parse_latex)\s*\(", source)
