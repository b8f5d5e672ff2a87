"""``symconv verify``: every quantity × every backend against the exact truth.

Exit 0 when every check holds, 1 on any mismatch (naming the configuration and the
quantity, and how to replay it), 2 on bad input.

With ``--impl MODULE:NAME`` (and ``--impl-backward MODULE:NAME``) it proves the user's
own layer instead, as :mod:`symconv.testing` does in pytest: ŷ, ∂L/∂x, ∂L/∂w, ∂L/∂b of
each configuration against the exact values; a mismatch prints the configuration, the
quantity, the first wrong entry, the diagnosis and the command that replays the case
(exit 1); a callable that cannot be imported or called is one line on stderr (exit 2).

A configuration whose exact truth would cost more than ``symconv derive`` allows its
explicit form (:func:`symconv.crosscheck.check_cost`: padding, dilation, channels and
batch all count) is refused before any work: one line, exit 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``symconv verify`` (cheap: no numpy or torch imported here)."""
    from symconv.cli.options import add_problem_options

    add_problem_options(parser)
    parser.add_argument("--sweep", metavar="N", type=int, help="check N random configurations")
    parser.add_argument("--seed", metavar="S", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--case",
        metavar="I",
        type=int,
        help="with --sweep: replay only configuration I (1-based) of that sweep",
    )
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32", "all"),
        default=None,
        help="which floating-point backends to run (default all; with --impl float64)",
    )
    parser.add_argument(
        "--mutant",
        metavar="NAME",
        action="append",
        default=[],
        help="add a deliberately wrong kernel, which must be caught (see --list-mutants)",
    )
    parser.add_argument("--list-mutants", action="store_true", help="list the wrong kernels")
    impl = parser.add_argument_group(
        "your own layer",
        "prove an implementation of yours: forward(x, w, b, *, stride, padding, dilation, "
        "groups, padding_mode) -> y and backward(x, w, b, grad_y, *, same) -> (grad_x, grad_w, "
        "grad_b) on NumPy arrays; without --impl-backward, forward gets torch tensors and is "
        "differentiated by autograd. Without --problem or a size: --sweep 20",
    )
    impl.add_argument(
        "--impl", metavar="MODULE:NAME", help="your forward, importable from here or sys.path"
    )
    impl.add_argument("--impl-backward", metavar="MODULE:NAME", help="your backward")
    impl.add_argument(
        "--framework",
        choices=("numpy", "torch", "jax"),
        help="what the callables get: numpy arrays (the default with --impl-backward), torch "
        "tensors (the default without: autograd), jax arrays (jax.vjp without a backward)",
    )
    impl.add_argument(
        "--supports",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="what your layer supports (the cases are drawn from it), fields of "
        "symconv.testing.Supports: dims=1,2 max_stride=3 max_dilation=2 max_padding=2 "
        "uneven_padding=false padding_modes=zeros biases=shared,none groups=true "
        "max_channels=3 max_batch=3 (the defaults)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--plain", action="store_true", help="no colour or box drawing")
    from symconv.terminal import add_width_option

    add_width_option(parser)


def _backends(dtype: str) -> tuple[str, ...]:
    from symconv.crosscheck import BACKENDS

    if dtype == "all":
        return BACKENDS
    return tuple(b for b in BACKENDS if b.endswith(dtype) or b == "torch-gradcheck")


def run(args: argparse.Namespace) -> int:
    """Run the checks; print a table or JSON; return the exit status."""
    import random

    from symconv import crosscheck
    from symconv.cli.options import console_from_args, load_problem_from_args
    from symconv.errors import UsageError
    from symconv.mutants import MUTANTS

    if args.impl is not None or args.impl_backward is not None:
        return _run_impl(args)
    for given, flag in ((args.framework, "--framework"), (args.supports, "--supports")):
        if given:
            raise UsageError(f"`{flag}` needs --impl MODULE:NAME (your own layer)")
    if args.list_mutants:
        for name, function in MUTANTS.items():
            print(f"{name}: {(function.__doc__ or '').strip()}")
        return 0
    unknown = [name for name in args.mutant if name not in MUTANTS]
    if unknown:
        raise UsageError(f"`--mutant` (={unknown[0]}) must be one of {', '.join(MUTANTS)}")
    extra = {f"mutant:{name}": MUTANTS[name] for name in args.mutant}
    backends = _backends(args.dtype or "all")
    if args.sweep is not None and not 1 <= args.sweep <= 100_000:
        raise UsageError(f"`--sweep` (={args.sweep}) must be between 1 and 100000")
    if args.case is not None and (args.sweep is None or not 1 <= args.case <= args.sweep):
        raise UsageError(f"`--case` (={args.case}) needs --sweep N with 1 <= case <= N")

    start = time.perf_counter()
    report = crosscheck.Report()
    if args.sweep is not None:
        rng = random.Random(args.seed)
        for index in range(1, args.sweep + 1):
            # draw every configuration, so that case I is the same with or without --case
            problem = crosscheck.random_problem(rng)
            if args.case is not None and index != args.case:
                continue
            checks = crosscheck.check_problem(problem, backends=backends, extra=extra)
            for check in checks:
                check.config["case"] = index
            report.checks += checks
            report.configs += 1
    else:
        problem = load_problem_from_args(_with_default_problem(args))
        crosscheck.check_cost(problem)  # too costly a truth: refused before any work
        if not problem.has_values:
            problem = crosscheck.random_values(problem, random.Random(args.seed))
        report.checks = crosscheck.check_problem(problem, backends=backends, extra=extra)
        report.configs = 1
    elapsed = time.perf_counter() - start

    if args.json:
        shown = report.checks if args.sweep is None else _sweep_selection(report)
        document: dict[str, Any] = {
            "ok": report.ok,
            "configs": report.configs,
            "seconds": round(elapsed, 3),
            "checks": [check.as_json() for check in shown],
        }
        from symconv.serialize import dump_strict

        dump_strict(document, sys.stdout, indent=1)  # no NaN/Infinity tokens: null + a note
    else:
        _render(console_from_args(args), report, args, elapsed)
    return 0 if report.ok else 1


def _run_impl(args: argparse.Namespace) -> int:
    """``verify --impl``: the user's own layer on a problem and/or a sweep of cases."""
    from symconv.cli.options import load_problem_from_args, size_given
    from symconv.errors import ImplementationError, UsageError
    from symconv.testing.api import CaseResult, load_callable, run_case
    from symconv.testing.supports import Supports, cases

    if args.impl is None:
        raise UsageError("`--impl-backward` needs --impl MODULE:NAME (the forward)")
    if args.mutant or args.list_mutants:
        raise UsageError("`--mutant` and `--list-mutants` cannot be combined with --impl")
    if args.framework == "numpy" and args.impl_backward is None:
        raise UsageError(
            "`--framework` (=numpy) needs --impl-backward (NumPy has no autograd); without it, "
            "forward is differentiated by torch (or --framework jax)"
        )
    if args.sweep is not None and not 1 <= args.sweep <= 100_000:
        raise UsageError(f"`--sweep` (={args.sweep}) must be between 1 and 100000")
    if args.case is not None and (args.sweep is None or not 1 <= args.case <= args.sweep):
        raise UsageError(f"`--case` (={args.case}) needs --sweep N with 1 <= case <= N")
    supports = Supports.from_options(args.supports)
    forward = load_callable(args.impl, "--impl")
    backward = (
        None if args.impl_backward is None else load_callable(args.impl_backward, "--impl-backward")
    )
    dtypes = ("float64", "float32") if args.dtype == "all" else (args.dtype or "float64",)
    command = (
        f"symconv verify --impl {args.impl}"
        + (f" --impl-backward {args.impl_backward}" if args.impl_backward else "")
        + (f" --framework {args.framework}" if args.framework else "")
    )

    # what to check: the problem (if one is named or sized), then the sweep (the default)
    targets: list[tuple[Any, str]] = []
    if args.problem is not None or size_given(args):
        from symconv.crosscheck import check_cost

        problem = load_problem_from_args(args)
        check_cost(problem)  # too costly a truth: refused before any work
        targets.append((problem, ""))
    sweep = args.sweep if args.sweep is not None else (None if targets else 20)
    if sweep is not None:
        options = "".join(f" --supports {option}" for option in supports.options())
        for case in cases(supports, sweep=sweep, seed=args.seed):
            if args.case is None or case.index == args.case:
                replay = f"{command} --sweep {sweep} --seed {args.seed} --case {case.index}"
                targets.append((case, replay + options))

    start = time.perf_counter()
    results: list[CaseResult] = []
    for target, replay in targets:
        for dtype in dtypes:
            suffix = " --dtype float32" if replay and dtype == "float32" else ""
            try:
                results.append(
                    run_case(
                        forward,
                        backward,
                        target,
                        dtype=dtype,
                        framework=args.framework,
                        replay=replay + suffix,
                    )
                )
            except ImplementationError as exc:
                option, spec = (
                    ("--impl", args.impl)
                    if exc.role == "forward"
                    else ("--impl-backward", args.impl_backward)
                )
                raise UsageError(f"`{option}` (={spec}) {exc.detail} on {exc.where}") from None
    elapsed = time.perf_counter() - start
    failed = [result for result in results if result.mismatch is not None]
    ok = not failed
    if args.json:
        report = _report([check for result in results for check in result.checks])
        diagnoses = {
            id(check): result.diagnosis.sentence if result.diagnosis else None
            for result in results
            for check in result.checks
        }
        shown = report.checks if sweep is None else _sweep_selection(report)
        document: dict[str, Any] = {
            "ok": ok,
            "configs": len(targets),
            "seconds": round(elapsed, 3),
            "checks": [_impl_json(check, diagnoses.get(id(check))) for check in shown],
            "failures": [
                {
                    "case": result.case.index or None,
                    "quantity": result.mismatch.quantity,
                    "diagnosis": result.mismatch.diagnosis,
                    "replay": result.mismatch.replay or None,
                    "message": str(result.mismatch),
                }
                for result in failed
                if result.mismatch is not None
            ],
        }
        from symconv.serialize import dump_strict

        dump_strict(document, sys.stdout, indent=1)  # no NaN/Infinity tokens: null + a note
        return 0 if ok else 1
    for result in failed[:10]:
        print(str(result.mismatch) + "\n")
    if len(failed) > 10:
        print(f"… and {len(failed) - 10} more failing configurations (see --json)\n")
    what = f"{len(targets)} configuration(s) × {', '.join(dtypes)} of {args.impl}"
    if ok:
        print(f"{what}: every quantity matches its exact value ({elapsed:.1f} s)")
    else:
        print(f"{what}: {len(failed)} FAILED ({elapsed:.1f} s)")
    return 0 if ok else 1


def _report(checks: list[Any]) -> Any:
    """The checks as a :class:`symconv.crosscheck.Report` (for the sweep selection)."""
    from symconv.crosscheck import Report

    return Report(checks=checks, configs=len({id(check.config) for check in checks}))


def _impl_json(check: Any, diagnosis: str | None) -> dict[str, Any]:
    """A check of ``--impl`` as JSON: ``verify --json``'s fields, the worst entry, and the
    diagnosis of a failing check."""
    out: dict[str, Any] = check.as_json()
    out["index"] = None if check.index is None else list(check.index)
    out["expected"] = check.expected
    out["actual"] = check.actual
    out["diagnosis"] = None if check.ok else diagnosis
    return out


def _with_default_problem(args: argparse.Namespace) -> argparse.Namespace:
    """Without --problem and without a size (--n, --input-shape), verify the built-in exercise."""
    from symconv.cli.options import size_given

    if args.problem is None and not size_given(args):
        args.problem = "exercise2"
    return args


def _layer_text(config: dict[str, Any]) -> str:
    """A failing configuration in one line: ``2-D 6×6, 2→3 ch, k 3×2, s 2×1, ...``."""
    times = "×".join
    pads = config["padding"]
    pad = times(str(a) if a == b else f"{a}+{b}" for a, b in pads)
    text = (
        f"{len(config['input_shape'])}-D {times(map(str, config['input_shape']))}, "
        f"{config['in_channels']}→{config['out_channels']} ch"
        + (f" g{config['groups']}" if config["groups"] > 1 else "")
        + f", k {times(map(str, config['kernel_size']))}, s {times(map(str, config['stride']))}"
        + f", p {pad} {config['padding_mode']}, d {times(map(str, config['dilation']))}"
        + f", bias {config['bias']}, {config['loss']}, batch {config['batch']}"
    )
    return text


def _ratio(check: Any) -> float:
    """The largest error/tolerance over the entries of a check (> 1: the check fails)."""
    if not check.ok and not math.isfinite(check.max_abs_err):
        return float("inf")
    return float(check.ratio)


def _sweep_selection(report: Any) -> list[Any]:
    """The failing checks and the worst check per quantity × backend."""
    failing: list[Any] = report.failing()
    seen = {id(check) for check in failing}
    return failing + [check for check in report.worst() if id(check) not in seen]


def _render(console: Any, report: Any, args: argparse.Namespace, elapsed: float) -> None:
    from rich.table import Table
    from rich.text import Text

    from symconv.crosscheck import QUANTITIES
    from symconv.notation import quantity
    from symconv.terminal import fitted_tables

    checks = report.checks if args.sweep is None else report.worst()
    backends = list(dict.fromkeys(check.backend for check in checks))
    cells = {(c.quantity, c.backend): c for c in checks}
    title = (
        "each quantity against its exact value: ✓ within tolerance, ✗ not"
        if args.sweep is None
        else f"worst case over {report.configs} random configurations (seed {args.seed})"
    )
    headers: list[tuple[str, dict[str, Any]]] = [("backend", {})]
    headers += [(quantity(q).short, {"justify": "center"}) for q in QUANTITIES]
    headers += [("max rel err", {"justify": "right"}), ("err/tol", {"justify": "right"})]
    rows: list[list[Text]] = []
    for backend in backends:
        row: list[Text] = [Text(backend.replace("mutant:", "✗ "))]
        mine = [cells[(q, backend)] for q in QUANTITIES if (q, backend) in cells]
        for name in QUANTITIES:
            check = cells.get((name, backend))
            if check is None:
                row.append(Text("·", style="dim"))
            else:
                row.append(
                    Text("✓" if check.ok else "✗", style="green" if check.ok else "bold red")
                )
        if backend == "torch-gradcheck":
            row += [Text("—"), Text("—")]
        else:
            rel = max(c.max_rel_err for c in mine)
            ratio = max(_ratio(c) for c in mine)
            row += [
                Text(f"{rel:.1e}"),
                Text(f"{ratio:.2g}", style="green" if ratio <= 1 else "bold red"),
            ]
        rows.append(row)
    console.print(Text(title))

    def borderless() -> Table:
        return Table(box=None, padding=(0, 1))

    for table in fitted_tables(console, borderless, headers, rows):
        console.print(table)
    failing = report.failing()
    verdict = "all checks hold" if report.ok else f"{len(failing)} check(s) FAILED"
    console.print(
        f"{report.configs} configuration(s), {len(report.checks)} checks, "
        f"{elapsed:.1f} s: {verdict}",
        style="green" if report.ok else "bold red",
    )
    # one line per failing backend and configuration: what failed, where, how to replay
    groups: dict[tuple[str, int], list[Any]] = {}
    for check in failing:
        groups.setdefault((check.backend, check.config.get("case", 0)), []).append(check)
    for (backend, case), group in list(groups.items())[:10]:
        config = group[0].config
        layer = _layer_text(config)
        worst = max(group, key=_ratio)
        names = ", ".join(check.quantity for check in group)
        replay = (
            f"; replay: symconv verify --sweep {args.sweep} --seed {args.seed} --case {case}"
            if case
            else ""
        )
        where = ""
        if worst.index is not None and worst.expected is not None:
            entry = "[" + ", ".join(str(i) for i in worst.index) + "]" if worst.index else ""
            where = (
                f" at {worst.quantity}{entry} (0-based): expected {worst.expected:.6g}, "
                f"got {worst.actual:.6g}"
            )
        console.print(
            Text(
                f"✗ {backend}: {names} ({layer}); worst {worst.quantity} |error| "
                f"{worst.max_abs_err:.3g} > tolerance {worst.tolerance:.3g}{where}{replay}"
            )
        )
    if len(groups) > 10:
        console.print(f"… and {len(groups) - 10} more failing backends/configurations (see --json)")
