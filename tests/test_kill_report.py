"""A report killed with SIGKILL at every step of its write (issue 13, item 4).

symconv/latex/report.py writes ``<stem>.tex`` and ``<stem>.pdf`` as one transaction
(staging folder, the ``.<stem>.commit`` rename, the moves); ``SYMCONV_TEST_KILL_AT``
makes the process SIGKILL itself at a named point of it.  At every point, before, at and
after the commit point, what the folder shows must be the old pair or the new pair, or —
only while a ``.commit`` folder says how to finish — a .tex alone (the PDF leaves first
and comes back last): never a PDF beside a .tex it was not built from.  The next report
of that stem finishes (rolls forward) what was committed, drops what was not, and leaves
nothing hidden behind.

The kill matrix runs the report's writer (``write_report``) in processes of their own
(forked from one that has derived the report once) with a quick stand-in for pdflatex
whose "PDF" is the .tex behind a header, so that a PDF can be matched with its .tex; the
slow test does the same with ``symconv report`` and real TeX.
Before the transaction, a kill between the two files left a new .tex beside an old PDF
and a hidden partial file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from symconv.latex.compiler import find_engine
from symconv.latex.report import KILL_POINTS

ROOT = Path(__file__).resolve().parents[1]
STEM = "r"
# the points before the commit point and after it, in the order of report.py's docstring
BEFORE = ("recovered", "staging", "wrote-1", "staged")
AFTER = ("committed", "cleared", "moved-1", "moved", "finished")
HEADER = b"%PDF-fake\n"  # the stand-in's PDF: this, then the .tex it was built from
OLD_TEX = b"% the old report\n"
OLD = {f"{STEM}.tex": OLD_TEX, f"{STEM}.pdf": HEADER + OLD_TEX}

_FAKE_PDFLATEX = """#!/bin/sh
# a quick stand-in for pdflatex: writes <stem>.pdf = a header and the .tex, and a log
for last; do :; done
stem="${last%.tex}"
{ printf '%%PDF-fake\\n'; /bin/cat "$last"; } > "$stem.pdf"
echo "fake pdflatex" > "$stem.log"
"""

# One process imports and derives the report once, then forks a child per write (so a
# write costs a fraction of a second): each child sets SYMCONV_TEST_KILL_AT and runs
# write_report, and the folder is copied after each write.  argv: the base folder, TeX's
# PATH and a JSON list of scenarios [name, old files?, [[title, kill point or null], ...]];
# it prints each write's exit status.
_WRITER = """import json, os, shutil, sys, traceback
from pathlib import Path
from typing import Any
from symconv.latex.report import write_report
from symconv.problem import load_problem
base, tex_path, scenarios = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
problem = load_problem("exercise2")
write_report(problem, base / "warm", name="r", title="warm", path=tex_path)
statuses = {}
for name, old, writes in scenarios:
    out = base / name / "folder"
    out.mkdir(parents=True)
    for file_name, text in old.items():
        (out / file_name).write_text(text)
    statuses[name] = []
    for number, (title, point) in enumerate(writes):
        child = os.fork()
        if child == 0:
            try:
                os.environ.pop("SYMCONV_TEST_KILL_AT", None)
                if point is not None:
                    os.environ["SYMCONV_TEST_KILL_AT"] = point
                write_report(problem, out, name="r", title=title, path=tex_path)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(child, 0)
        statuses[name].append(-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                              else os.WEXITSTATUS(status))
        shutil.copytree(out, base / name / str(number))
print(json.dumps(statuses))
"""


def _fake_tex(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "pdflatex"
    script.write_text(_FAKE_PDFLATEX)
    script.chmod(0o755)
    return str(folder)  # the only folder on TeX's PATH: no latexmk found, pdflatex is this


def _shown(out: Path) -> dict[str, bytes]:
    """The files a reader of the folder sees (hidden ones left out)."""
    return {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}


def _hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def _consistent(files: dict[str, bytes]) -> bool:
    """No PDF beside a .tex it was not built from (a .tex alone is consistent)."""
    pdf, tex = files.get(f"{STEM}.pdf"), files.get(f"{STEM}.tex")
    return pdf is None or pdf == HEADER + (tex or b"")


TWICE = [["new", "committed"], ["newer", "moved-1"], ["newer", "recovered"], ["newer", None]]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    """For every kill point: the folder after the kill (snapshot 0), and after the next
    write's recovery (snapshot 1: that write killed right after it, before writing
    anything of its own); the reference new pair; and the double fault of TWICE."""
    base = tmp_path_factory.mktemp("kill")
    tex_path = _fake_tex(base / "bin")
    old = {name: data.decode() for name, data in OLD.items()}
    scenarios = [["reference", {}, [["new", None]]], ["twice", old, TWICE]]
    scenarios += [[point, old, [["new", point], ["newer", "recovered"]]] for point in KILL_POINTS]
    done = subprocess.run(
        [sys.executable, "-c", _WRITER, str(base), tex_path, json.dumps(scenarios)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and not done.stderr, done.stderr
    return base, json.loads(done.stdout)


def _new(matrix: tuple[Path, dict[str, list[int]]]) -> dict[str, bytes]:
    base, statuses = matrix
    assert statuses["reference"] == [0]
    new = _shown(base / "reference" / "0")
    assert sorted(new) == [f"{STEM}.pdf", f"{STEM}.tex"] and _consistent(new)
    return new


def test_every_kill_point_is_named_before_or_after_the_commit() -> None:
    assert KILL_POINTS == BEFORE + AFTER


@pytest.mark.parametrize("point", BEFORE + AFTER)
def test_a_kill_leaves_the_old_pair_or_the_new_one(
    matrix: tuple[Path, dict[str, list[int]]], point: str
) -> None:
    new = _new(matrix)
    base, statuses = matrix
    assert statuses[point][0] == -signal.SIGKILL  # it was killed there (every point is reached)
    shown, hidden = _shown(base / point / "0"), _hidden(base / point / "0")
    assert _consistent(shown), shown
    pending = f".{STEM}.commit" in hidden
    if not pending:
        assert shown in (OLD, new), shown  # no half-way state without a commit to finish
    # where each point leaves the folder, by the order of the transaction
    expected = {
        "committed": OLD,  # committed, nothing moved yet
        "cleared": {f"{STEM}.tex": OLD_TEX},  # the old PDF gone first
        "moved-1": {f"{STEM}.tex": new[f"{STEM}.tex"]},  # the sources in, the PDF not yet
        "moved": new,
        "finished": new,
    }.get(point, OLD)
    assert shown == expected
    assert pending == (point in ("committed", "cleared", "moved-1", "moved"))
    staged = point in ("staging", "wrote-1", "staged")
    assert any(name.startswith(f".{STEM}.staging-") for name in hidden) == staged, hidden


@pytest.mark.parametrize("point", BEFORE + AFTER)
def test_the_next_report_finishes_or_drops_it(
    matrix: tuple[Path, dict[str, list[int]]], point: str
) -> None:
    """The next write first rolls a committed one forward and drops an uncommitted one
    (a dead process's staging folder); killed right after that, before writing anything
    of its own, it shows what it recovered, and nothing hidden."""
    new = _new(matrix)
    base, statuses = matrix
    assert statuses[point][1] == -signal.SIGKILL
    assert _shown(base / point / "1") == (OLD if point in BEFORE else new)
    assert _hidden(base / point / "1") == []


def test_a_kill_during_the_recovery_is_recovered_too(
    matrix: tuple[Path, dict[str, list[int]]],
) -> None:
    """Killed after its commit point; the next write killed half-way through rolling it
    forward; the one after finishes it; a last one writes its own report."""
    new = _new(matrix)
    base, statuses = matrix
    assert statuses["twice"] == [-signal.SIGKILL] * 3 + [0]
    snapshots = [base / "twice" / str(number) for number in range(4)]
    assert _shown(snapshots[0]) == OLD and _hidden(snapshots[0]) == [f".{STEM}.commit"]
    assert _shown(snapshots[1]) == {f"{STEM}.tex": new[f"{STEM}.tex"]}  # mid-way, consistent
    assert _shown(snapshots[2]) == new and _hidden(snapshots[2]) == []
    final = _shown(snapshots[3])
    assert _consistent(final) and final != new and b"newer" in final[f"{STEM}.tex"]
    assert sorted(final) == [f"{STEM}.pdf", f"{STEM}.tex"] and _hidden(snapshots[3]) == []


# ---------------------------------------------------------------------------------------
# the command itself, with real TeX


def _report(out: Path, title: str, kill_at: str | None = None) -> int:
    env = dict(os.environ)
    env.pop("SYMCONV_TEST_KILL_AT", None)
    if kill_at is not None:
        env["SYMCONV_TEST_KILL_AT"] = kill_at
    done = subprocess.run(
        [sys.executable, "-m", "symconv", "report", "-o", str(out), "--title", title],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode in (0, -signal.SIGKILL), done.stderr
    assert "Traceback" not in done.stderr
    return done.returncode


@pytest.mark.slow
@pytest.mark.skipif(find_engine() is None, reason="needs a TeX engine")
def test_symconv_report_killed_after_its_commit_point_is_rolled_forward(
    tmp_path: Path,
) -> None:
    """``symconv report -o DIR`` with real TeX, killed with the new .tex moved in and
    the new PDF not yet: the next ``symconv report`` first completes that pair (the PDF
    TeX built for that .tex, byte for byte: the build is reproducible), then writes its
    own."""
    reference, out = tmp_path / "reference", tmp_path / "out"
    out.mkdir()
    for name, data in (("exercise2.tex", b"old tex"), ("exercise2.pdf", b"old pdf")):
        (out / name).write_bytes(data)
    with ThreadPoolExecutor(max_workers=2) as pool:
        clean = pool.submit(_report, reference, "new")
        killed = pool.submit(_report, out, "new", "moved-1")
        assert clean.result() == 0 and killed.result() == -signal.SIGKILL
    new = _shown(reference)
    assert sorted(new) == ["exercise2.pdf", "exercise2.tex"]
    assert new["exercise2.pdf"].startswith(b"%PDF")
    assert _shown(out) == {"exercise2.tex": new["exercise2.tex"]}  # no old PDF beside it
    assert _hidden(out) == [".exercise2.commit"]
    assert _report(out, "newer", "recovered") == -signal.SIGKILL
    assert _shown(out) == new and _hidden(out) == []  # the committed pair, completed
    assert _report(out, "newer") == 0
    final = _shown(out)
    assert sorted(final) == ["exercise2.pdf", "exercise2.tex"] and _hidden(out) == []
    assert b"newer" in final["exercise2.tex"] and final["exercise2.pdf"] != new["exercise2.pdf"]
    shutil.rmtree(reference)


def test_a_failure_after_the_commit_point_says_the_next_report_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error while moving the committed files (not a kill): the message does not say
    "nothing was changed", and the next write completes the committed pair."""
    from symconv.errors import SymconvError
    from symconv.latex.report import write_together

    for name, data in OLD.items():
        (tmp_path / name).write_bytes(data)
    new_tex = b"% the new report\n"
    new = {f"{STEM}.tex": new_tex, f"{STEM}.pdf": HEADER + new_tex}
    real = os.replace

    def failing(source: Any, target: Any) -> None:
        if Path(target).name == f"{STEM}.pdf":
            raise OSError(13, "Permission denied")
        real(source, target)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(SymconvError, match=r"\.r\.commit holds the new files: the next report"):
        write_together(tmp_path, STEM, new)
    assert _shown(tmp_path) == {f"{STEM}.tex": new_tex}  # consistent meanwhile
    monkeypatch.setattr(os, "replace", real)
    write_together(tmp_path, STEM, {"r-plot1.png": b"png"})
    assert _shown(tmp_path) == {**new, "r-plot1.png": b"png"} and _hidden(tmp_path) == []
