"""`derive` and `report` on layers beyond the exercise's kind: shapes, closed form, numbers.

The numbers asserted here are worked by hand for `conv2d_small` (x, w, b in
symconv/problems/conv2d_small.toml):

    ŷ[1, 1, 1, 1] = Σ_κ Σ_j w·x + b = (1·1 + 2·0 + 0·0 − 1·1) + (2·0 + 0·1 + 1·1 + 1·2) + 1 = 4
    ŷ[1, 1, 1, 2] = (1·0 + 2·2 + 0·1 − 1·1) + (2·1 + 0·0 + 1·2 + 1·1) + 1 = 9

and the input gradient of a stride-1 unpadded layer reads ğ[…, t − j] (p + t − d(j − 1) − 1
with p = 0, d = 1).
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from symconv.cli import main
from symconv.derivation import build
from symconv.display import render_derivation
from symconv.latex.compiler import compile_tex, find_engine, overfull_boxes
from symconv.latex.document import render_report
from symconv.problem import load_problem


def _text(name: str, *, form: str = "both", width: int = 200) -> str:
    console = Console(width=width, file=io.StringIO(), no_color=True, color_system=None)
    render_derivation(console, build(load_problem(name), form=form), plain=True)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return str(output)


def test_derive_summarises_a_2d_layer() -> None:
    text = _text("conv2d_small")
    assert "Layer  2-D, input 4×4, 2→1 channels, kernel 2×2, bias shared" in text
    assert "Tensors x  1×2×4×4  example, input channel, positions" in text
    assert "ŷ  1×1×3×3  example, output channel, positions" in text
    assert "ŷ[1, 1] = ⎡4  9 6⎤" in text  # by hand, see the module docstring
    # the closed form's input gradient with this layer's sizes put in: one example
    # (β = 1), one output channel (c = 1) and one group (the kernel's channel is γ)
    assert "w[1, γ, j₁, j₂]·ğ[1, 1, t₁ − j₁, t₂ − j₂]" in text
    assert "Closed form (derived by SymPy from the forward pass)" in text


def test_derive_of_mnist_layers_is_a_summary_not_a_page_per_entry() -> None:
    text = _text("mnist_conv1", width=100)
    assert "batch 2" in text
    assert "2×5×14×14 = 1960 entries, too many to show" in text  # a summary, not 1960 rows
    # the 4×4 kernels, their gradients and the updated weights are matrices (5 blocks each)
    assert len(text.splitlines()) < 200


def test_upstream_gradient_1d_is_summarised() -> None:
    problem = load_problem(
        "exercise2", {"loss.kind": "upstream", "values.y": None, "values.grad_yhat": "1,-2"}
    )
    console = Console(width=120, file=io.StringIO(), no_color=True, color_system=None)
    render_derivation(console, build(problem), plain=True)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    # ∂L/∂w_j = Σ_i g_i·x[i + j − 1] = (1·1 − 2·2, 1·2 − 2·3, 1·3 − 2·4) by hand
    assert "∂L/∂w = (−3, −4, −5)" in text
    assert "L =" not in text.split("Numbers")[1]  # no loss without a target


def test_derive_cli_on_a_3d_grouped_layer() -> None:
    status = main(
        ["derive", "--input-shape", "3,3,3", "--k", "2", "--in-channels", "2",
         "--out-channels", "2", "--groups", "2", "--form", "closed", "--plain"]
    )
    assert status == 0


def test_report_tex_of_conv2d_small_has_the_maps_as_matrices() -> None:
    tex = render_report(build(load_problem("conv2d_small")))
    assert r"\left(\hat{\mathbf{y}}\right)_{1,1} = \begin{bmatrix} 4 & 9 & " in tex
    assert r"\section{The general solution}" in tex
    assert r"\begin{dmath*}" in tex


def test_exercise_report_is_not_the_general_one() -> None:
    tex = render_report(build(load_problem("exercise2")))
    assert r"\section{The layer}" not in tex and r"\begin{dmath*}" not in tex
    assert "breqn" not in tex  # the exercise's sheet keeps its preamble
    assert r"\tag{15a}" in tex  # and its numbering


requires_tex = pytest.mark.skipif(
    find_engine() is None and "CI" not in os.environ,
    reason="no TeX engine (these tests run, and must pass, in CI)",
)


@requires_tex
@pytest.mark.parametrize("name", ["conv2d_small", "mnist_conv1", "mnist_conv2"])
def test_general_reports_compile_and_fit_the_page(name: str) -> None:
    tex = render_report(build(load_problem(name)))
    pdf, log = compile_tex(tex, name=name)
    assert pdf.startswith(b"%PDF")
    assert overfull_boxes(log) == []


@requires_tex
def test_report_cli_on_a_2d_problem(tmp_path: Path) -> None:
    status = main(["report", "--problem", "conv2d_small", "-o", str(tmp_path)])
    assert status == 0
    assert (tmp_path / "conv2d_small.pdf").is_file()
    assert shutil.which("pdftotext") is None or (tmp_path / "conv2d_small.tex").is_file()


def test_check_on_a_2d_problem_says_unsupported_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "work.md"
    document.write_text("# my 2-D work\n\n$$\\hat{y}_{1} = 4$$\n", encoding="utf-8")
    status = main(["check", str(document), "--problem", "conv2d_small", "--json"])
    captured = capsys.readouterr()
    assert status == 2  # design.md: nothing could be checked
    assert "nothing could be checked" in captured.err and captured.err.count("\n") == 1
    import json

    (equation,) = json.loads(captured.out)["equations"]
    assert equation["verdict"] == "unchecked" and equation["reason"] == "unsupported"


def test_check_without_equations_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "prose.md"
    document.write_text("Only words here, no displayed math.\n", encoding="utf-8")
    assert main(["check", str(document)]) == 2
    assert "nothing could be checked" in capsys.readouterr().err
