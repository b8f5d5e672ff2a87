"""A convolution in JAX: ``jax.lax.conv_general_dilated``, differentiated by ``jax.vjp``.

The forward pass only: symconv.testing (``framework="jax"``) calls :func:`forward` with
JAX arrays and takes the gradients with ``jax.vjp`` — so what is proven is JAX's own
derivative of this function, with its padding and layout choices.  It does not import
symconv.  1-, 2- and 3-D; zeros padding (``conv_general_dilated``'s own, uneven pairs
included) or circular (``jnp.pad(mode="wrap")`` first); groups; shared or no bias.
Float64 (``jax_enable_x64`` is switched on at import, as a float64 check needs).

Shapes: ``x (B, C_in, *S)``, ``w (C_out, C_in/G, *K)``, ``b None | (C_out,)``,
``y (B, C_out, *O)``.

Example:
    >>> x = jnp.arange(16.0).reshape(1, 1, 4, 4)
    >>> forward(x, jnp.ones((1, 1, 2, 2)), None, stride=(2, 2), padding=(0, 0),
    ...         dilation=(1, 1), groups=1, padding_mode="zeros").tolist()
    [[[[10.0, 18.0], [42.0, 50.0]]]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax  # type: ignore[import-not-found, unused-ignore]
import jax.numpy as jnp  # type: ignore[import-not-found, unused-ignore]
from jax import lax  # type: ignore[import-not-found, unused-ignore]

jax.config.update("jax_enable_x64", True)

__all__ = ["forward"]

PaddingSpec = int | Sequence[int | Sequence[int]]

# the layouts: batch and channels first, as PyTorch (N C spatial…; O I spatial…)
_LAYOUT = {
    1: ("NCH", "OIH", "NCH"),
    2: ("NCHW", "OIHW", "NCHW"),
    3: ("NCDHW", "OIDHW", "NCDHW"),
}


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


def forward(
    x: Any,
    w: Any,
    b: Any = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> Any:
    """``y`` ``(B, C_out, *O)`` for ``x`` ``(B, C_in, *S)``, ``w`` ``(C_out, C_in/G, *K)``
    and ``b`` (``None`` or ``(C_out,)``), as a JAX array.

    Example:
        >>> forward(jnp.array([[[1.0, 2.0, 3.0, 4.0]]]), jnp.array([[[2.0, 1.0, 3.0]]]),
        ...         jnp.array([1.0]), stride=(1,), padding=(0,), dilation=(1,), groups=1,
        ...         padding_mode="zeros").tolist()
        [[[14.0, 20.0]]]
    """
    ndim = x.ndim - 2
    strides = (stride,) * ndim if isinstance(stride, int) else tuple(stride)
    dilations = (dilation,) * ndim if isinstance(dilation, int) else tuple(dilation)
    pairs = _pairs(padding, ndim)
    if padding_mode == "circular":
        # wrap around first; the convolution itself then pads nothing
        x = jnp.pad(x, [(0, 0), (0, 0), *pairs], mode="wrap")
        pairs = [(0, 0)] * ndim
    y = lax.conv_general_dilated(
        x,
        w,
        window_strides=strides,
        padding=pairs,
        rhs_dilation=dilations,
        dimension_numbers=_LAYOUT[ndim],
        feature_group_count=groups,
        precision=lax.Precision.HIGHEST,
    )
    if b is not None:
        y = y + b.reshape(1, -1, *([1] * ndim))
    return y
