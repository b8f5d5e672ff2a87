"""The worked derivation in the terminal, with rich: a printer of the shared model.

A 1-D one-channel layer's sections print :func:`symconv.worked1d.worked`'s equations
(which entry reads which, with their numbers); this module only lays them out.

The sections: the problem, the forward pass per output position, the loss, the
backward pass with the chain-rule factors, the update, the forward pass after the
update, then the conventions (:func:`symconv.worked.conventions`, true for the problem
shown).  General (closed-form) formulas come first, then the explicit expressions, then
the numbers.  A layer beyond the 1-D one-channel kind gets its closed form and its
numbers as :func:`symconv.worked.shown` selects them: feature maps as matrices, one per
(example, channel) block, summarised when they are too many or too large.

Lines are laid out here, not by rich: an equation breaks before a top-level ``+``/``−``
(never inside an index when it can help it) with a hanging indent, prose between words;
with no width (output that is not a terminal, see :mod:`symconv.terminal`) nothing is
wrapped.  The names of quantities come from :data:`symconv.notation.QUANTITIES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.text import Text
from sympy import Add, Expr

from symconv.derivation import Derivation, worked_in_1d
from symconv.errors import UnsupportedLayerError
from symconv.mathtext import fmt, fmt_factor, math, name, sub
from symconv.notation import QUANTITIES, ROLES, BiasNotation, bias_notation
from symconv.problem import Problem
from symconv.symbolic.explicit import EXPLICIT_LIMIT, StepValues, explicit_size
from symconv.terminal import cells, wrap_formula, wrap_words
from symconv.worked import (
    CLOSED_FIELDS,
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
from symconv.worked1d import Equation, Factor, Term, Worked, worked

__all__ = ["MAX_ROWS", "matrix_lines", "render_derivation"]

# Per section at most this many rows are written out; the rest is summarised.
MAX_ROWS = 8
INDENT = 2  # every block is indented by this many columns under its heading
MIN_ROOM = 24  # a formula gets at least this many columns, even on a narrow terminal

Row = tuple[str, Sequence[str]]  # left-hand side, then the links of "= ..." on the right


class _Writer:
    """Collects the lines of the derivation, section by section, broken to ``width``."""

    def __init__(self, plain: bool, width: int) -> None:
        self.plain = plain
        self.width = width
        self.lines: list[Text] = []

    @property
    def room(self) -> int:
        return self.width - INDENT

    def line(self, text: str | Text = "", *, indent: int = INDENT) -> None:
        body = text if isinstance(text, Text) else Text(text)
        self.lines.append(Text(" " * indent) + body if indent and body.plain else body)

    def heading(self, number: str, title: str) -> None:
        text = f"{number}  {title}" if number else title
        self.lines.append(Text(""))
        if self.plain:
            self.lines.append(Text(f"== {text} =="))
        else:
            self.lines.append(Text(text, style="bold cyan"))

    def text(self, text: str, style: str = "", *, hang: int = 0, indent: int = INDENT) -> None:
        """A paragraph broken between words, indented by ``indent``; continuation lines
        indented by ``hang`` more."""
        for piece in _prose_lines(text, self.width - indent, hang=hang):
            self.line(Text(piece, style=style), indent=indent)

    def field(self, label: str, text: str) -> None:
        """``Label  text``: the text broken between words, aligned after the label."""
        hang = max(len(label) + 1, 7)
        self.text(label.ljust(hang - 1) + " " + text, hang=hang)

    def eqs(self, rows: Sequence[Row]) -> None:
        """Equations ``lhs = rhs₁`` then ``= rhs₂`` … aligned on the sign; a long side
        breaks at a break point with a hanging indent."""
        if not rows:
            return
        left = max(cells(lhs) for lhs, _ in rows)
        room = max(self.room - left - 3, MIN_ROOM)
        for lhs, links in rows:
            for position, link in enumerate(links):
                label = lhs if position == 0 else ""
                pieces = wrap_formula(link, room, indent=2)
                first = Text(" " * (left - cells(label)))
                first.append(label, style="bold")
                first.append(" = " + pieces[0])
                self.line(first)
                for piece in pieces[1:]:
                    self.line(" " * (left + 3) + piece)

    def titled(self, name: str, rest: str) -> None:
        """``name  rest``, the name bold, broken between words with a hanging indent."""
        for number, piece in enumerate(_prose_lines(f"{name}  {rest}", self.room, hang=2)):
            text = Text(piece)
            if number == 0:
                text.stylize("bold", 0, len(name))
            self.line(text)

    def block(self, lines: Sequence[str], *, indent: int = INDENT) -> None:
        for text in lines:
            self.line(text.rstrip(), indent=indent)

    def note(self, note: Note) -> None:
        """A convention note as a bullet: its title bold, math spans kept whole where the
        line allows, continuation lines under the text."""
        pieces = _note_lines(note, self.room - 2)
        for number, piece in enumerate(pieces):
            if number == 0:
                text = Text("• ")
                text.append(note.title, style="bold")
                text.append(piece[len(note.title) :])
            else:
                text = Text("  " + piece)
            self.line(text)

    def print(self, console: Console) -> None:
        text = Text("\n").join(self.lines)
        console.print(text, soft_wrap=True)


_NBSP = "\x00"  # stands for a space that must not break (inside a formula in prose)


def _keep(formula: str) -> str:
    """``formula`` marked to stay whole in prose (broken only if longer than a line)."""
    return formula.replace(" ", _NBSP)


def _prose_lines(text: str, width: int, *, hang: int = 0) -> list[str]:
    """Prose in lines of ``width``: broken between words, not inside a formula marked by
    :func:`_keep` unless it alone is longer than a line (then at its break points)."""
    lines: list[str] = []
    text = text.replace(" = ", f"{_NBSP}={_NBSP}")  # "a = b" stays on one line
    for line in wrap_words(text, width, indent=hang):
        plain = line.replace(_NBSP, " ")
        if cells(plain) <= width or _NBSP not in line:
            lines.append(plain)
        else:
            lines.extend(wrap_formula(plain, width, indent=hang))
    return lines


def _note_lines(note: Note, width: int) -> list[str]:
    """The note's text in lines of ``width``, its math spans kept whole where they fit."""
    text = (
        note.title
        + " "
        + "".join(_keep(span.unicode) if span.is_math else span.unicode for span in note.spans)
    )
    return _prose_lines(text, width)


def _columns(
    headers: Sequence[str], rows: Sequence[Sequence[str]], justify: Sequence[str]
) -> list[str]:
    """A borderless table: each cell padded by one space each side, aligned per column
    (``justify`` "left" or "right" per column)."""
    table = [list(headers), *map(list, rows)]
    widths = [max(cells(row[c]) for row in table) for c in range(len(headers))]
    out = []
    for row in table:
        parts = []
        for cell, width, how in zip(row, widths, justify):
            pad = " " * (width - cells(cell))
            parts.append(" " + (pad + cell if how == "right" else cell + pad) + " ")
        out.append("".join(parts).rstrip())
    return out


def _cap(rows: list[Row], what: str, total: int) -> list[Row]:
    if total <= MAX_ROWS:
        return rows
    return [*rows[: MAX_ROWS - 1], ("…", [f"{total - MAX_ROWS + 1} more {what} (see --json)"])]


# ---------------------------------------------------------------------------------------
# names and small pieces

_UPDATED = "⁽¹⁾"  # the superscript of a quantity after one step (w⁽¹⁾, ŷ⁽¹⁾)
_BIAS_KEYS = frozenset({"b", "grad_b", "b_next"})  # indexed as the bias registry says


def _name(factor: Factor, bias: BiasNotation) -> str:
    """A named entry as printed: ``w₁``, ``x₃``, ``∂L/∂ŷ₂``, ``b₁`` or ``b`` (a bias
    parameter per output or one for all), ``w₁⁽¹⁾``, ``α``, ``L``."""
    if factor.key == "lr":
        return ROLES["learning_rate"].unicode
    stem = QUANTITIES[factor.key].unicode
    after = _UPDATED if stem.endswith(_UPDATED) else ""
    stem = stem.removesuffix(after)
    if factor.index is None or (factor.key in _BIAS_KEYS and not bias.per_output):
        return stem + after
    return stem + sub(factor.index + 1) + after


def _lhs(eq: Equation, bias: BiasNotation) -> str:
    """The entry an equation gives: ``∂L/∂w₂``, ``b⁽¹⁾``."""
    return _name(Factor(eq.key, eq.index), bias)


def _product(term: Term, bias: BiasNotation) -> str:
    return "·".join(_name(f, bias) for f in term.factors)


def _product_numbers(values: Sequence[Any]) -> str:
    return "·".join(fmt_factor(v) for v in values)


def _sum(terms: Sequence[Term], texts: Sequence[str], limit: int | None = None) -> str:
    """The terms' texts joined by ``+`` (``−`` before a subtracted term), the first
    ``limit`` of them then ``+ …``; ``""`` without a term."""
    shown = len(terms) if limit is None else min(limit, len(terms))
    text = ""
    for number in range(shown):
        minus = terms[number].sign < 0
        if number == 0:
            text = ("−" if minus else "") + texts[0]
        else:
            text += (" − " if minus else " + ") + texts[number]
    return text + (" + …" if shown < len(terms) else "")


def _vec(values: Sequence[Any] | None) -> str:
    if values is None:
        return "—"
    shown = [fmt(v) for v in values[:MAX_ROWS]]
    if len(values) > MAX_ROWS:
        shown.append(f"… ({len(values)} in all)")
    return "(" + ", ".join(shown) + ")"


def _bias_value(bias: BiasNotation, values: Any) -> str:
    """The bias values: one number (one bias for all outputs) or a list."""
    if values is None:
        return "—"
    if not bias.per_output:
        return fmt(values[0] if isinstance(values, tuple) else values)
    return _vec(values)


def _paren(expr: Expr) -> str:
    text = math(expr)
    return f"({text})" if isinstance(expr, Add) else text


# ---------------------------------------------------------------------------------------
# sections of a 1-D one-channel layer: printers of the model (symconv.worked1d)


def _problem_section(out: _Writer, model: Worked) -> None:
    problem, bias = model.problem, model.bias
    s, p, d = problem.stride, problem.padding, problem.dilation
    out.heading("", problem.title)
    pad = f"{p} ({problem.padding_mode})" if p else "0"
    out.field("Layer", f"n = {problem.n}, k = {problem.k}, s = {s}, p = {pad}, d = {d}")
    numbers = f"⌊({problem.n} + {2 * p} − {d * (problem.k - 1)} − 1)/{s}⌋ + 1 = "
    out.field(
        "Output",
        "m = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = "
        + (numbers if problem.n < 1000 else "")
        + str(problem.m),
    )
    out.field("Bias", bias_words(problem).text)
    spec = problem.loss_spec
    out.field("Loss", f"{spec.unicode}  ({spec.words})")
    out.field("SGD", f"α = {fmt(problem.lr)}, {problem.steps} step{'s' * (problem.steps > 1)}")
    if problem.has_values:
        out.field(
            "Values",
            f"x = {_vec(problem.x)}, w = {_vec(problem.w)}, "
            f"b = {_bias_value(bias, problem.b)}, y = {_vec(problem.y)}",
        )
    else:
        out.field("Values", "none given: the derivation stays symbolic")


def _general(out: _Writer, model: Worked, key: str, lhs: str) -> None:
    """The closed-form formula of ``key``: general, then with this problem's s, p, d, k."""
    closed = model.closed_of(key)
    if closed is None:
        return
    general = math(closed.general)
    rows: list[Row] = [(lhs, [general])]
    if closed.here is not None and math(closed.here) != general:
        rows.append(("here", [math(closed.here)]))
    out.eqs(rows)


def _forward_rows(model: Worked, equations: Sequence[Equation]) -> list[Row]:
    """ŷᵢ = Σ wⱼ·x[...] + bᵢ, then with numbers when the model has them."""
    bias = model.bias
    rows: list[Row] = []
    for eq in equations[:MAX_ROWS]:
        links = [_sum(eq.terms, [_product(t, bias) for t in eq.terms]) or "0"]
        if eq.numbers is not None:
            links += [
                _sum(eq.terms, [_product_numbers(v) for v in eq.numbers]) or "0",
                fmt(eq.value, approx=True),
            ]
        rows.append((_lhs(eq, bias), links))
    return _cap(rows, "outputs", len(equations))


def _window_note(model: Worked, equations: Sequence[Equation]) -> str:
    reads = []
    for eq in equations[:3]:
        cells = ", ".join(
            "0" if t is None else _name(Factor("x", t), model.bias) for t in eq.window
        )
        reads.append(f"{_lhs(eq, model.bias)} reads ({cells})")
    more = " …" if len(equations) > 3 else ""
    return "Windows: " + "; ".join(reads) + more


def _loss_rows(model: Worked, eq: Equation) -> list[Row]:
    """L = Σ ½(yᵢ − ŷᵢ)² (its terms: the pairs yᵢ, ŷᵢ), then with numbers."""
    m = len(eq.terms)
    shown = min(m, 4)
    spec = model.problem.loss_spec

    def pieces(texts: Sequence[tuple[str, str]]) -> str:
        text = " + ".join(f"{spec.term_factor}({a} − {b})²" for a, b in texts[:shown])
        if m > shown:
            text += " + …"
        return f"(1/{m})·[{text}]" if spec.averaged else text

    names = [(_name(t.factors[0], model.bias), _name(t.factors[1], model.bias)) for t in eq.terms]
    links = [pieces(names)]
    if eq.numbers is not None:
        links += [
            pieces([(fmt(y), fmt_factor(yhat)) for y, yhat in eq.numbers]),
            fmt(eq.value, approx=True),
        ]
    return [(_lhs(eq, model.bias), links)]


def _backward(out: _Writer, model: Worked) -> None:
    problem, bias = model.problem, model.bias

    out.heading("3", "Backward pass")
    out.text("3.1  The loss with respect to each output", style="bold")
    _general(out, model, "grad_yhat", "∂L/∂ŷᵢ")
    grad_yhat = model.section("grad_yhat").equations
    rows: list[Row] = []
    for eq in grad_yhat[:MAX_ROWS]:
        links = [math(eq.expr)]
        if eq.point:
            links += [_numbers(eq.expr, eq.point), fmt(eq.value, approx=True)]
        rows.append((_lhs(eq, bias), links))
    out.eqs(_cap(rows, "outputs", len(grad_yhat)))

    out.text("3.2  Weights: chain rule through every output that uses wⱼ", style="bold")
    closed = model.closed_of("grad_w")
    if closed is not None:
        here = closed.general if closed.here is None else closed.here
        out.eqs([("∂L/∂wⱼ", ["Σᵢ ∂L/∂ŷᵢ · ∂ŷᵢ/∂wⱼ", math(closed.general)]), ("here", [math(here)])])
        out.text("with gᵢ = ∂L/∂ŷᵢ; ∂ŷᵢ/∂wⱼ is the input under tap j of window i")
    out.text(f"∂ŷ/∂w, the window matrix ({problem.m}×{problem.k}): row i is the window of ŷᵢ")
    out.block(_matrix_table(model))
    # the chain as written: each ∂L/∂ŷᵢ replaced by its expression
    chain_of = {eq.index: _paren(eq.expr) for eq in grad_yhat}

    def chain(term: Term) -> str:
        return "·".join(
            chain_of[f.index] if f.key == "grad_yhat" else _name(f, bias) for f in term.factors
        )

    grad_w = model.section("grad_w").equations
    rows = []
    for eq in grad_w[:MAX_ROWS]:
        links = [
            _sum(eq.terms, [_product(t, bias) for t in eq.terms], 4) or "0",
            _sum(eq.terms, [chain(t) for t in eq.terms], 4) or "0",
        ]
        if eq.numbers is not None:
            links.append(_sum(eq.terms, [_product_numbers(v) for v in eq.numbers], 4) or "0")
            links.append(fmt(eq.value, approx=True))
        rows.append((_lhs(eq, bias), links))
    out.eqs(_cap(rows, "weights", len(grad_w)))
    out.text("As matrices: ∂L/∂w = (∂ŷ/∂w)ᵀ·∂L/∂ŷ, a (k×m)·(m×1) product giving k×1.")

    if model.has("grad_b"):
        _bias_gradient(out, model)

    asked = "not asked in the exercise; " if is_exercise(problem) else ""
    out.text(f"3.4  Input ({asked}needed to backpropagate further)", style="bold")
    _general(out, model, "grad_x", "∂L/∂xₜ")
    if model.closed_of("grad_x") is not None:
        out.text(
            "a full correlation of ∂L/∂ŷ with the flipped kernel: ğ[u] = g[u/s + 1] when s "
            "divides u and the output exists, else 0 (g spread out by the stride)"
        )
    grad_x = model.section("grad_x").equations
    rows = []
    for eq in grad_x[:MAX_ROWS]:
        links = [
            _sum(eq.terms, [_product(t, bias) for t in eq.terms], 4) or "0 (no window reads it)"
        ]
        if eq.numbers is not None and eq.terms:  # no term: "0" says it all
            links.append(_sum(eq.terms, [_product_numbers(v) for v in eq.numbers], 4))
            links.append(fmt(eq.value, approx=True))
        rows.append((_lhs(eq, bias), links))
    out.eqs(_cap(rows, "inputs", len(grad_x)))


# why ∂L/∂b is what it is, by the bias registry's ∂ŷ/∂b
_BIAS_JACOBIAN = {
    "identity": "∂ŷᵢ/∂bₗ = 1 if l = i else 0: ∂ŷ/∂b is the m×m identity, so ∂L/∂bᵢ = ∂L/∂ŷᵢ",
    "ones": "every output adds the same b (∂ŷᵢ/∂b = 1): ∂L/∂b = Σᵢ ∂L/∂ŷᵢ",
}


def _bias_gradient(out: _Writer, model: Worked) -> None:
    """3.3: ∂L/∂bᵢ = ∂L/∂ŷᵢ·1 per output, or ∂L/∂b = Σᵢ ∂L/∂ŷᵢ for one shared bias."""
    bias = model.bias
    equations = model.section("grad_b").equations
    out.text("3.3  Bias", style="bold")
    out.text(_BIAS_JACOBIAN[bias.jacobian or ""])
    if bias.jacobian == "identity":
        rows: list[Row] = []
        for eq in equations[:MAX_ROWS]:
            links = [_sum(eq.terms, [_product(t, bias) + "·1" for t in eq.terms])]
            if eq.value is not None:
                links.append(fmt(eq.value, approx=True))
            rows.append((_lhs(eq, bias), links))
        out.eqs(_cap(rows, "biases", len(equations)))
        return
    rows = []
    for eq in equations:
        links = [_sum(eq.terms, [_product(t, bias) for t in eq.terms], 4)]
        if eq.numbers is not None:
            links.append(_sum(eq.terms, [_product_numbers(v) for v in eq.numbers], 4))
            links.append(fmt(eq.value, approx=True))
        rows.append((_lhs(eq, bias), links))
    out.eqs(rows)


def _numbers(expr: Expr, point: Mapping[Any, Any]) -> str:
    """``expr`` with the numbers of ``point`` written in, unevaluated (``14 − 2``)."""
    text = math(expr)
    for symbol, value in sorted(point.items(), key=lambda kv: -len(str(kv[0]))):
        text = text.replace(name(str(symbol)), fmt_factor(value))
    return text


def _matrix_table(model: Worked) -> list[str]:
    """The window matrix ∂ŷ/∂w (m×k), symbols and, with values, numbers."""
    bias = model.bias
    forward = model.section("forward").equations
    cols = min(model.problem.k, MAX_ROWS)
    body = []
    for eq in forward[:MAX_ROWS]:
        cells_ = []
        for t in eq.window[:cols]:
            if t is None:
                cells_.append("0")
            elif model.has_numbers:
                x = Factor("x", t)
                cells_.append(f"{_name(x, bias)} = {fmt(model.value(x))}")
            else:
                cells_.append(_name(Factor("x", t), bias))
        body.append([_lhs(eq, bias), *cells_])
    headers = ["", *(_name(Factor("w", j), bias) for j in range(cols))]
    return _columns(headers, body, ["left"] + ["right"] * cols)


def _update(out: _Writer, model: Worked) -> None:
    """θ⁽¹⁾ = θ − α·∂L/∂θ for each weight, then each bias parameter."""
    problem, bias = model.problem, model.bias
    section = model.section("update")
    out.heading("4", f"Update: one step of gradient descent, α = {fmt(problem.lr)}")
    every = "every weight and bias θ" if model.bias.present else "every weight θ"
    out.eqs([("θ⁽¹⁾", [f"θ − α·∂L/∂θ   for {every}"])])
    rows: list[Row] = []
    for key, what in (("w_next", "weights"), ("b_next", "biases")):
        equations = section.of(key)
        part: list[Row] = []
        for eq in equations[:MAX_ROWS]:
            links = [_sum(eq.terms, [_product(t, bias) for t in eq.terms])]
            if eq.numbers is not None:
                # θ − α·g: the parameter as a number, α and g as factors ((1/3)·(−5))
                texts = [
                    "·".join(fmt(v) if len(t.factors) == 1 else fmt_factor(v) for v in values)
                    for t, values in zip(eq.terms, eq.numbers)
                ]
                links += [_sum(eq.terms, texts), fmt(eq.value, approx=True)]
            part.append((_lhs(eq, bias), links))
        rows += _cap(part, what, len(equations))
    out.eqs(rows)


def _after(out: _Writer, model: Worked) -> None:
    section = model.section("after")
    out.heading("5", "Forward pass after the update")
    out.eqs(_forward_rows(model, section.of("yhat_next")))
    (loss_next,) = section.of("loss_next")
    out.eqs(_loss_rows(model, loss_next))
    loss = model.section("loss").of("loss")[0].value
    if loss is None or loss_next.value is None:  # an upstream gradient: no loss
        raise UnsupportedLayerError("no worked derivation with an upstream gradient yet")
    change = loss_next.value - loss
    sign = "−" if change < 0 else "+"
    before, after = fmt(loss, approx=True), fmt(loss_next.value, approx=True)
    out.text(f"The loss went from {before} to {after} ({sign}{fmt(abs(change), approx=True)}).")


def _steps_table(model: Worked) -> list[str]:
    body = [
        [
            str(number),
            _vec(step.w_next),
            _bias_value(model.bias, step.b_next),
            fmt(step.loss, approx=True),
            fmt(step.loss_next, approx=True),
        ]
        for number, step in enumerate(model.steps, start=1)
    ]
    headers = ["step", "w", "b", "L before", "L after"]
    return ["Every step (exact)", *_columns(headers, body, ["right"] + ["left"] * 4)]


def _conventions(out: _Writer, problem: Problem) -> None:
    """The convention notes of the shared model (:func:`symconv.worked.conventions`)."""
    out.heading("", "Conventions")
    for note in conventions(problem):
        out.note(note)


# ---------------------------------------------------------------------------------------
# a layer beyond the 1-D one-channel kind: closed form, then the numbers as matrices


def _index_suffix(problem: Problem, key: str) -> str:
    """The free indices of a closed-form entry: ``[β, c, i…]`` for ŷ."""
    bias = "[c, i…]" if bias_notation(problem.bias).per_output else "[c]"
    return {
        "yhat": "[β, c, i…]",
        "grad_yhat": "[β, c, i…]",
        "grad_w": "[c, κ, j…]",
        "grad_b": bias,
        "grad_xpad": "[β, γ, q…]",
        "grad_x": "[β, γ, t…]",
        "w_next": "[c, κ, j…]",
        "b_next": bias,
        "yhat_next": "[β, c, i…]",
    }.get(key, "")


# The closed-form fields of a general layer, in the order of the derivation.


def _entry_name(problem: Problem, key: str) -> str:
    return QUANTITIES[key].unicode + _index_suffix(problem, key)


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape)) if shape else "a number"


def _general_closed(out: _Writer, d: Derivation) -> None:
    """The closed form in symbolic sizes, then with this layer's sizes put in
    (:func:`symconv.worked.closed_rows`)."""
    out.heading("", "Closed form (derived by SymPy from the forward pass)")
    out.block(_note_lines(closed_legend(d.problem), out.room))  # its math kept whole
    rows: list[Row] = []
    for row in closed_rows(d):
        links = [math(row.general)] + ([] if row.here is None else [math(row.here)])
        rows.append((_entry_name(d.problem, row.key), links))
    out.eqs(rows)


def _aligned(column: Sequence[str]) -> list[str]:
    """A column of numbers aligned on the decimal point (integers and fractions flush
    right)."""
    heads = [text.split(".", 1)[0] for text in column]
    tails = ["." + text.split(".", 1)[1] if "." in text else "" for text in column]
    head = max(cells(h) for h in heads)
    tail = max(len(t) for t in tails)
    return [" " * (head - cells(h)) + h + t.ljust(tail) for h, t in zip(heads, tails)]


def matrix_lines(rows: Sequence[Sequence[Any]]) -> list[str]:
    """A matrix of numbers in brackets, its columns aligned on the decimal point.

    Example:
        >>> print("\\n".join(matrix_lines([[1, -2], [3, 4.5]])))
        ⎡1 −2  ⎤
        ⎣3  4.5⎦
    """
    texts = [[fmt(value) for value in row] for row in rows]
    columns = [_aligned([row[c] for row in texts]) for c in range(len(texts[0]))]
    lines = [" ".join(column[r] for column in columns) for r in range(len(texts))]
    if len(lines) == 1:
        return [f"[{lines[0]}]"]
    left = ["⎡"] + ["⎢"] * (len(lines) - 2) + ["⎣"]
    right = ["⎤"] + ["⎥"] * (len(lines) - 2) + ["⎦"]
    return [a + line + b for a, line, b in zip(left, lines, right)]


def _labelled(label: str, matrix: Sequence[str]) -> list[str]:
    """``label = `` before the first row of ``matrix``, the other rows under it."""
    lead = label + " = "
    pad = " " * cells(lead)
    return [(lead if r == 0 else pad) + row for r, row in enumerate(matrix)]


def _side_by_side(pieces: Sequence[list[str]], width: int, gap: int = 3) -> list[str] | None:
    """Blocks of lines next to each other, as many on a row as fit ``width``, rows of
    blocks one under the other; None when one block alone is wider than ``width``."""
    sizes = [max(cells(line) for line in piece) for piece in pieces]
    if max(sizes) > width:
        return None
    out: list[str] = []
    row: list[int] = []
    used = 0

    def flush() -> None:
        if not row:
            return
        height = max(len(pieces[i]) for i in row)
        for r in range(height):
            parts = []
            for i in row:
                line = pieces[i][r] if r < len(pieces[i]) else ""
                parts.append(line + " " * (sizes[i] - cells(line)))
            out.append((" " * gap).join(parts).rstrip())
        row.clear()

    for index, size in enumerate(sizes):
        need = size if not row else used + gap + size
        if row and need > width:
            flush()
            out.append("")
            need = size
        row.append(index)
        used = need
    flush()
    return out


SUMMARY_ENTRIES = 6  # a summarised tensor shows this many of its first entries


def _summary(out: _Writer, problem: Problem, item: Shown, closed: bool) -> None:
    """A tensor too large to show: its first entries with their indices, its range and
    the formula that gives every entry."""
    shape = item.shape
    count = min(SUMMARY_ENTRIES, shape[-1], len(item.values))
    lead = ", ".join("1" for _ in shape[:-1])
    last = "1" if count == 1 else f"1…{count}"
    index = f"[{lead}, {last}]" if lead else f"[{last}]"
    first = ", ".join(fmt(v) for v in item.first(count))
    q = item.quantity
    inner = 2 * INDENT
    out.text(f"first {q.unicode}{index} = {first}", hang=INDENT, indent=inner)
    out.text(f"from {fmt(item.low)} to {fmt(item.high)}", indent=inner)
    if q.given:
        return
    if closed and item.key in CLOSED_FIELDS:
        out.text(f"every entry: {_entry_name(problem, item.key)} of the closed form", indent=inner)
    elif closed and item.key == "yhat_next":
        out.text("every entry: ŷ[β, c, i…] of the closed form with w⁽¹⁾ and b⁽¹⁾", indent=inner)


def _shown_numbers(out: _Writer, problem: Problem, step: StepValues, closed: bool) -> None:
    """Each given and computed quantity of ``step`` as :func:`symconv.worked.shown`
    selects it: a number, a list, matrices side by side, or a summary."""
    for item in shown(problem, step):
        q = item.quantity
        if item.how == "number":
            out.eqs([(q.unicode, [fmt(item.values[0])])])
            continue
        if item.how == "list":
            out.eqs([(q.unicode, ["(" + ", ".join(fmt(v) for v in item.values) + ")"])])
            continue
        size = _shape_text(item.shape)
        laid = None
        if item.how == "blocks":
            pieces = [
                _labelled(
                    f"{q.unicode}[{', '.join(map(str, block.index))}]", matrix_lines(block.rows)
                )
                for block in item.maps
            ]
            laid = _side_by_side(pieces, out.room - INDENT)
        if laid is not None:
            out.titled(q.unicode, f"{q.words}, {size}")
            out.block(laid, indent=2 * INDENT)
            continue
        total = len(item.values)
        why = "too wide for this width" if item.how == "blocks" else "too many to show"
        out.titled(q.unicode, f"{q.words}, {size} = {total} entries, {why}")
        _summary(out, problem, item, closed)


def _render_general(out: _Writer, d: Derivation) -> None:
    """A layer that is not 1-D with one channel: its tensors and sizes, the closed form,
    then the numbers (matrices when they fit, summaries beyond; ``--json`` has all)."""
    problem = d.problem
    layer = problem.layer
    out.heading("", problem.title)
    out.field("Layer", layer.describe())
    rows = [[t.quantity.unicode, _shape_text(t.shape), t.axes] for t in tensors(problem)]
    table = _columns(["", "", ""], rows, ["left", "left", "left"])[1:]
    for number, line in enumerate(table):
        out.line(("Tensors" if number == 0 else "       ") + line)
    sizes = output_sizes(problem)
    numbers = [
        _keep(f"⌊({a.n} + {a.before} + {a.after} − {a.dilation * (a.k - 1)} − 1)/{a.stride}⌋ + 1")
        + f" = {a.m}"
        for a in sizes
    ]
    if len(set(numbers)) == 1 and len(numbers) > 1:
        per_axis = numbers[0] + " on each axis"
    else:
        per_axis = ", ".join(numbers)
    out.field(
        "Output",
        _keep("⌊(n + p_before + p_after − d(k − 1) − 1)/s⌋ + 1") + f" per axis: {per_axis}; "
        f"{_shape_text(layer.output_shape)} positions",
    )
    if layer.batch > 1:
        how = "averages" if problem.loss_spec.averaged else "sums"
        out.field(
            "Batch",
            f"{layer.batch} examples, the first index β of x, y and ŷ; the loss {how} over "
            "them, and the gradients of w and b add up over them",
        )
    spec = problem.loss_spec
    out.field("Loss", f"{spec.unicode}  ({spec.words})")
    out.field("SGD", f"α = {fmt(problem.lr)}, {problem.steps} step{'s' * (problem.steps > 1)}")
    out.field(
        "Sums",
        f"each output entry sums {layer.taps_per_output} products (input channels per "
        f"group × kernel entries); {layer.terms} in all",
    )
    if d.general is not None:
        _general_closed(out, d)
    if not d.steps:
        out.text("Values none given: the derivation stays symbolic (--json holds it)")
    else:
        for number, step in enumerate(d.steps, start=1):
            title = "Numbers" if len(d.steps) == 1 else f"Numbers, step {number}"
            out.heading(str(number) if len(d.steps) > 1 else "", title)
            if number == 1:
                out.text(
                    "A matrix is one block of its tensor, labelled by its leading indices "
                    "(1-based): [example, channel] for x, y, ŷ and their gradients, [output "
                    "channel, input channel] for w; its rows and columns are the last two "
                    "axes. Entries are exact; symconv derive --json lists every one."
                )
            _shown_numbers(out, problem, step, d.general is not None)
    _conventions(out, problem)


def render_derivation(console: Console, d: Derivation, *, plain: bool = False) -> None:
    """Print the worked derivation of ``d`` on ``console`` (broken to its width)."""
    out = _Writer(plain, console.width)
    problem = d.problem
    if not worked_in_1d(problem):
        _render_general(out, d)
        out.print(console)
        return
    model = worked(d)
    _problem_section(out, model)

    out.heading("1", "Forward pass: one window per output position")
    _general(out, model, "yhat", "ŷᵢ")
    if model.explicit is not None:
        forward = model.section("forward").equations
        out.text(_window_note(model, forward))
        out.eqs(_forward_rows(model, forward))

    out.heading("2", "Loss")
    _general(out, model, "loss", "L")
    if model.explicit is not None:
        out.eqs(_loss_rows(model, model.section("loss").of("loss")[0]))

    if model.explicit is not None:
        _backward(out, model)
        _update(out, model)
        if model.has("after"):
            _after(out, model)
            if len(model.steps) > 1:
                out.heading("6", f"{len(model.steps)} steps")
                out.block(_steps_table(model))
    else:
        _closed_only(out, model)
    _conventions(out, problem)
    out.print(console)


def _closed_only(out: _Writer, model: Worked) -> None:
    """The backward pass and the update in closed form only (``--form closed``)."""
    index = "ᵢ" if model.bias.per_output else ""  # the bias's index letter, if it has one
    out.heading("3", "Backward pass")
    for key, lhs in (
        ("grad_yhat", "∂L/∂ŷᵢ = gᵢ"),
        ("grad_w", "∂L/∂wⱼ"),
        ("grad_b", f"∂L/∂b{index}"),
        ("grad_x", "∂L/∂xₜ"),
    ):
        _general(out, model, key, lhs)
    out.heading("4", "Update")
    _general(out, model, "w_next", "wⱼ⁽¹⁾")
    _general(out, model, "b_next", f"b{index}⁽¹⁾")
    layer = model.problem.layer
    if explicit_size(layer) > EXPLICIT_LIMIT:
        out.text(
            f"The explicit form ({explicit_size(layer)} products) is not expanded; "
            "the closed form above holds for every n.",
            style="dim",
        )
