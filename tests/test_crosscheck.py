"""The cross-check: every backend agrees with the exact truth, and every mistake is caught."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symconv.crosscheck import (
    BACKENDS,
    Batch,
    check_problem,
    compare,
    exact_quantities,
    random_batch,
    random_problem,
    sweep,
)
from symconv.mutants import MUTANTS
from symconv.problem import Problem, load_problem, problem_from_dict
from symconv.symbolic.explicit import derive_explicit

# The exercise and variants of it: (description, problem tables) -- by hand
EXERCISE_VARIANTS = {
    "exercise": {},
    "shared bias": {"layer": {"bias": "shared"}, "values": {"b": 1}},
    "no bias": {"layer": {"bias": "none"}, "values": {"b": None}},
    "mse": {"loss": {"kind": "mse"}},
    "circular padding": {
        "layer": {"padding": 1, "padding_mode": "circular"},
        "values": {"b": [1, 1, 1, 1], "y": [1, 2, 3, 4]},
    },
    "stride 2, padding 1": {
        "layer": {"stride": 2, "padding": 1},
        "values": {"b": [1, 1], "y": [2, 4]},
    },
}


def variant(name: str) -> Problem:
    raw: dict[str, Any] = {
        "layer": {"input_length": 4, "kernel_size": 3, "bias": "untied"},
        "optimizer": {"learning_rate": "0.01"},
        "values": {"x": [1, 2, 3, 4], "w": [2, 1, 3], "b": [1, 1], "y": [2, 4]},
    }
    for table, changes in EXERCISE_VARIANTS[name].items():
        section = raw.setdefault(table, {})
        for key, value in changes.items():
            if value is None:
                section.pop(key, None)
            else:
                section[key] = value
    return problem_from_dict(raw)


@pytest.mark.parametrize("name", sorted(EXERCISE_VARIANTS))
def test_every_backend_agrees_on_the_exercise_and_its_variants(name: str) -> None:
    checks = check_problem(variant(name))
    assert {c.backend for c in checks} == set(BACKENDS)
    failing = [(c.backend, c.quantity) for c in checks if not c.ok]
    assert failing == []


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_mutant_is_caught_on_the_exercise(name: str) -> None:
    problem = load_problem("exercise2")
    if name == "stride-ignored":
        problem = variant("stride 2, padding 1")
    checks = check_problem(problem, backends=(), extra={name: MUTANTS[name]})
    assert any(not c.ok for c in checks), name


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_mutant_is_caught_in_most_random_configurations(name: str) -> None:
    rng = random.Random(7)
    caught = total = 0
    for _ in range(20):
        problem = random_problem(rng)
        if name == "missing-bias" and problem.bias == "none":
            continue  # nothing to leave out
        if name == "stride-ignored" and problem.stride == 1:
            continue
        batch = random_batch(problem, rng)
        checks = check_problem(problem, batch, backends=(), extra={name: MUTANTS[name]})
        total += 1
        caught += any(not c.ok for c in checks)
    # a mutant can be invisible only by coincidence (a symmetric kernel, a single tap …)
    assert total > 0 and caught >= 0.8 * total, (name, caught, total)


def test_float32_overflow_on_a_huge_input_is_caught() -> None:
    huge = load_problem("exercise2", {"values.x": "1e30,2e30,3e30,4e30"})
    checks = check_problem(huge, backends=("kernel-float64", "kernel-float32", "torch-float32"))
    by = {(c.backend, c.quantity): c for c in checks}
    assert by[("kernel-float64", "loss")].ok
    assert not by[("kernel-float32", "loss")].ok  # (10^31)² overflows float32
    assert not by[("torch-float32", "loss")].ok


def test_tolerance_is_tight_enough_to_catch_a_small_error() -> None:
    problem = load_problem("exercise2")
    batch = Batch.of_problem(problem)
    truth = exact_quantities(derive_explicit(problem), batch, problem.lr)
    from symconv.crosscheck import _BACKENDS

    function, _ = _BACKENDS["numpy-float64"]
    good = function(problem, batch, np.dtype(np.float64))
    assert all(c.ok for c in compare(problem, batch, truth, good, "numpy-float64"))
    # one part in a million on one weight gradient: far above float64 rounding
    bad = dict(good)
    bad["grad_w"] = good["grad_w"] * (1 + 1e-6)
    failing = [c.quantity for c in compare(problem, batch, truth, bad, "numpy-float64") if not c.ok]
    assert failing == ["grad_w"]
    # float32 gets a looser tolerance, but not one that hides a 1e-3 relative error
    function32, _ = _BACKENDS["numpy-float32"]
    good32 = function32(problem, batch, np.dtype(np.float32))
    bad32 = dict(good32)
    bad32["grad_x"] = good32["grad_x"] * np.float32(1.001)
    failing32 = [
        c.quantity for c in compare(problem, batch, truth, bad32, "numpy-float32") if not c.ok
    ]
    assert failing32 == ["grad_x"]


def test_a_missing_quantity_fails() -> None:
    problem = load_problem("exercise2")
    batch = Batch.of_problem(problem)
    truth = exact_quantities(derive_explicit(problem), batch, problem.lr)
    got = {"grad_b": None}
    (check,) = compare(problem, batch, truth, got, "x")
    assert not check.ok


def test_small_sweep_passes_and_is_reproducible() -> None:
    first = sweep(8, seed=3)
    second = sweep(8, seed=3)
    assert first.ok and first.configs == 8
    assert [c.config for c in first.checks] == [c.config for c in second.checks]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_property_symbolic_equals_numpy_equals_torch_and_sgd(seed: int) -> None:
    # every backend (lambdify, generated kernels, NumPy, torch autograd + optim.SGD, finite
    # differences) against the exact SymPy values, on a random layer and batch
    rng = random.Random(seed)
    problem = random_problem(rng)
    checks = check_problem(problem, random_batch(problem, rng))
    assert [(c.backend, c.quantity) for c in checks if not c.ok] == []
    assert any(c.backend == "torch-float64" and c.quantity == "w_next" for c in checks)
