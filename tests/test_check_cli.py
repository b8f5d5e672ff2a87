"""The `symconv check` command: report, JSON, exit statuses, parallel files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from symconv.check.report import file_json, pretty, render_file
from symconv.check.run import check_text
from symconv.cli import main
from symconv.problem import load_problem

DATA = Path(__file__).parent / "data" / "check"


def test_exit_0_when_nothing_is_incorrect(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["check", str(DATA / "shared_correct.md"), "--problem", str(DATA / "shared.toml")]
    )
    assert status == 0
    assert "correct" in capsys.readouterr().out


def test_exit_1_and_json_list_for_several_files_in_parallel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = [str(DATA / "shared_correct.md"), str(DATA / "shared_mistakes.md")]
    status = main(
        ["check", *files, "--problem", str(DATA / "shared.toml"), "--json", "--jobs", "2"]
    )
    assert status == 1
    data = json.loads(capsys.readouterr().out)
    assert [d["file"] for d in data] == files
    assert data[1]["summary"]["incorrect"] == 3


def test_summary_table_for_several_files(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(DATA / "nobias_correct.md"), str(DATA / "nobias_mistakes.md")]
    main(["check", *files, "--problem", str(DATA / "nobias.toml"), "--plain", "--width", "100"])
    out = capsys.readouterr().out
    assert "symconv check" in out and "nobias_mistakes.md" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "does-not-exist.md"],
        ["check", str(DATA / "shared.toml"), "--jobs", "0"],
        ["check", str(DATA / "shared_correct.md"), "--problem", "nope"],
    ],
)
def test_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_binary_file_is_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "x.md"
    binary.write_bytes(b"\xff\xfe\x00$$")
    with pytest.raises(SystemExit):
        main(["check", str(binary)])
    assert "UTF-8" in capsys.readouterr().err


def test_terminal_report_golden_text() -> None:
    text = "$$\\hat{y}_1 = 2 \\cdot 1 + 1 \\cdot 2 + 3 \\cdot 3 + 1 = 15 \\tag{6a}$$\n"
    assert file_json("doc.md", [])["summary"]["incorrect"] == 0
    data = check_text(text, load_problem("exercise2"), name="doc.md")
    out = io.StringIO()
    render_file(Console(file=out, width=100, no_color=True, color_system=None), data)
    assert out.getvalue().splitlines() == [
        "doc.md",
        "  (6a)      ✗ incorrect ŷ₁ = 2 · 1 + 1 · 2 + 3 · 3 + 1 = 15",
        "      side 3 is wrong; written 15, expected 14; at the problem's values the side is 15, "
        "the truth 14",
        "      diagnosis: arithmetic slip in the last step: the side before is right and equals "
        "14, not 15",
        "  0 correct  1 incorrect  0 notation  0 unchecked  ",
    ]


def test_pretty() -> None:
    assert (
        pretty(r"\frac{\partial \mathcal{L}}{\partial \mathbf{w}} = \alpha \cdot x_1")
        == "∂L/∂w = α · x₁"
    )
