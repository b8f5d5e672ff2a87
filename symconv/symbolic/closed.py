"""The closed form: ``IndexedBase`` + ``Sum`` in symbolic sizes, backward DERIVED by SymPy.

Only the forward pass and the loss are written down; every gradient is obtained from them by
SymPy's ``diff`` of the index sums, followed by :func:`eliminate_deltas`, which evaluates the
sums over the resulting ``KroneckerDelta`` factors by solving each index equation for its
summation variable (with the divisibility and range conditions that makes necessary).

Indices are 1-based, as in the explicit form.  Along axis ``a`` the padded input x̃ has
positions ``1 − p_a .. n_a + p'_a`` (p before, p' after); output position ``i_a`` reads with
tap ``j_a`` the padded position ``s_a(i_a − 1) + d_a(j_a − 1) − p_a + 1``.  The general form
(:func:`derive_closed_layer`, any of 1–3 axes, batch B, channels C_in → C_out, G groups;
out channel c belongs to group ``Γ(c) = ⌊(c − 1)/(C_out/G)⌋``):

    ŷ[β,c,i⃗]   = Σ_κ Σ_j⃗ w[c,κ,j⃗] · x̃[β, Γ(c)·C_in/G + κ, s⃗(i⃗−1) + d⃗(j⃗−1) − p⃗ + 1] + bias
    L          = Σ_β Σ_c Σ_i⃗ summand(ŷ, y)           (the loss registry's summand)
    ∂L/∂ŷ      = diff(L, ŷ[β′,c′,i⃗′]), deltas eliminated
    ∂L/∂w, ∂L/∂b = Σ_β Σ_c Σ_i⃗ g · diff(ŷ, θ), deltas eliminated
    ∂L/∂x̃[β,γ,q⃗] = Σ_{c in γ's group} Σ_j⃗ w[c, γ − Γ·C_in/G, j⃗] · ğ[β, c, q⃗ + p⃗ − 1 − d⃗(j⃗−1)]
    ∂L/∂x[β,γ,t⃗] = Σ_r⃗ ∂L/∂x̃[β, γ, t⃗ + r⃗·n⃗]     (r_a ∈ {−1, 0, 1} circular, {0} zeros)

The input gradient is not typed in: eliminating δ(q, s(i−1) + d(j−1) − p + 1) for ``i`` gives
``i = u/s + 1`` with ``u = q + p − 1 − d(j−1)``, valid when s divides u and ``0 ≤ u ≤ s(m−1)``;
that conditional entry of g is named ``ğ[u]`` (g dilated by the stride, zero elsewhere:
``ğ[u] = g[u/s + 1]`` when s | u and the output exists, else 0), and the transposed,
flipped-kernel correlation is what remains.

Beyond the delta elimination the derivation takes three steps, each an identity: the
constant of ∂L/∂ŷ is multiplied into the difference (``−2(y − ŷ)/m`` written ``(2ŷ − 2y)/m``,
SymPy's own form of one summand's derivative); the channel equation's range condition
``0 ≤ γ − 1 − Γ(c)·C_in/G ≤ C_in/G − 1`` says ``Γ(c) = ⌊(γ − 1)/(C_in/G)⌋``, so the sum over c
runs over γ's group; and ∂L/∂x̃ needs no range condition on q (it vanishes outside the padded
range, see the comment in ``_derive``).  ``tests/test_closed.py`` checks every quantity
against the explicit derivation on a grid of 1-D, 2-D and 3-D layers.

The 1-D API (:func:`derive_closed`, :class:`ClosedForm`, the symbols ``n, k, s, p, d, i, j,
t, q, r``) is the same derivation for one axis, one channel and batch 1, whose batch and
channel axes are left out of the names as in the exercise.  Its expressions are identical
(``==``, so they print the same) to the formulas this module typed in before the derivation
existed; ``tests/test_closed.py`` keeps those typed formulas and checks the identity (and,
on a grid of sizes, that they equal the explicit form).  With an upstream gradient the 1-D
form has no loss (``loss`` None) and ``grad_yhat`` is the given ``g[i]``.

Nothing here depends on the sizes: deriving is O(1) in n.  :func:`instantiate` and
:func:`instantiate_layer` substitute concrete sizes and expand the sums (tests, small layers).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache

from sympy import (
    Add,
    And,
    Basic,
    Eq,
    Expr,
    Function,
    Indexed,
    IndexedBase,
    Integer,
    KroneckerDelta,
    Le,
    Mod,
    Mul,
    Not,
    Or,
    Piecewise,
    Pow,
    Rational,
    Sum,
    Symbol,
    diff,
    expand,
    floor,
    symbols,
)
from sympy.core.relational import (
    Equality,
    GreaterThan,
    LessThan,
    Relational,
    StrictGreaterThan,
    StrictLessThan,
    Unequality,
)
from sympy.core.sorting import default_sort_key
from sympy.logic.boolalg import Boolean, BooleanFalse, BooleanTrue

from symconv.layer import Layer
from symconv.loss import Loss, get_loss
from symconv.problem import Problem
from symconv.symbolic.explicit import ExplicitDerivation, Symbols

__all__ = [
    "SIZES",
    "ClosedForm",
    "ClosedFormND",
    "ClosedValues",
    "Indicator",
    "LayerKind",
    "NDSymbols",
    "derive_closed",
    "derive_closed_layer",
    "eliminate_deltas",
    "instantiate",
    "instantiate_entry",
    "instantiate_layer",
    "layer_sizes",
    "nd_symbols",
    "size_values",
    "specialize",
    "unfold_dilated",
]

# ---------------------------------------------------------------------------------------
# symbols

n, k, s, d = symbols("n k s d", integer=True, positive=True)
p = Symbol("p", integer=True, nonnegative=True)
SIZES = {"n": n, "k": k, "s": s, "p": p, "d": d}
i, j, t, q, r = (Symbol(name, integer=True) for name in "ijtqr")

x = IndexedBase("x")
xpad = IndexedBase("x̃")  # the padded input
w = IndexedBase("w")
b_untied = IndexedBase("b")  # untied b[i] (1-D) / b[c, i⃗]; also the shared b[c] with channels
b_shared = Symbol("b", real=True)  # the one shared bias of a one-channel layer
y = IndexedBase("y")
yhat = IndexedBase("ŷ")
g = IndexedBase("g")  # g = ∂L/∂ŷ
gdil = IndexedBase("ğ")  # g dilated by the stride (zero between and outside the outputs)
alpha = Symbol("α", positive=True)

_grad_xpad = IndexedBase("∂L/∂x̃")  # placeholder while the padding map is differentiated

Range = tuple[Expr, Expr]  # (lowest, highest) value of an index, both included


class Indicator(Function):  # type: ignore[misc]
    """``Indicator(condition)``: 1 where the condition holds, else 0 (Iverson's bracket).

    A constant for differentiation (its argument holds only indices), and read by
    :func:`eliminate_deltas` as a condition on the term it multiplies.

    Example:
        >>> Indicator(Le(1, q)).xreplace({q: 2})
        1
    """

    nargs = 1

    @classmethod
    def eval(cls, condition: Boolean) -> Expr | None:
        if isinstance(condition, BooleanTrue):
            return Integer(1)
        if isinstance(condition, BooleanFalse):
            return Integer(0)
        return None


# ---------------------------------------------------------------------------------------
# the delta elimination (the general step every gradient goes through)


def eliminate_deltas(
    expr: Expr,
    solve_for: Sequence[Symbol],
    ranges: Mapping[Symbol, Range],
    *,
    vanishes_outside: Collection[Symbol] = (),
) -> Expr:
    """Evaluate the sums over ``KroneckerDelta`` factors in ``expr``.

    Nested sums are first merged (``Σ_a f·Σ_b h = Σ_a Σ_b f·h``).  Then, for each summation
    variable ``v`` of ``solve_for`` (in that order), a delta ``δ(A, B)`` whose index equation
    ``A − B = 0`` is linear in ``v`` is solved for ``v``: writing ``A − B = e₀ + a(v − lo)``
    (``e₀`` its value at the lower limit ``lo``) gives ``v = lo + u/step`` with
    ``step = |a|`` and ``u = ∓e₀``; the sum over ``v`` collapses to that one term, which exists
    only when ``step`` divides ``u`` and ``0 ≤ u ≤ step·(hi − lo)`` (the range of ``v``).
    Conditions implied by the ``ranges`` of the free indices and of the remaining summation
    variables are dropped; the others make the term ``Piecewise((term, conditions), (0,
    True))``.  The range condition of a variable in ``vanishes_outside`` is not added (the
    caller knows the summand is zero outside that variable's range).  :class:`Indicator`
    factors are read as conditions too.

    Shapes: scalar expressions; ``ranges`` maps each free index to its (lo, hi).

    Example:
        >>> f = IndexedBase("f")
        >>> eliminate_deltas(Sum(f[i] * KroneckerDelta(q, 2 * i), (i, 1, 5)), [i], {})
        Piecewise((f[q/2], (q >= 2) & (q <= 10) & Eq(Mod(q, 2), 0)), (0, True))
    """
    merged = _merge_sums(expr)
    return _eliminate_in(merged, tuple(solve_for), ranges, frozenset(vanishes_outside))


def _merge_sums(expr: Expr) -> Expr:
    """Σ over a product holding sums → one sum over all the limits (distinct dummies)."""
    if isinstance(expr, Sum):
        inner = _merge_sums(expr.function)
        outer = list(expr.limits)
        terms = []
        for term in Add.make_args(inner):
            if isinstance(term, Sum):
                terms.append(Sum(term.function, *outer, *term.limits))
                continue
            factors, limits = [], list(outer)
            for factor in Mul.make_args(term):
                if isinstance(factor, Sum):
                    factors.append(factor.function)
                    limits.extend(factor.limits)
                else:
                    factors.append(factor)
            terms.append(Sum(Mul(*factors), *limits))
        return Add(*terms)
    if isinstance(expr, Add):
        return Add(*[_merge_sums(a) for a in expr.args])
    if isinstance(expr, Mul):
        merged = [_merge_sums(a) for a in expr.args]
        sums = [a for a in merged if isinstance(a, Sum)]
        if not sums:
            return Mul(*merged)
        # a product of sums: one sum over all their limits
        rest = [a for a in merged if not isinstance(a, Sum)]
        limits = [lim for a in sums for lim in a.limits]
        return _merge_sums(Sum(Mul(*rest, *[a.function for a in sums]), *limits))
    return expr


def _eliminate_in(
    expr: Expr,
    solve_for: tuple[Symbol, ...],
    ranges: Mapping[Symbol, Range],
    vanishing: frozenset[Symbol],
) -> Expr:
    if isinstance(expr, Sum):
        return Add(
            *[
                _eliminate_term(term, list(expr.limits), solve_for, ranges, vanishing)
                for term in Add.make_args(expr.function)
            ]
        )
    if isinstance(expr, (Add, Mul)):
        return expr.func(*[_eliminate_in(a, solve_for, ranges, vanishing) for a in expr.args])
    return expr


def _eliminate_term(
    term: Expr,
    limits: list[tuple[Symbol, Expr, Expr]],
    solve_for: tuple[Symbol, ...],
    ranges: Mapping[Symbol, Range],
    vanishing: frozenset[Symbol],
) -> Expr:
    """One term of a summand under its limits: solve its deltas, one variable at a time."""
    deltas: list[Expr] = []
    conditions: list[Boolean] = []
    rest: list[Expr] = []
    for factor in Mul.make_args(term):
        if isinstance(factor, KroneckerDelta):
            deltas.append(factor)
        elif isinstance(factor, Indicator):
            conditions.extend(_conjuncts(factor.args[0]))
        else:
            rest.append(factor)
    for v in solve_for:
        position = next((n_ for n_, lim in enumerate(limits) if lim[0] == v), None)
        if position is None:
            continue
        _, lo, hi = limits[position]
        for delta in deltas:
            solved = _solve_index(delta.args[0] - delta.args[1], v, lo)
            if solved is None:
                continue
            # the index equation holds for exactly one v: the sum over v is that term
            value, u, step = solved
            deltas.remove(delta)
            del limits[position]
            new = _solution_conditions(u, step, hi - lo, divisibility_only=v in vanishing)
            rest = [f.xreplace({v: value}) for f in rest]
            deltas = [f.xreplace({v: value}) for f in deltas]
            conditions = [c_.xreplace({v: value}) for c_ in conditions] + new
            break
    known = {**ranges, **{lim[0]: (lim[1], lim[2]) for lim in limits}}
    kept: list[Boolean] = []
    for condition in conditions:
        if isinstance(condition, BooleanFalse):
            return Integer(0)
        if isinstance(condition, BooleanTrue) or _holds(condition, known) or condition in kept:
            continue
        kept.append(condition)
    body = Mul(*rest, *deltas)
    if kept:
        body = Piecewise((body, And(*kept)), (0, True))
    return Sum(body, *limits) if limits else body


def _conjuncts(condition: Boolean) -> list[Boolean]:
    return list(condition.args) if isinstance(condition, And) else [condition]


def _margin(condition: Boolean) -> Expr | None:
    """An inequality as ``margin ≥ 0`` (integers: ``a > b`` is ``a − b − 1 ≥ 0``); else None."""
    margin: Expr
    if isinstance(condition, GreaterThan):
        margin = condition.lhs - condition.rhs
    elif isinstance(condition, StrictGreaterThan):
        margin = condition.lhs - condition.rhs - 1
    elif isinstance(condition, LessThan):
        margin = condition.rhs - condition.lhs
    elif isinstance(condition, StrictLessThan):
        margin = condition.rhs - condition.lhs - 1
    else:
        return None
    result: Expr = expand(margin)
    return result


def _condition_key(condition: Boolean) -> tuple[str, Expr] | Boolean:
    """A form of a condition that does not depend on how SymPy arranged it (``And``
    rewrites its inequalities, e.g. ``u − 1 ≥ 0`` as ``u ≥ 1``)."""
    margin = _margin(condition)
    if margin is not None:
        return (">=", margin)
    if isinstance(condition, Equality):
        difference = expand(condition.lhs - condition.rhs)
        return ("==", min(difference, -difference, key=default_sort_key))
    return condition


def _solve_index(equation: Expr, v: Symbol, lo: Expr) -> tuple[Expr, Expr, Expr] | None:
    """Solve ``equation = 0`` (linear in ``v``) as ``v = lo + u/step``; None if not linear.

    Returns ``(value of v, u, step)`` with ``step > 0``.
    """
    if v not in equation.free_symbols:
        return None
    coefficient = equation.diff(v)
    if v in coefficient.free_symbols or coefficient.has(floor, Mod) or coefficient == 0:
        return None
    e0 = equation.xreplace({v: lo})
    # linear: equation = e₀ + a·(v − lo) exactly
    if expand(equation - e0 - coefficient * (v - lo)) != 0:
        return None
    if coefficient.could_extract_minus_sign():
        step, u = -coefficient, e0
    else:
        step, u = coefficient, -e0
    if step.is_positive is not True:
        return None
    value = lo + u if step == 1 else lo + u / step
    return value, u, step


def _solution_conditions(
    u: Expr, step: Expr, span: Expr, *, divisibility_only: bool = False
) -> list[Boolean]:
    """``step | u`` and ``0 ≤ u ≤ step·span``: when ``lo + u/step`` is an index in range."""
    found: list[Boolean] = []
    if step != 1:
        found.append(Eq(Mod(u, step), 0))
    if not divisibility_only:
        found += [u >= 0, Le(u, step * span)]
    return found


def _holds(condition: Boolean, ranges: Mapping[Symbol, Range]) -> bool:
    """True when a linear inequality holds for every index value in ``ranges``."""
    if isinstance(condition, BooleanTrue):
        return True
    margin = _margin(condition)
    return margin is not None and _nonnegative(margin, ranges)


def _nonnegative(expr: Expr, ranges: Mapping[Symbol, Range]) -> bool:
    """Is ``expr`` ≥ 0 for all indices in their ranges?  (Linear in the indices: its least
    value is at the lower bound of an index with a coefficient ≥ 0, the upper bound else.)"""
    current = expand(expr)
    for _ in range(len(ranges) + 1):
        bound = [v for v in current.free_symbols if v in ranges]
        if not bound:
            return current.is_nonnegative is True
        v = min(bound, key=str)
        _, dependent = current.as_independent(v, as_Add=True)
        coefficient = expand(dependent / v)
        if v in coefficient.free_symbols:
            return False
        lo, hi = ranges[v]
        if coefficient.is_nonnegative:
            current = expand(current.xreplace({v: lo}))
        elif coefficient.is_nonpositive:
            current = expand(current.xreplace({v: hi}))
        else:
            return False
    return False


# ---------------------------------------------------------------------------------------
# the symbols of a layer kind


@dataclass(frozen=True)
class LayerKind:
    """What the closed form's shape depends on: axes, bias mode, padding mode.

    Sizes (n, k, s, p, d per axis; channels, groups, batch) stay symbolic.

    Example:
        >>> from symconv.layer import make_layer
        >>> LayerKind.of(make_layer(input_shape=[4, 4], kernel_size=2, bias="none"))
        LayerKind(ndim=2, bias='none', padding_mode='zeros')
    """

    ndim: int = 1
    bias: str = "shared"
    padding_mode: str = "zeros"

    @classmethod
    def of(cls, layer: Layer) -> LayerKind:
        """The kind of a concrete layer."""
        return cls(layer.ndim, layer.bias, layer.padding_mode)


@dataclass(frozen=True)
class NDSymbols:
    """The symbols of a closed form.

    Sizes: ``batch`` B, ``in_channels`` C_in, ``out_channels`` C_out, ``groups`` G and per axis
    ``n`` (input), ``k`` (kernel), ``s`` (stride), ``p`` (padding before), ``p_after``,
    ``d`` (dilation), ``m`` (output length; a symbol ``m_a`` whose value is in
    :attr:`ClosedFormND.output_sizes`, or the formula itself in the 1-D form).
    Indices: ``beta`` (batch), ``c`` (out channel), ``kappa`` (in channel within the group),
    ``gamma`` (in channel), per axis ``i`` (output), ``j`` (tap), ``q`` (padded position),
    ``t`` (input position), ``r`` (wrap count).  With ``lead`` False (one channel, batch 1)
    the batch and channel axes are left out of every index, as in the exercise.

    Example:
        >>> nd_symbols(2).n
        (n_1, n_2)
    """

    ndim: int
    batch: Expr
    in_channels: Expr
    out_channels: Expr
    groups: Expr
    n: tuple[Expr, ...]
    k: tuple[Expr, ...]
    s: tuple[Expr, ...]
    p: tuple[Expr, ...]
    p_after: tuple[Expr, ...]
    d: tuple[Expr, ...]
    m: tuple[Expr, ...]
    beta: Symbol
    c: Symbol
    kappa: Symbol
    gamma: Symbol
    i: tuple[Symbol, ...]
    j: tuple[Symbol, ...]
    q: tuple[Symbol, ...]
    t: tuple[Symbol, ...]
    r: tuple[Symbol, ...]
    lead: bool = True

    @property
    def group_in(self) -> Expr:
        """Input channels per group, ``C_in/G``."""
        result: Expr = self.in_channels / self.groups
        return result

    @property
    def group_out(self) -> Expr:
        """Output channels per group, ``C_out/G``."""
        result: Expr = self.out_channels / self.groups
        return result

    def group_of(self, channel: Expr) -> Expr:
        """``Γ(c) = ⌊(c − 1)/(C_out/G)⌋``: the 0-based group of output channel c."""
        result: Expr = floor((channel - 1) / self.group_out)
        return result

    def window(self, axis: int, out: Expr, tap: Expr) -> Expr:
        """The padded position read along ``axis``: ``s(i − 1) + d(j − 1) − p + 1``."""
        result: Expr = (
            self.s[axis] * (out - 1) + self.d[axis] * (tap - 1) - self.p[axis] + 1
        )
        return result

    def ranges(self, wrap: bool) -> dict[Symbol, Range]:
        """Every index's (lo, hi); ``r`` runs over −1..1 when ``wrap`` (circular), else 0..0."""
        one = Integer(1)
        found: dict[Symbol, Range] = {
            self.beta: (one, self.batch),
            self.c: (one, self.out_channels),
            self.kappa: (one, self.group_in),
            self.gamma: (one, self.in_channels),
        }
        for a in range(self.ndim):
            found[self.i[a]] = (one, self.m[a])
            found[self.j[a]] = (one, self.k[a])
            found[self.q[a]] = (1 - self.p[a], self.n[a] + self.p_after[a])
            found[self.t[a]] = (one, self.n[a])
            found[self.r[a]] = (Integer(-1), one) if wrap else (Integer(0), Integer(0))
        return found


def output_length_formula(
    n_: Expr, k_: Expr, s_: Expr, before: Expr, after: Expr, d_: Expr
) -> Expr:
    """``⌊(n + p + p′ − d(k − 1) − 1)/s⌋ + 1``."""
    result: Expr = floor((n_ + before + after - d_ * (k_ - 1) - 1) / s_) + 1
    return result


@cache
def nd_symbols(ndim: int) -> NDSymbols:
    """The symbols of the general closed form with ``ndim`` spatial axes (1 to 3).

    Axis symbols are numbered from 1: ``n_1``, ``k_2``, ``i_3`` …; ``p_a`` pads before and
    ``p'_a`` after.

    Example:
        >>> nd_symbols(1).m
        (m_1,)
    """
    if ndim not in (1, 2, 3):
        raise ValueError(f"`ndim` (={ndim!r}) must be 1, 2 or 3")
    positive = {"integer": True, "positive": True}
    axes = range(1, ndim + 1)

    def per_axis(stem: str, **assumptions: bool) -> tuple[Symbol, ...]:
        return tuple(Symbol(f"{stem}_{a}", **assumptions) for a in axes)

    return NDSymbols(
        ndim=ndim,
        batch=Symbol("B", **positive),
        in_channels=Symbol("C_in", **positive),
        out_channels=Symbol("C_out", **positive),
        groups=Symbol("G", **positive),
        n=per_axis("n", **positive),
        k=per_axis("k", **positive),
        s=per_axis("s", **positive),
        p=per_axis("p", integer=True, nonnegative=True),
        p_after=per_axis("p'", integer=True, nonnegative=True),
        d=per_axis("d", **positive),
        m=per_axis("m", **positive),
        beta=Symbol("β", integer=True),
        c=Symbol("c", integer=True),
        kappa=Symbol("κ", integer=True),
        gamma=Symbol("γ", integer=True),
        i=per_axis("i", integer=True),
        j=per_axis("j", integer=True),
        q=per_axis("q", integer=True),
        t=per_axis("t", integer=True),
        r=per_axis("r", integer=True),
    )


def _single_symbols() -> NDSymbols:
    """The exercise's notation: one axis (n, k, s, p, d; p after = p), one channel, batch 1."""
    one = Integer(1)
    return NDSymbols(
        ndim=1,
        batch=one,
        in_channels=one,
        out_channels=one,
        groups=one,
        n=(n,),
        k=(k,),
        s=(s,),
        p=(p,),
        p_after=(p,),
        d=(d,),
        m=(output_length_formula(n, k, s, p, p, d),),
        beta=Symbol("β", integer=True),
        c=Symbol("c", integer=True),
        kappa=Symbol("κ", integer=True),
        gamma=Symbol("γ", integer=True),
        i=(i,),
        j=(j,),
        q=(q,),
        t=(t,),
        r=(r,),
        lead=False,
    )


# ---------------------------------------------------------------------------------------
# the derivation


@dataclass(frozen=True)
class ClosedFormND:
    """The closed form of a layer kind and loss, in symbolic sizes (:class:`NDSymbols`).

    Free indices of each field (``S = symbols``; ``i⃗`` = ``S.i`` etc.):

    - ``yhat``, ``grad_yhat``: ``(S.beta, S.c, *S.i)``
    - ``loss``: none (None for an upstream gradient, whose ``grad_yhat`` is ``g[β, c, i⃗]``)
    - ``grad_w``, ``w_next``: ``(S.c, S.kappa, *S.j)``
    - ``grad_b``, ``b_next``: ``(S.c,)`` shared, ``(S.c, *S.i)`` untied; None without bias
    - ``grad_xpad``: ``(S.beta, S.gamma, *S.q)``; ``grad_x``: ``(S.beta, S.gamma, *S.t)``

    (with ``S.lead`` False only the spatial indices).  The backward fields hold ``g`` (=
    ∂L/∂ŷ) and ``ğ`` (g dilated by the stride: ``ğ[β, c, u⃗] = g[β, c, u⃗/s⃗ + 1]`` when every
    ``s_a`` divides ``u_a`` and ``0 ≤ u_a ≤ s_a(m_a − 1)``, else 0; see :func:`unfold_dilated`).
    ``output_sizes`` maps each ``m_a`` to its formula.
    """

    kind: LayerKind
    loss_kind: str
    symbols: NDSymbols
    output_sizes: tuple[tuple[Expr, Expr], ...]
    yhat: Expr
    loss: Expr | None
    grad_yhat: Expr
    grad_w: Expr
    grad_b: Expr | None
    grad_xpad: Expr
    grad_x: Expr
    w_next: Expr
    b_next: Expr | None


def _prime(symbol: Symbol) -> Symbol:
    return Symbol(f"{symbol.name}′", integer=True)


def _symbolic_summand(spec: Loss, yhat_entry: Expr, y_entry: Expr, count: Expr) -> Expr:
    """The registry's loss summand ``weight·(y − ŷ)²`` with a symbolic entry count."""
    return spec.summand(yhat_entry, y_entry, count)


def derive_closed_layer(kind: LayerKind | Layer, loss: str = "sse_half") -> ClosedFormND:
    """Derive the closed form of a layer kind (or of a concrete layer's kind) and a loss.

    The sizes stay symbolic (:func:`nd_symbols`), so the work does not depend on them.
    See :class:`ClosedFormND` for the fields and their free indices.

    Example:
        >>> closed = derive_closed_layer(LayerKind(1, "shared"), "sse_half")
        >>> closed.grad_b
        Sum(g[β, c, i_1], (β, 1, B), (i_1, 1, m_1))
        >>> closed.grad_xpad  # doctest: +NORMALIZE_WHITESPACE
        Sum(w[c, -C_in*floor(G*(γ - 1)/C_in)/G + γ, j_1]*ğ[β, c, -d_1*(j_1 - 1) + p_1 + q_1 - 1],
            (c, C_out*floor(G*(γ - 1)/C_in)/G + 1, C_out*(floor(G*(γ - 1)/C_in) + 1)/G),
            (j_1, 1, k_1))
    """
    if isinstance(kind, Layer):
        kind = LayerKind.of(kind)
    return _derive_cached(kind, loss, None)


@cache
def _derive_cached(kind: LayerKind, loss: str, single: bool | None) -> ClosedFormND:
    frame = _single_symbols() if single else nd_symbols(kind.ndim)
    return _derive(kind, loss, frame)


def _derive(kind: LayerKind, loss_kind: str, S: NDSymbols) -> ClosedFormND:
    spec = get_loss(loss_kind)
    D, lead = S.ndim, S.lead
    beta, c, kappa, gamma = S.beta, S.c, S.kappa, S.gamma
    out_i, tap_j, pad_q, in_t = S.i, S.j, S.q, S.t
    ranges = S.ranges(kind.padding_mode == "circular")
    primes = {v: _prime(v) for v in (beta, c, kappa, gamma, *out_i, *tap_j, *in_t)}
    unprime = {v_: v for v, v_ in primes.items()}
    ranges.update({primes[v]: ranges[v] for v in primes})

    # the entries, with the batch and channel axes when the layer has them
    def y_at(base: IndexedBase, b_: Expr, c_: Expr, i_: Sequence[Expr]) -> Expr:
        return base[(b_, c_, *i_) if lead else tuple(i_)]

    def w_at(c_: Expr, k_: Expr, j_: Sequence[Expr]) -> Expr:
        return w[(c_, k_, *j_) if lead else tuple(j_)]

    def x_at(base: IndexedBase, b_: Expr, ch: Expr, pos: Sequence[Expr]) -> Expr:
        return base[(b_, ch, *pos) if lead else tuple(pos)]

    def bias_at(c_: Expr, i_: Sequence[Expr]) -> Expr:
        if kind.bias == "untied":
            return b_untied[(c_, *i_) if lead else tuple(i_)]
        if kind.bias == "shared":
            return b_untied[c_] if lead else b_shared
        return Integer(0)

    out_limits = ([(beta, 1, S.batch), (c, 1, S.out_channels)] if lead else []) + [
        (out_i[a], 1, S.m[a]) for a in range(D)
    ]

    # -- forward pass: a cross-correlation (no kernel flip) over the padded input, reading
    #    the input channels of the output channel's group
    channel = S.group_of(c) * S.group_in + kappa
    windows = [S.window(a, out_i[a], tap_j[a]) for a in range(D)]
    tap_limits = ([(kappa, 1, S.group_in)] if lead else []) + [
        (tap_j[a], 1, S.k[a]) for a in range(D)
    ]
    forward = Sum(w_at(c, kappa, tap_j) * x_at(xpad, beta, channel, windows), *tap_limits)
    yhat_e = forward + bias_at(c, out_i)

    # -- loss: the registry's summand summed over every output entry (batch, channels,
    #    positions); mse divides by their count
    loss_e: Expr | None = None
    if spec.has_target:
        count = Mul(S.batch, S.out_channels, *S.m)
        summand = _symbolic_summand(spec, y_at(yhat, beta, c, out_i), y_at(y, beta, c, out_i),
                                    count)
        loss_e = Sum(summand, *out_limits)
        # ∂L/∂ŷ[β′, c′, i⃗′]: differentiating the sum gives δ(β, β′)·δ(c, c′)·Πδ(i_a, i_a′)
        # under the sum; solving each index equation keeps the one summand that holds ŷ[·′]
        target = y_at(yhat, primes[beta], primes[c], [primes[v] for v in out_i])
        raw = diff(loss_e, target)
        grad_yhat = eliminate_deltas(raw, (beta, c, *out_i), ranges).xreplace(unprime)
        # simplify: the constant factor multiplied into the difference, as SymPy writes the
        # derivative of one summand (2·(ŷ − y)/m as (2ŷ − 2y)/m)
        grad_yhat = _distribute_number(grad_yhat)
    else:  # upstream: ∂L/∂ŷ arrives from the layers above
        grad_yhat = y_at(g, beta, c, out_i)

    g_out = y_at(g, beta, c, out_i)

    def chain(target: Expr, solve_for: Sequence[Symbol]) -> Expr:
        """∂L/∂θ = Σ_{β, c, i⃗} ∂L/∂ŷ[β, c, i⃗] · ∂ŷ[β, c, i⃗]/∂θ, deltas eliminated."""
        raw = Sum(g_out * diff(yhat_e, target), *out_limits)
        return eliminate_deltas(raw, solve_for, ranges)

    # -- weights: ∂ŷ/∂w[c′, κ′, j⃗′] = δ(c, c′)·δ(κ, κ′)·Πδ(j_a, j_a′)·x̃[…]; solving for c, κ, j⃗
    #    leaves Σ_β Σ_i⃗ g · x̃ at the windows of tap j⃗′
    w_target = w_at(primes[c], primes[kappa], [primes[v] for v in tap_j])
    grad_w = chain(w_target, ((c, kappa) if lead else ()) + tuple(tap_j)).xreplace(unprime)

    # -- bias: ∂ŷ[β, c, i⃗]/∂b = δ(c, c′) shared (one per channel), δ(c, c′)Πδ(i_a, i_a′)
    #    untied; a one-channel shared b gives 1 and keeps the sum over every output
    grad_b: Expr | None = None
    b_next: Expr | None = None
    if kind.bias != "none":
        b_target = bias_at(primes[c], [primes[v] for v in out_i])
        grad_b = chain(b_target, ((c,) if lead else ()) + tuple(out_i)).xreplace(unprime)
        b_next = bias_at(c, out_i) - alpha * grad_b

    # -- padded input: ∂ŷ/∂x̃[β′, γ, q⃗] = δ(β, β′)·δ(Γ(c)·C_in/G + κ, γ)·Πδ(window_a, q_a)·w;
    #    solving window_a = q_a for the OUTPUT position i_a (not the tap) gives i_a = u_a/s_a + 1
    #    with u_a = q_a + p_a − 1 − d_a(j_a − 1), when s_a | u_a and 0 ≤ u_a ≤ s_a(m_a − 1):
    #    the stride-dilated ğ, read backwards along the taps (the kernel flip)
    xpad_target = x_at(xpad, primes[beta], gamma, pad_q)
    raw_xpad = chain(xpad_target, ((beta, kappa) if lead else ()) + tuple(out_i))
    grad_xpad = _fold_dilated(raw_xpad, S, ranges)
    if lead:
        # the channel equation γ = Γ(c)·C_in/G + κ has a κ in 1..C_in/G only for the output
        # channels c of γ's group: the sum over c runs over that group
        grad_xpad = _restrict_to_group(grad_xpad, S)
    grad_xpad = grad_xpad.xreplace(unprime)

    # -- input: x̃[β, γ, q⃗] = Σ_r⃗ Π_a [1 ≤ q_a − r_a n_a ≤ n_a] · x[β, γ, q⃗ − r⃗·n⃗] (r_a ∈ {0}
    #    for zeros: x̃ = x inside, 0 in the padding; r_a ∈ {−1, 0, 1} circular: the wrapped
    #    copy; p_a, p'_a ≤ n_a, so one r_a serves each q_a); the chain rule through it, solved
    #    for β, γ, q⃗, folds the copies together.  ∂L/∂x̃ vanishes outside the padded range
    #    (q_a < 1 − p_a gives u_a < 0; q_a > n_a + p'_a gives u_a > s_a(m_a − 1), as
    #    s_a(m_a − 1) ≤ n_a + p_a + p'_a − d_a(k_a − 1) − 1), so q⃗'s range condition is not
    #    needed.
    wrap_limits = [(S.r[a], *ranges[S.r[a]]) for a in range(D)]
    source = [pad_q[a] - S.r[a] * S.n[a] for a in range(D)]
    inside = [Indicator(And(Le(1, source[a]), Le(source[a], S.n[a]))) for a in range(D)]
    padding_map = _sum(Mul(*inside) * x_at(x, beta, gamma, source), wrap_limits)
    x_target = x_at(x, primes[beta], primes[gamma], [primes[v] for v in in_t])
    pad_limits = ([(beta, 1, S.batch), (gamma, 1, S.in_channels)] if lead else []) + [
        (pad_q[a], *ranges[pad_q[a]]) for a in range(D)
    ]
    raw_x = Sum(x_at(_grad_xpad, beta, gamma, pad_q) * diff(padding_map, x_target), *pad_limits)
    solve_x = ((beta, gamma) if lead else ()) + tuple(pad_q)
    folded = eliminate_deltas(raw_x, solve_x, ranges, vanishes_outside=pad_q).xreplace(unprime)
    xpad_free = ((beta, gamma) if lead else ()) + tuple(pad_q)
    grad_x = folded.replace(
        lambda e: isinstance(e, Indexed) and e.base == _grad_xpad,
        lambda e: grad_xpad.xreplace(dict(zip(xpad_free, e.indices))),
    )

    # -- one step of gradient descent: θ − α·∂L/∂θ
    w_next = w_at(c, kappa, tap_j) - alpha * grad_w

    formulas = tuple(
        (S.m[a], output_length_formula(S.n[a], S.k[a], S.s[a], S.p[a], S.p_after[a], S.d[a]))
        for a in range(D)
    )
    return ClosedFormND(
        kind=kind,
        loss_kind=loss_kind,
        symbols=S,
        output_sizes=formulas,
        yhat=yhat_e,
        loss=loss_e,
        grad_yhat=grad_yhat,
        grad_w=grad_w,
        grad_b=grad_b,
        grad_xpad=grad_xpad,
        grad_x=grad_x,
        w_next=w_next,
        b_next=b_next,
    )


def _distribute_number(expr: Expr) -> Expr:
    """``c·(a + b)·f`` → ``(c·a + c·b)·f`` for a number c and one sum factor (equal)."""
    if not isinstance(expr, Mul):
        return expr
    coefficient, rest = expr.as_coeff_Mul()
    sums = [f for f in Mul.make_args(rest) if isinstance(f, Add)]
    if coefficient == 1 or len(sums) != 1:
        return expr
    others = [f for f in Mul.make_args(rest) if f is not sums[0]]
    return Mul(Add(*[coefficient * term for term in sums[0].args]), *others)


def _sum(summand: Expr, limits: Sequence[tuple[Symbol, Expr, Expr]]) -> Expr:
    """A sum; a limit running over one value is replaced by that value (one term)."""
    kept = []
    for v, lo, hi in limits:
        if lo == hi:
            summand = summand.xreplace({v: lo})
        else:
            kept.append((v, lo, hi))
    return Sum(summand, *kept) if kept else summand


def _dilated_entry(S: NDSymbols, indices: Sequence[Expr], ranges: Mapping[Symbol, Range]) -> tuple[
    tuple[Expr, ...], list[Boolean]
]:
    """For ``g[lead…, e⃗]``: the offsets ``u_a = s_a(e_a − 1)`` and the conditions that make
    ``e_a = u_a/s_a + 1`` an output index (as :func:`eliminate_deltas` writes them)."""
    lead = 2 if S.lead else 0
    offsets = []
    conditions: list[Boolean] = []
    for a in range(S.ndim):
        u = S.s[a] * (indices[lead + a] - 1)
        lo, hi = ranges[S.i[a]]
        offsets.append(u)
        conditions += _solution_conditions(u, S.s[a], hi - lo)
    return tuple(offsets), conditions


def _fold_dilated(expr: Expr, S: NDSymbols, ranges: Mapping[Symbol, Range]) -> Expr:
    """Name the conditional entry of g that the elimination of i⃗ leaves: ğ (its definition
    in :class:`ClosedFormND`)."""

    def fold(piece: Piecewise) -> Expr:
        if len(piece.args) != 2 or piece.args[1].expr != 0:
            return piece
        body, condition = piece.args[0]
        conditions = {_condition_key(cond): cond for cond in _conjuncts(condition)}
        factors = list(Mul.make_args(body))
        for n_, factor in enumerate(factors):
            if isinstance(factor, Indexed) and factor.base == g:
                offsets, needed = _dilated_entry(S, factor.indices, ranges)
                keys = {_condition_key(cond) for cond in needed}
                if keys <= conditions.keys():
                    lead = factor.indices[:2] if S.lead else ()
                    factors[n_] = gdil[(*lead, *offsets)]
                    rest = [cond for key, cond in conditions.items() if key not in keys]
                    folded = Mul(*factors)
                    return Piecewise((folded, And(*rest)), (0, True)) if rest else folded
        return piece

    return expr.replace(lambda e: isinstance(e, Piecewise), fold)


def _restrict_to_group(expr: Expr, S: NDSymbols) -> Expr:
    """Σ_c [0 ≤ E − A·Γ(c) ≤ A − 1]·f  →  Σ over the c with Γ(c) = ⌊E/A⌋ of f.

    With ``A = C_in/G`` the two conditions say that ``E = γ − 1`` divided by A leaves a
    remainder in 0..A−1, i.e. ``Γ(c) = ⌊(γ − 1)/A⌋`` =: Φ (γ's group); ``Γ(c) = Φ`` holds for
    ``c = Φ·C_out/G + 1 .. (Φ + 1)·C_out/G``, where Γ(c) may be replaced by Φ.
    """
    c, group = S.c, S.group_of(S.c)
    phi = Symbol("Φ", integer=True)
    width = S.group_in

    def restrict(total: Sum) -> Expr:
        limits = list(total.limits)
        summand = total.function
        if not limits or limits[0][0] != c or not isinstance(summand, Piecewise):
            return total
        if len(summand.args) != 2 or summand.args[1].expr != 0:
            return total
        body, condition = summand.args[0]
        margins = [_margin(cond.xreplace({group: phi})) for cond in _conjuncts(condition)]
        if len(margins) != 2 or any(m_ is None or c in m_.free_symbols for m_ in margins):
            return total
        # the two margins are the remainder E − A·Φ ≥ 0 and (A − 1) − remainder ≥ 0
        first, second = (m_ for m_ in margins if m_ is not None)
        if expand(first + second - (width - 1)) != 0:
            return total
        remainder = first if expand(first.diff(phi) + width) == 0 else second
        if expand(remainder.diff(phi) + width) != 0:
            return total
        quotient = floor(remainder.xreplace({phi: 0}) / width)
        lowest = quotient * S.group_out + 1
        highest = (quotient + 1) * S.group_out
        return Sum(body.xreplace({group: quotient}), (c, lowest, highest), *limits[1:])

    return expr.replace(lambda e: isinstance(e, Sum), restrict)


def unfold_dilated(expr: Expr, symbols_: NDSymbols) -> Expr:
    """``expr`` with every ``ğ`` entry replaced by its definition, a ``Piecewise`` in g:
    ``ğ[…, u⃗] = g[…, u⃗/s⃗ + 1]`` when every ``s_a | u_a`` and ``0 ≤ u_a ≤ s_a(m_a − 1)``,
    else 0.

    Example:
        >>> S = nd_symbols(1)
        >>> unfold_dilated(gdil[1, 1, q], S)  # doctest: +NORMALIZE_WHITESPACE
        Piecewise((g[1, 1, q/s_1 + 1], (q >= 0) & Eq(Mod(q, s_1), 0) & (q <= s_1*(m_1 - 1))),
            (0, True))
    """
    S = symbols_
    lead = 2 if S.lead else 0

    def unfold(entry: Indexed) -> Expr:
        offsets = entry.indices[lead:]
        outputs = [offsets[a] / S.s[a] + 1 for a in range(S.ndim)]
        conditions: list[Boolean] = []
        for a in range(S.ndim):
            conditions += _solution_conditions(offsets[a], S.s[a], S.m[a] - 1)
        return Piecewise((g[(*entry.indices[:lead], *outputs)], And(*conditions)), (0, True))

    return expr.replace(lambda e: isinstance(e, Indexed) and e.base == gdil, unfold)


# ---------------------------------------------------------------------------------------
# the 1-D form (the exercise's notation)


@dataclass(frozen=True)
class ClosedForm:
    """Closed-form expressions, indexed by the free index named in each field.

    ``yhat``, ``grad_yhat`` and ``grad_b`` (untied) are in ``i``; ``grad_w`` and ``w_next``
    in ``j``; ``grad_xpad`` in ``q`` (padded position) and ``grad_x`` in ``t``.
    ``m`` is the output length ``floor((n + 2p − d(k−1) − 1)/s) + 1``.  ``loss`` is None
    for an upstream gradient (then ``grad_yhat`` is the given ``g[i]``).
    """

    bias: str
    loss_kind: str
    m: Expr
    window: Expr
    yhat: Expr
    loss: Expr | None
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
    """The 1-D one-channel closed form for a bias mode, loss and padding mode; sizes stay
    symbolic.  It is :func:`derive_closed_layer`'s derivation in the exercise's notation.

    Example:
        >>> derive_closed("untied").yhat
        b[i] + Sum(w[j]*x̃[d*(j - 1) - p + s*(i - 1) + 1], (j, 1, k))
        >>> derive_closed().grad_xpad
        Sum(w[j]*ğ[-d*(j - 1) + p + q - 1], (j, 1, k))
    """
    closed = _derive_cached(LayerKind(1, bias, padding_mode), loss, True)
    S = closed.symbols
    return ClosedForm(
        bias=bias,
        loss_kind=loss,
        m=S.m[0],
        window=S.window(0, i, j),
        yhat=closed.yhat,
        loss=closed.loss,
        grad_yhat=closed.grad_yhat,
        grad_w=closed.grad_w,
        grad_b=closed.grad_b,
        grad_xpad=closed.grad_xpad,
        grad_x=closed.grad_x,
        w_next=closed.w_next,
        b_next=closed.b_next,
        padding_mode=padding_mode,
    )


def size_values(problem: Problem) -> dict[Symbol, Integer]:
    """The size symbols n, k, s, p, d mapped to ``problem``'s integers (1-D problems)."""
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


# ---------------------------------------------------------------------------------------
# instantiation: concrete sizes, sums expanded, entries mapped to the explicit symbols


@dataclass(frozen=True)
class ClosedValues:
    """A closed form evaluated for a concrete layer, in the explicit derivation's symbols.

    Flat tuples, row-major in the full shapes (as :class:`ExplicitDerivation`): ``yhat``,
    ``grad_yhat`` in ``y_shape``; ``grad_w``, ``w_next`` in ``w_shape``; ``grad_b``,
    ``b_next`` in ``b_shape`` (None without bias); ``grad_x`` in ``x_shape``; ``loss`` one
    expression in the ŷ placeholders (None upstream).
    """

    yhat: tuple[Expr, ...]
    loss: Expr | None
    grad_yhat: tuple[Expr, ...]
    grad_w: tuple[Expr, ...]
    grad_b: tuple[Expr, ...] | None
    grad_x: tuple[Expr, ...]
    w_next: tuple[Expr, ...]
    b_next: tuple[Expr, ...] | None


def layer_sizes(closed: ClosedFormND, layer: Layer) -> dict[Symbol, Integer]:
    """Every size symbol of ``closed`` mapped to ``layer``'s integer (``m_a`` included).

    Example:
        >>> from symconv.layer import make_layer
        >>> closed = derive_closed_layer(LayerKind(1))
        >>> layer_sizes(closed, make_layer(input_shape=[5], kernel_size=2))[closed.symbols.m[0]]
        4
    """
    S = closed.symbols
    if S.ndim != layer.ndim:
        raise ValueError(f"the closed form has {S.ndim} axes; the layer has {layer.ndim}")
    found: dict[Symbol, Integer] = {}

    def put(symbol: Expr, value: int) -> None:
        if isinstance(symbol, Symbol):
            found[symbol] = Integer(value)

    put(S.batch, layer.batch)
    put(S.in_channels, layer.in_channels)
    put(S.out_channels, layer.out_channels)
    put(S.groups, layer.groups)
    for a in range(S.ndim):
        put(S.n[a], layer.input_shape[a])
        put(S.k[a], layer.kernel_size[a])
        put(S.s[a], layer.stride[a])
        put(S.p[a], layer.padding[a][0])
        put(S.d[a], layer.dilation[a])
        put(S.m[a], layer.output_shape[a])
        if S.p_after[a] != S.p[a]:
            put(S.p_after[a], layer.padding[a][1])
    return found


class _Context:
    """The concrete layer an instantiation reads: sizes and indices (``env``), constants
    (α, the shared b) and the map from indexed entries to explicit symbols."""

    def __init__(
        self,
        env: dict[Symbol, int],
        constants: dict[Symbol, Expr],
        lookup: Callable[[Basic, tuple[int, ...]], Expr],
    ) -> None:
        self.env = env
        self.constants = constants
        self.lookup = lookup


_Value = Callable[[_Context], Expr]
_Number = Callable[[_Context], int | Fraction]
_Truth = Callable[[_Context], bool]


def _may_vanish(expr: Expr) -> bool:
    """An entry of the padded input or of the dilated g, or a conditional term."""
    return isinstance(expr, Piecewise) or (
        isinstance(expr, Indexed) and expr.base in (xpad, gdil)
    )


@lru_cache(maxsize=4096)
def _compile(expr: Expr) -> _Value:
    """A function evaluating ``expr`` (Sums expanded) in a :class:`_Context`."""
    if expr.is_Number:
        return lambda ctx: expr
    if isinstance(expr, Symbol):

        def symbol(ctx: _Context) -> Expr:
            if expr in ctx.env:
                return Integer(ctx.env[expr])
            return ctx.constants.get(expr, expr)

        return symbol
    if isinstance(expr, Add):
        terms = [_compile(a) for a in expr.args]
        return lambda ctx: Add(*[term(ctx) for term in terms])
    if isinstance(expr, Mul):
        # the factors that are often 0 (padding, between strides) first: a 0 ends the product
        ordered = sorted(expr.args, key=lambda a: not _may_vanish(a))
        factors = [_compile(a) for a in ordered]

        def product(ctx: _Context) -> Expr:
            values = []
            for factor in factors:
                value = factor(ctx)
                if value == 0:
                    return Integer(0)
                values.append(value)
            return Mul(*values)

        return product
    if isinstance(expr, Pow) and expr.exp.is_Integer:
        base, exponent = _compile(expr.base), expr.exp
        return lambda ctx: Pow(base(ctx), exponent)
    if isinstance(expr, Sum):
        summand = _compile(expr.function)
        limits = [(v, _number(lo), _number(hi)) for v, lo, hi in expr.limits]

        def total(ctx: _Context) -> Expr:
            terms: list[Expr] = []

            def run(level: int) -> None:
                if level == len(limits):
                    terms.append(summand(ctx))
                    return
                v, lo, hi = limits[level]
                saved = ctx.env.get(v)
                for value in range(_integer(lo(ctx)), _integer(hi(ctx)) + 1):
                    ctx.env[v] = value
                    run(level + 1)
                if saved is None:
                    ctx.env.pop(v, None)
                else:
                    ctx.env[v] = saved

            run(0)
            return Add(*terms)

        return total
    if isinstance(expr, Indexed):
        base = expr.base
        indices = [_number(e) for e in expr.indices]

        def entry(ctx: _Context) -> Expr:
            return ctx.lookup(base, tuple(_integer(index(ctx)) for index in indices))

        return entry
    if isinstance(expr, Piecewise):
        pieces = [(_compile(e), _truth(c_)) for e, c_ in expr.args]

        def piecewise(ctx: _Context) -> Expr:
            for value, holds in pieces:
                if holds(ctx):
                    return value(ctx)
            return Integer(0)

        return piecewise
    if isinstance(expr, (floor, Mod, KroneckerDelta)):
        number = _number(expr)
        return lambda ctx: Rational(number(ctx))
    raise NotImplementedError(f"cannot instantiate {type(expr).__name__}: {expr}")


@lru_cache(maxsize=4096)
def _number(expr: Expr) -> _Number:
    """A function evaluating an index expression exactly (an int, or a Fraction where a
    division does not come out even)."""
    if expr.is_Integer:
        integer = int(expr)
        return lambda ctx: integer
    if expr.is_Rational:
        value = Fraction(int(expr.p), int(expr.q))
        return lambda ctx: value
    if isinstance(expr, Symbol):
        return lambda ctx: ctx.env[expr]
    if isinstance(expr, Add):
        parts = [_number(a) for a in expr.args]
        return lambda ctx: sum(part(ctx) for part in parts)
    if isinstance(expr, Mul):
        parts = [_number(a) for a in expr.args]
        return lambda ctx: math.prod(part(ctx) for part in parts)
    if isinstance(expr, Pow) and expr.exp.is_Integer:
        base, exponent = _number(expr.base), int(expr.exp)
        if exponent < 0:
            return lambda ctx: Fraction(1, base(ctx) ** -exponent)
        return lambda ctx: base(ctx) ** exponent
    if isinstance(expr, floor):
        inner = _number(expr.args[0])
        return lambda ctx: math.floor(inner(ctx))
    if isinstance(expr, Mod):
        a_, b_ = _number(expr.args[0]), _number(expr.args[1])
        return lambda ctx: a_(ctx) % b_(ctx)
    if isinstance(expr, KroneckerDelta):
        a_, b_ = _number(expr.args[0]), _number(expr.args[1])
        return lambda ctx: int(a_(ctx) == b_(ctx))
    raise NotImplementedError(f"cannot evaluate the index {expr}")


@lru_cache(maxsize=4096)
def _truth(condition: Boolean) -> _Truth:
    """A function evaluating a condition on concrete indices."""
    if isinstance(condition, BooleanTrue):
        return lambda ctx: True
    if isinstance(condition, BooleanFalse):
        return lambda ctx: False
    if isinstance(condition, (And, Or)):
        parts = [_truth(a) for a in condition.args]
        if isinstance(condition, And):
            return lambda ctx: all(part(ctx) for part in parts)
        return lambda ctx: any(part(ctx) for part in parts)
    if isinstance(condition, Not):
        inner = _truth(condition.args[0])
        return lambda ctx: not inner(ctx)
    if isinstance(condition, Relational):
        lhs, rhs = _number(condition.lhs), _number(condition.rhs)
        compare: dict[type, Callable[[int | Fraction, int | Fraction], bool]] = {
            Equality: lambda a_, b_: a_ == b_,
            Unequality: lambda a_, b_: a_ != b_,
            GreaterThan: lambda a_, b_: a_ >= b_,
            LessThan: lambda a_, b_: a_ <= b_,
            StrictGreaterThan: lambda a_, b_: a_ > b_,
            StrictLessThan: lambda a_, b_: a_ < b_,
        }
        op = compare[type(condition)]
        return lambda ctx: op(lhs(ctx), rhs(ctx))
    raise NotImplementedError(f"cannot evaluate the condition {condition}")


def _integer(value: int | Fraction) -> int:
    if isinstance(value, int):
        return value
    if value.denominator != 1:
        raise ValueError(f"index {value} is not an integer")
    return value.numerator


def _row_major(index: Sequence[int], shape: Sequence[int]) -> int:
    """Flat row-major position of a 1-based multi-index (ValueError when outside)."""
    flat = 0
    for value, size in zip(index, shape, strict=True):
        if not 1 <= value <= size:
            raise ValueError(f"index {tuple(index)} is outside the shape {tuple(shape)}")
        flat = flat * size + value - 1
    return flat


def _lookup_for(
    explicit: ExplicitDerivation, lead: bool
) -> Callable[[Basic, tuple[int, ...]], Expr]:
    """The map from a closed-form entry (1-based indices) to the explicit symbol it stands
    for; ``lead`` False: the entries have only spatial indices (batch 1, one channel)."""
    layer = explicit.problem.layer
    sym: Symbols = explicit.symbols
    biases = sym.bias_list()
    tables: dict[Basic, tuple[tuple[Expr, ...], tuple[int, ...]]] = {
        g: (explicit.grad_yhat, layer.y_shape),
        yhat: (sym.yhat, layer.y_shape),
        y: (sym.y, layer.y_shape),
        w: (sym.w, layer.w_shape),
        x: (sym.x, layer.x_shape),
    }
    if layer.b_shape is not None:
        tables[b_untied] = (biases, layer.b_shape)
    spatial_in, spatial_out = layer.input_shape, layer.output_shape
    D = layer.ndim

    def lookup(base: Basic, index: tuple[int, ...]) -> Expr:
        if not lead:
            # the batch and channel indices left out of the names are all 1
            ones = 1 if base == b_untied else 2
            index = (*(1,) * ones, *index)
        if base == xpad:
            # the padded input: x inside, 0 (zeros) or the wrapped entry (circular) outside
            head, position = index[:-D], list(index[-D:])
            for a in range(D):
                size = spatial_in[a]
                if not 1 <= position[a] <= size:
                    if layer.padding_mode != "circular":
                        return Integer(0)
                    position[a] = (position[a] - 1) % size + 1
            return sym.x[_row_major((*head, *position), layer.x_shape)]
        if base == gdil:
            # g dilated by the stride: g[u/s + 1] where s | u and the output exists, else 0
            head, offsets = index[:-D], index[-D:]
            outputs = []
            for a in range(D):
                step = layer.stride[a]
                if offsets[a] % step or not 0 <= offsets[a] // step < spatial_out[a]:
                    return Integer(0)
                outputs.append(offsets[a] // step + 1)
            return explicit.grad_yhat[_row_major((*head, *outputs), layer.y_shape)]
        if base not in tables:
            raise ValueError(f"no explicit symbols for {base}")
        values, shape = tables[base]
        return values[_row_major(index, shape)]

    return lookup


def _context(
    explicit: ExplicitDerivation, sizes: Mapping[Symbol, Integer], lead: bool
) -> _Context:
    problem, sym = explicit.problem, explicit.symbols
    constants: dict[Symbol, Expr] = {alpha: problem.lr}
    if isinstance(sym.b, Symbol):
        constants[b_shared] = sym.b
    env = {symbol: int(value) for symbol, value in sizes.items()}
    return _Context(env, constants, _lookup_for(explicit, lead))


def instantiate(
    expr: Expr, explicit: ExplicitDerivation, *, index: dict[Symbol, int] | None = None
) -> Expr:
    """Evaluate a 1-D closed-form expression for ``explicit``'s problem, in its named symbols.

    Substitutes the sizes and the free indices (``index``, 1-based), expands the sums,
    then maps each indexed entry to the explicit symbol it stands for: ``x̃[q]`` to
    ``x_q`` inside ``1..n``, else to 0 (zeros) or ``x_{(q−1) mod n + 1}`` (circular);
    ``ğ[u]`` to ``∂L/∂ŷ_{u/s+1}`` when s divides u and the output exists, else 0;
    ``g[i]`` to ``∂L/∂ŷ_i``; ``ŷ[i]``, ``y[i]``, ``w[j]``, ``b[i]`` to their symbols;
    and α to the learning rate.

    Example:
        >>> from symconv.problem import load_problem
        >>> from symconv.symbolic.explicit import derive_explicit
        >>> e = derive_explicit(load_problem("exercise2"))
        >>> instantiate(derive_closed("untied").yhat, e, index={i: 2})
        b2 + w1*x2 + w2*x3 + w3*x4
    """
    ctx = _context(explicit, size_values(explicit.problem), lead=False)
    ctx.env.update(index or {})
    return _compile(expr)(ctx)


def instantiate_entry(
    expr: Expr,
    closed: ClosedFormND,
    explicit: ExplicitDerivation,
    index: Mapping[Symbol, int],
) -> Expr:
    """One entry of a :class:`ClosedFormND` expression for ``explicit``'s layer: the free
    indices set by ``index`` (1-based), sums expanded, entries as explicit symbols.

    Example:
        >>> from symconv.problem import load_problem
        >>> from symconv.symbolic.explicit import derive_explicit
        >>> problem = load_problem("conv2d_small")
        >>> closed = derive_closed_layer(problem.layer, problem.loss)
        >>> S = closed.symbols
        >>> instantiate_entry(closed.grad_yhat, closed, derive_explicit(problem),
        ...                   {S.beta: 1, S.c: 1, S.i[0]: 1, S.i[1]: 1})
        -y_1_1 + yhat_1_1
    """
    ctx = _context(explicit, layer_sizes(closed, explicit.problem.layer), closed.symbols.lead)
    ctx.env.update(index)
    return _compile(expr)(ctx)


def instantiate_layer(closed: ClosedFormND, explicit: ExplicitDerivation) -> ClosedValues:
    """Every entry of every quantity of ``closed`` for ``explicit``'s layer (see
    :class:`ClosedValues`), comparable entry by entry with the explicit derivation.

    Example:
        >>> from symconv.problem import load_problem
        >>> from symconv.symbolic.explicit import derive_explicit
        >>> problem = load_problem("exercise2")
        >>> closed = derive_closed_layer(problem.layer, problem.loss)
        >>> instantiate_layer(closed, derive_explicit(problem)).grad_b
        (-y1 + yhat1, -y2 + yhat2)
    """
    layer = explicit.problem.layer
    if LayerKind.of(layer) != closed.kind:
        raise ValueError(
            f"the closed form is for {closed.kind}; the layer is {LayerKind.of(layer)}"
        )
    S = closed.symbols
    ctx = _context(explicit, layer_sizes(closed, layer), S.lead)

    def entries(expr: Expr, names: Sequence[Symbol], shape: Iterable[int]) -> tuple[Expr, ...]:
        value = _compile(expr)
        found = []
        for index in itertools.product(*(range(1, size + 1) for size in shape)):
            ctx.env.update(zip(names, index))
            found.append(value(ctx))
        return tuple(found)

    def names(*lead: Symbol, spatial: Sequence[Symbol]) -> list[Symbol]:
        return [*lead, *spatial] if S.lead else list(spatial)

    def shape(full: tuple[int, ...], lead: int) -> tuple[int, ...]:
        return full if S.lead else full[lead:]

    y_names = names(S.beta, S.c, spatial=S.i)
    y_shape = shape(layer.y_shape, 2)
    w_names = names(S.c, S.kappa, spatial=S.j)
    x_names = names(S.beta, S.gamma, spatial=S.t)
    grad_b = b_next = None
    if layer.b_shape is not None and closed.grad_b is not None and closed.b_next is not None:
        if layer.bias == "shared":
            b_names: list[Symbol] = [S.c] if S.lead else []
            b_shape: tuple[int, ...] = layer.b_shape if S.lead else ()
        else:
            b_names = names(S.c, spatial=S.i)
            b_shape = shape(layer.b_shape, 1)
        grad_b = entries(closed.grad_b, b_names, b_shape)
        b_next = entries(closed.b_next, b_names, b_shape)
    return ClosedValues(
        yhat=entries(closed.yhat, y_names, y_shape),
        loss=None if closed.loss is None else _compile(closed.loss)(ctx),
        grad_yhat=entries(closed.grad_yhat, y_names, y_shape),
        grad_w=entries(closed.grad_w, w_names, shape(layer.w_shape, 2)),
        grad_b=grad_b,
        grad_x=entries(closed.grad_x, x_names, shape(layer.x_shape, 2)),
        w_next=entries(closed.w_next, w_names, shape(layer.w_shape, 2)),
        b_next=b_next,
    )
