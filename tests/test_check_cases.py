"""Case distinctions (``\\begin{cases}``, ``… \\text{ for } t < 0``) and the diagnoses
that read what the side before says: expected verdicts worked out by hand on exercise2
(x = (1, 2, 3, 4), w = (2, 1, 3), untied b = (1, 1), y = (2, 4); ŷ = (14, 20))."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sympy import Rational

from symconv.check.parse import normalise
from symconv.check.run import check_text
from symconv.problem import Problem, load_problem


def _verdicts(*equations: str, prose: str = "") -> list[tuple[str, str | None]]:
    text = prose + "\n\n" + "\n\n".join(f"$${e}$$" for e in equations) + "\n"
    data = check_text(text, problem=load_problem("exercise2"), time_limit=5.0)
    return [(e["verdict"], e["diagnosis_kind"] or e["reason"]) for e in data["equations"]]


@pytest.mark.parametrize(
    ("latex", "verdict"),
    [
        # ∂ŷ_i/∂x_t is the tap w_{t−i+1} inside the window, 0 outside
        (
            r"\frac{\partial \hat y_i}{\partial x_t} = \begin{cases} w_{t-i+1} & \text{if } "
            r"1 \le t - i + 1 \le k, \\ 0 & \text{otherwise.} \end{cases}",
            "correct",
        ),
        # the window moved by one
        (
            r"\frac{\partial \hat y_i}{\partial x_t} = \begin{cases} w_{t-i} & \text{if } "
            r"1 \le t - i \le k, \\ 0 & \text{otherwise} \end{cases}",
            "incorrect",
        ),
        (r"\hat y_i = \begin{cases} 14, & i = 1, \\ 20, & i = 2. \end{cases}", "correct"),
        (r"\hat y_i = \begin{cases} 14 & i = 1 \\ 21 & i = 2 \end{cases}", "incorrect"),
        (
            r"\hat y_i = \begin{cases} 14 & i \in \{1\} \\ 20 & i \notin \{1\} \end{cases}",
            "correct",
        ),
        # a claim under a condition: judged where the condition holds
        (r"\hat y_i = 20 \text{ for } i > 1", "correct"),
        (r"\hat y_i = 14 \text{ for } i > 1", "incorrect"),
    ],
)
def test_a_case_distinction_is_judged_branch_by_branch(latex: str, verdict: str) -> None:
    assert _verdicts(latex)[0][0] == verdict


def test_a_condition_that_holds_nowhere_is_no_claim() -> None:
    assert _verdicts(r"\hat y_i = 3 \text{ for } i > 7")[0] == ("unchecked", "no claim")


def test_the_cases_normalise_to_value_and_condition_rows() -> None:
    written = r"a = \begin{cases} 1, & \text{if } t \geq 0, \\ 0 & \text{otherwise.} \end{cases}"
    assert " ".join(normalise(written).split()) == (
        r"a = \begin{cases} 1 & t \geq 0 \\ 0 & \otherwise \end{cases}"
    )


def test_a_sign_in_the_numbers_of_a_sum_is_a_sign_error_not_a_flip() -> None:
    # ∂L/∂w_2 = Σ δ_i x_{i+1} = 12·2 + 16·3 = 72; written with −16·3
    found = _verdicts(
        r"\frac{\partial L}{\partial w_2} = \delta_1 x_2 + \delta_2 x_3 = 24 - 48 = -24",
        prose=r"Let $\delta_i = \partial L / \partial \hat y_i$.",
    )
    assert found[-1] == ("incorrect", "sign_error")


def test_the_bias_kept_in_a_weight_gradient_is_a_bias_mistake() -> None:
    # ∂ŷ_i/∂w_j = x_{i+j−1} (+ b would be wrong)
    found = _verdicts(
        r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{2} \delta_i (x_{i+j-1} + b_i)",
        prose=r"Let $\delta_i = \partial L / \partial \hat y_i$.",
    )
    assert found[-1] == ("incorrect", "bias_confused")


def test_a_matrix_named_in_the_prose_binds_its_transpose() -> None:
    # "ŷ = W x + b" said inline: W is ∂ŷ/∂x, so W δ (2×4 times 2×1) lacks the transpose
    found = _verdicts(
        r"\frac{\partial L}{\partial x} = W \frac{\partial L}{\partial \hat y}",
        prose=r"The layer is $\hat y = W x + b$ with the banded matrix $W$.",
    )
    assert found[-1] == ("incorrect", "transpose_missing")


def test_a_matrix_entry_is_read_with_two_indices() -> None:
    found = _verdicts(
        r"W = \begin{bmatrix} 2 & 1 & 3 & 0 \\ 0 & 2 & 1 & 3 \end{bmatrix}",
        r"\frac{\partial \hat y_i}{\partial x_t} = W_{it}",
        r"W_{2,3} = 1",
        r"W_{1,2} = 2",
    )
    assert [v for v, _ in found] == ["correct", "correct", "correct", "incorrect"]


def test_the_gradient_of_the_padded_input_is_padding_ignored() -> None:
    # exercise2 with padding 1: ∂L/∂x̃ has n + 2p = 6 entries, the padded ones are dropped
    problem = load_problem("exercise2").with_layer(padding=1)
    one = Rational(1)
    problem = replace(problem, b=(one,) * 4, y=tuple(Rational(v) for v in (2, 4, 1, 3)))
    from symconv.check.truth import Truth

    truth = Truth(problem)
    values = truth.values(0)
    assert values is not None
    grad = [truth.full(g).xreplace(values) for g in truth.d.grad_x]
    padded = _padded(problem)
    written = ", ".join(str(v) for v in padded)
    assert len(padded) == 6 and padded[1:5] == grad  # worked out independently below
    data = check_text(
        f"$$\\frac{{\\partial L}}{{\\partial x}} = ({written})$$\n", problem=problem, time_limit=5.0
    )
    (equation,) = data["equations"]
    assert (equation["verdict"], equation["diagnosis_kind"]) == ("incorrect", "padding_ignored")


def _padded(problem: Problem) -> list[Rational]:
    """∂L/∂x̃ by hand: ŷ_i = Σ_j w_j x̃_{i+j−1} + b_i, so ∂L/∂x̃_t = Σ_i δ_i w_{t−i+1}."""
    assert problem.x is not None and problem.y is not None and problem.b is not None
    x = [Rational(0), *problem.x, Rational(0)]
    w = list(problem.w or ())
    b = list(problem.b) if isinstance(problem.b, tuple) else [problem.b] * 4
    yhat = [sum((w[j] * x[i + j] for j in range(3)), Rational(0)) + b[i] for i in range(4)]
    delta = [yhat[i] - problem.y[i] for i in range(4)]
    return [
        sum((delta[i] * w[t - i] for i in range(4) if 0 <= t - i < 3), Rational(0))
        for t in range(6)
    ]
