"""The explicit derivation: concrete sizes, one named symbol per entry.

Symbols are 1-based as in the exercise: ``x1..xn``, ``w1..wk``, ``b`` (shared) or
``b1..bm`` (untied), ``y1..ym`` and ``yhat1..yhatm`` (the outputs, used as placeholders in
the chain rule).  A layer with more axes, channels or a batch names each entry by its
multi-index in the full shape, leading batch/channel axes of size 1 left out:
``x_1_2_3`` is x[batch 1, channel 2, position 3] of a one-example two-channel 1-D layer.
Every tuple here is flat, row-major in the layer's full shapes (:mod:`symconv.layer`).

Everything is built term by term from the layer's connectivity (which weight and which
input each output entry multiplies), so a layer of N products costs ``O(N)`` SymPy
operations: no ``expand`` and no ``diff`` over big sums.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from sympy import Add, Expr, Integer, Matrix, Mul, Rational, SparseMatrix, Symbol, diff, zeros

from symconv.errors import SizeError
from symconv.layer import Layer
from symconv.problem import Problem

__all__ = [
    "EVALUATION_LIMIT",
    "EXPLICIT_LIMIT",
    "MAX_EXACT_DIGITS",
    "QUANTITIES",
    "QUANTITY_LIKE",
    "ExplicitDerivation",
    "StepValues",
    "Symbols",
    "check_explicit_size",
    "derive_explicit",
    "evaluate_steps",
    "evaluation_size",
    "explicit_size",
    "named_entries",
    "quantity_shape",
    "window_table",
]

# Above this cost (see explicit_size) the explicit expansion is refused unless forced (the
# closed form is O(1)).  The experiment's second layer with a batch of 2 costs 90,970
# (78,400 products); one unit is about 60 µs of SymPy work.
EXPLICIT_LIMIT = 100_000
# Above this many products × SGD steps the exact evaluation is refused unless forced (one
# product of one step is about 55 µs of exact arithmetic while the numbers stay small).
EVALUATION_LIMIT = 200_000
# An exact value of a step may have at most this many digits (numerator or denominator):
# SGD's exact values grow by a few digits every step (the learning rate's denominator
# multiplies in), and Python refuses to print integers beyond 4,300 digits.
MAX_EXACT_DIGITS = 1000
# SymPy objects built per output entry (its symbols ŷ and y, the loss summand, ∂L/∂ŷ, the
# forward sum) in units of one product: measured, a 1-D layer of 8,000 outputs and 3 taps
# takes 4 s of which 3 s are the per-output work.
_PER_OUTPUT = 10


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
        """``x1..xn, w1..wk, b|b1..bm, y1..ym, yhat1..yhatm`` for ``problem``'s sizes
        (multi-index names for larger layers: see the module docstring)."""
        layer = problem.layer
        bias: tuple[Symbol, ...] | Symbol | None
        if layer.b_shape is None:
            bias = None
        elif layer.bias == "shared" and layer.out_channels == 1:
            bias = Symbol("b", real=True)
        else:
            bias = named_entries("b", layer.b_shape, 1)
        return cls(
            named_entries("x", layer.x_shape, 2),
            named_entries("w", layer.w_shape, 2),
            bias,
            named_entries("y", layer.y_shape, 2),
            named_entries("yhat", layer.y_shape, 2),
        )

    def bias_list(self) -> tuple[Symbol, ...]:
        """The bias parameters as a tuple (one entry if shared, empty if none)."""
        if self.b is None:
            return ()
        return self.b if isinstance(self.b, tuple) else (self.b,)


def named_entries(stem: str, shape: tuple[int, ...], lead: int) -> tuple[Symbol, ...]:
    """One real symbol per entry of ``shape``, row-major, named by its 1-based index.

    The first ``lead`` axes (batch, channels) are left out of the name while they have
    size 1; one index left gives ``x3``, several ``x_1_2_3``.

    Example:
        >>> named_entries("w", (1, 2, 2), 2)
        (w_1_1, w_1_2, w_2_1, w_2_2)
    """
    dropped = 0
    while dropped < lead and dropped < len(shape) - 1 and shape[dropped] == 1:
        dropped += 1
    kept = shape[dropped:]
    if not kept:
        return (Symbol(stem, real=True),)
    names = []
    for flat in range(math.prod(kept)):
        index = []
        for size in reversed(kept):
            flat, rest = divmod(flat, size)
            index.append(rest + 1)
        index.reverse()
        if len(index) == 1:
            names.append(f"{stem}{index[0]}")
        else:
            names.append(stem + "_" + "_".join(map(str, index)))
    return tuple(Symbol(name, real=True) for name in names)


def window_table(problem: Problem) -> list[list[int | None]]:
    """For output position ``i`` and tap ``j`` (0-based, flat over the spatial axes), the
    0-based input position read, or None (zero padding).  See :meth:`Layer.window_table`.

    Example:
        >>> from symconv.problem import load_problem
        >>> window_table(load_problem("exercise2"))
        [[0, 1, 2], [1, 2, 3]]
    """
    return problem.layer.window_table()


def explicit_size(layer: Layer) -> int:
    """The cost of building the explicit form, in units of one product.

    Every output entry visits every tap, the zero padding included (``layer.terms`` =
    output entries × taps: padding, dilation, channels and batch all count), builds its
    own symbols and loss summand (:data:`_PER_OUTPUT` units each), and every entry of x,
    w and b is a symbol with its gradient (one unit each).

    Example:
        >>> from symconv.problem import load_problem
        >>> explicit_size(load_problem("exercise2").layer)  # 2·3 + 10·2 + 4 + 3 + 2
        35
    """
    entries = math.prod(layer.x_shape) + math.prod(layer.w_shape)
    if layer.b_shape is not None:
        entries += math.prod(layer.b_shape)
    return layer.terms + _PER_OUTPUT * math.prod(layer.y_shape) + entries


def evaluation_size(problem: Problem) -> int:
    """The cost of the exact evaluation: products × SGD steps (0 without values).

    Example:
        >>> from symconv.problem import load_problem
        >>> evaluation_size(load_problem("exercise2").with_steps(3))
        18
    """
    return problem.layer.terms * problem.steps if problem.has_values else 0


def check_explicit_size(
    problem: Problem, *, force: bool = False, evaluation: bool = True
) -> None:
    """Refuse, before any work, an explicit expansion costing more than
    :data:`EXPLICIT_LIMIT` or (``evaluation``) an exact evaluation of more than
    :data:`EVALUATION_LIMIT` products × steps, unless ``force``.  Raises
    :class:`SizeError`."""
    if force:
        return
    layer = problem.layer
    size = explicit_size(layer)
    what = (
        f"n={problem.n}, k={problem.k}"
        + (f", p={problem.padding}" if problem.padding else "")
        + (f", d={problem.dilation}" if problem.dilation > 1 else "")
        if layer.is_single and layer.symmetric_padding is not None
        else layer.describe()
    )
    if size > EXPLICIT_LIMIT:
        raise SizeError(
            f"the explicit form for {what} costs {size} units ({layer.terms} products, one "
            f"per output and tap with the padding, and {math.prod(layer.y_shape)} output "
            f"entries; limit {EXPLICIT_LIMIT}); use --form closed, which does not depend on "
            "the sizes, or --force to expand anyway"
        )
    cost = evaluation_size(problem) if evaluation else 0
    if cost > EVALUATION_LIMIT:
        raise SizeError(
            f"the exact values of {problem.steps} steps for {what} cost {cost} "
            f"products × steps (limit {EVALUATION_LIMIT}); use fewer --steps, or --force"
        )


@dataclass(frozen=True)
class ExplicitDerivation:
    """Forward pass, loss, gradients and SGD update of one layer, as SymPy expressions.

    Shapes, flat (m output entries, k weights, n input entries, nb bias parameters; in
    1-D with one channel and batch 1 these are the output length, the kernel size and the
    input length):

    - ``yhat``: m expressions in x, w, b.
    - ``loss_of_yhat``: L(ŷ, y) in the placeholders ``yhat_i`` and ``y_i`` (None for an
      upstream gradient: then ``grad_yhat`` are the symbols ``g…``).
    - ``grad_yhat``: m expressions ∂L/∂ŷ_i in ``yhat_i``, ``y_i``.
    - ``jac_w`` (m×k, the window matrix; sparse beyond 1-D one channel), ``jac_b`` (m×nb),
      ``jac_x`` (m×n): ∂ŷ/∂(·).
    - ``grad_w`` (k), ``grad_b`` (nb), ``grad_x`` (n): chain rule Jᵀ·∂L/∂ŷ, in ŷ, y and x|w.
    - ``w_next``, ``b_next``: one SGD step, ``θ − α·∂L/∂θ``.

    Use :meth:`full` to replace the ŷ placeholders with the forward expressions.
    """

    problem: Problem
    symbols: Symbols
    windows: list[list[int | None]]
    yhat: tuple[Expr, ...]
    loss_of_yhat: Expr | None
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
    def loss(self) -> Expr | None:
        """L as a function of x, w, b and y (ŷ replaced by the forward pass); None upstream."""
        return None if self.loss_of_yhat is None else self.full(self.loss_of_yhat)

    def full(self, expr: Expr) -> Expr:
        """``expr`` with every placeholder ŷ_i replaced by its forward expression."""
        return expr.xreplace(dict(zip(self.symbols.yhat, self.yhat)))


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

    Raises :class:`SizeError` when the layer costs more than :data:`EXPLICIT_LIMIT` (see
    :func:`explicit_size`) and not ``force``.

    Example:
        >>> from symconv.problem import load_problem
        >>> d = derive_explicit(load_problem("exercise2"))
        >>> d.yhat[0]
        b1 + w1*x1 + w2*x2 + w3*x3
    """
    check_explicit_size(problem, force=force, evaluation=False)
    with paused_gc():
        return _derive(problem)


def _derive(problem: Problem) -> ExplicitDerivation:
    layer = problem.layer
    sym = Symbols.for_problem(problem)
    windows = window_table(problem)
    outputs, inputs, weights = len(sym.yhat), len(sym.x), len(sym.w)
    biases = sym.bias_list()
    connectivity = list(layer.connectivity())

    # forward pass: ŷ_o = Σ_taps w[tap] · x[source(o, tap)] + b[bias(o)]
    tap = _product_of(sym.w[0], sym.x[0])
    yhat = tuple(
        Add(
            *[tap(sym.w[t.weight], sym.x[t.source]) for t in taps],
            biases[bias] if bias is not None else Integer(0),
        )
        for _, bias, taps in connectivity
    )

    # loss and its derivative w.r.t. each output: the o-th summand is the only one with
    # ŷ_o, and all summands have one shape, so differentiate that shape once
    spec = problem.loss_spec
    loss_of_yhat: Expr | None = None
    if spec.has_target:
        count = problem.output_count
        loss_of_yhat = Add(*[spec.summand(yh, y, count) for y, yh in zip(sym.y, sym.yhat)])
        u, v = Symbol("u", real=True), Symbol("v", real=True)
        shape_grad = diff(spec.summand(u, v, count), u)
        grad_yhat = tuple(shape_grad.xreplace({u: yh, v: y}) for yh, y in zip(sym.yhat, sym.y))
    else:  # upstream: ∂L/∂ŷ arrives from the layers above, as symbols g
        grad_yhat = named_entries("g", layer.y_shape, 2)

    # local Jacobians of the forward pass, and the chain rule ∂L/∂θ = (∂ŷ/∂θ)ᵀ·∂L/∂ŷ
    # accumulated entry by entry over the connectivity (each entry is one product)
    weight_entries: dict[tuple[int, int], Expr] = {}
    input_entries: dict[tuple[int, int], list[Expr]] = {}
    w_terms: list[list[Expr]] = [[] for _ in range(weights)]
    x_terms: list[list[Expr]] = [[] for _ in range(inputs)]
    by_x = _product_of(grad_yhat[0], sym.x[0])
    by_w = _product_of(grad_yhat[0], sym.w[0])
    for o, _, taps in connectivity:
        for t in taps:
            weight_entries[o, t.weight] = sym.x[t.source]  # ∂ŷ_o/∂w_j = x[source(o, j)]
            input_entries.setdefault((o, t.source), []).append(sym.w[t.weight])  # ∂ŷ_o/∂x_t
            w_terms[t.weight].append(by_x(grad_yhat[o], sym.x[t.source]))
            x_terms[t.source].append(by_w(grad_yhat[o], sym.w[t.weight]))
    jac_w: Matrix
    if layer.is_single:  # the exercise's window matrix, dense
        jac_w = Matrix(outputs, weights, lambda o, j: weight_entries.get((o, j), Integer(0)))
        if not outputs:
            jac_w = zeros(outputs, weights)
    else:
        jac_w = SparseMatrix(outputs, weights, weight_entries)
    # ∂ŷ_o/∂x_t is the sum of the taps that read x_t (several, when circular padding wraps)
    jac_x = SparseMatrix(outputs, inputs, {key: Add(*ws) for key, ws in input_entries.items()})
    grad_w = tuple(Add(*ts) for ts in w_terms)
    grad_x = tuple(Add(*ts) for ts in x_terms)
    jac_b: Matrix | None = None
    grad_b: tuple[Expr, ...] | None = None
    if biases:
        # ∂ŷ_o/∂b_l = 1 when output o adds bias l (its own when untied, its channel's when
        # shared), else 0; so ∂L/∂b_l sums ∂L/∂ŷ over the outputs that add b_l
        jac_b = SparseMatrix(
            outputs, len(biases), {(o, bias): 1 for o, bias, _ in connectivity if bias is not None}
        )
        if layer.is_single:
            jac_b = Matrix(jac_b)
        b_terms: list[list[Expr]] = [[] for _ in biases]
        for o, bias, _ in connectivity:
            if bias is not None:
                b_terms[bias].append(grad_yhat[o])
        grad_b = tuple(Add(*ts) for ts in b_terms)

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


# The tensor each quantity is shaped like ("x", "w", "b", "y"; None: a number).
QUANTITY_LIKE: dict[str, str | None] = {
    "yhat": "y",
    "loss": None,
    "grad_yhat": "y",
    "grad_w": "w",
    "grad_b": "b",
    "grad_x": "x",
    "w_next": "w",
    "b_next": "b",
    "yhat_next": "y",
    "loss_next": None,
}


def quantity_shape(layer: Layer, key: str) -> tuple[int, ...] | None:
    """The full shape of a quantity of :data:`QUANTITIES` (``()`` for a number; None for
    the bias quantities of a layer without bias).

    Example:
        >>> from symconv.problem import load_problem
        >>> quantity_shape(load_problem("mnist_conv1").layer, "grad_w")
        (5, 1, 4, 4)
    """
    like = QUANTITY_LIKE[key]
    shapes = {"x": layer.x_shape, "w": layer.w_shape, "b": layer.b_shape, "y": layer.y_shape}
    return () if like is None else shapes[like]


@dataclass(frozen=True)
class StepValues:
    """Exact numbers of one SGD step (flat tuples in the explicit shapes; b may be None;
    ``loss`` and ``loss_next`` are None for an upstream gradient)."""

    w: tuple[Rational, ...]
    b: tuple[Rational, ...] | None
    yhat: tuple[Rational, ...]
    loss: Rational | None
    grad_yhat: tuple[Rational, ...]
    grad_w: tuple[Rational, ...]
    grad_b: tuple[Rational, ...] | None
    grad_x: tuple[Rational, ...]
    w_next: tuple[Rational, ...]
    b_next: tuple[Rational, ...] | None
    yhat_next: tuple[Rational, ...]
    loss_next: Rational | None


class _Exact:
    """Exact values of the explicit expressions at a point, with Python fractions.

    The explicit forms are sums of products of symbols and rational constants, so each is
    evaluated by walking its tree once (shared subtrees once per point): the same numbers
    as ``expr.xreplace(point)``, without building a SymPy object per intermediate result
    (about 5× faster on the sweep's layers).  Anything else falls back to ``xreplace``.
    """

    def __init__(self, point: dict[Symbol, Fraction]) -> None:
        self.point = point
        self.memo: dict[int, Fraction] = {}

    def __call__(self, expr: Expr) -> Fraction:
        key = id(expr)
        found = self.memo.get(key)
        if found is not None:
            return found
        value: Fraction
        if expr.is_Symbol:
            value = self.point[expr]
        elif expr.is_Rational:
            value = Fraction(int(expr.p), int(expr.q))
        elif isinstance(expr, Add):
            value = sum((self(arg) for arg in expr.args), Fraction(0))
        elif isinstance(expr, Mul):
            value = Fraction(1)
            for arg in expr.args:
                value *= self(arg)
        elif expr.is_Pow and expr.exp.is_Integer:
            value = self(expr.base) ** int(expr.exp)
        else:
            fallback = expr.xreplace({k: Rational(v.numerator, v.denominator)
                                      for k, v in self.point.items()})
            value = Fraction(int(fallback.p), int(fallback.q))
        self.memo[key] = value
        return value


def _fraction(value: Expr) -> Fraction:
    return Fraction(int(value.p), int(value.q))


def _rational(value: Fraction) -> Rational:
    result: Rational = Rational(value.numerator, value.denominator)
    return result


_BITS_PER_DIGIT = math.log2(10)


def _bits(values: Iterator[Fraction] | tuple[Fraction, ...]) -> int:
    """The largest bit length of a numerator or denominator (cheap: no conversion to text)."""
    return max(
        (max(abs(v.numerator).bit_length(), v.denominator.bit_length()) for v in values),
        default=0,
    )


def _digit_guard(problem: Problem, step: int, bits: int, growth: int) -> None:
    """Refuse values beyond :data:`MAX_EXACT_DIGITS` digits: at step ``step`` (1-based) the
    largest has ``bits`` bits, and each further step adds about ``growth`` bits (SGD on a
    quadratic loss: a linear recurrence, so the digits grow linearly)."""
    digits = math.ceil(bits / _BITS_PER_DIGIT)
    per_step = max(1, math.ceil(growth / _BITS_PER_DIGIT))
    predicted = digits + per_step * (problem.steps - step)
    if predicted <= MAX_EXACT_DIGITS:
        return
    usable = max(1, step - 1 + (MAX_EXACT_DIGITS - digits) // per_step)
    if digits > MAX_EXACT_DIGITS:
        usable = max(1, step - 1)
    raise SizeError(
        f"the exact values of {problem.steps} SGD steps would grow to about {predicted} digits "
        f"(about {per_step} more each step; limit {MAX_EXACT_DIGITS}): use --steps {usable} or "
        "fewer, or a learning rate with a smaller denominator"
    )


def evaluate_steps(derivation: ExplicitDerivation) -> list[StepValues]:
    """Substitute the problem's values into the explicit expressions, step after step.

    Step ``t + 1`` starts from the ``w_next``, ``b_next`` of step ``t``; x and y stay fixed.
    Returns ``problem.steps`` entries.  Requires a problem with values.  Arithmetic is
    exact (fractions); every number of the result is a SymPy ``Rational``.  Raises
    :class:`SizeError` (after the first step, by the growth it shows) when the values would
    outgrow :data:`MAX_EXACT_DIGITS` digits.
    """
    problem, sym = derivation.problem, derivation.symbols
    if not problem.has_values:
        raise ValueError("evaluate_steps needs a problem with values")
    assert problem.x is not None and problem.w is not None
    fixed: dict[Symbol, Fraction] = {s: _fraction(v) for s, v in zip(sym.x, problem.x)}
    if problem.y is not None:
        fixed |= {s: _fraction(v) for s, v in zip(sym.y, problem.y)}
    if problem.grad_yhat is not None:  # upstream: the given ∂L/∂ŷ
        fixed |= {s: _fraction(v) for s, v in zip(derivation.grad_yhat, problem.grad_yhat)}
    w = tuple(_fraction(v) for v in problem.w)
    b = None if problem.b_values is None else tuple(_fraction(v) for v in problem.b_values)
    loss = derivation.loss_of_yhat

    def forward(w: tuple[Fraction, ...], b: tuple[Fraction, ...] | None) -> _Exact:
        params = fixed | dict(zip(sym.w, w)) | dict(zip(sym.bias_list(), b or ()))
        value = _Exact(params)
        outputs = tuple(value(e) for e in derivation.yhat)
        return _Exact(params | dict(zip(sym.yhat, outputs)))

    def at(exprs: tuple[Expr, ...], value: _Exact) -> tuple[Fraction, ...]:
        return tuple(value(e) for e in exprs)

    def exact(values: tuple[Fraction, ...] | None) -> tuple[Rational, ...] | None:
        return None if values is None else tuple(_rational(v) for v in values)

    def loss_at(value: _Exact) -> Rational | None:
        return None if loss is None else _rational(value(loss))

    steps: list[StepValues] = []
    point = forward(w, b)
    start_bits = _bits(tuple(fixed.values()) + w + (b or ()))
    for number in range(1, problem.steps + 1):
        w_next = at(derivation.w_next, point)
        b_next = at(derivation.b_next, point) if derivation.b_next is not None else None
        # the digits of the exact values, before anything is printed: refused early (after
        # the first step, by the growth it shows) rather than by Python's 4,300-digit limit
        bits = _bits(w_next + (b_next or ()))
        if loss is not None:
            bits = max(bits, _bits((point(loss),)))
        _digit_guard(problem, number, bits, (bits - start_bits) // number)
        point_next = forward(w_next, b_next)
        steps.append(
            StepValues(
                w=tuple(_rational(v) for v in w),
                b=exact(b),
                yhat=tuple(_rational(v) for v in at(sym.yhat, point)),
                loss=loss_at(point),
                grad_yhat=tuple(_rational(v) for v in at(derivation.grad_yhat, point)),
                grad_w=tuple(_rational(v) for v in at(derivation.grad_w, point)),
                grad_b=exact(at(derivation.grad_b, point))
                if derivation.grad_b is not None
                else None,
                grad_x=tuple(_rational(v) for v in at(derivation.grad_x, point)),
                w_next=tuple(_rational(v) for v in w_next),
                b_next=exact(b_next),
                yhat_next=tuple(_rational(v) for v in at(sym.yhat, point_next)),
                loss_next=loss_at(point_next),
            )
        )
        w, b, point = w_next, b_next, point_next
    return steps
