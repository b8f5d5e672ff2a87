"""The diagnosers of ``symconv.check.diagnose``, one kind at a time.

For every kind of the catalogue: equations that must get it — on symbolic and numeric
sides, scalars and vectors, sums and expanded forms — and near misses that must not (a
right equation, or a wrong one whose mistake is another).  Every expected value below
was worked by hand from the problem's numbers (the working is in the comments); none
comes from the checker.

The problems (module-level data):

- ``exercise2``: n = 4, k = 3, untied b = (1, 1), x = (1, 2, 3, 4), w = (2, 1, 3),
  y = (2, 4), α = 0.01.  ŷ = (14, 20), δ = ŷ − y = (12, 16), L = 200,
  ∂L/∂w = (44, 72, 100), ∂L/∂b = (12, 16), ∂L/∂x = (24, 44, 52, 48).
- ``STRIDE2``: n = 7, k = 3, stride 2, shared b = 1, x = (1, −1, 2, 0, 3, 1, −2),
  w = (1, 2, −1), y = (0, 1, 2), α = 0.1.  Windows x₁..x₃, x₃..x₅, x₅..x₇:
  ŷ = (−2, 0, 8), δ = (−2, −1, 6), ∂L/∂w = (14, 8, −19), ∂L/∂b = 3,
  ∂L/∂x = (−2, −4, 1, −2, 7, 12, −6).
  With the stride ignored (windows x₁..x₃, x₂..x₄, x₃..x₅, the true δ):
  ∂L/∂w = (11, 0, 14), ∂L/∂x = (−2, −5, 6, 13, −6, 0, 0), ŷ₂ = 4; with the ŷ read
  that way too (ŷ = (−2, 4, 0), δ = (−2, 3, −2)): ∂L/∂w = (−9, 8, −10).
- ``STRIDE2U``: the same layer with an untied b = (0, 1, −1), x = (1, −1, 2, 0, 1, 3, −2),
  w = (1, 2, −1), y = (−2, 0, 6).  ŷ = (−3, 2, 8), δ = (−1, 2, 2); ∂L/∂w₃ = δ₁x₃ + δ₂x₅ +
  δ₃x₇ = −4, with the stride ignored δ₁x₃ + δ₂x₄ + δ₃x₅ = 0 — and with its last sign
  turned, −2 + 0 − 2 = −4 as well (at these values only).
- ``DILATION2``: n = 5, k = 2, dilation 2, untied b = (1, 0, −1), x = (3, −1, 2, 0, 1),
  w = (1, −2), y = (1, −1, 2).  Windows (x₁, x₃), (x₂, x₄), (x₃, x₅): ŷ = (0, −1, −1),
  δ = (−1, 0, −3), ∂L/∂w = (−9, −5), ∂L/∂x = (−1, 0, −1, 0, 6).  With the dilation
  ignored (windows (x₁, x₂), (x₂, x₃), (x₃, x₄), the true δ): ∂L/∂w = (−9, 1);
  ŷ₁ = 6.
- ``PADDING1``: n = 4, k = 3, zero padding 1, shared b = 1, x = (1, 2, −1, 3),
  w = (1, −1, 2), y = (3, −1, 8, −2).  ŷ = (4, −2, 10, −3); without the padding the
  outputs are (−2, 10).
- ``CIRCULAR1``: n = 4, k = 3, circular padding 1, shared b = 0, x = (1, 2, 3, 4),
  w = (1, 0, −1).  ŷ₁ = w₁x₄ + w₂x₁ + w₃x₂ + b = 2; read with zeros, w₂x₁ + w₃x₂ + b = −2.
- ``NOBIAS``: n = 4, k = 2, no bias, x = (1, 2, 3, 4), w = (1, −1), y = (0, 0, 0).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from lark import Tree

from symconv.check.diagnose import CATALOGUE, KINDS, Diagnosis, diagnose, latex_of
from symconv.check.diagnose.base import Case
from symconv.check.diagnose.changed import DILATION, LEARNING_RATE, PADDING, STRIDE
from symconv.check.evaluate import Context, Value, evaluate
from symconv.check.parse import parse_equation
from symconv.check.run import check_text
from symconv.check.truth import Truth
from symconv.problem import Problem, load_problem


def _problem(title: str, **settings: object) -> Problem:
    return load_problem(None, {"title": title, **settings})


PROBLEMS: dict[str, Problem] = {
    "exercise2": load_problem("exercise2"),
    "STRIDE2": _problem(
        "stride 2",
        **{
            "layer.input_length": 7,
            "layer.kernel_size": 3,
            "layer.stride": 2,
            "layer.bias": "shared",
            "loss.kind": "sse_half",
            "optimizer.learning_rate": "0.1",
            "values.x": ["1", "-1", "2", "0", "3", "1", "-2"],
            "values.w": ["1", "2", "-1"],
            "values.b": "1",
            "values.y": ["0", "1", "2"],
        },
    ),
    "STRIDE2U": _problem(
        "stride 2, untied bias",
        **{
            "layer.input_length": 7,
            "layer.kernel_size": 3,
            "layer.stride": 2,
            "layer.bias": "untied",
            "loss.kind": "sse_half",
            "optimizer.learning_rate": "0.1",
            "values.x": ["1", "-1", "2", "0", "1", "3", "-2"],
            "values.w": ["1", "2", "-1"],
            "values.b": ["0", "1", "-1"],
            "values.y": ["-2", "0", "6"],
        },
    ),
    "DILATION2": _problem(
        "dilation 2",
        **{
            "layer.input_length": 5,
            "layer.kernel_size": 2,
            "layer.dilation": 2,
            "layer.bias": "untied",
            "loss.kind": "sse_half",
            "optimizer.learning_rate": "0.1",
            "values.x": ["3", "-1", "2", "0", "1"],
            "values.w": ["1", "-2"],
            "values.b": ["1", "0", "-1"],
            "values.y": ["1", "-1", "2"],
        },
    ),
    "PADDING1": _problem(
        "zero padding 1",
        **{
            "layer.input_length": 4,
            "layer.kernel_size": 3,
            "layer.padding": 1,
            "layer.bias": "shared",
            "loss.kind": "sse_half",
            "optimizer.learning_rate": "0.1",
            "values.x": ["1", "2", "-1", "3"],
            "values.w": ["1", "-1", "2"],
            "values.b": "1",
            "values.y": ["3", "-1", "8", "-2"],
        },
    ),
    "CIRCULAR1": _problem(
        "circular padding 1",
        **{
            "layer.input_length": 4,
            "layer.kernel_size": 3,
            "layer.padding": 1,
            "layer.padding_mode": "circular",
            "layer.bias": "shared",
            "loss.kind": "sse_half",
            "optimizer.learning_rate": "0.25",
            "values.x": ["1", "2", "3", "4"],
            "values.w": ["1", "0", "-1"],
            "values.b": "0",
            "values.y": ["-1", "-2", "-2", "3"],
        },
    ),
    "NOBIAS": _problem(
        "no bias",
        **{
            "layer.input_length": 4,
            "layer.kernel_size": 2,
            "layer.bias": "none",
            "loss.kind": "sse_half",
            "values.x": ["1", "2", "3", "4"],
            "values.w": ["1", "-1"],
            "values.y": ["0", "0", "0"],
        },
    ),
}

# the window matrix of STRIDE2 (square: m = k = 3), defined before it is used
X_STRIDE2 = (
    r"$$X = \begin{bmatrix} x_1 & x_2 & x_3 \\ x_3 & x_4 & x_5 \\ x_5 & x_6 & x_7 \end{bmatrix}$$"
)


@dataclass(frozen=True)
class Not:
    """A near miss: the equation is wrong, but not with this kind."""

    kind: str


Expected = str | Not | None  # a kind; not that kind; None: the equation is right

# kind -> [(id, problem, equations before, the equation (tag T), expected)]
CASES: dict[str, list[tuple[str, str, str, str, Expected]]] = {
    "arithmetic_slip": [
        # a vector: 2 + 3 + 12 + 1 = 20 in the second entry, not 21
        (
            "a vector",
            "exercise2",
            "",
            r"\hat{\mathbf{y}} = \begin{bmatrix} 2 \cdot 1 + 1 \cdot 2 + 3 \cdot 3 + 1 \\ 2 \cdot "
            r"2 + 1 \cdot 3 + 3 \cdot 4 + 1 \end{bmatrix} = \begin{bmatrix} 14 \\ 21 "
            r"\end{bmatrix}",
            "arithmetic_slip",
        ),
        # 2 + 2 + 9 + 1 = 14, not 15: the products are right, the sum slipped
        (
            "numbers",
            "exercise2",
            "",
            r"\hat{y}_1 = 2 \cdot 1 + 1 \cdot 2 + 3 \cdot 3 + 1 = 15",
            "arithmetic_slip",
        ),
        (
            "after symbols",
            "exercise2",
            "",
            r"\hat{y}_1 = w_1 x_1 + w_2 x_2 + w_3 x_3 + b_1 = 13",
            "arithmetic_slip",
        ),
        # 20 is ŷ₂'s value, but the side before is right: the slip is named, not a label
        (
            "another's value after a right side",
            "exercise2",
            "",
            r"\hat{y}_1 = w_1 x_1 + w_2 x_2 + w_3 x_3 + b_1 = 20",
            "arithmetic_slip",
        ),
        ("right", "exercise2", "", r"\hat{y}_1 = 2 \cdot 1 + 1 \cdot 2 + 3 \cdot 3 + 1 = 14", None),
        # a lone wrong number has no right side before it: no slip to speak of
        ("no side before", "exercise2", "", r"\hat{y}_1 = 15", Not("arithmetic_slip")),
    ],
    "missing_parentheses": [
        # the same with the numbers: 2 − 0.01·(12·1 + 16·2) = 1.56
        (
            "numbers",
            "exercise2",
            "",
            r"w_1^{(1)} = 2 - 0.01 \cdot 12 \cdot 1 + 16 \cdot 2",
            "missing_parentheses",
        ),
        # α multiplies only the first term of ∂L/∂w₁ = δ₁x₁ + δ₂x₂
        (
            "update",
            "exercise2",
            "",
            r"w_1^{(1)} = w_1 - \alpha (\hat{y}_1 - y_1) x_1 + (\hat{y}_2 - y_2) x_2",
            "missing_parentheses",
        ),
        # the ½ only on the first square
        (
            "loss",
            "exercise2",
            "",
            r"L = \frac{1}{2} (\hat{y}_1 - y_1)^2 + (\hat{y}_2 - y_2)^2",
            "missing_parentheses",
        ),
        (
            "right",
            "exercise2",
            "",
            r"w_1^{(1)} = w_1 - \alpha \left( (\hat{y}_1 - y_1) x_1 + (\hat{y}_2 - y_2) x_2 "
            r"\right)",
            None,
        ),
    ],
    "sign_error": [
        (
            "a vector",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{\mathbf{y}}} = \hat{\mathbf{y}} + \mathbf{y}",
            "sign_error",
        ),
        (
            "a vector of numbers",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{\mathbf{y}}} = \begin{bmatrix} 12 \\ -16 "
            r"\end{bmatrix}",
            "sign_error",
        ),
        (
            "one sign",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{y}_1} = \hat{y}_1 + y_1",
            "sign_error",
        ),
        (
            "negated",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{y}_1} = y_1 - \hat{y}_1",
            "sign_error",
        ),
        # ŷ₁ − y₁ is right; with the numbers 14 − 2 = 12, written 14 + 2
        (
            "substituted",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{y}_1} = \hat{y}_1 - y_1 = 14 + 2",
            "sign_error",
        ),
        (
            "right",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{y}_1} = \hat{y}_1 - y_1 = 14 - 2 = 12",
            None,
        ),
        # y₂ where y₁ belongs: an index, not a sign
        (
            "an index",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{y}_1} = \hat{y}_1 - y_2",
            Not("sign_error"),
        ),
    ],
    "transpose_missing": [
        # ∂L/∂w = Xᵀ δ; X δ is defined (3×3 · 3×1) but is not it
        (
            "symbols",
            "STRIDE2",
            X_STRIDE2,
            r"\frac{\partial L}{\partial \mathbf{w}} = X (\hat{\mathbf{y}} - \mathbf{y})",
            "transpose_missing",
        ),
        (
            "symbols with a dot",
            "STRIDE2",
            X_STRIDE2,
            r"\frac{\partial L}{\partial \mathbf{w}} = X \cdot (\hat{\mathbf{y}} - \mathbf{y})",
            "transpose_missing",
        ),
        # X δ with the numbers: X = [[1, −1, 2], [2, 0, 3], [3, 1, −2]], δ = (−2, −1, 6)
        (
            "numbers",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} 1 & -1 & 2 \\ 2 & 0 & 3 \\ "
            r"3 & 1 & -2 \end{bmatrix} \begin{bmatrix} -2 \\ -1 \\ 6 \end{bmatrix}",
            "transpose_missing",
        ),
        (
            "right",
            "STRIDE2",
            X_STRIDE2,
            r"\frac{\partial L}{\partial \mathbf{w}} = X^\top (\hat{\mathbf{y}} - \mathbf{y})",
            None,
        ),
    ],
    "wrong_label": [
        # the outputs after the update, (9, 12.8), written for ŷ
        (
            "a vector",
            "exercise2",
            "",
            r"\hat{\mathbf{y}} = \begin{bmatrix} 9 \\ 12.8 \end{bmatrix}",
            "wrong_label",
        ),
        # δ₁x₃ + δ₂x₄ is ∂L/∂w₃ (one entry: the label, before a reversed kernel)
        (
            "the mirror entry",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial w_1} = (\hat{y}_1 - y_1) x_3 + (\hat{y}_2 - y_2) x_4",
            "wrong_label",
        ),
        ("a number", "exercise2", "", r"\hat{y}_1 = 20", "wrong_label"),  # ŷ₂'s value
        (
            "another output",
            "exercise2",
            "",
            r"\hat{y}_1 = w_1 x_2 + w_2 x_3 + w_3 x_4 + b_2",
            "wrong_label",
        ),
        # δ₁x₂ + δ₂x₃ is ∂L/∂w₂
        (
            "another gradient",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial w_1} = (\hat{y}_1 - y_1) x_2 + (\hat{y}_2 - y_2) x_3",
            "wrong_label",
        ),
        ("right", "exercise2", "", r"\hat{y}_1 = 14", None),
        # a formula in j whose instance j is entry j + 1: its index is wrong, not a label
        (
            "a formula in j",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{2} (\hat{y}_i - y_i) x_{i+j}",
            Not("wrong_label"),
        ),
    ],
    "bias_confused": [
        (
            "a vector of numbers",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial b} = \begin{bmatrix} -2 \\ -1 \\ 6 \end{bmatrix}",
            "bias_confused",
        ),
        # an untied bias: ∂L/∂b = (12, 16), not their sum
        (
            "summed",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial b} = \sum_{i=1}^{2} (\hat{y}_i - y_i)",
            "bias_confused",
        ),
        (
            "summed, a number",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial b} = 28",
            "bias_confused",
        ),
        # a shared bias collects every output's δ: δ₁ alone is one term
        (
            "one term",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial b} = \hat{y}_1 - y_1",
            "bias_confused",
        ),
        (
            "a vector",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial b} = \begin{bmatrix} \hat{y}_1 - y_1 \\ \hat{y}_2 - y_2 "
            r"\\ \hat{y}_3 - y_3 \end{bmatrix}",
            "bias_confused",
        ),
        ("no bias", "NOBIAS", "", r"\hat{y}_1 = w_1 x_1 + w_2 x_2 + b", "bias_confused"),
        ("right", "exercise2", "", r"\frac{\partial L}{\partial b_1} = \hat{y}_1 - y_1", None),
        (
            "right, shared",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial b} = \sum_{i=1}^{3} (\hat{y}_i - y_i) = 3",
            None,
        ),
        (
            "a sign",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial b_1} = \hat{y}_1 + y_1",
            Not("bias_confused"),
        ),
    ],
    "stride_ignored": [
        # the formula and then its number: the side agrees with a sign turned only at the
        # problem's values, with the stride ignored as a formula
        (
            "expanded, then numbers",
            "STRIDE2U",
            "",
            r"\frac{\partial L}{\partial w_3} = (\hat{y}_1 - y_1) x_3 + (\hat{y}_2 - y_2) x_4 "
            r"+ (\hat{y}_3 - y_3) x_5 = 0",
            "stride_ignored",
        ),
        # x₃ is read by (i, j) = (1, 3), (2, 2), (3, 1) with stride 1: δ₁w₃ + δ₂w₂ + δ₃w₁ = 6
        (
            "an input gradient sum",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial x_3} = \sum_{i=1}^{3} (\hat{y}_i - y_i) w_{4-i}",
            "stride_ignored",
        ),
        (
            "the outputs, numbers",
            "STRIDE2",
            "",
            r"\hat{\mathbf{y}} = \begin{bmatrix} -2 \\ 4 \\ 0 \end{bmatrix}",
            "stride_ignored",
        ),
        # the loss of the stride-1 outputs (−2, 4, 0): ½(4 + 9 + 4)
        (
            "the loss",
            "STRIDE2",
            "",
            r"L = \frac{1}{2}\left((-2-0)^2 + (4-1)^2 + (0-2)^2\right)",
            "stride_ignored",
        ),
        (
            "forward",
            "STRIDE2",
            "",
            r"\hat{y}_2 = w_1 x_2 + w_2 x_3 + w_3 x_4 + b",
            "stride_ignored",
        ),
        (
            "forward, numbers",
            "STRIDE2",
            "",
            r"\hat{y}_2 = 1 \cdot (-1) + 2 \cdot 2 + (-1) \cdot 0 + 1 = 4",
            "stride_ignored",
        ),
        # the windows of stride 1 over the layer's 3 outputs: x_{i+j-1} for x_{2(i-1)+j}
        (
            "a sum",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{3} (\hat{y}_i - y_i) x_{i+j-1}",
            "stride_ignored",
        ),
        (
            "a sum with m",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{m} (\hat{y}_i - y_i) x_{i+j-1}",
            "stride_ignored",
        ),
        (
            "expanded",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial w_1} = (\hat{y}_1 - y_1) x_1 + (\hat{y}_2 - y_2) x_2 + "
            r"(\hat{y}_3 - y_3) x_3",
            "stride_ignored",
        ),
        # −2·1 + (−1)·(−1) + 6·2 = 11 (the truth is 14)
        ("a number", "STRIDE2", "", r"\frac{\partial L}{\partial w_1} = 11", "stride_ignored"),
        (
            "a vector",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} 11 \\ 0 \\ 14 \end{bmatrix}",
            "stride_ignored",
        ),
        # the forward pass read with stride 1 too: δ = (−2, 3, −2)
        (
            "a vector, carried",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} -9 \\ 8 \\ -10 "
            r"\end{bmatrix}",
            "stride_ignored",
        ),
        (
            "the input gradient",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial \mathbf{x}} = \begin{bmatrix} -2 \\ -5 \\ 6 \\ 13 \\ -6 "
            r"\\ 0 \\ 0 \end{bmatrix}",
            "stride_ignored",
        ),
        (
            "right",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{3} (\hat{y}_i - y_i) x_{2(i-1)+j}",
            None,
        ),
        (
            "right vector",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} 14 \\ 8 \\ -19 "
            r"\end{bmatrix}",
            None,
        ),
        (
            "one entry off",
            "STRIDE2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} 11 \\ 0 \\ 15 \end{bmatrix}",
            Not("stride_ignored"),
        ),
    ],
    "padding_ignored": [
        # the two outputs without padding, and their gradient
        (
            "a gradient sum",
            "PADDING1",
            "",
            r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{2} (\hat{y}_i - y_i) x_{i+j-1}",
            "padding_ignored",
        ),
        (
            "forward",
            "PADDING1",
            "",
            r"\hat{y}_1 = w_1 x_1 + w_2 x_2 + w_3 x_3 + b",
            "padding_ignored",
        ),
        (
            "the outputs, numbers",
            "PADDING1",
            "",
            r"\hat{\mathbf{y}} = \begin{bmatrix} -2 \\ 10 \end{bmatrix}",
            "padding_ignored",
        ),
        (
            "circular read as zeros",
            "CIRCULAR1",
            "",
            r"\hat{y}_1 = w_2 x_1 + w_3 x_2 + b",
            "padding_ignored",
        ),
        ("right", "PADDING1", "", r"\hat{y}_1 = w_2 x_1 + w_3 x_2 + b = -1 + 4 + 1 = 4", None),
        ("right, circular", "CIRCULAR1", "", r"\hat{y}_1 = w_1 x_4 + w_2 x_1 + w_3 x_2 + b", None),
        (
            "bias forgotten",
            "PADDING1",
            "",
            r"\hat{y}_1 = w_2 x_1 + w_3 x_2",
            Not("padding_ignored"),
        ),
    ],
    "dilation_ignored": [
        # (x₁, x₂), (x₂, x₃), (x₃, x₄): ŷ = (3 + 2 + 1, −1 − 4 + 0, 2 − 0 − 1)
        (
            "the outputs, numbers",
            "DILATION2",
            "",
            r"\hat{\mathbf{y}} = \begin{bmatrix} 6 \\ -5 \\ 1 \end{bmatrix}",
            "dilation_ignored",
        ),
        # δ at adjacent taps: (δ₁w₁, δ₁w₂ + δ₂w₁, δ₂w₂ + δ₃w₁, δ₃w₂, 0)
        (
            "the input gradient",
            "DILATION2",
            "",
            r"\frac{\partial L}{\partial \mathbf{x}} = \begin{bmatrix} -1 \\ 2 \\ -3 \\ 6 \\ 0 "
            r"\end{bmatrix}",
            "dilation_ignored",
        ),
        ("forward", "DILATION2", "", r"\hat{y}_1 = w_1 x_1 + w_2 x_2 + b_1", "dilation_ignored"),
        ("forward, a number", "DILATION2", "", r"\hat{y}_1 = 6", "dilation_ignored"),
        (
            "a sum",
            "DILATION2",
            "",
            r"\frac{\partial L}{\partial w_2} = \sum_{i=1}^{3} (\hat{y}_i - y_i) x_{i+1}",
            "dilation_ignored",
        ),
        (
            "expanded",
            "DILATION2",
            "",
            r"\frac{\partial L}{\partial w_2} = (\hat{y}_1 - y_1) x_2 + (\hat{y}_2 - y_2) x_3 + "
            r"(\hat{y}_3 - y_3) x_4",
            "dilation_ignored",
        ),
        # (−1)·(−1) + 0·2 + (−3)·0 = 1 (the truth is −5)
        (
            "a vector",
            "DILATION2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} -9 \\ 1 \end{bmatrix}",
            "dilation_ignored",
        ),
        (
            "right",
            "DILATION2",
            "",
            r"\frac{\partial L}{\partial w_2} = \sum_{i=1}^{3} (\hat{y}_i - y_i) x_{i+2}",
            None,
        ),
        (
            "another number",
            "DILATION2",
            "",
            r"\frac{\partial L}{\partial w_2} = 2",
            Not("dilation_ignored"),
        ),
    ],
    "missing_factor": [
        (
            "a vector",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{\mathbf{y}}} = 2 (\hat{\mathbf{y}} - \mathbf{y})",
            "missing_factor",
        ),
        (
            "a vector of numbers",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} 88 \\ 144 \\ 200 "
            r"\end{bmatrix}",
            "missing_factor",
        ),
        (
            "the 2 of the square",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{y}_1} = 2 (\hat{y}_1 - y_1)",
            "missing_factor",
        ),
        (
            "the ½ of the loss",
            "exercise2",
            "",
            r"L = \sum_{i=1}^{2} (\hat{y}_i - y_i)^2",
            "missing_factor",
        ),
        ("a number", "exercise2", "", r"L = 400", "missing_factor"),
        (
            "right",
            "exercise2",
            "",
            r"L = \frac{1}{2} \sum_{i=1}^{2} (\hat{y}_i - y_i)^2 = 200",
            None,
        ),
        (
            "three times",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{y}_1} = 3 (\hat{y}_1 - y_1)",
            Not("missing_factor"),
        ),
        # twice ŷ₁ (28): the loss's factors never reach the forward pass
        ("the forward pass", "exercise2", "", r"\hat{y}_1 = 28", Not("missing_factor")),
    ],
    "wrong_index": [
        (
            "one index",
            "exercise2",
            "",
            r"\hat{y}_1 = w_1 x_1 + w_2 x_3 + w_3 x_3 + b_1",
            "wrong_index",
        ),
        (
            "shifted",
            "exercise2",
            "",
            r"\hat{y}_1 = w_1 x_2 + w_2 x_3 + w_3 x_4 + b_1",
            "wrong_index",
        ),
        (
            "a formula",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{2} (\hat{y}_i - y_i) x_{i+j}",
            "wrong_index",
        ),
        (
            "does not exist",
            "exercise2",
            "",
            r"\hat{y}_2 = w_1 x_3 + w_2 x_4 + w_3 x_5 + b_2",
            "wrong_index",
        ),
        ("right", "exercise2", "", r"\hat{y}_i = \sum_{j=1}^{3} w_j x_{i+j-1} + b_i", None),
        (
            "the kernel reversed",
            "exercise2",
            "",
            r"\hat{y}_1 = w_3 x_1 + w_2 x_2 + w_1 x_3 + b_1",
            Not("wrong_index"),
        ),
    ],
    "flipped_kernel": [
        # the outputs of a true convolution: (3 + 2 + 6 + 1, 6 + 3 + 8 + 1)
        (
            "the outputs, numbers",
            "exercise2",
            "",
            r"\hat{\mathbf{y}} = \begin{bmatrix} 12 \\ 18 \end{bmatrix}",
            "flipped_kernel",
        ),
        # a true convolution's ∂L/∂w_j = Σ δ_i x_{i+3−j}: (δ·(x₃, x₄), δ·(x₂, x₃), δ·(x₁, x₂))
        (
            "the weight gradient",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial w_j} = \sum_{i=1}^{2} (\hat{y}_i - y_i) x_{i+3-j}",
            "flipped_kernel",
        ),
        (
            "the weight gradient, numbers",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} 100 \\ 72 \\ 44 "
            r"\end{bmatrix}",
            "flipped_kernel",
        ),
        # with its outputs (12, 18) too: δ = (10, 14)
        (
            "the weight gradient, carried",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \mathbf{w}} = \begin{bmatrix} 86 \\ 62 \\ 38 "
            r"\end{bmatrix}",
            "flipped_kernel",
        ),
        (
            "forward",
            "exercise2",
            "",
            r"\hat{y}_1 = w_3 x_1 + w_2 x_2 + w_1 x_3 + b_1",
            "flipped_kernel",
        ),
        (
            "a sum",
            "exercise2",
            "",
            r"\hat{y}_i = \sum_{j=1}^{3} w_{4-j} x_{i+j-1} + b_i",
            "flipped_kernel",
        ),
        # the index of x runs backwards: the same true convolution
        (
            "a reversed range",
            "exercise2",
            "",
            r"\hat{y}_i = \sum_{j=1}^{3} w_j x_{i+3-j} + b_i",
            "flipped_kernel",
        ),
        # 3·1 + 1·2 + 2·3 + 1 = 12 (the truth is 14)
        (
            "numbers",
            "exercise2",
            "",
            r"\hat{y}_1 = 3 \cdot 1 + 1 \cdot 2 + 2 \cdot 3 + 1",
            "flipped_kernel",
        ),
        (
            "after a right side",
            "exercise2",
            "",
            r"\hat{y}_1 = w_1 x_1 + w_2 x_2 + w_3 x_3 + b_1 = 3 \cdot 1 + 1 \cdot 2 + 2 \cdot 3 + "
            r"1",
            "flipped_kernel",
        ),
        # ∂L/∂x₂ = δ₁w₂ + δ₂w₁: the input gradient meets the kernel reversed
        (
            "input gradient",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial x_2} = (\hat{y}_1 - y_1) w_2 + (\hat{y}_2 - y_2) w_3",
            "flipped_kernel",
        ),
        # (δ₁w₃, δ₁w₂ + δ₂w₃, δ₁w₁ + δ₂w₂, δ₂w₁) = (36, 60, 40, 32)
        (
            "input gradient, numbers",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \mathbf{x}} = \begin{bmatrix} 36 \\ 60 \\ 40 \\ 32 "
            r"\end{bmatrix}",
            "flipped_kernel",
        ),
        (
            "stride 2",
            "STRIDE2",
            "",
            r"\hat{y}_1 = w_3 x_1 + w_2 x_2 + w_1 x_3 + b",
            "flipped_kernel",
        ),
        (
            "right",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial x_2} = (\hat{y}_1 - y_1) w_2 + (\hat{y}_2 - y_2) w_1",
            None,
        ),
        (
            "one weight",
            "exercise2",
            "",
            r"\hat{y}_1 = w_3 x_1 + w_2 x_2 + w_3 x_3 + b_1",
            Not("flipped_kernel"),
        ),
    ],
    "learning_rate": [
        # the rate dropped, or the sign turned, while putting the numbers in
        (
            "dropped with the numbers",
            "exercise2",
            "",
            r"w_1^{(1)} = w_1 - \alpha \frac{\partial L}{\partial w_1} = 2 - 44",
            "learning_rate",
        ),
        (
            "turned with the numbers",
            "exercise2",
            "",
            r"w_1^{(1)} = w_1 - \alpha \frac{\partial L}{\partial w_1} = 2 + 0.01 \cdot 44",
            "learning_rate",
        ),
        (
            "a shared bias",
            "STRIDE2",
            "",
            r"b^{(1)} = b + \eta \sum_{i=1}^{3} (\hat{y}_i - y_i)",
            "learning_rate",
        ),
        (
            "plus",
            "exercise2",
            "",
            r"w^{(1)} = w + \alpha \frac{\partial L}{\partial w}",
            "learning_rate",
        ),
        (
            "plus, one weight",
            "exercise2",
            "",
            r"w_1^{(1)} = w_1 + \alpha \frac{\partial L}{\partial w_1}",
            "learning_rate",
        ),
        (
            "rate missing",
            "exercise2",
            "",
            r"w_1^{(1)} = w_1 - \frac{\partial L}{\partial w_1}",
            "learning_rate",
        ),
        (
            "the bias",
            "exercise2",
            "",
            r"b^{(1)} = b + \alpha \frac{\partial L}{\partial b}",
            "learning_rate",
        ),
        # w + α·∂L/∂w = (2 + 0.44, 1 + 0.72, 3 + 1)
        (
            "plus, numbers",
            "exercise2",
            "",
            r"w^{(1)} = \begin{bmatrix} 2.44 \\ 1.72 \\ 4 \end{bmatrix}",
            "learning_rate",
        ),
        # w − ∂L/∂w = (2 − 44, 1 − 72, 3 − 100)
        (
            "rate missing, numbers",
            "exercise2",
            "",
            r"w^{(1)} = \begin{bmatrix} -42 \\ -71 \\ -97 \end{bmatrix}",
            "learning_rate",
        ),
        # shared bias: b + η·∂L/∂b = 1 + 0.1·3
        ("shared bias, numbers", "STRIDE2", "", r"b^{(1)} = 1.3", "learning_rate"),
        (
            "right",
            "exercise2",
            "",
            r"w^{(1)} = w - \alpha \frac{\partial L}{\partial w} = \begin{bmatrix} 1.56 \\ 0.28 "
            r"\\ 2 \end{bmatrix}",
            None,
        ),
        (
            "one entry off",
            "exercise2",
            "",
            r"w^{(1)} = \begin{bmatrix} 1.56 \\ 0.28 \\ 2.1 \end{bmatrix}",
            Not("learning_rate"),
        ),
        # a sign error that is no update
        (
            "not an update",
            "exercise2",
            "",
            r"\frac{\partial L}{\partial \hat{y}_1} = \hat{y}_1 + y_1",
            Not("learning_rate"),
        ),
    ],
}

PARAMS = [
    pytest.param(kind, *case, id=f"{kind}-{case[0]}")
    for kind, cases in CASES.items()
    for case in cases
]


def _judged(problem: str, before: str, equation: str) -> dict[str, Any]:
    text = (before + "\n\n" if before else "") + f"$${equation} \\tag{{T}}$$\n"
    result = check_text(text, PROBLEMS[problem], name="case", time_limit=20.0)
    found: list[dict[str, Any]] = [e for e in result["equations"] if e["label"] == "T"]
    assert len(found) == 1, result["equations"]
    return found[0]


@pytest.mark.parametrize(("kind", "name", "problem", "before", "equation", "expected"), PARAMS)
def test_a_kind_is_found_and_a_near_miss_is_not(
    kind: str, name: str, problem: str, before: str, equation: str, expected: Expected
) -> None:
    got = _judged(problem, before, equation)
    seen = (got["verdict"], got["diagnosis_kind"], got["diagnosis"], got["message"])
    if expected is None:
        assert got["verdict"] == "correct", seen
    elif isinstance(expected, Not):
        assert got["verdict"] == "incorrect", seen
        assert got["diagnosis_kind"] != expected.kind, seen
    else:
        assert got["verdict"] == "incorrect", seen
        assert got["diagnosis_kind"] == expected, seen
        assert got["diagnosis"], seen


def test_every_kind_has_cases_both_ways() -> None:
    assert set(CASES) == set(KINDS)
    for kind, cases in CASES.items():
        expectations = [case[-1] for case in cases]
        assert kind in expectations, kind
        assert any(e is None or isinstance(e, Not) for e in expectations), kind


# ---------------------------------------------------------------------------------------
# the catalogue as data


def test_the_catalogue_covers_every_kind_once_named() -> None:
    assert {d.kind for d in CATALOGUE} == set(KINDS)
    names = [d.name for d in CATALOGUE]
    assert len(names) == len(set(names))


def test_the_arithmetic_slip_ends_its_phase() -> None:
    """Once a number follows a right side, nothing after the slip is tried."""
    kinds = [d.kind for d in CATALOGUE]
    slip = max(i for i, d in enumerate(CATALOGUE) if d.kind == "arithmetic_slip")
    assert set(kinds[:slip]) <= {
        "bias_confused",
        "wrong_index",
        "arithmetic_slip",
        "flipped_kernel",
        "missing_parentheses",
        "sign_error",
        "learning_rate",
        "missing_factor",  # the loss's ½ or 2/m dropped while substituting
    }


def test_an_unknown_kind_is_refused() -> None:
    from symconv.check.diagnose.base import Diagnoser

    with pytest.raises(ValueError, match="must be one of"):
        Diagnoser("x", "typo_kind", applies=lambda case: True, tries=lambda case: [])


@dataclass
class _State:
    """The smallest document state a diagnosis needs (the ``State`` protocol)."""

    truth: Truth
    env: dict[str, Value] = field(default_factory=dict)
    established: set[tuple[str, int]] = field(default_factory=set)


def _case(problem: Problem, latex: str, output: int | None = None) -> dict[str, Any]:
    """The keywords of :func:`diagnose` for ``lhs = side`` at step 0."""
    chain = parse_equation(latex)
    lhs, side = chain.children[0], chain.children[2]
    assert isinstance(lhs, Tree) and isinstance(side, Tree)
    state = _State(Truth(problem))
    ctx = Context(truth=state.truth, output=output)
    return {
        "side": side,
        "written": evaluate(side, ctx),
        "expected": evaluate(lhs, Context(truth=state.truth, output=output)),
        "lhs": lhs,
        "state": state,
        "step": 0,
        "bound": {},
        "output": output,
        "previous_ok": False,
        "previous": None,
        "last": True,
        "numeric": False,
    }


def test_diagnose_needs_no_judge() -> None:
    """A plain state object is enough (no DocState, no judge)."""
    found = diagnose(
        **_case(PROBLEMS["exercise2"], r"\hat{y}_1 = w_3 x_1 + w_2 x_2 + w_1 x_3 + b_1", 0)
    )
    assert found is not None and found.kind == "flipped_kernel"
    assert isinstance(found, Diagnosis)


APPLIES = [
    # diagnoser, problem, equation, output index, applies
    (STRIDE, "STRIDE2", r"\hat{y}_2 = 4", 1, True),
    (STRIDE, "exercise2", r"\hat{y}_2 = 4", 1, False),
    (PADDING, "PADDING1", r"\hat{y}_1 = 4", 0, True),
    (PADDING, "STRIDE2", r"\hat{y}_1 = 4", 0, False),
    (DILATION, "DILATION2", r"\hat{y}_1 = 6", 0, True),
    (DILATION, "PADDING1", r"\hat{y}_1 = 6", 0, False),
    (LEARNING_RATE, "exercise2", r"w_1^{(1)} = 2.44", None, True),
    (LEARNING_RATE, "exercise2", r"\hat{y}_1 = 2.44", 0, False),
    (LEARNING_RATE, "exercise2", r"\frac{\partial L}{\partial w_1} = 2.44", None, False),
]


@pytest.mark.parametrize(("diagnoser", "problem", "latex", "output", "applies"), APPLIES)
def test_applies_says_when_a_mistake_can_be_relevant(
    diagnoser: Any, problem: str, latex: str, output: int | None, applies: bool
) -> None:
    case = Case(**_case(PROBLEMS[problem], latex, output), previous_side=None)
    assert diagnoser.applies(case) is applies


def test_latex_of_gives_back_the_side() -> None:
    chain = parse_equation(r"\hat{y}_1 = w_1 x_1 + \frac{1}{2} b")
    side = chain.children[2]
    assert isinstance(side, Tree)
    assert latex_of(side).replace(" ", "") == r"w_{1}x_{1}+\frac{1}{2}b"


@pytest.mark.parametrize("module", ["symconv.check.diagnose", "symconv.check.pretty"])
def test_no_import_of_the_judge_or_the_report(module: str) -> None:
    """The diagnosers and ``pretty`` stand below the judge and the report (no cycle)."""
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('symconv.check.judge', 'symconv.check.report') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pretty_is_reexported_by_the_report() -> None:
    from symconv.check import pretty, report

    assert report.pretty is pretty.pretty
    assert pretty.pretty(r"\frac{\partial L}{\partial w_1}") == "∂L/∂w₁"


@pytest.mark.parametrize(
    ("problem_file", "text"),
    [
        (
            "tests/data/check/corpus/mathematician/n4k3_p1_shared.toml",
            "$$w^{+} = w - \\eta\\, \\nabla_w \\mathcal{L} = (1, -0.9, b1.2)^\\top$$\n",
        ),
        # the output written as 1 ⋆ w + b (3 entries) where ŷ has 4 (mutation-06683)
        (
            "tests/data/check/corpus/blog/n6k3_shared.toml",
            "$$o_1 = 3$$\n\n$$o = 1 \\star w + b$$\n",
        ),
    ],
)
def test_a_side_of_another_shape_gives_no_diagnosis_not_a_checker_failure(
    problem_file: str, text: str
) -> None:
    """Found by `make fuzz` (mutation-02700, mutation-06683): a side whose shape differs
    from the truth's (a 1×3 row for a 3×1 column; 3 entries for 4) made a diagnoser add
    matrices of two shapes; SymPy's ShapeError turned the equation into 'checker failure'.
    The verdict is incorrect and no diagnosis is made."""
    problem = load_problem(problem_file)
    result = check_text(text, problem, name="row", time_limit=20.0)
    result["equations"] = [
        e for e in result["equations"] if "star" in e["latex"] or "eta" in e["latex"]
    ]
    [equation] = result["equations"]
    assert (equation["verdict"], equation.get("reason")) == ("incorrect", None), equation
