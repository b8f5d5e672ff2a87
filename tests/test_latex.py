"""Tests of the LaTeX report: escaping, printing, layout, the document, and real TeX runs.

The TeX tests compile with the engine on PATH and read the PDF back with ``pdftotext``.
They are skipped only on a developer machine without TeX; in CI (``CI`` set) they run,
and fail if TeX is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import types
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import Rational, symbols

from symconv.cli import main
from symconv.derivation import build
from symconv.errors import SymconvError
from symconv.latex.compiler import TexError, compile_tex, find_engine, first_error, overfull_boxes
from symconv.latex.document import Submission, render_report
from symconv.latex.escape import escape, typeset, written_tex
from symconv.latex.layout import LINE_UNITS, Eq, Link, align, piece, width
from symconv.latex.printer import factor, latex, number
from symconv.latex.report import check_submission, default_verification, write_report
from symconv.latex.results import (
    ExperimentError,
    VerificationError,
    load_experiment,
    validate_checks,
)
from symconv.problem import Problem, load_problem, problem_from_dict
from symconv.worked1d import worked

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "latex"

# ---------------------------------------------------------------------------------------
# cases

# the exercise's truth (design.md) as it must read in the PDF
EXERCISE_NUMBERS = [
    "14", "20", "200", "44", "72", "100", "1.56", "0.28", "0.88", "0.84", "9", "12.8", "63.22",
]  # fmt: skip
SECTIONS = [
    "The problem",
    "The general solution",
    "The derivation with symbols",
    "With the given values",
    "Conventions",
]
# the submission's equation numbers, in order (issue 4's exercise structure)
EXERCISE_TAGS = (
    "1a 1b 2a 2b 3 4a 4b 4c 4d 4e 4f 5a 5b 6a 7a 8 9a 10a 10b 10c 10d 11a 11b 12a 13a 14 15a"
).split()

# other problems compiled in full: (name, settings, numbers that must appear)
PROBLEMS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "stride2",  # n = 12, k = 5, stride 2: long vectors and matrices must fit the page
        dict(
            n=12,
            k=5,
            stride=2,
            bias="untied",
            x=list(range(1, 13)),
            w=[1, -1, 2, "1/3", 0],
            b=[1, 0, 0, 1],
            y=[1, 2, 3, 4],
        ),
        ["0.01"],
    ),
    (
        "shared_mse",
        dict(n=4, k=3, bias="shared", loss="mse", x=[1, 2, 3, 4], w=[2, 1, 3], b=1, y=[2, 4]),
        ["200", "28", "0.72"],  # with m = 2, mse has the same gradients as sse_half
    ),
    (
        "symbolic_circular",
        dict(n=5, k=3, padding=1, padding_mode="circular", bias="none"),
        [],
    ),
]

# hostile titles and what the PDF must show for them (whitespace removed)
HOSTILE_TITLES = [
    (r"\input{/etc/passwd}", r"\input{/etc/passwd}"),
    (r"100% sure # of items_1 {braces} ^ ~ \ $x$ & more", r"100%sure#ofitems_1{braces}^~\$x$&more"),
    (
        r"\def\x{boom}\x \catcode`\%=11 \end{document}",
        r"\def\x{boom}\x\catcode`\%=11\end{document}",
    ),
    ("}{\\}}\\{", "}{\\}}\\{"),
    ("tab\tnew\nline \x00 ŷ ü 日本 – “quotes”", "tabnewlineŷü??–“quotes”"),
]

# ---------------------------------------------------------------------------------------
# helpers


def _have_tex() -> bool:
    return find_engine() is not None and shutil.which("pdftotext") is not None


requires_tex = pytest.mark.skipif(
    not _have_tex() and "CI" not in os.environ,
    reason="no TeX engine or pdftotext (these tests run, and must pass, in CI)",
)


def _pdf_text(pdf: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode("utf-8", "replace")


def _numbers_in(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", text))


def _png(path: Path) -> Path:
    """A valid 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def _results(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads((DATA / "results.json").read_text())
    data.update(changes)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def exercise() -> Problem:
    return load_problem("exercise2")


@pytest.fixture(scope="module")
def exercise_tex(exercise: Problem) -> str:
    return render_report(build(exercise))


# ---------------------------------------------------------------------------------------
# escaping


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\", r"\textbackslash{}"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("%", r"\%"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("^", r"\textasciicircum{}"),
        ("~", r"\textasciitilde{}"),
        ("$", r"\$"),
        ("&", r"\&"),
        ("a\nb", "a b"),
        ("日", "?"),
        ("ü", "ü"),
        (r"\input{/etc/passwd}", r"\textbackslash{}input\{/etc/passwd\}"),
    ],
)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


_COMMAND = re.compile(
    r"\\(?:textbackslash|textasciicircum|textasciitilde|textminus|textperiodcentered|"
    r"texttimes|textasciigrave|dots)\{\}|\\ensuremath\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\\[{}%#_$&]"
    r"|\\text(?:sub|super)script\{[0-9a-zT+\-=()]\}"
    r"|(?<=-)\{\}(?=-)"  # -{}-: two hyphens, not the -- ligature (issue 14)
)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escaped_text_has_no_live_specials(text: str) -> None:
    """After removing the escapes it writes, no character TeX treats specially is left."""
    rest = _COMMAND.sub("", escape(text))
    assert not set(rest) & set("\\{}%#_^~$&"), rest
    assert all(0x20 <= ord(c) < 0x7F or 0xA0 <= ord(c) <= 0xFF for c in rest)


# ---------------------------------------------------------------------------------------
# printing and layout


def test_numbers_are_exact() -> None:
    assert number(Rational(39, 25)) == "1.56"
    assert number(Rational(-1, 3)) == r"-\frac{1}{3}"
    assert number(Rational(1, 2**70)).startswith(r"\frac{1}{")  # too long as a decimal
    assert number(14) == "14"


def test_symbol_names() -> None:
    yhat1, y1, w2, x10 = symbols("yhat1 y1 w2 x10")
    assert latex(yhat1 - y1) == r"\hat{y}_{1} - y_{1}"
    assert latex(w2 * x10) == r"w_{2} \cdot x_{10}"
    assert latex((y1 - yhat1) ** 2 / 2) == r"\frac{1}{2} \left(y_{1} - \hat{y}_{1}\right)^{2}"
    assert latex(yhat1 - y1, {yhat1: 14, y1: -2}) == r"14 - \left(-2\right)"


def test_long_sums_break_inside_the_line() -> None:
    terms = [piece(rf"+ w_{{{j}}} \cdot x_{{{j}}}") for j in range(1, 60)]
    text = align([Eq(r"\hat{y}_{1}", [Link(terms, "1b")])])
    lines = text.splitlines()[1:-1]
    assert len(lines) > 3
    assert all(width(line) <= LINE_UNITS for line in lines)
    assert lines[-1].endswith(r"\tag{1b}") and text.count(r"\tag") == 1


# ---------------------------------------------------------------------------------------
# the document


def test_tags_follow_the_exercise(exercise_tex: str) -> None:
    assert re.findall(r"\\tag\{([^}]*)\}", exercise_tex) == [
        *[f"G{i}" for i in range(1, 9)],
        *EXERCISE_TAGS,
    ]


def test_truth_in_tex(exercise_tex: str) -> None:
    for expected in (
        r"\hat{y}_{1} &= \begin{bmatrix} w_{1} & w_{2} & w_{3} \end{bmatrix}",
        r"w_{1} \cdot x_{1} + w_{2} \cdot x_{2} + w_{3} \cdot x_{3} + b_{1} \tag{1b}",
        r"= 2 \cdot 1 + 1 \cdot 2 + 3 \cdot 3 + 1 = 14 \tag{6a}",
        r"\begin{bmatrix} 44 \\ 72 \\ 100 \end{bmatrix} \tag{10b}",
        r"\begin{bmatrix} 24 \\ 44 \\ 52 \\ 48 \end{bmatrix} \tag{10d}",
        r"\begin{bmatrix} 1.56 \\ 0.28 \\ 2 \end{bmatrix} \tag{11a}",
        r"= 63.22 \tag{15a}",
    ):
        assert expected in exercise_tex


def test_a_wrong_value_would_be_seen(exercise: Problem) -> None:
    """The document shows what the derivation computes: change w and 44 disappears."""
    other = load_problem("exercise2", {"values.w": "2,1,4"})
    tex = render_report(build(other))
    assert r"\begin{bmatrix} 44 \\ 72 \\ 100 \end{bmatrix}" not in tex


def test_shared_bias_sums_the_output_gradients() -> None:
    tex = render_report(build(load_problem("exercise2", {"layer.bias": "shared", "values.b": 1})))
    assert r"= 28 \tag{10c}" in tex and r"= 0.72 \tag{11b}" in tex


# 1-D variants whose windows, bias entries and chain-rule sums differ from the exercise's
MODEL_VARIANTS = {
    "untied": {},
    "shared": {"layer.bias": "shared", "values.b": 1},
    "none": {"layer.bias": "none", "values.b": None},
    "circular": {
        "layer.padding": 1,
        "layer.padding_mode": "circular",
        "values.b": "1,0,-1,2",
        "values.y": "2,4,1,3",
    },
    "stride 2": {"layer.input_length": 5, "layer.stride": 2, "values.x": "1,2,3,4,5"},
}


@pytest.mark.parametrize("changes", MODEL_VARIANTS.values(), ids=list(MODEL_VARIANTS))
def test_report_prints_the_worked_model(changes: dict[str, object]) -> None:
    """The 1-D sections print the model's equations (symconv.worked1d): each gradient's
    numeric chain-rule sum is its terms' values, and every value is the model's."""
    d = build(load_problem("exercise2", changes))
    model = worked(d)
    tex = render_report(d)
    for key in ("grad_w", "grad_x"):
        for eq in model.section(key).equations:
            assert eq.numbers is not None
            sums = " + ".join(" \\cdot ".join(factor(v) for v in term) for term in eq.numbers)
            assert (sums or "0") in tex, (key, eq.index, sums)
    for eq in model.section("forward").equations:
        tag = (eq.index or 0) + model.problem.m + 4  # the numeric part starts at m + 4
        assert f"= {number(eq.value)} \\tag{{{tag}a}}" in tex
    bias_gradient = re.search(r"\\partial (\\mathbf\{b\}|b)\}", tex)
    assert (bias_gradient is not None) == model.has("grad_b")


def test_committed_report_is_current(tmp_path: Path) -> None:
    """reports/exercise2.tex is what `symconv report` (make report) writes today."""
    status = main(["report", "--no-pdf", "-o", str(tmp_path)])
    assert status == 0
    generated = (tmp_path / "exercise2.tex").read_text("utf-8")
    assert generated == (ROOT / "reports" / "exercise2.tex").read_text("utf-8"), (
        "reports/exercise2.tex is stale: run `make report`"
    )


def test_tex_is_deterministic(exercise: Problem) -> None:
    first = render_report(build(exercise), title="A")
    assert first == render_report(build(exercise), title="A")
    assert str(ROOT) not in first and not re.search(r"20\d\d-\d\d-\d\d", first)


# ---------------------------------------------------------------------------------------
# optional sections: experiment, verification, submission


def test_experiment_section(tmp_path: Path, exercise: Problem) -> None:
    _png(tmp_path / "shift_sweep.png")
    experiment = load_experiment(_results(tmp_path))
    assert [p.name for p in experiment.plots] == ["shift_sweep.png"]
    tex = render_report(build(exercise), experiment=experiment, figures=["fig.png"])
    assert "Equivariance experiment" in tex and r"\includegraphics" in tex
    assert r"97.2\,\%" in tex and "conv2" in tex


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"accuracy": {"mlp": {"original": 0.9, "shifted": 0.5}}}, "accuracy.cnn"),
        ({"accuracy": []}, "accuracy"),
        ({"invariance_error": {"cnn": -1}}, "invariance_error.cnn"),
        ({"layer_equivariance": {"cnn": {"rows": [{"delta_mod_4": "x"}]}}}, "delta_mod_4"),
        ({"consistency": {"cnn": {"mean": 3}}}, "consistency.cnn"),
        ({"plots": ["missing.png"]}, "missing.png"),
    ],
)
def test_bad_experiment_is_refused(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ExperimentError, match=re.escape(message)):
        load_experiment(_results(tmp_path, **changes))


def test_bad_experiment_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "results.json"
    bad.write_text('{"accuracy": {"mlp": {"original": 2, "shifted": 0.5}}}')
    (tmp_path / "fake.png").write_text("not a png")
    assert _main_status(["report", "--no-pdf", "-o", str(tmp_path), "--experiment", str(bad)]) == 2
    error = capsys.readouterr().err
    assert "accuracy.mlp.original" in error and "Traceback" not in error
    assert not (tmp_path / "exercise2.tex").exists()  # nothing written on bad input


def test_not_a_png_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plot.png").write_text("\\input{/etc/passwd}")
    with pytest.raises(ExperimentError, match="not a PNG"):
        load_experiment(_results(tmp_path))


CHECKS = [
    {"quantity": "grad_w", "backend": "numpy-float64", "max_abs_err": 0.0, "ok": True},
    {"quantity": "grad_w", "backend": "torch-float32", "max_abs_err": 3.1e-6, "ok": True},
    {"quantity": "grad_x", "backend": "torch-float32", "max_abs_err": 0.5, "ok": False},
]


def test_verification_table(exercise: Problem) -> None:
    tex = render_report(build(exercise), verification=validate_checks(CHECKS))
    # one table per data type, the backends named without it (issue 14), at body size
    assert "Verification" in tex and r"\textbf{float32}" in tex and r"\texttt{torch}" in tex
    assert r"\resizebox" not in tex and r"$\partial \mathcal{L}/\partial \mathbf{w}$ &" in tex
    assert r"3.1 \times 10^{-6}" in tex and r"\bad" in tex and "1 checks fail" in tex


def test_verification_format_is_checked() -> None:
    with pytest.raises(VerificationError, match="max_abs_err"):
        validate_checks([{"quantity": "grad_w", "backend": "numpy", "ok": True}])


def test_crosscheck_is_used_when_present(
    monkeypatch: pytest.MonkeyPatch, exercise: Problem
) -> None:
    fake = types.ModuleType("symconv.crosscheck")
    fake.run_checks = lambda problem: CHECKS  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "symconv.crosscheck", fake)
    assert default_verification(exercise) == CHECKS


def test_submission_verdicts(tmp_path: Path, exercise: Problem) -> None:
    # the real checker on a small document: one right and one wrong equation
    document = tmp_path / "sub_1.md"
    document.write_text("$$\\hat{y}_1 = 14 \\tag{6a}$$\n\n$$\\hat{y}_2 = 21 \\tag{7a}$$\n")
    submission = check_submission(document, exercise)
    assert [(e["label"], e["verdict"]) for e in submission.equations] == [
        ("6a", "correct"),
        ("7a", "incorrect"),
    ]
    tex = render_report(build(exercise), submission=submission)
    assert r"sub\_1.md" in tex
    assert r"\textbf{incorrect}" in tex


def test_submission_must_be_a_file(tmp_path: Path, exercise: Problem) -> None:
    with pytest.raises(SymconvError, match="--submission"):
        check_submission(tmp_path / "missing.md", exercise)


def _main_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


# ---------------------------------------------------------------------------------------
# with a real TeX engine


@requires_tex
def test_exercise_pdf(tmp_path: Path) -> None:
    assert _main_status(["report", "-o", str(tmp_path)]) == 0
    text = _pdf_text(tmp_path / "exercise2.pdf")
    assert set(EXERCISE_NUMBERS) <= _numbers_in(text)
    for title in SECTIONS:
        assert title in text
    for tag in ("(1a)", "(4c)", "(10b)", "(15a)"):
        assert tag in text


@requires_tex
@pytest.mark.parametrize(("name", "settings", "numbers"), PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_problems_compile_and_fit(
    tmp_path: Path,
    make_problem: Callable[..., Problem],
    name: str,
    settings: dict[str, Any],
    numbers: list[str],
) -> None:
    problem = make_problem(**settings)
    d = build(problem)
    pdf, log = compile_tex(render_report(d), name=name)
    assert overfull_boxes(log) == []
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = _pdf_text(tmp_path / "r.pdf")
    for title in SECTIONS[:3] + SECTIONS[4:]:
        assert title in text
    if d.steps:
        assert set(numbers) <= _numbers_in(text)
        assert "With the given values" in text
    else:
        assert "With the given values" not in text


@requires_tex
@pytest.mark.parametrize(("title", "shown"), HOSTILE_TITLES)
def test_hostile_titles_print_literally(tmp_path: Path, title: str, shown: str) -> None:
    status = _main_status(["report", "-o", str(tmp_path), "--title", title, "--name", "t"])
    assert status == 0
    text = _pdf_text(tmp_path / "t.pdf")
    assert "root:" not in text  # /etc/passwd was not read
    assert unicodedata.normalize("NFC", re.sub(r"\s+", "", text)).startswith(shown)


@requires_tex
def test_experiment_pdf(tmp_path: Path) -> None:
    results = tmp_path / "run"
    results.mkdir()
    _png(results / "shift_sweep.png")
    (results / "results.json").write_text((DATA / "results.json").read_text())
    out = tmp_path / "out"
    status = _main_status(["report", "-o", str(out), "--experiment", str(results / "results.json")])
    assert status == 0
    assert (out / "exercise2-plot1.png").exists()
    text = _pdf_text(out / "exercise2.pdf")
    assert "Equivariance experiment" in text and "97.2" in text
    assert "for every shift of the digits" in text  # the caption says what it shows
    # the description is typeset (its arrows as math, issue 14) and its & % { } printed
    assert "Linear(490→10)&100%{x}" in re.sub(r"\s+", "", text)


@requires_tex
def test_tex_error_shows_the_first_error_and_keeps_the_tex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "exercise2.pdf").write_bytes(b"%PDF-stale")

    def broken(*args: Any, **kwargs: Any) -> str:
        return (
            "\\documentclass{article}\n\\begin{document}\nfine\n\\undefinedthing\n\\end{document}\n"
        )

    monkeypatch.setattr("symconv.latex.report.render_report", broken)
    assert _main_status(["report", "-o", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "Undefined control sequence" in error and "l.4 \\undefinedthing" in error
    assert (tmp_path / "exercise2.tex").read_text() == broken()
    assert "Undefined control sequence" in (tmp_path / "exercise2.log").read_text()
    assert not (tmp_path / "exercise2.pdf").exists()  # no PDF that disagrees with the .tex


@requires_tex
def test_tex_runs_sandboxed(tmp_path: Path) -> None:
    """Even TeX code that got through cannot run programs or read files outside."""
    tex = (
        "\\documentclass{article}\\begin{document}\\newread\\r \\openin\\r=/etc/passwd "
        "\\ifeof\\r NOREAD\\else READ\\fi\\end{document}"
    )
    pdf, log = compile_tex(tex, name="sandbox")
    assert "write18 enabled" not in log  # shell escape off, not even restricted
    (tmp_path / "s.pdf").write_bytes(pdf)
    assert "NOREAD" in _pdf_text(tmp_path / "s.pdf")


def test_first_error_of_a_log() -> None:
    log = "This is pdfTeX\n./r.tex:9: Undefined control sequence.\nl.9 \\oops\n\nmore\n"
    assert first_error(log) == "./r.tex:9: Undefined control sequence.\nl.9 \\oops"
    with pytest.raises(TexError):
        raise TexError("failed", first_error(log))


def test_missing_engine_writes_tex_and_says_how_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = write_report(load_problem("exercise2"), tmp_path / "out", name="e", path=str(empty))
    assert result.tex.exists() and result.pdf is None
    assert any("apt-get install" in note for note in result.notes)


def test_missing_engine_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Simulated by PATH without TeX: exit 0 with a hint, or 2 when --pdf was asked for."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    command = [sys.executable, "-m", "symconv", "report", "-o", str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "apt-get install" in done.stderr and (tmp_path / "exercise2.tex").exists()
    done = subprocess.run([*command, "--pdf"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no TeX engine" in done.stderr
    assert not (tmp_path / "exercise2.pdf").exists()


def test_submission_in_report_unavailable_note(tmp_path: Path) -> None:
    result = write_report(
        load_problem("exercise2"),
        tmp_path,
        pdf=False,
        submission=Submission("s.md", note="the checker (symconv check) is not available."),
    )
    assert "Checking a submission" in result.tex.read_text()


# ---------------------------------------------------------------------------------------
# issue 14: the shared model printed, typeset messages, what a submission wrote

# remarks about the exercise's wording: on the exercise only
EXERCISE_REMARKS = [
    "follow the structure of the exercise",
    "(f) is not asked for in the exercise",
    "The exercise's second part",
    "as in the exercise",
    "The exercise's \"stride",
]
# problems that are not the exercise (a changed bias is another problem)
NOT_THE_EXERCISE = [
    ("exercise2", {"layer.bias": "shared", "values.b": 1}),
    ("exercise2", {"values.w": "2,1,4"}),
    ("conv2d_small", {}),
    ("mnist_conv1", {}),
]


def _with_experiment(problem: Problem) -> str:
    experiment = load_experiment(ROOT / "reports" / "equivariance" / "results.json")
    return render_report(build(problem), experiment=experiment, figures=["f.png"] * 4)


def test_exercise_remarks_on_the_exercise(exercise: Problem) -> None:
    tex = _with_experiment(exercise)
    for remark in EXERCISE_REMARKS:
        assert remark in tex, remark


@pytest.mark.parametrize(("name", "changes"), NOT_THE_EXERCISE, ids=lambda v: str(v))
def test_no_exercise_remarks_elsewhere(name: str, changes: dict[str, Any]) -> None:
    tex = _with_experiment(load_problem(name, changes))
    for remark in EXERCISE_REMARKS:
        assert remark not in tex, remark
    # the only "exercise" left is in the title or the experiment's own model descriptions
    body = tex[tex.index("\\maketitle") :]
    assert body.count("exercise") == body.count("(exercise)") == 2


@pytest.mark.parametrize("name", ["exercise2", "conv2d_small", "mnist_conv1"])
def test_conventions_are_the_shared_notes(name: str) -> None:
    """The Conventions section prints symconv.worked.conventions, note by note."""
    from symconv.worked import conventions

    problem = load_problem(name)
    tex = render_report(build(problem))
    section = tex[tex.index("\\section{Conventions}") :]
    items = re.findall(r"\\item \\textbf\{([^}]*)\}", section)
    assert items == [escape(note.title) for note in conventions(problem)]


def test_quantity_symbols_in_the_general_report() -> None:
    tex = render_report(build(load_problem("conv2d_small")), verification=validate_checks(CHECKS))
    assert r"The weight gradient, $1 \times 2 \times 2 \times 2$:" in tex
    assert r"\left(\partial \mathcal{L}/\partial \mathbf{w}\right)_{1,2} = " in tex
    assert r"\texttt{grad\_w}" not in tex and r"\resizebox" not in tex


# messages as the checker writes them, and how they must be typeset
TYPESET = [
    ("written ŷ₂ - y₂, expected 9", r"written $\hat{y}_{2} - y_{2}$, expected $9$"),
    ("the truth 12.8 (= 12.8)", r"the truth $12.8\ (=\nobreak  12.8)$"),
    ("(3×1)·(1×3) is aᵀb", r"$(3\times 1)\cdot (1\times 3)$ is $a^{\top}b$"),
    ("∂L/∂w = 44", r"$\partial \mathcal{L}/\partial w =\nobreak  44$"),
    ("a cross-entropy-like loss", "a cross-entropy-like loss"),
    ("use --bias shared", r"use \texttt{-{}-bias} shared"),
    ("Conv(1→5, k4)", r"Conv($1\to 5$, k4)"),
    ("100% {x} & #", r"$100$\% \{$x$\} \& \#"),
    ("One b for every output; torch.nn.Conv2d's", r"One $b$ for every output; torch.nn.Conv2d's"),
]


@pytest.mark.parametrize(("text", "expected"), TYPESET)
def test_typeset_messages(text: str, expected: str) -> None:
    assert typeset(text) == expected


def test_typeset_sees_a_wrong_minus() -> None:
    """Both minus signs are one math minus; a text hyphen or − would be caught."""
    assert typeset("ŷ₁ − y₁") == typeset("ŷ₁ - y₁") == r"$\hat{y}_{1} - y_{1}$"
    assert "textminus" not in typeset("w₁ − (x₁·(ŷ₁ − y₁))/100")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab xyŷ₁²ᵀ()+-−=·×/,.%&{}\\$_^~#123L∂"))))
def test_typeset_text_has_no_live_specials(text: str) -> None:
    """Outside its formulas nothing TeX treats specially is left; inside them only math."""
    out = typeset(text)
    formulas = re.findall(r"(?<!\\)\$([^$]*)\$", out)
    rest = _COMMAND.sub("", re.sub(r"(?<!\\)\$[^$]*\$|\\texttt\{(?:[^{}]|\{\})*\}", "", out))
    assert not set(rest) & set("\\{}%#_^~$&"), (out, rest)
    for formula in formulas:
        assert re.fullmatch(r"(?:\\[A-Za-z]+ ?|[A-Za-z0-9 {}_^+\-=/<>,.()\[\]\\])*", formula)
        assert formula.count("{") == formula.count("}")


@pytest.mark.parametrize(
    ("source", "as_math"),
    [
        (r"\hat{y}_1 = \begin{bmatrix} 1 \\ 2 \end{bmatrix}", True),
        (r"\frac{\partial \mathcal{L}}{\partial w} = 44", True),
        (r"\input{/etc/passwd}", False),
        (r"x^2^3 = 1", False),  # a TeX error
        (r"a \\ b", False),  # a row break outside a matrix
        (r"\begin{array}{c} 1 \end{array}", False),
        (r"\text{$x$}", False),
        (r"{a = 1", False),
        (r"a = 1 % comment", False),
        ("ŷ = 1", False),  # unicode in math mode stops TeX
        (r"\left( a \right) + \right)", False),
        (r"x = " + " + ".join(["w_1"] * 80), True),  # long, but it may break after each +
        (r"\begin{bmatrix} " + " & ".join(["123456"] * 12) + r" \end{bmatrix}", False),
    ],
)
def test_written_equations_are_set_only_when_safe(source: str, as_math: bool) -> None:
    shown = written_tex(source)
    assert shown.startswith("$") == as_math, shown
    if not as_math:
        assert shown.startswith(r"\texttt{") and "\\input" not in shown


def test_the_last_link_never_stands_alone() -> None:
    """``= 12.8`` of (13a) moves down with the link before it (it stood alone before)."""
    tex = render_report(build(load_problem("exercise2")))
    assert "\n&= 1.56 \\cdot 2 + 0.28 \\cdot 3 + 2 \\cdot 4 + 0.84 = 12.8 \\tag{13a}" in tex


@pytest.mark.parametrize("terms", range(2, 14))
def test_no_value_alone_on_a_line(terms: int) -> None:
    """Whatever the length of the link before it (with 7 and 8 terms the value was left
    alone on its line before issue 14)."""
    middle = [piece(rf"+ w_{{{j}}} \cdot x_{{{j}}}") for j in range(1, terms)]
    first = Link([piece(r"\begin{bmatrix} w_{1} & w_{2} \end{bmatrix}")])
    text = align([Eq(r"\hat{y}_{1}", [first, Link(middle), Link([piece("12.8")], "1a")])])
    assert not re.search(r"^&(?:\\phantom\{=\} \\quad )?= 12\.8", text, re.MULTILINE), text
    assert all(width(line) <= LINE_UNITS for line in text.splitlines()[1:-1])


@requires_tex
def test_a_submission_tex_cannot_set_is_shown_as_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exercise: Problem
) -> None:
    """Should a written equation pass the safety check and still stop TeX, the report is
    built again with the equations as their source (and says so)."""
    document = tmp_path / "s.md"
    document.write_text("$$\\hat{y}_1 = 14 \\tag{6a}$$\n")
    submission = check_submission(document, exercise)
    monkeypatch.setattr("symconv.latex.document.written_tex", lambda source: "$x^2^3$")
    result = write_report(exercise, tmp_path / "out", name="s", pdf=True, submission=submission)
    assert result.error is None and result.pdf is not None
    assert any("LaTeX source" in note for note in result.notes)
    tex = result.tex.read_text()
    assert "x^2^3" not in tex
    assert r"\texttt{\textbackslash{}hat\{y\}\allowbreak{}\_1 =\allowbreak{} 14}" in tex


def test_conv2d_small_golden() -> None:
    """The solution sheet of ``conv2d_small`` (no optional sections) as committed in
    tests/golden/latex_conv2d_small.tex.

    Read line by line when written: the tensor table from symconv.worked.tensors with
    the registry's symbols; each axis's output size with its numbers; the closed form with
    the groups named Γ and, with this layer's sizes, without floors (one group: γ's group
    is 0) and with the one-valued channel indices put in (w_{1,κ,…}, ğ_{1,c,…}); every
    quantity of shown() in words ("The weight gradient, 1 × 2 × 2 × 2") with labelled
    matrices; the convention notes of symconv.worked.conventions (no word about the
    exercise), their unicode math set as math; the closed form in one dgroup (aligned on
    "=").  After an intended change, rewrite it with
    ``render_report(build(load_problem("conv2d_small")))`` and read the diff.
    """
    golden = (Path(__file__).parent / "golden" / "latex_conv2d_small.tex").read_text("utf-8")
    tex = render_report(build(load_problem("conv2d_small")))
    assert tex == golden


@pytest.mark.parametrize("bias", ["untied", "shared", "none"])
def test_the_problem_section_says_what_this_layer_has(bias: str) -> None:
    """The task asks for the bias gradient only when there is a bias, and the Bias row is
    the shared model's words (symconv.worked.bias_words), e.g. untied: (b_1, ..., b_2)."""
    problem = problem_from_dict(
        {
            "title": "variant",
            "layer": {"input_length": 4, "kernel_size": 3, "bias": bias},
            "loss": {"kind": "sse_half"},
            "optimizer": {"learning_rate": "0.01", "steps": 1},
        }
    )
    tex = render_report(build(problem))
    section = tex[tex.index(r"\section{The problem}") : tex.index(r"\section{The general")]
    assert ("the kernel, the bias and the input" in section) == (bias != "none")
    assert "evaluate everything for the given values" not in section  # none given
    row = {
        "untied": r"Bias & untied: one bias per output ($b_1, \dots, b_{2}$) \\",
        "shared": r"Bias & shared: one bias $b$ added to every output \\",
        "none": r"Bias & none \\",
    }[bias]
    assert row in section


def test_the_equation_order_mentions_numbers_only_with_values() -> None:
    symbolic = load_problem(None, {"layer.input_length": 4, "layer.kernel_size": 3})
    assert "then the same with numbers" not in render_report(build(symbolic))
    assert "then the same with numbers" in render_report(build(load_problem("exercise2")))
