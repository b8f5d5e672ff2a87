"""``symconv check FILE... [--problem FILE|NAME] [--json] [--jobs N] [--inline]``.

``configure`` only adds options (cheap to import); ``run`` imports lark and SymPy.
Exit status: 0 nothing incorrect, 1 something incorrect, 2 unreadable input or usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from symconv.terminal import add_width_option

__all__ = ["DEFAULT_PROBLEM", "configure", "run"]

DEFAULT_PROBLEM = "exercise2"  # the problem of `check` without --problem


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``symconv check``."""
    from symconv.cli.options import add_problem_options

    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="Markdown, LaTeX (.tex) or Jupyter (.ipynb) documents",
    )
    add_problem_options(parser, default=f"{DEFAULT_PROBLEM} (the options change it)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--jobs", metavar="N", default="1", help="check N files in parallel processes (default 1)"
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        default="2",
        help="seconds per equation, a number in (0, 600] (default 2)",
    )
    parser.add_argument(
        "--inline",
        action="store_true",
        help="read inline math ($…$, \\(…\\)) as equations too (by default only when a "
        "document has no display math)",
    )
    parser.add_argument("--plain", action="store_true", help="no colour")
    add_width_option(parser)


def _positive(option: str, text: str, kind: type) -> Any:
    from symconv.errors import UsageError

    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"`{option}` (={text!r}) must be a positive number") from None
    if value <= 0 or value > 10_000:
        raise UsageError(f"`{option}` (={text!r}) must be a positive number up to 10000")
    return value


def run(args: argparse.Namespace) -> int:
    """Check every file; print the report (or JSON); return the exit status."""
    from symconv.check.run import check_files
    from symconv.cli.options import console_from_args, load_problem_from_args, seconds

    jobs = _positive("--jobs", str(args.jobs), int)
    timeout = seconds("--timeout", str(args.timeout))  # finite, in (0, 600]
    defaulted = args.problem is None
    if defaulted:
        args.problem = DEFAULT_PROBLEM
    problem = load_problem_from_args(args)
    inline = True if args.inline else None  # None: when a document has no display math
    results = check_files(args.files, problem, jobs=jobs, time_limit=timeout, inline=inline)
    about = {"name": str(args.problem), "title": problem.title, "default": defaulted}
    for data in results:
        data["problem"] = about
        if _off_topic(data):
            data["note"] = (
                f"this document does not seem to be about {args.problem} ({problem.title}): "
                "none of its equations holds for it"
                + ("; give its problem with --problem FILE|NAME" if defaulted else "")
            )
    if args.json:
        document: Any = results[0] if len(results) == 1 else results
        from symconv.serialize import dump_strict

        dump_strict(document, sys.stdout, indent=2, ensure_ascii=False)  # no NaN/Infinity
    else:
        from symconv.check.isolate import failure_summary
        from symconv.check.report import render_file, render_summary

        console = console_from_args(args)
        if defaulted:
            console.print(
                f"problem: {DEFAULT_PROBLEM} ({problem.title}), the default; "
                "give --problem FILE|NAME for another",
                markup=False,
                highlight=False,
            )
        for data in results:
            render_file(console, data, plain=args.plain)
            binding = data.get("binding") or {}
            if binding.get("text"):
                console.print(f"  notation: {binding['text']}", markup=False, highlight=False)
            if "note" in data:
                console.print(f"  note: {data['note']}", markup=False, highlight=False)
        if len(results) > 1:
            render_summary(console, results)
        failures = failure_summary(results)
        if failures["failed"]:
            why = ", ".join(f"{reason}: {n}" for reason, n in sorted(failures["reasons"].items()))
            console.print(
                f"{failures['failed']} of {failures['files']} file(s) failed ({why}); the "
                "other files were judged in full",
                markup=False,
                highlight=False,
            )
    broken = [r for r in results if r.get("failure", {}).get("reason") == "unreadable input"]
    for result in broken:
        print(f"symconv: error: {result['failure']['message']}", file=sys.stderr)
    if broken:
        return 2  # bad input in the batch; every other file was judged and reported
    if any(r["summary"]["incorrect"] for r in results):
        return 1
    # design.md: a document in which nothing could be checked (no equation found, or every
    # equation unchecked) is bad input, exit 2 — with the reason on stderr
    empty = [r["file"] for r in results if not _judged(r)]
    if empty:
        print(
            f"symconv: error: nothing could be checked in {empty[0]}"
            + (f" and {len(empty) - 1} more file(s)" if len(empty) > 1 else "")
            + " (no equation found, or every equation unchecked; see the reasons above)",
            file=sys.stderr,
        )
        return 2
    return 0


def _off_topic(result: dict[str, Any]) -> bool:
    """No equation holds and at least three were judged wrong or could not be read: the
    numbers fit no equation of the problem."""
    summary = result["summary"]
    return (
        not summary.get("correct", 0)
        and not summary.get("notation", 0)
        and summary.get("incorrect", 0) + summary.get("unchecked", 0) >= 3
        and summary.get("incorrect", 0) >= 1
    )


def _judged(result: dict[str, Any]) -> bool:
    """Whether a document had at least one equation judged (correct, incorrect, notation)."""
    summary = result["summary"]
    return any(summary.get(verdict, 0) for verdict in ("correct", "incorrect", "notation"))
