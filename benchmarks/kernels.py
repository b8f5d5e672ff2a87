"""Kernel benchmarks: generated NumPy kernels vs torch conv1d + autograd, and the explicit
derivation + lambdify vs naive SymPy.  One JSON line per measurement (see run.py)."""

from __future__ import annotations

import gc
import sys
import threading
import time
from typing import Any

import numpy as np

from benchmarks.common import emit, median_time
from symconv.kernels import generate, lambdify_explicit
from symconv.problem import load_problem
from symconv.symbolic.explicit import derive_explicit


def _problem(n: int, k: int) -> Any:
    return load_problem(
        None, {"layer.input_length": n, "layer.kernel_size": k, "layer.bias": "shared"}
    )


def kernel_vs_torch(batch: int, n: int, k: int) -> None:
    """Loss, ∂L/∂w, ∂L/∂b, ∂L/∂x in float64: generated kernels vs conv1d + autograd."""
    import torch
    import torch.nn.functional as F

    problem = _problem(n, k)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n))
    y = rng.standard_normal((batch, problem.m))
    w = rng.standard_normal(k)
    b = np.float64(0.5)
    kern = generate(problem)

    def ours() -> None:
        xpad = kern.pad(x)
        yhat = kern.forward(xpad, w, b)
        kern.loss(yhat, y)
        g = kern.grad_yhat(yhat, y)
        kern.grad_w(g, xpad)
        kern.grad_b(g)
        kern.grad_x(g, w)

    xt = torch.tensor(x)
    yt = torch.tensor(y)
    wt = torch.tensor(w).reshape(1, 1, k)
    bt = torch.tensor([0.5], dtype=torch.float64)

    def theirs() -> None:
        xs = xt.clone().requires_grad_(True)
        ws = wt.clone().requires_grad_(True)
        bs = bt.clone().requires_grad_(True)
        yhat = F.conv1d(xs.unsqueeze(1), ws, bs).squeeze(1)
        loss = 0.5 * ((yt - yhat) ** 2).sum()
        loss.backward()

    def floor() -> None:
        # streaming x and y once: what any kernel must at least read
        x.copy()
        y.copy()

    ours()
    theirs()
    t_ours = median_time(ours, 7)
    t_torch = median_time(theirs, 7)
    t_floor = median_time(floor, 7)
    emit(
        f"kernel_fwd_bwd_float64_b{batch}_n{n}_k{k}",
        t_ours,
        f"torch{torch.__version__}_conv1d_autograd_threads{torch.get_num_threads()}",
        t_torch,
        floor_s=round(t_floor, 6),
        ratio_to_floor=round(t_ours / t_floor, 2),
        goal="ratio <= 0.5",
    )


def explicit_vs_naive(n: int = 1024, k: int = 9) -> None:
    """Explicit derivation + lambdify vs building the expanded ŷ, diff and lambdify naively."""
    import sympy

    problem = _problem(n, k)

    def ours() -> None:
        lambdify_explicit(derive_explicit(problem))

    def naive() -> None:
        xs = sympy.symbols(f"x1:{n + 1}")
        ws = sympy.symbols(f"w1:{k + 1}")
        b = sympy.Symbol("b")
        ys = sympy.symbols(f"y1:{problem.m + 1}")
        yhat = [sum(ws[j] * xs[i + j] for j in range(k)) + b for i in range(problem.m)]
        loss = sum(sympy.Rational(1, 2) * (y - e) ** 2 for y, e in zip(ys, yhat))
        grads = [sympy.diff(loss, v) for v in (*ws, b)]
        sympy.lambdify([*xs, *ws, b, *ys], grads, modules="numpy")

    gc.collect()  # start both from a clean heap (earlier benchmarks leave garbage behind)
    start = time.perf_counter()
    ours()
    t_ours = time.perf_counter() - start
    gc.collect()
    # the naive gradient is an Add of ~10^4 terms: Python's compiler recurses once per
    # term, so give it a deep stack (in a thread of its own) as a naive user would have to
    result: list[float] = []

    def timed_naive() -> None:
        start = time.perf_counter()
        naive()
        result.append(time.perf_counter() - start)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(1024 * 1024 * 1024)
    worker = threading.Thread(target=timed_naive)
    worker.start()
    worker.join()
    sys.setrecursionlimit(limit)
    t_naive = result[0]
    emit(
        f"explicit_derive_lambdify_n{n}_k{k}",
        t_ours,
        "naive_sympy_expand_diff_lambdify",
        t_naive,
        goal="ratio <= 0.02 (50x faster)",
    )


def main() -> None:
    kernel_vs_torch(256, 4096, 9)
    kernel_vs_torch(64, 16384, 33)
    explicit_vs_naive()


if __name__ == "__main__":
    main()
