"""The convolution layer written directly in NumPy: forward, loss, backward and SGD.

No SymPy: the windows are gathered with index arrays from the padded input, and every
gradient is the adjoint of one forward step, written by hand.  Batched: ``x`` is
``(B, n)``, ``y`` is ``(B, m)``; the layer's ``w`` (``(k,)``) and ``b`` are shared by the
batch.

Convention (as in the exercise, and as ``torch.nn.functional.conv1d``): a cross-correlation,
no kernel flip.  Output ``i`` (0-based) reads with tap ``j`` the padded position
``s·i + d·j``, which is input position ``s·i + d·j − p``; zero padding reads 0 outside
``0..n−1``, circular padding wraps modulo ``n`` (``p ≤ n``)::

    ŷ[β, i] = Σ_j w[j] · xpad[β, s·i + d·j] + b[i]      (b[i] = b when shared, 0 when none)

Loss of one sample: ``sse_half`` ½ Σ_i (y_i − ŷ_i)², ``mse`` (1/m) Σ_i (y_i − ŷ_i)².  The
batch loss is the **sum** of the per-sample losses (not their mean), so a batch of one is
exactly the problem's loss and every gradient is the sum of the per-sample gradients.

Dtype: computations run in the dtype of ``x`` (float64 or float32; an integer ``x`` is
read as float64); ``w``, ``b``, ``y`` and ``lr`` are cast to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from symconv.errors import ProblemError, UsageError

if TYPE_CHECKING:
    from symconv.problem import Problem

__all__ = [
    "Array",
    "Gradients",
    "Layer",
    "StepResult",
    "Values",
    "backward",
    "forward",
    "from_problem",
    "loss",
    "pad",
    "padded_positions",
    "sgd_step",
    "step",
    "unpad",
]

Array = NDArray[Any]
"""A float array (float64 or float32)."""


@dataclass(frozen=True)
class Layer:
    """The settings of a 1-D convolution layer and its loss (no values).

    Example:
        >>> Layer(n=4, k=3, bias="untied").m
        2
    """

    n: int
    k: int
    stride: int = 1
    padding: int = 0
    padding_mode: str = "zeros"
    dilation: int = 1
    bias: str = "shared"
    loss: str = "sse_half"

    def __post_init__(self) -> None:
        sizes = {
            "layer.input_length": (self.n, 1),
            "layer.kernel_size": (self.k, 1),
            "layer.stride": (self.stride, 1),
            "layer.padding": (self.padding, 0),
            "layer.dilation": (self.dilation, 1),
        }
        for field, (size, minimum) in sizes.items():
            if not isinstance(size, int) or isinstance(size, bool) or size < minimum:
                raise ProblemError(field, size, f"must be an integer >= {minimum}")
        choices = {
            "layer.padding_mode": (self.padding_mode, ("zeros", "circular")),
            "layer.bias": (self.bias, ("shared", "untied", "none")),
            "loss.kind": (self.loss, ("sse_half", "mse")),
        }
        for field, (choice, allowed) in choices.items():
            if choice not in allowed:
                raise ProblemError(field, choice, f"must be one of {', '.join(map(repr, allowed))}")
        span = self.dilation * (self.k - 1) + 1
        if span > self.n + 2 * self.padding:
            raise ProblemError(
                "layer.kernel_size",
                self.k,
                f"with dilation {self.dilation} spans {span} positions, more than the padded "
                f"input ({self.n + 2 * self.padding})",
            )
        if self.padding_mode == "circular" and self.padding > self.n:
            raise ProblemError(
                "layer.padding", self.padding, f"must be <= input_length ({self.n}) when circular"
            )

    @property
    def m(self) -> int:
        """Output length ``floor((n + 2p − d(k−1) − 1) / s) + 1``."""
        span = self.dilation * (self.k - 1) + 1
        return (self.n + 2 * self.padding - span) // self.stride + 1

    @classmethod
    def from_problem(cls, problem: Problem) -> Layer:
        """The layer of a validated :class:`~symconv.problem.Problem`."""
        return cls(
            n=problem.n,
            k=problem.k,
            stride=problem.stride,
            padding=problem.padding,
            padding_mode=problem.padding_mode,
            dilation=problem.dilation,
            bias=problem.bias,
            loss=problem.loss,
        )


class Values(NamedTuple):
    """A problem's layer and values as arrays (a batch of one)."""

    layer: Layer
    x: Array  # (1, n)
    w: Array  # (k,)
    b: Array | None  # (m,) untied, () shared, None
    y: Array  # (1, m)
    lr: float


class Gradients(TypedDict):
    """Forward values and gradients of the summed batch loss (shapes for a batch of B)."""

    yhat: Array  # (B, m)
    loss: Array  # ()
    grad_yhat: Array  # (B, m)
    grad_w: Array  # (k,)
    grad_b: Array | None  # (m,) untied, () shared, None when there is no bias
    grad_x: Array  # (B, n)


class StepResult(Gradients):
    """:class:`Gradients` plus one SGD step and the forward pass after it."""

    w_next: Array  # (k,)
    b_next: Array | None  # like b
    yhat_next: Array  # (B, m)
    loss_next: Array  # ()


def from_problem(problem: Problem, dtype: DTypeLike = np.float64) -> Values:
    """A problem's values as arrays of ``dtype`` (x and y get a batch axis of length 1).

    Example:
        >>> v = from_problem(load_problem("exercise2"))
        >>> v.x.shape, v.w.tolist(), v.lr
        ((1, 4), [2.0, 1.0, 3.0], 0.01)
    """
    if problem.x is None or problem.w is None or problem.y is None:
        raise UsageError(
            f"problem {problem.title!r} has no [values]; give x, w, b and y to compute numbers"
        )

    def array(values: Any) -> Array:
        return np.asarray([float(v) for v in values], dtype=dtype)

    bias: Array | None
    if problem.b is None:
        bias = None
    elif isinstance(problem.b, tuple):
        bias = array(problem.b)
    else:
        bias = np.asarray(float(problem.b), dtype=dtype)
    return Values(
        Layer.from_problem(problem),
        array(problem.x)[None, :],
        array(problem.w),
        bias,
        array(problem.y)[None, :],
        float(problem.lr),
    )


# ---------------------------------------------------------------------------------------
# building blocks: the window index table, padding and its adjoint


def padded_positions(layer: Layer) -> NDArray[np.intp]:
    """``(m, k)`` index table: the padded position ``s·i + d·j`` read by output i, tap j.

    Example:
        >>> padded_positions(Layer(n=4, k=3)).tolist()
        [[0, 1, 2], [1, 2, 3]]
    """
    i = np.arange(layer.m, dtype=np.intp)[:, None]
    j = np.arange(layer.k, dtype=np.intp)[None, :]
    return layer.stride * i + layer.dilation * j


def pad(layer: Layer, x: Array) -> Array:
    """``(B, n)`` → ``(B, n + 2p)``: zeros on both sides, or the input wrapped around.

    Example:
        >>> pad(Layer(n=3, k=1, padding=1, padding_mode="circular"), np.array([[1., 2, 3]]))
        array([[3., 1., 2., 3., 1.]])
    """
    widths = ((0, 0), (layer.padding, layer.padding))
    padded: Array
    if layer.padding_mode == "zeros":
        padded = np.pad(x, widths, mode="constant")
    else:
        padded = np.pad(x, widths, mode="wrap")
    return padded


def unpad(layer: Layer, grad_padded: Array) -> Array:
    """Adjoint of :func:`pad`: ``(B, n + 2p)`` → ``(B, n)``.

    Padded position ``q`` holds ``x[q − p]`` (zeros: only when ``0 ≤ q − p < n``; the pad
    entries are constants and get no gradient) or ``x[(q − p) mod n]`` (circular: the
    gradient of a wrapped read folds back onto the input it copied).

    Example:
        >>> unpad(Layer(n=3, k=1, padding=1, padding_mode="circular"),
        ...       np.array([[1., 10, 100, 1000, 10000]]))
        array([[10010.,   100.,  1001.]])
    """
    source = np.arange(layer.n + 2 * layer.padding) - layer.padding
    if layer.padding_mode == "circular":
        keep = np.ones(source.shape, dtype=bool)
        source = source % layer.n
    else:
        keep = (source >= 0) & (source < layer.n)
    grad_x = np.zeros((grad_padded.shape[0], layer.n), dtype=grad_padded.dtype)
    # chain rule through the copy: ∂L/∂x[t] = Σ over padded q copying x[t] of ∂L/∂xpad[q]
    # (on the transposed views, so that the batch axis rides along)
    np.add.at(grad_x.T, source[keep], grad_padded[:, keep].T)
    return grad_x


# ---------------------------------------------------------------------------------------
# the layer


def _dtype(x: ArrayLike) -> np.dtype[Any]:
    dtype = np.asarray(x).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _inputs(
    layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None
) -> tuple[Array, Array, Array | None]:
    """``x``, ``w``, ``b`` as arrays of x's dtype, with their shapes checked."""
    dtype = _dtype(x)
    xa = np.asarray(x, dtype=dtype)
    wa = np.asarray(w, dtype=dtype)
    if xa.ndim != 2 or xa.shape[1] != layer.n:
        raise UsageError(f"`x` (shape {xa.shape}) must have shape (B, n) = (B, {layer.n})")
    if wa.shape != (layer.k,):
        raise UsageError(f"`w` (shape {wa.shape}) must have shape (k,) = ({layer.k},)")
    expected = {"untied": (layer.m,), "shared": (), "none": None}[layer.bias]
    if expected is None:
        if b is not None:
            raise UsageError('`b` must be None when the bias is "none"')
        return xa, wa, None
    if b is None:
        raise UsageError(f'`b` is required for a {layer.bias!r} bias (shape {expected})')
    ba = np.asarray(b, dtype=dtype)
    if ba.shape != expected:
        raise UsageError(
            f"`b` (shape {ba.shape}) must have shape {expected} for a {layer.bias} bias"
        )
    return xa, wa, ba


def _targets(layer: Layer, y: ArrayLike, batch: int, dtype: np.dtype[Any]) -> Array:
    ya = np.asarray(y, dtype=dtype)
    if ya.shape != (batch, layer.m):
        raise UsageError(f"`y` (shape {ya.shape}) must have shape (B, m) = ({batch}, {layer.m})")
    return ya


def forward(layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None) -> Array:
    """ŷ, shape ``(B, m)``, for inputs ``x`` ``(B, n)``, kernel ``w`` ``(k,)`` and bias ``b``.

    Example:
        >>> forward(Layer(n=4, k=3, bias="untied"), [[1., 2, 3, 4]], [2., 1, 3], [1., 1])
        array([[14., 20.]])
    """
    xa, wa, ba = _inputs(layer, x, w, b)
    # gather the windows: windows[β, i, j] = xpad[β, s·i + d·j]
    windows = pad(layer, xa)[:, padded_positions(layer)]
    # ŷ_i = Σ_j w_j · window_ij (+ b_i or b)
    yhat: Array = windows @ wa
    if ba is not None:
        yhat = yhat + ba
    return yhat


def loss(layer: Layer, yhat: ArrayLike, y: ArrayLike) -> Array:
    """The batch loss, shape ``()``: the sum over samples of ½Σ(y−ŷ)² or (1/m)Σ(y−ŷ)².

    Example:
        >>> loss(Layer(n=4, k=3), [[14., 20.]], [[2., 4.]])
        array(200.)
    """
    ya = np.asarray(yhat)
    dtype = _dtype(ya)
    residual = np.asarray(y, dtype=dtype) - np.asarray(ya, dtype=dtype)
    squares = np.sum(residual * residual)
    weight = 0.5 if layer.loss == "sse_half" else 1.0 / layer.m
    return np.asarray(squares * weight, dtype=dtype)


def _grad_yhat(layer: Layer, yhat: Array, y: Array) -> Array:
    """∂L/∂ŷ: ŷ − y (sse_half) or (2/m)(ŷ − y) (mse)."""
    weight = 1.0 if layer.loss == "sse_half" else 2.0 / layer.m
    result: Array = (yhat - y) * weight
    return result


def backward(
    layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None, y: ArrayLike
) -> Gradients:
    """ŷ, the batch loss and its gradients w.r.t. ŷ, w, b and x (see :class:`Gradients`).

    Example:
        >>> g = backward(Layer(n=4, k=3, bias="untied"), [[1., 2, 3, 4]], [2., 1, 3], [1., 1],
        ...              [[2., 4.]])
        >>> g["grad_w"], g["grad_x"]
        (array([ 44.,  72., 100.]), array([[24., 44., 52., 48.]]))
    """
    xa, wa, ba = _inputs(layer, x, w, b)
    ya = _targets(layer, y, xa.shape[0], xa.dtype)
    positions = padded_positions(layer)
    windows = pad(layer, xa)[:, positions]  # (B, m, k)
    yhat = windows @ wa
    if ba is not None:
        yhat = yhat + ba

    # loss and its derivative w.r.t. each output
    grad_yhat = _grad_yhat(layer, yhat, ya)

    # chain rule for the kernel: ∂L/∂w_j = Σ_β Σ_i ∂L/∂ŷ_βi · window_βij
    grad_w: Array = np.einsum("bi,bij->j", grad_yhat, windows)

    # chain rule for the bias: ∂ŷ_i/∂b_i = 1 (untied), ∂ŷ_i/∂b = 1 for every i (shared)
    grad_b: Array | None
    if layer.bias == "untied":
        grad_b = grad_yhat.sum(axis=0)
    elif layer.bias == "shared":
        grad_b = np.asarray(grad_yhat.sum(), dtype=xa.dtype)
    else:
        grad_b = None

    # chain rule for the input: scatter ∂L/∂ŷ_βi · w_j onto the padded position it read,
    # then through the padding (the adjoint of pad)
    grad_padded = np.zeros((xa.shape[0], layer.n + 2 * layer.padding), dtype=xa.dtype)
    contributions = grad_yhat[:, :, None] * wa  # (B, m, k)
    np.add.at(grad_padded.T, positions, contributions.transpose(1, 2, 0))
    grad_x = unpad(layer, grad_padded)

    return Gradients(
        yhat=yhat,
        loss=loss(layer, yhat, ya),
        grad_yhat=grad_yhat,
        grad_w=grad_w,
        grad_b=grad_b,
        grad_x=grad_x,
    )


def sgd_step(
    layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None, y: ArrayLike, lr: float
) -> tuple[Array, Array | None]:
    """One SGD step ``θ' = θ − lr·∂L/∂θ`` on the parameters: ``(w', b')`` (b' None if no bias).

    Example:
        >>> sgd_step(Layer(n=4, k=3, bias="shared"), [[1., 2, 3, 4]], [2., 1, 3], 1., [[2., 4.]],
        ...          0.01)
        (array([1.56, 0.28, 2.  ]), array(0.72))
    """
    xa, wa, ba = _inputs(layer, x, w, b)
    return _update(wa, ba, backward(layer, xa, wa, ba, y), lr)


def _update(w: Array, b: Array | None, grads: Gradients, lr: float) -> tuple[Array, Array | None]:
    """SGD: ``θ' = θ − lr·∂L/∂θ`` in the parameters' dtype."""
    rate = w.dtype.type(lr)
    w_next: Array = w - rate * grads["grad_w"]
    b_next: Array | None = None
    if b is not None and grads["grad_b"] is not None:
        b_next = np.asarray(b - rate * grads["grad_b"], dtype=w.dtype)
    return w_next, b_next


def step(
    layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None, y: ArrayLike, lr: float
) -> StepResult:
    """Everything ``symconv derive`` reports for one step, in NumPy (see :class:`StepResult`).

    Example:
        >>> v = from_problem(load_problem("exercise2"))
        >>> r = step(v.layer, v.x, v.w, v.b, v.y, v.lr)
        >>> r["yhat_next"], r["loss_next"]
        (array([[ 9. , 12.8]]), array(63.22))
    """
    xa, wa, ba = _inputs(layer, x, w, b)
    grads = backward(layer, xa, wa, ba, y)
    w_next, b_next = _update(wa, ba, grads, lr)
    yhat_next = forward(layer, xa, w_next, b_next)
    return StepResult(
        **grads,
        w_next=w_next,
        b_next=b_next,
        yhat_next=yhat_next,
        loss_next=loss(layer, yhat_next, np.asarray(y, dtype=xa.dtype)),
    )
