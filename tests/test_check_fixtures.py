"""Fixture documents for other problems: correct ones stay correct, planted mistakes are caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from symconv.check.run import check_text
from symconv.problem import load_problem

DATA = Path(__file__).parent / "data" / "check"

# document, problem, {label: (verdict, diagnosis kind)} for the planted mistakes
MISTAKES = [
    (
        "stride2_mistakes.md",
        "stride2.toml",
        {
            "M1": ("incorrect", "stride_ignored"),
            "M2": ("incorrect", "wrong_label"),
            "M3": ("incorrect", "sign_error"),
            "M4": ("incorrect", "bias_confused"),
            "M5": ("incorrect", "arithmetic_slip"),
            "M6": ("incorrect", "missing_parentheses"),
            "M7": ("incorrect", "wrong_index"),
        },
    ),
    (
        "padding_mistakes.md",
        "padding.toml",
        {"Q1": ("incorrect", "padding_ignored"), "Q3": ("incorrect", "bias_confused")},
    ),
    (
        "shared_mistakes.md",
        "shared.toml",
        {
            "T1": ("incorrect", "bias_confused"),
            "T2": ("incorrect", "flipped_kernel"),
            "T3": ("incorrect", "flipped_kernel"),
        },
    ),
    (
        "nobias_mistakes.md",
        "nobias.toml",
        {"A1": ("incorrect", "bias_confused"), "A2": ("incorrect", "arithmetic_slip")},
    ),
    ("square_mistakes.md", "square.toml", {"R1": ("incorrect", "transpose_missing")}),
]
CORRECT = [
    ("stride2_correct.md", "stride2.toml", 15),
    ("padding_correct.md", "padding.toml", 8),
    ("shared_correct.md", "shared.toml", 5),
    ("nobias_correct.md", "nobias.toml", 5),
]


def _check(document: str, problem: str) -> dict[str, dict[str, object]]:
    text = (DATA / document).read_text("utf-8")
    result = check_text(text, load_problem(DATA / problem), name=document)
    return {e["label"]: e for e in result["equations"]}


@pytest.mark.parametrize(("document", "problem", "count"), CORRECT)
def test_correct_documents_are_correct(document: str, problem: str, count: int) -> None:
    equations = _check(document, problem)
    assert len(equations) == count
    for label, equation in equations.items():
        assert equation["verdict"] == "correct", (label, equation["message"])


@pytest.mark.parametrize(("document", "problem", "planted"), MISTAKES)
def test_planted_mistakes_are_caught_and_named(
    document: str, problem: str, planted: dict[str, tuple[str, str]]
) -> None:
    equations = _check(document, problem)
    for label, (verdict, kind) in planted.items():
        assert equations[label]["verdict"] == verdict, (label, equations[label]["message"])
        assert equations[label]["diagnosis_kind"] == kind, (label, equations[label]["diagnosis"])
    # unplanted equations of a mistakes document stay correct
    for label, equation in equations.items():
        if label not in planted:
            assert equation["verdict"] == "correct", (label, equation["message"])


def test_the_same_document_fails_for_another_problem() -> None:
    """A correct stride-2 derivation is wrong for the exercise layer (the truth matters)."""
    equations = _check("stride2_correct.md", "padding.toml")
    assert any(e["verdict"] == "incorrect" for e in equations.values())
