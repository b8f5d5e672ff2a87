"""Plain JSON forms of derivations (the ``--json`` contract of design.md).

Every quantity is ``{"exact": ..., "float": ..., "shape": [...]}``: exact a string
(``"39/25"``) or nested lists of strings in the layer's full shapes (``[batch, channels,
*spatial]``; a 1-D one-channel batch-1 layer keeps flat lists, as the exercise's JSON always
had), float the same with numbers.

JSON is always strict (RFC 8259: no ``NaN`` or ``Infinity`` tokens): a float beyond the
float range is ``null``, and the quantity says so in a ``"note"`` (its exact value stays
exact); :func:`strict_json` and :func:`dumps_strict` do the same for any document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import IO, Any

from sympy import Expr, Rational, sstr

from symconv import __version__
from symconv.derivation import Derivation
from symconv.layer import Layer
from symconv.symbolic.closed import ClosedForm
from symconv.symbolic.explicit import (
    QUANTITIES,
    QUANTITY_LIKE,
    ExplicitDerivation,
    StepValues,
)

__all__ = [
    "NULL_FLOAT_NOTE",
    "derivation_json",
    "dump_strict",
    "dumps_strict",
    "exact_float",
    "json_shape",
    "strict_json",
]

NULL_FLOAT_NOTE = "float is null where the exact value is beyond the float range"

# Above this many products the explicit expressions are left out of the JSON (megabytes).
_SYMBOLIC_LIMIT = 5_000


def json_shape(layer: Layer, like: str | None) -> tuple[int, ...]:
    """The JSON shape of a tensor ``like`` "x", "w", "b", "y" (None: a number).

    A 1-D one-channel batch-1 layer keeps flat lists (and a shared bias is one number);
    every other layer uses the full shapes.

    Example:
        >>> from symconv.problem import load_problem
        >>> json_shape(load_problem("exercise2").layer, "y")
        (2,)
    """
    if like is None:
        return ()
    shapes = {"x": layer.x_shape, "w": layer.w_shape, "b": layer.b_shape, "y": layer.y_shape}
    shape = shapes[like] or ()
    if layer.is_single:
        return () if like == "b" and layer.bias == "shared" else (math.prod(shape),)
    return shape


def _nest(flat: Sequence[Any], shape: tuple[int, ...]) -> Any:
    """A flat row-major sequence as nested lists of ``shape`` (``()``: the one entry)."""
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = math.prod(shape[1:])
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def exact_float(
    value: Rational | tuple[Rational, ...] | None, shape: tuple[int, ...] | None = None
) -> dict[str, Any] | None:
    """``{"exact": ..., "float": ..., "shape": [...]}`` for a number or a flat tuple,
    nested in ``shape`` (default: a number stays a number, a tuple a flat list).

    Example:
        >>> exact_float((Rational(39, 25), Rational(1)), (2,))
        {'exact': ['39/25', '1'], 'float': [1.56, 1.0], 'shape': [2]}
    """
    if value is None:
        return None
    flat = value if isinstance(value, tuple) else (value,)
    if shape is None:
        shape = (len(flat),) if isinstance(value, tuple) else ()
    floats = [_float(v) for v in flat]
    out: dict[str, Any] = {
        "exact": _nest([str(v) for v in flat], shape),
        "float": _nest(floats, shape),
        "shape": list(shape),
    }
    if any(f is None for f in floats):
        out["note"] = NULL_FLOAT_NOTE
    return out


def _float(value: Rational) -> float | None:
    """The nearest float, or None beyond the float range (never inf or nan)."""
    try:
        number = float(Fraction(int(value.p), int(value.q)))
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def strict_json(document: Any, path: str = "$") -> tuple[Any, list[str]]:
    """``document`` with every NaN or ±Infinity float replaced by None, and the paths
    replaced (``$.accuracy.cnn``), so that it dumps as strict JSON.

    Example:
        >>> strict_json({"a": [1.0, float("-inf")], "b": "x"})
        ({'a': [1.0, None], 'b': 'x'}, ['$.a[1]'])
    """
    replaced: list[str] = []

    def clean(value: Any, where: str) -> Any:
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            replaced.append(where)
            return None
        if isinstance(value, dict):
            return {key: clean(item, f"{where}.{key}") for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return value

    return clean(document, path), replaced


def dumps_strict(document: Any, **options: Any) -> str:
    """``json.dumps`` that never writes NaN or Infinity: they become ``null``, and a dict
    document gets a ``"notes"`` entry naming them (at most five paths).

    Example:
        >>> text = dumps_strict({"loss": float("nan")}, ensure_ascii=False)
        >>> json.loads(text)["loss"], json.loads(text)["notes"][0].split(":")[0]
        (None, '1 number that is not finite (NaN or ±Infinity) written as null')
    """
    clean, replaced = strict_json(document)
    if replaced and isinstance(clean, dict):
        count = len(replaced)
        shown = ", ".join(replaced[:5]) + (", ..." if count > 5 else "")
        noun = "number that is" if count == 1 else "numbers that are"
        note = f"{count} {noun} not finite (NaN or ±Infinity) written as null: {shown}"
        notes = clean.get("notes")
        clean["notes"] = [*notes, note] if isinstance(notes, list) else [note]
    return json.dumps(clean, allow_nan=False, **options)


def dump_strict(document: Any, stream: IO[str], **options: Any) -> None:
    """Write :func:`dumps_strict` of ``document`` and a newline to ``stream``."""
    stream.write(dumps_strict(document, **options) + "\n")


def _step(step: StepValues, layer: Layer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in QUANTITIES:
        value = getattr(step, key)
        out[key] = exact_float(value, json_shape(layer, QUANTITY_LIKE[key]))
    return out


def _strings(exprs: tuple[Expr, ...] | None) -> list[str] | None:
    return None if exprs is None else [sstr(e) for e in exprs]


def _explicit(e: ExplicitDerivation) -> dict[str, Any]:
    """The explicit expressions, flat lists (row-major in the full shapes), SymPy syntax."""
    return {
        "yhat": _strings(e.yhat),
        "loss": None if e.loss_of_yhat is None else sstr(e.loss_of_yhat),
        "grad_yhat": _strings(e.grad_yhat),
        "jac_w": [[sstr(v) for v in e.jac_w.row(i)] for i in range(e.jac_w.rows)],
        "grad_w": _strings(e.grad_w),
        "grad_b": _strings(e.grad_b),
        "grad_x": _strings(e.grad_x),
        "w_next": _strings(e.w_next),
        "b_next": _strings(e.b_next),
    }


def _closed(c: ClosedForm) -> dict[str, Any]:
    def text(e: Expr | None) -> str | None:
        return None if e is None else sstr(e)

    return {
        "m": text(c.m),
        "yhat": text(c.yhat),
        "loss": text(c.loss),
        "grad_yhat": text(c.grad_yhat),
        "grad_w": text(c.grad_w),
        "grad_b": text(c.grad_b),
        "grad_x": text(c.grad_x),
        "w_next": text(c.w_next),
        "b_next": text(c.b_next),
        "indices": "1-based; yhat, grad_yhat, grad_b in i; grad_w, w_next in j; grad_x in t",
    }


def _general(result: Derivation) -> dict[str, Any]:
    """The closed form of a general layer (SymPy syntax) and this layer's sizes in it."""
    from symconv.symbolic.closed import layer_sizes

    general = result.general
    assert general is not None
    fields = ("yhat", "loss", "grad_yhat", "grad_w", "grad_b", "grad_xpad", "grad_x")
    out: dict[str, Any] = {
        field: None if getattr(general, field) is None else sstr(getattr(general, field))
        for field in (*fields, "w_next", "b_next")
    }
    out["sizes"] = {
        str(symbol): int(value)
        for symbol, value in layer_sizes(general, result.problem.layer).items()
    }
    out["indices"] = (
        "1-based; β example, c output channel, κ input channel within the group, γ input "
        "channel, i_a outputs, j_a taps, t_a inputs, q_a padded positions of axis a"
    )
    return out


def derivation_json(result: Derivation) -> dict[str, Any]:
    """The JSON document of ``symconv derive --json``.

    With values, the top level holds the keys of the first step (``yhat`` … ``loss_next``);
    with more than one step, ``steps`` lists every step.  ``symbolic`` holds the explicit
    expressions (SymPy ``str`` syntax, 1-based names) and ``closed`` the closed form.
    """
    problem = result.problem
    out: dict[str, Any] = {"symconv": __version__, "title": problem.title}
    out["problem"] = problem.layer_dict()
    layer = problem.layer
    if problem.has_values:
        given = {"x": problem.x, "w": problem.w, "b": problem.b_values, "y": problem.y}
        out["values"] = {
            key: exact_float(value, json_shape(layer, key)) for key, value in given.items()
        }
        if problem.grad_yhat is not None:
            out["values"]["grad_yhat"] = exact_float(problem.grad_yhat, json_shape(layer, "y"))
    if result.steps:
        out.update(_step(result.steps[0], layer))
        if len(result.steps) > 1:
            out["steps"] = [_step(step, layer) for step in result.steps]
    if result.explicit is not None and result.form != "closed":
        if layer.terms <= _SYMBOLIC_LIMIT:
            out["symbolic"] = _explicit(result.explicit)
        else:
            out["symbolic"] = {
                "omitted": f"{layer.terms} products (more than {_SYMBOLIC_LIMIT}); the closed "
                "form gives every entry"
            }
    if result.general is not None:
        out["closed"] = _general(result)
    if result.closed is not None:
        out["closed"] = _closed(result.closed)
    return out
