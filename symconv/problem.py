"""The problem: a convolution layer, its loss, the optimizer and (optionally) values.

``Problem`` = :class:`~symconv.layer.Layer` + a loss of :mod:`symconv.loss` + the SGD
settings + values.  A problem is read from TOML (a file or a built-in such as
``exercise2``), merged with command-line overrides and validated once, here, so that every
later stage can trust it.  Numbers are read exactly: ``"0.01"`` is ``Rational(1, 100)``; no
user text is ever evaluated.

Values are stored flat, row-major in the full shapes of the layer (``x``:
``(batch, in_channels, *input_shape)``, ...).  In TOML they are nested lists in those
shapes, and leading axes of size 1 may be left out, so a 1-D one-channel problem keeps
flat lists.
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

from symconv.errors import ProblemError, UnsupportedLayerError
from symconv.layer import BIAS_MODES, PADDING_MODES, BiasMode, Layer, PaddingMode, make_layer
from symconv.layer import output_length as _axis_output_length
from symconv.loss import LOSSES, Loss, LossKind, get_loss

__all__ = [
    "BIAS_MODES",
    "LOSSES",
    "NOTATION_KEYS",
    "PADDING_MODES",
    "Problem",
    "builtin_names",
    "load_problem",
    "load_raw",
    "output_length",
    "parse_number",
    "parse_size",
    "problem_from_dict",
]

# Upper bounds that keep every size a plain machine integer and every number printable.
_MAX_SIZE = 10**9
_MAX_STEPS = 10_000
_MAX_NUMBER_CHARS = 100
_MAX_EXPONENT = 100
# An integer is a number too: at most as many digits as a number's text may have.
_MAX_INTEGER_DIGITS = _MAX_NUMBER_CHARS
# Values are typed by people: a tensor of more entries than this is refused.
_MAX_VALUES = 200_000

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?")
_FRACTION = re.compile(r"[+-]?[0-9]+/[0-9]+")

# The roles a document's names may be given for (see `symconv check`).
NOTATION_KEYS = (
    "input",
    "weights",
    "bias",
    "output",
    "target",
    "loss",
    "gradient",
    "learning_rate",
    "index_base",
)

# The schema: table -> keys.  Anything else in a file is an error.
_SCHEMA: dict[str, tuple[str, ...]] = {
    "layer": (
        "input_length",
        "input_shape",
        "kernel_size",
        "stride",
        "padding",
        "padding_mode",
        "dilation",
        "bias",
        "in_channels",
        "out_channels",
        "groups",
        "batch",
    ),
    "loss": ("kind",),
    "optimizer": ("learning_rate", "steps"),
    "values": ("x", "w", "b", "y", "grad_yhat"),
    "notation": NOTATION_KEYS,
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "layer": {
        "stride": 1,
        "padding": 0,
        "padding_mode": "zeros",
        "dilation": 1,
        "bias": "shared",
        "in_channels": 1,
        "out_channels": 1,
        "groups": 1,
        "batch": 1,
    },
    "loss": {"kind": "sse_half"},
    "optimizer": {"learning_rate": "0.01", "steps": 1},
}

_ONE_HUNDREDTH = Rational(1, 100)

Values = tuple[Rational, ...]


@dataclass(frozen=True)
class Problem:
    """A validated problem: a layer, a loss, SGD settings and (optionally) exact values.

    ``x``, ``w``, ``y`` and ``grad_yhat`` are flat tuples, row-major in the layer's full
    shapes (``layer.x_shape``, ``layer.w_shape``, ``layer.y_shape``).  ``b`` is a flat tuple
    in ``layer.b_shape``, except that a shared bias of a one-output-channel layer is one
    ``Rational`` (as the exercise writes it); ``None`` when the bias is "none".  Without
    values, ``x``, ``w``, ``b`` and ``y`` are ``None`` (a symbolic problem).  With the
    ``upstream`` loss there is no ``y``; ``grad_yhat`` holds the given ∂L/∂ŷ, or is None.

    The 1-D properties ``n``, ``k``, ``m``, ``stride``, ``padding``, ``dilation`` describe a
    1-D one-channel batch-1 layer with even padding (``layer.is_single``); for any other
    layer they raise :class:`~symconv.errors.UnsupportedLayerError`.

    Example:
        >>> p = load_problem("exercise2")
        >>> (p.n, p.k, p.m, p.lr, p.layer.y_shape)
        (4, 3, 2, 1/100, (1, 1, 2))
    """

    title: str
    layer: Layer
    loss: LossKind = "sse_half"
    lr: Rational = _ONE_HUNDREDTH
    steps: int = 1
    x: Values | None = None
    w: Values | None = None
    b: Values | Rational | None = None
    y: Values | None = None
    grad_yhat: Values | None = None
    notation: tuple[tuple[str, str | int], ...] = ()

    # -- the loss and the values, for any layer -------------------------------------------

    @property
    def loss_spec(self) -> Loss:
        """The loss's registry entry (:mod:`symconv.loss`)."""
        return get_loss(self.loss)

    @property
    def padding_mode(self) -> PaddingMode:
        """``"zeros"`` or ``"circular"``."""
        return self.layer.padding_mode

    @property
    def bias(self) -> BiasMode:
        """``"shared"``, ``"untied"`` or ``"none"``."""
        return self.layer.bias

    @property
    def has_values(self) -> bool:
        """True when x and w (and b unless the bias is "none", and y unless upstream) are given."""
        return self.x is not None

    @property
    def b_values(self) -> Values | None:
        """The bias values as a flat tuple in ``layer.b_shape`` (None without a bias or values)."""
        if self.b is None:
            return None
        return self.b if isinstance(self.b, tuple) else (self.b,)

    @property
    def output_count(self) -> int:
        """Entries of the output (batch × out_channels × positions): mse's divisor."""
        return math.prod(self.layer.y_shape)

    # -- the 1-D view ---------------------------------------------------------------------

    def _single(self, what: str) -> Layer:
        layer = self.layer
        if not layer.is_single or layer.symmetric_padding is None:
            raise UnsupportedLayerError(
                f"{what} is defined for a 1-D one-channel batch-1 layer with even padding; "
                f"this problem's layer is {layer.describe()}"
            )
        return layer

    @property
    def n(self) -> int:
        """Input length (1-D layers)."""
        return self._single("the input length n").input_shape[0]

    @property
    def k(self) -> int:
        """Kernel size (1-D layers)."""
        return self._single("the kernel size k").kernel_size[0]

    @property
    def m(self) -> int:
        """Output length ``floor((n + 2p − d(k−1) − 1)/s) + 1`` (1-D layers)."""
        return self._single("the output length m").output_shape[0]

    @property
    def stride(self) -> int:
        """Stride (1-D layers)."""
        return self._single("the stride s").stride[0]

    @property
    def padding(self) -> int:
        """Padding on each side (1-D layers)."""
        return self._single("the padding p").padding[0][0]

    @property
    def dilation(self) -> int:
        """Dilation (1-D layers)."""
        return self._single("the dilation d").dilation[0]

    # -- plain data and changes -----------------------------------------------------------

    def layer_dict(self) -> dict[str, Any]:
        """The layer, loss and optimizer settings as plain JSON-able data.

        A 1-D one-channel batch-1 layer keeps the exercise's field names
        (``input_length``, ``kernel_size``, ...) as integers; every other layer uses the
        general field names with one entry per axis.
        """
        settings = {"loss": self.loss, "learning_rate": str(self.lr), "steps": self.steps}
        layer = self.layer
        if layer.is_single and layer.symmetric_padding is not None:
            return {
                "input_length": self.n,
                "kernel_size": self.k,
                "stride": self.stride,
                "padding": self.padding,
                "padding_mode": self.padding_mode,
                "dilation": self.dilation,
                "bias": self.bias,
                "output_length": self.m,
            } | settings
        return layer.to_dict() | settings

    def with_steps(self, steps: object) -> Problem:
        """The same problem with another number of SGD steps (validated like ``--steps``)."""
        return replace(self, steps=parse_size("--steps", steps, maximum=_MAX_STEPS))

    def with_notation(self, table: Mapping[str, Any]) -> Problem:
        """The same problem with another ``[notation]`` table (validated like the file's).

        Example:
            >>> load_problem("exercise2").with_notation({"output": "o"}).notation
            (('output', 'o'),)
        """
        unknown = sorted(set(table) - set(NOTATION_KEYS))
        if unknown:
            raise ProblemError(
                f"notation.{unknown[0]}",
                table[unknown[0]],
                "is not a role; allowed: " + ", ".join(NOTATION_KEYS),
            )
        return replace(self, notation=_notation(table))

    def with_layer(self, **changes: object) -> Problem:
        """The same problem on a changed layer (validated), e.g. ``with_layer(stride=2)``.

        Per-axis fields take one integer for every axis or a tuple.  The values are kept
        as they are: replace them (``dataclasses.replace``) when the shapes change.
        """
        layer = self.layer
        settings: dict[str, object] = {
            "input_shape": list(layer.input_shape),
            "kernel_size": list(layer.kernel_size),
            "stride": list(layer.stride),
            "padding": [list(pair) for pair in layer.padding],
            "dilation": list(layer.dilation),
            "padding_mode": layer.padding_mode,
            "bias": layer.bias,
            "in_channels": layer.in_channels,
            "out_channels": layer.out_channels,
            "groups": layer.groups,
            "batch": layer.batch,
        }
        for key, value in changes.items():
            if key not in settings:
                raise ProblemError(
                    f"layer.{key}", value, f"is not a layer field ({', '.join(settings)})"
                )
            settings[key] = list(value) if isinstance(value, tuple) else value
        return replace(self, layer=make_layer(**settings))  # type: ignore[arg-type]


def output_length(n: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """``floor((n + 2p - d(k-1) - 1) / s) + 1`` (may be < 1 for an impossible layer)."""
    return _axis_output_length(n, k, stride, padding, padding, dilation)


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
        digits = _digits(value)
        if digits > _MAX_INTEGER_DIGITS:
            raise ProblemError(
                field,
                f"an integer of {digits} digits",
                f"has more than {_MAX_INTEGER_DIGITS} digits; write a smaller number",
            )
        return Integer(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProblemError(field, value, "must be a finite number")
        # a float obeys the bounds of its shortest decimal, as a string does (1e308 is refused)
        return parse_number(field, repr(value))
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


def _digits(value: int) -> int:
    """Decimal digits of ``|value|``, without converting it to text (which Python refuses
    beyond 4,300 digits): exact below the limit, an upper bound of the right size above."""
    bits = abs(value).bit_length()
    if bits <= 4 * _MAX_INTEGER_DIGITS:
        return len(str(abs(value)))
    return int(bits * math.log10(2)) + 1


def _rational(fraction: Fraction) -> Rational:
    return Rational(fraction.numerator, fraction.denominator)


def parse_size(field: str, value: object, *, minimum: int = 1, maximum: int = _MAX_SIZE) -> int:
    """An integer field in ``minimum..maximum`` (a TOML int, or digits from the command line)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
        if _digits(number) > 12:  # shown by its size: Python refuses to print huge ints
            raise ProblemError(
                field, f"an integer of {_digits(number)} digits", f"must be an integer <= {maximum}"
            )
    elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,12}", value.strip()):
        number = int(value)
    if number is None:
        raise ProblemError(field, value, f"must be an integer >= {minimum}")
    if number < minimum:
        raise ProblemError(field, value, f"must be an integer >= {minimum}")
    if number > maximum:
        raise ProblemError(field, value, f"must be an integer <= {maximum}")
    return number


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
    except ValueError as exc:  # tomllib converts integers with int(): over 4,300 digits
        raise ProblemError(
            "--problem",
            source,
            f"holds a number that cannot be read ({str(exc).split(';')[0]}); numbers are "
            f"accepted up to {_MAX_INTEGER_DIGITS} digits",
        ) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ProblemError(
            "--problem", source, "nests arrays or inline tables too deeply to be read"
        ) from None


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
        if value is None:  # remove the key (e.g. the file's bias values for --bias none)
            if isinstance(raw.get(table), dict):
                raw[table].pop(key, None)
            continue
        section = raw.setdefault(table, {})
        if not isinstance(section, dict):
            raise ProblemError(table, section, "must be a table")
        section[key] = value
    return problem_from_dict(raw)


def problem_from_dict(raw: Mapping[str, Any]) -> Problem:
    """Validate the TOML tables of a problem (schema: ``symconv/problems/exercise2.toml``
    and design.md's general layer).

    Example:
        >>> p = problem_from_dict({"layer": {"input_shape": [4, 4], "kernel_size": 2,
        ...                                  "in_channels": 2}})
        >>> p.layer.w_shape, p.has_values
        ((1, 2, 2, 2), False)
    """
    title = raw.get("title", "Convolution layer")
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

    layer_table = raw.get("layer", {})
    if "input_length" in layer_table and "input_shape" in layer_table:
        raise ProblemError(
            "layer.input_shape",
            layer_table["input_shape"],
            "cannot be given with layer.input_length (input_length = n means input_shape = [n])",
        )
    if "input_shape" in layer_table:
        shape_field, shape = "layer.input_shape", layer_table["input_shape"]
    else:
        shape_field, shape = "layer.input_length", get("layer", "input_length")
        if isinstance(shape, (list, tuple)) or (isinstance(shape, str) and "," in shape):
            raise ProblemError(shape_field, shape, "must be one integer (use input_shape for axes)")
    layer = make_layer(
        input_shape=shape,
        kernel_size=get("layer", "kernel_size"),
        stride=get("layer", "stride"),
        padding=get("layer", "padding"),
        dilation=get("layer", "dilation"),
        padding_mode=get("layer", "padding_mode"),
        bias=get("layer", "bias"),
        in_channels=get("layer", "in_channels"),
        out_channels=get("layer", "out_channels"),
        groups=get("layer", "groups"),
        batch=get("layer", "batch"),
        length_field=shape_field,
    )
    loss = get_loss(get("loss", "kind"))
    lr = parse_number("optimizer.learning_rate", get("optimizer", "learning_rate"))
    if lr <= 0:
        raise ProblemError(
            "optimizer.learning_rate", get("optimizer", "learning_rate"), "must be > 0"
        )
    steps = parse_size("optimizer.steps", get("optimizer", "steps"), maximum=_MAX_STEPS)
    notation = _notation(raw.get("notation", {}))
    if not loss.has_target and steps > 1:
        raise ProblemError(
            "optimizer.steps",
            steps,
            'must be 1 for loss.kind "upstream": the upstream gradient of a later step is unknown',
        )

    x = w = y = grad_yhat = None
    b: Values | Rational | None = None
    values = raw.get("values")
    if values is not None:
        needed = ["x", "w"]
        needed += ["y"] if loss.has_target else ["grad_yhat"]
        needed += [] if layer.bias == "none" else ["b"]
        missing = [key for key in needed if key not in values]
        if missing:
            raise ProblemError(
                f"values.{missing[0]}",
                "missing",
                f"is required when [values] is given (give {', '.join(needed)} or no [values])",
            )
        single = layer.is_single
        x = _tensor(
            "values.x",
            values["x"],
            layer.x_shape,
            f"input_length n = {layer.input_shape[0]}" if single else "the input x",
        )
        w = _tensor(
            "values.w",
            values["w"],
            layer.w_shape,
            f"kernel_size k = {layer.kernel_size[0]}" if single else "the weights w",
        )
        m_text = f"the output length m = {layer.output_shape[0]}" if single else "the output"
        if loss.has_target:
            y = _tensor("values.y", values["y"], layer.y_shape, m_text)
        elif "y" in values:
            raise ProblemError("values.y", values["y"], 'must be absent for loss.kind "upstream"')
        if "grad_yhat" in values:
            if loss.has_target:
                raise ProblemError(
                    "values.grad_yhat",
                    values["grad_yhat"],
                    'is only given for loss.kind "upstream" (otherwise it is derived)',
                )
            grad_yhat = _tensor("values.grad_yhat", values["grad_yhat"], layer.y_shape, m_text)
        b = _bias_values(layer, values.get("b"))
    return Problem(
        title=title,
        layer=layer,
        loss=loss.kind,
        lr=lr,
        steps=steps,
        x=x,
        w=w,
        b=b,
        y=y,
        grad_yhat=grad_yhat,
        notation=notation,
    )


def _notation(table: Mapping[str, Any]) -> tuple[tuple[str, str | int], ...]:
    """The ``[notation]`` table as sorted (role, name) pairs (hashable: problems are keys)."""
    out: dict[str, str | int] = {}
    for key, value in table.items():
        if key == "index_base":
            if value not in (0, 1) or isinstance(value, bool):
                raise ProblemError("notation.index_base", value, "must be 0 or 1")
            out[key] = int(value)
        elif not isinstance(value, str) or not 1 <= len(value) <= 40:
            raise ProblemError(f"notation.{key}", value, "must be a name of 1 to 40 characters")
        else:
            out[key] = value
    return tuple(sorted(out.items()))


def _tensor(field: str, value: object, shape: tuple[int, ...], what: str) -> Values:
    """Flatten nested lists in ``shape`` (leading axes of size 1 may be left out)."""
    total = math.prod(shape)
    if total > _MAX_VALUES:
        raise ProblemError(
            field, "…", f"would hold {total} numbers; values are accepted up to {_MAX_VALUES}"
        )
    if isinstance(value, str):  # the command line: comma-separated, row-major
        parts = [part.strip() for part in value.split(",")]
        if len(parts) != total:
            raise ProblemError(
                field, parts, f"has {len(parts)} entries; {what} needs exactly {total}"
            )
        return tuple(parse_number(f"{field}[{i + 1}]", item) for i, item in enumerate(parts))
    out: list[Rational] = []
    _flatten(field, value, shape, what, out, [], droppable=True)
    return tuple(out)


def _flatten(
    field: str,
    value: object,
    shape: tuple[int, ...],
    what: str,
    out: list[Rational],
    path: list[int],
    *,
    droppable: bool,
) -> None:
    where = field + "".join(f"[{i}]" for i in path)
    # a leading axis of size 1 may be left out: skip it unless the value nests one list
    while (
        droppable
        and len(shape) > 1
        and shape[0] == 1
        and not (
            isinstance(value, Sequence)
            and not isinstance(value, str)
            and len(value) == 1
            and isinstance(value[0], Sequence)
            and not isinstance(value[0], str)
        )
    ):
        shape = shape[1:]
    if not shape:
        out.append(parse_number(where, value))
        return
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        wanted = "×".join(map(str, shape))
        raise ProblemError(
            where,
            value,
            f"must be a list of {shape[0]} ({wanted} in all: {what})"
            if len(shape) > 1
            else f"must be a list of {shape[0]} numbers ({what})",
        )
    if len(value) != shape[0]:
        text = f"{what} needs exactly {shape[0]}"
        if len(shape) > 1 or path:
            text = f"needs exactly {shape[0]} here ({what} has shape {'×'.join(map(str, shape))})"
        raise ProblemError(where, value, f"has {len(value)} entries; {text}")
    for index, item in enumerate(value):
        _flatten(
            field,
            item,
            shape[1:],
            what,
            out,
            [*path, index + 1],
            droppable=droppable and shape[0] == 1,
        )


def _bias_values(layer: Layer, value: object) -> Values | Rational | None:
    if layer.bias == "none":
        if value is not None:
            raise ProblemError("values.b", value, 'must be absent when layer.bias is "none"')
        return None
    if layer.bias == "shared" and layer.out_channels == 1:
        if isinstance(value, str) and "," in value:
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, Sequence) and not isinstance(value, str):
            if len(value) == 1 and not layer.is_single:
                value = value[0]
            else:
                raise ProblemError(
                    "values.b",
                    value,
                    'must be one number for a shared bias (layer.bias = "shared")',
                )
        return parse_number("values.b", value)
    assert layer.b_shape is not None
    if layer.bias == "shared":
        what = f"a shared bias (one per output channel, {layer.out_channels})"
    elif layer.is_single:
        what = f"an untied bias (one per output, m = {layer.output_shape[0]})"
    else:
        what = "an untied bias (one per output channel and position)"
    if not isinstance(value, (str, Sequence)):
        size = math.prod(layer.b_shape)
        raise ProblemError(
            "values.b",
            value,
            f'must be a list of m = {size} numbers for an untied bias (layer.bias = "untied")'
            if layer.is_single
            else f"must be a list in the shape {layer.b_shape} ({what})",
        )
    return _tensor("values.b", value, layer.b_shape, what)
