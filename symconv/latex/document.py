"""The LaTeX solution sheet of a problem: a complete, self-contained article.

Sections follow the exercise and the terminal output (:mod:`symconv.display`): the
problem, the general solution in closed form, the derivation with symbols, the same with
the given values, the conventions; then, when given, the verification table, the
equivariance experiment and the verdicts on a submission.  The explicit equations carry
the exercise's numbers: with m outputs, ``1a``/``1b`` … ``ma``/``mb`` are the forward pass
per output position, ``m+1`` the loss, ``m+2a``–``f`` the backward pass (∂L/∂ŷ, the chain
rule for w, its expansion, the same for b, then the input), ``m+3a``/``b`` the update;
the numeric part continues at ``m+4`` in the same order, then the forward pass after the
update.  For the exercise (m = 2) these are the submission's (1a) … (15a).

It prints the shared, backend-neutral pieces of :mod:`symconv.worked` (the terminal printer
:mod:`symconv.display` prints the same ones): the convention notes
(:func:`~symconv.worked.conventions`), the tensors, output sizes and numbers of a layer
beyond the exercise's kind (:func:`~symconv.worked.tensors`,
:func:`~symconv.worked.output_sizes`, :func:`~symconv.worked.shown`), and quantity names
from :data:`symconv.notation.QUANTITIES`; remarks about the exercise's wording appear only
on the exercise (:func:`~symconv.worked.is_exercise`).

Tables are set at body size (one verification table per data type; the verdicts as a
longtable), each kept on one page with the text that introduces it; wide figures get a
landscape page.  All math comes from the SymPy expressions (:mod:`symconv.latex.printer`);
all numbers are exact; all user text goes through :func:`symconv.latex.escape.escape` (or
:func:`~symconv.latex.escape.typeset`, which sets the unicode math of messages as math).
The output is deterministic: no dates, paths or versions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sympy import Expr, Mul, Symbol, factor_terms

from symconv.derivation import Derivation, worked_in_1d
from symconv.errors import UnsupportedLayerError
from symconv.latex.escape import escape, source_tex, typeset, written_tex
from symconv.latex.layout import (
    LINE_UNITS,
    Eq,
    Link,
    Piece,
    align,
    column,
    matrix,
    piece,
    rhs_room,
    width,
)
from symconv.latex.printer import factor, latex, number, terms
from symconv.latex.results import MODELS, Experiment
from symconv.notation import QUANTITIES
from symconv.problem import Problem
from symconv.symbolic.closed import ClosedForm, specialize
from symconv.symbolic.explicit import ExplicitDerivation, StepValues
from symconv.worked import (
    Block,
    Note,
    Shown,
    closed_legend,
    closed_rows,
    conventions,
    is_exercise,
    output_sizes,
    shown,
    tensors,
)

__all__ = ["MAX_OUTPUTS", "Submission", "render_report"]

# Per-output equations are written for at most this many outputs (the vectors hold all).
MAX_OUTPUTS = 8
# Matrices are written out up to this many rows or columns (else their entries alone).
_MAX_MATRIX = 12
_MAX_ROW_VECTOR = 8
_MAX_LIST = 16

# the quantities' LaTeX names, from the one registry (symconv.notation)
L = QUANTITIES["loss"].latex
YHAT = QUANTITIES["yhat"].latex
W = QUANTITIES["w"].latex
B = QUANTITIES["b"].latex
X = QUANTITIES["x"].latex
W_NEXT = QUANTITIES["w_next"].latex
B_NEXT = QUANTITIES["b_next"].latex
YHAT_NEXT = QUANTITIES["yhat_next"].latex
YHAT_I = r"\hat{y}_{i}"
_PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{lmodern}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{array,booktabs,longtable}
\usepackage{graphicx}
\usepackage[table]{xcolor}
\usepackage{microtype}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6ex plus 0.3ex}
\setcounter{MaxMatrixCols}{20}
\renewcommand{\arraystretch}{1.15}
\newcommand{\ok}{\textcolor{green!50!black}{\checkmark}}
\newcommand{\bad}{\textcolor{red!70!black}{$\times$}}
\usepackage{pdflscape}
\usepackage{needspace}
\usepackage{caption}
\captionsetup{font=small,labelfont=bf}
"""


@dataclass(frozen=True)
class Submission:
    """The verdicts of ``symconv check`` on a submission (design.md's check JSON), or why
    there are none (``note``).  The equations as written are set as math when safe
    (:func:`~symconv.latex.escape.written_tex`); ``typeset`` False shows their source."""

    file: str
    equations: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    note: str | None = None
    typeset: bool = True  # False: the equations as written are shown as their source


# ---------------------------------------------------------------------------------------
# names


def _d(of: str, by: str) -> str:
    return rf"\frac{{\partial {of}}}{{\partial {by}}}"


def _yhat(i: int, upper: str = "") -> str:
    return rf"\hat{{y}}{upper}_{{{i + 1}}}"


def _chain(of_vector: str) -> str:
    """``(∂ŷ/∂θ)ᵀ ∂L/∂ŷ``: the chain rule for a parameter vector."""
    return rf"\left({_d(YHAT, of_vector)}\right)^{{\!\top}} {_d(L, YHAT)}"


def _list(values: Sequence[Any]) -> str:
    """``(1, 2, 3)`` as inline math that may break after each comma."""
    shown = [number(v) for v in values[:_MAX_LIST]]
    if len(values) > _MAX_LIST:
        shown.append(rf"\dots\ (\text{{{len(values)} in all}})")
    return "(" + r",\allowbreak\ ".join(shown) + ")"


def _pieces(parts: Sequence[str]) -> list[Piece]:
    return [piece(part) for part in parts]


def _joined(parts: Sequence[str]) -> list[Piece]:
    """Terms (already signed with leading ``+``/``-`` after the first) as pieces."""
    return _pieces(parts) if parts else [piece("0")]


def _signed(texts: Sequence[str]) -> list[str]:
    """``a``, ``b`` → ``a``, ``+ b`` (a term starting with ``-`` keeps its sign)."""
    out = []
    for position, text in enumerate(texts):
        if position and text.startswith("-"):
            out.append("- " + text[1:].lstrip())
        elif position:
            out.append("+ " + text)
        else:
            out.append(text)
    return out


def _sum_text(texts: Sequence[str]) -> str:
    return " ".join(_signed(texts)) if texts else "0"


# ---------------------------------------------------------------------------------------
# the document


class _Doc:
    """Collects the LaTeX of the report, part by part."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def section(self, title: str) -> None:
        self.add(f"\\section{{{title}}}")

    def subsection(self, title: str) -> None:
        self.add(f"\\subsection*{{{title}}}")

    def eqs(self, eqs: Sequence[Eq]) -> None:
        if eqs:
            self.add(align(eqs))

    def items(self, items: Sequence[str]) -> None:
        body = "\n".join(f"  \\item {item}" for item in items)
        self.add(f"\\begin{{itemize}}\n{body}\n\\end{{itemize}}")

    def text(self) -> str:
        return "\n\n".join(self.parts)


def _bias_words(problem: Problem) -> str:
    if problem.bias == "untied":
        return rf"untied: one bias per output, $b_1, \dots, b_{{{problem.m}}}$"
    if problem.bias == "shared":
        return "shared: one bias $b$ added to every output"
    return "none"


def _problem_section(doc: _Doc, problem: Problem, closed: ClosedForm) -> None:
    n, k, s, p, d, m = (
        problem.n,
        problem.k,
        problem.stride,
        problem.padding,
        problem.dilation,
        problem.m,
    )
    doc.section("The problem")
    doc.add(
        "A one-dimensional convolution layer (in the deep-learning sense: a "
        "cross-correlation, the kernel is not flipped) maps the input $\\mathbf{x}$ to the "
        "outputs $\\hat{\\mathbf{y}}$; the loss compares them with the targets "
        "$\\mathbf{y}$. Derive the forward pass, the loss, the gradients of the loss with "
        "respect to the kernel, the bias and the input, and one step of gradient descent; "
        "then evaluate everything for the given values."
    )
    padding = f"$p = {p}$" + (f" ({problem.padding_mode})" if p else "")
    loss_general = latex(_display_m(closed, closed.loss))
    loss_words = problem.loss_spec.words
    m_numbers = (
        rf"= \left\lfloor \frac{{{n} + {2 * p} - {d * (k - 1)} - 1}}{{{s}}} \right\rfloor + 1 "
        if n < 10**6
        else ""
    )
    rows = [
        ("Input length", f"$n = {n}$"),
        ("Kernel size", f"$k = {k}$"),
        ("Stride", f"$s = {s}$"),
        ("Padding (each side)", padding),
        ("Dilation", f"$d = {d}$"),
        ("Output length", f"$m = {latex(closed.m)} {m_numbers}= {m}$"),
        ("Bias", _bias_words(problem)),
        ("Loss", f"${L} = {loss_general}$ ({loss_words})"),
        (
            "Gradient descent",
            f"learning rate $\\alpha = {number(problem.lr)}$, "
            + ("one step" if problem.steps == 1 else f"{problem.steps} steps"),
        ),
    ]
    if problem.has_values:
        assert problem.x is not None and problem.w is not None and problem.y is not None
        values = [
            rf"$\mathbf{{x}} = {_list(problem.x)}^{{\top}}$",
            rf"$\mathbf{{w}} = {_list(problem.w)}^{{\top}}$",
        ]
        if isinstance(problem.b, tuple):
            values.append(rf"$\mathbf{{b}} = {_list(problem.b)}^{{\top}}$")
        elif problem.b is not None:
            values.append(f"$b = {number(problem.b)}$")
        values.append(rf"$\mathbf{{y}} = {_list(problem.y)}^{{\top}}$")
        rows.append(("Values", ", ".join(values)))
    else:
        rows.append(("Values", "none given: the derivation stays symbolic"))
    body = "\n".join(f"{name} & {value} \\\\" for name, value in rows)
    doc.add(
        "\\begin{center}\n\\begin{tabular}{@{}>{\\bfseries}l p{0.68\\textwidth}@{}}\n"
        f"\\toprule\n{body}\n\\bottomrule\n\\end{{tabular}}\n\\end{{center}}"
    )
    order = (
        "(forward pass per output position, loss, backward pass, update, then the same with "
        "numbers)"
    )
    if is_exercise(problem):
        doc.add(
            f"Equation numbers (1a), (1b), \\dots\\ follow the structure of the exercise {order}, "
            "so that a written solution can be compared with this sheet equation by equation. "
            "Indices are 1-based."
        )
    else:
        doc.add(
            f"Equations are numbered (1a), (1b), \\dots\\ in the order of the derivation {order}, "
            "so that a written solution can be compared with this sheet equation by equation. "
            "Indices are 1-based."
        )


def _display_m(closed: ClosedForm, expr: Expr) -> Expr:
    """``expr`` with the output-length formula shown as the symbol m."""
    return factor_terms(expr.xreplace({closed.m: Symbol("m")}))


def _general_eq(
    closed: ClosedForm, problem: Problem, lhs: str, expr: Expr | None, tag: str
) -> Eq | None:
    """``lhs = general formula (tag)``, then ``=here`` with this problem's sizes."""
    if expr is None:
        return None
    general = latex(_display_m(closed, expr))
    here = latex(_display_m(closed, specialize(expr, problem)))
    links = [Link([piece(general)], tag)]
    if here != general:
        links.append(Link([piece(here)], relation=r"\overset{\text{here}}{=}"))
    return Eq(lhs, links)


def _closed_section(doc: _Doc, problem: Problem, closed: ClosedForm) -> None:
    doc.section("The general solution")
    pad = (
        r"x_{t}$ for $1 \le t \le n$, wrapping around outside (circular padding)"
        if problem.padding_mode == "circular"
        else r"x_{t}$ for $1 \le t \le n$ and $0$ outside"
    )
    doc.add(
        "For any sizes, with the padded input $\\tilde{x}_{t} = "
        + pad
        + ", $g_i = "
        + _d(L, r"\hat{y}_{i}")
        + "$ and $m$ outputs. Under each formula, "
        r"$\overset{\text{here}}{=}$ gives it for this problem's sizes "
        f"($s = {problem.stride}$, $p = {problem.padding}$, $d = {problem.dilation}$, "
        f"$k = {problem.k}$)."
    )
    bias_lhs = _d(L, "b_{i}") if problem.bias == "untied" else _d(L, "b")
    bias_next = "b_{i}^{(1)}" if problem.bias == "untied" else "b^{(1)}"
    rows = [
        _general_eq(closed, problem, r"\hat{y}_{i}", closed.yhat, "G1"),
        _general_eq(closed, problem, L, closed.loss, "G2"),
        _general_eq(closed, problem, rf"g_{{i}} = {_d(L, YHAT_I)}", closed.grad_yhat, "G3"),
        _general_eq(closed, problem, _d(L, "w_{j}"), closed.grad_w, "G4"),
        _general_eq(closed, problem, bias_lhs, closed.grad_b, "G5"),
        _general_eq(closed, problem, _d(L, "x_{t}"), closed.grad_x, "G6"),
        _general_eq(closed, problem, "w_{j}^{(1)}", closed.w_next, "G7"),
        _general_eq(closed, problem, bias_next, closed.b_next, "G8"),
    ]
    doc.eqs([row for row in rows if row is not None])
    doc.add(
        "In (G6), $\\breve{g}$ is $g$ spread out by the stride: $\\breve{g}_{u} = g_{u/s + 1}$ "
        "when $s$ divides $u$ and that output exists, else $0$. The input gradient is thus a "
        "full correlation of the output gradient with the \\emph{flipped} kernel"
        + (
            "; with circular padding the gradients of the wrapped copies of $x_t$ add up."
            if problem.padding_mode == "circular"
            else "."
        )
    )


# ---------------------------------------------------------------------------------------
# explicit, with symbols


@dataclass(frozen=True)
class _Numbering:
    """The exercise's equation numbers for ``shown`` output positions."""

    shown: int

    def forward(self, i: int) -> int:
        return i + 1

    @property
    def loss(self) -> int:
        return self.shown + 1

    @property
    def backward(self) -> int:
        return self.shown + 2

    @property
    def update(self) -> int:
        return self.shown + 3

    @property
    def numbers(self) -> int:
        return self.shown + 4

    @property
    def vector(self) -> int:
        return 2 * self.shown + 4

    @property
    def loss_value(self) -> int:
        return self.vector + 1

    @property
    def backward_value(self) -> int:
        return self.vector + 2

    @property
    def update_value(self) -> int:
        return self.vector + 3

    def after(self, i: int) -> int:
        return self.vector + 4 + i

    @property
    def vector_after(self) -> int:
        return self.vector + 4 + self.shown

    @property
    def loss_after(self) -> int:
        return self.vector_after + 1


def _window_cells(e: ExplicitDerivation, i: int) -> list[str]:
    return ["0" if t is None else latex(e.symbols.x[t]) for t in e.windows[i]]


def _window_values(e: ExplicitDerivation, i: int, x: Sequence[Any]) -> list[str]:
    return ["0" if t is None else number(x[t]) for t in e.windows[i]]


def _dot(row: Sequence[str], col: Sequence[str], k: int) -> list[Piece]:
    """``[w₁ … w_k]·[x…]ᵀ`` as a row vector times a column vector (k small)."""
    if k > _MAX_ROW_VECTOR:
        return []
    return [matrix([list(row)]), column(list(col), cap=_MAX_MATRIX)]


def _bias_term(problem: Problem, i: int, values: Any = None) -> str | None:
    if problem.bias == "none":
        return None
    if values is not None:
        value = values[i] if problem.bias == "untied" else values[0]
        return number(value)
    return f"b_{{{i + 1}}}" if problem.bias == "untied" else "b"


def _forward_symbols(doc: _Doc, d: Derivation, e: ExplicitDerivation, no: _Numbering) -> None:
    problem = d.problem
    doc.subsection("Forward pass: one window per output position")
    s = problem.stride
    doc.add(
        f"Output $\\hat{{y}}_i$ reads the window that starts at input $s(i-1) + 1 - p$; with "
        f"stride $s = {s}$ the window moves by {s} input{'s' * (s != 1)} from one output to the "
        "next."
        + (
            " The outputs are output \\emph{positions} $i = 1, \\dots, m$ of one layer, not "
            "different strides."
            if is_exercise(problem)
            else ""
        )
    )
    w_row = [latex(w) for w in e.symbols.w]
    eqs = []
    for i in range(no.shown):
        bias = _bias_term(problem, i)
        product = _dot(w_row, _window_cells(e, i), problem.k)
        links = []
        if product:
            links.append(Link([*product, piece(f"+ {bias}")] if bias else product, f"{i + 1}a"))
        links.append(Link(_joined(terms(e.yhat[i])), f"{no.forward(i)}{'b' if product else ''}"))
        eqs.append(Eq(_yhat(i), links))
    doc.eqs(eqs)
    if problem.m > no.shown:
        doc.add(
            f"The outputs $\\hat{{y}}_{{{no.shown + 1}}}, \\dots, \\hat{{y}}_{{{problem.m}}}$ "
            "follow the same pattern, each window moved by $s$."
        )


def _loss_symbols(doc: _Doc, d: Derivation, e: ExplicitDerivation, no: _Numbering) -> None:
    closed = d.closed
    assert closed is not None
    doc.subsection("Loss")
    general = latex(specialize(closed.loss, d.problem))
    doc.eqs(
        [
            Eq(
                L,
                [Link([piece(general)]), Link(_capped_terms(e.loss_of_yhat), str(no.loss))],
            )
        ]
    )


def _capped_terms(expr: Expr, values: Mapping[Symbol, Any] | None = None) -> list[Piece]:
    """The terms of a sum, at most 8 of them written out."""
    parts = terms(expr, values)
    if len(parts) > 8:
        parts = [*parts[:6], r"+ \cdots", parts[-1]]
    return _joined(parts)


def _fits(entries: Sequence[str], room: float) -> bool:
    """True when a column of these entries leaves room for a matrix beside it."""
    return max((piece(entry).width for entry in entries), default=0.0) <= room


def _g(e: ExplicitDerivation, i: int) -> Expr:
    """∂L/∂ŷᵢ with its common factor pulled out: (ŷᵢ − yᵢ)/3, not ŷᵢ/3 − yᵢ/3."""
    return factor_terms(e.grad_yhat[i])


def _product_terms(pairs: Sequence[tuple[Expr, Expr]]) -> list[str]:
    """``(ŷ₁ − y₁)·x₁``, ``(ŷ₂ − y₂)·x₂``: each product printed by SymPy, in this order."""
    return [latex(Mul(a, b, evaluate=False)) for a, b in pairs]


def _is_sum(text: str) -> bool:
    """True when printed math has a ``+`` or ``-`` outside all brackets (needs parentheses)."""
    depth = 0
    position = 0
    while position < len(text):
        if text.startswith(r"\left", position) or text[position] == "{":
            depth += 1
        elif text.startswith(r"\right", position) or text[position] == "}":
            depth -= 1
        elif depth == 0 and position > 0 and text[position] in "+-":
            return True
        position += 1
    return False


def _minus_alpha(param: str, texts: Sequence[str]) -> list[Piece]:
    """``θ − α·(t₁ + t₂ + …)`` as pieces that may break between the terms."""
    if not texts:
        return [piece(param)]
    if len(texts) == 1:
        term = rf"\left({texts[0]}\right)" if _is_sum(texts[0]) else texts[0]
        return [piece(rf"{param} - \alpha \cdot {term}")]
    signed = _signed(texts)
    return _pieces(
        [rf"{param} - \alpha \cdot \bigl({signed[0]}", *signed[1:-1], rf"{signed[-1]} \bigr)"]
    )


def _uses_of_w(e: ExplicitDerivation, j: int) -> list[tuple[int, int]]:
    """(output i, input t) for every output whose window reads x_t with tap j."""
    return [(i, t) for i, row in enumerate(e.windows) if (t := row[j]) is not None]


def _uses_of_x(e: ExplicitDerivation, t: int) -> list[tuple[int, int]]:
    """(output i, tap j) for every tap that reads x_t."""
    return [(i, j) for i, row in enumerate(e.windows) for j, tt in enumerate(row) if tt == t]


def _jacobian_piece(rows: Sequence[Sequence[str]]) -> list[Piece]:
    if len(rows) > _MAX_MATRIX or (rows and len(rows[0]) > _MAX_MATRIX):
        return []
    return [matrix(rows)]


def _vector_or_rows(
    lhs: str,
    names: Sequence[str],
    head: list[Link],
    middle: list[Piece],
    entries: Sequence[list[Piece]],
    tag: str | None,
    room: float,
) -> list[Eq]:
    """``lhs = head = middle = [entries]`` when the column fits beside the rest, else
    ``lhs = head`` followed by one equation per entry (``names[r] = entries[r]``)."""
    texts = [" ".join(p.text for p in entry) for entry in entries]
    widest = max((sum(p.width for p in entry) for entry in entries), default=0.0)
    if len(entries) <= _MAX_MATRIX and widest <= room * 0.9:
        links = list(head)
        if middle and sum(p.width for p in middle) <= room:
            links.append(Link(middle))
        links.append(Link([column(texts)], tag))
        return [Eq(lhs, links)]
    rows = [Eq(lhs, list(head))] if head else []
    for number_, (name, entry) in enumerate(zip(names, entries)):
        if number_ == _MAX_MATRIX:
            rows.append(Eq(r"\vdots", [Link([], relation="")]))
            break
        rows.append(Eq(name, [Link(entry, tag if number_ == 0 else None)]))
    return rows


def _backward_symbols(doc: _Doc, d: Derivation, e: ExplicitDerivation, no: _Numbering) -> None:
    problem = d.problem
    m, k, n = problem.m, problem.k, problem.n
    tag = str(no.backward)
    sym = e.symbols
    g = [_g(e, i) for i in range(m)]
    g_entries = [latex(expr) for expr in g]
    doc.subsection("Backward pass")
    doc.add(
        "The loss with respect to each output, then the chain rule through every output that "
        "uses a parameter. $\\partial\\hat{\\mathbf{y}}/\\partial\\mathbf{w}$ is the "
        f"${m}\\times{k}$ window matrix: row $i$ holds the inputs under the window of "
        "$\\hat{y}_i$. As matrices the chain rule multiplies its transpose, "
        f"$({k}\\times{m})$, by the column ${_d(L, YHAT)}$, $({m}\\times 1)$."
    )
    room = rhs_room([Eq(_d(L, W))])
    eqs = [Eq(_d(L, YHAT), [Link([column(g_entries)], f"{tag}a")])]

    # weights: ∂L/∂w_j = Σ_i ∂L/∂ŷ_i · x[window(i, j)]
    w_terms = [_product_terms([(g[i], sym.x[t]) for i, t in _uses_of_w(e, j)]) for j in range(k)]
    jac_t = [["0" if t is None else latex(sym.x[t]) for t in col] for col in zip(*e.windows)]
    eqs += _vector_or_rows(
        _d(L, W),
        [_d(L, f"w_{{{j + 1}}}") for j in range(k)],
        [Link([piece(_chain(W))], f"{tag}b")],
        [*_jacobian_piece(jac_t), column(g_entries)] if m <= _MAX_MATRIX else [],
        [_joined(_signed(texts)) for texts in w_terms],
        f"{tag}c",
        room,
    )

    # bias: untied ∂ŷ/∂b = I (one bias per output), shared ∂ŷ/∂b = 1 (a column of ones)
    if problem.bias == "untied":
        identity = [["1" if r == c else "0" for c in range(m)] for r in range(m)]
        links = [Link([piece(_chain(B))], f"{tag}d")]
        if m <= _MAX_ROW_VECTOR:
            links.append(Link([matrix(identity), column(g_entries)]))
        links.append(Link([column(g_entries)], f"{tag}e"))
        eqs.append(Eq(_d(L, B), links))
    elif problem.bias == "shared":
        ones = rf"\mathbf{{1}}_{{{m}}}^{{\top}} {_d(L, YHAT)}"
        shown = g_entries if m <= 8 else [*g_entries[:6], r"\cdots", g_entries[-1]]
        eqs.append(
            Eq(
                _d(L, "b"),
                [
                    Link([piece(rf"{_chain('b')} = {ones}")], f"{tag}d"),
                    Link(_joined(_signed(shown)), f"{tag}e"),
                ],
            )
        )

    # input: ∂L/∂x_t = Σ over the taps that read x_t of ∂L/∂ŷ_i · w_j
    x_terms = [_product_terms([(g[i], sym.w[j]) for i, j in _uses_of_x(e, t)]) for t in range(n)]
    jac_x_t = [[latex(e.jac_x[i, t]) for i in range(m)] for t in range(n)]
    eqs += _vector_or_rows(
        _d(L, X),
        [_d(L, f"x_{{{t + 1}}}") for t in range(n)],
        [Link([piece(_chain(X))], f"{tag}f")],
        [*_jacobian_piece(jac_x_t), column(g_entries)] if m <= _MAX_MATRIX else [],
        [_joined(_signed(texts)) for texts in x_terms],
        None,
        room,
    )
    doc.eqs(eqs)
    doc.add(
        (
            "The input gradient (f) is not asked for in the exercise; it is what the layer "
            "passes on to the layer before it. "
            if is_exercise(problem)
            else "The input gradient (f) is what the layer passes on to the layer before it. "
        )
        + "Entry $t$ collects every tap that reads $x_t$: the kernel appears flipped. "
        + (
            "The bias gradient (e) is the output gradient itself: with an untied bias "
            "$\\partial\\hat{y}_i/\\partial b_l$ is $1$ for $l = i$ and $0$ otherwise."
            if problem.bias == "untied"
            else "The shared bias is added to every output, so its gradient (e) is the sum of "
            "the output gradients."
            if problem.bias == "shared"
            else ""
        )
    )


def _update_symbols(doc: _Doc, d: Derivation, e: ExplicitDerivation, no: _Numbering) -> None:
    problem = d.problem
    tag = str(no.update)
    sym = e.symbols
    m = problem.m
    doc.subsection(r"Update: one step of gradient descent")
    doc.add(
        "Every parameter moves against its gradient, $\\theta^{(1)} = \\theta - \\alpha\\, "
        f"\\partial {L} / \\partial \\theta$. The learning rate multiplies the \\emph{{whole}} "
        "gradient: it needs parentheses around a sum."
    )
    room = rhs_room([Eq(W_NEXT)])
    g = [_g(e, i) for i in range(m)]
    w_entries = [
        _minus_alpha(
            latex(sym.w[j]), _product_terms([(g[i], sym.x[t]) for i, t in _uses_of_w(e, j)])
        )
        for j in range(problem.k)
    ]
    eqs = _vector_or_rows(
        W_NEXT,
        [f"w_{{{j + 1}}}^{{(1)}}" for j in range(problem.k)],
        [Link([piece(rf"\mathbf{{w}} - \alpha \, {_d(L, W)}")])],
        [],
        w_entries,
        f"{tag}a",
        room,
    )
    if problem.bias == "untied":
        b_entries = [_minus_alpha(latex(b), [latex(g[i])]) for i, b in enumerate(sym.bias_list())]
        eqs += _vector_or_rows(
            B_NEXT,
            [f"b_{{{i + 1}}}^{{(1)}}" for i in range(m)],
            [Link([piece(rf"\mathbf{{b}} - \alpha \, {_d(L, B)}")])],
            [],
            b_entries,
            f"{tag}b",
            room,
        )
    elif problem.bias == "shared":
        texts = [latex(expr) for expr in g]
        if m > 8:
            texts = [*texts[:6], r"\cdots", texts[-1]]
        eqs.append(
            Eq(
                "b^{(1)}",
                [
                    Link([piece(rf"b - \alpha \, {_d(L, 'b')}")]),
                    Link(_minus_alpha("b", texts), f"{tag}b"),
                ],
            )
        )
    doc.eqs(eqs)


# ---------------------------------------------------------------------------------------
# explicit, with numbers


def _forward_numbers(
    e: ExplicitDerivation,
    problem: Problem,
    w: Sequence[Any],
    b: Sequence[Any] | None,
    yhat: Sequence[Any],
    tags: Sequence[str],
    upper: str,
) -> list[Eq]:
    """ŷᵢ = [w]·[window] + bᵢ = Σ w·x + b = value, for the shown outputs."""
    assert problem.x is not None
    x = problem.x
    eqs = []
    for i, tag in enumerate(tags):
        point = dict(zip(e.symbols.x, x)) | dict(zip(e.symbols.w, w))
        point |= dict(zip(e.symbols.bias_list(), b or ()))
        links = []
        product = _dot([number(v) for v in w], _window_values(e, i, x), problem.k)
        bias = _bias_term(problem, i, b)
        if product:
            plus = [piece(f"- {bias[1:]}" if bias.startswith("-") else f"+ {bias}")] if bias else []
            links.append(Link([*product, *plus]))
        links.append(Link(_capped_terms(e.yhat[i], point)))
        links.append(Link([piece(number(yhat[i]))], tag))
        eqs.append(Eq(_yhat(i, upper), links))
    return eqs


def _loss_numbers(
    e: ExplicitDerivation, problem: Problem, yhat: Sequence[Any], loss: Any, tag: str, upper: str
) -> Eq:
    assert problem.y is not None
    point = dict(zip(e.symbols.yhat, yhat)) | dict(zip(e.symbols.y, problem.y))
    return Eq(
        L + upper,
        [Link(_capped_terms(e.loss_of_yhat, point)), Link([piece(number(loss))], tag)],
    )


def _numbers_section(doc: _Doc, d: Derivation, e: ExplicitDerivation, no: _Numbering) -> None:
    problem = d.problem
    assert d.steps is not None and problem.x is not None and problem.y is not None
    step = d.steps[0]
    m, k, n = problem.m, problem.k, problem.n
    doc.section("With the given values")
    shown = range(no.shown)
    doc.subsection("Forward pass")
    doc.eqs(
        _forward_numbers(
            e, problem, step.w, step.b, step.yhat, [f"{no.numbers + i}a" for i in shown], ""
        )
    )
    doc.subsection("Prediction and loss")
    doc.eqs(
        [
            Eq(YHAT, [Link([column([number(v) for v in step.yhat])], str(no.vector))]),
            _loss_numbers(e, problem, step.yhat, step.loss, f"{no.loss_value}a", ""),
        ]
    )

    doc.subsection("Backward pass")
    tag = str(no.backward_value)
    g = [number(v) for v in step.grad_yhat]
    point = dict(zip(e.symbols.yhat, step.yhat)) | dict(zip(e.symbols.y, problem.y))
    g_subst = [latex(_g(e, i), point) for i in range(m)]
    eqs = [
        Eq(
            _d(L, YHAT),
            [
                Link([column([latex(_g(e, i)) for i in range(m)])]),
                Link([column(g_subst)]),
                Link([column(g)], f"{tag}a"),
            ],
        )
    ]
    room = rhs_room([Eq(_d(L, W))])
    w_sums = [
        _sum_text(
            [
                f"{factor(step.grad_yhat[i])} \\cdot {factor(problem.x[t])}"
                for i, t in _uses_of_w(e, j)
            ]
        )
        for j in range(k)
    ]
    jac_t = [["0" if t is None else number(problem.x[t]) for t in col] for col in zip(*e.windows)]
    eqs.append(_vector_eq(_d(L, W), jac_t, g, w_sums, step.grad_w, f"{tag}b", room))
    if problem.bias == "untied" and step.grad_b is not None:
        identity = [["1" if r == c else "0" for c in range(m)] for r in range(m)]
        links = []
        if m <= _MAX_ROW_VECTOR:
            links.append(Link([matrix(identity), column(g)]))
        links.append(Link([column([number(v) for v in step.grad_b])], f"{tag}c"))
        eqs.append(Eq(_d(L, B), links))
    elif problem.bias == "shared" and step.grad_b is not None:
        eqs.append(
            Eq(
                _d(L, "b"),
                [
                    Link(_joined(_signed(g[:8] + ([r"\cdots"] if m > 8 else [])))),
                    Link([piece(number(step.grad_b[0]))], f"{tag}c"),
                ],
            )
        )
    x_sums = [
        _sum_text(
            [f"{factor(step.grad_yhat[i])} \\cdot {factor(step.w[j])}" for i, j in _uses_of_x(e, t)]
        )
        for t in range(n)
    ]
    jac_x_t = [
        [number(e.jac_x[i, t].xreplace(dict(zip(e.symbols.w, step.w)))) for i in range(m)]
        for t in range(n)
    ]
    eqs.append(_vector_eq(_d(L, X), jac_x_t, g, x_sums, step.grad_x, f"{tag}d", room))
    doc.eqs(eqs)

    doc.subsection(f"Update with $\\alpha = {number(problem.lr)}$")
    tag = str(no.update_value)
    lr = number(problem.lr)
    w_steps = [f"{number(w)} - {lr} \\cdot {factor(gw)}" for w, gw in zip(step.w, step.grad_w)]
    eqs = [
        Eq(
            W_NEXT,
            [
                Link([piece(rf"\mathbf{{w}} - \alpha \, {_d(L, W)}")]),
                Link([column(w_steps)]),
                Link([column([number(v) for v in step.w_next])], f"{tag}a"),
            ],
        )
    ]
    if step.b is not None and step.grad_b is not None and step.b_next is not None:
        b_steps = [f"{number(b)} - {lr} \\cdot {factor(gb)}" for b, gb in zip(step.b, step.grad_b)]
        if problem.bias == "untied":
            eqs.append(
                Eq(
                    B_NEXT,
                    [
                        Link([piece(rf"\mathbf{{b}} - \alpha \, {_d(L, B)}")]),
                        Link([column(b_steps)]),
                        Link([column([number(v) for v in step.b_next])], f"{tag}b"),
                    ],
                )
            )
        else:
            eqs.append(
                Eq(
                    "b^{(1)}",
                    [
                        Link([piece(rf"b - \alpha \, {_d(L, 'b')}")]),
                        Link([piece(b_steps[0])]),
                        Link([piece(number(step.b_next[0]))], f"{tag}b"),
                    ],
                )
            )
    doc.eqs(eqs)

    doc.subsection("Forward pass with the updated weights and biases")
    doc.eqs(
        _forward_numbers(
            e,
            problem,
            step.w_next,
            step.b_next,
            step.yhat_next,
            [f"{no.after(i)}a" for i in shown],
            "^{(1)}",
        )
    )
    if m > no.shown:
        doc.add(f"(and so on for the other {m - no.shown} outputs)")
    doc.subsection("Prediction and loss after the update")
    doc.eqs(
        [
            Eq(
                YHAT_NEXT,
                [Link([column([number(v) for v in step.yhat_next])], str(no.vector_after))],
            ),
            _loss_numbers(
                e, problem, step.yhat_next, step.loss_next, f"{no.loss_after}a", "^{(1)}"
            ),
        ]
    )
    if step.loss is None or step.loss_next is None:  # an upstream gradient: no loss
        raise UnsupportedLayerError("no worked derivation with an upstream gradient yet")
    change = step.loss_next - step.loss
    verb = "decreased" if change < 0 else "increased" if change > 0 else "stayed"
    doc.add(
        f"One step of gradient descent {verb} the loss from ${number(step.loss)}$ to "
        f"${number(step.loss_next)}$" + (f" (by ${number(abs(change))}$)." if change != 0 else ".")
    )
    if len(d.steps) > 1:
        _steps_table(doc, d.steps, problem)


def _vector_eq(
    lhs: str,
    jac_t: Sequence[Sequence[str]],
    g: Sequence[str],
    sums: Sequence[str],
    result: Sequence[Any],
    tag: str,
    room: float,
) -> Eq:
    """``lhs = Jᵀ·g = [sums] = [result]``, dropping the parts that would not fit."""
    links = []
    product = _jacobian_piece(jac_t)
    if product and len(g) <= _MAX_MATRIX:
        candidate = [*product, column(g)]
        if sum(p.width for p in candidate) <= room:
            links.append(Link(candidate))
    if len(sums) <= _MAX_MATRIX and _fits(sums, room):
        links.append(Link([column(sums)]))
    links.append(Link([column([number(v) for v in result])], tag))
    return Eq(lhs, links)


def _steps_table(doc: _Doc, steps: Sequence[StepValues], problem: Problem) -> None:
    doc.subsection(f"All {len(steps)} steps")
    rows = []
    for number_, step in enumerate(steps, start=1):
        bias = "" if step.b_next is None else f"${_list(step.b_next)}$"
        rows.append(
            f"{number_} & ${_list(step.w_next)}$ & {bias} & ${number(step.loss)}$ & "
            f"${number(step.loss_next)}$ \\\\"
        )
    body = "\n".join(rows[:40])
    more = (
        f"\n\\multicolumn{{5}}{{l}}{{\\dots\\ {len(rows) - 40} more}} \\\\"
        if len(rows) > 40
        else ""
    )
    doc.add(
        "\\begin{longtable}{@{}r p{0.3\\textwidth} p{0.22\\textwidth} l l@{}}\n\\toprule\n"
        "step & $\\mathbf{w}^{(t)}$ & bias & loss before & loss after \\\\\n\\midrule\n"
        f"{body}{more}\n\\bottomrule\n\\end{{longtable}}"
    )


# ---------------------------------------------------------------------------------------
# conventions and the optional sections


def note_tex(note: Note) -> str:
    """A convention note as LaTeX: its title in bold, its words escaped (with the unicode
    math among them set as math, :func:`~symconv.latex.escape.typeset`), its math spans as
    math."""
    body = "".join(
        typeset(span.unicode) if span.latex is None else f"${span.latex}$" for span in note.spans
    )
    return f"\\textbf{{{escape(note.title)}}} {body}"


def _conventions(doc: _Doc, problem: Problem) -> None:
    """The convention notes of the problem (:func:`symconv.worked.conventions`)."""
    doc.section("Conventions")
    doc.items([note_tex(note) for note in conventions(problem)])


def _sci(value: float) -> str:
    """A small error as math: ``0``, ``3.1 \\times 10^{-16}``."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return r"\infty"
    mantissa, exponent = f"{value:.1e}".split("e")  # 9.99e-10 rounds to 1.0e-09
    if -2 <= int(exponent) <= 2:
        return f"{value:.3g}"
    return f"{mantissa} \\times 10^{{{int(exponent)}}}"


def _quantity_tex(key: str) -> str:
    """A quantity's JSON key as its math symbol (``grad_w`` → ∂L/∂w), else as code."""
    if key in QUANTITIES:
        return f"${QUANTITIES[key].latex}$"
    return f"\\texttt{{{escape(key)}}}"


def _kept_together(*parts: str) -> str:
    """Text and a table that must stay on one page (no caption stranded from its table)."""
    body = "\n\n\\smallskip\n".join(parts)
    return (
        "\\par\\medskip\\noindent\\begin{minipage}{\\linewidth}\n"
        f"{body}\n\\end{{minipage}}\\par\\medskip"
    )


# a backend name ends in its data type (torch-float32); the verification table has one
# part per data type, each at most this many backends wide, so that it fits at body size
_DTYPES = ("float64", "float32", "float16", "bfloat16")
_BACKEND_COLUMNS = 6


def _backend_groups(backends: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The backends by data type: (the type, [(backend, its column heading)]); a backend
    without a type in its name joins the first group (torch's gradcheck runs in float64)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    untyped: list[tuple[str, str]] = []
    for backend in backends:
        stem, _, dtype = backend.rpartition("-")
        if stem and dtype in _DTYPES:
            groups.setdefault(dtype, []).append((backend, stem))
        else:
            untyped.append((backend, backend))
    ordered = list(groups.items()) or [("", [])]
    first_type, first = ordered[0]
    ordered[0] = (first_type, first + untyped)
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for dtype, members in ordered:
        for start in range(0, len(members), _BACKEND_COLUMNS):
            out.append((dtype, members[start : start + _BACKEND_COLUMNS]))
    return [group for group in out if group[1]]


def _heading(name: str) -> str:
    """A backend's column heading, broken at its hyphens (finite-diff over two lines)."""
    parts = [escape(part) for part in name.split("-")]
    if len(parts) == 1:
        return f"\\texttt{{{parts[0]}}}"
    return "\\shortstack[r]{" + "-\\\\".join(f"\\texttt{{{p}}}" for p in parts) + "}"


def _verification(doc: _Doc, checks: Sequence[Mapping[str, Any]]) -> None:
    doc.section("Verification")
    quantities: list[str] = []
    backends: list[str] = []
    worst: dict[tuple[str, str], tuple[float, bool]] = {}
    for check in checks:
        q, b = str(check["quantity"]), str(check["backend"])
        if q not in quantities:
            quantities.append(q)
        if b not in backends:
            backends.append(b)
        error, ok = worst.get((q, b), (0.0, True))
        worst[(q, b)] = (max(error, float(check["max_abs_err"])), ok and bool(check["ok"]))
    failed = sum(1 for _, ok in worst.values() if not ok)
    configs = {repr(check.get("config")) for check in checks}
    intro = (
        "Every quantity was recomputed by independent backends and compared with the exact "
        "values above; each cell is the largest absolute error"
        + (f" over {len(configs)} configurations" if len(configs) > 1 else "")
        + " (\\ok: within the tolerance of its data type, \\bad: not), one table per data "
        "type. " + ("All checks hold." if failed == 0 else f"\\textbf{{{failed} checks fail.}}")
    )
    for number_, (dtype, members) in enumerate(_backend_groups(backends)):
        header = " & ".join(_heading(heading) for _, heading in members)
        rows = []
        for q in quantities:
            cells = []
            for backend, _ in members:
                if (q, backend) not in worst:
                    cells.append("--")
                    continue
                error, ok = worst[(q, backend)]
                mark = r"\ok" if ok else r"\bad"
                cells.append(f"${_sci(error)}$\\,{mark}")
            rows.append(f"{_quantity_tex(q)} & " + " & ".join(cells) + " \\\\")
        title = (
            f"\\multicolumn{{{len(members) + 1}}}{{@{{}}l}}{{\\textbf{{{escape(dtype)}}}}} \\\\\n"
            if dtype
            else ""
        )
        spec = "l" + "r" * len(members)
        doc.add(
            _kept_together(
                *([intro] if number_ == 0 else []),  # the text stays with its table
                "\\centering\\setlength{\\tabcolsep}{3pt}\n"
                f"\\begin{{tabular}}{{@{{}}{spec}@{{}}}}\n\\toprule\n{title}"
                f"quantity & {header} \\\\\n\\midrule\n"
                + "\n".join(rows)
                + "\n\\bottomrule\n\\end{tabular}",
            )
        )


_MODEL_NAMES = {
    "mlp": "MLP",
    "cnn": "CNN",
    "cnn_augmented": "CNN trained with random shifts",
    "cnn_blurpool": "CNN with blur-pool (anti-aliased)",
    "cnn_circular_gap": "CNN, circular padding, global average pool",
}

# what each plot of `symconv equivariance` shows (by its file name)
_FIGURE_CAPTIONS = {
    "accuracy": "Validation accuracy of each model on the original MNIST digits (blue) and on "
    "the same digits shifted right and down (orange); error bars: the spread over seeds.",
    "layer_equivariance": "Equivariance error (relative $L_2$) of each trained CNN, layer by "
    "layer, against the shift $\\Delta$ modulo the network's cumulative stride of 4: a "
    "stride-$s$ layer is exactly equivariant only for shifts that are multiples of $s$.",
    "mnist1d": "MNIST-1D: test accuracy of a 1-D MLP and a 1-D CNN against the shift of "
    "the signal, in samples (zero fill).",
    "shift_sweep": "Validation accuracy of each model for every shift of the digits "
    "($dx$ right, $dy$ down, in pixels): zero fill in the top row, circular shifts in the "
    "bottom row.",
}
# a plot this much wider than high gets a landscape page of its own, to be readable
_WIDE = 2.2


def _png_aspect(path: Any) -> float:
    """Width over height of a PNG (from its IHDR chunk); 1.5 when it cannot be read."""
    import struct
    from pathlib import Path

    try:
        with Path(path).open("rb") as handle:
            header = handle.read(24)
        width_px, height_px = struct.unpack(">II", header[16:24])
    except (OSError, struct.error):
        return 1.5
    return width_px / height_px if height_px else 1.5


def _caption(stem: str) -> str:
    if stem in _FIGURE_CAPTIONS:
        return _FIGURE_CAPTIONS[stem]
    return "Plot of the equivariance experiment: " + escape(stem.replace("_", " ")) + "."


def _percent(value: float) -> str:
    return f"{100 * value:.1f}\\,\\%"


def _experiment(
    doc: _Doc, experiment: Experiment, figures: Sequence[str], *, exercise: bool
) -> None:
    doc.section("Equivariance experiment")
    lead = (
        "The exercise's second part: the same digits classified as given and shifted by two "
        "pixels right and down."
        if exercise
        else "The numerical companion of the derivation: MNIST digits classified as given and "
        "shifted by two pixels right and down."
    )
    doc.add(
        lead + " A convolution layer is shift-\\emph{equivariant} (with "
        "circular padding and shifts that are multiples of the stride, exactly), but a "
        "network with a flattening dense head is not shift-\\emph{invariant}; augmentation, "
        "anti-aliasing and a global-average-pool head are the remedies measured here."
    )
    models = [m for m in MODELS if m in experiment.accuracy] + [
        m for m in experiment.accuracy if m not in MODELS
    ]

    def name(model: str) -> str:
        return escape(_MODEL_NAMES.get(model, model))

    def accuracy(model: str, which: int) -> str:
        text = _percent(experiment.accuracy[model][which])
        if model in experiment.spread:
            text += f" $\\pm$ {100 * experiment.spread[model][which]:.1f}"
        return text

    rows = []
    for model in models:
        original, shifted = experiment.accuracy[model]
        change = 100 * (shifted - original)
        sign = "-" if change < 0 else "+"
        rows.append(
            f"{name(model)} & {accuracy(model, 0)} & {accuracy(model, 1)} & "
            f"${sign}{abs(change):.1f}$ \\\\"
        )
    described = [
        f"\\textbf{{{name(m)}}}: {typeset(experiment.descriptions[m])}"
        for m in models
        if m in experiment.descriptions
    ]
    doc.add(
        _kept_together(
            "Validation accuracy on the original images and on the same images shifted (mean "
            "$\\pm$ standard deviation over seeds where several were run):",
            "\\centering\n\\begin{tabular}{@{}lrrr@{}}\n\\toprule\nmodel & original & shifted "
            "& change (points) \\\\\n\\midrule\n"
            + "\n".join(rows)
            + "\n\\bottomrule\n\\end{tabular}",
        )
    )
    if described:
        doc.items(described)
    if experiment.invariance_error:
        rows = []
        for model in [m for m in models if m in experiment.invariance_error]:
            stable = experiment.stability.get(model, {})
            cells = [
                f"${_sci(experiment.invariance_error[model])}$",
                _percent(stable["consistency"]) if "consistency" in stable else "--",
                _percent(stable["p_change"]) if "p_change" in stable else "--",
            ]
            rows.append(f"{name(model)} & " + " & ".join(cells) + " \\\\")
        doc.add(
            _kept_together(
                "The invariance error is the largest relative change of the logits under "
                "circular shifts by multiples of the network's stride; consistency is the "
                "probability that two random shifts give the same prediction, and the last "
                "column the probability that a one-pixel shift changes it.",
                "\\centering\n\\begin{tabular}{@{}lrrr@{}}\n\\toprule\nmodel & invariance "
                "error & consistency & P(top-1 changes) \\\\\n\\midrule\n"
                + "\n".join(rows)
                + "\n\\bottomrule\n\\end{tabular}",
            )
        )
    for model, table in experiment.layers.items():
        rows = [
            f"{escape(layer)} & {delta} & ${_sci(l2)}$ & ${_sci(cosine)}$ \\\\"
            for layer, delta, l2, cosine in table[:40]
        ]
        doc.add(
            _kept_together(
                f"Equivariance error of each layer of the trained model "
                f"\\emph{{{name(model)}}}, by the shift $\\Delta$ modulo the cumulative stride:",
                "\\centering\n\\begin{tabular}{@{}lrrr@{}}\n\\toprule\nlayer & "
                "$\\Delta \\bmod 4$ & relative $L_2$ & cosine distance \\\\\n\\midrule\n"
                + "\n".join(rows)
                + "\n\\bottomrule\n\\end{tabular}",
            )
        )
    wide = []
    for figure, path in zip(figures, experiment.plots):
        caption = _caption(path.stem)
        if _png_aspect(path) > _WIDE:
            wide.append((figure, caption))
            continue
        doc.add(
            "\\begin{figure}[htbp]\n\\centering\n"
            "\\includegraphics[width=0.85\\linewidth,height=0.42\\textheight,keepaspectratio]"
            f"{{{figure}}}\n\\caption{{{caption}}}\n\\end{{figure}}"
        )
    for figure, caption in wide:  # a landscape page each: the panels at a readable size
        doc.add(
            "\\begin{landscape}\n\\centering\n"
            "\\includegraphics[width=\\linewidth,height=0.8\\textheight,keepaspectratio]"
            f"{{{figure}}}\n\\captionof{{figure}}{{{caption}}}\n\\end{{landscape}}"
        )


_VERDICT_STYLE = {
    "correct": "\\textcolor{green!50!black}{correct}",
    "incorrect": "\\textcolor{red!70!black}{\\textbf{incorrect}}",
    "notation": "\\textcolor{orange!80!black}{notation}",
    "unchecked": "\\textcolor{gray}{unchecked}",
}


def _submission(doc: _Doc, submission: Submission) -> None:
    doc.section("Checking a submission")
    name = escape(submission.file)
    if submission.note is not None:
        doc.add(f"\\texttt{{{name}}}: {escape(submission.note)}")
        return
    counts = ", ".join(
        f"{count} {escape(str(verdict))}" for verdict, count in submission.summary.items()
    )
    doc.add(
        f"The equations of \\texttt{{{name}}} compared with this sheet by "
        f"\\texttt{{symconv check}}"
        + (f": {counts}." if counts else ".")
        + " Each row shows the equation as the submission wrote it"
        " (set in type, or as its source when it uses commands outside the usual math),"
        " then the verdict and why."
    )
    rows = []
    for equation in submission.equations:
        verdict = str(equation.get("verdict", ""))
        message = str(equation.get("message") or "")
        diagnosis = equation.get("diagnosis")
        label = str(equation.get("label", ""))
        line = str(equation.get("line", ""))
        shown_label = "" if label == f"line {line}" else escape(label)
        source = str(equation.get("latex") or "")
        words = _VERDICT_STYLE.get(verdict, escape(verdict))
        if message:
            words += ": " + typeset(message)
        if diagnosis:
            words += f" ({typeset(str(diagnosis))})"
        # what was written, then the verdict below it, in one wide cell
        written = written_tex(source) if submission.typeset else source_tex(source)
        cell = f"{written}\\par\\smallskip {words}" if source.strip() else words
        rows.append(f"{shown_label} & {escape(line)} & {cell} \\\\[0.6ex]")
    doc.add(
        "\\begin{longtable}{@{}l r >{\\raggedright\\arraybackslash}p{0.84\\textwidth}@{}}\n"
        "\\toprule\neq. & line & as written, and the verdict \\\\\n\\midrule\n\\endhead\n"
        + "\n".join(rows)
        + "\n\\bottomrule\n\\end{longtable}"
    )


# ---------------------------------------------------------------------------------------


def render_report(
    d: Derivation,
    *,
    title: str | None = None,
    verification: Sequence[Mapping[str, Any]] | None = None,
    experiment: Experiment | None = None,
    figures: Sequence[str] = (),
    submission: Submission | None = None,
) -> str:
    """The LaTeX source of the solution sheet of ``d`` (built with ``form="both"``).

    ``title`` replaces the problem's title; ``verification`` holds design.md's verify
    checks; ``experiment`` the validated results with ``figures``, the file names its plots
    will have beside the .tex; ``submission`` the check verdicts.  Deterministic.

    Example:
        >>> from symconv.derivation import build
        >>> from symconv.problem import load_problem
        >>> tex = render_report(build(load_problem("exercise2")))
        >>> r"\\tag{15a}" in tex
        True
    """
    problem = d.problem
    closed = d.closed
    if not worked_in_1d(problem):
        return _general_report(
            d,
            title=title,
            verification=verification,
            experiment=experiment,
            figures=figures,
            submission=submission,
        )
    if closed is None:
        raise ValueError("render_report needs the closed form (build with form='both')")
    doc = _Doc()
    _problem_section(doc, problem, closed)
    _closed_section(doc, problem, closed)
    e = d.explicit
    if e is not None:
        no = _Numbering(min(problem.m, MAX_OUTPUTS))
        doc.section("The derivation with symbols")
        _forward_symbols(doc, d, e, no)
        _loss_symbols(doc, d, e, no)
        _backward_symbols(doc, d, e, no)
        _update_symbols(doc, d, e, no)
        if d.steps:
            _numbers_section(doc, d, e, no)
    else:
        doc.add(
            f"The explicit derivation ($n k = {problem.n * problem.k}$ terms) is not expanded; "
            "the general solution above holds for every $n$."
        )
    _conventions(doc, problem)
    if verification is not None:
        _verification(doc, verification)
    if experiment is not None:
        _experiment(doc, experiment, figures, exercise=is_exercise(problem))
    if submission is not None:
        _submission(doc, submission)
    heading = escape(title if title is not None else problem.title)
    return (
        _PREAMBLE
        + f"\n\\title{{{heading}}}\n\\author{{Solution sheet}}\n\\date{{}}\n\n"
        + "\\begin{document}\n\\maketitle\n\n"
        + doc.text()
        + "\n\n\\end{document}\n"
    )


# ---------------------------------------------------------------------------------------
# a layer beyond 1-D with one channel: its shapes and its numbers (feature maps as matrices
# while they fit on the page; summaries beyond)

_GIVEN = " (given)"


def _shape_tex(shape: Sequence[int]) -> str:
    return r" \times ".join(map(str, shape)) if shape else "1"


def _words(item: Shown) -> str:
    """``The weights (given), 1 × 2 × 2 × 2``: what a quantity is, in words."""
    q = item.quantity
    return q.words[0].upper() + q.words[1:] + (_GIVEN if q.given else "")


def _general_numbers(doc: _Doc, d: Derivation) -> None:
    """Every quantity of the first step as :func:`symconv.worked.shown` says to show it:
    a number, a list, labelled matrices (one per example and channel), or a row of the
    summary table (shape, first entries, range)."""
    if not d.steps:
        doc.add("No values are given: the derivation stays symbolic.")
        return
    doc.section("The numbers")
    doc.add(
        "Entries are listed row-major; a matrix shows the last two axes for one index of the "
        "leading axes (example, channel), written as its subscript."
    )
    summary: list[str] = []
    for item in shown(d.problem, d.steps[0]):
        symbol = item.quantity.latex
        if item.how == "number":
            doc.add(f"{_words(item)}: ${symbol} = {number(item.values[0])}$.")
        elif item.how == "list":
            entries = r", \allowbreak ".join(number(v) for v in item.values)  # may break
            doc.add(f"{_words(item)}, ${_shape_tex(item.shape)}$: ${symbol} = ({entries})$.")
        elif item.how == "summary":
            first = ", ".join(number(v) for v in item.first(4))
            summary.append(
                f"${symbol}$ & ${_shape_tex(item.shape)}$ & ${first}, \\ldots$ & "
                f"${number(item.low)}$ & ${number(item.high)}$ \\\\"
            )
        else:
            # the sentence stays on the page of its first row of matrices
            lines = math.ceil(1.3 * len(item.maps[0].rows)) + 4
            doc.add(
                f"\\needspace{{{lines}\\baselineskip}}{_words(item)}, ${_shape_tex(item.shape)}$:"
            )
            doc.add(_matrices(symbol, item.maps))
    if summary:
        doc.add(
            _kept_together(
                "Tensors too large to print, by their shape, first entries and range "
                "(\\texttt{symconv derive -{}-json} lists every entry):",
                "\\centering\n\\begin{tabular}{@{}lllrr@{}}\n\\toprule\n"
                "quantity & shape & first entries & min & max \\\\\n\\midrule\n"
                + "\n".join(summary)
                + "\n\\bottomrule\n\\end{tabular}",
            )
        )


def _matrices(symbol: str, maps: Sequence[Block]) -> str:
    """Labelled matrices, as many on a line as fit in its width."""
    lines: list[list[str]] = [[]]
    used = 0.0
    for block in maps:
        body = matrix([[number(v) for v in row] for row in block.rows])
        lhs = f"\\left({symbol}\\right)_{{{block.label}}} = "
        cell, cell_width = lhs + body.text, width(lhs) + body.width
        if lines[-1] and used + cell_width > LINE_UNITS:
            lines.append([])
            used = 0.0
        lines[-1].append(cell)
        used += cell_width + 4.0
    body_text = " \\\\\n".join(" \\qquad ".join(line) for line in lines)
    return "\\begin{gather*}\n" + body_text + "\n\\end{gather*}"


_GENERAL_CLOSED = (
    (r"\hat{y}_{\beta, c, \mathbf{i}}", "yhat"),
    (L, "loss"),
    (rf"\frac{{\partial {L}}}{{\partial \hat{{y}}_{{\beta, c, \mathbf{{i}}}}}}", "grad_yhat"),
    (rf"\frac{{\partial {L}}}{{\partial w_{{c, \kappa, \mathbf{{j}}}}}}", "grad_w"),
    (rf"\frac{{\partial {L}}}{{\partial b_{{c}}}}", "grad_b"),  # untied: b_{c, i}
    (
        rf"\frac{{\partial {L}}}{{\partial \tilde{{x}}_{{\beta, \gamma, \mathbf{{q}}}}}}",
        "grad_xpad",
    ),
    (rf"\frac{{\partial {L}}}{{\partial x_{{\beta, \gamma, \mathbf{{t}}}}}}", "grad_x"),
    (r"w^{(1)}_{c, \kappa, \mathbf{j}}", "w_next"),
    (r"b^{(1)}_{c}", "b_next"),  # untied: b^{(1)}_{c, i}
)


def _general_closed(doc: _Doc, d: Derivation) -> None:
    """The closed form in symbolic sizes, derived by SymPy, then with the layer's sizes
    (:func:`symconv.worked.closed_rows`)."""
    doc.section("The general solution")
    doc.add(note_tex(closed_legend(d.problem)))
    lhs_of = {key: lhs for lhs, key in _GENERAL_CLOSED}
    if d.problem.bias == "untied":
        lhs_of["grad_b"] = rf"\frac{{\partial {L}}}{{\partial b_{{c, \mathbf{{i}}}}}}"
        lhs_of["b_next"] = r"b^{(1)}_{c, \mathbf{i}}"
    for row in closed_rows(d):
        body = f"{lhs_of[row.key]} = {latex(row.general)}"
        if row.here is not None:
            body += f" = {latex(row.here)}"
        doc.add(f"\\begin{{dmath*}}\n{body}\n\\end{{dmath*}}")


def _layer_section(doc: _Doc, problem: Problem) -> None:
    """The layer, its tensors (:func:`symconv.worked.tensors`) and output sizes
    (:func:`symconv.worked.output_sizes`), the loss and the optimizer."""
    layer = problem.layer
    doc.section("The layer")
    described = layer.describe()
    doc.add(escape(described[0].upper() + described[1:]) + ".")
    table = "\n".join(
        f"{escape(t.quantity.words.removeprefix('the '))} & ${t.quantity.latex}$ & "
        f"${_shape_tex(t.shape)}$ & {escape(t.axes)} \\\\"
        for t in tensors(problem)
    )
    doc.add(
        _kept_together(
            "\\centering\n\\begin{tabular}{@{}llll@{}}\n\\toprule\n"
            "tensor & symbol & shape & axes \\\\\n\\midrule\n"
            + table
            + "\n\\bottomrule\n\\end{tabular}"
        )
    )
    sizes = ", ".join(
        f"$\\lfloor ({a.n} + {a.before} + {a.after} - {a.dilation} \\cdot {a.k - 1} - 1)"
        f"/{a.stride} \\rfloor + 1 = {a.m}$"
        for a in output_sizes(problem)
    )
    doc.add(
        "Each output entry is a cross-correlation (no kernel flip) of its group's input "
        f"channels with one kernel: ${layer.taps_per_output}$ products, ${layer.terms}$ in "
        "all.  Output size per axis, "
        "$\\lfloor (n + p_{\\text{before}} + p_{\\text{after}} - d(k-1) - 1)/s \\rfloor + 1$: "
        + sizes
        + "."
    )
    spec = problem.loss_spec
    steps = "one step" if problem.steps == 1 else f"{problem.steps} steps"
    loss = re.sub(r"(?<![\\A-Za-z])L(?![A-Za-z])", lambda _: L, spec.latex)  # the registry's L
    doc.add(
        f"Loss: ${loss}$ ({typeset(spec.words)}); {steps} of gradient descent with "
        f"learning rate $\\alpha = {number(problem.lr)}$."
    )


def _general_report(
    d: Derivation,
    *,
    title: str | None,
    verification: Sequence[Mapping[str, Any]] | None,
    experiment: Experiment | None,
    figures: Sequence[str],
    submission: Submission | None,
) -> str:
    """The solution sheet of a layer beyond 1-D with one channel (see :func:`render_report`)."""
    problem = d.problem
    doc = _Doc()
    _layer_section(doc, problem)
    if d.general is not None:
        _general_closed(doc, d)
    _general_numbers(doc, d)
    _conventions(doc, problem)
    if verification is not None:
        _verification(doc, verification)
    if experiment is not None:
        _experiment(doc, experiment, figures, exercise=is_exercise(problem))
    if submission is not None:
        _submission(doc, submission)
    heading = escape(title if title is not None else problem.title)
    return (
        _PREAMBLE
        + "\\usepackage{breqn}  % long closed-form equations break across lines\n"
        + f"\n\\title{{{heading}}}\n\\author{{Solution sheet}}\n\\date{{}}\n\n"
        + "\\begin{document}\n\\maketitle\n\n"
        + doc.text()
        + "\n\n\\end{document}\n"
    )
