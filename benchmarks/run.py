"""Speed benchmarks (not tests): one JSON line per measurement, ratios measured side by side.

Each line: {"name", "ours_s", "baseline", "baseline_s", "ratio": ours/baseline, ...}.
Times are the median of several runs, measured in this one process run, so the ratio is
meaningful even on a noisy machine.  Run with ``make bench`` (``python -m benchmarks.run``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks import check, course, kernels
from benchmarks.common import emit, median_time
from symconv.derivation import build
from symconv.problem import load_problem


def closed_form_scale() -> None:
    """The closed form at n=100000, k=64 vs the largest explicit form allowed at k=64."""
    big = load_problem(None, {"layer.input_length": 100_000, "layer.kernel_size": 64})
    allowed = load_problem(None, {"layer.input_length": 312, "layer.kernel_size": 64})
    ours = median_time(lambda: build(big, form="closed"), 5)
    base = median_time(lambda: build(allowed, form="explicit"), 3)
    emit(
        "derive_closed_n100000_k64",
        ours,
        "derive_explicit_n312_k64",
        base,
        note="the closed form does not depend on n; the explicit form grows with n·k",
    )


def cold_start() -> None:
    """`symconv derive --problem exercise2` as a fresh process vs importing sympy alone."""
    command = [sys.executable, "-m", "symconv", "derive", "--problem", "exercise2"]
    floor = [sys.executable, "-c", "import sympy"]

    def run(argv: list[str]) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    ours = median_time(lambda: run(command), 5)
    base = median_time(lambda: run(floor), 5)
    emit("derive_exercise2_cold_start", ours, "python_import_sympy", base)
    ours_json = median_time(lambda: run([*command, "--json"]), 5)
    emit("derive_exercise2_json_cold_start", ours_json, "python_import_sympy", base)


def verify_sweep(count: int = 500) -> None:
    """`symconv verify --sweep 500` in a fresh process, against its 30 s budget."""
    command = [sys.executable, "-m", "symconv", "verify", "--sweep", str(count), "--json"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    emit(f"verify_sweep_{count}", time.perf_counter() - start, "budget", 30.0, goal="ratio <= 1")


def main() -> None:
    closed_form_scale()
    cold_start()
    kernels.main()
    verify_sweep()
    check.main()
    course.main()
    if Path(__file__).with_name("equivariance.py").exists():
        subprocess.run([sys.executable, "-m", "benchmarks.equivariance"], check=True)


if __name__ == "__main__":
    main()
