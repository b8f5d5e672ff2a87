"""The closed form (IndexedBase + Sum in symbolic sizes, backward derived) agrees with the
explicit form.

For each configuration, every closed-form quantity is instantiated for the concrete sizes
and compared with the explicit expression (:mod:`symconv.symbolic.explicit`, built term by
term from the layer's connectivity) by ``expand(closed − explicit) == 0``.  The closed
backward quantities hold ``g``, which instantiation maps to the explicit ``∂L/∂ŷ`` in the
placeholders ŷ, y, so they are compared with the explicit chain-rule expressions; the loss
is compared with ``loss_of_yhat``.

- the 1-D API (:func:`derive_closed`, exercise notation) over a grid of n, k, s, p, d, padding
  mode, bias and loss; its expressions are also identical to the formulas that were typed in
  before the derivation existed (kept below as ``TYPED``), so nothing printed changed;
- the general form (:func:`derive_closed_layer`) over a grid of 1-D, 2-D and 3-D layers with
  channels, groups, batch, strides, dilations, asymmetric and circular padding, every bias
  mode and every loss (upstream included);
- each comparison is shown able to fail on deliberately broken closed forms;
- the delta elimination itself, on small hand-checked sums.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import (
    Expr,
    Indexed,
    IndexedBase,
    Integer,
    KroneckerDelta,
    Le,
    Piecewise,
    Rational,
    Sum,
    Symbol,
    diff,
    expand,
    floor,
)

from symconv.layer import make_layer, output_length
from symconv.problem import Problem, problem_from_dict
from symconv.symbolic.closed import (
    SIZES,
    ClosedForm,
    ClosedFormND,
    Indicator,
    LayerKind,
    alpha,
    b_shared,
    b_untied,
    derive_closed,
    derive_closed_layer,
    eliminate_deltas,
    g,
    gdil,
    i,
    instantiate,
    instantiate_entry,
    instantiate_layer,
    j,
    layer_sizes,
    q,
    r,
    t,
    unfold_dilated,
    w,
    xpad,
    y,
    yhat,
)
from symconv.symbolic.explicit import ExplicitDerivation, derive_explicit

MakeProblem = Callable[..., Problem]  # the conftest fixture: settings -> Problem
Config = tuple[int, int, int, int, int, str, str, str]  # n, k, s, p, d, mode, bias, loss

PADDING_MODES = ("zeros", "circular")
BIASES = ("shared", "untied", "none")
LOSSES = ("sse_half", "mse")
ALL_LOSSES = ("sse_half", "mse", "upstream")


def is_valid(n: int, k: int, s: int, p: int, d: int, mode: str) -> bool:
    """The layer exists: the dilated kernel fits the padded input, circular wraps once."""
    return d * (k - 1) + 1 <= n + 2 * p and (mode == "zeros" or p <= n)


# =======================================================================================
# the 1-D API
#
# the grid: every (s, p, d, padding mode, bias, loss), each with two (n, k) sizes taken in
# turn from a fixed list (skipping sizes that do not fit), so that n runs through 1..12 and
# k through 1..5 across the grid

SIZES_NK = [(1, 1), (4, 3), (12, 5), (2, 2), (7, 4), (9, 2), (3, 1), (10, 5), (5, 3), (11, 4),
            (6, 1), (8, 3), (12, 2), (2, 1), (5, 5), (3, 2), (1, 2), (7, 5)]


def _grid() -> list[Config]:
    configs: list[Config] = []
    combos = itertools.product((1, 2, 3), (0, 1, 2), (1, 2), PADDING_MODES, BIASES, LOSSES)
    cursor = 0
    for s, p, d, mode, bias, loss in combos:
        chosen = 0
        while chosen < 2:
            n, k = SIZES_NK[cursor % len(SIZES_NK)]
            cursor += 1
            if is_valid(n, k, s, p, d, mode):
                configs.append((n, k, s, p, d, mode, bias, loss))
                chosen += 1
    return configs


GRID = _grid()


def config_id(config: Config) -> str:
    n, k, s, p, d, mode, bias, loss = config
    return f"n{n}-k{k}-s{s}-p{p}-d{d}-{mode}-{bias}-{loss}"


def test_grid_covers_the_space() -> None:
    assert len(GRID) == 432
    columns = list(zip(*GRID, strict=True))
    assert set(columns[0]) == set(range(1, 13))
    assert set(columns[1]) == set(range(1, 6))
    assert set(columns[2]) == {1, 2, 3} and set(columns[3]) == {0, 1, 2}
    assert set(columns[4]) == {1, 2}
    assert (set(columns[5]), set(columns[6]), set(columns[7])) == (
        set(PADDING_MODES),
        set(BIASES),
        set(LOSSES),
    )


def _equal(a: Expr, b: Expr) -> bool:
    """Exactly equal: the same tree, or a difference that evaluates to 0 (cheap, when the
    terms cancel as they stand) or expands to 0 (the polynomial identity; the final word)."""
    difference = a - b
    return bool(a == b or difference.doit() == 0 or expand(difference) == 0)


def explicit_for(make_problem: MakeProblem, config: Config) -> ExplicitDerivation:
    n, k, s, p, d, mode, bias, loss = config
    problem = make_problem(
        n, k, stride=s, padding=p, dilation=d, padding_mode=mode, bias=bias, loss=loss
    )
    return derive_explicit(problem)


def closed_pairs(closed: ClosedForm, e: ExplicitDerivation) -> list[tuple[str, Expr, Expr]]:
    """(name, closed form instantiated, explicit expression) for every quantity and index."""
    problem = e.problem

    def at(expr: Expr, **index: int) -> Expr:
        symbol = {"i": i, "j": j, "t": t}
        return instantiate(expr, e, index={symbol[name]: value for name, value in index.items()})

    pairs: list[tuple[str, Expr, Expr]] = []
    if closed.loss is not None and e.loss_of_yhat is not None:
        pairs.append(("loss", at(closed.loss), e.loss_of_yhat))
    elif (closed.loss is None) != (e.loss_of_yhat is None):
        pairs.append(("loss is None", Integer(closed.loss is None), Integer(0)))
    for row in range(1, problem.m + 1):
        pairs.append((f"yhat[{row}]", at(closed.yhat, i=row), e.yhat[row - 1]))
        pairs.append((f"grad_yhat[{row}]", at(closed.grad_yhat, i=row), e.grad_yhat[row - 1]))
    for tap in range(1, problem.k + 1):
        pairs.append((f"grad_w[{tap}]", at(closed.grad_w, j=tap), e.grad_w[tap - 1]))
        pairs.append((f"w_next[{tap}]", at(closed.w_next, j=tap), e.w_next[tap - 1]))
    for position in range(1, problem.n + 1):
        pairs.append((f"grad_x[{position}]", at(closed.grad_x, t=position), e.grad_x[position - 1]))
    if problem.bias == "untied":
        assert e.grad_b is not None and e.b_next is not None
        assert closed.grad_b is not None and closed.b_next is not None
        for row in range(1, problem.m + 1):
            pairs.append((f"grad_b[{row}]", at(closed.grad_b, i=row), e.grad_b[row - 1]))
            pairs.append((f"b_next[{row}]", at(closed.b_next, i=row), e.b_next[row - 1]))
    elif problem.bias == "shared":
        assert e.grad_b is not None and e.b_next is not None
        assert closed.grad_b is not None and closed.b_next is not None
        pairs.append(("grad_b", at(closed.grad_b), e.grad_b[0]))
        pairs.append(("b_next", at(closed.b_next), e.b_next[0]))
    return pairs


def closed_mismatches(closed: ClosedForm, e: ExplicitDerivation) -> list[str]:
    """Names of the quantities where the closed form and the explicit form differ."""
    found = [name for name, c, x in closed_pairs(closed, e) if not _equal(c, x)]
    sizes = {SIZES[name]: Integer(v) for name, v in _sizes(e.problem).items()}
    if closed.m.xreplace(sizes) != e.problem.m:
        found.append("m")
    if (closed.grad_b is None) != (e.problem.bias == "none"):
        found.append("grad_b is None")
    return found


def _sizes(problem: Problem) -> dict[str, int]:
    return {"n": problem.n, "k": problem.k, "s": problem.stride, "p": problem.padding,
            "d": problem.dilation}


def closed_for(config: Config) -> ClosedForm:
    *_, mode, bias, loss = config
    return derive_closed(bias, loss, mode)


@pytest.mark.parametrize("config", GRID, ids=map(config_id, GRID))
def test_closed_equals_explicit(make_problem: MakeProblem, config: Config) -> None:
    e = explicit_for(make_problem, config)
    assert closed_mismatches(closed_for(config), e) == []


_configs = st.tuples(
    st.integers(1, 12),
    st.integers(1, 5),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(1, 2),
    st.sampled_from(PADDING_MODES),
    st.sampled_from(BIASES),
    st.sampled_from(ALL_LOSSES),
).filter(lambda c: is_valid(*c[:6]))


@settings(max_examples=25, deadline=None)
@given(config=_configs)
def test_closed_equals_explicit_property(make_problem: MakeProblem, config: Config) -> None:
    e = explicit_for(make_problem, config)
    assert closed_mismatches(closed_for(config), e) == []


def test_upstream_has_no_loss_and_the_given_gradient() -> None:
    closed = derive_closed("untied", "upstream", "circular")
    assert closed.loss is None
    assert closed.grad_yhat == g[i]


# ---------------------------------------------------------------------------------------
# the derived 1-D expressions are the formulas once typed in (so every printout is unchanged)

_m = floor((SIZES["n"] + 2 * SIZES["p"] - SIZES["d"] * (SIZES["k"] - 1) - 1) / SIZES["s"]) + 1
_s, _p, _d, _k, _n = SIZES["s"], SIZES["p"], SIZES["d"], SIZES["k"], SIZES["n"]
_window = _s * (i - 1) + _d * (j - 1) - _p + 1


def typed(bias: str, loss: str, mode: str) -> dict[str, Expr | None]:
    """The closed form as it was written by hand before the derivation (verbatim)."""
    bias_term = {"untied": b_untied[i], "shared": b_shared, "none": Integer(0)}[bias]
    summand = (
        Rational(1, 2) * (y[i] - yhat[i]) ** 2 if loss == "sse_half" else (y[i] - yhat[i]) ** 2 / _m
    )
    grad_w = Sum(g[i] * xpad[_window], (i, 1, _m))
    grad_b = {"untied": g[i], "shared": Sum(g[i], (i, 1, _m)), "none": None}[bias]
    b_next = {
        "untied": b_untied[i] - alpha * g[i],
        "shared": b_shared - alpha * Sum(g[i], (i, 1, _m)),
        "none": None,
    }[bias]
    grad_xpad = Sum(w[j] * gdil[q + _p - 1 - _d * (j - 1)], (j, 1, _k))
    grad_x = (
        Sum(grad_xpad.xreplace({q: t + r * _n}), (r, -1, 1))
        if mode == "circular"
        else grad_xpad.xreplace({q: t})
    )
    return {
        "m": _m,
        "window": _window,
        "yhat": Sum(w[j] * xpad[_window], (j, 1, _k)) + bias_term,
        "loss": Sum(summand, (i, 1, _m)),
        "grad_yhat": diff(summand, yhat[i]),
        "grad_w": grad_w,
        "grad_b": grad_b,
        "grad_xpad": grad_xpad,
        "grad_x": grad_x,
        "w_next": w[j] - alpha * grad_w,
        "b_next": b_next,
    }


@pytest.mark.parametrize(
    ("bias", "loss", "mode"), list(itertools.product(BIASES, LOSSES, PADDING_MODES))
)
def test_derived_1d_form_is_the_typed_form(bias: str, loss: str, mode: str) -> None:
    closed = derive_closed(bias, loss, mode)
    for name, expected in typed(bias, loss, mode).items():
        assert getattr(closed, name) == expected, name


def test_typed_form_comparison_can_fail() -> None:
    # the identity above is structural: a changed summation order or index is seen
    closed = derive_closed("untied", "sse_half", "zeros")
    assert closed.grad_xpad != Sum(w[j] * gdil[q + _p - 1 + _d * (j - 1)], (j, 1, _k))
    assert closed.grad_w != Sum(g[i] * xpad[_window], (i, 1, _m + 1))


# ---------------------------------------------------------------------------------------
# the 1-D comparison can fail: deliberately broken closed forms

s, k = SIZES["s"], SIZES["k"]


def _no_stride(c: ClosedForm) -> ClosedForm:
    """The window read at (i − 1) instead of s·(i − 1)."""
    return replace(c, yhat=c.yhat.xreplace({s: Integer(1)}))


def _unflipped_grad_x(c: ClosedForm) -> ClosedForm:
    """∂L/∂x with the kernel not flipped: w_{k+1−j} where w_j belongs."""
    return replace(c, grad_x=c.grad_x.xreplace({w[j]: w[k + 1 - j]}))


def _shifted_grad_w(c: ClosedForm) -> ClosedForm:
    """∂L/∂w_j reading the window of tap j + 1 (off by one)."""
    return replace(c, grad_w=c.grad_w.xreplace({j: j + 1}))


def _mean_without_m(c: ClosedForm) -> ClosedForm:
    """The mse loss summed instead of averaged."""
    assert c.loss is not None
    return replace(c, loss=c.loss.xreplace({c.m: Integer(1)}))


# (broken form, quantity it must be caught in, a configuration where the break shows)
BROKEN: list[tuple[Callable[[ClosedForm], ClosedForm], str, Config]] = [
    (_no_stride, "yhat[2]", (5, 2, 2, 0, 1, "zeros", "shared", "sse_half")),
    (_unflipped_grad_x, "grad_x[1]", (4, 3, 1, 0, 1, "zeros", "untied", "sse_half")),
    (_unflipped_grad_x, "grad_x[2]", (5, 2, 2, 1, 1, "circular", "none", "mse")),
    (_shifted_grad_w, "grad_w[1]", (6, 3, 1, 1, 2, "zeros", "none", "sse_half")),
    (_mean_without_m, "loss", (6, 2, 1, 0, 1, "zeros", "shared", "mse")),
]


@pytest.mark.parametrize(
    ("broken", "quantity", "config"), BROKEN, ids=[f"{b[0].__name__}-{b[1]}" for b in BROKEN]
)
def test_a_broken_closed_form_is_caught(
    make_problem: MakeProblem,
    broken: Callable[[ClosedForm], ClosedForm],
    quantity: str,
    config: Config,
) -> None:
    e = explicit_for(make_problem, config)
    assert closed_mismatches(closed_for(config), e) == []
    assert quantity in closed_mismatches(broken(closed_for(config)), e)


def test_a_missing_stride_is_caught_exactly_where_the_stride_matters(
    make_problem: MakeProblem,
) -> None:
    sample = GRID[::9]
    caught = {
        config
        for config in sample
        if closed_mismatches(_no_stride(closed_for(config)), explicit_for(make_problem, config))
    }
    # s = 1 hides the break; any stride > 1 with two or more outputs shows it
    assert caught
    assert all(config[2] > 1 for config in caught)


def test_closed_form_builds_for_a_huge_layer(make_problem: MakeProblem) -> None:
    for mode, stride, padding, dilation in (("zeros", 1, 0, 1), ("circular", 2, 1, 2)):
        problem = make_problem(
            100_000, 64, stride=stride, padding=padding, dilation=dilation, padding_mode=mode
        )
        closed = derive_closed(problem.bias, problem.loss, problem.padding_mode)
        sizes = {SIZES[name]: Integer(v) for name, v in _sizes(problem).items()}
        # m = floor((n + 2p − d(k − 1) − 1)/s) + 1, by hand
        expected_m = {("zeros", 1): 99_937, ("circular", 2): 49_938}[(mode, stride)]
        assert closed.m.xreplace(sizes) == expected_m == problem.m
        # ŷ_i reads k taps whatever n is
        assert SIZES["n"] not in closed.yhat.free_symbols


# =======================================================================================
# the general form: axes, channels, groups, batch

# (id, layer settings in the TOML contract's names); every geometry runs with each bias mode
# and each loss in turn (see ND_GRID)
GEOMETRIES: list[tuple[str, dict[str, Any]]] = [
    ("1d-groups-batch", dict(input_shape=[7], kernel_size=3, stride=2, padding=[[1, 2]],
                             in_channels=2, out_channels=4, groups=2, batch=2)),
    ("1d-depthwise-circular", dict(input_shape=[6], kernel_size=2, stride=3, dilation=2,
                                   padding=[[2, 1]], padding_mode="circular", in_channels=3,
                                   out_channels=3, groups=3)),
    ("1d-dilated-batch", dict(input_shape=[5], kernel_size=3, dilation=2, out_channels=2,
                              batch=2)),
    ("1d-circular-2to1", dict(input_shape=[4], kernel_size=2, stride=2, padding=1,
                              padding_mode="circular", in_channels=2)),
    ("2d-groups-asymmetric", dict(input_shape=[5, 4], kernel_size=[3, 2], stride=[2, 1],
                                  dilation=[1, 2], padding=[[1, 0], [0, 2]], in_channels=2,
                                  out_channels=4, groups=2, batch=2)),
    ("2d-circular-batch", dict(input_shape=[4, 4], kernel_size=[2, 3], stride=[1, 3],
                               dilation=[2, 1], padding=[[1, 1], [2, 0]],
                               padding_mode="circular", in_channels=2, out_channels=2,
                               batch=2)),
    ("2d-one-channel", dict(input_shape=[3, 3], kernel_size=2)),
    ("2d-circular-groups", dict(input_shape=[6, 4], kernel_size=[3, 1], stride=[3, 2],
                                padding=[[2, 1], [0, 1]], padding_mode="circular",
                                in_channels=4, out_channels=2, groups=2)),
    ("3d-groups-batch", dict(input_shape=[3, 3, 4], kernel_size=2, stride=[1, 2, 2],
                             dilation=[1, 1, 2], padding=[[1, 0], [0, 1], [1, 1]],
                             in_channels=2, out_channels=2, groups=2, batch=2)),
    ("3d-circular-dilated", dict(input_shape=[3, 3, 3], kernel_size=[2, 1, 2], stride=[2, 1, 1],
                                 dilation=[1, 1, 2], padding=[[0, 1], [1, 1], [1, 0]],
                                 padding_mode="circular", out_channels=2, batch=2)),
    ("3d-stride3", dict(input_shape=[4, 3, 3], kernel_size=[3, 2, 2], stride=[3, 1, 2],
                        padding=[[1, 1], [0, 0], [1, 2]], in_channels=2)),
]

NDConfig = tuple[str, str, str]  # geometry id, bias, loss


def _nd_grid() -> list[NDConfig]:
    """Each geometry with every bias mode and with every loss (a Latin square: 3 per
    geometry, the pairing shifted from one geometry to the next, so that every bias × loss
    pair occurs)."""
    configs: list[NDConfig] = []
    for number, (name, _) in enumerate(GEOMETRIES):
        for shift in range(3):
            bias = BIASES[shift]
            loss = ALL_LOSSES[(shift + number) % 3]
            configs.append((name, bias, loss))
    return configs


ND_GRID = _nd_grid()
_GEOMETRY = dict(GEOMETRIES)


def nd_problem(config: NDConfig) -> Problem:
    name, bias, loss = config
    return problem_from_dict(
        {"layer": {**_GEOMETRY[name], "bias": bias}, "loss": {"kind": loss},
         "optimizer": {"learning_rate": "0.125"}}
    )


def test_nd_grid_covers_the_space() -> None:
    layers = [nd_problem(config).layer for config in ND_GRID]
    assert {layer.ndim for layer in layers} == {1, 2, 3}
    assert {(config[1], config[2]) for config in ND_GRID} == set(
        itertools.product(BIASES, ALL_LOSSES)
    )
    for ndim in (1, 2, 3):
        same = [layer for layer in layers if layer.ndim == ndim]
        assert {layer.padding_mode for layer in same} == set(PADDING_MODES)
        assert {layer.bias for layer in same} == set(BIASES)
        assert any(layer.groups == 2 and layer.batch == 2 for layer in same)
        assert any(layer.symmetric_padding is None for layer in same)
        assert any(max(layer.stride) >= 2 for layer in same)
        assert any(max(layer.dilation) == 2 for layer in same)
    assert any(layer.groups == layer.in_channels == 3 for layer in layers)  # depthwise
    assert any(3 in layer.stride for layer in layers)
    assert any(layer.in_channels > 1 and layer.out_channels > 1 for layer in layers)


def nd_mismatches(closed: ClosedFormND, e: ExplicitDerivation) -> list[str]:
    """Names (``quantity[flat index]``) where the closed form and the explicit form differ."""
    layer = e.problem.layer
    found: list[str] = []
    sizes = layer_sizes(closed, layer)
    for axis, (m_symbol, formula) in enumerate(closed.output_sizes):
        # the output-length formula against the layer spec's own computation
        if formula.xreplace(sizes) != layer.output_shape[axis] or m_symbol not in sizes:
            found.append(f"m[{axis + 1}]")
    values = instantiate_layer(closed, e)
    pairs: list[tuple[str, tuple[Expr, ...] | None, tuple[Expr, ...] | None]] = [
        ("yhat", values.yhat, e.yhat),
        ("grad_yhat", values.grad_yhat, e.grad_yhat),
        ("grad_w", values.grad_w, e.grad_w),
        ("grad_b", values.grad_b, e.grad_b),
        ("grad_x", values.grad_x, e.grad_x),
        ("w_next", values.w_next, e.w_next),
        ("b_next", values.b_next, e.b_next),
    ]
    for name, ours, theirs in pairs:
        if ours is None or theirs is None:
            if (ours is None) != (theirs is None):
                found.append(f"{name} is None")
            continue
        if len(ours) != len(theirs):
            found.append(f"{name} shape")
            continue
        found += [
            f"{name}[{flat}]"
            for flat, (a, b) in enumerate(zip(ours, theirs, strict=True))
            if not _equal(a, b)
        ]
    if (values.loss is None) != (e.loss_of_yhat is None):
        found.append("loss is None")
    elif values.loss is not None and e.loss_of_yhat is not None:
        if not _equal(values.loss, e.loss_of_yhat):
            found.append("loss")
    return found


def closed_nd_for(config: NDConfig) -> ClosedFormND:
    problem = nd_problem(config)
    return derive_closed_layer(problem.layer, problem.loss)


@functools.cache
def explicit_nd_for(config: NDConfig) -> ExplicitDerivation:
    return derive_explicit(nd_problem(config))


@functools.cache
def correct_nd_mismatches(config: NDConfig) -> tuple[str, ...]:
    """The comparison of the derived closed form (shared by the grid and the broken forms)."""
    return tuple(nd_mismatches(closed_nd_for(config), explicit_nd_for(config)))


@pytest.mark.parametrize("config", ND_GRID, ids=["-".join(c) for c in ND_GRID])
def test_general_closed_equals_explicit(config: NDConfig) -> None:
    assert correct_nd_mismatches(config) == ()


def test_general_form_on_the_builtin_2d_problem() -> None:
    problem = problem_from_dict({"layer": {"input_shape": [4, 4], "kernel_size": 2,
                                           "in_channels": 2, "bias": "shared"}})
    e = derive_explicit(problem)
    closed = derive_closed_layer(problem.layer, problem.loss)
    assert nd_mismatches(closed, e) == []
    S = closed.symbols
    # one entry by hand: ∂L/∂w[1, 2, 1, 1] = Σ over the 3×3 outputs of g · x[1, 2, i1, i2]
    entry = instantiate_entry(closed.grad_w, closed, e, {S.c: 1, S.kappa: 2, S.j[0]: 1,
                                                         S.j[1]: 1})
    hand = sum(
        (
            (Symbol(f"yhat_{a}_{b}", real=True) - Symbol(f"y_{a}_{b}", real=True))
            * Symbol(f"x_2_{a}_{b}", real=True)
            for a in range(1, 4)
            for b in range(1, 4)
        ),
        Integer(0),
    )
    assert expand(entry - hand) == 0


# ---------------------------------------------------------------------------------------
# the general comparison can fail: deliberately broken closed forms


def _nd_unflipped(c: ClosedFormND) -> ClosedFormND:
    """∂L/∂x with the kernel not flipped: w[c, κ, k⃗ + 1 − j⃗] where w[c, κ, j⃗] belongs."""
    S = c.symbols

    def unflip(entry: Indexed) -> Expr:
        head, taps = entry.indices[:2], entry.indices[2:]
        return w[(*head, *[S.k[a] + 1 - taps[a] for a in range(S.ndim)])]

    return replace(c, grad_x=c.grad_x.replace(lambda e: isinstance(e, Indexed) and e.base == w,
                                              unflip))


def _nd_no_divisibility(c: ClosedFormND) -> ClosedFormND:
    """ğ[u] read as g[⌊u/s⌋ + 1] in range, without asking that s divides u."""
    S = c.symbols

    def wrong(entry: Indexed) -> Expr:
        head, offsets = entry.indices[:2], entry.indices[2:]
        inside = [
            Le(0, offsets[a]) & Le(offsets[a], S.s[a] * (S.m[a] - 1)) for a in range(S.ndim)
        ]
        outputs = [floor(offsets[a] / S.s[a]) + 1 for a in range(S.ndim)]
        condition = inside[0]
        for more in inside[1:]:
            condition = condition & more
        return Piecewise((g[(*head, *outputs)], condition), (0, True))

    return replace(c, grad_x=c.grad_x.replace(
        lambda e: isinstance(e, Indexed) and e.base == gdil, wrong))


def _nd_no_groups(c: ClosedFormND) -> ClosedFormND:
    """The forward pass reading input channel κ whatever the output channel's group."""
    S = c.symbols
    return replace(c, yhat=c.yhat.xreplace({S.group_of(S.c): Integer(0)}))


def _nd_one_example(c: ClosedFormND) -> ClosedFormND:
    """∂L/∂w summed over the first example of the batch only."""
    S = c.symbols
    return replace(c, grad_w=c.grad_w.xreplace({S.batch: Integer(1)}))


def _nd_mean_per_example(c: ClosedFormND) -> ClosedFormND:
    """The mse averaged over channels and positions but not over the batch."""
    S = c.symbols
    assert c.loss is not None
    summand = c.loss.function.xreplace({S.batch: Integer(1)})
    return replace(c, loss=Sum(summand, *c.loss.limits))


def _nd_no_wrap(c: ClosedFormND) -> ClosedFormND:
    """Circular padding without folding the wrapped copies: ∂L/∂x = ∂L/∂x̃ at q⃗ = t⃗."""
    S = c.symbols
    return replace(c, grad_x=c.grad_xpad.xreplace(dict(zip(S.q, S.t, strict=True))))


def _nd_symmetric_m(c: ClosedFormND) -> ClosedFormND:
    """The output length computed with the padding before on both sides."""
    S = c.symbols
    sizes = tuple(
        (m_, formula.xreplace(dict(zip(S.p_after, S.p, strict=True))))
        for m_, formula in c.output_sizes
    )
    return replace(c, output_sizes=sizes)


ND_BROKEN: list[tuple[Callable[[ClosedFormND], ClosedFormND], str, NDConfig]] = [
    (_nd_unflipped, "grad_x", ("2d-groups-asymmetric", "shared", "mse")),
    (_nd_unflipped, "grad_x", ("3d-circular-dilated", "none", "upstream")),
    (_nd_no_divisibility, "grad_x", ("2d-groups-asymmetric", "untied", "upstream")),
    (_nd_no_divisibility, "grad_x", ("1d-depthwise-circular", "none", "sse_half")),
    (_nd_no_groups, "yhat", ("1d-groups-batch", "shared", "sse_half")),
    (_nd_one_example, "grad_w", ("3d-groups-batch", "shared", "upstream")),
    (_nd_mean_per_example, "loss", ("2d-circular-batch", "none", "mse")),
    (_nd_no_wrap, "grad_x", ("2d-circular-groups", "none", "sse_half")),
    (_nd_symmetric_m, "m[2]", ("2d-groups-asymmetric", "none", "sse_half")),
]


@pytest.mark.parametrize(
    ("broken", "quantity", "config"),
    ND_BROKEN,
    ids=[f"{b[0].__name__}-{b[2][0]}" for b in ND_BROKEN],
)
def test_a_broken_general_form_is_caught(
    broken: Callable[[ClosedFormND], ClosedFormND], quantity: str, config: NDConfig
) -> None:
    assert config in ND_GRID
    assert correct_nd_mismatches(config) == ()
    names = nd_mismatches(broken(closed_nd_for(config)), explicit_nd_for(config))
    assert any(name == quantity or name.startswith(quantity + "[") for name in names), names


def test_groups_break_hides_without_groups() -> None:
    # one group: Γ(c) = 0 for every channel, so ignoring the groups changes nothing
    config = ("2d-circular-batch", "untied", "sse_half")
    assert nd_mismatches(_nd_no_groups(closed_nd_for(config)), explicit_nd_for(config)) == []


# ---------------------------------------------------------------------------------------
# what the derivation gives: no deltas left, the transposed flipped-kernel correlation


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_every_delta_is_eliminated(ndim: int, bias: str, mode: str) -> None:
    for loss in ALL_LOSSES:
        closed = derive_closed_layer(LayerKind(ndim, bias, mode), loss)
        for field in ("yhat", "loss", "grad_yhat", "grad_w", "grad_b", "grad_xpad", "grad_x",
                      "w_next", "b_next"):
            expr = getattr(closed, field)
            if expr is not None:
                assert not expr.has(KroneckerDelta, Piecewise, Indicator), (field, expr)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_input_gradient_is_the_flipped_kernel_correlation(ndim: int) -> None:
    closed = derive_closed_layer(LayerKind(ndim, "none", "zeros"), "upstream")
    S = closed.symbols
    grad = closed.grad_xpad
    assert isinstance(grad, Sum)
    # a sum over the group's output channels and the taps (not over the outputs)
    assert [limit[0] for limit in grad.limits] == [S.c, *S.j]
    (entry,) = [e for e in grad.atoms(Indexed) if e.base == gdil]
    (weight,) = [e for e in grad.atoms(Indexed) if e.base == w]
    assert entry.indices[:2] == (S.beta, S.c)
    for a in range(ndim):
        offset = entry.indices[2 + a]
        # along each axis ğ is read at q + p − 1 − d(j − 1): backwards in the tap (flipped)
        assert expand(offset - (S.q[a] + S.p[a] - 1 - S.d[a] * (S.j[a] - 1))) == 0
        assert weight.indices[2 + a] == S.j[a]
    # the weight's in-channel index is γ's place in its group: ((γ − 1) mod C_in/G) + 1
    place = weight.indices[1]
    layer = make_layer(input_shape=[5] * ndim, kernel_size=1, in_channels=6, out_channels=4,
                       groups=2)
    sizes = layer_sizes(closed, layer)
    for gamma in range(1, 7):
        assert place.xreplace({**sizes, S.gamma: gamma}) == (gamma - 1) % 3 + 1


def test_the_dilated_entry_means_its_definition() -> None:
    # ğ as read by instantiation == ğ replaced by its documented Piecewise, on a grid
    config = ("2d-groups-asymmetric", "untied", "upstream")
    e = explicit_nd_for(config)
    closed = closed_nd_for(config)
    unfolded = replace(closed, grad_x=unfold_dilated(closed.grad_x, closed.symbols))
    assert unfolded.grad_x.has(Piecewise) and not unfolded.grad_x.has(gdil)
    assert nd_mismatches(unfolded, e) == []


def _collapse(expr: Expr) -> Expr:
    """Sums over one value replaced by their one term."""

    def one_term(total: Sum) -> Expr:
        summand, kept = total.function, []
        for var, low, high in total.limits:
            if low == high:
                summand = summand.xreplace({var: low})
            else:
                kept.append((var, low, high))
        return Sum(summand, *kept) if kept else summand

    return expr.replace(lambda e: isinstance(e, Sum), one_term)


def test_general_form_for_one_axis_one_channel_is_the_1d_form() -> None:
    # the same derivation: the 1-D API's form is the general one with B = C = G = 1, its
    # batch and channel indices (all 1) left out of the names
    general = derive_closed_layer(LayerKind(1, "untied", "circular"), "mse")
    S = general.symbols
    one = {S.batch: 1, S.in_channels: 1, S.out_channels: 1, S.groups: 1}
    names = {S.n[0]: _n, S.k[0]: _k, S.s[0]: _s, S.p[0]: _p, S.p_after[0]: _p, S.d[0]: _d,
             S.i[0]: i, S.j[0]: j, S.q[0]: q, S.t[0]: t, S.r[0]: r, S.m[0]: _m}
    legacy = derive_closed("untied", "mse", "circular")

    def single(expr: Expr) -> Expr:
        expr = _collapse(expr.xreplace(one).xreplace(names))
        expr = expr.xreplace({S.beta: 1, S.c: 1, S.kappa: 1, S.gamma: 1})
        return expr.replace(
            lambda e: isinstance(e, Indexed) and len(e.indices) > 1,
            lambda e: e.base[e.indices[1 if e.base == b_untied else 2:]],
        )

    for field in ("yhat", "loss", "grad_yhat", "grad_w", "grad_b", "grad_xpad", "grad_x",
                  "w_next", "b_next"):
        assert expand(single(getattr(general, field)) - getattr(legacy, field)) == 0, field
    # and the comparison sees a difference: the general form without its dilation
    assert expand(single(general.grad_x.xreplace({S.d[0]: 1})) - legacy.grad_x) != 0


def test_derivation_does_not_depend_on_the_sizes() -> None:
    # deriving runs on symbols only: a huge layer has the form of a tiny one of its kind,
    # and only instantiation needs its sizes
    huge = make_layer(input_shape=[20_000, 20_000], kernel_size=64, in_channels=2,
                      out_channels=2, groups=2, padding=[[3, 2], [1, 0]], bias="untied",
                      padding_mode="circular")
    tiny = make_layer(input_shape=[2, 3], kernel_size=1, bias="untied", padding_mode="circular")
    closed = derive_closed_layer(huge, "mse")
    assert closed == derive_closed_layer(tiny, "mse")
    assert not any(isinstance(a, Integer) and a > 100 for a in closed.grad_x.atoms(Integer))
    sizes = layer_sizes(closed, huge)
    assert [sizes[m_] for m_ in closed.symbols.m] == list(huge.output_shape) == [19_942, 19_938]


def test_output_sizes_follow_the_layer_spec() -> None:
    closed = derive_closed_layer(LayerKind(1))
    S = closed.symbols
    ((_, formula),) = closed.output_sizes
    for n, k, s, before, after, d in itertools.product(
        range(1, 7), range(1, 4), range(1, 4), range(3), range(3), range(1, 3)
    ):
        if d * (k - 1) + 1 > n + before + after:
            continue
        value = formula.xreplace({S.n[0]: n, S.k[0]: k, S.s[0]: s, S.p[0]: before,
                                  S.p_after[0]: after, S.d[0]: d})
        assert value == output_length(n, k, s, before, after, d)


# ---------------------------------------------------------------------------------------
# the delta elimination on small sums (checked by hand)

m_, step = (Symbol(name, integer=True, positive=True) for name in ("m", "step"))
h = IndexedBase("h")
v = Symbol("v", integer=True)


def test_elimination_solves_the_index_equation_with_its_divisibility() -> None:
    # Σ_{i=1..m} h[i]·δ(q, s·i): h[q/s] when s | q and s ≤ q ≤ s·m
    result = eliminate_deltas(Sum(h[i] * KroneckerDelta(q, step * i), (i, 1, m_)), [i], {})
    assert not result.has(KroneckerDelta, Sum)
    for stride, length in ((2, 3), (3, 2), (1, 4)):
        point = {step: stride, m_: length}
        for position in range(-2, 12):
            by_hand = (
                h[position // stride]
                if position % stride == 0 and 1 <= position // stride <= length
                else 0
            )
            assert result.xreplace(point).xreplace({q: position}) == by_hand


def test_elimination_drops_only_implied_conditions() -> None:
    raw = Sum(h[i] * KroneckerDelta(i, v), (i, 1, m_))
    # v free in 1..m: the term is h[v]; v unknown: a range condition stays
    assert eliminate_deltas(raw, [i], {v: (Integer(1), m_)}) == h[v]
    kept = eliminate_deltas(raw, [i], {})
    assert isinstance(kept, Piecewise) and kept.args[0].expr == h[v]
    assert kept.xreplace({v: 0, m_: 3}) == 0 and kept.xreplace({v: 3, m_: 3}) == h[3]
    # vanishes_outside: the caller vouches for the range, only divisibility stays
    assert eliminate_deltas(raw, [i], {}, vanishes_outside=[i]) == h[v]


def test_elimination_leaves_a_nonlinear_index_alone() -> None:
    raw = Sum(h[i] * KroneckerDelta(floor(i / 2), v), (i, 1, m_))
    assert eliminate_deltas(raw, [i], {v: (Integer(1), m_)}) == raw


def test_elimination_reads_indicators_as_conditions() -> None:
    raw = Sum(Indicator(Le(2, i)) * h[i] * KroneckerDelta(i, v), (i, 1, m_))
    result = eliminate_deltas(raw, [i], {v: (Integer(1), m_)})
    assert result.xreplace({v: 1}) == 0 and result.xreplace({v: 2}) == h[2]


def test_instantiating_needs_concrete_integer_indices(make_problem: MakeProblem) -> None:
    e = derive_explicit(make_problem(4, 2))
    with pytest.raises(ValueError, match="not an integer"):
        instantiate(xpad[q / 2], e, index={q: 1})
    with pytest.raises(ValueError, match="outside"):
        instantiate(w[j], e, index={j: 3})


def test_instantiating_for_a_layer_of_another_kind_is_refused() -> None:
    e = explicit_nd_for(("2d-one-channel", "shared", "mse"))
    with pytest.raises(ValueError, match="closed form is for"):
        instantiate_layer(derive_closed_layer(LayerKind(2, "untied"), "mse"), e)
