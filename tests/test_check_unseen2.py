"""A second set of student-style documents (``data/check/unseen2``), written without
looking at the first set, for seven further layers.

Problems: stride 2 with a shared bias (η = 0.05, two SGD steps), zero padding 1 with an
untied bias and the mean squared error (η = 1/4), dilation 2 without bias (η = 0.1, two
steps), circular padding 1 with a shared bias and the MSE, an untied bias with η = 1/3
(fractions and ``≈``), stride 3 with an untied bias (the exercise's own style), zero
padding 2 with a shared bias and the MSE (η = 1/2).  Notations: ``align`` with ``&=``
rows, ``\\nonumber``, ``\\label``; ``equation`` with ``\\tag``; ``\\[ … \\]``; ``$$`` blocks
with ``aligned`` and inline prose; a window matrix ``\\mathbf{X}`` with ``\\mathbf{X}^\\top
\\boldsymbol{\\delta}``, ``\\mathbf{1}^\\top \\boldsymbol{\\delta}``, ``\\nabla_{\\mathbf{w}}``;
index sums with stride ``x_{2(i-1)+j}``; a user-defined padded vector ``\\tilde{x}``;
``\\times``, negative numbers in parentheses, ``\\leftarrow``, ``w'``, ``w_{\\text{new}}``;
rows broken by hand (``\\\\`` inside ``$$``, ``split``, ``&\\quad +`` rows, ``\\intertext``).

Every number was worked by hand.  Each ``*_correct.md`` document is right throughout;
each ``*_mistakes.md`` document plants realistic mistakes.  The expected verdict of
EVERY equation is listed in order, with the diagnosis kind a planted mistake must get
(``ANY``: the verdict is asserted, the diagnosis is not).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from symconv.check.run import check_text
from symconv.problem import load_problem

DATA = Path(__file__).parent / "data" / "check" / "unseen2"
ANY = "any"
C: tuple[str, None] = ("correct", None)

# document, problem, the number of equations: every one must be correct
CORRECT = [
    ("a_stride2_shared_correct.md", "a_stride2_shared.toml", 24),
    ("b_pad1_untied_mse_correct.md", "b_pad1_untied_mse.toml", 19),
    ("c_dil2_nobias_correct.md", "c_dil2_nobias.toml", 17),
    ("d_circ_shared_mse_correct.md", "d_circ_shared_mse.toml", 15),
    ("e_untied_third_correct.md", "e_untied_third.toml", 16),
    ("g_pad2_shared_mse_correct.md", "g_pad2_shared_mse.toml", 18),
]

# document, problem, [(label, verdict, diagnosis kind | None | ANY)] for every equation
MISTAKES: list[tuple[str, str, list[tuple[str, str, str | None]]]] = [
    (
        "a_stride2_shared_mistakes.md",
        "a_stride2_shared.toml",
        [
            ("1.1", *C),
            ("1.2", "incorrect", "stride_ignored"),  # x₂ x₃ x₄: the window moved by 1
            ("1.3", *C),
            ("1.4", "incorrect", "bias_confused"),  # a vector for the shared bias
            ("1.5", *C),
            ("1.6", "incorrect", ANY),  # w₃ where x₄ meets w₂ (that is ∂L/∂x₅)
            ("1.7", "incorrect", "learning_rate"),  # w + η ∂L/∂w
            ("2.1", *C),
            ("2.2", "incorrect", "missing_parentheses"),  # ½ only on the first square
            ("2.3", "incorrect", "arithmetic_slip"),  # −8 written as 8
            ("2.4", *C),
            ("2.5", *C),
        ],
    ),
    (
        # rows broken by hand: `\\` in `$$`, `split` and `align` rows going on with `&\quad +`,
        # `\intertext`, dL/dw with an italic or upright d, L_{\text{train}}, ⌊…⌋, 1_2ᵀ
        "a_stride2_shared_variants.md",
        "a_stride2_shared.toml",
        [
            ("line 5", *C),
            ("line 7", *C),
            ("line 7", *C),
            ("S1", *C),
            ("S2", *C),
            ("S3", *C),
            ("S4", *C),
            ("S5", "incorrect", "arithmetic_slip"),  # 2 + 32 written as 36
            ("S6", "incorrect", "stride_ignored"),  # x₄ where the stride-2 window has x₅
        ],
    ),
    (
        "b_pad1_untied_mse_mistakes.md",
        "b_pad1_untied_mse.toml",
        [
            ("1", "incorrect", "padding_ignored"),  # ŷ₁ without the leading zero
            ("2", *C),
            ("3", "incorrect", "missing_factor"),  # ½ Σ instead of the mean
            ("4", "incorrect", "missing_factor"),  # 1/m instead of 2/m
            ("5", *C),  # x₄ = 0 is the padding: right
            ("6", "incorrect", ANY),  # x_i where w₁ meets x_{i−1}
            ("7", *C),
            ("8", *C),
            ("9", "incorrect", "arithmetic_slip"),  # 1 − 0.125 written as 0.75
        ],
    ),
    (
        "c_dil2_nobias_mistakes.md",
        "c_dil2_nobias.toml",
        [
            ("D1", "incorrect", "dilation_ignored"),  # x_{i+1} for x_{i+2}
            ("D2", *C),
            ("line 9", *C),  # defines X
            ("line 11", *C),  # defines δ
            ("D3", "notation", None),  # X δ: (3×2)·(3×1), the transpose is missing
            ("D4", *C),  # δᵀX: the gradient as a row
            ("D5", "incorrect", ANY),  # δ₂ w₁ is ∂L/∂x₂; x₄ meets w₂
            ("D6", "incorrect", "wrong_label"),  # named ŷ₁, computes ŷ₂
            ("D7", "incorrect", ANY),  # (−1)² written as −1
            ("D8", "incorrect", ANY),  # −(−7) written as −7
        ],
    ),
    (
        "d_circ_shared_mse_mistakes.md",
        "d_circ_shared_mse.toml",
        [
            ("Q2.1", "incorrect", "padding_ignored"),  # the wrapped x₄ read as 0
            ("Q2.2", *C),
            ("line 9", *C),  # defines the circular X
            ("Q2.3", *C),
            ("Q2.4", "incorrect", "missing_factor"),  # 1/4 instead of 2/4
            ("Q2.5", "incorrect", "bias_confused"),  # one output's term only
            ("Q2.6", *C),
            ("Q2.7", "incorrect", "padding_ignored"),  # the wrapped term is missing
            ("Q2.8", *C),
            ("Q2.9", "incorrect", ANY),  # 0.5 not squared
            ("Q2.10", *C),
        ],
    ),
    (
        "e_untied_third_mistakes.md",
        "e_untied_third.toml",
        [
            ("a", "incorrect", "bias_confused"),  # b₁ in ŷ₂
            ("b", *C),
            ("c", "incorrect", "arithmetic_slip"),  # ½·5 written as 3
            ("d", *C),
            ("e", "incorrect", ANY),  # x_i for x_{i+1} (the value of ∂L/∂w₁)
            ("f", "incorrect", "flipped_kernel"),  # the kernel flipped
            ("g", "incorrect", "bias_confused"),  # a sum for the untied bias
            ("h", "incorrect", "learning_rate"),  # w + α ∂L/∂w
            ("i", *C),  # 1/3 ≈ 0.33
            ("j", "incorrect", ANY),  # −5/3 ≈ −1.6 is not a rounding
        ],
    ),
    (
        "f_stride3_untied_mistakes.md",
        "f_stride3_untied.toml",
        [
            ("1", "notation", None),  # a column times a row
            ("2", *C),
            ("3", *C),
            ("4", "notation", None),  # (2×1)·(2×3)
            ("5", "incorrect", "missing_parentheses"),  # α only on the first term
            ("6", *C),
            ("line 32", *C),  # x = …
            ("line 32", *C),  # w = …
            ("line 32", *C),  # b = …
            ("7", "incorrect", "wrong_label"),  # named ŷ₁, computes ŷ₂
            ("8", *C),
            ("9", *C),
            ("10", "notation", None),  # (2×1)·(2×3) with numbers
            ("11", *C),
            ("12", *C),
            ("13", *C),
            ("14", *C),  # ŷ₂ after the update
            ("15", *C),  # L after the update
        ],
    ),
    (
        "g_pad2_shared_mse_mistakes.md",
        "g_pad2_shared_mse.toml",
        [
            ("4a", "incorrect", ANY),  # w₁ x₁ where the first window ends in x₁ (w₃)
            ("4b", *C),
            ("line 10", *C),  # defines δ = ŷ − y
            ("4c", "incorrect", "missing_factor"),  # 1ᵀ(ŷ − y) without 2/m
            ("4d", "incorrect", "wrong_index"),  # x_{i+2}: the padding is forgotten
            ("4e", *C),  # only the terms where x exists
            ("4f", *C),
            ("line 20", *C),
            ("4g", "incorrect", "arithmetic_slip"),  # 2 written as 1.5
            ("4h", "incorrect", "learning_rate"),  # w + η ∇
            ("4i", *C),
        ],
    ),
]


def _check(document: str, problem: str) -> dict[str, Any]:
    text = (DATA / document).read_text("utf-8")
    return check_text(text, load_problem(str(DATA / problem)), name=document)


@pytest.mark.parametrize(("document", "problem", "count"), CORRECT)
def test_correct_documents_have_no_false_verdict(document: str, problem: str, count: int) -> None:
    result = _check(document, problem)
    wrong = [
        (e["label"], e["verdict"], e["message"])
        for e in result["equations"]
        if e["verdict"] != "correct"
    ]
    assert wrong == []
    assert result["summary"]["correct"] == count


@pytest.mark.parametrize(("document", "problem", "expected"), MISTAKES)
def test_planted_mistakes_are_found_and_named(
    document: str, problem: str, expected: list[tuple[str, str, str | None]]
) -> None:
    result = _check(document, problem)
    got = [(e["label"], e["verdict"]) for e in result["equations"]]
    assert got == [(label, verdict) for label, verdict, _ in expected]
    for equation, (label, _verdict, kind) in zip(result["equations"], expected):
        if kind == ANY:
            continue
        assert equation.get("diagnosis_kind") == kind, (label, equation["diagnosis"])


def test_lines_of_align_rows() -> None:
    """Rows of an ``align`` carry their own line, also when every row starts alike."""
    result = _check("a_stride2_shared_correct.md", "a_stride2_shared.toml")
    lines = [e["line"] for e in result["equations"]]
    assert lines[12:16] == [42, 43, 44, 45]  # four rows that all begin with \frac{\partial
    assert len(set(lines)) == len(lines)


def test_all_documents_are_quick() -> None:
    start = time.perf_counter()
    for document, problem, _ in CORRECT:
        _check(document, problem)
    for document, problem, _ in MISTAKES:
        _check(document, problem)
    assert time.perf_counter() - start < 30
