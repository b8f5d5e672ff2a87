"""Benchmark of ``symconv equivariance`` (not a test): JSON lines with ratios.

Runs the command as a user would (a fresh process, plots and results.json included):

- ``equivariance_full``: the default run, against its budget of 180 s (3 min on 2 cores);
- ``equivariance_quick``: ``--quick``, against its budget of 20 s;
- ``train_<arm>``: mean training time per seed of each arm (from results.json), against the
  exercise's MLP measured in the same run.

Usage: ``python -m benchmarks.equivariance [--quick-only] [--keep DIR]`` (``--keep`` keeps the
full run's results.json and plots in DIR).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import emit


def timed_run(output: Path, *options: str) -> tuple[float, dict[str, object]]:
    command = [sys.executable, "-m", "symconv", "equivariance", "-o", str(output), *options]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, json.loads((output / "results.json").read_text("utf-8"))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        quick_s, _ = timed_run(Path(folder) / "quick", "--quick")
        emit("equivariance_quick", quick_s, "budget_20s", 20.0)
        if "--quick-only" in sys.argv:
            return
        keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
        full_s, results = timed_run(Path(keep) if keep else Path(folder) / "full")
        config = results["config"]
        assert isinstance(config, dict)
        emit("equivariance_full", full_s, "budget_180s", 180.0, seeds=len(config["seeds"]))
        timing = results["timing"]
        assert isinstance(timing, dict)
        train_s = timing["train_s"]
        for arm, seconds in train_s.items():
            if arm != "mlp":
                emit(f"train_{arm}", seconds, "train_mlp", train_s["mlp"], per="seed")


if __name__ == "__main__":
    main()
