"""The explicit derivation: concrete sizes, one named symbol per entry.

Symbols are 1-based as in the exercise: ``x1..xn``, ``w1..wk``, ``b`` (shared) or
``b1..bm`` (untied), ``y1..ym`` and ``yhat1..yhatm`` (the outputs, used as placeholders in
the chain rule).  Everything is built term by term from the window table (which input
each output position reads with each kernel tap), so an ``m × k`` layer costs ``O(m·k)``
SymPy operations: no ``expand`` and no ``diff`` over big sums.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sympy import Add, Expr, Integer, Matrix, Mul, Rational, SparseMatrix, Symbol, diff, zeros

from symconv.errors import SizeError
from symconv.problem import Problem

__all__ = [
    "EXPLICIT_LIMIT",
    "QUANTITIES",
    "ExplicitDerivation",
    "StepValues",
    "Symbols",
    "check_explicit_size",
    "derive_explicit",
    "evaluate_steps",
    "window_table",
]

# Above this n·k the explicit expansion is refused unless forced (the closed form is O(1)).
EXPLICIT_LIMIT = 20_000


@dataclass(frozen=True)
class Symbols:
    """The named symbols of a problem (1-based names)."""

    x: tuple[Symbol, ...]
    w: tuple[Symbol, ...]
    b: tuple[Symbol, ...] | Symbol | None
    y: tuple[Symbol, ...]
    yhat: tuple[Symbol, ...]

    @classmethod
    def for_problem(cls, problem: Problem) -> Symbols:
        """``x1..xn, w1..wk, b|b1..bm, y1..ym, yhat1..yhatm`` for ``problem``'s sizes."""

        def named(stem: str, count: int) -> tuple[Symbol, ...]:
            return tuple(Symbol(f"{stem}{i}", real=True) for i in range(1, count + 1))

        m = problem.m
        bias: tuple[Symbol, ...] | Symbol | None
        if problem.bias == "untied":
            bias = named("b", m)
        elif problem.bias == "shared":
            bias = Symbol("b", real=True)
        else:
            bias = None
        return cls(
            named("x", problem.n), named("w", problem.k), bias, named("y", m), named("yhat", m)
        )

    def bias_list(self) -> tuple[Symbol, ...]:
        """The bias parameters as a tuple (one entry if shared, empty if none)."""
        if self.b is None:
            return ()
        return self.b if isinstance(self.b, tuple) else (self.b,)


def window_table(problem: Problem) -> list[list[int | None]]:
    """For output ``i`` and tap ``j`` (0-based), the 0-based input index read, or None.

    The padded input position is ``s·i + d·j − p``; with zero padding a position outside
    ``0..n−1`` reads a zero (None), with circular padding it wraps modulo ``n``.

    Example:
        >>> window_table(load_problem("exercise2"))
        [[0, 1, 2], [1, 2, 3]]
    """
    n, s, p, d = problem.n, problem.stride, problem.padding, problem.dilation
    table: list[list[int | None]] = []
    for i in range(problem.m):
        row: list[int | None] = []
        for j in range(problem.k):
            position = s * i + d * j - p
            if 0 <= position < n:
                row.append(position)
            elif problem.padding_mode == "circular":
                row.append(position % n)
            else:
                row.append(None)
        table.append(row)
    return table


def check_explicit_size(problem: Problem, *, force: bool = False) -> None:
    """Refuse an explicit expansion with ``n·k > EXPLICIT_LIMIT`` unless ``force``."""
    size = problem.n * problem.k
    if size > EXPLICIT_LIMIT and not force:
        raise SizeError(
            f"the explicit form for n={problem.n}, k={problem.k} expands n·k = {size} terms "
            f"(limit {EXPLICIT_LIMIT}); use --form closed, which does not depend on n, "
            "or --force to expand anyway"
        )


@dataclass(frozen=True)
class ExplicitDerivation:
    """Forward pass, loss, gradients and SGD update of one layer, as SymPy expressions.

    Shapes (m outputs, k taps, n inputs, nb bias parameters):

    - ``yhat``: m expressions in x, w, b.
    - ``loss_of_yhat``: L(ŷ, y) in the placeholders ``yhat_i`` and ``y_i``.
    - ``grad_yhat``: m expressions ∂L/∂ŷ_i in ``yhat_i``, ``y_i``.
    - ``jac_w`` (m×k, the window matrix), ``jac_b`` (m×nb), ``jac_x`` (m×n): ∂ŷ/∂(·).
    - ``grad_w`` (k), ``grad_b`` (nb), ``grad_x`` (n): chain rule Jᵀ·∂L/∂ŷ, in ŷ, y and x|w.
    - ``w_next``, ``b_next``: one SGD step, ``θ − α·∂L/∂θ``.

    Use :meth:`full` to replace the ŷ placeholders with the forward expressions.
    """

    problem: Problem
    symbols: Symbols
    windows: list[list[int | None]]
    yhat: tuple[Expr, ...]
    loss_of_yhat: Expr
    grad_yhat: tuple[Expr, ...]
    jac_w: Matrix
    jac_b: Matrix | None
    jac_x: Matrix
    grad_w: tuple[Expr, ...]
    grad_b: tuple[Expr, ...] | None
    grad_x: tuple[Expr, ...]
    w_next: tuple[Expr, ...]
    b_next: tuple[Expr, ...] | None

    @cached_property
    def loss(self) -> Expr:
        """L as a function of x, w, b and y (ŷ replaced by the forward pass)."""
        return self.full(self.loss_of_yhat)

    def full(self, expr: Expr) -> Expr:
        """``expr`` with every placeholder ŷ_i replaced by its forward expression."""
        return expr.xreplace(dict(zip(self.symbols.yhat, self.yhat)))


def _loss_terms_shape(problem: Problem, yhat: Expr, y: Expr) -> Expr:
    """One summand of L(ŷ, y): ½(y_i − ŷ_i)² (sse_half) or (y_i − ŷ_i)²/m (mse)."""
    weight = Rational(1, 2) if problem.loss == "sse_half" else Rational(1, problem.m)
    return weight * (y - yhat) ** 2


def _loss_terms(problem: Problem, symbols: Symbols) -> list[Expr]:
    """The m summands of L(ŷ, y)."""
    return [_loss_terms_shape(problem, yh, y) for y, yh in zip(symbols.y, symbols.yhat)]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large expression tree is built.

    Building n·k products allocates hundreds of thousands of objects, and the collector
    keeps re-scanning them (about a quarter of the time at n = 1024, k = 9); SymPy trees
    hold no reference cycles to collect.  Memory is still freed by reference counting.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _product_of(a: Expr, b: Expr) -> Callable[[Expr, Expr], Expr]:
    """A fast ``Mul`` for many products shaped like ``a·b`` (same classes, same stems).

    SymPy's ``Mul`` sorts its factors, by class and then by name; all the products of one
    kind here (``w_j·x_t``, ``x_t·(ŷ_i − y_i)``) share classes and name stems, so they sort
    alike.  The first product is built canonically; if its factors come out as ``(a, b)``
    or ``(b, a)`` with nothing merged, the rest are assembled in that order directly
    (``Mul._from_args``), which gives the same (equal, same hash) expression ~15× faster.
    """
    canonical = Mul(a, b)
    if isinstance(canonical, Mul) and canonical.args == (a, b):
        return lambda u, v: Mul._from_args((u, v))
    if isinstance(canonical, Mul) and canonical.args == (b, a):
        return lambda u, v: Mul._from_args((v, u))
    return _mul


def _mul(a: Expr, b: Expr) -> Expr:
    product: Expr = Mul(a, b)
    return product


def _step(theta: Expr, lr: Rational, gradient: Expr) -> Expr:
    """``θ − α·g``, keeping ``α·g`` as one product.

    SymPy distributes a number over a sum (``α·(a + b)`` → ``α·a + α·b``), which costs one
    new term per term of g — thousands for a large layer — and reads worse.
    """
    if isinstance(gradient, Add):
        return Add(theta, Mul(-lr, gradient, evaluate=False), evaluate=False)
    return theta - lr * gradient


def derive_explicit(problem: Problem, *, force: bool = False) -> ExplicitDerivation:
    """Derive every quantity of ``problem`` explicitly (see :class:`ExplicitDerivation`).

    Raises :class:`SizeError` when ``n·k`` exceeds :data:`EXPLICIT_LIMIT` and not ``force``.

    Example:
        >>> d = derive_explicit(load_problem("exercise2"))
        >>> d.yhat[0]
        b1 + w1*x1 + w2*x2 + w3*x3
    """
    check_explicit_size(problem, force=force)
    with paused_gc():
        return _derive(problem)


def _derive(problem: Problem) -> ExplicitDerivation:
    sym = Symbols.for_problem(problem)
    windows = window_table(problem)
    m, n, k = problem.m, problem.n, problem.k
    biases = sym.bias_list()

    # forward pass: ŷ_i = Σ_j w_j · x[window(i, j)] + b_i
    def bias_of(i: int) -> Expr:
        if sym.b is None:
            return Integer(0)
        return sym.b[i] if isinstance(sym.b, tuple) else sym.b

    tap = _product_of(sym.w[0], sym.x[0])
    yhat = tuple(
        Add(*[tap(sym.w[j], sym.x[t]) for j, t in enumerate(row) if t is not None], bias_of(i))
        for i, row in enumerate(windows)
    )

    # loss and its derivative w.r.t. each output: the i-th summand is the only one with
    # ŷ_i, and all summands have one shape, so differentiate that shape once
    terms = _loss_terms(problem, sym)
    loss_of_yhat = Add(*terms)
    u, v = Symbol("u", real=True), Symbol("v", real=True)
    shape = _loss_terms_shape(problem, u, v)
    shape_grad = diff(shape, u)
    grad_yhat = tuple(shape_grad.xreplace({u: yh, v: y}) for yh, y in zip(sym.yhat, sym.y))

    # local Jacobians of the forward pass, and the chain rule ∂L/∂θ = (∂ŷ/∂θ)ᵀ·∂L/∂ŷ
    # accumulated entry by entry over the window table (each entry is one product)
    window_entries: list[list[Expr]] = [[Integer(0)] * k for _ in range(m)]
    input_entries: dict[tuple[int, int], list[Expr]] = {}
    w_terms: list[list[Expr]] = [[] for _ in range(k)]
    x_terms: list[list[Expr]] = [[] for _ in range(n)]
    by_x = _product_of(grad_yhat[0], sym.x[0])
    by_w = _product_of(grad_yhat[0], sym.w[0])
    for i, row in enumerate(windows):
        for j, t in enumerate(row):
            if t is not None:
                window_entries[i][j] = sym.x[t]  # ∂ŷ_i/∂w_j = x[window(i, j)]
                input_entries.setdefault((i, t), []).append(sym.w[j])  # ∂ŷ_i/∂x_t
                w_terms[j].append(by_x(grad_yhat[i], sym.x[t]))
                x_terms[t].append(by_w(grad_yhat[i], sym.w[j]))
    jac_w = Matrix(window_entries) if m else zeros(m, k)
    # ∂ŷ_i/∂x_t is the sum of the taps that read x_t (several, when circular padding wraps)
    jac_x = SparseMatrix(m, n, {key: Add(*taps) for key, taps in input_entries.items()})
    grad_w = tuple(Add(*ts) for ts in w_terms)
    grad_x = tuple(Add(*ts) for ts in x_terms)
    jac_b: Matrix | None = None
    grad_b: tuple[Expr, ...] | None = None
    if problem.bias == "untied":
        jac_b = Matrix.eye(m)  # ∂ŷ_i/∂b_i = 1, ∂ŷ_i/∂b_l = 0 otherwise
        grad_b = grad_yhat
    elif problem.bias == "shared":
        jac_b = Matrix.ones(m, 1)  # every output adds the one bias
        grad_b = (Add(*grad_yhat),)

    # one step of gradient descent: θ⁽¹⁾ = θ − α·∂L/∂θ
    lr = problem.lr
    w_next = tuple(_step(wj, lr, gj) for wj, gj in zip(sym.w, grad_w))
    b_next = (
        tuple(_step(bi, lr, gi) for bi, gi in zip(biases, grad_b)) if grad_b is not None else None
    )
    return ExplicitDerivation(
        problem=problem,
        symbols=sym,
        windows=windows,
        yhat=yhat,
        loss_of_yhat=loss_of_yhat,
        grad_yhat=grad_yhat,
        jac_w=jac_w,
        jac_b=jac_b,
        jac_x=jac_x,
        grad_w=grad_w,
        grad_b=grad_b,
        grad_x=grad_x,
        w_next=w_next,
        b_next=b_next,
    )


# The quantities of one step, in the order of the exercise (and of the JSON and tables).
QUANTITIES = (
    "yhat",
    "loss",
    "grad_yhat",
    "grad_w",
    "grad_b",
    "grad_x",
    "w_next",
    "b_next",
    "yhat_next",
    "loss_next",
)


@dataclass(frozen=True)
class StepValues:
    """Exact numbers of one SGD step (tuples follow the explicit shapes; b may be None)."""

    w: tuple[Rational, ...]
    b: tuple[Rational, ...] | None
    yhat: tuple[Rational, ...]
    loss: Rational
    grad_yhat: tuple[Rational, ...]
    grad_w: tuple[Rational, ...]
    grad_b: tuple[Rational, ...] | None
    grad_x: tuple[Rational, ...]
    w_next: tuple[Rational, ...]
    b_next: tuple[Rational, ...] | None
    yhat_next: tuple[Rational, ...]
    loss_next: Rational


def evaluate_steps(derivation: ExplicitDerivation) -> list[StepValues]:
    """Substitute the problem's values into the explicit expressions, step after step.

    Step ``t + 1`` starts from the ``w_next``, ``b_next`` of step ``t``; x and y stay fixed.
    Returns ``problem.steps`` entries.  Requires a problem with values.
    """
    problem, sym = derivation.problem, derivation.symbols
    if not problem.has_values:
        raise ValueError("evaluate_steps needs a problem with values")
    assert problem.x is not None and problem.w is not None and problem.y is not None
    fixed: dict[Symbol, Expr] = dict(zip(sym.x, problem.x)) | dict(zip(sym.y, problem.y))
    w: tuple[Rational, ...] = tuple(problem.w)
    b: tuple[Rational, ...] | None = None
    if problem.b is not None:
        b = problem.b if isinstance(problem.b, tuple) else (problem.b,)

    def forward(w: tuple[Rational, ...], b: tuple[Rational, ...] | None) -> dict[Symbol, Expr]:
        params = fixed | dict(zip(sym.w, w)) | dict(zip(sym.bias_list(), b or ()))
        outputs = tuple(e.xreplace(params) for e in derivation.yhat)
        return params | dict(zip(sym.yhat, outputs))

    def at(exprs: tuple[Expr, ...], point: dict[Symbol, Expr]) -> tuple[Rational, ...]:
        return tuple(e.xreplace(point) for e in exprs)

    steps: list[StepValues] = []
    point = forward(w, b)
    for _ in range(problem.steps):
        w_next = at(derivation.w_next, point)
        b_next = at(derivation.b_next, point) if derivation.b_next is not None else None
        point_next = forward(w_next, b_next)
        steps.append(
            StepValues(
                w=w,
                b=b,
                yhat=at(sym.yhat, point),
                loss=derivation.loss_of_yhat.xreplace(point),
                grad_yhat=at(derivation.grad_yhat, point),
                grad_w=at(derivation.grad_w, point),
                grad_b=at(derivation.grad_b, point) if derivation.grad_b is not None else None,
                grad_x=at(derivation.grad_x, point),
                w_next=w_next,
                b_next=b_next,
                yhat_next=at(sym.yhat, point_next),
                loss_next=derivation.loss_of_yhat.xreplace(point_next),
            )
        )
        w, b, point = w_next, b_next, point_next
    return steps
