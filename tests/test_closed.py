"""The closed form (IndexedBase + Sum, symbolic n, k, s, p, d) agrees with the explicit form.

For each configuration, every closed-form quantity is instantiated for the concrete sizes
and compared with the explicit expression by ``expand(closed − explicit) == 0``.  The
closed ``grad_w``/``grad_x`` hold ``g[i]``, which :func:`instantiate` maps to the explicit
``∂L/∂ŷ_i`` in the placeholders ŷ_i, y_i, so they are compared with the explicit chain-rule
expressions; the loss is compared with ``loss_of_yhat``.

The comparison (:func:`closed_mismatches`) is shown able to fail on deliberately broken
closed forms.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import Expr, Integer, expand

from symconv.problem import Problem
from symconv.symbolic.closed import (
    SIZES,
    ClosedForm,
    derive_closed,
    i,
    instantiate,
    j,
    t,
    w,
)
from symconv.symbolic.explicit import ExplicitDerivation, derive_explicit

MakeProblem = Callable[..., Problem]  # the conftest fixture: settings -> Problem
Config = tuple[int, int, int, int, int, str, str, str]  # n, k, s, p, d, mode, bias, loss

PADDING_MODES = ("zeros", "circular")
BIASES = ("shared", "untied", "none")
LOSSES = ("sse_half", "mse")


def is_valid(n: int, k: int, s: int, p: int, d: int, mode: str) -> bool:
    """The layer exists: the dilated kernel fits the padded input, circular wraps once."""
    return d * (k - 1) + 1 <= n + 2 * p and (mode == "zeros" or p <= n)


# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# the comparison


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

    pairs: list[tuple[str, Expr, Expr]] = [("loss", at(closed.loss), e.loss_of_yhat)]
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
    found = [name for name, c, x in closed_pairs(closed, e) if expand(c - x) != 0]
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


# ---------------------------------------------------------------------------------------
# explicit == closed


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
    st.sampled_from(LOSSES),
).filter(lambda c: is_valid(*c[:6]))


@settings(max_examples=25, deadline=None)
@given(config=_configs)
def test_closed_equals_explicit_property(make_problem: MakeProblem, config: Config) -> None:
    e = explicit_for(make_problem, config)
    assert closed_mismatches(closed_for(config), e) == []


# ---------------------------------------------------------------------------------------
# the comparison can fail: deliberately broken closed forms

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


# ---------------------------------------------------------------------------------------
# the closed form does not depend on n


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
