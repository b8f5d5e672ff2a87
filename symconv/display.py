"""The worked derivation in the terminal, with rich: a printer of the shared model.

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

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text
from sympy import Add, Expr, Symbol, factor_terms

from symconv.derivation import Derivation, worked_in_1d
from symconv.errors import UnsupportedLayerError
from symconv.mathtext import fmt, fmt_factor, math, name, sub
from symconv.notation import QUANTITIES
from symconv.problem import Problem
from symconv.symbolic.closed import ClosedForm, specialize
from symconv.symbolic.explicit import (
    EXPLICIT_LIMIT,
    ExplicitDerivation,
    StepValues,
    explicit_size,
)
from symconv.terminal import cells, wrap_formula, wrap_words
from symconv.worked import (
    CLOSED_FIELDS,
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


def _x(t: int) -> str:
    return f"x{sub(t + 1)}"


def _w(j: int) -> str:
    return f"w{sub(j + 1)}"


def _yhat(i: int) -> str:
    return f"ŷ{sub(i + 1)}"


def _d(of: str, by: str) -> str:
    return f"∂{of}/∂{by}"


def _vec(values: Sequence[Any] | None) -> str:
    if values is None:
        return "—"
    shown = [fmt(v) for v in values[:MAX_ROWS]]
    if len(values) > MAX_ROWS:
        shown.append(f"… ({len(values)} in all)")
    return "(" + ", ".join(shown) + ")"


def _bias_value(problem: Problem, values: Any) -> str:
    if values is None:
        return "—"
    if problem.bias == "shared":
        return fmt(values[0] if isinstance(values, tuple) else values)
    return _vec(values)


def _bias_name(problem: Problem, i: int) -> str:
    if problem.bias == "untied":
        return f"b{sub(i + 1)}"
    return "b"


def _paren(expr: Expr) -> str:
    text = math(expr)
    return f"({text})" if isinstance(expr, Add) else text


def _display_m(closed: ClosedForm, expr: Expr) -> Expr:
    """``expr`` with the output-length formula shown as the symbol m."""
    return factor_terms(expr.xreplace({closed.m: Symbol("m")}))


# ---------------------------------------------------------------------------------------
# sections


def _problem_section(out: _Writer, problem: Problem) -> None:
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
    bias = {
        "untied": f"untied: one bias per output (b₁ … b{sub(problem.m)})",
        "shared": "shared: one bias b for every output",
        "none": "none",
    }[problem.bias]
    out.field("Bias", bias)
    spec = problem.loss_spec
    out.field("Loss", f"{spec.unicode}  ({spec.words})")
    out.field("SGD", f"α = {fmt(problem.lr)}, {problem.steps} step{'s' * (problem.steps > 1)}")
    if problem.has_values:
        out.field(
            "Values",
            f"x = {_vec(problem.x)}, w = {_vec(problem.w)}, "
            f"b = {_bias_value(problem, problem.b)}, y = {_vec(problem.y)}",
        )
    else:
        out.field("Values", "none given: the derivation stays symbolic")


def _general(
    out: _Writer, closed: ClosedForm | None, problem: Problem, lhs: str, field: str
) -> None:
    """The closed-form formula of ``field``: general, then with this problem's s, p, d, k."""
    if closed is None:
        return
    expr = getattr(closed, field)
    if expr is None:
        return
    general = math(_display_m(closed, expr))
    here = math(_display_m(closed, specialize(expr, problem)))
    rows: list[Row] = [(lhs, [general])]
    if here != general:
        rows.append(("here", [here]))
    out.eqs(rows)


def _forward_rows(
    e: ExplicitDerivation, w: Sequence[Any] | None, b: Any, problem: Problem, upper: str
) -> list[Row]:
    """ŷᵢ = Σ wⱼ·x[...] + bᵢ, then with numbers when ``w`` is given."""
    rows: list[Row] = []
    x = problem.x
    for i, row in enumerate(e.windows[:MAX_ROWS]):
        taps = [(j, t) for j, t in enumerate(row) if t is not None]
        symbolic = [f"{_w(j)}·{_x(t)}" for j, t in taps]
        bias = _bias_name(problem, i) if problem.bias != "none" else None
        links = [" + ".join(symbolic + ([bias] if bias else [])) or "0"]
        if w is not None and x is not None:
            numbers = [f"{fmt_factor(w[j])}·{fmt_factor(x[t])}" for j, t in taps]
            if bias:
                bias_value = b[i] if problem.bias == "untied" else b[0]
                numbers.append(fmt_factor(bias_value))
            value = sum((w[j] * x[t] for j, t in taps), start=0) + (
                (b[i] if problem.bias == "untied" else b[0]) if bias else 0
            )
            links += [" + ".join(numbers) or "0", fmt(value, approx=True)]
        rows.append((f"{_yhat(i)}{upper}", links))
    return _cap(rows, "outputs", problem.m)


def _window_note(e: ExplicitDerivation) -> str:
    reads = []
    for i, row in enumerate(e.windows[: min(3, len(e.windows))]):
        cells = ", ".join("0" if t is None else _x(t) for t in row)
        reads.append(f"{_yhat(i)} reads ({cells})")
    more = " …" if len(e.windows) > 3 else ""
    return "Windows: " + "; ".join(reads) + more


def _loss_rows(problem: Problem, yhat: Sequence[Any] | None, loss: Any, upper: str) -> list[Row]:
    m = problem.m
    shown = min(m, 4)
    spec = problem.loss_spec
    symbolic = " + ".join(
        f"{spec.term_factor}(y{sub(i + 1)} − ŷ{sub(i + 1)}{upper})²" for i in range(shown)
    )
    if m > shown:
        symbolic += " + …"
    if spec.averaged:
        symbolic = f"(1/{m})·[{symbolic}]"
    links = [symbolic]
    if yhat is not None and problem.y is not None:
        pieces = [f"({fmt(problem.y[i])} − {fmt(yhat[i])})²" for i in range(shown)]
        numbers = " + ".join(spec.term_factor + piece for piece in pieces)
        if m > shown:
            numbers += " + …"
        if spec.averaged:
            numbers = f"(1/{m})·[{numbers}]"
        links += [numbers, fmt(loss, approx=True)]
    return [(f"L{upper}", links)]


def _backward(out: _Writer, d: Derivation, e: ExplicitDerivation, step: StepValues | None) -> None:
    problem, closed = d.problem, d.closed
    m = problem.m

    out.heading("3", "Backward pass")
    out.text("3.1  The loss with respect to each output", style="bold")
    _general(out, closed, problem, _d("L", "ŷᵢ"), "grad_yhat")
    rows: list[Row] = []
    for i in range(min(m, MAX_ROWS)):
        links = [math(e.grad_yhat[i])]
        if step is not None and problem.y is not None:
            point = {e.symbols.yhat[i]: step.yhat[i], e.symbols.y[i]: problem.y[i]}
            links.append(_numbers(e.grad_yhat[i], point))
            links.append(fmt(step.grad_yhat[i], approx=True))
        rows.append((_d("L", _yhat(i)), links))
    out.eqs(_cap(rows, "outputs", m))

    out.text("3.2  Weights: chain rule through every output that uses wⱼ", style="bold")
    if closed is not None:
        general = math(_display_m(closed, closed.grad_w))
        here = math(_display_m(closed, specialize(closed.grad_w, problem)))
        out.eqs([(_d("L", "wⱼ"), ["Σᵢ ∂L/∂ŷᵢ · ∂ŷᵢ/∂wⱼ", general]), ("here", [here])])
        out.text("with gᵢ = ∂L/∂ŷᵢ; ∂ŷᵢ/∂wⱼ is the input under tap j of window i")
    out.text(f"∂ŷ/∂w, the window matrix ({problem.m}×{problem.k}): row i is the window of ŷᵢ")
    out.block(_matrix_table(e, step, problem))
    rows = []
    g = [f"∂L/∂{_yhat(i)}" for i in range(m)]
    for j in range(min(problem.k, MAX_ROWS)):
        users = [(i, t) for i, row in enumerate(e.windows) if (t := row[j]) is not None]
        more = " + …" if len(users) > 4 else ""
        factors = " + ".join(f"{g[i]}·{_x(t)}" for i, t in users[:4]) + more
        chain = " + ".join(f"{_paren(e.grad_yhat[i])}·{_x(t)}" for i, t in users[:4]) + more
        links = [factors or "0", chain or "0"]
        if step is not None and problem.x is not None:
            links.append(
                " + ".join(
                    f"{fmt_factor(step.grad_yhat[i])}·{fmt_factor(problem.x[t])}"
                    for i, t in users[:4]
                )
                + (" + …" if len(users) > 4 else "")
                or "0"
            )
            links.append(fmt(step.grad_w[j], approx=True))
        rows.append((_d("L", _w(j)), links))
    out.eqs(_cap(rows, "weights", problem.k))
    out.text("As matrices: ∂L/∂w = (∂ŷ/∂w)ᵀ·∂L/∂ŷ, a (k×m)·(m×1) product giving k×1.")

    if problem.bias != "none":
        out.text("3.3  Bias", style="bold")
        if problem.bias == "untied":
            out.text("∂ŷᵢ/∂bₗ = 1 if l = i else 0: ∂ŷ/∂b is the m×m identity, so ∂L/∂bᵢ = ∂L/∂ŷᵢ")
            rows = []
            for i in range(min(m, MAX_ROWS)):
                links = [f"∂L/∂{_yhat(i)}·1"]
                if step is not None and step.grad_b is not None:
                    links.append(fmt(step.grad_b[i], approx=True))
                rows.append((_d("L", f"b{sub(i + 1)}"), links))
            out.eqs(_cap(rows, "biases", m))
        else:
            out.text("every output adds the same b (∂ŷᵢ/∂b = 1): ∂L/∂b = Σᵢ ∂L/∂ŷᵢ")
            links = [" + ".join(g[: min(m, 4)]) + (" + …" if m > 4 else "")]
            if step is not None and step.grad_b is not None:
                links.append(
                    " + ".join(fmt_factor(v) for v in step.grad_yhat[:4])
                    + (" + …" if m > 4 else "")
                )
                links.append(fmt(step.grad_b[0], approx=True))
            out.eqs([(_d("L", "b"), links)])

    asked = "not asked in the exercise; " if is_exercise(problem) else ""
    out.text(f"3.4  Input ({asked}needed to backpropagate further)", style="bold")
    _general(out, closed, problem, _d("L", "xₜ"), "grad_x")
    if closed is not None:
        out.text(
            "a full correlation of ∂L/∂ŷ with the flipped kernel: ğ[u] = g[u/s + 1] when s "
            "divides u and the output exists, else 0 (g spread out by the stride)"
        )
    rows = []
    for t in range(min(problem.n, MAX_ROWS)):
        uses = [(i, j) for i, row in enumerate(e.windows) for j, tt in enumerate(row) if tt == t]
        factors = " + ".join(f"{g[i]}·{_w(j)}" for i, j in uses[:4]) + (
            " + …" if len(uses) > 4 else ""
        )
        links = [factors or "0 (no window reads it)"]
        if step is not None:
            links.append(
                " + ".join(
                    f"{fmt_factor(step.grad_yhat[i])}·{fmt_factor(step.w[j])}" for i, j in uses[:4]
                )
                + (" + …" if len(uses) > 4 else "")
                or "0"
            )
            links.append(fmt(step.grad_x[t], approx=True))
        rows.append((_d("L", _x(t)), links))
    out.eqs(_cap(rows, "inputs", problem.n))


def _numbers(expr: Expr, point: dict[Any, Any]) -> str:
    """``expr`` with the numbers of ``point`` written in, unevaluated (``14 − 2``)."""
    text = math(expr)
    for symbol, value in sorted(point.items(), key=lambda kv: -len(str(kv[0]))):
        text = text.replace(name(str(symbol)), fmt_factor(value))
    return text


def _matrix_table(e: ExplicitDerivation, step: StepValues | None, problem: Problem) -> list[str]:
    """The window matrix ∂ŷ/∂w (m×k), symbols and, with values, numbers."""
    m, k = problem.m, problem.k
    rows, cols = min(m, MAX_ROWS), min(k, MAX_ROWS)
    body = []
    for i in range(rows):
        cells_ = []
        for j in range(cols):
            t = e.windows[i][j]
            if t is None:
                cells_.append("0")
            elif step is not None and problem.x is not None:
                cells_.append(f"{_x(t)} = {fmt(problem.x[t])}")
            else:
                cells_.append(_x(t))
        body.append([_yhat(i), *cells_])
    headers = ["", *(_w(j) for j in range(cols))]
    return _columns(headers, body, ["left"] + ["right"] * cols)


def _update(out: _Writer, d: Derivation, e: ExplicitDerivation, step: StepValues | None) -> None:
    problem = d.problem
    out.heading("4", f"Update: one step of gradient descent, α = {fmt(problem.lr)}")
    out.eqs([("θ⁽¹⁾", ["θ − α·∂L/∂θ   for every weight and bias θ"])])
    rows: list[Row] = []
    for j in range(min(problem.k, MAX_ROWS)):
        links = [f"{_w(j)} − α·∂L/∂{_w(j)}"]
        if step is not None:
            links.append(f"{fmt(step.w[j])} − {fmt(problem.lr)}·{fmt_factor(step.grad_w[j])}")
            links.append(fmt(step.w_next[j], approx=True))
        rows.append((f"{_w(j)}⁽¹⁾", links))
    rows = _cap(rows, "weights", problem.k)
    if problem.bias != "none":
        count = problem.m if problem.bias == "untied" else 1
        bias_rows: list[Row] = []
        for i in range(min(count, MAX_ROWS)):
            b = _bias_name(problem, i)
            links = [f"{b} − α·∂L/∂{b}"]
            if (
                step is not None
                and step.b is not None
                and step.grad_b is not None
                and step.b_next is not None
            ):
                links.append(f"{fmt(step.b[i])} − {fmt(problem.lr)}·{fmt_factor(step.grad_b[i])}")
                links.append(fmt(step.b_next[i], approx=True))
            bias_rows.append((f"{b}⁽¹⁾", links))
        rows += _cap(bias_rows, "biases", count)
    out.eqs(rows)


def _after(out: _Writer, d: Derivation, e: ExplicitDerivation, step: StepValues) -> None:
    problem = d.problem
    out.heading("5", "Forward pass after the update")
    rows = _forward_rows(e, step.w_next, step.b_next, problem, "⁽¹⁾")
    out.eqs(rows)
    out.eqs(_loss_rows(problem, step.yhat_next, step.loss_next, "⁽¹⁾"))
    if step.loss is None or step.loss_next is None:  # an upstream gradient: no loss
        raise UnsupportedLayerError("no worked derivation with an upstream gradient yet")
    change = step.loss_next - step.loss
    sign = "−" if change < 0 else "+"
    before, after = fmt(step.loss, approx=True), fmt(step.loss_next, approx=True)
    out.text(f"The loss went from {before} to {after} ({sign}{fmt(abs(change), approx=True)}).")


def _steps_table(d: Derivation) -> list[str]:
    body = [
        [
            str(number),
            _vec(step.w_next),
            _bias_value(d.problem, step.b_next),
            fmt(step.loss, approx=True),
            fmt(step.loss_next, approx=True),
        ]
        for number, step in enumerate(d.steps or [], start=1)
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
    bias = "[c]" if problem.bias == "shared" else "[c, i…]"
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
    _problem_section(out, problem)
    e, closed = d.explicit, d.closed
    step = d.steps[0] if d.steps else None

    out.heading("1", "Forward pass: one window per output position")
    _general(out, closed, problem, "ŷᵢ", "yhat")
    if e is not None and d.form != "closed":
        out.text(_window_note(e))
        out.eqs(_forward_rows(e, step.w if step else None, step.b if step else None, problem, ""))

    out.heading("2", "Loss")
    _general(out, closed, problem, "L", "loss")
    if d.form != "closed":
        out.eqs(_loss_rows(problem, step.yhat if step else None, step.loss if step else None, ""))

    if e is not None and d.form != "closed":
        _backward(out, d, e, step)
        _update(out, d, e, step)
        if step is not None:
            _after(out, d, e, step)
            if d.steps is not None and len(d.steps) > 1:
                out.heading("6", f"{len(d.steps)} steps")
                out.block(_steps_table(d))
    else:
        out.heading("3", "Backward pass")
        for lhs, field in (
            ("∂L/∂ŷᵢ = gᵢ", "grad_yhat"),
            ("∂L/∂wⱼ", "grad_w"),
            ("∂L/∂bᵢ" if problem.bias == "untied" else "∂L/∂b", "grad_b"),
            ("∂L/∂xₜ", "grad_x"),
        ):
            _general(out, closed, problem, lhs, field)
        out.heading("4", "Update")
        _general(out, closed, problem, "wⱼ⁽¹⁾", "w_next")
        _general(out, closed, problem, "bᵢ⁽¹⁾" if problem.bias == "untied" else "b⁽¹⁾", "b_next")
        if explicit_size(problem.layer) > EXPLICIT_LIMIT:
            out.text(
                f"The explicit form ({explicit_size(problem.layer)} products) is not expanded; "
                "the closed form above holds for every n.",
                style="dim",
            )
    _conventions(out, problem)
    out.print(console)
