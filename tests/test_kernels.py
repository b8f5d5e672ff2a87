"""Kernels printed from the closed form and lambdified from the explicit form, for every
layer: against PyTorch (conv1d/2d/3d + autograd, written here) and the exact explicit truth."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from symconv.arrays import ProblemArrays, problem_arrays
from symconv.errors import ProblemError
from symconv.kernels import (
    GeneratedKernels,
    LambdifiedExplicit,
    generate,
    lambdify_explicit,
    layer_key,
)
from symconv.layer import Layer, make_layer
from symconv.problem import Problem, load_problem, problem_from_dict
from symconv.symbolic.explicit import QUANTITIES, derive_explicit, evaluate_steps

Quantities = dict[str, Any]

# The exercise's numbers, by hand (design.md), in the contract's full shapes
EXERCISE: dict[str, Any] = {
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
# ... and with one shared bias instead (design.md): ∂L/∂b = 28, b' = 0.72 (the step's
# ŷ' and L' change with b'; the rest stays)
EXERCISE_SHARED: dict[str, Any] = {
    key: value for key, value in EXERCISE.items() if key not in ("yhat_next", "loss_next")
} | {"grad_b": [28], "b_next": [0.72]}

BACKENDS = ("im2col", "taps", "lambdify")

# The grid: every axis count, channels, groups 2, batch 2, stride, dilation, asymmetric
# padding, circular, each bias mode and each loss (fields as in the TOML contract).
CASES: dict[str, dict[str, Any]] = {
    "1d-groups-stride-asym": dict(
        input_shape=[7], kernel_size=3, stride=2, padding=[[1, 2]], in_channels=2,
        out_channels=4, groups=2, batch=2, bias="shared", loss="sse_half",
    ),
    "1d-circular-dilation": dict(
        input_shape=[5], kernel_size=3, dilation=2, padding=[[2, 1]], padding_mode="circular",
        batch=2, bias="untied", loss="mse",
    ),
    "1d-circular-wraps-whole-input": dict(
        input_shape=[2], kernel_size=3, padding=2, padding_mode="circular", bias="none",
        loss="sse_half",
    ),
    "2d-depthwise-upstream": dict(
        input_shape=[5, 4], kernel_size=[3, 2], stride=[2, 1], dilation=[1, 2],
        padding=[[1, 0], [0, 1]], in_channels=2, out_channels=2, groups=2, batch=2,
        bias="untied", loss="upstream",
    ),
    "2d-circular-channels": dict(
        input_shape=[4, 5], kernel_size=[2, 3], stride=[1, 2], padding=[[1, 1], [2, 0]],
        padding_mode="circular", in_channels=3, out_channels=2, bias="none", loss="sse_half",
    ),
    "2d-mse-shared": dict(
        input_shape=[6, 5], kernel_size=3, stride=2, padding=1, in_channels=2,
        out_channels=3, batch=2, bias="shared", loss="mse",
    ),
    "3d-groups-mse": dict(
        input_shape=[3, 4, 3], kernel_size=2, stride=[1, 2, 1], padding=[[1, 0], [0, 1], [1, 1]],
        in_channels=2, out_channels=4, groups=2, batch=2, bias="shared", loss="mse",
    ),
    "3d-circular-upstream": dict(
        input_shape=[3, 3, 4], kernel_size=[2, 3, 2], dilation=[1, 1, 2],
        padding=[[1, 1], [1, 0], [1, 1]], padding_mode="circular", out_channels=2,
        bias="untied", loss="upstream",
    ),
}


def case_problem(fields: dict[str, Any], seed: int = 0) -> Problem:
    """A validated problem of the case's layer with small random integer values."""
    settings = dict(fields)
    kind = settings.pop("loss")
    layer = make_layer(**settings)
    rng = np.random.default_rng(seed)

    def values(shape: tuple[int, ...]) -> list[Any]:
        return rng.integers(-3, 4, size=shape).tolist()  # type: ignore[no-any-return]

    data: dict[str, Any] = {"x": values(layer.x_shape), "w": values(layer.w_shape)}
    data["y" if kind != "upstream" else "grad_yhat"] = values(layer.y_shape)
    if layer.b_shape is not None:
        data["b"] = values(layer.b_shape)
    return problem_from_dict(
        {
            "layer": settings,
            "loss": {"kind": kind},
            "optimizer": {"learning_rate": "1/8"},
            "values": data,
        }
    )


# ---------------------------------------------------------------------------------------
# the independent references


def torch_step(layer: Layer, kind: str, a: ProblemArrays) -> Quantities:
    """One SGD step with torch's convNd + autograd, in float64 (the oracle's own formulas)."""
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[layer.ndim]
    x = torch.tensor(a.x, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(a.w, dtype=torch.float64, requires_grad=True)
    b = None if a.b is None else torch.tensor(a.b, dtype=torch.float64, requires_grad=True)
    target = torch.tensor(a.target, dtype=torch.float64)
    # F.pad lists the last axis first
    pads = [side for pair in reversed(layer.padding) for side in pair]
    mode = "constant" if layer.padding_mode == "zeros" else "circular"

    def forward(w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        shared = b if layer.bias == "shared" else None
        yhat = conv(
            F.pad(x, pads, mode=mode), w, shared,
            stride=layer.stride, dilation=layer.dilation, groups=layer.groups,
        )
        return yhat + b if layer.bias == "untied" and b is not None else yhat

    def loss(yhat: torch.Tensor) -> torch.Tensor | None:
        if kind == "sse_half":
            return 0.5 * ((target - yhat) ** 2).sum()
        if kind == "mse":
            return F.mse_loss(yhat, target)
        return None

    yhat = forward(w, b)
    yhat.retain_grad()
    value = loss(yhat)
    if value is None:
        yhat.backward(target)  # type: ignore[no-untyped-call]  # upstream: target = ∂L/∂ŷ
    else:
        value.backward()  # type: ignore[no-untyped-call]
    assert w.grad is not None and x.grad is not None and yhat.grad is not None
    with torch.no_grad():
        w_next = w - a.lr * w.grad
        b_next = None if b is None or b.grad is None else b - a.lr * b.grad
        yhat_next = forward(w_next, b_next)
        loss_next = loss(yhat_next)

    def numpy(t: torch.Tensor | None) -> Any:
        return None if t is None else t.detach().numpy()

    return {
        "yhat": numpy(yhat),
        "loss": numpy(value),
        "grad_yhat": numpy(yhat.grad),
        "grad_w": numpy(w.grad),
        "grad_b": None if b is None else numpy(b.grad),
        "grad_x": numpy(x.grad),
        "w_next": numpy(w_next),
        "b_next": numpy(b_next),
        "yhat_next": numpy(yhat_next),
        "loss_next": numpy(loss_next),
    }


def exact_truth(problem: Problem) -> Quantities:
    """The explicit derivation's exact step, as float64 arrays in the contract's shapes."""
    step = evaluate_steps(derive_explicit(problem))[0]
    layer = problem.layer
    shapes = {
        "yhat": layer.y_shape, "grad_yhat": layer.y_shape, "yhat_next": layer.y_shape,
        "grad_w": layer.w_shape, "w_next": layer.w_shape,
        "grad_b": layer.b_shape, "b_next": layer.b_shape,
        "grad_x": layer.x_shape, "loss": (), "loss_next": (),
    }
    out: Quantities = {}
    for key in QUANTITIES:
        value = getattr(step, key)
        if value is None:
            out[key] = None
            continue
        flat = value if isinstance(value, tuple) else (value,)
        out[key] = np.array([float(v) for v in flat]).reshape(shapes[key])
    return out


def assert_quantities_close(
    ours: Quantities, expected: Quantities, dtype: np.dtype[Any], *, what: str = ""
) -> None:
    """Every quantity present, in ``dtype`` and the expected shape, within the rounding of
    ``dtype``: ``|ours − expected| ≤ 256·eps·(1 + max|expected|)`` per quantity."""
    assert set(ours) == set(QUANTITIES), what
    eps = float(np.finfo(dtype).eps)
    for key in QUANTITIES:
        want, got = expected[key], ours[key]
        if want is None:
            assert got is None, f"{what} {key}: expected None, got {got!r}"
            continue
        assert got is not None, f"{what} {key}: missing"
        array = np.asarray(got)
        assert array.dtype == dtype, f"{what} {key}: dtype {array.dtype}, expected {dtype}"
        assert array.shape == np.shape(want), f"{what} {key}: shape {array.shape}"
        scale = 1.0 + float(np.max(np.abs(want), initial=0.0))
        np.testing.assert_allclose(
            array.astype(np.float64), want, rtol=0, atol=256 * eps * scale, err_msg=f"{what} {key}"
        )


@cache
def _case(name: str) -> tuple[Problem, Quantities, Quantities]:
    problem = case_problem(CASES[name])
    arrays = problem_arrays(problem)
    return problem, exact_truth(problem), torch_step(problem.layer, problem.loss, arrays)


@cache
def _lambdified(name: str) -> LambdifiedExplicit:
    return lambdify_explicit(derive_explicit(_case(name)[0]))


def run(backend: str, problem: Problem, a: ProblemArrays) -> Quantities:
    if backend == "lambdify":
        lam = lambdify_explicit(derive_explicit(problem))
        return lam.step(a.x, a.w, a.b, a.target, a.lr)
    return generate(problem, strategy=backend).step(  # type: ignore[arg-type]
        a.x, a.w, a.b, a.target, a.lr
    )


# ---------------------------------------------------------------------------------------
# the grid


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_backend_equals_torch_and_the_exact_truth(name: str, backend: str, dtype: Any) -> None:
    problem, truth, reference = _case(name)
    a = problem_arrays(problem, dtype)
    if backend == "lambdify":
        ours = _lambdified(name).step(a.x, a.w, a.b, a.target, a.lr)
    else:
        ours = generate(problem, strategy=backend).step(  # type: ignore[arg-type]
            a.x, a.w, a.b, a.target, a.lr
        )
    assert_quantities_close(ours, truth, np.dtype(dtype), what=f"{name} {backend} vs truth")
    assert_quantities_close(ours, reference, np.dtype(dtype), what=f"{name} {backend} vs torch")


@pytest.mark.parametrize("name", ["conv2d_small", "mnist_conv1"])
def test_builtin_2d_problems_equal_torch(name: str) -> None:
    problem = load_problem(name)
    a = problem_arrays(problem)
    reference = torch_step(problem.layer, problem.loss, a)
    for strategy in ("im2col", "taps"):
        ours = generate(problem, strategy=strategy).step(a.x, a.w, a.b, a.target, a.lr)
        assert_quantities_close(ours, reference, np.dtype(np.float64), what=strategy)


@pytest.mark.parametrize("backend", BACKENDS)
def test_exercise_numbers(backend: str) -> None:
    for bias, expected in (("untied", EXERCISE), ("shared", EXERCISE_SHARED)):
        overrides = {} if bias == "untied" else {"layer.bias": "shared", "values.b": "1"}
        problem = load_problem("exercise2", overrides)
        a = problem_arrays(problem)
        out = run(backend, problem, a)
        for key, value in expected.items():
            np.testing.assert_allclose(out[key], value, rtol=1e-12, err_msg=f"{bias} {key}")
            assert np.shape(out[key]) == np.shape(value), key


# ---------------------------------------------------------------------------------------
# the comparison can fail: deliberately broken kernels are caught by the same helper


def broken(kernels: GeneratedKernels, old: str, new: str) -> GeneratedKernels:
    """The kernels compiled from their own source with one edit (test-only: our source)."""
    assert old in kernels.source, old
    source = kernels.source.replace(old, new, 1)
    namespace: dict[str, Any] = {
        "numpy": np, "as_strided": np.lib.stride_tricks.as_strided, "kept": threading.local(),
    }
    exec(compile(source, "<broken>", "exec"), namespace)
    functions = {name: namespace[name] for name in kernels.functions}
    return dataclasses.replace(kernels, source=source, functions=functions)


MUTANTS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    # name: (case, design, edits of the printed source)
    "a tap flipped in ∂L/∂x": (
        "2d-mse-shared", "im2col", [("gcols[:, 0, 0]", "gcols[:, 0, 1]")]
    ),
    "the stride dropped from the windows": (
        "2d-mse-shared", "im2col", [("2 * st[1]", "1 * st[1]")]
    ),
    "a window off by one": (
        "1d-groups-stride-asym", "taps", [("xg[:, :, :, 0:7:2]", "xg[:, :, :, 1:8:2]")]
    ),
    "the padding fold dropped": (
        "2d-circular-channels",
        "im2col",
        [
            ("    gxpad[:, :, 5:7, :] += gxpad[:, :, 0:2, :]\n", ""),
            ("    gxpad[:, 4:5, 2:7, :] += gxpad[:, 0:1, 2:7, :]\n", ""),
            ("    gxpad[:, 1:2, 2:7, :] += gxpad[:, 5:6, 2:7, :]\n", ""),
        ],
    ),
    "zeros instead of the wrap": (
        "1d-circular-dilation",
        "taps",
        [("xpad[:, :, 0:2] = xpad[:, :, 5:7]", "xpad[:, :, 0:2] = 0")],
    ),
    "the mean instead of the sum in ∂L/∂b": (
        "3d-groups-mse", "im2col", [(".sum(axis=1)", ".mean(axis=1)")]
    ),
    "a wrong factor in ∂L/∂ŷ": ("1d-circular-dilation", "taps", [("(1/4)*", "(1/8)*")]),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_a_broken_kernel_is_caught(mutant: str) -> None:
    name, strategy, edits = MUTANTS[mutant]
    problem, truth, reference = _case(name)
    a = problem_arrays(problem)
    kernels = generate(problem, strategy=strategy)  # type: ignore[arg-type]
    # the kernels pass; the same kernels with one mistake fail the same comparison
    out = kernels.step(a.x, a.w, a.b, a.target, a.lr)
    for expected in (truth, reference):
        assert_quantities_close(out, expected, a.x.dtype)
    for old, new in edits:
        kernels = broken(kernels, old, new)
    out = kernels.step(a.x, a.w, a.b, a.target, a.lr)
    for expected in (truth, reference):
        with pytest.raises(AssertionError):
            assert_quantities_close(out, expected, a.x.dtype)


def test_a_broken_lambdified_kernel_is_caught() -> None:
    name = "2d-depthwise-upstream"
    problem, truth, _ = _case(name)
    a = problem_arrays(problem)
    lam = _lambdified(name)
    assert_quantities_close(lam.step(a.x, a.w, a.b, a.target, a.lr), truth, a.x.dtype)
    # two outputs swapped in the forward pass
    swapped = dataclasses.replace(lam, forward=lambda *v: _swap(lam.forward(*v)))
    with pytest.raises(AssertionError):
        assert_quantities_close(swapped.step(a.x, a.w, a.b, a.target, a.lr), truth, a.x.dtype)


def _swap(values: list[Any]) -> list[Any]:
    out = list(values)
    out[0], out[1] = out[1], out[0]
    return out


def test_a_wrong_dtype_or_shape_is_caught() -> None:
    problem, truth, _ = _case("2d-mse-shared")
    a = problem_arrays(problem, np.float32)
    out = generate(problem).step(a.x, a.w, a.b, a.target, a.lr)
    as64 = {k: None if v is None else np.asarray(v, dtype=np.float64) for k, v in out.items()}
    with pytest.raises(AssertionError, match="dtype"):
        assert_quantities_close(as64, truth, np.dtype(np.float32))
    flat = dict(out, grad_x=np.asarray(out["grad_x"]).ravel())
    with pytest.raises(AssertionError, match="shape"):
        assert_quantities_close(flat, truth, np.dtype(np.float32))


# ---------------------------------------------------------------------------------------
# random layers: both designs agree with torch


@st.composite
def random_layers(draw: Callable[..., Any]) -> tuple[Layer, str, int]:
    ndim = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    fields = dict(
        input_shape=[draw(st.integers(1, 5)) for _ in range(ndim)],
        kernel_size=[draw(st.integers(1, 3)) for _ in range(ndim)],
        stride=[draw(st.integers(1, 3)) for _ in range(ndim)],
        dilation=[draw(st.integers(1, 2)) for _ in range(ndim)],
        padding=[[draw(st.integers(0, 2)), draw(st.integers(0, 2))] for _ in range(ndim)],
        padding_mode=draw(st.sampled_from(["zeros", "circular"])),
        bias=draw(st.sampled_from(["shared", "untied", "none"])),
        in_channels=groups * draw(st.integers(1, 2)),
        out_channels=groups * draw(st.integers(1, 2)),
        groups=groups,
        batch=draw(st.integers(1, 2)),
    )
    try:
        layer = make_layer(**fields)
    except ProblemError:
        assume(False)
        raise
    return layer, draw(st.sampled_from(["sse_half", "mse", "upstream"])), draw(st.integers(0, 99))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(random_layers())
def test_random_layers_equal_torch(drawn: tuple[Layer, str, int]) -> None:
    layer, kind, seed = drawn
    rng = np.random.default_rng(seed)
    b = None if layer.b_shape is None else rng.standard_normal(layer.b_shape)
    a = ProblemArrays(
        x=rng.standard_normal(layer.x_shape),
        w=rng.standard_normal(layer.w_shape),
        b=b,
        target=rng.standard_normal(layer.y_shape),
        lr=0.1,
    )
    reference = torch_step(layer, kind, a)
    problem = Problem(title="random", layer=layer, loss=kind)  # type: ignore[arg-type]
    for strategy in ("im2col", "taps"):
        ours = generate(problem, strategy=strategy).step(a.x, a.w, a.b, a.target, a.lr)
        assert_quantities_close(ours, reference, np.dtype(np.float64), what=strategy)


# ---------------------------------------------------------------------------------------
# the source, the cache, the arguments


def test_generated_source_is_strided_views_from_the_closed_form() -> None:
    problem = load_problem(
        None,
        {"layer.input_length": 12, "layer.kernel_size": 3, "layer.stride": 3,
         "layer.dilation": 2},
    )
    # output i, tap j reads padded position 3(i−1) + 2(j−1) + 1 (m = 3): the taps start at
    # 0, 2, 4 and step by 3 over the outputs
    taps = generate(problem, strategy="taps").source
    for start in (0, 2, 4):
        assert f"xg[:, :, :, {start}:{start + 7}:3]" in taps
    # im2col: one view whose steps are the coefficients of j (2) and i (3)
    im2col = generate(problem, strategy="im2col").source
    assert "strides=(st[0], 2 * st[1], 3 * st[1], st[2])" in im2col
    for source in (taps, im2col):
        assert "Sum" not in source and "sympy" not in source


def test_the_loss_is_printed_from_the_registry() -> None:
    mse = generate(load_problem("exercise2", {"loss.kind": "mse"})).source
    assert "return 1/2 * total" in mse  # m = 2 outputs: the weight 1/m = 1/2
    upstream = load_problem(
        None, {"layer.input_length": 4, "layer.kernel_size": 3, "loss.kind": "upstream"}
    )
    assert "return g" in generate(upstream).source


def test_generated_kernels_are_cached_per_layer_not_per_value() -> None:
    a = load_problem("exercise2")
    b = load_problem("exercise2", {"values.x": "5,6,7,8", "title": "'); import os; ('"})
    assert layer_key(a) == layer_key(b)
    assert generate(a) is generate(b)
    assert "import os" not in generate(b).source
    assert generate(a) is not generate(a, strategy="im2col")


def test_the_default_design_follows_the_channels() -> None:
    assert generate(load_problem("exercise2")).strategy == "taps"
    assert generate(load_problem("mnist_conv1")).strategy == "im2col"


def test_wrong_shapes_are_refused_naming_the_shape() -> None:
    problem = load_problem("conv2d_small")
    a = problem_arrays(problem)
    kernels = generate(problem)
    with pytest.raises(ValueError, match=r"`x` has shape \(32,\); this layer needs \(1, 2, 4, 4\)"):
        kernels.step(a.x.ravel(), a.w, a.b, a.target, a.lr)
    with pytest.raises(ValueError, match="`b` must be None"):
        generate(problem.with_layer(bias="none")).step(a.x, a.w, a.b, a.target, a.lr)
    with pytest.raises(ValueError, match="strategy"):
        generate(problem, strategy="fft")  # type: ignore[arg-type]


def test_forward_and_backward_alone() -> None:
    problem = load_problem("mnist_conv1")
    a = problem_arrays(problem)
    reference = torch_step(problem.layer, problem.loss, a)
    kernels = generate(problem)
    np.testing.assert_allclose(kernels.forward(a.x, a.w, a.b), reference["yhat"], rtol=1e-12)
    grad_x, grad_w, grad_b = kernels.backward(a.x, a.w, reference["grad_yhat"])
    np.testing.assert_allclose(grad_x, reference["grad_x"], rtol=1e-12)
    np.testing.assert_allclose(grad_w, reference["grad_w"], rtol=1e-12)
    assert grad_b is not None
    np.testing.assert_allclose(grad_b, reference["grad_b"], rtol=1e-12)


def test_exact_truth_helper_reads_the_exercise() -> None:
    # the oracle's own plumbing, against the hand-computed numbers
    truth = exact_truth(load_problem("exercise2"))
    assert truth["grad_w"].tolist() == [[[44, 72, 100]]]
    assert truth["loss_next"] == pytest.approx(63.22)


# ---------------------------------------------------------------------------------------
# scratch arrays: reused within a thread, never handed out


def test_results_do_not_change_when_the_kernels_run_again() -> None:
    problem, truth, _ = _case("2d-circular-channels")
    a = problem_arrays(problem)
    for strategy in ("im2col", "taps"):
        kernels = generate(problem, strategy=strategy)
        first = kernels.step(a.x, a.w, a.b, a.target, a.lr)
        kernels.step(-a.x, 2 * a.w, a.b, a.target, a.lr)  # reuses the scratch arrays
        assert_quantities_close(first, truth, a.x.dtype, what=strategy)
        # the check fails for kernels that hand out a view of their scratch ∂L/∂x̃
        leaky = broken(kernels, "return numpy.ascontiguousarray(gxpad", "return (gxpad")
        first = leaky.step(a.x, a.w, a.b, a.target, a.lr)
        leaky.step(-a.x, 2 * a.w, a.b, a.target, a.lr)
        with pytest.raises(AssertionError, match="grad_x"):
            assert_quantities_close(first, truth, a.x.dtype)


def test_threads_do_not_share_scratch_arrays() -> None:
    problem = load_problem("mnist_conv1")
    a = problem_arrays(problem)
    kernels = generate(problem)
    inputs = [a.x * scale for scale in (1.0, -2.0, 0.5, 3.0)]
    alone = [kernels.step(x, a.w, a.b, a.target, a.lr)["grad_w"] for x in inputs]
    together: dict[int, list[Any]] = {}

    def work(number: int) -> None:
        together[number] = [
            kernels.step(inputs[number], a.w, a.b, a.target, a.lr)["grad_w"] for _ in range(20)
        ]

    workers = [threading.Thread(target=work, args=(number,)) for number in range(len(inputs))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for number, expected in enumerate(alone):
        for result in together[number]:
            np.testing.assert_array_equal(result, expected)


def test_large_layers_make_their_scratch_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import symconv.kernels as kernels_module

    problem, truth, _ = _case("3d-circular-upstream")
    a = problem_arrays(problem)
    monkeypatch.setattr(kernels_module, "WORKSPACE_LIMIT", 0)
    for strategy in ("im2col", "taps"):
        kernels = kernels_module._compiled.__wrapped__(layer_key(problem), strategy)
        assert "getattr(kept" not in kernels.source
        out = kernels.step(a.x, a.w, a.b, a.target, a.lr)
        assert_quantities_close(out, truth, a.x.dtype, what=strategy)


def test_too_many_columns_choose_the_taps_design(monkeypatch: pytest.MonkeyPatch) -> None:
    import symconv.kernels as kernels_module

    layer = load_problem("mnist_conv1").layer
    assert kernels_module._choose(layer) == "im2col"
    monkeypatch.setattr(kernels_module, "IM2COL_LIMIT", 1000)
    assert kernels_module._choose(layer) == "taps"
