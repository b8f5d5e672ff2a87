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

The 1-D sections print the model of the worked derivation, built once
(:func:`symconv.worked1d.worked`): its closed forms, and its equations' terms (which
output reads which input under which tap, which bias each output adds), numbers and
values; the bias mode is asked of :func:`symconv.notation.bias_notation`.  The report also
prints the shared, backend-neutral pieces of :mod:`symconv.worked` (the terminal printer
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
from collections.abc import Callable, Mapping, Sequence
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
from symconv.notation import QUANTITIES, bias_notation
from symconv.problem import Problem
from symconv.symbolic.closed import specialize
from symconv.symbolic.explicit import ExplicitDerivation
from symconv.worked import (
    Block,
    Note,
    Shown,
    bias_words,
    closed_legend,
    closed_rows,
    conventions,
    is_exercise,
    output_sizes,
    shown,
    tensors,
)
from symconv.worked1d import Closed, Equation, Factor, Term, Worked, worked

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


# ---------------------------------------------------------------------------------------
# the 1-D worked derivation: a printer of symconv.worked1d's model (which output reads
# which input under which tap, the bias entries and every value come from its equations)


def _closed_of(model: Worked, section: str, key: str) -> Closed:
    closed = model.section(section).closed_of(key)
    if closed is None:
        raise ValueError(f"render_report needs the closed form of {key!r} (build with form='both')")
    return closed


def _problem_section(doc: _Doc, model: Worked) -> None:
    problem, closed = model.problem, model.closed
    assert closed is not None
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
        + (
            "respect to the kernel, the bias and the input"
            if model.bias.present
            else "respect to the kernel and the input"
        )
        + ", and one step of gradient descent"
        + ("; then evaluate everything for the given values." if problem.has_values else ".")
    )
    padding = f"$p = {p}$" + (f" ({problem.padding_mode})" if p else "")
    loss_general = latex(_closed_of(model, "loss", "loss").general)
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
        ("Bias", _spans_tex(bias_words(problem))),
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
    order = "(forward pass per output position, loss, backward pass, update" + (
        ", then the same with numbers)" if model.has_numbers else ")"
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


# the general solution's equation tags, by quantity
_CLOSED_TAGS = {
    "yhat": "G1",
    "loss": "G2",
    "grad_yhat": "G3",
    "grad_w": "G4",
    "grad_b": "G5",
    "grad_x": "G6",
    "w_next": "G7",
    "b_next": "G8",
}


def _general_eq(lhs: str, closed: Closed, tag: str) -> Eq:
    """``lhs = general formula (tag)``, then ``=here`` with this problem's sizes."""
    general = latex(closed.general)
    links = [Link([piece(general)], tag)]
    here = None if closed.here is None else latex(closed.here)
    if here is not None and here != general:
        links.append(Link([piece(here)], relation=r"\overset{\text{here}}{=}"))
    return Eq(lhs, links)


def _closed_section(doc: _Doc, model: Worked) -> None:
    problem = model.problem
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
    per_output = model.bias.per_output
    lhs = {
        "yhat": r"\hat{y}_{i}",
        "loss": L,
        "grad_yhat": rf"g_{{i}} = {_d(L, YHAT_I)}",
        "grad_w": _d(L, "w_{j}"),
        "grad_b": _d(L, "b_{i}") if per_output else _d(L, "b"),
        "grad_x": _d(L, "x_{t}"),
        "w_next": "w_{j}^{(1)}",
        "b_next": "b_{i}^{(1)}" if per_output else "b^{(1)}",
    }
    doc.eqs(
        [
            _general_eq(lhs[closed.key], closed, _CLOSED_TAGS[closed.key])
            for section in model.sections
            for closed in section.closed
        ]
    )
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


def _explicit(model: Worked) -> ExplicitDerivation:
    if model.explicit is None:
        raise ValueError("the derivation with symbols needs the explicit form")
    return model.explicit


def _expr(model: Worked, f: Factor) -> Expr:
    """A named entry as math: the symbol of x_t, w_j or b_i; ∂L/∂ŷᵢ as its expression with
    the common factor pulled out ((ŷᵢ − yᵢ)/3, not ŷᵢ/3 − yᵢ/3)."""
    if f.key == "grad_yhat":
        return _g(model, f.index or 0)
    symbols = _explicit(model).symbols
    entries = {"x": symbols.x, "w": symbols.w, "b": symbols.bias_list()}[f.key]
    return entries[f.index or 0]


def _g(model: Worked, i: int) -> Expr:
    """∂L/∂ŷᵢ with its common factor pulled out: (ŷᵢ − yᵢ)/3, not ŷᵢ/3 − yᵢ/3."""
    expr = model.section("grad_yhat").equations[i].expr
    assert expr is not None
    return factor_terms(expr)


def _equation(model: Worked, f: Factor) -> Equation:
    """The equation that derives the named entry ``f`` (∂L/∂w_j, ∂L/∂b_i, …)."""
    for section in model.sections:
        for eq in section.equations:
            if eq.key == f.key and eq.index == f.index:
                return eq
    raise KeyError(f"no equation for {f}")


def _product_tex(model: Worked, term: Term) -> str:
    """``(ŷ₁ − y₁)·x₁``: a term's factors multiplied as written, printed by SymPy."""
    exprs = [_expr(model, f) for f in term.factors]
    return latex(exprs[0] if len(exprs) == 1 else Mul(*exprs, evaluate=False))


def _products(model: Worked, eq: Equation) -> list[str]:
    """The terms of a chain-rule sum, each a product (∂L/∂w_j: ∂L/∂ŷᵢ·x_t, …)."""
    return [_product_tex(model, term) for term in eq.terms]


def _entries(eq: Equation) -> dict[Factor, Any]:
    """The value of each factor of an equation's terms (with values)."""
    return {
        f: value
        for term, values in zip(eq.terms, eq.numbers or ())
        for f, value in zip(term.factors, values)
    }


def _window_cells(model: Worked, eq: Equation) -> list[str]:
    """The inputs under the window of a forward equation (0: padding)."""
    return ["0" if t is None else latex(_expr(model, Factor("x", t))) for t in eq.window]


def _window_values(eq: Equation) -> list[str]:
    """The values under the window of a forward equation (0: padding)."""
    values = _entries(eq)
    return ["0" if t is None else number(values[Factor("x", t)]) for t in eq.window]


def _dot(row: Sequence[str], col: Sequence[str], k: int) -> list[Piece]:
    """``[w₁ … w_k]·[x…]ᵀ`` as a row vector times a column vector (k small)."""
    if k > _MAX_ROW_VECTOR:
        return []
    return [matrix([list(row)]), column(list(col), cap=_MAX_MATRIX)]


def _bias_term(model: Worked, eq: Equation, *, values: bool = False) -> str | None:
    """The bias a forward equation adds (its one-factor term): ``b_{2}``, ``b`` or its value;
    None without a bias."""
    for position, term in enumerate(eq.terms):
        if len(term.factors) == 1:
            if values:
                assert eq.numbers is not None
                return number(eq.numbers[position][0])
            return model.bias.latex_name(term.factors[0].index or 0)
    return None


def _forward_symbols(doc: _Doc, model: Worked, no: _Numbering) -> None:
    problem = model.problem
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
    w_row = [latex(_expr(model, Factor("w", j))) for j in range(problem.k)]
    eqs = []
    for eq in model.section("forward").equations[: no.shown]:
        i = eq.index or 0
        assert eq.expr is not None
        bias = _bias_term(model, eq)
        product = _dot(w_row, _window_cells(model, eq), problem.k)
        links = []
        if product:
            links.append(Link([*product, piece(f"+ {bias}")] if bias else product, f"{i + 1}a"))
        links.append(Link(_joined(terms(eq.expr)), f"{no.forward(i)}{'b' if product else ''}"))
        eqs.append(Eq(_yhat(i), links))
    doc.eqs(eqs)
    if problem.m > no.shown:
        doc.add(
            f"The outputs $\\hat{{y}}_{{{no.shown + 1}}}, \\dots, \\hat{{y}}_{{{problem.m}}}$ "
            "follow the same pattern, each window moved by $s$."
        )


def _loss_symbols(doc: _Doc, model: Worked, no: _Numbering) -> None:
    closed = model.closed
    assert closed is not None
    (eq,) = model.section("loss").equations
    assert eq.expr is not None
    doc.subsection("Loss")
    # the closed form with the sizes put in, its sum as SymPy prints it unfactored
    general = latex(specialize(closed.loss, model.problem))
    doc.eqs([Eq(L, [Link([piece(general)]), Link(_capped_terms(eq.expr), str(no.loss))])])


def _capped_terms(expr: Expr, values: Mapping[Symbol, Any] | None = None) -> list[Piece]:
    """The terms of a sum, at most 8 of them written out."""
    parts = terms(expr, values)
    if len(parts) > 8:
        parts = [*parts[:6], r"+ \cdots", parts[-1]]
    return _joined(parts)


def _fits(entries: Sequence[str], room: float) -> bool:
    """True when a column of these entries leaves room for a matrix beside it."""
    return max((piece(entry).width for entry in entries), default=0.0) <= room


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


def _window_matrix_t(model: Worked, cells: Callable[[Equation], list[str]]) -> list[list[str]]:
    """(∂ŷ/∂w)ᵀ: row j holds the input under tap j of every output's window (k × m)."""
    return [list(row) for row in zip(*(cells(eq) for eq in model.section("forward").equations))]


def _backward_symbols(doc: _Doc, model: Worked, no: _Numbering) -> None:
    problem = model.problem
    e = _explicit(model)
    m, k, n = problem.m, problem.k, problem.n
    tag = str(no.backward)
    g_entries = [latex(_g(model, i)) for i in range(m)]
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
    jac_t = _window_matrix_t(model, lambda eq: _window_cells(model, eq))
    eqs += _vector_or_rows(
        _d(L, W),
        [_d(L, f"w_{{{j + 1}}}") for j in range(k)],
        [Link([piece(_chain(W))], f"{tag}b")],
        [*_jacobian_piece(jac_t), column(g_entries)] if m <= _MAX_MATRIX else [],
        [_joined(_signed(_products(model, eq))) for eq in model.section("grad_w").equations],
        f"{tag}c",
        room,
    )

    # bias: per output ∂ŷ/∂b = I (one bias per output), shared ∂ŷ/∂b = 1 (a column of ones)
    if model.bias.jacobian == "identity":
        identity = [["1" if r == c else "0" for c in range(m)] for r in range(m)]
        links = [Link([piece(_chain(B))], f"{tag}d")]
        if m <= _MAX_ROW_VECTOR:
            links.append(Link([matrix(identity), column(g_entries)]))
        entries = [_sum_text(_products(model, eq)) for eq in model.section("grad_b").equations]
        links.append(Link([column(entries)], f"{tag}e"))
        eqs.append(Eq(_d(L, B), links))
    elif model.bias.jacobian == "ones":
        ones = rf"\mathbf{{1}}_{{{m}}}^{{\top}} {_d(L, YHAT)}"
        (grad_b,) = model.section("grad_b").equations
        summed = _products(model, grad_b)
        shown = summed if len(summed) <= 8 else [*summed[:6], r"\cdots", summed[-1]]
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
    jac_x_t = [[latex(e.jac_x[i, t]) for i in range(m)] for t in range(n)]
    eqs += _vector_or_rows(
        _d(L, X),
        [_d(L, f"x_{{{t + 1}}}") for t in range(n)],
        [Link([piece(_chain(X))], f"{tag}f")],
        [*_jacobian_piece(jac_x_t), column(g_entries)] if m <= _MAX_MATRIX else [],
        [_joined(_signed(_products(model, eq))) for eq in model.section("grad_x").equations],
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
        + _BIAS_GRADIENT_WORDS[model.bias.jacobian]
    )


# why the bias gradient (e) is what it is, by ∂ŷ/∂b (symconv.notation.BiasNotation.jacobian)
_BIAS_GRADIENT_WORDS = {
    "identity": "The bias gradient (e) is the output gradient itself: with an untied bias "
    "$\\partial\\hat{y}_i/\\partial b_l$ is $1$ for $l = i$ and $0$ otherwise.",
    "ones": "The shared bias is added to every output, so its gradient (e) is the sum of "
    "the output gradients.",
    None: "",
}


def _update_symbols(doc: _Doc, model: Worked, no: _Numbering) -> None:
    """θ⁽¹⁾ = θ − α·(the chain-rule sum of ∂L/∂θ), for every weight and bias parameter."""
    problem = model.problem
    tag = str(no.update)
    doc.subsection(r"Update: one step of gradient descent")
    doc.add(
        "Every parameter moves against its gradient, $\\theta^{(1)} = \\theta - \\alpha\\, "
        f"\\partial {L} / \\partial \\theta$. The learning rate multiplies the \\emph{{whole}} "
        "gradient: it needs parentheses around a sum."
    )
    room = rhs_room([Eq(W_NEXT)])
    update = model.section("update")

    def parts(eq: Equation) -> tuple[str, list[str]]:
        """θ and the products of ∂L/∂θ: the terms θ and −α·∂L/∂θ of an update."""
        param, step = eq.terms
        return latex(_expr(model, param.factors[0])), _products(
            model, _equation(model, step.factors[-1])
        )

    w_entries = [_minus_alpha(*parts(eq)) for eq in update.of("w_next")]
    eqs = _vector_or_rows(
        W_NEXT,
        [f"w_{{{j + 1}}}^{{(1)}}" for j in range(problem.k)],
        [Link([piece(rf"\mathbf{{w}} - \alpha \, {_d(L, W)}")])],
        [],
        w_entries,
        f"{tag}a",
        room,
    )
    b_next = update.of("b_next")
    if model.bias.per_output:
        eqs += _vector_or_rows(
            B_NEXT,
            [f"b_{{{i + 1}}}^{{(1)}}" for i in range(len(b_next))],
            [Link([piece(rf"\mathbf{{b}} - \alpha \, {_d(L, B)}")])],
            [],
            [_minus_alpha(*parts(eq)) for eq in b_next],
            f"{tag}b",
            room,
        )
    elif b_next:
        (eq,) = b_next
        param, texts = parts(eq)
        if len(texts) > 8:
            texts = [*texts[:6], r"\cdots", texts[-1]]
        eqs.append(
            Eq(
                "b^{(1)}",
                [
                    Link([piece(rf"b - \alpha \, {_d(L, 'b')}")]),
                    Link(_minus_alpha(param, texts), f"{tag}b"),
                ],
            )
        )
    doc.eqs(eqs)


# ---------------------------------------------------------------------------------------
# explicit, with numbers


def _forward_numbers(
    model: Worked,
    equations: Sequence[Equation],
    weights: str,
    tags: Sequence[str],
    upper: str,
) -> list[Eq]:
    """ŷᵢ = [w]·[window] + bᵢ = Σ w·x + b = value, for the shown outputs (``weights``:
    the key of the weights they use, ``"w"`` or ``"w_next"``)."""
    k = model.problem.k
    w_row = [number(model.value(Factor(weights, j))) for j in range(k)]
    eqs = []
    for eq, tag in zip(equations, tags):
        assert eq.expr is not None
        links = []
        product = _dot(w_row, _window_values(eq), k)
        bias = _bias_term(model, eq, values=True)
        if product:
            plus = [piece(f"- {bias[1:]}" if bias.startswith("-") else f"+ {bias}")] if bias else []
            links.append(Link([*product, *plus]))
        links.append(Link(_capped_terms(eq.expr, eq.point)))
        links.append(Link([piece(number(eq.value))], tag))
        eqs.append(Eq(_yhat(eq.index or 0, upper), links))
    return eqs


def _loss_numbers(eq: Equation, tag: str, upper: str) -> Eq:
    assert eq.expr is not None
    return Eq(
        L + upper,
        [Link(_capped_terms(eq.expr, eq.point)), Link([piece(number(eq.value))], tag)],
    )


def _number_sums(eq: Equation) -> str:
    """``12 \\cdot 1 + 16 \\cdot 2``: a chain-rule sum with the values of its factors."""
    assert eq.numbers is not None
    return _sum_text([" \\cdot ".join(factor(v) for v in values) for values in eq.numbers])


def _values(equations: Sequence[Equation]) -> list[Any]:
    return [eq.value for eq in equations]


def _numbers_section(doc: _Doc, model: Worked, no: _Numbering) -> None:
    problem = model.problem
    e = _explicit(model)
    m, n = problem.m, problem.n
    forward = model.section("forward").equations
    after = model.section("after")
    doc.section("With the given values")
    shown = range(no.shown)
    doc.subsection("Forward pass")
    doc.eqs(
        _forward_numbers(model, forward[: no.shown], "w", [f"{no.numbers + i}a" for i in shown], "")
    )
    doc.subsection("Prediction and loss")
    (loss,) = model.section("loss").equations
    doc.eqs(
        [
            Eq(YHAT, [Link([column([number(v) for v in _values(forward)])], str(no.vector))]),
            _loss_numbers(loss, f"{no.loss_value}a", ""),
        ]
    )

    doc.subsection("Backward pass")
    tag = str(no.backward_value)
    grad_yhat = model.section("grad_yhat").equations
    g = [number(eq.value) for eq in grad_yhat]
    g_subst = [latex(_g(model, i), eq.point) for i, eq in enumerate(grad_yhat)]
    eqs = [
        Eq(
            _d(L, YHAT),
            [
                Link([column([latex(_g(model, i)) for i in range(m)])]),
                Link([column(g_subst)]),
                Link([column(g)], f"{tag}a"),
            ],
        )
    ]
    room = rhs_room([Eq(_d(L, W))])
    grad_w = model.section("grad_w").equations
    w_sums = [_number_sums(eq) for eq in grad_w]
    jac_t = _window_matrix_t(model, _window_values)
    eqs.append(_vector_eq(_d(L, W), jac_t, g, w_sums, _values(grad_w), f"{tag}b", room))
    grad_b = model.section("grad_b").equations if model.has("grad_b") else ()
    if model.bias.jacobian == "identity":
        identity = [["1" if r == c else "0" for c in range(m)] for r in range(m)]
        links = []
        if m <= _MAX_ROW_VECTOR:
            links.append(Link([matrix(identity), column(g)]))
        links.append(Link([column([number(v) for v in _values(grad_b)])], f"{tag}c"))
        eqs.append(Eq(_d(L, B), links))
    elif model.bias.jacobian == "ones":
        assert grad_b[0].numbers is not None
        parts = [number(values[0]) for values in grad_b[0].numbers]
        eqs.append(
            Eq(
                _d(L, "b"),
                [
                    Link(_joined(_signed(parts[:8] + ([r"\cdots"] if len(parts) > 8 else [])))),
                    Link([piece(number(grad_b[0].value))], f"{tag}c"),
                ],
            )
        )
    grad_x = model.section("grad_x").equations
    x_sums = [_number_sums(eq) for eq in grad_x]
    weights = forward[0].point  # the weights' values by their symbols
    jac_x_t = [[number(e.jac_x[i, t].xreplace(weights)) for i in range(m)] for t in range(n)]
    eqs.append(_vector_eq(_d(L, X), jac_x_t, g, x_sums, _values(grad_x), f"{tag}d", room))
    doc.eqs(eqs)

    doc.subsection(f"Update with $\\alpha = {number(problem.lr)}$")
    tag = str(no.update_value)
    update = model.section("update")

    def steps(eq: Equation) -> str:
        """``θ - α \\cdot ∂L/∂θ`` with the values: ``2 - 1/100 \\cdot 44``."""
        assert eq.numbers is not None
        ((param,), (lr, grad)) = eq.numbers
        return f"{number(param)} - {number(lr)} \\cdot {factor(grad)}"

    w_next = update.of("w_next")
    eqs = [
        Eq(
            W_NEXT,
            [
                Link([piece(rf"\mathbf{{w}} - \alpha \, {_d(L, W)}")]),
                Link([column([steps(eq) for eq in w_next])]),
                Link([column([number(v) for v in _values(w_next)])], f"{tag}a"),
            ],
        )
    ]
    b_next = update.of("b_next")
    if model.bias.per_output:
        eqs.append(
            Eq(
                B_NEXT,
                [
                    Link([piece(rf"\mathbf{{b}} - \alpha \, {_d(L, B)}")]),
                    Link([column([steps(eq) for eq in b_next])]),
                    Link([column([number(v) for v in _values(b_next)])], f"{tag}b"),
                ],
            )
        )
    elif b_next:
        (eq,) = b_next
        eqs.append(
            Eq(
                "b^{(1)}",
                [
                    Link([piece(rf"b - \alpha \, {_d(L, 'b')}")]),
                    Link([piece(steps(eq))]),
                    Link([piece(number(eq.value))], f"{tag}b"),
                ],
            )
        )
    doc.eqs(eqs)

    doc.subsection("Forward pass with the updated weights and biases")
    doc.eqs(
        _forward_numbers(
            model,
            after.of("yhat_next")[: no.shown],
            "w_next",
            [f"{no.after(i)}a" for i in shown],
            "^{(1)}",
        )
    )
    if m > no.shown:
        doc.add(f"(and so on for the other {m - no.shown} outputs)")
    doc.subsection("Prediction and loss after the update")
    (loss_next,) = after.of("loss_next")
    doc.eqs(
        [
            Eq(
                YHAT_NEXT,
                [
                    Link(
                        [column([number(v) for v in _values(after.of("yhat_next"))])],
                        str(no.vector_after),
                    )
                ],
            ),
            _loss_numbers(loss_next, f"{no.loss_after}a", "^{(1)}"),
        ]
    )
    before, now = loss.value, loss_next.value
    if before is None or now is None:  # an upstream gradient: no loss
        raise UnsupportedLayerError("no worked derivation with an upstream gradient yet")
    change = now - before
    verb = "decreased" if change < 0 else "increased" if change > 0 else "stayed"
    doc.add(
        f"One step of gradient descent {verb} the loss from ${number(before)}$ to "
        f"${number(now)}$" + (f" (by ${number(abs(change))}$)." if change != 0 else ".")
    )
    if len(model.steps) > 1:
        _steps_table(doc, model)


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


def _steps_table(doc: _Doc, model: Worked) -> None:
    """The parameters and the loss after every step (the model's steps)."""
    steps = model.steps
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
    return f"\\textbf{{{escape(note.title)}}} {_spans_tex(note)}"


def _spans_tex(note: Note) -> str:
    """A note's spans as LaTeX: words typeset, math spans as inline math."""
    return "".join(
        typeset(span.unicode) if span.latex is None else f"${span.latex}$" for span in note.spans
    )


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
    model = worked(d)  # the one model of the worked derivation, printed section by section
    doc = _Doc()
    _problem_section(doc, model)
    _closed_section(doc, model)
    if model.explicit is not None:
        no = _Numbering(min(problem.m, MAX_OUTPUTS))
        doc.section("The derivation with symbols")
        _forward_symbols(doc, model, no)
        _loss_symbols(doc, model, no)
        _backward_symbols(doc, model, no)
        _update_symbols(doc, model, no)
        if model.has_numbers:
            _numbers_section(doc, model, no)
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
    if bias_notation(d.problem.bias).per_output:
        lhs_of["grad_b"] = rf"\frac{{\partial {L}}}{{\partial b_{{c, \mathbf{{i}}}}}}"
        lhs_of["b_next"] = r"b^{(1)}_{c, \mathbf{i}}"
    # one dgroup: every equation aligned on its first "=", whether breqn breaks it or not
    # (separate dmath environments centre the short ones and set the long ones flush left)
    rows = []
    for row in closed_rows(d):
        body = f"{lhs_of[row.key]} = {latex(row.general)}"
        if row.here is not None:
            body += f" = {latex(row.here)}"
        rows.append(f"\\begin{{dmath*}}\n{body}\n\\end{{dmath*}}")
    doc.add("\\begin{dgroup*}\n" + "\n".join(rows) + "\n\\end{dgroup*}")


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
