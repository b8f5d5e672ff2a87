"""The checker's speed: the binding step's cost, and a whole document against its budget.

``binding_cost``: judging the corpus's blog documents in process with the binding
inferred (as ``symconv check`` does) against the same documents judged in the checker's
own names (``infer`` replaced by the empty binding), side by side.  ``submission``: the
exercise's submission through the CLI (a fresh process, the worker included) against the
3 s the README promises.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

from benchmarks.common import emit, interleaved_median_times
from symconv.check import judge as judge_module
from symconv.check.bind import Binding
from symconv.check.document import read_equations
from symconv.check.truth import Truth
from symconv.problem import load_problem

ROOT = Path(__file__).resolve().parent.parent
BLOG = ROOT / "tests" / "data" / "check" / "corpus" / "blog"
SUBMISSION = ROOT.parent / "shared" / "exercise" / "submission.md"


def _judge_all(documents: list[tuple[str, Truth]]) -> None:
    for text, truth in documents:
        equations = read_equations(text)
        state = judge_module.begin_document(equations, truth, text=text)
        if not isinstance(state, list):
            for equation in equations:
                judge_module.judge_next(equation, state)


def binding_cost() -> None:
    problem = load_problem(str(BLOG / "n6k3_shared.toml"))
    truth = Truth(problem)
    _ = truth.d, truth.steps
    texts = [p.read_text("utf-8") for p in sorted(BLOG.glob("blog_shared_*.md"))]
    documents = [(text, truth) for text in texts]

    def plain() -> None:
        with mock.patch.object(judge_module, "infer", lambda *a, **k: Binding()):
            _judge_all(documents)

    ours, base = interleaved_median_times([lambda: _judge_all(documents), plain], 5, warmup=1)
    emit(
        "check_blog_documents_with_binding",
        ours,
        "check_same_documents_without_binding",
        base,
        note="the documents are in o/t/δ notation: without the binding most equations are "
        "unchecked, so the baseline does less work",
    )


def binding_overhead() -> None:
    """The exercise's own dialect (the binding changes nothing): the inference's own cost."""
    if not SUBMISSION.exists():
        return
    truth = Truth(load_problem("exercise2"))
    _ = truth.d, truth.steps
    documents = [(SUBMISSION.read_text("utf-8"), truth)]

    def plain() -> None:
        with mock.patch.object(judge_module, "infer", lambda *a, **k: Binding()):
            _judge_all(documents)

    ours, base = interleaved_median_times([lambda: _judge_all(documents), plain], 5, warmup=1)
    emit("check_submission_with_binding", ours, "check_submission_without_binding", base)


def submission() -> None:
    if not SUBMISSION.exists():
        return
    command = [sys.executable, "-m", "symconv", "check", str(SUBMISSION), "--json"]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    emit("check_submission_cli", sorted(times)[1], "budget", 3.0, goal="ratio <= 1")


def main() -> None:
    binding_overhead()
    binding_cost()
    submission()


if __name__ == "__main__":
    main()
