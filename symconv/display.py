"""The worked derivation in the terminal, with rich.

Sections follow the exercise: the problem, forward pass per output position, loss,
backward pass with the chain-rule factors, update, forward pass after the update, then
the conventions.  General (closed-form) formulas come first, then the explicit
expressions, then the numbers.  Every equation is a grid row, so long right-hand sides
wrap inside their column and stay readable at 80 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from sympy import Add, Expr, Symbol, factor_terms

from symconv.derivation import Derivation, worked_in_1d
from symconv.errors import UnsupportedLayerError
from symconv.mathtext import fmt, fmt_factor, math, name, sub
from symconv.problem import Problem
from symconv.symbolic.closed import ClosedForm, specialize
from symconv.symbolic.explicit import (
    EXPLICIT_LIMIT,
    ExplicitDerivation,
    StepValues,
    explicit_size,
)

__all__ = ["MAX_ROWS", "render_derivation"]

# Per section at most this many rows are written out; the rest is summarised.
MAX_ROWS = 8

Row = tuple[str, Sequence[str]]  # left-hand side, then the links of "= ..." on the right


def _eqs(rows: Sequence[Row]) -> Table:
    """A grid of equations: ``lhs = rhs₁`` then ``= rhs₂`` … aligned on the sign."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True, style="bold")
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for lhs, links in rows:
        for position, link in enumerate(links):
            # Text, not markup: x̃[i + j − 1] must not be read as a rich style tag
            grid.add_row(Text(lhs if position == 0 else ""), Text("="), Text(link))
    return grid


def _cap(rows: list[Row], what: str, total: int) -> list[Row]:
    if total <= MAX_ROWS:
        return rows
    return [*rows[: MAX_ROWS - 1], ("…", [f"{total - MAX_ROWS + 1} more {what} (see --json)"])]


class _Writer:
    """Collects the renderables of the derivation, section by section."""

    def __init__(self, plain: bool) -> None:
        self.plain = plain
        self.parts: list[RenderableType] = []

    def heading(self, number: str, title: str) -> None:
        text = f"{number}  {title}" if number else title
        if self.plain:
            self.parts.append(Text(f"\n== {text} =="))
        else:
            self.parts.append(Text(f"\n{text}", style="bold cyan"))

    def text(self, text: str, style: str = "") -> None:
        self.block(Text(text, style=style))

    def eqs(self, rows: Sequence[Row]) -> None:
        if rows:
            self.block(_eqs(rows))

    def block(self, renderable: RenderableType) -> None:
        self.parts.append(Padding(renderable, (0, 0, 0, 2), expand=False))


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
    out.text(f"Layer  n = {problem.n}, k = {problem.k}, s = {s}, p = {pad}, d = {d}")
    numbers = f"⌊({problem.n} + {2 * p} − {d * (problem.k - 1)} − 1)/{s}⌋ + 1 = "
    out.text(
        "Output m = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = "
        + (numbers if problem.n < 1000 else "")
        + str(problem.m)
    )
    bias = {
        "untied": f"untied: one bias per output (b₁ … b{sub(problem.m)})",
        "shared": "shared: one bias b for every output",
        "none": "none",
    }[problem.bias]
    out.text(f"Bias   {bias}")
    spec = problem.loss_spec
    out.text(f"Loss   {spec.unicode}  ({spec.words})")
    out.text(f"SGD    α = {fmt(problem.lr)}, {problem.steps} step{'s' * (problem.steps > 1)}")
    if problem.has_values:
        out.text(
            f"Values x = {_vec(problem.x)}, w = {_vec(problem.w)}, "
            f"b = {_bias_value(problem, problem.b)}, y = {_vec(problem.y)}"
        )
    else:
        out.text("Values none given: the derivation stays symbolic")


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

    out.text(
        "3.4  Input (not asked in the exercise; needed to backpropagate further)", style="bold"
    )
    _general(out, closed, problem, _d("L", "xₜ"), "grad_x")
    if closed is not None:
        out.text(
            "a full correlation of ∂L/∂ŷ with the flipped kernel: ğ[u] = g_{u/s + 1} when s "
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


def _matrix_table(
    e: ExplicitDerivation, step: StepValues | None, problem: Problem
) -> RenderableType:
    """The window matrix ∂ŷ/∂w (m×k), symbols and, with values, numbers."""
    m, k = problem.m, problem.k
    rows, cols = min(m, MAX_ROWS), min(k, MAX_ROWS)
    table = Table(
        show_header=True,
        box=None,
        padding=(0, 1),
    )
    table.add_column("")
    for j in range(cols):
        table.add_column(_w(j), justify="right")
    for i in range(rows):
        cells = []
        for j in range(cols):
            t = e.windows[i][j]
            if t is None:
                cells.append("0")
            elif step is not None and problem.x is not None:
                cells.append(f"{_x(t)} = {fmt(problem.x[t])}")
            else:
                cells.append(_x(t))
        table.add_row(_yhat(i), *cells)
    return table


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


def _steps_table(d: Derivation) -> Table:
    table = Table(title="Every step (exact)", title_justify="left", box=None, padding=(0, 1))
    for column in ("step", "w", "b", "L before", "L after"):
        table.add_column(column, justify="right" if column == "step" else "left")
    for number, step in enumerate(d.steps or [], start=1):
        table.add_row(
            str(number),
            _vec(step.w_next),
            _bias_value(d.problem, step.b_next),
            fmt(step.loss, approx=True),
            fmt(step.loss_next, approx=True),
        )
    return table


def _conventions(out: _Writer, problem: Problem) -> None:
    out.heading("", "Conventions")
    notes = [
        f'Output positions are not strides: the exercise\'s "stride 0" and "stride 1" are '
        f"outputs ŷ₁ and ŷ₂ of one layer with stride {problem.stride}; the stride is how far "
        "the window moves between neighbouring outputs.",
        'A deep-learning "convolution" is a cross-correlation: ŷᵢ = Σⱼ wⱼ·x[i + j − 1] '
        "slides w without flipping it (a true convolution flips it). The flipped kernel "
        "appears in the input gradient ∂L/∂x.",
        (
            "The bias here is untied, one bᵢ per output; a conv layer usually shares one b "
            "(--bias shared), whose gradient is the sum Σᵢ ∂L/∂ŷᵢ."
            if problem.bias == "untied"
            else "The bias is shared (one b for all outputs), as in conv layers; an untied "
            "bias (--bias untied) has one bᵢ per output with ∂L/∂bᵢ = ∂L/∂ŷᵢ."
            if problem.bias == "shared"
            else "There is no bias (--bias shared or untied adds one)."
        ),
        "Shapes: ∂L/∂ŷ is a column (m×1) and ∂ŷ/∂w is m×k, so ∂L/∂w = (∂ŷ/∂w)ᵀ·∂L/∂ŷ (k×1). "
        "A column times a row is an outer product (a matrix), not a dot product.",
        "Indices are 1-based as in the exercise; x̃ is the padded input (x̃[t] = xₜ for "
        + (
            "1 ≤ t ≤ n, wrapping around outside: circular padding)."
            if problem.padding_mode == "circular"
            else "1 ≤ t ≤ n and 0 outside)."
        ),
    ]
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for note in notes:
        grid.add_row(Text("•"), Text(note))
    out.block(grid)


# Quantities of the summary of a general layer: (key, name, what it is).
_SUMMARY = (
    ("yhat", "ŷ", "the output"),
    ("loss", "L", "the loss"),
    ("grad_yhat", "∂L/∂ŷ", "the upstream gradient"),
    ("grad_w", "∂L/∂w", "the weight gradient"),
    ("grad_b", "∂L/∂b", "the bias gradient"),
    ("grad_x", "∂L/∂x", "the input gradient"),
    ("w_next", "w⁽¹⁾", "the weights after one step"),
    ("b_next", "b⁽¹⁾", "the bias after one step"),
    ("yhat_next", "ŷ⁽¹⁾", "the output after one step"),
    ("loss_next", "L⁽¹⁾", "the loss after one step"),
)
_SUMMARY_ENTRIES = 6


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape)) if shape else "a number"


def _summary_values(values: Any, shape: Sequence[int]) -> str:
    """A few leading entries (row-major) of a flat tuple, with the range of all of them."""
    flat = values if isinstance(values, tuple) else (values,)
    shown = ", ".join(fmt(v) for v in flat[:_SUMMARY_ENTRIES])
    if len(flat) <= _SUMMARY_ENTRIES:
        return f"({shown})" if shape else shown
    low, high = min(flat), max(flat)
    return f"({shown}, … {len(flat) - _SUMMARY_ENTRIES} more; from {fmt(low)} to {fmt(high)})"


# The closed-form fields of a general layer, in the order of the derivation.
_GENERAL_FIELDS = (
    ("ŷ[β, c, i…]", "yhat"),
    ("L", "loss"),
    ("∂L/∂ŷ[β, c, i…]", "grad_yhat"),
    ("∂L/∂w[c, κ, j…]", "grad_w"),
    ("∂L/∂b", "grad_b"),
    ("∂L/∂x̃[β, γ, q…]", "grad_xpad"),
    ("∂L/∂x[β, γ, t…]", "grad_x"),
    ("w⁽¹⁾[c, κ, j…]", "w_next"),
    ("b⁽¹⁾", "b_next"),
)


def _general_closed(out: _Writer, d: Derivation) -> None:
    """The closed form in symbolic sizes, then with this layer's sizes put in."""
    from symconv.symbolic.closed import alpha, layer_sizes

    general = d.general
    assert general is not None
    layer = d.problem.layer
    sizes: dict[Any, Any] = {**layer_sizes(general, layer), alpha: d.problem.lr}
    out.heading("", "Closed form (derived by SymPy from the forward pass)")
    out.text(
        "Indices are 1-based: β the example, c the output channel, κ the input channel "
        "within its group, γ an input channel, iₐ outputs, jₐ taps, tₐ inputs and qₐ padded "
        "positions along axis a; x̃ is the padded input, g = ∂L/∂ŷ and ğ is g spread out by "
        "the stride (ğ[…, u…] = g[…, uₐ/sₐ + 1…] where every sₐ divides uₐ, else 0)."
    )
    rows: list[Row] = []
    for lhs, field in _GENERAL_FIELDS:
        expr = getattr(general, field)
        if expr is None:
            continue
        here = expr.xreplace(sizes)
        links = [math(expr)] + ([math(here)] if here != expr else [])
        rows.append((lhs, links))
    out.eqs(rows)


def _render_summary(out: _Writer, d: Derivation) -> None:
    """A layer that is not 1-D with one channel: its shapes and a summary of the numbers
    (the full rendering of feature maps is still to come; ``--json`` has every entry)."""
    from symconv.symbolic.explicit import quantity_shape

    problem = d.problem
    layer = problem.layer
    out.heading("", problem.title)
    out.text(f"Layer  {layer.describe()}")
    out.text(
        "Shapes x " + _shape_text(layer.x_shape) + " (batch, channels, positions), w "
        + _shape_text(layer.w_shape) + ", ŷ and y " + _shape_text(layer.y_shape)
        + ("" if layer.b_shape is None else ", b " + _shape_text(layer.b_shape))
    )
    out.text(
        "Output per axis ⌊(n + p_before + p_after − d(k−1) − 1)/s⌋ + 1 = "
        + _shape_text(layer.output_shape)
    )
    out.text(f"Loss   {problem.loss_spec.unicode}  ({problem.loss_spec.words})")
    out.text(f"SGD    α = {fmt(problem.lr)}, {problem.steps} step{'s' * (problem.steps > 1)}")
    out.text(
        f"Each output entry sums {layer.taps_per_output} products "
        f"(in_channels/groups × kernel entries); {layer.terms} in all."
    )
    if d.general is not None:
        _general_closed(out, d)
    if not d.steps:
        out.text("Values none given: the derivation stays symbolic (--json holds it)")
        return
    for number, step in enumerate(d.steps, start=1):
        title = "Numbers" if len(d.steps) == 1 else f"Numbers, step {number}"
        out.heading(str(number) if len(d.steps) > 1 else "", title)
        rows: list[Row] = []
        for key, symbol, _ in _SUMMARY:
            value = getattr(step, key)
            shape = quantity_shape(layer, key)
            if value is None or shape is None:
                continue
            rows.append((symbol, [_summary_values(value, shape)]))
        out.eqs(rows)
    out.text("Entries are row-major in the shapes above; symconv derive --json lists them all.")


def render_derivation(console: Console, d: Derivation, *, plain: bool = False) -> None:
    """Print the worked derivation of ``d`` on ``console``."""
    out = _Writer(plain)
    problem = d.problem
    if not worked_in_1d(problem):
        _render_summary(out, d)
        console.print(Group(*out.parts))
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
    console.print(Group(*out.parts))
