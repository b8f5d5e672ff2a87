"""``symconv grade``: a course of 30 generated submissions against their own variants.

The course is built here (its problems are small 1-D variations of the exercise, written
as TOML by this file; nothing comes from ``symconv exercise``).  The points each student
should get are computed independently of the grader: from the rubric, from what was
planted, and from the values of the derivation (:func:`symconv.derivation.build`) — for an
error carried forward, the derivation of the same layer with the upstream gradient the
student's wrong ŷ implies.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from symconv.cli import main
from symconv.course import grade as grade_module
from symconv.course.samples import Plan, make_submission
from symconv.derivation import build
from symconv.problem import load_problem

F = Fraction
ITEMS = ("yhat", "loss", "grad_yhat", "grad_w", "grad_b", "grad_x", "w_next", "b_next",
         "yhat_next", "loss_next")

# the rubric of the course: carried and notation credit below 1, and a fractional item
RUBRIC = """\
[points]
yhat = 2
loss = 1
grad_yhat = 1
grad_w = 3
grad_b = 1
grad_x = 2
w_next = 1
b_next = 1
yhat_next = "1.5"
loss_next = 1

[partial]
notation = "1/4"
carried = "1/2"
"""
POINTS = {"yhat": F(2), "loss": F(1), "grad_yhat": F(1), "grad_w": F(3), "grad_b": F(1),
          "grad_x": F(2), "w_next": F(1), "b_next": F(1), "yhat_next": F(3, 2),
          "loss_next": F(1)}
NOTATION, CARRIED = F(1, 4), F(1, 2)

# the layers of the variants (n, k, stride, padding, bias, loss, learning rate)
TEMPLATES = [
    (4, 3, 1, 0, "untied", "sse_half", "0.01"),
    (4, 3, 1, 0, "shared", "sse_half", "0.01"),
    (5, 3, 1, 0, "none", "sse_half", "0.1"),
    (4, 3, 1, 0, "untied", "mse", "0.01"),
    (4, 3, 1, 1, "untied", "sse_half", "0.01"),
    (6, 3, 2, 0, "shared", "sse_half", "0.05"),
    (5, 2, 1, 0, "untied", "mse", "0.1"),
]

# (what the student does, the template of their variant)
PLANS: list[tuple[Plan | str, int]] = [
    (Plan("correct"), 0),
    (Plan("correct", form="vectors"), 1),
    (Plan("correct", suffix=".ipynb"), 2),
    (Plan("correct", form="vectors", suffix=".ipynb"), 3),
    (Plan("wrong", item="yhat", entry=0), 4),
    (Plan("wrong", item="loss"), 5),
    (Plan("wrong", item="grad_yhat", entry=1), 6),
    (Plan("wrong", item="grad_w", entry=2), 0),
    (Plan("wrong", item="grad_b", entry=0), 1),
    (Plan("wrong", item="grad_x", entry=0), 2),
    (Plan("wrong", item="w_next", entry=1), 3),
    (Plan("wrong", item="b_next", entry=0), 4),
    (Plan("wrong", item="yhat_next", entry=0), 5),
    (Plan("wrong", item="loss_next"), 6),
    (Plan("carried", entry=0), 0),
    (Plan("carried", entry=1, delta=F(-2)), 1),
    (Plan("carried", entry=0, delta=F(1, 2)), 2),
    (Plan("carried", entry=1, delta=F(3), form="vectors"), 3),
    (Plan("notation"), 4),
    (Plan("notation"), 5),
    (Plan("empty"), 6),
    (Plan("empty", suffix=".ipynb"), 0),
    (Plan("unreadable"), 1),
    (Plan("bad_notebook"), 2),
    ("hash mismatch", 3),
    ("missing", 4),
    ("missing", 5),
    (Plan("correct"), 6),
    (Plan("wrong", item="grad_w", entry=0, delta=F(1, 3)), 5),
    (Plan("carried", entry=2), 6),
]


def _toml(template: tuple[Any, ...], rng: random.Random, title: str) -> str:
    n, k, stride, padding, bias, loss, lr = template
    m = (n + 2 * padding - k) // stride + 1
    lines = [
        f'title = "{title}"', "", "[layer]", f"input_length = {n}", f"kernel_size = {k}",
        f"stride = {stride}", f"padding = {padding}", f'bias = "{bias}"', "", "[loss]",
        f'kind = "{loss}"', "", "[optimizer]", f'learning_rate = "{lr}"', "", "[values]",
        f"x = {[rng.randint(-3, 3) for _ in range(n)]}",
        f"w = {[rng.choice([-2, -1, 1, 2, 3]) for _ in range(k)]}",
    ]
    if bias == "untied":
        lines.append(f"b = {[rng.randint(-2, 2) for _ in range(m)]}")
    elif bias == "shared":
        lines.append(f"b = {rng.randint(-2, 2)}")
    lines.append(f"y = {[rng.randint(-3, 3) for _ in range(m)]}")
    return "\n".join(lines) + "\n"


@dataclass
class Course:
    root: Path
    manifest: Path
    subs: Path
    rubric: Path
    expected: dict[str, tuple[str, F, F, dict[str, F]]]  # status, points, max, per item
    out: Path | None = None


# a few of them, for the quick tests
SMALL: list[tuple[Plan | str, int]] = [
    (Plan("correct"), 0),
    (Plan("wrong", item="grad_w", entry=2), 0),
    (Plan("carried", entry=0), 0),
    (Plan("notation"), 4),
    (Plan("unreadable"), 1),
    ("hash mismatch", 3),
    ("missing", 4),
    (Plan("carried", entry=1, delta=F(3), form="vectors"), 3),
]


def _build_course(root: Path, plans: list[tuple[Plan | str, int]]) -> Course:
    rng = random.Random(12)
    (root / "problems").mkdir(parents=True)
    subs = root / "subs"
    subs.mkdir()
    rows = [["student", "variant", "problem", "sheet", "solution", "hash"]]
    expected = {}
    for index, (plan, template) in enumerate(plans):
        vid = f"v{index + 1:03d}"
        text = _toml(TEMPLATES[template], rng, f"variant {vid}")
        path = root / "problems" / f"{vid}.toml"
        path.write_text(text)
        rows.append([vid, vid, f"problems/{vid}.toml", f"sheets/{vid}.pdf",
                     f"solutions/{vid}.pdf", hashlib.sha256(text.encode()).hexdigest()])
        problem = load_problem(str(path))
        if isinstance(plan, Plan):
            sample = make_submission(problem, plan)
            (subs / f"{vid}{sample.suffix}").write_bytes(sample.data)
            expected[vid] = _expected(problem, plan, sample.values)
        elif plan == "hash mismatch":  # the problem file changed after the manifest
            (subs / f"{vid}.md").write_bytes(make_submission(problem).data)
            path.write_text(text + "# edited\n")
            expected[vid] = ("failed", F(0), sum(POINTS.values(), F(0)), {})
        else:
            items = _existing(problem)
            expected[vid] = ("missing", F(0), sum((POINTS[i] for i in items), F(0)), {})
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as stream:
        csv.writer(stream).writerows(rows)
    rubric = root / "rubric.toml"
    rubric.write_text(RUBRIC)
    return Course(root, manifest, subs, rubric, expected)


# ---------------------------------------------------------------------------------------
# the expected points, computed without the grader


def _existing(problem: Any) -> list[str]:
    items = list(ITEMS)
    if problem.layer.bias == "none":
        items = [i for i in items if i not in ("grad_b", "b_next")]
    return items


def _derived(problem: Any) -> dict[str, list[F]]:
    """Every quantity's exact entries, from the derivation."""
    steps = build(problem, form="explicit").steps
    assert steps is not None
    step = steps[0]
    out: dict[str, list[F]] = {}
    for item in ITEMS:
        value = getattr(step, item)
        if value is None:
            continue
        values = value if isinstance(value, tuple) else (value,)
        out[item] = [F(int(v.p), int(v.q)) for v in values]
    return out


def _bias(problem: Any) -> dict[str, Any]:
    if problem.b is None:
        return {}
    if problem.layer.bias == "shared":
        return {"values.b": str(problem.b)}
    return {"values.b": [str(v) for v in problem.b_values]}


def _carried_chain(problem: Any, yhat: list[F]) -> dict[str, list[F]]:
    """The student's chain from a wrong ŷ: L and ∂L/∂ŷ by the loss's formula, the rest
    from the derivation of the same layer driven by that upstream gradient."""
    y = [F(int(v.p), int(v.q)) for v in problem.y]
    m = len(y)
    if problem.loss == "sse_half":
        loss = sum(((t - v) ** 2 for t, v in zip(y, yhat)), F(0)) / 2
        gradient = [v - t for v, t in zip(yhat, y)]
    else:  # mse
        loss = sum(((t - v) ** 2 for t, v in zip(y, yhat)), F(0)) / m
        gradient = [F(2, m) * (v - t) for v, t in zip(yhat, y)]
    upstream = load_problem(None, {
        "layer.input_length": problem.layer.input_shape[0],
        "layer.kernel_size": problem.layer.kernel_size[0],
        "layer.stride": problem.layer.stride[0],
        "layer.padding": problem.layer.padding[0][0],
        "layer.bias": problem.layer.bias,
        "loss.kind": "upstream",
        "optimizer.learning_rate": str(problem.lr),
        "values.x": [str(v) for v in problem.x],
        "values.w": [str(v) for v in problem.w],
        **_bias(problem),
        "values.grad_yhat": [str(g) for g in gradient],
    })
    chain = _derived(upstream)
    next_yhat = chain["yhat_next"]
    if problem.loss == "sse_half":
        loss_next = sum(((t - v) ** 2 for t, v in zip(y, next_yhat)), F(0)) / 2
    else:
        loss_next = sum(((t - v) ** 2 for t, v in zip(y, next_yhat)), F(0)) / m
    return {"yhat": yhat, "loss": [loss], "grad_yhat": gradient, **{
        item: chain[item] for item in ("grad_w", "grad_b", "grad_x", "w_next", "b_next",
                                       "yhat_next") if item in chain}, "loss_next": [loss_next]}


def _expected(
    problem: Any, plan: Plan, written: dict[str, Any]
) -> tuple[str, F, F, dict[str, F]]:
    items = _existing(problem)
    total = sum((POINTS[i] for i in items), F(0))
    if plan.kind in ("unreadable", "bad_notebook"):
        return ("unreadable", F(0), total, {i: F(0) for i in items})
    if plan.kind == "empty":
        return ("graded", F(0), total, {i: F(0) for i in items})
    truth = _derived(problem)
    share: dict[str, list[F]] = {i: [F(1)] * len(truth[i]) for i in items}
    if plan.kind == "wrong":
        assert plan.item is not None
        share[plan.item][plan.entry] = F(0)
    elif plan.kind == "notation":
        share["yhat"] = [NOTATION] * len(truth["yhat"])
    elif plan.kind == "carried":
        yhat = list(truth["yhat"])
        entry = plan.entry % len(yhat)
        yhat[entry] += plan.delta
        chain = _carried_chain(problem, yhat)
        for item in items:
            # the generator must write this chain (checked here, not trusted)
            assert [F(v) for v in written[item]] == chain[item], item
            share[item] = [F(1) if v == t else CARRIED for v, t in zip(chain[item], truth[item])]
        share["yhat"][entry] = F(0)  # the wrong value itself: not carried from anything
    per_item = {i: POINTS[i] * sum(share[i], F(0)) / len(share[i]) for i in items}
    return ("graded", sum(per_item.values(), F(0)), total, per_item)


def _cell(value: F) -> str:
    """The gradebook's spelling: the exact decimal, else 4 decimals."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{float(value):.4f}"
    text = f"{value.numerator / value.denominator:.10f}".rstrip("0").rstrip(".")
    return text or "0"


# ---------------------------------------------------------------------------------------
# running the command


def _grade(course: Course, out: Path, *extra: str) -> int:
    return main(["grade", str(course.subs), "--manifest", str(course.manifest), "--rubric",
                 str(course.rubric), "--no-pdf", "-o", str(out), *extra])


def _gradebook(out: Path) -> list[dict[str, str]]:
    with (out / "gradebook.csv").open(newline="") as stream:
        return list(csv.DictReader(stream))


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted((out / "results").glob("*.json"))}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    """The whole course, graded with two jobs (about 20 s)."""
    built = _build_course(tmp_path_factory.mktemp("course"), PLANS)
    out = built.root / "out"
    assert _grade(built, out, "--jobs", "2") == 0
    built.out = out
    yield built


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    """Eight students of the same kinds, graded one at a time."""
    built = _build_course(tmp_path_factory.mktemp("small"), SMALL)
    out = built.root / "out"
    assert _grade(built, out) == 0
    built.out = out
    yield built


def _check_gradebook(course: Course) -> None:
    assert course.out is not None
    rows = _gradebook(course.out)
    assert [row["student"] for row in rows] == sorted(course.expected)
    header = list(rows[0])
    assert header[:4] == ["student", "status", "points", "max_points"]
    assert header[4:14] == list(ITEMS)
    for row in rows:
        status, points, total, items = course.expected[row["student"]]
        assert (row["status"], row["points"], row["max_points"]) == (
            status, _cell(points), _cell(total)
        ), row["student"]
        for item, value in items.items():
            assert row[item] == _cell(value), (row["student"], item)


@pytest.mark.slow
def test_the_gradebook_of_30_students_has_the_points_the_rubric_gives(course: Course) -> None:
    assert len(course.expected) == 30
    _check_gradebook(course)


def test_the_gradebook_has_the_points_the_rubric_gives(small: Course) -> None:
    _check_gradebook(small)


@pytest.mark.parametrize("which", ["small", pytest.param("course", marks=pytest.mark.slow)])
def test_the_results_are_exact_and_in_gradescope_format(
    which: str, request: pytest.FixtureRequest
) -> None:
    course: Course = request.getfixturevalue(which)
    assert course.out is not None
    for student, (status, points, total, items) in course.expected.items():
        path = course.out / "results" / f"{student}.json"
        if status == "missing":
            assert not path.exists()
            continue
        data = json.loads(path.read_text())
        assert data["score"] == float(points) and data["max_score"] == float(total)
        assert isinstance(data["output"], str)
        for test in data["tests"]:
            assert set(test) >= {"name", "score", "max_score", "output"}
        assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(float(total))
        record = data["extra_data"]["symconv"]
        assert record["status"] == status and F(record["points"]) == points
        for item in record["items"]:
            if item["item"] in items:
                assert F(item["points"]) == items[item["item"]], (student, item["item"])
        if status in ("unreadable", "failed"):
            assert record["error"]


def test_a_rerun_redoes_nothing(small: Course, capsys: pytest.CaptureFixture[str]) -> None:
    course = small
    assert course.out is not None
    before = _stamps(course.out)
    book = (course.out / "gradebook.csv").read_text()
    capsys.readouterr()
    assert _grade(course, course.out) == 0
    assert _stamps(course.out) == before
    assert (course.out / "gradebook.csv").read_text() == book
    assert "7 already graded, skipped" in capsys.readouterr().err


def test_a_changed_rubric_rescores_without_checking_again(
    small: Course, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    course = small
    assert course.out is not None
    out = tmp_path / "out"
    shutil.copytree(course.out, out)
    rubric = tmp_path / "r.toml"
    rubric.write_text('[points]\nyhat = 4\n[partial]\nnotation = "1/4"\ncarried = "1/2"\n')

    def no_checking(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("checked again")

    monkeypatch.setattr("symconv.check.run.check_files", no_checking)
    assert main(["grade", str(course.subs), "--manifest", str(course.manifest), "--rubric",
                 str(rubric), "--no-pdf", "-o", str(out)]) == 0
    rows = {row["student"]: row for row in _gradebook(out)}
    for student, (status, _, _, items) in course.expected.items():
        if status == "graded":
            assert F(rows[student]["points"]) == items["yhat"] * 2, student  # 4 points, not 2
    assert "loss" not in rows["v001"]


def test_force_grades_again(small: Course, tmp_path: Path) -> None:
    import shutil

    course = small
    assert course.out is not None
    out = tmp_path / "out"
    shutil.copytree(course.out, out)
    before = _stamps(out)
    assert _grade(course, out, "--force", "--jobs", "2") == 0
    after = _stamps(out)
    assert set(after) == set(before)
    assert all(after[name] != before[name] for name in before)
    assert _gradebook(out) == _gradebook(course.out)


def test_a_crash_costs_one_student_and_ctrl_c_keeps_a_consistent_gradebook(
    small: Course, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = small
    real = grade_module.score_record
    calls: list[str] = []

    def flaky(record: dict[str, Any], problem: Any, rubric: Any) -> None:
        calls.append(record["student"])
        if record["student"] == "v002":
            raise RuntimeError("boom")
        if record["student"] == "v005":
            raise KeyboardInterrupt
        real(record, problem, rubric)

    monkeypatch.setattr(grade_module, "score_record", flaky)
    out = tmp_path / "out"
    assert _grade(course, out) == 130
    rows = {row["student"]: row for row in _gradebook(out)}
    results = {p.stem for p in (out / "results").glob("*.json")}
    assert results == {"v001", "v002", "v003", "v004"}
    graded = {s for s, row in rows.items() if row["status"] != "missing"}
    assert graded == results  # the gradebook lists exactly the results written
    assert {s for s, row in rows.items() if row["status"] == "missing"} == {"v007"}
    assert rows["v002"]["status"] == "failed" and "boom" in rows["v002"]["error"]
    assert rows["v001"]["points"] == _cell(course.expected["v001"][1])
    # the next run grades the crashed student again and the rest, not the finished ones
    monkeypatch.setattr(grade_module, "score_record", real)
    before = _stamps(out)
    assert _grade(course, out) == 0
    after = _stamps(out)
    assert [name for name in before if after[name] != before[name]] == ["v002.json"]
    assert _gradebook(out) == _gradebook(course.out)


def test_a_submission_column_matches_other_file_names(tmp_path: Path) -> None:
    problem = tmp_path / "p.toml"
    text = (Path(__file__).parent / "data" / "exercise2.toml").read_text()
    problem.write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "alice-final.md").write_bytes(
        make_submission(load_problem(str(problem))).data
    )
    (tmp_path / "stray.md").write_text("nobody's")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "student,variant,problem,sheet,solution,hash,submission\n"
        f"alice,v001,p.toml,,,{digest},work/alice-final.md\n"
        f"bob,v001,p.toml,,,{digest},\n"
    )
    out = tmp_path / "out"
    assert main(["grade", str(tmp_path / "work" / "alice-final.md"), str(tmp_path / "stray.md"),
                 "--manifest", str(manifest), "--no-pdf", "-o", str(out)]) == 0
    rows = {row["student"]: row for row in _gradebook(out)}
    assert (rows["alice"]["status"], rows["alice"]["points"]) == ("graded", "14")
    assert rows["bob"]["status"] == "missing"


# ---------------------------------------------------------------------------------------
# bad input: one line, exit 2, before any work


def _bad_inputs(root: Path) -> list[tuple[str, list[str], str]]:
    text = (Path(__file__).parent / "data" / "exercise2.toml").read_text()
    (root / "p.toml").write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    good = root / "good.csv"
    good.write_text(f"student,variant,problem,hash\nv001,v001,p.toml,{digest}\n")
    (root / "v001.md").write_text("$$\\hat{y}_1 = 14$$\n")
    (root / "v001.tex").write_text("$$\\hat{y}_1 = 14$$\n")
    (root / "afile").write_text("")
    manifests = {
        "nocolumn.csv": "student,variant,problem\nv001,v001,p.toml\n",
        "twice.csv": f"student,variant,problem,hash\nv001,v001,p.toml,{digest}\n"
                     f"v001,v002,p.toml,{digest}\n",
        "badhash.csv": "student,variant,problem,hash\nv001,v001,p.toml,abc\n",
        "badid.csv": f"student,variant,problem,hash\nAl Smith,v001,p.toml,{digest}\n",
        "empty.csv": "",
        "wide.csv": f"student,variant,problem,hash\nv001,v001,p.toml,{digest},extra\n",
    }
    for name, body in manifests.items():
        (root / name).write_text(body)
    (root / "bad.toml").write_text("[points]\nloss = 1\nfoo = 2\n")
    sub, out = str(root / "v001.md"), str(root / "out")
    base = ["--no-pdf", "-o", out]
    return [
        ("no manifest", [sub, "--manifest", str(root / "none.csv"), *base], "--manifest"),
        ("a column lacking", [sub, "--manifest", str(root / "nocolumn.csv"), *base], "hash"),
        ("a student twice", [sub, "--manifest", str(root / "twice.csv"), *base], "row 3"),
        ("a bad hash", [sub, "--manifest", str(root / "badhash.csv"), *base], "sha256"),
        ("a bad id", [sub, "--manifest", str(root / "badid.csv"), *base], "Al Smith"),
        ("an empty manifest", [sub, "--manifest", str(root / "empty.csv"), *base], "empty"),
        ("a row too wide", [sub, "--manifest", str(root / "wide.csv"), *base], "more fields"),
        ("a bad rubric", [sub, "--manifest", str(good), "--rubric", str(root / "bad.toml"),
                          *base], "points.foo"),
        ("no such submission", [str(root / "nope.md"), "--manifest", str(good), *base],
         "nope.md"),
        ("two for one student", [sub, str(root / "v001.tex"), "--manifest", str(good), *base],
         "both belong"),
        ("-o a file", [sub, "--manifest", str(good), "--no-pdf", "-o", str(root / "afile")],
         "not a folder"),
        ("--jobs 0", [sub, "--manifest", str(good), "--jobs", "0", *base], "--jobs"),
        ("--jobs and --scheduler", [sub, "--manifest", str(good), "--jobs", "2", "--scheduler",
                                    "tcp://x:1", *base], "not allowed with"),
        ("--timeout nan", [sub, "--manifest", str(good), "--timeout", "nan", *base],
         "--timeout"),
    ]


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, argv, needle in _bad_inputs(tmp_path):
        capsys.readouterr()
        with pytest.raises(SystemExit) as caught:
            main(["grade", *argv])
        err = capsys.readouterr().err
        assert caught.value.code == 2, name
        assert len(err.strip().splitlines()) == 1, (name, err)
        assert err.startswith("symconv: error:") and needle in err, (name, err)
        assert not (tmp_path / "out" / "gradebook.csv").exists(), name


def test_progress_is_plain_lines_off_a_terminal(
    small: Course, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = small
    out = tmp_path / "out"
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("v001.md", "v002.md"):
        (subs / name).write_bytes((course.subs / name).read_bytes())
    capsys.readouterr()
    assert main(["grade", str(subs), "--manifest", str(course.manifest), "--rubric",
                 str(course.rubric), "--no-pdf", "-o", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("symconv grade: [1/2] v001: graded")
    assert err[1].startswith("symconv grade: [2/2] v002: graded")


# ---------------------------------------------------------------------------------------
# killed half-way; on a Dask cluster


def _command(course: Course, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "symconv", "grade", str(course.subs), "--manifest",
            str(course.manifest), "--rubric", str(course.rubric), "--no-pdf", "-o", str(out),
            *extra]


@pytest.mark.slow
def test_killed_half_way_a_rerun_loses_nothing_and_redoes_nothing(
    course: Course, tmp_path: Path
) -> None:
    assert course.out is not None
    out = tmp_path / "out"
    process = subprocess.Popen(_command(course, out), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while len(list((out / "results").glob("*.json"))) < 8:
            assert process.poll() is None, "finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    before = _stamps(out)
    assert 8 <= len(before) < 28
    rerun = subprocess.run(_command(course, out), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = _stamps(out)
    assert all(after[name] == before[name] for name in before)  # nothing redone
    assert len(after) == 28  # nothing lost
    assert f"{len(before)} already graded, skipped" in rerun.stderr
    assert _gradebook(out) == _gradebook(course.out)
    assert not list((out / "results").glob(".*"))  # no temporary file left


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_gradebook(course: Course, tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    assert course.out is not None
    out = tmp_path / "out"
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        assert _grade(course, out, "--scheduler", cluster.scheduler_address) == 0
    assert (out / "gradebook.csv").read_text() == (course.out / "gradebook.csv").read_text()
    for path in sorted((course.out / "results").glob("*.json")):
        assert json.loads((out / "results" / path.name).read_text()) == json.loads(
            path.read_text()
        ), path.name


def test_the_gradebook_is_csv_with_a_row_per_student(small: Course) -> None:
    assert small.out is not None
    text = (small.out / "gradebook.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 9 and len({len(row) for row in rows}) == 1
