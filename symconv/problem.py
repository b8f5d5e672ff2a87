"""The problem: a 1-D convolution layer, its loss, the optimizer and (optionally) values.

A problem is read from TOML (a file or a built-in such as ``exercise2``), merged with
command-line overrides and validated once, here, so that every later stage can trust it.
Numbers are read exactly: ``"0.01"`` is ``Rational(1, 100)``; no user text is ever
evaluated.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from sympy import Integer, Rational

from symconv.errors import ProblemError

__all__ = [
    "BIAS_MODES",
    "LOSSES",
    "PADDING_MODES",
    "Problem",
    "builtin_names",
    "load_problem",
    "parse_number",
    "parse_size",
    "problem_from_dict",
]

PADDING_MODES = ("zeros", "circular")
BIAS_MODES = ("shared", "untied", "none")
LOSSES = ("sse_half", "mse")

# Upper bounds that keep every size a plain machine integer and every number printable.
_MAX_SIZE = 10**9
_MAX_STEPS = 10_000
_MAX_NUMBER_CHARS = 100
_MAX_EXPONENT = 100

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?")
_FRACTION = re.compile(r"[+-]?[0-9]+/[0-9]+")

# The schema: table -> key -> kind.  Anything else in a file is an error.
_SCHEMA: dict[str, dict[str, str]] = {
    "layer": {
        "input_length": "size",
        "kernel_size": "size",
        "stride": "size",
        "padding": "count",
        "padding_mode": "choice",
        "dilation": "size",
        "bias": "choice",
    },
    "loss": {"kind": "choice"},
    "optimizer": {"learning_rate": "number", "steps": "size"},
    "values": {"x": "list", "w": "list", "b": "bias", "y": "list"},
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "layer": {"stride": 1, "padding": 0, "padding_mode": "zeros", "dilation": 1, "bias": "shared"},
    "loss": {"kind": "sse_half"},
    "optimizer": {"learning_rate": "0.01", "steps": 1},
}
_CHOICES = {
    "layer.padding_mode": PADDING_MODES,
    "layer.bias": BIAS_MODES,
    "loss.kind": LOSSES,
}


_ONE_HUNDREDTH = Rational(1, 100)


@dataclass(frozen=True)
class Problem:
    """A validated problem.  Sizes are ints; numbers are exact SymPy ``Rational``.

    ``x`` has ``n`` entries, ``w`` has ``k``, ``y`` has ``m`` (the output length); ``b`` is a
    tuple of ``m`` entries for an untied bias, one ``Rational`` for a shared bias and
    ``None`` when there is no bias.  ``x``, ``w``, ``b`` and ``y`` are all ``None`` for a
    symbolic-only problem.

    Example:
        >>> p = load_problem("exercise2")
        >>> (p.n, p.k, p.m, p.lr)
        (4, 3, 2, 1/100)
    """

    title: str
    n: int
    k: int
    stride: int = 1
    padding: int = 0
    padding_mode: str = "zeros"
    dilation: int = 1
    bias: str = "shared"
    loss: str = "sse_half"
    lr: Rational = _ONE_HUNDREDTH
    steps: int = 1
    x: tuple[Rational, ...] | None = None
    w: tuple[Rational, ...] | None = None
    b: tuple[Rational, ...] | Rational | None = None
    y: tuple[Rational, ...] | None = None

    @property
    def m(self) -> int:
        """Output length: ``floor((n + 2p - d(k-1) - 1) / s) + 1``."""
        return output_length(self.n, self.k, self.stride, self.padding, self.dilation)

    @property
    def has_values(self) -> bool:
        """True when x, w, y (and b, unless the bias is "none") are given."""
        return self.x is not None

    def layer_dict(self) -> dict[str, Any]:
        """The layer, loss and optimizer settings as plain JSON-able data."""
        return {
            "input_length": self.n,
            "kernel_size": self.k,
            "stride": self.stride,
            "padding": self.padding,
            "padding_mode": self.padding_mode,
            "dilation": self.dilation,
            "bias": self.bias,
            "output_length": self.m,
            "loss": self.loss,
            "learning_rate": str(self.lr),
            "steps": self.steps,
        }

    def with_steps(self, steps: object) -> Problem:
        """The same problem with another number of SGD steps (validated like ``--steps``)."""
        return replace(self, steps=parse_size("--steps", steps, maximum=_MAX_STEPS))


def output_length(n: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """``floor((n + 2p - d(k-1) - 1) / s) + 1`` (may be < 1 for an impossible layer)."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


# ---------------------------------------------------------------------------------------
# numbers


def parse_number(field: str, value: object) -> Rational:
    """Read one number exactly.

    Accepts an int, a finite float (read as its shortest decimal, so ``0.01`` is 1/100),
    or a string holding a decimal (``"0.01"``, ``"-1.5e-3"``) or a fraction (``"1/3"``).

    Example:
        >>> parse_number("optimizer.learning_rate", "0.01")
        1/100
    """
    if isinstance(value, bool):
        raise ProblemError(field, value, "must be a number, not a boolean")
    if isinstance(value, int):
        return Integer(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProblemError(field, value, "must be a finite number")
        return _rational(Fraction(repr(value)))
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_CHARS:
            raise ProblemError(field, value, f"is longer than {_MAX_NUMBER_CHARS} characters")
        decimal = _DECIMAL.fullmatch(text)
        if decimal:
            exponent = decimal.group(1)
            if exponent is not None and abs(int(exponent)) > _MAX_EXPONENT:
                raise ProblemError(
                    field, value, f"has an exponent beyond ±{_MAX_EXPONENT}; write a smaller number"
                )
            return _rational(Fraction(text))
        if _FRACTION.fullmatch(text):
            numerator, denominator = text.split("/")
            if int(denominator) == 0:
                raise ProblemError(field, value, "has a zero denominator")
            return _rational(Fraction(int(numerator), int(denominator)))
        raise ProblemError(
            field,
            value,
            'must be a number: an integer, a decimal like "0.01" or a fraction like "1/3"',
        )
    raise ProblemError(field, value, "must be a number")


def _rational(fraction: Fraction) -> Rational:
    return Rational(fraction.numerator, fraction.denominator)


def parse_size(field: str, value: object, *, minimum: int = 1, maximum: int = _MAX_SIZE) -> int:
    """An integer field in ``minimum..maximum`` (a TOML int, or digits from the command line)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,12}", value.strip()):
        number = int(value)
    if number is None:
        raise ProblemError(field, value, f"must be an integer >= {minimum}")
    if number < minimum:
        raise ProblemError(field, value, f"must be an integer >= {minimum}")
    if number > maximum:
        raise ProblemError(field, value, f"must be an integer <= {maximum}")
    return number


def _split(value: object) -> object:
    """A comma-separated string (``"1,2,3"``, as given on the command line) as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    return value


def _number_list(field: str, value: object, length: int, what: str) -> tuple[Rational, ...]:
    value = _split(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ProblemError(field, value, f"must be a list of {length} numbers ({what})")
    if len(value) != length:
        raise ProblemError(field, value, f"has {len(value)} entries; {what} needs exactly {length}")
    return tuple(parse_number(f"{field}[{i + 1}]", item) for i, item in enumerate(value))


# ---------------------------------------------------------------------------------------
# loading


def builtin_names() -> list[str]:
    """Names of the built-in problems (``exercise2``, ...)."""
    folder = resources.files("symconv.problems")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError("--problem", source, f"is not valid TOML: {exc}") from None


def load_raw(spec: str | Path | None) -> dict[str, Any]:
    """The unvalidated TOML tables of a problem file or built-in name (``{}`` for None)."""
    if spec is None:
        return {}
    name = str(spec)
    if name in builtin_names():
        text = resources.files("symconv.problems").joinpath(f"{name}.toml").read_text("utf-8")
        return _read_toml(text, name)
    path = Path(name)
    if not path.is_file():
        raise ProblemError(
            "--problem",
            name,
            f"is neither a readable file nor a built-in problem ({', '.join(builtin_names())})",
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError("--problem", name, f"cannot be read: {exc}") from None
    return _read_toml(text, name)


def load_problem(
    spec: str | Path | None = None, overrides: Mapping[str, object] | None = None
) -> Problem:
    """Load, merge overrides into and validate a problem.

    ``spec`` is a built-in name, a TOML path or None (a symbolic problem from overrides
    alone).  ``overrides`` maps dotted names (``"layer.stride"``, ``"values.x"``, or a
    top-level ``"title"``) to values as they would appear in TOML (strings are fine for
    numbers and sizes; ``None`` removes the key).

    Example:
        >>> load_problem("exercise2", {"layer.bias": "shared", "values.b": "1"}).b
        1
    """
    raw = load_raw(spec)
    for dotted, value in (overrides or {}).items():
        if "." not in dotted:  # a top-level key such as "title"
            raw[dotted] = value
            continue
        table, _, key = dotted.partition(".")
        section = raw.setdefault(table, {})
        if not isinstance(section, dict):
            raise ProblemError(table, section, "must be a table")
        if value is None:  # remove the key (e.g. the file's bias values for --bias none)
            section.pop(key, None)
        else:
            section[key] = value
    return problem_from_dict(raw)


def problem_from_dict(raw: Mapping[str, Any]) -> Problem:
    """Validate the TOML tables of a problem (see the module docstring for the schema)."""
    title = raw.get("title", "Convolution in 1-D")
    if not isinstance(title, str) or len(title) > 200:
        raise ProblemError("title", title, "must be a string of at most 200 characters")
    for table, section in raw.items():
        if table == "title":
            continue
        if table not in _SCHEMA:
            raise ProblemError(
                table, section, f"is not a known table; allowed: title, {', '.join(_SCHEMA)}"
            )
        if not isinstance(section, Mapping):
            raise ProblemError(table, section, "must be a table")
        for key in section:
            if key not in _SCHEMA[table]:
                raise ProblemError(
                    f"{table}.{key}",
                    section[key],
                    f"is not a known key of [{table}]; allowed: {', '.join(_SCHEMA[table])}",
                )

    def get(table: str, key: str) -> Any:
        section = raw.get(table, {})
        if key in section:
            return section[key]
        if key in _DEFAULTS.get(table, {}):
            return _DEFAULTS[table][key]
        raise ProblemError(f"{table}.{key}", "missing", "is required")

    def choice(table: str, key: str) -> str:
        field = f"{table}.{key}"
        value = get(table, key)
        allowed = _CHOICES[field]
        if value not in allowed:
            raise ProblemError(field, value, f"must be one of {', '.join(map(repr, allowed))}")
        return str(value)

    n = parse_size("layer.input_length", get("layer", "input_length"))
    k = parse_size("layer.kernel_size", get("layer", "kernel_size"))
    stride = parse_size("layer.stride", get("layer", "stride"))
    padding = parse_size("layer.padding", get("layer", "padding"), minimum=0)
    padding_mode = choice("layer", "padding_mode")
    dilation = parse_size("layer.dilation", get("layer", "dilation"))
    bias = choice("layer", "bias")
    loss = choice("loss", "kind")
    lr = parse_number("optimizer.learning_rate", get("optimizer", "learning_rate"))
    if lr <= 0:
        raise ProblemError(
            "optimizer.learning_rate", get("optimizer", "learning_rate"), "must be > 0"
        )
    steps = parse_size("optimizer.steps", get("optimizer", "steps"), maximum=_MAX_STEPS)

    span = dilation * (k - 1) + 1
    if span > n + 2 * padding:
        raise ProblemError(
            "layer.kernel_size",
            k,
            f"with dilation {dilation} spans {span} positions, more than the padded input "
            f"(input_length + 2·padding = {n + 2 * padding}); allowed: a span of at most "
            f"{n + 2 * padding}",
        )
    if padding_mode == "circular" and padding > n:
        raise ProblemError(
            "layer.padding",
            padding,
            f"is larger than input_length ({n}); circular padding wraps at most once",
        )
    m = output_length(n, k, stride, padding, dilation)

    x = w = y = None
    b: tuple[Rational, ...] | Rational | None = None
    values = raw.get("values")
    if values is not None:
        needed = ["x", "w", "y"] + ([] if bias == "none" else ["b"])
        missing = [key for key in needed if key not in values]
        if missing:
            raise ProblemError(
                f"values.{missing[0]}",
                "missing",
                f"is required when [values] is given (give {', '.join(needed)} or no [values])",
            )
        x = _number_list("values.x", values["x"], n, f"input_length n = {n}")
        w = _number_list("values.w", values["w"], k, f"kernel_size k = {k}")
        y = _number_list("values.y", values["y"], m, f"the output length m = {m}")
        b = _bias_values(bias, values.get("b"), m)
    return Problem(
        title=title,
        n=n,
        k=k,
        stride=stride,
        padding=padding,
        padding_mode=padding_mode,
        dilation=dilation,
        bias=bias,
        loss=loss,
        lr=lr,
        steps=steps,
        x=x,
        w=w,
        b=b,
        y=y,
    )


def _bias_values(bias: str, value: object, m: int) -> tuple[Rational, ...] | Rational | None:
    if bias == "none":
        if value is not None:
            raise ProblemError("values.b", value, 'must be absent when layer.bias is "none"')
        return None
    if bias == "shared":
        if isinstance(value, str) and "," in value:
            value = _split(value)
        if isinstance(value, Sequence) and not isinstance(value, str):
            raise ProblemError(
                "values.b", value, 'must be one number for a shared bias (layer.bias = "shared")'
            )
        return parse_number("values.b", value)
    if isinstance(value, str):
        value = _split(value)
    if not isinstance(value, Sequence):
        raise ProblemError(
            "values.b",
            value,
            f'must be a list of m = {m} numbers for an untied bias (layer.bias = "untied")',
        )
    return _number_list("values.b", value, m, f"an untied bias (one per output, m = {m})")
