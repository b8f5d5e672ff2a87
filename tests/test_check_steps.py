"""Steps read per equation: a recap of step-0 quantities after the updated weights.

Once a document writes the updated weights (``w = [1.56 0.28 2]ᵀ`` for exercise2) it is at
step 1, but an unmarked equation that is wrong there and right at step 0 (a recap of the
gradient ``[44; 72; 100]`` or of the loss 200) is right, read at step 0.  Only a parameter
written with the updated values moves the step: a wrong value that happens to be a
step-1 value does not.  A value of neither step stays incorrect, and an equation with a
step mark (``w^{(1)}``) keeps its meaning.
"""

from __future__ import annotations

from typing import Any

from symconv.check.run import check_text
from symconv.problem import load_problem

W1 = r"$$w = \begin{bmatrix} 1.56 & 0.28 & 2 \end{bmatrix}^T$$"
GRADIENT = r"$$\frac{\partial L}{\partial w} = \begin{bmatrix} 44 \\ 72 \\ 100 \end{bmatrix}$$"


def _check(*equations: str) -> list[dict[str, Any]]:
    text = "\n\n".join(equations) + "\n"
    result = check_text(text, load_problem("exercise2"), name="steps.md")
    found: list[dict[str, Any]] = result["equations"]
    assert len(found) == len(equations)
    return found


def test_recap_of_step_zero_after_the_update() -> None:
    found = _check(W1, GRADIENT, "$$L = 200$$", r"$$\hat{y}_1 = 9$$", r"$$\hat{y}_1 = 14.5$$")
    verdicts = [e["verdict"] for e in found]
    assert verdicts == ["correct", "correct", "correct", "correct", "incorrect"]
    assert "step 1" in found[0]["message"]
    for recap in found[1:3]:
        assert "matches step 0" in recap["message"], recap["message"]
    assert "step 0" not in found[3]["message"]  # ŷ₁ = 9 is the value of step 1
    assert found[4]["expected"] == "9"  # judged at the current step


def test_recap_does_not_move_the_step_back() -> None:
    found = _check(W1, "$$L = 200$$", r"$$\hat{y}_1 = 9$$", r"$$\hat{y}_1 = 14$$")
    assert [e["verdict"] for e in found] == ["correct"] * 4
    assert "step 0" not in found[2]["message"]
    assert "matches step 0" in found[3]["message"]


def test_a_step_one_value_alone_does_not_move_the_step() -> None:
    # no updated weights written: ŷ₁ = 9 is a wrong value (that of step 1)
    found = _check(r"$$\hat{y}_1 = 9$$", r"$$\hat{y}_1 = 14$$", "$$L = 200$$")
    assert [e["verdict"] for e in found] == ["incorrect", "correct", "correct"]
    assert found[0]["expected"] == "14"
    assert "step" not in found[1]["message"] and "step" not in found[2]["message"]


def test_after_the_update_is_computed_a_forward_pass_reads_at_step_one() -> None:
    update = (
        r"$$w^{(1)} = \begin{bmatrix} 2 - 0.01 \cdot 44 \\ 1 - 0.01 \cdot 72 \\ "
        r"3 - 0.01 \cdot 100 \end{bmatrix} = \begin{bmatrix} 1.56 \\ 0.28 \\ 2 \end{bmatrix}$$"
    )
    found = _check(update, r"$$\hat{y}_1 = 9$$", "$$L = 200$$")
    assert [e["verdict"] for e in found] == ["correct"] * 3
    assert "read at step 1" in found[1]["message"]
    assert "step" not in found[2]["message"]  # still at step 0: the loss before the update


def test_a_step_mark_keeps_its_meaning() -> None:
    marked = r"$$w^{(1)} = \begin{bmatrix} 2 & 1 & 3 \end{bmatrix}^T$$"
    found = _check(W1, marked, r"$$w^{(0)} = \begin{bmatrix} 2 & 1 & 3 \end{bmatrix}^T$$")
    assert [e["verdict"] for e in found] == ["correct", "incorrect", "correct"]
    assert "matches step" not in found[2]["message"]


def test_a_wrong_recap_is_still_incorrect() -> None:
    wrong = r"$$\frac{\partial L}{\partial w} = \begin{bmatrix} 44 \\ 72 \\ 101 \end{bmatrix}$$"
    found = _check(W1, wrong, "$$L = 201$$")
    assert [e["verdict"] for e in found] == ["correct", "incorrect", "incorrect"]


def test_a_named_update_is_evidence_even_when_its_numbers_cannot_be_read() -> None:
    # the update is written symbolically and then in a form the checker cannot read: the
    # forward pass after it is still read at step 1, not marked wrong
    found = _check(
        r"$$w^{(1)} = w - \alpha \frac{\partial \mathcal{L}}{\partial \mathbf{w}}$$",
        r"$$w^{(1)} = \text{updated: } 1.56,\ 0.28,\ 2$$",
        r"$$\hat{y}_1 = 1.56 \cdot 1 + 0.28 \cdot 2 + 2 \cdot 3 + 0.88 = 9$$",
    )
    assert [e["verdict"] for e in found] == ["correct", "unchecked", "correct"]
    assert "step 1" in found[2]["message"]
