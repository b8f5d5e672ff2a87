"""Which classic mistake explains a user's wrong values: diagnosis by mutants.

Each candidate is a deliberately broken reference — the mutants of
:mod:`symconv.mutants` and a few more mistakes that hand-written layers make (a window
off by one with zeros outside, one axis at a time; groups interleaved; the batch
averaged or only its last example kept; the kernel flipped only in ∂L/∂x) — run on the
same case.  A candidate explains the user's result when the user's first wrong quantity
equals the candidate's within the same tolerance as the truth comparison; among those,
the one that also matches the most other quantities wins (then the order below).

Every candidate sees an upstream problem (loss ``"upstream"``: ``grad_yhat`` is the
``grad_y`` the user's backward was given), so that a wrong forward pass cannot change
the gradient the backward pass starts from.

Example:
    >>> DIAGNOSES["flipped-kernel"].split(":")[0]
    'flipped kernel'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from symconv.arrays import problem_arrays
from symconv.layer import Layer
from symconv.mutants import MUTANTS, detectable
from symconv.problem import Problem
from symconv.reference import numpy_conv as nc
from symconv.reference.numpy_conv import Array, Quantities

__all__ = ["COMPARED", "DIAGNOSES", "Diagnosis", "diagnose"]

COMPARED = ("yhat", "grad_x", "grad_w", "grad_b")
"""The quantities of a user's layer, in the order they are reported."""

DIAGNOSES: dict[str, str] = {
    "flipped-kernel": "flipped kernel: the values are those of a true convolution (the kernel "
    "flipped along every spatial axis); a deep-learning convolution is a cross-correlation: "
    "tap j of output i reads input s·i + d·j − p, with no flip",
    "off-by-one": "off-by-one window: every window starts one position late along every "
    "axis (input s·i + d·j − p + 1 read for s·i + d·j − p, the last position repeated)",
    "missing-bias": "missing bias: the forward pass leaves the bias out (ŷ = Σ w·x, without "
    "+ b)",
    "wrong-sign": "wrong sign: the update climbs the gradient (θ + lr·∂L/∂θ for θ − lr·∂L/∂θ)",
    "stride-ignored": "stride ignored in backward: the backward pass reads the windows with "
    "stride 1 (output i at i + d·j) while the forward pass uses s·i + d·j",
    "unhalved-square": "½ forgotten: ∂L/∂ŷ is twice the derivative of ½Σ(y − ŷ)²",
    "wrong-group": "wrong group mapping: the output channels of group g read the input "
    "channels of group g + 1; output channel co is in group g = co // (C_out/G) and reads "
    "input channels g·C_in/G … (g+1)·C_in/G − 1",
    "batch-not-summed": "grad_w/grad_b not summed over the batch: they hold the first "
    "example's gradient only; the parameter gradients are sums over every example",
    "padding-side": "padding on the wrong side: the uneven padding (before, after) is "
    "applied as (after, before)",
    "no-circular-wrap": "circular wrap missing: the circular padding is read as zeros; a "
    "position outside the input must wrap around (modulo the axis length)",
    "dilation-ignored": "dilation ignored in backward: the backward pass reads the taps "
    "without dilation (s·i + j) while the forward pass uses s·i + d·j",
    "transposed-axes": "transposed kernel axes: tap (j₁, …, j_D) reads the weight stored at "
    "(j_D, …, j₁) (the kernel read in column-major order)",
    # mistakes beyond the mutants (generated per layer, see _candidates)
    "off-by-one-late": "off-by-one window: the windows start one position late{axes} (input "
    "s·i + d·j − p + 1 read for s·i + d·j − p, zeros outside)",
    "off-by-one-early": "off-by-one window: the windows start one position early{axes} "
    "(input s·i + d·j − p − 1 read for s·i + d·j − p, zeros outside)",
    "groups-interleaved": "wrong group mapping: output channel co reads the input channels "
    "of group co mod G (interleaved); it is in group co // (C_out/G) (consecutive blocks, as "
    "PyTorch)",
    "batch-last-only": "grad_w/grad_b not summed over the batch: they hold the last "
    "example's gradient only (overwritten in a loop instead of accumulated)",
    "batch-mean": "grad_w/grad_b averaged over the batch: divided by the batch size; with "
    "an upstream gradient they are plain sums over every example",
    "flipped-kernel-grad-x": "kernel flipped the wrong way in ∂L/∂x: ∂L/∂x is the "
    "cross-correlation of ∂L/∂ŷ with the kernel flipped exactly once (the transposed "
    "convolution); this ∂L/∂x uses it unflipped",
}
"""Per diagnosis name, the sentence reported (the mutants of :mod:`symconv.mutants` first)."""

Compute = Callable[[Problem, np.dtype[Any]], Quantities]


@dataclass(frozen=True)
class Diagnosis:
    """A named mistake and the sentence that explains it."""

    name: str
    sentence: str


def _arrays(problem: Problem, dtype: np.dtype[Any]) -> tuple[Array, Array, Array | None, Array]:
    a = problem_arrays(problem, dtype)
    return a.x, a.w, a.b, a.target


def _truth(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    x, w, b, g = _arrays(problem, dtype)
    return nc.step(problem.layer, "upstream", x, w, b, g, float(problem.lr))


def _add_bias(layer: Layer, yhat: Array, b: Array | None) -> Array:
    if b is None:
        return yhat
    shape = b.shape if layer.bias == "untied" else (b.shape[0],) + (1,) * layer.ndim
    return yhat + b.reshape(shape)


def _shifted(shift: tuple[int, ...]) -> Compute:
    """The layer whose windows read input ``s·i + d·j − p + shift`` (zeros outside; wrapped
    when circular), consistently in forward and backward."""

    def compute(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
        layer = problem.layer
        x, w, b, g = _arrays(problem, dtype)
        # one zero appended on every spatial axis: position n reads 0
        extended = np.pad(x, [(0, 0), (0, 0)] + [(0, 1)] * layer.ndim)
        positions: list[NDArray[np.intp]] = []
        for n, k, s, (before, _), d, delta in zip(
            layer.input_shape, layer.kernel_size, layer.stride, layer.padding,
            layer.dilation, shift,
        ):
            m = layer.output_shape[len(positions)]
            read = s * np.arange(m)[:, None] + d * np.arange(k)[None, :] - before + delta
            if layer.padding_mode == "circular":
                read = read % n
            positions.append(np.where((read >= 0) & (read < n), read, n).astype(np.intp))
        windows = nc.gather(extended, tuple(positions))
        yhat = _add_bias(layer, nc.correlate(layer, windows, w), b)
        # chain rule onto the windows, back onto the positions they read (the zero drops)
        grad = nc.scatter(nc.window_gradient(layer, w, g), tuple(positions), extended.shape)
        inside = (slice(None), slice(None), *(slice(0, n) for n in layer.input_shape))
        return {
            "yhat": yhat,
            "grad_x": grad[inside],
            "grad_w": nc.kernel_gradient(layer, windows, g),
            "grad_b": nc.bias_gradient(layer, g),
        }

    return compute


def _groups_interleaved(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """Output channel co reads the input channels of group ``co mod G``: a dense layer
    whose weights are zero outside that group's block."""
    layer = problem.layer
    x, w, b, g = _arrays(problem, dtype)
    per_group = layer.in_channels // layer.groups
    dense = replace(layer, groups=1)
    full = np.zeros((layer.out_channels, layer.in_channels, *layer.kernel_size), dtype=dtype)
    blocks = [
        slice((co % layer.groups) * per_group, (co % layer.groups + 1) * per_group)
        for co in range(layer.out_channels)
    ]
    for co, block in enumerate(blocks):
        full[co, block] = w[co]
    out = nc.step(dense, "upstream", x, full, b, g, float(problem.lr))
    grad_w = np.stack([out["grad_w"][co, block] for co, block in enumerate(blocks)])
    return out | {"grad_w": grad_w}


def _batch(kept: Callable[[Array], Array], scale: Callable[[int], float]) -> Compute:
    """∂L/∂w and ∂L/∂b from the examples ``kept`` of the batch, times ``scale(batch)``."""

    def compute(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
        x, w, b, g = _arrays(problem, dtype)
        out = _truth(problem, dtype)
        _, grad_w, grad_b = nc.backward(problem.layer, kept(x), w, b, kept(g))
        factor = dtype.type(scale(x.shape[0]))
        return out | {
            "grad_w": grad_w * factor,
            "grad_b": None if grad_b is None else grad_b * factor,
        }

    return compute


def _flipped_grad_x(problem: Problem, dtype: np.dtype[Any]) -> Quantities:
    """The right ŷ, ∂L/∂w, ∂L/∂b; ∂L/∂x of the layer with the kernel flipped."""
    flipped = MUTANTS["flipped-kernel"](problem, dtype)
    return _truth(problem, dtype) | {"grad_x": flipped["grad_x"]}


def _axes_words(axes: Sequence[int], ndim: int) -> str:
    if ndim == 1 or len(axes) == ndim:
        return " along every axis" if ndim > 1 else ""
    return " along axis " + " and ".join(str(a + 1) for a in axes)


def _candidates(layer: Layer) -> Iterator[tuple[Diagnosis, Compute]]:
    """Every mistake that can show on ``layer`` (upstream gradient), in report order."""
    for name, mutant in MUTANTS.items():
        # a wrong update (wrong-sign) changes none of the compared quantities
        if name != "wrong-sign" and detectable(name, layer, "upstream"):
            yield Diagnosis(name, DIAGNOSES[name]), mutant
    if layer.groups > 1 and layer.out_channels > layer.groups:
        yield Diagnosis("groups-interleaved", DIAGNOSES["groups-interleaved"]), _groups_interleaved
    if layer.batch > 1:
        yield (
            Diagnosis("batch-last-only", DIAGNOSES["batch-last-only"]),
            _batch(lambda a: a[-1:], lambda batch: 1.0),
        )
        yield (
            Diagnosis("batch-mean", DIAGNOSES["batch-mean"]),
            _batch(lambda a: a, lambda batch: 1.0 / batch),
        )
    if any(k > 1 for k in layer.kernel_size):
        name = "flipped-kernel-grad-x"
        yield Diagnosis(name, DIAGNOSES[name]), _flipped_grad_x
    movable = [a for a in range(layer.ndim) if layer.input_shape[a] > 1]
    for size in range(len(movable), 0, -1):
        for axes in combinations(movable, size):
            for name, delta in (("off-by-one-late", 1), ("off-by-one-early", -1)):
                shift = tuple(delta if a in axes else 0 for a in range(layer.ndim))
                sentence = DIAGNOSES[name].format(axes=_axes_words(axes, layer.ndim))
                yield Diagnosis(name, sentence), _shifted(shift)


def _matches(got: Any, candidate: Any, tolerance: Any) -> bool:
    if got is None or candidate is None:
        return False
    value = np.asarray(got, dtype=np.float64)
    other = np.asarray(candidate, dtype=np.float64)
    if value.shape != other.shape or not np.all(np.isfinite(value)):
        return False
    return bool(np.all(np.abs(value - other) <= tolerance))


def diagnose(
    problem: Problem,
    got: Mapping[str, NDArray[Any] | None],
    tolerances: Mapping[str, NDArray[Any]],
    failing: Sequence[str],
) -> Diagnosis | None:
    """The mistake that explains ``got`` (the user's quantities, float64 in the full
    shapes), or None when no known mistake matches.

    ``problem`` is the case (loss ``"upstream"``, with values); ``tolerances`` holds the
    per-entry tolerance of each quantity; ``failing`` the quantities that differ from the
    truth, the reported one first.

    Example:
        >>> from symconv.testing.supports import Supports, cases
        >>> case = cases(Supports(dims=(1,)), sweep=1, seed=3)[0]
        >>> wrong = MUTANTS["flipped-kernel"](case.problem, np.dtype(np.float64))
        >>> got = {q: wrong[q] for q in COMPARED}
        >>> tolerances = {q: np.full(np.shape(got[q]), 1e-12) for q in COMPARED}
        >>> diagnose(case.problem, got, tolerances, ["yhat", "grad_x", "grad_w"]).name
        'flipped-kernel'
    """
    if not failing or failing[0] not in tolerances or got.get(failing[0]) is None:
        return None  # a missing or misshapen quantity: no mistake of the table explains it
    first = failing[0]
    dtype = np.dtype(np.float64)
    best: tuple[tuple[bool, int, int], Diagnosis] | None = None
    for order, (diagnosis, compute) in enumerate(_candidates(problem.layer)):
        with np.errstate(all="ignore"):
            values = compute(problem, dtype)
        if not _matches(got.get(first), values.get(first), tolerances[first]):
            continue
        agree = [
            q
            for q in COMPARED
            if q in got and q in tolerances and _matches(got[q], values.get(q), tolerances[q])
        ]
        score = (all(q in agree for q in failing), len(agree), -order)
        if best is None or score > best[0]:
            best = (score, diagnosis)
    return None if best is None else best[1]
