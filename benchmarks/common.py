"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence


def median_time(work: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``work``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_median_times(
    works: Sequence[Callable[[], object]], repeats: int, *, warmup: int = 3, block: int = 1
) -> list[float]:
    """Median wall time of one call of each of ``works``, in seconds, measured side by side:
    each round runs every work ``block`` times in turn, so that a noisy machine slows them
    alike (``block`` > 1 lets a library's thread pool settle before its calls are timed;
    the first call of each block is not counted then)."""
    for _ in range(warmup):
        for work in works:
            work()
    times: list[list[float]] = [[] for _ in works]
    rounds = max(1, repeats // block)
    for _ in range(rounds):
        for work, series in zip(works, times):
            for call in range(block + (block > 1)):
                start = time.perf_counter()
                work()
                if call or block == 1:
                    series.append(time.perf_counter() - start)
    return [statistics.median(series) for series in times]


def emit(name: str, ours: float, baseline: str, base: float, **extra: object) -> None:
    """Print one measurement as a JSON line: ours, the baseline and their ratio."""
    record = {
        "name": name,
        "ours_s": round(ours, 6),
        "baseline": baseline,
        "baseline_s": round(base, 6),
        "ratio": round(ours / base, 4),
        **extra,
    }
    print(json.dumps(record, ensure_ascii=False), flush=True)
