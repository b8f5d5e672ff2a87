"""The references (NumPy, PyTorch, finite differences) against the exercise and each other.

Every comparison goes through one helper, :func:`mismatches`, and that helper is shown
able to fail: deliberately wrong variants of the layer are caught by it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from symconv.errors import ProblemError, UsageError
from symconv.problem import load_problem
from symconv.reference import finite_diff as fd
from symconv.reference import numpy_conv as nc
from symconv.reference import torch_conv as tc
from symconv.reference.numpy_conv import Layer

Backend = Callable[..., Mapping[str, Any]]

# ---------------------------------------------------------------------------------------
# cases

# The exercise (untied bias) and its variant with one shared bias: the truth.
EXERCISE_TRUTH: dict[str, Any] = {
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
SHARED_TRUTH: dict[str, Any] = {
    **{key: EXERCISE_TRUTH[key] for key in ("yhat", "loss", "grad_yhat", "grad_w", "grad_x")},
    "w_next": [1.56, 0.28, 2],
    "grad_b": 28,
    "b_next": 0.72,
}
EXERCISE_CASES = {
    "untied": ({}, EXERCISE_TRUTH),
    "shared": ({"layer.bias": "shared", "values.b": 1}, SHARED_TRUTH),
}

# Tolerances, relative to the size of each quantity (see `mismatches`).
# Measured worst cases over 1500 random configurations: 2.6e-15, 3.9e-9 and 2.3e-6.
TOL_EXACT = 1e-12  # NumPy vs PyTorch in float64: same sums, different order
TOL_FINITE = 1e-7  # central differences in float64 (rounding only; see finite_diff)
TOL_FLOAT32 = 2e-5  # a float32 backend vs the float64 NumPy reference

# A layer with room for the deliberate bugs: stride 2 (so ignoring it shows) and a padded
# input one position longer than the windows reach (so a window shifted by one still fits).
BUG_LAYER = {"layer.input_length": 8, "layer.kernel_size": 3, "layer.stride": 2,
             "layer.padding": 1, "layer.bias": "untied"}


# ---------------------------------------------------------------------------------------
# the comparison helper


def mismatches(
    expected: Mapping[str, Any], actual: Mapping[str, Any], *, tol: float
) -> dict[str, str]:
    """The quantities (keys of both) where ``actual`` differs from ``expected``.

    Entry-wise ``|actual − expected| ≤ tol · max(1, max|expected|)``: a relative
    tolerance on the quantity's scale, absolute for quantities of size below one.
    Returns ``{quantity: message}``; empty when everything agrees.
    """
    found: dict[str, str] = {}
    for key in expected.keys() & actual.keys():
        want, got = expected[key], actual[key]
        if want is None or got is None:
            if want is not got:
                found[key] = f"{key}: expected {want!r}, got {got!r}"
            continue
        want_array = np.asarray(want, dtype=np.float64)
        got_array = np.asarray(got, dtype=np.float64)
        if want_array.shape != got_array.shape:
            found[key] = f"{key}: shape {got_array.shape} != expected {want_array.shape}"
            continue
        scale = max(1.0, float(np.max(np.abs(want_array), initial=0.0)))
        error = float(np.max(np.abs(got_array - want_array), initial=0.0))
        if not error <= tol * scale:  # also catches NaN
            found[key] = (
                f"{key}: max abs error {error:.3g} > {tol:g}·{scale:.3g}\n"
                f"  expected {want_array.tolist()}\n  got      {got_array.tolist()}"
            )
    return found


def assert_agree(expected: Mapping[str, Any], actual: Mapping[str, Any], *, tol: float) -> None:
    found = mismatches(expected, actual, tol=tol)
    assert not found, "\n".join(found.values())


# ---------------------------------------------------------------------------------------
# backends: (layer, x, w, b, y, lr) -> results keyed like `symconv derive --json`


def finite_backend(
    layer: Layer, x: Any, w: Any, b: Any, y: Any, lr: float
) -> dict[str, Any]:
    """Finite-difference gradients and the SGD step taken with them."""
    grads: dict[str, Any] = dict(fd.loss_gradients(layer, x, w, b, y))
    grads["w_next"] = np.asarray(w) - lr * grads["grad_w"]
    grads["b_next"] = None if b is None else np.asarray(b) - lr * grads["grad_b"]
    return grads


BACKENDS: dict[str, Backend] = {"numpy": nc.step, "torch": tc.step, "finite": finite_backend}
BACKEND_TOL = {"numpy": TOL_EXACT, "torch": TOL_EXACT, "finite": TOL_FINITE}


# ---------------------------------------------------------------------------------------
# the exercise


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", EXERCISE_CASES)
def test_exercise(backend: str, case: str) -> None:
    overrides, truth = EXERCISE_CASES[case]
    v = nc.from_problem(load_problem("exercise2", overrides))
    result = BACKENDS[backend](v.layer, v.x, v.w, v.b, v.y, v.lr)
    # every backend reports at least the gradients and the update
    assert {"grad_w", "grad_b", "grad_x", "w_next", "b_next"} <= result.keys()
    assert_agree(truth, result, tol=BACKEND_TOL[backend])


def test_exercise_gradcheck() -> None:
    v = nc.from_problem(load_problem("exercise2"))
    assert tc.gradcheck_loss(v.layer, v.x, v.w, v.b, v.y)


def test_from_problem_shapes_and_dtype() -> None:
    v = nc.from_problem(load_problem("exercise2", {"layer.bias": "shared", "values.b": 1}),
                        np.float32)
    assert (v.x.shape, v.w.shape, v.b is not None and v.b.shape, v.y.shape) == (
        (1, 4), (3,), (), (1, 2))
    assert v.x.dtype == v.w.dtype == np.float32
    assert v.lr == 0.01


def test_from_problem_without_values() -> None:
    with pytest.raises(UsageError, match="no \\[values\\]"):
        nc.from_problem(load_problem(None, {"layer.input_length": 4, "layer.kernel_size": 3}))


@pytest.mark.parametrize(
    ("settings_", "field"),
    [
        ({"n": 2, "k": 3}, "layer.kernel_size"),
        ({"n": 2, "k": 1, "padding": 3, "padding_mode": "circular"}, "layer.padding"),
        ({"n": 4, "k": 3, "bias": "tied"}, "layer.bias"),
        ({"n": 4, "k": 0}, "layer.kernel_size"),
    ],
)
def test_layer_rejects_invalid_settings(settings_: dict[str, Any], field: str) -> None:
    with pytest.raises(ProblemError) as info:
        Layer(**settings_)
    assert info.value.field == field


def test_shape_errors_name_the_argument() -> None:
    layer = Layer(n=4, k=3, bias="untied")
    with pytest.raises(UsageError, match="`x`"):
        nc.forward(layer, [1.0, 2, 3, 4], [2.0, 1, 3], [1.0, 1])
    with pytest.raises(UsageError, match="`b`"):
        nc.forward(layer, [[1.0, 2, 3, 4]], [2.0, 1, 3], 1.0)


def test_batch_loss_is_the_sum_of_sample_losses() -> None:
    layer = Layer(n=5, k=2, stride=2, padding=1, padding_mode="circular", bias="shared",
                  loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 5)), rng.normal(size=(3, layer.m))
    w, b = rng.normal(size=2), np.asarray(0.5)
    batch: Mapping[str, Any] = nc.backward(layer, x, w, b, y)
    samples: list[Mapping[str, Any]] = [
        nc.backward(layer, x[i : i + 1], w, b, y[i : i + 1]) for i in range(3)
    ]
    for key in ("loss", "grad_w", "grad_b"):
        assert np.allclose(batch[key], sum(s[key] for s in samples), rtol=1e-14, atol=1e-14)
    assert np.allclose(batch["grad_x"], np.concatenate([s["grad_x"] for s in samples]))


def test_circular_reads_fold_back_onto_the_input() -> None:
    # n = 2, p = 2 (as wide as the input): the padded input is x1 x2 | x1 x2 | x1 x2, and a
    # 1-tap kernel reads each padded position once: every x_t is read three times.
    layer = Layer(n=2, k=1, padding=2, padding_mode="circular", bias="none")
    grads = nc.backward(layer, [[1.0, 2.0]], [1.0], None, np.zeros((1, 6)))
    assert grads["grad_x"].tolist() == [[3.0, 6.0]]  # Σ over the 3 copies of ŷ = x
    assert_agree(tc.step(layer, [[1.0, 2.0]], [1.0], None, np.zeros((1, 6)), 0.1), grads,
                 tol=TOL_EXACT)


# ---------------------------------------------------------------------------------------
# random configurations


@st.composite
def configs(draw: st.DrawFn) -> tuple[Layer, dict[str, Any]]:
    """A valid layer (from a `Problem`) and random values with a batch of 1..4."""
    n = draw(st.integers(1, 12))
    k = draw(st.integers(1, 5))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 2))
    mode = draw(st.sampled_from(["zeros", "circular"]))
    # skip invalid layers: the kernel must fit the padded input, circular wraps at most once
    assume(dilation * (k - 1) + 1 <= n + 2 * padding)
    assume(mode == "zeros" or padding <= n)
    problem = load_problem(None, {
        "layer.input_length": n,
        "layer.kernel_size": k,
        "layer.stride": stride,
        "layer.padding": padding,
        "layer.padding_mode": mode,
        "layer.dilation": dilation,
        "layer.bias": draw(st.sampled_from(["shared", "untied", "none"])),
        "loss.kind": draw(st.sampled_from(["sse_half", "mse"])),
    })
    layer = Layer.from_problem(problem)
    batch = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias = {"untied": rng.normal(size=layer.m), "shared": np.asarray(rng.normal()),
            "none": None}[layer.bias]
    values = {
        "x": rng.normal(size=(batch, n)) * 2,
        "w": rng.normal(size=k),
        "b": bias,
        "y": rng.normal(size=(batch, layer.m)) * 3,
        "lr": float(rng.uniform(0.001, 0.2)),
    }
    return layer, values


def _run(backend: Backend, layer: Layer, values: dict[str, Any], dtype: Any = np.float64
         ) -> Mapping[str, Any]:
    cast = {key: None if value is None or key == "lr" else np.asarray(value, dtype=dtype)
            for key, value in values.items()}
    return backend(layer, cast["x"], cast["w"], cast["b"], cast["y"], values["lr"])


def fast(examples: int) -> settings:
    """Hypothesis settings: ``examples`` cases, no deadline (torch's first call is slow)."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.filter_too_much])


@fast(150)
@given(configs())
def test_numpy_torch_finite_agree(config: tuple[Layer, dict[str, Any]]) -> None:
    layer, values = config
    reference = _run(nc.step, layer, values)
    assert reference["yhat"].shape == values["y"].shape
    assert_agree(reference, _run(tc.step, layer, values), tol=TOL_EXACT)
    assert_agree(reference, _run(finite_backend, layer, values), tol=TOL_FINITE)


@fast(25)
@given(configs())
def test_gradcheck(config: tuple[Layer, dict[str, Any]]) -> None:
    layer, values = config
    assert tc.gradcheck_loss(layer, values["x"], values["w"], values["b"], values["y"])


@fast(30)
@given(configs(), st.sampled_from(["numpy", "torch"]))
def test_float32_follows_the_input(config: tuple[Layer, dict[str, Any]], backend: str) -> None:
    layer, values = config
    reference = _run(nc.step, layer, values)
    result = _run(BACKENDS[backend], layer, values, np.float32)
    assert all(v.dtype == np.float32 for v in result.values() if v is not None)
    assert_agree(reference, result, tol=TOL_FLOAT32)


# ---------------------------------------------------------------------------------------
# the comparison can fail: deliberately wrong variants of the NumPy layer


@contextmanager
def _shifted_windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every window read one padded position too far to the right."""
    correct = nc.padded_positions
    with monkeypatch.context() as patch:
        patch.setattr(nc, "padded_positions", lambda layer: correct(layer) + 1)
        yield


def kernel_flipped(layer: Layer, x: Any, w: Any, b: Any, y: Any, lr: float) -> dict[str, Any]:
    """A true convolution (the kernel flipped), consistent in itself."""
    result: dict[str, Any] = dict(nc.step(layer, x, w[::-1], b, y, lr))
    result["grad_w"] = result["grad_w"][::-1]
    result["w_next"] = result["w_next"][::-1]
    return result


def bias_dropped(layer: Layer, x: Any, w: Any, b: Any, y: Any, lr: float) -> dict[str, Any]:
    """The bias forgotten in the forward pass (and so in the gradients and the update)."""
    result: dict[str, Any] = dict(nc.step(replace(layer, bias="none"), x, w, None, y, lr))
    result["b_next"] = b
    return result


def stride_ignored_in_backward(
    layer: Layer, x: Any, w: Any, b: Any, y: Any, lr: float
) -> dict[str, Any]:
    """A correct forward pass, but a backward pass that reads the windows with stride 1."""
    result: dict[str, Any] = dict(nc.step(layer, x, w, b, y, lr))
    g = result["grad_yhat"]
    positions = nc.padded_positions(replace(layer, stride=1))[: layer.m]
    result["grad_w"] = np.einsum("bi,bij->j", g, nc.pad(layer, x)[:, positions])
    grad_padded = np.zeros((x.shape[0], layer.n + 2 * layer.padding))
    np.add.at(grad_padded.T, positions, (g[:, :, None] * w).transpose(1, 2, 0))
    result["grad_x"] = nc.unpad(layer, grad_padded)
    result["w_next"] = w - lr * result["grad_w"]
    return result


WRONG_VARIANTS: dict[str, tuple[Backend | None, set[str]]] = {
    # name: (backend, or None for the window shift; quantities that must be caught)
    "kernel flipped": (kernel_flipped, {"yhat", "loss", "grad_w", "grad_x", "w_next"}),
    "window off by one": (None, {"yhat", "loss", "grad_w", "grad_x"}),
    "bias dropped": (bias_dropped, {"yhat", "loss", "grad_b", "b_next"}),
    "stride ignored in backward": (stride_ignored_in_backward, {"grad_w", "grad_x", "w_next"}),
}


@pytest.mark.parametrize("mode", ["zeros", "circular"])
@pytest.mark.parametrize("variant", WRONG_VARIANTS)
def test_wrong_variant_is_caught(
    variant: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = load_problem(None, {**BUG_LAYER, "layer.padding_mode": mode})
    layer = Layer.from_problem(problem)
    assert nc.padded_positions(layer).max() + 1 < layer.n + 2 * layer.padding  # room to shift
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=(2, layer.n)), rng.normal(size=layer.k), rng.normal(size=layer.m)
    y, lr = rng.normal(size=(2, layer.m)), 0.1
    truth = tc.step(layer, x, w, b, y, lr)

    # control: the correct NumPy layer passes the very same comparison
    assert not mismatches(truth, nc.step(layer, x, w, b, y, lr), tol=TOL_EXACT)

    backend, must_catch = WRONG_VARIANTS[variant]
    if backend is None:
        with _shifted_windows(monkeypatch):
            wrong: Mapping[str, Any] = nc.step(layer, x, w, b, y, lr)
    else:
        wrong = backend(layer, x, w, b, y, lr)
    found = mismatches(truth, wrong, tol=TOL_EXACT)
    assert must_catch <= found.keys(), f"{variant}: caught only {sorted(found)}"
    # and the finite differences catch the wrong gradients just as well
    if "grad_w" in must_catch:
        finite = fd.loss_gradients(layer, x, w, b, y)
        assert "grad_w" in mismatches(finite, wrong, tol=TOL_FINITE)
