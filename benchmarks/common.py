"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable


def median_time(work: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``work``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
