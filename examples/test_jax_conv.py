"""The JAX convolution, differentiated by ``jax.vjp`` (skipped without JAX)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("jax")

from examples.jax_conv import forward
from symconv.testing import Case, ConvMismatch, Supports, assert_case, assert_conv_matches

# jaxlib 0.10.2 (CPU) aborts the process — an XLA check failure, no Python exception — in
# the gradient w.r.t. x of some strided 2-D convolutions (an axis with one output
# position that leaves input unread), e.g. x (1,1,4,4), w (1,1,2,2), stride (2,2),
# padding ((1,1),(0,0)), rhs_dilation (1,2).  A crash cannot be reported as a mismatch,
# so 2-D and 3-D layers are drawn with stride 1 only.
ONE_D = Supports(dims=(1,), uneven_padding=True, padding_modes=("zeros", "circular"))
UNSTRIDED = Supports(
    dims=(2, 3), max_stride=1, uneven_padding=True, padding_modes=("zeros", "circular")
)


@pytest.mark.parametrize("problem", ["conv2d_small"])
def test_built_in_problem(problem: str) -> None:
    assert_conv_matches(forward, problem=problem, sweep=0, framework="jax")


@pytest.mark.symconv(ONE_D)
def test_sweep_1d(symconv_case: Case) -> None:
    assert_case(forward, None, symconv_case, framework="jax")


@pytest.mark.symconv(UNSTRIDED)
def test_sweep_unstrided(symconv_case: Case) -> None:
    assert_case(forward, None, symconv_case, framework="jax")


def test_the_same_check_fails_a_flipped_kernel() -> None:
    import jax.numpy as jnp  # type: ignore[import-not-found, unused-ignore]

    def flipped(x: Any, w: Any, b: Any, **settings: Any) -> Any:
        return forward(x, jnp.flip(w, axis=(2, 3)), b, **settings)

    with pytest.raises(ConvMismatch, match="diagnosis: flipped kernel"):
        assert_conv_matches(flipped, problem="conv2d_small", sweep=0, framework="jax")
