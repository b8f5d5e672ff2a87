"""What every command shares: the problem options, the console, the one-line error.

Command modules (``symconv.cli.derive``, ``symconv.verify``, ...) import from here and
never from the dispatcher (:mod:`symconv.cli`).  This module is cheap to import (no
SymPy, NumPy, torch or rich): building the parser of ``symconv --help`` must stay fast.

The problem options override fields of a problem file (or build a symbolic problem
without one).  Each option names one dotted TOML field (``--stride`` is
``layer.stride``); its text goes to :mod:`symconv.problem` unchanged, which validates
it.  An error is then reported with the option the user typed, not the TOML field:
``symconv: error: `--stride` (=0) must be an integer >= 1``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from symconv.errors import ProblemError, UsageError
from symconv.layer import BIAS_MODES, PADDING_MODES

__all__ = [
    "OVERRIDES",
    "Override",
    "Parser",
    "add_problem_options",
    "console_from_args",
    "fail",
    "join_negative_values",
    "load_problem_from_args",
    "output_dir",
    "output_file",
    "overrides_from_args",
    "seconds",
    "size_given",
]


class Override(NamedTuple):
    """One problem option: its flags (the first is the one shown), the dotted TOML field
    it sets, a metavar and its help (what it accepts).  (A NamedTuple, not a dataclass:
    this module is imported for ``--help``, and a dataclass costs a millisecond.)"""

    flags: tuple[str, ...]
    field: str
    metavar: str
    help: str


_PER_AXIS = "one integer for every axis or one per axis"
# Kept in step with symconv.loss.LOSSES by tests/test_cli.py (symconv.loss imports SymPy).
_LOSS_HELP = (
    "sse_half (L = Σ ½(y − ŷ)², the default) | mse (mean of (y − ŷ)² over every output "
    "entry, as torch's MSELoss) | upstream (no loss: ∂L/∂ŷ is given by --grad-yhat)"
)

OVERRIDES: tuple[Override, ...] = (
    Override(("--n", "--input-length"), "layer.input_length", "N",
             "input length n of a 1-D layer (an integer >= 1)"),
    Override(("--input-shape",), "layer.input_shape", "N[,N[,N]]",
             "spatial input sizes, 1 to 3 axes, e.g. 6,6 (instead of --n)"),
    Override(("--k", "--kernel-size"), "layer.kernel_size", "K[,K..]",
             f"kernel size >= 1: {_PER_AXIS} (3,2)"),
    Override(("--stride",), "layer.stride", "S[,S..]",
             f"stride >= 1: {_PER_AXIS} (default 1)"),
    Override(("--padding",), "layer.padding", "P[,P..]|same|valid",
             f"padding >= 0 on both sides: {_PER_AXIS} (1,0); valid (none); same (output "
             "size ceil(n/s); the extra padding of an even kernel goes after); default 0"),
    Override(("--padding-mode",), "layer.padding_mode", "MODE",
             f"{' | '.join(PADDING_MODES)} (default {PADDING_MODES[0]})"),
    Override(("--dilation",), "layer.dilation", "D[,D..]",
             f"dilation >= 1: {_PER_AXIS} (default 1)"),
    Override(("--bias",), "layer.bias", "MODE",
             f"{' | '.join(BIAS_MODES)}: shared is one per output channel (default), untied "
             "one per output channel and position"),
    Override(("--in-channels",), "layer.in_channels", "C", "input channels (default 1)"),
    Override(("--out-channels",), "layer.out_channels", "C", "output channels (default 1)"),
    Override(("--groups",), "layer.groups", "G",
             "channel groups, dividing --in-channels and --out-channels (default 1)"),
    Override(("--batch",), "layer.batch", "B", "examples in the batch (default 1)"),
    Override(("--loss",), "loss.kind", "KIND", _LOSS_HELP),
    Override(("--lr",), "optimizer.learning_rate", "RATE",
             'learning rate > 0, read exactly: a decimal ("0.01" is 1/100) or a fraction (1/3)'),
    Override(("--x",), "values.x", "V,V,..",
             "input values, comma-separated, row-major in [batch, in_channels, *input_shape] "
             "(--x 1,2,3,4)"),
    Override(("--w",), "values.w", "V,V,..",
             "weights, comma-separated, row-major in "
             "[out_channels, in_channels/groups, *kernel_size]"),
    Override(("--b",), "values.b", "V,V,..",
             "bias values: shared: one per output channel (one number for one channel); "
             "untied: row-major in [out_channels, *output_shape]"),
    Override(("--y",), "values.y", "V,V,..",
             "target values, comma-separated, row-major in [batch, out_channels, *output_shape]"),
    Override(("--grad-yhat",), "values.grad_yhat", "V,V,..",
             "∂L/∂ŷ for --loss upstream, comma-separated, in the shape of y"),
)

_BY_FIELD: dict[str, Override] = {option.field: option for option in OVERRIDES}
_SHAPE_FIELDS = ("layer.input_length", "layer.input_shape")
# the options the user typed, by field (recorded by _Record): errors name these
_TYPED = "_typed_options"
_VALUE_FLAGS = frozenset(flag for option in OVERRIDES for flag in option.flags)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: {message} (see `{self.prog} --help`)")


def fail(message: str) -> NoReturn:
    """Print ``symconv: error: <message>`` as one line on stderr and exit with status 2."""
    print(f"symconv: error: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(2)


class _Record(argparse.Action):
    """Store the option's text and remember which spelling was typed (``--kernel-size``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        typed = dict(getattr(namespace, _TYPED, {}))
        typed[self.dest] = option_string or self.option_strings[0]
        setattr(namespace, _TYPED, typed)


def _builtin_names() -> list[str]:
    """The built-in problems (as :func:`symconv.problem.builtin_names`, without importing
    SymPy or the zip reader of ``importlib.resources``: this runs for ``--help``)."""
    import symconv.problems

    folder = Path(symconv.problems.__file__).parent
    return sorted(p.stem for p in folder.iterdir() if p.suffix == ".toml")


def add_problem_options(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    """Add ``--problem`` and the layer/value overrides to a command's parser.

    Each override is stored under its dotted TOML field (``args."layer.stride"``), None
    when not given.  ``default`` is the problem the command uses without ``--problem``
    (stated in the help); None: a symbolic problem from the options.

    Example:
        >>> parser = Parser(prog="symconv derive")
        >>> add_problem_options(parser)
        >>> args = parser.parse_args(["--input-shape", "6,6", "--kernel-size", "3,2"])
        >>> overrides_from_args(args)
        {'layer.input_shape': '6,6', 'layer.kernel_size': '3,2'}
    """
    group = parser.add_argument_group(
        "problem",
        "a problem file or built-in, changed by the options below; values are read exactly",
    )
    fallback = (
        "none (a symbolic problem from the options; --n or --input-shape, and --k)"
        if default is None
        else default
    )
    group.add_argument(
        "--problem",
        metavar="FILE|NAME",
        help=f"a TOML problem file or a built-in ({', '.join(_builtin_names())}); "
        f"default: {fallback}",
    )
    for option in OVERRIDES:
        group.add_argument(
            *option.flags,
            dest=option.field,
            metavar=option.metavar,
            action=_Record,
            help=option.help,
        )


def overrides_from_args(args: argparse.Namespace) -> dict[str, str]:
    """The problem options given, by dotted TOML field (see :func:`add_problem_options`)."""
    return {
        option.field: getattr(args, option.field)
        for option in OVERRIDES
        if getattr(args, option.field, None) is not None
    }


def size_given(args: argparse.Namespace) -> bool:
    """True when the input size is given by an option (``--n`` or ``--input-shape``)."""
    return any(getattr(args, field, None) is not None for field in _SHAPE_FIELDS)


def _flag(field: str, typed: Mapping[str, str]) -> str:
    """The option of a field, spelled as the user typed it."""
    return typed.get(field, _BY_FIELD[field].flags[0])


def _merged(
    spec: str | None, given: Mapping[str, str], typed: Mapping[str, str]
) -> dict[str, str | None]:
    """The overrides for :func:`symconv.problem.load_problem`: the options given, and the
    file's keys they make meaningless removed (None)."""
    from symconv.problem import load_raw

    merged: dict[str, str | None] = dict(given)
    raw = load_raw(spec)

    def drop(field: str) -> None:
        table, _, key = field.partition(".")
        section = raw.get(table)
        if isinstance(section, dict) and key in section and field not in given:
            merged[field] = None

    # the input size: --n and --input-shape each replace the file's size, of either spelling
    shapes = [field for field in _SHAPE_FIELDS if field in given]
    if len(shapes) == 2:
        chosen = [field for field in shapes if field in typed]
        if len(chosen) != 1:
            length, shape = (_flag(field, typed) for field in _SHAPE_FIELDS)
            raise UsageError(
                f"`{shape}` (={given['layer.input_shape']}) cannot be given with `{length}` "
                f"(={given['layer.input_length']}): both set the input size; give one"
            )
        shapes = chosen  # the one the user typed wins over a command's default
        other = next(field for field in _SHAPE_FIELDS if field not in chosen)
        del merged[other]
    for field in shapes:
        drop(next(other for other in _SHAPE_FIELDS if other != field))
    # no bias: the file's bias values go; the upstream loss has no target, the others
    # derive ∂L/∂ŷ (so the file's y or grad_yhat goes)
    if given.get("layer.bias") == "none":
        drop("values.b")
    if "loss.kind" in given:
        drop("values.y" if given["loss.kind"] == "upstream" else "values.grad_yhat")
    return merged


def _indices(text: str) -> list[str]:
    return re.findall(r"\[([0-9]+)\]", text)


def _option_error(
    exc: ProblemError, given: Mapping[str, str], typed: Mapping[str, str], has_file: bool
) -> UsageError | None:
    """The error in terms of the options, or None when no option is involved."""
    base, _, rest = exc.field.partition("[")
    indices = _indices("[" + rest) if rest else []
    if base in given:
        flag = _flag(base, typed)
        if indices:  # one entry of a list: --x 1,2,a (flat, row-major) or --stride 1,0
            entry = indices[0] if len(indices) == 1 else "".join(f"[{i}]" for i in indices)
            return UsageError(f"`{flag}` entry {entry} (={exc.value}) {exc.allowed}")
        return UsageError(f"`{flag}` (={given[base]}) {exc.allowed}")
    if base not in _BY_FIELD:
        return None
    flag = _flag(base, typed)
    if exc.value == "missing":  # a value the chosen layer or loss needs
        return UsageError(f"{exc}; give it with {flag}")
    if given and has_file:
        # a value from the problem file no longer fits the changed layer
        return UsageError(f"{exc}; it comes from the problem file: override it with {flag}")
    return None


def load_problem_from_args(args: argparse.Namespace) -> Any:
    """The validated :class:`~symconv.problem.Problem` of ``--problem`` plus the overrides.

    ``--n`` on a file that gives ``input_shape`` (or ``--input-shape`` on one that gives
    ``input_length``) replaces the file's size; ``--bias none`` drops the file's bias
    values; ``--loss upstream`` its target ``y`` (another loss its ``grad_yhat``).  Raises
    :class:`~symconv.errors.UsageError` naming the option the user typed, or the
    :class:`~symconv.errors.ProblemError` of a bad problem file.

    Example:
        >>> parser = Parser(prog="symconv derive")
        >>> add_problem_options(parser)
        >>> args = parser.parse_args(["--problem", "exercise2", "--bias", "none"])
        >>> load_problem_from_args(args).layer.b_shape is None
        True
    """
    from symconv.problem import load_problem

    given = overrides_from_args(args)
    typed: Mapping[str, str] = getattr(args, _TYPED, {})
    spec = getattr(args, "problem", None)
    if spec is None:
        missing = []
        if not size_given(args):
            missing.append("--n")
        if "layer.kernel_size" not in given:
            missing.append("--k")
        if missing:
            raise UsageError(
                f"{' and '.join(missing)} required without --problem (--input-shape instead "
                "of --n for 2 or 3 axes; or give --problem FILE|NAME, e.g. --problem exercise2)"
            )
    try:
        problem = load_problem(spec, _merged(spec, given, typed))
    except ProblemError as exc:
        error = _option_error(exc, given, typed, spec is not None)
        if error is None:
            raise
        raise error from None
    if getattr(args, "steps", None) is not None:
        problem = problem.with_steps(args.steps)
    return problem


def console_from_args(args: argparse.Namespace) -> Any:
    """A rich ``Console`` honouring ``--plain``, ``--width`` and ``NO_COLOR``: on a
    terminal its width; not on a terminal (a pipe, a file), ``$COLUMNS`` if set, else no
    wrapping, and no trailing spaces (:func:`symconv.terminal.make_console`)."""
    from symconv.terminal import make_console

    return make_console(
        width=getattr(args, "width", None), plain=bool(getattr(args, "plain", False))
    )


def join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--x -1,2`` as ``--x=-1,2``: argparse would take ``-1,2`` for an option.

    Example:
        >>> join_negative_values(["derive", "--x", "-1,2", "--json"])
        ['derive', '--x=-1,2', '--json']
    """
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


# ---------------------------------------------------------------------------------------
# checked before any work: output paths and durations


def _probe(folder: Path, option: str, text: str) -> None:
    """Create and remove a file in ``folder``: the only sure test that it can be written
    (permissions, a read-only file system, a full disk's missing inode)."""
    try:
        handle, name = tempfile.mkstemp(prefix=".symconv-probe-", dir=folder)
    except OSError as exc:
        raise UsageError(
            f"`{option}` (={text!r}) cannot be written: {exc.strerror or exc} in {folder}"
        ) from None
    os.close(handle)
    os.unlink(name)


def output_dir(option: str, text: str | os.PathLike[str]) -> Path:
    """The folder ``option`` names, checked before any work: not empty, not a file (nor
    ``/dev/null``), and writable (an existing folder, or the nearest existing parent of a
    new one, where it would be created).  Raises :class:`~symconv.errors.UsageError`.

    Example:
        >>> output_dir("-o", "")
        Traceback (most recent call last):
        ...
        symconv.errors.UsageError: `-o` (='') is empty; give a folder (e.g. -o reports)
    """
    raw = os.fspath(text)
    if not raw.strip():
        raise UsageError(f"`{option}` (={raw!r}) is empty; give a folder (e.g. {option} reports)")
    path = Path(raw)
    if path.exists() and not path.is_dir():
        raise UsageError(f"`{option}` (={raw!r}) is not a folder; give a folder")
    existing = path
    while not existing.exists():
        if existing.is_symlink():  # a dangling link would be followed by mkdir
            raise UsageError(f"`{option}` (={raw!r}) leads through a dangling link {existing}")
        parent = existing.parent
        if parent == existing:
            break
        existing = parent
    if not existing.is_dir():
        raise UsageError(f"`{option}` (={raw!r}) cannot be created: {existing} is not a folder")
    _probe(existing, option, raw)
    return path


def output_file(option: str, text: str | os.PathLike[str]) -> Path:
    """A file ``option`` names, checked before any work: not empty, not a folder, not a
    special file (``/dev/null``), in a writable folder.  Raises
    :class:`~symconv.errors.UsageError`.

    Example:
        >>> output_file("--out", "/dev/null")
        Traceback (most recent call last):
        ...
        symconv.errors.UsageError: `--out` (='/dev/null') is not a regular file
    """
    raw = os.fspath(text)
    if not raw.strip():
        raise UsageError(f"`{option}` (={raw!r}) is empty; give a file name")
    path = Path(raw)
    if path.is_dir():
        raise UsageError(f"`{option}` (={raw!r}) is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise UsageError(f"`{option}` (={raw!r}) is not a regular file")
    output_dir(option, path.parent if str(path.parent) else ".")
    return path


MAX_SECONDS = 600.0


def seconds(option: str, text: str, *, maximum: float = MAX_SECONDS) -> float:
    """A duration in seconds: a finite number in (0, ``maximum``] (``nan``, ``inf``, ``0``
    and ``1e400`` are refused).  Raises :class:`~symconv.errors.UsageError`.

    Example:
        >>> seconds("--timeout", "2.5")
        2.5
        >>> seconds("--timeout", "nan")
        Traceback (most recent call last):
        ...
        symconv.errors.UsageError: `--timeout` (='nan') must be a number of seconds in (0, 600]
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 < value <= maximum:
        raise UsageError(f"`{option}` (={text!r}) must be a number of seconds in (0, {maximum:g}]")
    return value
