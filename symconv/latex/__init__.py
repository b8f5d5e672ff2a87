"""``symconv report``: the LaTeX solution sheet of a problem, compiled with a real TeX.

Modules: :mod:`~symconv.latex.escape` (user text), :mod:`~symconv.latex.printer` (SymPy to
LaTeX), :mod:`~symconv.latex.layout` (lines that fit), :mod:`~symconv.latex.document` (the
article: :mod:`~symconv.latex.derivation1d` prints the 1-D worked derivation,
:mod:`~symconv.latex.general` any other layer, :mod:`~symconv.latex.parts` what they
share), :mod:`~symconv.latex.results` (experiment and verification inputs),
:mod:`~symconv.latex.compiler` (TeX, sandboxed) and :mod:`~symconv.latex.report` (writing
files).  This module is the command; it imports them only when run, so that building the
CLI stays cheap.

Exit status: 0 the report was written (and compiled, when TeX is there); 1 TeX failed
(the .tex and the log are kept, the first error is shown); 2 bad input or usage, an
output folder that cannot be written included (checked before any work).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["configure", "run"]

DEFAULT_PROBLEM = "exercise2"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``symconv report`` to its subparser."""
    from symconv.cli.options import add_problem_options

    add_problem_options(
        parser,
        default=f"{DEFAULT_PROBLEM} (with --n/--input-shape or --k and no --problem: a "
        "symbolic problem from the options)",
    )
    parser.description = (
        "Write the LaTeX solution sheet of a problem (default: the built-in exercise2) and "
        "compile it to PDF when latexmk or pdflatex is found."
    )
    parser.add_argument(
        "-o", "--output", metavar="DIR", default="reports", help="output folder (default reports/)"
    )
    pdf = parser.add_mutually_exclusive_group()
    pdf.add_argument(
        "--pdf",
        dest="pdf",
        action="store_true",
        default=None,
        help="compile the PDF (an error without a TeX engine); default: when TeX is found",
    )
    pdf.add_argument("--no-pdf", dest="pdf", action="store_false", help="write the .tex only")
    parser.add_argument(
        "--experiment",
        metavar="RESULTS.json",
        help="add the equivariance section from `symconv equivariance -o DIR`'s results.json",
    )
    parser.add_argument(
        "--submission", metavar="FILE", help="append the `symconv check` verdicts for FILE"
    )
    parser.add_argument("--title", help="the report's title (default: the problem's title)")
    parser.add_argument(
        "--name", help="file name stem (default: the problem's name, else 'report')"
    )


def _stem(args: argparse.Namespace) -> str:
    if args.name:
        return str(args.name)
    from symconv.cli.options import size_given

    problem = args.problem or DEFAULT_PROBLEM
    if args.problem is None and size_given(args):
        return "report"
    return Path(str(problem)).stem


def run(args: argparse.Namespace) -> int:
    """Run ``symconv report``; returns the exit status."""
    from symconv.cli.options import load_problem_from_args, output_dir, size_given
    from symconv.latex.report import check_submission, default_verification, write_report
    from symconv.latex.results import load_experiment

    out_dir = output_dir("-o", args.output)  # before any work: no traceback after it
    overrides_given = size_given(args) or getattr(args, "layer.kernel_size", None) is not None
    if args.problem is None and not overrides_given:
        args.problem = DEFAULT_PROBLEM
    problem = load_problem_from_args(args)
    from symconv.symbolic.explicit import check_explicit_size

    check_explicit_size(problem)  # the report shows the explicit form: refused before any work
    experiment = load_experiment(args.experiment) if args.experiment else None
    submission = check_submission(Path(args.submission), problem) if args.submission else None
    verification = default_verification(problem)
    result = write_report(
        problem,
        out_dir,
        name=_stem(args),
        pdf=args.pdf,
        title=args.title,
        verification=verification,
        experiment=experiment,
        submission=submission,
    )
    print(f"wrote {result.tex}", file=sys.stderr)
    for figure in result.figures:
        print(f"wrote {figure}", file=sys.stderr)
    if result.pdf is not None:
        print(f"wrote {result.pdf}", file=sys.stderr)
    for note in result.notes:
        print(f"symconv: {note}", file=sys.stderr)
    if result.error is not None:
        print(f"symconv: error: {result.error}; first error:", file=sys.stderr)
        print(result.error.excerpt, file=sys.stderr)
        print(f"(the .tex is kept in {result.tex}, the full log in {result.log})", file=sys.stderr)
        return 1
    return 0
