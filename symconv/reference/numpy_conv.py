"""The convolution layer written directly in NumPy: forward, loss, backward and SGD.

No SymPy, and none of :class:`~symconv.layer.Layer`'s connectivity methods: the layer is
read only as a container of settings (its fields and shape properties), and every index
is computed here again, so that this module can prove the derivation rather than repeat
it.  The windows are gathered with index arrays from the padded input; every gradient is
the adjoint of one forward step, written by hand.

Shapes (the contract of :mod:`symconv.arrays`; ``B`` examples, ``G`` groups)::

    x     (B, C_in, *S)            w  (C_out, C_in/G, *K)
    ŷ, y  (B, C_out, *O)           b  shared (C_out,) | untied (C_out, *O) | None

Any batch ``B ≥ 1`` is accepted (usually ``layer.batch``); the loss sums or averages over
every entry of the batch.

Convention (as ``torch.nn.functional.conv1d/2d/3d``): a cross-correlation, no kernel flip.
Along axis ``a``, output position ``i`` reads with tap ``j`` the padded position
``s_a·i + d_a·j``, which is input position ``s_a·i + d_a·j − p_a`` (``p_a`` the padding
before); zero padding reads 0 outside ``0..n_a−1``, circular padding wraps modulo ``n_a``.
Output channel ``co`` belongs to group ``g = co // (C_out/G)`` and reads the input channels
``g·C_in/G .. (g+1)·C_in/G − 1``::

    ŷ[β, co, i] = Σ_{c, j} w[co, c, j] · xpad[β, g·C_in/G + c, s·i + d·j] + b[co (, i)]

Losses (the oracle keeps its own formulas, independent of :mod:`symconv.loss`), summed
over ALL entries of ŷ (batch × channels × positions, ``N`` of them):
``sse_half`` ``L = ½ Σ (y − ŷ)²``; ``mse`` ``L = (1/N) Σ (y − ŷ)²`` (torch's ``MSELoss``);
``upstream`` no loss: the target *is* the given ∂L/∂ŷ.

Dtype: everything is computed in the dtype of ``x`` (float32 stays float32; anything else
is read as float64); ``w``, ``b``, the target and ``lr`` are cast to it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from symconv.errors import UsageError
from symconv.layer import Layer

__all__ = [
    "LOSS_KINDS",
    "Array",
    "Positions",
    "Quantities",
    "backward",
    "bias_gradient",
    "correlate",
    "forward",
    "gather",
    "kernel_gradient",
    "loss",
    "loss_gradient",
    "pad",
    "padded_positions",
    "padded_sources",
    "scatter",
    "step",
    "unpad",
    "window_gradient",
]

Array = NDArray[Any]
"""A float array (float64 or float32)."""

Quantities = dict[str, Any]
"""One step's results keyed by :data:`symconv.symbolic.explicit.QUANTITIES` (``yhat``,
``loss``, ``grad_yhat``, ``grad_w``, ``grad_b``, ``grad_x``, ``w_next``, ``b_next``,
``yhat_next``, ``loss_next``): arrays in the shapes of :mod:`symconv.arrays`, ``None``
for a missing bias and for the losses of an upstream gradient."""

Positions = tuple[NDArray[np.intp], ...]
"""Per spatial axis, an ``(O_a, K_a)`` table of the padded positions read."""

LOSS_KINDS = ("sse_half", "mse", "upstream")


# ---------------------------------------------------------------------------------------
# building blocks: padding, the window index tables, gather and their adjoints


@lru_cache(maxsize=256)
def padded_positions(layer: Layer) -> Positions:
    """Per axis, the ``(O_a, K_a)`` table ``s_a·i + d_a·j``: the padded position read by
    output position ``i`` with tap ``j`` (cached per layer: the arrays are read-only).

    Example:
        >>> from symconv.layer import make_layer
        >>> [t.tolist() for t in padded_positions(make_layer(input_shape=[4], kernel_size=3))]
        [[[0, 1, 2], [1, 2, 3]]]
    """
    tables: list[NDArray[np.intp]] = []
    for n, k, s, (before, after), d in zip(
        layer.input_shape, layer.kernel_size, layer.stride, layer.padding, layer.dilation
    ):
        # the output length: every start s·i whose last tap s·i + d·(k−1) is inside
        outputs = (n + before + after - d * (k - 1) - 1) // s + 1
        i = np.arange(outputs, dtype=np.intp)[:, None]
        j = np.arange(k, dtype=np.intp)[None, :]
        table = s * i + d * j
        table.flags.writeable = False
        tables.append(table)
    return tuple(tables)


@lru_cache(maxsize=256)
def padded_sources(layer: Layer) -> tuple[NDArray[np.intp], ...]:
    """Per axis, the input position that each padded position copies (−1: a zero;
    cached per layer: the arrays are read-only).

    Padded position ``q`` holds ``x[q − p_before]`` inside the input; outside it holds 0
    (zeros) or ``x[(q − p_before) mod n]`` (circular).

    Example:
        >>> from symconv.layer import make_layer
        >>> layer = make_layer(input_shape=[3], kernel_size=1, padding=[[2, 1]],
        ...                    padding_mode="circular")
        >>> padded_sources(layer)[0].tolist()
        [1, 2, 0, 1, 2, 0]
    """
    sources: list[NDArray[np.intp]] = []
    for n, (before, after) in zip(layer.input_shape, layer.padding):
        position = np.arange(n + before + after, dtype=np.intp) - before
        if layer.padding_mode == "circular":
            position = position % n
        else:
            position = np.where((position >= 0) & (position < n), position, -1)
        position.flags.writeable = False
        sources.append(position)
    return tuple(sources)


def pad(layer: Layer, x: Array) -> Array:
    """``(B, C, *S)`` → ``(B, C, *(n_a + p_before + p_after))``: zeros, or the input wrapped.

    Example:
        >>> from symconv.layer import make_layer
        >>> layer = make_layer(input_shape=[3], kernel_size=1, padding=1,
        ...                    padding_mode="circular")
        >>> pad(layer, np.array([[[1., 2, 3]]]))
        array([[[3., 1., 2., 3., 1.]]])
    """
    padded = x
    for axis, source in enumerate(padded_sources(layer), start=2):
        # copy along one axis: xpad[q] = x[source[q]], 0 where the source is a zero
        inside = source >= 0
        taken = np.take(padded, np.where(inside, source, 0), axis=axis)
        shape = [1] * taken.ndim
        shape[axis] = source.size
        padded = np.where(inside.reshape(shape), taken, np.zeros((), dtype=x.dtype))
    return padded


def unpad(layer: Layer, grad_padded: Array) -> Array:
    """Adjoint of :func:`pad`: ``(B, C, *padded)`` → ``(B, C, *S)``.

    The zeros of the padding are constants and get no gradient; a wrapped copy sends its
    gradient back onto the input entry it copied.

    Example:
        >>> from symconv.layer import make_layer
        >>> layer = make_layer(input_shape=[3], kernel_size=1, padding=1,
        ...                    padding_mode="circular")
        >>> unpad(layer, np.array([[[1., 10, 100, 1000, 10000]]]))
        array([[[10010.,   100.,  1001.]]])
    """
    grad = grad_padded
    for axis, (source, n) in enumerate(zip(padded_sources(layer), layer.input_shape), start=2):
        # chain rule through the copy: ∂L/∂x[t] = Σ over padded q copying x[t] of ∂L/∂xpad[q]
        inside = source >= 0
        moved = np.moveaxis(grad, axis, 0)
        folded = np.zeros((n, *moved.shape[1:]), dtype=grad.dtype)
        np.add.at(folded, source[inside], moved[inside])
        grad = np.moveaxis(folded, 0, axis)
    return grad


def _index(positions: Positions) -> tuple[Any, ...]:
    """The advanced index ``[:, :, P_1, …, P_D]`` with ``P_a`` broadcast to ``(*O, *K)``."""
    dims = len(positions)
    index: list[Any] = [slice(None), slice(None)]
    for axis, table in enumerate(positions):
        shape = [1] * (2 * dims)
        shape[axis], shape[dims + axis] = table.shape
        index.append(table.reshape(shape))
    return tuple(index)


def gather(padded: Array, positions: Positions) -> Array:
    """The windows ``(B, C, *O, *K)``: ``windows[β, c, i, j] = xpad[β, c, positions(i, j)]``.

    Example:
        >>> gather(np.array([[[1., 2, 3, 4]]]), (np.array([[0, 1, 2], [1, 2, 3]]),))
        array([[[[1., 2., 3.],
                 [2., 3., 4.]]]])
    """
    windows: Array = padded[_index(positions)]
    return windows


def scatter(grad_windows: Array, positions: Positions, padded_shape: tuple[int, ...]) -> Array:
    """Adjoint of :func:`gather`: ``(B, C, *O, *K)`` → ``padded_shape`` ``(B, C, *padded)``.

    Example:
        >>> scatter(np.ones((1, 1, 2, 3)), (np.array([[0, 1, 2], [1, 2, 3]]),), (1, 1, 4))
        array([[[1., 2., 2., 1.]]])
    """
    grad = np.zeros(padded_shape, dtype=grad_windows.dtype)
    # every window entry adds its gradient onto the padded position it read
    np.add.at(grad, _index(positions), grad_windows)
    return grad


def _grouped(layer: Layer, windows: Array) -> Array:
    """``(B, C_in, *O, *K)`` → ``(B, G, C_in/G, ΠO, ΠK)``."""
    dims = layer.ndim
    out = math.prod(windows.shape[2 : 2 + dims])
    taps = math.prod(windows.shape[2 + dims :])
    per_group = layer.in_channels // layer.groups
    return windows.reshape(windows.shape[0], layer.groups, per_group, out, taps)


def _grouped_kernel(layer: Layer, w: Array) -> Array:
    """``(C_out, C_in/G, *K)`` → ``(G, C_out/G, C_in/G, ΠK)``."""
    return w.reshape(layer.groups, layer.out_channels // layer.groups, w.shape[1], -1)


def _grouped_output(layer: Layer, g: Array) -> Array:
    """``(B, C_out, *O)`` → ``(B, G, C_out/G, ΠO)``."""
    return g.reshape(g.shape[0], layer.groups, layer.out_channels // layer.groups, -1)


def correlate(layer: Layer, windows: Array, w: Array) -> Array:
    """``Σ_{c,j} w[co, c, j] · windows[β, group(co)·C_in/G + c, i, j]``: ``(B, C_out, *O)``.

    Example:
        >>> from symconv.layer import make_layer
        >>> layer = make_layer(input_shape=[4], kernel_size=3)
        >>> correlate(layer, np.array([[[[1., 2, 3], [2, 3, 4]]]]), np.array([[[2., 1, 3]]]))
        array([[[13., 19.]]])
    """
    out_shape = windows.shape[2 : 2 + layer.ndim]
    # per group: ŷ[β, g, o, i] = Σ_c Σ_j w[g, o, c, j] · window[β, g, c, i, j]
    y = np.einsum("bgcij,gocj->bgoi", _grouped(layer, windows), _grouped_kernel(layer, w))
    result: Array = y.reshape(windows.shape[0], layer.out_channels, *out_shape)
    return result


def kernel_gradient(layer: Layer, windows: Array, grad_yhat: Array) -> Array:
    """Adjoint of :func:`correlate` in ``w``: ``∂L/∂w = Σ_β Σ_i ∂L/∂ŷ · window``, ``w``'s shape.

    Example:
        >>> from symconv.layer import make_layer
        >>> layer = make_layer(input_shape=[4], kernel_size=3)
        >>> kernel_gradient(layer, np.array([[[[1., 2, 3], [2, 3, 4]]]]), np.array([[[12., 16]]]))
        array([[[ 44.,  72., 100.]]])
    """
    kernel_shape = windows.shape[2 + layer.ndim :]
    grad = np.einsum(
        "bgoi,bgcij->gocj", _grouped_output(layer, grad_yhat), _grouped(layer, windows)
    )
    result: Array = grad.reshape(layer.out_channels, -1, *kernel_shape)
    return result


def window_gradient(layer: Layer, w: Array, grad_yhat: Array) -> Array:
    """Adjoint of :func:`correlate` in the windows: ``Σ_o ∂L/∂ŷ · w``, ``(B, C_in, *O, *K)``.

    Example:
        >>> from symconv.layer import make_layer
        >>> layer = make_layer(input_shape=[4], kernel_size=3)
        >>> window_gradient(layer, np.array([[[2., 1, 3]]]), np.array([[[12., 16]]]))
        array([[[[24., 12., 36.],
                 [32., 16., 48.]]]])
    """
    out_shape = grad_yhat.shape[2:]
    kernel_shape = w.shape[2:]
    grad = np.einsum(
        "bgoi,gocj->bgcij", _grouped_output(layer, grad_yhat), _grouped_kernel(layer, w)
    )
    result: Array = grad.reshape(grad_yhat.shape[0], layer.in_channels, *out_shape, *kernel_shape)
    return result


def bias_gradient(layer: Layer, grad_yhat: Array) -> Array | None:
    """∂L/∂b: shared ``(C_out,)`` sums over batch and positions, untied ``(C_out, *O)`` over
    the batch; None without a bias.

    Example:
        >>> from symconv.layer import make_layer
        >>> bias_gradient(make_layer(input_shape=[4], kernel_size=3), np.array([[[12., 16]]]))
        array([28.])
    """
    if layer.bias == "none":
        return None
    if layer.bias == "shared":
        # ∂ŷ[β, co, i]/∂b[co] = 1 for every example and position
        shared: Array = grad_yhat.sum(axis=(0, *range(2, grad_yhat.ndim)))
        return shared
    # ∂ŷ[β, co, i]/∂b[co, i] = 1 for every example
    untied: Array = grad_yhat.sum(axis=0)
    return untied


# ---------------------------------------------------------------------------------------
# inputs


def _dtype(x: ArrayLike) -> np.dtype[Any]:
    dtype = np.asarray(x).dtype
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def _inputs(
    layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None
) -> tuple[Array, Array, Array | None]:
    """``x``, ``w``, ``b`` as arrays of x's dtype, with their shapes checked."""
    dtype = _dtype(x)
    xa = np.asarray(x, dtype=dtype)
    wa = np.asarray(w, dtype=dtype)
    if xa.ndim != 2 + layer.ndim or xa.shape[1:] != layer.x_shape[1:]:
        raise UsageError(
            f"`x` (shape {xa.shape}) must have shape (B, C_in, *input_shape) = "
            f"(B, {', '.join(map(str, layer.x_shape[1:]))})"
        )
    if wa.shape != layer.w_shape:
        raise UsageError(
            f"`w` (shape {wa.shape}) must have shape (C_out, C_in/groups, *kernel_size) = "
            f"{layer.w_shape}"
        )
    expected = layer.b_shape
    if expected is None:
        if b is not None:
            raise UsageError('`b` must be None when the bias is "none"')
        return xa, wa, None
    if b is None:
        raise UsageError(f"`b` is required for a {layer.bias!r} bias (shape {expected})")
    ba = np.asarray(b, dtype=dtype)
    if ba.shape != expected:
        raise UsageError(
            f"`b` (shape {ba.shape}) must have shape {expected} for a {layer.bias} bias"
        )
    return xa, wa, ba


def _outputs(layer: Layer, name: str, values: ArrayLike, batch: int, dtype: Any) -> Array:
    """A target or ∂L/∂ŷ as an array of ``dtype`` in ``(batch, C_out, *O)``."""
    array = np.asarray(values, dtype=dtype)
    shape = (batch, *layer.y_shape[1:])
    if array.shape != shape:
        raise UsageError(f"`{name}` (shape {array.shape}) must have shape {shape}")
    return array


def _kind(kind: str) -> str:
    if kind not in LOSS_KINDS:
        raise UsageError(f"`kind` (={kind!r}) must be one of {', '.join(map(repr, LOSS_KINDS))}")
    return kind


# ---------------------------------------------------------------------------------------
# the layer


def _forward(layer: Layer, windows: Array, w: Array, b: Array | None) -> Array:
    # ŷ = Σ_{c,j} w · window (+ b, broadcast over the batch, and over positions when shared)
    yhat = correlate(layer, windows, w)
    if b is not None:
        shape = b.shape if layer.bias == "untied" else (b.shape[0],) + (1,) * layer.ndim
        yhat = yhat + b.reshape(shape)
    return yhat


def forward(layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None) -> Array:
    """ŷ ``(B, C_out, *O)`` for ``x`` ``(B, C_in, *S)``, ``w`` and ``b`` in the layer's shapes.

    Example:
        >>> from symconv.layer import make_layer
        >>> forward(make_layer(input_shape=[4], kernel_size=3, bias="untied"),
        ...         [[[1., 2, 3, 4]]], [[[2., 1, 3]]], [[1., 1]])
        array([[[14., 20.]]])
    """
    xa, wa, ba = _inputs(layer, x, w, b)
    windows = gather(pad(layer, xa), padded_positions(layer))
    return _forward(layer, windows, wa, ba)


def loss(kind: str, yhat: ArrayLike, target: ArrayLike) -> Array:
    """The loss, shape ``()``, in the dtype of ``yhat``: ``½Σ(y − ŷ)²`` (``sse_half``) or
    ``(1/N)Σ(y − ŷ)²`` over all ``N`` entries (``mse``).  ``upstream`` has no loss: raises
    :class:`~symconv.errors.UsageError`.

    Example:
        >>> loss("sse_half", [[[14., 20.]]], [[[2., 4.]]])
        array(200.)
    """
    if _kind(kind) == "upstream":
        raise UsageError('`kind` (="upstream") has no loss: ∂L/∂ŷ is given')
    dtype = _dtype(yhat)
    ya = np.asarray(yhat, dtype=dtype)
    residual = np.asarray(target, dtype=dtype) - ya
    squares = np.sum(residual * residual, dtype=dtype)
    if kind == "sse_half":
        return np.asarray(dtype.type(0.5) * squares, dtype=dtype)
    return np.asarray(squares / dtype.type(ya.size), dtype=dtype)


def loss_gradient(kind: str, yhat: ArrayLike, target: ArrayLike) -> Array:
    """∂L/∂ŷ, shaped like ``yhat``: ``ŷ − y`` (``sse_half``), ``(2/N)(ŷ − y)`` (``mse``), or
    the target itself (``upstream``: the given gradient).

    Example:
        >>> loss_gradient("mse", [[[14., 20.]]], [[[2., 4.]]])
        array([[[12., 16.]]])
    """
    dtype = _dtype(yhat)
    ya = np.asarray(yhat, dtype=dtype)
    ta = np.asarray(target, dtype=dtype)
    if _kind(kind) == "upstream":
        return ta.copy()
    residual: Array = ya - ta
    if kind == "sse_half":
        return residual
    scaled: Array = residual * (dtype.type(2) / dtype.type(ya.size))
    return scaled


def _backward(
    layer: Layer, windows: Array, padded_shape: tuple[int, ...], w: Array, grad_yhat: Array
) -> tuple[Array, Array, Array | None]:
    # chain rule for the kernel and the bias
    grad_w = kernel_gradient(layer, windows, grad_yhat)
    grad_b = bias_gradient(layer, grad_yhat)
    # chain rule for the input: onto the windows, back to the padded positions they read,
    # then through the padding
    grad_windows = window_gradient(layer, w, grad_yhat)
    grad_padded = scatter(grad_windows, padded_positions(layer), padded_shape)
    return unpad(layer, grad_padded), grad_w, grad_b


def backward(
    layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None, grad_yhat: ArrayLike
) -> tuple[Array, Array, Array | None]:
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)`` from ∂L/∂ŷ ``(B, C_out, *O)``; shaped like x, w, b
    (∂L/∂b None without a bias).  ``b`` is only checked: the gradients do not depend on it.

    Example:
        >>> from symconv.layer import make_layer
        >>> grad_x, grad_w, grad_b = backward(
        ...     make_layer(input_shape=[4], kernel_size=3, bias="untied"),
        ...     [[[1., 2, 3, 4]]], [[[2., 1, 3]]], [[1., 1]], [[[12., 16.]]])
        >>> grad_x, grad_w, grad_b
        (array([[[24., 44., 52., 48.]]]), array([[[ 44.,  72., 100.]]]), array([[12., 16.]]))
    """
    xa, wa, _ = _inputs(layer, x, w, b)
    g = _outputs(layer, "grad_yhat", grad_yhat, xa.shape[0], xa.dtype)
    padded = pad(layer, xa)
    windows = gather(padded, padded_positions(layer))
    return _backward(layer, windows, padded.shape, wa, g)


def step(
    layer: Layer,
    kind: str,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    target: ArrayLike,
    lr: float,
) -> Quantities:
    """Everything of one SGD step ``θ' = θ − lr·∂L/∂θ`` (``θ = w, b``), then the forward pass
    and loss again: a dict with every key of :data:`Quantities`.

    ``target`` is ``y`` ``(B, C_out, *O)``, or for ``kind="upstream"`` the given ∂L/∂ŷ
    (then ``loss`` and ``loss_next`` are None).

    Example:
        >>> from symconv.arrays import problem_arrays
        >>> from symconv.problem import load_problem
        >>> p = load_problem("exercise2")
        >>> a = problem_arrays(p)
        >>> r = step(p.layer, p.loss, a.x, a.w, a.b, a.target, a.lr)
        >>> r["yhat"], r["loss"], r["w_next"]
        (array([[[14., 20.]]]), array(200.), array([[[1.56, 0.28, 2.  ]]]))
        >>> r["yhat_next"], r["loss_next"]
        (array([[[ 9. , 12.8]]]), array(63.22))
    """
    xa, wa, ba = _inputs(layer, x, w, b)
    ta = _outputs(layer, "target", target, xa.shape[0], xa.dtype)
    has_loss = _kind(kind) != "upstream"
    padded = pad(layer, xa)
    windows = gather(padded, padded_positions(layer))

    # forward, loss and its derivative w.r.t. each output
    yhat = _forward(layer, windows, wa, ba)
    grad_yhat = loss_gradient(kind, yhat, ta)
    # backward
    grad_x, grad_w, grad_b = _backward(layer, windows, padded.shape, wa, grad_yhat)
    # one SGD step on the parameters (x and y are data), then forward again
    rate = xa.dtype.type(lr)
    w_next: Array = wa - rate * grad_w
    b_next: Array | None = None if ba is None or grad_b is None else ba - rate * grad_b
    yhat_next = _forward(layer, windows, w_next, b_next)
    return {
        "yhat": yhat,
        "loss": loss(kind, yhat, ta) if has_loss else None,
        "grad_yhat": grad_yhat,
        "grad_w": grad_w,
        "grad_b": grad_b,
        "grad_x": grad_x,
        "w_next": w_next,
        "b_next": b_next,
        "yhat_next": yhat_next,
        "loss_next": loss(kind, yhat_next, ta) if has_loss else None,
    }
