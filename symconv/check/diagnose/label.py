"""A wrong label: the value is right, but it is another named quantity's (ŷ₂ for ŷ₁, the
value after the update, ∂L/∂w₃ for ∂L/∂w₁)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from lark import Tree

from symconv.check.diagnose.base import (
    Candidate,
    Case,
    Diagnoser,
    Recompute,
    Rewrite,
    Text,
    numeric_value,
)
from symconv.check.diagnose.trees import kind_of
from symconv.check.evaluate import Value
from symconv.check.match import show
from symconv.check.parse import ParseFailure, parse_equation
from symconv.check.truth import Truth
from symconv.mathtext import sub

__all__ = ["RELABELLED_OUTPUT", "WRONG_LABEL", "quantities"]


def quantities(truth: Truth, step: int) -> list[tuple[str, str, int | None]]:
    """Named quantities a value may belong to: (LaTeX, name, output index)."""
    base, problem = truth.base, truth.problem
    out: list[tuple[str, str, int | None]] = []
    nxt = f"^{{({step + 1})}}"
    for j in range(problem.m):
        out.append((rf"\hat{{y}}_{{{j + base}}}", f"ŷ{sub(j + 1)}", j))
    for j in range(problem.m):
        out.append((rf"\hat{{y}}_{{{j + base}}}{nxt}", f"ŷ{sub(j + 1)} after the update", j))
    out += [
        (r"\hat{y}", "ŷ", None),
        (rf"\hat{{y}}{nxt}", "ŷ after the update", None),
        (r"L", "L", None),
        (rf"L{nxt}", "L after the update", None),
        (r"\frac{\partial L}{\partial \hat{y}}", "∂L/∂ŷ", None),
        (r"\frac{\partial L}{\partial w}", "∂L/∂w", None),
        (r"\frac{\partial L}{\partial x}", "∂L/∂x", None),
        (r"w", "w", None),
        (r"w^{(1)}", "w after the update", None),
    ]
    if problem.bias != "none":
        out += [
            (r"\frac{\partial L}{\partial b}", "∂L/∂b", None),
            (r"b", "b", None),
            (r"b^{(1)}", "b after the update", None),
        ]
    for stem, name, count in (
        ("w", "w", problem.k),
        ("x", "x", problem.n),
        ("\\hat{y}", "ŷ", problem.m),
    ):
        for j in range(count):
            out.append(
                (
                    rf"\frac{{\partial L}}{{\partial {stem}_{{{j + base}}}}}",
                    f"∂L/∂{name}{sub(j + 1)}",
                    None,
                )
            )
    return out


def _text(case: Case, name: str, value: Value) -> str:
    shown = show(numeric_value(value, case.truth, case.step))
    want = show(numeric_value(case.expected, case.truth, case.step))
    return (
        f"wrong label: the value is that of {name} (= {shown}), not of the quantity "
        f"on the left (= {want})"
    )


def _others(outputs_only: bool) -> Callable[[Case], Iterator[Candidate]]:
    def tries(case: Case) -> Iterator[Candidate]:
        wanted = case.lhs_kind
        for latex, name, out in quantities(case.truth, case.step):
            if outputs_only and out is None:
                continue
            try:
                tree = parse_equation(latex).children[0]
            except ParseFailure:
                continue
            if not isinstance(tree, Tree):
                continue
            if wanted is not None and kind_of(tree) not in (wanted, None):
                continue  # a loss that equals a weight by chance is no wrong label
            value = case.value_of(tree, out)
            if value is None or case.same(value, case.expected):
                continue  # the quantity the left side names
            text: Text = partial(_text, case, name, value)
            if out is None:
                yield Recompute(value, text)
            else:  # the side read for that output (its ŷ_i, b_i are that output's)
                yield Rewrite(case.side, text, want=value, out=out)

    return tries


def _restated_output(case: Case) -> bool:
    """The document has already stated this output rightly (so it knows its window,
    stride and padding): a second, different value under the same name that is another
    output's is that output labelled with this one's name."""
    return (str(case.expected), case.step) in case.state.established and (case.lhs_kind == "output")


RELABELLED_OUTPUT = Diagnoser(
    "an output stated again with another's value",
    "wrong_label",
    applies=_restated_output,
    tries=_others(outputs_only=True),
)


def _one_quantity(case: Case) -> bool:
    """The left side names one quantity, not an instance of a formula in an index
    (``∂L/∂w_j = …`` for every j): a formula whose instance j has the value of entry j + 1
    has an index wrong, not a label."""
    return not case.bound


WRONG_LABEL = Diagnoser(
    "wrong label", "wrong_label", applies=_one_quantity, tries=_others(outputs_only=False)
)
