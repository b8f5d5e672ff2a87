"""The ``symconv`` command line: a thin layer over the library (no math here).

Exit codes: 0 success, 1 a check found a mismatch, 2 bad input or usage (one line on
stderr, no traceback).  ``--json`` prints one JSON document on stdout and nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from symconv import __version__
from symconv.errors import ProblemError, SymconvError, UsageError

__all__ = ["main"]

# command-line option -> (dotted problem field, help)
_OVERRIDES: list[tuple[tuple[str, ...], str, str]] = [
    (("--n", "--input-length"), "layer.input_length", "input length n"),
    (("--k", "--kernel-size"), "layer.kernel_size", "kernel size k"),
    (("--stride",), "layer.stride", "stride s >= 1"),
    (("--padding",), "layer.padding", "padding p >= 0 on each side"),
    (("--padding-mode",), "layer.padding_mode", "zeros | circular"),
    (("--dilation",), "layer.dilation", "dilation d >= 1"),
    (("--bias",), "layer.bias", "shared | untied | none"),
    (("--loss",), "loss.kind", "sse_half | mse"),
    (("--lr",), "optimizer.learning_rate", 'learning rate, read exactly ("0.01" is 1/100)'),
    (("--x",), "values.x", "input values, comma-separated (--x 1,2,3,4)"),
    (("--w",), "values.w", "kernel values, comma-separated"),
    (("--b",), "values.b", "bias value(s): one number if shared, m comma-separated if untied"),
    (("--y",), "values.y", "target values, comma-separated"),
]


# subcommand -> (module with configure/run, help)
_COMMAND_MODULES: dict[str, tuple[str, str]] = {
    "verify": (
        "symconv.verify",
        "cross-check every quantity against NumPy, PyTorch, finite differences",
    ),
    "check": ("symconv.check.command", "judge a hand-written derivation equation by equation"),
    "report": ("symconv.latex", "write (and compile) a LaTeX solution report"),
    "equivariance": ("symconv.experiment.command", "shift equivariance: proofs and experiment"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _fail(message: str) -> NoReturn:
    print(f"symconv: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def add_problem_options(parser: argparse.ArgumentParser) -> None:
    """Add --problem and the layer/value overrides to a subcommand's parser."""
    group = parser.add_argument_group("problem")
    group.add_argument(
        "--problem",
        metavar="FILE|NAME",
        help="a TOML problem file or a built-in name (exercise2); default: none (symbolic)",
    )
    for flags, dest, text in _OVERRIDES:
        group.add_argument(*flags, dest=dest, metavar="V", help=text)


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="symconv",
        description="Derive, verify and check the backprop of a 1-D convolution layer.",
    )
    parser.add_argument("--version", action="version", version=f"symconv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    derive = commands.add_parser(
        "derive", help="a worked derivation: forward, loss, gradients, update"
    )
    add_problem_options(derive)
    derive.add_argument("--steps", metavar="N", help="number of SGD steps to show (default 1)")
    derive.add_argument(
        "--form",
        choices=("explicit", "closed", "both"),
        default="both",
        help="explicit (named symbols), closed (symbolic sizes) or both (default)",
    )
    derive.add_argument("--json", action="store_true", help="print one JSON document")
    derive.add_argument("--plain", action="store_true", help="no colour or box drawing")
    derive.add_argument("--force", action="store_true", help="expand even huge explicit forms")
    derive.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)

    demo = commands.add_parser("demo", help="the worked derivation of the built-in exercise")
    demo.add_argument("--plain", action="store_true", help="no colour or box drawing")
    demo.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)

    # commands living in their own modules: each has configure(parser) and run(args) -> int,
    # and imports its heavy dependencies only inside run()
    for command, (module, text) in _COMMAND_MODULES.items():
        importlib.import_module(module).configure(commands.add_parser(command, help=text))
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        dest: getattr(args, dest)
        for _, dest, _ in _OVERRIDES
        if getattr(args, dest, None) is not None
    }


def load_problem_from_args(args: argparse.Namespace) -> Any:
    """The validated Problem of --problem plus overrides (raises SymconvError)."""
    from symconv.problem import load_problem

    overrides = _overrides(args)
    if args.problem is None:
        missing = [
            flag
            for flag, dest in (("--n", "layer.input_length"), ("--k", "layer.kernel_size"))
            if dest not in overrides
        ]
        if missing:
            raise UsageError(
                f"{' and '.join(missing)} required without --problem "
                "(or give --problem FILE|NAME, e.g. --problem exercise2)"
            )
    if overrides.get("layer.bias") == "none" and "values.b" not in overrides:
        overrides["values.b"] = None  # --bias none drops the file's bias values
    try:
        problem = load_problem(args.problem, overrides)
    except ProblemError as exc:
        # name the option the user typed, not the TOML field it overrides
        field = exc.field.split("[")[0]
        if field in overrides:
            flag = next(flags[0] for flags, dest, _ in _OVERRIDES if dest == field)
            if "[" in exc.field:  # one entry of a list: --x 1,2,a
                entry = exc.field.split("[")[1].rstrip("]")
                raise UsageError(f"`{flag}` entry {entry} (={exc.value}) {exc.allowed}") from None
            raise UsageError(f"`{flag}` (={overrides[field]}) {exc.allowed}") from None
        option = next((flags[0] for flags, dest, _ in _OVERRIDES if dest == field), None)
        if option is not None and overrides:
            # a value from the problem file no longer fits the overridden layer
            raise UsageError(
                f"{exc}; it comes from the problem file: override it with {option}"
            ) from None
        raise
    if getattr(args, "steps", None) is not None:
        problem = problem.with_steps(args.steps)
    return problem


def console_from_args(args: argparse.Namespace) -> Any:
    """A rich Console honouring --plain, --width and NO_COLOR."""
    from rich.console import Console

    plain = bool(getattr(args, "plain", False))
    no_color = plain or "NO_COLOR" in os.environ
    return Console(
        width=args.width,
        no_color=no_color,
        color_system=None if plain else "auto",
        emoji=False,
        highlight=False,
        legacy_windows=False,
        soft_wrap=False,
    )


def _derive(args: argparse.Namespace) -> int:
    from symconv.derivation import build

    problem = load_problem_from_args(args)
    result = build(problem, form=args.form, force=args.force)
    if args.json:
        from symconv.serialize import derivation_json

        json.dump(derivation_json(result), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    from symconv.display import render_derivation

    render_derivation(console_from_args(args), result, plain=args.plain)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from symconv.derivation import build
    from symconv.display import render_derivation
    from symconv.problem import load_problem

    result = build(load_problem("exercise2"), form="both")
    render_derivation(console_from_args(args), result, plain=args.plain)
    # then the solution sheet (reports/exercise2.tex, .pdf), the equivariance proofs and a
    # quick run of the experiment, as their own commands do them
    status = 0
    for argv in (
        ["report"],
        ["equivariance", "--prove"],
        ["equivariance", "--quick", "-o", "reports/equivariance-quick"],
    ):
        print(file=sys.stderr)
        module = importlib.import_module(_COMMAND_MODULES[argv[0]][0])
        status = max(status, module.run(_build_parser().parse_args(argv)))
    return status


_VALUE_FLAGS = {flag for flags, dest, _ in _OVERRIDES for flag in flags}


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--x -1,2`` as ``--x=-1,2``: argparse would take ``-1,2`` for an option."""
    out: list[str] = []
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if (
            token in _VALUE_FLAGS
            and following[:1] == "-"
            and following[1:2] != ""
            and following[1:2] in "0123456789."
        ):
            out.append(f"{token}={following}")
            index += 2
            continue
        out.append(token)
        index += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(_join_negative_values(sys.argv[1:] if argv is None else argv))
    handlers = {"derive": _derive, "demo": _demo}
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command in _COMMAND_MODULES:
            module = importlib.import_module(_COMMAND_MODULES[args.command][0])
            status: int = module.run(args)
            return status
        return handlers[args.command](args)
    except SymconvError as exc:
        _fail(str(exc))
    except BrokenPipeError:
        return 0
