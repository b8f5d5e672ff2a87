"""Shift equivariance of a 1-D convolution layer, proven with SymPy.

Notation (0-based positions inside the code, 1-based in everything shown to people):

- ``(S_t x)[q] = x[q − t]``: shift right by ``t``.  With circular padding the shift is a
  roll (``x[(q − t) mod n]``); otherwise the vacated positions are filled with zeros, as in
  the exercise's experiment.
- the layer ``y = conv(x)`` is the problem's layer (its padding, stride, dilation, bias);
  ``y_i = Σ_j w_j · x[s·i + d·j − p] + b``.
- equivariance to ``S_t`` means ``conv(S_t x) = S_u conv(x)`` for an output shift ``u``;
  the only candidate is ``u = t/s``, so it needs ``s | t``.

:func:`prove_shift` builds ``D = conv(S_t x) − S_u conv(x)`` with one named symbol per entry
(``x1..xn``, ``w1..wk``, ``b``...) and reports the output positions where ``D_i`` is not
identically zero.  :func:`closed_proof` does the same with symbolic sizes, by index algebra on
the closed form's window ``s(i−1) + d(j−1) − p + 1``.  :func:`prove_heads` shows that a
flatten + linear head breaks invariance while a global average pool keeps it.

Imports nothing from numpy, torch or rich.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sympy import Add, Expr, Indexed, Integer, Mod, Sum, Symbol, expand, simplify, symbols

from symconv.problem import Problem, output_length
from symconv.symbolic import closed
from symconv.symbolic.explicit import Symbols, window_table

__all__ = [
    "ClosedProof",
    "HeadProof",
    "ShiftProof",
    "circular_padding_for",
    "closed_proof",
    "conv_outputs",
    "proof_cases",
    "proofs_json",
    "prove_all",
    "prove_heads",
    "prove_shift",
    "shift_sequence",
]


@dataclass(frozen=True)
class ShiftProof:
    """The outcome of one explicit proof: ``conv(S_t x) − S_u conv(x)`` entry by entry.

    ``difference`` holds the m expanded entries of ``D`` (for the output shift ``u``);
    ``failing_positions`` the 1-based output positions where an entry is not identically
    zero.  ``output_shift`` is ``t/s`` when ``s`` divides ``t``, else None; then
    ``difference`` is for ``u = t // s`` and ``no_output_shift`` says that every
    ``u = 0..m−1`` was tried and none makes ``D`` vanish.
    """

    padding_mode: str
    padding: int
    stride: int
    shift: int
    n: int
    k: int
    m: int
    bias: str
    output_shift: int | None
    difference: tuple[Expr, ...]
    failing_positions: tuple[int, ...]
    no_output_shift: bool

    @property
    def equivariant(self) -> bool:
        """True when ``D`` is identically zero for the output shift ``t/s``."""
        return self.output_shift is not None and not self.failing_positions

    def as_dict(self) -> dict[str, Any]:
        """The JSON row (design.md contract keys first, then extras)."""
        return {
            "padding_mode": self.padding_mode,
            "stride": self.stride,
            "shift": self.shift,
            "equivariant": self.equivariant,
            "failing_positions": list(self.failing_positions),
            "padding": self.padding,
            "n": self.n,
            "k": self.k,
            "m": self.m,
            "bias": self.bias,
            "output_shift": self.output_shift,
            "difference": [str(e) for e in self.difference],
        }


def shift_sequence(values: Sequence[Expr], t: int, *, circular: bool) -> tuple[Expr, ...]:
    """``S_t`` applied to a sequence: ``out[q] = values[q − t]`` (roll or zero fill).

    Example:
        >>> shift_sequence(symbols("a b c"), 1, circular=False)
        (0, a, b)
    """
    size = len(values)
    out: list[Expr] = []
    for q in range(size):
        source = q - t
        if circular:
            out.append(values[source % size])
        elif 0 <= source < size:
            out.append(values[source])
        else:
            out.append(Integer(0))
    return tuple(out)


def conv_outputs(problem: Problem, x: Sequence[Expr], sym: Symbols) -> tuple[Expr, ...]:
    """The layer's m outputs for the input entries ``x`` (any expressions), weights ``sym.w``.

    ``y_i = Σ_j w_j · x[window(i, j)] + bias_i`` over the problem's window table.
    """

    def bias_of(i: int) -> Expr:
        if sym.b is None:
            return Integer(0)
        return sym.b[i] if isinstance(sym.b, tuple) else sym.b

    return tuple(
        Add(*[sym.w[j] * x[q] for j, q in enumerate(row) if q is not None], bias_of(i))
        for i, row in enumerate(window_table(problem))
    )


def _difference(
    problem: Problem, sym: Symbols, shifted_out: tuple[Expr, ...], out: tuple[Expr, ...], u: int
) -> tuple[Expr, ...]:
    # D = conv(S_t x) − S_u conv(x), expanded so that "identically zero" is "== 0"
    moved = shift_sequence(out, u, circular=problem.padding_mode == "circular")
    return tuple(expand(a - b) for a, b in zip(shifted_out, moved))


def prove_shift(problem: Problem, shift: int) -> ShiftProof:
    """Prove or refute ``conv ∘ S_t = S_{t/s} ∘ conv`` for ``problem``'s layer, ``t = shift``.

    Example:
        >>> from symconv.problem import load_problem
        >>> p = load_problem(None, {"layer.input_length": 6, "layer.kernel_size": 3,
        ...     "layer.padding": 1, "layer.padding_mode": "circular"})
        >>> prove_shift(p, 1).equivariant
        True
    """
    sym = Symbols.for_problem(problem)
    circular = problem.padding_mode == "circular"
    out = conv_outputs(problem, sym.x, sym)
    shifted_out = conv_outputs(problem, shift_sequence(sym.x, shift, circular=circular), sym)
    s = problem.stride
    if shift % s == 0:
        u = shift // s
        difference = _difference(problem, sym, shifted_out, out, u)
        output_shift: int | None = u
        no_output_shift = False
    else:
        # no integer output shift exists: try every one, keep the nearest for display
        output_shift = None
        no_output_shift = all(
            any(e != 0 for e in _difference(problem, sym, shifted_out, out, u))
            for u in range(problem.m)
        )
        difference = _difference(problem, sym, shifted_out, out, shift // s)
    failing = tuple(i + 1 for i, e in enumerate(difference) if e != 0)
    return ShiftProof(
        padding_mode=problem.padding_mode,
        padding=problem.padding,
        stride=s,
        shift=shift,
        n=problem.n,
        k=problem.k,
        m=problem.m,
        bias=problem.bias,
        output_shift=output_shift,
        difference=difference,
        failing_positions=failing,
        no_output_shift=no_output_shift,
    )


def circular_padding_for(n: int, k: int, stride: int, dilation: int) -> int:
    """The padding that makes a circular layer cover one period: ``m·s = n`` when possible.

    A circular layer is exactly equivariant only if its output is one whole period of the
    (periodic) correlation, i.e. ``m = n/s``; that needs ``2p`` in ``[span − s, span − 1]``
    with ``span = d(k−1) + 1``.  When no such ``p`` exists (stride 1 and an even span − 1)
    the nearest padding ``⌊(span − 1)/2⌋`` is returned and the proof will show the wrap.
    """
    span = dilation * (k - 1) + 1
    for p in range(max(0, (span - stride + 1) // 2), span // 2 + 1):
        if output_length(n, k, stride, p, dilation) * stride == n:
            return min(p, n)
    return min((span - 1) // 2, n)


def proof_cases(problem: Problem, strides: Sequence[int] = (1, 2)) -> list[Problem]:
    """The layers the proof table covers, all with ``problem``'s n, k, dilation and bias.

    For each stride: circular padding covering one period, zero padding as given by the
    problem (or ``⌊d(k−1)/2⌋``, "same", when the problem has none) and no padding.
    Layers that do not fit (a kernel wider than the input) are left out.
    """
    cases: list[Problem] = []
    same = problem.padding or (problem.dilation * (problem.k - 1)) // 2
    span = problem.dilation * (problem.k - 1) + 1
    for s in strides:
        variants = [
            ("circular", circular_padding_for(problem.n, problem.k, s, problem.dilation)),
            ("zeros", same),
            ("zeros", 0),
        ]
        for mode, p in variants:
            if span > problem.n + 2 * p:
                continue
            case = problem.with_layer(stride=s, padding=p, padding_mode=mode)
            case = replace(case, x=None, w=None, b=None, y=None)
            if case not in cases:
                cases.append(case)
    return cases


def prove_all(
    problem: Problem, strides: Sequence[int] = (1, 2), shifts: Sequence[int] = (1, 2, 3)
) -> list[ShiftProof]:
    """:func:`prove_shift` over :func:`proof_cases` × ``shifts``: the table's rows."""
    return [prove_shift(case, t) for case in proof_cases(problem, strides) for t in shifts]


# ---------------------------------------------------------------------------------------
# closed form: symbolic sizes, index algebra


@dataclass(frozen=True)
class ClosedProof:
    """Index algebra on the closed form, with symbolic n, k, s, p, d, shift t and output shift u.

    ``lhs``: ``conv(S_t x)_i = Σ_j w_j x̃[window(i, j) − t]``;
    ``rhs``: ``(S_u conv x)_i = Σ_j w_j x̃[window(i − u, j)]``;
    ``index_gap``: window(i, j) − t − window(i − u, j), which simplifies to ``s·u − t``:
    zero exactly when ``t = s·u``.  The tap ``w_1`` meets ``x̃[s(i−1) − p + 1 − t]`` on the left
    and ``x̃[s(i−u−1) − p + 1]`` on the right, so for ``s ∤ t`` no ``u`` can match them.
    ``sum_difference``: ``lhs − rhs`` at ``t = s·u`` with indices expanded: exactly 0.
    ``period_gap``: window(i + n/s, j) − window(i, j) mod n, zero: with circular padding the
    output is periodic with period n/s, so ``S_u`` on the output is a roll over ``m = n/s``.
    ``zero_padding_condition``: where the zero-padded layer can fail.
    """

    lhs: Expr
    rhs: Expr
    index_gap: Expr
    gap_at_t_su: Expr
    sum_difference: Expr
    period_gap: Expr
    circular_holds: bool
    zero_padding_condition: str

    def as_dict(self) -> dict[str, Any]:
        """Strings of every expression, for JSON."""
        return {
            "lhs": str(self.lhs),
            "rhs": str(self.rhs),
            "index_gap": str(self.index_gap),
            "gap_at_t_su": str(self.gap_at_t_su),
            "sum_difference": str(self.sum_difference),
            "period_gap": str(self.period_gap),
            "circular_holds": self.circular_holds,
            "zero_padding_condition": self.zero_padding_condition,
        }


def closed_proof() -> ClosedProof:
    """Prove equivariance for every size at once (see :class:`ClosedProof`).

    Example:
        >>> closed_proof().index_gap
        s*u - t
    """
    t, u = symbols("t u", integer=True)
    i, j, n, s = closed.i, closed.j, closed.n, closed.s
    window = closed.derive_closed().window  # s(i−1) + d(j−1) − p + 1
    x_pad, w = closed.xpad, closed.w
    lhs = Sum(w[j] * x_pad[window - t], (j, 1, closed.k))
    rhs = Sum(w[j] * x_pad[window.xreplace({i: i - u})], (j, 1, closed.k))
    # the index read by tap j: conv(S_t x) reads window − t, S_u conv(x) reads window(i − u)
    gap = simplify((window - t) - window.xreplace({i: i - u}))
    at_su = simplify(gap.xreplace({t: s * u}))
    # with t = s·u both sides are the same sum, term by term
    sum_difference = _canonical(lhs.xreplace({t: s * u})) - _canonical(rhs)
    # circular: the window advances by exactly n over n/s outputs, so reading mod n repeats
    period = simplify(Mod(window.xreplace({i: i + n / s}) - window, n))
    holds = at_su == 0 and period == 0 and sum_difference == 0
    condition = (
        "with zero padding x̃[q] = 0 outside 1..n and S_u fills outputs 1..u with zeros, so D_i "
        "can differ from 0 only where i ≤ u (entering border) or where a window of output i "
        "reads padding or the last t inputs that the shift pushed out (leaving border)"
    )
    return ClosedProof(lhs, rhs, gap, at_su, sum_difference, period, holds, condition)


def _canonical(expr: Expr) -> Expr:
    """``expr`` with every index of an indexed entry expanded (so equal indices compare equal)."""
    entries = {e: e.base[expand(e.indices[0])] for e in expr.atoms(Indexed)}
    return expr.xreplace(entries)


# ---------------------------------------------------------------------------------------
# heads: flatten + linear vs global average pool


@dataclass(frozen=True)
class HeadProof:
    """``head(S_u y) − head(y)`` for a head on top of an equivariant (circular) feature map.

    ``y`` is ``m`` free symbols (any circularly equivariant feature map), ``u`` the output
    shift; a flatten + linear head ``Σ_i v_i y_i`` gives ``Σ_i (v_{i+u} − v_i) y_i``, zero
    only if all ``v_i`` are equal, which is the global average pool (times a constant).
    """

    head: str
    m: int
    shift: int
    difference: Expr

    @property
    def invariant(self) -> bool:
        """True when the difference is identically zero."""
        return bool(self.difference == 0)

    def as_dict(self) -> dict[str, Any]:
        """The JSON row."""
        return {
            "head": self.head,
            "m": self.m,
            "shift": self.shift,
            "invariant": self.invariant,
            "difference": str(self.difference),
        }


def prove_heads(m: int = 4, shift: int = 1) -> list[HeadProof]:
    """A flatten + linear head is not shift invariant; a global average pool is.

    Example:
        >>> [h.invariant for h in prove_heads()]
        [False, True]
    """
    y = symbols(f"y1:{m + 1}", real=True)
    v = symbols(f"v1:{m + 1}", real=True)
    c = Symbol("c", real=True)
    moved = shift_sequence(y, shift, circular=True)

    def linear(z: Sequence[Expr]) -> Expr:
        return Add(*[vi * zi for vi, zi in zip(v, z)], c)

    def gap(z: Sequence[Expr]) -> Expr:
        return Add(*z) / m

    return [
        HeadProof("flatten_linear", m, shift, expand(linear(moved) - linear(y))),
        HeadProof("global_average_pool", m, shift, expand(gap(moved) - gap(y))),
    ]


def proofs_json(
    proofs: Sequence[ShiftProof], heads: Sequence[HeadProof], closed_form: ClosedProof
) -> dict[str, Any]:
    """``{"proofs": [...], "heads": [...], "closed_form": {...}}`` (design.md contract)."""
    return {
        "proofs": [p.as_dict() for p in proofs],
        "heads": [h.as_dict() for h in heads],
        "closed_form": closed_form.as_dict(),
    }
