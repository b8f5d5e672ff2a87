"""Notations of real derivations, judged end to end on the exercise (``exercise2``).

x = (1, 2, 3, 4), w = (2, 1, 3), b = (1, 1), y = (2, 4), α = 1/100, worked by hand:
ŷ = (14, 20), L = 200, ∂L/∂ŷ = (12, 16), ∂L/∂w = (44, 72, 100), ∂L/∂b = (12, 16),
∂L/∂x = (24, 44, 52, 48), w after the step = (1.56, 0.28, 2), b after = (0.88, 0.84).

Every case is a short document (prose included: the binder reads it) with the verdict
of each equation; each notation also has a wrong variant that must be incorrect.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from symconv.check.document import read_equations
from symconv.check.judge import begin_document, judge_next
from symconv.check.truth import Truth
from symconv.problem import load_problem

PROBLEM = load_problem("exercise2")
DATA = Path(__file__).parent / "data" / "check"


def verdicts(text: str) -> list[str]:
    equations = read_equations(text)
    state = begin_document(equations, Truth(PROBLEM), text=text)
    assert not isinstance(state, list)
    return [judge_next(e, state).verdict for e in equations]


OK = ("correct", "notation")

CASES = {
    "delta defined in the prose": (
        "With $\\delta = o - t$ the gradients are short.\n\n"
        "$$o_i = \\sum_j w_j x_{i+j-1} + b_i$$\n\n"
        "$$L = \\frac12 \\sum_i (o_i - t_i)^2$$\n\n"
        "$$\\frac{\\partial L}{\\partial w_1} = \\sum_i \\delta_i x_i = 44$$\n\n"
        "$$\\frac{\\partial L}{\\partial w_1} = \\sum_i \\delta_i x_i = 45$$\n",
        ["ok", "ok", "ok", "incorrect"],
    ),
    "an error e_i defined after its first use": (
        "$$z_i = \\sum_j w_j x_{i+j-1} + b_i$$\n\n"
        "$$E = \\frac12 \\sum_i e_i^2 = 200$$\n\n"
        "$$e_i = z_i - d_i$$\n\n"
        "$$E = \\frac12 \\sum_i e_i^2 = 100$$\n",
        ["ok", "ok", "ok", "incorrect"],
    ),
    "a padded delta with dots": (
        "$$\\delta = (\\delta_1, \\ldots, \\delta_2) = (12, 16)$$\n\n"
        "$$\\delta_{\\text{pad}} = (0, 0, \\delta_1, \\delta_2, 0, 0)$$\n\n"
        "$$\\frac{\\partial L}{\\partial x} = \\delta_{\\text{pad}} \\star "
        "\\operatorname{rot180}(w) = (24, 44, 52, 48)$$\n\n"
        "$$\\frac{\\partial L}{\\partial x} = \\delta_{\\text{pad}} \\star w$$\n",
        ["ok", "ok", "ok", "incorrect"],  # without the flip: the kernel the wrong way round
    ),
    "the textbook's update": (
        "$$\\Delta w_1 = -\\eta \\frac{\\partial L}{\\partial w_1} = -0.44$$\n\n"
        "$$w_1(1) = w_1(0) + \\Delta w_1 = 1.56$$\n\n"
        "$$\\Delta b_2 = -0.16$$\n\n"
        "$$\\Delta w_2 = 0.72$$\n",
        ["ok", "ok", "ok", "incorrect"],  # the sign of the step
    ),
    "two free indices": (
        "$$\\frac{\\partial \\hat y_i}{\\partial w_j} = x_{i+j-1}$$\n\n"
        "$$\\frac{\\partial \\hat y_i}{\\partial x_t} = w_{t-i+1}$$\n\n"
        "$$\\frac{\\partial \\hat y_i}{\\partial w_j} = x_{i+j}$$\n",
        ["ok", "ok", "incorrect"],
    ),
    "the tap index k beside the kernel size K": (
        "$$\\text{out}_i = \\text{bias}_i + \\sum_{k=0}^{K-1} \\text{weight}_k "
        "\\, \\text{input}_{i+k}$$\n\n"
        "$$\\frac{\\partial \\ell}{\\partial \\text{weight}_k} = \\sum_{i=0}^{1} "
        "\\frac{\\partial \\ell}{\\partial \\text{out}_i} \\, \\text{input}_{i+k}$$\n\n"
        "$$\\frac{\\partial \\ell}{\\partial \\text{weight}_k} = \\sum_{i=0}^{1} "
        "\\frac{\\partial \\ell}{\\partial \\text{out}_i} \\, \\text{input}_{i+k+1}$$\n",
        ["ok", "ok", "incorrect"],
    ),
    "sizes in capitals": (
        "$$M = N - K + 1 = 2$$\n\n$$M = N - K = 1$$\n",
        ["ok", "incorrect"],
    ),
    "the banded matrix W of W x": (
        "$$\\hat{\\mathbf y} = W \\mathbf x + \\mathbf b$$\n\n"
        "$$\\frac{\\partial L}{\\partial \\mathbf x} = W^\\top \\boldsymbol\\delta$$\n\n"
        "$$\\frac{\\partial L}{\\partial \\mathbf x} = W \\boldsymbol\\delta$$\n",
        ["ok", "ok", "incorrect"],  # a missing transpose, not loose notation
    ),
    "sums written with dots": (
        "$$L = \\frac{1}{2}\\left((\\hat{y}_1 - y_1)^2 + \\cdots + (\\hat{y}_2 - y_2)^2\\right)"
        " = 200$$\n\n"
        "$$\\frac{\\partial L}{\\partial x_3} = \\delta_1 w_3 + \\dots + \\delta_2 w_2 = 52$$\n\n"
        "$$\\frac{\\partial L}{\\partial x_3} = \\delta_1 w_3 + \\dots + \\delta_2 w_3$$\n",
        ["ok", "ok", "incorrect"],  # w_3 twice: the kernel not run back
    ),
    "a kernel named h, physics indices": (
        "$$y_n = \\sum_{m=0}^{M-1} h_m \\, x_{n+m} + b_n$$\n\n"
        "$$C = \\frac{1}{2} \\sum_{n=0}^{1} (y_n - d_n)^2 = 200$$\n\n"
        "$$\\frac{\\partial C}{\\partial h_m} = \\sum_{n=0}^{1} (y_n - d_n) x_{n+m}$$\n\n"
        "$$\\frac{\\partial C}{\\partial x_p} = \\sum_{m=0}^{M-1} h_m (y_{p-m} - d_{p-m})$$\n\n"
        "$$\\frac{\\partial C}{\\partial x_p} = \\sum_{m=0}^{M-1} h_m (y_{p+m} - d_{p+m})$$\n",
        ["ok", "ok", "ok", "ok", "incorrect"],  # p an index, M the kernel size
    ),
    "the gradient at the next step and a rate mu": (
        "$$w^{(1)} = w - \\mu \\frac{\\partial L}{\\partial w} = (1.56, 0.28, 2)$$\n\n"
        "$$\\frac{\\partial L}{\\partial w^{(1)}} = "
        "\\frac{\\partial L^{(1)}}{\\partial w^{(1)}}$$\n\n"
        "$$w^{(1)} = w + \\mu \\frac{\\partial L}{\\partial w}$$\n",
        ["ok", "ok", "incorrect"],
    ),
    "circular indices with mod": (
        "$$\\hat y_i = \\sum_{j=1}^{3} w_j x_{((i+j-2) \\bmod 4) + 1} + b_i$$\n\n"
        "$$\\hat y_i = \\sum_{j=1}^{3} w_j x_{((i+j-1) \\bmod 4) + 1} + b_i$$\n",
        ["ok", "incorrect"],
    ),
    "a range qualifier and a set annotation": (
        "$$\\hat y_i = \\sum_{j=1}^{3} w_j x_{i+j-1} + b_i, \\quad \\forall i$$\n\n"
        "$$\\hat{\\mathbf y} = (14, 20) \\in \\mathbb{R}^{2}$$\n\n"
        "$$\\hat{\\mathbf y} = (14, 21) \\in \\mathbb{R}^{2}$$\n",
        ["ok", "ok", "incorrect"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_notation(name: str) -> None:
    text, expected = CASES[name]
    got = verdicts(text)
    assert ["ok" if v in OK else v for v in got] == expected, (name, got)


def test_a_padded_input_in_both_numberings() -> None:
    # padding 1, x = (2, 1, 3): written out, x̃ is numbered from its first entry
    padded = load_problem(str(DATA / "padding.toml"))
    out = read_equations("$$\\tilde x = (0, 2, 1, 3, 0)$$\n\n$$\\tilde x = (2, 1, 3, 0, 0)$$\n")
    state = begin_document(out, Truth(padded), text="")
    assert not isinstance(state, list)
    assert [judge_next(e, state).verdict for e in out] == ["correct", "incorrect"]
    # used with x's own indices (x̃₀ the padding zero) it is the input as the layer pads it
    text = "$$\\tilde x_0 = 0$$\n\n$$\\tilde x_1 = 2$$\n\n$$\\tilde x_1 = 0$$\n"
    same = read_equations(text)
    state = begin_document(same, Truth(padded), text=text)
    assert not isinstance(state, list)
    assert [judge_next(e, state).verdict for e in same] == ["correct", "correct", "incorrect"]


def test_a_missing_transpose_of_the_layer_matrix_is_named() -> None:
    text = CASES["the banded matrix W of W x"][0]
    equations = read_equations(text)
    state = begin_document(equations, Truth(PROBLEM), text=text)
    assert not isinstance(state, list)
    judged = [judge_next(e, state) for e in equations]
    assert judged[2].diagnosis is not None and judged[2].diagnosis.kind == "transpose_missing"


def test_the_binding_says_what_it_read() -> None:
    text = CASES["delta defined in the prose"][0]
    equations = read_equations(text)
    state = begin_document(equations, Truth(PROBLEM), text=text)
    assert not isinstance(state, list)
    assert re.match(r"output o → ŷ, target t → y", state.binding.describe())
    assert "delta" in state.binding.expressions
