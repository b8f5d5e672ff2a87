"""The grading fields of ``check --json``: which quantity each left side names, at which
step and entry, and the student's own value (exact) — what ``symconv grade`` scores by."""

from __future__ import annotations

from pathlib import Path

import pytest

from symconv.check.run import check_text
from symconv.problem import load_problem

SUBMISSION = Path("/work/shared/exercise/submission.md")  # as test_check_submission reads it


def _fields(text: str) -> list[tuple[object, ...]]:
    data = check_text(text, problem=load_problem("exercise2"), time_limit=5.0)
    return [(e["quantity"], e["step"], e["entry"], e["value"]) for e in data["equations"]]


def test_the_exercise_submission_names_its_quantities() -> None:
    data = check_text(SUBMISSION.read_text(), problem=load_problem("exercise2"), time_limit=5.0)
    by_label = {e["label"]: e for e in data["equations"]}
    # read off the submission by hand: (quantity, step, entry, value)
    expected = {
        "1a": ("yhat", 0, 0, None),
        "2a": ("yhat", 0, 1, None),
        "3": ("loss", 0, None, None),
        "4a": ("grad_yhat", 0, None, None),
        "4b": ("grad_w", 0, None, None),
        "4d": ("grad_b", 0, None, None),
        "5b": ("b_next", 1, None, None),
        "6a": ("yhat", 0, 0, "14"),
        "7a": ("yhat", 0, 0, "20"),  # labelled ŷ₁, computes ŷ₂: the student's value is kept
        "8": ("yhat", 0, None, ["14", "20"]),
        "9a": ("loss", 0, None, "200"),
        "10a": ("grad_yhat", 0, None, ["12", "16"]),
        "10b": ("grad_w", 0, None, ["44", "72", "100"]),
        "10c": ("grad_b", 0, None, ["12", "16"]),
        "11a": ("w_next", 1, None, ["39/25", "7/25", "2"]),
        "11b": ("b_next", 1, None, ["22/25", "21/25"]),
        "13a": ("yhat_next", 1, 0, "64/5"),
        "14": ("yhat_next", 1, None, ["9", "64/5"]),
        "15a": ("loss_next", 1, None, "3161/50"),
    }
    for label, fields in expected.items():
        e = by_label[label]
        assert (e["quantity"], e["step"], e["entry"], e["value"]) == fields, label


@pytest.mark.parametrize(
    ("latex", "fields"),
    [
        (r"\frac{\partial L}{\partial w_3} = 100", ("grad_w", 0, 2, "100")),
        (r"\frac{\partial L}{\partial x_2} = 44", ("grad_x", 0, 1, "44")),
        (r"\nabla_w L = [44, 72, 100]", ("grad_w", 0, None, ["44", "72", "100"])),
        (r"\frac{\partial L}{\partial w_j} = \sum_i \delta_i x_{i+j-1}", ("grad_w", 0, None, None)),
        (r"L = 201", ("loss", 0, None, "201")),  # a wrong value is the student's value
        (r"b_2' = 0.84", ("b_next", 1, 1, "21/25")),
        # a Jacobian entry, a given value, a size: no quantity of the layer
        (r"\frac{\partial \hat{y}_1}{\partial w_2} = 2", (None, None, None, "2")),
        (r"x_3 = 3", (None, None, None, "3")),
    ],
)
def test_notations_name_the_same_quantities(latex: str, fields: tuple[object, ...]) -> None:
    text = "Let $\\delta_i = \\partial L / \\partial \\hat y_i$.\n\n$$" + latex + "$$\n"
    assert _fields(text)[-1] == fields


def test_other_names_for_the_output_are_bound_first() -> None:
    text = (
        "$$o_i = \\sum_j w_j x_{i+j-1} + b_i$$\n\n"
        "$$o_2 = 20$$\n\n"
        "$$dw = [44, 72, 100]$$\n"
    )
    fields = _fields(text)
    assert fields[1] == ("yhat", 0, 1, "20")
    assert fields[2] == ("grad_w", 0, None, ["44", "72", "100"])
