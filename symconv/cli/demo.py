"""``symconv demo``: the main job on the built-in exercise, as the commands do it.

The worked derivation of ``exercise2``, then its LaTeX solution sheet
(``reports/exercise2.tex`` and ``.pdf``), the shift-equivariance proofs and a quick run of
the experiment (``reports/equivariance-quick``).  Each part is run by its own command's
``configure``/``run``, so the demo shows exactly what those commands do.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from symconv.cli.options import Parser, console_from_args
from symconv.terminal import add_width_option

__all__ = ["PARTS", "configure", "run"]

# after the derivation: (command, its module, its arguments)
PARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("report", "symconv.latex", ()),
    ("equivariance", "symconv.experiment.command", ("--prove",)),
    ("equivariance", "symconv.experiment.command",
     ("--quick", "-o", "reports/equivariance-quick")),
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``symconv demo``.

    Example:
        >>> parser = Parser(prog="symconv demo")
        >>> configure(parser)
        >>> parser.parse_args(["--plain"]).plain
        True
    """
    parser.description = (
        "The worked derivation of the built-in exercise, its LaTeX solution sheet, the "
        "shift-equivariance proofs and a quick run of the experiment."
    )
    parser.add_argument("--plain", action="store_true", help="no colour or box drawing")
    add_width_option(parser)


def run(args: argparse.Namespace) -> int:
    """Run every part; returns the worst exit status."""
    from symconv.derivation import build
    from symconv.display import render_derivation
    from symconv.problem import load_problem

    result = build(load_problem("exercise2"), form="both")
    render_derivation(console_from_args(args), result, plain=args.plain)
    status = 0
    for command, module_name, argv in PARTS:
        print(file=sys.stderr)
        module = importlib.import_module(module_name)
        parser = Parser(prog=f"symconv {command}")
        module.configure(parser)
        part: int = module.run(parser.parse_args(list(argv)))
        status = max(status, part)
    return status
