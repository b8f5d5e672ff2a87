"""The 1-D worked model (symconv.worked1d): which entry reads which, checked from first
principles, and its numbers checked against sums written here.

The windows are recomputed in this file from the definition of a padded, strided,
dilated cross-correlation (0-based: output i reads the padded input at s·i + d·j under
tap j, i.e. x[s·i + d·j − p], zero or wrapped outside); the terms of every gradient are
recomputed from the chain rule on those windows; every equation's numbers are multiplied
out with Python fractions and compared with the value the derivation computed.  A model
with one wrong tap, a wrong sign or a dropped term is caught (``test_a_wrong_model_is_caught``).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import pytest

from symconv.derivation import build
from symconv.problem import load_problem, problem_from_dict
from symconv.worked1d import Equation, Factor, Term, Worked, outline, worked


def _problem(**layer: Any) -> Any:
    """A 1-D variant of the exercise's layer, with values made up here unless ``values``
    is False."""
    values = layer.pop("values", True)
    loss = layer.pop("loss", "sse_half")
    n, k = layer.get("input_length", 4), layer.get("kernel_size", 3)
    raw: dict[str, Any] = {
        "title": "variant",
        "layer": {"input_length": n, "kernel_size": k, "bias": "untied", **layer},
        "loss": {"kind": loss},
        "optimizer": {"learning_rate": "0.01", "steps": 1},
    }
    problem = problem_from_dict(raw)
    if not values:
        return problem
    m = problem.m
    raw["values"] = {
        "x": [t * t - 3 for t in range(1, n + 1)],
        "w": [2 - j for j in range(k)],
        "y": [i - 1 for i in range(m)],
    }
    if raw["layer"]["bias"] == "untied":
        raw["values"]["b"] = [1 + i for i in range(m)]
    elif raw["layer"]["bias"] == "shared":
        raw["values"]["b"] = "0.5"
    return problem_from_dict(raw)


VARIANTS = {
    "exercise": {},
    "stride2": {"input_length": 7, "stride": 2},
    "padded": {"padding": 1, "bias": "shared"},
    "circular": {"input_length": 5, "padding": 2, "padding_mode": "circular"},
    "dilated": {"input_length": 7, "dilation": 2, "bias": "none"},
    "long": {"input_length": 12, "kernel_size": 2, "stride": 1, "loss": "mse"},
}


def _expected_window(problem: Any, i: int) -> list[int | None]:
    n, s, p, d = problem.n, problem.stride, problem.padding, problem.dilation
    cells: list[int | None] = []
    for j in range(problem.k):
        t = s * i + d * j - p
        if 0 <= t < n:
            cells.append(t)
        elif problem.padding_mode == "circular":
            cells.append(t % n)
        else:
            cells.append(None)
    return cells


def _product(values: tuple[Any, ...]) -> Fraction:
    out = Fraction(1)
    for v in values:
        out *= Fraction(str(v))
    return out


def _sum(eq: Equation) -> Fraction:
    assert eq.numbers is not None
    return sum(
        (term.sign * _product(nums) for term, nums in zip(eq.terms, eq.numbers)), Fraction(0)
    )


def _check(model: Worked) -> None:
    """Every structural and numeric claim of the model, recomputed here."""
    problem = model.problem
    m, k, n = problem.m, problem.k, problem.n
    forward = model.section("forward").equations
    assert [eq.index for eq in forward] == list(range(m))
    windows = [_expected_window(problem, i) for i in range(m)]
    for eq, window in zip(forward, windows):
        assert list(eq.window) == window
        taps = [
            Term((Factor("w", j), Factor("x", t))) for j, t in enumerate(window) if t is not None
        ]
        if model.bias.present:
            taps.append(Term((Factor("b", model.bias.index(eq.index or 0)),)))
        assert list(eq.terms) == taps
    # the chain rule on those windows
    for eq in model.section("grad_w").equations:
        j = eq.index
        expected = [
            Term((Factor("grad_yhat", i), Factor("x", w[j])))
            for i, w in enumerate(windows)
            if w[j] is not None
        ]
        assert list(eq.terms) == expected
    for eq in model.section("grad_x").equations:
        expected = [
            Term((Factor("grad_yhat", i), Factor("w", j)))
            for i, w in enumerate(windows)
            for j in range(k)
            if w[j] == eq.index
        ]
        assert list(eq.terms) == expected
    assert len(model.section("grad_x").equations) == n
    if model.bias.present:
        bias = model.section("grad_b").equations
        assert len(bias) == (m if problem.bias == "untied" else 1)
        for eq in bias:
            outputs = [eq.index] if problem.bias == "untied" else list(range(m))
            assert list(eq.terms) == [Term((Factor("grad_yhat", i),)) for i in outputs]
    else:
        assert not model.has("grad_b")
    if not model.has_numbers:
        return
    # the numbers multiply out to the derivation's values
    for key in ("forward", "grad_w", "grad_b", "grad_x", "update", "after"):
        if not model.has(key):
            continue
        for eq in model.section(key).equations:
            if eq.key == "loss_next":
                continue
            assert _sum(eq) == Fraction(str(eq.value)), (key, eq.index)
    for section, loss_key in (("loss", "loss"), ("after", "loss_next")):
        (eq,) = model.section(section).of(loss_key)
        factor = Fraction(1, m) if problem.loss == "mse" else Fraction(1, 2)
        total = sum(
            (factor * (_product((y,)) - _product((yhat,))) ** 2 for y, yhat in eq.numbers or ()),
            Fraction(0),
        )
        assert total == Fraction(str(eq.value))
    step = model.steps[0]
    x = problem.x
    for eq, window in zip(model.section("forward").equations, windows):
        direct = sum(
            (
                Fraction(str(step.w[j])) * Fraction(str(x[t]))
                for j, t in enumerate(window)
                if t is not None
            ),
            Fraction(0),
        )
        if problem.b_values is not None:
            direct += Fraction(str(problem.b_values[model.bias.index(eq.index or 0)]))
        assert direct == Fraction(str(eq.value))


@pytest.mark.parametrize("name", VARIANTS)
def test_model_structure_and_numbers(name: str) -> None:
    problem = load_problem("exercise2") if name == "exercise" else _problem(**VARIANTS[name])
    assert problem.loss == ("mse" if name == "long" else "sse_half")
    _check(worked(build(problem)))


def test_the_exercise_reads_as_the_submission_does() -> None:
    """Values read off the exercise by hand (x = (1,2,3,4), w = (2,1,3), b = (1,1), y = (2,4)):
    ŷ = (14, 20), ∂L/∂ŷ = (12, 16), ∂L/∂w₁ = 12·1 + 16·2 = 44, ∂L/∂x₁ = 12·2 = 24."""
    model = worked(build(load_problem("exercise2")))
    assert [eq.value for eq in model.section("forward").equations] == [14, 20]
    assert [eq.value for eq in model.section("grad_yhat").equations] == [12, 16]
    assert model.section("grad_w").equations[0].numbers == ((12, 1), (16, 2))
    assert model.section("grad_w").equations[0].value == 44
    assert model.section("grad_x").equations[0].numbers == ((12, 2),)
    update = model.section("update").of("w_next")[0]
    assert [f.key for t in update.terms for f in t.factors] == ["w", "lr", "grad_w"]
    assert [t.sign for t in update.terms] == [1, -1]
    assert model.value(Factor("lr")) == Fraction(1, 100)


def test_a_wrong_model_is_caught() -> None:
    """The checks above fail on a model with one wrong tap, a dropped term or a wrong sign."""
    model = worked(build(_problem(input_length=7, stride=2)))
    _check(model)

    def altered(key: str, index: int, change: Any) -> Worked:
        sections = []
        for section in model.sections:
            if section.key == key:
                eqs = list(section.equations)
                eqs[index] = change(eqs[index])
                section = dataclasses.replace(section, equations=tuple(eqs))
            sections.append(section)
        return dataclasses.replace(model, sections=tuple(sections))

    wrong_tap = altered(
        "grad_w",
        1,
        lambda eq: dataclasses.replace(
            eq, terms=(Term((Factor("grad_yhat", 0), Factor("x", 2))), *eq.terms[1:])
        ),
    )
    dropped = altered(
        "grad_x",
        2,
        lambda eq: dataclasses.replace(eq, terms=eq.terms[:-1], numbers=(eq.numbers or ())[:-1]),
    )
    sign = altered(
        "update",
        0,
        lambda eq: dataclasses.replace(
            eq, terms=(eq.terms[0], dataclasses.replace(eq.terms[1], sign=1))
        ),
    )
    for bad in (wrong_tap, dropped, sign):
        with pytest.raises(AssertionError):
            _check(bad)


def test_without_values_or_explicit_form() -> None:
    problem = _problem(bias="none", values=False)
    keys = [o.key for o in outline(problem)]
    assert keys == ["forward", "loss", "grad_yhat", "grad_w", "grad_x", "update"]
    model = worked(build(problem))
    assert model.keys == tuple(keys) and not model.has_numbers
    assert all(
        eq.numbers is None and eq.value is None for s in model.sections for eq in s.equations
    )
    closed = worked(build(load_problem("exercise2"), form="closed"))
    assert all(not s.equations for s in closed.sections)
    assert [c.key for c in closed.section("update").closed] == ["w_next", "b_next"]
    assert closed.closed_of("b_next") == closed.section("update").closed[1]
    assert closed.closed_of("yhat_next") is None  # no closed form after the update
    assert worked(build(load_problem("exercise2"), form="explicit")).closed_of("yhat") is None
    # "here" is left out where this problem's sizes change nothing
    assert closed.section("loss").closed_of("loss") is not None


@pytest.mark.parametrize("bias", ["untied", "shared", "none"])
def test_the_question_sheet_asks_what_the_report_derives(bias: str) -> None:
    """The sheet's tasks are the outline's sections without answers: each gradient and
    updated parameter of the outline is asked for, nothing else (no bias: no b at all),
    and no value of the derivation is printed."""
    from symconv.course.sheets import render_sheet

    problem = _problem(input_length=7, stride=2, bias=bias)
    tex = render_sheet(problem, variant="v1")
    tasks = tex[tex.index(r"\section*{Tasks}") : tex.index(r"\section*{Handing in}")]
    quantities = {q for part in outline(problem) for q in part.quantities}
    b = r"\mathbf{b}" if bias == "untied" else "b"
    asked = {
        "grad_w": r"\frac{\partial \mathcal{L}}{\partial \mathbf{w}}",
        "grad_b": rf"\frac{{\partial \mathcal{{L}}}}{{\partial {b}}}",
        "grad_x": r"\frac{\partial \mathcal{L}}{\partial \mathbf{x}}",
        "w_next": r"\mathbf{w}^{(1)}",
        "b_next": rf"${b}^{{(1)}}$",
    }
    for key, text in asked.items():
        assert (text in tasks) == (key in quantities), key
    assert ("bias" in tasks) == (bias != "none")
    model = worked(build(problem))
    for eq in model.section("grad_w").equations:
        assert str(eq.value) not in tasks.replace("(1)", "")  # no answer leaks


@pytest.mark.parametrize("name", VARIANTS)
def test_the_conventions_index_formula_is_the_models_window(name: str) -> None:
    """The cross-correlation note's x̃[…] (worked.read_at) names, for every output and tap,
    the input the model's window reads (inside the input; padding outside).  With the
    padding left out of the formula (as before this test) the padded variants fail."""
    from sympy import Symbol

    from symconv.worked import conventions, read_at

    problem = load_problem("exercise2") if name == "exercise" else _problem(**VARIANTS[name])
    at = read_at(problem)
    model = worked(build(problem))
    for eq in model.section("forward").equations:
        for j, t in enumerate(eq.window):
            position = int(at.subs({Symbol("i"): (eq.index or 0) + 1, Symbol("j"): j + 1}))
            inside = 1 <= position <= problem.n
            if problem.padding_mode == "circular" or inside:
                assert t is not None and (position - 1) % problem.n == t
            else:
                assert t is None
    (note,) = [n for n in conventions(problem) if n.title.startswith("Cross-correlation")]
    from symconv.mathtext import math

    assert f"x̃[{math(at)}]" in note.unicode
