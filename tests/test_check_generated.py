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
3. *Extended* documents (12 more layers: circular padding, dilation 2, rates 1/3 and 1/6,
   means over m = 3) add ∂L/∂x — the product with ∂ŷ/∂x (``notation`` for m ≥ 2, like
   ∂L/∂w), the sums, ``∂L/∂x_t`` entry by entry, with numbers — a second SGD step
   (w⁽²⁾, b⁽²⁾, the forward pass and the loss after it), and values that do not terminate
   rounded to 3–4 significant digits: ``= 2/3 ≈ 0.667``, ``≈ 0.667`` or ``= 0.667`` are
   all ``correct`` (with ``=``, a value without a finite decimal may be rounded to at least
   three significant digits; a rounded terminating value is another number).  Their own
   mistakes: ∂L/∂x with the kernel not flipped, the second update with the wrong sign,
   ∂L/∂x_t at the border with a term missing; the older mistakes are planted in a few.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from check_style import (  # tests/ is on the path
    ALL_MUTATIONS,
    EXTENDED_MUTATIONS,
    MUTATIONS,
    applicable,
    random_problem,
    render,
)

from symconv.check.run import check_text
from symconv.problem import Problem

SEEDS = range(40)
PROBLEMS: dict[int, Problem] = {seed: random_problem(random.Random(seed)) for seed in SEEDS}
MUTATED_SEEDS = range(32)  # the planted mistakes of the plain documents (time: 2 cores)
EXTENDED_SEEDS = range(12)
EXTENDED: dict[int, Problem] = {
    seed: random_problem(random.Random(1000 + seed), extended=True) for seed in EXTENDED_SEEDS
}
OLD_ON_EXTENDED = range(4)  # the older mistakes planted in a few extended documents


def _describe(problem: Problem) -> str:
    return (
        f"n={problem.n} k={problem.k} s={problem.stride} p={problem.padding} "
        f"{problem.padding_mode} d={problem.dilation} m={problem.m} "
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
    for seed in MUTATED_SEEDS
    if applicable(PROBLEMS[seed], mutation)
]


@pytest.mark.parametrize(("seed", "mutation"), CASES)
def test_a_planted_mistake_is_found_and_named(seed: int, mutation: str) -> None:
    _planted(PROBLEMS[seed], seed, mutation, extended=False)


def _planted(problem: Problem, seed: int, mutation: str, *, extended: bool) -> None:
    rendered = render(problem, seed=seed, mutation=mutation, extended=extended)
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


# ---------------------------------------------------------------------------------------
# extended documents: circular padding, dilation 2, ∂L/∂x, two SGD steps, rounded values


def test_the_extended_problems_cover_the_space() -> None:
    problems = list(EXTENDED.values())
    assert {(p.padding_mode, p.dilation) for p in problems if p.padding} >= {
        ("circular", 1),
        ("circular", 2),
        ("zeros", 2),
    }
    assert {str(p.lr) for p in problems} >= {"1/3", "1/6"}
    assert any(p.loss == "mse" and p.m == 3 for p in problems)
    rendered = [render(p, seed=seed, extended=True) for seed, p in EXTENDED.items()]
    texts = [r.text for r in rendered]
    # ∂L/∂x both ways, the second step, and every way of writing a rounded value
    assert all("\\partial \\mathbf{x}}" in t and "w^{(2)}" in t for t in texts)
    assert sum("\\partial x_" in t for t in texts) >= 3
    assert set().union(*(r.rounded for r in rendered)) == {"frac", "approx", "equals"}
    assert any("} \\approx \\begin" in t for t in texts)  # a vector rounded
    for mutation in EXTENDED_MUTATIONS:
        sites = {
            render(p, seed=seed, mutation=mutation, extended=True).site
            for seed, p in EXTENDED.items()
            if applicable(p, mutation, extended=True)
        }
        assert sites >= ({"numeric"} if mutation == "update_sign2" else {"symbolic", "numeric"})


@pytest.mark.parametrize("seed", EXTENDED_SEEDS)
def test_an_extended_correct_submission_is_correct(seed: int) -> None:
    problem = EXTENDED[seed]
    rendered = render(problem, seed=seed, extended=True)
    got = _verdicts(rendered.text, problem)
    wrong = _mismatches(rendered.expected, got)
    assert not wrong, f"{_describe(problem)}\n" + "\n".join(wrong)
    assert not any(e["verdict"] in ("incorrect", "unchecked") for e in got.values())


EXTENDED_CASES = [
    pytest.param(seed, mutation, id=f"{mutation}-x{seed}")
    for mutation in ALL_MUTATIONS
    for seed in (EXTENDED_SEEDS if mutation in EXTENDED_MUTATIONS else OLD_ON_EXTENDED)
    if applicable(EXTENDED[seed], mutation, extended=True)
]


@pytest.mark.parametrize(("seed", "mutation"), EXTENDED_CASES)
def test_an_extended_planted_mistake_is_found_and_named(seed: int, mutation: str) -> None:
    _planted(EXTENDED[seed], seed, mutation, extended=True)


def test_rounded_values_with_approx_and_equals() -> None:
    """The rounding rule on single equations: ≈ any rounding to the places written; = only
    for a value without a finite decimal, to three significant digits or more."""
    problem = EXTENDED[next(s for s, p in EXTENDED.items() if str(p.lr) == "1/3")]
    text = "\n\n".join(
        f"$$\\alpha {written} \\tag{{{label}}}$$"
        for label, written in [
            ("a", "\\approx 0.333"),
            ("b", "= 0.333"),
            ("c", "= 0.3333"),
            ("d", "\\approx 0.3"),
            ("e", "= 0.3"),  # one significant digit with =
            ("f", "= 0.334"),  # not a rounding
            ("g", "\\approx 0.33"),
        ]
    )
    got = {label: e["verdict"] for label, e in _verdicts(text, problem).items()}
    assert got == {
        "a": "correct",
        "b": "correct",
        "c": "correct",
        "d": "correct",
        "e": "incorrect",
        "f": "incorrect",
        "g": "correct",
    }
