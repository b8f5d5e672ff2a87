"""``symconv exercise``: deterministic, distinct variants that meet their constraints, question
sheets with the numbers and without the answers, and bad input refused (exit 2, one line).

The constraints are checked independently of :mod:`symconv.course.template`: the output
length with the formula m = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 written here, the decimals from the
exact strings of ``symconv derive --json`` with this file's own reading of a fraction.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from symconv.cli import main

DATA = Path(__file__).parent / "data" / "course"
TEMPLATE = DATA / "template.toml"
ROSTER = DATA / "roster.csv"

QUANTITIES = (
    "yhat", "loss", "grad_yhat", "grad_w", "grad_b", "grad_x",
    "w_next", "b_next", "yhat_next", "loss_next",
)
# the example template's choices (tests/data/course/template.toml), restated
LENGTHS, STRIDES, PADDINGS = {4, 5, 6}, {1, 2}, {0, 1}
BIASES, LOSSES = {"shared", "untied"}, {"sse_half", "mse"}
RATES = {Fraction(1, 100), Fraction(2, 100), Fraction(5, 100), Fraction(1, 10)}
VALUES = set(range(-3, 4))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``symconv`` in-process: (exit status, stdout, stderr)."""
    try:
        status = main(argv)
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def make(
    out: Path, capsys: pytest.CaptureFixture[str], *options: str, template: Path = TEMPLATE
) -> str:
    status, stdout, err = run(["exercise", str(template), *options, "-o", str(out)], capsys)
    assert status == 0, err
    return stdout


def manifest(folder: Path) -> list[dict[str, str]]:
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def roster_ids() -> list[str]:
    with open(ROSTER, newline="", encoding="utf-8") as stream:
        return [row["student"] for row in csv.DictReader(stream)]


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example template for the 30 students of the roster, seed 0, no PDFs."""
    out = tmp_path_factory.mktemp("course") / "out"
    try:
        status = main(
            ["exercise", str(TEMPLATE), "--students", str(ROSTER), "--no-pdf", "-o", str(out)]
        )
    except SystemExit as exc:
        status = int(exc.code or 0)
    assert status == 0
    return out


# ---------------------------------------------------------------------------------------
# independent checks


def output_length(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def decimal_places(exact: str) -> int | None:
    """Decimals of a terminating expansion of "p/q" or "p"; None when it does not end."""
    value = Fraction(exact)
    for places in range(30):
        if (value * 10**places).denominator == 1:
            return places
    return None


def flat(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [item for entry in value for item in flat(entry)]
    return [value]


def derive_json(problem: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    status, out, err = run(["derive", "--problem", str(problem), "--json"], capsys)
    assert status == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


NUMBER = re.compile(r"(?<![A-Za-z_])-?[0-9]+(?:\.[0-9]+)?")


def sheet_numbers(tex: str) -> set[Fraction]:
    """Every number printed in the body of a sheet (the preamble's sizes left out)."""
    body = tex.split(r"\begin{document}", 1)[1]
    return {Fraction(token) for token in NUMBER.findall(body)}


def allowed_numbers(table: dict[str, Any]) -> set[Fraction]:
    """What a sheet may print: the variant's given numbers and sizes, and small counting
    numbers (indices 1, 2, the step (1), ½, the decimals of the hint)."""
    allowed = {Fraction(i) for i in range(0, 11)}
    allowed |= {Fraction(str(v)) for v in table["layer"].values() if isinstance(v, int)}
    allowed.add(Fraction(table["optimizer"]["learning_rate"]))
    for value in table["values"].values():
        allowed |= {Fraction(str(v)) for v in (value if isinstance(value, list) else [value])}
    return allowed


def vector(values: Any) -> str:
    items = values if isinstance(values, list) else [values]
    return "(" + ",".join(str(v) for v in items) + ")"


def squeeze(tex: str) -> str:
    return re.sub(r"\\allowbreak|\\ |\s", "", tex)


def test_the_independent_checks_can_fail() -> None:
    # 63.22 ends after two decimals, 0.125 after three, 1/3 never
    assert decimal_places("3161/50") == 2
    assert decimal_places("1/8") == 3
    assert decimal_places("1/3") is None
    assert output_length(4, 3, 1, 0, 1) == 2 and output_length(5, 3, 2, 1, 1) == 3
    planted = "\\begin{document} x = (1, 2) and the answer 63.22 \\end{document}"
    table = {"layer": {"input_length": 4}, "optimizer": {"learning_rate": "0.01"},
             "values": {"x": [1, 2]}}
    assert not sheet_numbers(planted) <= allowed_numbers(table)


# ---------------------------------------------------------------------------------------
# the course


def test_manifest_lists_every_student_in_roster_order(course: Path) -> None:
    rows = manifest(course)
    assert [row["student"] for row in rows] == roster_ids()
    assert [row["variant"] for row in rows] == [f"v{i:03d}" for i in range(1, 31)]
    with open(course / "manifest.csv", encoding="utf-8") as stream:
        assert stream.readline().strip() == "student,variant,problem,sheet,solution,hash"
    for row in rows:
        v = row["variant"]
        assert (row["problem"], row["sheet"], row["solution"]) == (
            f"problems/{v}.toml", f"sheets/{v}.tex", f"solutions/{v}.tex"
        )
        data = (course / row["problem"]).read_bytes()
        assert row["hash"] == hashlib.sha256(data).hexdigest()
        assert (course / row["sheet"]).is_file() and (course / row["solution"]).is_file()
        assert not (course / "sheets" / f"{v}.pdf").exists()


def test_thirty_distinct_variants(course: Path) -> None:
    seen = set()
    for row in manifest(course):
        table = tomllib.loads((course / row["problem"]).read_text("utf-8"))
        del table["title"]
        seen.add(json.dumps(table, sort_keys=True))
    assert len(seen) == 30


def test_every_variant_meets_the_template(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = set()
    for row in manifest(course):
        path = course / row["problem"]
        table = tomllib.loads(path.read_text("utf-8"))
        layer, values = table["layer"], table["values"]
        n, k, s, p, d = (layer[key] for key in
                         ("input_length", "kernel_size", "stride", "padding", "dilation"))
        assert (n in LENGTHS, k, s in STRIDES, p in PADDINGS, d) == (True, 3, True, True, 1)
        assert layer["bias"] in BIASES and layer["padding_mode"] == "zeros"
        assert table["loss"]["kind"] in LOSSES
        assert Fraction(table["optimizer"]["learning_rate"]) in RATES
        m = output_length(n, k, s, p, d)
        assert m >= 2, (row["variant"], layer)  # min_output_length = 2
        assert len(values["x"]) == n and len(values["w"]) == k and len(values["y"]) == m
        if layer["bias"] == "untied":
            assert len(values["b"]) == m
        else:
            assert isinstance(values["b"], int)
        for value in values.values():
            assert set(value if isinstance(value, list) else [value]) <= VALUES
        document = derive_json(path, capsys)
        for key in QUANTITIES:
            for exact in flat(document[key] and document[key]["exact"]):
                places = decimal_places(exact)
                # max_decimals = 2: a terminating decimal with at most two decimals
                assert places is not None and places <= 2, (row["variant"], key, exact)
        assert any(Fraction(g) != 0 for g in flat(document["grad_w"]["exact"]))
        kinds.add((layer["bias"], table["loss"]["kind"], s, p))
    assert len(kinds) >= 6  # the choices are really drawn, not one kind of layer


def test_same_roster_and_seed_give_the_same_bytes(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    again = tmp_path / "again"
    make(again, capsys, "--students", str(ROSTER), "--no-pdf")
    assert files(again) == files(course)


def test_another_seed_gives_other_variants(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    make(other, capsys, "--students", str(ROSTER), "--no-pdf", "--seed", "1")
    mine, theirs = manifest(course), manifest(other)
    assert [r["student"] for r in mine] == [r["student"] for r in theirs]
    differ = sum(a["hash"] != b["hash"] for a, b in zip(mine, theirs))
    assert differ >= 25


def test_a_variant_does_not_depend_on_the_number_of_students(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    few = tmp_path / "few"
    stdout = make(few, capsys, "--variants", "5", "--no-pdf")
    assert "5 distinct variants" in stdout
    rows = manifest(few)
    assert [r["student"] for r in rows] == [r["variant"] for r in rows]  # ids are the variants
    for row in rows:
        assert (few / row["problem"]).read_bytes() == (course / row["problem"]).read_bytes()


def test_sheet_has_the_numbers_and_no_answers(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for row in manifest(course)[:10]:
        table = tomllib.loads((course / row["problem"]).read_text("utf-8"))
        tex = (course / row["sheet"]).read_text("utf-8")
        flat_tex = squeeze(tex)
        values, layer = table["values"], table["layer"]
        for name in ("x", "w", "y"):
            assert f"\\mathbf{{{name}}}={vector(values[name])}" in flat_tex, name
        bias = "\\mathbf{b}=" + vector(values["b"]) if layer["bias"] == "untied" else (
            f"$b={values['b']}$"
        )
        assert bias in flat_tex
        rate = Fraction(table["optimizer"]["learning_rate"])
        assert f"\\alpha={float(rate):g}" in flat_tex
        # true for this variant: its stride, padding, bias mode and loss
        assert f"$s = {layer['stride']}$" in tex
        assert ("no padding ($p = 0$)" in tex) == (layer["padding"] == 0)
        assert ("zero padding $p = 1$" in tex) == (layer["padding"] == 1)
        assert ("shared bias" in tex) == (layer["bias"] == "shared")
        assert ("untied bias" in tex) == (layer["bias"] == "untied")
        loss = table["loss"]["kind"]
        assert ("half the sum of the squared errors" in tex) == (loss == "sse_half")
        assert ("mean of the squared errors" in tex) == (loss == "mse")
        assert row["student"].replace("_", "\\_") in tex
        # no answers: no number but the given ones, and not the outputs
        document = derive_json(course / row["problem"], capsys)
        assert sheet_numbers(tex) <= allowed_numbers(table), row["variant"]
        yhat = ",".join(flat(document["yhat"]["exact"]))
        assert f"({yhat})" not in flat_tex


def test_solution_sheet_is_the_report_of_the_variant(course: Path) -> None:
    row = manifest(course)[0]
    tex = (course / row["solution"]).read_text("utf-8")
    assert "Solution sheet" in tex and f"(variant {row['variant']})" in tex


def test_a_smaller_run_removes_the_files_of_a_larger_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    make(out, capsys, "--variants", "4", "--no-pdf")
    make(out, capsys, "--variants", "2", "--no-pdf")
    assert sorted(p.name for p in (out / "problems").iterdir()) == ["v001.toml", "v002.toml"]
    assert len(manifest(out)) == 2


def test_a_failed_run_leaves_the_earlier_output_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    make(out, capsys, "--variants", "3", "--no-pdf")
    before = files(out)
    bad = tmp_path / "bad.toml"
    bad.write_text(TEMPLATE.read_text("utf-8").replace("min_output_length = 2",
                                                        "min_output_length = 9"))
    status, _, err = run(["exercise", str(bad), "--variants", "3", "--no-pdf", "-o", str(out)],
                         capsys)
    assert status == 2 and "min_output_length" in err
    assert files(out) == before


def test_read_manifest_and_load_variant(course: Path, tmp_path: Path) -> None:
    # the manifest is read by grade's reader (one reader of the format)
    from symconv.course.grade import load_variant, read_manifest
    from symconv.errors import UsageError

    rows = read_manifest(course / "manifest.csv")
    assert len(rows) == 30 and rows[0].id == roster_ids()[0]
    problem = load_variant(rows[0])
    table = tomllib.loads(rows[0].problem.read_text("utf-8"))
    assert problem.n == table["layer"]["input_length"]
    copy = tmp_path / "copy"
    shutil.copytree(course, copy)
    rows = read_manifest(copy / "manifest.csv")
    changed = rows[0].problem
    changed.write_text(changed.read_text("utf-8").replace("steps = 1", "steps = 2"))
    with pytest.raises(UsageError, match="hash"):
        load_variant(rows[0])


# ---------------------------------------------------------------------------------------
# bad input: exit 2, one line, nothing written

TEMPLATE_TEXT = TEMPLATE.read_text("utf-8")

# (what the template's text is changed to, words the one-line error must contain)
BAD_TEMPLATES = [
    (('"layer.stride" = [1, 2]', '"layer.strid" = [1, 2]'), ["vary.layer.strid", "allowed"]),
    (('"layer.stride" = [1, 2]', '"layer.stride" = []'), ["vary.layer.stride", "empty"]),
    (("{min = 4, max = 6}", "{min = 6, max = 4}"), ["vary.layer.input_length", "min > max"]),
    (("{min = -3, max = 3}", "{min = -3000, max = 3000}"), ["vary.values", "too wide", "1000"]),
    (("{min = -3, max = 3}", "{min = -200, max = -150}"), ["vary.values", "±100"]),
    (("{min = -3, max = 3}", "{min = -3, max = 3.5}"), ["vary.values.max", "integer"]),
    (('["sse_half", "mse"]', '["sse_half", "upstream"]'), ["vary.loss.kind[2]", "upstream"]),
    (('"0.05", "0.1"]', '"0.05", "-0.1"]'), ["vary.optimizer.learning_rate[4]", "(0, 10]"]),
    (("min_output_length = 2", "min_output_length = 9"),
     ["constraints.min_output_length", "longest output", "6"]),
    (("max_decimals = 2", "max_decimal = 2"), ["constraints.max_decimal", "not a constraint"]),
    (("no_zero_gradient = true", "no_zero_gradient = 1"),
     ["constraints.no_zero_gradient", "true or false"]),
    (("kernel_size = 3", "kernel_size = 3\nin_channels = 2"), ["layer.in_channels", "1-D"]),
]


def _bad_template(tmp_path: Path, old: str, new: str) -> Path:
    assert old in TEMPLATE_TEXT
    path = tmp_path / "bad.toml"
    path.write_text(TEMPLATE_TEXT.replace(old, new, 1), "utf-8")
    return path


def assert_one_line(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("symconv: error:") and "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize(("change", "words"), BAD_TEMPLATES)
def test_bad_template_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], words: list[str]
) -> None:
    path = _bad_template(tmp_path, *change)
    out = tmp_path / "out"
    status, _, err = run(["exercise", str(path), "--variants", "3", "--no-pdf", "-o", str(out)],
                         capsys)
    assert status == 2
    assert_one_line(err, *words)
    assert not (out / "manifest.csv").exists()


def test_a_constraint_no_variant_meets_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # values 1..3 on a three-tap kernel give outputs of at least 3: never within 0.5
    path = _bad_template(tmp_path, "{min = -3, max = 3}", "{min = 1, max = 3}")
    path.write_text(path.read_text("utf-8") + 'max_magnitude = "0.5"\n', "utf-8")
    status, _, err = run(
        ["exercise", str(path), "--variants", "2", "--no-pdf", "-o", str(tmp_path / "o")], capsys
    )
    assert status == 2
    assert_one_line(err, "constraints.max_magnitude", "0.5", "3000 tries")


def test_a_template_too_small_for_the_roster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "small.toml"
    path.write_text(
        "[layer]\ninput_length = 4\nkernel_size = 3\nbias = \"none\"\n"
        "[vary]\n\"values.x\" = [1, 2]\n[values]\nw = [1, 0, 1]\ny = [0, 0]\n", "utf-8"
    )
    status, _, err = run(["exercise", str(path), "--students", str(ROSTER), "--no-pdf",
                          "-o", str(tmp_path / "o")], capsys)
    assert status == 2
    assert_one_line(err, "at most 16 distinct", "30 variants")


ROSTERS = [
    ("name,group\nAda,A\nBob,B\n", ["no column student", "name, group"]),
    ("student\nada\nbob\nAda\n", ["line 4", "repeats", "'Ada'", "line 2"]),
    ("student\nada\n../etc/passwd\n", ["line 3", "not a safe file name"]),
    ("student,name\nada,Ada\n,Bob\n", ["line 3", "no student id"]),
    ("student\n", ["lists no students"]),
    ("student\nada\nnul.txt\n", ["not a safe file name"]),
]


@pytest.mark.parametrize(("text", "words"), ROSTERS)
def test_bad_roster_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: list[str]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(text, "utf-8")
    out = tmp_path / "out"
    status, _, err = run(
        ["exercise", str(TEMPLATE), "--students", str(roster), "--no-pdf", "-o", str(out)], capsys
    )
    assert status == 2
    assert_one_line(err, "--students", *words)
    assert not out.exists()


def test_roster_column_id_and_semicolons_are_read(tmp_path: Path) -> None:
    from symconv.course.exercise import read_roster

    roster = tmp_path / "export.csv"
    roster.write_bytes("\ufeffName;ID\nAda Lovelace;ada\nBob;b.ob\n\n".encode())
    assert read_roster(roster) == ["ada", "b.ob"]


def test_output_folder_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    for target in (blocker, blocker / "sub"):
        status, _, err = run(["exercise", str(TEMPLATE), "--variants", "2", "--no-pdf",
                              "-o", str(target)], capsys)
        assert status == 2
        assert_one_line(err, "-o", str(blocker))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--variants", "0"], ["--variants", "1 to 5000"]),
        (["--variants", "x"], ["--variants"]),
        (["--variants", "2", "--seed", "abc"], ["--seed", "'abc'"]),
        (["--variants", "2", "--jobs", "0"], ["--jobs"]),
        ([], ["--students", "--variants"]),
    ],
)
def test_bad_options_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], words: list[str]
) -> None:
    status, _, err = run(["exercise", str(TEMPLATE), *options, "--no-pdf",
                          "-o", str(tmp_path / "o")], capsys)
    assert status == 2
    assert_one_line(err, *words)


def test_missing_template_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["exercise", str(tmp_path / "none.toml"), "--variants", "2",
                          "--no-pdf", "-o", str(tmp_path / "o")], capsys)
    assert status == 2
    assert_one_line(err, "none.toml", "not a readable file")


# ---------------------------------------------------------------------------------------
# PDFs


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
    reason="needs pdflatex and pdftotext",
)
def test_pdf_sheets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    make(out, capsys, "--variants", "1")
    row = manifest(out)[0]
    assert (row["sheet"], row["solution"]) == ("sheets/v001.pdf", "solutions/v001.pdf")
    assert (out / "solutions" / "v001.pdf").read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", str(out / row["sheet"]), "-"], capture_output=True, text=True, check=True
    ).stdout.replace("\u2212", "-")
    table = tomllib.loads((out / row["problem"]).read_text("utf-8"))
    for name in ("x", "w", "y"):
        shown = ", ".join(str(v) for v in table["values"][name])
        assert f"{name} = ({shown})" in text, (name, text)
    rate = Fraction(table["optimizer"]["learning_rate"])
    assert f"α = {float(rate):g}" in text
    # the solution sheet has the same numbers
    solution = subprocess.run(
        ["pdftotext", str(out / row["solution"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "variant v001" in solution
