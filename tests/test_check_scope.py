"""What the checker says is beyond it (``symconv.check.scope``), and what it must not.

Each out-of-scope equation is one a real derivation adds next to the 1-D layer (a 2-D
remark, a ReLU, pooling, channels, a second layer); each near miss is in scope and must
not be caught by the same rule.
"""

from __future__ import annotations

import pytest
from lark import Token, Tree

from symconv.check.document import Equation
from symconv.check.judge import judge_document
from symconv.check.parse import ParseFailure, parse_equation
from symconv.check.scope import beyond, section_beyond
from symconv.check.truth import Truth
from symconv.problem import load_problem

PROBLEM = load_problem("exercise2")  # n = 4, k = 3, m = 2

BEYOND = [
    (r"\hat{y}_{i,j} = \sum_{a,b} w_{a,b} x_{i+a,j+b}", "two indices"),
    (r"a_{ij} = \hat{y}_{ij} + 1", "two indices"),
    (r"L = \sum_{i,j} (a_{ij} - t_{ij})^2", "two indices"),
    (r"\hat{y}_{11} = w_{11} x_{11}", "2-D index"),  # row 1, column 1 on a 4-entry input
    (r"a_i = \operatorname{ReLU}(\hat{y}_i)", "activation"),
    (r"z_i = \sigma(\hat{y}_i)", "activation"),
    (r"a_i = \max(0, \hat{y}_i)", "activation"),
    (r"\delta_i = g_i \, \mathbb{1}[\hat{y}_i > 0]", "indicator"),
    (r"p_1 = \max(\hat{y}_1, \hat{y}_2)", "pooling"),
    (r"\hat{y}^{(c)}_i = \sum_{c'} w^{(c,c')}_j x^{(c')}_i", "channels"),
    (r"W^{[2]} a^{[1]} = 3", "second layer"),
]

IN_SCOPE = [
    r"w_{1,new} = 0.5",  # a step word beside the index
    r"L_{out} = n - k + 1",  # PyTorch's size name
    r"\hat{y}_{2} = 20",
    r"\frac{\partial L}{\partial w_j} = \sum_i \delta_i x_{i+j-1}",
]


def _tree(latex: str) -> Tree[Token] | None:
    try:
        return parse_equation(latex)
    except ParseFailure:
        return None  # \\max and \\mathbb{1}[…] are not in the grammar: the text tells


@pytest.mark.parametrize(("latex", "word"), BEYOND)
def test_out_of_scope_equations_are_named(latex: str, word: str) -> None:
    reason = beyond(latex, _tree(latex), PROBLEM)
    assert reason is not None and word in reason


@pytest.mark.parametrize("latex", IN_SCOPE)
def test_in_scope_equations_are_not(latex: str) -> None:
    assert beyond(latex, parse_equation(latex), PROBLEM) is None


def test_a_two_digit_index_is_an_index_when_the_vector_is_long_enough() -> None:
    long = PROBLEM.with_layer(input_shape=14)
    assert beyond(r"x_{12} = 0", parse_equation(r"x_{12} = 0"), long) is None
    assert beyond(r"x_{12} = 0", parse_equation(r"x_{12} = 0"), PROBLEM) is not None


def test_sections_about_more_than_the_layer() -> None:
    assert section_beyond("The 2-D version") is not None
    assert section_beyond("Max pooling after the convolution") is not None
    assert section_beyond("Backward pass") is None


def test_judged_unsupported_never_incorrect() -> None:
    equations = [Equation(latex, None, n + 1) for n, (latex, _) in enumerate(BEYOND)]
    judged = judge_document(equations, Truth(PROBLEM))
    assert {(j.verdict, j.reason) for j in judged} == {("unchecked", "unsupported")}
    # a wrong 1-D equation under a 2-D heading is out of scope, the same one elsewhere wrong
    wrong = r"\hat{y}_1 = 15"
    under = judge_document([Equation(wrong, None, 1, "The 2-D version")], Truth(PROBLEM))
    plain = judge_document([Equation(wrong, None, 1, "Forward pass")], Truth(PROBLEM))
    assert (under[0].verdict, under[0].reason) == ("unchecked", "unsupported")
    assert plain[0].verdict == "incorrect"
