"""What every diagnoser shares: the case being diagnosed, the candidates it tries, the result.

A :class:`Diagnoser` is data: a name, the kind it reports, when it can be relevant
(``applies``) and what it tries (``tries``: candidate corrections, each with the sentence
to show if it holds).  A candidate is one of

- :class:`Rewrite` — the side written another way (or read in a changed problem); it
  holds when that tree evaluates to the value wanted;
- :class:`Recompute` — the value the mistake would give; it holds when the written side
  equals it;
- :class:`Fallback` — no check: the mistake is named by elimination (an arithmetic slip).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol

from lark import Token, Tree
from sympy import Expr, Symbol

from symconv.check.diagnose.trees import cells, kind_of
from symconv.check.evaluate import Context, EvalError, Mat, Value, evaluate
from symconv.check.match import compare, entries_of
from symconv.check.truth import Truth

__all__ = [
    "KINDS",
    "MAX_VARIANTS",
    "OWN",
    "Candidate",
    "Case",
    "Diagnoser",
    "Diagnosis",
    "Fallback",
    "Recompute",
    "Rewrite",
    "State",
    "Text",
    "full_value",
    "is_number",
    "numeric_value",
    "scaled",
    "substituted",
    "text_of",
]

KINDS = (
    "arithmetic_slip",
    "missing_parentheses",
    "sign_error",
    "transpose_missing",
    "wrong_label",
    "bias_confused",
    "stride_ignored",
    "padding_ignored",
    "dilation_ignored",
    "missing_factor",
    "wrong_index",
    "flipped_kernel",
    "learning_rate",
)
MAX_VARIANTS = 300  # rewritings of one kind tried on one side


@dataclass(frozen=True)
class Diagnosis:
    """A catalogued mistake: ``kind`` (one of :data:`KINDS`) and a sentence."""

    kind: str
    text: str


class State(Protocol):
    """What a diagnosis reads of the document so far (the judge's ``DocState`` is one)."""

    @property
    def truth(self) -> Truth:
        """The problem's truth (its index base is the document's)."""
        ...

    @property
    def env(self) -> dict[str, Value]:
        """The document's own definitions (``δ_i``, ``X``, …)."""
        ...

    @property
    def established(self) -> Collection[tuple[str, int]]:
        """The quantities already stated rightly: (their truth as text, the step)."""
        ...


Text = str | Callable[[], str]  # a sentence, or how to write it once the candidate holds


class _Own:
    """The case's own output index (the default of :attr:`Rewrite.out`)."""


OWN = _Own()


@dataclass(frozen=True)
class Rewrite:
    """``tree`` evaluated in ``truth`` (None: the problem's) for output ``out`` (default:
    the case's) should equal ``want`` (None: the case's wanted value)."""

    tree: Tree[Token]
    text: Text
    want: Value | None = None
    truth: Truth | None = None
    out: int | _Own | None = OWN


@dataclass(frozen=True)
class Recompute:
    """The written side should equal ``value`` (compared in the problem's truth)."""

    value: Value
    text: Text


@dataclass(frozen=True)
class Fallback:
    """Holds without a check."""

    text: Text


Candidate = Rewrite | Recompute | Fallback


@dataclass(frozen=True)
class Diagnoser:
    """One entry of the catalogue.

    ``applies``: a cheap test of whether the mistake can be relevant to the case (the
    layer has a stride, the left side is an update, …); ``tries``: candidate corrections in
    order; at most ``limit`` of them are tried.
    """

    name: str
    kind: str
    applies: Callable[[Case], bool]
    tries: Callable[[Case], Iterable[Candidate]]
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"`kind` (={self.kind!r}) must be one of {', '.join(KINDS)}")


# ---------------------------------------------------------------------------------------
# values


def is_number(value: Value, truth: Truth) -> bool:
    """No symbol left once the outputs are expanded: a number (or a matrix of numbers)."""
    entries = value.entries() if isinstance(value, Mat) else [value]
    return all(truth.full(e).free_symbols == set() for e in entries)


def numeric_value(value: Value, truth: Truth, step: int) -> Value:
    """``value`` at the problem's values of ``step`` (unchanged without values)."""
    values = truth.values(step) or {}
    if isinstance(value, Mat):
        return Mat(value.m.applyfunc(lambda e: truth.full(e).xreplace(values)))
    result: Expr = truth.full(value).xreplace(values)
    return result


def full_value(value: Value, truth: Truth) -> Value:
    """``value`` with the output placeholders ŷ_i replaced by the forward pass."""
    if isinstance(value, Mat):
        return Mat(value.m.applyfunc(truth.full), free=value.free)
    return truth.full(value)


def scaled(value: Value, factor: Expr) -> Value:
    """``factor · value``."""
    if isinstance(value, Mat):
        return Mat(value.m * factor, free=value.free)
    result: Expr = value * factor
    return result


def substituted(value: Value, mapping: dict[Symbol, Expr]) -> Value:
    """``value`` with symbols replaced (``w_j → w_{k+1−j}``, ``x_i → x_{i+1}``)."""
    if isinstance(value, Mat):
        return Mat(value.m.applyfunc(lambda e: e.xreplace(mapping)), free=value.free)
    result: Expr = value.xreplace(mapping)
    return result


# ---------------------------------------------------------------------------------------
# the case


@dataclass
class Case:
    """One wrong side and everything known about it.

    ``side`` is wrong: it evaluates to ``written``, not to ``expected`` (the value of
    ``lhs``).  ``target``/``want``: the part of the side the rewritings work on and the
    value it should have — the side itself, or the first wrong cell of a matrix written
    entry by entry.
    """

    side: Tree[Token]
    written: Value
    expected: Value
    lhs: Tree[Token]
    state: State
    step: int
    bound: dict[str, int]
    output: int | None
    previous_ok: bool
    previous: object
    previous_side: Tree[Token] | None
    last: bool
    numeric: bool
    target: Tree[Token] = field(init=False)
    want: Value = field(init=False)
    _values: dict[tuple[int, int, int | None], tuple[object, object, Value | None]] = field(
        init=False, default_factory=dict, repr=False
    )
    _truths: dict[str, Truth | None] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.target, self.want = self.side, self.expected
        cell = self._first_wrong_cell()
        if cell is not None:
            self.target, self.want = cell

    @property
    def truth(self) -> Truth:
        """The problem's truth."""
        return self.state.truth

    def context(self, out: int | _Own | None = OWN, truth: Truth | None = None) -> Context:
        """A fresh evaluation context (evaluating records flags in it)."""
        return Context(
            truth=self.truth if truth is None else truth,
            step=self.step,
            env=self.state.env,
            indices=dict(self.bound),
            output=self.output if isinstance(out, _Own) else out,
        )

    def value_of(
        self, tree: Tree[Token], out: int | _Own | None = OWN, truth: Truth | None = None
    ) -> Value | None:
        """``tree``'s value (None if it has none), remembered per tree, truth and output."""
        t = self.truth if truth is None else truth
        o = self.output if isinstance(out, _Own) else out
        key = (id(tree), id(t), o)
        if key not in self._values:
            try:
                value: Value | None = evaluate(tree, self.context(o, t))
            except EvalError:
                value = None
            self._values[key] = (tree, t, value)  # the tree and truth kept alive with their id
        return self._values[key][2]

    def same(self, written: Value, candidate: Value, truth: Truth | None = None) -> bool:
        """The two values are equal (exactly or numerically, as the side is judged)."""
        t = self.truth if truth is None else truth
        return compare(written, candidate, t, self.step, numeric=self.numeric, exact=False).equal

    def holds(self, candidate: Candidate) -> bool:
        """Does the candidate correction explain the side?"""
        if isinstance(candidate, Fallback):
            return True
        if isinstance(candidate, Recompute):
            return self.same(self.written, candidate.value)
        value = self.value_of(candidate.tree, candidate.out, candidate.truth)
        if value is None:
            return False
        want = self.want if candidate.want is None else candidate.want
        return self.same(value, want, candidate.truth)

    def as_formula(self) -> Case:
        """The same case compared exactly (as formulas, not at the problem's values);
        the changed problems' truths are shared."""
        exact = replace(self, numeric=False)
        exact._truths = self._truths
        return exact

    def variant(self, key: str, make: Callable[[], Truth | None]) -> Truth | None:
        """A changed problem's truth, built once per case."""
        if key not in self._truths:
            self._truths[key] = make()
        return self._truths[key]

    # -- facts diagnosers ask about ------------------------------------------------------

    @cached_property
    def numeric_side(self) -> bool:
        """The written side is a number (or a matrix of numbers)."""
        return is_number(self.written, self.truth)

    @cached_property
    def slip(self) -> bool:
        """A number after a right side: the last step of a computation."""
        return self.previous_ok and self.numeric_side

    @cached_property
    def after_numbers(self) -> bool:
        """The side before is a number too."""
        previous = self.previous
        return isinstance(previous, (Mat, Expr)) and is_number(previous, self.truth)

    @cached_property
    def lhs_kind(self) -> str | None:
        """What the left side names (see :func:`~symconv.check.diagnose.trees.kind_of`)."""
        return kind_of(self.lhs)

    @cached_property
    def strangers(self) -> set[Symbol]:
        """Symbols of the side the problem does not have (x₅ when n = 4)."""
        ctx = self.context()
        try:
            evaluate(self.side, ctx)
        except EvalError:
            return set()
        return set(ctx.nonexistent)

    def _first_wrong_cell(self) -> tuple[Tree[Token], Value] | None:
        """A matrix written entry by entry: its first wrong entry and that entry's truth."""
        if self.side.data != "matrix" or not isinstance(self.written, Mat):
            return None
        entries = cells(self.side)
        pairs, shape = entries_of(self.written, self.expected)
        if shape or len(pairs) != len(entries):
            return None
        for cell, (w, e) in zip(entries, pairs):
            if not compare(w, e, self.truth, self.step, numeric=self.numeric, exact=False).equal:
                return cell, e
        return None


def text_of(text: Text) -> str:
    """The sentence of a candidate."""
    return text if isinstance(text, str) else text()
