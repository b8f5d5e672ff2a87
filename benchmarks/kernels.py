"""Kernel benchmarks: generated NumPy kernels vs torch convNd + autograd, and the explicit
derivation + lambdify vs naive SymPy.  One JSON line per measurement (see run.py).

The kernel rows time forward + loss + backward (∂L/∂w, ∂L/∂b, ∂L/∂x) in float64 on both
sides, measured side by side in this process (interleaved repetitions, medians):

- ``kernel_fwd_bwd_float64_b{B}_n{n}_k{k}``: 1-D, one channel (the "taps" design);
- ``kernel_fwd_bwd_float64_{problem}_b50_{threads}``: the experiment's two Conv2d layers
  (mnist_conv1: 1→5, k4, s2, p1 on 28×28; mnist_conv2: 5→10, k4, s2, p1 on 14×14) with a
  batch of 50 (the "im2col" design), once with one thread on both sides (torch
  ``set_num_threads(1)``, NumPy's BLAS limited to one thread by threadpoolctl) and once
  with each library's default threads.  Goal: ratio <= 1.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from benchmarks.common import emit, interleaved_median_times
from symconv.kernels import GeneratedKernels, generate, lambdify_explicit
from symconv.problem import Problem, load_problem
from symconv.symbolic.explicit import derive_explicit


def _problem(n: int, k: int, batch: int = 1) -> Problem:
    return load_problem(
        None,
        {
            "layer.input_length": n,
            "layer.kernel_size": k,
            "layer.bias": "shared",
            "layer.batch": batch,
        },
    )


def _fwd_bwd(kern: GeneratedKernels, x: Any, w: Any, b: Any, y: Any) -> Callable[[], None]:
    """Our forward pass, loss and backward pass (no SGD update), from the printed functions."""
    f = kern.functions

    def ours() -> None:
        cols = f["columns"](f["pad"](x))
        target = f["internal"](y)
        yhat = f["forward"](cols, w, b)
        f["loss"](yhat, target)
        g = f["grad_yhat"](yhat, target)
        f["grad_w"](g, cols)
        f["grad_b"](g)
        f["grad_x"](g, w)

    return ours


def _torch_fwd_bwd(problem: Problem, x: Any, w: Any, b: Any, y: Any) -> Callable[[], None]:
    """torch's convNd + the same loss + autograd's backward, on fresh leaves each call."""
    import torch
    import torch.nn.functional as F

    layer = problem.layer
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[layer.ndim]
    padding = layer.symmetric_padding
    if padding is None or layer.padding_mode != "zeros" or layer.bias != "shared":
        raise ValueError("the torch baseline takes symmetric zero padding and a shared bias")
    xt, wt, bt, yt = (torch.tensor(a) for a in (x, w, b, y))

    def theirs() -> None:
        xs = xt.clone().requires_grad_(True)
        ws = wt.clone().requires_grad_(True)
        bs = bt.clone().requires_grad_(True)
        yhat = conv(xs, ws, bs, stride=layer.stride, padding=padding, dilation=layer.dilation)
        loss = 0.5 * ((yt - yhat) ** 2).sum()
        loss.backward()  # type: ignore[no-untyped-call]

    return theirs


def _arrays(problem: Problem, seed: int = 0) -> tuple[Any, Any, Any, Any]:
    layer = problem.layer
    rng = np.random.default_rng(seed)
    assert layer.b_shape is not None
    return (
        rng.standard_normal(layer.x_shape),
        rng.standard_normal(layer.w_shape),
        rng.standard_normal(layer.b_shape),
        rng.standard_normal(layer.y_shape),
    )


@contextlib.contextmanager
def _threads(count: int | None) -> Iterator[str]:
    """One thread (torch and NumPy's BLAS) or the defaults; yields a label for the row."""
    import torch

    default = torch.get_num_threads()
    if count is None:
        yield f"threads_default(torch={default})"
        return
    limits: Any = contextlib.nullcontext()
    blas = "blas_threads_default"
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        limits = threadpool_limits(count)
        blas = f"blas_threads{count}"
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    torch.set_num_threads(count)
    try:
        with limits:
            yield f"threads{count}({blas})"
    finally:
        torch.set_num_threads(default)


def _check_agree(kern: GeneratedKernels, problem: Problem, arrays: tuple[Any, ...]) -> float:
    """Largest difference of our step from torch's (a benchmark of wrong code is void)."""
    import torch
    import torch.nn.functional as F

    layer = problem.layer
    x, w, b, y = arrays
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[layer.ndim]
    xs, ws, bs = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    padding = layer.symmetric_padding
    if padding is None:
        raise ValueError("the torch baseline takes symmetric padding")
    yhat = conv(xs, ws, bs, stride=layer.stride, padding=padding, dilation=layer.dilation)
    (0.5 * ((torch.tensor(y) - yhat) ** 2).sum()).backward()  # type: ignore[no-untyped-call]
    out = kern.step(x, w, b, y, 0.0)
    pairs = [(out["yhat"], yhat), (out["grad_w"], ws.grad), (out["grad_b"], bs.grad),
             (out["grad_x"], xs.grad)]
    return max(
        float(np.max(np.abs(ours - t.detach().numpy()))) for ours, t in pairs if t is not None
    )


def kernel_vs_torch(batch: int, n: int, k: int, repeats: int = 7) -> None:
    """1-D one-channel layer: generated kernels vs conv1d + autograd (default threads)."""
    import torch

    problem = _problem(n, k, batch)
    arrays = _arrays(problem)
    kern = generate(problem)
    ours = _fwd_bwd(kern, *arrays)
    theirs = _torch_fwd_bwd(problem, *arrays)
    x, _, _, y = arrays

    def floor() -> None:
        # streaming x and y once: what any kernel must at least read
        x.copy()
        y.copy()

    t_ours, t_torch, t_floor = interleaved_median_times([ours, theirs, floor], repeats)
    emit(
        f"kernel_fwd_bwd_float64_b{batch}_n{n}_k{k}",
        t_ours,
        f"torch{torch.__version__}_conv1d_autograd_threads{torch.get_num_threads()}",
        t_torch,
        design=kern.strategy,
        floor_s=round(t_floor, 6),
        ratio_to_floor=round(t_ours / t_floor, 2),
        max_abs_diff=_check_agree(kern, problem, arrays),
        goal="ratio <= 0.5",
    )


def mnist_layer_vs_torch(name: str, batch: int = 50, repeats: int = 200) -> None:
    """An experiment layer (Conv2d) with a batch of 50: generated kernels vs conv2d +
    autograd, one thread on both sides, then the default threads."""
    import torch

    problem = load_problem(name).with_layer(batch=batch)
    arrays = _arrays(problem)
    kern = generate(problem)
    agree = _check_agree(kern, problem, arrays)
    for count in (1, None):
        with _threads(count) as threads:
            ours = _fwd_bwd(kern, *arrays)
            theirs = _torch_fwd_bwd(problem, *arrays)
            # one thread: strictly alternating calls; default threads: alternating blocks
            # of 20 calls (each library's thread pool spins for a while after its last
            # call, which would slow the other library's first calls down)
            block = 1 if count == 1 else 20
            t_ours, t_torch = interleaved_median_times(
                [ours, theirs], repeats, warmup=20, block=block
            )
        label = "threads1" if count == 1 else "threads_default"
        emit(
            f"kernel_fwd_bwd_float64_{name}_b{batch}_{label}",
            t_ours,
            f"torch{torch.__version__}_conv2d_autograd_{threads}",
            t_torch,
            layer=problem.layer.describe(),
            design=kern.strategy,
            repeats=repeats,
            timing="alternating calls" if block == 1 else f"alternating blocks of {block}",
            max_abs_diff=agree,
            goal="ratio <= 1.0",
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
    mnist_layer_vs_torch("mnist_conv1")
    mnist_layer_vs_torch("mnist_conv2")
    kernel_vs_torch(256, 4096, 9)
    kernel_vs_torch(64, 16384, 33)
    explicit_vs_naive()


if __name__ == "__main__":
    main()
