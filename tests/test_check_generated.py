"""The checker generalises: generated submissions in the exercise's style, for 40 layers.

:mod:`check_style` renders, for a random layer (n ≤ 7, k ≤ 3, stride ≤ 2, zero padding
0–1, a shared, untied or no bias, ½‖·‖² or the mean squared error, learning rates like
0.01, 0.1, 0.5, 1/4, small integer and one-decimal values), the whole derivation as the
student of ``../shared/exercise/submission.md`` writes it.  The verdict of every equation
is decided by construction (the column·row products and the undefined ``(m×1)·(m×k)``
products are ``notation``, the rest ``correct``), never read from the checker.

1. Every rendered submission gets exactly those verdicts: no ``incorrect``, no
   ``unchecked``.
2. Each catalogued mistake, planted in one equation (symbolic or numeric part), makes that
   equation — and only it — ``incorrect``, with the diagnosis the mistake must get
   wherever no other catalogued mistake explains the same value.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from check_style import MUTATIONS, applicable, random_problem, render  # tests/ is on the path

from symconv.check.run import check_text
from symconv.problem import Problem

SEEDS = range(40)
PROBLEMS: dict[int, Problem] = {seed: random_problem(random.Random(seed)) for seed in SEEDS}


def _describe(problem: Problem) -> str:
    return (
        f"n={problem.n} k={problem.k} s={problem.stride} p={problem.padding} m={problem.m} "
        f"bias={problem.bias} loss={problem.loss} lr={problem.lr}"
    )


def _verdicts(text: str, problem: Problem) -> dict[str, dict[str, Any]]:
    result = check_text(text, problem, name="generated")
    by_label: dict[str, dict[str, Any]] = {}
    for equation in result["equations"]:
        assert equation["label"] not in by_label, equation["label"]
        by_label[equation["label"]] = equation
    return by_label


def _mismatches(expected: dict[str, str], got: dict[str, dict[str, Any]]) -> list[str]:
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))
    return [
        f"{label}: expected {verdict}, got {got[label]['verdict']} — {got[label]['message']}"
        for label, verdict in expected.items()
        if got[label]["verdict"] != verdict
    ]


def test_the_generated_problems_cover_the_space() -> None:
    problems = list(PROBLEMS.values())
    assert {p.bias for p in problems} == {"shared", "untied", "none"}
    assert {p.loss for p in problems} == {"sse_half", "mse"}
    assert {p.stride for p in problems} == {1, 2}
    assert {p.padding for p in problems} == {0, 1}
    assert {p.k for p in problems} == {1, 2, 3}
    assert {str(p.lr) for p in problems} >= {"1/100", "1/10", "1/2", "1/4"}
    assert max(p.n for p in problems) == 7 and max(p.m for p in problems) >= 5
    decimals = [v for p in problems for v in (p.x or ()) if not v.is_Integer]
    assert decimals, "one-decimal values"
    # every mutation is planted often, in both parts of the document where it can be
    sites = Counter(
        (mutation, render(p, seed=seed, mutation=mutation).site)
        for seed, p in PROBLEMS.items()
        for mutation in MUTATIONS
        if applicable(p, mutation)
    )
    for mutation in MUTATIONS:
        assert sum(n for (m, _), n in sites.items() if m == mutation) >= 8, mutation
    for pair in [("sign", "numeric"), ("window", "numeric"), ("label", "after")]:
        assert sites[pair] >= 2, pair
    # the column·row products of the style are in most documents
    notation = [
        "notation" in render(p, seed=seed).expected.values() for seed, p in PROBLEMS.items()
    ]
    assert sum(notation) >= 25


@pytest.mark.parametrize("seed", SEEDS)
def test_a_correct_submission_is_correct(seed: int) -> None:
    problem = PROBLEMS[seed]
    rendered = render(problem, seed=seed)
    got = _verdicts(rendered.text, problem)
    wrong = _mismatches(rendered.expected, got)
    assert not wrong, f"{_describe(problem)}\n" + "\n".join(wrong)
    assert not any(e["verdict"] in ("incorrect", "unchecked") for e in got.values())


CASES = [
    pytest.param(seed, mutation, id=f"{mutation}-{seed}")
    for mutation in MUTATIONS
    for seed in SEEDS
    if applicable(PROBLEMS[seed], mutation)
]


@pytest.mark.parametrize(("seed", "mutation"), CASES)
def test_a_planted_mistake_is_found_and_named(seed: int, mutation: str) -> None:
    problem = PROBLEMS[seed]
    rendered = render(problem, seed=seed, mutation=mutation)
    label = rendered.mutated
    assert label is not None and rendered.expected[label] == "incorrect"
    got = _verdicts(rendered.text, problem)
    context = f"{_describe(problem)}; {mutation} ({rendered.site}) in ({label})"
    wrong = _mismatches(rendered.expected, got)
    assert not wrong, context + "\n" + "\n".join(wrong)
    if rendered.kind is not None:
        found = got[label]
        assert found["diagnosis_kind"] == rendered.kind, (
            f"{context}: diagnosis {found['diagnosis_kind']} ({found['diagnosis']}), "
            f"expected {rendered.kind}"
        )
