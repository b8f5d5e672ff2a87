"""Generated submissions for a variant: for tests, the benchmark and a demo.

:func:`make_submission` writes a student's derivation of a 1-D one-channel problem as
Markdown with ``$$ … $$`` display equations, in the exercise's notation (1-based, as
``../shared/exercise/submission.md``): ``ŷ_i``, ``L``, ``∂L/∂ŷ_i``, ``∂L/∂w_j``, ``∂L/∂b_i``
(untied) or ``∂L/∂b`` (shared), ``∂L/∂x_t``, ``w_j′``, ``b_i′`` or ``b′``, ``ŷ_i′``, ``L′`` —
every entry with its working (the products it sums, the update it makes) and its value.
The values come from the exact arithmetic of :mod:`symconv.course.carried`, which is
tested against ``symconv derive --json``.

A :class:`Plan` says what the student got wrong:

- ``correct``: every value right;
- ``wrong``: one entry of one item is off by ``delta`` and nothing else changes (the
  later values are the true ones: the error is not carried);
- ``carried``: one entry of ŷ is off by ``delta`` and everything after it is computed
  correctly from the wrong value (an error carried forward);
- ``notation``: every value right, but ŷ is written as a column times a row (the
  exercise's own loose notation, which the checker names);
- ``empty``: a document with no equation;
- ``unreadable``: invalid UTF-8 bytes; ``bad_notebook``: an ``.ipynb`` that is not JSON.

``form="vectors"`` writes each quantity as one column vector instead of entry by entry
(numbers only), and ``suffix=".ipynb"`` wraps the Markdown in a Jupyter notebook.

Example:
    >>> from symconv.problem import load_problem
    >>> sample = make_submission(load_problem("exercise2"), Plan("carried", delta=Fraction(1)))
    >>> [str(v) for v in sample.values["yhat"]], [str(v) for v in sample.values["grad_w"]]
    (['15', '20'], ['45', '74', '103'])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from symconv.course import carried
from symconv.course.rubric import ITEMS, show
from symconv.errors import UnsupportedLayerError

if TYPE_CHECKING:
    from symconv.problem import Problem

__all__ = ["KINDS", "Plan", "Sample", "make_submission", "write_submission"]

KINDS = ("correct", "wrong", "carried", "notation", "empty", "unreadable", "bad_notebook")
_FORMS = ("entries", "vectors")
_SUFFIXES = (".md", ".ipynb")
_L = r"\mathcal{L}"


@dataclass(frozen=True)
class Plan:
    """What a generated submission gets wrong (see the module docstring).

    ``item`` and ``entry`` (0-based, flat) place a ``wrong`` value; ``carried`` always
    changes ŷ (``entry`` says which entry).  ``delta`` is added to the true value.
    """

    kind: str = "correct"
    item: str | None = None
    entry: int = 0
    delta: Fraction = Fraction(1)
    form: str = "entries"
    suffix: str = ".md"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Plan.kind (={self.kind!r}) must be one of {', '.join(KINDS)}")
        if self.kind == "wrong" and self.item not in ITEMS:
            raise ValueError(f"Plan.item (={self.item!r}) must be one of {', '.join(ITEMS)}")
        if self.kind in ("wrong", "carried") and self.delta == 0:
            raise ValueError("Plan.delta must not be 0 for a wrong or carried value")
        if self.form not in _FORMS:
            raise ValueError(f"Plan.form (={self.form!r}) must be one of {', '.join(_FORMS)}")
        if self.suffix not in _SUFFIXES:
            raise ValueError(f"Plan.suffix (={self.suffix!r}) must be one of {_SUFFIXES}")


@dataclass(frozen=True)
class Sample:
    """A generated submission: its bytes, the file suffix, and the value the student wrote
    for every entry of every item (flat; empty for ``empty`` and the unreadable kinds)."""

    data: bytes
    suffix: str
    plan: Plan
    values: dict[str, carried.Values] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# numbers in LaTeX


def _tex(value: Fraction) -> str:
    """A number as written by hand: a decimal when it has one, else a fraction."""
    text = show(value)
    if "/" not in text:
        return text
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _factor(value: Fraction) -> str:
    """A number inside a product or a difference: a negative one in parentheses."""
    text = _tex(value)
    return f"({text})" if value < 0 else text


def _sum(terms: Sequence[str]) -> str:
    return " + ".join(terms) if terms else "0"


def _vector(values: Sequence[Fraction]) -> str:
    return r"\begin{bmatrix} " + r" \\ ".join(_tex(v) for v in values) + r" \end{bmatrix}"


def _row(values: Sequence[Fraction]) -> str:
    return r"\begin{bmatrix} " + " & ".join(_tex(v) for v in values) + r" \end{bmatrix}"


def _display(latex: str) -> str:
    return f"$${latex}$$"


# ---------------------------------------------------------------------------------------
# the student's values


def _student(problem: Problem, plan: Plan) -> dict[str, carried.Values]:
    """The value of every item the student writes, after the planted error."""
    n = carried.numbers(problem)
    exact = carried.truth(problem)
    if plan.kind == "wrong":
        assert plan.item is not None
        if plan.item not in exact:
            raise ValueError(f"Plan.item (={plan.item!r}) does not exist for this problem")
        values = list(exact[plan.item])
        if not 0 <= plan.entry < len(values):
            raise ValueError(f"Plan.entry (={plan.entry}) must be in 0..{len(values) - 1}")
        values[plan.entry] += plan.delta
        return exact | {plan.item: tuple(values)}
    if plan.kind != "carried":
        return exact
    # one wrong entry of ŷ, and every later quantity computed correctly from it
    yhat = list(exact["yhat"])
    if not 0 <= plan.entry < len(yhat):
        raise ValueError(f"Plan.entry (={plan.entry}) must be in 0..{len(yhat) - 1}")
    yhat[plan.entry] += plan.delta
    out: dict[str, carried.Values] = {"yhat": tuple(yhat)}
    loss = carried.loss_of(n, yhat)
    if loss is not None:
        out["loss"] = (loss,)
        out["grad_yhat"] = carried.gradient_of_loss(n, yhat)
    grad_w, grad_b, grad_x = carried.backward(n, carried.gradient_of_loss(n, yhat))
    out["grad_w"], out["grad_x"] = grad_w, grad_x
    out["w_next"] = tuple(w - n.lr * g for w, g in zip(n.w, grad_w))
    b_next = None
    if grad_b is not None and n.b is not None:
        out["grad_b"] = grad_b
        b_next = tuple(b - n.lr * g for b, g in zip(n.b, grad_b))
        out["b_next"] = b_next
    out["yhat_next"] = carried.forward(n, out["w_next"], b_next)
    loss_next = carried.loss_of(n, out["yhat_next"])
    if loss_next is not None:
        out["loss_next"] = (loss_next,)
    return {item: out[item] for item in ITEMS if item in out}


# ---------------------------------------------------------------------------------------
# the document


def _names(problem: Problem) -> dict[str, list[str]]:
    """The left side of every entry's equation, in the exercise's notation."""
    layer = problem.layer
    m = layer.output_shape[0]
    n_in = layer.input_shape[0]
    k = layer.kernel_size[0]
    shared = layer.bias == "shared"

    def d(of: str) -> str:
        return f"\\frac{{\\partial {_L}}}{{\\partial {of}}}"

    return {
        "yhat": [f"\\hat{{y}}_{{{i + 1}}}" for i in range(m)],
        "loss": [_L],
        "grad_yhat": [d(f"\\hat{{y}}_{{{i + 1}}}") for i in range(m)],
        "grad_w": [d(f"w_{{{j + 1}}}") for j in range(k)],
        "grad_b": [d("b")] if shared else [d(f"b_{{{i + 1}}}") for i in range(m)],
        "grad_x": [d(f"x_{{{t + 1}}}") for t in range(n_in)],
        "w_next": [f"w_{{{j + 1}}}'" for j in range(k)],
        "b_next": ["b'"] if shared else [f"b_{{{i + 1}}}'" for i in range(m)],
        "yhat_next": [f"\\hat{{y}}_{{{i + 1}}}'" for i in range(m)],
        "loss_next": [f"{_L}'"],
    }


_VECTOR_NAMES = {
    "yhat": r"\hat{\mathbf{y}}",
    "grad_yhat": rf"\frac{{\partial {_L}}}{{\partial \hat{{\mathbf{{y}}}}}}",
    "grad_w": rf"\frac{{\partial {_L}}}{{\partial \mathbf{{w}}}}",
    "grad_b": rf"\frac{{\partial {_L}}}{{\partial \mathbf{{b}}}}",
    "grad_x": rf"\frac{{\partial {_L}}}{{\partial \mathbf{{x}}}}",
    "w_next": r"\mathbf{w}'",
    "b_next": r"\mathbf{b}'",
    "yhat_next": r"\hat{\mathbf{y}}'",
}


def _working(
    problem: Problem, values: dict[str, carried.Values], plan: Plan
) -> dict[str, list[str]]:
    """The right side before the value, per entry ("" for none): the arithmetic from the
    earlier values in ``values``."""
    n = carried.numbers(problem)
    layer = problem.layer
    out: dict[str, list[str]] = {}

    def products(w: Sequence[Fraction], bias: Sequence[Fraction] | None) -> list[str]:
        rows = []
        for b_index, taps in n.outputs:
            terms = [f"{_factor(w[j])} \\cdot {_factor(n.x[t])}" for j, t in taps]
            if bias is not None and b_index is not None:
                terms.append(_factor(bias[b_index]))
            rows.append(_sum(terms))
        return rows

    out["yhat"] = products(n.w, n.b)
    if plan.kind == "notation":
        windows = layer.window_table()
        rows = []
        for i, row in enumerate(windows):
            window = [Fraction(0) if t is None else n.x[t] for t in row]
            bias = ""
            if n.b is not None:
                b_index = n.outputs[i][0]
                bias = f" + {_factor(n.b[b_index if b_index is not None else 0])}"
            rows.append(f"{_vector(n.w)} \\cdot {_row(window)}{bias} = {out['yhat'][i]}")
        out["yhat"] = rows
    yhat = values["yhat"]
    target = n.target or ()
    if n.has_loss:
        weight = n.weight
        squares = [f"({_tex(y)} - {_factor(v)})^2" for y, v in zip(target, yhat)]
        if weight == Fraction(1, 2):
            out["loss"] = [" + ".join(f"\\frac{{1}}{{2}}{s}" for s in squares)]
        else:
            out["loss"] = [f"{_tex(weight)} \\cdot ({' + '.join(squares)})"]
        factor = "" if n.factor == 1 else f"{_tex(n.factor)} \\cdot "
        out["grad_yhat"] = [
            f"{factor}({_tex(v)} - {_factor(y)})" for v, y in zip(yhat, target)
        ]
    g = values.get("grad_yhat") or carried.gradient_of_loss(n, yhat)
    grad_w: list[list[str]] = [[] for _ in n.w]
    grad_x: list[list[str]] = [[] for _ in n.x]
    grad_b: list[list[str]] = [[] for _ in (n.b or ())]
    for (b_index, taps), gi in zip(n.outputs, g):
        for j, t in taps:
            grad_w[j].append(f"{_factor(gi)} \\cdot {_factor(n.x[t])}")
            grad_x[t].append(f"{_factor(gi)} \\cdot {_factor(n.w[j])}")
        if b_index is not None and grad_b:
            grad_b[b_index].append(_factor(gi))
    out["grad_w"] = [_sum(terms) for terms in grad_w]
    out["grad_x"] = [_sum(terms) for terms in grad_x]
    # a single term is the value itself: no working for an untied bias
    out["grad_b"] = [_sum(terms) if len(terms) > 1 else "" for terms in grad_b]
    rate = _tex(n.lr)
    out["w_next"] = [
        f"{_tex(w)} - {rate} \\cdot {_factor(gw)}" for w, gw in zip(n.w, values["grad_w"])
    ]
    if n.b is not None and "grad_b" in values:
        out["b_next"] = [
            f"{_tex(b)} - {rate} \\cdot {_factor(gb)}" for b, gb in zip(n.b, values["grad_b"])
        ]
    out["yhat_next"] = products(values["w_next"], values.get("b_next"))
    if n.has_loss and "yhat_next" in values:
        squares = [f"({_tex(y)} - {_factor(v)})^2" for y, v in zip(target, values["yhat_next"])]
        if n.weight == Fraction(1, 2):
            out["loss_next"] = [" + ".join(f"\\frac{{1}}{{2}}{s}" for s in squares)]
        else:
            out["loss_next"] = [f"{_tex(n.weight)} \\cdot ({' + '.join(squares)})"]
    return out


_HEADINGS = {
    "yhat": "Forward pass",
    "loss": "Loss",
    "grad_yhat": "Backward pass",
    "w_next": "SGD update",
    "yhat_next": "Forward pass with the updated parameters",
}


def _markdown(problem: Problem, values: dict[str, carried.Values], plan: Plan) -> str:
    lines = [f"# {problem.title}", "", "Generated submission.", ""]
    names = _names(problem)
    # the working uses the values the student computed with: their own after a carried
    # error, the true ones around a single wrong value
    basis = carried.truth(problem) if plan.kind == "wrong" else values
    working = _working(problem, basis, plan) if plan.form == "entries" else {}
    for item in ITEMS:
        if item not in values:
            continue
        if item in _HEADINGS:
            lines += [f"## {_HEADINGS[item]}", ""]
        entries = values[item]
        if plan.form == "vectors" and item in _VECTOR_NAMES:
            lines += [_display(f"{_VECTOR_NAMES[item]} = {_vector(entries)}"), ""]
            continue
        for index, value in enumerate(entries):
            sides = [names[item][index]]
            work = working.get(item, [])
            if index < len(work) and work[index]:
                sides.append(work[index])
            sides.append(_tex(value))
            lines += [_display(" = ".join(sides)), ""]
    return "\n".join(lines)


def _notebook(markdown: str) -> bytes:
    """One markdown cell per section, in an nbformat 4.4 notebook."""
    sections = markdown.split("\n## ")
    cells = [sections[0]] + [f"## {section}" for section in sections[1:]]
    document = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": cell.strip() + "\n"}
            for cell in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8")


def make_submission(problem: Problem, plan: Plan | None = None) -> Sample:
    """A generated submission of ``problem`` (1-D, one channel, batch 1, with values).

    Raises :class:`~symconv.errors.UnsupportedLayerError` for any other layer and
    ValueError for a plan that does not fit the problem (an item it lacks, an entry out
    of range).
    """
    plan = plan or Plan()
    if plan.kind == "unreadable":
        return Sample(b"# Submission\n\n$$\\hat{y}_1 = \xff\xfe 14$$\n\x80\n", ".md", plan)
    if plan.kind == "bad_notebook":
        return Sample(b'{"cells": [{"cell_type": "markdown", "source": ', ".ipynb", plan)
    if plan.kind == "empty":
        text = f"# {problem.title}\n\nI did not get to this exercise.\n"
        data = _notebook(text) if plan.suffix == ".ipynb" else text.encode("utf-8")
        return Sample(data, plan.suffix, plan)
    if not problem.layer.is_single:
        raise UnsupportedLayerError(
            "generated submissions are written for a 1-D one-channel batch-1 layer; this "
            f"problem's layer is {problem.layer.describe()}"
        )
    values = _student(problem, plan)
    text = _markdown(problem, values, plan)
    data = _notebook(text) if plan.suffix == ".ipynb" else text.encode("utf-8")
    return Sample(data, plan.suffix, plan, values)


def write_submission(problem: Problem, plan: Plan | None, folder: Path, stem: str) -> Path:
    """Write :func:`make_submission` to ``folder/<stem><suffix>``; returns the path."""
    sample = make_submission(problem, plan)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}{sample.suffix}"
    path.write_bytes(sample.data)
    return path
