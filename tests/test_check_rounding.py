"""A numeric side with rounded decimals holds up to the rounding of its literals.

α = 1/3 written 0.333 and carried (``1 − 0.333·8 = −1.664`` for −5/3) is right up to
rounding; a wrong value beyond the propagated bound, a sign error, a crude rounding
(0.33) and exact decimal inputs (0.01, 1.56 in exercise2) must not hide a mistake.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sympy import Rational

from symconv.check.rounding import MESSAGE, genuine
from symconv.check.run import check_text
from symconv.problem import load_problem

DATA = Path(__file__).parent / "data" / "check" / "rounding"


def _check(document: str, problem: str | Path) -> dict[str, dict[str, object]]:
    text = (DATA / document).read_text("utf-8")
    result = check_text(text, load_problem(problem), name=document)
    return {str(e["label"]): e for e in result["equations"]}


def test_carried_rounding_is_correct() -> None:
    found = _check("round.md", DATA / "round.toml")
    assert {label: e["verdict"] for label, e in found.items()} == {
        "5a": "correct",
        "5b": "correct",
        "6a": "correct",
        "6b": "correct",
    }
    assert MESSAGE in str(found["5a"]["message"])
    assert MESSAGE in str(found["5b"]["message"])
    assert MESSAGE not in str(found["6a"]["message"])  # exact: no tolerance needed


# hand-decided: bound = 1.5 · Σ |∂side/∂literal| · ½·10⁻ᵖ
MISTAKES = {
    "R1": "incorrect",  # 1 − 0.333·9 = −1.997 vs −5/3: 0.33 off, bound 0.0068
    "R2": "incorrect",  # 1 + 0.333·8: sign error
    "R3": "incorrect",  # 0 + 0.333·5: sign error
    "R4": "incorrect",  # 0 − 0.333·5.1 = −1.6983: 0.032 off, bound 0.029
    "R5": "incorrect",  # 0.33 has two significant digits: no tolerance
    "R6": "incorrect",  # no decimal literal: exact
    "R7": "incorrect",  # a single literal is a rounding of −5/3 or not (−1.66 is not)
    "S1": "correct",  # −1.667, −3.333: rounded to the places written
    "R8": "incorrect",  # −1.667 + 3.333·2 − 1.667: a sign error
    "S2": "correct",  # 0 − 0.3333·5 = −1.6665: 0.00017 off, bound 0.00375
}


def test_mistakes_stay_incorrect() -> None:
    found = _check("round_mistakes.md", DATA / "round.toml")
    assert {label: e["verdict"] for label, e in found.items()} == MISTAKES
    assert "−1.997" in str(found["R1"]["message"])
    assert MESSAGE in str(found["S2"]["message"])


def test_exact_inputs_open_no_tolerance() -> None:
    found = _check("exact_inputs.md", "exercise2")
    verdicts = {label: e["verdict"] for label, e in found.items()}
    # 9.01 for 9: 1.56, 0.28, 0.88 are exact weights, 0.01 the rate — nothing rounded
    assert verdicts == {"E0": "correct", "E1": "correct", "E2": "incorrect", "E3": "incorrect"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.333", True), ("10.0", True), ("1.56", True), ("0.01", False), ("0.28", False)],
)
def test_genuine_literals(text: str, expected: bool) -> None:
    assert genuine(text, frozenset()) is expected
    assert genuine(text, frozenset({Rational(text)})) is False
