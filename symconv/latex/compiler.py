"""Compiling a .tex file with a real TeX engine, safely.

The engine (``latexmk -pdf`` when found, else ``pdflatex``) runs in a temporary
directory, with shell escape off, kpathsea's paranoid file access (no reading or writing
outside the build directory except TeX's own trees), stdin closed, a timeout, and a fixed
``SOURCE_DATE_EPOCH`` so that the PDF does not change from run to run.  On a TeX error
:class:`TexError` carries the first error with its log lines.

The engine runs in its own process group (session), and the whole group is killed on a
timeout or when symconv itself is interrupted (SIGINT, SIGTERM, any exception): latexmk's
``pdflatex`` never outlives the (deleted) build directory.  A process killed outright
(SIGKILL, the OOM killer) cannot clean up, so a small watchdog process does it: it holds
a pipe from symconv, and when the pipe ends without symconv's "done" it kills the group
and removes the build directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# defined in symconv.errors (every user-facing exception); importable from here too
from symconv.errors import NoEngineError, TexError

__all__ = [
    "INSTALL_HINT",
    "Engine",
    "NoEngineError",
    "TexError",
    "compile_tex",
    "find_engine",
    "first_error",
    "run_group",
]

INSTALL_HINT = (
    "install a TeX engine to get the PDF, e.g. on Debian/Ubuntu: sudo apt-get install -y "
    "texlive-latex-base texlive-latex-recommended texlive-latex-extra latexmk "
    "(macOS: brew install --cask mactex-no-gui; or TinyTeX: https://yihui.org/tinytex/)"
)
TIMEOUT_S = 120.0
_CONTEXT_LINES = 8


@dataclass(frozen=True)
class Engine:
    """A TeX engine: ``name`` ("latexmk" or "pdflatex") and its executable."""

    name: str
    path: str


def find_engine(path: str | None = None) -> Engine | None:
    """``latexmk`` (with pdflatex beside it) or ``pdflatex`` on ``path`` (default PATH)."""
    pdflatex = shutil.which("pdflatex", path=path)
    if pdflatex is None:
        return None  # latexmk alone cannot build a PDF
    latexmk = shutil.which("latexmk", path=path)
    if latexmk is not None:
        return Engine("latexmk", latexmk)
    return Engine("pdflatex", pdflatex)


def _command(engine: Engine, tex_name: str) -> list[list[str]]:
    flags = ["-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-no-shell-escape"]
    if engine.name == "latexmk":
        return [[engine.path, "-pdf", "-norc", "-quiet", *flags, tex_name]]
    # no cross-references in the report: one pass gives the final layout; a second
    # pass is harmless and keeps this path honest if references are ever added
    return [[engine.path, *flags, tex_name]] * 2


def _environment(build: Path, path: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    env.update(
        {
            "openin_any": "p",  # kpathsea: no reading outside the build dir and TeX's trees
            "openout_any": "p",  # no writing outside the build dir
            "shell_escape": "f",
            "TEXMFOUTPUT": str(build),
            "SOURCE_DATE_EPOCH": "0",  # a reproducible PDF (no creation date)
            "FORCE_SOURCE_DATE": "1",
            "max_print_line": "1000",  # log lines unwrapped, so errors quote whole lines
        }
    )
    return env


_ERROR_START = re.compile(r"^(?:! |[^:\n]*:\d+: )")


def first_error(log: str) -> str:
    """The first TeX error of ``log`` with the lines that locate it (``l.123 ...``)."""
    lines = log.splitlines()
    for number, line in enumerate(lines):
        if _ERROR_START.match(line):
            excerpt = [line]
            for follow in lines[number + 1 : number + 1 + _CONTEXT_LINES]:
                excerpt.append(follow)
                if re.match(r"^l\.\d+", follow):
                    break
            return "\n".join(excerpt).rstrip()
    tail = [line for line in lines if line.strip()][-_CONTEXT_LINES:]
    return "\n".join(tail) or "(the TeX engine wrote no log)"


def overfull_boxes(log: str) -> list[str]:
    """The ``Overfull \\hbox`` warnings of a log, one line each."""
    return [line for line in log.splitlines() if line.startswith("Overfull \\hbox")]


# The watchdog, run as ``python -I -S -c _WATCHDOG FOLDER`` (the standard library only):
# it reads process-group ids, one a line, then "done" from its stdin; when the pipe ends
# without "done" (symconv was killed outright) it kills the last group and removes FOLDER.
_WATCHDOG = """
import os, shutil, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches symconv, which cleans up
signal.signal(signal.SIGTERM, signal.SIG_IGN)
group, done = 0, False
for line in sys.stdin.buffer:
    word = line.strip()
    if word == b"done":
        done = True
        break
    if word.isdigit():
        group = int(word)
if not done:
    if group > 1:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass
    folder = sys.argv[1] if sys.argv[1:] else ""
    end = time.monotonic() + 2.0
    while folder and time.monotonic() < end:  # again while a dying process still writes
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.exists(folder):
            break
        time.sleep(0.05)
"""


class _Watchdog:
    """The watchdog of the module docstring for one build folder (or none: ``None``).
    Without a Python interpreter to run it, nothing is watched (as before)."""

    def __init__(self, folder: Path | None) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        if not sys.executable:
            return
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(folder or "")],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self.process = None

    def _say(self, word: str) -> None:
        stream = None if self.process is None else self.process.stdin
        if stream is None:
            return
        try:
            stream.write(f"{word}\n".encode("ascii"))
            stream.flush()
        except (OSError, ValueError):
            pass  # it has died: the group is still killed here, as before

    def watch(self, group: int) -> None:
        """Kill process group ``group`` if this process is killed."""
        self._say(str(group))

    def dismiss(self) -> None:
        """All went well: the groups and the folder are cleaned up here."""
        self._say("done")
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()


def run_group(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    watchdog: _Watchdog | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` in a new process group, stdin closed, output captured; on a timeout
    (``subprocess.TimeoutExpired``) or any exception (KeyboardInterrupt, SIGTERM's
    :class:`~symconv.errors.Terminated`) kill the whole group before re-raising.  If this
    process is killed outright, a watchdog process kills the group (``watchdog``: the
    caller's, which also removes its build folder; else one for this command).

    Example:
        >>> run_group(["true"], cwd=Path("."), env=os.environ, timeout=10).returncode
        0
    """
    own = _Watchdog(None) if watchdog is None else None
    watching = watchdog if watchdog is not None else own
    assert watching is not None
    process: subprocess.Popen[bytes] | None = None
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: latexmk's children included
        )
        watching.watch(process.pid)  # the group's id is its leader's
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        if process is not None:  # a signal as early as this included
            _kill_group(process)
        raise
    finally:
        if process is not None:
            _kill_group(process, only_stragglers=True)
            watching.watch(0)  # that group is gone: nothing for the watchdog to kill
        if own is not None:
            own.dismiss()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[bytes], *, only_stragglers: bool = False) -> None:
    """SIGKILL the process group of ``process`` (its leader and every child it started)
    and reap the leader.  ``only_stragglers``: after a normal exit, children left behind."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already
    if only_stragglers:
        return
    try:
        process.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        pass


def compile_tex(
    tex: str,
    *,
    name: str = "report",
    files: Mapping[str, bytes] | None = None,
    engine: Engine | None = None,
    path: str | None = None,
    timeout: float = TIMEOUT_S,
) -> tuple[bytes, str]:
    """Compile ``tex`` (with ``files``, e.g. figures, beside it); return ``(pdf, log)``.

    ``path`` replaces PATH for finding and running the engine.  Raises
    :class:`NoEngineError` without an engine and :class:`TexError` when TeX fails or
    times out.
    """
    engine = engine or find_engine(path)
    if engine is None:
        raise NoEngineError(f"no TeX engine (latexmk or pdflatex) found on PATH; {INSTALL_HINT}")
    build = Path(tempfile.mkdtemp(prefix="symconv-tex-"))
    watchdog: _Watchdog | None = None
    try:
        watchdog = _Watchdog(build)  # removes the folder if this process is killed outright
        return _compile(tex, name, files, engine, path, timeout, build, watchdog)
    finally:
        shutil.rmtree(build, ignore_errors=True)
        if watchdog is not None:
            watchdog.dismiss()


def _compile(
    tex: str,
    name: str,
    files: Mapping[str, bytes] | None,
    engine: Engine,
    path: str | None,
    timeout: float,
    build: Path,
    watchdog: _Watchdog,
) -> tuple[bytes, str]:
    tex_name = f"{name}.tex"
    (build / tex_name).write_text(tex, "utf-8")
    for file_name, data in (files or {}).items():
        (build / file_name).write_bytes(data)
    env = _environment(build, path)
    log_path = build / f"{name}.log"
    for command in _command(engine, tex_name):
        try:
            done = run_group(command, cwd=build, env=env, timeout=timeout, watchdog=watchdog)
        except subprocess.TimeoutExpired:
            log = log_path.read_text("utf-8", "replace") if log_path.exists() else ""
            raise TexError(
                f"{engine.name} did not finish within {timeout:g} s", first_error(log), log
            ) from None
        except OSError as exc:
            raise TexError(f"{engine.name} could not be run: {exc}", "") from None
        log = log_path.read_text("utf-8", "replace") if log_path.exists() else ""
        if done.returncode != 0:
            if not log:
                log = done.stdout.decode("utf-8", "replace") + done.stderr.decode(
                    "utf-8", "replace"
                )
            raise TexError(
                f"{engine.name} failed (exit status {done.returncode})", first_error(log), log
            )
    pdf = build / f"{name}.pdf"
    if not pdf.exists():
        raise TexError(f"{engine.name} produced no PDF", first_error(log), log)
    return pdf.read_bytes(), log
