"""The question sheet of a variant: the task and its numbers, no answers.

A short LaTeX article in the structure of the exercise (``../shared/exercise``): the layer of
THIS variant in words (input and kernel sizes, stride, padding and its mode, dilation, bias
mode), its loss written out, the learning rate, the numbers x, w, b, y; then the tasks —
the derivation with symbols (forward pass per output, loss, ∂L/∂ŷ, ∂L/∂w, ∂L/∂b, ∂L/∂x,
the SGD step) and the same evaluated with the numbers, ending with the forward pass and the
loss after the step — and how to hand in.  Nothing derived is printed: not the output length,
not a single result.  The solution sheet is the report (:func:`symconv.latex.report.write_report`).

All user text (title, student id) goes through :func:`symconv.latex.escape.escape`; numbers
are exact (:func:`symconv.latex.printer.number`); the output is deterministic.  PDFs are
compiled with the project's sandboxed compiler and written with the report's all-or-nothing
transaction (:mod:`symconv.latex.compiler`, :func:`symconv.latex.report.write_together`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symconv.errors import UnsupportedLayerError
from symconv.latex.compiler import TexError, compile_tex
from symconv.latex.escape import escape
from symconv.latex.printer import number
from symconv.latex.report import ReportResult, safe_stem, write_together
from symconv.notation import bias_notation
from symconv.problem import Problem
from symconv.worked1d import outline

__all__ = ["render_sheet", "write_sheet"]

_PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{lmodern}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{microtype}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6ex plus 0.3ex}
"""

_L = r"\mathcal{L}"
_YHAT = r"\hat{\mathbf{y}}"
_W = r"\mathbf{w}"
_X = r"\mathbf{x}"


def _d(of: str, by: str) -> str:
    return rf"\frac{{\partial {of}}}{{\partial {by}}}"


def _vector(values: Sequence[Any]) -> str:
    """``(1,\\ -2,\\ 0.5)``: a tuple of exact numbers as inline math that may break."""
    return "(" + r",\allowbreak\ ".join(number(v) for v in values) + ")"


def _positions(count: int) -> str:
    return "one position" if count == 1 else f"{count} positions"


_BIAS_WORDS = {  # the sheet's words for each mode of notation.BIAS_MODES
    "shared": r"a shared bias: one number $b$ is added to every output.",
    "untied": r"an untied bias: each output $\hat{y}_i$ has its own bias $b_i$ "
    r"($\mathbf{b}$ has one entry per output).",
    "none": "no bias.",
}


def _layer_items(problem: Problem) -> list[str]:
    """The layer of this variant, in words (true for its stride, padding, bias)."""
    n, k, s, p, d = problem.n, problem.k, problem.stride, problem.padding, problem.dilation
    items = [
        rf"input $\mathbf{{x}} = (x_1, \dots, x_n)$ of length $n = {n}$, kernel "
        rf"$\mathbf{{w}} = (w_1, \dots, w_k)$ of size $k = {k}$;",
        rf"stride $s = {s}$: the input windows of two neighbouring outputs start "
        f"{_positions(s)} apart;",
    ]
    if p == 0:
        items.append(r"no padding ($p = 0$): every window lies inside $\mathbf{x}$;")
    elif problem.padding_mode == "zeros":
        zeros = "one zero" if p == 1 else f"{p} zeros"
        items.append(
            rf"zero padding $p = {p}$: {zeros} before $x_1$ and {zeros} after $x_n$ "
            "before the windows are taken;"
        )
    else:
        wrapped = (
            r"the last entry of $\mathbf{x}$ is repeated before $x_1$ and the first after $x_n$"
            if p == 1
            else rf"the last {p} entries of $\mathbf{{x}}$ are repeated before $x_1$ and the "
            rf"first {p} after $x_n$"
        )
        items.append(rf"circular padding $p = {p}$: the input wraps around, {wrapped};")
    if d == 1:
        items.append(r"dilation $d = 1$: the kernel's taps read neighbouring entries;")
    else:
        items.append(
            rf"dilation $d = {d}$: neighbouring taps of the kernel read entries {d} "
            "positions apart;"
        )
    items.append(_BIAS_WORDS[problem.bias])
    return items


def _loss_text(problem: Problem) -> str:
    """The loss of this variant, in words and written out."""
    if problem.loss == "sse_half":
        return (
            "half the sum of the squared errors over the $m$ outputs,\n"
            rf"\[ {_L}(\hat{{\mathbf{{y}}}}, \mathbf{{y}}) = \sum_{{i=1}}^{{m}} \tfrac{{1}}{{2}}"
            r"\,(y_i - \hat{y}_i)^2. \]"
        )
    if problem.loss == "mse":
        return (
            "the mean of the squared errors over the $m$ outputs,\n"
            rf"\[ {_L}(\hat{{\mathbf{{y}}}}, \mathbf{{y}}) = \frac{{1}}{{m}} \sum_{{i=1}}^{{m}}"
            r" (y_i - \hat{y}_i)^2. \]"
        )
    raise UnsupportedLayerError(f"a question sheet needs a loss with a target, not {problem.loss}")


def _numbers(problem: Problem) -> str:
    """The given numbers, one tensor a line (inline math, so a long one breaks after a
    comma instead of running off the page)."""
    assert problem.x is not None and problem.w is not None and problem.y is not None
    rows = [rf"$\mathbf{{x}} = {_vector(problem.x)}$", rf"$\mathbf{{w}} = {_vector(problem.w)}$"]
    bias = problem.b_values
    if bias is not None and bias_notation(problem.bias).per_output:
        rows.append(rf"$\mathbf{{b}} = {_vector(bias)}$")
    elif bias is not None:
        rows.append(rf"$b = {number(bias[0])}$")
    rows.append(rf"$\mathbf{{y}} = {_vector(problem.y)}$")
    rows.append(rf"learning rate $\alpha = {number(problem.lr)}$")
    return "\\begin{flushleft}\n" + " \\\\\n".join(rows) + "\n\\end{flushleft}"


def _name(key: str, per_output: bool) -> str:
    """A quantity as the sheet writes it (inline math): ∂L/∂w as a fraction, a shared bias
    as the scalar b."""
    b = r"\mathbf{b}" if per_output else "b"
    return {
        "grad_yhat": _d(_L, _YHAT),
        "grad_w": _d(_L, _W),
        "grad_b": _d(_L, b),
        "grad_x": _d(_L, _X),
        "w_next": r"\mathbf{w}^{(1)}",
        "b_next": rf"{b}^{{(1)}}",
    }[key]


def _and(names: Sequence[str]) -> str:
    """``$a$``, ``$a$ and $b$``, ``$a$, $b$ and $c$``."""
    math = [f"${name}$" for name in names]
    return math[0] if len(math) == 1 else ", ".join(math[:-1]) + " and " + math[-1]


def _tasks(problem: Problem) -> tuple[list[str], list[str]]:
    """The tasks with symbols, and with the numbers: the sections of the worked derivation
    (:func:`symconv.worked1d.outline`, the report's sections) with the answers left out —
    no bias, nothing asked about b."""
    bias = bias_notation(problem.bias)
    parts = {part.key: part.quantities for part in outline(problem)}
    gradients = [
        _name(key, bias.per_output)
        for key in parts
        if key.startswith("grad_") and key != "grad_yhat"
    ]
    grads = _and(gradients)
    params = _and([_name(key, bias.per_output) for key in parts["update"]])
    with_bias = " plus its bias" if bias.present else ""
    tasks = {
        "forward": (
            r"\emph{Forward pass.} Determine the output length $m$ from $n, k, s, p, d$ and "
            rf"write every output $\hat{{y}}_i$, $i = 1, \dots, m$, as the sum of products of "
            f"kernel and input entries{with_bias} (padded positions included where a window "
            "reaches them).",
            rf"Compute the outputs $\hat{{\mathbf{{y}}}}$ and the loss ${_L}$.",
        ),
        "loss": (
            rf"\emph{{Loss.}} Write ${_L}$ in terms of the outputs $\hat{{y}}_i$ and the "
            "targets $y_i$.",
            None,
        ),
        "grad_yhat": (
            rf"\emph{{Backward pass.}} Derive ${_name('grad_yhat', bias.per_output)}$; then, "
            f"with the chain rule, {grads}, entry by entry.",
            rf"Compute ${_name('grad_yhat', bias.per_output)}$, {grads}.",
        ),
        "update": (
            rf"\emph{{Update.}} Write {params} after one step of gradient descent with "
            r"learning rate $\alpha$.",
            f"Compute {params}.",
        ),
        "after": (
            None,
            r"Run the forward pass again with the updated parameters: give "
            rf"$\hat{{\mathbf{{y}}}}^{{(1)}}$ and the new loss ${_L}^{{(1)}}$. Did the step "
            "lower the loss?",
        ),
    }
    symbols: list[str] = []
    numbers: list[str] = []
    for key in parts:
        with_symbols, with_numbers = tasks.get(key, (None, None))
        if with_symbols is not None:
            symbols.append(with_symbols)
        if with_numbers is not None:
            numbers.append(with_numbers)
    return symbols, numbers


def _enumerate(items: Sequence[str], start: int = 1) -> str:
    body = "\n".join(f"  \\item {item}" for item in items)
    return (
        f"\\begin{{enumerate}}\n  \\setcounter{{enumi}}{{{start - 1}}}\n{body}\n\\end{{enumerate}}"
    )


def render_sheet(
    problem: Problem,
    *,
    variant: str,
    student: str | None = None,
    max_decimals: int | None = None,
) -> str:
    """The LaTeX source of the question sheet of ``problem`` (a 1-D one-channel problem
    with values and a loss with a target), for ``variant`` (its id) and, when given,
    ``student`` (whose id also names the file to hand in).  ``max_decimals`` (the
    template's constraint) is stated as a check for the students.  Deterministic.

    Example:
        >>> from symconv.problem import load_problem
        >>> tex = render_sheet(load_problem("exercise2"), variant="v001")
        >>> r"\\mathbf{x} = (1," in tex, "14" in tex  # the numbers, not the outputs (14, 20)
        (True, False)
    """
    layer = problem.layer
    if (
        not layer.is_single
        or layer.symmetric_padding is None
        or not problem.has_values
        or not problem.loss_spec.has_target
    ):
        raise UnsupportedLayerError(
            "a question sheet is written for a 1-D one-channel batch-1 layer with even "
            f"padding, values and a loss with a target; this problem has {layer.describe()} "
            f"and the loss {problem.loss}"
        )
    who = escape(student if student is not None else variant)
    author = f"Question sheet, variant {escape(variant)}"
    if student is not None:
        author += rf" \\ for {who}"
    symbols, numbers = _tasks(problem)
    parts = [
        "This is your own variant of the exercise: its layer, loss, learning rate and numbers "
        "may differ from your neighbours', so compare your methods with others, not your "
        "results.",
        r"\section*{The layer}",
        "A one-dimensional convolution layer as used in deep learning: a cross-correlation "
        r"(the kernel is not flipped) that maps the input $\mathbf{x}$ to the outputs "
        r"$\hat{\mathbf{y}} = (\hat{y}_1, \dots, \hat{y}_m)$, each output the weighted sum of "
        r"one window of the (padded) input, $w_1$ weighting the window's first entry. "
        "Indices start at 1.",
        "\\begin{itemize}\n"
        + "\n".join(f"  \\item {item}" for item in _layer_items(problem))
        + "\n\\end{itemize}",
        r"The loss compares the outputs with the targets $\mathbf{y}$: it is "
        + _loss_text(problem),
        r"Training takes one step of plain gradient descent with learning rate $\alpha$ on "
        + (r"the kernel and the bias." if bias_notation(problem.bias).present else "the kernel."),
        r"\section*{Your numbers}",
        _numbers(problem),
        r"\section*{Tasks}",
        r"\subsection*{With symbols}",
        _enumerate(symbols),
        r"\subsection*{With your numbers}",
        _enumerate(numbers, start=len(symbols) + 1),
    ]
    exact = (
        "Work exactly, with fractions or decimals, and do not round."
        if max_decimals is None
        else "Work exactly and do not round: every result of this variant is a terminating "
        f"decimal with at most {max_decimals} "
        + ("decimal place" if max_decimals == 1 else "decimal places")
        + "; a longer one means a slip."
    )
    parts += [
        r"\section*{Handing in}",
        exact + " Hand in one file named "
        rf"\texttt{{{who}.md}}, \texttt{{{who}.tex}} or \texttt{{{who}.ipynb}} "
        "(Markdown, LaTeX or a Jupyter notebook), each equation in a display of its own "
        r"(\texttt{\$\$ \dots\ \$\$} in Markdown) with the names used on this sheet: "
        rf"$\hat{{y}}_i$, ${_L}$, ${_d(_L, 'w_j')}$, $w_j^{{(1)}}$, \dots",
    ]
    heading = escape(problem.title)
    return (
        _PREAMBLE
        + f"\n\\title{{{heading}}}\n\\author{{{author}}}\n\\date{{}}\n\n"
        + "\\begin{document}\n\\maketitle\n\n"
        + "\n\n".join(parts)
        + "\n\n\\end{document}\n"
    )


def write_sheet(
    problem: Problem,
    out_dir: Path,
    *,
    name: str,
    variant: str,
    student: str | None = None,
    max_decimals: int | None = None,
    pdf: bool = True,
    path: str | None = None,
) -> ReportResult:
    """Write ``<name>.tex`` into ``out_dir`` and, when ``pdf``, compile ``<name>.pdf``
    (the .tex and the PDF are written together, all or nothing; without a PDF a stale one of
    that name is removed).  Returns what was written; a TeX failure is in
    ``result.error`` (the .tex and the log are written).  Raises
    :class:`~symconv.errors.NoEngineError` when ``pdf`` and no TeX engine is found."""
    stem = safe_stem(name)
    tex = render_sheet(problem, variant=variant, student=student, max_decimals=max_decimals)
    result = ReportResult(tex=out_dir / f"{stem}.tex")
    files = {f"{stem}.tex": tex.encode("utf-8")}
    pdf_path, log_path = out_dir / f"{stem}.pdf", out_dir / f"{stem}.log"
    remove: list[str] = []
    pdf_bytes: bytes | None = None
    if pdf:
        try:
            pdf_bytes, _ = compile_tex(tex, name=stem, path=path)
        except TexError as exc:
            result.error = exc
    if pdf_bytes is not None:
        files[pdf_path.name] = pdf_bytes
        result.pdf = pdf_path
        if log_path.exists():
            remove.append(log_path.name)
    else:
        if result.error is not None:
            files[log_path.name] = result.error.log.encode("utf-8")
            result.log = log_path
        if pdf_path.exists():
            remove.append(pdf_path.name)  # a PDF of another .tex would contradict it
    write_together(out_dir, stem, files, remove)
    return result
