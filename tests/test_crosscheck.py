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
    check_problem,
    compare,
    exact_quantities,
    random_problem,
    random_values,
    sweep,
)
from symconv.mutants import MUTANTS, detectable
from symconv.problem import Problem, load_problem, problem_from_dict

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


# A 2-D layer on which every mutant's condition holds (groups, batch, stride, dilation,
# uneven padding, a non-square kernel), and a circular one for the wrap.
GENERAL = {
    "input_shape": [6, 5], "kernel_size": [3, 2], "stride": [2, 1], "dilation": [1, 2],
    "padding": [[1, 0], [0, 2]], "in_channels": 4, "out_channels": 2, "groups": 2,
    "batch": 2, "bias": "shared",
}
CIRCULAR = GENERAL | {"padding": [1, 1], "padding_mode": "circular"}


def _general(layer: dict[str, Any], loss: str = "sse_half", seed: int = 0) -> Problem:
    problem = problem_from_dict({"layer": layer, "loss": {"kind": loss}})
    return random_values(problem, random.Random(seed))


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_mutant_is_caught_on_a_general_layer(name: str) -> None:
    problem = _general(CIRCULAR if name == "no-circular-wrap" else GENERAL)
    assert detectable(name, problem.layer, problem.loss)
    checks = check_problem(problem, backends=(), extra={name: MUTANTS[name]})
    assert any(not c.ok for c in checks), name
    # and the same check passes the true reference (the comparison is not just strict)
    assert all(c.ok for c in check_problem(problem, backends=("numpy-float64",)))


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_mutant_is_caught_on_the_exercise_where_detectable(name: str) -> None:
    problem = load_problem("exercise2")
    if name == "stride-ignored":
        problem = variant("stride 2, padding 1")
    checks = check_problem(problem, backends=(), extra={name: MUTANTS[name]})
    assert any(not c.ok for c in checks) == detectable(name, problem.layer, problem.loss), name


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_mutant_is_caught_in_most_random_configurations(name: str) -> None:
    rng = random.Random(7)
    caught = total = 0
    for _ in range(40):
        problem = random_problem(rng)
        if not detectable(name, problem.layer, problem.loss):
            continue
        checks = check_problem(problem, backends=(), extra={name: MUTANTS[name]})
        total += 1
        caught += any(not c.ok for c in checks)
    # a mutant can be invisible only by coincidence (a symmetric kernel, a single tap …)
    assert total >= 3 and caught >= 0.8 * total, (name, caught, total)


def test_a_failing_check_names_the_worst_entry() -> None:
    problem = _general(GENERAL)
    checks = check_problem(problem, backends=(), extra={"flipped": MUTANTS["flipped-kernel"]})
    bad = next(c for c in checks if c.quantity == "yhat" and not c.ok)
    assert bad.index is not None and len(bad.index) == 4  # (example, channel, row, column)
    truth = exact_quantities(problem)["yhat"]
    assert bad.expected == float(truth[bad.index])
    assert bad.actual is not None and bad.actual != bad.expected
    assert {"index", "expected", "actual"} <= set(bad.as_json())


@pytest.mark.parametrize("loss", ["sse_half", "mse", "upstream"])
@pytest.mark.parametrize("layer", [GENERAL, CIRCULAR], ids=["zeros", "circular"])
def test_every_backend_agrees_on_general_layers(layer: dict[str, Any], loss: str) -> None:
    checks = check_problem(_general(layer, loss))
    failing = [(c.backend, c.quantity) for c in checks if not c.ok]
    assert failing == []
    # every backend ran, finite differences and lambdify too (gradcheck, which repeats
    # what finite differences prove, runs on the smallest layers only, as the exercise's)
    assert {c.backend for c in checks} == set(BACKENDS) - {"torch-gradcheck"}


def test_float32_overflow_on_a_huge_input_is_caught() -> None:
    huge = load_problem("exercise2", {"values.x": "1e30,2e30,3e30,4e30"})
    checks = check_problem(huge, backends=("kernel-float64", "kernel-float32", "torch-float32"))
    by = {(c.backend, c.quantity): c for c in checks}
    assert by[("kernel-float64", "loss")].ok
    assert not by[("kernel-float32", "loss")].ok  # (10^31)² overflows float32
    assert not by[("torch-float32", "loss")].ok


@pytest.mark.parametrize("name", ["exercise2", "general"])
def test_tolerance_is_tight_enough_to_catch_a_small_error(name: str) -> None:
    problem = load_problem("exercise2") if name == "exercise2" else _general(GENERAL)
    truth = exact_quantities(problem)
    from symconv.crosscheck import _BACKENDS

    function, _ = _BACKENDS["numpy-float64"]
    good = function(problem, np.dtype(np.float64))
    assert all(c.ok for c in compare(problem, truth, good, "numpy-float64"))
    # one part in a million on one weight gradient: far above float64 rounding
    bad = dict(good)
    bad["grad_w"] = good["grad_w"] * (1 + 1e-6)
    failing = [c.quantity for c in compare(problem, truth, bad, "numpy-float64") if not c.ok]
    assert failing == ["grad_w"]
    # float32 gets a looser tolerance, but not one that hides a 1e-3 relative error
    function32, _ = _BACKENDS["numpy-float32"]
    good32 = function32(problem, np.dtype(np.float32))
    bad32 = dict(good32)
    bad32["grad_x"] = good32["grad_x"] * np.float32(1.001)
    failing32 = [c.quantity for c in compare(problem, truth, bad32, "numpy-float32") if not c.ok]
    assert failing32 == ["grad_x"]


def test_a_missing_quantity_fails() -> None:
    problem = load_problem("exercise2")
    truth = exact_quantities(problem)
    got = {"grad_b": None}
    (check,) = compare(problem, truth, got, "x")
    assert not check.ok


def test_a_wrong_shape_fails() -> None:
    problem = _general(GENERAL)
    truth = exact_quantities(problem)
    got = {"grad_w": np.zeros(3)}
    (check,) = compare(problem, truth, got, "x")
    assert not check.ok


def test_sweep_draws_every_kind_of_layer() -> None:
    rng = random.Random(3)
    layers = [random_problem(rng).layer for _ in range(200)]
    assert {layer.ndim for layer in layers} == {1, 2, 3}
    assert any(layer.in_channels > 1 and layer.out_channels > 1 for layer in layers)
    assert any(layer.groups > 1 for layer in layers)
    assert any(layer.batch > 1 for layer in layers)
    assert any(layer.symmetric_padding is None for layer in layers)
    assert {layer.padding_mode for layer in layers} == {"zeros", "circular"}
    assert {layer.bias for layer in layers} == {"shared", "untied", "none"}


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
    checks = check_problem(problem)
    assert [(c.backend, c.quantity) for c in checks if not c.ok] == []
    assert any(c.backend == "torch-float64" and c.quantity == "w_next" for c in checks)
