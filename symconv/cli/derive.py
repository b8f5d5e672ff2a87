"""``symconv derive``: the worked derivation of a problem (forward, loss, gradients, SGD).

``configure`` only adds options (cheap); ``run`` imports SymPy and rich.  With
``--json``, one JSON document on stdout (design.md's derive contract) and nothing else.
"""

from __future__ import annotations

import argparse
import sys

from symconv.cli.options import add_problem_options, console_from_args, load_problem_from_args
from symconv.terminal import add_width_option

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``symconv derive``.

    Example:
        >>> from symconv.cli.options import Parser
        >>> parser = Parser(prog="symconv derive")
        >>> configure(parser)
        >>> args = parser.parse_args(["--problem", "exercise2", "--form", "closed"])
        >>> args.form, args.steps, args.json
        ('closed', None, False)
    """
    parser.description = (
        "A worked derivation of a convolution layer: the forward pass, the loss, every "
        "gradient and the SGD update, with the problem's values when it has them."
    )
    add_problem_options(parser)
    parser.add_argument("--steps", metavar="N", help="number of SGD steps to show (default 1)")
    parser.add_argument(
        "--form",
        choices=("explicit", "closed", "both"),
        default="both",
        help="explicit (named symbols), closed (symbolic sizes) or both (default)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--plain", action="store_true", help="no colour or box drawing")
    parser.add_argument("--force", action="store_true", help="expand even huge explicit forms")
    add_width_option(parser)


def run(args: argparse.Namespace) -> int:
    """Derive and print (or print the JSON of) the problem; returns the exit status."""
    from symconv.derivation import build

    problem = load_problem_from_args(args)
    result = build(problem, form=args.form, force=args.force)
    if args.json:
        from symconv.serialize import derivation_json, dump_strict

        dump_strict(derivation_json(result), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    from symconv.display import render_derivation

    render_derivation(console_from_args(args), result, plain=args.plain)
    return 0
