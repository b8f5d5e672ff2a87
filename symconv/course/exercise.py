"""``symconv exercise TEMPLATE.toml (--students roster.csv | --variants N) [--seed S]
[--no-pdf] [--jobs N] -o DIR``: one deterministic variant per student.

The template (:mod:`symconv.course.template`) gives the fields that vary and the
constraints; variant ``v001`` goes to the roster's first student, ``v002`` to the second,
and so on (with ``--variants N`` the student ids are the variant ids).  The same template,
roster and seed always give the same files, byte for byte.  Written into DIR::

    problems/<variant>.toml   the variant's complete problem file (load_problem reads it)
    sheets/<variant>.pdf      its question sheet (:mod:`symconv.course.sheets`), .tex beside
    solutions/<variant>.pdf   its solution sheet (the report of ``symconv report``)
    manifest.csv              student, variant, problem, sheet, solution, hash

Paths in the manifest are relative to DIR; ``hash`` is the SHA-256 (hex) of the problem
file's bytes.  With ``--no-pdf`` only the .tex files are written and the manifest names them.
The manifest is written last, atomically, and an old one is removed before anything else
is written: DIR never holds a manifest that names files of another run (a failure leaves no
manifest).  Files of an earlier run's variants that this run does not make (``v031.*`` after
a run for 40 students, in the three sub-folders only) are removed before the manifest is
written.

**The roster** is a CSV file (UTF-8, a BOM allowed; comma, semicolon or tab separated) with
a header row.  The student ids come from the column ``student`` — or, when there is none,
``id``, then ``email`` (as learning platforms export them).  Other columns are ignored.
Ids are unique (ignoring case: they name files on case-insensitive disks too), at most 64
characters of letters, digits and ``. _ - + @``, starting with a letter or digit (so an id is
a safe file name: ``grade`` names feedback files by it), and at most 5,000 students.

Exit status: 0 written; 1 TeX failed on a sheet (its .tex and log are kept, no manifest);
2 bad input or usage, before anything is written (an output folder that cannot be written,
a template or roster that does not validate, constraints no variant meets).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from symconv.course.template import Template, Variant

__all__ = [
    "MANIFEST",
    "MANIFEST_COLUMNS",
    "MAX_STUDENTS",
    "ManifestRow",
    "configure",
    "read_roster",
    "run",
]

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("student", "variant", "problem", "sheet", "solution", "hash")
MAX_STUDENTS = 5000
MAX_ROSTER_BYTES = 5_000_000
MAX_SEED = 2**63 - 1
ID_COLUMNS = ("student", "id", "email")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@-]{0,63}")
_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
            *(f"lpt{i}" for i in range(10))}  # names Windows reserves, with any extension
_STALE = re.compile(r"v[0-9]{3,}\.(?:toml|tex|pdf|log)")
_FOLDERS = ("problems", "sheets", "solutions")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``symconv exercise`` to its subparser (cheap: no imports)."""
    parser.description = (
        "Make one deterministic variant of a template per student: its problem file, "
        "question sheet and solution sheet, and manifest.csv."
    )
    parser.add_argument(
        "template", metavar="TEMPLATE.toml",
        help="a problem file with [vary] (fields as choices or ranges) and [constraints]",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--students", metavar="ROSTER.csv",
        help="a CSV roster with a header; ids from the column student (or id, or email)",
    )
    who.add_argument(
        "--variants", metavar="N",
        help=f"N variants v001..; their ids are the student ids (1 to {MAX_STUDENTS})",
    )
    parser.add_argument(
        "--seed", metavar="S", default="0",
        help="an integer >= 0 (default 0): the same template, roster and seed give the same "
        "variants",
    )
    parser.add_argument(
        "--no-pdf", dest="pdf", action="store_false",
        help="write the .tex of the sheets only (no TeX needed)",
    )
    parser.add_argument(
        "--jobs", metavar="N", default=None,
        help="compile N PDFs at a time (default: the CPUs, at most 4)",
    )
    parser.add_argument("-o", "--output", metavar="DIR", required=True, help="output folder")


# ---------------------------------------------------------------------------------------
# options


def _integer(option: str, text: str, low: int, high: int) -> int:
    from symconv.errors import UsageError

    stripped = str(text).strip()
    if not re.fullmatch(r"[0-9]{1,19}", stripped) or not low <= int(stripped) <= high:
        raise UsageError(f"`{option}` (={text!r}) must be an integer from {low} to {high}")
    return int(stripped)


def _delimiter(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_roster(path: str | os.PathLike[str], option: str = "--students") -> list[str]:
    """The student ids of a roster CSV, in its order (see the module docstring).  Raises
    :class:`~symconv.errors.UsageError` naming the option, the file and the line.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "r.csv").write_text("name,student\\nAda,ada\\nBob,bob.k\\n")
        >>> read_roster(folder / "r.csv")
        ['ada', 'bob.k']
    """
    from symconv.errors import UsageError

    name = os.fspath(path)
    file = Path(name)
    if not file.is_file():
        raise UsageError(f"`{option}` (={name!r}) is not a readable file")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"`{option}` (={name!r}) cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise UsageError(f"`{option}` (={name!r}) is larger than {MAX_ROSTER_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(
            f"`{option}` (={name!r}) is not UTF-8 text; save it as UTF-8 CSV"
        ) from None
    if "\x00" in text:
        raise UsageError(f"`{option}` (={name!r}) holds NUL bytes: not a CSV text file")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    header: list[str] | None = None
    column = -1
    ids: list[str] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if header is None:
                header = [cell.strip().lower() for cell in row]
                found = [c for c in ID_COLUMNS if c in header]
                if not found:
                    shown = ", ".join(cell.strip() for cell in row)[:80]
                    raise UsageError(
                        f"`{option}` (={name!r}) has no column student (nor id, nor email); "
                        f"its header is: {shown}; name the column of the student ids student"
                    )
                column = header.index(found[0])
                continue
            student = row[column].strip() if column < len(row) else ""
            where = f"`{option}` (={name!r}) line {line}"
            if not student:
                raise UsageError(f"{where} has no student id in column {header[column]}")
            if not _ID.fullmatch(student) or student.endswith(".") or (
                student.split(".")[0].lower() in _DEVICES
            ):
                raise UsageError(
                    f"{where}: the id {student[:70]!r} is not a safe file name; allowed: 1 to "
                    "64 letters, digits and . _ - + @, starting with a letter or digit"
                )
            key = student.lower()
            if key in seen:
                raise UsageError(
                    f"{where} repeats the id {student!r} of line {seen[key]} (ids are unique, "
                    "ignoring case)"
                )
            seen[key] = line
            ids.append(student)
            if len(ids) > MAX_STUDENTS:
                raise UsageError(f"`{option}` (={name!r}) has more than {MAX_STUDENTS} students")
    except csv.Error as exc:
        raise UsageError(f"`{option}` (={name!r}) is not valid CSV: {exc}") from None
    if not ids:
        raise UsageError(f"`{option}` (={name!r}) lists no students (a header and one row each)")
    return ids


# ---------------------------------------------------------------------------------------
# the manifest (read by `symconv grade`)


@dataclass(frozen=True)
class ManifestRow:
    """One row of ``manifest.csv``: paths relative to the manifest's folder."""

    student: str
    variant: str
    problem: str
    sheet: str
    solution: str
    hash: str


def _manifest_text(rows: Sequence[ManifestRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow([getattr(row, column) for column in MANIFEST_COLUMNS])
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# writing


def _folders(out_dir: Path) -> dict[str, Path]:
    from symconv.errors import UsageError

    folders = {name: out_dir / name for name in _FOLDERS}
    for name, folder in folders.items():
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"`-o` (={str(out_dir)!r}) holds a file {name} where the folder "
                             f"{name}/ goes; move it away")
    if (out_dir / MANIFEST).is_dir():
        raise UsageError(f"`-o` (={str(out_dir)!r}) holds a folder {MANIFEST}; move it away")
    return folders


def _compile(tex_path: Path) -> tuple[bytes | None, Any]:
    """Compile the .tex beside which its PDF goes: (pdf, None) or (None, the TexError)."""
    from symconv.latex.compiler import TexError, compile_tex

    try:
        pdf, _ = compile_tex(tex_path.read_text("utf-8"), name=tex_path.stem)
    except TexError as exc:
        return None, exc
    return pdf, None


def _write_pdfs(tex_files: Sequence[Path], jobs: int) -> list[tuple[Path, Any]]:
    """Compile every .tex (``jobs`` TeX runs at a time) and write each PDF beside its .tex
    (with the report's all-or-nothing write; a failure's log is kept instead).  Returns
    the failures: (.tex, TexError)."""
    from concurrent.futures import ThreadPoolExecutor

    from symconv.latex.report import write_together

    failures: list[tuple[Path, Any]] = []
    # TeX runs in its own processes: threads only wait for them, and every file is
    # written here, in the main thread
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            for tex_path, (pdf, error) in zip(tex_files, pool.map(_compile, tex_files)):
                stem, folder = tex_path.stem, tex_path.parent
                log = folder / f"{stem}.log"
                if pdf is not None:
                    write_together(folder, stem, {f"{stem}.pdf": pdf},
                                   [log.name] if log.exists() else [])
                else:
                    write_together(folder, stem, {log.name: error.log.encode("utf-8")})
                    failures.append((tex_path, error))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return failures


def _remove_stale(folders: dict[str, Path], keep: set[str]) -> None:
    """Remove variant files (``v031.pdf``…) of an earlier, larger run."""
    for folder in folders.values():
        if not folder.is_dir():
            continue
        for item in folder.iterdir():
            if _STALE.fullmatch(item.name) and item.name not in keep and item.is_file():
                item.unlink()


def run(args: argparse.Namespace) -> int:
    """Run ``symconv exercise``; returns the exit status."""
    from symconv.cli.options import output_dir
    from symconv.errors import ProblemError, UsageError

    started = time.perf_counter()
    out_dir = output_dir("-o", args.output)  # before any work
    folders = _folders(out_dir)
    seed = _integer("--seed", args.seed, 0, MAX_SEED)
    cpus = os.cpu_count() or 1
    jobs = _integer("--jobs", args.jobs, 1, 64) if args.jobs is not None else min(4, cpus)
    if args.students is not None:
        students = read_roster(args.students)
    else:
        count = _integer("--variants", args.variants, 1, MAX_STUDENTS)
        students = []
    if args.pdf:
        from symconv.latex.compiler import INSTALL_HINT, find_engine

        if find_engine() is None:
            raise UsageError(
                f"no TeX engine (latexmk or pdflatex) found on PATH: give --no-pdf for the "
                f".tex files only, or {INSTALL_HINT}"
            )

    from symconv.course.template import generate_variants, load_template

    try:
        template = load_template(args.template)
    except ProblemError as exc:
        raise UsageError(f"template {args.template}: {exc}") from None
    number = len(students) if students else count
    variants = generate_variants(template, number, seed=seed)
    drawn = time.perf_counter()
    if not students:
        students = [variant.id for variant in variants]

    rows, failures = _write(
        variants, students, folders, out_dir, template,
        pdf=args.pdf, jobs=jobs, roster=args.students is not None,
    )
    if failures:
        tex_path, error = failures[0]
        print(f"symconv: error: TeX failed on {tex_path} ({len(failures)} of "
              f"{2 * len(variants)} sheets failed): {error}; first error:", file=sys.stderr)
        print(error.excerpt, file=sys.stderr)
        print(f"(no manifest was written; the log is beside the .tex, in {tex_path.parent})",
              file=sys.stderr)
        return 1
    from symconv.latex.report import write_atomic

    write_atomic(out_dir / MANIFEST, _manifest_text(rows).encode("utf-8"))
    done = time.perf_counter()
    kind = "pdf" if args.pdf else "tex"
    tries = sum(variant.tries for variant in variants)
    who = (
        f"for the {len(students)} students of {args.students}"
        if args.students
        else " to ".join(dict.fromkeys((variants[0].id, variants[-1].id)))
    )
    print(
        f"{len(variants)} distinct variants of {template.source} (seed {seed}), {who}, in "
        f"{out_dir}: problems/*.toml, sheets/*.{kind}, solutions/*.{kind}, {MANIFEST}"
    )
    print(
        f"drawn in {drawn - started:.1f} s ({tries} tries), written in {done - drawn:.1f} s"
    )
    return 0


def _write(
    variants: Sequence[Variant],
    students: Sequence[str],
    folders: dict[str, Path],
    out_dir: Path,
    template: Template,
    *,
    pdf: bool,
    jobs: int,
    roster: bool,
) -> tuple[list[ManifestRow], list[tuple[Path, Any]]]:
    """Write every variant's files (the .tex first, then the PDFs); the manifest rows."""
    from symconv.course.sheets import write_sheet
    from symconv.errors import SymconvError
    from symconv.latex.report import write_atomic, write_report

    try:
        (out_dir / MANIFEST).unlink(missing_ok=True)  # never an old manifest over new files
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SymconvError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None
    rows: list[ManifestRow] = []
    tex_files: list[Path] = []
    keep: set[str] = set()
    extension = "pdf" if pdf else "tex"
    for variant, student in zip(variants, students):
        vid = variant.id
        problem_path = folders["problems"] / f"{vid}.toml"
        write_atomic(problem_path, variant.toml.encode("utf-8"))
        sheet = write_sheet(
            variant.problem, folders["sheets"], name=vid, variant=vid,
            student=student if roster else None,
            max_decimals=template.constraints.max_decimals, pdf=False,
        )
        solution = write_report(variant.problem, folders["solutions"], name=vid, pdf=False)
        tex_files += [sheet.tex, solution.tex]
        keep |= {f"{vid}.toml", f"{vid}.tex", f"{vid}.pdf"}
        rows.append(
            ManifestRow(
                student=student,
                variant=vid,
                problem=f"problems/{vid}.toml",
                sheet=f"sheets/{vid}.{extension}",
                solution=f"solutions/{vid}.{extension}",
                hash=variant.hash,
            )
        )
    failures: list[tuple[Path, Any]] = []
    if pdf:
        print(f"symconv: compiling {len(tex_files)} PDFs, {jobs} at a time", file=sys.stderr)
        failures = _write_pdfs(tex_files, jobs)
    if not failures:
        _remove_stale(folders, keep)
    return rows, failures
