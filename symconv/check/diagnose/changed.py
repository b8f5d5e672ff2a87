"""Mistakes that are another problem's truth: the bias confused, the stride, padding or
dilation ignored, the learning rate missing or with the wrong sign.

Each rebuilds the truth of the problem changed that way and asks whether the side is right
there.  The side is read in the changed problem too (its ŷ_i are that problem's outputs),
except for the learning rate, whose α would change with it.  A stride or a dilation
ignored is also tried on the layer's own outputs read with the wrong windows
(:func:`~.readings.misread_truth`): a document that knows its m outputs but steps
through x by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial

from lark import Token, Tree
from sympy import Expr, ImmutableMatrix, Integer, Rational, Symbol

from symconv.check.diagnose.base import (
    OWN,
    Candidate,
    Case,
    Diagnoser,
    Fallback,
    Recompute,
    Rewrite,
    substituted,
)
from symconv.check.diagnose.readings import misread_truth
from symconv.check.evaluate import EvalError, Mat, Value, name_key
from symconv.check.truth import Truth
from symconv.mathtext import fmt, name
from symconv.problem import Problem

__all__ = [
    "BIAS",
    "BIAS_KEPT",
    "CHANGES",
    "CIRCULAR",
    "DILATION",
    "LEARNING_RATE",
    "NO_BIAS",
    "PADDING",
    "STRIDE",
]


def _in_changed(
    case: Case, key: str, change: dict[str, object]
) -> tuple[Truth, int | None, Rewrite] | None:
    """The changed problem's truth, the output index there, and the side read there
    against the left side's value there (None if the change or the value cannot be had)."""
    changed = case.variant(key, lambda: case.truth.variant(**change))
    if changed is None:
        return None
    out = case.output if case.output is None or case.output < changed.m else None
    want = case.value_of(case.lhs, out, changed)
    if want is None:
        return None
    return changed, out, Rewrite(case.side, "", want=want, truth=changed, out=out)


def _changed(
    key: str, change: dict[str, object], text: Callable[[Problem], str]
) -> Callable[[Case], Iterator[Candidate]]:
    def tries(case: Case) -> Iterator[Candidate]:
        found = _in_changed(case, key, change)
        if found is not None:
            yield replace(found[2], text=text(case.truth.problem))

    return tries


def _misread(
    key: str, change: dict[str, object], text: Callable[[Problem], str]
) -> Callable[[Case], Iterator[Candidate]]:
    """The changed problem (its own outputs, see :func:`_changed`), then the layer's own
    outputs with windows read the changed way: a sum over the layer's m outputs with the
    stride-1 windows, a vector of such values — with the outputs ŷ_i read that way too
    (the mistake carried from the forward pass), or right (only this side misread)."""
    first = _changed(key, change, text)

    def tries(case: Case) -> Iterator[Candidate]:
        yield from first(case)
        misread = case.variant(f"misread {key}", partial(misread_truth, case.truth, change))
        if misread is None:
            return
        want = case.value_of(case.lhs, OWN, misread)
        if want is None:
            return
        sentence = text(case.truth.problem)
        yield Rewrite(case.side, sentence, want=want, truth=misread)
        yield Recompute(want, sentence)

    return tries


# -- the bias --------------------------------------------------------------------------


def _other_bias(problem: Problem) -> str:
    return "shared" if problem.bias == "untied" else "untied"


def _bias_text(problem: Problem) -> str:
    other = _other_bias(problem)
    return (
        f"shared vs untied bias confused: this is right for "
        f"{'an' if other == 'untied' else 'a'} {other} bias, but the layer's bias is "
        f"{problem.bias}"
        + (" (one per output)" if problem.bias == "untied" else " (one for all outputs)")
    )


def _bias(case: Case) -> Iterator[Candidate]:
    problem = case.truth.problem
    other = _other_bias(problem)
    found = _in_changed(case, f"bias={other}", {"bias": other})
    if found is None:
        return
    changed, out, rewrite = found
    yield replace(rewrite, text=_bias_text(problem))
    want = rewrite.want
    if problem.bias != "shared" or not isinstance(want, Mat) or not want.is_vector:
        return
    # ∂L/∂b of a shared bias written as one output's term: one entry of the untied one
    value = case.value_of(case.side, out, changed)
    if value is None or isinstance(value, Mat):
        return
    for position, entry in enumerate(want.entries()):
        yield Rewrite(
            case.side,
            "shared vs untied bias confused: this is only the term of output "
            f"{position + case.truth.base}; the shared bias collects the gradient of "
            "every output",
            want=entry,
            truth=changed,
            out=out,
        )


def _symbols_of(value: Value) -> set[Symbol]:
    entries = value.entries() if isinstance(value, Mat) else [value]
    return {s for e in entries for s in e.free_symbols if isinstance(s, Symbol)}


def _bias_kept(case: Case) -> bool:
    """The side adds the bias where the truth has none (as written, before ŷ is expanded)."""
    bias = set(case.truth.d.symbols.bias_list())
    return bool(bias & _symbols_of(case.written)) and not bias & _symbols_of(case.expected)


def _without_bias(case: Case) -> Iterator[Candidate]:
    """The side is right once its bias is taken out: ∂(w·x + b)/∂w read as x + b."""
    zero = dict.fromkeys(case.truth.d.symbols.bias_list(), Integer(0))
    cleared = substituted(case.written, zero)
    if case.same(cleared, case.written):
        return
    # the written side equals this exactly when the side without its bias is the truth
    value = _plus(case.expected, _minus(case.written, cleared))
    yield Recompute(
        value,
        "bias confused: the bias does not depend on the weights or the input; it drops out "
        "of ∂ŷ/∂w and ∂ŷ/∂x, but this side keeps it",
    )


def _plus(a: Value, b: Value) -> Value:
    if isinstance(a, Mat) and isinstance(b, Mat):
        if a.m.shape != b.m.shape:  # a row written for a column: no sum to compare
            raise EvalError(f"a {_shape(a)} and a {_shape(b)} side")
        return Mat(ImmutableMatrix(a.m + b.m), free=True)
    if isinstance(a, Mat) or isinstance(b, Mat):
        return a
    result: Expr = a + b
    return result


def _minus(a: Value, b: Value) -> Value:
    if isinstance(a, Mat) and isinstance(b, Mat):
        if a.m.shape != b.m.shape:
            raise EvalError(f"a {_shape(a)} and a {_shape(b)} side")
        return Mat(ImmutableMatrix(a.m - b.m), free=True)
    if isinstance(a, Mat) or isinstance(b, Mat):
        return Integer(0)
    result: Expr = a - b
    return result


def _shape(value: Mat) -> str:
    rows, cols = value.m.shape
    return f"{rows}×{cols}"


def _no_bias(case: Case) -> bool:
    return case.truth.problem.bias == "none" and any(s.name.startswith("b") for s in case.strangers)


def _no_bias_text(case: Case) -> str:
    names = ", ".join(sorted(name(s.name) for s in case.strangers))
    return f"the layer has no bias, but the side adds {names}"


NO_BIAS = Diagnoser(
    "a bias the layer does not have",
    "bias_confused",
    applies=_no_bias,
    tries=lambda case: [Fallback(lambda: _no_bias_text(case))],
)

# -- the layer's geometry ----------------------------------------------------------------


def _stride_text(problem: Problem) -> str:
    return f"stride ignored: this is the value for stride 1, the layer has stride {problem.stride}"


def _padding_text(problem: Problem) -> str:
    return (
        f"padding ignored: this is the value without padding, the layer pads "
        f"{problem.padding} on each side"
    )


def _dilation_text(problem: Problem) -> str:
    return (
        f"dilation ignored: this is the value for dilation 1 (adjacent taps), the layer has "
        f"dilation {problem.dilation}"
    )


def _circular_text(problem: Problem) -> str:
    return (
        "circular padding read as zeros: this is the value with zero padding, but the "
        "layer wraps around (x₀ is xₙ)"
    )


def _has_bias(case: Case) -> bool:
    return case.truth.problem.bias in ("shared", "untied")


def _strided(case: Case) -> bool:
    return case.truth.problem.stride != 1


def _padded(case: Case) -> bool:
    return bool(case.truth.problem.padding)



def _dilated(case: Case) -> bool:
    return case.truth.problem.dilation != 1


def _circular(case: Case) -> bool:
    problem = case.truth.problem
    return bool(problem.padding) and problem.padding_mode == "circular"


BIAS = Diagnoser("bias confused", "bias_confused", applies=_has_bias, tries=_bias)
BIAS_KEPT = Diagnoser(
    "the bias kept in a derivative", "bias_confused", applies=_bias_kept, tries=_without_bias
)
STRIDE = Diagnoser(
    "stride ignored",
    "stride_ignored",
    applies=_strided,
    tries=_misread("stride=1", {"stride": 1}, _stride_text),
)
PADDING = Diagnoser(
    "padding ignored",
    "padding_ignored",
    applies=_padded,
    tries=_changed("padding=0", {"padding": 0}, _padding_text),
)
DILATION = Diagnoser(
    "dilation ignored",
    "dilation_ignored",
    applies=_dilated,
    tries=_misread("dilation=1", {"dilation": 1}, _dilation_text),
)
CIRCULAR = Diagnoser(
    "circular padding read as zeros",
    "padding_ignored",
    applies=_circular,
    tries=_changed("padding_mode=zeros", {"padding_mode": "zeros"}, _circular_text),
)


# the changed problems, in the order they are tried
CHANGES = (BIAS, STRIDE, PADDING, DILATION, CIRCULAR)


# -- the learning rate -----------------------------------------------------------------


def _rate_truth(truth: Truth, rate: Rational) -> Truth:
    return Truth(replace(truth.problem, lr=rate), base=truth.base)


def _parameter(case: Case) -> str:
    """The parameter the left side updates, as people write it (``w``, ``b``)."""
    primary: Tree[Token] | Token = case.lhs
    while isinstance(primary, Tree) and primary.data in ("scripted", "call", "paren"):
        primary = primary.children[0]
    found = name_key(primary) if isinstance(primary, Tree) else None
    return found[0] if found is not None and found[0] in ("w", "b") else "θ"


def _learning_rate(case: Case) -> Iterator[Candidate]:
    """The update with α → −α (a step up the gradient) or α → 1 (no rate)."""
    truth = case.truth
    lr = truth.problem.lr
    p = _parameter(case)
    wrong_sign = (
        f"learning rate with the wrong sign: this step adds α·∂L/∂{p} (it climbs the loss); "
        f"gradient descent subtracts it, {p} − α·∂L/∂{p}"
    )
    missing = (
        f"learning rate missing: this is {p} − ∂L/∂{p}; the step is α·∂L/∂{p} with α = {fmt(lr)}"
    )
    for rate, text in ((-lr, wrong_sign), (Integer(1), missing)):
        if rate == lr:
            continue
        changed = case.variant(f"lr={rate}", partial(_rate_truth, truth, rate))
        if changed is None:
            continue
        want = case.value_of(case.lhs, OWN, changed)
        if want is None or case.same(want, case.expected):
            continue  # the left side does not depend on the rate
        yield Recompute(want, text)


LEARNING_RATE = Diagnoser(
    "learning rate",
    "learning_rate",
    applies=lambda case: case.lhs_kind == "parameter",
    tries=_learning_rate,
)
