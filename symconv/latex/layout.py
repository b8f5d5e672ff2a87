"""Display math that fits the page: pieces with estimated widths, broken into lines.

An equation is a left-hand side and a chain of links (``= …``); each link is a list of
pieces (terms of a sum, matrices) that a line may break between, and may carry a tag
(``\\tag{4c}``).  Widths are estimated in units of about one letter of 11 pt math, which
is enough to keep lines inside the text width: a piece is never split, so the tables
and vectors built from pieces are capped in size by their builders.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "LINE_UNITS",
    "Eq",
    "Link",
    "Piece",
    "align",
    "column",
    "matrix",
    "piece",
    "width",
]

# the width of a display line, in units (calibrated with the Overfull \hbox warnings of
# a 16 cm text width at 11 pt); the tag and the gap before it take TAG_UNITS
LINE_UNITS = 74.0
TAG_UNITS = 6.0
CONTINUATION = r"\quad "
_ACCENTS = {"hat", "tilde", "breve", "mathbf", "mathcal", "mathrm", "boldsymbol", "text", "bar"}
_NARROW = {",": 0.3, ";": 0.5, "!": -0.3, " ": 0.5, "quad": 2.0, "qquad": 4.0}
_WIDE = {"cdot": 1.6, "sum": 2.2, "partial": 1.0, "top": 0.8, "lfloor": 0.6, "rfloor": 0.6}
_RELATIONS = {"=", "<", ">"}


@dataclass(frozen=True)
class Piece:
    """A fragment of LaTeX math that is never split, with its estimated width."""

    text: str
    width: float


@dataclass
class Link:
    """One ``= …`` of a chain: its pieces, an optional tag and the relation sign."""

    pieces: list[Piece]
    tag: str | None = None
    relation: str = "="


@dataclass
class Eq:
    """An equation: the left-hand side and its chain of links."""

    lhs: str
    links: list[Link] = field(default_factory=list)


def _group(tex: str, start: int) -> tuple[str, int]:
    """The braced group (or single token) at ``start``: its content and the end index."""
    while start < len(tex) and tex[start] == " ":
        start += 1
    if start >= len(tex):
        return "", start
    if tex[start] != "{":
        if tex[start] == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", tex[start:])
            token = match.group(0) if match else "\\"
            return token, start + len(token)
        return tex[start], start + 1
    depth = 0
    for position in range(start, len(tex)):
        if tex[position] == "{":
            depth += 1
        elif tex[position] == "}":
            depth -= 1
            if depth == 0:
                return tex[start + 1 : position], position + 1
    return tex[start + 1 :], len(tex)


def width(tex: str) -> float:
    r"""The estimated width of LaTeX math, in letters (``\frac`` takes its wider half).

    Example:
        >>> width(r"w_{1} \cdot x_{1}")
        5.0
    """
    total = 0.0
    position = 0
    while position < len(tex):
        char = tex[position]
        if char == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", tex[position:])
            command = match.group(1) if match else ""
            position += len(match.group(0)) if match else 1
            if command == "frac":
                top, position = _group(tex, position)
                bottom, position = _group(tex, position)
                total += max(width(top), width(bottom)) + 0.4
            elif command in ("left", "right"):
                delimiter, position = _group(tex, position)
                total += 0.0 if delimiter == "." else 0.6
            elif command in _ACCENTS:
                continue
            elif command in ("begin", "end"):
                _, position = _group(tex, position)
            elif command in _NARROW:
                total += _NARROW[command]
            else:
                total += _WIDE.get(command, 1.1)
        elif char in "_^":
            script, position = _group(tex, position + 1)
            total += 0.7 * width(script)
        elif char in "{} ":
            position += 1
        elif char in "+-":
            total += 2.0
            position += 1
        elif char in _RELATIONS:
            total += 2.4
            position += 1
        elif char in "&":
            total += 1.2
            position += 1
        else:
            total += 1.0
            position += 1
    return round(total, 2)


def piece(text: str) -> Piece:
    """A piece of LaTeX math with its estimated width."""
    return Piece(text, width(text))


def matrix(rows: Sequence[Sequence[str]], *, suffix: str = "") -> Piece:
    r"""A ``bmatrix`` of LaTeX cells (``suffix`` follows it, e.g. ``^{\top}``)."""
    columns = max((len(row) for row in rows), default=0)
    widths = [
        max((width(row[c]) for row in rows if c < len(row)), default=0.0) for c in range(columns)
    ]
    body = r" \\ ".join(" & ".join(row) for row in rows)
    text = rf"\begin{{bmatrix}} {body} \end{{bmatrix}}{suffix}"
    return Piece(text, sum(widths) + 1.6 * max(columns - 1, 0) + 1.6 + width(suffix))


def column(entries: Sequence[str], *, cap: int = 12) -> Piece:
    r"""A column vector; more than ``cap`` entries show the first ones, ``\vdots``, the last."""
    shown = list(entries)
    if len(shown) > cap:
        shown = [*shown[: cap - 2], r"\vdots", shown[-1]]
    return matrix([[entry] for entry in shown])


def _lines(pieces: Sequence[Piece], room: float) -> list[tuple[str, float]]:
    """Greedy line breaking between pieces (continuation lines are indented): each line's
    text and width."""
    lines: list[list[Piece]] = [[]]
    used = 0.0
    for item in pieces:
        limit = room if len(lines) == 1 else room - 2.0
        if lines[-1] and used + item.width > limit:
            lines.append([])
            used = 0.0
        lines[-1].append(item)
        used += item.width + 0.3
    return [(" ".join(p.text for p in line), sum(p.width + 0.3 for p in line)) for line in lines]


def rhs_room(eqs: Sequence[Eq]) -> float:
    """The room left for right-hand sides beside the widest left-hand side of a block."""
    lhs = max((width(eq.lhs) for eq in eqs), default=0.0)
    return LINE_UNITS - lhs - 2.4 - TAG_UNITS


def _glued(eq: Eq) -> Eq:
    """``eq`` with a short last link (its value, ``= 12.8``) glued to the last piece of the
    link before it, so that no line break can leave the value alone on a line."""
    if len(eq.links) < 2:
        return eq
    *rest, before, last = eq.links
    if len(last.pieces) != 1 or before.tag is not None or not before.pieces:
        return eq
    value = last.pieces[0]
    if value.width > 12.0:
        return eq
    tail = before.pieces[-1]
    joined = Piece(
        f"{tail.text} {last.relation} {value.text}",
        tail.width + width(last.relation) + 1.0 + value.width,
    )
    glued = Link([*before.pieces[:-1], joined], last.tag, before.relation)
    return Eq(eq.lhs, [*rest, glued])


def align(eqs: Sequence[Eq]) -> str:
    r"""The equations as one ``align*`` block, long links broken after whole pieces.

    A link continues the line of the link before it when it fits there and that line has
    no tag yet; otherwise it starts a line (``&= …``).  A tag goes on the last line of its
    link, so each tagged link ends its line.  The value that ends an equation (``= 12.8``)
    never stands alone on a line: it is glued to the piece before it (:func:`_glued`).
    """
    room = rhs_room(eqs)
    rows: list[str] = []
    for eq in map(_glued, eqs):
        eq_rows: list[str] = []
        current: str | None = None  # the open line, which later links may extend
        used = 0.0
        tagged = False
        for link in eq.links:
            lines = _lines(link.pieces, room)
            relation_width = width(link.relation) + 1.0
            if (
                current is not None
                and not tagged
                and len(lines) == 1
                and used + relation_width + lines[0][1] <= room
            ):
                current += f" {link.relation} {lines[0][0]}"
                used += relation_width + lines[0][1]
            else:
                if current is not None:
                    eq_rows.append(current)
                for position, (line, line_width) in enumerate(lines):
                    if position == 0:
                        left = eq.lhs if not eq_rows else ""
                        text = f"{left} &{link.relation} {line}".strip()
                    else:
                        text = f"&\\phantom{{=}} {CONTINUATION}{line}"
                    if position < len(lines) - 1:
                        eq_rows.append(text)
                    else:
                        current, used = text, line_width
            tagged = link.tag is not None
            if tagged:
                current = f"{current} \\tag{{{link.tag}}}"
        if current is not None:
            eq_rows.append(current)
        rows += eq_rows
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"
