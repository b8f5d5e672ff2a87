"""symconv.testing: a user's own convolution proven against the exact truth.

Each deliberately broken implementation below makes one classic mistake, written here by
hand on the building blocks of :mod:`symconv.reference.numpy_conv` (not the mutants of
:mod:`symconv.mutants`, which the diagnosis runs).  On a case where the mistake can show,
it must be caught with a message naming the configuration, the quantity, the first
wrong entry — its expected value checked against the independent NumPy reference, its
actual value against the broken layer's own output — and the right diagnosis; the
correct implementation passes the very same comparison on the very same case.

The pytest plugin is proven end to end with ``pytester``: ids, ``--symconv-sweep``,
``-k``, ``-x``, the marker's supports and a failing case's message.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from symconv.errors import ImplementationError, UsageError
from symconv.layer import Layer, make_layer
from symconv.reference import numpy_conv as nc
from symconv.testing import (
    DIAGNOSES,
    Case,
    ConvMismatch,
    Supports,
    assert_case,
    assert_conv_matches,
    cases,
    check_case,
    run_case,
)

pytest_plugins = ["pytester"]

Array = Any
Fn = Callable[..., Any]


# ---------------------------------------------------------------------------------------
# a user's implementations: the correct one and the broken ones


def _layer(x: Array, w: Array, b: Array | None, settings: dict[str, Any]) -> Layer:
    """The layer of one call, from the shapes and the calling convention's keywords."""
    return make_layer(
        input_shape=list(x.shape[2:]),
        kernel_size=list(w.shape[2:]),
        stride=list(settings["stride"]),
        padding=[list(p) if isinstance(p, tuple) else p for p in settings["padding"]],
        dilation=list(settings["dilation"]),
        padding_mode=settings["padding_mode"],
        bias="none" if b is None else ("untied" if b.ndim > 1 else "shared"),
        in_channels=x.shape[1],
        out_channels=w.shape[0],
        groups=settings["groups"],
        batch=x.shape[0],
    )


def forward(x: Array, w: Array, b: Array | None, **settings: Any) -> Array:
    return nc.forward(_layer(x, w, b, settings), x, w, b)


def backward(x: Array, w: Array, b: Array | None, g: Array, **settings: Any) -> Any:
    return nc.backward(_layer(x, w, b, settings), x, w, b, g)


def _biased(layer: Layer, y: Array, b: Array | None) -> Array:
    if b is None:
        return y
    return y + (b if layer.bias == "untied" else b.reshape((-1,) + (1,) * layer.ndim))


def _flip(w: Array) -> Array:
    return np.flip(w, axis=tuple(range(2, w.ndim))).copy()


def flipped_forward(x: Array, w: Array, b: Array | None, **settings: Any) -> Array:
    """A true convolution (the kernel flipped)."""
    return nc.forward(_layer(x, w, b, settings), x, _flip(w), b)


def flipped_backward(x: Array, w: Array, b: Array | None, g: Array, **settings: Any) -> Any:
    grad_x, grad_w, grad_b = nc.backward(_layer(x, w, b, settings), x, _flip(w), b, g)
    return grad_x, _flip(grad_w), grad_b


def _late(layer: Layer) -> tuple[Layer, tuple[Array, ...]]:
    """Windows one position late: padded position s·i + d·j + 1 of an input padded one
    more position after (zeros)."""
    wide = replace(layer, padding=tuple((a, b + 1) for a, b in layer.padding))
    return wide, tuple(table + 1 for table in nc.padded_positions(layer))


def late_forward(x: Array, w: Array, b: Array | None, **settings: Any) -> Array:
    layer = _layer(x, w, b, settings)
    wide, positions = _late(layer)
    windows = nc.gather(nc.pad(wide, x), positions)
    return _biased(layer, nc.correlate(layer, windows, w), b)


def late_backward(x: Array, w: Array, b: Array | None, g: Array, **settings: Any) -> Any:
    layer = _layer(x, w, b, settings)
    wide, positions = _late(layer)
    padded = nc.pad(wide, x)
    windows = nc.gather(padded, positions)
    grad_x = nc.unpad(wide, nc.scatter(nc.window_gradient(layer, w, g), positions, padded.shape))
    return grad_x, nc.kernel_gradient(layer, windows, g), nc.bias_gradient(layer, g)


def _backward_at(table: Callable[[Array, Array, int, int], Array]) -> Fn:
    """A backward that reads the windows at ``table(i, j, s, d)`` (the forward is right)."""

    def wrong_backward(x: Array, w: Array, b: Array | None, g: Array, **settings: Any) -> Any:
        layer = _layer(x, w, b, settings)
        positions = tuple(
            table(np.arange(m)[:, None], np.arange(k)[None, :], s, d)
            for m, k, s, d in zip(layer.output_shape, layer.kernel_size, layer.stride,
                                  layer.dilation)
        )
        padded = nc.pad(layer, x)
        grad_w = nc.kernel_gradient(layer, nc.gather(padded, positions), g)
        grad = nc.scatter(nc.window_gradient(layer, w, g), positions, padded.shape)
        return nc.unpad(layer, grad), grad_w, nc.bias_gradient(layer, g)

    return wrong_backward


stride_ignored_backward = _backward_at(lambda i, j, s, d: i + d * j)
dilation_ignored_backward = _backward_at(lambda i, j, s, d: s * i + j)


def unbiased_forward(x: Array, w: Array, b: Array | None, **settings: Any) -> Array:
    """The bias forgotten."""
    return nc.forward(replace(_layer(x, w, b, settings), bias="none"), x, w, None)


def _changed(change: Callable[[Layer], Layer]) -> tuple[Fn, Fn]:
    """A layer that runs (forward and backward) on ``change(layer)``."""

    def wrong_forward(x: Array, w: Array, b: Array | None, **settings: Any) -> Array:
        return nc.forward(change(_layer(x, w, b, settings)), x, w, b)

    def wrong_backward(x: Array, w: Array, b: Array | None, g: Array, **settings: Any) -> Any:
        return nc.backward(change(_layer(x, w, b, settings)), x, w, b, g)

    return wrong_forward, wrong_backward


swapped_pads = _changed(lambda layer: replace(layer, padding=tuple(p[::-1] for p in layer.padding)))
no_wrap = _changed(lambda layer: replace(layer, padding_mode="zeros"))


def _per_channel(group_of: Callable[[int, Layer], int]) -> tuple[Fn, Fn]:
    """A grouped layer computed one output channel at a time; channel co reads the input
    channels of group ``group_of(co, layer)``."""

    def parts(x: Array, w: Array, b: Array | None, settings: dict[str, Any]) -> Any:
        layer = _layer(x, w, b, settings)
        per = layer.in_channels // layer.groups
        single = replace(layer, in_channels=per, out_channels=1, groups=1, bias="none")
        blocks = [slice(group_of(co, layer) * per, (group_of(co, layer) + 1) * per)
                  for co in range(layer.out_channels)]
        return layer, single, blocks

    def wrong_forward(x: Array, w: Array, b: Array | None, **settings: Any) -> Array:
        layer, single, blocks = parts(x, w, b, settings)
        y = np.concatenate(
            [nc.forward(single, x[:, block], w[co : co + 1], None)
             for co, block in enumerate(blocks)],
            axis=1,
        )
        return _biased(layer, y, b)

    def wrong_backward(x: Array, w: Array, b: Array | None, g: Array, **settings: Any) -> Any:
        layer, single, blocks = parts(x, w, b, settings)
        grad_x = np.zeros_like(x)
        grad_w = np.zeros_like(w)
        for co, block in enumerate(blocks):
            gx, gw, _ = nc.backward(single, x[:, block], w[co : co + 1], None, g[:, co : co + 1])
            grad_x[:, block] += gx
            grad_w[co : co + 1] = gw
        return grad_x, grad_w, nc.bias_gradient(layer, g)

    return wrong_forward, wrong_backward


interleaved = _per_channel(lambda co, layer: co % layer.groups)
next_group = _per_channel(
    lambda co, layer: (co // (layer.out_channels // layer.groups) + 1) % layer.groups
)


def _examples(chosen: Callable[[int], range]) -> Fn:
    """∂L/∂w, ∂L/∂b kept from one example at a time (``grad_w = ...`` in a loop)."""

    def wrong_backward(x: Array, w: Array, b: Array | None, g: Array, **settings: Any) -> Any:
        layer = _layer(x, w, b, settings)
        grad_x = nc.backward(layer, x, w, b, g)[0]
        one = replace(layer, batch=1)
        grad_w = grad_b = None
        for example in chosen(x.shape[0]):
            _, grad_w, grad_b = nc.backward(one, x[example : example + 1], w, b,
                                            g[example : example + 1])
        return grad_x, grad_w, grad_b

    return wrong_backward


def flipped_grad_x_backward(
    x: Array, w: Array, b: Array | None, g: Array, **settings: Any
) -> Any:
    """∂L/∂x with the kernel flipped (the transposed convolution done the wrong way)."""
    layer = _layer(x, w, b, settings)
    _, grad_w, grad_b = nc.backward(layer, x, w, b, g)
    return nc.backward(layer, x, _flip(w), b, g)[0], grad_w, grad_b


def _some(values: tuple[int, ...], minimum: int) -> bool:
    return any(v >= minimum for v in values)


# name: (forward, backward, supports, where the mistake shows, first wrong quantity,
#        expected diagnosis)
BROKEN: dict[str, tuple[Fn, Fn, Supports, Callable[[Layer], bool], str, str]] = {
    "flipped kernel": (
        flipped_forward, flipped_backward, Supports(dims=(1, 2)),
        lambda layer: _some(layer.kernel_size, 2), "yhat", "flipped-kernel",
    ),
    "off-by-one window": (
        late_forward, late_backward, Supports(dims=(1, 2)),
        lambda layer: _some(layer.input_shape, 2), "yhat", "off-by-one-late",
    ),
    "stride ignored in backward": (
        forward, stride_ignored_backward, Supports(dims=(1, 2)),
        lambda layer: any(s > 1 and m > 1 for s, m in zip(layer.stride, layer.output_shape)),
        "grad_x", "stride-ignored",
    ),
    "dilation ignored in backward": (
        forward, dilation_ignored_backward, Supports(dims=(1, 2)),
        lambda layer: any(d > 1 and k > 1 for d, k in zip(layer.dilation, layer.kernel_size)),
        "grad_x", "dilation-ignored",
    ),
    "missing bias": (
        unbiased_forward, backward, Supports(biases=("shared",)),
        lambda layer: True, "yhat", "missing-bias",
    ),
    "wrong padding side": (
        *swapped_pads, Supports(uneven_padding=True),
        lambda layer: any(a != b for a, b in layer.padding), "yhat", "padding-side",
    ),
    "circular wrap missing": (
        *no_wrap, Supports(padding_modes=("circular",)),
        lambda layer: any(a or b for a, b in layer.padding), "yhat", "no-circular-wrap",
    ),
    "groups interleaved": (
        *interleaved, Supports(max_channels=4),
        lambda layer: 1 < layer.groups < layer.out_channels, "yhat", "groups-interleaved",
    ),
    "wrong group": (
        *next_group, Supports(),
        lambda layer: layer.groups > 1, "yhat", "wrong-group",
    ),
    "grad_w overwritten per example": (
        forward, _examples(range), Supports(),
        lambda layer: layer.batch > 1, "grad_w", "batch-last-only",
    ),
    "grad_w of the first example only": (
        forward, _examples(lambda batch: range(1)), Supports(),
        lambda layer: layer.batch > 1, "grad_w", "batch-not-summed",
    ),
    "kernel flipped in grad_x": (
        forward, flipped_grad_x_backward, Supports(dims=(1, 2)),
        lambda layer: _some(layer.kernel_size, 2), "grad_x", "flipped-kernel-grad-x",
    ),
}


def _case_where(supports: Supports, shows: Callable[[Layer], bool]) -> Case:
    """The first case of a sweep on which the mistake can show."""
    for case in cases(supports, sweep=80, seed=0):
        if shows(case.problem.layer):
            return case
    raise AssertionError(f"no case of {supports} shows the mistake")


def _reference(case: Case) -> dict[str, Array]:
    """The case's quantities from the independent NumPy reference (float64)."""
    from symconv.arrays import problem_arrays

    a = problem_arrays(case.problem)
    grad_x, grad_w, grad_b = nc.backward(case.problem.layer, a.x, a.w, a.b, a.target)
    yhat = nc.forward(case.problem.layer, a.x, a.w, a.b)
    return {"yhat": yhat, "grad_x": grad_x, "grad_w": grad_w, "grad_b": grad_b}


def _own(case: Case, fwd: Fn, bwd: Fn, quantity: str) -> Array:
    """What the implementation itself returns for ``quantity`` on the case."""
    from symconv.arrays import problem_arrays

    a = problem_arrays(case.problem)
    layer = case.problem.layer
    settings = {
        "stride": layer.stride,
        "padding": tuple(p if p == q else (p, q) for p, q in layer.padding),
        "dilation": layer.dilation,
        "groups": layer.groups,
        "padding_mode": layer.padding_mode,
    }
    if quantity == "yhat":
        return fwd(a.x, a.w, a.b, **settings)
    grads = bwd(a.x, a.w, a.b, a.target, **settings)
    return grads[["grad_x", "grad_w", "grad_b"].index(quantity)]


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_layer_is_caught_with_its_diagnosis(name: str) -> None:
    fwd, bwd, supports, shows, quantity, diagnosis = BROKEN[name]
    case = _case_where(supports, shows)
    # the comparison can pass: the correct layer on the same case
    assert_case(forward, backward, case)
    with pytest.raises(ConvMismatch) as caught:
        assert_case(fwd, bwd, case)
    exc = caught.value
    layer = case.problem.layer
    assert exc.quantity == quantity
    assert exc.case == case
    # the entry: expected from the NumPy reference, actual from the broken layer itself
    assert exc.expected == pytest.approx(float(_reference(case)[quantity][exc.index]), abs=1e-12)
    assert exc.actual == float(_own(case, fwd, bwd, quantity)[exc.index])
    assert abs(exc.actual - exc.expected) > exc.tolerance
    message = str(exc)
    assert message.startswith(f"{quantity} of ")
    entry = f"{quantity}[{', '.join(map(str, exc.index))}]"
    assert f"first wrong entry: {entry} expected {exc.expected:.10g}, got {exc.actual:.10g}" in (
        message
    )
    configuration = next(line for line in message.splitlines() if "configuration:" in line)
    assert f"{layer.ndim}-D " in configuration
    assert f"k {'×'.join(map(str, layer.kernel_size))}" in configuration
    assert f"batch {layer.batch}" in configuration
    assert f"case {case.index} of 80 (seed 0)" in configuration
    result = run_case(fwd, bwd, case)
    assert result.diagnosis is not None and result.diagnosis.name == diagnosis
    assert exc.diagnosis == result.diagnosis.sentence
    assert f"diagnosis: {exc.diagnosis}" in message
    assert exc.diagnosis.startswith(DIAGNOSES[diagnosis].split(":")[0])
    # importable functions replay with the command line, local ones with Python
    assert f"replay: {exc.replay}" in message
    assert f"--case {case.index}" in exc.replay or f"[{case.index - 1}]" in exc.replay


def test_every_broken_layer_is_caught_in_float32_too() -> None:
    fwd, bwd, supports, shows, quantity, _ = BROKEN["stride ignored in backward"]
    case = _case_where(supports, shows)
    assert_case(forward, backward, case, dtype="float32")
    with pytest.raises(ConvMismatch, match=r"\(float32\)") as caught:
        assert_case(fwd, bwd, case, dtype="float32")
    assert caught.value.quantity == quantity
    assert 'dtype="float32"' in caught.value.replay


# ---------------------------------------------------------------------------------------
# the correct layer passes everywhere; calling convention


EVERYTHING = Supports(
    dims=(1, 2, 3),
    uneven_padding=True,
    padding_modes=("zeros", "circular"),
    biases=("shared", "untied", "none"),
)


def test_the_correct_layer_passes_a_sweep_of_every_kind_of_layer() -> None:
    assert_conv_matches(forward, backward, sweep=30, supports=EVERYTHING)
    for case in cases(EVERYTHING, sweep=30):
        checks = check_case(forward, backward, case)
        assert [c.quantity for c in checks] == ["yhat", "grad_x", "grad_w", "grad_b"]
        assert all(c.ok and c.backend == "impl-float64" for c in checks)
        assert checks[0].config["case"] == case.index


def test_the_calling_convention() -> None:
    seen: list[dict[str, Any]] = []

    def recording_forward(x: Array, w: Array, b: Array | None, **settings: Any) -> Array:
        seen.append({"x": x.copy(), "w": w.copy(), "b": b, **settings})
        y = forward(x, w, b, **settings)
        x *= 0  # an implementation writing into its input: the backward gets fresh ones
        return y

    def recording_backward(x: Array, w: Array, b: Array | None, g: Array, **s: Any) -> Any:
        seen.append({"grad_y": g.copy(), "x": x.copy()})
        return backward(x, w, b, g, **s)

    supports = Supports(dims=(2,), uneven_padding=True, biases=("shared",))
    case = next(c for c in cases(supports, sweep=40) if c.problem.layer.symmetric_padding is None)
    assert_case(recording_forward, recording_backward, case)
    layer = case.problem.layer
    call, grad_call = seen
    assert call["x"].dtype == np.float64 and call["x"].shape == layer.x_shape
    assert call["w"].shape == layer.w_shape and call["b"].shape == (layer.out_channels,)
    assert call["stride"] == layer.stride and isinstance(call["stride"], tuple)
    assert call["dilation"] == layer.dilation and call["groups"] == layer.groups
    assert call["padding_mode"] == "zeros"
    # padding: an int where both sides pad alike, a (before, after) pair otherwise
    assert call["padding"] == tuple(a if a == b else (a, b) for a, b in layer.padding)
    assert any(isinstance(p, tuple) for p in call["padding"])
    assert grad_call["grad_y"].shape == layer.y_shape
    assert np.array_equal(grad_call["x"], call["x"])


def test_a_problem_gets_its_own_values_and_the_exact_gradient_of_its_loss() -> None:
    # the exercise (design.md): x = (1, 2, 3, 4), w = (2, 1, 3), untied b = (1, 1),
    # y = (2, 4): ŷ = (14, 20), ∂L/∂ŷ = (12, 16), ∂L/∂w = (44, 72, 100)
    given: list[Array] = []

    def recording_backward(x: Array, w: Array, b: Array | None, g: Array, **s: Any) -> Any:
        given.extend([x, w, b, g])
        return backward(x, w, b, g, **s)

    assert_conv_matches(forward, recording_backward, problem="exercise2", sweep=0)
    x, w, b, g = given
    assert x.tolist() == [[[1, 2, 3, 4]]] and w.tolist() == [[[2, 1, 3]]]
    assert b.tolist() == [[1, 1]] and g.tolist() == [[[12, 16]]]

    def without_bias(x: Array, w: Array, b: Array | None, **s: Any) -> Array:
        return forward(x, w, b, **s) - 1  # b = (1, 1): the bias left out

    with pytest.raises(ConvMismatch) as caught:
        assert_conv_matches(without_bias, backward, problem="exercise2", sweep=0)
    assert (caught.value.index, caught.value.expected, caught.value.actual) == ((0, 0, 0), 14, 13)
    assert caught.value.diagnosis == DIAGNOSES["missing-bias"]
    assert "problem 'Exercise 2" in str(caught.value)
    assert "replay: " not in str(caught.value)  # a local function: no command replays it
    assert_conv_matches(forward, backward, problem="conv2d_small", sweep=2)


def test_wrong_results_are_mismatches_and_failing_calls_are_errors() -> None:
    case = _case_where(Supports(biases=("shared",)), lambda layer: layer.batch > 1)

    def no_y(x: Array, w: Array, b: Array | None, **s: Any) -> None:
        return None

    def squeezed(x: Array, w: Array, b: Array | None, g: Array, **s: Any) -> Any:
        grad_x, grad_w, grad_b = backward(x, w, b, g, **s)
        return grad_x, grad_w.reshape(grad_w.shape[0], -1), grad_b

    def no_grad_b(x: Array, w: Array, b: Array | None, g: Array, **s: Any) -> Any:
        return (*backward(x, w, b, g, **s)[:2], None)

    def pair(x: Array, w: Array, b: Array | None, g: Array, **s: Any) -> Any:
        return backward(x, w, b, g, **s)[:2]

    def raising(x: Array, w: Array, b: Array | None, **s: Any) -> Array:
        raise ValueError("boom")

    with pytest.raises(ConvMismatch, match=r"yhat: got None, expected an array of shape"):
        assert_case(no_y, backward, case)
    with pytest.raises(ConvMismatch, match=r"grad_w: got shape .*, expected shape") as shape:
        assert_case(forward, squeezed, case)
    assert shape.value.index == () and math.isnan(shape.value.expected)
    with pytest.raises(ConvMismatch, match=r"grad_b: got None"):
        assert_case(forward, no_grad_b, case)
    with pytest.raises(ImplementationError, match=r"returned 2 values; expected \(grad_x"):
        assert_case(forward, pair, case)
    with pytest.raises(ImplementationError, match=r"raised ValueError: boom") as error:
        assert_case(raising, backward, case)
    assert error.value.role == "forward" and isinstance(error.value.__cause__, ValueError)
    assert case.describe() in str(error.value)
    nobias = _case_where(Supports(biases=("none",)), lambda layer: True)

    def invented_bias(x: Array, w: Array, b: Array | None, g: Array, **s: Any) -> Any:
        return (*backward(x, w, b, g, **s)[:2], np.zeros(w.shape[0]))

    with pytest.raises(ConvMismatch, match=r"expected None \(the layer has no bias\)"):
        assert_case(forward, invented_bias, nobias)


def test_usage_errors() -> None:
    case = cases(sweep=1)[0]
    with pytest.raises(UsageError, match=r"`framework` \(=\"numpy\"\) needs a backward"):
        assert_case(forward, None, case, framework="numpy")
    with pytest.raises(UsageError, match=r"`dtype` \(='float16'\)"):
        assert_case(forward, backward, case, dtype="float16")
    with pytest.raises(UsageError, match=r"`Supports.dims` \(=\(4,\)\)"):
        Supports(dims=(4,))
    with pytest.raises(UsageError, match=r"`Supports.biases`"):
        Supports(biases=("tied",))
    with pytest.raises(UsageError, match=r"`Supports.max_stride` \(=0\)"):
        Supports(max_stride=0)
    with pytest.raises(UsageError, match=r"`sweep` \(=0\)"):
        cases(sweep=0)


def test_no_known_mistake_and_a_tolerance_scaled_to_the_dtype() -> None:
    case = _case_where(Supports(), lambda layer: math.prod(layer.y_shape) > 1)

    def one_entry_off(x: Array, w: Array, b: Array | None, **s: Any) -> Array:
        y = forward(x, w, b, **s)
        y.flat[-1] += 0.5
        return y

    result = run_case(one_entry_off, backward, case)
    assert result.mismatch is not None and result.diagnosis is None
    assert result.mismatch.index == tuple(int(i) - 1 for i in case.problem.layer.y_shape)

    # an error at float32 rounding level: wrong in float64, within float32's tolerance
    def rounded(x: Array, w: Array, b: Array | None, **s: Any) -> Array:
        return forward(x.astype(np.float64), w, b, **s) * (1 + 2e-7)

    assert all(c.ok for c in check_case(rounded, backward, case, dtype="float32"))
    assert not check_case(rounded, backward, case, dtype="float64")[0].ok


def test_a_mismatch_pickles() -> None:
    with pytest.raises(ConvMismatch) as caught:
        assert_case(unbiased_forward, backward, _case_where(Supports(biases=("shared",)), bool))
    again = pickle.loads(pickle.dumps(caught.value))
    assert str(again) == str(caught.value) and again.index == caught.value.index


# ---------------------------------------------------------------------------------------
# torch autograd and float32


def _torch_forward(x: Any, w: Any, b: Any, *, stride: Any, padding: Any, dilation: Any,
                   groups: int, padding_mode: str) -> Any:
    """A user's torch layer: F.pad, then F.conv1d/2d/3d (shared bias or none)."""
    import torch.nn.functional as F

    pairs = [p if isinstance(p, tuple) else (p, p) for p in padding]
    pads = [side for pair in reversed(pairs) for side in pair]
    mode = "constant" if padding_mode == "zeros" else "circular"
    x = F.pad(x, pads, mode=mode) if any(pads) else x
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[x.dim() - 2]
    return conv(x, w, b, stride=stride, dilation=dilation, groups=groups)


def test_torch_autograd_forward_only() -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    dtypes: list[Any] = []

    def recording(x: Any, w: Any, b: Any, **settings: Any) -> Any:
        dtypes.append((type(x), x.dtype, x.requires_grad))
        return _torch_forward(x, w, b, **settings)

    supports = Supports(dims=(1, 2, 3), uneven_padding=True, padding_modes=("zeros", "circular"))
    assert_conv_matches(recording, sweep=8, supports=supports)
    assert_conv_matches(recording, sweep=8, supports=supports, dtype="float32")
    assert (torch.Tensor, torch.float64, True) in dtypes
    assert (torch.Tensor, torch.float32, True) in dtypes

    def flipped(x: Any, w: Any, b: Any, **settings: Any) -> Any:
        return _torch_forward(x, torch.flip(w, tuple(range(2, w.dim()))), b, **settings)

    case = _case_where(Supports(), lambda layer: _some(layer.kernel_size, 2))
    for dtype in ("float64", "float32"):
        result = run_case(flipped, None, case, dtype=dtype)
        assert result.mismatch is not None and result.mismatch.quantity == "yhat"
        assert result.diagnosis is not None and result.diagnosis.name == "flipped-kernel"
        assert "(torch autograd)" in str(result.mismatch)
        assert {c.quantity for c in result.checks if not c.ok} >= {"grad_x", "grad_w"}

    def numpy_inside(x: Any, w: Any, b: Any, **settings: Any) -> Any:
        return torch.tensor(forward(x.detach().numpy(), w.detach().numpy(),
                                    None if b is None else b.detach().numpy(), **settings))

    with pytest.raises(ImplementationError, match="without a gradient"):
        assert_case(numpy_inside, None, case)


def test_jax_without_jax_is_a_usage_error() -> None:
    try:
        import jax  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("jax is installed")
    with pytest.raises(UsageError, match="needs jax installed"):
        assert_case(forward, None, cases(sweep=1)[0], framework="jax")


# ---------------------------------------------------------------------------------------
# cases and supports


def test_cases_are_deterministic_with_unique_word_ids() -> None:
    first = cases(EVERYTHING, sweep=60, seed=4)
    assert first == cases(EVERYTHING, sweep=60, seed=4)
    assert [c.id for c in first[:20]] == [c.id for c in cases(EVERYTHING, sweep=20, seed=4)]
    assert [c.id for c in first] != [c.id for c in cases(EVERYTHING, sweep=60, seed=5)]
    ids = [c.id for c in first]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"c\d\d-[123]d-s[0-9x]+-p[0-9x+]+(-[a-z0-9x+]+)*", i) for i in ids)
    assert [c.index for c in first] == list(range(1, 61))
    assert cases(sweep=100)[0].id.startswith("c001-")


SUPPORTS = [
    Supports(dims=(1,), max_stride=1, max_dilation=1, max_padding=0, groups=False),
    Supports(dims=(3,), padding_modes=("circular",), biases=("untied",), max_batch=1),
    Supports(dims=(2,), uneven_padding=True, biases=("none",), max_channels=1),
]


@pytest.mark.parametrize("supports", SUPPORTS, ids=lambda s: s.source())
def test_cases_stay_inside_the_supports(supports: Supports) -> None:
    drawn = [case.problem for case in cases(supports, sweep=40, seed=1)]
    for problem in drawn:
        layer = problem.layer
        assert problem.loss == "upstream" and problem.grad_yhat is not None
        assert layer.ndim in supports.dims
        assert max(layer.stride) <= supports.max_stride
        assert max(layer.dilation) <= supports.max_dilation
        assert max(max(p) for p in layer.padding) <= supports.max_padding
        assert layer.padding_mode in supports.padding_modes and layer.bias in supports.biases
        assert supports.groups or layer.groups == 1
        assert max(layer.in_channels, layer.out_channels) <= supports.max_channels
        assert layer.batch <= supports.max_batch
        assert supports.uneven_padding or layer.symmetric_padding is not None
    if supports.uneven_padding:
        assert any(p.layer.symmetric_padding is None for p in drawn)


def test_supports_as_options() -> None:
    for supports in [*SUPPORTS, Supports(), EVERYTHING]:
        assert Supports.from_options(supports.options()) == supports
        assert eval(supports.source(), {"Supports": Supports}) == supports
    with pytest.raises(UsageError, match=r"`--supports` \(=dim=1\) must be KEY=VALUE"):
        Supports.from_options(["dim=1"])
    with pytest.raises(UsageError, match=r"to true or false"):
        Supports.from_options(["groups=maybe"])


# ---------------------------------------------------------------------------------------
# the pytest plugin, end to end

# hypothesis's own plugin would re-import hypothesis in every inner run (1.3 s each)
QUIET = ("-p", "no:hypothesispytest")


USER_TESTS = """
import numpy as np
import pytest
from symconv.reference import numpy_conv as nc
from symconv.testing import assert_case, layer_from_call

def forward(x, w, b, **s):
    return nc.forward(layer_from_call(x, w, b, **s), x, w, b)

def backward(x, w, b, g, **s):
    return nc.backward(layer_from_call(x, w, b, **s), x, w, b, g)

def forward_without_bias(x, w, b, **s):
    return nc.forward(layer_from_call(x, w, None, **s), x, w, None)

@pytest.mark.symconv(dims=(1,), biases=("none",))
def test_right(symconv_case):
    layer = symconv_case.problem.layer
    assert layer.ndim == 1 and layer.bias == "none"
    assert_case(forward, backward, symconv_case)

@pytest.mark.symconv(biases=("shared",))
def test_wrong(symconv_case):
    assert_case(forward_without_bias, backward, symconv_case)

def test_plain():
    pass
"""


def test_plugin_parametrizes_with_the_ids_of_the_cases(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*QUIET, "--symconv-sweep", "5", "-v", "-k", "right or plain")
    result.assert_outcomes(passed=6)
    ids = [case.id for case in cases(Supports(dims=(1,), biases=("none",)), sweep=5)]
    result.stdout.fnmatch_lines([f"*test_user.py::test_right[[]{i}[]] PASSED*" for i in ids])
    result.stdout.fnmatch_lines(["*test_user.py::test_plain PASSED*"])
    # -k on one id selects that case alone
    one = pytester.runpytest(*QUIET, "--symconv-sweep", "5", "-v", "-k", f"test_right and {ids[2]}")
    one.assert_outcomes(passed=1)
    one.stdout.fnmatch_lines([f"*test_right[[]{ids[2]}[]] PASSED*"])
    # the default sweep is 20 cases, and the seed changes them
    default = pytester.runpytest(*QUIET, "-k", "right")
    default.assert_outcomes(passed=20)
    seeded = pytester.runpytest(
        *QUIET, "--symconv-sweep", "5", "--symconv-seed", "9", "-v", "-k", "right"
    )
    other = [case.id for case in cases(Supports(dims=(1,), biases=("none",)), sweep=5, seed=9)]
    seeded.stdout.fnmatch_lines([f"*test_right[[]{i}[]] PASSED*" for i in other])


def test_plugin_failures_print_the_message_and_stop_with_x(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*QUIET, "--symconv-sweep", "4", "-k", "wrong")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*ConvMismatch: yhat of test_user:forward_without_bias/backward differs from the "
            "exact value",
            "*configuration: *bias shared*",
            "*first wrong entry: yhat[[]*[]] expected *, got *",
            "*diagnosis: missing bias*",
            "*replay: pytest test_user.py::test_wrong -k c01-* --symconv-sweep 4 "
            "--symconv-seed 0",
        ]
    )
    stopped = pytester.runpytest(*QUIET, "--symconv-sweep", "4", "-x", "-k", "wrong")
    stopped.assert_outcomes(failed=1)
    # the replay of the first failure runs it alone
    replay = re.search(r"replay: pytest (\S+) -k (\S+)", result.stdout.str())
    assert replay is not None
    alone = pytester.runpytest(
        *QUIET, replay.group(1), "-k", replay.group(2), "--symconv-sweep", "4"
    )
    alone.assert_outcomes(failed=1)


def test_plugin_rejects_an_unknown_marker_field(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
import pytest

@pytest.mark.symconv(dim=(1,))
def test_x(symconv_case):
    pass
"""
    )
    result = pytester.runpytest(*QUIET, )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.symconv got unknown field `dim`*"])


def test_plugin_is_registered_and_light() -> None:
    from importlib.metadata import entry_points

    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins.get("symconv") == "symconv.testing.plugin"
    code = (
        "import sys, symconv.testing.plugin, symconv.testing; "
        "print(sorted(m for m in ('numpy', 'torch', 'symconv.crosscheck', "
        "'symconv.testing.api') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_case_fields_are_those_of_the_api() -> None:
    names = [f.name for f in dataclasses.fields(Case)]
    assert names[:4] == ["index", "seed", "sweep", "problem"]
