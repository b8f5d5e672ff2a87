"""Writing the report: the .tex (and figures) into a folder, then the PDF when TeX is found.

The PDF is compiled (in a temporary build folder) before anything is written.  The files
of one report (``<stem>.tex``, ``<stem>.pdf`` or ``<stem>.log``, its figures) are then
written as ONE transaction, so they are either all new or all old:

1. every file is written into a hidden staging folder ``.<stem>.staging-<pid>-*`` beside
   them, with a manifest of the files to remove (a stale PDF), and flushed to disk;
2. the staging folder is renamed to ``.<stem>.commit`` — the commit point (one rename);
3. the files built from the .tex (``.pdf``, ``.log``) that it replaces or removes are
   deleted, the sources (.tex, figures) moved into place (``os.replace``), then the new
   PDF or log, and the commit folder removed.

SIGINT and SIGTERM are held back during 2–3, so an interruption leaves the old report or
the new one.  A harder kill (SIGKILL, power loss) before 2 leaves the old files (and a
staging folder, removed by the next run once its process is dead); during 3 it leaves
the commit folder, and the next report of that stem first finishes it (rolls forward).
Because the PDF goes first and comes back last, even then no PDF ever sits beside a .tex
it was not built from.  When TeX fails the new .tex and the log are kept for inspection
and a stale PDF of the same name is removed; so is one that a changed .tex built without
a PDF (``--no-pdf``, no engine) would contradict: the folder never holds a PDF that
disagrees with its .tex.

For the tests that kill a report at each step (tests/test_kill_report.py), the
environment variable ``SYMCONV_TEST_KILL_AT`` names a point where the process sends
itself SIGKILL (see :data:`KILL_POINTS`); unset, as always outside those tests, it does
nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from symconv.derivation import build
from symconv.errors import SymconvError
from symconv.latex.compiler import INSTALL_HINT, NoEngineError, TexError, compile_tex
from symconv.latex.document import Submission, render_report
from symconv.latex.results import Experiment, validate_checks
from symconv.problem import Problem

__all__ = [
    "KILL_POINTS",
    "ReportResult",
    "check_output_dir",
    "check_submission",
    "default_verification",
    "safe_stem",
    "write_atomic",
    "write_report",
    "write_together",
]

_MANIFEST = ".manifest.json"
_BUILT = (".pdf", ".log")  # built from the .tex: out first, in last
# the points of a transaction where SYMCONV_TEST_KILL_AT kills the process, in order
KILL_POINTS = (
    "recovered",  # an earlier run's commit finished, nothing of this run written
    "staging",  # the staging folder made, empty
    "wrote-1",  # the first file written into it
    "staged",  # every file and the manifest staged: the moment before the commit point
    "committed",  # renamed to .<stem>.commit: the commit point passed, nothing moved
    "cleared",  # the old PDF/log (replaced or stale) deleted
    "moved-1",  # the first new file moved into place
    "moved",  # every new file in place, the commit folder not yet removed
    "finished",  # the commit folder removed
)
_KILL_AT = "SYMCONV_TEST_KILL_AT"


@dataclass
class ReportResult:
    """What :func:`write_report` wrote: the .tex, the PDF (None when not built) and notes
    for the user (no engine, TeX log kept, ...)."""

    tex: Path
    pdf: Path | None = None
    log: Path | None = None
    figures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: TexError | None = None


def safe_stem(name: str) -> str:
    """A file-name stem made of letters, digits, ``-`` and ``_`` (``report`` if empty)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    return stem[:80] or "report"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(temporary, 0o666 & ~mask)  # mkstemp's 0600 would hide the report from others
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_output_dir(out_dir: Path, option: str = "-o") -> Path:
    """``out_dir`` checked before any work (not empty, not a file or ``/dev/null``,
    writable): see :func:`symconv.cli.options.output_dir`.  Raises
    :class:`~symconv.errors.UsageError`."""
    from symconv.cli.options import output_dir

    return output_dir(option, out_dir)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait (pending) until the block ends: a commit is not cut short."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_point(name: str) -> None:
    """The test hook of the module docstring: SIGKILL this process at point ``name``
    when ``SYMCONV_TEST_KILL_AT`` names it; nothing otherwise."""
    if os.environ.get(_KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _sync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk, where the system allows."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # a file system without fsync of folders
    finally:
        os.close(descriptor)


def _roll_forward(out_dir: Path, commit: Path) -> None:
    """Finish a committed transaction (step 3 of the module docstring); run again after
    an interruption, it does what is left."""
    manifest = commit / _MANIFEST
    remove: list[str] = []
    if manifest.exists():
        remove = [str(name) for name in json.loads(manifest.read_text("utf-8"))["remove"]]
    items = sorted(
        (item for item in commit.iterdir() if item.name != _MANIFEST),
        key=lambda item: (item.suffix in _BUILT, item.name),
    )
    built = [item.name for item in items if item.suffix in _BUILT]
    for name in [*built, *remove]:
        (out_dir / name).unlink(missing_ok=True)
    _kill_point("cleared")
    for number, item in enumerate(items, start=1):
        os.replace(item, out_dir / item.name)
        if number == 1:
            _kill_point("moved-1")
    _kill_point("moved")
    manifest.unlink(missing_ok=True)
    commit.rmdir()
    _sync(out_dir)
    _kill_point("finished")


def _recover(out_dir: Path, stem: str) -> None:
    """Finish a transaction a hard kill interrupted; drop staging folders of dead runs."""
    commit = out_dir / f".{stem}.commit"
    if commit.is_dir():
        with _signals_held():
            _roll_forward(out_dir, commit)
    for staging in out_dir.glob(f".{stem}.staging-*"):
        pid = staging.name[len(f".{stem}.staging-") :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def write_together(
    out_dir: Path, stem: str, files: Mapping[str, bytes], remove: Sequence[str] = ()
) -> None:
    """Write ``files`` (name → bytes) into ``out_dir`` and delete ``remove``, all or
    nothing (the transaction of the module docstring).  Raises
    :class:`~symconv.errors.SymconvError` when the folder cannot be written (a full disk).

    Example:
        >>> folder = Path(tempfile.mkdtemp())
        >>> write_together(folder, "r", {"r.tex": b"tex", "r.pdf": b"pdf"})
        >>> sorted(p.name for p in folder.iterdir())
        ['r.pdf', 'r.tex']
        >>> shutil.rmtree(folder)
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _recover(out_dir, stem)
        _kill_point("recovered")
        staging = Path(tempfile.mkdtemp(prefix=f".{stem}.staging-{os.getpid()}-", dir=out_dir))
    except OSError as exc:
        raise SymconvError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None
    _kill_point("staging")
    commit = out_dir / f".{stem}.commit"
    mask = os.umask(0)
    os.umask(mask)
    try:
        for number, (name, data) in enumerate(files.items(), start=1):
            target = staging / name
            target.write_bytes(data)
            os.chmod(target, 0o666 & ~mask)  # as a plain open() would create it
            _sync(target)  # its data on disk before the rename that commits it
            if number == 1:
                _kill_point("wrote-1")
        (staging / _MANIFEST).write_text(json.dumps({"remove": list(remove)}), "utf-8")
        _sync(staging / _MANIFEST)
        _sync(staging)
        _kill_point("staged")
        with _signals_held():
            os.rename(staging, commit)  # the commit point
            _sync(out_dir)
            _kill_point("committed")
            _roll_forward(out_dir, commit)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        done = (
            f"{commit.name} holds the new files: the next report of {stem} finishes the write"
            if commit.is_dir()
            else "nothing was changed"
        )
        raise SymconvError(
            f"cannot write the report into {out_dir}: {exc.strerror or exc}; {done}"
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def default_verification(problem: Problem) -> list[dict[str, Any]]:
    """The checks of ``symconv verify`` for ``problem`` (design.md's ``checks`` format)."""
    from symconv.crosscheck import run_checks

    return validate_checks(run_checks(problem))


def check_submission(path: Path, problem: Problem) -> Submission:
    """The verdicts of ``symconv check`` on ``path`` (design.md's check JSON object)."""
    from symconv.check.run import check_files

    if not path.is_file():
        raise SymconvError(f"`--submission` (={path}) is not a readable file")
    data = check_files([str(path)], problem)[0]
    equations = [dict(eq) for eq in data["equations"] if isinstance(eq, Mapping)]
    summary = {str(k): int(v) for k, v in data["summary"].items()}
    return Submission(str(path.name), equations, summary)


def write_report(
    problem: Problem,
    out_dir: Path,
    *,
    name: str = "report",
    pdf: bool | None = None,
    title: str | None = None,
    verification: Sequence[Mapping[str, Any]] | None = None,
    experiment: Experiment | None = None,
    submission: Submission | None = None,
    path: str | None = None,
) -> ReportResult:
    """Write ``<name>.tex`` (and figures) to ``out_dir`` and compile ``<name>.pdf``.

    ``pdf``: True compiles (an error without an engine), False does not, None compiles
    when an engine is found.  ``path`` replaces PATH for finding TeX.  Raises
    :class:`SymconvError` subclasses; a TeX failure is returned in ``result.error``
    (the .tex and the log are written).
    """
    stem = safe_stem(name)
    out_dir = check_output_dir(Path(out_dir), "out_dir")
    derivation = build(problem, form="both")
    figures: dict[str, bytes] = {}
    if experiment is not None:
        for number, plot in enumerate(experiment.plots, start=1):
            figures[f"{stem}-plot{number}.png"] = plot.read_bytes()
    checks = validate_checks(list(verification)) if verification is not None else None

    def sheet(shown: Submission | None) -> str:
        return render_report(
            derivation,
            title=title,
            verification=checks,
            experiment=experiment,
            figures=list(figures),
            submission=shown,
        )

    tex = sheet(submission)
    result = ReportResult(tex=out_dir / f"{stem}.tex")
    pdf_bytes: bytes | None = None
    missing: NoEngineError | None = None
    if pdf is not False:
        try:
            pdf_bytes, _ = compile_tex(tex, name=stem, files=figures, path=path)
        except NoEngineError as exc:
            if pdf:
                missing = exc  # the .tex is still worth having: write it, then fail
            else:
                result.notes.append(f"no TeX engine found: wrote the .tex only; {INSTALL_HINT}")
        except TexError as exc:
            result.error = exc
        if result.error is not None and submission is not None and submission.typeset:
            # the submission's own LaTeX, set as math, is the likeliest cause: show its
            # source instead and try once more
            retry = sheet(replace(submission, typeset=False))
            try:
                pdf_bytes, _ = compile_tex(retry, name=stem, files=figures, path=path)
            except TexError:
                pass  # keep the first error, with the .tex it came from
            else:
                tex, result.error = retry, None
                result.notes.append(
                    "TeX could not set the submission's equations as math: they are shown "
                    "as their LaTeX source"
                )
    files = dict(figures)
    files[f"{stem}.tex"] = tex.encode("utf-8")
    pdf_path, log_path = out_dir / f"{stem}.pdf", out_dir / f"{stem}.log"
    try:
        _recover(out_dir, stem)  # what an interrupted run committed, before comparing with it
    except OSError as exc:
        raise SymconvError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None
    remove: list[str] = []
    if pdf_bytes is not None:
        files[pdf_path.name] = pdf_bytes
        result.pdf = pdf_path
        if log_path.exists():
            remove.append(log_path.name)  # the log of an earlier failure
    else:
        if result.error is not None:
            files[log_path.name] = result.error.log.encode("utf-8")
            result.log = log_path
        if pdf_path.exists() and (result.error is not None or _changed(out_dir, files)):
            remove.append(pdf_path.name)
            result.notes.append(f"removed the stale {pdf_path.name}")
    write_together(out_dir, stem, files, remove)
    result.figures = [out_dir / name for name in figures]
    if missing is not None:
        raise SymconvError(str(missing)) from None
    return result


def _changed(out_dir: Path, files: Mapping[str, bytes]) -> bool:
    """Whether any of ``files`` differs from what ``out_dir`` holds (then an old PDF beside
    them was built from other sources)."""
    for name, data in files.items():
        try:
            if (out_dir / name).read_bytes() != data:
                return True
        except OSError:
            return True
    return False
