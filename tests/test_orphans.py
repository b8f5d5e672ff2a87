"""No process outlives symconv, however symconv ends (issue 13, item 4: "no orphaned
process").

``symconv check`` judges in worker processes (symconv/check/isolate.py) and ``symconv
report`` runs TeX in a process group of its own (symconv/latex/compiler.py).  Each is
killed here mid-way, by SIGTERM (which symconv handles) and by SIGKILL (which it cannot),
and every process that carries this run's marker in its environment (the workers, TeX
and its children, TeX's watchdog) must be gone within a few seconds.

Before: after a SIGKILL of ``symconv check`` its worker went on judging the equation it
had (SLOW below: ~20 s), and after a SIGKILL of ``symconv report`` latexmk's child
(here: the fake engine's ``sleep 300``) ran on and the build folder stayed in /tmp.
Linux only (the processes are found in /proc).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from symconv.check.isolate import Worker
from symconv.latex.compiler import find_engine
from symconv.problem import load_problem

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/environ").exists(), reason="finds processes in /proc"
)

ROOT = Path(__file__).resolve().parents[1]
# CPU-bound with little memory: a worker judges it for ~20 s (its budget set to 60 s)
SLOW = r"$$\hat{y}_1 = (\sqrt{2}+\sqrt{3})^{4096}$$"
GONE_S = 3.0  # the kernel, or the watchdog, ends them at once; a loaded machine may lag

_FAKE_TEX = """#!/bin/sh
# a TeX engine that hangs, with a child like latexmk's pdflatex; records its folder
/bin/sleep 300 &
echo "$PWD" > "$SYMCONV_TEST_MARK.tmp"
/bin/mv "$SYMCONV_TEST_MARK.tmp" "$SYMCONV_TEST_MARK"
wait
"""


def _state(pid: int) -> str | None:
    """The process's state letter (``Z`` for a zombie), None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _marked(marker: str) -> list[int]:
    """Live processes (zombies left out) whose environment holds ``marker``."""
    needle = f"SYMCONV_TEST_ORPHAN={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environment = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in environment.split(b"\0") and _state(int(entry)) not in (None, "Z", "X"):
            found.append(int(entry))
    return found


def _group_members(group: int) -> list[int]:
    """Live processes in process group ``group``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(argv: list[str], marker: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "symconv", *argv],
        cwd=ROOT,
        env=dict(os.environ, SYMCONV_TEST_ORPHAN=marker, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _end(process: subprocess.Popen[str], number: signal.Signals) -> str:
    process.send_signal(number)
    try:
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    return err


@pytest.mark.parametrize(
    ("number", "jobs"),
    [(signal.SIGKILL, 1), (signal.SIGKILL, 2), (signal.SIGTERM, 2)],
    ids=["SIGKILL", "SIGKILL-jobs-2", "SIGTERM-jobs-2"],
)
def test_killing_check_leaves_no_worker(
    tmp_path: Path, number: signal.Signals, jobs: int
) -> None:
    """Killed while its workers judge (two files with --jobs 2: workers started from a
    pool's threads, whose ending must not matter)."""
    files = []
    for name in ("a.md", "b.md")[:jobs]:
        (tmp_path / name).write_text(f"{SLOW}\n\n{SLOW}\n")
        files.append(str(tmp_path / name))
    marker = uuid.uuid4().hex
    process = _start(["check", *files, "--timeout", "60", "--jobs", str(jobs)], marker)
    try:
        workers: list[int] = []

        def busy() -> bool:  # every worker is well inside its first equation
            workers[:] = [pid for pid in _marked(marker) if pid != process.pid]
            return len(workers) == jobs and all(_cpu_seconds(p) > 2.0 for p in workers)

        assert _until(busy, 60), f"the workers did not start: {workers}"
        err = _end(process, number)
    finally:
        process.kill()
    if number == signal.SIGTERM:
        assert process.returncode == 143 and err.strip() == "symconv: terminated (SIGTERM)", err
    else:
        assert process.returncode == -signal.SIGKILL
    assert _until(lambda: not _marked(marker), GONE_S), f"left running: {_marked(marker)}"


def test_a_worker_started_from_a_thread_that_ended_lives_on() -> None:
    """The parent-death signal follows the thread that started a worker; workers are
    started from one long-lived thread, so a short-lived caller's thread (here, as
    ``prestart`` and the pool of ``check --jobs`` do) ending does not kill its worker."""
    worker = Worker()
    thread = threading.Thread(target=worker.start)
    thread.start()
    thread.join(30)
    try:
        pid = worker.pid
        assert pid is not None
        time.sleep(0.5)  # the thread has ended: a signal tied to it would have come
        assert _state(pid) not in (None, "Z", "X")
        data = worker.check(r"$$\hat{y}_1 = 14$$", load_problem("exercise2"))
        assert worker.pid == pid  # the same worker judged it: it was not replaced
        assert data["equations"][0]["verdict"] == "correct"  # ŷ₁ = 2+2+9+1 by hand
    finally:
        worker.close()


def _fake_tex(folder: Path) -> Path:
    folder.mkdir()
    for name in ("latexmk", "pdflatex"):
        script = folder / name
        script.write_text(_FAKE_TEX)
        script.chmod(0o755)
    return folder


@pytest.mark.parametrize("number", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_report_during_tex_leaves_no_tex(tmp_path: Path, number: signal.Signals) -> None:
    out, mark = tmp_path / "out", tmp_path / "mark"
    out.mkdir()
    (out / "exercise2.tex").write_text("old tex")
    (out / "exercise2.pdf").write_text("old pdf")
    path = f"{_fake_tex(tmp_path / 'bin')}:{Path(sys.executable).parent}:/usr/bin:/bin"
    marker = uuid.uuid4().hex
    process = _start(["report", "-o", str(out)], marker, PATH=path, SYMCONV_TEST_MARK=str(mark))
    try:
        assert _until(mark.exists, 120), "TeX did not start"
        build = Path(mark.read_text().strip())
        # the engine and its child, in their own group (the watchdog is in ours)
        tex = [pid for pid in _marked(marker) if os.getpgid(pid) != os.getpgid(process.pid)]
        assert len(tex) == 2, tex
        group = os.getpgid(tex[0])
        _end(process, number)
    finally:
        process.kill()
    assert _until(lambda: not _marked(marker), GONE_S), f"left running: {_marked(marker)}"
    assert not _group_members(group)
    assert _until(lambda: not build.exists(), GONE_S), f"{build} was left behind"
    assert sorted(p.name for p in out.iterdir()) == ["exercise2.pdf", "exercise2.tex"]
    assert (out / "exercise2.tex").read_text() == "old tex"


@pytest.mark.slow
@pytest.mark.skipif(find_engine() is None, reason="needs a TeX engine")
def test_killing_report_during_real_tex_leaves_no_tex(tmp_path: Path) -> None:
    """The same with the real latexmk and pdflatex, killed as soon as TeX is seen."""
    marker = uuid.uuid4().hex
    process = _start(["report", "-o", str(tmp_path / "out")], marker)
    seen: list[int] = []
    builds: list[Path] = []
    try:

        def tex_running() -> bool:
            for pid in _marked(marker):
                try:
                    name = Path(f"/proc/{pid}/comm").read_text().strip()
                    folder = Path(os.readlink(f"/proc/{pid}/cwd"))
                except OSError:
                    continue
                if name in ("latexmk", "pdflatex", "perl") and "symconv-tex-" in folder.name:
                    seen.append(pid)
                    builds.append(folder)
            return bool(seen)

        deadline = time.monotonic() + 120
        while not tex_running() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert seen, "TeX was not seen running"
        group = os.getpgid(seen[0])
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        process.kill()
    assert _until(lambda: not _marked(marker), GONE_S), f"left running: {_marked(marker)}"
    assert not _group_members(group)
    assert _until(lambda: not builds[0].exists(), GONE_S), f"{builds[0]} was left behind"
