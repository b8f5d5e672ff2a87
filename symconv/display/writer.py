"""The terminal printer's writer: lines laid out to a width (not by rich), the pieces
both of its printers use, and the convention notes.

An equation breaks before a top-level ``+``/``−`` (never inside an index when it can help
it) with a hanging indent, prose between words; with no width (output that is not a
terminal, see :mod:`symconv.terminal`) nothing is wrapped.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from symconv.problem import Problem
from symconv.terminal import cells, wrap_formula, wrap_words
from symconv.worked import (
    Note,
    conventions,
)

__all__ = [
    "INDENT",
    "MAX_ROWS",
    "Row",
    "Writer",
    "cap",
    "columns",
    "keep",
    "note_lines",
    "write_conventions",
]


# Per section at most this many rows are written out; the rest is summarised.
MAX_ROWS = 8
INDENT = 2  # every block is indented by this many columns under its heading
MIN_ROOM = 24  # a formula gets at least this many columns, even on a narrow terminal

Row = tuple[str, Sequence[str]]  # left-hand side, then the links of "= ..." on the right


class Writer:
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
        for piece in prose_lines(text, self.width - indent, hang=hang):
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
        for number, piece in enumerate(prose_lines(f"{name}  {rest}", self.room, hang=2)):
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
        pieces = note_lines(note, self.room - 2)
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


def keep(formula: str) -> str:
    """``formula`` marked to stay whole in prose (broken only if longer than a line)."""
    return formula.replace(" ", _NBSP)


def prose_lines(text: str, width: int, *, hang: int = 0) -> list[str]:
    """Prose in lines of ``width``: broken between words, not inside a formula marked by
    :func:`keep` unless it alone is longer than a line (then at its break points)."""
    lines: list[str] = []
    text = text.replace(" = ", f"{_NBSP}={_NBSP}")  # "a = b" stays on one line
    for line in wrap_words(text, width, indent=hang):
        plain = line.replace(_NBSP, " ")
        if cells(plain) <= width or _NBSP not in line:
            lines.append(plain)
        else:
            lines.extend(wrap_formula(plain, width, indent=hang))
    return lines


def note_lines(note: Note, width: int) -> list[str]:
    """The note's text in lines of ``width``, its math spans kept whole where they fit."""
    text = (
        note.title
        + " "
        + "".join(keep(span.unicode) if span.is_math else span.unicode for span in note.spans)
    )
    return prose_lines(text, width)


def columns(
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


def cap(rows: list[Row], what: str, total: int) -> list[Row]:
    if total <= MAX_ROWS:
        return rows
    return [*rows[: MAX_ROWS - 1], ("…", [f"{total - MAX_ROWS + 1} more {what} (see --json)"])]


def write_conventions(out: Writer, problem: Problem) -> None:
    """The convention notes of the shared model (:func:`symconv.worked.conventions`)."""
    out.heading("", "Conventions")
    for note in conventions(problem):
        out.note(note)
