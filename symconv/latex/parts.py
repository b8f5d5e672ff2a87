"""Pieces every part of the LaTeX solution sheet uses: the document collector, convention
notes (:class:`symconv.worked.Note`) as LaTeX, and a block kept on one page."""

from __future__ import annotations

from collections.abc import Sequence

from symconv.latex.escape import escape, typeset
from symconv.latex.layout import Eq, align
from symconv.worked import Note

__all__ = ["Doc", "kept_together", "note_tex", "spans_tex"]


class Doc:
    """Collects the LaTeX of the report, part by part."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def section(self, title: str) -> None:
        self.add(f"\\section{{{title}}}")

    def subsection(self, title: str) -> None:
        self.add(f"\\subsection*{{{title}}}")

    def eqs(self, eqs: Sequence[Eq]) -> None:
        if eqs:
            self.add(align(eqs))

    def items(self, items: Sequence[str]) -> None:
        body = "\n".join(f"  \\item {item}" for item in items)
        self.add(f"\\begin{{itemize}}\n{body}\n\\end{{itemize}}")

    def text(self) -> str:
        return "\n\n".join(self.parts)


def note_tex(note: Note) -> str:
    """A convention note as LaTeX: its title in bold, its words escaped (with the unicode
    math among them set as math, :func:`~symconv.latex.escape.typeset`), its math spans as
    math."""
    return f"\\textbf{{{escape(note.title)}}} {spans_tex(note)}"


def spans_tex(note: Note) -> str:
    """A note's spans as LaTeX: words typeset, math spans as inline math."""
    return "".join(
        typeset(span.unicode) if span.latex is None else f"${span.latex}$" for span in note.spans
    )


def kept_together(*parts: str) -> str:
    """Text and a table that must stay on one page (no caption stranded from its table)."""
    body = "\n\n\\smallskip\n".join(parts)
    return (
        "\\par\\medskip\\noindent\\begin{minipage}{\\linewidth}\n"
        f"{body}\n\\end{{minipage}}\\par\\medskip"
    )


# a backend name ends in its data type (torch-float32); the verification table has one
# part per data type, each at most this many backends wide, so that it fits at body size
