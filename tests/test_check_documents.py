"""Documents as they come: Markdown, full LaTeX documents, Jupyter notebooks, macros and
inline math (issue 10, item 5).

Every document here was written for this file (no public text used).  Expected values are
written by hand from the documents: the line an equation starts on, the number LaTeX would
print for it (counted by hand, following amsmath: one per unstarred ``equation`` and
``multline``, one per ``align``/``gather``/``eqnarray`` row unless ``\\nonumber``/
``\\notag``, ``\\tag`` instead of a number), the notebook cell it is in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from symconv.check.document import Equation, read_equations
from symconv.check.run import check_text, read_document
from symconv.check.source import MAX_DEPTH, MAX_EXPANSION, Macros, Source, kind_of
from symconv.cli import main
from symconv.errors import CheckInputError
from symconv.problem import load_problem

PROBLEM = load_problem("exercise2")  # design.md: ŷ = (14, 20), L = 200, ∂L/∂w = (44, 72, 100)


def _compact(latex: str) -> str:
    return " ".join(latex.split())


def _rows(equations: list[Equation]) -> list[tuple[str | None, int, str]]:
    return [(e.label, e.line, _compact(e.latex)) for e in equations]


# --- Markdown ------------------------------------------------------------------------------

# line numbers on the right are the ones the tests expect
MARKDOWN = """# Notes

```python
# $$\\hat{y}_1 = 1$$
```

~~~
$$\\hat{y}_1 = 2$$
~~~

    $$\\hat{y}_1 = 3$$

1. Forward pass:

    $$\\hat{y}_1 = 14$$

   - nested item

        $$\\hat{y}_2 = 20$$

<!-- $$\\hat{y}_1 = 4$$
and $$\\hat{y}_2 = 5$$ -->
Write `$$\\hat{y}_1 = 6$$` for display math, or ``$x = 7$``.

$$
\\begin{aligned}
    L &= 200 \\\\

    \\frac{\\partial L}{\\partial w_1} &= 44 \\label{g1}
\\end{aligned}
$$
"""
MARKDOWN_EXPECTED = [
    (None, 15, r"\hat{y}_1 = 14"),  # inside a list item: not an indented code block
    (None, 19, r"\hat{y}_2 = 20"),  # inside a nested list item
    (None, 27, "L = 200"),
    ("g1", 29, r"\frac{\partial L}{\partial w_1} = 44"),  # indented, inside display math
]


def test_markdown_code_and_comments_are_not_math() -> None:
    equations = read_equations(MARKDOWN)
    assert _rows(equations) == MARKDOWN_EXPECTED
    assert [e.heading for e in equations][:1] == ["1. Forward pass:"]
    assert equations[-1].ref == "g1" and equations[-1].cell is None


@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("Open a comment with `<!--`.\n\n$$a = 1$$\n", ["a = 1"]),  # code first: no comment
        ("<!-- a ` -->\n$$a = 1$$ and `$$b = 2$$`\n", ["a = 1"]),  # a comment first
        ("A lone ` backtick.\n\n$$a = 1$$ then ` again\n", ["a = 1"]),  # paragraphs apart
        ("```` a ``` b ````\n$$a = 1$$\n", ["a = 1"]),  # runs of equal length pair up
        ("<!-- never closed\n$$a = 1$$\n", []),  # hidden to the end, as a renderer hides it
    ],
)
def test_code_spans_and_comments_whichever_opens_first(text: str, latex: list[str]) -> None:
    assert [e.latex for e in read_equations(text)] == latex


def test_markdown_label_and_tag_conventions_are_kept() -> None:
    """In Markdown, \\label{5a} is a label as \\tag{5a} is (the earlier convention); the
    \\label name is the ref too."""
    text = "$$\\hat{y}_1 = 14 \\label{5a}$$\n\n$$\\hat{y}_2 = 20 \\tag{5b} \\label{eq:b}$$\n"
    equations = read_equations(text)
    assert [(e.label, e.ref, e.line) for e in equations] == [
        ("5a", "5a", 1),
        ("5b", "eq:b", 3),
    ]
    assert [e.name for e in equations] == ["5a", "5b"]


def test_an_unclosed_fence_hides_the_rest_and_an_unclosed_block_not_the_others() -> None:
    assert read_equations("$$a = 1$$\n```\n$$b = 2$$\n") == read_equations("$$a = 1$$\n")
    # an unclosed \[ no longer ends the reading: the $$ block after it is read
    assert _rows(read_equations("\\[ a = 1\n\n$$b = 2$$\n")) == [(None, 3, "b = 2")]


# --- LaTeX documents -----------------------------------------------------------------------

LATEX = r"""\documentclass[11pt]{article}
\usepackage{amsmath}
\newcommand{\yh}{\hat{y}}
\newcommand{\pd}[2]{\frac{\partial #1}{\partial #2}}
\newcommand{\w}[1][j]{w_{#1}}
\providecommand{\yh}{\mathrm{NOT}}
\def\L{\mathcal{L}}
\def\g#1{\nabla_{#1} \L}
\DeclareMathOperator{\rot}{rot}
% \renewcommand{\yh}{\mathrm{COMMENTED}}
\begin{equation} z = 0 \end{equation} % a preamble is not read
\begin{document}
\section{Forward pass}
The output costs 50\% less. % a comment: $$q = 1$$
\begin{equation}
  \yh_1 = 14 \label{eq:y1}
\end{equation}
\begin{equation*}
  \yh_2 = 20
\end{equation*}
\begin{align}
  \L &= 200 \label{eq:loss} \\
  \pd{\L}{\w} &= 44 \nonumber \\
  \pd{\L}{\w[2]} &= 72 \tag{G2} \\
  \g{b} &= 12
\end{align}
\begin{verbatim}
\begin{equation} v = 1 \end{equation}
\end{verbatim}
\begin{gather}
  \rot(w) = 3 \\
  y_1 = 2 \notag
\end{gather}
\begin{multline}
  L = \tfrac{1}{2}(14 - 2)^2 \\
  + \tfrac{1}{2}(20 - 4)^2
\end{multline}
\[ b_1 = 1 \]
$$ b_2 = 1 $$
\begin{displaymath} x_1 = 1 \end{displaymath}
\begin{eqnarray}
  w_1' &=& 1.56 \\
  w_2' &=& 0.28
\end{eqnarray}
\begin{align*}
  a &= 1 \\
  c &= 2 \tag{A}
\end{align*}
\begin{gather*} d = 4 \end{gather*}
\begin{multline*} e = 5 \end{multline*}
\end{document}
\begin{equation} after = 1 \end{equation}
"""
LATEX_EXPECTED = [
    ("1", 15, r"\hat{y}_1 = 14"),
    (None, 18, r"\hat{y}_2 = 20"),
    ("2", 22, r"\mathcal{L} = 200"),
    (None, 23, r"\frac{\partial \mathcal{L}}{\partial w_{j}} = 44 \nonumber"),
    ("G2", 24, r"\frac{\partial \mathcal{L}}{\partial w_{2}} = 72"),
    ("3", 25, r"\nabla_{b} \mathcal{L} = 12"),
    ("4", 31, r"\operatorname{rot}(w) = 3"),
    (None, 32, r"y_1 = 2 \notag"),
    ("5", 34, r"L = \tfrac{1}{2}(14 - 2)^2 + \tfrac{1}{2}(20 - 4)^2"),
    (None, 38, "b_1 = 1"),
    (None, 39, "b_2 = 1"),
    (None, 40, "x_1 = 1"),
    ("6", 42, "w_1' = 1.56"),
    ("7", 43, "w_2' = 0.28"),
    (None, 46, "a = 1"),
    ("A", 47, "c = 2"),
    (None, 49, "d = 4"),
    (None, 50, "e = 5"),
]


def test_a_latex_document_body_environments_numbers_and_macros() -> None:
    equations = read_equations(LATEX, kind="latex")
    assert _rows(equations) == LATEX_EXPECTED
    refs = {e.ref: e.label for e in equations if e.ref}
    assert refs == {"eq:y1": "1", "eq:loss": "2"}  # \label is a name; the label is the number
    assert equations[0].heading == r"\section{Forward pass}"
    assert all(e.note == "" and e.cell is None for e in equations)


def test_the_same_document_read_as_markdown_has_no_numbers() -> None:
    """A Markdown renderer (MathJax) numbers nothing: only tags and labels are labels."""
    labels = [e.label for e in read_equations(LATEX) if e.label]
    assert labels == ["eq:y1", "eq:loss", "G2", "A"]


REPORT = r"""\documentclass{report}
\begin{document}
\chapter{One}
\begin{equation} a = 1 \end{equation}
\begin{subequations}
\begin{align} b &= 2 \\ c &= 3 \end{align}
\end{subequations}
\begin{equation} d = 4 \end{equation}
\chapter*{Unnumbered}
\begin{equation} e = 5 \end{equation}
\chapter{Two}
\section{S}
\begin{equation} f = 6 \end{equation}
\appendix
\chapter{Extra}
\begin{equation} g = 7 \end{equation}
\end{document}
"""
ARTICLE_WITHIN_SECTIONS = r"""\documentclass{article}
\usepackage{amsmath}
\numberwithin{equation}{section}
\begin{document}
\section{A}
\begin{equation} a = 1 \end{equation}
\begin{equation} b = 2 \end{equation}
\section{B}
\begin{equation} c = 3 \end{equation}
\setcounter{equation}{6}
\begin{equation} d = 4 \end{equation}
\end{document}
"""


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        (REPORT, ["1.1", "1.2a", "1.2b", "1.3", "1.4", "2.1", "A.1"]),
        (ARTICLE_WITHIN_SECTIONS, ["1.1", "1.2", "2.1", "2.7"]),
        # a fragment (no \begin{document}): all of it is body, numbered from 1
        (
            "\\begin{equation} a = 1 \\end{equation}\n\\[ b = 2 \\]\n\\begin{equation} c = 3 "
            "\\end{equation}\n",
            ["1", None, "2"],
        ),
        # an empty equation still takes its number; \tag takes none
        (
            "\\begin{equation}\\end{equation}\\begin{equation} a = 1 \\tag{T} \\end{equation}"
            "\\begin{equation} b = 2 \\end{equation}",
            ["T", "2"],
        ),
    ],
)
def test_latex_numbers_follow_the_document_class_and_counters(
    text: str, labels: list[str | None]
) -> None:
    assert [e.label for e in read_equations(text, kind="latex")] == labels


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = 1 % = 2\n", "a = 1"),  # a comment is removed
        ("a = 50\\% \n", "a = 50\\%"),  # an escaped percent stays
        ("a = 1 \\\\% b = 2\n", "a = 1 \\\\"),  # \\ then a comment (the stray \\ stays, as before)
    ],
)
def test_latex_comments(text: str, expected: str) -> None:
    (equation,) = read_equations(f"\\[ {text} \\]", kind="latex")
    assert _compact(equation.latex) == expected


def test_latex_verbatim_iffalse_and_verb_are_not_math() -> None:
    text = (
        "\\begin{document}\n"
        "\\iffalse \\[ a = 1 \\] \\fi\n"
        "\\verb|$$b = 2$$| and \\begin{comment} \\[ c = 3 \\] \\end{comment}\n"
        "\\begin{lstlisting}\n% not a comment: \\end{lstlisting}\n"
        "\\[ d = 4 \\]\n\\end{document}\n"
    )
    assert _rows(read_equations(text, kind="latex")) == [(None, 6, "d = 4")]


# --- macros --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definitions", "use", "expected"),
    [
        (r"\newcommand{\R}{\mathbb{R}}", r"x \in \R^n", r"x \in \mathbb{R}^n"),
        (r"\newcommand\R{\mathbb{R}}", r"x \in \R", r"x \in \mathbb{R}"),
        (r"\newcommand*{\R}{\mathbb{R}}", r"\R", r"\mathbb{R}"),
        (
            r"\newcommand{\pd}[2]{\frac{\partial #1}{\partial #2}}",
            r"\pd{L}{w}",
            r"\frac{\partial L}{\partial w}",
        ),
        (
            r"\newcommand{\pd}[2]{\frac{\partial #1}{\partial #2}}",
            r"\pd L w",
            r"\frac{\partial L}{\partial w}",
        ),
        (r"\newcommand{\w}[1][j]{w_{#1}}", r"\w + \w[3]", r"w_{j} + w_{3}"),
        (r"\def\L{\mathcal{L}}", r"\L = 1", r"\mathcal{L} = 1"),
        (r"\def\g#1#2{\nabla_{#1} #2}", r"\g{w}{L}", r"\nabla_{w} L"),
        (r"\DeclareMathOperator{\rot}{rot}", r"\rot(w)", r"\operatorname{rot}(w)"),
        (r"\DeclareMathOperator*{\argmin}{arg\,min}", r"\argmin_w", r"\operatorname{arg\,min}_w"),
        (r"\newcommand{\a}{1} \renewcommand{\a}{2}", r"\a", "2"),
        (r"\newcommand{\a}{1} \providecommand{\a}{2}", r"\a", "1"),
        (r"\newcommand{\a}{\b} \newcommand{\b}{c}", r"\a", "c"),  # expanded level by level
        (r"\let\vec\mathbf", r"\vec{x}", r"\mathbf{x}"),
        (r"\newcommand{\R}{\ensuremath{\mathbb{R}}\xspace}", r"\R", r"{\mathbb{R}}"),
        (r"\newcommand{\e}{\eta}", r"\e x", r"\eta x"),  # the space after \e kept
        (r"\newcommand{\f}[1]{#1x}", r"\f{\alpha}", r"\alpha x"),  # not "\alphax"
        (r"\newcommand{\f}{\alpha}", r"\f{}b", r"\alpha{}b"),
        (r"\newcommand{\yhat}{\hat{y}}", r"\yhat_1 + \yhatx", r"\hat{y}_1 + \yhatx"),  # whole names
        (r"\newcommand{\a}{A}", r"\\a", r"\\a"),  # a line break, then the letter a
    ],
)
def test_macros_are_expanded_as_text(definitions: str, use: str, expected: str) -> None:
    (equation,) = read_equations(f"{definitions}\n\n$${use} = 0$$\n")
    assert equation.latex == f"{expected} = 0" and equation.note == ""


def test_a_macro_without_its_arguments_stays_as_written() -> None:
    text = "\\newcommand{\\pd}[2]{\\frac{\\partial #1}{\\partial #2}}\n$$a = \\pd{L}$$"
    assert [e.latex for e in read_equations(text)] == ["a = \\pd{L}"]
    # as in TeX, an argument without braces is the next token, "=" included
    text = "\\newcommand{\\pd}[2]{\\frac{\\partial #1}{\\partial #2}}\n$$\\pd{L} = 0$$"
    assert [e.latex for e in read_equations(text)] == ["\\frac{\\partial L}{\\partial =} 0"]


def test_a_macro_takes_effect_from_where_it_is_defined() -> None:
    text = "$$\\a = 1$$\n\\newcommand{\\a}{b}\n$$\\a = 2$$\n\\renewcommand{\\a}{c}\n$$\\a = 3$$"
    assert [e.latex for e in read_equations(text)] == ["\\a = 1", "b = 2", "c = 3"]


def test_macros_defined_inside_display_math_as_mathjax_users_do() -> None:
    text = "$$\\newcommand{\\yh}{\\hat{y}}$$\n\n$$\\def\\L{\\mathcal{L}} \\L = \\yh_1$$\n"
    assert _rows(read_equations(text)) == [(None, 3, r"\mathcal{L} = \hat{y}_1")]


@pytest.mark.parametrize(
    ("definition", "why"),
    [
        (r"\def\a{\a\a}", f"past {MAX_EXPANSION} characters"),  # doubles at every level
        (r"\def\a{\a}", f"deeper than {MAX_DEPTH} levels"),  # never ends, never grows
        (r"\newcommand{\a}{x\b} \newcommand{\b}{x\a}", f"deeper than {MAX_DEPTH} levels"),
        (r"\newcommand{\a}[1]{#1#1#1#1}", f"past {MAX_EXPANSION} characters"),
    ],
)
def test_a_macro_bomb_leaves_the_equation_as_written_with_a_note(definition: str, why: str) -> None:
    bomb = r"\a{\a{\a{\a{\a{\a{\a{\a{\a{y}}}}}}}}}" if "[1]" in definition else r"\a"
    text = f"{definition}\n$${bomb} = 1$$\n$$\\hat{{y}}_1 = 14$$\n"
    start = time.perf_counter()
    first, second = read_equations(text)
    assert time.perf_counter() - start < 2.0
    assert first.latex == f"{bomb} = 1" and why in first.note
    assert second.latex == r"\hat{y}_1 = 14" and second.note == ""


def test_many_bombs_stop_at_the_documents_budget() -> None:
    text = "\\def\\a{\\a\\a}\n" + "$$\\a = 1$$\n" * 400 + "$$\\hat{y}_1 = 14$$\n"
    start = time.perf_counter()
    equations = read_equations(text)
    assert time.perf_counter() - start < 5.0
    assert "document's expansions" in equations[-2].note
    assert equations[-1].latex == r"\hat{y}_1 = 14"


def test_a_macro_bomb_is_unchecked_and_the_rest_is_judged() -> None:
    data = check_text("\\def\\a{\\a\\a}\n$$\\a = 1$$\n$$\\hat{y}_1 = 14$$\n", PROBLEM)
    verdicts = [e["verdict"] for e in data["equations"]]
    assert verdicts == ["unchecked", "correct"]


def test_macros_module_example() -> None:
    macros = Macros()
    blanked = macros.collect(r"\newcommand{\R}{\mathbb{R}} rest")
    assert blanked.strip() == "rest" and len(blanked) == len(r"\newcommand{\R}{\mathbb{R}} rest")
    assert macros.expand(r"\R") == (r"\R", "")  # not yet in effect
    macros.advance(len(blanked))
    assert macros.expand(r"\R") == (r"\mathbb{R}", "")


# --- inline math ---------------------------------------------------------------------------

INLINE_ONLY = """# Results

The output is $\\hat{y}_1 = 14$ and $\\hat{y}_2 = 20$; each costs $5 and $6 to compute.
A price of $20,000$ is no math, nor is $ a = 1$ or $a = 1 $, nor \\$x = 2\\$.
With $i = 1, 2$ and $w \\in \\mathbb{R}^3$ the loss is \\(L = 200\\).
"""


def test_inline_math_is_read_when_there_is_no_display_math() -> None:
    assert _rows(read_equations(INLINE_ONLY)) == [
        (None, 3, r"\hat{y}_1 = 14"),
        (None, 3, r"\hat{y}_2 = 20"),
        (None, 5, "L = 200"),
    ]
    assert read_equations(INLINE_ONLY, inline=False) == []


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $6.",
        "It costs $5 = $6 here.",  # a relation, but "$6" opens nothing and " $" closes nothing
        "Between $10 and $20: a = 1.",
        "$x = 1$2",  # a digit after the closing $: a price
        "$a = 1\n\nb$",  # a paragraph ends inside
        "$" * 1000,
    ],
)
def test_dollar_signs_in_prose_are_not_equations(text: str) -> None:
    assert read_equations(text) == []


def test_a_dollar_in_prose_does_not_hide_the_display_math_after_it() -> None:
    text = "It costs $5.\n\\begin{equation} a = 1 \\end{equation}\nor $6 = b$.\n"
    assert _rows(read_equations(text, inline=True)) == [(None, 2, "a = 1"), (None, 3, "6 = b")]


def test_inline_math_with_display_math_needs_the_flag() -> None:
    text = "We get $\\hat{y}_2 = 21$.\n\n$$\\hat{y}_1 = 14$$\n\nand $L = 200$.\n"
    assert _rows(read_equations(text)) == [(None, 3, r"\hat{y}_1 = 14")]
    assert _rows(read_equations(text, inline=True)) == [
        (None, 1, r"\hat{y}_2 = 21"),
        (None, 3, r"\hat{y}_1 = 14"),
        (None, 5, "L = 200"),
    ]


def test_inline_math_in_a_latex_document() -> None:
    text = "\\begin{document}\nSo $a = 1$ and \\(b = 2\\).\n\\end{document}"
    assert _rows(read_equations(text, kind="latex")) == [(None, 2, "a = 1"), (None, 2, "b = 2")]


# --- notebooks -----------------------------------------------------------------------------


def _notebook(*cells: tuple[str, str]) -> str:
    notebook = nbformat.v4.new_notebook()
    makers = {
        "markdown": nbformat.v4.new_markdown_cell,
        "code": nbformat.v4.new_code_cell,
        "raw": nbformat.v4.new_raw_cell,
    }
    notebook.cells = [makers[kind](source) for kind, source in cells]
    return str(nbformat.writes(notebook))


NOTEBOOK = _notebook(
    (
        "markdown",
        "# Forward pass\n\nWe write $$\\newcommand{\\yh}{\\hat{y}}$$ for the output.\n\n"
        "$$\\yh_1 = 14$$",
    ),
    ("code", "yhat = [14, 20]  # $$\\hat{y}_2 = 99$$"),
    ("raw", "$$\\hat{y}_2 = 98$$"),
    ("markdown", "Then\n\n```\n$$\\hat{y}_2 = 97$$\n```\n\n$$\\yh_2 = 20 \\tag{2}$$"),
    ("markdown", "## Loss\n$$L = 200$$"),
)


def test_a_notebook_reads_markdown_cells_only_with_cell_and_line() -> None:
    equations = read_equations(NOTEBOOK, kind="notebook")
    assert [(e.cell, e.line, e.label, e.latex, e.heading) for e in equations] == [
        (1, 5, None, r"\hat{y}_1 = 14", "Forward pass"),
        (4, 7, "2", r"\hat{y}_2 = 20", "Forward pass"),  # a macro of cell 1; its heading
        (5, 2, None, "L = 200", "Loss"),
    ]
    assert [e.name for e in equations] == ["cell 1, line 5", "2", "cell 5, line 2"]


def test_a_notebook_without_display_math_has_its_inline_math_read() -> None:
    text = _notebook(
        ("markdown", "The output is $\\hat{y}_1 = 14$, at $5 and $6 per run."),
        ("code", "print('$a = 1$')"),
        ("markdown", "and\n$L = 200$"),
    )
    equations = read_equations(text, kind="notebook")
    assert [(e.cell, e.line, e.latex) for e in equations] == [
        (1, 1, r"\hat{y}_1 = 14"),
        (3, 2, "L = 200"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "{ not json",
        "[1, 2]",
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 3}',
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '
        '"cells": [{"cell_type": "markdown", "metadata": {}}]}',  # a cell without source
        '{"nbformat": 9, "nbformat_minor": 0, "metadata": {}, "cells": []}',
        '{"metadata": {}}',
    ],
)
def test_an_invalid_notebook_is_an_input_error_of_one_line(text: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text(text, "utf-8")
    with pytest.raises(CheckInputError) as caught:
        read_document(str(path))
    message = str(caught.value)
    assert message.startswith(f"`FILE` (={str(path)!r}) is not a valid Jupyter notebook: ")
    assert "\n" not in message and len(message) < 300


def test_an_invalid_notebook_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [', "utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a valid Jupyter notebook" in err
    assert "Traceback" not in err


# --- files and the command line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("hw.ipynb", "", "notebook"),
        ("paper.tex", "", "latex"),
        ("notes.md", "\\documentclass{article}", "markdown"),  # the suffix decides
        ("notes.txt", "\\documentclass{article}\n", "latex"),
        ("notes.txt", '{"cells": [], "nbformat": 4}', "notebook"),
        ("notes", "# hello", "markdown"),
    ],
)
def test_the_kind_of_a_file(name: str, text: str, kind: str) -> None:
    assert kind_of(name, text) == kind


def test_read_document_gives_a_source(tmp_path: Path) -> None:
    (tmp_path / "a.tex").write_text(LATEX, "utf-8")
    (tmp_path / "b.ipynb").write_text(NOTEBOOK, "utf-8")
    tex, notebook = read_document(str(tmp_path / "a.tex")), read_document(str(tmp_path / "b.ipynb"))
    assert (tex.kind, len(tex.parts), tex.inline) == ("latex", 1, None)
    assert (notebook.kind, [part.cell for part in notebook.parts]) == ("notebook", [1, 4, 5])
    assert read_document(str(tmp_path / "a.tex"), inline=True).inline is True
    with pytest.raises(ValueError, match="`kind` \\(='pdf'\\) must be one of"):
        Source("pdf")


CLI_TEX = r"""\documentclass{article}
\begin{document}
\begin{align}
  \hat{y}_1 &= 14 \label{eq:one} \\
  \hat{y}_2 &= 21
\end{align}
\end{document}
"""


def test_check_a_latex_file_labels_are_the_printed_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "derivation.tex"
    path.write_text(CLI_TEX, "utf-8")
    status = main(["check", str(path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 1
    assert [(e["label"], e["line"], e["verdict"]) for e in data["equations"]] == [
        ("1", 4, "correct"),
        ("2", 5, "incorrect"),  # ŷ₂ = 20 (design.md)
    ]


def test_check_a_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lab.ipynb"
    path.write_text(NOTEBOOK, "utf-8")
    status = main(["check", str(path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [(e["label"], e["line"], e["verdict"]) for e in data["equations"]] == [
        ("cell 1, line 5", 5, "correct"),
        ("2", 7, "correct"),
        ("cell 5, line 2", 2, "correct"),
    ]


def test_the_inline_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mixed.md"
    path.write_text("$$\\hat{y}_1 = 14$$\n\nand so $\\hat{y}_2 = 21$.\n", "utf-8")
    assert main(["check", str(path), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["equations"]) == 1
    assert main(["check", str(path), "--json", "--inline"]) == 1
    verdicts = [e["verdict"] for e in json.loads(capsys.readouterr().out)["equations"]]
    assert verdicts == ["correct", "incorrect"]


# --- linear time ---------------------------------------------------------------------------

SIZES = (1, 2, 4, 8)
RATIO = 24.0  # for 8× the input: linear gives ~8, quadratic ~64 (as tests/test_check_limits.py)


def _seconds(function: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


GROWING: dict[str, tuple[Callable[[int], str], str]] = {
    "dollars in prose": (lambda size: "$5 and " * (4000 * size), "markdown"),
    "an inline $ that never closes": (lambda size: "$a" + " b" * (20_000 * size), "markdown"),
    "unclosed \\(": (lambda size: "\\(a = 1 " * (4000 * size), "markdown"),
    "backtick runs of many lengths": (
        lambda size: "".join("`" * k + " x " for k in range(1, 60)) * (10 * size),
        "markdown",
    ),
    "unclosed comments": (lambda size: "<!-- a " * (4000 * size), "markdown"),
    "fences": (lambda size: "```\n$$a = 1$$\n```\n" * (1000 * size), "markdown"),
    "list items": (lambda size: "1. a\n\n    $$a = 1$$\n\n" * (500 * size), "markdown"),
    "unclosed definitions": (lambda size: "\\newcommand{\\a}{" * (2000 * size), "markdown"),
    "macro uses": (
        lambda size: "\\newcommand{\\a}[1]{#1#1}$$" + "\\a{x} = 1 \\\\ " * (500 * size) + "$$",
        "markdown",
    ),
    "comments": (lambda size: "a % $$ b\n" * (4000 * size), "latex"),
    "\\verb without an end": (lambda size: "\\verb|a " * (4000 * size), "latex"),
    "\\iffalse without \\fi": (lambda size: "\\iffalse a " * (4000 * size), "latex"),
    "unclosed verbatim": (lambda size: "\\begin{verbatim} " * (4000 * size), "latex"),
    "numbered rows": (
        lambda size: "\\section{a}\n\\begin{align} a &= 1 \\\\ b &= 2 \\end{align}" * (300 * size),
        "latex",
    ),
}


@pytest.mark.parametrize("name", list(GROWING))
def test_reading_new_kinds_of_input_takes_linear_time(name: str) -> None:
    make, kind = GROWING[name]
    texts = [make(size) for size in SIZES]
    times = [_seconds(lambda text=text: read_equations(text, kind=kind)) for text in texts]
    floor = max(times[0], 2e-3)  # below timer noise, a ratio means nothing
    assert times[-1] / floor < RATIO, times
    assert times[-1] < 1.5, times
