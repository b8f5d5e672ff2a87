"""The layer spec: validation, shapes and connectivity, against torch and by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from symconv.errors import ProblemError
from symconv.layer import Layer, make_layer, padding_for

# (description, settings, field named in the error, text in the message) -- by hand
INVALID = [
    ("no axes", {"input_shape": []}, "layer.input_shape", "1 to 3"),
    ("four axes", {"input_shape": [2, 2, 2, 2]}, "layer.input_shape", "1 to 3"),
    ("zero size", {"input_shape": [4, 0]}, "layer.input_shape[2]", "integer >= 1"),
    ("kernel per axis count", {"kernel_size": [2, 2, 2]}, "layer.kernel_size", "3 entries"),
    ("kernel wider than input", {"kernel_size": [2, 7]}, "layer.kernel_size", "axis 2"),
    ("stride 0 on one axis", {"stride": [1, 0]}, "layer.stride[2]", ">= 1"),
    ("padding pair of three", {"padding": [[1, 1, 1], 0]}, "layer.padding[1]", "pair"),
    ("negative padding in a pair", {"padding": [[1, -1], 0]}, "layer.padding[1][2]", ">= 0"),
    ("padding word", {"padding": "full"}, "layer.padding", '"same"'),
    ("groups not dividing", {"in_channels": 2, "groups": 3}, "layer.groups", "divide"),
    ("out channels not divisible", {"in_channels": 2, "out_channels": 3, "groups": 2},
     "layer.groups", "divide"),
    ("circular padding wider than input", {"padding": 5, "padding_mode": "circular"},
     "layer.padding", "wraps at most once"),
    ("bias word", {"bias": "tied"}, "layer.bias", "'shared'"),
    ("batch 0", {"batch": 0}, "layer.batch", ">= 1"),
    ("boolean channels", {"in_channels": True}, "layer.in_channels", "integer"),
]


@pytest.mark.parametrize(
    ("settings_", "field", "text"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_layers_are_refused(settings_: dict[str, Any], field: str, text: str) -> None:
    fields: dict[str, Any] = {"input_shape": [4, 4], "kernel_size": 2} | settings_
    with pytest.raises(ProblemError) as caught:
        make_layer(**fields)
    assert caught.value.field == field
    assert text in str(caught.value), str(caught.value)


# "same" padding (TensorFlow's rule): (n, k, s, d) -> (before, after), worked by hand:
# total = max((ceil(n/s) − 1)·s + d(k−1) + 1 − n, 0), the odd one after
SAME = [
    ((5, 3, 1, 1), (1, 1)),
    ((5, 4, 1, 1), (1, 2)),
    ((6, 3, 2, 1), (0, 1)),
    ((7, 3, 2, 1), (1, 1)),
    ((5, 3, 1, 2), (2, 2)),
    ((4, 1, 1, 1), (0, 0)),
]


@pytest.mark.parametrize(("args", "expected"), SAME)
def test_same_padding(args: tuple[int, int, int, int], expected: tuple[int, int]) -> None:
    n, k, s, d = args
    assert padding_for(n, k, s, d, "same") == expected
    layer = make_layer(input_shape=[n], kernel_size=k, stride=s, dilation=d, padding="same")
    assert layer.output_shape == (-(-n // s),)  # "same" keeps ceil(n/s) outputs


def test_shapes_follow_pytorch() -> None:
    layer = make_layer(
        input_shape=[6, 6], kernel_size=[3, 2], stride=[2, 1], padding=1,
        in_channels=2, out_channels=4, groups=2, batch=3, bias="untied",
    )
    out = torch.nn.functional.conv2d(
        torch.zeros(3, 2, 6, 6), torch.zeros(4, 1, 3, 2), stride=(2, 1), padding=1, groups=2
    )
    assert layer.y_shape == tuple(out.shape)
    assert layer.w_shape == (4, 1, 3, 2)
    assert layer.b_shape == (4, *layer.output_shape)
    assert layer.taps_per_output == 1 * 3 * 2
    assert layer.terms == math.prod(layer.y_shape) * 6


def test_exercise_window_table_by_hand() -> None:
    # output i reads x[i + j] (0-based) for a 4-long input and a 3-tap kernel
    assert make_layer(input_shape=4, kernel_size=3).window_table() == [[0, 1, 2], [1, 2, 3]]
    # stride 2, padding 1, circular: output 0 reads positions −1, 0, 1 → 3 (wrapped), 0, 1
    layer = make_layer(input_shape=4, kernel_size=3, stride=2, padding=1, padding_mode="circular")
    assert layer.window_table() == [[3, 0, 1], [1, 2, 3]]
    # uneven padding: one zero before, none after
    layer = make_layer(input_shape=3, kernel_size=2, padding=[[1, 0]])
    assert layer.window_table() == [[None, 0], [0, 1], [1, 2]]


def _forward_from_connectivity(layer: Layer, x: np.ndarray, w: np.ndarray, b: Any) -> np.ndarray:
    """ŷ computed from nothing but the connectivity (flat indices)."""
    xf, wf = x.reshape(-1), w.reshape(-1)
    bf = None if b is None else np.asarray(b).reshape(-1)
    out = np.zeros(math.prod(layer.y_shape))
    for o, bias, taps in layer.connectivity():
        out[o] = sum(wf[t.weight] * xf[t.source] for t in taps)
        if bias is not None:
            assert bf is not None
            out[o] += bf[bias]
    return out.reshape(layer.y_shape)


def _torch_forward(layer: Layer, x: np.ndarray, w: np.ndarray, b: Any) -> np.ndarray:
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
            3: torch.nn.functional.conv3d}[layer.ndim]
    pads: list[int] = []
    for before, after in reversed(layer.padding):  # F.pad takes the last axis first
        pads += [before, after]
    mode = "circular" if layer.padding_mode == "circular" else "constant"
    xt = torch.nn.functional.pad(torch.from_numpy(x), pads, mode=mode)
    shared = torch.from_numpy(b) if b is not None and layer.bias == "shared" else None
    out = conv(xt, torch.from_numpy(w), shared, stride=layer.stride, dilation=layer.dilation,
               groups=layer.groups)
    if b is not None and layer.bias == "untied":
        out = out + torch.from_numpy(b)
    return np.asarray(out.numpy())


@st.composite
def layers(draw: st.DrawFn) -> Layer:
    axes = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    fields = {
        "input_shape": [draw(st.integers(1, 6 if axes < 3 else 4)) for _ in range(axes)],
        "kernel_size": [draw(st.integers(1, 3)) for _ in range(axes)],
        "stride": [draw(st.integers(1, 3)) for _ in range(axes)],
        "dilation": [draw(st.integers(1, 2)) for _ in range(axes)],
        "padding": [[draw(st.integers(0, 2)), draw(st.integers(0, 2))] for _ in range(axes)],
        "padding_mode": draw(st.sampled_from(["zeros", "circular"])),
        "bias": draw(st.sampled_from(["shared", "untied", "none"])),
        "in_channels": groups * draw(st.integers(1, 2)),
        "out_channels": groups * draw(st.integers(1, 2)),
        "groups": groups,
        "batch": draw(st.integers(1, 2)),
    }
    try:
        return make_layer(**fields)
    except ProblemError:  # a kernel wider than the padded input, circular padding > n
        reject()


@settings(max_examples=60, deadline=None)
@given(layer=layers(), seed=st.integers(0, 2**16))
def test_connectivity_is_the_convolution_torch_computes(layer: Layer, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=layer.x_shape).astype(np.float64)
    w = rng.integers(-3, 4, size=layer.w_shape).astype(np.float64)
    b = None if layer.b_shape is None else rng.integers(-3, 4, size=layer.b_shape).astype(float)
    # small integers: both sides are exact, so equality is exact
    np.testing.assert_array_equal(
        _forward_from_connectivity(layer, x, w, b), _torch_forward(layer, x, w, b)
    )


def test_a_wrong_connectivity_is_caught() -> None:
    """The comparison above can fail: reading the kernel flipped along one axis differs."""
    layer = make_layer(input_shape=[4, 4], kernel_size=[2, 3], in_channels=2, out_channels=2)
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=layer.x_shape).astype(np.float64)
    w = rng.integers(-3, 4, size=layer.w_shape).astype(np.float64)
    b = rng.integers(-3, 4, size=layer.b_shape).astype(np.float64)
    flipped = np.ascontiguousarray(w[..., ::-1])
    assert not np.array_equal(
        _forward_from_connectivity(layer, x, flipped, b), _torch_forward(layer, x, w, b)
    )


def test_describe_names_what_differs_from_defaults() -> None:
    layer = make_layer(input_shape=[28, 28], kernel_size=4, stride=2, padding=1,
                       out_channels=5, batch=2)
    assert layer.describe() == (
        "2-D, input 28×28, 1→5 channels, kernel 4×4, stride 2×2, padding 1×1, bias shared, "
        "batch 2"
    )
