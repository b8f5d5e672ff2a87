"""Kernels printed from the closed form and lambdified from the explicit form."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symconv.crosscheck import Batch, exact_quantities, random_batch, random_problem
from symconv.kernels import generate, lambdify_explicit
from symconv.problem import load_problem
from symconv.reference import numpy_conv
from symconv.symbolic.explicit import derive_explicit

# The exercise's numbers, by hand (design.md)
EXERCISE = {
    "yhat": [[14, 20]],
    "loss": 200,
    "grad_yhat": [[12, 16]],
    "grad_w": [44, 72, 100],
    "grad_b": [12, 16],
    "grad_x": [[24, 44, 52, 48]],
    "w_next": [1.56, 0.28, 2],
    "b_next": [0.88, 0.84],
    "yhat_next": [[9, 12.8]],
    "loss_next": 63.22,
}


def exercise_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array([[1.0, 2, 3, 4]]),
        np.array([2.0, 1, 3]),
        np.array([1.0, 1]),
        np.array([[2.0, 4]]),
    )


@pytest.mark.parametrize("kind", ["generated", "lambdified"])
def test_exercise_numbers(kind: str) -> None:
    problem = load_problem("exercise2")
    x, w, b, y = exercise_arrays()
    if kind == "generated":
        out = generate(problem).step(x, w, b, y, 0.01)
    else:
        out = lambdify_explicit(derive_explicit(problem)).step(x, w, b, y, 0.01)
    for key, expected in EXERCISE.items():
        np.testing.assert_allclose(out[key], expected, rtol=1e-12, err_msg=key)


def test_generated_source_is_strided_slices_from_the_closed_form() -> None:
    problem = load_problem(
        None,
        {"layer.input_length": 10, "layer.kernel_size": 3, "layer.stride": 2, "layer.dilation": 2},
    )
    source = generate(problem).source
    # output i, tap j reads padded position 2(i−1) + 2(j−1) + 1: taps start at 0, 2, 4, step 2
    assert "w[0] * xpad[:, 0:" in source
    assert "w[1] * xpad[:, 2:" in source
    assert "w[2] * xpad[:, 4:" in source
    assert source.count(":2]") >= 9  # forward, grad_w and grad_x all stride by 2
    assert "Sum" not in source and "sympy" not in source


def test_generated_kernels_are_cached_per_layer_not_per_value() -> None:
    a = load_problem("exercise2")
    b = load_problem("exercise2", {"values.x": "5,6,7,8"})
    assert generate(a) is generate(b)


CONFIGS = st.builds(
    lambda seed: random_problem(random.Random(seed)), st.integers(min_value=0, max_value=10**6)
)


@settings(max_examples=60, deadline=None)
@given(CONFIGS, st.integers(min_value=0, max_value=10**6))
def test_generated_kernels_equal_the_exact_truth(problem, seed) -> None:  # type: ignore[no-untyped-def]
    batch = random_batch(problem, random.Random(seed))
    truth = exact_quantities(derive_explicit(problem), batch, problem.lr)
    x = np.array([[float(v) for v in row] for row in batch.x])
    y = np.array([[float(v) for v in row] for row in batch.y])
    w = np.array([float(v) for v in batch.w])
    b = None
    if batch.b is not None:
        b = np.array([float(v) for v in batch.b]) if problem.bias == "untied" else float(batch.b[0])
    out = generate(problem).step(x, w, b, y, float(problem.lr))
    for key, expected in truth.items():
        if expected is None:
            assert out[key] is None
            continue
        exact = np.array(expected, dtype=object).astype(float)
        np.testing.assert_allclose(out[key], exact, rtol=1e-9, atol=1e-9, err_msg=key)


def test_a_broken_slice_is_caught() -> None:
    # the same comparison fails for a kernel whose source is off by one position
    problem = load_problem("exercise2")
    kernels = generate(problem)
    broken_source = kernels.source.replace("xpad[:, 0:2:1]", "xpad[:, 1:3:1]", 1)
    namespace: dict[str, object] = {"numpy": np}
    exec(compile(broken_source, "<broken>", "exec"), namespace)  # test-only: our own source
    x, w, b, _y = exercise_arrays()
    yhat = namespace["forward"](kernels.pad(x), w, b)  # type: ignore[operator]
    assert not np.allclose(yhat, EXERCISE["yhat"])


def test_float32_stays_float32() -> None:
    problem = load_problem("exercise2")
    x, w, b, y = (a.astype(np.float32) for a in exercise_arrays())
    out = generate(problem).step(x, w, b, y, 0.01)
    for key in ("yhat", "grad_w", "grad_x", "w_next", "yhat_next"):
        assert out[key].dtype == np.float32, key


def test_circular_fold_matches_the_reference_adjoint() -> None:
    # n = 2 with p = 2: every input is read through two wraps
    problem = load_problem(
        None,
        {
            "layer.input_length": 2,
            "layer.kernel_size": 3,
            "layer.padding": 2,
            "layer.padding_mode": "circular",
        },
    )
    rng = np.random.default_rng(0)
    w = rng.normal(size=problem.k)
    layer = numpy_conv.Layer.from_problem(problem)
    x = rng.normal(size=(3, problem.n))
    y = rng.normal(size=(3, problem.m))
    reference = numpy_conv.backward(layer, x, w, np.float64(0.0), y)
    kernels = generate(problem)
    ours = kernels.grad_x(kernels.grad_yhat(kernels.forward(kernels.pad(x), w, 0.0), y), w)
    np.testing.assert_allclose(ours, reference["grad_x"], rtol=1e-12)


def test_batch_of_exact_values() -> None:
    problem = load_problem("exercise2")
    batch = Batch.of_problem(problem)
    truth = exact_quantities(derive_explicit(problem), batch, problem.lr)
    assert truth["grad_w"] == [44, 72, 100]
    assert truth["loss_next"] == pytest.approx(63.22)
