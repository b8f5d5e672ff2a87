"""The truth a submission is judged against: the problem's explicit derivation and values.

Every quantity is expressed in the *current* symbols ``x1..xn, w1..wk, b|b1..bm, y1..ym``
and the output placeholders ``yhat1..yhatm``; "current" is the SGD step the document is
at (step 0 before the update, step 1 once it writes the updated weights).  Quantities of
the next step are the same expressions with ``w → w − α·∂L/∂w`` (and ``b``) substituted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from sympy import Expr, Integer, Rational, Symbol

from symconv.errors import SymconvError
from symconv.problem import Problem
from symconv.symbolic.explicit import (
    ExplicitDerivation,
    StepValues,
    derive_explicit,
    evaluate_steps,
)

__all__ = ["MAX_STEP", "Truth"]

MAX_STEP = 4  # documents may walk this many SGD steps ahead


@dataclass
class Truth:
    """A problem ready for judging: derivation, symbols, values per step, index base."""

    problem: Problem
    base: int = 1  # the document's first index (1, or 0 for a 0-based document)
    _derivation: ExplicitDerivation | None = field(default=None, repr=False)

    @cached_property
    def d(self) -> ExplicitDerivation:
        """The explicit derivation (built once)."""
        return self._derivation or derive_explicit(self.problem)

    @cached_property
    def steps(self) -> list[StepValues] | None:
        """Exact values of steps ``0..MAX_STEP`` (None without values)."""
        if not self.problem.has_values:
            return None
        return evaluate_steps(derive_explicit(self.problem.with_steps(MAX_STEP + 1)))

    @property
    def m(self) -> int:
        """Output length."""
        return self.problem.m

    @cached_property
    def placeholders(self) -> dict[Symbol, Expr]:
        """``yhat_i`` → its forward expression."""
        return dict(zip(self.d.symbols.yhat, self.d.yhat))

    @cached_property
    def params(self) -> tuple[Symbol, ...]:
        """The trained symbols: w then the bias parameters."""
        return self.d.symbols.w + self.d.symbols.bias_list()

    @cached_property
    def next_map(self) -> dict[Symbol, Expr]:
        """``w_j → w_j − α·∂L/∂w_j`` (and the bias), in current symbols."""
        updates = list(self.d.w_next) + list(self.d.b_next or ())
        return {p: self.full(u) for p, u in zip(self.params, updates)}

    def full(self, expr: Expr) -> Expr:
        """``expr`` with the placeholders ŷ_i replaced by the forward pass."""
        result: Expr = expr.xreplace(self.placeholders)
        return result

    def shift(self, expr: Expr, offset: int, step: int) -> Expr:
        """``expr`` read ``offset`` steps after ``step`` (0: itself; 1: symbolic; else numbers)."""
        if offset == 0:
            return expr
        if offset == 1:
            result: Expr = self.full(expr).xreplace(self.next_map)
            return result
        values = self.values(step + offset)
        if values is None:
            raise LookupError(f"step {step + offset} needs a problem with values")
        numeric: Expr = self.full(expr).xreplace(values)
        return numeric

    def values(self, step: int) -> dict[Symbol, Expr] | None:
        """The symbols' values at ``step`` (x, y fixed; w, b of that step), or None."""
        steps = self.steps
        if steps is None or not 0 <= step < len(steps):
            return None
        problem, sym = self.problem, self.d.symbols
        assert problem.x is not None and problem.y is not None
        at = steps[step]
        values: dict[Symbol, Expr] = dict(zip(sym.x, problem.x)) | dict(zip(sym.y, problem.y))
        values |= dict(zip(sym.w, at.w))
        values |= dict(zip(sym.bias_list(), at.b or ()))
        return values

    @cached_property
    def known(self) -> frozenset[Symbol]:
        """Every symbol of the problem (anything else in a side is unknown)."""
        sym = self.d.symbols
        return frozenset(sym.x + sym.w + sym.y + sym.yhat + sym.bias_list())

    def variant(self, **changes: object) -> Truth | None:
        """The truth of a changed problem (stride 1, other bias, …) for diagnoses."""
        problem = self.problem
        try:
            layer_changes = {k: v for k, v in changes.items() if k != "loss"}
            changed = problem.with_layer(**layer_changes)
            if "loss" in changes:
                changed = replace(changed, loss=changes["loss"])  # type: ignore[arg-type]
            m = changed.m
            if m < 1:
                return None
            if problem.has_values:
                assert problem.y is not None
                y = tuple(problem.y[:m]) + (Integer(0),) * max(0, m - problem.m)
                b: tuple[Rational, ...] | Rational | None = problem.b
                if changed.bias == "untied":
                    first = problem.b if not isinstance(problem.b, tuple) else None
                    source = problem.b if isinstance(problem.b, tuple) else (first,) * m
                    b = tuple(source[:m]) + (Integer(0),) * max(0, m - len(source))
                elif changed.bias == "shared" and isinstance(problem.b, tuple):
                    b = problem.b[0]
                elif changed.bias == "none":
                    b = None
                changed = replace(changed, y=y, b=b)
            return Truth(changed, base=self.base)
        except (ValueError, TypeError, IndexError, SymconvError):
            return None
