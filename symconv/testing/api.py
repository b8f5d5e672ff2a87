"""Prove a user's own convolution against symconv's exact truth.

The implementation is called as the design contract says (``docs``: design.md, "CLI —
contract"): with a backward, ``forward(x, w, b, *, stride, padding, dilation, groups,
padding_mode) -> y`` and ``backward(x, w, b, grad_y, *, same keywords) -> (grad_x,
grad_w, grad_b)`` on NumPy arrays (float64, or float32 with ``dtype="float32"``);
without one, ``forward`` gets torch tensors that require gradients and torch autograd
differentiates it (``framework="jax"``: jax arrays and ``jax.vjp``).  Shapes::

    x (B, C_in, *S)    w (C_out, C_in/G, *K)    b None | (C_out,) | untied (C_out, *O)
    y, grad_y (B, C_out, *O)        grad_x like x, grad_w like w, grad_b like b

``stride`` and ``dilation`` are tuples with one int per spatial axis; ``padding`` a tuple
with one entry per axis: an int when both sides pad alike, else a ``(before, after)``
pair; ``groups`` an int; ``padding_mode`` ``"zeros"`` or ``"circular"``.

Each returned quantity (ŷ, ∂L/∂x, ∂L/∂w, ∂L/∂b) is compared entry by entry with the
exact value (:func:`symconv.crosscheck.exact_quantities`) under the tolerance policy of
``symconv verify`` for the dtype (:func:`symconv.crosscheck.tolerance`).  The first
wrong quantity, in the order yhat, grad_x, grad_w, grad_b, raises :class:`ConvMismatch`,
whose message names the configuration, the quantity, the first wrong entry with its
expected and actual value, the diagnosis (:mod:`symconv.testing.diagnose`) and how to
replay the case alone.  An implementation that raises, or returns no array, raises
:class:`~symconv.errors.ImplementationError` (chained to the original exception).

Example:
    >>> from symconv.reference import numpy_conv
    >>> def forward(x, w, b, **settings):
    ...     return numpy_conv.forward(layer_from_call(x, w, b, **settings), x, w, b)
    >>> def backward(x, w, b, grad_y, **settings):
    ...     return numpy_conv.backward(layer_from_call(x, w, b, **settings), x, w, b, grad_y)
    >>> assert_conv_matches(forward, backward, sweep=5)
"""

from __future__ import annotations

import functools
import importlib
import math
import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from symconv import crosscheck
from symconv.crosscheck import Check
from symconv.errors import ImplementationError, UsageError
from symconv.layer import Layer, make_layer
from symconv.problem import Problem, load_problem
from symconv.testing.diagnose import COMPARED, Diagnosis, diagnose
from symconv.testing.supports import Case, Supports, cases, configuration_text

__all__ = [
    "DEFAULT_SUPPORTS",
    "DTYPES",
    "FRAMEWORKS",
    "CaseResult",
    "ConvMismatch",
    "assert_case",
    "assert_conv_matches",
    "check_case",
    "implementation_name",
    "layer_from_call",
    "load_callable",
    "run_case",
]

DTYPES = ("float64", "float32")
FRAMEWORKS = ("numpy", "torch", "jax")

Array = NDArray[Any]
Function = Callable[..., Any]

DEFAULT_SUPPORTS = Supports()
"""The supports assumed when none are given (``Supports()``)."""


class ConvMismatch(AssertionError):
    """A quantity of the user's implementation differs from the exact value.

    ``str()`` is the full message.  ``index`` is the first wrong entry (full-shape,
    0-based; ``()`` when the shape itself is wrong), ``expected`` the exact value there
    (rounded to float64), ``actual`` the implementation's, ``tolerance`` the entry's
    tolerance (NaN when the shape is wrong); ``diagnosis`` the sentence naming the
    mistake, or None when no known mistake matches; ``replay`` the command that runs
    this case alone ("" when there is none).
    """

    def __init__(
        self,
        message: str,
        *,
        case: Case,
        quantity: str,
        index: tuple[int, ...],
        expected: float,
        actual: float,
        tolerance: float,
        diagnosis: str | None,
        replay: str,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.case = case
        self.quantity = quantity
        self.index = index
        self.expected = expected
        self.actual = actual
        self.tolerance = tolerance
        self.diagnosis = diagnosis
        self.replay = replay

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        state = {key: value for key, value in vars(self).items() if key != "message"}
        return (_rebuild, (self.message, state))


def _rebuild(message: str, state: dict[str, Any]) -> ConvMismatch:
    return ConvMismatch(message, **state)


@dataclass(frozen=True)
class CaseResult:
    """The checks of one case (one per quantity, in the order yhat, grad_x, grad_w,
    grad_b) and the mismatch to raise (None when every check holds)."""

    case: Case
    checks: list[Check]
    mismatch: ConvMismatch | None = None
    diagnosis: Diagnosis | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.mismatch is None


# ---------------------------------------------------------------------------------------
# the case and its exact truth


@dataclass(frozen=True)
class _Truth:
    """A case ready to run: its upstream problem, the exact quantities and their floats,
    the magnitudes of the tolerance policy, and the inputs as float64 arrays."""

    problem: Problem
    exact: dict[str, Any]
    floats: dict[str, Array | None]
    magnitudes: dict[str, Any]
    x: Array
    w: Array
    b: Array | None
    grad_y: Array


def _rounded(value: Any) -> Array | None:
    """Exact values rounded once to float64 (each entry correctly rounded)."""
    if value is None:
        return None
    exact = np.array(value, dtype=object)
    rounded: Array = np.vectorize(float, otypes=[np.float64])(exact).reshape(exact.shape)
    return rounded


def _build(problem: Problem, upstream: Problem) -> _Truth:
    """The truth of ``problem`` (any loss), to be checked as ``upstream``."""
    from symconv.arrays import problem_arrays

    exact = crosscheck.exact_quantities(problem)
    arrays = problem_arrays(upstream, np.float64)
    return _Truth(
        problem=upstream,
        exact=exact,
        floats={key: _rounded(value) for key, value in exact.items()},
        magnitudes=crosscheck.magnitudes_of(upstream),
        x=arrays.x,
        w=arrays.w,
        b=arrays.b,
        grad_y=arrays.target,
    )


@functools.lru_cache(maxsize=64)
def _case_truth(problem: Problem) -> _Truth:
    """The truth of a sweep case (cached: the same cases run in several tests)."""
    return _build(problem, problem)


@functools.lru_cache(maxsize=16)
def _problem_truth(problem: Problem) -> tuple[Case, _Truth]:
    """A problem as a case (index 0) with an upstream gradient: its own values and, with
    a loss, the exact ∂L/∂ŷ of that loss as ``grad_y`` (one exact derivation)."""
    spec = problem.loss_spec
    if problem.x is None or (problem.y if spec.has_target else problem.grad_yhat) is None:
        problem = crosscheck.random_values(problem, random.Random(0))
    problem = replace(problem, steps=1)
    if not spec.has_target:
        return Case(0, 0, 0, problem), _build(problem, problem)
    exact = crosscheck.exact_quantities(problem)
    grad = tuple(exact["grad_yhat"].flat)
    # the backward starts from the exact ∂L/∂ŷ of the problem's own loss
    upstream = replace(problem, loss="upstream", y=None, grad_yhat=grad)
    return Case(0, 0, 0, upstream), _build(problem, upstream)


def _prepare(case: Case | Problem | str | Path) -> tuple[Case, _Truth]:
    """The case and its truth: a sweep case, or a problem (a Problem, built-in name or
    TOML path)."""
    if isinstance(case, Case):
        return case, _case_truth(case.problem)
    problem = load_problem(case) if isinstance(case, (str, Path)) else case
    if not isinstance(problem, Problem):
        raise UsageError(
            f"`case` (={problem!r}) must be a symconv.testing.Case, a Problem, or a "
            "built-in problem name or TOML path"
        )
    return _problem_truth(problem)


# ---------------------------------------------------------------------------------------
# calling the implementation


def implementation_name(function: object) -> str:
    """``module:qualname`` of a function (``verify --impl``'s spelling), else its repr.

    Example:
        >>> implementation_name(implementation_name)
        'symconv.testing.api:implementation_name'
    """
    if isinstance(function, functools.partial):
        return f"partial({implementation_name(function.func)})"
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", None)
    if isinstance(module, str) and isinstance(name, str):
        return f"{module}:{name}"
    text = repr(function)
    return text if len(text) <= 60 else text[:57] + "..."


def _importable(function: object) -> bool:
    name = implementation_name(function)
    return ":" in name and "<" not in name and not name.startswith(("__main__:", "partial("))


def _label(forward: Function, backward: Function | None, framework: str) -> str:
    """The implementation as the message names it: ``pkg.conv:forward/backward``."""
    first = implementation_name(forward)
    if backward is None:
        return f"{first} ({'jax.vjp' if framework == 'jax' else 'torch autograd'})"
    second = implementation_name(backward)
    module, _, name = first.partition(":")
    other_module, _, other = second.partition(":")
    if name and other and module == other_module:
        return f"{module}:{name}/{other}"
    return f"{first} + {second}"


def _keywords(layer: Layer) -> dict[str, Any]:
    """The keyword arguments of the calling convention."""
    return {
        "stride": tuple(layer.stride),
        "padding": tuple(a if a == b else (a, b) for a, b in layer.padding),
        "dilation": tuple(layer.dilation),
        "groups": layer.groups,
        "padding_mode": layer.padding_mode,
    }


@dataclass(frozen=True)
class _Call:
    forward: Function
    backward: Function | None
    framework: str
    dtype: str
    where: str

    def invoke(self, role: str, *args: Any, **kwargs: Any) -> Any:
        function = self.forward if role == "forward" else self.backward
        try:
            return function(*args, **kwargs)  # type: ignore[misc]
        except Exception as exc:
            detail = f"raised {type(exc).__name__}: {exc}"
            raise self.error(role, detail) from exc

    def error(self, role: str, detail: str) -> ImplementationError:
        function = self.forward if role == "forward" else self.backward
        return ImplementationError(role, implementation_name(function), detail, self.where)


def _to_numpy(call: _Call, role: str, what: str, value: Any) -> Array | None:
    """A returned array (NumPy, torch or jax) as a NumPy array; None stays None."""
    if value is None:
        return None
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise call.error(role, f"returned {what} that is not an array ({exc})") from exc
    if array.dtype.kind not in "fiub":
        raise call.error(
            role, f"returned {what} as {type(value).__name__} of {array.dtype}: not real numbers"
        )
    return array


def _gradients(call: _Call, value: Any) -> tuple[Any, Any, Any]:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        kind = f"{len(value)} values" if isinstance(value, (tuple, list)) else type(value).__name__
        raise call.error("backward", f"returned {kind}; expected (grad_x, grad_w, grad_b)")
    return value[0], value[1], value[2]


def _run_numpy(call: _Call, truth: _Truth, keywords: dict[str, Any]) -> dict[str, Any]:
    dtype = np.dtype(call.dtype)

    def fresh() -> tuple[Array, Array, Array | None]:
        # new arrays for every call: an implementation may write into its inputs
        b = None if truth.b is None else truth.b.astype(dtype)
        return truth.x.astype(dtype), truth.w.astype(dtype), b

    y = call.invoke("forward", *fresh(), **keywords)
    grad_y = truth.grad_y.astype(dtype)
    grads = _gradients(call, call.invoke("backward", *fresh(), grad_y, **keywords))
    return _collect(call, y, grads)


def _collect(call: _Call, y: Any, grads: tuple[Any, Any, Any] | None) -> dict[str, Any]:
    got: dict[str, Any] = {"yhat": _to_numpy(call, "forward", "y", y)}
    if grads is not None:
        for name, value in zip(COMPARED[1:], grads):
            got[name] = _to_numpy(call, "backward", name, value)
    return got


def _run_torch(call: _Call, truth: _Truth, keywords: dict[str, Any]) -> dict[str, Any]:
    try:
        import torch
    except ImportError as exc:
        raise UsageError(
            f"without a backward, forward is differentiated by torch autograd: {exc} "
            "(pip install torch, or give a backward)"
        ) from None

    tdtype = torch.float64 if call.dtype == "float64" else torch.float32
    autograd = call.backward is None

    def tensor(array: Array | None) -> Any:
        if array is None:
            return None
        return torch.tensor(array, dtype=tdtype, requires_grad=autograd)

    x, w, b = tensor(truth.x), tensor(truth.w), tensor(truth.b)
    grad_y = torch.tensor(truth.grad_y, dtype=tdtype)
    y: Any = call.invoke("forward", x, w, b, **keywords)
    if not autograd:
        grads = call.invoke("backward", tensor(truth.x), tensor(truth.w), tensor(truth.b),
                            grad_y, **keywords)
        return _collect(call, y, _gradients(call, grads))
    if not isinstance(y, torch.Tensor):
        raise call.error("forward", f"returned a {type(y).__name__}; expected a torch.Tensor "
                         "(it is differentiated by torch autograd; give a backward otherwise)")
    if tuple(y.shape) != tuple(truth.grad_y.shape):
        return _collect(call, y, None)  # a wrong shape: no gradient to take
    if not y.requires_grad:
        raise call.error("forward", "returned a tensor without a gradient (no grad_fn): "
                         "compute it with torch operations, or give a backward")
    output: Any = y  # torch's backward is untyped
    try:
        output.backward(grad_y)
    except Exception as exc:
        detail = f"could not be differentiated by torch autograd: {type(exc).__name__}: {exc}"
        raise call.error("forward", detail) from exc

    def grad(leaf: Any) -> Any:
        # an input the output does not depend on gets no .grad: its gradient is zero
        if leaf is None:
            return None
        return leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)

    return _collect(call, y, (grad(x), grad(w), grad(b)))


def _run_jax(call: _Call, truth: _Truth, keywords: dict[str, Any]) -> dict[str, Any]:
    try:
        jax: Any = importlib.import_module("jax")
        jnp: Any = importlib.import_module("jax.numpy")
    except ImportError as exc:
        raise UsageError(f'`framework` (="jax") needs jax installed: {exc}') from None
    if call.dtype == "float64" and not jax.config.read("jax_enable_x64"):
        raise UsageError(
            '`dtype` (="float64") with jax needs 64-bit jax: call '
            'jax.config.update("jax_enable_x64", True) first, or use dtype="float32"'
        )
    dtype = np.dtype(call.dtype)
    x, w = jnp.asarray(truth.x.astype(dtype)), jnp.asarray(truth.w.astype(dtype))
    b = None if truth.b is None else jnp.asarray(truth.b.astype(dtype))
    grad_y = jnp.asarray(truth.grad_y.astype(dtype))
    if call.backward is not None:
        y = call.invoke("forward", x, w, b, **keywords)
        grads = call.invoke("backward", x, w, b, grad_y, **keywords)
        return _collect(call, y, _gradients(call, grads))

    def function(*args: Any) -> Any:
        return call.forward(args[0], args[1], args[2] if len(args) > 2 else None, **keywords)

    primals = (x, w) if b is None else (x, w, b)
    try:
        y, pullback = jax.vjp(function, *primals)
    except Exception as exc:
        raise call.error("forward", f"raised {type(exc).__name__}: {exc}") from exc
    if tuple(y.shape) != tuple(truth.grad_y.shape):
        return _collect(call, y, None)
    grads = list(pullback(grad_y))
    return _collect(call, y, (grads[0], grads[1], grads[2] if b is not None else None))


_RUNNERS = {"numpy": _run_numpy, "torch": _run_torch, "jax": _run_jax}


# ---------------------------------------------------------------------------------------
# comparing and explaining


def _settings(backward: Function | None, dtype: str, framework: str | None) -> str:
    if dtype not in DTYPES:
        raise UsageError(f"`dtype` (={dtype!r}) must be one of {', '.join(map(repr, DTYPES))}")
    chosen = framework if framework is not None else ("numpy" if backward is not None else "torch")
    if chosen not in FRAMEWORKS:
        raise UsageError(
            f"`framework` (={framework!r}) must be one of {', '.join(map(repr, FRAMEWORKS))}"
        )
    if chosen == "numpy" and backward is None:
        raise UsageError(
            '`framework` (="numpy") needs a backward (NumPy has no autograd): pass backward, '
            'or framework="torch"/"jax" to differentiate forward'
        )
    return chosen


def _replay(
    case: Case, forward: Function, backward: Function | None, framework: str, dtype: str
) -> str:
    """The command (or Python call) that runs this case alone."""
    if case.replay or case.index == 0:
        return case.replay
    tail = (
        f" --sweep {case.sweep} --seed {case.seed} --case {case.index}"
        + "".join(f" --supports {option}" for option in case.supports.options())
        + (" --dtype float32" if dtype == "float32" else "")
    )
    if _importable(forward) and (backward is None or _importable(backward)):
        command = f"symconv verify --impl {implementation_name(forward)}"
        if backward is not None:
            command += f" --impl-backward {implementation_name(backward)}"
        default = "numpy" if backward is not None else "torch"
        if framework != default:
            command += f" --framework {framework}"
        return command + tail
    call = "forward, backward" if backward is not None else "forward"
    options = "" if dtype == "float64" else ', dtype="float32"'
    return (
        f"assert_case({call}, cases({case.supports.source()}, sweep={case.sweep}, "
        f"seed={case.seed})[{case.index - 1}]{options})"
    )


def _index_text(quantity: str, index: tuple[int, ...]) -> str:
    return f"{quantity}[{', '.join(map(str, index))}]" if index else quantity


def _shape_text(array: Array | None) -> str:
    return "None" if array is None else str(tuple(array.shape))


def _message(
    label: str,
    case: Case,
    truth: _Truth,
    failing: list[Check],
    got: dict[str, Any],
    tolerances: dict[str, Array],
    diagnosis: Diagnosis | None,
    replay: str,
    dtype: str,
) -> tuple[str, tuple[int, ...], float, float, float]:
    """The message of the first failing check, and its entry, expected, actual, tolerance."""
    check = failing[0]
    quantity = check.quantity
    layer = truth.problem.layer
    where = case.describe() if case.index else f"problem {truth.problem.title!r}"
    lines = [
        f"{quantity} of {label} differs from the exact value"
        + (" (float32)" if dtype == "float32" else ""),
        f"  configuration: {configuration_text(layer)}; {where}",
        f"  shapes: x {truth.x.shape}, w {truth.w.shape}, b {_shape_text(truth.b)}, "
        f"grad_y {truth.grad_y.shape}",
    ]
    exact, value = truth.floats[quantity], got.get(quantity)
    index: tuple[int, ...] = ()
    expected = actual = tol = math.nan
    if exact is None:
        lines.append(f"  {quantity}: got an array of shape {_shape_text(value)}, expected None "
                     "(the layer has no bias)")
    elif value is None:
        lines.append(f"  {quantity}: got None, expected an array of shape {exact.shape}")
    elif np.shape(value) != exact.shape:
        lines.append(f"  {quantity}: got shape {np.shape(value)}, expected shape {exact.shape}")
    else:
        values = np.asarray(value, dtype=np.float64)
        bound = tolerances[quantity]
        with np.errstate(invalid="ignore"):
            error = np.abs(values - exact)
            wrong = ~(error <= bound)
        first = int(np.argmax(wrong))
        index = tuple(int(i) for i in np.unravel_index(first, exact.shape))
        expected, actual, tol = float(exact.flat[first]), float(values.flat[first]), float(
            bound.flat[first]
        )
        worst = int(np.argmax(np.nan_to_num(error, nan=np.inf)))
        worst_index = tuple(int(i) for i in np.unravel_index(worst, exact.shape))
        lines.append(
            f"  first wrong entry: {_index_text(quantity, index)} expected {expected:.10g}, "
            f"got {actual:.10g} (tolerance {tol:.2g})"
        )
        lines.append(
            f"  wrong entries: {int(wrong.sum())} of {wrong.size}; the largest error "
            f"{float(error.flat[worst]):.3g} at {_index_text(quantity, worst_index)}"
        )
    if len(failing) > 1:
        lines.append(f"  also wrong: {', '.join(c.quantity for c in failing[1:])}")
    lines.append(
        f"  diagnosis: {diagnosis.sentence if diagnosis else 'no known mistake matches'}"
    )
    if replay:
        lines.append(f"  replay: {replay}")
    return "\n".join(lines), index, expected, actual, tol


def run_case(
    forward: Function,
    backward: Function | None = None,
    case: Case | Problem | str | Path | None = None,
    *,
    dtype: str = "float64",
    framework: str | None = None,
    replay: str | None = None,
    diagnosis: bool = True,
) -> CaseResult:
    """Run the implementation on one case: the checks, and the mismatch to raise.

    ``case`` is a :class:`Case`, a :class:`~symconv.problem.Problem`, or a built-in name
    or TOML path (its own values; ∂L/∂ŷ of its loss as ``grad_y``).  ``diagnosis=False``
    skips the diagnosis (the mismatch's is then None).
    """
    if case is None:
        raise UsageError("`case` is required: a symconv.testing.Case or a problem")
    chosen = _settings(backward, dtype, framework)
    the_case, truth = _prepare(case)
    problem = truth.problem
    call = _Call(forward, backward, chosen, dtype, f"{configuration_text(problem.layer)}; "
                 + (the_case.describe() if the_case.index else f"problem {problem.title!r}"))
    with np.errstate(all="ignore"):
        got = _RUNNERS[chosen](call, truth, _keywords(problem.layer))
    backend = f"impl-{dtype}"
    checks = crosscheck.compare(
        problem, truth.exact, got, backend, truth.magnitudes, truth_floats=truth.floats
    )
    order = {name: position for position, name in enumerate(COMPARED)}
    checks.sort(key=lambda check: order[check.quantity])
    the_replay = replay if replay is not None else _replay(the_case, forward, backward, chosen,
                                                           dtype)
    if checks:
        if the_case.index:
            checks[0].config["case"] = the_case.index
        if the_replay:
            checks[0].config["replay"] = the_replay
    failing = [check for check in checks if not check.ok]
    if not failing:
        return CaseResult(the_case, checks)
    loss_magnitude = float(truth.magnitudes["loss"] or 0.0)
    tolerances = {
        q: np.broadcast_to(
            crosscheck.tolerance(backend, problem, np.asarray(truth.magnitudes[q]),
                                 loss_magnitude),
            np.shape(truth.floats[q]),  # type: ignore[arg-type]
        )
        for q in COMPARED
        if truth.floats[q] is not None
    }
    valid = {
        q: np.asarray(got[q], dtype=np.float64)
        for q in COMPARED
        if q in got and got[q] is not None and truth.floats[q] is not None
        and np.shape(got[q]) == np.shape(truth.floats[q])  # type: ignore[arg-type]
    }
    found = (
        diagnose(problem, valid, tolerances, [check.quantity for check in failing])
        if diagnosis
        else None
    )
    label = _label(forward, backward, chosen)
    message, index, expected, actual, tol = _message(
        label, the_case, truth, failing, got, tolerances, found, the_replay, dtype
    )
    mismatch = ConvMismatch(
        message,
        case=the_case,
        quantity=failing[0].quantity,
        index=index,
        expected=expected,
        actual=actual,
        tolerance=tol,
        diagnosis=found.sentence if found else None,
        replay=the_replay,
    )
    return CaseResult(the_case, checks, mismatch, found)


def check_case(
    forward: Function,
    backward: Function | None = None,
    case: Case | Problem | str | Path | None = None,
    *,
    dtype: str = "float64",
    framework: str | None = None,
    replay: str | None = None,
) -> list[Check]:
    """One :class:`~symconv.crosscheck.Check` per quantity (yhat, grad_x, grad_w, grad_b;
    backend ``impl-float64``/``impl-float32``), without raising on a mismatch.

    Example:
        >>> from symconv.reference import numpy_conv
        >>> case = cases(Supports(dims=(1,)), sweep=1)[0]
        >>> def forward(x, w, b, **settings):
        ...     return numpy_conv.forward(case.problem.layer, x, w, b)
        >>> def backward(x, w, b, grad_y, **settings):
        ...     return numpy_conv.backward(case.problem.layer, x, w, b, grad_y)
        >>> [(c.quantity, c.ok) for c in check_case(forward, backward, case)]
        [('yhat', True), ('grad_x', True), ('grad_w', True), ('grad_b', True)]
    """
    return run_case(
        forward, backward, case, dtype=dtype, framework=framework, replay=replay,
        diagnosis=False,
    ).checks


def assert_case(
    forward: Function,
    backward: Function | None = None,
    case: Case | Problem | str | Path | None = None,
    *,
    dtype: str = "float64",
    framework: str | None = None,
    replay: str | None = None,
) -> None:
    """Raise :class:`ConvMismatch` for the first wrong quantity of one case (in the order
    yhat, grad_x, grad_w, grad_b); return None when every quantity matches.

    Example:
        >>> from symconv.reference import numpy_conv
        >>> case = cases(Supports(dims=(1,), biases=("shared",)), sweep=1)[0]
        >>> def forward(x, w, b, **settings):  # the bias forgotten
        ...     return numpy_conv.forward(case.problem.layer, x, w, 0 * b)
        >>> def backward(x, w, b, grad_y, **settings):
        ...     return numpy_conv.backward(case.problem.layer, x, w, b, grad_y)
        >>> try:
        ...     assert_case(forward, backward, case)
        ... except ConvMismatch as exc:
        ...     print(exc.quantity, exc.diagnosis.split(":")[0])
        yhat missing bias
    """
    __tracebackhide__ = True
    result = run_case(forward, backward, case, dtype=dtype, framework=framework, replay=replay)
    if result.mismatch is not None:
        raise result.mismatch


def assert_conv_matches(
    forward: Function,
    backward: Function | None = None,
    *,
    problem: Problem | str | Path | None = None,
    sweep: int = 20,
    seed: int = 0,
    supports: Supports = DEFAULT_SUPPORTS,
    dtype: str = "float64",
    framework: str | None = None,
) -> None:
    """Check ``problem`` (if given: a Problem, built-in name or TOML path, with its own
    values) and then ``sweep`` random cases of ``supports``; raise :class:`ConvMismatch`
    on the first failing case (``sweep=0``: the problem only)."""
    __tracebackhide__ = True
    chosen = _settings(backward, dtype, framework)
    if problem is not None:
        replay = ""
        if isinstance(problem, (str, Path)) and _importable(forward) and (
            backward is None or _importable(backward)
        ):
            replay = f"symconv verify --impl {implementation_name(forward)}" + (
                f" --impl-backward {implementation_name(backward)}" if backward else ""
            ) + f" --problem {problem}" + (" --dtype float32" if dtype == "float32" else "")
        assert_case(forward, backward, problem, dtype=dtype, framework=chosen, replay=replay)
    if sweep:
        for case in cases(supports, sweep=sweep, seed=seed):
            assert_case(forward, backward, case, dtype=dtype, framework=chosen)


def load_callable(spec: str, option: str = "--impl") -> Function:
    """The callable named ``MODULE:NAME`` (NAME may be dotted), importable from the current
    directory or ``sys.path``; :class:`~symconv.errors.UsageError` naming ``option``
    when it cannot be imported or is not callable.

    Example:
        >>> load_callable("symconv.testing.api:load_callable") is load_callable
        True
        >>> try:
        ...     load_callable("symconv.nowhere:f")
        ... except UsageError as exc:
        ...     print(exc)
        `--impl` (=symconv.nowhere:f) cannot be imported: No module named 'symconv.nowhere'
    """
    module_name, colon, name = spec.partition(":")
    if not colon or not module_name.strip() or not name.strip():
        raise UsageError(f"`{option}` (={spec}) must be MODULE:NAME, e.g. my_pkg.conv:forward")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name.strip())
    except Exception as exc:
        message = str(exc) if isinstance(exc, ImportError) else f"{type(exc).__name__}: {exc}"
        raise UsageError(f"`{option}` (={spec}) cannot be imported: {message}") from None
    for part in name.strip().split("."):
        if not hasattr(target, part):
            raise UsageError(
                f"`{option}` (={spec}) cannot be imported: {getattr(target, '__name__', target)!s}"
                f" has no attribute {part!r}"
            )
        target = getattr(target, part)
    if not callable(target):
        raise UsageError(
            f"`{option}` (={spec}) is not callable (it is a {type(target).__name__})"
        )
    function: Function = target
    return function


def layer_from_call(
    x: Any,
    w: Any,
    b: Any | None,
    *,
    stride: tuple[int, ...],
    padding: tuple[int | tuple[int, int], ...],
    dilation: tuple[int, ...],
    groups: int,
    padding_mode: str,
) -> Layer:
    """The :class:`~symconv.layer.Layer` of one call of the calling convention: shapes
    from ``x`` ``(B, C_in, *S)``, ``w`` ``(C_out, C_in/G, *K)`` and ``b`` (None, shared
    ``(C_out,)`` or untied ``(C_out, *O)``), settings from the keywords.  For
    implementations built on :mod:`symconv.reference.numpy_conv`.

    Example:
        >>> layer = layer_from_call(np.zeros((2, 1, 5)), np.zeros((3, 1, 2)), None,
        ...     stride=(2,), padding=((1, 0),), dilation=(1,), groups=1, padding_mode="zeros")
        >>> layer.output_shape, layer.padding, layer.bias
        ((3,), ((1, 0),), 'none')
    """
    untied = b is not None and np.ndim(b) > 1
    return make_layer(
        input_shape=list(x.shape[2:]),
        kernel_size=list(w.shape[2:]),
        stride=list(stride),
        padding=[list(p) if isinstance(p, tuple) else p for p in padding],
        dilation=list(dilation),
        padding_mode=padding_mode,
        bias="none" if b is None else ("untied" if untied else "shared"),
        in_channels=x.shape[1],
        out_channels=w.shape[0],
        groups=groups,
        batch=x.shape[0],
    )
