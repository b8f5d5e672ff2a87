"""Student-style documents for problems the checker was not built around (``data/check/unseen``).

Each document was written in the style of the exercise submission but for another layer
(stride 2, zero and circular padding, dilation, shared bias, no bias with the mean squared
error, fractional values, learning rates 0.1, 0.05, 1/4 and 1/2) and in the notations
students use.  The expected verdicts were decided by working the math by hand: every
equation of a ``*_correct.md`` document is right; the ``*_mistakes.md`` documents plant
realistic mistakes, each listed here with the catalogued diagnosis it must get.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from symconv.check.document import read_equations, split_equations
from symconv.check.run import check_text
from symconv.problem import load_problem

DATA = Path(__file__).parent / "data" / "check" / "unseen"

# document, problem, number of displayed equations; every one must be correct
CORRECT = [
    ("n5k2_untied_correct.md", "n5k2_untied.toml", 21),
    ("n6k3_stride2_shared_correct.md", "n6k3_stride2_shared.toml", 24),
    ("n4k2_pad1_correct.md", "n4k2_pad1.toml", 17),
    ("n5k3_nobias_mse_correct.md", "n5k3_nobias_mse.toml", 16),
    ("n5k2_dil2_correct.md", "n5k2_dil2.toml", 12),
    ("n4k3_circ_correct.md", "n4k3_circ.toml", 11),
    ("n5k3_untied_correct.md", "n5k3_untied.toml", 27),
    ("n3k2_shared_correct.md", "n3k2_shared.toml", 19),
]

# document, problem, {label: (verdict, diagnosis kind or None)} for EVERY equation
MISTAKES: list[tuple[str, str, dict[str, tuple[str, str | None]]]] = [
    (
        "n6k3_stride2_shared_mistakes.md",
        "n6k3_stride2_shared.toml",
        {
            "F1": ("correct", None),
            "F2": ("incorrect", "stride_ignored"),  # window moved by 1, not by 2
            "B1": ("correct", None),
            "B2": ("incorrect", "bias_confused"),  # shared bias gradient as one term
            "B3": ("incorrect", "stride_ignored"),  # x₃ (the stride-1 window) for x₄
            "N1": ("correct", None),
            "N2": ("correct", None),
            "N3": ("correct", None),
            "N4": ("correct", None),
            "U1": ("incorrect", "learning_rate"),  # w + η∂L/∂w
            "U2": ("correct", None),
            "U3": ("incorrect", "arithmetic_slip"),  # ½(0.25 + 4) written as 2.5
        },
    ),
    (
        "n4k2_pad1_mistakes.md",
        "n4k2_pad1.toml",
        {
            "P1": ("incorrect", "padding_ignored"),
            "P2": ("correct", None),  # x₅ is a padding zero: w₂x₅ adds nothing
            "P3": ("incorrect", "padding_ignored"),  # x_{i+1}: the unpadded index x_{i+j-1}
            "P4": ("correct", None),
            "P5": ("incorrect", "missing_factor"),  # the ½ of the loss forgotten
            "P6": ("incorrect", "arithmetic_slip"),
            "P7": ("correct", None),
        },
    ),
    (
        "n5k3_nobias_mse_mistakes.md",
        "n5k3_nobias_mse.toml",
        {
            "E1": ("incorrect", "bias_confused"),  # a bias the layer does not have
            "E2": ("incorrect", "missing_factor"),  # the 2 of the square dropped
            "E3": ("incorrect", "missing_factor"),  # the mean's 1/3 dropped
            "E4": ("correct", None),
            "E5": ("incorrect", "arithmetic_slip"),
            "E6": ("correct", None),
            "E7": ("correct", None),
        },
    ),
    (
        "n5k2_dil2_mistakes.md",
        "n5k2_dil2.toml",
        {
            "D1": ("incorrect", "dilation_ignored"),
            "D2": ("incorrect", "flipped_kernel"),  # the kernel flipped
            "D3": ("incorrect", "arithmetic_slip"),
            "D4": ("incorrect", "arithmetic_slip"),  # −2 − 0.1·(−5) written −2 − 0.5
        },
    ),
    (
        "n4k3_circ_mistakes.md",
        "n4k3_circ.toml",
        {
            "C1": ("incorrect", "padding_ignored"),  # circular padding read as zeros
            "C2": ("incorrect", "padding_ignored"),
            "C3": ("incorrect", "sign_error"),  # ŷ₄ − y₄ = −1 written +1
            "C4": ("incorrect", "learning_rate"),  # b + α∂L/∂b
        },
    ),
    (
        "n5k3_untied_mistakes.md",
        "n5k3_untied.toml",
        {
            "line 5": ("correct", None),  # X = the window matrix
            "1": ("correct", None),
            "2": ("incorrect", "missing_factor"),  # L without the ½
            "3": ("correct", None),  # X(ŷ − y): this X is symmetric, so it equals Xᵀ(ŷ − y)
            "4": ("incorrect", "bias_confused"),  # an untied bias gradient summed
            "5": ("incorrect", "wrong_label"),  # x_{i+2}: the value of ∂L/∂w₃
            "6": ("incorrect", "learning_rate"),
            "7": ("incorrect", "missing_parentheses"),  # α·ŷ₁ − y₁
            "8": ("correct", None),
            "9": ("incorrect", "wrong_label"),  # ŷ₃ computed with ŷ₂'s window
            "10": ("incorrect", "arithmetic_slip"),
            "11": ("correct", None),
        },
    ),
    (
        "n3k2_shared_mistakes.md",
        "n3k2_shared.toml",
        {
            "W1": ("notation", None),  # b₁ for a shared bias: the value is right
            "W2": ("incorrect", "wrong_label"),  # the value of ∂E/∂w₁
            "W3": ("incorrect", "bias_confused"),
            "W4": ("incorrect", "arithmetic_slip"),
            "W5": ("incorrect", "learning_rate"),
            "W6": ("incorrect", "missing_factor"),  # 2(ŷ₁ − y₁) with the ½ loss
        },
    ),
    (
        "n5k2_untied_notation.md",
        "n5k2_untied.toml",
        {f"t{i}": ("correct", None) for i in range(1, 25) if i != 16}
        | {"t16": ("unchecked", None)},  # X is never defined in this document
    ),
]


def _check(document: str, problem: str) -> dict[str, Any]:
    text = (DATA / document).read_text("utf-8")
    return check_text(text, load_problem(DATA / problem), name=document)


@pytest.mark.parametrize(("document", "problem", "count"), CORRECT)
def test_correct_documents_have_only_correct_equations(
    document: str, problem: str, count: int
) -> None:
    result = _check(document, problem)
    wrong = [
        (e["label"], e["verdict"], e["message"])
        for e in result["equations"]
        if e["verdict"] != "correct"
    ]
    assert wrong == []
    assert len(result["equations"]) == count


@pytest.mark.parametrize(("document", "problem", "expected"), MISTAKES)
def test_planted_mistakes_get_their_verdict_and_diagnosis(
    document: str, problem: str, expected: dict[str, tuple[str, str | None]]
) -> None:
    result = _check(document, problem)
    got = {e["label"]: (e["verdict"], e["diagnosis_kind"]) for e in result["equations"]}
    assert got == expected


def test_every_label_is_read_as_written() -> None:
    """``\\qquad (3.2)``, ``\\quad (1)`` and ``\\text{(eq. 3)}`` are labels, not factors."""
    text = (DATA / "n3k2_shared_correct.md").read_text("utf-8")
    labels = [e.label for e in read_equations(text)]
    assert labels[3:7] == ["eq. 3", "3.2", "3.3", "3.4"]
    circular = (DATA / "n4k3_circ_correct.md").read_text("utf-8")
    assert read_equations(circular)[0].label == "1"
    assert r"\quad" not in read_equations(circular)[0].latex


@pytest.mark.parametrize(
    ("row", "pieces"),
    [
        (r"a = 1, \quad b = 2", ["a = 1", "b = 2"]),
        (r"\hat{y}_i = w_i, \qquad i = 1, 2, 3", [r"\hat{y}_i = w_i"]),
        (r"y = \left( a, \quad b \right)", [r"y = \left( a, \quad b \right)"]),
        (r"y = a \quad \text{since } b", [r"y = a \quad \text{since } b"]),
    ],
)
def test_a_row_splits_into_its_equations(row: str, pieces: list[str]) -> None:
    assert [p.strip() for p in split_equations(row)] == pieces


def test_a_bare_number_in_parentheses_after_a_space_stays_a_factor() -> None:
    """``b (2)`` could be 2b: only a label with a letter and a digit is taken after a space."""
    equations = read_equations("$$\\hat{y}_1 = 14 (1)$$\n\n$$\\hat{y}_2 = 20 (2b)$$\n")
    assert [e.label for e in equations] == [None, "2b"]


def test_loose_writing_on_the_exercise_is_never_marked_wrong() -> None:
    """Two equations joined by ``\\quad``, ``\\text{ and }`` or ``\\Rightarrow``, a label after
    ``\\;``, ``\\checkmark``, a qualifier ``\\text{for } i = 1, 2``; unreadable text is
    unchecked."""
    text = (DATA / "exercise2_loose.md").read_text("utf-8")
    result = check_text(text, load_problem("exercise2"), name="loose")
    got = [(e["label"], e["verdict"]) for e in result["equations"]]
    assert got == [
        ("line 3", "correct"),  # ŷ₁ = 14, \quad ŷ₂ = 20
        ("line 3", "correct"),
        ("line 5", "unchecked"),  # 1{,}56: a decimal comma is not read
        ("1", "correct"),  # 14 \; (1): a label
        ("line 9", "correct"),  # ŷ = (14, 20) \text{ and } L = 200
        ("line 9", "correct"),
        ("line 11", "correct"),
        ("line 13", "unchecked"),  # 14 \text{ (stride 0)}: a remark
        ("line 15", "correct"),
        ("line 17", "correct"),  # … \quad \text{for } i = 1, 2
        ("line 19", "correct"),
        ("line 21", "correct"),  # … \Rightarrow ∂L/∂ŷ₁ = 12
        ("line 21", "correct"),
        ("9a", "correct"),
        ("line 25", "correct"),  # … = 20 \quad \checkmark
    ]
