"""Numeric kernels made from the symbolic forms.

Two kinds:

- :func:`lambdify_explicit` turns the explicit expressions (named symbols, small sizes)
  into NumPy functions with ``sympy.lambdify``.
- :func:`generate` prints NumPy source from the **closed form**: every ``Sum`` over the
  kernel index becomes ``k`` strided-slice operations on the padded batch (the index
  ``s(i−1) + d(j−1) − p + 1`` is affine in ``i``, so for a fixed tap ``j`` the outputs read
  an arithmetic progression of positions: one slice).  The sum over outputs in ∂L/∂w
  becomes one ``einsum`` per tap, and the input gradient scatters ``w_j · g`` back through
  the same slices (the adjoint), then folds the padding (circular: adds the wrapped
  copies).  The source is compiled once per layer configuration; it holds only integers
  derived from validated sizes, never user text.

Shapes: ``x`` (B, n), ``w`` (k,), ``b`` (m,) untied | () shared | None, ``y`` (B, m).
The batch loss is the sum of the per-sample losses (as in :mod:`symconv.reference`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sympy import Add, Expr, Indexed, Integer, Poly, Sum, Symbol, lambdify, solve
from sympy.printing.numpy import NumPyPrinter

from symconv.problem import Problem
from symconv.symbolic import closed as C
from symconv.symbolic.explicit import ExplicitDerivation, paused_gc

__all__ = [
    "GeneratedKernels",
    "LambdifiedExplicit",
    "LayerKey",
    "generate",
    "lambdify_explicit",
    "layer_key",
]

Array = NDArray[Any]

# The layer configuration a kernel depends on (values do not matter).
LayerKey = tuple[int, int, int, int, str, int, str, str]


def layer_key(problem: Problem) -> LayerKey:
    """``(n, k, stride, padding, padding_mode, dilation, bias, loss)`` of ``problem``."""
    return (
        problem.n,
        problem.k,
        problem.stride,
        problem.padding,
        problem.padding_mode,
        problem.dilation,
        problem.bias,
        problem.loss,
    )


# ---------------------------------------------------------------------------------------
# closed form -> NumPy source


def _affine(index: Expr, variable: Symbol) -> tuple[int, int]:
    """``index = a·variable + c`` with integers a, c (raises if not affine)."""
    poly = Poly(index, variable)
    if poly.degree() > 1:
        raise ValueError(f"index {index} is not affine in {variable}")
    a = int(poly.coeff_monomial(variable))
    c = int(poly.coeff_monomial(1))
    return a, c


def _slice(a: int, c: int, count: int, origin: int) -> str:
    """Slice of the positions ``a·i + c`` for ``i = 1..count``, stored from ``origin``."""
    start = a + c - origin
    stop = start + a * (count - 1) + 1
    return f"{start}:{stop}:{a}"


def _single(expr: Expr, base: Any) -> Indexed:
    (item,) = [a for a in expr.atoms(Indexed) if a.base == base]
    return item


def _terms_of_sum(expr: Expr, variable: Symbol) -> list[tuple[int, Expr]]:
    """The summands of ``Sum(f, (variable, lo, hi))`` with the index set: (value, f)."""
    sums = list(expr.atoms(Sum))
    (total,) = [s for s in sums if s.limits[0][0] == variable]
    _, low, high = total.limits[0]
    return [
        (v, total.function.xreplace({variable: Integer(v)})) for v in range(int(low), int(high) + 1)
    ]


class _KernelPrinter(NumPyPrinter):  # type: ignore[misc]
    """NumPy printer for the elementwise parts (loss summand, ∂L/∂ŷ) of the closed form."""

    def _print_Indexed(self, expr: Any) -> str:
        return {"ŷ": "yhat", "y": "y"}[str(expr.base)]


def _elementwise(expr: Expr) -> str:
    """Print a closed-form expression in ŷ[i], y[i] as NumPy code on whole arrays."""
    return str(_KernelPrinter().doprint(expr))


def _source(problem: Problem) -> str:
    """The NumPy source of the kernels of ``problem``'s layer, printed from the closed form."""
    n, k, s, p, m = problem.n, problem.k, problem.stride, problem.padding, problem.m
    closed = C.derive_closed(problem.bias, problem.loss, problem.padding_mode)
    sizes = C.size_values(problem)
    origin = 1 - p  # the padded input is stored from position 1 − p
    lines = ["def forward(xpad, w, b):", "    # ŷ_i = Σ_j w_j · x̃[s(i−1) + d(j−1) − p + 1] (+ b)"]

    # forward pass: one strided slice of the padded input per tap
    forward_sum = closed.yhat.xreplace(sizes)
    for position, (j, term) in enumerate(_terms_of_sum(forward_sum, C.j)):
        a, c = _affine(_single(term, C.xpad).indices[0], C.i)
        window = f"xpad[:, {_slice(a, c, m, origin)}]"
        lines.append(f"    {'yhat = ' if position == 0 else 'yhat += '}w[{j - 1}] * {window}")
    if problem.bias != "none":
        lines.append("    yhat += b")
    lines.append("    return yhat")

    # loss and its gradient, elementwise, printed by SymPy's NumPy printer
    summand = closed.loss.xreplace(sizes).function
    lines += [
        "",
        "def loss(yhat, y):",
        f"    return numpy.sum({_elementwise(summand)})",
        "",
        "def grad_yhat(yhat, y):",
        f"    return {_elementwise(closed.grad_yhat.xreplace(sizes))}",
    ]

    # ∂L/∂w_j = Σ_i g_i · x̃[window(i, j)]: per tap, one reduction over batch and outputs
    grad_w_sum = closed.grad_w.xreplace(sizes)
    lines += ["", "def grad_w(g, xpad):", f"    out = numpy.empty({k}, dtype=g.dtype)"]
    for j in range(1, k + 1):
        term = grad_w_sum.xreplace({C.j: Integer(j)})
        (inner,) = term.atoms(Sum)
        a, c = _affine(_single(inner.function, C.xpad).indices[0], C.i)
        lines.append(
            f"    out[{j - 1}] = numpy.einsum('bi,bi->', g, xpad[:, {_slice(a, c, m, origin)}])"
        )
    lines.append("    return out")

    # ∂L/∂x̃_q = Σ_j w_j · ğ[q + p − 1 − d(j−1)], ğ[u] = g_{u/s+1} for u = s(i−1):
    # per tap, solve for the positions q that receive g_i and scatter w_j·g there
    grad_xpad_sum = closed.grad_xpad.xreplace(sizes)
    lines += [
        "",
        "def grad_x(g, w):",
        f"    gxpad = numpy.zeros((g.shape[0], {n + 2 * p}), dtype=g.dtype)",
    ]
    for j, term in _terms_of_sum(grad_xpad_sum, C.j):
        u = _single(term, C.gdil).indices[0]
        (q_of_i,) = solve(u - s * (C.i - 1), C.q)
        a, c = _affine(q_of_i, C.i)
        lines.append(f"    gxpad[:, {_slice(a, c, m, origin)}] += w[{j - 1}] * g")
    # fold the padded gradient onto x: ∂L/∂x_t = Σ over padded copies of x_t
    if problem.padding_mode == "circular":
        lines.append(f"    gx = gxpad[:, {p}:{p + n}].copy()")
        for r in (-1, 1):
            # padded position t + r·n for t = 1..n, stored at t + r·n − origin
            first = max(1, origin - r * n)
            last = min(n, n + p - r * n)
            if first <= last:
                lo = first + r * n - origin
                lines.append(
                    f"    gx[:, {first - 1}:{last}] += gxpad[:, {lo}:{lo + last - first + 1}]"
                )
        lines.append("    return gx")
    else:
        lines.append(f"    return gxpad[:, {p}:{p + n}]")

    # padding: zeros, or the input wrapped around
    lines += ["", "def pad(x):"]
    if p == 0:
        lines.append("    return x")
    elif problem.padding_mode == "zeros":
        lines.append(f"    return numpy.pad(x, ((0, 0), ({p}, {p})))")
    else:
        lines.append(f"    return numpy.concatenate([x[:, {n - p}:], x, x[:, :{p}]], axis=1)")

    # bias gradient
    lines += ["", "def grad_b(g):"]
    if problem.bias == "untied":
        lines.append("    return g.sum(axis=0)")
    elif problem.bias == "shared":
        lines.append("    return g.sum()")
    else:
        lines.append("    return None")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GeneratedKernels:
    """Compiled kernels of one layer configuration (see the module docstring for shapes)."""

    key: LayerKey
    source: str
    pad: Callable[[Array], Array]
    forward: Callable[[Array, Array, Any], Array]
    loss: Callable[[Array, Array], Any]
    grad_yhat: Callable[[Array, Array], Array]
    grad_w: Callable[[Array, Array], Array]
    grad_b: Callable[[Array], Any]
    grad_x: Callable[[Array, Array], Array]

    def step(self, x: Array, w: Array, b: Any, y: Array, lr: float) -> dict[str, Any]:
        """Every quantity of one SGD step, in the dtype of ``x``."""
        dtype = x.dtype
        w = np.asarray(w, dtype=dtype)
        b = None if b is None else np.asarray(b, dtype=dtype)
        y = np.asarray(y, dtype=dtype)
        rate = dtype.type(lr)
        xpad = self.pad(x)
        yhat = self.forward(xpad, w, b)
        g = self.grad_yhat(yhat, y)
        grad_w = self.grad_w(g, xpad)
        grad_b = self.grad_b(g)
        w_next = w - rate * grad_w
        b_next = None if b is None else b - rate * grad_b
        yhat_next = self.forward(xpad, w_next, b_next)
        return {
            "yhat": yhat,
            "loss": self.loss(yhat, y),
            "grad_yhat": g,
            "grad_w": grad_w,
            "grad_b": grad_b,
            "grad_x": self.grad_x(g, w),
            "w_next": w_next,
            "b_next": b_next,
            "yhat_next": yhat_next,
            "loss_next": self.loss(yhat_next, y),
        }


@lru_cache(maxsize=256)
def _compiled(key: LayerKey, problem: Problem) -> GeneratedKernels:
    source = _source(problem)
    namespace: dict[str, Any] = {"numpy": np}
    # the source is printed above from the closed form and validated integer sizes only
    exec(compile(source, f"<symconv kernels {key}>", "exec"), namespace)
    return GeneratedKernels(
        key=key,
        source=source,
        pad=namespace["pad"],
        forward=namespace["forward"],
        loss=namespace["loss"],
        grad_yhat=namespace["grad_yhat"],
        grad_w=namespace["grad_w"],
        grad_b=namespace["grad_b"],
        grad_x=namespace["grad_x"],
    )


def generate(problem: Problem) -> GeneratedKernels:
    """Vectorized NumPy kernels for ``problem``'s layer, printed from the closed form.

    Cached per layer configuration (values do not matter).

    Example:
        >>> kern = generate(load_problem("exercise2"))
        >>> kern.forward(kern.pad(np.array([[1., 2, 3, 4]])), np.array([2., 1, 3]), np.ones(2))
        array([[14., 20.]])
    """
    key = layer_key(problem)
    return _compiled(key, _sizes_only(problem))


def _sizes_only(problem: Problem) -> Problem:
    """The problem without values (so the cache keys on the layer alone)."""
    from dataclasses import replace

    return replace(problem, x=None, w=None, b=None, y=None, steps=1, title="")


# ---------------------------------------------------------------------------------------
# explicit form -> lambdify


@dataclass(frozen=True)
class LambdifiedExplicit:
    """``sympy.lambdify`` of the explicit expressions; each takes one column per symbol."""

    derivation: ExplicitDerivation
    forward: Callable[..., Any]
    grads: Callable[..., Any]

    def step(self, x: Array, w: Array, b: Any, y: Array, lr: float) -> dict[str, Any]:
        """Every quantity of one SGD step; batched over the rows of ``x`` and ``y``."""
        dtype = x.dtype
        problem = self.derivation.problem
        w = np.asarray(w, dtype=dtype)
        y = np.asarray(y, dtype=dtype)
        biases = [] if b is None else list(np.atleast_1d(np.asarray(b, dtype=dtype)))
        rate = dtype.type(lr)
        columns = list(x.T)

        def forward(w: Array, biases: list[Any]) -> Array:
            out = self.forward(*columns, *w, *biases)
            return np.stack(
                [np.broadcast_to(np.asarray(v, dtype=dtype), x.shape[:1]) for v in out], axis=1
            )

        def loss(yhat: Array) -> Any:
            if problem.loss == "sse_half":
                return dtype.type(0.5) * np.sum((y - yhat) ** 2)
            return np.sum((y - yhat) ** 2) / dtype.type(problem.m)

        yhat = forward(w, biases)
        values = self.grads(*columns, *w, *biases, *y.T, *yhat.T)
        width = x.shape[0]

        def batch(v: Any) -> Array:
            return np.broadcast_to(np.asarray(v, dtype=dtype), (width,))

        m, k, n = problem.m, problem.k, problem.n
        g = np.stack([batch(v) for v in values[:m]], axis=1)
        grad_w = np.array([batch(v).sum() for v in values[m : m + k]], dtype=dtype)
        grad_x = np.stack([batch(v) for v in values[m + k : m + k + n]], axis=1)
        grad_b_list = [batch(v).sum() for v in values[m + k + n :]]
        grad_b: Any = None
        if problem.bias == "untied":
            grad_b = np.array(grad_b_list, dtype=dtype)
        elif problem.bias == "shared":
            grad_b = dtype.type(grad_b_list[0])
        w_next = w - rate * grad_w
        b_next = None if b is None else np.asarray(b, dtype=dtype) - rate * grad_b
        next_biases = [] if b_next is None else list(np.atleast_1d(b_next))
        yhat_next = forward(w_next, next_biases)
        return {
            "yhat": yhat,
            "loss": loss(yhat),
            "grad_yhat": g,
            "grad_w": grad_w,
            "grad_b": grad_b,
            "grad_x": grad_x,
            "w_next": w_next,
            "b_next": b_next,
            "yhat_next": yhat_next,
            "loss_next": loss(yhat_next),
        }


class _FlatPrinter(NumPyPrinter):  # type: ignore[misc]
    """NumPy printer for lambdify that parenthesises every sum and product.

    SymPy's printer orders terms and works out precedence for every node, which is most of
    lambdify's time on a large layer; full parentheses need neither (same values).
    """

    def _print_Add(self, expr: Add, order: str | None = None) -> str:
        return "(" + " + ".join(self._print(term) for term in expr.args) + ")"

    def _print_Mul(self, expr: Any) -> str:
        return "(" + "*".join(self._print(factor) for factor in expr.args) + ")"

    def doprint(self, expr: Expr, assign_to: Any = None) -> str:
        # one expression, no assignment: skip CodePrinter's bookkeeping around _print
        # (a walk for UnevaluatedExpr, unsupported-function tracking, line formatting)
        if assign_to is not None:
            text: str = super().doprint(expr, assign_to)
            return text
        self._not_supported: set[Any] = set()
        self._number_symbols: set[Any] = set()
        return str(self._print(expr))


def lambdify_explicit(derivation: ExplicitDerivation) -> LambdifiedExplicit:
    """Lambdify the explicit forward pass and the chain-rule gradients.

    The gradient functions take the forward outputs ŷ as arguments (the placeholders of the
    chain rule), so the forward pass is not expanded into them.
    """
    sym = derivation.symbols
    params = [*sym.x, *sym.w, *sym.bias_list()]
    # printing is most of lambdify's time on a large layer: a flat printer, no docstring,
    # no search for user-implemented functions (the explicit forms have none)
    options: dict[str, Any] = {
        "modules": "numpy",
        "printer": _FlatPrinter({"order": "none"}),
        "use_imps": False,
        "docstring_limit": 0,
    }
    with paused_gc():
        return _lambdify(derivation, params, options)


def _lambdify(
    derivation: ExplicitDerivation, params: list[Symbol], options: dict[str, Any]
) -> LambdifiedExplicit:
    sym = derivation.symbols
    forward = lambdify(params, list(derivation.yhat), **options)
    outputs = [
        *derivation.grad_yhat,
        *derivation.grad_w,
        *derivation.grad_x,
        *(derivation.grad_b or ()),
    ]
    grads = lambdify([*params, *sym.y, *sym.yhat], outputs, **options)
    return LambdifiedExplicit(derivation=derivation, forward=forward, grads=grads)
