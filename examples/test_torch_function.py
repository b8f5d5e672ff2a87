"""The ``torch.autograd.Function`` convolution: autograd runs its hand-written backward."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from examples.torch_function import forward
from symconv.testing import Case, Supports, assert_case, assert_conv_matches

SUPPORTS = Supports(
    dims=(1, 2),
    uneven_padding=True,
    padding_modes=("zeros", "circular"),
    biases=("shared", "untied", "none"),
)


@pytest.mark.parametrize("problem", ["exercise2", "conv2d_small"])
def test_built_in_problem(problem: str) -> None:
    # no backward given: symconv differentiates `forward` with torch autograd
    assert_conv_matches(forward, problem=problem, sweep=0)


@pytest.mark.symconv(SUPPORTS)
def test_sweep(symconv_case: Case) -> None:
    assert_case(forward, None, symconv_case)
