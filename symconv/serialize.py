"""Plain JSON forms of derivations (the ``--json`` contract of design.md).

Every number is ``{"exact": "39/25", "float": 1.56}``; vectors are lists inside each key.
"""

from __future__ import annotations

from typing import Any

from sympy import Expr, Rational, sstr

from symconv import __version__
from symconv.derivation import Derivation
from symconv.symbolic.closed import ClosedForm
from symconv.symbolic.explicit import QUANTITIES, ExplicitDerivation, StepValues

__all__ = ["derivation_json", "exact_float"]


def exact_float(value: Rational | tuple[Rational, ...] | None) -> dict[str, Any] | None:
    """``{"exact": str | [str], "float": float | [float]}`` for a number or a vector."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return {"exact": [str(v) for v in value], "float": [float(v) for v in value]}
    return {"exact": str(value), "float": float(value)}


def _step(step: StepValues, shared: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in QUANTITIES:
        value = getattr(step, key)
        if shared and key in ("grad_b", "b_next") and value is not None:
            value = value[0]  # a shared bias is one number
        out[key] = exact_float(value)
    return out


def _strings(exprs: tuple[Expr, ...] | None) -> list[str] | None:
    return None if exprs is None else [sstr(e) for e in exprs]


def _explicit(e: ExplicitDerivation) -> dict[str, Any]:
    return {
        "yhat": _strings(e.yhat),
        "loss": sstr(e.loss_of_yhat),
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


def derivation_json(result: Derivation) -> dict[str, Any]:
    """The JSON document of ``symconv derive --json``.

    With values, the top level holds the keys of the first step (``yhat`` … ``loss_next``);
    with more than one step, ``steps`` lists every step.  ``symbolic`` holds the explicit
    expressions (SymPy ``str`` syntax, 1-based names) and ``closed`` the closed form.
    """
    problem = result.problem
    out: dict[str, Any] = {"symconv": __version__, "title": problem.title}
    out["problem"] = problem.layer_dict()
    if problem.has_values:
        out["values"] = {
            "x": exact_float(problem.x),
            "w": exact_float(problem.w),
            "b": exact_float(problem.b),
            "y": exact_float(problem.y),
        }
    shared = problem.bias == "shared"
    if result.steps:
        out.update(_step(result.steps[0], shared))
        if len(result.steps) > 1:
            out["steps"] = [_step(step, shared) for step in result.steps]
    if result.explicit is not None and result.form != "closed":
        out["symbolic"] = _explicit(result.explicit)
    if result.closed is not None:
        out["closed"] = _closed(result.closed)
    return out
