"""``symconv verify`` refuses, before any work, a configuration whose exact truth would
cost more than ``symconv derive`` allows its explicit form (issue 13, item 3).

The truth of verify is the explicit form evaluated exactly; before, only ``derive`` was
guarded, and ``verify --n 4 --k 3 --padding 4000`` worked for 13 s and then died on an
error of its finite differences, while a batch of 500 or 30→30 channels ran for minutes.

The cost model, written out by hand here (symconv/symbolic/explicit.py): one unit per
product (output entry × tap, the padding's zeros included), ten per output entry, one per
entry of x, w and b; limit 100,000.  For a 1-D layer with n = 4, k = 3, one shared bias
and padding p there are m = 2p + 2 outputs, so the cost is 3m + 10m + (4 + 3 + 1) =
13m + 8: p = 3844 costs 99,978 (allowed), p = 3845 costs 100,004 (refused), p = 4000
costs 104,034.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symconv.crosscheck import check_cost, check_problem, random_values
from symconv.errors import SizeError
from symconv.problem import load_problem

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 8.0  # a refusal comes before any work: the interpreter's start and the imports

_STEPS_TOML = """title = "many steps, a long padding"
[layer]
input_length = 4
kernel_size = 3
padding = {padding}
bias = "shared"
[optimizer]
learning_rate = "0.01"
steps = 10000
"""

TOO_COSTLY = [
    # (what, arguments after `symconv verify`, a fragment of the one line)
    ("the issue's padding", ["--n", "4", "--k", "3", "--padding", "4000"], "104034 units"),
    ("one padding over the limit", ["--n", "4", "--k", "3", "--padding", "3845"],
     "100004 units"),
    ("dilated and padded", ["--n", "4", "--k", "3", "--dilation", "2", "--padding", "3846"],
     "limits 100000 units"),
    # n·k = 100,000 passed the old n·k guard; 1,951 outputs × 50 taps and their symbols do not
    ("a long kernel", ["--n", "2000", "--k", "50"], "97550 products"),
    ("a big batch", ["--n", "100", "--k", "3", "--batch", "500"], "batch 500"),
    ("many channels",
     ["--n", "100", "--k", "3", "--in-channels", "30", "--out-channels", "30"],
     "30→30 channels"),
    ("a 2-D layer", ["--input-shape", "64,64", "--k", "3,3", "--in-channels", "8",
                     "--out-channels", "8"], "2-D"),
    ("your own layer on it",
     ["--impl", "examples.numpy_im2col:forward", "--impl-backward",
      "examples.numpy_im2col:backward", "--n", "4", "--k", "3", "--padding", "4000"],
     "104034 units"),
]  # fmt: skip


def _verify(argv: list[str], cwd: Path = ROOT) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "symconv", "verify", *argv],
        cwd=cwd, capture_output=True, text=True, timeout=SECONDS, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr, time.perf_counter() - started


@pytest.mark.parametrize(
    ("argv", "fragment"), [case[1:] for case in TOO_COSTLY], ids=[case[0] for case in TOO_COSTLY]
)
def test_a_costly_configuration_is_refused_at_once(argv: list[str], fragment: str) -> None:
    status, out, err, elapsed = _verify(argv)
    assert status == 2, err
    assert out == ""  # no table, no work
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symconv: error: "), err
    assert fragment in lines[0] and "verify a smaller layer" in lines[0], lines[0]
    assert elapsed < SECONDS


def test_many_steps_do_not_count_but_the_layer_does(tmp_path: Path) -> None:
    """verify checks one SGD step: a problem file's 10,000 steps do not make it costly,
    its padding does."""
    costly = tmp_path / "costly.toml"
    costly.write_text(_STEPS_TOML.format(padding=3845))
    status, _, err, _ = _verify(["--problem", str(costly)])
    assert status == 2 and "100004 units" in err and len(err.strip().splitlines()) == 1
    # the same file with a short padding passes the guard (its 10,000 steps unused)
    cheap = tmp_path / "cheap.toml"
    cheap.write_text(_STEPS_TOML.format(padding=1))
    check_cost(load_problem(str(cheap)))


@pytest.mark.parametrize(
    ("padding", "allowed"), [(0, True), (3844, True), (3845, False), (4000, False)]
)
def test_the_limit_falls_where_the_cost_model_puts_it(padding: int, allowed: bool) -> None:
    problem = load_problem("exercise2").with_layer(padding=padding, bias="shared")
    if allowed:
        check_cost(problem)
    else:
        units = 13 * (2 * padding + 2) + 8  # by hand, see the module docstring
        with pytest.raises(SizeError, match=f"costs {units} units"):
            check_cost(problem)


def test_the_built_in_problems_stay_within_the_limit() -> None:
    for name in ("exercise2", "conv2d_small", "mnist_conv1", "mnist_conv2"):
        check_cost(load_problem(name))


def test_a_long_output_skips_finite_differences_instead_of_failing() -> None:
    """x, w, b have 8 entries but ŷ has 2,002: finite differences (at most 2,000 entries,
    ŷ counted) are skipped; before, the check died with their error after all the work."""
    problem = load_problem("exercise2").with_layer(padding=1000, bias="shared")
    problem = random_values(problem, random.Random(0))
    checks = check_problem(problem, backends=("numpy-float64", "finite-diff-float64"))
    assert {check.backend for check in checks} == {"numpy-float64"}
    assert all(check.ok for check in checks)
