"""The ``symconv`` command line: dispatch only (no math, no options of its own).

Each command lives in its own module with ``configure(parser)`` (cheap: adds options)
and ``run(args) -> int`` (imports what it needs).  The options every command shares are
in :mod:`symconv.cli.options`; command modules import from there, never from here.

Exit codes: 0 success, 1 a check found a mismatch, 2 bad input or usage (one line on
stderr, no traceback), 130 interrupted (SIGINT, Ctrl-C), 143 terminated (SIGTERM): one
line on stderr, no traceback, temporary files and TeX processes cleaned up first.
``--json`` prints one JSON document on stdout and nothing else.

Example:
    >>> main(["derive", "--problem", "exercise2", "--stride", "0"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from symconv import __version__
from symconv.cli.options import Parser, fail, join_negative_values
from symconv.errors import SymconvError, Terminated

__all__ = ["COMMANDS", "build_parser", "main"]

# command -> (its module, with configure(parser) and run(args) -> int; its one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "derive": ("symconv.cli.derive", "a worked derivation: forward, loss, gradients, update"),
    "verify": (
        "symconv.verify",
        "cross-check every quantity against NumPy, PyTorch, finite differences",
    ),
    "check": ("symconv.check.command", "judge a hand-written derivation equation by equation"),
    "report": ("symconv.latex", "write (and compile) a LaTeX solution report"),
    "exercise": (
        "symconv.course.exercise",
        "randomized exercise variants: problems, question and solution sheets, manifest",
    ),
    "grade": (
        "symconv.course.grade",
        "grade a course's submissions against their variants: gradebook and feedback",
    ),
    "equivariance": ("symconv.experiment.command", "shift equivariance: proofs and experiment"),
    "demo": ("symconv.cli.demo", "the main job on the built-in exercise"),
}


def build_parser() -> Parser:
    """The parser of ``symconv`` and every command (imports only the command modules).

    Example:
        >>> build_parser().parse_args(["derive", "--problem", "exercise2"]).command
        'derive'
    """
    parser = Parser(
        prog="symconv",
        description="Derive, verify and check the backprop of a convolution layer "
        "(1 to 3 axes, channels, groups, batch) with SymPy.",
    )
    parser.add_argument("--version", action="version", version=f"symconv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command, (module, text) in COMMANDS.items():
        importlib.import_module(module).configure(commands.add_parser(command, help=text))
    return parser


def _terminate(signal_number: int, _frame: FrameType | None) -> None:
    raise Terminated(signal_number)


@contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM raises :class:`~symconv.errors.Terminated` in the main thread (so cleanup
    runs); SIGINT raises KeyboardInterrupt as usual.  The old handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: a library caller's thread keeps its own
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_exit(status: int, message: str) -> int:
    """One line on stderr (after what stdout holds), the status to exit with."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    print(f"symconv: {message}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (bad input: exit 2, one line;
    SIGINT 130, SIGTERM 143, one line)."""
    try:
        with _signals():
            parser = build_parser()
            args = parser.parse_args(join_negative_values(sys.argv[1:] if argv is None else argv))
            if args.command is None:
                parser.print_help(sys.stderr)
                return 2
            try:
                status: int = importlib.import_module(COMMANDS[args.command][0]).run(args)
                return status
            except SymconvError as exc:
                fail(str(exc))
            except BrokenPipeError:
                return 0
    except KeyboardInterrupt:
        return _quiet_exit(128 + signal.SIGINT, "interrupted (SIGINT)")
    except Terminated as exc:
        return _quiet_exit(128 + exc.signal_number, "terminated (SIGTERM)")
