"""Writing the report: the .tex (and figures) into a folder, then the PDF when TeX is found.

Every file is written atomically (a temporary file in the same folder, then a rename), so
a failure never leaves half a report.  The PDF is compiled before anything is written;
when TeX fails the new .tex and the log are kept for inspection and a stale PDF of the
same name is removed, so the folder never holds a PDF that disagrees with its .tex.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symconv.derivation import build
from symconv.errors import SymconvError
from symconv.latex.compiler import INSTALL_HINT, NoEngineError, TexError, compile_tex
from symconv.latex.document import Submission, render_report
from symconv.latex.results import Experiment, validate_checks
from symconv.problem import Problem

__all__ = [
    "ReportResult",
    "check_submission",
    "default_verification",
    "safe_stem",
    "write_atomic",
    "write_report",
]


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
    derivation = build(problem, form="both")
    figures: dict[str, bytes] = {}
    if experiment is not None:
        for number, plot in enumerate(experiment.plots, start=1):
            figures[f"{stem}-plot{number}.png"] = plot.read_bytes()
    checks = validate_checks(list(verification)) if verification is not None else None
    tex = render_report(
        derivation,
        title=title,
        verification=checks,
        experiment=experiment,
        figures=list(figures),
        submission=submission,
    )
    out_dir = Path(out_dir)
    result = ReportResult(tex=out_dir / f"{stem}.tex")
    pdf_bytes: bytes | None = None
    if pdf is not False:
        try:
            pdf_bytes, _ = compile_tex(tex, name=stem, files=figures, path=path)
        except NoEngineError as exc:
            if pdf:
                # the .tex is still worth having: write it, then fail
                _write_sources(result, out_dir, tex, figures)
                raise SymconvError(str(exc)) from None
            result.notes.append(f"no TeX engine found: wrote the .tex only; {INSTALL_HINT}")
        except TexError as exc:
            result.error = exc
    _write_sources(result, out_dir, tex, figures)
    pdf_path = out_dir / f"{stem}.pdf"
    if pdf_bytes is not None:
        write_atomic(pdf_path, pdf_bytes)
        result.pdf = pdf_path
    elif result.error is not None:
        log_path = out_dir / f"{stem}.log"
        write_atomic(log_path, result.error.log.encode("utf-8"))
        result.log = log_path
        if pdf_path.exists():
            pdf_path.unlink()
            result.notes.append(f"removed the stale {pdf_path.name}")
    return result


def _write_sources(
    result: ReportResult, out_dir: Path, tex: str, figures: dict[str, bytes]
) -> None:
    for file_name, data in figures.items():
        write_atomic(out_dir / file_name, data)
        result.figures.append(out_dir / file_name)
    write_atomic(result.tex, tex.encode("utf-8"))
