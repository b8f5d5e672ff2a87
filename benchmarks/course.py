"""Grading a course: 200 generated submissions, serial vs ``--jobs 2`` vs a Dask cluster.

A course of ``count`` students is generated (problems: 1-D variations of the exercise with
seeded random values; submissions from :mod:`symconv.course.samples`: mostly correct, some
with a planted error, some with an error carried forward, a few unreadable or empty), and
``symconv grade`` is run on it as a fresh process three times into empty folders:

- serially (``--jobs 1``): the baseline;
- ``--jobs 2``: two students at a time, each checked in a worker process;
- ``--scheduler`` on a ``dask.distributed.LocalCluster`` of 2 worker processes (started
  before the timing; its start-up is reported separately as ``cluster_start_s``).

Each run is timed once (a run is minutes of work, not a micro-benchmark); the three
gradebooks must be identical.  The parallel runs need idle cores: each line gives the
machine's CPU count and its load average, which other work raises.  Run with
``python -m benchmarks.course [COUNT]``.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from benchmarks.common import emit
from symconv.course.samples import Plan, make_submission
from symconv.problem import load_problem

COUNT = 200
# (n, k, stride, padding, bias, loss, learning rate)
_TEMPLATES = [
    (4, 3, 1, 0, "untied", "sse_half", "0.01"),
    (4, 3, 1, 0, "shared", "sse_half", "0.01"),
    (5, 3, 1, 0, "none", "sse_half", "0.1"),
    (4, 3, 1, 0, "untied", "mse", "0.01"),
    (4, 3, 1, 1, "untied", "sse_half", "0.01"),
    (6, 3, 2, 0, "shared", "sse_half", "0.05"),
    (5, 2, 1, 0, "untied", "mse", "0.1"),
]
_ITEMS = ("yhat", "loss", "grad_yhat", "grad_w", "grad_x", "w_next", "yhat_next", "loss_next")


def _toml(template: tuple[object, ...], rng: random.Random, title: str) -> str:
    n, k, stride, padding, bias, loss, lr = template
    assert isinstance(n, int) and isinstance(k, int)
    assert isinstance(stride, int) and isinstance(padding, int)
    m = (n + 2 * padding - k) // stride + 1
    lines = [
        f'title = "{title}"', "[layer]", f"input_length = {n}", f"kernel_size = {k}",
        f"stride = {stride}", f"padding = {padding}", f'bias = "{bias}"', "[loss]",
        f'kind = "{loss}"', "[optimizer]", f'learning_rate = "{lr}"', "[values]",
        f"x = {[rng.randint(-3, 3) for _ in range(n)]}",
        f"w = {[rng.choice([-2, -1, 1, 2, 3]) for _ in range(k)]}",
    ]
    if bias == "untied":
        lines.append(f"b = {[rng.randint(-2, 2) for _ in range(m)]}")
    elif bias == "shared":
        lines.append(f"b = {rng.randint(-2, 2)}")
    lines.append(f"y = {[rng.randint(-3, 3) for _ in range(m)]}")
    return "\n".join(lines) + "\n"


def _plan(rng: random.Random) -> Plan:
    """Mostly correct work; planted and carried errors; a few unreadable or empty files."""
    draw = rng.random()
    if draw < 0.55:
        return Plan("correct", form=rng.choice(["entries", "vectors"]))
    if draw < 0.80:
        return Plan("wrong", item=rng.choice(_ITEMS), entry=0)
    if draw < 0.93:
        return Plan("carried", entry=0, delta=Fraction(rng.choice([1, -1, 2])))
    if draw < 0.96:
        return Plan("notation")
    return Plan(rng.choice(["empty", "unreadable"]))


def build_course(root: Path, count: int, seed: int = 0) -> tuple[Path, Path]:
    """Problems, manifest and submissions of ``count`` students; (manifest, submissions)."""
    rng = random.Random(seed)
    (root / "problems").mkdir(parents=True)
    subs = root / "subs"
    subs.mkdir()
    rows = ["student,variant,problem,sheet,solution,hash"]
    for index in range(count):
        vid = f"v{index + 1:03d}"
        text = _toml(_TEMPLATES[index % len(_TEMPLATES)], rng, f"variant {vid}")
        path = root / "problems" / f"{vid}.toml"
        path.write_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        rows.append(f"{vid},{vid},problems/{vid}.toml,,,{digest}")
        sample = make_submission(load_problem(str(path)), _plan(rng))
        (subs / f"{vid}{sample.suffix}").write_bytes(sample.data)
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest, subs


def _grade(manifest: Path, subs: Path, out: Path, *extra: str) -> float:
    command = [sys.executable, "-m", "symconv", "grade", str(subs), "--manifest",
               str(manifest), "--no-pdf", "-o", str(out), *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main(count: int = COUNT) -> None:
    from dask.distributed import LocalCluster

    with tempfile.TemporaryDirectory(prefix="symconv-bench-course-") as folder:
        root = Path(folder)
        manifest, subs = build_course(root / "course", count)
        serial = _grade(manifest, subs, root / "serial")
        jobs = _grade(manifest, subs, root / "jobs2", "--jobs", "2")
        start = time.perf_counter()
        with LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            cluster_start = time.perf_counter() - start
            dask = _grade(manifest, subs, root / "dask", "--scheduler", cluster.scheduler_address)
        books = {name: (root / name / "gradebook.csv").read_text()
                 for name in ("serial", "jobs2", "dask")}
        same = len(set(books.values())) == 1
        # other work on the machine takes the cores the parallel runs need: say how much
        about = {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2),
                 "same_gradebook": same}
        emit(f"grade_{count}_jobs2", jobs, f"grade_{count}_serial", serial, **about)
        emit(f"grade_{count}_dask_localcluster2", dask, f"grade_{count}_serial", serial,
             cluster_start_s=round(cluster_start, 3), **about)
        emit(f"grade_{count}_dask_localcluster2", dask, f"grade_{count}_jobs2", jobs, **about)
        if not same:
            raise SystemExit("the gradebooks of the three runs differ")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else COUNT)
