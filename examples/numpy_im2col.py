"""An engineer's N-D grouped convolution in plain NumPy, by im2col.

This is the kind of layer symconv.testing is for: written by hand, fast enough, and
nobody has proven its gradients.  It does not import symconv (it is the thing under test).

The recipe (one spatial axis or two or three, the same code):

1. pad the input (zeros, or circular: wrap around);
2. im2col: gather every sliding window into a column, one per tap and output position;
3. one batched matrix product per group: ``(C_out/G, C_in/G·K) @ (C_in/G·K, P)``;
4. add the bias.

The backward pass is the adjoint of each step, in reverse: the bias gradient is a sum,
the matrix product's gradients are two more products, col2im scatters the column
gradients back onto the padded input, and the padding's adjoint folds the borders back
(circular) or drops them (zeros).

Shapes (``B`` examples, ``G`` groups, ``K`` the taps and ``P`` the output positions)::

    x (B, C_in, *S)   w (C_out, C_in/G, *K)   b None | (C_out,) | (C_out, *O)   y (B, C_out, *O)

Convention (``torch.nn.functional.conv2d``'s): a cross-correlation; along each axis output
``i`` reads with tap ``j`` the padded position ``s·i + d·j``.

Example:
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(1, 2, 4)
    >>> w = np.ones((2, 1, 2))
    >>> forward(x, w, np.array([0.0, 10.0]), stride=(2,), padding=(0,), dilation=(1,),
    ...         groups=2, padding_mode="zeros")
    array([[[ 1.,  5.],
            [19., 23.]]])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Geometry",
    "add_bias",
    "backward",
    "bias_gradient",
    "col2im",
    "columns",
    "forward",
    "geometry",
    "gradients",
    "im2col",
    "image",
    "output",
    "pad",
    "unpad",
    "weight_matrix",
]

Array = NDArray[Any]
PaddingSpec = int | Sequence[int | Sequence[int]]


@dataclass(frozen=True)
class Geometry:
    """The per-axis settings of one call, normalised (one entry per spatial axis)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    padding_mode: str
    groups: int

    @property
    def ndim(self) -> int:
        """The number of spatial axes."""
        return len(self.kernel)

    def output_shape(self, spatial: Sequence[int]) -> tuple[int, ...]:
        """The output sizes for an (unpadded) input of sizes ``spatial``."""
        return tuple(
            (n + before + after - d * (k - 1) - 1) // s + 1
            for n, k, s, d, (before, after) in zip(
                spatial, self.kernel, self.stride, self.dilation, self.padding
            )
        )


def _per_axis(value: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    values = (value,) * ndim if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) != ndim:
        raise ValueError(f"`{name}` (={value!r}) needs one entry per spatial axis ({ndim})")
    return values


def _padding_pairs(padding: PaddingSpec, ndim: int) -> tuple[tuple[int, int], ...]:
    entries = (padding,) * ndim if isinstance(padding, int) else tuple(padding)
    if len(entries) != ndim:
        raise ValueError(f"`padding` (={padding!r}) needs one entry per spatial axis ({ndim})")
    pairs: list[tuple[int, int]] = []
    for entry in entries:
        if isinstance(entry, int):
            pairs.append((entry, entry))
        else:
            before, after = entry
            pairs.append((int(before), int(after)))
    return tuple(pairs)


def geometry(
    w: Array,
    *,
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> Geometry:
    """The settings of a call with kernel ``w`` ``(C_out, C_in/G, *K)``, one entry per axis.

    ``padding`` entries are an int (both sides) or a ``(before, after)`` pair.

    Example:
        >>> geometry(np.zeros((1, 1, 3, 2)), stride=(2, 1), padding=(1, (0, 1))).padding
        ((1, 1), (0, 1))
    """
    if padding_mode not in ("zeros", "circular"):
        raise ValueError(f'`padding_mode` (={padding_mode!r}) must be "zeros" or "circular"')
    ndim = w.ndim - 2
    return Geometry(
        kernel=tuple(w.shape[2:]),
        stride=_per_axis(stride, ndim, "stride"),
        dilation=_per_axis(dilation, ndim, "dilation"),
        padding=_padding_pairs(padding, ndim),
        padding_mode=padding_mode,
        groups=int(groups),
    )


# ---------------------------------------------------------------------------------------
# the building blocks and their adjoints


def pad(x: Array, geo: Geometry) -> Array:
    """The padded input ``(B, C, *(S + before + after))``: zeros, or wrapped around."""
    widths = [(0, 0), (0, 0), *geo.padding]
    if geo.padding_mode == "circular":
        return np.pad(x, widths, mode="wrap")
    return np.pad(x, widths, mode="constant")


def unpad(grad_padded: Array, geo: Geometry, spatial: Sequence[int]) -> Array:
    """The adjoint of :func:`pad`: the gradient on the input ``(B, C, *spatial)``.

    Zeros: the border's gradient is dropped.  Circular: padded position ``q`` is a copy of
    input position ``(q − before) mod n``, so its gradient is added there.
    """
    grad = grad_padded
    for axis, (n, (before, _)) in enumerate(zip(spatial, geo.padding), start=2):
        if geo.padding_mode == "zeros":
            grad = np.take(grad, np.arange(before, before + n), axis=axis)
            continue
        source = (np.arange(grad.shape[axis]) - before) % n
        moved = np.moveaxis(grad, axis, 0)
        folded = np.zeros((n, *moved.shape[1:]), dtype=grad.dtype)
        np.add.at(folded, source, moved)
        grad = np.moveaxis(folded, 0, axis)
    return grad


def _window(tap: Sequence[int], geo: Geometry, out: Sequence[int]) -> tuple[slice, ...]:
    """The strided slice of the padded input that tap ``tap`` reads for every output."""
    return tuple(
        slice(d * j, d * j + s * (o - 1) + 1, s)
        for j, s, d, o in zip(tap, geo.stride, geo.dilation, out)
    )


def im2col(padded: Array, geo: Geometry, out: Sequence[int]) -> Array:
    """The sliding windows ``(B, C, *K, *O)``: entry ``[β, c, j…, i…]`` is the padded input
    at ``s·i + d·j`` along every axis (one strided slice per tap)."""
    batch, channels = padded.shape[:2]
    cols = np.empty((batch, channels, *geo.kernel, *out), dtype=padded.dtype)
    for tap in itertools.product(*(range(k) for k in geo.kernel)):
        column: tuple[Any, ...] = (slice(None), slice(None), *tap)
        window: tuple[Any, ...] = (..., *_window(tap, geo, out))
        cols[column] = padded[window]
    return cols


def col2im(cols: Array, geo: Geometry, padded_shape: Sequence[int]) -> Array:
    """The adjoint of :func:`im2col`: window gradients ``(B, C, *K, *O)`` added back onto
    the padded input ``padded_shape`` (overlapping windows accumulate)."""
    out = cols.shape[2 + geo.ndim :]
    grad = np.zeros(tuple(padded_shape), dtype=cols.dtype)
    for tap in itertools.product(*(range(k) for k in geo.kernel)):
        column: tuple[Any, ...] = (slice(None), slice(None), *tap)
        window: tuple[Any, ...] = (..., *_window(tap, geo, out))
        grad[window] += cols[column]
    return grad


def columns(x: Array, geo: Geometry, out: Sequence[int]) -> Array:
    """The im2col matrix of each group ``(B, G, C_in/G·K, P)`` of input ``x``."""
    cols = im2col(pad(x, geo), geo, out)
    return cols.reshape(x.shape[0], geo.groups, -1, math.prod(out))


def image(grad_cols: Array, geo: Geometry, x_shape: Sequence[int], out: Sequence[int]) -> Array:
    """The adjoint of :func:`columns`: the gradient on ``x`` ``x_shape`` from the gradient
    of its im2col matrix ``(B, G, C_in/G·K, P)``."""
    batch, channels, *spatial = x_shape
    padded_shape = (
        batch,
        channels,
        *(n + before + after for n, (before, after) in zip(spatial, geo.padding)),
    )
    cols = grad_cols.reshape(batch, channels, *geo.kernel, *out)
    return unpad(col2im(cols, geo, padded_shape), geo, spatial)


def weight_matrix(w: Array, groups: int) -> Array:
    """The kernel as one matrix per group ``(G, C_out/G, C_in/G·K)``."""
    return w.reshape(groups, w.shape[0] // groups, -1)


def add_bias(y: Array, b: Array | None) -> Array:
    """``y`` ``(B, C_out, *O)`` plus the bias (shared ``(C_out,)``, untied ``(C_out, *O)``)."""
    if b is None:
        return y
    # shared (C_out,) broadcast over the positions; untied (C_out, *O) as it is
    return y + (b.reshape(1, -1, *([1] * (y.ndim - 2))) if b.ndim == 1 else b[None])


def bias_gradient(grad_y: Array, b: Array | None) -> Array | None:
    """∂L/∂b: ``grad_y`` summed over the batch (and the positions, for a shared bias)."""
    if b is None:
        return None
    axes = (0, *range(2, grad_y.ndim)) if b.ndim == 1 else (0,)
    grad: Array = grad_y.sum(axis=axes)
    return grad


# ---------------------------------------------------------------------------------------
# the layer


def output(x: Array, w: Array, b: Array | None, geo: Geometry) -> Array:
    """:func:`forward` with the settings as a :class:`Geometry`."""
    out = geo.output_shape(x.shape[2:])
    # one matrix product per group: (C_out/G, C_in/G·K) @ (C_in/G·K, P)
    y = weight_matrix(w, geo.groups)[None] @ columns(x, geo, out)
    return add_bias(y.reshape(x.shape[0], w.shape[0], *out), b)


def gradients(
    x: Array, w: Array, b: Array | None, grad_y: Array, geo: Geometry
) -> tuple[Array, Array, Array | None]:
    """:func:`backward` with the settings as a :class:`Geometry`."""
    out = grad_y.shape[2:]
    cols = columns(x, geo, out)
    weights = weight_matrix(w, geo.groups)
    grad_y_matrix = grad_y.reshape(x.shape[0], geo.groups, -1, math.prod(out))
    # ∂L/∂W_g = Σ_β ∂L/∂Y_βg · Col_βgᵀ   (summed over the batch)
    grad_w = (grad_y_matrix @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(w.shape)
    # ∂L/∂Col_βg = W_gᵀ · ∂L/∂Y_βg, then col2im and the padding's adjoint
    grad_x = image(weights.swapaxes(-1, -2)[None] @ grad_y_matrix, geo, x.shape, out)
    return grad_x, grad_w, bias_gradient(grad_y, b)


def forward(
    x: Array,
    w: Array,
    b: Array | None = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> Array:
    """The output ``y`` ``(B, C_out, *O)`` of the convolution of ``x`` ``(B, C_in, *S)`` with
    ``w`` ``(C_out, C_in/G, *K)`` and bias ``b`` (``None``, ``(C_out,)`` or ``(C_out, *O)``).

    Example:
        >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
        >>> forward(x, np.ones((1, 1, 2, 2)), None, stride=(2, 2), padding=(0, 0),
        ...         dilation=(1, 1), groups=1, padding_mode="zeros")
        array([[[[10., 18.],
                 [42., 50.]]]])
    """
    geo = geometry(
        w,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
    )
    return output(x, w, b, geo)


def backward(
    x: Array,
    w: Array,
    b: Array | None,
    grad_y: Array,
    *,
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> tuple[Array, Array, Array | None]:
    """``(∂L/∂x, ∂L/∂w, ∂L/∂b)`` in the shapes of ``x``, ``w`` and ``b`` (``None`` without a
    bias), from ``grad_y`` = ∂L/∂y ``(B, C_out, *O)``.

    Example:
        >>> x = np.arange(4.0).reshape(1, 1, 4)
        >>> gx, gw, gb = backward(x, np.array([[[1.0, 2.0]]]), np.zeros(1), np.ones((1, 1, 3)),
        ...                       stride=(1,), padding=(0,), dilation=(1,), groups=1,
        ...                       padding_mode="zeros")
        >>> gx.tolist(), gw.tolist(), gb.tolist()
        ([[[1.0, 3.0, 3.0, 2.0]]], [[[3.0, 6.0]]], [3.0])
    """
    geo = geometry(
        w,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
    )
    return gradients(x, w, b, grad_y, geo)
