"""A layer beyond the 1-D one-channel kind in the terminal: its tensors and sizes, the
closed form with its sizes put in (:func:`symconv.worked.closed_rows`), then its numbers as
:func:`symconv.worked.shown` selects them: feature maps as matrices, one per (example,
channel) block, side by side as the width allows, summarised when they are too many or
too large.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symconv.derivation import Derivation
from symconv.display.writer import INDENT, Row, Writer, columns, keep, note_lines
from symconv.mathtext import fmt, math
from symconv.notation import QUANTITIES, bias_notation
from symconv.problem import Problem
from symconv.symbolic.explicit import StepValues
from symconv.terminal import cells
from symconv.worked import (
    CLOSED_FIELDS,
    Shown,
    closed_legend,
    closed_rows,
    output_sizes,
    shown,
    tensors,
)

__all__ = ["SUMMARY_ENTRIES", "matrix_lines", "write_general"]


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


def _general_closed(out: Writer, d: Derivation) -> None:
    """The closed form in symbolic sizes, then with this layer's sizes put in
    (:func:`symconv.worked.closed_rows`)."""
    out.heading("", "Closed form (derived by SymPy from the forward pass)")
    out.block(note_lines(closed_legend(d.problem), out.room))  # its math kept whole
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


def _summary(out: Writer, problem: Problem, item: Shown, closed: bool) -> None:
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


def _shown_numbers(out: Writer, problem: Problem, step: StepValues, closed: bool) -> None:
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


def write_general(out: Writer, d: Derivation) -> None:
    """A layer that is not 1-D with one channel: its tensors and sizes, the closed form,
    then the numbers (matrices when they fit, summaries beyond; ``--json`` has all)."""
    problem = d.problem
    layer = problem.layer
    out.heading("", problem.title)
    out.field("Layer", layer.describe())
    rows = [[t.quantity.unicode, _shape_text(t.shape), t.axes] for t in tensors(problem)]
    table = columns(["", "", ""], rows, ["left", "left", "left"])[1:]
    for number, line in enumerate(table):
        out.line(("Tensors" if number == 0 else "       ") + line)
    sizes = output_sizes(problem)
    numbers = [
        keep(f"⌊({a.n} + {a.before} + {a.after} − {a.dilation * (a.k - 1)} − 1)/{a.stride}⌋ + 1")
        + f" = {a.m}"
        for a in sizes
    ]
    if len(set(numbers)) == 1 and len(numbers) > 1:
        per_axis = numbers[0] + " on each axis"
    else:
        per_axis = ", ".join(numbers)
    out.field(
        "Output",
        keep("⌊(n + p_before + p_after − d(k − 1) − 1)/s⌋ + 1") + f" per axis: {per_axis}; "
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
