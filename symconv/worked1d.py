"""The worked derivation of a 1-D one-channel layer as one model: sections → equations.

Built once per derivation (:func:`worked`) and printed by the terminal
(:mod:`symconv.display`) and the LaTeX report (:mod:`symconv.latex.derivation1d`); the
question sheet (:mod:`symconv.course.sheets`) reads the same sections with the answers
left out (:func:`outline`).  Each printer picks what it shows of an equation:

- its **closed form** (the section's :class:`Closed` links: the general formula with the
  output length shown as ``m``, and the same with this problem's stride, padding, dilation
  and kernel size put in);
- its **terms**: the right-hand side as a sum of products of *named entries*
  (:class:`Factor`: a quantity of :data:`symconv.notation.QUANTITIES` and a 0-based
  entry), e.g. ∂L/∂w₂ = ∂L/∂ŷ₁·x₂ + ∂L/∂ŷ₂·x₃ — which output reads which input under
  which tap is worked out here once, not by each printer;
- its **numbers**: the same terms with each factor's exact value;
- its SymPy **expression** (``expr``, with ``point``: the values of its symbols) and its
  exact **value**.

The bias mode is read from :func:`symconv.notation.bias_notation`; a printer asks the
model which equations exist, never the mode's name.

Example:
    >>> from symconv.derivation import build
    >>> from symconv.problem import load_problem
    >>> model = worked(build(load_problem("exercise2")))
    >>> [section.key for section in model.sections]
    ['forward', 'loss', 'grad_yhat', 'grad_w', 'grad_b', 'grad_x', 'update', 'after']
    >>> eq = model.section("grad_w").equations[1]
    >>> [[(f.key, f.index) for f in term.factors] for term in eq.terms]
    [[('grad_yhat', 0), ('x', 1)], [('grad_yhat', 1), ('x', 2)]]
    >>> eq.numbers, eq.value
    (((12, 2), (16, 3)), 72)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sympy import Expr, Symbol, factor_terms

from symconv.derivation import Derivation, worked_in_1d
from symconv.notation import BiasNotation, bias_notation
from symconv.problem import Problem
from symconv.symbolic.closed import ClosedForm, specialize
from symconv.symbolic.explicit import ExplicitDerivation, StepValues

__all__ = [
    "Closed",
    "Equation",
    "Factor",
    "Outline",
    "Section",
    "Term",
    "Worked",
    "display_m",
    "outline",
    "worked",
]


@dataclass(frozen=True)
class Factor:
    """A named entry: a quantity's key (``"w"``, ``"grad_yhat"``, ``"lr"`` for α) and its
    0-based flat index (None for a scalar: the learning rate)."""

    key: str
    index: int | None = None


@dataclass(frozen=True)
class Term:
    """One product of a sum as written (``sign`` −1: subtracted, as α·∂L/∂w in an update)."""

    factors: tuple[Factor, ...]
    sign: int = 1


@dataclass(frozen=True)
class Equation:
    """One entry of a quantity: ``key[index] = terms = numbers = value``.

    ``terms`` empty means the sum has no term (an input no window reads: 0); the loss's
    terms are the pairs (y_i, ŷ_i) of its squared differences.  ``numbers`` (with values)
    holds each term's factor values, in the order of ``terms``.
    """

    key: str
    index: int | None
    terms: tuple[Term, ...] = ()
    expr: Expr | None = None
    point: Mapping[Symbol, Any] = field(default_factory=dict)
    numbers: tuple[tuple[Any, ...], ...] | None = None
    value: Any = None
    window: tuple[int | None, ...] = ()  # the forward pass: the input read under each tap


@dataclass(frozen=True)
class Closed:
    """The closed form of one quantity: ``general`` (m shown as the symbol m) and ``here``
    (this problem's s, p, d, k put in; None when that changes nothing)."""

    key: str
    general: Expr
    here: Expr | None


@dataclass(frozen=True)
class Section:
    """A part of the derivation: its key, the quantities it derives (in order), their
    closed forms and their explicit equations (every entry; a printer caps them)."""

    key: str
    quantities: tuple[str, ...]
    closed: tuple[Closed, ...] = ()
    equations: tuple[Equation, ...] = ()

    def of(self, key: str) -> tuple[Equation, ...]:
        """The equations of quantity ``key`` in this section."""
        return tuple(eq for eq in self.equations if eq.key == key)

    def closed_of(self, key: str) -> Closed | None:
        return next((c for c in self.closed if c.key == key), None)


@dataclass(frozen=True)
class Outline:
    """The sections of a problem's derivation and what each asks for, without answers."""

    key: str
    quantities: tuple[str, ...]


def outline(problem: Problem) -> tuple[Outline, ...]:
    """What the worked derivation of ``problem`` derives, section by section: the question
    sheet's tasks and the report's sections are both this list (no bias: no ∂L/∂b, b⁽¹⁾).

    Example:
        >>> from symconv.problem import load_problem
        >>> [o.quantities for o in outline(load_problem("exercise2"))][3:7]
        [('grad_w',), ('grad_b',), ('grad_x',), ('w_next', 'b_next')]
    """
    bias = bias_notation(problem.bias).present
    sections = [
        Outline("forward", ("yhat",)),
        Outline("loss", ("loss",)),
        Outline("grad_yhat", ("grad_yhat",)),
        Outline("grad_w", ("grad_w",)),
        *([Outline("grad_b", ("grad_b",))] if bias else []),
        Outline("grad_x", ("grad_x",)),
        Outline("update", ("w_next", "b_next") if bias else ("w_next",)),
    ]
    if problem.has_values:
        sections.append(Outline("after", ("yhat_next", "loss_next")))
    return tuple(sections)


@dataclass(frozen=True)
class Worked:
    """The worked derivation of a 1-D one-channel problem (see the module docstring).

    ``values`` maps a factor's key to its exact entries at the first step (empty without
    values); ``steps`` are every step's numbers (the table of several steps).
    """

    problem: Problem
    bias: BiasNotation
    sections: tuple[Section, ...]
    values: Mapping[str, tuple[Any, ...]]
    steps: tuple[StepValues, ...]
    explicit: ExplicitDerivation | None
    closed: ClosedForm | None

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(f"no section {key!r} (this derivation has {self.keys})")

    def has(self, key: str) -> bool:
        return any(section.key == key for section in self.sections)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(section.key for section in self.sections)

    @property
    def has_numbers(self) -> bool:
        return bool(self.values)

    def closed_of(self, key: str) -> Closed | None:
        """The closed form of quantity ``key`` in whichever section derives it (None
        without one: ``--form explicit``)."""
        for section in self.sections:
            closed = section.closed_of(key)
            if closed is not None:
                return closed
        return None

    def value(self, factor: Factor) -> Any:
        """The exact value of a named entry at the first step (KeyError without values)."""
        return self.values[factor.key][factor.index or 0]


def display_m(closed: ClosedForm, expr: Expr) -> Expr:
    """``expr`` with the output-length formula shown as the symbol m."""
    return factor_terms(expr.xreplace({closed.m: Symbol("m")}))


def _closed(closed: ClosedForm | None, problem: Problem, keys: Sequence[str]) -> tuple[Closed, ...]:
    if closed is None:
        return ()
    out = []
    for key in keys:  # the closed form's fields are named by the quantities' keys
        expr = getattr(closed, key, None)
        if expr is None:
            continue
        general = display_m(closed, expr)
        here = display_m(closed, specialize(expr, problem))
        out.append(Closed(key, general, None if here == general else here))
    return tuple(out)


def _values(problem: Problem, step: StepValues | None) -> dict[str, tuple[Any, ...]]:
    if step is None or problem.x is None:
        return {}
    values: dict[str, tuple[Any, ...] | None] = {
        "x": tuple(problem.x),
        "y": None if problem.y is None else tuple(problem.y),
        "w": step.w,
        "b": step.b,
        "yhat": step.yhat,
        "loss": None if step.loss is None else (step.loss,),
        "grad_yhat": step.grad_yhat,
        "grad_w": step.grad_w,
        "grad_b": step.grad_b,
        "grad_x": step.grad_x,
        "lr": (problem.lr,),
        "w_next": step.w_next,
        "b_next": step.b_next,
        "yhat_next": step.yhat_next,
        "loss_next": None if step.loss_next is None else (step.loss_next,),
    }
    return {key: value for key, value in values.items() if value is not None}


class _Builder:
    """Builds the equations of one derivation from its explicit form and first step."""

    def __init__(self, d: Derivation, e: ExplicitDerivation) -> None:
        self.problem = d.problem
        self.e = e
        self.bias = bias_notation(d.problem.bias)
        self.step = d.steps[0] if d.steps else None
        self.values = _values(d.problem, self.step)

    def numbers(self, terms: Sequence[Term]) -> tuple[tuple[Any, ...], ...] | None:
        if not self.values:
            return None
        return tuple(
            tuple(self.values[f.key][f.index or 0] for f in term.factors) for term in terms
        )

    def value(self, key: str, index: int) -> Any:
        entries = self.values.get(key)
        return None if entries is None else entries[index]

    def forward(self, after: bool) -> tuple[Equation, ...]:
        """ŷ_i = Σ_j w_j·x[window(i, j)] + b_i (after the update: with w⁽¹⁾ and b⁽¹⁾)."""
        e, sym = self.e, self.e.symbols
        w, b, key = ("w_next", "b_next", "yhat_next") if after else ("w", "b", "yhat")
        point: dict[Symbol, Any] = {}
        if self.values:
            point = dict(zip(sym.x, self.values["x"])) | dict(zip(sym.w, self.values[w]))
            point |= dict(zip(sym.bias_list(), self.values.get(b, ())))
        eqs = []
        for i, row in enumerate(e.windows):
            terms = [
                Term((Factor(w, j), Factor("x", t))) for j, t in enumerate(row) if t is not None
            ]
            if self.bias.present:
                terms.append(Term((Factor(b, self.bias.index(i)),)))
            eqs.append(
                Equation(
                    key,
                    i,
                    tuple(terms),
                    e.yhat[i],
                    point,
                    self.numbers(terms),
                    self.value(key, i),
                    tuple(row),
                )
            )
        return tuple(eqs)

    def loss(self, after: bool) -> Equation:
        e = self.e
        yhat, key = ("yhat_next", "loss_next") if after else ("yhat", "loss")
        terms = tuple(Term((Factor("y", i), Factor(yhat, i))) for i in range(self.problem.m))
        point: dict[Symbol, Any] = {}
        if self.values and "y" in self.values:
            point = dict(zip(e.symbols.yhat, self.values[yhat])) | dict(
                zip(e.symbols.y, self.values["y"])
            )
        return Equation(
            key, None, terms, e.loss_of_yhat, point, self.numbers(terms), self.value(key, 0)
        )

    def grad_yhat(self) -> tuple[Equation, ...]:
        e = self.e
        eqs = []
        for i, expr in enumerate(e.grad_yhat):
            point: dict[Symbol, Any] = {}
            if self.values and "y" in self.values:
                point = {
                    e.symbols.yhat[i]: self.values["yhat"][i],
                    e.symbols.y[i]: self.values["y"][i],
                }
            eqs.append(Equation("grad_yhat", i, (), expr, point, None, self.value("grad_yhat", i)))
        return tuple(eqs)

    def grad_w(self) -> tuple[Equation, ...]:
        """∂L/∂w_j = Σ over the outputs whose window reads x_t under tap j of ∂L/∂ŷ_i·x_t."""
        e = self.e
        eqs = []
        for j in range(self.problem.k):
            terms = tuple(
                Term((Factor("grad_yhat", i), Factor("x", t)))
                for i, row in enumerate(e.windows)
                if (t := row[j]) is not None
            )
            eqs.append(
                Equation(
                    "grad_w",
                    j,
                    terms,
                    e.grad_w[j],
                    {},
                    self.numbers(terms),
                    self.value("grad_w", j),
                )
            )
        return tuple(eqs)

    def grad_b(self) -> tuple[Equation, ...]:
        """Per output (∂L/∂b_i = ∂L/∂ŷ_i) or shared (∂L/∂b = Σ_i ∂L/∂ŷ_i)."""
        e, m = self.e, self.problem.m
        eqs = []
        for entry in range(self.bias.entries(m)):
            outputs = range(m) if not self.bias.per_output else (entry,)
            terms = tuple(Term((Factor("grad_yhat", i),)) for i in outputs)
            expr = e.grad_b[entry] if e.grad_b is not None else None
            eqs.append(
                Equation(
                    "grad_b",
                    entry,
                    terms,
                    expr,
                    {},
                    self.numbers(terms),
                    self.value("grad_b", entry),
                )
            )
        return tuple(eqs)

    def grad_x(self) -> tuple[Equation, ...]:
        """∂L/∂x_t = Σ over the taps j of the windows i that read x_t of ∂L/∂ŷ_i·w_j."""
        e = self.e
        uses: list[list[Term]] = [[] for _ in range(self.problem.n)]
        for i, row in enumerate(e.windows):
            for j, t in enumerate(row):
                if t is not None:
                    uses[t].append(Term((Factor("grad_yhat", i), Factor("w", j))))
        # in the order of the outputs, as the chain rule sums them
        return tuple(
            Equation(
                "grad_x",
                t,
                tuple(terms),
                e.grad_x[t],
                {},
                self.numbers(terms),
                self.value("grad_x", t),
            )
            for t, terms in enumerate(uses)
        )

    def section(self, key: str) -> tuple[Equation, ...]:
        """The equations of the section ``key`` (see :func:`outline`)."""
        if key == "forward":
            return self.forward(False)
        if key == "loss":
            return (self.loss(False),)
        if key == "after":
            return (*self.forward(True), self.loss(True))
        parts = {
            "grad_yhat": self.grad_yhat,
            "grad_w": self.grad_w,
            "grad_b": self.grad_b,
            "grad_x": self.grad_x,
            "update": self.update,
        }
        return parts[key]()

    def update(self) -> tuple[Equation, ...]:
        """θ⁽¹⁾ = θ − α·∂L/∂θ for every weight and bias parameter."""
        e = self.e
        eqs = []
        for key, param, grad, exprs in (
            ("w_next", "w", "grad_w", e.w_next),
            ("b_next", "b", "grad_b", e.b_next or ()),
        ):
            for index, expr in enumerate(exprs):
                terms = (
                    Term((Factor(param, index),)),
                    Term((Factor("lr"), Factor(grad, index)), sign=-1),
                )
                eqs.append(
                    Equation(
                        key, index, terms, expr, {}, self.numbers(terms), self.value(key, index)
                    )
                )
        return tuple(eqs)


def worked(d: Derivation) -> Worked:
    """The model of ``d``'s worked derivation (a 1-D one-channel problem with a loss).

    Without the explicit form (``--form closed``, or a layer too large to expand) the
    sections hold their closed forms only; without values there are no numbers and no
    section after the update.
    """
    problem = d.problem
    if not worked_in_1d(problem):
        raise ValueError("the worked 1-D model is for a 1-D one-channel batch-1 layer with a loss")
    e = d.explicit if d.form != "closed" else None
    builder = _Builder(d, e) if e is not None else None
    sections = []
    for part in outline(problem):
        if part.key == "after" and (builder is None or not builder.values):
            continue
        closed = _closed(d.closed, problem, part.quantities) if part.key != "after" else ()
        equations: tuple[Equation, ...] = ()
        if builder is not None:
            equations = builder.section(part.key)
        sections.append(Section(part.key, part.quantities, closed, equations))
    return Worked(
        problem=problem,
        bias=bias_notation(problem.bias),
        sections=tuple(sections),
        values=builder.values if builder is not None else {},
        steps=tuple(d.steps or ()),
        explicit=e,
        closed=d.closed,
    )
