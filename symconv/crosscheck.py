"""Cross-check every quantity against every backend, with a tolerance policy per dtype.

The truth is exact: the explicit SymPy expressions evaluated with ``Rational`` values
(summed over the batch).  Each backend computes the same quantities in floating point:

- ``lambdify-float64|32``: ``sympy.lambdify`` of the explicit expressions (small layers);
- ``kernel-float64|32``: NumPy kernels printed from the closed form (:mod:`symconv.kernels`);
- ``numpy-float64|32``: the NumPy reference written directly (no SymPy);
- ``torch-float64|32``: ``conv1d/2d/3d`` + autograd + ``torch.optim.SGD``;
- ``finite-diff-float64``: central differences of the NumPy loss (gradients; small layers);
- ``torch-gradcheck``: ``torch.autograd.gradcheck`` of the loss (pass/fail; small layers).

The truth covers the whole batch of the layer (``layer.batch``): the loss is the registry's
loss over every output entry, so ∂L/∂w and ∂L/∂b sum over the examples.

**Tolerance policy.** A floating-point sum of N terms is off by at most about
N·eps·Σ|terms| (the magnitude of what was summed, not of the result, which may cancel).
So each entry gets ``tol = 4·eps·depth·magnitude`` where depth bounds the length of every
sum on the way (``taps per output + output entries + out_channels·kernel entries + 4``; in
1-D with one channel about ``k + m + k``) and the magnitude is the same quantity computed
from absolute values (|x|, |w|, |b|, |y|, and |∂L/∂ŷ| bounded by the magnitude of ŷ and
y), which bounds the rounding error of every step that led to it.
eps is the unit roundoff of the backend's dtype.  Finite differences get
``tol = 64·eps·(magnitude of L)/h + 1e-9·magnitude`` for their step h (their error is
roundoff in L divided by the step).  A check fails when any entry exceeds its tolerance
or is not finite.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np
from sympy import Rational

from symconv.arrays import problem_arrays
from symconv.errors import ProblemError, SizeError
from symconv.kernels import LambdifiedExplicit, generate, lambdify_explicit
from symconv.loss import LOSSES
from symconv.problem import Problem, problem_from_dict
from symconv.reference import numpy_conv
from symconv.symbolic.explicit import (
    EVALUATION_LIMIT,
    EXPLICIT_LIMIT,
    QUANTITIES,
    ExplicitDerivation,
    derive_explicit,
    evaluate_steps,
    explicit_size,
    quantity_shape,
)

__all__ = [
    "BACKENDS",
    "QUANTITIES",
    "Check",
    "Quantities",
    "Report",
    "Space",
    "check_cost",
    "check_problem",
    "compare",
    "exact_quantities",
    "magnitudes_of",
    "random_problem",
    "random_values",
    "run_checks",
    "sweep",
    "tolerance",
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

# Backends that cost one evaluation per entry (finite differences, and gradcheck, which
# repeats what finite differences prove) or one Python expression per product (lambdify)
# run on layers up to these sizes only.
_FINITE_DIFF_ENTRIES = 300
_GRADCHECK_ENTRIES = 40
_LAMBDIFY_PRODUCTS = 6_000
# Problem values are listed in a check's config (to replay it) up to this many entries.
_CONFIG_VALUES = 200

Quantities = dict[str, Any]
Backend = Callable[[Problem, np.dtype[Any]], Quantities]


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
    index: tuple[int, ...] | None = None  # the worst entry (full-shape multi-index, 0-based)
    ratio: float = 0.0  # the largest error/tolerance over the entries (> 1: not ok)
    expected: float | None = None  # the exact value there
    actual: float | None = None  # the backend's value there

    def as_json(self) -> dict[str, Any]:
        out = {
            "config": self.config,
            "quantity": self.quantity,
            "backend": self.backend,
            "max_abs_err": self.max_abs_err,
            "max_rel_err": self.max_rel_err,
            "tolerance": self.tolerance,
            "ok": self.ok,
        }
        if not self.ok and self.index is not None:
            out |= {"index": list(self.index), "expected": self.expected, "actual": self.actual}
        return out


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
    return check.ratio


# ---------------------------------------------------------------------------------------
# the exact truth

_DERIVATIONS: dict[tuple[Any, ...], tuple[ExplicitDerivation, list[LambdifiedExplicit]]] = {}


def _cached(problem: Problem) -> tuple[ExplicitDerivation, list[LambdifiedExplicit]]:
    key = (problem.layer, problem.loss, problem.lr)
    if key not in _DERIVATIONS:
        if len(_DERIVATIONS) > 64:
            _DERIVATIONS.clear()
        _DERIVATIONS[key] = (derive_explicit(_without_values(problem), force=True), [])
    return _DERIVATIONS[key]


def _without_values(problem: Problem) -> Problem:
    return replace(problem, x=None, w=None, b=None, y=None, grad_yhat=None, steps=1, title="")


def _lambdified(problem: Problem) -> LambdifiedExplicit:
    """The lambdified explicit derivation of ``problem``'s layer (cached)."""
    derivation, made = _cached(problem)
    if not made:
        made.append(lambdify_explicit(derivation))
    return made[0]


def check_cost(problem: Problem) -> None:
    """Refuse, before any work, a configuration whose exact truth costs more than
    ``symconv derive`` allows its explicit form: the truth is that form
    (:func:`~symconv.symbolic.explicit.explicit_size`: products with the padding,
    dilation, channels and batch, output entries and symbols; limit
    :data:`~symconv.symbolic.explicit.EXPLICIT_LIMIT`) evaluated exactly at one SGD step
    (products × 1 step; limit :data:`~symconv.symbolic.explicit.EVALUATION_LIMIT`).  The
    backends cost no more than that.  Raises :class:`~symconv.errors.SizeError`.

    Example:
        >>> from symconv.problem import load_problem
        >>> check_cost(load_problem("exercise2").with_layer(padding=4000))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        symconv.errors.SizeError: the exact truth of 1-D, input 4, kernel 3, padding 4000, ...
    """
    layer = problem.layer
    size, products = explicit_size(layer), layer.terms
    if size <= EXPLICIT_LIMIT and products <= EVALUATION_LIMIT:
        return
    raise SizeError(
        f"the exact truth of {layer.describe()} is its explicit form, which costs {size} "
        f"units ({products} products with the padding, {math.prod(layer.y_shape)} output "
        f"entries; limits {EXPLICIT_LIMIT} units and {EVALUATION_LIMIT} products × steps, "
        "as for symconv derive): verify a smaller layer"
    )


def exact_quantities(problem: Problem) -> Quantities:
    """Every quantity of one SGD step, exact, in the full shapes of :mod:`symconv.arrays`.

    Tensors are NumPy object arrays of SymPy ``Rational``; ``loss`` and ``loss_next`` are
    ``Rational`` (None for an upstream gradient); bias quantities are None without a bias.
    A layer beyond :func:`check_cost` raises :class:`~symconv.errors.SizeError` first.
    """
    check_cost(problem)
    derivation = _cached(problem)[0]
    step = evaluate_steps(replace(derivation, problem=replace(problem, steps=1)))[0]
    out: Quantities = {}
    for key in QUANTITIES:
        value = getattr(step, key)
        shape = quantity_shape(problem.layer, key)
        if value is None or shape is None:
            out[key] = None
        elif not shape:
            out[key] = value
        else:
            array = np.empty(len(value), dtype=object)
            array[:] = list(value)
            out[key] = array.reshape(shape)
    return out


# ---------------------------------------------------------------------------------------
# backends


def _kernel_backend(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    a = problem_arrays(problem, dtype)
    return generate(problem).step(a.x, a.w, a.b, a.target, a.lr)


def _lambdify_backend(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    a = problem_arrays(problem, dtype)
    return _lambdified(problem).step(a.x, a.w, a.b, a.target, a.lr)


def _numpy_backend(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    a = problem_arrays(problem, dtype)
    return dict(numpy_conv.step(problem.layer, problem.loss, a.x, a.w, a.b, a.target, a.lr))


def _single_thread_torch() -> None:
    """These problems are tiny: torch's thread pool only adds synchronisation (measured:
    conv1d went from 0.6 ms to 12 ms per call on a loaded 2-core machine)."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _torch_backend(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    from symconv.reference import torch_conv

    _single_thread_torch()
    a = problem_arrays(problem, dtype)
    return dict(torch_conv.step(problem.layer, problem.loss, a.x, a.w, a.b, a.target, a.lr))


def _finite_diff_backend(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    from symconv.reference import finite_diff

    a = problem_arrays(problem, dtype)
    return dict(finite_diff.loss_gradients(problem.layer, problem.loss, a.x, a.w, a.b, a.target))


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


def _applies(backend: str, problem: Problem) -> bool:
    """Whether a backend runs on this layer (the costly ones on small layers only)."""
    from symconv.reference.finite_diff import MAX_ENTRIES

    layer = problem.layer
    entries = math.prod(layer.x_shape) + math.prod(layer.w_shape) + math.prod(layer.b_shape or ())
    if backend.startswith("lambdify"):
        return layer.terms <= _LAMBDIFY_PRODUCTS
    if backend == "finite-diff-float64":
        # finite_diff refuses more than MAX_ENTRIES entries, ŷ counted too (a long padding)
        return (
            entries <= _FINITE_DIFF_ENTRIES
            and entries + math.prod(layer.y_shape) <= MAX_ENTRIES
        )
    if backend == "torch-gradcheck":
        return entries <= _GRADCHECK_ENTRIES
    return True


# ---------------------------------------------------------------------------------------
# magnitudes and tolerances


def magnitudes_of(problem: Problem) -> Quantities:
    """The quantities computed from absolute values: bounds of what each sum added up.

    A convolution of non-negative numbers adds no cancellation, so running the NumPy
    reference on |x|, |w|, |b| (and |∂L/∂ŷ| ≤ c·(|ŷ| + |y|)) bounds every sum's terms.
    """
    layer, spec = problem.layer, problem.loss_spec
    a = problem_arrays(problem, np.float64)
    x, w, target = np.abs(a.x), np.abs(a.w), np.abs(a.target)
    b = None if a.b is None else np.abs(a.b)
    count = problem.output_count

    def forward(w: Any, b: Any) -> Any:
        return numpy_conv.forward(layer, x, w, b)

    def loss(yhat: Any) -> Any:
        if spec.has_target:
            return float(spec.weight(count)) * np.sum((yhat + target) ** 2)
        # upstream: finite differences differentiate Σ g·ŷ, bounded by Σ |g|·|ŷ|
        return np.sum(target * yhat)

    yhat = forward(w, b)
    g = float(spec.grad_factor(count)) * (yhat + target) if spec.has_target else target
    grad_x, grad_w, grad_b = numpy_conv.backward(layer, x, w, b, g)
    w_next = w + a.lr * grad_w
    b_next = None if b is None or grad_b is None else b + a.lr * grad_b
    yhat_next = forward(w_next, b_next)
    return {
        "yhat": yhat,
        "loss": loss(yhat),
        "grad_yhat": g,
        "grad_w": grad_w,
        "grad_b": grad_b,
        "grad_x": grad_x,
        "w_next": w_next,
        "b_next": b_next,
        "yhat_next": yhat_next,
        "loss_next": loss(yhat_next),
    }


def _depth(problem: Problem) -> int:
    """A bound on the length of every floating-point sum that led to a quantity."""
    layer = problem.layer
    kernel = math.prod(layer.kernel_size)
    return layer.taps_per_output + problem.output_count + layer.out_channels * kernel + 4


def tolerance(backend: str, problem: Problem, magnitude: Any, loss_magnitude: float) -> Any:
    """The tolerance of each entry of a quantity for a backend (see the module docstring).

    ``backend`` names the dtype by its suffix (``…-float32``; float64 otherwise) or is a
    finite-difference backend; ``magnitude`` is the quantity from :func:`magnitudes_of`.
    """
    if backend.startswith("finite-diff"):
        from symconv.reference.finite_diff import REL_STEP

        eps = float(np.finfo(np.float64).eps)
        return 64 * eps * loss_magnitude / REL_STEP + 1e-9 * magnitude
    dtype = np.float32 if backend.endswith("float32") else np.float64
    eps = float(np.finfo(dtype).eps)
    return 4 * eps * _depth(problem) * magnitude + np.finfo(dtype).tiny


def _config(problem: Problem) -> dict[str, Any]:
    """The configuration in the TOML field names (values too, while they are few)."""
    config: dict[str, Any] = problem.layer.to_dict()
    config |= {"loss": problem.loss, "learning_rate": str(problem.lr)}
    values = {
        "x": problem.x,
        "w": problem.w,
        "b": problem.b_values,
        "y": problem.y,
        "grad_yhat": problem.grad_yhat,
    }
    if sum(len(v) for v in values.values() if v is not None) <= _CONFIG_VALUES:
        for key, value in values.items():
            if value is not None:
                config[key] = [str(v) for v in value]
    return config


def _as_floats(truth: Quantities) -> Quantities:
    """The exact truth rounded once to float64 (each entry rounded correctly)."""
    return {
        key: None
        if value is None
        else np.array(np.vectorize(float, otypes=[float])(np.array(value, dtype=object)))
        for key, value in truth.items()
    }


def compare(
    problem: Problem,
    truth: Quantities,
    got: Quantities,
    backend: str,
    magnitudes: Quantities | None = None,
    *,
    truth_floats: Quantities | None = None,
    config: dict[str, Any] | None = None,
    tolerances: dict[tuple[str, str], Any] | None = None,
) -> list[Check]:
    """One :class:`Check` per quantity that ``got`` has (``None`` entries must match).

    ``truth_floats`` (``truth`` rounded to float64) and ``config`` (the configuration's
    JSON) may be passed when the caller has them already; ``tolerances`` is a cache of the
    tolerance arrays, shared by the backends of one configuration.
    """
    tolerances = tolerances if tolerances is not None else {}
    magnitudes = magnitudes if magnitudes is not None else magnitudes_of(problem)
    floats = truth_floats if truth_floats is not None else _as_floats(truth)
    loss_magnitude = float(magnitudes["loss"] or 0.0)
    config = config if config is not None else _config(problem)
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
        exact = floats[quantity]
        value = np.asarray(value, dtype=np.float64)
        if value.shape != exact.shape:
            checks.append(Check(config, quantity, backend, math.inf, math.inf, 0.0, False))
            continue
        # the error against the exact value, computed without rounding the truth twice
        error = np.abs(value - exact)
        kind = _tolerance_kind(backend)
        tol = tolerances.get((kind, quantity))
        if tol is None:
            tol = np.broadcast_to(
                tolerance(backend, problem, np.asarray(magnitudes[quantity]), loss_magnitude),
                exact.shape,
            )
            tolerances[kind, quantity] = tol
        finite_entries = np.isfinite(value)
        finite = bool(finite_entries.all())
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rel = np.where(exact != 0, error / np.abs(exact), error)
            # error/tolerance per entry: an exact 0 is 0, a non-finite value infinitely bad
            ratio = np.where(error == 0, 0.0, np.where(tol > 0, error / tol, np.inf))
            ratio[~finite_entries] = np.inf
        flat = int(np.argmax(ratio)) if ratio.size else 0
        ok = finite and (float(ratio.flat[flat]) <= 1.0 if ratio.size else True)
        index = tuple(int(i) for i in np.unravel_index(flat, exact.shape)) if exact.shape else ()
        checks.append(
            Check(
                config,
                quantity,
                backend,
                float(np.max(error)) if finite else math.inf,
                float(np.nanmax(rel)) if finite else math.inf,
                float(tol.flat[flat]) if tol.size else 0.0,
                ok,
                index=index,
                ratio=float(ratio.flat[flat]) if ratio.size else 0.0,
                expected=float(exact.flat[flat]) if exact.size else None,
                actual=float(value.flat[flat]) if value.size else None,
            )
        )
    return checks


def _tolerance_kind(backend: str) -> str:
    """What a backend's tolerance depends on: finite differences, or its dtype."""
    if backend.startswith("finite-diff"):
        return "finite-diff"
    return "float32" if backend.endswith("float32") else "float64"


def _gradcheck(problem: Problem) -> Check:
    from symconv.reference import torch_conv

    _single_thread_torch()
    a = problem_arrays(problem, np.float64)
    ok = torch_conv.gradcheck_loss(problem.layer, problem.loss, a.x, a.w, a.b, a.target)
    return Check(_config(problem), "loss", "torch-gradcheck", 0.0, 0.0, 1e-5, bool(ok))


def check_problem(
    problem: Problem,
    *,
    backends: Iterable[str] = BACKENDS,
    extra: dict[str, Backend] | None = None,
) -> list[Check]:
    """Check every quantity of ``problem`` (which has values) on every backend.

    ``extra`` adds backends by name (a function of the problem and a dtype returning the
    quantities), e.g. a deliberately wrong kernel that the check must catch; its dtype is
    taken from the name's ``-float32`` suffix (float64 otherwise).  Backends that only
    run on small layers (lambdify, finite differences, gradcheck) are skipped on big ones.
    """
    if not problem.has_values:
        raise ValueError("check_problem needs a problem with values (see random_values)")
    truth = exact_quantities(problem)
    floats = _as_floats(truth)
    magnitudes = magnitudes_of(problem)
    config = _config(problem)
    tolerances: dict[tuple[str, str], Any] = {}
    checks: list[Check] = []
    table = dict(_BACKENDS)
    chosen = list(backends)
    for name, function in (extra or {}).items():
        table[name] = (function, "float32" if name.endswith("float32") else "float64")
        chosen.append(name)
    for name in chosen:
        if name not in (extra or {}) and not _applies(name, problem):
            continue
        if name == "torch-gradcheck":
            checks.append(_gradcheck(problem))
            continue
        function, dtype = table[name]
        # overflow to inf is not an error here: the check reports it as not finite
        with np.errstate(over="ignore", invalid="ignore"):
            got = function(problem, np.dtype(dtype))
            checks += compare(
                problem,
                truth,
                got,
                name,
                magnitudes,
                truth_floats=floats,
                config=config,
                tolerances=tolerances,
            )
    return checks


# ---------------------------------------------------------------------------------------
# random configurations


def _value(rng: random.Random) -> Rational:
    """A random multiple of 1/8 in [−4, 4]: exact in binary floating point."""
    fraction = Fraction(rng.randint(-32, 32), 8)
    return Rational(fraction.numerator, fraction.denominator)


def _divisors(number: int) -> list[int]:
    return [d for d in range(1, number + 1) if number % d == 0]


# Sizes per axis by the number of axes (1-D layers may be longer than 3-D ones).
_MAX_LENGTH = {1: 12, 2: 6, 3: 4}
_MAX_KERNEL = {1: 5, 2: 3, 3: 2}


@dataclass(frozen=True)
class Space:
    """The layers a sweep draws from: everything by default, or what an implementation
    says it supports (:mod:`symconv.testing`).

    ``dims`` lists the numbers of spatial axes to draw (repeat one to weight it); a layer
    with more than ``max_products`` products (output entries × taps) is drawn again.

    Example:
        >>> Space(dims=(2,), padding_modes=("zeros",), groups=False).dims
        (2,)
    """

    dims: tuple[int, ...] = (1, 1, 1, 2, 2, 3)
    max_stride: int = 3
    max_dilation: int = 2
    max_padding: int = 2
    uneven_padding: bool = True
    padding_modes: tuple[str, ...] = ("zeros", "circular")
    biases: tuple[str, ...] = ("shared", "untied", "none")
    max_channels: int = 3
    groups: bool = True
    max_batch: int = 3
    losses: tuple[str, ...] = LOSSES
    max_products: int = 250


SWEEP = Space()


def random_problem(
    rng: random.Random, *, values: bool = True, space: Space = SWEEP
) -> Problem:
    """A random valid layer of ``space`` with random exact values (multiples of 1/8).

    By default: 1 to 3 spatial axes (1-D: n ≤ 12, k ≤ 5; 2-D: n ≤ 6, k ≤ 3; 3-D: n ≤ 4,
    k ≤ 2), per-axis stride ≤ 3, padding ≤ 2 (sometimes uneven before/after), dilation ≤ 2,
    zeros or circular, 1–3 channels in and out, groups dividing both, batch 1–3, any bias
    mode and loss (sse_half, mse, upstream), and at most a few hundred products.
    """
    for _ in range(10_000):
        axes = rng.choice(space.dims)
        shape = [rng.randint(1, _MAX_LENGTH[axes]) for _ in range(axes)]
        kernel = [rng.randint(1, _MAX_KERNEL[axes]) for _ in range(axes)]
        stride = [rng.randint(1, space.max_stride) for _ in range(axes)]
        dilation = [rng.randint(1, space.max_dilation) for _ in range(axes)]
        mode = rng.choice(space.padding_modes)
        padding: list[Any] = []
        for _ in range(axes):
            before = rng.randint(0, space.max_padding)
            uneven = space.uneven_padding and rng.random() < 0.3
            padding.append([before, rng.randint(0, space.max_padding)] if uneven else before)
        channels_in = rng.randint(1, space.max_channels)
        channels_out = rng.randint(1, space.max_channels)
        common = [g for g in _divisors(channels_in) if channels_out % g == 0]
        tables: dict[str, Any] = {
            "layer": {
                "input_shape": shape,
                "kernel_size": kernel,
                "stride": stride,
                "padding": padding,
                "padding_mode": mode,
                "dilation": dilation,
                "bias": rng.choice(space.biases),
                "in_channels": channels_in,
                "out_channels": channels_out,
                "groups": rng.choice(common) if space.groups else 1,
                "batch": rng.randint(1, space.max_batch),
            },
            "loss": {"kind": rng.choice(space.losses)},
            "optimizer": {"learning_rate": rng.choice(("0.01", "0.1", "1/8"))},
        }
        try:
            problem = problem_from_dict(tables)
        except ProblemError:
            continue  # a kernel wider than the padded input, or circular padding > n
        if problem.layer.terms > space.max_products:
            continue
        return random_values(problem, rng) if values else problem
    raise ValueError(f"no valid layer found in {space}")


def random_values(problem: Problem, rng: random.Random) -> Problem:
    """``problem`` with random exact values (multiples of 1/8) in its layer's shapes."""
    layer = problem.layer

    def draw(shape: tuple[int, ...] | None) -> tuple[Rational, ...] | None:
        return None if shape is None else tuple(_value(rng) for _ in range(math.prod(shape)))

    x, w = draw(layer.x_shape), draw(layer.w_shape)
    target = draw(layer.y_shape)
    bias: tuple[Rational, ...] | Rational | None = draw(layer.b_shape)
    if bias is not None and layer.bias == "shared" and layer.out_channels == 1:
        bias = bias[0]  # one number, as the problem file writes it
    if problem.loss_spec.has_target:
        return replace(problem, x=x, w=w, b=bias, y=target, grad_yhat=None)
    return replace(problem, x=x, w=w, b=bias, y=None, grad_yhat=target)


def sweep(count: int, seed: int, *, backends: Iterable[str] = BACKENDS) -> Report:
    """Check ``count`` random configurations (reproducible from ``seed``)."""
    rng = random.Random(seed)
    report = Report()
    chosen = tuple(backends)
    for _ in range(count):
        report.checks += check_problem(random_problem(rng), backends=chosen)
        report.configs += 1
    return report


def run_checks(problem: Problem) -> list[dict[str, Any]]:
    """Every check of ``problem`` (its values, or seeded random ones) as JSON objects.

    The format of ``symconv verify --json``'s ``checks`` (used by the LaTeX report).
    """
    if not problem.has_values:
        problem = random_values(problem, random.Random(0))
    return [check.as_json() for check in check_problem(problem)]
