"""Terminal output as people expect from rich tools (symconv.terminal): the width (``--width``,
a terminal's, none when piped), no trailing spaces, line breaks at break points with a
hanging indent, and tables that never split a cell (experiment, proofs, verify)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from symconv.cli import main
from symconv.terminal import (
    UNWRAPPED,
    StripTrailing,
    fitted_tables,
    make_console,
    resolve_width,
    wrap_formula,
    wrap_words,
)

RESULTS = Path(__file__).parent.parent / "reports" / "equivariance" / "results.json"

# cells of the experiment's and the proofs' tables that a too-narrow table used to split
# or cut short ("92.1% ±" / "0.6", "cnn_cir…", "none (s ∤" / "t)")
WHOLE_CELLS = ["92.1% ± 0.6", "cnn_circular_gap", "89.9% ± 1.1", "6.14e-02 (2.2e-03)"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def split_cells(text: str, cells: list[str]) -> list[str]:
    """The cells of ``cells`` that do not appear whole on one line of ``text``."""
    return [cell for cell in cells if not any(cell in line for line in text.splitlines())]


def wide_lines(text: str, width: int) -> list[str]:
    return [line for line in text.splitlines() if cell_len(line) > width]


# ---------------------------------------------------------------------------------------
# the width


def test_width_is_the_option_then_the_terminal_then_columns_then_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert resolve_width(100, io.StringIO()) == 100
    assert resolve_width(None, _Terminal()) is None  # rich asks the terminal
    assert resolve_width(None, io.StringIO()) == UNWRAPPED  # piped: no wrapping
    monkeypatch.setenv("COLUMNS", "90")
    assert resolve_width(None, io.StringIO()) == 90
    assert resolve_width(70, io.StringIO()) == 70


@pytest.mark.parametrize("command", ["derive", "demo", "verify", "equivariance", "check"])
def test_width_is_public_in_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert re.search(r"--width N\s+wrap the output at N columns", capsys.readouterr().out)


@pytest.mark.parametrize("width", ["5", "10001", "9" * 5000, "-80", "abc"])
def test_a_bad_width_is_a_usage_error(width: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["derive", "--problem", "exercise2", "--width", width])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "`--width` (=" in err and "must be an integer from 20 to 10000" in err
    assert len(err.splitlines()) == 1


# ---------------------------------------------------------------------------------------
# no trailing spaces


def test_strip_trailing_removes_spaces_but_keeps_colour_codes() -> None:
    out = io.StringIO()
    stream = StripTrailing(lambda: out)
    stream.write("a   \nb \x1b[0m\npartial  ")
    stream.flush()
    assert out.getvalue() == "a\nb\x1b[0m\npartial"
    stream.write(" more\n")  # the held-back spaces belonged inside the line
    assert out.getvalue().endswith("partial   more\n")


def test_piped_console_has_no_trailing_spaces_and_does_not_wrap() -> None:
    out = io.StringIO()
    console = make_console(file=out, plain=True)
    table = Table("a", "b", box=None)
    table.add_row("x" * 150, "y" * 10)  # rich pads the header "b" to the column's width
    console.print(table)
    console.print("word " * 60)
    text = out.getvalue()
    assert text and all(line == line.rstrip() for line in text.splitlines())
    assert max(cell_len(line) for line in text.splitlines()) > 150
    # the check fails on a plain console of rich's default, which pads the table
    plain = Console(file=io.StringIO(), width=200)
    plain.print(table)
    padded = plain.file.getvalue()  # type: ignore[attr-defined]
    assert any(line != line.rstrip() for line in padded.splitlines())


# ---------------------------------------------------------------------------------------
# line breaks


FORMULA = (
    "Σ[j₂=1..k₂] Σ[j₁=1..k₁] w[c, κ, j₁, j₂]·x̃[β, 2c + κ − 2, i₁ + j₁ − 1, i₂ + j₂ − 1] + b[c]"
)


def test_formula_breaks_at_top_level_with_a_hanging_indent() -> None:
    lines = wrap_formula(FORMULA, 60)
    assert lines == [
        "Σ[j₂=1..k₂] Σ[j₁=1..k₁]",
        "  w[c, κ, j₁, j₂]·x̃[β, 2c + κ − 2, i₁ + j₁ − 1, i₂ + j₂ − 1]",
        "  + b[c]",
    ]
    assert all(cell_len(line) <= 60 for line in lines)


def _breaks_inside_brackets(lines: list[str]) -> bool:
    depth = 0
    for line in lines[:-1]:
        depth += sum(line.count(c) for c in "([") - sum(line.count(c) for c in ")]")
        if depth:
            return True
    return False


def test_a_break_inside_brackets_is_caught_and_avoided() -> None:
    # rich's own word wrap (what the piped output used to be) breaks inside x̃[…]
    console = Console(width=50, file=io.StringIO(), color_system=None)
    console.print(Text(FORMULA))
    theirs = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert _breaks_inside_brackets(theirs)
    assert not _breaks_inside_brackets(wrap_formula(FORMULA, 60))


def test_formula_lines_never_end_in_an_operator() -> None:
    for width in range(20, 90, 7):
        for line in wrap_formula(FORMULA, width)[:-1]:
            assert not re.search(r" [+−=·]$", line), (width, line)


def test_words_wrap_with_a_hanging_indent() -> None:
    assert wrap_words("Layer  one two three", 12, indent=7) == [
        "Layer  one",
        "       two",
        "       three",
    ]


# ---------------------------------------------------------------------------------------
# tables never split a cell


def _results() -> dict[str, Any]:
    return json.loads(RESULTS.read_text("utf-8"))  # type: ignore[no-any-return]


def _render_results(width: int) -> str:
    from symconv.experiment.command import render_results

    out = io.StringIO()
    render_results(make_console(width=width, file=out, plain=True), _results())
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 120])
def test_experiment_tables_keep_every_cell_whole(width: int) -> None:
    text = _render_results(width)
    assert split_cells(text, WHOLE_CELLS) == []
    assert "…" not in text
    assert wide_lines(text, width) == []
    assert all(line == line.rstrip() for line in text.splitlines())
    # the models' descriptions are listed, whole, under the table
    assert "cnn_circular_gap: circular CNN 16-32-64 + global average pool" in text


def test_experiment_tables_piped_are_one_table_each() -> None:
    out = io.StringIO()
    from symconv.experiment.command import render_results

    render_results(make_console(file=out, plain=True), _results())
    text = out.getvalue()
    header = [line for line in text.splitlines() if "original" in line and "consistency" in line]
    assert len(header) == 1 and "invariance error (roll ×4)" in header[0]


def test_the_split_cell_check_catches_the_old_tables() -> None:
    # a rich table of the same cells at 80 columns, left to wrap as before, splits them
    table = Table(title="old")
    for column in ("model", "original", "shifted", "drop", "consistency", "P(top-1 change)"):
        table.add_column(column)
    table.add_column("invariance error (roll ×4)")
    table.add_row(
        "cnn_circular_gap  circular CNN 16-32-64",
        "92.1% ± 0.6",
        "89.9% ± 1.1",
        "2.6% ± 0.3",
        "94.4% ± 0.6",
        "4.3% ± 0.4",
        "8.36e-08",
    )
    console = Console(width=80, file=io.StringIO(), color_system=None)
    console.print(table)
    old = console.file.getvalue()  # type: ignore[attr-defined]
    assert split_cells(old, ["92.1% ± 0.6", "cnn_circular_gap"]) != []


def test_fitted_tables_split_by_columns_and_repeat_the_first() -> None:
    console = Console(width=40, file=io.StringIO(), color_system=None)
    headers: list[tuple[str, dict[str, Any]]] = [("name", {})] + [
        (f"column {i}", {"justify": "right"}) for i in range(4)
    ]
    rows = [["first row", *(f"{i}.0 ± 0.{i}" for i in range(4))]]
    tables = fitted_tables(console, Table, headers, rows)
    assert len(tables) > 1
    for table in tables:
        console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert text.count("first row") == len(tables)
    assert split_cells(text, [f"{i}.0 ± 0.{i}" for i in range(4)]) == []
    assert wide_lines(text, 40) == []


def test_fitted_tables_wrap_only_a_cell_wider_than_any_table() -> None:
    console = Console(width=40, file=io.StringIO(), color_system=None)
    rows = [["flatten_linear", "no", "-v1*y1 + v1*y4 + v2*y1 - v2*y2 + v3*y2 - v3*y3"]]
    headers: list[tuple[str, dict[str, Any]]] = [
        ("head", {}),
        ("invariant", {}),
        ("difference", {}),
    ]
    (table,) = fitted_tables(console, Table, headers, rows)
    console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert split_cells(text, ["flatten_linear"]) == []  # the short cells stay whole
    assert wide_lines(text, 40) == []


def test_proof_table_keeps_none_s_t_whole(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["equivariance", "--prove", "--width", "80"]) == 0
    text = capsys.readouterr().out
    assert split_cells(text, ["none (s ∤ t)", "yes: exactly 0", "1, 2, 3, 4"]) == []
    assert "…" not in text
    assert wide_lines(text, 80) == []
    assert all(line == line.rstrip() for line in text.splitlines())


def test_verify_table_fits_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--problem", "exercise2", "--width", "80"]) == 0
    text = capsys.readouterr().out
    assert wide_lines(text, 80) == []
    # the quantities' short names come from symconv.notation
    assert re.search(r"backend +ŷ +L +∂ŷ +∂w +∂b +∂x +w' +b' +ŷ' +L'", text)
    assert split_cells(text, ["lambdify-float64", "finite-diff-float64"]) == []
