"""A layer beyond 1-D with one channel in the solution sheet: its tensors and output sizes
(:func:`symconv.worked.tensors`, :func:`~symconv.worked.output_sizes`), the general
closed form with its sizes put in (:func:`~symconv.worked.closed_rows`, one breqn group),
and its numbers as :func:`~symconv.worked.shown` selects them (feature maps as labelled
matrices, summaries beyond a page)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from symconv.derivation import Derivation
from symconv.latex.escape import escape, typeset
from symconv.latex.layout import (
    LINE_UNITS,
    matrix,
    width,
)
from symconv.latex.parts import Doc, kept_together, note_tex
from symconv.latex.printer import latex, number
from symconv.notation import QUANTITIES, bias_notation
from symconv.problem import Problem
from symconv.worked import (
    Block,
    Shown,
    closed_legend,
    closed_rows,
    output_sizes,
    shown,
    tensors,
)

__all__ = ["PREAMBLE_EXTRA", "write_general"]

# the closed form's long equations break across lines (breqn)
PREAMBLE_EXTRA = "\\usepackage{breqn}  % long closed-form equations break across lines\n"

L = QUANTITIES["loss"].latex

_GIVEN = " (given)"


def _shape_tex(shape: Sequence[int]) -> str:
    return r" \times ".join(map(str, shape)) if shape else "1"


def _words(item: Shown) -> str:
    """``The weights (given), 1 × 2 × 2 × 2``: what a quantity is, in words."""
    q = item.quantity
    return q.words[0].upper() + q.words[1:] + (_GIVEN if q.given else "")


def _general_numbers(doc: Doc, d: Derivation) -> None:
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
            kept_together(
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


def _general_closed(doc: Doc, d: Derivation) -> None:
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


def _layer_section(doc: Doc, problem: Problem) -> None:
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
        kept_together(
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


def write_general(doc: Doc, d: Derivation) -> None:
    """The sections of a layer beyond 1-D with one channel: the layer, its closed form,
    its numbers."""
    _layer_section(doc, d.problem)
    if d.general is not None:
        _general_closed(doc, d)
    _general_numbers(doc, d)
