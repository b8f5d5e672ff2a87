"""Which quantity of the layer an equation's left side names — for grading per quantity.

A left side is read by the evaluator itself (after the binding step, so ``δ_i``, ``dw``,
``\\nabla_w L`` and ``o_i`` all arrive in the checker's names): with step marks captured
rather than applied (``w'`` is the weight ``w`` one step later) and every derivative it
takes recorded.  A derivative of the loss with respect to the outputs, the weights, the
bias or the input is that gradient; a plain name is the output, the loss, or — one step
later or more — the updated weights and bias.  Anything else (a definition, a size, a
Jacobian entry ``∂ŷ_1/∂w_2``, the given values ``x``, ``w`` at step 0) names no quantity.

The names are those of ``symconv derive --json``: ``yhat``, ``loss``, ``grad_yhat``,
``grad_w``, ``grad_b``, ``grad_x``, and at a later step ``w_next``, ``b_next``,
``yhat_next``, ``loss_next`` (a gradient keeps its name at every step).
"""

from __future__ import annotations

from dataclasses import dataclass

from lark import Token, Tree
from sympy import Expr, Symbol

from symconv.check.evaluate import Context, EvalError, Mat, Value, evaluate

__all__ = ["Named", "exact_strings", "named_quantity"]

_LATER = {"yhat": "yhat_next", "loss": "loss_next", "w": "w_next", "b": "b_next"}


@dataclass(frozen=True)
class Named:
    """A quantity a left side names: its name, the 0-based flat entry (None for the whole
    quantity or a formula for every index) and the step."""

    quantity: str
    entry: int | None
    step: int


def named_quantity(lhs: Tree[Token], ctx: Context, *, general: bool = False) -> Named | None:
    """The quantity ``lhs`` names at ``ctx.step`` (``general``: a formula for every index,
    so no single entry), or None when it names none.

    Example:
        >>> from symconv.check.parse import parse_equation
        >>> from symconv.check.truth import Truth
        >>> from symconv.problem import load_problem
        >>> truth = Truth(load_problem("exercise2"))
        >>> def named(text):
        ...     lhs = parse_equation(text).children[0]
        ...     return named_quantity(lhs, Context(truth=truth))
        >>> named(r"\\frac{\\partial L}{\\partial w_2} = 1")
        Named(quantity='grad_w', entry=1, step=0)
        >>> named(r"w_3' = 1")
        Named(quantity='w_next', entry=2, step=1)
        >>> named(r"\\hat{y} = 1"), named("w_1 = 2")
        (Named(quantity='yhat', entry=None, step=0), None)
    """
    probe = ctx.child()
    probe.capture, probe.captured = True, 0
    probe.flags, probe.marks, probe.mistakes = [], [], []
    probe.nonexistent = set()
    probe.derivatives = []
    probe.output = None
    try:
        value = evaluate(lhs, probe)
    except (EvalError, RecursionError):
        return None
    truth = ctx.truth
    sym = truth.d.symbols
    loss = truth.d.loss_of_yhat
    families: dict[str, tuple[Symbol, ...]] = {
        "yhat": sym.yhat,
        "w": sym.w,
        "b": sym.bias_list(),
        "x": sym.x,
    }
    if probe.derivatives:
        numerator, variables, offset = probe.derivatives[-1]
        if loss is None or numerator != loss or not variables:
            return None  # ∂ŷ_1/∂w_2: a Jacobian entry, no gradient of the loss
        for stem, family in families.items():
            if all(v in family for v in variables):
                entry = _entry(variables, family, general)
                return Named(f"grad_{stem}", entry, ctx.step + offset)
        return None
    step = ctx.step + probe.captured
    if loss is not None and isinstance(value, Expr) and value == loss:
        return Named(_LATER["loss"] if step else "loss", None, step)
    entries = value.entries() if isinstance(value, Mat) else [value]
    if not entries or not all(isinstance(e, Symbol) for e in entries):
        return None
    symbols = [e for e in entries if isinstance(e, Symbol)]
    for stem in ("yhat", "w", "b"):
        family = families[stem]
        if all(s in family for s in symbols):
            if stem != "yhat" and step == 0:
                return None  # the given weights and bias
            name = _LATER[stem] if step else stem
            return Named(name, _entry(symbols, family, general), step)
    return None


def _entry(symbols: list[Symbol], family: tuple[Symbol, ...], general: bool) -> int | None:
    if general or len(symbols) != 1 or len(family) == 1:
        return None
    return family.index(symbols[0])


def exact_strings(value: Value, free: bool) -> str | list[str] | None:
    """A numeric value as exact strings (``"39/25"``; a vector or matrix as a flat list,
    row-major), or None when it is not a number (``free``: it has free symbols)."""
    if free:
        return None
    if isinstance(value, Mat):
        return [str(entry) for entry in value.entries()]
    if isinstance(value, Expr) and value.is_number and value.is_rational:
        return str(value)
    return None
