"""A convolution as a ``torch.autograd.Function``: unfold + matmul, with a hand-written backward.

The way an engineer writes a custom layer in PyTorch when the built-in one will not do
(a fused op, a new padding rule, ...): the forward pass is ``F.unfold`` (im2col) and one
matrix product per group; the backward pass is written by hand (``F.fold`` is col2im).
symconv.testing calls :func:`forward` with tensors that require gradients and lets torch
autograd run :meth:`ConvFunction.backward` — so the hand-written backward is what gets
proven.  It does not import symconv.

1-D and 2-D (``F.unfold`` is 2-D only: a 1-D layer is run as a 2-D one of height 1);
zeros or circular padding, uneven padding, groups, a shared, untied or no bias.

Shapes: ``x (B, C_in, *S)``, ``w (C_out, C_in/G, *K)``, ``b None | (C_out,) | (C_out, *O)``,
``y (B, C_out, *O)``.

Example:
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4).requires_grad_()
    >>> w = torch.ones(1, 1, 2, 2, requires_grad=True)
    >>> y = forward(x, w, None, stride=(2, 2), padding=(0, 0), dilation=(1, 1), groups=1,
    ...             padding_mode="zeros")
    >>> y.detach()
    tensor([[[[10., 18.],
              [42., 50.]]]])
    >>> y.sum().backward()
    >>> w.grad
    tensor([[[[20., 24.],
              [36., 40.]]]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "ConvFunction",
    "Geometry",
    "forward",
    "geometry",
    "pad",
    "padded_gradients",
    "run",
    "unpad",
]

PaddingSpec = int | Sequence[int | Sequence[int]]


@dataclass(frozen=True)
class Geometry:
    """The settings of one 2-D call (a 1-D layer has the first axis of size 1)."""

    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    padding_mode: str
    groups: int

    def pad_list(self) -> list[int]:
        """``F.pad``'s list: ``(before, after)`` pairs from the LAST axis to the first."""
        return [side for pair in reversed(self.padding) for side in pair]


def _pairs(padding: PaddingSpec, ndim: int) -> list[tuple[int, int]]:
    entries = [padding] * ndim if isinstance(padding, int) else list(padding)
    pairs = []
    for entry in entries:
        if isinstance(entry, int):
            pairs.append((entry, entry))
        else:
            before, after = entry
            pairs.append((int(before), int(after)))
    return pairs


def geometry(
    ndim: int,
    *,
    stride: int | Sequence[int],
    padding: PaddingSpec,
    dilation: int | Sequence[int],
    groups: int,
    padding_mode: str,
) -> Geometry:
    """The settings for ``ndim`` (1 or 2) spatial axes, as a 2-D :class:`Geometry`.

    Example:
        >>> geometry(1, stride=(2,), padding=((1, 0),), dilation=(1,), groups=1,
        ...          padding_mode="zeros").padding
        ((0, 0), (1, 0))
    """
    if ndim not in (1, 2):
        raise ValueError(f"this layer is 1-D or 2-D (not {ndim}-D)")
    if padding_mode not in ("zeros", "circular"):
        raise ValueError(f'`padding_mode` (={padding_mode!r}) must be "zeros" or "circular"')

    def two(value: int | Sequence[int]) -> tuple[int, int]:
        values = [value] * ndim if isinstance(value, int) else [int(v) for v in value]
        return (1, values[0]) if ndim == 1 else (values[0], values[1])

    pairs = _pairs(padding, ndim)
    return Geometry(
        stride=two(stride),
        dilation=two(dilation),
        padding=((0, 0), pairs[0]) if ndim == 1 else (pairs[0], pairs[1]),
        padding_mode=padding_mode,
        groups=int(groups),
    )


def pad(x: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """The padded input ``(B, C, H + pads, W + pads)``."""
    mode = "circular" if geo.padding_mode == "circular" else "constant"
    return F.pad(x, geo.pad_list(), mode=mode)


def unpad(grad_padded: torch.Tensor, geo: Geometry, size: Sequence[int]) -> torch.Tensor:
    """The adjoint of :func:`pad`: the gradient on the input ``(B, C, *size)``.

    Zeros: the border is cropped.  Circular: padded position ``q`` copies input position
    ``(q − before) mod n``, so its gradient is added there (``index_add``).
    """
    grad = grad_padded
    # the padding before each axis, read from the same F.pad list as the forward pass
    pads = geo.pad_list()
    befores = (pads[2], pads[0])
    for axis, n, before in zip((2, 3), size, befores):
        if geo.padding_mode == "zeros":
            grad = grad.narrow(axis, before, n)
            continue
        source = (torch.arange(grad.shape[axis]) - before) % n
        shape = list(grad.shape)
        shape[axis] = n
        grad = grad.new_zeros(shape).index_add_(axis, source, grad)
    return grad


class ConvFunction(torch.autograd.Function):
    """2-D grouped convolution: ``F.unfold`` + one matmul per group; backward by hand."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, geo: Geometry
    ) -> torch.Tensor:
        batch, _, height, width = x.shape
        c_out, _, kh, kw = w.shape
        padded = pad(x, geo)
        out_h = (padded.shape[2] - geo.dilation[0] * (kh - 1) - 1) // geo.stride[0] + 1
        out_w = (padded.shape[3] - geo.dilation[1] * (kw - 1) - 1) // geo.stride[1] + 1
        # im2col: (B, C_in·kh·kw, P), rows ordered channel-major like w
        cols = F.unfold(padded, (kh, kw), dilation=geo.dilation, stride=geo.stride)
        cols = cols.reshape(batch, geo.groups, -1, out_h * out_w)
        weights = w.reshape(geo.groups, c_out // geo.groups, -1)
        y = (weights @ cols).reshape(batch, c_out, out_h, out_w)
        if b is not None:
            # shared (C_out,) over every position; untied (C_out, H, W) as it is
            y = y + (b.reshape(1, -1, 1, 1) if b.dim() == 1 else b.unsqueeze(0))
        ctx.save_for_backward(cols, w)
        ctx.geo = geo
        ctx.bias_dims = None if b is None else b.dim()
        ctx.sizes = (height, width, padded.shape[2], padded.shape[3])
        return y

    @staticmethod
    def backward(
        ctx: Any, grad_y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, None]:
        grad_padded, grad_w, grad_b = padded_gradients(ctx, grad_y)
        height, width = ctx.sizes[:2]
        return unpad(grad_padded, ctx.geo, (height, width)), grad_w, grad_b, None


def padded_gradients(
    ctx: Any, grad_y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(∂L/∂x_padded, ∂L/∂w, ∂L/∂b)`` from what :meth:`ConvFunction.forward` saved."""
    cols, w = ctx.saved_tensors
    geo: Geometry = ctx.geo
    padded_h, padded_w = ctx.sizes[2:]
    batch, c_out = grad_y.shape[:2]
    weights = w.reshape(geo.groups, c_out // geo.groups, -1)
    grad_y_matrix = grad_y.reshape(batch, geo.groups, c_out // geo.groups, -1)
    # ∂L/∂W_g = Σ_β ∂L/∂Y_βg · Col_βgᵀ
    grad_w = (grad_y_matrix @ cols.transpose(-1, -2)).sum(0).reshape(w.shape)
    # ∂L/∂Col_βg = W_gᵀ · ∂L/∂Y_βg, then col2im (F.fold)
    grad_cols = (weights.transpose(-1, -2) @ grad_y_matrix).reshape(batch, -1, cols.shape[-1])
    grad_padded = F.fold(
        grad_cols, (padded_h, padded_w), w.shape[2:], dilation=geo.dilation, stride=geo.stride
    )
    # ∂L/∂b: summed over the batch (and the positions, for a shared bias)
    grad_b = None
    if ctx.bias_dims is not None:
        grad_b = grad_y.sum((0, 2, 3)) if ctx.bias_dims == 1 else grad_y.sum(0)
    return grad_padded, grad_w, grad_b


def run(
    function: type[ConvFunction],
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    geo: Geometry,
) -> torch.Tensor:
    """``function.apply`` on a 1-D layer (run as 2-D of height 1) or a 2-D one."""
    if x.dim() == 3:
        untied = b is not None and b.dim() == 2
        bias = b.unsqueeze(1) if untied and b is not None else b
        y: torch.Tensor = function.apply(  # type: ignore[no-untyped-call]
            x.unsqueeze(2), w.unsqueeze(2), bias, geo
        )
        return y.squeeze(2)
    result: torch.Tensor = function.apply(x, w, b, geo)  # type: ignore[no-untyped-call]
    return result


def forward(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """``y`` ``(B, C_out, *O)`` for ``x`` ``(B, C_in, *S)`` (1-D or 2-D), ``w``, ``b``;
    differentiable by torch autograd through :meth:`ConvFunction.backward`.

    Example:
        >>> x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> forward(x, torch.tensor([[[2.0, 1.0, 3.0]]]), torch.tensor([1.0]),
        ...         stride=(1,), padding=(0,), dilation=(1,), groups=1, padding_mode="zeros")
        tensor([[[14., 20.]]])
    """
    geo = geometry(
        x.dim() - 2,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
    )
    return run(ConvFunction, x, w, b, geo)
