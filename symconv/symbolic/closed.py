"""The closed form: ``IndexedBase`` + ``Sum`` with symbolic sizes n, k, s, p, d.

Indices are 1-based, as in the explicit form.  The padded input x̃ has positions
``1 − p .. n + p``; output i, tap j reads position ``s(i−1) + d(j−1) − p + 1``:

    ŷ_i   = Σ_{j=1..k} w_j · x̃[s(i−1) + d(j−1) − p + 1]  + b_i | b | 0
    L     = Σ_{i=1..m} ½ (y_i − ŷ_i)²        (or (1/m) Σ (y_i − ŷ_i)² for mse)
    g_i   = ∂L/∂ŷ_i
    ∂L/∂w_j = Σ_{i=1..m} g_i · x̃[s(i−1) + d(j−1) − p + 1]
    ∂L/∂b_i = g_i  (untied),  ∂L/∂b = Σ_i g_i  (shared)
    ∂L/∂x̃_q = Σ_{j=1..k} w_j · ğ[q + p − 1 − d(j−1)]   (full correlation with the flipped
              kernel; ğ is g dilated by the stride: ğ[u] = g_{u/s + 1} when s divides u)
    ∂L/∂x_t = ∂L/∂x̃_t  (zeros),  Σ_{r=−1..1} ∂L/∂x̃_{t + r·n}  (circular)

Nothing here depends on n: building the closed form is O(1); :func:`instantiate`
substitutes concrete sizes and expands the sums (for tests and small problems).
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import (
    Expr,
    Indexed,
    IndexedBase,
    Integer,
    Rational,
    Sum,
    Symbol,
    diff,
    floor,
    symbols,
)

from symconv.problem import Problem
from symconv.symbolic.explicit import ExplicitDerivation, Symbols

__all__ = ["SIZES", "ClosedForm", "derive_closed", "instantiate"]

n, k, s, d = symbols("n k s d", integer=True, positive=True)
p = Symbol("p", integer=True, nonnegative=True)
SIZES = {"n": n, "k": k, "s": s, "p": p, "d": d}
i, j, t, q, r = (Symbol(name, integer=True) for name in "ijtqr")

x = IndexedBase("x")
xpad = IndexedBase("x̃")  # the padded input
w = IndexedBase("w")
b_untied = IndexedBase("b")
b_shared = Symbol("b", real=True)
y = IndexedBase("y")
yhat = IndexedBase("ŷ")
g = IndexedBase("g")  # g_i = ∂L/∂ŷ_i
gdil = IndexedBase("ğ")  # g dilated by the stride
alpha = Symbol("α", positive=True)


@dataclass(frozen=True)
class ClosedForm:
    """Closed-form expressions, indexed by the free index named in each field.

    ``yhat``, ``grad_yhat`` and ``grad_b`` (untied) are in ``i``; ``grad_w`` and ``w_next``
    in ``j``; ``grad_xpad`` in ``q`` (padded position) and ``grad_x`` in ``t``.
    ``m`` is the output length ``floor((n + 2p − d(k−1) − 1)/s) + 1``.
    """

    bias: str
    loss_kind: str
    m: Expr
    window: Expr
    yhat: Expr
    loss: Expr
    grad_yhat: Expr
    grad_w: Expr
    grad_b: Expr | None
    grad_xpad: Expr
    grad_x: Expr
    w_next: Expr
    b_next: Expr | None
    padding_mode: str


def derive_closed(
    bias: str = "shared", loss: str = "sse_half", padding_mode: str = "zeros"
) -> ClosedForm:
    """The closed form for a bias mode, loss and padding mode; sizes stay symbolic.

    Example:
        >>> derive_closed("untied").yhat
        b[i] + Sum(w[j]*x̃[d*(j - 1) - p + s*(i - 1) + 1], (j, 1, k))
    """
    m = floor((n + 2 * p - d * (k - 1) - 1) / s) + 1
    window = s * (i - 1) + d * (j - 1) - p + 1

    # forward pass: a cross-correlation (no kernel flip) over the padded input
    bias_term: Expr
    if bias == "untied":
        bias_term = b_untied[i]
    elif bias == "shared":
        bias_term = b_shared
    else:
        bias_term = Integer(0)
    yhat_i = Sum(w[j] * xpad[window], (j, 1, k)) + bias_term

    # loss, and its derivative: only the i-th summand holds ŷ_i
    summand = (
        Rational(1, 2) * (y[i] - yhat[i]) ** 2 if loss == "sse_half" else (y[i] - yhat[i]) ** 2 / m
    )
    loss_expr = Sum(summand, (i, 1, m))
    grad_yhat = diff(summand, yhat[i])

    # chain rule with ∂ŷ_i/∂w_j = x̃[window(i, j)] (w_j appears in one term of ŷ_i)
    local_w = diff(w[j] * xpad[window], w[j])
    grad_w = Sum(g[i] * local_w, (i, 1, m))
    grad_b: Expr | None
    b_next: Expr | None
    if bias == "untied":
        grad_b = g[i]
        b_next = b_untied[i] - alpha * grad_b
    elif bias == "shared":
        grad_b = Sum(g[i], (i, 1, m))
        b_next = b_shared - alpha * grad_b
    else:
        grad_b = b_next = None

    # input gradient: the transposed correlation — g dilated by s, kernel flipped
    grad_xpad = Sum(w[j] * gdil[q + p - 1 - d * (j - 1)], (j, 1, k))
    if padding_mode == "circular":
        # x_t is read at padded positions t − n, t, t + n (p ≤ n): add their gradients
        grad_x = Sum(grad_xpad.xreplace({q: t + r * n}), (r, -1, 1))
    else:
        grad_x = grad_xpad.xreplace({q: t})

    return ClosedForm(
        bias=bias,
        loss_kind=loss,
        m=m,
        window=window,
        yhat=yhat_i,
        loss=loss_expr,
        grad_yhat=grad_yhat,
        grad_w=grad_w,
        grad_b=grad_b,
        grad_xpad=grad_xpad,
        grad_x=grad_x,
        w_next=w[j] - alpha * grad_w,
        b_next=b_next,
        padding_mode=padding_mode,
    )


def size_values(problem: Problem) -> dict[Symbol, Integer]:
    """The size symbols n, k, s, p, d mapped to ``problem``'s integers."""
    return {
        n: Integer(problem.n),
        k: Integer(problem.k),
        s: Integer(problem.stride),
        p: Integer(problem.padding),
        d: Integer(problem.dilation),
    }


def specialize(expr: Expr, problem: Problem, *, keep_n: bool = False) -> Expr:
    """``expr`` with s, p, d (and k, and n unless ``keep_n``) set to ``problem``'s values.

    Sums are left unevaluated, so this is O(1) in the sizes.
    """
    sizes = size_values(problem)
    if keep_n:
        sizes.pop(n)
    return expr.xreplace(sizes)


def instantiate(
    expr: Expr, explicit: ExplicitDerivation, *, index: dict[Symbol, int] | None = None
) -> Expr:
    """Evaluate a closed-form expression for ``explicit``'s problem, in its named symbols.

    Substitutes the sizes and the free indices (``index``, 1-based), expands the sums,
    then maps each indexed entry to the explicit symbol it stands for: ``x̃[q]`` to
    ``x_q`` inside ``1..n``, else to 0 (zeros) or ``x_{(q−1) mod n + 1}`` (circular);
    ``ğ[u]`` to ``∂L/∂ŷ_{u/s+1}`` when s divides u and the output exists, else 0;
    ``g[i]`` to ``∂L/∂ŷ_i``; ``ŷ[i]``, ``y[i]``, ``w[j]``, ``b[i]`` to their symbols;
    and α to the learning rate.
    """
    problem = explicit.problem
    sym: Symbols = explicit.symbols
    m_value = problem.m
    point: dict[Symbol, Expr] = {**size_values(problem), alpha: problem.lr}
    point.update({name: Integer(value) for name, value in (index or {}).items()})
    expanded = expr.xreplace(point).doit()

    def entry(item: Indexed) -> Expr:
        base, (position,) = item.base, item.indices
        if not position.is_Integer:
            raise ValueError(f"index {position} of {item} is not a concrete integer")
        u = int(position)
        if base == xpad:
            if 1 <= u <= problem.n:
                return sym.x[u - 1]
            if problem.padding_mode == "circular":
                return sym.x[(u - 1) % problem.n]
            return Integer(0)
        if base == gdil:
            if u % problem.stride == 0 and 0 <= u // problem.stride < m_value:
                return explicit.grad_yhat[u // problem.stride]
            return Integer(0)
        table: dict[IndexedBase, tuple[Expr, ...]] = {
            g: explicit.grad_yhat,
            yhat: sym.yhat,
            y: sym.y,
            w: sym.w,
            x: sym.x,
        }
        if isinstance(sym.b, tuple):
            table[b_untied] = sym.b
        values = table[base]
        if not 1 <= u <= len(values):
            raise ValueError(f"{item} is outside 1..{len(values)}")
        return values[u - 1]

    replacements = {item: entry(item) for item in expanded.atoms(Indexed)}
    result = expanded.xreplace(replacements)
    if isinstance(sym.b, Symbol):
        result = result.xreplace({b_shared: sym.b})
    return result
