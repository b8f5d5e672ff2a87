"""The worked derivation of a 1-D one-channel layer in the terminal: a printer of
:func:`symconv.worked1d.worked` (which entry reads which, with their numbers); this module
only lays the model's equations out.

The sections: the problem, the forward pass per output position, the loss, the backward
pass with the chain-rule factors, the update, the forward pass after the update.  General
(closed-form) formulas come first, then the explicit expressions, then the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sympy import Add, Expr

from symconv.derivation import Derivation
from symconv.display.writer import MAX_ROWS, Row, Writer, cap, columns
from symconv.errors import UnsupportedLayerError
from symconv.mathtext import fmt, fmt_factor, math, name, sub
from symconv.notation import QUANTITIES, ROLES, BiasNotation
from symconv.symbolic.explicit import EXPLICIT_LIMIT, explicit_size
from symconv.worked import (
    bias_words,
    is_exercise,
)
from symconv.worked1d import Equation, Factor, Term, Worked, worked

__all__ = ["write_derivation"]


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


def _problem_section(out: Writer, model: Worked) -> None:
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


def _general(out: Writer, model: Worked, key: str, lhs: str) -> None:
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
    return cap(rows, "outputs", len(equations))


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


def _backward(out: Writer, model: Worked) -> None:
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
    out.eqs(cap(rows, "outputs", len(grad_yhat)))

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
    out.eqs(cap(rows, "weights", len(grad_w)))
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
    out.eqs(cap(rows, "inputs", len(grad_x)))


# why ∂L/∂b is what it is, by the bias registry's ∂ŷ/∂b
_BIAS_JACOBIAN = {
    "identity": "∂ŷᵢ/∂bₗ = 1 if l = i else 0: ∂ŷ/∂b is the m×m identity, so ∂L/∂bᵢ = ∂L/∂ŷᵢ",
    "ones": "every output adds the same b (∂ŷᵢ/∂b = 1): ∂L/∂b = Σᵢ ∂L/∂ŷᵢ",
}


def _bias_gradient(out: Writer, model: Worked) -> None:
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
        out.eqs(cap(rows, "biases", len(equations)))
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
    return columns(headers, body, ["left"] + ["right"] * cols)


def _update(out: Writer, model: Worked) -> None:
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
        rows += cap(part, what, len(equations))
    out.eqs(rows)


def _after(out: Writer, model: Worked) -> None:
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
    return ["Every step (exact)", *columns(headers, body, ["right"] + ["left"] * 4)]


def write_derivation(out: Writer, d: Derivation) -> None:
    """The 1-D sections of ``d`` (the conventions follow, written by the caller)."""
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


def _closed_only(out: Writer, model: Worked) -> None:
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
