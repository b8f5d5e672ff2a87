"""The worked derivation of a 1-D one-channel layer in the solution sheet: a printer of
:func:`symconv.worked1d.worked`.

Sections follow the exercise and the terminal output (:mod:`symconv.display`): the
problem, the general solution in closed form, the derivation with symbols, the same with
the given values.  The explicit equations carry the exercise's numbers: with m outputs,
``1a``/``1b`` … ``ma``/``mb`` are the forward pass per output position, ``m+1`` the loss,
``m+2a``–``f`` the backward pass (∂L/∂ŷ, the chain rule for w, its expansion, the same
for b, then the input), ``m+3a``/``b`` the update; the numeric part continues at ``m+4``
in the same order, then the forward pass after the update.  For the exercise (m = 2)
these are the submission's (1a) … (15a).  Which entry reads which, and every number, come
from the model; this printer lays them out (row times column, columns of entries, sums
that break between terms).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sympy import Expr, Mul, Symbol, factor_terms

from symconv.derivation import Derivation
from symconv.errors import UnsupportedLayerError
from symconv.latex.layout import (
    Eq,
    Link,
    Piece,
    column,
    matrix,
    piece,
    rhs_room,
)
from symconv.latex.parts import Doc, spans_tex
from symconv.latex.printer import factor, latex, number, terms
from symconv.notation import QUANTITIES
from symconv.symbolic.closed import specialize
from symconv.symbolic.explicit import ExplicitDerivation
from symconv.worked import (
    bias_words,
    is_exercise,
)
from symconv.worked1d import Closed, Equation, Factor, Term, Worked, worked

__all__ = ["MAX_OUTPUTS", "write_derivation"]

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
# the 1-D worked derivation: a printer of symconv.worked1d's model (which output reads
# which input under which tap, the bias entries and every value come from its equations)


def _closed_of(model: Worked, section: str, key: str) -> Closed:
    closed = model.section(section).closed_of(key)
    if closed is None:
        raise ValueError(f"render_report needs the closed form of {key!r} (build with form='both')")
    return closed


def _problem_section(doc: Doc, model: Worked) -> None:
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
        ("Bias", spans_tex(bias_words(problem))),
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


def _closed_section(doc: Doc, model: Worked) -> None:
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


def _forward_symbols(doc: Doc, model: Worked, no: _Numbering) -> None:
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


def _loss_symbols(doc: Doc, model: Worked, no: _Numbering) -> None:
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


def _backward_symbols(doc: Doc, model: Worked, no: _Numbering) -> None:
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


def _update_symbols(doc: Doc, model: Worked, no: _Numbering) -> None:
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


def _numbers_section(doc: Doc, model: Worked, no: _Numbering) -> None:
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


def _steps_table(doc: Doc, model: Worked) -> None:
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


def write_derivation(doc: Doc, d: Derivation) -> None:
    """The 1-D sections of the sheet of ``d`` (built with ``form="both"``): the problem,
    the general solution, then, when the explicit form was built, the derivation with
    symbols and with the given values."""
    problem = d.problem
    if d.closed is None:
        raise ValueError("render_report needs the closed form (build with form='both')")
    model = worked(d)  # the one model of the worked derivation, printed section by section
    _problem_section(doc, model)
    _closed_section(doc, model)
    if model.explicit is None:
        doc.add(
            f"The explicit derivation ($n k = {problem.n * problem.k}$ terms) is not expanded; "
            "the general solution above holds for every $n$."
        )
        return
    no = _Numbering(min(problem.m, MAX_OUTPUTS))
    doc.section("The derivation with symbols")
    _forward_symbols(doc, model, no)
    _loss_symbols(doc, model, no)
    _backward_symbols(doc, model, no)
    _update_symbols(doc, model, no)
    if model.has_numbers:
        _numbers_section(doc, model, no)
