"""Prove your own layer — the README's example: copy it next to your convolution.

pytest test_readme.py --symconv-sweep 50
"""

import pytest

from examples.numpy_im2col import backward, forward
from symconv.testing import Case, assert_case, assert_conv_matches


def test_on_a_built_in_problem() -> None:
    assert_conv_matches(forward, backward, problem="conv2d_small", sweep=0)


@pytest.mark.symconv(dims=(1, 2), padding_modes=("zeros", "circular"))
def test_on_random_layers(symconv_case: Case) -> None:
    assert_case(forward, backward, symconv_case)
