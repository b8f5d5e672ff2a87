"""The NumPy im2col convolution (forward and hand-written backward) proven exactly."""

from __future__ import annotations

import numpy as np
import pytest

from examples.numpy_im2col import backward, forward
from symconv.testing import Case, ConvMismatch, Supports, assert_case, assert_conv_matches

# everything the example handles: 1-3 axes, uneven and circular padding, every bias mode
EVERYTHING = Supports(
    dims=(1, 2, 3),
    uneven_padding=True,
    padding_modes=("zeros", "circular"),
    biases=("shared", "untied", "none"),
)


@pytest.mark.parametrize("problem", ["exercise2", "conv2d_small"])
def test_built_in_problem(problem: str) -> None:
    assert_conv_matches(forward, backward, problem=problem, sweep=0)


@pytest.mark.symconv(EVERYTHING)
def test_sweep(symconv_case: Case) -> None:
    assert_case(forward, backward, symconv_case)


@pytest.mark.symconv(EVERYTHING, dims=(2,))
def test_sweep_float32(symconv_case: Case) -> None:
    # called with float32 arrays: the tolerance is float32's, the arithmetic the example's
    assert_case(forward, backward, symconv_case, dtype="float32")


def test_the_same_check_fails_a_wrong_gradient() -> None:
    def backward_halved(*args: object, **settings: object) -> object:
        grad_x, grad_w, grad_b = backward(*args, **settings)  # type: ignore[arg-type]
        return grad_x, grad_w / 2, grad_b

    with pytest.raises(ConvMismatch, match=r"grad_w of .* differs") as caught:
        assert_conv_matches(forward, backward_halved, problem="conv2d_small", sweep=0)
    assert caught.value.actual == pytest.approx(caught.value.expected / 2)
    assert np.isfinite(caught.value.expected)
