"""The LaTeX solution sheet of a problem: a complete, self-contained article.

The worked derivation is printed by :mod:`symconv.latex.derivation1d` (a 1-D one-channel
layer, from the model :func:`symconv.worked1d.worked`) or :mod:`symconv.latex.general`
(any other layer); then come the conventions (:func:`symconv.worked.conventions`, true
for the problem shown; remarks about the exercise's wording only on the exercise) and,
when given, the verification table, the equivariance experiment and the verdicts on a
submission.  Tables are set at body size (one verification table per data type; the
verdicts as a longtable), each kept on one page with the text that introduces it; wide
figures get a landscape page.  All math comes from the SymPy expressions
(:mod:`symconv.latex.printer`); all numbers are exact; all user text goes through
:func:`symconv.latex.escape.escape` (or :func:`~symconv.latex.escape.typeset`, which sets
the unicode math of messages as math).  The output is deterministic: no dates, paths or
versions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from symconv.derivation import Derivation, worked_in_1d
from symconv.latex.derivation1d import MAX_OUTPUTS, write_derivation
from symconv.latex.escape import escape, source_tex, typeset, written_tex
from symconv.latex.general import PREAMBLE_EXTRA, write_general
from symconv.latex.parts import Doc, kept_together, note_tex
from symconv.latex.results import MODELS, Experiment
from symconv.notation import QUANTITIES
from symconv.problem import Problem
from symconv.worked import (
    conventions,
    is_exercise,
)

__all__ = ["MAX_OUTPUTS", "Submission", "render_report"]

_PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{lmodern}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{array,booktabs,longtable}
\usepackage{graphicx}
\usepackage[table]{xcolor}
\usepackage{microtype}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6ex plus 0.3ex}
\setcounter{MaxMatrixCols}{20}
\renewcommand{\arraystretch}{1.15}
\newcommand{\ok}{\textcolor{green!50!black}{\checkmark}}
\newcommand{\bad}{\textcolor{red!70!black}{$\times$}}
\usepackage{pdflscape}
\usepackage{needspace}
\usepackage{caption}
\captionsetup{font=small,labelfont=bf}
"""


@dataclass(frozen=True)
class Submission:
    """The verdicts of ``symconv check`` on a submission (design.md's check JSON), or why
    there are none (``note``).  The equations as written are set as math when safe
    (:func:`~symconv.latex.escape.written_tex`); ``typeset`` False shows their source."""

    file: str
    equations: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    note: str | None = None
    typeset: bool = True  # False: the equations as written are shown as their source


# ---------------------------------------------------------------------------------------
# conventions and the optional sections


def _conventions(doc: Doc, problem: Problem) -> None:
    """The convention notes of the problem (:func:`symconv.worked.conventions`)."""
    doc.section("Conventions")
    doc.items([note_tex(note) for note in conventions(problem)])


def _sci(value: float) -> str:
    """A small error as math: ``0``, ``3.1 \\times 10^{-16}``."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return r"\infty"
    mantissa, exponent = f"{value:.1e}".split("e")  # 9.99e-10 rounds to 1.0e-09
    if -2 <= int(exponent) <= 2:
        return f"{value:.3g}"
    return f"{mantissa} \\times 10^{{{int(exponent)}}}"


def _quantity_tex(key: str) -> str:
    """A quantity's JSON key as its math symbol (``grad_w`` → ∂L/∂w), else as code."""
    if key in QUANTITIES:
        return f"${QUANTITIES[key].latex}$"
    return f"\\texttt{{{escape(key)}}}"


_DTYPES = ("float64", "float32", "float16", "bfloat16")
_BACKEND_COLUMNS = 6


def _backend_groups(backends: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The backends by data type: (the type, [(backend, its column heading)]); a backend
    without a type in its name joins the first group (torch's gradcheck runs in float64)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    untyped: list[tuple[str, str]] = []
    for backend in backends:
        stem, _, dtype = backend.rpartition("-")
        if stem and dtype in _DTYPES:
            groups.setdefault(dtype, []).append((backend, stem))
        else:
            untyped.append((backend, backend))
    ordered = list(groups.items()) or [("", [])]
    first_type, first = ordered[0]
    ordered[0] = (first_type, first + untyped)
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for dtype, members in ordered:
        for start in range(0, len(members), _BACKEND_COLUMNS):
            out.append((dtype, members[start : start + _BACKEND_COLUMNS]))
    return [group for group in out if group[1]]


def _heading(name: str) -> str:
    """A backend's column heading, broken at its hyphens (finite-diff over two lines)."""
    parts = [escape(part) for part in name.split("-")]
    if len(parts) == 1:
        return f"\\texttt{{{parts[0]}}}"
    return "\\shortstack[r]{" + "-\\\\".join(f"\\texttt{{{p}}}" for p in parts) + "}"


def _verification(doc: Doc, checks: Sequence[Mapping[str, Any]]) -> None:
    doc.section("Verification")
    quantities: list[str] = []
    backends: list[str] = []
    worst: dict[tuple[str, str], tuple[float, bool]] = {}
    for check in checks:
        q, b = str(check["quantity"]), str(check["backend"])
        if q not in quantities:
            quantities.append(q)
        if b not in backends:
            backends.append(b)
        error, ok = worst.get((q, b), (0.0, True))
        worst[(q, b)] = (max(error, float(check["max_abs_err"])), ok and bool(check["ok"]))
    failed = sum(1 for _, ok in worst.values() if not ok)
    configs = {repr(check.get("config")) for check in checks}
    intro = (
        "Every quantity was recomputed by independent backends and compared with the exact "
        "values above; each cell is the largest absolute error"
        + (f" over {len(configs)} configurations" if len(configs) > 1 else "")
        + " (\\ok: within the tolerance of its data type, \\bad: not), one table per data "
        "type. " + ("All checks hold." if failed == 0 else f"\\textbf{{{failed} checks fail.}}")
    )
    for number_, (dtype, members) in enumerate(_backend_groups(backends)):
        header = " & ".join(_heading(heading) for _, heading in members)
        rows = []
        for q in quantities:
            cells = []
            for backend, _ in members:
                if (q, backend) not in worst:
                    cells.append("--")
                    continue
                error, ok = worst[(q, backend)]
                mark = r"\ok" if ok else r"\bad"
                cells.append(f"${_sci(error)}$\\,{mark}")
            rows.append(f"{_quantity_tex(q)} & " + " & ".join(cells) + " \\\\")
        title = (
            f"\\multicolumn{{{len(members) + 1}}}{{@{{}}l}}{{\\textbf{{{escape(dtype)}}}}} \\\\\n"
            if dtype
            else ""
        )
        spec = "l" + "r" * len(members)
        doc.add(
            kept_together(
                *([intro] if number_ == 0 else []),  # the text stays with its table
                "\\centering\\setlength{\\tabcolsep}{3pt}\n"
                f"\\begin{{tabular}}{{@{{}}{spec}@{{}}}}\n\\toprule\n{title}"
                f"quantity & {header} \\\\\n\\midrule\n"
                + "\n".join(rows)
                + "\n\\bottomrule\n\\end{tabular}",
            )
        )


_MODEL_NAMES = {
    "mlp": "MLP",
    "cnn": "CNN",
    "cnn_augmented": "CNN trained with random shifts",
    "cnn_blurpool": "CNN with blur-pool (anti-aliased)",
    "cnn_circular_gap": "CNN, circular padding, global average pool",
}

# what each plot of `symconv equivariance` shows (by its file name)
_FIGURE_CAPTIONS = {
    "accuracy": "Validation accuracy of each model on the original MNIST digits (blue) and on "
    "the same digits shifted right and down (orange); error bars: the spread over seeds.",
    "layer_equivariance": "Equivariance error (relative $L_2$) of each trained CNN, layer by "
    "layer, against the shift $\\Delta$ modulo the network's cumulative stride of 4: a "
    "stride-$s$ layer is exactly equivariant only for shifts that are multiples of $s$.",
    "mnist1d": "MNIST-1D: test accuracy of a 1-D MLP and a 1-D CNN against the shift of "
    "the signal, in samples (zero fill).",
    "shift_sweep": "Validation accuracy of each model for every shift of the digits "
    "($dx$ right, $dy$ down, in pixels): zero fill in the top row, circular shifts in the "
    "bottom row.",
}
# a plot this much wider than high gets a landscape page of its own, to be readable
_WIDE = 2.2


def _png_aspect(path: Any) -> float:
    """Width over height of a PNG (from its IHDR chunk); 1.5 when it cannot be read."""
    import struct
    from pathlib import Path

    try:
        with Path(path).open("rb") as handle:
            header = handle.read(24)
        width_px, height_px = struct.unpack(">II", header[16:24])
    except (OSError, struct.error):
        return 1.5
    return width_px / height_px if height_px else 1.5


def _caption(stem: str) -> str:
    if stem in _FIGURE_CAPTIONS:
        return _FIGURE_CAPTIONS[stem]
    return "Plot of the equivariance experiment: " + escape(stem.replace("_", " ")) + "."


def _percent(value: float) -> str:
    return f"{100 * value:.1f}\\,\\%"


def _experiment(
    doc: Doc, experiment: Experiment, figures: Sequence[str], *, exercise: bool
) -> None:
    doc.section("Equivariance experiment")
    lead = (
        "The exercise's second part: the same digits classified as given and shifted by two "
        "pixels right and down."
        if exercise
        else "The numerical companion of the derivation: MNIST digits classified as given and "
        "shifted by two pixels right and down."
    )
    doc.add(
        lead + " A convolution layer is shift-\\emph{equivariant} (with "
        "circular padding and shifts that are multiples of the stride, exactly), but a "
        "network with a flattening dense head is not shift-\\emph{invariant}; augmentation, "
        "anti-aliasing and a global-average-pool head are the remedies measured here."
    )
    models = [m for m in MODELS if m in experiment.accuracy] + [
        m for m in experiment.accuracy if m not in MODELS
    ]

    def name(model: str) -> str:
        return escape(_MODEL_NAMES.get(model, model))

    def accuracy(model: str, which: int) -> str:
        text = _percent(experiment.accuracy[model][which])
        if model in experiment.spread:
            text += f" $\\pm$ {100 * experiment.spread[model][which]:.1f}"
        return text

    rows = []
    for model in models:
        original, shifted = experiment.accuracy[model]
        change = 100 * (shifted - original)
        sign = "-" if change < 0 else "+"
        rows.append(
            f"{name(model)} & {accuracy(model, 0)} & {accuracy(model, 1)} & "
            f"${sign}{abs(change):.1f}$ \\\\"
        )
    described = [
        f"\\textbf{{{name(m)}}}: {typeset(experiment.descriptions[m])}"
        for m in models
        if m in experiment.descriptions
    ]
    doc.add(
        kept_together(
            "Validation accuracy on the original images and on the same images shifted (mean "
            "$\\pm$ standard deviation over seeds where several were run):",
            "\\centering\n\\begin{tabular}{@{}lrrr@{}}\n\\toprule\nmodel & original & shifted "
            "& change (points) \\\\\n\\midrule\n"
            + "\n".join(rows)
            + "\n\\bottomrule\n\\end{tabular}",
        )
    )
    if described:
        doc.items(described)
    if experiment.invariance_error:
        rows = []
        for model in [m for m in models if m in experiment.invariance_error]:
            stable = experiment.stability.get(model, {})
            cells = [
                f"${_sci(experiment.invariance_error[model])}$",
                _percent(stable["consistency"]) if "consistency" in stable else "--",
                _percent(stable["p_change"]) if "p_change" in stable else "--",
            ]
            rows.append(f"{name(model)} & " + " & ".join(cells) + " \\\\")
        doc.add(
            kept_together(
                "The invariance error is the largest relative change of the logits under "
                "circular shifts by multiples of the network's stride; consistency is the "
                "probability that two random shifts give the same prediction, and the last "
                "column the probability that a one-pixel shift changes it.",
                "\\centering\n\\begin{tabular}{@{}lrrr@{}}\n\\toprule\nmodel & invariance "
                "error & consistency & P(top-1 changes) \\\\\n\\midrule\n"
                + "\n".join(rows)
                + "\n\\bottomrule\n\\end{tabular}",
            )
        )
    for model, table in experiment.layers.items():
        rows = [
            f"{escape(layer)} & {delta} & ${_sci(l2)}$ & ${_sci(cosine)}$ \\\\"
            for layer, delta, l2, cosine in table[:40]
        ]
        doc.add(
            kept_together(
                f"Equivariance error of each layer of the trained model "
                f"\\emph{{{name(model)}}}, by the shift $\\Delta$ modulo the cumulative stride:",
                "\\centering\n\\begin{tabular}{@{}lrrr@{}}\n\\toprule\nlayer & "
                "$\\Delta \\bmod 4$ & relative $L_2$ & cosine distance \\\\\n\\midrule\n"
                + "\n".join(rows)
                + "\n\\bottomrule\n\\end{tabular}",
            )
        )
    wide = []
    for figure, path in zip(figures, experiment.plots):
        caption = _caption(path.stem)
        if _png_aspect(path) > _WIDE:
            wide.append((figure, caption))
            continue
        doc.add(
            "\\begin{figure}[htbp]\n\\centering\n"
            "\\includegraphics[width=0.85\\linewidth,height=0.42\\textheight,keepaspectratio]"
            f"{{{figure}}}\n\\caption{{{caption}}}\n\\end{{figure}}"
        )
    for figure, caption in wide:  # a landscape page each: the panels at a readable size
        doc.add(
            "\\begin{landscape}\n\\centering\n"
            "\\includegraphics[width=\\linewidth,height=0.8\\textheight,keepaspectratio]"
            f"{{{figure}}}\n\\captionof{{figure}}{{{caption}}}\n\\end{{landscape}}"
        )


_VERDICT_STYLE = {
    "correct": "\\textcolor{green!50!black}{correct}",
    "incorrect": "\\textcolor{red!70!black}{\\textbf{incorrect}}",
    "notation": "\\textcolor{orange!80!black}{notation}",
    "unchecked": "\\textcolor{gray}{unchecked}",
}


def _submission(doc: Doc, submission: Submission) -> None:
    doc.section("Checking a submission")
    name = escape(submission.file)
    if submission.note is not None:
        doc.add(f"\\texttt{{{name}}}: {escape(submission.note)}")
        return
    counts = ", ".join(
        f"{count} {escape(str(verdict))}" for verdict, count in submission.summary.items()
    )
    doc.add(
        f"The equations of \\texttt{{{name}}} compared with this sheet by "
        f"\\texttt{{symconv check}}"
        + (f": {counts}." if counts else ".")
        + " Each row shows the equation as the submission wrote it"
        " (set in type, or as its source when it uses commands outside the usual math),"
        " then the verdict and why."
    )
    rows = []
    for equation in submission.equations:
        verdict = str(equation.get("verdict", ""))
        message = str(equation.get("message") or "")
        diagnosis = equation.get("diagnosis")
        label = str(equation.get("label", ""))
        line = str(equation.get("line", ""))
        shown_label = "" if label == f"line {line}" else escape(label)
        source = str(equation.get("latex") or "")
        words = _VERDICT_STYLE.get(verdict, escape(verdict))
        if message:
            words += ": " + typeset(message)
        if diagnosis:
            words += f" ({typeset(str(diagnosis))})"
        # what was written, then the verdict below it, in one wide cell
        written = written_tex(source) if submission.typeset else source_tex(source)
        cell = f"{written}\\par\\smallskip {words}" if source.strip() else words
        rows.append(f"{shown_label} & {escape(line)} & {cell} \\\\[0.6ex]")
    doc.add(
        "\\begin{longtable}{@{}l r >{\\raggedright\\arraybackslash}p{0.84\\textwidth}@{}}\n"
        "\\toprule\neq. & line & as written, and the verdict \\\\\n\\midrule\n\\endhead\n"
        + "\n".join(rows)
        + "\n\\bottomrule\n\\end{longtable}"
    )


def render_report(
    d: Derivation,
    *,
    title: str | None = None,
    verification: Sequence[Mapping[str, Any]] | None = None,
    experiment: Experiment | None = None,
    figures: Sequence[str] = (),
    submission: Submission | None = None,
) -> str:
    """The LaTeX source of the solution sheet of ``d`` (built with ``form="both"``).

    ``title`` replaces the problem's title; ``verification`` holds design.md's verify
    checks; ``experiment`` the validated results with ``figures``, the file names its plots
    will have beside the .tex; ``submission`` the check verdicts.  Deterministic.

    Example:
        >>> from symconv.derivation import build
        >>> from symconv.problem import load_problem
        >>> tex = render_report(build(load_problem("exercise2")))
        >>> r"\\tag{15a}" in tex
        True
    """
    problem = d.problem
    doc = Doc()
    if worked_in_1d(problem):
        write_derivation(doc, d)
        preamble = _PREAMBLE
    else:
        write_general(doc, d)
        preamble = _PREAMBLE + PREAMBLE_EXTRA
    _conventions(doc, problem)
    if verification is not None:
        _verification(doc, verification)
    if experiment is not None:
        _experiment(doc, experiment, figures, exercise=is_exercise(problem))
    if submission is not None:
        _submission(doc, submission)
    heading = escape(title if title is not None else problem.title)
    return (
        preamble
        + f"\n\\title{{{heading}}}\n\\author{{Solution sheet}}\n\\date{{}}\n\n"
        + "\\begin{document}\n\\maketitle\n\n"
        + doc.text()
        + "\n\n\\end{document}\n"
    )
