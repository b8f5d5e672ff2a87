"""Terminal output as people expect from rich tools: the width, line breaks and tables.

* The width: ``--width N`` wins; on a terminal, its width; when the output is not a
  terminal (piped, ``> file``, a CI log), ``$COLUMNS`` if it is set, otherwise lines are
  not wrapped at all (:data:`UNWRAPPED`): long lines stay long instead of being cut at
  80 columns in the middle of a formula.
* No trailing spaces when the output is not a terminal (:class:`StripTrailing`).
* Long lines break at a break point with a hanging indent: prose between words
  (:func:`wrap_words`), a formula before a top-level ``+``/``−``/``=`` first, between
  indices only when it must (:func:`wrap_formula`).
* Tables never split a cell: a table too wide for the width is split into several
  tables by columns, the first column repeated (:func:`fitted_tables`).

Cheap to import (no rich): the command parsers add ``--width`` from here.

Example:
    >>> wrap_formula("a + b + c[1, 2]", 12)
    ['a + b', '  + c[1, 2]']
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from typing import IO, Any

__all__ = [
    "MIN_WIDTH",
    "UNWRAPPED",
    "WIDTH_HELP",
    "StripTrailing",
    "add_width_option",
    "cells",
    "fitted_tables",
    "make_console",
    "resolve_width",
    "wrap_formula",
    "wrap_words",
]

# the width when the output is not a terminal and no width is asked for: no wrapping
UNWRAPPED = 10_000
MIN_WIDTH = 20

WIDTH_HELP = (
    "wrap the output at N columns (20 to 10000). Default: the terminal's width; when the "
    "output is not a terminal (a pipe, a file, a CI log), $COLUMNS if set, otherwise long "
    "lines are not wrapped"
)


def _width_type(text: str) -> int:
    digits = text.strip()
    if not digits.isdigit() or len(digits) > 6 or not MIN_WIDTH <= int(digits) <= UNWRAPPED:
        raise argparse.ArgumentTypeError(
            f"`--width` (={text[:20]!r}{'…' if len(text) > 20 else ''}) must be an integer "
            f"from {MIN_WIDTH} to {UNWRAPPED}"
        )
    return int(digits)


def add_width_option(parser: argparse.ArgumentParser) -> None:
    """Add the public ``--width N`` option (documented in ``--help``)."""
    parser.add_argument("--width", metavar="N", type=_width_type, default=None, help=WIDTH_HELP)


def resolve_width(width: int | None, stream: Any | None = None) -> int | None:
    """The console width to use: ``width`` if given; None (rich asks the terminal) on a
    terminal; ``$COLUMNS`` or :data:`UNWRAPPED` when ``stream`` is not a terminal.

    Example:
        >>> import io
        >>> resolve_width(None, io.StringIO()) == UNWRAPPED or "COLUMNS" in os.environ
        True
        >>> resolve_width(100, io.StringIO())
        100
    """
    if width is not None:
        return width
    stream = sys.stdout if stream is None else stream
    try:
        terminal = bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        terminal = False
    if terminal:
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.strip().isdigit() and int(columns) >= MIN_WIDTH:
        return int(columns)
    return UNWRAPPED


_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$")


class StripTrailing:
    """A text stream that writes to ``sys.stdout`` (looked up at each write, as rich
    does) with the trailing spaces of every line removed (a colour code after them is
    kept).  For output that is not a terminal: rich pads table cells and wrapped lines
    to their width."""

    def __init__(self, target: Callable[[], IO[str]] | None = None) -> None:
        self._target = target or (lambda: sys.stdout)
        self._pending = ""

    @property
    def encoding(self) -> str:
        return getattr(self._target(), "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        data = self._pending + text
        lines = data.split("\n")
        self._pending = lines.pop()
        if lines:
            self._target().write("\n".join(_TRAILING.sub(r"\1", line) for line in lines) + "\n")
        return len(text)

    def flush(self) -> None:
        # a partial line is written without its trailing spaces (kept back: more may follow)
        head = self._pending.rstrip(" \t")
        if head:
            self._target().write(head)
            self._pending = self._pending[len(head) :]
        self._target().flush()


def make_console(*, width: int | None = None, plain: bool = False, file: Any | None = None) -> Any:
    """A rich ``Console`` for a command's output (see the module docstring for the width).

    ``file`` (default ``sys.stdout``): when it is not a terminal, trailing spaces are
    removed.  ``plain``: no colour.  NO_COLOR is honoured.
    """
    from rich.console import Console

    stream = sys.stdout if file is None else file
    resolved = resolve_width(width, stream)
    terminal = resolved is None
    out: Any = None
    if not terminal:
        out = StripTrailing(None if file is None else (lambda: file))
    no_color = plain or "NO_COLOR" in os.environ
    return Console(
        file=out if out is not None else file,
        width=resolved,
        no_color=no_color,
        color_system=None if plain else "auto",
        emoji=False,
        highlight=False,
        legacy_windows=False,
        soft_wrap=False,
    )


# ---------------------------------------------------------------------------------------
# line breaking


def cells(text: str) -> int:
    """The terminal cells ``text`` takes (a combining mark such as x̃'s tilde takes none,
    an East Asian wide character two)."""
    total = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def wrap_words(text: str, width: int, *, indent: int = 0, first: int = 0) -> list[str]:
    """``text`` broken between words into lines of at most ``width`` cells (a word longer
    than a line stays whole); lines after the first start with ``indent`` spaces; the
    first line has ``first`` cells taken already (a label before it).

    Example:
        >>> wrap_words("one two three four", 9, indent=2)
        ['one two', '  three', '  four']
    """
    words = text.split(" ")
    lines: list[str] = []
    line = ""
    room = width - first
    for word in words:
        candidate = word if not line else f"{line} {word}"
        if line and cells(candidate) > room:
            lines.append(line)
            line = " " * indent + word
            room = width
        else:
            line = candidate
    lines.append(line)
    return lines


_OPEN, _CLOSE = "([{⌊⌈", ")]}⌋⌉"


def _break_points(text: str) -> list[tuple[int, int]]:
    """Where ``text`` may break, as (position of the space, level; lower is better): 0
    before a top-level ``+``, ``−`` or ``=`` term, 1 at another top-level space (after a
    sum ``Σ[…]``), 2 after a comma inside brackets, 3 at another space inside brackets, 4
    right after an operator (the line would end in ``+``)."""
    points: list[tuple[int, int]] = []
    depth = 0
    for position, char in enumerate(text):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif char == " " and 0 < position < len(text) - 1:
            after = text[position + 1]
            before = text[position - 1]
            operator_after = after in "+−=" and text[position + 2 : position + 3] == " "
            if before in "+−=·" and text[position - 2 : position - 1] == " ":
                level = 4
            elif depth == 0:
                level = 0 if operator_after else 1
            elif before == ",":
                level = 2
            else:
                level = 3
            points.append((position, level))
    return points


def wrap_formula(text: str, width: int, *, indent: int = 2, first: int = 0) -> list[str]:
    """``text`` (a formula) in lines of at most ``width`` cells, broken at the best break
    point of each line: before a top-level ``+``/``−``/``=`` term, else at a top-level space,
    else after a comma inside brackets, else at any space (a piece with no break point
    stays whole); lines after the first are indented by ``indent`` (a hanging indent).
    ``first``: the cells the first line has taken already.

    Example:
        >>> wrap_formula("Σ[j=1..k] w[j]·x[i + j − 1] + b[i]", 22)
        ['Σ[j=1..k]', '  w[j]·x[i + j − 1]', '  + b[i]']
    """
    points = _break_points(text)  # on the whole formula: a bracket may open on a line above
    lines: list[str] = []
    start = 0  # where the current line starts in ``text``
    lead = ""  # its indentation
    room = width - first
    while cells(lead + text[start:]) > room:
        here = [(p, level) for p, level in points if p > start]
        fitting = [(p, level) for p, level in here if cells(lead + text[start:p]) <= room]
        if not fitting:
            if not here:
                break
            fitting = [here[0]]  # nothing fits: the shortest overlong piece
        # the best level among breaks that keep the line at least a third full, else any
        full = [pt for pt in fitting if cells(lead + text[start : pt[0]]) >= room // 3] or fitting
        best = min(level for _, level in full)
        position = max(p for p, level in full if level == best)
        lines.append(lead + text[start:position])
        start, lead, room = position + 1, " " * indent, width
    lines.append(lead + text[start:])
    return lines


# ---------------------------------------------------------------------------------------
# tables


def fitted_tables(
    console: Any,
    make: Callable[[], Any],
    headers: Sequence[tuple[str, dict[str, Any]]],
    rows: Sequence[Sequence[Any]],
    *,
    keep: int = 1,
    width: int | None = None,
) -> list[Any]:
    """Rich tables of ``rows`` that fit ``width`` (default: the console's) without
    splitting a cell: one table when it fits (a long header broken between its words if
    that makes it fit), else the columns split over several tables, each starting with
    the first ``keep`` columns.  ``make()`` returns an empty Table (its box and style);
    ``headers`` is each column's header with its ``add_column`` keywords.  Every column
    is ``no_wrap``: a cell is never broken over two lines nor cut short with "…".
    """
    from rich.measure import Measurement

    limit = console.width if width is None else width
    wide = console.options.update_width(UNWRAPPED)

    def size(cell: Any) -> int:
        return int(Measurement.get(console, wide, cell).maximum)

    body = [max((size(row[c]) for row in rows), default=0) for c in range(len(headers))]
    words = [max(cells(word) for word in header.split(" ")) for header, _ in headers]
    folded = [
        "\n".join(wrap_words(header, max(b, w))) for (header, _), b, w in zip(headers, body, words)
    ]

    def build(columns: Sequence[int], fold: bool, long: Sequence[int] = ()) -> Any:
        table = make()
        for index in columns:
            header, options = headers[index]
            if index in long:  # wider than any table can be: this one wraps at its spaces
                extra = {"no_wrap": False, "overflow": "fold"}
            else:
                extra = {"no_wrap": True, "min_width": max(body[index], words[index])}
            table.add_column(folded[index] if fold else header, **{**options, **extra})
        for row in rows:
            table.add_row(*(row[index] for index in columns))
        return table

    def fits(columns: Sequence[int], fold: bool = True) -> bool:
        return size(build(columns, fold)) <= limit

    every = list(range(len(headers)))
    if fits(every, fold=False):
        return [build(every, False)]
    if fits(every):
        return [build(every, True)]
    fixed, others = every[:keep], every[keep:]
    long = [index for index in others if not fits([*fixed, index])]
    if long:  # splitting cannot help a cell wider than the width: one table, it wraps
        return [build(every, True, long)]
    groups: list[list[int]] = []
    current: list[int] = []
    for index in others:
        if current and not fits(fixed + current + [index]):
            groups.append(current)
            current = []
        current.append(index)
    if current:
        groups.append(current)
    return [build(fixed + group, True) for group in groups]
