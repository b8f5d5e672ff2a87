"""The rubric (parsing, the scoring rule), error carried forward, and generated submissions.

Expected values are written by hand (the exercise's numbers, and the carried chain of a
wrong ŷ₁ = 15 worked out on paper) or come from the derivation (``symconv derive``), never
from the module under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sympy import Rational

from symconv.check.run import check_text
from symconv.course import carried
from symconv.course.rubric import (
    ITEMS,
    Claim,
    default_rubric,
    is_carried,
    item_of,
    load_rubric,
    read_claims,
    rubric_from_dict,
    score_items,
    show,
)
from symconv.course.samples import Plan, make_submission
from symconv.derivation import build
from symconv.errors import UsageError
from symconv.problem import Problem, load_problem
from symconv.serialize import derivation_json

F = Fraction
DATA = Path(__file__).parent / "data" / "check"

# ---------------------------------------------------------------------------------------
# the rubric file


def test_the_default_rubric_grades_every_quantity_for_14_points() -> None:
    rubric = default_rubric()
    assert rubric.items == ITEMS
    assert sum(points for _, points in rubric.points) == 14
    assert (rubric.notation, rubric.carried) == (F(1, 2), F(1))


def test_points_and_fractions_are_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(
        '[points]\nyhat = "2.5"\ngrad_w = "2/3"\nloss = 1\n[partial]\nnotation = 0.25\n'
    )
    rubric = load_rubric(path)
    assert rubric.points == (("yhat", F(5, 2)), ("loss", F(1)), ("grad_w", F(2, 3)))
    assert (rubric.notation, rubric.carried) == (F(1, 4), F(1))  # carried: the default


def test_without_points_every_item_has_its_default() -> None:
    rubric = rubric_from_dict({"partial": {"carried": "0.5"}})
    assert rubric.items == ITEMS and rubric.carried == F(1, 2)


BAD_RUBRICS = [
    ('[points]\ngrad_q = 1\n', "`points.grad_q` is not a quantity; allowed: yhat, loss"),
    ('[points]\nyhat = -1\n', "`points.yhat` (=-1) must be a number of points"),
    ('[points]\nyhat = "two"\n', "`points.yhat` (='two') must be a number"),
    ('[partial]\ncarried = 1.5\n', "`partial.carried` (=1.5) must be a fraction in [0, 1]"),
    ('[partial]\nother = 0.5\n', "`partial.other` is not a kind of partial credit"),
    ('[bonus]\nx = 1\n', "`bonus` is not a rubric table"),
    ('points = 3\n', "`points` must be a table"),
    ('[points\n', "is not valid TOML"),
    ('[points]\n', "grades nothing"),
]


@pytest.mark.parametrize(("text", "message"), BAD_RUBRICS)
def test_a_bad_rubric_is_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        load_rubric(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"`--rubric` (={str(path)!r})")


def test_a_missing_rubric_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a readable file"):
        load_rubric(tmp_path / "none.toml")


def test_the_digest_depends_on_the_points_not_the_source() -> None:
    a = rubric_from_dict({"points": {"yhat": 2}}, source="a.toml")
    b = rubric_from_dict({"points": {"yhat": "2"}}, source="b.toml")
    c = rubric_from_dict({"points": {"yhat": 3}})
    assert a.digest() == b.digest() != c.digest()


# ---------------------------------------------------------------------------------------
# reading the checker's equations

ITEM_OF = [
    (("yhat", 0), "yhat"),
    (("yhat", 1), "yhat_next"),
    (("loss", 1), "loss_next"),
    (("grad_w", 0), "grad_w"),
    (("grad_w", 1), None),  # a gradient of the second step is not graded
    (("w_next", 1), "w_next"),
    (("w_next", 0), "w_next"),
    (("yhat_next", 1), "yhat_next"),
    (("yhat", 2), None),
    ((None, None), None),
    (("w", 0), None),
]


@pytest.mark.parametrize(("given", "item"), ITEM_OF)
def test_which_item_an_equation_counts_for(given: tuple[Any, Any], item: str | None) -> None:
    assert item_of(*given) == item


def _eq(label: str, verdict: str, quantity: str | None, entry: int | None, value: Any,
        step: int = 0) -> dict[str, Any]:
    return {"label": label, "verdict": verdict, "quantity": quantity, "step": step,
            "entry": entry, "value": value}


def test_claims_are_the_judged_equations_with_numbers() -> None:
    equations = [
        _eq("1", "correct", "yhat", 0, None),  # symbolic: no number
        _eq("2", "correct", "yhat", 0, "14"),
        _eq("3", "unchecked", "yhat", 1, "20"),
        _eq("4", "incorrect", "yhat", None, ["14", "21"]),
        _eq("5", "correct", "yhat", None, ["14"]),  # a vector of the wrong length
        _eq("6", "correct", "yhat", 5, "3"),  # an entry out of range
        _eq("7", "notation", "loss", None, "200"),
        _eq("8", "correct", None, None, ["1", "2"]),  # a definition
    ]
    claims, unread = read_claims(equations, {"yhat": 2, "loss": 1})
    assert [(c.label, c.item, c.entries, c.values, c.verdict) for c in claims] == [
        ("2", "yhat", (0,), (F(14),), "correct"),
        ("4", "yhat", (0, 1), (F(14), F(21)), "incorrect"),
        ("7", "loss", (0,), (F(200),), "notation"),
    ]
    assert unread == {"yhat": 4}  # 1, 3, 5 and 6


# ---------------------------------------------------------------------------------------
# the scoring rule, on hand-made claims: ŷ has 2 entries (truth 14, 20), worth 2 points

TRUTH = {"yhat": (F(14), F(20)), "loss": (F(200),)}
RUBRIC = rubric_from_dict(
    {"points": {"yhat": 2, "loss": 1}, "partial": {"notation": "1/4", "carried": "1/2"}}
)


def _claim(index: int, item: str, entries: tuple[int, ...], values: tuple[int | F, ...],
           verdict: str) -> Claim:
    return Claim(index, str(index), item, entries, tuple(F(v) for v in values), verdict)


SCORING = [
    # (claims, own values of L, expected points of ŷ, of L)
    ("all right", [_claim(0, "yhat", (0, 1), (14, 20), "correct"),
                   _claim(1, "loss", (0,), (200,), "correct")], None, F(2), F(1)),
    ("nothing stated", [], None, F(0), F(0)),
    ("one entry not stated", [_claim(0, "yhat", (1,), (20,), "correct")], None, F(1), F(0)),
    ("the final claim decides: corrected",
     [_claim(0, "yhat", (0,), (15,), "incorrect"), _claim(1, "yhat", (0, 1), (14, 20), "correct")],
     None, F(2), F(0)),
    ("the final claim decides: spoiled",
     [_claim(0, "yhat", (0, 1), (14, 20), "correct"), _claim(1, "yhat", (1,), (21,), "incorrect")],
     None, F(1), F(0)),
    ("notation anywhere: the notation fraction",
     [_claim(0, "yhat", (0,), (14,), "notation"), _claim(1, "yhat", (0, 1), (14, 20), "correct")],
     None, F(2) * (F(1, 4) + 1) / 2, F(0)),
    ("a vector judged wrong as a whole keeps its right entries",
     [_claim(0, "yhat", (0, 1), (14, 21), "incorrect")], None, F(1), F(0)),
    ("carried: wrong, but the value of the student's own ŷ",
     [_claim(0, "yhat", (0, 1), (15, 20), "incorrect"),
      _claim(1, "loss", (0,), (F(425, 2),), "incorrect")], (F(425, 2),), F(1), F(1, 2)),
    ("not carried: wrong, and not from the student's values",
     [_claim(0, "yhat", (0, 1), (15, 20), "incorrect"),
      _claim(1, "loss", (0,), (213,), "incorrect")], (F(425, 2),), F(1), F(0)),
    ("carried and loose notation: the smaller fraction",
     [_claim(1, "loss", (0,), (F(425, 2),), "notation"),
      _claim(2, "loss", (0,), (F(425, 2),), "incorrect")], (F(425, 2),), F(0), F(1, 4)),
    ("carried up to a rounding the checker accepts",
     [_claim(1, "loss", (0,), (F("0.667"),), "incorrect")], (F(2, 3),), F(0), F(1, 2)),
]


@pytest.mark.parametrize(("case", "claims", "own_loss", "yhat", "loss"), SCORING,
                         ids=[case[0] for case in SCORING])
def test_the_scoring_rule(case: str, claims: list[Claim], own_loss: tuple[F, ...] | None,
                          yhat: F, loss: F) -> None:
    scores = score_items(claims, RUBRIC, TRUTH, {"yhat": None, "loss": own_loss})
    assert [(s.item, s.points, s.max_points) for s in scores] == [
        ("yhat", yhat, F(2)), ("loss", loss, F(1))
    ]


def test_an_item_the_variant_lacks_is_neither_earned_nor_counted() -> None:
    scores = score_items([], default_rubric(), {"yhat": (F(1),)}, {})
    assert [s.item for s in scores] == ["yhat"]


def test_show_is_exact() -> None:
    assert [show(v) for v in (F(27, 2), F(14, 3), F(-3), F(-1, 8), F(0))] == [
        "13.5", "14/3", "-3", "-0.125", "0"
    ]


# ---------------------------------------------------------------------------------------
# exact values: the truth against `symconv derive --json`

PROBLEMS: list[tuple[str, dict[str, object]]] = [
    ("exercise2", {}),
    ("exercise2", {"layer.bias": "shared", "values.b": "1"}),
    ("exercise2", {"layer.bias": "none", "values.b": None}),
    ("exercise2", {"loss.kind": "mse"}),
    ("exercise2", {"loss.kind": "upstream", "values.y": None, "values.grad_yhat": [1, -2]}),
    ("exercise2", {"layer.padding": 1, "values.b": [1, 0, -1, 2], "values.y": [1, 2, 3, 4]}),
    ("exercise2", {"layer.padding_mode": "circular", "layer.padding": 1,
                   "values.b": [1, 2, 3, 4], "values.y": [1, -2, 3, 4]}),
    ("exercise2", {"layer.dilation": 2, "layer.input_length": 6, "values.x": [1, 2, 3, 4, 5, 6],
                   "values.b": [1, 1]}),
    (str(DATA / "stride2.toml"), {}),
    ("conv2d_small", {}),
    ("conv2d_small", {"loss.kind": "mse"}),
]


def _flat(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [entry for part in value for entry in _flat(part)]
    return [value]


@pytest.mark.parametrize(("spec", "overrides"), PROBLEMS)
def test_the_exact_values_are_those_of_the_derivation(
    spec: str, overrides: dict[str, object]
) -> None:
    problem = load_problem(spec, overrides)
    derived = derivation_json(build(problem, form="explicit"))
    exact = carried.truth(problem)
    for item in ITEMS:
        entry = derived.get(item)
        if item == "grad_yhat" and problem.loss == "upstream":
            assert item not in exact  # given, not computed: nothing to grade
            continue
        if entry is None:
            assert item not in exact
            continue
        assert list(exact[item]) == [F(v) for v in _flat(entry["exact"])], item


def test_the_exact_values_match_the_command_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "symconv", "derive", "--problem", "exercise2", "--bias",
         "shared", "--b", "1", "--json"], capture_output=True, text=True, check=True)
    derived = json.loads(out.stdout)
    exact = carried.truth(load_problem("exercise2", {"layer.bias": "shared", "values.b": "1"}))
    for item in ITEMS:
        assert [str(v) for v in exact[item]] == _flat(derived[item]["exact"])


# ---------------------------------------------------------------------------------------
# error carried forward: the chain from a wrong ŷ₁ = 15 in the exercise, worked on paper
#   L = ½(13² + 16²) = 212.5; ∂L/∂ŷ = (13, 16); ∂L/∂w = (13+32, 26+48, 39+64) = (45, 74, 103)
#   ∂L/∂b = (13, 16); ∂L/∂x = (26, 13+32, 39+16, 48) = (26, 45, 55, 48)
#   w' = (2 − .45, 1 − .74, 3 − 1.03) = (1.55, 0.26, 1.97); b' = (0.87, 0.84)
#   ŷ' = (1.55 + .52 + 5.91 + .87, 3.1 + .78 + 7.88 + .84) = (8.85, 12.6)
#   L' = ½(6.85² + 8.6²) = ½(46.9225 + 73.96) = 60.44125

CHAIN = {
    "loss": ["212.5"],
    "grad_yhat": ["13", "16"],
    "grad_w": ["45", "74", "103"],
    "grad_b": ["13", "16"],
    "grad_x": ["26", "45", "55", "48"],
    "w_next": ["1.55", "0.26", "1.97"],
    "b_next": ["0.87", "0.84"],
    "yhat_next": ["8.85", "12.6"],
    "loss_next": ["60.44125"],
}
SIZES = {"yhat": 2, "loss": 1, "grad_yhat": 2, "grad_w": 3, "grad_b": 2, "grad_x": 4,
         "w_next": 3, "b_next": 2, "yhat_next": 2, "loss_next": 1}


def test_every_quantity_is_recomputed_from_the_students_own_values() -> None:
    wrong = Claim(0, "8", "yhat", (0, 1), (F(15), F(20)), "incorrect")
    own = carried.own_values(load_problem("exercise2"), [wrong], SIZES)
    assert own["yhat"] is None
    for item, values in CHAIN.items():
        assert own[item] == tuple(F(v) for v in values), item


def test_a_skipped_step_is_recomputed_from_the_students_values_too() -> None:
    # ŷ₁ = 15 written, ∂L/∂ŷ not written: ∂L/∂w still follows from the student's ŷ
    wrong = Claim(0, "8", "yhat", (0,), (F(15),), "incorrect")
    gradient = Claim(1, "9", "grad_w", (0,), (F(45),), "incorrect")
    own = carried.own_values(load_problem("exercise2"), [wrong, gradient], SIZES)
    assert own["grad_w"] == (F(45), F(74), F(103))
    assert is_carried(F(45), F(44), own["grad_w"], 0)
    assert not is_carried(F(46), F(44), own["grad_w"], 0)  # wrong on its own


def test_each_step_uses_the_students_latest_value() -> None:
    # the student's w' (wrong by itself) carries into ŷ': ŷ'₁ = 1.56 + 0.28·2 + 2·3 + 0.88 + 1
    claims = [Claim(0, "11", "w_next", (0,), (F("2.56"),), "incorrect")]
    own = carried.own_values(load_problem("exercise2"), claims, SIZES)
    assert own["yhat_next"] == (F(10), F("14.8"))  # +1·x₁ = +1 and +1·x₂ = +2
    assert own["loss_next"] == (F(1, 2) * (F(8) ** 2 + F("10.8") ** 2),)


# ---------------------------------------------------------------------------------------
# generated submissions, read by the real checker

GENERATED = [
    ("exercise2", {}),
    ("exercise2", {"layer.bias": "shared", "values.b": "1"}),
    ("exercise2", {"layer.bias": "none", "values.b": None}),
    ("exercise2", {"loss.kind": "mse", "values.y": [3, -1]}),
    ("exercise2", {"layer.padding": 1, "values.b": [1, 0, -1, 2], "values.y": [1, 2, 3, 4]}),
    (str(DATA / "stride2.toml"), {}),
    (str(DATA / "shared.toml"), {"optimizer.learning_rate": "1/3"}),
]


def _verdicts(problem: Problem, data: bytes) -> list[str]:
    result = check_text(data.decode("utf-8"), problem, name="generated.md")
    return [e["verdict"] for e in result["equations"]]


@pytest.mark.parametrize(("spec", "overrides"), GENERATED)
@pytest.mark.parametrize("form", ["entries", "vectors"])
def test_a_generated_correct_submission_is_all_correct(
    spec: str, overrides: dict[str, object], form: str
) -> None:
    problem = load_problem(spec, overrides)
    verdicts = _verdicts(problem, make_submission(problem, Plan(form=form)).data)
    assert verdicts and set(verdicts) == {"correct"}


def test_a_planted_error_is_the_only_incorrect_equation() -> None:
    problem = load_problem("exercise2")
    sample = make_submission(problem, Plan("wrong", item="grad_x", entry=2))
    result = check_text(sample.data.decode("utf-8"), problem, name="wrong.md")
    wrong = [e for e in result["equations"] if e["verdict"] != "correct"]
    assert [(e["verdict"], e["quantity"], e["entry"], e["value"]) for e in wrong] == [
        ("incorrect", "grad_x", 2, "53")
    ]


def test_a_carried_submission_writes_the_chain_of_the_wrong_value() -> None:
    sample = make_submission(load_problem("exercise2"), Plan("carried", entry=0))
    assert [str(v) for v in sample.values["yhat"]] == ["15", "20"]
    for item, values in CHAIN.items():
        assert [show(v) for v in sample.values[item]] == values, item


def test_the_notation_plan_writes_a_column_times_a_row() -> None:
    problem = load_problem("exercise2")
    verdicts = _verdicts(problem, make_submission(problem, Plan("notation")).data)
    assert verdicts[:2] == ["notation", "notation"] and set(verdicts[2:]) == {"correct"}


def test_unreadable_and_empty_submissions() -> None:
    problem = load_problem("exercise2")
    with pytest.raises(UnicodeDecodeError):
        make_submission(problem, Plan("unreadable")).data.decode("utf-8")
    notebook = make_submission(problem, Plan("bad_notebook"))
    assert notebook.suffix == ".ipynb"
    with pytest.raises(ValueError):
        json.loads(notebook.data)
    assert _verdicts(problem, make_submission(problem, Plan("empty")).data) == []


def test_a_plan_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        make_submission(load_problem("exercise2", {"layer.bias": "none", "values.b": None}),
                        Plan("wrong", item="grad_b"))
    with pytest.raises(ValueError, match=r"Plan\.kind"):
        Plan("sloppy")


def test_the_exact_values_are_exact_rationals() -> None:
    problem = replace(load_problem("exercise2"), lr=Rational(1, 3))
    assert carried.truth(problem)["w_next"][0] == F(2) - F(44, 3)
