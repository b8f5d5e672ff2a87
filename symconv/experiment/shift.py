"""Shifts of images and signals: zero fill (the exercise) and circular roll.

``shift(x, dx, dy)`` moves the content ``dx`` pixels right and ``dy`` pixels down (negative:
left / up) along the last two axes; vacated pixels are 0.  ``roll`` does the same with
wrap-around.  ``shift1d`` / ``roll1d`` act on the last axis only.  Any leading axes are kept.
"""

from __future__ import annotations

import torch

__all__ = ["roll", "roll1d", "shift", "shift1d"]


def _moved(size: int, offset: int) -> tuple[slice, slice]:
    """Destination and source slices that move ``size`` entries by ``offset``."""
    if offset >= 0:
        return slice(offset, size), slice(0, max(size - offset, 0))
    return slice(0, max(size + offset, 0)), slice(-offset, size)


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """``x`` shifted ``dx`` right and ``dy`` down with zero fill (shape unchanged).

    Example:
        >>> shift(torch.eye(3), 1, 0)[0].tolist()
        [0.0, 1.0, 0.0]
    """
    height, width = x.shape[-2], x.shape[-1]
    if abs(dx) >= width or abs(dy) >= height:
        return torch.zeros_like(x)
    out = torch.zeros_like(x)
    rows_to, rows_from = _moved(height, dy)
    cols_to, cols_from = _moved(width, dx)
    out[..., rows_to, cols_to] = x[..., rows_from, cols_from]
    return out


def roll(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """``x`` rolled ``dx`` right and ``dy`` down (circular shift)."""
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))


def shift1d(x: torch.Tensor, dx: int) -> torch.Tensor:
    """``x`` shifted ``dx`` to the right along its last axis, zero fill."""
    size = x.shape[-1]
    out = torch.zeros_like(x)
    if abs(dx) >= size:
        return out
    to, source = _moved(size, dx)
    out[..., to] = x[..., source]
    return out


def roll1d(x: torch.Tensor, dx: int) -> torch.Tensor:
    """``x`` rolled ``dx`` to the right along its last axis."""
    return torch.roll(x, shifts=dx, dims=-1)
