"""The worked derivation in the terminal, with rich: printers of the shared model.

A 1-D one-channel layer is printed by :mod:`symconv.display.derivation1d` from
:func:`symconv.worked1d.worked` (which entry reads which, with their numbers); any other
layer by :mod:`symconv.display.general` (its closed form, and its numbers as
:func:`symconv.worked.shown` selects them: feature maps as matrices, summaries beyond);
then the conventions (:func:`symconv.worked.conventions`, true for the problem shown).
Lines are laid out by :mod:`symconv.display.writer`, not by rich; the names of quantities
come from :data:`symconv.notation.QUANTITIES`.
"""

from __future__ import annotations

from rich.console import Console

from symconv.derivation import Derivation, worked_in_1d
from symconv.display.derivation1d import write_derivation
from symconv.display.general import matrix_lines, write_general
from symconv.display.writer import MAX_ROWS, Writer, write_conventions

__all__ = ["MAX_ROWS", "matrix_lines", "render_derivation"]


def render_derivation(console: Console, d: Derivation, *, plain: bool = False) -> None:
    """Print the worked derivation of ``d`` on ``console`` (broken to its width)."""
    out = Writer(plain, console.width)
    if worked_in_1d(d.problem):
        write_derivation(out, d)
    else:
        write_general(out, d)
    write_conventions(out, d.problem)
    out.print(console)
