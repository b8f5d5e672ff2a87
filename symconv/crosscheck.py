"""Cross-check every quantity against every backend, with a tolerance policy per dtype.

The truth is exact: the explicit SymPy expressions evaluated with ``Rational`` values
(summed over the batch).  Each backend computes the same quantities in floating point:

- ``lambdify-float64|32``: ``sympy.lambdify`` of the explicit expressions;
- ``kernel-float64|32``: NumPy kernels printed from the closed form (:mod:`symconv.kernels`);
- ``numpy-float64|32``: the NumPy reference written directly (no SymPy);
- ``torch-float64|32``: ``conv1d`` + autograd + ``torch.optim.SGD``;
- ``finite-diff-float64``: central differences of the NumPy loss (gradients only);
- ``torch-gradcheck``: ``torch.autograd.gradcheck`` of the loss (pass/fail).

**Tolerance policy.** A floating-point sum of N terms is off by at most about
N·eps·Σ|terms| (the magnitude of what was summed, not of the result, which may cancel).
So each entry gets ``tol = 4·eps·(n + k + m + 4)·magnitude`` where the magnitude is the
same quantity computed from absolute values (|x|, |w|, |b|, |y|, and |∂L/∂ŷ| bounded by
the magnitude of ŷ and y), which bounds the rounding error of every step that led to it.
eps is the unit roundoff of the backend's dtype.  Finite differences get
``tol = 64·eps·(magnitude of L)/h + 1e-9·magnitude`` for their step h (their error is
roundoff in L divided by the step).  A check fails when any entry exceeds its tolerance
or is not finite.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from sympy import Expr, Rational, Symbol

from symconv.errors import UnsupportedLayerError
from symconv.kernels import LambdifiedExplicit, generate, lambdify_explicit, layer_key
from symconv.problem import Problem, load_problem
from symconv.reference import numpy_conv
from symconv.symbolic.explicit import (
    EXPLICIT_LIMIT,
    QUANTITIES,
    ExplicitDerivation,
    derive_explicit,
)

__all__ = [
    "BACKENDS",
    "QUANTITIES",
    "Batch",
    "Check",
    "Report",
    "check_problem",
    "random_batch",
    "random_problem",
    "run_checks",
    "sweep",
]

BACKENDS = (
    "lambdify-float64",
    "lambdify-float32",
    "kernel-float64",
    "kernel-float32",
    "numpy-float64",
    "numpy-float32",
    "torch-float64",
    "torch-float32",
    "finite-diff-float64",
    "torch-gradcheck",
)

Quantities = dict[str, Any]
Backend = Callable[[Problem, "Batch", np.dtype[Any]], Quantities]


@dataclass(frozen=True)
class Batch:
    """Exact values of a batch: ``x`` B rows of n, ``y`` B rows of m, one ``w`` and ``b``."""

    x: tuple[tuple[Rational, ...], ...]
    w: tuple[Rational, ...]
    b: tuple[Rational, ...] | None  # untied: m entries; shared: one entry; none: None
    y: tuple[tuple[Rational, ...], ...]

    @classmethod
    def of_problem(cls, problem: Problem) -> Batch:
        """The problem's own values as a batch of one."""
        if problem.x is None or problem.w is None or problem.y is None:
            raise ValueError("the problem has no values")
        b = problem.b
        bias = None if b is None else (b if isinstance(b, tuple) else (b,))
        return cls((tuple(problem.x),), tuple(problem.w), bias, (tuple(problem.y),))


@dataclass(frozen=True)
class Check:
    """One quantity × one backend: errors against the exact truth."""

    config: dict[str, Any]
    quantity: str
    backend: str
    max_abs_err: float
    max_rel_err: float
    tolerance: float
    ok: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "quantity": self.quantity,
            "backend": self.backend,
            "max_abs_err": self.max_abs_err,
            "max_rel_err": self.max_rel_err,
            "tolerance": self.tolerance,
            "ok": self.ok,
        }


@dataclass
class Report:
    """All checks of one or more configurations."""

    checks: list[Check] = field(default_factory=list)
    configs: int = 0

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def failing(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def worst(self) -> list[Check]:
        """Per (quantity, backend), the check with the largest error/tolerance ratio."""
        best: dict[tuple[str, str], Check] = {}
        for check in self.checks:
            key = (check.quantity, check.backend)
            if key not in best or _badness(check) > _badness(best[key]):
                best[key] = check
        return list(best.values())


def _badness(check: Check) -> float:
    if not check.ok and not math.isfinite(check.max_abs_err):
        return math.inf
    return check.max_abs_err / check.tolerance if check.tolerance > 0 else math.inf


# ---------------------------------------------------------------------------------------
# the exact truth


def exact_quantities(derivation: ExplicitDerivation, batch: Batch, lr: Rational) -> Quantities:
    """Every quantity, exact, for a batch: gradients of parameters summed over samples.

    Lists of ``Rational`` with the shapes of :mod:`symconv.reference.numpy_conv`.
    """
    sym = derivation.symbols
    problem = derivation.problem
    biases = sym.bias_list()

    def forward(w: Iterable[Expr], b: Iterable[Expr] | None) -> list[list[Expr]]:
        rows = []
        params = dict(zip(sym.w, w)) | dict(zip(biases, b or ()))
        for x in batch.x:
            point = params | dict(zip(sym.x, x))
            rows.append([e.xreplace(point) for e in derivation.yhat])
        return rows

    loss_of_yhat = derivation.loss_of_yhat
    if loss_of_yhat is None:
        raise UnsupportedLayerError("the cross-check of an upstream gradient is not written yet")

    def loss(yhat: list[list[Expr]]) -> Expr:
        total = Rational(0)
        for row, y in zip(yhat, batch.y):
            point = dict(zip(sym.yhat, row)) | dict(zip(sym.y, y))
            total += loss_of_yhat.xreplace(point)
        return total

    yhat = forward(batch.w, batch.b)
    grad_yhat, grad_x = [], []
    grad_w = [Rational(0)] * problem.k
    grad_b = [Rational(0)] * len(biases)
    params: dict[Symbol, Expr] = dict(zip(sym.w, batch.w)) | dict(zip(biases, batch.b or ()))
    for x, y, row in zip(batch.x, batch.y, yhat):
        point = params | dict(zip(sym.x, x)) | dict(zip(sym.y, y)) | dict(zip(sym.yhat, row))
        grad_yhat.append([e.xreplace(point) for e in derivation.grad_yhat])
        grad_x.append([e.xreplace(point) for e in derivation.grad_x])
        grad_w = [a + e.xreplace(point) for a, e in zip(grad_w, derivation.grad_w)]
        if derivation.grad_b is not None:
            grad_b = [a + e.xreplace(point) for a, e in zip(grad_b, derivation.grad_b)]
    # one SGD step on the summed gradient
    w_next = [w - lr * g for w, g in zip(batch.w, grad_w)]
    b_next = None if batch.b is None else [b - lr * g for b, g in zip(batch.b, grad_b)]
    yhat_next = forward(w_next, b_next)
    shared = problem.bias == "shared"
    return {
        "yhat": yhat,
        "loss": loss(yhat),
        "grad_yhat": grad_yhat,
        "grad_w": grad_w,
        "grad_b": None if batch.b is None else (grad_b[0] if shared else grad_b),
        "grad_x": grad_x,
        "w_next": w_next,
        "b_next": None if b_next is None else (b_next[0] if shared else b_next),
        "yhat_next": yhat_next,
        "loss_next": loss(yhat_next),
    }


# ---------------------------------------------------------------------------------------
# backends


def _bias_array(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Any:
    if batch.b is None:
        return None
    if problem.bias == "shared":
        return np.asarray(float(batch.b[0]), dtype=dtype)
    return np.array([float(v) for v in batch.b], dtype=dtype)


def _arrays(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> tuple[Any, Any, Any, Any]:
    x = np.array([[float(v) for v in row] for row in batch.x], dtype=dtype)
    w = np.array([float(v) for v in batch.w], dtype=dtype)
    y = np.array([[float(v) for v in row] for row in batch.y], dtype=dtype)
    return x, w, _bias_array(problem, batch, dtype), y


def _kernel_backend(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    x, w, b, y = _arrays(problem, batch, dtype)
    return generate(problem).step(x, w, b, y, float(problem.lr))


def _lambdify_backend(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    x, w, b, y = _arrays(problem, batch, dtype)
    return _lambdified(problem).step(x, w, b, y, float(problem.lr))


def _numpy_backend(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    x, w, b, y = _arrays(problem, batch, dtype)
    layer = numpy_conv.Layer.from_problem(problem)
    return dict(numpy_conv.step(layer, x, w, b, y, float(problem.lr)))


def _single_thread_torch() -> None:
    """These problems are tiny: torch's thread pool only adds synchronisation (measured:
    conv1d went from 0.6 ms to 12 ms per call on a loaded 2-core machine)."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _torch_backend(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    from symconv.reference import torch_conv

    _single_thread_torch()
    x, w, b, y = _arrays(problem, batch, dtype)
    layer = numpy_conv.Layer.from_problem(problem)
    return dict(torch_conv.step(layer, x, w, b, y, float(problem.lr)))


def _finite_diff_backend(problem: Problem, batch: Batch, dtype: np.dtype[Any]) -> Quantities:
    from symconv.reference import finite_diff

    x, w, b, y = _arrays(problem, batch, dtype)
    layer = numpy_conv.Layer.from_problem(problem)
    return dict(finite_diff.loss_gradients(layer, x, w, b, y))


_BACKENDS: dict[str, tuple[Backend, str]] = {
    "lambdify-float64": (_lambdify_backend, "float64"),
    "lambdify-float32": (_lambdify_backend, "float32"),
    "kernel-float64": (_kernel_backend, "float64"),
    "kernel-float32": (_kernel_backend, "float32"),
    "numpy-float64": (_numpy_backend, "float64"),
    "numpy-float32": (_numpy_backend, "float32"),
    "torch-float64": (_torch_backend, "float64"),
    "torch-float32": (_torch_backend, "float32"),
    "finite-diff-float64": (_finite_diff_backend, "float64"),
}

_DERIVATIONS: dict[tuple[Any, ...], tuple[ExplicitDerivation, list[LambdifiedExplicit]]] = {}


def _cached(problem: Problem) -> tuple[ExplicitDerivation, list[LambdifiedExplicit]]:
    key = (*layer_key(problem), problem.lr)
    if key not in _DERIVATIONS:
        if len(_DERIVATIONS) > 512:
            _DERIVATIONS.clear()
        _DERIVATIONS[key] = (derive_explicit(problem), [])
    return _DERIVATIONS[key]


def _derivation(problem: Problem) -> ExplicitDerivation:
    """The explicit derivation of ``problem``'s layer (cached; values do not matter)."""
    return _cached(problem)[0]


def _lambdified(problem: Problem) -> LambdifiedExplicit:
    """The lambdified explicit derivation of ``problem``'s layer (cached)."""
    derivation, made = _cached(problem)
    if not made:
        made.append(lambdify_explicit(derivation))
    return made[0]


# ---------------------------------------------------------------------------------------
# magnitudes and tolerances


def _magnitudes(problem: Problem, batch: Batch) -> Quantities:
    """The quantities computed from absolute values: bounds of what each sum added up."""
    layer = numpy_conv.Layer.from_problem(problem)
    x0, w0, b0, y0 = _arrays(problem, batch, np.dtype(np.float64))
    x, w, y = np.abs(x0), np.abs(w0), np.abs(y0)
    b = None if b0 is None else np.abs(b0)
    xpad = numpy_conv.pad(layer, x)
    positions = numpy_conv.padded_positions(layer)
    windows = xpad[:, positions]  # (B, m, k)
    c_grad = 1.0 if problem.loss == "sse_half" else 2.0 / problem.m
    c_loss = 0.5 if problem.loss == "sse_half" else 1.0 / problem.m

    def forward(w: Any, b: Any) -> Any:
        out = windows @ w
        return out if b is None else out + b

    def backward(g: Any, w: Any) -> tuple[Any, Any, Any]:
        grad_w = np.einsum("bmk,bm->k", windows, g)
        scatter = np.zeros_like(xpad)
        for j in range(problem.k):
            np.add.at(scatter.T, positions[:, j], (g * w[j]).T)
        grad_x = numpy_conv.unpad(layer, scatter)
        grad_b = None if b is None else (g.sum() if problem.bias == "shared" else g.sum(axis=0))
        return grad_w, grad_b, grad_x

    yhat = forward(w, b)
    g = c_grad * (yhat + y)
    grad_w, grad_b, grad_x = backward(g, w)
    lr = float(problem.lr)
    w_next = w + lr * grad_w
    b_next = None if b is None else b + lr * grad_b
    yhat_next = forward(w_next, b_next)
    return {
        "yhat": yhat,
        "loss": c_loss * np.sum((yhat + y) ** 2),
        "grad_yhat": g,
        "grad_w": grad_w,
        "grad_b": grad_b,
        "grad_x": grad_x,
        "w_next": w_next,
        "b_next": b_next,
        "yhat_next": yhat_next,
        "loss_next": c_loss * np.sum((yhat_next + y) ** 2),
    }


def _tolerance(backend: str, problem: Problem, magnitude: Any, loss_magnitude: float) -> Any:
    if backend.startswith("finite-diff"):
        from symconv.reference.finite_diff import REL_STEP

        eps = float(np.finfo(np.float64).eps)
        return 64 * eps * loss_magnitude / REL_STEP + 1e-9 * magnitude
    dtype = np.float32 if backend.endswith("float32") else np.float64
    eps = float(np.finfo(dtype).eps)
    depth = problem.n + problem.k + problem.m + 4
    return 4 * eps * depth * magnitude + np.finfo(dtype).tiny


def _config(problem: Problem, batch: Batch) -> dict[str, Any]:
    config: dict[str, Any] = problem.layer_dict()
    config.pop("steps", None)
    config["batch"] = len(batch.x)
    config["x"] = [[str(v) for v in row] for row in batch.x]
    config["w"] = [str(v) for v in batch.w]
    config["b"] = None if batch.b is None else [str(v) for v in batch.b]
    config["y"] = [[str(v) for v in row] for row in batch.y]
    return config


def compare(
    problem: Problem,
    batch: Batch,
    truth: Quantities,
    got: Quantities,
    backend: str,
    magnitudes: Quantities | None = None,
) -> list[Check]:
    """One :class:`Check` per quantity that ``got`` has (``None`` entries must match)."""
    magnitudes = magnitudes if magnitudes is not None else _magnitudes(problem, batch)
    loss_magnitude = float(magnitudes["loss"])
    config = _config(problem, batch)
    checks = []
    for quantity in QUANTITIES:
        if quantity not in got:
            continue
        expected, value = truth[quantity], got[quantity]
        if expected is None or value is None:
            same = expected is None and value is None
            checks.append(
                Check(
                    config,
                    quantity,
                    backend,
                    0.0 if same else math.inf,
                    0.0 if same else math.inf,
                    0.0,
                    same,
                )
            )
            continue
        exact = np.array(
            np.vectorize(float, otypes=[float])(np.array(expected, dtype=object)), dtype=np.float64
        )
        value = np.asarray(value, dtype=np.float64)
        if value.shape != exact.shape:
            checks.append(Check(config, quantity, backend, math.inf, math.inf, 0.0, False))
            continue
        # the error against the exact value, computed without rounding the truth twice
        error = np.abs(value - exact)
        tol = np.broadcast_to(
            _tolerance(backend, problem, np.asarray(magnitudes[quantity]), loss_magnitude),
            exact.shape,
        )
        finite = bool(np.all(np.isfinite(value)))
        ok = finite and bool(np.all(error <= tol))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(np.abs(exact) > 0, error / np.abs(exact), error)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = np.where(tol > 0, error / tol, np.inf)
        worst = int(np.nanargmax(ratio)) if ratio.size and np.any(np.isfinite(ratio)) else 0
        checks.append(
            Check(
                config,
                quantity,
                backend,
                float(np.max(error)) if finite else math.inf,
                float(np.nanmax(rel)) if finite else math.inf,
                float(tol.flat[worst]) if tol.size else 0.0,
                ok,
            )
        )
    return checks


def _gradcheck(problem: Problem, batch: Batch) -> Check:
    from symconv.reference import torch_conv

    _single_thread_torch()
    x, w, b, y = _arrays(problem, batch, np.dtype(np.float64))
    layer = numpy_conv.Layer.from_problem(problem)
    ok = torch_conv.gradcheck_loss(layer, x, w, b, y, raise_exception=False)
    return Check(_config(problem, batch), "loss", "torch-gradcheck", 0.0, 0.0, 1e-5, bool(ok))


def check_problem(
    problem: Problem,
    batch: Batch | None = None,
    *,
    backends: Iterable[str] = BACKENDS,
    extra: dict[str, Callable[[Problem, Batch, np.dtype[Any]], Quantities]] | None = None,
) -> list[Check]:
    """Check every quantity of ``problem`` (its own values, or ``batch``) on every backend.

    ``extra`` adds backends by name (a function of problem, batch and dtype returning the
    quantities), e.g. a deliberately wrong kernel that the check must catch; its dtype is
    taken from the name's ``-float32`` suffix (float64 otherwise).
    """
    batch = batch or Batch.of_problem(problem)
    truth = exact_quantities(_derivation(problem), batch, problem.lr)
    magnitudes = _magnitudes(problem, batch)
    checks: list[Check] = []
    table = dict(_BACKENDS)
    chosen = list(backends)
    for name, function in (extra or {}).items():
        table[name] = (function, "float32" if name.endswith("float32") else "float64")
        chosen.append(name)
    for name in chosen:
        if name == "torch-gradcheck":
            checks.append(_gradcheck(problem, batch))
            continue
        if name.startswith("lambdify") and problem.n * problem.k > EXPLICIT_LIMIT:
            continue
        function, dtype = table[name]
        # overflow to inf is not an error here: the check reports it as not finite
        with np.errstate(over="ignore", invalid="ignore"):
            got = function(problem, batch, np.dtype(dtype))
            checks += compare(problem, batch, truth, got, name, magnitudes)
    return checks


# ---------------------------------------------------------------------------------------
# random configurations


def _value(rng: random.Random) -> Rational:
    """A random multiple of 1/8 in [−4, 4]: exact in binary floating point."""
    fraction = Fraction(rng.randint(-32, 32), 8)
    return Rational(fraction.numerator, fraction.denominator)


def random_problem(rng: random.Random) -> Problem:
    """A random valid layer: n ≤ 12, k ≤ 5, s ≤ 3, p ≤ 2, d ≤ 2, any modes and loss."""
    while True:
        n, k = rng.randint(1, 12), rng.randint(1, 5)
        s, p, d = rng.randint(1, 3), rng.randint(0, 2), rng.randint(1, 2)
        mode = rng.choice(("zeros", "circular"))
        if d * (k - 1) + 1 > n + 2 * p or (mode == "circular" and p > n):
            continue
        return load_problem(
            None,
            {
                "layer.input_length": n,
                "layer.kernel_size": k,
                "layer.stride": s,
                "layer.padding": p,
                "layer.padding_mode": mode,
                "layer.dilation": d,
                "layer.bias": rng.choice(("shared", "untied", "none")),
                "loss.kind": rng.choice(("sse_half", "mse")),
                "optimizer.learning_rate": rng.choice(("0.01", "0.1", "1/8")),
            },
        )


def random_batch(problem: Problem, rng: random.Random, batch: int | None = None) -> Batch:
    """Random exact values (multiples of 1/8) for a batch of 1..4 samples."""
    size = batch if batch is not None else rng.randint(1, 4)
    x = tuple(tuple(_value(rng) for _ in range(problem.n)) for _ in range(size))
    y = tuple(tuple(_value(rng) for _ in range(problem.m)) for _ in range(size))
    w = tuple(_value(rng) for _ in range(problem.k))
    b = None
    if problem.bias == "untied":
        b = tuple(_value(rng) for _ in range(problem.m))
    elif problem.bias == "shared":
        b = (_value(rng),)
    return Batch(x, w, b, y)


def sweep(count: int, seed: int, *, backends: Iterable[str] = BACKENDS) -> Report:
    """Check ``count`` random configurations (reproducible from ``seed``)."""
    rng = random.Random(seed)
    report = Report()
    chosen = tuple(backends)
    for _ in range(count):
        problem = random_problem(rng)
        report.checks += check_problem(problem, random_batch(problem, rng), backends=chosen)
        report.configs += 1
    return report


def run_checks(problem: Problem) -> list[dict[str, Any]]:
    """Every check of ``problem`` (its values, or seeded random ones) as JSON objects.

    The format of ``symconv verify --json``'s ``checks`` (used by the LaTeX report).
    """
    batch = None if problem.has_values else random_batch(problem, random.Random(0), batch=1)
    return [check.as_json() for check in check_problem(problem, batch)]
