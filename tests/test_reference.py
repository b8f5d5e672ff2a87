"""The references (NumPy, PyTorch, finite differences) against the exercise, the exact
explicit derivation and each other, on 1-D, 2-D and 3-D layers.

Every comparison goes through one helper, :func:`mismatches`; ``tol=0`` is exact
equality, used wherever the truth is exactly representable and the arithmetic stays
exact (small integers, a dyadic learning rate).  The helper is shown able to fail here
(:func:`test_the_comparison_can_fail`) and for every mutant in ``test_mutants.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from symconv.arrays import ProblemArrays, problem_arrays
from symconv.errors import UsageError
from symconv.layer import Layer, make_layer
from symconv.problem import Problem, load_problem, problem_from_dict
from symconv.reference import finite_diff as fd
from symconv.reference import numpy_conv as nc
from symconv.reference import torch_conv as tc
from symconv.symbolic.explicit import QUANTITIES, derive_explicit, evaluate_steps

Backend = Callable[[Layer, str, Any, Any, Any, Any, float], Mapping[str, Any]]

# ---------------------------------------------------------------------------------------
# cases

# The exercise (untied bias) and its variant with one shared bias: the truth by hand,
# in the full shapes (batch, channels, positions) of symconv.arrays.
EXERCISE_TRUTH: dict[str, Any] = {
    "yhat": [[[14, 20]]],
    "loss": 200,
    "grad_yhat": [[[12, 16]]],
    "grad_w": [[[44, 72, 100]]],
    "grad_b": [[12, 16]],
    "grad_x": [[[24, 44, 52, 48]]],
    "w_next": [[[1.56, 0.28, 2]]],
    "b_next": [[0.88, 0.84]],
    "yhat_next": [[[9, 12.8]]],
    "loss_next": 63.22,
}
SHARED_TRUTH: dict[str, Any] = {
    **{key: EXERCISE_TRUTH[key] for key in ("yhat", "loss", "grad_yhat", "grad_w", "grad_x")},
    "w_next": [[[1.56, 0.28, 2]]],
    "grad_b": [28],
    "b_next": [0.72],
}
EXERCISE_CASES = {
    "untied": ({}, EXERCISE_TRUTH),
    "shared": ({"layer.bias": "shared", "values.b": 1}, SHARED_TRUTH),
}

# Tolerances, relative to the size of each quantity (see `mismatches`).
TOL_EXACT = 1e-12  # float64 backends on values that are not exactly representable
TOL_FINITE = 1e-7  # central differences in float64 (rounding only; see finite_diff)
TOL_FLOAT32 = 2e-5  # a float32 backend vs the float64 truth

# Small layers for the exact comparison with the explicit derivation: every axis count,
# channels, groups 2, batch 2, stride, dilation, asymmetric padding, circular, every bias
# mode and every loss kind.  (name: layer table, loss kind, learning rate)
GRID: dict[str, tuple[dict[str, Any], str, str]] = {
    "1d-exercise-like": ({"input_shape": [5], "kernel_size": 3}, "sse_half", "0.125"),
    "1d-stride-asym": (
        {"input_shape": [6], "kernel_size": 2, "stride": 2, "padding": [[1, 0]],
         "bias": "untied"}, "sse_half", "0.25"),
    "1d-circular-dilated": (
        {"input_shape": [5], "kernel_size": 2, "dilation": 2, "padding": [[2, 1]],
         "padding_mode": "circular"}, "mse", "0.1"),
    "1d-groups-batch": (
        {"input_shape": [4], "kernel_size": 2, "in_channels": 2, "out_channels": 4,
         "groups": 2, "batch": 2, "bias": "shared"}, "upstream", "0.125"),
    "1d-channels-mse16": (
        {"input_shape": [5], "kernel_size": 2, "in_channels": 2, "out_channels": 2,
         "batch": 2, "bias": "none"}, "mse", "0.0625"),
    "2d-conv2d-like": (
        {"input_shape": [4, 4], "kernel_size": 2, "in_channels": 2}, "sse_half", "0.01"),
    "2d-stride-asym-untied": (
        {"input_shape": [4, 3], "kernel_size": 2, "stride": [2, 1],
         "padding": [[1, 0], [0, 1]], "bias": "untied", "in_channels": 2, "out_channels": 4,
         "groups": 2, "batch": 2}, "sse_half", "0.125"),
    "2d-circular-groups": (
        {"input_shape": [3, 4], "kernel_size": [3, 2], "padding": 1, "dilation": [1, 2],
         "padding_mode": "circular", "in_channels": 2, "out_channels": 2, "groups": 2,
         "bias": "none"}, "mse", "0.2"),
    "2d-dilated-upstream": (
        {"input_shape": [5, 5], "kernel_size": 2, "dilation": 2, "stride": [1, 2],
         "in_channels": 3, "out_channels": 2, "bias": "untied"}, "upstream", "0.5"),
    "3d-shared-batch": (
        {"input_shape": [3, 3, 2], "kernel_size": [2, 2, 1], "in_channels": 2,
         "out_channels": 2, "batch": 2}, "sse_half", "0.125"),
    "3d-circular-everything": (
        {"input_shape": [2, 3, 3], "kernel_size": [1, 2, 2], "stride": [1, 2, 1],
         "padding": [[0, 0], [1, 0], [0, 1]], "padding_mode": "circular", "in_channels": 2,
         "out_channels": 4, "groups": 2, "batch": 2, "bias": "untied"}, "upstream", "0.25"),
    "3d-dilated-mse": (
        {"input_shape": [3, 2, 4], "kernel_size": 2, "dilation": [2, 1, 3],
         "padding": [[1, 1], [0, 0], [0, 1]], "bias": "shared", "out_channels": 2},
        "mse", "0.125"),
}


# ---------------------------------------------------------------------------------------
# problems and their exact truth


def with_values(layer_table: Mapping[str, Any], kind: str, lr: str, *, seed: int) -> Problem:
    """A validated problem on ``layer_table`` with small random integer values in -3..3."""
    raw: dict[str, Any] = {
        "layer": dict(layer_table),
        "loss": {"kind": kind},
        "optimizer": {"learning_rate": lr},
    }
    layer = problem_from_dict(raw).layer
    rng = np.random.default_rng(seed)

    def integers(shape: tuple[int, ...]) -> Any:
        return rng.integers(-3, 4, size=shape).tolist()

    values = {"x": integers(layer.x_shape), "w": integers(layer.w_shape)}
    if layer.b_shape is not None:
        values["b"] = integers(layer.b_shape)
        if layer.b_shape == (1,) and layer.bias == "shared":
            values["b"] = values["b"][0]  # one shared bias is written as a number
    values["grad_yhat" if kind == "upstream" else "y"] = integers(layer.y_shape)
    return problem_from_dict({**raw, "values": values})


@cache
def grid_problem(name: str) -> Problem:
    layer_table, kind, lr = GRID[name]
    return with_values(layer_table, kind, lr, seed=sorted(GRID).index(name))


@cache
def exact_truth(problem: Problem) -> tuple[dict[str, Any], bool]:
    """The explicit derivation's exact values of step 1 as Fractions in the full shapes
    (lists nested like numpy arrays; None where absent), and whether float64 arithmetic
    reproduces them exactly (every value representable; no 1/N that is not dyadic)."""
    layer = problem.layer
    values = evaluate_steps(derive_explicit(problem))[0]
    shapes = {"yhat": layer.y_shape, "grad_yhat": layer.y_shape, "yhat_next": layer.y_shape,
              "grad_w": layer.w_shape, "w_next": layer.w_shape, "grad_b": layer.b_shape,
              "b_next": layer.b_shape, "grad_x": layer.x_shape, "loss": (), "loss_next": ()}
    truth: dict[str, Any] = {}
    representable = True
    for key in QUANTITIES:
        value = getattr(values, key)
        if value is None:
            truth[key] = None
            continue
        flat = [Fraction(int(v.p), int(v.q)) for v in (value if isinstance(value, tuple)
                                                       else (value,))]
        representable &= all(Fraction(float(v)) == v for v in flat)
        truth[key] = np.array(flat, dtype=object).reshape(shapes[key])
    count = math.prod(layer.y_shape)
    dyadic = problem.loss != "mse" or count & (count - 1) == 0
    return truth, representable and dyadic


def as_floats(truth: Mapping[str, Any]) -> dict[str, Any]:
    return {key: None if v is None else np.asarray(v, dtype=np.float64)
            for key, v in truth.items()}


def run(backend: Backend, problem: Problem, dtype: Any = np.float64) -> Mapping[str, Any]:
    a = problem_arrays(problem, dtype)
    return backend(problem.layer, problem.loss, a.x, a.w, a.b, a.target, a.lr)


# ---------------------------------------------------------------------------------------
# the comparison helper


def mismatches(
    expected: Mapping[str, Any], actual: Mapping[str, Any], *, tol: float
) -> dict[str, str]:
    """The quantities (keys of both) where ``actual`` differs from ``expected``.

    Entry-wise ``|actual − expected| ≤ tol · max(1, max|expected|)``: a relative
    tolerance on the quantity's scale, absolute for quantities of size below one; with
    ``tol=0`` exact equality (``expected`` may hold Fractions, compared exactly).
    Returns ``{quantity: message}``; empty when everything agrees.
    """
    found: dict[str, str] = {}
    for key in expected.keys() & actual.keys():
        want, got = expected[key], actual[key]
        if want is None or got is None:
            if want is not got:
                found[key] = f"{key}: expected {want!r}, got {got!r}"
            continue
        want_array = np.asarray(want)
        got_array = np.asarray(got)
        if want_array.shape != got_array.shape:
            found[key] = f"{key}: shape {got_array.shape} != expected {want_array.shape}"
            continue
        if tol == 0:
            # exact: every float read as the rational number it is
            wrong = [(w, g) for w, g in zip(want_array.ravel(), got_array.ravel())
                     if not np.isfinite(g) or Fraction(w) != Fraction(float(g))]
            if wrong:
                found[key] = f"{key}: {len(wrong)} entries differ, e.g. {wrong[0]}"
            continue
        want_float = want_array.astype(np.float64)
        got_float = got_array.astype(np.float64)
        scale = max(1.0, float(np.max(np.abs(want_float), initial=0.0)))
        error = float(np.max(np.abs(got_float - want_float), initial=0.0))
        if not error <= tol * scale:  # also catches NaN
            found[key] = (
                f"{key}: max abs error {error:.3g} > {tol:g}·{scale:.3g}\n"
                f"  expected {want_float.tolist()}\n  got      {got_float.tolist()}"
            )
    return found


def assert_agree(expected: Mapping[str, Any], actual: Mapping[str, Any], *, tol: float) -> None:
    found = mismatches(expected, actual, tol=tol)
    assert not found, "\n".join(found.values())


# ---------------------------------------------------------------------------------------
# backends: (layer, kind, x, w, b, target, lr) -> quantities


def finite_backend(
    layer: Layer, kind: str, x: Any, w: Any, b: Any, target: Any, lr: float
) -> dict[str, Any]:
    """Finite-difference gradients and the SGD step taken with them."""
    grads = fd.loss_gradients(layer, kind, x, w, b, target)
    grads["w_next"] = np.asarray(w) - lr * grads["grad_w"]
    grads["b_next"] = None if b is None else np.asarray(b) - lr * grads["grad_b"]
    return grads


BACKENDS: dict[str, Backend] = {"numpy": nc.step, "torch": tc.step, "finite": finite_backend}
BACKEND_TOL = {"numpy": 0.0, "torch": 0.0, "finite": TOL_FINITE}


# ---------------------------------------------------------------------------------------
# the exercise


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", EXERCISE_CASES)
def test_exercise(backend: str, case: str) -> None:
    overrides, truth = EXERCISE_CASES[case]
    result = run(BACKENDS[backend], load_problem("exercise2", overrides))
    assert {"grad_w", "grad_b", "grad_x", "w_next", "b_next"} <= result.keys()
    # integers are exact; 1.56, 0.88, 63.22 … are the nearest floats
    assert_agree(truth, result, tol=1e-15 if backend != "finite" else TOL_FINITE)


def test_exercise_gradcheck() -> None:
    p = load_problem("exercise2")
    a = problem_arrays(p)
    assert tc.gradcheck_loss(p.layer, p.loss, a.x, a.w, a.b, a.target)


def test_the_comparison_can_fail() -> None:
    # the exercise with its kernel reversed (a true convolution) is not the exercise
    p = load_problem("exercise2")
    a = problem_arrays(p)
    wrong = nc.step(p.layer, p.loss, a.x, a.w[..., ::-1], a.b, a.target, a.lr)
    assert {"yhat", "loss", "grad_yhat", "grad_x"} <= mismatches(EXERCISE_TRUTH, wrong,
                                                                 tol=TOL_EXACT).keys()
    truth, _ = exact_truth(grid_problem("2d-stride-asym-untied"))
    shifted = dict(run(nc.step, grid_problem("2d-stride-asym-untied")))
    shifted["grad_x"] = np.roll(shifted["grad_x"], 1, axis=-1)
    assert set(mismatches(truth, shifted, tol=0)) == {"grad_x"}


# ---------------------------------------------------------------------------------------
# the exact truth of the explicit derivation, over the grid


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("name", GRID)
def test_grid_matches_the_explicit_derivation(name: str, backend: str) -> None:
    problem = grid_problem(name)
    truth, exact = exact_truth(problem)
    result = run(BACKENDS[backend], problem)
    assert result.keys() == set(QUANTITIES)
    assert_agree(truth if exact else as_floats(truth), result, tol=0 if exact else TOL_EXACT)


def test_the_grid_covers_every_setting() -> None:
    layers = [grid_problem(name).layer for name in GRID]
    kinds = {grid_problem(name).loss for name in GRID}
    assert {layer.ndim for layer in layers} == {1, 2, 3}
    assert {layer.bias for layer in layers} == {"shared", "untied", "none"}
    assert {layer.padding_mode for layer in layers} == {"zeros", "circular"}
    assert kinds == {"sse_half", "mse", "upstream"}
    assert any(layer.groups == 2 and layer.batch == 2 for layer in layers)
    assert any(layer.symmetric_padding is None for layer in layers)
    assert any(max(layer.stride) > 1 for layer in layers)
    assert any(max(layer.dilation) > 1 for layer in layers)
    # and most of it is compared exactly
    assert sum(exact_truth(grid_problem(name))[1] for name in GRID) >= 8


@pytest.mark.parametrize("name", ["1d-stride-asym", "2d-circular-groups", "3d-dilated-mse",
                                  "3d-circular-everything"])
def test_grid_finite_differences(name: str) -> None:
    problem = grid_problem(name)
    truth, _ = exact_truth(problem)
    assert_agree(as_floats(truth), run(finite_backend, problem), tol=TOL_FINITE)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("name", ["2d-stride-asym-untied", "3d-circular-everything",
                                  "1d-circular-dilated"])
def test_float32_follows_the_input(name: str, backend: str) -> None:
    problem = grid_problem(name)
    truth, _ = exact_truth(problem)
    result = run(BACKENDS[backend], problem, np.float32)
    assert all(v.dtype == np.float32 for v in result.values() if v is not None)
    assert_agree(as_floats(truth), result, tol=TOL_FLOAT32)


@pytest.mark.parametrize("name", ["conv2d_small", "mnist_conv1", "mnist_conv2"])
def test_builtin_problems_numpy_equals_torch(name: str) -> None:
    problem = load_problem(name)
    assert_agree(run(tc.step, problem), run(nc.step, problem), tol=TOL_EXACT)


def test_conv2d_small_matches_the_explicit_derivation() -> None:
    problem = load_problem("conv2d_small")
    truth, _ = exact_truth(problem)
    assert_agree(as_floats(truth), run(nc.step, problem), tol=TOL_EXACT)


# ---------------------------------------------------------------------------------------
# the building blocks, by hand


def test_window_positions_by_hand() -> None:
    # n = 7, k = 3, stride 2, dilation 2, padding (1, 2): starts 0, 2, 4; taps +0, +2, +4
    layer = make_layer(input_shape=[7], kernel_size=3, stride=2, dilation=2, padding=[[1, 2]])
    assert [t.tolist() for t in nc.padded_positions(layer)] == [[[0, 2, 4], [2, 4, 6],
                                                                 [4, 6, 8]]]
    assert nc.padded_sources(layer)[0].tolist() == [-1, 0, 1, 2, 3, 4, 5, 6, -1, -1]


def test_groups_read_their_own_channels() -> None:
    # 4 → 2 channels in 2 groups, 1×1 kernel of ones: ŷ[co] = x[2co] + x[2co + 1]
    layer = make_layer(input_shape=[1], kernel_size=1, in_channels=4, out_channels=2,
                       groups=2, bias="none")
    x = np.array([[[1.0], [2.0], [30.0], [40.0]]])
    assert nc.forward(layer, x, np.ones((2, 2, 1)), None).tolist() == [[[3.0], [70.0]]]


def test_circular_reads_fold_back_onto_the_input() -> None:
    # n = 2, p = 2 (as wide as the input): the padded input is x1 x2 | x1 x2 | x1 x2, and a
    # 1-tap kernel reads each padded position once: every x_t is read three times.
    layer = make_layer(input_shape=[2], kernel_size=1, padding=2, padding_mode="circular",
                       bias="none")
    x, w, g = np.array([[[1.0, 2.0]]]), np.ones((1, 1, 1)), np.ones((1, 1, 6))
    grad_x, _, _ = nc.backward(layer, x, w, None, g)
    assert grad_x.tolist() == [[[3.0, 3.0]]]  # Σ over the 3 copies of ∂ŷ/∂x_t = 1
    result = tc.step(layer, "upstream", x, w, None, g, 0.1)
    assert_agree({"grad_x": grad_x}, result, tol=0)


def test_pad_and_gather_have_their_adjoints() -> None:
    # ⟨pad(x), g⟩ = ⟨x, unpad(g)⟩ and ⟨gather(v), u⟩ = ⟨v, scatter(u)⟩ on a 3-D layer
    layer = make_layer(input_shape=[3, 2, 4], kernel_size=[2, 2, 3], stride=[2, 1, 1],
                       dilation=[1, 1, 2], padding=[[1, 0], [2, 1], [0, 2]],
                       padding_mode="circular", in_channels=2)
    rng = np.random.default_rng(3)
    x = rng.integers(-5, 6, size=layer.x_shape).astype(float)
    padded = nc.pad(layer, x)
    g = rng.integers(-5, 6, size=padded.shape).astype(float)
    assert np.sum(padded * g) == np.sum(x * nc.unpad(layer, g))
    positions = nc.padded_positions(layer)
    windows = nc.gather(padded, positions)
    u = rng.integers(-5, 6, size=windows.shape).astype(float)
    assert np.sum(windows * u) == np.sum(padded * nc.scatter(u, positions, padded.shape))


def test_losses_over_every_entry() -> None:
    # sse_half sums the examples' losses; mse averages over batch × channels × positions
    yhat, y = np.array([[[1.0, 2.0]], [[3.0, 5.0]]]), np.zeros((2, 1, 2))
    assert nc.loss("sse_half", yhat, y) == 0.5 * (1 + 4 + 9 + 25)
    assert nc.loss("mse", yhat, y) == (1 + 4 + 9 + 25) / 4
    assert nc.loss_gradient("mse", yhat, y).tolist() == [[[0.5, 1.0]], [[1.5, 2.5]]]
    assert nc.loss_gradient("upstream", yhat, y).tolist() == y.tolist()
    with pytest.raises(UsageError, match="upstream"):
        nc.loss("upstream", yhat, y)
    with pytest.raises(UsageError, match="`kind`"):
        nc.loss_gradient("sse", yhat, y)


def test_batch_gradients_are_sums_over_examples() -> None:
    problem = grid_problem("2d-stride-asym-untied")  # sse_half, batch 2
    a = problem_arrays(problem)
    layer = problem.layer
    whole = nc.step(layer, problem.loss, a.x, a.w, a.b, a.target, a.lr)
    parts = [nc.step(layer, problem.loss, a.x[i : i + 1], a.w, a.b, a.target[i : i + 1], a.lr)
             for i in range(2)]
    for key in ("loss", "grad_w", "grad_b"):
        assert np.array_equal(whole[key], parts[0][key] + parts[1][key]), key
    assert np.array_equal(whole["grad_x"], np.concatenate([p["grad_x"] for p in parts]))


def test_shape_errors_name_the_argument() -> None:
    p = load_problem("exercise2")
    a = problem_arrays(p)
    with pytest.raises(UsageError, match="`x`"):
        nc.forward(p.layer, a.x[0], a.w, a.b)
    with pytest.raises(UsageError, match="`w`"):
        nc.forward(p.layer, a.x, a.w[0], a.b)
    with pytest.raises(UsageError, match="`b`"):
        nc.forward(p.layer, a.x, a.w, 1.0)
    with pytest.raises(UsageError, match="`target`"):
        nc.step(p.layer, p.loss, a.x, a.w, a.b, a.target[0], a.lr)
    with pytest.raises(UsageError, match="`grad_yhat`"):
        nc.backward(p.layer, a.x, a.w, a.b, np.zeros((1, 1, 3)))


def test_finite_differences_refuse_large_layers() -> None:
    p = load_problem("mnist_conv1")
    a = problem_arrays(p)
    with pytest.raises(UsageError, match="max_entries"):
        fd.loss_gradients(p.layer, p.loss, a.x, a.w, a.b, a.target)


# ---------------------------------------------------------------------------------------
# random layers


@st.composite
def configs(draw: st.DrawFn) -> tuple[Layer, str, ProblemArrays]:
    """A valid random small layer (1–3 axes), a loss kind and random values."""
    dims = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 6 if dims == 1 else 4)) for _ in range(dims)]
    kernel = [draw(st.integers(1, 3)) for _ in range(dims)]
    padding = [[draw(st.integers(0, 2)), draw(st.integers(0, 2))] for _ in range(dims)]
    groups = draw(st.integers(1, 2))
    try:
        layer = make_layer(
            input_shape=shape,
            kernel_size=kernel,
            stride=[draw(st.integers(1, 3)) for _ in range(dims)],
            dilation=[draw(st.integers(1, 2)) for _ in range(dims)],
            padding=padding,
            padding_mode=draw(st.sampled_from(["zeros", "circular"])),
            bias=draw(st.sampled_from(["shared", "untied", "none"])),
            in_channels=groups * draw(st.integers(1, 2)),
            out_channels=groups * draw(st.integers(1, 2)),
            groups=groups,
            batch=draw(st.integers(1, 2)),
        )
    except Exception:  # the kernel does not fit, or circular padding wraps twice
        assume(False)
        raise
    kind = draw(st.sampled_from(["sse_half", "mse", "upstream"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = ProblemArrays(
        x=rng.normal(size=layer.x_shape) * 2,
        w=rng.normal(size=layer.w_shape),
        b=None if layer.b_shape is None else rng.normal(size=layer.b_shape),
        target=rng.normal(size=layer.y_shape) * 3,
        lr=float(rng.uniform(0.001, 0.2)),
    )
    return layer, kind, values


def fast(examples: int) -> settings:
    """Hypothesis settings: ``examples`` cases, no deadline (torch's first call is slow)."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.filter_too_much])


def _call(backend: Backend, config: tuple[Layer, str, ProblemArrays], dtype: Any = np.float64
          ) -> Mapping[str, Any]:
    layer, kind, v = config
    b = None if v.b is None else v.b.astype(dtype)
    return backend(layer, kind, v.x.astype(dtype), v.w.astype(dtype), b,
                   v.target.astype(dtype), v.lr)


@fast(60)
@given(configs())
def test_numpy_torch_finite_agree(config: tuple[Layer, str, ProblemArrays]) -> None:
    layer, kind, _ = config
    reference = _call(nc.step, config)
    assert reference["yhat"].shape == layer.y_shape
    assert (reference["loss"] is None) == (kind == "upstream")
    assert_agree(_call(tc.step, config), reference, tol=TOL_EXACT)
    assert_agree(reference, _call(finite_backend, config), tol=TOL_FINITE)


@fast(5)
@given(configs())
def test_gradcheck(config: tuple[Layer, str, ProblemArrays]) -> None:
    layer, kind, v = config
    assert tc.gradcheck_loss(layer, kind, v.x, v.w, v.b, v.target)


@fast(15)
@given(configs())
def test_float32_random(config: tuple[Layer, str, ProblemArrays]) -> None:
    reference = _call(tc.step, config)
    result = _call(nc.step, config, np.float32)
    assert all(v.dtype == np.float32 for v in result.values() if v is not None)
    assert_agree(reference, result, tol=TOL_FLOAT32)
