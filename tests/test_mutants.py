"""Every mutant is caught where its docstring says it can be, and only there.

One 2-D layer has room for every mistake (groups 2, batch 2, stride 2, dilation 2,
asymmetric circular padding, an untied bias, a 2×2 kernel, sse_half).  Each mutant must
differ from the exact truth of the explicit derivation (and from PyTorch) in the
quantities its mistake touches — while the correct NumPy reference passes the very same
comparison — and must agree with the truth on the same layer with its condition removed,
so that :func:`symconv.mutants.detectable` is shown right both ways.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_reference import (  # tests/ is on the path
    TOL_EXACT,
    TOL_FINITE,
    as_floats,
    exact_truth,
    finite_backend,
    mismatches,
    run,
    with_values,
)

from symconv.mutants import DETECTABLE, MUTANTS, detectable
from symconv.problem import Problem
from symconv.reference import numpy_conv as nc
from symconv.reference import torch_conv as tc

# The layer with room for every mistake: 5×6 input, 2 → 2 channels in 2 groups, kernel
# 2×2, stride (2, 1), dilation (1, 2), circular padding (1, 0) × (0, 1), batch 2.
ROOMY: dict[str, Any] = {
    "input_shape": [5, 6],
    "kernel_size": 2,
    "stride": [2, 1],
    "dilation": [1, 2],
    "padding": [[1, 0], [0, 1]],
    "padding_mode": "circular",
    "in_channels": 2,
    "out_channels": 2,
    "groups": 2,
    "batch": 2,
    "bias": "untied",
}

# mutant: (quantities it must get wrong on ROOMY, the change that removes its condition)
CASES: dict[str, tuple[set[str], dict[str, Any]]] = {
    "flipped-kernel": ({"yhat", "loss", "grad_w", "grad_x", "w_next"}, {"kernel_size": 1}),
    "transposed-axes": ({"yhat", "loss", "grad_w", "grad_x", "w_next"}, {"kernel_size": [2, 1]}),
    "off-by-one": (
        {"yhat", "loss", "grad_w", "grad_x"},
        {"input_shape": [1, 1], "kernel_size": 1, "stride": 1, "dilation": 1, "padding": 0},
    ),
    "missing-bias": ({"yhat", "loss", "grad_b", "b_next"}, {"bias": "none"}),
    "wrong-sign": ({"w_next", "b_next", "yhat_next", "loss_next"}, {}),
    "stride-ignored": ({"grad_w", "grad_x", "w_next", "yhat_next"}, {"stride": 1}),
    "dilation-ignored": ({"grad_w", "grad_x", "w_next", "yhat_next"}, {"dilation": 1}),
    "unhalved-square": (
        {"grad_yhat", "grad_w", "grad_b", "grad_x", "w_next"}, {"loss": "upstream"}
    ),
    "wrong-group": ({"yhat", "loss", "grad_w", "grad_x"}, {"groups": 1}),
    "batch-not-summed": ({"grad_w", "grad_b", "w_next", "b_next"}, {"batch": 1}),
    "padding-side": ({"yhat", "loss", "grad_w", "grad_x"}, {"padding": [[1, 1], [0, 0]]}),
    "no-circular-wrap": ({"yhat", "loss", "grad_w", "grad_x"}, {"padding_mode": "zeros"}),
}
# the quantities that a mistake in the gradients only (not in ŷ) leaves right
GRADIENT_ONLY = {"stride-ignored", "dilation-ignored", "batch-not-summed", "unhalved-square"}


def problem(change: dict[str, Any] | None = None) -> Problem:
    table = {**ROOMY, **(change or {})}
    kind = table.pop("loss", "sse_half")
    return with_values(table, kind, "0.125", seed=11)


def test_every_mutant_has_a_case() -> None:
    assert CASES.keys() == MUTANTS.keys() == DETECTABLE.keys()


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_is_caught_where_detectable(name: str) -> None:
    p = problem()
    assert detectable(name, p.layer, p.loss)
    truth, exact = exact_truth(p)
    assert exact  # integers and lr 1/8: the truth is compared exactly
    # control: the correct reference passes the very comparison the mutant must fail
    assert not mismatches(truth, run(nc.step, p), tol=0)

    wrong = MUTANTS[name](p, np.dtype(np.float64))
    must_catch, _ = CASES[name]
    found = mismatches(truth, wrong, tol=0)
    assert must_catch <= found.keys(), f"{name}: caught only {sorted(found)}"
    # the same mistakes show against PyTorch with a float tolerance
    torch_found = mismatches(run(tc.step, p), wrong, tol=TOL_EXACT)
    assert must_catch <= torch_found.keys(), f"{name}: torch caught only {sorted(torch_found)}"
    if name in GRADIENT_ONLY:
        assert {"yhat", "loss"}.isdisjoint(found), f"{name} should keep the forward pass"


@pytest.mark.parametrize("name", sorted(set(MUTANTS) - {"wrong-sign"}))
def test_mutant_is_invisible_without_its_condition(name: str) -> None:
    _, change = CASES[name]
    p = problem(change)
    assert not detectable(name, p.layer, p.loss)
    truth, exact = exact_truth(p)
    wrong = MUTANTS[name](p, np.dtype(np.float64))
    assert not mismatches(truth if exact else as_floats(truth), wrong,
                          tol=0 if exact else TOL_EXACT)


@pytest.mark.parametrize("name", ["stride-ignored", "dilation-ignored", "batch-not-summed",
                                  "unhalved-square"])
def test_finite_differences_catch_the_wrong_gradients(name: str) -> None:
    p = problem()
    wrong = MUTANTS[name](p, np.dtype(np.float64))
    finite = run(finite_backend, p)
    assert not mismatches(finite, run(nc.step, p), tol=TOL_FINITE)  # control
    assert {"grad_w", "grad_x"} & mismatches(finite, wrong, tol=TOL_FINITE).keys()


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_follows_the_dtype(name: str) -> None:
    p = problem()
    result = MUTANTS[name](p, np.dtype(np.float32))
    truth = run(nc.step, p, np.float32)
    assert result.keys() == truth.keys()
    for key, value in result.items():
        if value is None:
            assert truth[key] is None, key
        else:
            assert np.asarray(value).dtype == np.float32, key
            assert np.shape(value) == np.shape(truth[key]), key


def test_the_exercise_catches_the_one_dimensional_mutants() -> None:
    # the exercise (1-D, stride 1, batch 1, no padding) shows what a 1-D layer can show
    from symconv.problem import load_problem

    p = load_problem("exercise2")
    truth = run(nc.step, p)
    for name in MUTANTS:
        found = mismatches(truth, MUTANTS[name](p, np.dtype(np.float64)), tol=TOL_EXACT)
        assert bool(found) == detectable(name, p.layer, p.loss), name
