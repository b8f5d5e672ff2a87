"""Variant templates: a problem file whose fields may vary, and one variant per student.

A template is a 1-D problem file (the exercise's format, :mod:`symconv.problem`) with two
more tables::

    [vary]                                   # field -> a list of choices or a range
    "layer.input_length" = {min = 4, max = 6}
    "layer.stride" = [1, 2]
    "layer.padding" = {min = 0, max = 1}
    "layer.bias" = ["shared", "untied"]
    "loss.kind" = ["sse_half", "mse"]        # alias: "loss"
    "optimizer.learning_rate" = ["0.01", "0.1"]   # aliases: "learning_rate", "lr"
    "values" = {min = -3, max = 3}           # every entry of x, w, b and y
    "values.w" = [-1, 1, 2]                  # one tensor (wins over "values")

    [constraints]
    min_output_length = 2
    max_decimals = 2
    no_zero_gradient = true

**Fields** that may vary: ``layer.input_length``, ``layer.kernel_size``, ``layer.stride``,
``layer.padding``, ``layer.dilation`` (integers), ``layer.padding_mode``, ``layer.bias``,
``loss.kind`` (words), ``optimizer.learning_rate`` (exact numbers), ``values`` and
``values.x`` / ``values.w`` / ``values.b`` / ``values.y`` (exact numbers).  A field in
``[vary]`` replaces the same field of the other tables; a field not varied keeps the
template's value (or the problem format's default).  Choices are a non-empty list without
repeats, or a range ``{min = a, max = b}`` (integers; with ``step = "0.5"`` any exact
numbers, ``max − min`` a multiple of the step).  Numbers are read exactly (``"0.01"`` is
1/100, never a float).  Bounds keep a variant a hand exercise: ``input_length`` ≤ 32,
``kernel_size`` ≤ 16, ``stride`` and ``dilation`` ≤ 8, ``padding`` ≤ 8, values within ±100,
learning rates in (0, 10], at most 1,000 choices a field and 100,000 layer geometries.
The layer is always the exercise's kind: 1-D, one channel, batch 1, one SGD step, a loss
with a target (``sse_half`` or ``mse``).

**Constraints** (every one optional):

- ``min_output_length`` / ``max_output_length``: bounds on m = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1;
- ``max_decimals``: every result — ŷ, L, ∂L/∂ŷ, ∂L/∂w, ∂L/∂b, ∂L/∂x, w⁽¹⁾, b⁽¹⁾, ŷ⁽¹⁾ and
  L⁽¹⁾, the quantities of ``symconv derive --json`` — is a terminating decimal with at most
  that many decimals (so hand arithmetic stays exact and sane);
- ``no_zero_gradient``: ∂L/∂w is not all zero (the step changes the kernel);
- ``max_magnitude``: no result exceeds this in absolute value (numbers that fit a sheet);
- ``loss_decreases``: the SGD step lowers the loss, L⁽¹⁾ < L (no overshooting rate).

**Variants** are deterministic: variant ``i`` (0-based) tries candidates drawn by
``random.Random`` seeded from SHA-256 of ``(seed, i, attempt)``, so it depends on the
template, the seed and ``i`` only (and on the variants before it, which it must differ
from), never on how many variants are made.  Each try draws a geometry uniformly from those
the output-length constraints allow, the other fields and every value entry uniformly
from their choices; a geometry is kept for :data:`TRIES_PER_LAYER` tries, so that every
choice of layer gets its chance even when its numbers rarely meet ``max_decimals``.  A
variant is given up after :data:`MAX_TRIES` tries with one error naming the constraint that
failed most often; a template whose choices allow fewer distinct problems than variants
asked for is refused before any try.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from sympy import Rational

from symconv.course.rubric import decimal_places
from symconv.errors import ProblemError, SymconvError
from symconv.layer import BIAS_MODES, PADDING_MODES
from symconv.problem import Problem, parse_number, problem_from_dict
from symconv.symbolic.explicit import (
    QUANTITIES,
    ExplicitDerivation,
    StepValues,
    derive_explicit,
    evaluate_steps,
)

__all__ = [
    "CONSTRAINTS",
    "MAX_TRIES",
    "MAX_VARIANTS",
    "TRIES_PER_LAYER",
    "VARY_FIELDS",
    "Constraints",
    "Template",
    "Variant",
    "decimals",
    "generate_variants",
    "load_template",
    "problem_toml",
    "template_from_dict",
    "variant_id",
]

# How hard one variant is looked for, and how many variants a course may have.
MAX_TRIES = 3000
TRIES_PER_LAYER = 100
MAX_VARIANTS = 5000
MAX_CHOICES = 1000
MAX_GEOMETRIES = 100_000
MAX_TEMPLATE_BYTES = 1_000_000
MAX_TITLE = 180  # the problem's limit is 200; " (variant v0001)" is appended
VALUE_BOUND = 100
LR_BOUND = 10
MAX_DECIMALS_LIMIT = 12

# integer fields of the layer: (smallest, largest) allowed in a template
_SIZES: dict[str, tuple[int, int]] = {
    "layer.input_length": (1, 32),
    "layer.kernel_size": (1, 16),
    "layer.stride": (1, 8),
    "layer.padding": (0, 8),
    "layer.dilation": (1, 8),
}
_LOSSES = ("sse_half", "mse")  # a question sheet asks for the loss: "upstream" has none
_WORDS: dict[str, tuple[str, ...]] = {
    "layer.padding_mode": PADDING_MODES,
    "layer.bias": BIAS_MODES,
    "loss.kind": _LOSSES,
}
_LR = "optimizer.learning_rate"
_TENSORS = ("x", "w", "b", "y")
_VALUE_KEYS = ("values", *(f"values.{t}" for t in _TENSORS))
VARY_FIELDS: tuple[str, ...] = (*_SIZES, *_WORDS, _LR, *_VALUE_KEYS)
_ALIASES = {"loss": "loss.kind", "learning_rate": _LR, "lr": _LR}
_GEOMETRY = (*_SIZES, "layer.padding_mode")  # the fields the output length depends on
_STRUCTURE = (*_GEOMETRY, "layer.bias", "loss.kind", _LR)

# the template's own tables and keys (everything else is refused)
_TABLES: dict[str, tuple[str, ...]] = {
    "layer": (
        *(name.split(".")[1] for name in _SIZES),
        "padding_mode",
        "bias",
        "in_channels",
        "out_channels",
        "groups",
        "batch",
    ),
    "loss": ("kind",),
    "optimizer": ("learning_rate", "steps"),
    "values": _TENSORS,
}
_MUST_BE_ONE = ("in_channels", "out_channels", "groups", "batch")

CONSTRAINTS: dict[str, str] = {
    "min_output_length": "an integer >= 1: the output has at least this many entries",
    "max_output_length": "an integer >= 1: the output has at most this many entries",
    "max_decimals": f"an integer 0..{MAX_DECIMALS_LIMIT}: every result is a terminating "
    "decimal with at most this many decimals",
    "no_zero_gradient": "true or false: ∂L/∂w is not all zero",
    "max_magnitude": "a number > 0: no result is larger than this in absolute value",
    "loss_decreases": "true or false: the SGD step lowers the loss",
}


@dataclass(frozen=True)
class Constraints:
    """The ``[constraints]`` of a template (None / False: not asked for)."""

    min_output_length: int | None = None
    max_output_length: int | None = None
    max_decimals: int | None = None
    no_zero_gradient: bool = False
    max_magnitude: Rational | None = None
    loss_decreases: bool = False

    def describe(self, name: str) -> str:
        """``constraints.max_decimals`` (=2), as error messages name a constraint."""
        value = getattr(self, name)
        if isinstance(value, bool):
            shown = str(value).lower()
        else:
            shown = str(_toml_number(value) if isinstance(value, Rational) else value)
        return f"`constraints.{name}` (={shown})"


@dataclass(frozen=True)
class Template:
    """A validated template.

    ``choices`` holds, for every field of :data:`VARY_FIELDS` but the values, the tuple it
    is drawn from (one entry when fixed); ``values`` the choices of each tensor x, w, b, y
    (exact numbers; None for a tensor fixed by ``fixed``, the template's ``[values]``);
    ``geometries`` every (n, k, s, p, d, padding mode) the constraints on the output
    length allow.  ``notation`` is the template's ``[notation]`` table, copied to every
    variant.
    """

    title: str
    choices: dict[str, tuple[Any, ...]]
    values: dict[str, tuple[Rational, ...] | None]
    fixed: dict[str, Any]
    constraints: Constraints
    geometries: tuple[tuple[Any, ...], ...]
    notation: dict[str, Any] = field(default_factory=dict)
    source: str = "template"

    def space(self) -> int:
        """An upper bound of the number of distinct problems the template allows."""
        others = math.prod(len(self.choices[name]) for name in ("layer.bias", "loss.kind", _LR))
        most = 0
        for n, k, s, p, d, _mode in self.geometries:
            m = _output_length(n, k, s, p, d)
            sizes = {"x": n, "w": k, "y": m, "b": m}
            count = 1
            for tensor, options in self.values.items():
                if options is not None:
                    count *= len(options) ** sizes[tensor]
            most = max(most, count)
        return len(self.geometries) * others * most


@dataclass(frozen=True)
class Variant:
    """One variant: its 0-based ``index``, its ``id`` (``v001``), the problem, the problem
    file's text (``toml``: complete, no ``[vary]``, loadable by ``load_problem``), its
    derived values (``step``) and how many tries it took."""

    index: int
    id: str
    problem: Problem
    toml: str
    step: StepValues
    tries: int

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the problem file's bytes (the manifest's ``hash``)."""
        return hashlib.sha256(self.toml.encode("utf-8")).hexdigest()


def variant_id(index: int) -> str:
    """The id of the 0-based variant ``index``: ``v001``, ``v002``, … (``v1000`` on).

    Example:
        >>> variant_id(0), variant_id(41), variant_id(999)
        ('v001', 'v042', 'v1000')
    """
    return f"v{index + 1:03d}"


# ---------------------------------------------------------------------------------------
# reading a template


def load_template(path: str | Path) -> Template:
    """Read and validate the template file ``path``.  Raises
    :class:`~symconv.errors.ProblemError` naming the field (``vary.layer.stride``,
    ``constraints.max_decimals``), its value and what is allowed."""
    name = str(path)
    file = Path(name)
    if not file.is_file():
        raise ProblemError("TEMPLATE", name, "is not a readable file")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ProblemError("TEMPLATE", name, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_TEMPLATE_BYTES:
        raise ProblemError("TEMPLATE", name, f"is larger than {MAX_TEMPLATE_BYTES} bytes")
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProblemError("TEMPLATE", name, "is not UTF-8 text") from None
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ProblemError("TEMPLATE", name, f"is not valid TOML: {exc}") from None
    return template_from_dict(raw, source=file.name)


def template_from_dict(raw: Mapping[str, Any], *, source: str = "template") -> Template:
    """Validate the tables of a template (see the module docstring).

    Example:
        >>> t = template_from_dict({
        ...     "layer": {"kernel_size": 3},
        ...     "vary": {"layer.input_length": {"min": 4, "max": 6}, "values": [-1, 1]},
        ...     "constraints": {"min_output_length": 3},
        ... })
        >>> t.choices["layer.input_length"], len(t.geometries)  # n = 4 gives m = 2 only
        ((4, 5, 6), 2)
    """
    allowed = ("title", *_TABLES, "notation", "vary", "constraints")
    for key in raw:
        if key not in allowed:
            raise ProblemError(key, raw[key], f"is not a table of a template; allowed: "
                               f"{', '.join(allowed)}")
        if key != "title" and not isinstance(raw[key], Mapping):
            raise ProblemError(key, raw[key], "must be a table")
    title = raw.get("title", "Convolution in 1-D")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise ProblemError("title", title, f"must be a text of 1 to {MAX_TITLE} characters")
    for table, keys in _TABLES.items():
        for key, value in raw.get(table, {}).items():
            if key not in keys:
                raise ProblemError(
                    f"{table}.{key}", value,
                    f"is not a key of [{table}] in a template; allowed: {', '.join(keys)}",
                )
    layer = raw.get("layer", {})
    for key in _MUST_BE_ONE:
        if key in layer and (layer[key] != 1 or isinstance(layer[key], bool)):
            raise ProblemError(
                f"layer.{key}", layer[key],
                "must be 1: symconv exercise writes 1-D one-channel exercises",
            )
    steps = raw.get("optimizer", {}).get("steps", 1)
    if steps != 1 or isinstance(steps, bool):
        raise ProblemError("optimizer.steps", steps, "must be 1: a sheet asks for one SGD step")
    notation = dict(raw.get("notation", {}))
    if notation:  # validated as the problem format does
        problem_from_dict({"layer": {"input_length": 1, "kernel_size": 1}, "notation": notation})

    vary = _read_vary(raw.get("vary", {}))
    defaults = _defaults()
    choices: dict[str, tuple[Any, ...]] = {}
    for name in _STRUCTURE:
        table, _, key = name.partition(".")
        if name in vary:
            choices[name] = vary[name]
        elif key in raw.get(table, {}):
            choices[name] = (_one(name, raw[table][key]),)
        elif name in defaults:
            choices[name] = (defaults[name],)
        else:
            raise ProblemError(
                name, "missing", f'is required: give it in [{table}] or vary it ("{name}" in '
                "[vary])",
            )

    fixed = dict(raw.get("values", {}))
    values: dict[str, tuple[Rational, ...] | None] = {}
    for tensor in _TENSORS:
        own, every = vary.get(f"values.{tensor}"), vary.get("values")
        options = own if own is not None else every
        if options is None and tensor not in fixed:
            if tensor == "b" and choices["layer.bias"] == ("none",):
                values[tensor] = None
                continue
            raise ProblemError(
                f"values.{tensor}", "missing",
                'needs numbers: vary it ("values" or "values.'
                f'{tensor}" in [vary]) or give it in [values]',
            )
        values[tensor] = options
        if options is not None:
            fixed.pop(tensor, None)
    for tensor, given in fixed.items():  # numbers the template fixes obey the same bounds
        for i, item in enumerate(given if isinstance(given, list) else [given]):
            if isinstance(item, list):
                raise ProblemError(f"values.{tensor}", given, "must be a flat list of numbers "
                                   "(a 1-D one-channel layer)")
            _one(f"values.{tensor}[{i + 1}]", item, "values")

    constraints = _read_constraints(raw.get("constraints", {}))
    geometries = _geometries(choices, constraints)
    return Template(
        title=title.strip(),
        choices=choices,
        values=values,
        fixed=fixed,
        constraints=constraints,
        geometries=geometries,
        notation=notation,
        source=source,
    )


def _defaults() -> dict[str, Any]:
    """The problem format's defaults of the fields a template may leave out (taken from
    :mod:`symconv.problem` itself, not restated here)."""
    p = problem_from_dict({"layer": {"input_length": 1, "kernel_size": 1}})
    return {
        "layer.stride": p.stride,
        "layer.padding": p.padding,
        "layer.dilation": p.dilation,
        "layer.padding_mode": p.padding_mode,
        "layer.bias": p.bias,
        "loss.kind": p.loss,
        _LR: p.lr,
    }


def _read_vary(table: Mapping[str, Any]) -> dict[str, Any]:
    """``[vary]`` as canonical field -> tuple of choices (validated)."""
    out: dict[str, Any] = {}
    for key, spec in table.items():
        name = _ALIASES.get(key, key)
        where = f"vary.{key}"
        if name not in VARY_FIELDS:
            raise ProblemError(
                where, spec, "is not a field a template can vary; allowed: "
                + ", ".join(VARY_FIELDS) + " (and the aliases loss, learning_rate, lr)",
            )
        if name in out:
            raise ProblemError(where, spec, f"names {name} a second time (an alias of it is "
                               "given too); give it once")
        out[name] = _choices(where, name, spec)
    return out


def _choices(where: str, name: str, spec: object) -> tuple[Any, ...]:
    """The choices of one field: a non-empty list without repeats, or a range."""
    if isinstance(spec, Mapping):
        options = _range(where, name, spec)
    elif isinstance(spec, list):
        if not spec:
            raise ProblemError(where, spec, "is an empty list; give at least one choice")
        if len(spec) > MAX_CHOICES:
            raise ProblemError(where, f"a list of {len(spec)}",
                               f"has more than {MAX_CHOICES} choices")
        options = tuple(_one(f"{where}[{i + 1}]", item, name) for i, item in enumerate(spec))
    else:
        raise ProblemError(
            where, spec, "must be a list of choices ([1, 2]) or a range ({min = 1, max = 3})"
        )
    seen: set[Any] = set()
    for option in options:
        if option in seen:
            raise ProblemError(where, spec, f"lists the choice {option} twice; give each once")
        seen.add(option)
    return options


def _range(where: str, name: str, spec: Mapping[str, Any]) -> tuple[Any, ...]:
    """``{min = a, max = b}`` (integers), or with ``step`` any exact numbers."""
    unknown = sorted(set(spec) - {"min", "max", "step"})
    if unknown or "min" not in spec or "max" not in spec:
        raise ProblemError(where, dict(spec), "must be a range {min = a, max = b} (optionally "
                           "with step = s)")
    if name in _WORDS:
        raise ProblemError(where, dict(spec), f"must be a list of words ({', '.join(_WORDS[name])})"
                           ", not a range")
    integer = name in _SIZES
    if "step" not in spec:
        for end in ("min", "max"):
            if not isinstance(spec[end], int) or isinstance(spec[end], bool):
                raise ProblemError(f"{where}.{end}", spec[end], "must be an integer (give a "
                                   'step, e.g. step = "0.5", for a range of other numbers)')
    low = _number(f"{where}.min", spec["min"])
    high = _number(f"{where}.max", spec["max"])
    step = _number(f"{where}.step", spec.get("step", 1))
    if step <= 0 or (integer and step.q != 1):
        raise ProblemError(f"{where}.step", spec.get("step"), "must be a number > 0"
                           + (" and an integer" if integer else ""))
    if low > high:
        raise ProblemError(where, dict(spec), "has min > max; give min <= max")
    count = (high - low) / step
    if count.q != 1:
        raise ProblemError(where, dict(spec), "has max − min that is not a multiple of step")
    if count + 1 > MAX_CHOICES:
        raise ProblemError(where, dict(spec), f"is too wide: {count + 1} choices; allowed: at "
                           f"most {MAX_CHOICES}")
    options = [low + i * step for i in range(int(count) + 1)]
    return tuple(_one(f"{where}", int(v) if integer else _toml_number(v), name) for v in options)


def _number(where: str, value: object) -> Rational:
    """An exact number (never a float's binary value: ``0.1`` is 1/10)."""
    result: Rational = parse_number(where, value)
    return result


def _one(where: str, value: object, name: str | None = None) -> Any:
    """One choice of field ``name`` (default: ``where``), validated and bounded."""
    name = name or where
    if name in _SIZES:
        low, high = _SIZES[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ProblemError(where, value, f"must be an integer from {low} to {high}")
        return value
    if name in _WORDS:
        if value not in _WORDS[name]:
            extra = ' ("upstream" has no loss to ask for)' if value == "upstream" else ""
            raise ProblemError(where, value, f"must be one of {', '.join(_WORDS[name])}{extra}")
        return value
    number = _number(where, value)
    if name == _LR:
        if not 0 < number <= LR_BOUND:
            raise ProblemError(where, value, f"must be a learning rate in (0, {LR_BOUND}]")
        return number
    if abs(number) > VALUE_BOUND:
        raise ProblemError(where, value, f"must be a value within ±{VALUE_BOUND}")
    return number


def _read_constraints(table: Mapping[str, Any]) -> Constraints:
    found: dict[str, Any] = {}
    for key, value in table.items():
        where = f"constraints.{key}"
        if key not in CONSTRAINTS:
            raise ProblemError(where, value, "is not a constraint; allowed: "
                               + ", ".join(CONSTRAINTS))
        if key in ("no_zero_gradient", "loss_decreases"):
            if not isinstance(value, bool):
                raise ProblemError(where, value, "must be true or false")
            found[key] = value
        elif key == "max_magnitude":
            number = _number(where, value)
            if number <= 0:
                raise ProblemError(where, value, "must be a number > 0")
            found[key] = number
        else:
            bottom, top = (0, MAX_DECIMALS_LIMIT) if key == "max_decimals" else (1, 10**6)
            if not isinstance(value, int) or isinstance(value, bool) or not bottom <= value <= top:
                raise ProblemError(where, value, f"must be an integer from {bottom} to {top}")
            found[key] = value
    constraints = Constraints(**found)
    low, high = constraints.min_output_length, constraints.max_output_length
    if low is not None and high is not None and low > high:
        raise ProblemError(
            "constraints.max_output_length", high,
            f"is smaller than constraints.min_output_length (={low}); no output fits both",
        )
    return constraints


def _output_length(n: int, k: int, s: int, p: int, d: int) -> int:
    """m = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _geometries(
    choices: Mapping[str, tuple[Any, ...]], constraints: Constraints
) -> tuple[tuple[Any, ...], ...]:
    """Every (n, k, s, p, d, mode) of the choices that is a valid layer (the kernel's span
    fits the padded input; circular padding wraps at most once) and whose output length
    meets the constraints.  Raises a :class:`ProblemError` naming the constraint when none
    does."""
    total = math.prod(len(choices[name]) for name in _GEOMETRY)
    if total > MAX_GEOMETRIES:
        raise ProblemError(
            "vary", f"{total} layer geometries",
            f"is too wide: at most {MAX_GEOMETRIES} combinations of input_length, kernel_size, "
            "stride, padding, dilation and padding_mode",
        )
    valid: list[tuple[Any, ...]] = []
    lengths: list[int] = []
    for n, k, s, p, d, mode in itertools.product(*(choices[name] for name in _GEOMETRY)):
        if d * (k - 1) + 1 > n + 2 * p or (mode == "circular" and p > n):
            continue
        valid.append((n, k, s, p, d, mode))
        lengths.append(_output_length(n, k, s, p, d))
    if not valid:
        raise ProblemError(
            "layer.kernel_size", list(choices["layer.kernel_size"]),
            "spans more than the padded input for every input_length, padding and dilation "
            "of the template; allowed: a span d(k−1)+1 of at most n + 2p",
        )
    low, high = constraints.min_output_length, constraints.max_output_length
    if low is not None and max(lengths) < low:
        raise ProblemError(
            "constraints.min_output_length", low,
            f"cannot be met: the longest output the template's layers give is {max(lengths)}",
        )
    if high is not None and min(lengths) > high:
        raise ProblemError(
            "constraints.max_output_length", high,
            f"cannot be met: the shortest output the template's layers give is {min(lengths)}",
        )
    return tuple(
        g for g, m in zip(valid, lengths)
        if (low is None or m >= low) and (high is None or m <= high)
    )


# ---------------------------------------------------------------------------------------
# drawing variants


def _rng(seed: int, index: int, attempt: int) -> random.Random:
    """The generator of one try: seeded from SHA-256 of (seed, index, attempt), so the
    same everywhere (Python's hash() is salted per process)."""
    digest = hashlib.sha256(f"symconv-exercise:{seed}:{index}:{attempt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _draw_structure(template: Template, rng: random.Random) -> dict[str, Any]:
    n, k, s, p, d, mode = rng.choice(template.geometries)
    structure: dict[str, Any] = {
        "layer.input_length": n,
        "layer.kernel_size": k,
        "layer.stride": s,
        "layer.padding": p,
        "layer.dilation": d,
        "layer.padding_mode": mode,
    }
    for name in ("layer.bias", "loss.kind", _LR):
        structure[name] = rng.choice(template.choices[name])
    return structure


def _draw_values(
    template: Template, structure: Mapping[str, Any], rng: random.Random
) -> dict[str, Any]:
    n, k = structure["layer.input_length"], structure["layer.kernel_size"]
    m = _output_length(
        n, k, structure["layer.stride"], structure["layer.padding"], structure["layer.dilation"]
    )
    bias = structure["layer.bias"]
    sizes = {"x": n, "w": k, "y": m, "b": m if bias == "untied" else 1}
    out: dict[str, Any] = {}
    for tensor in _TENSORS:
        if tensor == "b" and bias == "none":
            continue
        options = template.values[tensor]
        if options is None:
            out[tensor] = template.fixed[tensor]
            continue
        drawn = [_toml_number(rng.choice(options)) for _ in range(sizes[tensor])]
        out[tensor] = drawn[0] if tensor == "b" and bias == "shared" else drawn
    return out


def _tables(
    template: Template, vid: str, structure: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """The TOML tables of a variant, in the problem format (keys in a fixed order)."""
    order = ("input_length", "kernel_size", "stride", "padding", "padding_mode", "dilation",
             "bias")  # the exercise's order
    layer = {key: structure[f"layer.{key}"] for key in order}
    tables: dict[str, Any] = {
        "title": f"{template.title} (variant {vid})",
        "layer": layer,
        "loss": {"kind": structure["loss.kind"]},
        "optimizer": {"learning_rate": str(_toml_number(structure[_LR])), "steps": 1},
        "values": dict(values),
    }
    if template.notation:
        tables["notation"] = dict(template.notation)
    return tables


_CACHE: dict[tuple[Any, ...], ExplicitDerivation] = {}


def _derive(problem: Problem, structure: Mapping[str, Any]) -> StepValues:
    """The values of one SGD step (the numbers of ``derive --json``).  The symbolic
    derivation depends on the layer, the loss and the rate only, so it is built once per
    structure and each try only substitutes its numbers (a millisecond)."""
    key = tuple(structure[name] for name in _STRUCTURE)
    explicit = _CACHE.get(key)
    if explicit is None:
        explicit = derive_explicit(problem)
        if len(_CACHE) > 512:
            _CACHE.clear()
        _CACHE[key] = explicit
    return evaluate_steps(replace(explicit, problem=problem))[0]


def decimals(value: Rational | Fraction | int) -> int | None:
    """Decimals of the terminating expansion of ``value``; None when it does not end.

    Example:
        >>> decimals(Rational(39, 25)), decimals(Rational(3161, 50)), decimals(Rational(1, 3))
        (2, 2, None)
    """
    exact = Fraction(int(value.p), int(value.q)) if isinstance(value, Rational) else value
    return decimal_places(Fraction(exact))


def _results(step: StepValues) -> list[Rational]:
    """Every number of every quantity of one step (``derive --json``'s keys)."""
    out: list[Rational] = []
    for key in QUANTITIES:
        value = getattr(step, key)
        if value is None:
            continue
        out.extend(value if isinstance(value, tuple) else (value,))
    return out


def _failures(constraints: Constraints, step: StepValues) -> list[str]:
    """The constraints (other than the output length's) that ``step`` breaks."""
    failed: list[str] = []
    results = _results(step)
    if constraints.max_decimals is not None:
        limit = constraints.max_decimals
        for value in results:
            places = decimals(value)
            if places is None or places > limit:
                failed.append("max_decimals")
                break
    if constraints.no_zero_gradient and all(g == 0 for g in step.grad_w):
        failed.append("no_zero_gradient")
    if constraints.max_magnitude is not None and any(
        abs(v) > constraints.max_magnitude for v in results
    ):
        failed.append("max_magnitude")
    if constraints.loss_decreases and not (
        step.loss is not None and step.loss_next is not None and step.loss_next < step.loss
    ):
        failed.append("loss_decreases")
    return failed


def _identity(problem: Problem) -> Problem:
    """What makes two variants the same problem (everything but the title)."""
    return replace(problem, title="")


def generate_variants(template: Template, count: int, *, seed: int = 0) -> list[Variant]:
    """``count`` distinct variants of ``template`` for ``seed``, in order (see the module
    docstring).  Raises :class:`~symconv.errors.SymconvError` when the template's choices
    allow fewer than ``count`` problems, or a variant cannot be found in
    :data:`MAX_TRIES` tries (naming the constraint that failed most).

    Example:
        >>> t = template_from_dict({"layer": {"input_length": 4, "kernel_size": 3},
        ...                         "vary": {"values": {"min": -2, "max": 2}}})
        >>> [v.id for v in generate_variants(t, 2, seed=1)]
        ['v001', 'v002']
    """
    if not 1 <= count <= MAX_VARIANTS:
        raise SymconvError(f"the number of variants (={count}) must be from 1 to {MAX_VARIANTS}")
    space = template.space()
    if space < count:
        raise SymconvError(
            f"the template {template.source} allows at most {space} distinct problems, fewer "
            f"than the {count} variants asked for: widen [vary] (more choices or wider ranges)"
        )
    variants: list[Variant] = []
    taken: set[Problem] = set()
    for index in range(count):
        variant = _one_variant(template, index, seed, taken)
        taken.add(_identity(variant.problem))
        variants.append(variant)
    return variants


def _one_variant(template: Template, index: int, seed: int, taken: set[Problem]) -> Variant:
    vid = variant_id(index)
    failed: Counter[str] = Counter()
    structure: dict[str, Any] = {}
    for attempt in range(MAX_TRIES):
        rng = _rng(seed, index, attempt)
        if attempt % TRIES_PER_LAYER == 0:
            structure = _draw_structure(template, rng)
        tables = _tables(template, vid, structure, _draw_values(template, structure, rng))
        try:
            problem = problem_from_dict(tables)
        except ProblemError as exc:
            if exc.field.startswith("values.") and exc.field.split("[")[0][7:] in template.fixed:
                raise ProblemError(
                    exc.field, exc.value,
                    f"{exc.allowed} (in the template's [values], for the layer "
                    + ", ".join(f"{k} = {v}" for k, v in tables["layer"].items())
                    + "); vary it instead, or fix the layer",
                ) from None
            raise
        if _identity(problem) in taken:
            failed["distinct"] += 1
            continue
        step = _derive(problem, structure)
        broken = _failures(template.constraints, step)
        if broken:
            failed.update(broken)
            continue
        text = problem_toml(tables, header=f"symconv exercise: variant {vid}, seed {seed}")
        return Variant(index, vid, problem, text, step, attempt + 1)
    raise SymconvError(_give_up(template, vid, seed, failed))


def _give_up(template: Template, vid: str, seed: int, failed: Counter[str]) -> str:
    (worst, times), *_ = failed.most_common(1) or [("distinct", 0)]
    others = ", ".join(f"{name} {n}" for name, n in failed.most_common()[1:])
    tail = f" (also failed: {others})" if others else ""
    if worst == "distinct":
        return (
            f"the template {template.source} allows too few distinct variants: variant {vid} "
            f"(seed {seed}) repeated an earlier one in {times} of {MAX_TRIES} tries{tail}; "
            "widen [vary] (more choices or wider ranges)"
        )
    return (
        f"{template.constraints.describe(worst)} cannot be met: no variant {vid} (seed {seed}) "
        f"satisfied it in {MAX_TRIES} tries ({times} failed it){tail}; relax it or change "
        "[vary] (e.g. the learning rates or the value range)"
    )


# ---------------------------------------------------------------------------------------
# the problem file


def _toml_number(value: Rational | Fraction | int) -> int | str:
    """An exact number as TOML: an integer, else a decimal string (``"0.05"``) when it
    ends, else a fraction (``"1/3"``); :func:`symconv.problem.parse_number` reads each back
    exactly."""
    q = Fraction(int(Rational(value).p), int(Rational(value).q))
    if q.denominator == 1:
        return q.numerator
    places = decimals(q)
    if places is None:
        return f"{q.numerator}/{q.denominator}"
    sign = "-" if q < 0 else ""
    digits = str(abs(q.numerator) * 10**places // q.denominator).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # JSON's escapes are TOML's; DEL must be escaped in TOML as well
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Rational | Fraction):
        return _toml_value(_toml_number(value))
    raise TypeError(f"cannot write {value!r} as TOML")


def problem_toml(tables: Mapping[str, Any], *, header: str = "") -> str:
    """A problem file's text from its tables (``title`` first, then one TOML table per
    dict), deterministic; ``header`` becomes a comment line on top.

    Example:
        >>> print(problem_toml({"title": "T", "layer": {"input_length": 4}}), end="")
        title = "T"
        <BLANKLINE>
        [layer]
        input_length = 4
    """
    lines = [f"# {' '.join(header.split())}"] if header else []
    for key, value in tables.items():
        if not isinstance(value, Mapping):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in tables.items():
        if isinstance(value, Mapping):
            lines += ["", f"[{key}]"]
            lines += [f"{name} = {_toml_value(item)}" for name, item in value.items()]
    text = "\n".join(lines) + "\n"
    return text
