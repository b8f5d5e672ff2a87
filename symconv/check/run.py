"""Check documents: read, judge, serialise — one file per process with ``jobs > 1``."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

# defined in symconv.errors (every user-facing exception); importable from here too
from symconv.errors import CheckInputError
from symconv.problem import Problem

__all__ = ["CheckInputError", "check_files", "check_text", "read_document"]

MAX_BYTES = 2_000_000


def read_document(path: str) -> str:
    """The text of ``path`` (raises :class:`CheckInputError` if unreadable)."""
    file = Path(path)
    if not file.is_file():
        raise CheckInputError(f"`FILE` (={path!r}) is not a readable file")
    try:
        if file.stat().st_size > MAX_BYTES:
            raise CheckInputError(f"`FILE` (={path!r}) is larger than {MAX_BYTES} bytes")
        return file.read_text("utf-8")
    except UnicodeDecodeError:
        raise CheckInputError(f"`FILE` (={path!r}) is not UTF-8 text") from None
    except OSError as exc:
        raise CheckInputError(f"`FILE` (={path!r}) cannot be read: {exc.strerror}") from None


def check_text(
    text: str, problem: Problem, *, name: str = "<text>", time_limit: float = 2.0
) -> dict[str, Any]:
    """Judge the displayed equations of ``text``; the JSON object of one file.

    Example:
        >>> from symconv.problem import load_problem
        >>> check_text("$$\\\\hat{y}_1 = 14$$", load_problem("exercise2"))["summary"]["correct"]
        1
    """
    from symconv.check.document import read_equations
    from symconv.check.judge import judge_document
    from symconv.check.report import file_json
    from symconv.check.truth import Truth

    judgements = judge_document(read_equations(text), Truth(problem), time_limit=time_limit)
    return file_json(name, judgements)


def _check_path(path: str, problem: Problem, time_limit: float) -> dict[str, Any]:
    return check_text(read_document(path), problem, name=path, time_limit=time_limit)


def check_files(
    paths: list[str], problem: Problem, *, jobs: int = 1, time_limit: float = 2.0
) -> list[dict[str, Any]]:
    """Check every file (in ``jobs`` processes); all are read first so a bad one fails early."""
    for path in paths:
        read_document(path)
    if jobs <= 1 or len(paths) <= 1:
        return [_check_path(path, problem, time_limit) for path in paths]
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        futures = [pool.submit(_check_path, path, problem, time_limit) for path in paths]
        return [future.result() for future in futures]
