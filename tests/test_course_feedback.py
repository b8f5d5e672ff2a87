"""Per-student feedback (`symconv grade`): the HTML page and the PDF of one student.

The pages are built from the checker's real output on the exercise submission and from
hand-made results.  The student's LaTeX is hostile here on purpose: it must never crash
the rendering, never reach the page as markup, and never reach TeX unescaped.  Each
safety assertion is shown able to fail on a deliberately unescaped variant of the page.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from symconv.check.run import check_files, unreadable
from symconv.course import feedback
from symconv.course.feedback import (
    MAX_EQUATIONS,
    feedback_stem,
    points_text,
    render_html,
    render_tex,
    safe_math,
    write_feedback,
)
from symconv.latex.compiler import compile_tex, find_engine
from symconv.problem import load_problem

SUBMISSION = Path("/work/shared/exercise/submission.md")

# the student's LaTeX that must never be obeyed: (name, text, what must not reach the .tex)
HOSTILE = [
    ("script", "<script>alert(1)</script>", None),
    ("input", r"\input{/etc/passwd}", r"\input{/etc/passwd}"),
    ("def", r"\def\x{\x}\x", r"\def\x"),
    ("braces", "{" * 100_000, "{" * 50),
    ("html in text", r"\text{<b>bold</b>} = 1", None),
    ("caret hex", r"x^^5cinput{/etc/passwd}", "^^5c"),
    ("comment and dollar", r"a = b % c $ \end{document}", "% c $"),
    ("write18", r"\immediate\write18{rm -rf /}", r"\write18{"),
    ("catcode", r"\catcode`\%=11 x", r"\catcode`"),
]
# hostile text in the other fields (messages come from the checker, ids from a roster)
HOSTILE_FIELDS = {
    "message": "<img src=x onerror=alert(1)>",
    "diagnosis": "</dd><script>alert(2)</script>",
    "expected": "<iframe src=//evil>",
}
# the elements a feedback page is made of (its own HTML and MathML); anything else is the
# student's markup
PAGE_TAGS = set(
    "html head meta title style body header h1 h2 p strong code section table thead tbody "
    "tfoot tr th td article div span dl dt dd details summary br "
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mover munder "
    "munderover mtable mtr mtd mstyle mpadded mphantom menclose".split()
)

# whitelisted math that is typeset (the checker's notation), and its pieces
SAFE = [
    (r"\hat{y}_1 = w \cdot x + b", (r"\hat{y}_1", r"= w \cdot x + b")),
    (r"L \approx 63.22", ("L", r"\approx 63.22")),
    (r"w^{(1)} = w - \alpha \frac{\partial L}{\partial w}", None),
    (r"\mathcal{L} = \sum_{i=1}^{2} \frac{1}{2} ||y_i - \hat{y}_i||_2^2", None),
    (r"x = \begin{bmatrix} 1 & 2 & 3 & 4 \end{bmatrix}^T", None),
    (r"\left( \hat{\mathbf{y}} - y \right)^{\top} \odot \delta", None),
    (r"\nabla_w L = x \ast \delta", None),
    (r"ŷ₁ = α·x₁ − 3", (r"\hat{y}_{1}", r"= \alpha \cdot x_{1} - 3")),
    (r"\text{loss} = \operatorname{mse}(y, \hat{y})", None),
    (r"\sqrt[3]{x} = \lVert x \rVert", None),
]
# outside the whitelist, or would make TeX fail: shown as source
UNSAFE = [
    r"\input{/etc/passwd}",
    r"\def\x{\x}\x",
    "x^^5c",
    r"a % b",
    r"a $ b",
    r"\#",
    r"x^",
    r"x_1_2",
    r"x^2^3",
    r"x^2'",
    r"\frac{1}",
    r"{a",
    r"a}",
    r"\left( a",
    r"\begin{bmatrix} 1 \end{pmatrix}",
    r"\begin{tabular}{c} x \end{tabular}",
    r"\text{a_b}",
    r"\hat",
    r"{a & b}",
    r"\\[2pt] x",
    r"\newcommand{\x}{y}",
    r"\csname input\endcsname",
    "x" + "\u200b",
    "é",
    "{" * 100_000,
    "(" * 10 + "{" * 41 + "x" + "}" * 41,
    r"v = \begin{bmatrix} " + " & ".join(["7"] * 51) + r" \end{bmatrix}",  # MaxMatrixCols
    r"\begin{gathered} a & b \end{gathered}",
    r"\begin{array}{cc} a & b & c \end{array}",
]
POINTS = [
    ("7/2", "3.5"),
    ("3.5", "3.5"),
    ("3.50", "3.5"),
    ("10/4", "2.5"),
    ("1/3", "1/3"),
    ("0", "0"),
    ("-1/2", "-0.5"),
    ("12", "12"),
    ("n/a", "n/a"),
    ("1/0", "1/0"),
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


def _result(
    equations: list[dict[str, Any]] | None, *, status: str = "graded", **fields: Any
) -> dict[str, Any]:
    check = None if equations is None else {"file": "s.md", "equations": equations}
    result: dict[str, Any] = {
        "student": "s001",
        "variant": "v001",
        "status": status,
        "points": "7/2",
        "max_points": "10",
        "items": [
            {"item": "yhat", "points": "2", "max_points": "2", "why": "all entries correct"},
            {"item": "grad_w", "points": "3/2", "max_points": "8", "why": "notation only"},
        ],
        "check": check,
        "error": None,
    }
    result.update(fields)
    return result


def _equation(latex: str, verdict: str = "unchecked", **fields: Any) -> dict[str, Any]:
    equation = {
        "label": "h",
        "line": 3,
        "verdict": verdict,
        "message": "m",
        "expected": None,
        "diagnosis": None,
        "reason": "unsupported",
        "latex": latex,
        "links": [],
    }
    equation.update(fields)
    return equation


def _articles(page: str) -> list[str]:
    """The equation blocks of a page, in order."""
    return re.findall(r"<article class=\"eq [a-z]+\" id=\"eq-\d+\">.*?</article>", page, re.S)


class _Tags(HTMLParser):
    """Every element and attribute of a page, as a browser's tokenizer reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _assert_safe_html(page: str) -> None:
    """Only the page's own elements; no event handler, link or source; no script."""
    parser = _Tags()
    parser.feed(page)
    parser.close()
    for tag, attributes in parser.tags:
        assert tag in PAGE_TAGS, tag
        for name, value in attributes:
            assert not name.startswith("on"), name
            assert name not in ("href", "src", "srcdoc", "action", "formaction", "style"), name
            assert "javascript:" not in (value or "").lower()
    assert "default-src 'none'" in page  # the CSP forbids scripts even if one slipped in


def _body(tex: str) -> str:
    return tex.split(r"\begin{document}", 1)[1]


def _assert_safe_tex(tex: str, forbidden: str | None) -> None:
    body = _body(tex)
    if forbidden is not None:
        assert forbidden not in body, forbidden
    for command in (r"\input", r"\def", r"\write", r"\catcode", r"\csname", "^^"):
        assert command not in body, command
    assert body.count(r"\end{document}") == 1
    assert re.search(r"(?<!\\)%", body) is None  # no comment starts in the document


@pytest.fixture(scope="module")
def checked() -> dict[str, Any]:
    """The checker's real output on the exercise submission."""
    if not SUBMISSION.is_file():
        pytest.skip("the shared submission is absent")
    return check_files([str(SUBMISSION)], load_problem("exercise2"))[0]


# ---------------------------------------------------------------------------------------
# the real submission


def test_every_equation_of_the_check_appears_with_its_verdict(checked: dict[str, Any]) -> None:
    page = render_html(_result(checked["equations"], check=checked))
    articles = _articles(page)
    assert len(checked["equations"]) >= 25
    assert len(articles) == len(checked["equations"])
    words = {
        "correct": "correct",
        "incorrect": "incorrect",
        "notation": "notation",
        "unchecked": "unchecked",
    }
    for equation, article in zip(checked["equations"], articles):
        label = html.escape(equation["label"])
        assert f"({label})" in article
        verdict = equation["verdict"]
        shown = re.search(r'<span class="verdict ([a-z]+)"[^>]*>([^<]*)</span>', article)
        assert shown is not None, label
        assert shown.group(1) == verdict
        assert words[verdict] in shown.group(2)  # a word, not only a colour
        if equation.get("diagnosis"):
            assert html.escape(equation["diagnosis"]) in article
        if equation.get("expected"):
            assert html.escape(equation["expected"]) in article


def test_the_submission_verdicts_are_the_known_ones(checked: dict[str, Any]) -> None:
    # independent of the checker's code: the exercise's known mistakes (design.md)
    page = render_html(_result(checked["equations"], check=checked))
    for label in ("5a", "7a", "13a"):
        article = next(a for a in _articles(page) if f"({label})" in a)
        assert "✗ incorrect" in article
    five_a = next(a for a in _articles(page) if "(5a)" in a)
    assert "missing parentheses" in five_a
    assert "side 3: wrong" in five_a  # the wrong side is marked on its row


def test_a_normal_equation_is_mathml(checked: dict[str, Any]) -> None:
    page = render_html(_result(checked["equations"], check=checked))
    one_a = next(a for a in _articles(page) if "(1a)" in a)  # \hat{y}_1 = w \cdot x + b
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML">' in one_a
    assert "<msub><mover" in one_a and "<mi>y</mi>" in one_a and "<mn>1</mn>" in one_a
    assert "<mo>=</mo>" in one_a and "<mi>w</mi>" in one_a and "<mo>·</mo>" in one_a
    assert '<code class="src">' in one_a  # the source is there too, folded
    _assert_safe_html(page)


def test_points_and_rubric_items_are_shown(checked: dict[str, Any]) -> None:
    page = render_html(_result(checked["equations"], check=checked))
    assert "Points: <strong>3.5</strong> of 10" in page
    assert "<td class='num'>1.5</td><td class='num'>8</td>" in page
    assert "∂L/∂w <code>grad_w</code>" in page
    counts = ", ".join(f"{n} {verdict}" for verdict, n in checked["summary"].items())
    assert f"Equations: {counts}" in page


# ---------------------------------------------------------------------------------------
# hostile input


@pytest.mark.parametrize(("name", "latex", "forbidden"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_latex_is_never_obeyed(name: str, latex: str, forbidden: str | None) -> None:
    result = _result([_equation(latex, **HOSTILE_FIELDS)], student="<b>eve</b>")
    page = render_html(result)
    _assert_safe_html(page)
    tex, _ = render_tex(result)
    _assert_safe_tex(tex, forbidden)
    assert len(page) < 40_000 and len(tex) < 40_000  # bounded, even for 100 KB of input
    if len(latex) > feedback.MAX_SOURCE_CHARS:
        assert f"{len(latex) - feedback.MAX_SOURCE_CHARS} more characters not shown" in page


@pytest.mark.parametrize(("name", "latex", "forbidden"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_latex_is_shown_as_escaped_source(
    name: str, latex: str, forbidden: str | None
) -> None:
    page = render_html(_result([_equation(latex)]))
    article = _articles(page)[0]
    shown = html.escape(latex[: feedback.MAX_SOURCE_CHARS])
    if safe_math(latex) is None:
        assert f'<code class="src">{shown}' in article
        assert "<math" not in article
    else:  # whitelisted symbols only (e.g. < script >): typeset, and markup-free
        assert "<math" in article
        assert shown in article  # the folded source


def test_the_safety_assertions_catch_an_unescaped_page(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _result([_equation(r"\input{/etc/passwd}", **HOSTILE_FIELDS)])
    monkeypatch.setattr(feedback, "_e", lambda text: text)  # no HTML escaping
    with pytest.raises(AssertionError):
        _assert_safe_html(render_html(result))
    monkeypatch.setattr(feedback, "escape", lambda text: text)  # no TeX escaping
    with pytest.raises(AssertionError):
        _assert_safe_tex(render_tex(result)[0], r"\input{/etc/passwd}")


def test_the_tex_assertion_catches_a_whitelist_that_lets_everything_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def everything(latex: str) -> feedback.SafeMath:
        return feedback.SafeMath(latex, (latex,))

    result = _result([_equation(r"x = \input{/etc/passwd}")])
    _assert_safe_tex(render_tex(result)[0], r"\input{/etc/passwd}")
    monkeypatch.setattr(feedback, "safe_math", everything)
    with pytest.raises(AssertionError):
        _assert_safe_tex(render_tex(result)[0], r"\input{/etc/passwd}")


def test_latex2mathml_markup_is_rebuilt_from_a_whitelist() -> None:
    from latex2mathml.converter import convert

    # latex2mathml itself copies text into its output: the reason for the second layer
    assert "<b>" in convert(r"\text{<b>x</b>}")
    assert "javascript:" in convert(r"\href{javascript:alert(1)}{x}")
    assert feedback._mathml(r"\text{<b>x</b>}") is None
    assert feedback._mathml(r"\href{javascript:alert(1)}{x}") is None
    assert feedback._mathml(r"\unknowncommand x") is None  # left as text by latex2mathml
    assert feedback._mathml(r"\def\x{\x}\x") is None  # it raises: caught
    assert feedback._mathml("x^2") is not None


@pytest.mark.parametrize(("latex", "pieces"), SAFE)
def test_whitelisted_math_is_typeset(latex: str, pieces: tuple[str, ...] | None) -> None:
    math = safe_math(latex)
    assert math is not None
    if pieces is not None:
        assert math.pieces == pieces
    assert feedback._mathml(math.text) is not None


@pytest.mark.parametrize("latex", UNSAFE, ids=range(len(UNSAFE)))
def test_anything_else_is_not(latex: str) -> None:
    assert safe_math(latex) is None


def test_many_equations_are_capped() -> None:
    equations = [_equation(f"x_{{{i}}} = {i}", "correct", label=str(i)) for i in range(500)]
    page = render_html(_result(equations))
    assert len(_articles(page)) == MAX_EQUATIONS
    assert f"{500 - MAX_EQUATIONS} more equations not shown" in page
    tex, lines = render_tex(_result(equations))
    assert len(lines) == MAX_EQUATIONS
    assert f"{500 - MAX_EQUATIONS} more equations not shown" in tex


def test_malformed_results_do_not_crash() -> None:
    odd: list[dict[str, Any]] = [
        {},
        {"student": None, "status": 3, "items": "x", "check": "x"},
        {"student": "s", "items": [None, 1, {"item": None}], "check": {"equations": [None, 2]}},
        _result([{"latex": None, "verdict": None, "links": "x", "line": None}]),
        _result([_equation("a = b = c", "incorrect", links=[{"side": "2"}, {"side": 9}])]),
    ]
    for result in odd:
        _assert_safe_html(render_html(result))
        assert r"\end{document}" in render_tex(result)[0]


# ---------------------------------------------------------------------------------------
# statuses, files


def test_unreadable_missing_and_failed_pages_say_so_and_why() -> None:
    cases = [
        (_result(None, status="missing", points="0"), "No submission was found", None),
        (
            _result(
                None,
                status="unreadable",
                points="0",
                check=unreadable("s.ipynb", "`s.ipynb` is not valid JSON <here>"),
            ),
            "The submission could not be read",
            "is not valid JSON &lt;here&gt;",
        ),
        (
            _result(None, status="failed", points="0", error="worker crashed: <signal 9>"),
            "Grading this submission failed",
            "worker crashed: &lt;signal 9&gt;",
        ),
    ]
    for result, said, why in cases:
        page = render_html(result)
        _assert_safe_html(page)
        assert f"<strong>{result['status']}</strong>: {said}" in page
        if why is not None:
            assert why in page
        assert "Points: <strong>0</strong> of 10" in page
        assert "<h2>Equations</h2>" not in page
        tex, _ = render_tex(result)
        assert r"\MakeUppercase{" + result["status"] + "}" in tex


def test_write_feedback_writes_the_html_atomically(tmp_path: Path) -> None:
    stale = tmp_path / "s001.pdf"
    stale.write_bytes(b"%PDF old")
    written = write_feedback(_result([_equation("a = b", "correct")]), tmp_path, pdf=False)
    assert written == [tmp_path / "s001.html"]
    assert "Feedback for s001" in written[0].read_text("utf-8")
    assert not stale.exists()  # a PDF of an earlier run would contradict the page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s001.html"]  # no temporary left


@pytest.mark.parametrize("student", ["../../etc/passwd", "a/b", "", ".hidden", "x" * 500])
def test_a_hostile_student_id_stays_in_the_folder(tmp_path: Path, student: str) -> None:
    out = tmp_path / "feedback"
    written = write_feedback(_result(None, status="missing", student=student), out, pdf=False)
    assert [p.parent for p in written] == [out]
    assert not written[0].name.startswith(".")
    assert len(written[0].name) < 120
    assert feedback_stem(student) != feedback_stem(student + "/")


@pytest.mark.parametrize(("exact", "shown"), POINTS)
def test_points_are_shown_exactly(exact: str, shown: str) -> None:
    assert points_text(exact) == shown


# ---------------------------------------------------------------------------------------
# PDFs (TeX)


@pytest.mark.slow
@requires_tex
def test_the_pdf_of_the_submission(checked: dict[str, Any], tmp_path: Path) -> None:
    written = write_feedback(_result(checked["equations"], check=checked), tmp_path, pdf=True)
    assert written == [tmp_path / "s001.html", tmp_path / "s001.pdf"]
    text = _pdf_text(written[1])
    assert "Points: 3.5 of 10" in text
    assert re.search(r"total\s+3\.5\s+10", text)
    verdicts = [equation["verdict"] for equation in checked["equations"]]
    assert text.count("INCORRECT") == verdicts.count("incorrect") > 0
    assert text.count("✓ correct") == verdicts.count("correct") > 0
    assert text.count("≈ notation") == verdicts.count("notation") > 0
    for label in ("(1a)", "(5a)", "(7a)", "(13a)", "(15a)"):
        assert label in text
    assert "(line 58)" in text  # an equation without a tag


@pytest.mark.slow
@requires_tex
def test_the_pdf_of_hostile_latex_prints_it(tmp_path: Path) -> None:
    equations = [_equation(latex, **HOSTILE_FIELDS) for _, latex, _ in HOSTILE]
    written = write_feedback(_result(equations), tmp_path, pdf=True)
    text = _pdf_text(written[1])
    assert r"\input{/etc/passwd}" in text  # printed, not read
    assert r"\def\x{\x}\x" in text
    assert r"\immediate\write18{rm -rf /}" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert f"{100_000 - feedback.MAX_SOURCE_CHARS} more characters not shown" in text
    assert "root:" not in text


@pytest.mark.slow
@requires_tex
def test_an_equation_tex_fails_on_is_shown_as_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a whitelist that let TeX errors through (harmless ones): each failing equation is
    # shown as source and the document compiled again; past the retries, all are
    real = feedback.safe_math
    broken = {r"a = \nosuchcommand", r"b = x^", r"c = \frac{1}"}

    def leaky(latex: str) -> feedback.SafeMath | None:
        return feedback.SafeMath(latex, (latex,)) if latex in broken else real(latex)

    monkeypatch.setattr(feedback, "safe_math", leaky)
    one = [
        _equation(r"\hat{y}_1 = 14", "correct", label="1"),
        _equation(r"a = \nosuchcommand", "incorrect", label="2"),
    ]
    text = _pdf_text(write_feedback(_result(one), tmp_path, pdf=True)[1])
    assert r"a = \nosuchcommand" in text  # as source
    assert "ŷ1 = 14" in unicodedata.normalize("NFC", text)  # still typeset
    three = one + [
        _equation(text, "incorrect", label=str(i))
        for i, text in enumerate(sorted(broken - {r"a = \nosuchcommand"}), start=3)
    ]
    text = _pdf_text(write_feedback(_result(three), tmp_path, pdf=True)[1])
    assert r"b = x^" in text and r"c = \frac{1}" in text
    assert r"\hat{y}_1 = 14" in text  # every equation as source


@pytest.mark.slow
@requires_tex
def test_the_pdf_of_a_missing_submission(tmp_path: Path) -> None:
    written = write_feedback(_result(None, status="missing", points="0"), tmp_path, pdf=True)
    text = _pdf_text(written[1])
    assert "MISSING" in text and "No submission was found" in text
    assert "Points: 0 of 10" in text


@pytest.mark.slow
@requires_tex
def test_every_whitelisted_command_compiles() -> None:
    # one document with every command of the whitelist typeset: TeX must accept it without
    # the fallback (compile_tex raises on the first error)
    uses = [rf"x {c} y" for c in sorted(feedback._SYMBOLS | feedback._LARGE_OPERATORS)]
    uses += [rf"{c}( x {c})" for c in sorted(feedback._SIZES)]
    uses += [rf"{c}{{x}}" for c in sorted(feedback._ONE_ARGUMENT)]
    uses += [rf"{c}{{x}}{{y}}" for c in sorted(feedback._TWO_ARGUMENTS)]
    uses += [rf"{c}{{for all i}}" for c in sorted(feedback._TEXT_COMMANDS)]
    uses += [rf"x {c} y" for c in sorted(feedback._CONTROL_SYMBOLS)]
    latex = ["a = " + " + ".join(uses[i : i + 8]) for i in range(0, len(uses), 8)]
    for env in sorted(feedback._ENVIRONMENTS):
        columns = "{cc}" if env == "array" else ""
        cells = r"1 \\ 3" if env == "gathered" else r"1 & 2 \\ 3 & 4"
        latex.append(rf"a = \begin{{{env}}}{columns} {cells} \end{{{env}}}")
    latex.append(r"a = \left\{ \left. \left\lVert x \right\rVert \right| \right\}")
    equations = [_equation(text, "correct", label=str(i)) for i, text in enumerate(latex)]
    assert all(safe_math(text) is not None for text in latex)
    assert len(latex) <= MAX_EQUATIONS
    tex, lines = render_tex(_result(equations))
    assert len(lines) == len(latex)
    pdf, _ = compile_tex(tex, name="whitelist")
    assert pdf.startswith(b"%PDF")
