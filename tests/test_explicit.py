"""The explicit derivation: every number of the exercise, exact, and gradients proven.

Three independent routes are used as the truth:

- numbers worked out by hand (the exercise, design.md);
- :func:`reference_steps`, plain loops over an explicitly padded input with
  ``fractions.Fraction``, written from the definition of the layer without symconv;
- SymPy ``diff`` of the full loss ``L(x, w, b, y)``.

Every comparison goes through :func:`mismatches` or :func:`symbolic_mismatches`, and both
are shown able to fail (a flipped kernel, an off-by-one window, a missing bias).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import Expr, Rational, Symbol, diff, expand

from symconv.errors import SizeError
from symconv.problem import Problem, load_problem
from symconv.symbolic.explicit import (
    EXPLICIT_LIMIT,
    ExplicitDerivation,
    StepValues,
    check_explicit_size,
    derive_explicit,
    evaluate_steps,
    window_table,
)

MakeProblem = Callable[..., Problem]  # the conftest fixture: settings -> Problem

# ---------------------------------------------------------------------------------------
# the truth, by hand

R = Rational
# The exercise: x = (1, 2, 3, 4), w = (2, 1, 3), untied b = (1, 1), y = (2, 4), α = 1/100.
EXERCISE_TRUTH: dict[str, Any] = {
    "yhat": (14, 20),
    "loss": 200,
    "grad_yhat": (12, 16),
    "grad_w": (44, 72, 100),
    "grad_b": (12, 16),
    "grad_x": (24, 44, 52, 48),
    "w_next": (R(156, 100), R(28, 100), 2),  # (1.56, 0.28, 2) = (39/25, 7/25, 2)
    "b_next": (R(88, 100), R(84, 100)),
    "yhat_next": (9, R(128, 10)),
    "loss_next": R(6322, 100),
}
# The same with one shared bias b = 1.
SHARED_TRUTH: dict[str, Any] = EXERCISE_TRUTH | {
    "grad_b": (28,),
    "b_next": (R(72, 100),),
    # ŷ' = (1.56 + 0.56 + 6 + 0.72, 3.12 + 0.84 + 8 + 0.72) = (8.84, 12.68)
    "yhat_next": (R(884, 100), R(1268, 100)),
    # L' = ½ (6.84² + 8.68²) = ½ (46.7856 + 75.3424)
    "loss_next": R(1221280, 20000),
}


def mismatches(actual: object, expected: object, name: str = "") -> list[str]:
    """Where two exact values or vectors differ ("" when equal); never rounds."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return [f"{name}: {actual!r} != {expected!r}"]
        found: list[str] = []
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            found += mismatches(a, e, f"{name}[{index + 1}]")
        return found
    if expected is None or actual is None:
        return [] if actual is expected else [f"{name}: {actual!r} != {expected!r}"]
    difference = R(actual) - R(expected)  # exact: both sides are ints, Fractions or Rationals
    return [] if difference == 0 else [f"{name}: {actual} != {expected}"]


def step_mismatches(step: StepValues, truth: dict[str, Any]) -> list[str]:
    """Every field of ``truth`` compared with the same field of one step."""
    found: list[str] = []
    for key, expected in truth.items():
        found += mismatches(getattr(step, key), expected, key)
    return found


# ---------------------------------------------------------------------------------------
# an independent reference: plain loops over an explicitly padded input


def reference_steps(problem: Problem, *, variant: str = "") -> list[dict[str, Any]]:
    """Every quantity of ``problem.steps`` SGD steps, with ``Fraction`` arithmetic.

    ``variant`` breaks the layer on purpose: "flipped" (a true convolution), "off_by_one"
    (each window starts one position late) or "no_bias".
    """
    assert problem.x is not None and problem.w is not None and problem.y is not None
    n, k, s, p, d = problem.n, problem.k, problem.stride, problem.padding, problem.dilation
    x = [Fraction(int(v.p), int(v.q)) for v in problem.x]
    y = [Fraction(int(v.p), int(v.q)) for v in problem.y]
    w = [Fraction(int(v.p), int(v.q)) for v in problem.w]
    if problem.b is None:
        b: list[Fraction] = []
    elif isinstance(problem.b, tuple):
        b = [Fraction(int(v.p), int(v.q)) for v in problem.b]
    else:
        b = [Fraction(int(problem.b.p), int(problem.b.q))]
    lr = Fraction(int(problem.lr.p), int(problem.lr.q))

    # the padded input: p zeros (or the wrapped ends) on each side
    if problem.padding_mode == "zeros":
        padded = [Fraction(0)] * p + x + [Fraction(0)] * p
    else:
        padded = x[n - p :] + x + x[:p]
    m = len(range(0, len(padded) - d * (k - 1), s))

    def tap(i: int, j: int) -> int:
        """Position in the padded input read by output i, tap j (0-based)."""
        start = s * i + (1 if variant == "off_by_one" else 0)
        return start + d * j

    def read(position: int) -> Fraction:
        return padded[position] if position < len(padded) else Fraction(0)

    def forward(w: list[Fraction], b: list[Fraction]) -> list[Fraction]:
        kernel = w[::-1] if variant == "flipped" else w
        out = []
        for i in range(m):
            total = sum((kernel[j] * read(tap(i, j)) for j in range(k)), Fraction(0))
            if b and variant != "no_bias":
                total += b[i] if len(b) == m and problem.bias == "untied" else b[0]
            out.append(total)
        return out

    def loss(yhat: list[Fraction]) -> Fraction:
        squares = [(yi - hi) ** 2 for yi, hi in zip(y, yhat, strict=True)]
        return sum(squares, Fraction(0)) / (2 if problem.loss == "sse_half" else m)

    steps = []
    for _ in range(problem.steps):
        yhat = forward(w, b)
        # dL/dŷ_i: (ŷ_i − y_i) for ½Σ(·)², 2(ŷ_i − y_i)/m for the mean
        scale = Fraction(1) if problem.loss == "sse_half" else Fraction(2, m)
        g = [scale * (hi - yi) for hi, yi in zip(yhat, y, strict=True)]
        kernel = w[::-1] if variant == "flipped" else w
        grad_w = [Fraction(0)] * k
        grad_padded = [Fraction(0)] * (len(padded) + 1)
        for i in range(m):
            for j in range(k):
                grad_w[j] += g[i] * read(tap(i, j))
                grad_padded[tap(i, j)] += g[i] * kernel[j]
        if variant == "flipped":
            grad_w = grad_w[::-1]
        # fold the padded gradient back onto x: pads are dropped (zeros) or wrapped (circular)
        grad_x = grad_padded[p : p + n]
        if problem.padding_mode == "circular":
            for offset in range(p):
                grad_x[n - p + offset] += grad_padded[offset]
                grad_x[offset] += grad_padded[p + n + offset]
        if problem.bias == "none":
            grad_b = None
        elif problem.bias == "shared":
            grad_b = [sum(g, Fraction(0))]
        else:
            grad_b = list(g)
        w_next = [wj - lr * gj for wj, gj in zip(w, grad_w, strict=True)]
        b_next = None
        if grad_b is not None:
            b_next = [bi - lr * gi for bi, gi in zip(b, grad_b, strict=True)]
        yhat_next = forward(w_next, b_next or [])
        steps.append(
            {
                "w": tuple(w),
                "b": None if problem.bias == "none" else tuple(b),
                "yhat": tuple(yhat),
                "loss": loss(yhat),
                "grad_yhat": tuple(g),
                "grad_w": tuple(grad_w),
                "grad_b": None if grad_b is None else tuple(grad_b),
                "grad_x": tuple(grad_x),
                "w_next": tuple(w_next),
                "b_next": None if b_next is None else tuple(b_next),
                "yhat_next": tuple(yhat_next),
                "loss_next": loss(yhat_next),
            }
        )
        w, b = w_next, b_next or []
    return steps


def steps_of(problem: Problem) -> list[StepValues]:
    return evaluate_steps(derive_explicit(problem))


# ---------------------------------------------------------------------------------------
# the exercise, number by number


@pytest.mark.parametrize("key", list(EXERCISE_TRUTH))
def test_exercise_number(key: str) -> None:
    step = steps_of(load_problem("exercise2"))[0]
    assert mismatches(getattr(step, key), EXERCISE_TRUTH[key], key) == []


def test_exercise_numbers_are_exact_rationals() -> None:
    step = steps_of(load_problem("exercise2"))[0]
    assert step.w_next == (R(39, 25), R(7, 25), 2)
    assert step.b_next == (R(22, 25), R(21, 25))
    assert all(isinstance(v, Rational) for v in (*step.w_next, *step.b_next, step.loss_next))


@pytest.mark.parametrize("key", list(SHARED_TRUTH))
def test_shared_bias_number(key: str) -> None:
    problem = load_problem("exercise2", {"layer.bias": "shared", "values.b": 1})
    step = steps_of(problem)[0]
    assert mismatches(getattr(step, key), SHARED_TRUTH[key], key) == []


def test_hand_truth_agrees_with_the_reference() -> None:
    # the two independent routes agree before either is used against symconv
    for spec, truth in (
        ({}, EXERCISE_TRUTH),
        ({"layer.bias": "shared", "values.b": 1}, SHARED_TRUTH),
    ):
        reference = reference_steps(load_problem("exercise2", spec))[0]
        found = [m for key in truth for m in mismatches(reference[key], truth[key], key)]
        assert found == []


# deliberately wrong layers: each must change some number of the exercise
WRONG_VARIANTS = ["flipped", "off_by_one", "no_bias"]


@pytest.mark.parametrize("variant", WRONG_VARIANTS)
def test_a_wrong_layer_is_caught(variant: str) -> None:
    step = steps_of(load_problem("exercise2"))[0]
    wrong = reference_steps(load_problem("exercise2"), variant=variant)[0]
    assert step_mismatches(step, {key: wrong[key] for key in EXERCISE_TRUTH}) != []


@pytest.mark.parametrize(
    ("key", "wrong"),
    [
        ("grad_w", (100, 72, 44)),  # the kernel-flip answer
        ("grad_w", (44, 72, 101)),
        ("yhat", (13, 19)),  # the bias forgotten
        ("w_next", (R(156, 100), R(28, 100), R(2000001, 1000000))),
        ("loss_next", R(6322, 100) + R(1, 10**12)),
    ],
)
def test_a_wrong_hand_number_is_caught(key: str, wrong: object) -> None:
    step = steps_of(load_problem("exercise2"))[0]
    assert mismatches(getattr(step, key), wrong, key) != []


def test_mismatches_reports_shape_and_none() -> None:
    assert mismatches((1, 2), (1, 2, 3)) != []
    assert mismatches(None, (1,)) != []
    assert mismatches((1,), None) != []
    assert mismatches(None, None) == []


# ---------------------------------------------------------------------------------------
# several steps, against the Fraction loop

# (case id, problem settings) — all with values and three steps
MULTI_STEP: list[tuple[str, dict[str, Any]]] = [
    (
        "exercise",
        dict(n=4, k=3, bias="untied", x=[1, 2, 3, 4], w=[2, 1, 3], b=[1, 1], y=[2, 4]),
    ),
    (
        "exercise shared bias",
        dict(n=4, k=3, bias="shared", x=[1, 2, 3, 4], w=[2, 1, 3], b=1, y=[2, 4]),
    ),
    (
        "stride 2, zero padding, mse, fractions",
        dict(
            n=5,
            k=2,
            stride=2,
            padding=1,
            loss="mse",
            lr="1/10",
            bias="untied",
            x=[1, "-1/2", 3, 0, 2],
            w=["0.5", -1],
            b=[0, 1, "1/3"],
            y=[1, 0, -1],
        ),
    ),
    (
        "circular padding, dilation 2, no bias",
        dict(
            n=5,
            k=3,
            padding=2,
            dilation=2,
            padding_mode="circular",
            bias="none",
            lr="0.05",
            x=[2, -1, 0, 1, 3],
            w=[1, "1/2", -1],
            y=[1, 2, 0, -1, 1],
        ),
    ),
    (
        "circular, stride 3, shared bias, mse",
        dict(
            n=7,
            k=3,
            stride=3,
            padding=1,
            padding_mode="circular",
            bias="shared",
            loss="mse",
            lr="0.2",
            x=[1, 0, -2, 1, 1, 3, -1],
            w=[1, 2, "-0.5"],
            b="0.25",
            y=[0, 1, 2],
        ),
    ),
]


@pytest.mark.parametrize("settings", [c[1] for c in MULTI_STEP], ids=[c[0] for c in MULTI_STEP])
def test_three_steps_match_the_fraction_loop(
    make_problem: MakeProblem, settings: dict[str, Any]
) -> None:
    problem = make_problem(steps=3, **settings)
    steps = steps_of(problem)
    reference = reference_steps(problem)
    assert len(steps) == len(reference) == 3
    found: list[str] = []
    for number, (step, expected) in enumerate(zip(steps, reference, strict=True), start=1):
        found += [f"step {number}: {m}" for m in step_mismatches(step, expected)]
    assert found == []


@st.composite
def _problems_with_values(draw: st.DrawFn) -> dict[str, Any]:
    """Small valid layers with small fractional values, as make_problem settings."""
    n, k = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    stride, padding = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 2))
    mode = draw(st.sampled_from(["zeros", "circular"]))
    span = dilation * (k - 1) + 1
    if span > n + 2 * padding or (mode == "circular" and padding > n):
        k, dilation = 1, 1  # shrink the kernel to the smallest that always fits
        padding = min(padding, n)
    m = (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    bias = draw(st.sampled_from(["shared", "untied", "none"]))
    number = st.builds(lambda a, b: f"{a}/{b}", st.integers(-9, 9), st.integers(1, 4))
    values: dict[str, Any] = {
        "x": draw(st.lists(number, min_size=n, max_size=n)),
        "w": draw(st.lists(number, min_size=k, max_size=k)),
        "y": draw(st.lists(number, min_size=m, max_size=m)),
    }
    if bias == "shared":
        values["b"] = draw(number)
    elif bias == "untied":
        values["b"] = draw(st.lists(number, min_size=m, max_size=m))
    return dict(
        n=n,
        k=k,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=mode,
        bias=bias,
        loss=draw(st.sampled_from(["sse_half", "mse"])),
        lr=draw(st.sampled_from(["0.01", "1/3", "0.5"])),
        steps=2,
        **values,
    )


@settings(max_examples=40, deadline=None)
@given(settings_=_problems_with_values())
def test_steps_match_the_fraction_loop_property(
    make_problem: MakeProblem, settings_: dict[str, Any]
) -> None:
    problem = make_problem(**settings_)
    found = [
        m
        for step, ref in zip(steps_of(problem), reference_steps(problem), strict=True)
        for m in step_mismatches(step, ref)
    ]
    assert found == []


def test_steps_chain() -> None:
    steps = steps_of(load_problem("exercise2", {"optimizer.steps": 3}))
    for before, after in itertools.pairwise(steps):
        assert (after.w, after.b) == (before.w_next, before.b_next)
        assert (after.yhat, after.loss) == (before.yhat_next, before.loss_next)
    # the loss falls: 200, 63.22, ...
    assert steps[0].loss > steps[1].loss > steps[2].loss


@pytest.mark.parametrize("variant", WRONG_VARIANTS)
def test_a_wrong_multi_step_reference_is_caught(make_problem: MakeProblem, variant: str) -> None:
    problem = make_problem(steps=3, **MULTI_STEP[2][1])
    wrong = reference_steps(problem, variant=variant)
    found = [m for step, ref in zip(steps_of(problem), wrong) for m in step_mismatches(step, ref)]
    assert found != []


# ---------------------------------------------------------------------------------------
# gradients against SymPy diff of the full loss

# (n, k, stride, padding, dilation, padding_mode, bias, loss)
GRADIENT_CONFIGS: list[tuple[int, int, int, int, int, str, str, str]] = [
    (4, 3, 1, 0, 1, "zeros", "untied", "sse_half"),
    (5, 2, 2, 0, 1, "zeros", "shared", "mse"),
    (4, 2, 1, 1, 1, "zeros", "none", "sse_half"),
    (4, 3, 1, 1, 1, "circular", "untied", "mse"),
    (5, 2, 1, 0, 2, "zeros", "shared", "sse_half"),
    (5, 3, 2, 2, 2, "circular", "shared", "mse"),
    (6, 2, 2, 1, 2, "zeros", "untied", "mse"),
    (3, 2, 3, 2, 1, "circular", "none", "sse_half"),
]


def _config_id(config: tuple[Any, ...]) -> str:
    n, k, s, p, d, mode, bias, loss = config
    return f"n{n}-k{k}-s{s}-p{p}-d{d}-{mode}-{bias}-{loss}"


def _explicit(make_problem: MakeProblem, config: tuple[Any, ...]) -> ExplicitDerivation:
    n, k, s, p, d, mode, bias, loss = config
    problem = make_problem(
        n, k, stride=s, padding=p, dilation=d, padding_mode=mode, bias=bias, loss=loss
    )
    return derive_explicit(problem)


def symbolic_mismatches(pairs: Sequence[tuple[str, Expr, Expr]]) -> list[str]:
    """Names of the (name, actual, expected) pairs whose difference does not expand to 0."""
    return [name for name, actual, expected in pairs if expand(actual - expected) != 0]


def gradient_pairs(
    e: ExplicitDerivation, loss: Expr, *, flip_w: bool = False
) -> list[tuple[str, Expr, Expr]]:
    """(name, symconv's gradient in x, w, b, y, ∂loss/∂θ by SymPy diff) for every θ."""
    sym = e.symbols
    grad_w = e.grad_w[::-1] if flip_w else e.grad_w
    params = [*zip(sym.w, grad_w), *zip(sym.x, e.grad_x), *zip(sym.bias_list(), e.grad_b or ())]
    pairs = [(str(v), e.full(g), diff(loss, v)) for v, g in params]
    # ∂L/∂ŷ_i, in the placeholders ŷ_i, y_i
    pairs += [(str(v), g, diff(e.loss_of_yhat, v)) for v, g in zip(sym.yhat, e.grad_yhat)]
    return pairs


@pytest.mark.parametrize("config", GRADIENT_CONFIGS, ids=map(_config_id, GRADIENT_CONFIGS))
def test_gradients_are_the_derivatives_of_the_loss(
    make_problem: MakeProblem, config: tuple[Any, ...]
) -> None:
    e = _explicit(make_problem, config)
    pairs = gradient_pairs(e, e.loss)
    assert len(pairs) == e.problem.k + e.problem.n + len(e.symbols.bias_list()) + e.problem.m
    assert symbolic_mismatches(pairs) == []


@pytest.mark.parametrize("config", GRADIENT_CONFIGS, ids=map(_config_id, GRADIENT_CONFIGS))
def test_loss_is_the_defined_loss(make_problem: MakeProblem, config: tuple[Any, ...]) -> None:
    e = _explicit(make_problem, config)
    residuals = [(y - yh) ** 2 for y, yh in zip(e.symbols.y, e.symbols.yhat)]
    # sse_half: ½ Σ (y_i − ŷ_i)²;  mse: the mean of (y_i − ŷ_i)² over the m outputs
    weight = R(1, 2) if e.problem.loss == "sse_half" else R(1, e.problem.m)
    assert symbolic_mismatches([("loss", e.loss_of_yhat, weight * sum(residuals))]) == []


@pytest.mark.parametrize("config", GRADIENT_CONFIGS, ids=map(_config_id, GRADIENT_CONFIGS))
def test_update_is_one_sgd_step(make_problem: MakeProblem, config: tuple[Any, ...]) -> None:
    e = _explicit(make_problem, config)
    lr = e.problem.lr
    # θ' = θ − α·∂L/∂θ for every weight and bias
    updates = [*zip(e.symbols.w, e.grad_w, e.w_next)]
    updates += zip(e.symbols.bias_list(), e.grad_b or (), e.b_next or ())
    pairs = [(f"{v}'", nxt, v - lr * g) for v, g, nxt in updates]
    assert symbolic_mismatches(pairs) == []
    assert (e.b_next is None) == (e.problem.bias == "none")


def test_a_wrong_gradient_is_caught(make_problem: MakeProblem) -> None:
    e = _explicit(make_problem, GRADIENT_CONFIGS[0])
    # the flipped-kernel answer for ∂L/∂w
    assert symbolic_mismatches(gradient_pairs(e, e.loss, flip_w=True)) != []
    # a loss without the ½: every gradient would be off by a factor of 2
    assert set(symbolic_mismatches(gradient_pairs(e, 2 * e.loss))) >= {"w1", "x1", "b1"}


def test_a_missing_bias_is_caught(make_problem: MakeProblem) -> None:
    e = _explicit(make_problem, GRADIENT_CONFIGS[1])  # shared bias
    b = e.symbols.b
    assert isinstance(b, Symbol)
    assert symbolic_mismatches([("b", e.full(e.grad_b[0]), diff(e.loss.subs(b, 0), b))]) == ["b"]


# ---------------------------------------------------------------------------------------
# symbols and expressions

# (settings, names of x, w, b, y, yhat)
SYMBOL_CASES: list[tuple[dict[str, Any], list[str], list[str], Any, list[str]]] = [
    (
        dict(n=4, k=3, bias="untied"),
        ["x1", "x2", "x3", "x4"],
        ["w1", "w2", "w3"],
        ["b1", "b2"],
        ["1", "2"],
    ),
    (dict(n=4, k=3, bias="shared"), ["x1", "x2", "x3", "x4"], ["w1", "w2", "w3"], "b", ["1", "2"]),
    (dict(n=3, k=1, bias="none"), ["x1", "x2", "x3"], ["w1"], None, ["1", "2", "3"]),
]


@pytest.mark.parametrize(("settings", "xs", "ws", "bs", "outputs"), SYMBOL_CASES)
def test_symbols_are_named_from_one(
    make_problem: MakeProblem,
    settings: dict[str, Any],
    xs: list[str],
    ws: list[str],
    bs: Any,
    outputs: list[str],
) -> None:
    sym = derive_explicit(make_problem(**settings)).symbols
    assert [str(v) for v in sym.x] == xs
    assert [str(v) for v in sym.w] == ws
    if bs is None:
        assert sym.b is None
    elif isinstance(bs, str):
        assert str(sym.b) == bs
    else:
        assert isinstance(sym.b, tuple) and [str(v) for v in sym.b] == bs
    assert [str(v) for v in sym.y] == [f"y{i}" for i in outputs]
    assert [str(v) for v in sym.yhat] == [f"yhat{i}" for i in outputs]


def test_forward_expressions_of_the_exercise() -> None:
    e = derive_explicit(load_problem("exercise2"))
    x1, x2, x3, x4 = e.symbols.x
    w1, w2, w3 = e.symbols.w
    b1, b2 = e.symbols.b  # type: ignore[misc]
    # a cross-correlation: no kernel flip
    assert (
        symbolic_mismatches(
            [
                ("yhat1", e.yhat[0], w1 * x1 + w2 * x2 + w3 * x3 + b1),
                ("yhat2", e.yhat[1], w1 * x2 + w2 * x3 + w3 * x4 + b2),
            ]
        )
        == []
    )
    assert symbolic_mismatches([("flipped", e.yhat[0], w3 * x1 + w2 * x2 + w1 * x3 + b1)]) != []


# ---------------------------------------------------------------------------------------
# the window table, by hand

# (case id, settings, table of 0-based input indices; None reads a zero pad)
WINDOW_CASES: list[tuple[str, dict[str, Any], list[list[int | None]]]] = [
    ("exercise", dict(n=4, k=3), [[0, 1, 2], [1, 2, 3]]),
    ("stride 2", dict(n=5, k=2, stride=2), [[0, 1], [2, 3]]),
    ("stride 3, k 1", dict(n=7, k=1, stride=3), [[0], [3], [6]]),
    ("padding 1, zeros", dict(n=3, k=2, padding=1), [[None, 0], [0, 1], [1, 2], [2, None]]),
    (
        "padding 1, circular",
        dict(n=3, k=2, padding=1, padding_mode="circular"),
        [[2, 0], [0, 1], [1, 2], [2, 0]],
    ),
    ("dilation 2", dict(n=5, k=2, dilation=2), [[0, 2], [1, 3], [2, 4]]),
    (
        "stride 2, padding 2, dilation 2, zeros",
        dict(n=5, k=3, stride=2, padding=2, dilation=2),
        [[None, 0, 2], [0, 2, 4], [2, 4, None]],
    ),
    (
        "stride 2, padding 2, dilation 2, circular",
        dict(n=5, k=3, stride=2, padding=2, dilation=2, padding_mode="circular"),
        [[3, 0, 2], [0, 2, 4], [2, 4, 1]],
    ),
    (
        "circular padding = n",
        dict(n=2, k=1, padding=2, padding_mode="circular"),
        [[0], [1], [0], [1], [0], [1]],
    ),
    ("kernel as wide as the padded input", dict(n=2, k=4, padding=1), [[None, 0, 1, None]]),
]


@pytest.mark.parametrize(
    ("settings", "table"), [c[1:] for c in WINDOW_CASES], ids=[c[0] for c in WINDOW_CASES]
)
def test_window_table(
    make_problem: MakeProblem, settings: dict[str, Any], table: list[list[int | None]]
) -> None:
    problem = make_problem(**settings)
    assert problem.m == len(table)
    assert window_table(problem) == table


def test_window_table_drives_the_forward_pass(make_problem: MakeProblem) -> None:
    # stride 2, padding 2, dilation 2, circular: ŷ_3 = w1·x3 + w2·x5 + w3·x2 (+ b)
    e = derive_explicit(make_problem(**WINDOW_CASES[7][1]))
    x, w = e.symbols.x, e.symbols.w
    expected = w[0] * x[2] + w[1] * x[4] + w[2] * x[1] + e.symbols.b
    assert symbolic_mismatches([("yhat3", e.yhat[2], expected)]) == []


# ---------------------------------------------------------------------------------------
# the size guard

# (n, k, refused without force): the limit counts what is built, in 1-D with a shared
# bias m·k products + 10 per output entry + n + k + 1 symbols (m = n − k + 1), by hand:
SIZE_CASES = [
    (6_000, 4, False),  # 5997·4 + 59970 + 6000 + 5 = 89963
    (7_000, 4, True),  # 6997·4 + 69970 + 7000 + 5 = 104963
    (8_000, 1, False),  # 8000 + 80000 + 8000 + 2 = 96002
    (8_400, 1, True),  # 8400 + 84000 + 8400 + 2 = 100802
    (100_000, 64, True),
]


@pytest.mark.parametrize(("n", "k", "refused"), SIZE_CASES)
def test_check_explicit_size(make_problem: MakeProblem, n: int, k: int, refused: bool) -> None:
    problem = make_problem(n, k)
    m = n - k + 1
    assert (m * k + 10 * m + n + k + 1 > EXPLICIT_LIMIT) == refused
    check_explicit_size(problem, force=True)
    if refused:
        with pytest.raises(SizeError, match="closed"):
            check_explicit_size(problem)
    else:
        check_explicit_size(problem)


def test_derive_explicit_refuses_a_huge_layer(make_problem: MakeProblem) -> None:
    with pytest.raises(SizeError, match=r"--force"):
        derive_explicit(make_problem(100_000, 64))


# ---------------------------------------------------------------------------------------
# the local Jacobians, by hand


def test_jacobians_of_the_exercise() -> None:
    e = derive_explicit(load_problem("exercise2"))
    x1, x2, x3, x4 = e.symbols.x
    w1, w2, w3 = e.symbols.w
    assert e.jac_w.tolist() == [[x1, x2, x3], [x2, x3, x4]]
    assert e.jac_x.tolist() == [[w1, w2, w3, 0], [0, w1, w2, w3]]
    assert e.jac_b is not None and e.jac_b.tolist() == [[1, 0], [0, 1]]


def test_jacobian_adds_taps_that_read_the_same_input(make_problem: MakeProblem) -> None:
    # n = 2, k = 3, circular padding 1: x̃ = (x2, x1, x2, x1), so ŷ1 = w1·x2 + w2·x1 + w3·x2
    e = derive_explicit(make_problem(2, 3, padding=1, padding_mode="circular"))
    x1, x2 = e.symbols.x
    w1, w2, w3 = e.symbols.w
    assert e.jac_w.tolist() == [[x2, x1, x2], [x1, x2, x1]]
    assert (
        symbolic_mismatches(
            [
                ("J[1,1]", e.jac_x[0, 0], w2),
                ("J[1,2]", e.jac_x[0, 1], w1 + w3),
                ("J[2,1]", e.jac_x[1, 0], w1 + w3),
                ("J[2,2]", e.jac_x[1, 1], w2),
            ]
        )
        == []
    )
    assert e.jac_b is not None and e.jac_b.tolist() == [[1], [1]]  # one shared bias


@pytest.mark.parametrize("loss", ["sse_half", "mse"])
@pytest.mark.parametrize("bias", ["shared", "untied", "none"])
def test_fast_products_are_canonical_sympy_expressions(
    make_problem: MakeProblem, loss: str, bias: str
) -> None:
    # derive_explicit assembles products without re-sorting their factors: each must equal
    # (and hash like) the product SymPy builds itself, or later arithmetic would not cancel
    from sympy import Add, Mul

    e = derive_explicit(
        load_problem(
            None,
            {
                "layer.input_length": 11,
                "layer.kernel_size": 4,
                "layer.stride": 2,
                "layer.padding": 1,
                "layer.bias": bias,
                "loss.kind": loss,
            },
        )
    )
    for expr in (*e.yhat, *e.grad_w, *e.grad_x):
        for term in Add.make_args(expr):
            rebuilt = Mul(*term.args) if isinstance(term, Mul) else term
            assert rebuilt == term and hash(rebuilt) == hash(term)
        assert (
            expr - Add(*[Mul(*t.args) if isinstance(t, Mul) else t for t in Add.make_args(expr)])
            == 0
        )
