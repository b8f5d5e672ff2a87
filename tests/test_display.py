"""The worked derivation in the terminal: golden text, the exercise's numbers, 80 columns."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from symconv.derivation import build
from symconv.display import render_derivation
from symconv.problem import load_problem

GOLDEN = Path(__file__).parent / "golden"

# (label as printed, value as printed): the exercise's numbers, computed by hand
EXERCISE_LINES = [
    ("ŷ₁", "14"),
    ("ŷ₂", "20"),
    ("L", "200"),
    ("∂L/∂ŷ₁", "12"),
    ("∂L/∂ŷ₂", "16"),
    ("∂L/∂w₁", "44"),
    ("∂L/∂w₂", "72"),
    ("∂L/∂w₃", "100"),
    ("∂L/∂b₁", "12"),
    ("∂L/∂b₂", "16"),
    ("∂L/∂x₁", "24"),
    ("∂L/∂x₂", "44"),
    ("∂L/∂x₃", "52"),
    ("∂L/∂x₄", "48"),
    ("w₁⁽¹⁾", "1.56"),
    ("w₂⁽¹⁾", "0.28"),
    ("w₃⁽¹⁾", "2"),
    ("b₁⁽¹⁾", "0.88"),
    ("b₂⁽¹⁾", "0.84"),
    ("ŷ₁⁽¹⁾", "9"),
    ("ŷ₂⁽¹⁾", "12.8"),
    ("L⁽¹⁾", "63.22"),
]


def render(problem_name: str = "exercise2", width: int = 80, **overrides: object) -> str:
    console = Console(
        width=width, file=io.StringIO(), color_system=None, legacy_windows=False, emoji=False
    )
    render_derivation(console, build(load_problem(problem_name, overrides)), plain=True)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def final_values(text: str) -> dict[str, str]:
    """Each equation's label mapped to the last '= value' of its chain."""
    values: dict[str, str] = {}
    label = None
    for line in text.splitlines():
        match = re.match(r"\s*(\S+)\s+=\s+(.*)$", line)
        if match and match.group(1) not in ("here",):
            label = match.group(1)
            values[label] = match.group(2)
        elif label and re.match(r"\s+=\s+(.*)$", line):
            values[label] = line.split("=", 1)[1].strip()
    return values


def test_exercise_matches_golden_text() -> None:
    # the golden file was read line by line against the exercise before it was committed
    assert render() == (GOLDEN / "exercise2_80.txt").read_text("utf-8")


@pytest.mark.parametrize(("label", "value"), EXERCISE_LINES)
def test_every_number_of_the_exercise_ends_its_chain(label: str, value: str) -> None:
    assert final_values(render())[label] == value


def test_a_wrong_number_would_be_caught() -> None:
    values = final_values(render())
    assert values["∂L/∂w₁"] != "45"
    wrong = render(**{"values.w": "2,1,4"})  # another kernel gives other numbers
    assert final_values(wrong)["ŷ₁"] != "14"


def test_fits_in_80_columns() -> None:
    strided = {"layer.stride": 2, "layer.padding": 1, "values.b": "1,1", "values.y": "2,4"}
    for overrides in ({}, strided):
        text = render(**overrides)
        # terminal cells, not code points: x̃ is x plus a combining tilde (one cell)
        assert max(cell_len(line) for line in text.splitlines()) <= 80


def test_shared_bias_variant() -> None:
    values = final_values(render(**{"layer.bias": "shared", "values.b": "1"}))
    assert values["∂L/∂b"] == "28"
    assert values["b⁽¹⁾"] == "0.72"


def test_conventions_are_named() -> None:
    text = render()
    assert "cross-correlation" in text
    assert "untied" in text
    assert "outer product" in text
    assert "Output positions are not strides" in text


def test_symbolic_problem_without_values() -> None:
    text = render(None, **{"layer.input_length": 5, "layer.kernel_size": 2})  # type: ignore[arg-type]
    assert "ŷ₁ = w₁·x₁ + w₂·x₂ + b" in text
    assert "none given" in text


def test_large_problem_is_summarised() -> None:
    text = render(None, **{"layer.input_length": 40, "layer.kernel_size": 3})  # type: ignore[arg-type]
    assert "more outputs" in text
    assert len(text.splitlines()) < 200


def test_no_color_means_no_escape_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    from symconv.cli import main

    out = io.StringIO()
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("sys.stdout", out)
    assert main(["demo", "--width", "80"]) == 0
    assert "\x1b[" not in out.getvalue()
    assert "63.22" in out.getvalue()
