"""Check documents: read, judge, serialise — each document in a worker process with limits.

A file is read here (:func:`read_document`: Markdown, LaTeX or a Jupyter notebook, by its
suffix; an unreadable file or an invalid notebook raises :class:`CheckInputError` before
any work) and its equations are found and judged in the worker.

Every document is read and judged in a worker (:mod:`symconv.check.isolate`): memory,
CPU and wall-clock bounds hold for any caller and thread, and a document that exceeds
them costs only its own equations (``unchecked``, reason ``timeout`` or ``resource
limit``; its file object says ``failure``).  ``check_files`` with ``jobs > 1`` judges
that many files at once; every file's result is returned, in order.  An interruption
(Ctrl-C, SIGTERM) stops every worker of the batch at once: none judges on.
"""

from __future__ import annotations

import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from symconv.check.isolate import (
    Limits,
    Worker,
    borrow,
    check_isolated,
    failure_summary,
    give_back,
)
from symconv.check.source import MAX_BYTES, Source, read_source

# defined in symconv.errors (every user-facing exception); importable from here too
from symconv.errors import CheckInputError

if TYPE_CHECKING:
    from symconv.problem import Problem

__all__ = [
    "MAX_BYTES",
    "CheckInputError",
    "Limits",
    "Source",
    "check_files",
    "check_text",
    "failure_summary",
    "prestart",
    "read_document",
    "unreadable",
]


def read_document(path: str, *, inline: bool | None = None) -> Source:
    """The document at ``path``, its kind told by its suffix (``.ipynb``, ``.tex``, else
    Markdown); raises :class:`CheckInputError` if it cannot be read.

    ``inline``: True reads inline math always, False never, None only when the document
    has no display math.
    """
    return read_source(path, inline=inline)


def _limits(time_limit: float, limits: Limits | None) -> Limits:
    return limits if limits is not None else Limits(equation_s=time_limit)


def check_text(
    text: str | Source,
    problem: Problem,
    *,
    name: str = "<text>",
    time_limit: float = 2.0,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Judge the equations of ``text``; the JSON object of one file.

    ``text`` is Markdown, or a :class:`Source` of any kind (``Source.from_text(tex,
    "latex")``).  ``time_limit`` is the budget of each equation (parse, judgement and diagnosis);
    ``limits`` (if given) sets every bound instead.

    Example:
        >>> from symconv.problem import load_problem
        >>> check_text("$$\\\\hat{y}_1 = 14$$", load_problem("exercise2"))["summary"]["correct"]
        1
    """
    return check_isolated(text, problem, name=name, limits=_limits(time_limit, limits))


def check_files(
    paths: list[str],
    problem: Problem,
    *,
    jobs: int = 1,
    time_limit: float = 2.0,
    limits: Limits | None = None,
    inline: bool | None = None,
) -> list[dict[str, Any]]:
    """Check every file (``jobs`` at a time); all are read first.  One file alone that
    cannot be read raises :class:`CheckInputError`; in a batch it keeps its place in the
    list with ``failure`` reason ``unreadable input`` and the other files are judged (a
    grader's batch is not stopped by one broken submission).  A file that hits a limit
    keeps its place too.  ``inline`` as in :func:`read_document`."""
    if len(paths) == 1:
        texts: list[str | Source | CheckInputError] = [read_document(paths[0], inline=inline)]
    else:
        texts = []
        for path in paths:
            try:
                texts.append(read_document(path, inline=inline))
            except CheckInputError as exc:
                texts.append(exc)
    bounds = _limits(time_limit, limits)
    payload = pickle.dumps(problem)
    if jobs <= 1 or len(paths) <= 1:
        return [
            unreadable(path, str(text))
            if isinstance(text, CheckInputError)
            else check_isolated(text, payload, name=path, limits=bounds)
            for path, text in zip(paths, texts)
        ]
    busy: set[Worker] = set()  # the workers judging now, to stop them on an interruption
    stopped: list[bool] = []
    lock = threading.Lock()

    def one(path: str, text: str | Source | CheckInputError) -> dict[str, Any]:
        if isinstance(text, CheckInputError):
            return unreadable(path, str(text))
        worker = borrow()
        with lock:
            busy.add(worker)
            if stopped:
                worker.abort()
        try:
            return worker.check(text, payload, name=path, limits=bounds)
        finally:
            with lock:
                busy.discard(worker)
            give_back(worker)

    with ThreadPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        futures = [pool.submit(one, path, text) for path, text in zip(paths, texts)]
        try:
            return [future.result() for future in futures]
        except BaseException:
            # Ctrl-C or SIGTERM in this thread: the pool's threads must not judge on
            # (leaving the pool waits for them), so their workers are stopped
            for future in futures:
                future.cancel()
            with lock:
                stopped.append(True)
                for worker in busy:
                    worker.abort()
            raise


def unreadable(path: str, message: str) -> dict[str, Any]:
    """The JSON object of a file that could not be read (in a batch)."""
    return {
        "file": path,
        "equations": [],
        "summary": {"correct": 0, "incorrect": 0, "notation": 0, "unchecked": 0},
        "failure": {"reason": "unreadable input", "message": message, "equations": []},
    }


def prestart(count: int = 1) -> None:
    """Start ``count`` workers in the background (their start-up overlaps the caller's
    own, e.g. loading the problem); they wait idle for the first documents."""
    def start() -> None:
        for _ in range(count):
            worker = Worker()
            worker.start()
            give_back(worker)

    threading.Thread(target=start, name="symconv-prestart", daemon=True).start()
