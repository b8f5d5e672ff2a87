"""Readings found on the held-out documents, each in its general form (verdicts worked out
by hand on exercise2: x = (1, 2, 3, 4), w = (2, 1, 3), untied b = (1, 1), y = (2, 4);
ŷ = (14, 20), ∂L/∂ŷ = (12, 16), ∂L/∂w = (44, 72, 100), α = 0.01)."""

from __future__ import annotations

from dataclasses import replace

from sympy import Rational

from symconv.check.run import check_text
from symconv.problem import Problem, load_problem


def _judged(*equations: str, problem: Problem | None = None) -> list[tuple[str, str | None]]:
    text = "\n\n".join(f"$${e}$$" for e in equations) + "\n"
    data = check_text(text, problem=problem or load_problem("exercise2"), time_limit=5.0)
    return [(e["verdict"], e["diagnosis_kind"] or e["reason"]) for e in data["equations"]]


def test_a_rate_times_an_inline_derivative() -> None:
    # η ∂C/∂w_j: the product binds first in the grammar, the ∂ still belongs to the quotient
    assert _judged(
        r"w_j \leftarrow w_j - 0.01 \; \partial L / \partial w_j",
        r"w_3' = w_3 - \alpha \, \partial L / \partial w_3 = 2",
        r"w_3' = w_3 - \alpha \, \partial L / \partial w_3 = 3",
    ) == [("correct", None), ("correct", None), ("incorrect", "arithmetic_slip")]


def test_sizes_named_by_what_they_count() -> None:
    # N_y is the number of outputs (2), N_x the input's length (4), M_w the kernel's (3)
    assert [v for v, _ in _judged("N_y = 2", "N_x = 4", "M_w = 3", "N_y = 3")] == [
        "correct",
        "correct",
        "correct",
        "incorrect",
    ]


def test_a_capital_bound_is_a_size_not_the_index_letter_k() -> None:
    # M bounds the sum over the taps: the kernel size, even though k is the input's index
    assert _judged(
        r"\hat y_i = \sum_{m=1}^{M} w_m x_{i+m-1} + b_i",
        r"\frac{\partial L}{\partial x_k} = "
        r"\sum_{m=1}^{M} w_m \frac{\partial L}{\partial \hat y_{k-m+1}}",
    ) == [("correct", None), ("correct", None)]


def test_the_loss_half_dropped_while_substituting_is_a_missing_factor() -> None:
    # L = ½ Σ (ŷ_i − y_i)² = ½ (144 + 256) = 200; written without the ½
    assert _judged(
        r"L = \frac{1}{2} \sum_{i=1}^{2} (\hat y_i - y_i)^2 = 144 + 256 = 400"
    ) == [("incorrect", "missing_factor")]


def test_a_general_formula_gets_the_mistake_that_explains_every_index() -> None:
    # a 2-tap kernel: ∂L/∂w_j = Σ_i δ_i x_{i+j−1}; written x_{i+j} (shifted by one). At
    # j = 1 that is also the flipped kernel's value; at j = 2 only the shift explains it
    problem = load_problem("exercise2").with_layer(kernel_size=2)
    three = tuple(Rational(v) for v in (1, 1, 1))
    problem = replace(problem, w=(Rational(2), Rational(1)), b=three, y=three)
    found = _judged(
        r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{3} (\hat y_i - y_i) x_{i+j}",
        problem=problem,
    )
    assert found == [("incorrect", "wrong_index")]


def test_a_name_defined_through_an_activation_is_beyond_the_layer() -> None:
    text = (
        r"$$s_i = \sigma(\hat y_i)$$" + "\n\n"
        r"$$\frac{\partial L}{\partial \hat y_i} = (s_i - y_i)\, s_i (1 - s_i)$$" + "\n"
    )
    data = check_text(text, problem=load_problem("exercise2"), time_limit=5.0)
    assert data["equations"][-1]["reason"] == "unsupported"
