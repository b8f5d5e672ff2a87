"""``symconv grade SUBMISSION... --manifest manifest.csv [--rubric R.toml] [--jobs N | --scheduler
ADDR] [--force] [--no-pdf] -o OUT``: grade a course's submissions against their own variants.

Each submission (Markdown, LaTeX or a notebook; a folder stands for the documents in it) is
matched to its student by a ``submission`` column of the manifest (the file's name or its
path relative to the manifest) or else by its file stem (``v001.md``, ``alice.ipynb``).  It
is checked against its own variant's problem (``problem`` column; the ``hash`` column must
be the sha256 of that file, or the student's result is ``failed``), scored with the rubric
(:mod:`symconv.course.rubric`) and written at once:

- ``OUT/results/<student>.json``: Gradescope's results format (``score``, ``max_score``,
  ``output``, ``tests`` with one test per rubric item), the full record of the grading under
  ``extra_data.symconv`` (status, points per item with exact values, the checker's document,
  the sha256 of the submission, the problem and the rubric);
- ``OUT/feedback/<student>.html`` and ``.pdf`` (by :mod:`symconv.course.feedback` when it
  is installed; ``--no-pdf`` skips the PDF);
- ``OUT/gradebook.csv``: one row per student of the manifest — ``student``, ``status``
  (``graded``, ``unreadable``, ``missing``, ``failed``), ``points``, ``max_points``, one
  column per rubric item, the counts of verdicts, ``variant``, ``submission``, ``error`` —
  rewritten (atomically) from the results present, during the run and at its end.

Nothing is lost and nothing is redone: every file is written through a temporary file and a
rename; a rerun skips a student whose result holds the same submission, problem and
manifest hash (``--force`` redoes it; a changed rubric rescores the stored check without
checking again); an unreadable or crashing submission is recorded with its error and the
batch goes on (a crash, or a lost Dask worker, is graded again by the next run); Ctrl-C
(exit 130) or SIGTERM (143) leaves a gradebook of what finished.  One ``grade`` at a time
may write to OUT (a lock file).

``--jobs N`` grades N submissions at a time, each checked in its own worker process (the
checker's pool, :mod:`symconv.check.isolate`); ``--scheduler ADDR`` runs the same grading
function, :func:`grade_task`, on a Dask distributed cluster (``Client(ADDR)``; the workers
must see the same files at the same paths).  Both give identical results.  Progress goes
to stderr: a progress bar with the time left on a terminal, plain lines otherwise.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from symconv.course.rubric import ItemScore, Rubric
    from symconv.problem import Problem

__all__ = [
    "GRADEBOOK",
    "STATUSES",
    "Student",
    "Task",
    "configure",
    "grade_task",
    "gradebook_rows",
    "gradescope_results",
    "load_variant",
    "match_submissions",
    "read_manifest",
    "run",
    "score_record",
]

GRADEBOOK = "gradebook.csv"
STATUSES = ("graded", "unreadable", "missing", "failed")
COUNTS = ("correct", "incorrect", "notation", "unchecked")
REQUIRED_COLUMNS = ("student", "variant", "problem", "hash")
SUFFIXES = (".md", ".markdown", ".txt", ".tex", ".ipynb")  # the documents of a folder
MAX_MANIFEST_BYTES = 20_000_000
MAX_STUDENTS = 100_000
_STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
_HASH = re.compile(r"[0-9a-fA-F]{64}")
_GRADEBOOK_EVERY_S = 1.0  # rewrite the gradebook during a run at most this often
_LOCK = ".symconv-grade.lock"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``symconv grade`` (cheap: nothing heavy is imported)."""
    parser.add_argument(
        "submissions",
        nargs="+",
        metavar="SUBMISSION",
        help="students' documents (.md, .tex, .ipynb), or folders of them; matched to a "
        "student by the manifest's `submission` column or by file stem (v001.md)",
    )
    parser.add_argument(
        "--manifest",
        required=True,
        metavar="CSV",
        help="the manifest of `symconv exercise` (columns student, variant, problem, hash; "
        "optionally submission)",
    )
    parser.add_argument(
        "--rubric",
        metavar="TOML",
        help="points per quantity ([points] yhat = 2, ...) and [partial] notation / carried "
        "fractions; default: the built-in rubric (14 points)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--jobs", metavar="N", default="1", help="grade N submissions at a time (default 1)"
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="grade on a Dask distributed cluster (e.g. tcp://host:8786); its workers must "
        "see the same files",
    )
    parser.add_argument(
        "--force", action="store_true", help="grade again the students already graded"
    )
    parser.add_argument(
        "--no-pdf", action="store_true", help="write the HTML feedback only (no PDF)"
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        default="2",
        help="seconds per equation, a number in (0, 600] (default 2)",
    )
    parser.add_argument(
        "-o", "--out", required=True, metavar="OUT", help="the folder of the gradebook"
    )


# ---------------------------------------------------------------------------------------
# the manifest and the submissions


@dataclass(frozen=True)
class Student:
    """One row of the manifest: the student's id, their variant, the problem file (resolved
    against the manifest's folder), its sha256 as the manifest gives it, and the
    ``submission`` column (None when absent or empty); ``row`` is its line number."""

    id: str
    variant: str
    problem: Path
    hash: str
    submission: str | None
    row: int


def read_manifest(path: str | Path) -> list[Student]:
    """The students of a manifest, validated (raises :class:`~symconv.errors.UsageError`
    naming the row and the column): at most :data:`MAX_STUDENTS` rows and
    :data:`MAX_MANIFEST_BYTES` bytes; unique student ids made of letters, digits and
    ``. _ @ + -`` (each names a result file); a 64-digit hex ``hash``."""
    from symconv.course.files import read_bounded
    from symconv.errors import UsageError

    name = str(path)
    where = f"`--manifest` (={name!r})"
    file = Path(name)
    text = read_bounded(
        file,
        "--manifest",
        limit=MAX_MANIFEST_BYTES,
        hint="give the manifest.csv of an exercise",
        encoding="utf-8-sig",
    )
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = reader.fieldnames
    except csv.Error as exc:
        raise UsageError(f"{where} is not a CSV file: {exc}") from None
    if not columns:
        raise UsageError(f"{where} is empty; it needs the columns {', '.join(REQUIRED_COLUMNS)}")
    lacking = [column for column in REQUIRED_COLUMNS if column not in columns]
    if lacking:
        raise UsageError(
            f"{where} lacks the column(s) {', '.join(lacking)}; its columns are "
            f"{', '.join(c or '(empty)' for c in columns)}"
        )
    folder = file.resolve().parent
    students: list[Student] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if len(students) >= MAX_STUDENTS:
                raise UsageError(f"{where} has more than {MAX_STUDENTS} students")
            if None in row:
                raise UsageError(f"{where} row {line} has more fields than the header")
            values = {key: (value or "").strip() for key, value in row.items()}
            if not any(values.values()):
                continue  # a blank line
            student = values["student"]
            if not _STUDENT_ID.fullmatch(student):
                raise UsageError(
                    f"{where} row {line}: `student` (={student!r}) must be 1 to 128 letters, "
                    "digits and . _ @ + - (it names the student's result file)"
                )
            if student in seen:
                raise UsageError(
                    f"{where} row {line}: `student` (={student!r}) is also in row "
                    f"{seen[student]}; each student once"
                )
            seen[student] = line
            for column in ("variant", "problem"):
                if not values[column]:
                    raise UsageError(f"{where} row {line}: `{column}` is empty")
            if not _HASH.fullmatch(values["hash"]):
                raise UsageError(
                    f"{where} row {line}: `hash` (={values['hash']!r}) must be the sha256 of "
                    "the problem file (64 hexadecimal digits)"
                )
            students.append(
                Student(
                    id=student,
                    variant=values["variant"],
                    problem=folder / values["problem"],
                    hash=values["hash"].lower(),
                    submission=values.get("submission") or None,
                    row=line,
                )
            )
    except csv.Error as exc:
        raise UsageError(f"{where} is not a valid CSV file: {exc}") from None
    if not students:
        raise UsageError(f"{where} lists no student")
    return students


def load_variant(student: Student) -> Problem:
    """The problem of one student of the manifest, after checking that its file still has
    the manifest's hash (raises :class:`~symconv.errors.UsageError` when it is missing or
    was changed since ``symconv exercise`` wrote it)."""
    from symconv.errors import UsageError

    try:
        data = student.problem.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"the problem of {student.id} ({student.problem}) cannot be read: "
            f"{exc.strerror or exc}"
        ) from None
    if _sha256(data) != student.hash:
        raise UsageError(
            f"the problem of {student.id} ({student.problem}) does not match the manifest's "
            "hash: it was changed after `symconv exercise` wrote it"
        )
    return _problem_from_bytes(data, str(student.problem))


def _documents(paths: Sequence[str]) -> list[Path]:
    """The files given, a folder standing for its documents (not recursive, no hidden
    files); raises :class:`~symconv.errors.UsageError` for a path that does not exist."""
    from symconv.errors import UsageError

    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files += sorted(
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUFFIXES
            )
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(
                f"`SUBMISSION` (={text!r}) is neither a file nor a folder; give the students' "
                "documents"
            )
    if len(files) > MAX_STUDENTS:
        raise UsageError(f"`SUBMISSION`: more than {MAX_STUDENTS} documents given")
    return files


def match_submissions(
    students: Sequence[Student], paths: Sequence[str], manifest: str | Path
) -> tuple[dict[str, Path], list[Path]]:
    """Each student's submission, and the documents that match no student.

    A document matches the student whose ``submission`` column names it (its path relative
    to the manifest's folder, or its file name); otherwise the student whose id is its stem.
    Two documents for one student raise :class:`~symconv.errors.UsageError`.
    """
    from symconv.errors import UsageError

    folder = Path(manifest).resolve().parent
    by_path: dict[Path, str] = {}
    by_name: dict[str, list[str]] = {}
    for student in students:
        if student.submission:
            by_path[(folder / student.submission).resolve()] = student.id
            by_name.setdefault(Path(student.submission).name, []).append(student.id)
    ids = {student.id for student in students}
    matched: dict[str, Path] = {}
    unmatched: list[Path] = []
    for path in _documents(paths):
        resolved = path.resolve()
        owner: str | None = by_path.get(resolved)
        if owner is None:
            named = by_name.get(path.name, [])
            if len(named) > 1:
                raise UsageError(
                    f"`SUBMISSION` (={str(path)!r}) is named by the `submission` column of "
                    f"several students ({', '.join(named)}); give their paths in the manifest"
                )
            owner = named[0] if named else (path.stem if path.stem in ids else None)
        if owner is None:
            unmatched.append(path)
            continue
        if owner in matched and matched[owner].resolve() != resolved:
            raise UsageError(
                f"`SUBMISSION` {str(matched[owner])!r} and {str(path)!r} both belong to "
                f"student {owner!r}; give one document per student"
            )
        matched[owner] = path
    return matched, unmatched


# ---------------------------------------------------------------------------------------
# grading one student (a pure function of its task: run here, in a thread or on Dask)


@dataclass(frozen=True)
class Task:
    """What grading one student needs: ids, the submission and problem files (absolute
    paths, and the submission as the user gave it), the manifest's hash, the rubric."""

    student: str
    variant: str
    submission: str
    shown: str
    problem: str
    problem_shown: str
    hash: str
    rubric: Rubric
    time_limit: float = 2.0


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _problem_from_bytes(data: bytes, shown: str) -> Problem:
    import tomllib

    from symconv.errors import ProblemError
    from symconv.problem import problem_from_dict

    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise ProblemError("problem", shown, f"is not a valid TOML problem file: {exc}") from None
    return problem_from_dict(raw)


def _base(task: Task) -> dict[str, Any]:
    from symconv import __version__

    return {
        "student": task.student,
        "variant": task.variant,
        "status": "failed",
        "points": "0",
        "max_points": "0",
        "items": [],
        "check": None,
        "error": None,
        "note": None,
        "retry": False,
        "counts": dict.fromkeys(COUNTS, 0),
        "submission": task.shown,
        "submission_sha256": None,
        "problem": task.problem_shown,
        "problem_sha256": None,
        "manifest_hash": task.hash,
        "rubric": task.rubric.to_dict(),
        "rubric_sha256": task.rubric.digest(),
        "symconv": __version__,
    }


def _ungraded(record: dict[str, Any], rubric: Rubric, problem: Problem | None, why: str) -> None:
    """Every item with 0 points and the reason (the items of the variant when known)."""
    from symconv.course.rubric import ITEM_NAMES, show

    items = _existing_items(rubric, problem)
    record["items"] = [
        {
            "item": item,
            "name": ITEM_NAMES[item],
            "points": "0",
            "max_points": show(points),
            "why": why,
            "entries": [],
        }
        for item, points in items
    ]
    total = sum((points for _, points in items), Fraction(0))
    record["points"], record["max_points"] = "0", show(total)


def _existing_items(rubric: Rubric, problem: Problem | None) -> list[tuple[str, Fraction]]:
    """The rubric's items that exist for the variant (all of them when it is unknown)."""
    if problem is None:
        return list(rubric.points)
    absent: set[str] = set()
    if problem.layer.bias == "none":
        absent |= {"grad_b", "b_next"}
    if not problem.loss_spec.has_target:
        absent |= {"loss", "loss_next", "grad_yhat"}
    return [(item, points) for item, points in rubric.points if item not in absent]


def score_record(record: dict[str, Any], problem: Problem, rubric: Rubric) -> None:
    """Score the checker's document in ``record["check"]`` with ``rubric`` (in place):
    items, points, maximum, verdict counts, status ``graded`` (or ``unreadable``)."""
    from symconv.course import carried
    from symconv.course.rubric import read_claims, score_items, show

    document = record["check"] or {}
    summary = document.get("summary") or {}
    record["counts"] = {verdict: int(summary.get(verdict, 0)) for verdict in COUNTS}
    failure = document.get("failure") or {}
    if failure.get("reason") == "unreadable input":
        record["status"] = "unreadable"
        record["error"] = str(failure.get("message", "the document cannot be read"))
        _ungraded(record, rubric, problem, f"not graded: {record['error']}")
        return
    truth = carried.truth(problem)
    sizes = {item: len(values) for item, values in truth.items()}
    claims, unread = read_claims(document.get("equations") or [], sizes)
    own = carried.own_values(problem, claims, sizes)
    existing = {item for item, _ in _existing_items(rubric, problem)}
    scores: list[ItemScore] = score_items(
        claims, rubric, {k: v for k, v in truth.items() if k in existing}, own, unread=unread
    )
    points = sum((s.points for s in scores), Fraction(0))
    total = sum((s.max_points for s in scores), Fraction(0))
    record["items"] = [s.to_dict() for s in scores]
    record["points"], record["max_points"] = show(points), show(total)
    record["status"] = "graded"
    record["error"] = None
    notes = []
    if not document.get("equations"):
        notes.append("no equation found in the document")
    elif not any(record["counts"][v] for v in ("correct", "incorrect", "notation")):
        notes.append("nothing could be checked (every equation unchecked)")
    if failure:
        notes.append(f"the checker hit a limit: {failure.get('message', failure.get('reason'))}")
    record["note"] = "; ".join(notes) or None


def grade_task(task: Task) -> dict[str, Any]:
    """Grade one student: the record stored in their result (see :func:`gradescope_results`).

    Never raises for the student's files: a problem file that does not match the
    manifest's hash or cannot be read, or a crash, gives status ``failed`` with the error;
    a document that cannot be read gives ``unreadable``.
    """
    from symconv.errors import CheckInputError, SymconvError

    record = _base(task)
    problem: Problem | None = None
    try:
        try:
            record["submission_sha256"] = _sha256(Path(task.submission).read_bytes())
        except OSError as exc:
            raise _Failure(f"{task.shown} cannot be read: {exc.strerror or exc}") from None
        try:
            data = Path(task.problem).read_bytes()
        except OSError as exc:
            raise _Failure(f"the problem file {task.problem_shown} cannot be read: "
                           f"{exc.strerror or exc}") from None
        record["problem_sha256"] = digest = _sha256(data)
        if digest != task.hash:
            raise _Failure(
                f"the problem file {task.problem_shown} has sha256 {digest[:12]}…, not the "
                f"manifest's {task.hash[:12]}…: it changed after the exercise was made"
            )
        try:
            problem = _problem_from_bytes(data, task.problem_shown)
        except SymconvError as exc:
            raise _Failure(f"the problem file {task.problem_shown}: {exc}") from None
        if not problem.has_values:
            raise _Failure(f"the problem file {task.problem_shown} has no [values] to grade")
        try:
            from symconv.check.run import check_files

            document = check_files([task.submission], problem, time_limit=task.time_limit)[0]
        except CheckInputError as exc:
            document = _unreadable_document(task, str(exc).replace(task.submission, task.shown))
        document["file"] = task.shown
        record["check"] = document
        score_record(record, problem, task.rubric)
    except _Failure as exc:
        record["status"], record["error"] = "failed", str(exc)
        _ungraded(record, task.rubric, problem, f"not graded: {exc}")
    except Exception as exc:  # a crash costs this student only, never the batch
        record["status"] = "failed"
        record["retry"] = True  # graded again by the next run, unlike a file's own fault
        record["error"] = f"grading crashed: {type(exc).__name__}: {exc}"
        _ungraded(record, task.rubric, problem, "not graded: grading crashed")
    return record


class _Failure(Exception):
    """A student's files do not allow grading (the message says why)."""


def _unreadable_document(task: Task, message: str) -> dict[str, Any]:
    from symconv.check.run import unreadable

    return unreadable(task.shown, message)


# ---------------------------------------------------------------------------------------
# what is written: the Gradescope results and the gradebook


def gradescope_results(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``results.json`` of one student in Gradescope's autograder format: ``score``,
    ``max_score``, ``output``, ``tests`` (one per rubric item: ``name``, ``number``,
    ``score``, ``max_score``, ``status``, ``output``), and the record under
    ``extra_data.symconv``."""
    tests = []
    for number, item in enumerate(record["items"], start=1):
        full = Fraction(item["points"]) == Fraction(item["max_points"])
        tests.append(
            {
                "name": f"{item['name']} ({item['item']})",
                "number": str(number),
                "score": float(Fraction(item["points"])),
                "max_score": float(Fraction(item["max_points"])),
                "status": "passed" if full else "failed",
                "output": item["why"],
            }
        )
    status = record["status"]
    head = {
        "graded": f"{record['points']} of {record['max_points']} points",
        "unreadable": f"your submission could not be read: {record['error']}",
        "failed": f"your submission could not be graded: {record['error']}",
    }.get(status, status)
    output = f"Variant {record['variant']}: {head}"
    if record.get("note"):
        output += f" ({record['note']})"
    return {
        "score": float(Fraction(record["points"])),
        "max_score": float(Fraction(record["max_points"])),
        "output": output,
        "tests": tests,
        "extra_data": {"symconv": dict(record)},
    }


def _cell(exact: str) -> str:
    """A number of points for a spreadsheet: exact when it has a finite decimal, else
    rounded to 4 decimals (the results keep it exact)."""
    from symconv.course.rubric import show

    value = Fraction(exact)
    text = show(value)
    return text if "/" not in text else f"{float(value):.4f}"


def gradebook_rows(
    students: Sequence[Student],
    records: Mapping[str, Mapping[str, Any]],
    rubric: Rubric,
    max_of: Mapping[str, Fraction],
) -> tuple[list[str], list[list[str]]]:
    """The gradebook's header and rows, in manifest order: a student with a record gets
    its row; one without a submission ``missing`` (0 of ``max_of[student]``); one still
    being graded no row.  ``records`` maps student ids to records, absent ones to nothing;
    a student of ``max_of`` with no record is missing."""
    items = list(rubric.items)
    header = ["student", "status", "points", "max_points", *items, *COUNTS, "variant",
              "submission", "error"]
    rows: list[list[str]] = []
    for student in students:
        record = records.get(student.id)
        if record is None:
            if student.id not in max_of:
                continue  # being graded: no row yet
            zero = ["0"] * len(items)
            rows.append(
                [student.id, "missing", "0", _cell(str(max_of[student.id])), *zero,
                 *["0"] * len(COUNTS), student.variant, "", "no submission"]
            )
            continue
        earned = {item["item"]: _cell(item["points"]) for item in record["items"]}
        counts = record.get("counts") or {}
        rows.append(
            [
                student.id,
                str(record["status"]),
                _cell(record["points"]),
                _cell(record["max_points"]),
                *[earned.get(item, "") for item in items],
                *[str(counts.get(verdict, 0)) for verdict in COUNTS],
                str(record["variant"]),
                str(record.get("submission") or ""),
                " ".join(str(record.get("error") or "").split()),
            ]
        )
    return header, rows


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------
# progress on stderr


class _Progress:
    """A rich progress bar with the time left when stderr is a terminal; else one plain
    line per student."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.bar: Any = None
        self.task: Any = None
        if total and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(stderr=True, no_color="NO_COLOR" in os.environ)
            self.bar = Progress(
                TextColumn("grading"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("", total=total)

    def advance(self, record: Mapping[str, Any]) -> None:
        self.done += 1
        text = f"{record['student']}: {record['status']}"
        if record["status"] == "graded":
            text += f", {_cell(record['points'])} of {_cell(record['max_points'])} points"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=text)
        else:
            print(f"symconv grade: [{self.done}/{self.total}] {text}", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


# ---------------------------------------------------------------------------------------
# the run


def _positive_int(option: str, text: str) -> int:
    from symconv.errors import UsageError

    if not re.fullmatch(r"\s*[0-9]{1,6}\s*", text) or not 1 <= int(text) <= 1000:
        raise UsageError(f"`{option}` (={text!r}) must be an integer from 1 to 1000")
    return int(text)


def _read_record(path: Path) -> dict[str, Any] | None:
    """The record stored in a result file (None when absent or not ours)."""
    import json

    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    record = data.get("extra_data", {}).get("symconv") if isinstance(data, dict) else None
    if not isinstance(record, dict) or not isinstance(record.get("items"), list):
        return None
    return record


def _file_sha256(path: Path) -> str | None:
    try:
        return _sha256(path.read_bytes())
    except OSError:
        return None


class _Feedback:
    """The feedback pages (:func:`symconv.course.feedback.write_feedback`, when that module
    exists), written by a few threads as the results arrive: TeX runs in subprocesses, so
    they build PDFs side by side.  Failures are collected and reported once, grouped."""

    def __init__(self, out: Path, pdf: bool, workers: int) -> None:
        import importlib
        from concurrent.futures import Future, ThreadPoolExecutor

        self.folder = out / "feedback"
        self.pdf = pdf
        try:
            module: Any = importlib.import_module("symconv.course.feedback")
        except ImportError:
            module = None
        writer = getattr(module, "write_feedback", None)
        self.writer: Callable[..., Any] | None = writer if callable(writer) else None
        stem = getattr(module, "feedback_stem", None)
        self.stem: Callable[[str], str] = stem if callable(stem) else str
        self.pool = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feedback")
            if self.writer is not None
            else None
        )
        self.futures: list[Future[tuple[str, str] | None]] = []

    def present(self, student: str) -> bool:
        """Are the student's pages there (the HTML, and the PDF when asked for)?"""
        stem = self.stem(student)
        wanted = [self.folder / f"{stem}.html"]
        if self.pdf:
            wanted.append(self.folder / f"{stem}.pdf")
        return all(path.exists() for path in wanted)

    def submit(self, record: Mapping[str, Any]) -> None:
        if self.pool is not None:
            self.futures.append(self.pool.submit(self._one, dict(record)))

    def _one(self, record: dict[str, Any]) -> tuple[str, str] | None:
        assert self.writer is not None
        try:
            self.writer(record, self.folder, pdf=self.pdf)
        except Exception as exc:  # the pages of one student; never the batch
            return str(record.get("student")), f"{type(exc).__name__}: {exc}"
        return None

    def close(self, *, wait: bool) -> None:
        if self.pool is None:
            return
        if not wait:
            self.pool.shutdown(wait=False, cancel_futures=True)
            return
        waiting = sum(1 for future in self.futures if not future.done())
        if waiting:
            print(f"symconv grade: finishing the feedback of {waiting} student(s)…",
                  file=sys.stderr, flush=True)
        failed: dict[str, list[str]] = {}
        for future in self.futures:
            outcome = future.result()
            if outcome is not None:
                failed.setdefault(" ".join(outcome[1].split())[:300], []).append(outcome[0])
        self.pool.shutdown(wait=True)
        for message, students in failed.items():
            shown = ", ".join(students[:5]) + (", …" if len(students) > 5 else "")
            print(
                f"symconv: warning: feedback of {len(students)} student(s) ({shown}) not "
                f"complete: {message}",
                file=sys.stderr,
            )


def _lock(out: Path) -> Any:
    """An exclusive lock on OUT (released when the process ends, even by SIGKILL)."""
    import fcntl

    from symconv.errors import UsageError

    handle = open(out / _LOCK, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UsageError(
            f"`-o` (={str(out)!r}) is being written by another `symconv grade`; wait for it "
            "to finish"
        ) from None
    return handle


def _tidy(results: Path) -> None:
    """Remove the temporary files a killed run left (``.<student>.json.*``)."""
    for leftover in results.glob(".*.json.*"):
        leftover.unlink(missing_ok=True)


def _scheduler_client(address: str) -> Any:
    from symconv.errors import UsageError

    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError(
            "`--scheduler` needs dask.distributed: pip install 'symconv[course]'"
        ) from None
    try:
        return Client(address, timeout="15s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise UsageError(
            f"`--scheduler` (={address!r}) cannot be reached: {exc}; give the address of a "
            "running Dask scheduler (tcp://host:8786)"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Grade every submission; write results, feedback and the gradebook; exit 0."""
    from symconv.cli.options import seconds
    from symconv.course.rubric import load_rubric
    from symconv.latex.report import check_output_dir

    # everything is checked before any work
    out = check_output_dir(Path(args.out), "-o")
    jobs = _positive_int("--jobs", str(args.jobs))
    timeout = seconds("--timeout", str(args.timeout))
    rubric = load_rubric(args.rubric)
    students = read_manifest(args.manifest)
    matched, unmatched = match_submissions(students, args.submissions, args.manifest)
    client = _scheduler_client(args.scheduler) if args.scheduler else None
    if client is None and jobs > 1:
        from symconv.check.run import prestart

        prestart(min(jobs, len(matched)))  # the workers start while the results are read
    try:
        return _grade(args, out, students, matched, unmatched, rubric, jobs, timeout, client)
    finally:
        if client is not None:
            client.close()


def _grade(
    args: argparse.Namespace,
    out: Path,
    students: Sequence[Student],
    matched: Mapping[str, Path],
    unmatched: Sequence[Path],
    rubric: Rubric,
    jobs: int,
    timeout: float,
    client: Any,
) -> int:
    from symconv.course.rubric import show
    from symconv.latex.report import write_atomic
    from symconv.serialize import dumps_strict

    for stray in unmatched:
        print(f"symconv: warning: {stray} matches no student of the manifest; skipped",
              file=sys.stderr)
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    lock = _lock(out)
    _tidy(results)
    records: dict[str, dict[str, Any]] = {}  # the results present, by student
    max_of: dict[str, Fraction] = {}  # the students without a submission
    tasks: list[Task] = []
    rescore: list[tuple[Task, dict[str, Any]]] = []
    skipped = 0
    folder = Path(args.manifest).resolve().parent
    for student in students:
        path = matched.get(student.id)
        stored = _read_record(results / f"{student.id}.json")
        if path is None:
            if stored is not None:
                records[student.id] = stored  # graded before, from a document not given now
            else:
                max_of[student.id] = _max_points(student, rubric)
            continue
        task = Task(
            student=student.id,
            variant=student.variant,
            submission=str(path.resolve()),
            shown=str(path),
            problem=str(student.problem),
            problem_shown=os.path.relpath(student.problem, folder),
            hash=student.hash,
            rubric=rubric,
            time_limit=timeout,
        )
        if stored is not None and not args.force and _current(stored, task, path, student):
            if stored.get("rubric_sha256") == rubric.digest():
                records[student.id] = stored
                skipped += 1
                continue
            if stored.get("check") is not None:
                rescore.append((task, stored))
                continue
        tasks.append(task)

    feedback = _Feedback(out, not args.no_pdf, max(jobs, min(4, os.cpu_count() or 1)))
    last = [0.0]

    def gradebook(force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - last[0] < _GRADEBOOK_EVERY_S:
            return
        last[0] = now
        header, rows = gradebook_rows(students, records, rubric, max_of)
        write_atomic(out / GRADEBOOK, _csv(header, rows))

    progress = _Progress(len(tasks) + len(rescore))

    def done(record: dict[str, Any]) -> None:
        data = dumps_strict(gradescope_results(record), indent=1, ensure_ascii=False)
        write_atomic(results / f"{record['student']}.json", (data + "\n").encode("utf-8"))
        records[str(record["student"])] = record
        feedback.submit(record)
        progress.advance(record)
        gradebook()

    finished = False
    try:
        # pages lost to an interruption, and the pages of the students without a submission
        for student_id, record in records.items():
            if not feedback.present(student_id):
                feedback.submit(record)
        for student in students:
            if student.id in max_of and not feedback.present(student.id):
                feedback.submit(_missing_record(student, max_of[student.id], rubric, show))
        for task, stored in rescore:  # a changed rubric: the stored check scored again
            done(_rescored(task, stored, rubric))
        gradebook(force=True)
        if client is not None:
            _on_dask(client, tasks, done)
        elif jobs > 1 and len(tasks) > 1:
            _on_threads(tasks, jobs, done)
        else:
            for task in tasks:
                done(grade_task(task))
        finished = True
    finally:
        progress.close()
        gradebook(force=True)
        feedback.close(wait=finished)
        lock.close()
    statuses = [records[s.id]["status"] if s.id in records else "missing" for s in students]
    summary = ", ".join(f"{statuses.count(s)} {s}" for s in STATUSES if statuses.count(s))
    print(
        f"symconv grade: {len(students)} students: {summary}"
        + (f" ({skipped} already graded, skipped)" if skipped else "")
        + f"; gradebook {out / GRADEBOOK}",
        file=sys.stderr,
    )
    if feedback.writer is None:
        print("symconv grade: no feedback pages (symconv.course.feedback is not installed)",
              file=sys.stderr)
    return 0


def _rescored(task: Task, stored: Mapping[str, Any], rubric: Rubric) -> dict[str, Any]:
    """A stored result scored with another rubric (its check kept); graded afresh when
    that cannot be done."""
    record = dict(stored) | {"rubric": rubric.to_dict(), "rubric_sha256": rubric.digest()}
    try:
        problem = _problem_from_bytes(Path(task.problem).read_bytes(), task.problem_shown)
        score_record(record, problem, rubric)
    except Exception:
        return grade_task(task)
    return record


def _missing_record(
    student: Student, total: Fraction, rubric: Rubric, show: Callable[[Fraction], str]
) -> dict[str, Any]:
    """The record of a student without a submission (for the feedback page only)."""
    return {
        "student": student.id,
        "variant": student.variant,
        "status": "missing",
        "points": "0",
        "max_points": show(total),
        "items": [],
        "check": None,
        "error": None,
        "rubric": rubric.to_dict(),
    }


def _current(stored: Mapping[str, Any], task: Task, path: Path, student: Student) -> bool:
    """Is a stored result that of this submission, problem file and manifest row (and not
    a crash, which is graded again)?"""
    return (
        not stored.get("retry")
        and stored.get("submission_sha256") is not None
        and stored.get("submission_sha256") == _file_sha256(path)
        and stored.get("problem_sha256") == _file_sha256(student.problem)
        and stored.get("manifest_hash") == task.hash
        and stored.get("variant") == task.variant
    )


def _max_points(student: Student, rubric: Rubric) -> Fraction:
    """The points a student without a submission could have earned (their variant's items)."""
    problem: Problem | None
    try:
        problem = _problem_from_bytes(student.problem.read_bytes(), str(student.problem))
    except Exception:  # an unreadable problem: every item of the rubric
        problem = None
    return sum((points for _, points in _existing_items(rubric, problem)), Fraction(0))


def _on_threads(tasks: Sequence[Task], jobs: int, done: Callable[[dict[str, Any]], None]) -> None:
    """``jobs`` students at a time, each checked in a worker process of the checker's pool;
    the results are written here, in the main thread, as they arrive."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(max_workers=min(jobs, len(tasks)), thread_name_prefix="grade")
    try:
        pending: set[Future[dict[str, Any]]] = {pool.submit(grade_task, t) for t in tasks}
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                done(future.result())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _on_dask(client: Any, tasks: Sequence[Task], done: Callable[[dict[str, Any]], None]) -> None:
    """:func:`grade_task` on the cluster; the results are written here as they arrive."""
    from dask.distributed import as_completed

    if not tasks:
        return
    futures = client.map(grade_task, list(tasks), pure=False)
    task_of = {future.key: task for future, task in zip(futures, tasks)}
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            try:
                record = future.result()
            except Exception as exc:  # the worker died: this student only
                record = _base(task_of[future.key])
                record["retry"] = True
                record["error"] = f"the Dask worker failed: {type(exc).__name__}: {exc}"
                _ungraded(record, task_of[future.key].rubric, None, "not graded: worker failed")
            done(record)
    finally:
        client.cancel(futures)
