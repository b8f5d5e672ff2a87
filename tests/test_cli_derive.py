"""``symconv derive``: the JSON contract on the exercise, overrides, and bad input (exit 2).

Expected numbers are the exercise's, worked out by hand (design.md); each ``float`` is the
nearest double of the exact value, computed here by Python's correctly rounded ``p / q``.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import symconv
from symconv.cli import main

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"

STEP_KEYS = (
    "yhat",
    "loss",
    "grad_yhat",
    "grad_w",
    "grad_b",
    "grad_x",
    "w_next",
    "b_next",
    "yhat_next",
    "loss_next",
)

# exact strings, by hand: w' = (1.56, 0.28, 2), b' = (0.88, 0.84), ŷ' = (9, 12.8), L' = 63.22
EXERCISE_JSON: dict[str, Any] = {
    "yhat": ["14", "20"],
    "loss": "200",
    "grad_yhat": ["12", "16"],
    "grad_w": ["44", "72", "100"],
    "grad_b": ["12", "16"],
    "grad_x": ["24", "44", "52", "48"],
    "w_next": ["39/25", "7/25", "2"],
    "b_next": ["22/25", "21/25"],
    "yhat_next": ["9", "64/5"],
    "loss_next": "3161/50",
}
# one shared bias b = 1: ∂L/∂b = 12 + 16 = 28, b' = 1 − 0.28 = 0.72,
# ŷ' = (8.84, 12.68), L' = ½ (6.84² + 8.68²) = 61.064
SHARED_JSON: dict[str, Any] = EXERCISE_JSON | {
    "grad_b": "28",
    "b_next": "18/25",
    "yhat_next": ["221/25", "317/25"],
    "loss_next": "7633/125",
}
# no bias: ŷ = (13, 19), g = (11, 15), ∂L/∂w = 11·(1, 2, 3) + 15·(2, 3, 4),
# ∂L/∂x = (11·2, 11·1 + 15·2, 11·3 + 15·1, 15·3), L = ½ (11² + 15²)
NO_BIAS_JSON: dict[str, Any] = {
    "yhat": ["13", "19"],
    "loss": "173",
    "grad_yhat": ["11", "15"],
    "grad_w": ["41", "67", "93"],
    "grad_b": None,
    "grad_x": ["22", "41", "48", "45"],
    "b_next": None,
}


def _float(exact: str) -> float:
    numerator, _, denominator = exact.partition("/")
    return int(numerator) / int(denominator or 1)


def expected_entry(exact: Any) -> dict[str, Any] | None:
    """``{"exact": ..., "float": ..., "shape": [...]}`` for an exact string or list of
    strings (the exercise's JSON keeps flat lists: shape ``[len]``, a number ``[]``)."""
    if exact is None:
        return None
    if isinstance(exact, list):
        return {"exact": exact, "float": [_float(v) for v in exact], "shape": [len(exact)]}
    return {"exact": exact, "float": _float(exact), "shape": []}


def json_mismatches(document: dict[str, Any], truth: dict[str, Any]) -> list[str]:
    """The keys of ``truth`` whose entry in ``document`` is not exactly as expected."""
    return [key for key, exact in truth.items() if document.get(key) != expected_entry(exact)]


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    document: dict[str, Any] = json.loads(out)  # one JSON document and nothing else
    return document


# ---------------------------------------------------------------------------------------
# the exercise


def test_exercise_json(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(["derive", "--problem", "exercise2", "--json"], capsys)
    assert set(STEP_KEYS) <= set(document)
    assert json_mismatches(document, EXERCISE_JSON) == []
    assert "steps" not in document


def test_exercise_json_floats_are_the_decimal_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(["derive", "--problem", "exercise2", "--json"], capsys)
    assert document["w_next"]["float"] == [1.56, 0.28, 2.0]
    assert document["b_next"]["float"] == [0.88, 0.84]
    assert document["yhat_next"]["float"] == [9.0, 12.8]
    assert document["loss_next"]["float"] == 63.22


def test_problem_file_gives_the_same_json(capsys: pytest.CaptureFixture[str]) -> None:
    builtin = run_json(["derive", "--problem", "exercise2", "--json"], capsys)
    from_file = run_json(["derive", "--problem", str(DATA / "exercise2.toml"), "--json"], capsys)
    assert {key: from_file[key] for key in STEP_KEYS} == {key: builtin[key] for key in STEP_KEYS}


# deliberately wrong documents must be caught by json_mismatches
WRONG_JSON: list[tuple[str, Any]] = [
    ("grad_w", ["100", "72", "44"]),  # the kernel-flip answer
    ("w_next", ["156/100", "28/100", "2"]),  # right value, but not in lowest terms
    ("loss_next", "3161/51"),
    ("grad_b", "28"),  # the shared-bias answer for the untied exercise
]


@pytest.mark.parametrize(("key", "wrong"), WRONG_JSON)
def test_a_wrong_json_value_is_caught(
    capsys: pytest.CaptureFixture[str], key: str, wrong: Any
) -> None:
    document = run_json(["derive", "--problem", "exercise2", "--json"], capsys)
    assert json_mismatches(document, {key: wrong}) == [key]


def test_shared_bias_override(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["derive", "--problem", "exercise2", "--bias", "shared", "--b", "1", "--json"]
    document = run_json(argv, capsys)
    assert json_mismatches(document, SHARED_JSON) == []
    assert document["problem"]["bias"] == "shared"


def test_no_bias_gives_null_bias_entries(capsys: pytest.CaptureFixture[str]) -> None:
    problem = str(DATA / "exercise2_nobias.toml")
    document = run_json(["derive", "--problem", problem, "--json"], capsys)
    assert "grad_b" in document and "b_next" in document
    assert json_mismatches(document, NO_BIAS_JSON) == []


# (case id, overrides on exercise2, key, exact value)
VALUE_OVERRIDES: list[tuple[str, list[str], str, Any]] = [
    # x = (2, 2, 3, 4): ŷ1 = 2·2 + 2 + 9 + 1 = 16
    ("x", ["--x", "2,2,3,4"], "yhat", ["16", "20"]),
    ("w", ["--w", "1,1,1"], "yhat", ["7", "10"]),
    ("untied b", ["--b", "0,0"], "yhat", ["13", "19"]),
    ("y", ["--y", "14,20"], "loss", "0"),
    # α = 1/2: w' = w − ½ (44, 72, 100)
    ("lr", ["--lr", "1/2"], "w_next", ["-20", "-35", "-47"]),
    ("lr decimal", ["--lr", "0.5"], "w_next", ["-20", "-35", "-47"]),
    # mse: g = 2(ŷ − y)/2 = (12, 16) and L = (144 + 256)/2
    ("mse", ["--loss", "mse"], "loss", "200"),
    # padding 1: m = 4, ŷ = (0·2 + 1·1 + 2·3, 14, 20, 3·2 + 4·1 + 0·3) + 1 with b, y resized
    ("padding", ["--padding", "1", "--b", "1,1,1,1", "--y", "0,0,0,0"], "yhat",
     ["8", "14", "20", "11"]),
    ("negative x with =", ["--x=-1,2,3,4"], "yhat", ["10", "20"]),  # ŷ1 = −2 + 2 + 9 + 1
]


@pytest.mark.parametrize(
    ("options", "key", "exact"),
    [case[1:] for case in VALUE_OVERRIDES],
    ids=[case[0] for case in VALUE_OVERRIDES],
)
def test_value_override(
    capsys: pytest.CaptureFixture[str], options: list[str], key: str, exact: Any
) -> None:
    document = run_json(["derive", "--problem", "exercise2", *options, "--json"], capsys)
    assert json_mismatches(document, {key: exact}) == []


def test_negative_first_value_needs_no_equals_sign(capsys: pytest.CaptureFixture[str]) -> None:
    # BUG: argparse takes "-1,2,3,4" for an option, so `--x -1,2,3,4` fails with
    # "argument --x: expected one argument" (exit 2); only `--x=-1,2,3,4` works
    document = run_json(["derive", "--problem", "exercise2", "--x", "-1,2,3,4", "--json"], capsys)
    assert json_mismatches(document, {"yhat": ["10", "20"]}) == []


# ---------------------------------------------------------------------------------------
# several steps


def test_three_steps(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(["derive", "--problem", "exercise2", "--steps", "3", "--json"], capsys)
    steps = document["steps"]
    assert len(steps) == 3
    assert all(set(step) >= set(STEP_KEYS) for step in steps)
    # the first step is the exercise; each next step starts where the last one ended
    assert json_mismatches(steps[0], EXERCISE_JSON) == []
    assert {key: document[key] for key in STEP_KEYS} == {key: steps[0][key] for key in STEP_KEYS}
    for before, after in itertools.pairwise(steps):
        assert after["yhat"] == before["yhat_next"]
        assert after["loss"] == before["loss_next"]
    # step 2 from w = (39/25, 7/25, 2), b = (22/25, 21/25): g = (9 − 2, 64/5 − 4) = (7, 44/5)
    assert json_mismatches(steps[1], {"grad_yhat": ["7", "44/5"], "grad_b": ["7", "44/5"]}) == []


# ---------------------------------------------------------------------------------------
# the closed form and the size guard


def test_closed_form_for_a_huge_layer(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["derive", "--form", "closed", "--n", "100000", "--k", "64", "--json"]
    document = run_json(argv, capsys)
    assert document["problem"]["output_length"] == 99_937
    assert {"yhat", "grad_w", "grad_x", "m"} <= set(document["closed"])
    assert "Sum" in document["closed"]["yhat"]
    assert "symbolic" not in document and "yhat" not in document


def test_huge_explicit_form_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["derive", "--n", "100000", "--k", "64"])
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("symconv: error:")
    assert "closed" in err


# ---------------------------------------------------------------------------------------
# bad input: exit 2, one line on stderr, nothing on stdout

# (case id, argv, words the message must contain: the option typed and the bad value)
EX2 = ["derive", "--problem", "exercise2"]
BAD_INPUT: list[tuple[str, list[str], str]] = [
    ("stride 0", [*EX2, "--stride", "0", "--json"], "`--stride` (=0)"),
    ("x too short", [*EX2, "--x", "1,2", "--json"], "`--x` (=1,2)"),
    ("x not a number", [*EX2, "--x", "1,2,a,4"], "`--x` entry 3 (=a)"),
    ("no such problem", ["derive", "--problem", "nosuch", "--json"], "nosuch"),
    ("invalid TOML", ["derive", "--problem", str(DATA / "invalid_syntax.toml")], "TOML"),
    ("n missing without --problem", ["derive", "--k", "3", "--json"], "--n"),
    ("n and k missing", ["derive", "--json"], "--n and --k"),
    ("unknown option", ["derive", "--problem", "exercise2", "--frobnicate"], "--frobnicate"),
    ("unknown command", ["derivate"], "derivate"),
    ("bad form", ["derive", "--problem", "exercise2", "--form", "implicit"], "implicit"),
    ("steps 0", [*EX2, "--steps", "0", "--json"], "--steps"),
    ("bad padding mode", [*EX2, "--padding-mode", "same"], "`--padding-mode` (=same)"),
    ("learning rate 0", [*EX2, "--lr", "0", "--json"], "`--lr` (=0)"),
    # b = [1, 1] comes from the file, so the message names the field of the file
    ("list for a shared bias", [*EX2, "--bias", "shared"], "values.b"),
    ("shared bias given two values", [*EX2, "--bias", "shared", "--b", "1,2"], "`--b` (=1,2)"),
    ("kernel too large", ["derive", "--n", "3", "--k", "5", "--json"], "`--k` (=5)"),
    ("dilated kernel too large", [*EX2, "--dilation", "2"], "dilation 2"),
    ("huge exponent", [*EX2, "--lr", "1e999"], "1e999"),
]


@pytest.mark.parametrize(
    ("argv", "word"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT]
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], word: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("symconv: error:"), err
    assert "Traceback" not in err
    assert word in err


# ---------------------------------------------------------------------------------------
# version and the module entry point


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code in (0, None)
    out, _ = capsys.readouterr()
    assert out.strip() == f"symconv {symconv.__version__}"


def test_python_m_symconv() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "symconv", "derive", "--problem", "exercise2", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert json_mismatches(json.loads(completed.stdout), EXERCISE_JSON) == []
