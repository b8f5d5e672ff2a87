"""The PDFs a lecturer hands out, page by page (issue 14, item 5).

The reports of the exercise (with the verdicts on the real submission,
``/work/shared/exercise/submission.md``, where it is found), ``conv2d_small``
and ``mnist_conv1`` are built with the verification section and the equivariance section
from the saved results (``reports/equivariance/results.json`` and its plots), compiled with
the TeX on PATH, and every page is rendered with ``pdftoppm``.  Checked:

- the page count is in the expected range and no page is blank;
- no page has ink in its side margins (a line or table running out of the text block);
- TeX's log has no ``Overfull \\hbox`` or ``Overfull \\vbox`` warning;
- no table is scaled (no ``\\resizebox``/``\\scalebox``, no size switch such as ``\\small``
  in the document body), the tables name quantities by their symbols, not code names,
  and the figures' captions are not their file names.

:func:`test_a_deliberately_overfull_line_is_caught` shows each check fails on a page
that has the fault.  Like tests/test_latex.py, the TeX tests are skipped only on a developer
machine without TeX; in CI (``CI`` set) they run, and fail if TeX is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from symconv.derivation import build
from symconv.latex.compiler import compile_tex, find_engine
from symconv.latex.document import render_report
from symconv.latex.report import check_submission, default_verification
from symconv.latex.results import load_experiment
from symconv.problem import load_problem

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "reports" / "equivariance" / "results.json"
SUBMISSION = Path("/work/shared/exercise/submission.md")

# each report and the range its page count must fall in (a change of layout that adds
# or drops many pages is worth a look)
REPORTS = {"exercise2": (10, 20), "conv2d_small": (6, 13), "mnist_conv1": (6, 14)}
RESOLUTION = 30  # dots per inch of the rendered pages: enough to see ink, fast
CM = RESOLUTION / 2.54
MARGIN_CM = 2.5  # the report's geometry; ink may come this close to the edge, less 0.4 cm
SLACK_CM = 0.4
INK = 160  # a grey level at most this dark is ink (0 black, 255 white)


def _have_tools() -> bool:
    return find_engine() is not None and shutil.which("pdftoppm") is not None


requires_tex = pytest.mark.skipif(
    not _have_tools() and "CI" not in os.environ,
    reason="no TeX engine or pdftoppm (these tests run, and must pass, in CI)",
)


@dataclass(frozen=True)
class Page:
    """A rendered page: grey levels row by row."""

    width: int
    height: int
    pixels: bytes

    def ink(self, left: int, right: int) -> int:
        """The number of ink pixels in the columns ``left`` to ``right - 1``."""
        return sum(
            1
            for row in range(self.height)
            for value in self.pixels[row * self.width + left : row * self.width + right]
            if value <= INK
        )


def _read_pgm(data: bytes) -> Page:
    """A binary PGM (P5) as written by ``pdftoppm -gray``."""
    match = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert match, data[:20]
    width, height = int(match.group(1)), int(match.group(2))
    return Page(width, height, data[match.end() : match.end() + width * height])


def pages(pdf: Path) -> list[Page]:
    """Every page of ``pdf`` rendered in grey at :data:`RESOLUTION`."""
    out = pdf.parent / f"{pdf.stem}-page"
    for old in pdf.parent.glob(f"{pdf.stem}-page*.pgm"):
        old.unlink()  # the pages of an earlier rendering
    subprocess.run(
        ["pdftoppm", "-r", str(RESOLUTION), "-gray", str(pdf), str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    files = sorted(
        pdf.parent.glob(f"{pdf.stem}-page*.pgm"), key=lambda p: int(p.stem.split("-")[-1])
    )
    return [_read_pgm(path.read_bytes()) for path in files]


def margin_ink(page: Page) -> int:
    """Ink in the side margins of a portrait page (a landscape page's side margins hold
    its page number: only portrait pages are checked)."""
    if page.width > page.height:
        return 0
    edge = round((MARGIN_CM - SLACK_CM) * CM)
    return page.ink(0, edge) + page.ink(page.width - edge, page.width)


def blank(page: Page) -> bool:
    """A page with (almost) no ink: a page break gone wrong."""
    return page.ink(0, page.width) < 50


def box_warnings(log: str) -> list[str]:
    r"""The ``Overfull \hbox`` and ``Overfull \vbox`` warnings of a TeX log."""
    return [line for line in log.splitlines() if re.match(r"Overfull \\[hv]box", line)]


def scaled_or_shrunk(tex: str) -> list[str]:
    """Commands in the document body that scale a table or shrink its type."""
    body = tex[tex.index("\\begin{document}") :]
    return re.findall(
        r"\\(?:resizebox|scalebox|adjustbox|tiny|scriptsize|footnotesize|small)\b", body
    )


@dataclass(frozen=True)
class Built:
    tex: str
    log: str
    pdf: Path
    pages: list[Page]


def _build(name: str, folder: Path) -> Built:
    problem = load_problem(name)
    experiment = load_experiment(RESULTS)
    figures = {
        f"{name}-plot{number}.png": plot.read_bytes()
        for number, plot in enumerate(experiment.plots, start=1)
    }
    submission = None
    if name == "exercise2" and SUBMISSION.exists():
        submission = check_submission(SUBMISSION, problem)
    tex = render_report(
        build(problem),
        verification=default_verification(problem),
        experiment=experiment,
        figures=list(figures),
        submission=submission,
    )
    pdf_bytes, log = compile_tex(tex, name=name, files=figures)
    pdf = folder / f"{name}.pdf"
    pdf.write_bytes(pdf_bytes)
    return Built(tex, log, pdf, pages(pdf))


@pytest.fixture(scope="module", params=sorted(REPORTS))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    name = str(request.param)
    return _build(name, tmp_path_factory.mktemp(name))


@requires_tex
def test_every_page_renders_and_has_ink(built: Built) -> None:
    low, high = REPORTS[built.pdf.stem]
    assert low <= len(built.pages) <= high, len(built.pages)
    assert [n for n, page in enumerate(built.pages, start=1) if blank(page)] == []


@requires_tex
def test_nothing_runs_into_the_margins(built: Built) -> None:
    inked = {n: margin_ink(page) for n, page in enumerate(built.pages, start=1)}
    assert {n: ink for n, ink in inked.items() if ink} == {}


@requires_tex
def test_no_overfull_boxes(built: Built) -> None:
    assert box_warnings(built.log) == []


@requires_tex
def test_tables_at_body_size_with_symbols(built: Built) -> None:
    assert scaled_or_shrunk(built.tex) == []
    if built.pdf.stem == "exercise2" and SUBMISSION.exists():
        assert "\\begin{longtable}" in built.tex  # the verdicts split across pages
    for code in ("yhat", "grad_yhat", "w_next", "loss_next"):
        assert f"\\texttt{{{code.replace('_', chr(92) + '_')}}}" not in built.tex
    assert r"$\hat{\mathbf{y}}^{(1)}$ &" in built.tex  # the verification table's symbol
    assert "\\caption{" in built.tex and "\\caption{accuracy}" not in built.tex


_FAULTY = r"""\documentclass[11pt,a4paper]{article}
\usepackage[margin=2.5cm]{geometry}
\begin{document}
A line that is fine.

\noindent\hbox{%s}

\resizebox{\textwidth}{!}{a table}
\end{document}
"""


@requires_tex
def test_a_deliberately_overfull_line_is_caught(tmp_path: Path) -> None:
    """A page with a line far wider than the text: every check above sees it."""
    wide = "an unbreakable line " * 12
    tex = _FAULTY % wide
    pdf_bytes, log = compile_tex(
        tex.replace("\\resizebox{\\textwidth}{!}{a table}", ""), name="bad"
    )
    pdf = tmp_path / "bad.pdf"
    pdf.write_bytes(pdf_bytes)
    assert box_warnings(log) != []
    assert margin_ink(pages(pdf)[0]) > 0
    assert scaled_or_shrunk(tex) == ["\\resizebox"]
    empty, _ = compile_tex(
        "\\documentclass{article}\\begin{document}\\thispagestyle{empty}\\mbox{}\\end{document}",
        name="empty",
    )
    (tmp_path / "empty.pdf").write_bytes(empty)
    assert blank(pages(tmp_path / "empty.pdf")[0])
