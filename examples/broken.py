"""A catalogue of broken convolutions: the classic mistakes, one each, for symconv.testing to catch.

Each entry is :mod:`examples.numpy_im2col` (or :mod:`examples.torch_function`) with ONE
mistake that engineers really make, marked ``# MISTAKE:`` in its code.  Every one runs
without error and returns arrays of the right shapes — only the values are wrong, and only
on the layers where the mistake can show (a flipped kernel of size 1 is still right).

A :class:`Broken` entry says what it takes to catch it: ``needs`` (the
:class:`symconv.testing.Supports` fields under which the sweep draws layers that show it),
``shows`` (whether a given layer does), the first quantity that comes out wrong, and the
word expected in symconv's diagnosis (``None``: no known mistake matches — the report
still names the configuration, the quantity and the first wrong entry).

Example:
    >>> [entry.name for entry in CATALOGUE][:3]
    ['flipped-kernel', 'off-by-one', 'stride-ignored']
    >>> import numpy as np
    >>> x, w = np.arange(4.0).reshape(1, 1, 4), np.array([[[1.0, 0.0]]])
    >>> conv = dict(stride=(1,), padding=(0,), dilation=(1,), groups=1, padding_mode="zeros")
    >>> npc.forward(x, w, None, **conv), flipped_forward(x, w, None, **conv)
    (array([[[0., 1., 2.]]]), array([[[1., 2., 3.]]]))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from examples import numpy_im2col as npc
from examples import torch_function as tf

if TYPE_CHECKING:
    from symconv.layer import Layer
    from symconv.testing import Supports

__all__ = ["CATALOGUE", "Broken", "by_name"]

Array = npc.Array
Gradients = tuple[Array, Array, Array | None]


# ---------------------------------------------------------------------------------------
# NumPy: forward-pass mistakes (ŷ is wrong)


def _flip(w: Array) -> Array:
    return np.flip(w, axis=tuple(range(2, w.ndim))).copy()


def flipped_forward(x: Array, w: Array, b: Array | None, **conv: Any) -> Array:
    """The textbook convolution: the kernel flipped along every spatial axis."""
    # MISTAKE: a true convolution flips the kernel; the layer is a cross-correlation
    return npc.forward(x, _flip(w), b, **conv)


def flipped_backward(x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any) -> Gradients:
    """The (correct) gradients of :func:`flipped_forward`."""
    grad_x, grad_w, grad_b = npc.backward(x, _flip(w), b, grad_y, **conv)
    return grad_x, _flip(grad_w), grad_b


def _one_late(x: Array) -> Array:
    """``x[t + 1]`` for ``x[t]`` along every spatial axis (clipped at the last position)."""
    for axis in range(2, x.ndim):
        n = x.shape[axis]
        # MISTAKE: the 1-based window start of a MATLAB port kept (and clipped to fit)
        x = np.take(x, np.minimum(np.arange(n) + 1, n - 1), axis=axis)
    return x


def off_by_one_forward(x: Array, w: Array, b: Array | None, **conv: Any) -> Array:
    """Every window starts one position late."""
    return npc.forward(_one_late(x), w, b, **conv)


def off_by_one_backward(
    x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any
) -> Gradients:
    """The backward pass with the same late windows."""
    return npc.backward(_one_late(x), w, b, grad_y, **conv)


def missing_bias_forward(x: Array, w: Array, b: Array | None, **conv: Any) -> Array:
    """The bias never added (its gradient is still reported, by :func:`npc.backward`)."""
    # MISTAKE: `b` accepted and forgotten
    return npc.forward(x, w, None, **conv)


def _mirrored(geo: npc.Geometry) -> npc.Geometry:
    # MISTAKE: each (before, after) pair unpacked the wrong way round
    return _replace(geo, padding=tuple((after, before) for before, after in geo.padding))


def padding_side_forward(x: Array, w: Array, b: Array | None, **conv: Any) -> Array:
    """Uneven padding applied mirrored: ``(after, before)`` on every axis."""
    return npc.output(x, w, b, _mirrored(npc.geometry(w, **conv)))


def padding_side_backward(
    x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any
) -> Gradients:
    """The backward pass with the same mirrored padding."""
    return npc.gradients(x, w, b, grad_y, _mirrored(npc.geometry(w, **conv)))


def _no_wrap(geo: npc.Geometry) -> npc.Geometry:
    # MISTAKE: np.pad's default mode (zeros) whatever padding_mode says
    return _replace(geo, padding_mode="zeros")


def no_wrap_forward(x: Array, w: Array, b: Array | None, **conv: Any) -> Array:
    """Circular padding read as zeros."""
    return npc.output(x, w, b, _no_wrap(npc.geometry(w, **conv)))


def no_wrap_backward(x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any) -> Gradients:
    """The backward pass of zeros padding."""
    return npc.gradients(x, w, b, grad_y, _no_wrap(npc.geometry(w, **conv)))


def wrong_group_forward(x: Array, w: Array, b: Array | None, **conv: Any) -> Array:
    """Group ``g``'s filters read the input channels of group ``g + 1`` (mod G)."""
    geo = npc.geometry(w, **conv)
    out = geo.output_shape(x.shape[2:])
    # MISTAKE: the group loop of a 1-based port: filters g meet the columns of group g + 1
    cols = np.roll(npc.columns(x, geo, out), -1, axis=1)
    y = npc.weight_matrix(w, geo.groups)[None] @ cols
    return npc.add_bias(y.reshape(x.shape[0], w.shape[0], *out), b)


def wrong_group_backward(
    x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any
) -> Gradients:
    """The (correct) gradients of :func:`wrong_group_forward`."""
    geo = npc.geometry(w, **conv)
    out = grad_y.shape[2:]
    cols = np.roll(npc.columns(x, geo, out), -1, axis=1)
    grad_y_matrix = grad_y.reshape(x.shape[0], geo.groups, w.shape[0] // geo.groups, -1)
    grad_w = (grad_y_matrix @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(w.shape)
    weights = npc.weight_matrix(w, geo.groups)
    grad_cols = np.roll(weights.swapaxes(-1, -2)[None] @ grad_y_matrix, 1, axis=1)
    return npc.image(grad_cols, geo, x.shape, out), grad_w, npc.bias_gradient(grad_y, b)


def _interleave(channels: int, groups: int) -> Array:
    """The channel order of ``(C/G, G)``-major grouping: group ``g`` gets ``g, g + G, …``."""
    return np.arange(channels).reshape(channels // groups, groups).T.reshape(-1)


def interleaved_forward(x: Array, w: Array, b: Array | None, **conv: Any) -> Array:
    """Groups made of every G-th channel instead of consecutive channels."""
    # MISTAKE: channels reshaped as (C_in/G, G) instead of (G, C_in/G)
    order = _interleave(x.shape[1], conv["groups"])
    return npc.forward(x[:, order], w, b, **conv)


def interleaved_backward(
    x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any
) -> Gradients:
    """The (correct) gradients of :func:`interleaved_forward`."""
    order = _interleave(x.shape[1], conv["groups"])
    grad_seen, grad_w, grad_b = npc.backward(x[:, order], w, b, grad_y, **conv)
    grad_x = np.empty_like(grad_seen)
    grad_x[:, order] = grad_seen
    return grad_x, grad_w, grad_b


# ---------------------------------------------------------------------------------------
# NumPy: backward-pass mistakes (ŷ is right, a gradient is wrong)


def stride_ignored_backward(
    x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any
) -> Gradients:
    """The windows of the backward pass read with stride 1."""
    geo = npc.geometry(w, **conv)
    # MISTAKE: the backward's im2col/col2im called without the stride
    return npc.gradients(x, w, b, grad_y, _replace(geo, stride=(1,) * geo.ndim))


def dilation_ignored_backward(
    x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any
) -> Gradients:
    """The taps of the backward pass read without dilation."""
    geo = npc.geometry(w, **conv)
    # MISTAKE: the backward's im2col/col2im called without the dilation
    return npc.gradients(x, w, b, grad_y, _replace(geo, dilation=(1,) * geo.ndim))


def batch_not_summed_backward(
    x: Array, w: Array, b: Array | None, grad_y: Array, **conv: Any
) -> Gradients:
    """∂L/∂w of the first example only."""
    grad_x, _, grad_b = npc.backward(x, w, b, grad_y, **conv)
    geo = npc.geometry(w, **conv)
    cols = npc.columns(x, geo, grad_y.shape[2:])
    grad_y_matrix = grad_y.reshape(x.shape[0], geo.groups, w.shape[0] // geo.groups, -1)
    per_example = grad_y_matrix @ cols.swapaxes(-1, -2)
    # MISTAKE: the batch axis indexed instead of summed
    return grad_x, per_example[0].reshape(w.shape), grad_b


# ---------------------------------------------------------------------------------------
# torch: an F.pad trap and a hand-written backward that forgets the wrap


class _FlatReversedPad(tf.Geometry):
    def pad_list(self) -> list[int]:
        # MISTAKE: F.pad wants the axes last-first; the flattened pairs reversed instead,
        # which also swaps before and after on every axis
        return [side for pair in self.padding for side in pair][::-1]


def torch_padding_side_forward(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, **conv: Any
) -> torch.Tensor:
    """The torch layer with F.pad's list built wrong (uneven padding mirrored)."""
    geo = tf.geometry(x.dim() - 2, **conv)
    wrong = _FlatReversedPad(geo.stride, geo.dilation, geo.padding, geo.padding_mode, geo.groups)
    return tf.run(tf.ConvFunction, x, w, b, wrong)


class _CroppedGradient(tf.ConvFunction):
    @staticmethod
    def backward(
        ctx: Any, grad_y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, None]:
        grad_padded, grad_w, grad_b = tf.padded_gradients(ctx, grad_y)
        height, width = ctx.sizes[:2]
        (top, _), (left, _) = ctx.geo.padding
        # MISTAKE: the padding's gradient cropped, also when the padding is circular (its
        # border entries are copies of input entries: their gradient belongs to them)
        grad_x = grad_padded[:, :, top : top + height, left : left + width]
        return grad_x, grad_w, grad_b, None


def torch_no_wrap_backward_forward(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, **conv: Any
) -> torch.Tensor:
    """The torch layer whose hand-written backward drops the wrapped gradient."""
    return tf.run(_CroppedGradient, x, w, b, tf.geometry(x.dim() - 2, **conv))


# ---------------------------------------------------------------------------------------
# the catalogue


def _any(values: tuple[int, ...], minimum: int) -> bool:
    return any(v >= minimum for v in values)


@dataclass(frozen=True)
class Broken:
    """One broken implementation and what it takes to catch it.

    ``forward``/``backward`` have the calling convention of symconv.testing (``backward``
    None: the forward is a torch function, differentiated by autograd); ``needs`` are
    :class:`symconv.testing.Supports` fields; ``shows(layer)`` says whether the mistake can
    change the values on a layer; ``quantity`` is the first quantity it gets wrong (in the
    order ŷ, ∂L/∂x, ∂L/∂w, ∂L/∂b); ``diagnosis`` a word of symconv's diagnosis, or None.
    """

    name: str
    forward: Callable[..., Any]
    backward: Callable[..., Any] | None
    shows: Callable[[Layer], bool]
    quantity: str
    diagnosis: str | None
    needs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def supports(self) -> Supports:
        """The :class:`symconv.testing.Supports` a sweep needs to show the mistake."""
        from symconv.testing import Supports

        return Supports(**self.needs)


CATALOGUE: tuple[Broken, ...] = (
    Broken(
        "flipped-kernel",
        flipped_forward,
        flipped_backward,
        shows=lambda layer: _any(layer.kernel_size, 2),
        quantity="yhat",
        diagnosis="flipped kernel",
    ),
    Broken(
        "off-by-one",
        off_by_one_forward,
        off_by_one_backward,
        shows=lambda layer: _any(layer.input_shape, 2),
        quantity="yhat",
        diagnosis="off-by-one window",
    ),
    Broken(
        "stride-ignored",
        npc.forward,
        stride_ignored_backward,
        shows=lambda layer: any(s > 1 and m > 1 for s, m in zip(layer.stride, layer.output_shape)),
        quantity="grad_x",
        diagnosis="stride ignored in backward",
    ),
    Broken(
        "dilation-ignored",
        npc.forward,
        dilation_ignored_backward,
        shows=lambda layer: any(d > 1 and k > 1 for d, k in zip(layer.dilation, layer.kernel_size)),
        quantity="grad_x",
        diagnosis="dilation ignored in backward",
    ),
    Broken(
        "missing-bias",
        missing_bias_forward,
        npc.backward,
        shows=lambda layer: layer.bias != "none",
        quantity="yhat",
        diagnosis="missing bias",
        needs={"biases": ("shared",)},
    ),
    Broken(
        "padding-side",
        padding_side_forward,
        padding_side_backward,
        shows=lambda layer: any(a != b for a, b in layer.padding),
        quantity="yhat",
        diagnosis="padding on the wrong side",
        needs={"uneven_padding": True},
    ),
    Broken(
        "no-circular-wrap",
        no_wrap_forward,
        no_wrap_backward,
        shows=lambda layer: (
            layer.padding_mode == "circular" and _any(tuple(a + b for a, b in layer.padding), 1)
        ),
        quantity="yhat",
        diagnosis="circular wrap missing",
        needs={"padding_modes": ("circular",)},
    ),
    Broken(
        "wrong-group",
        wrong_group_forward,
        wrong_group_backward,
        shows=lambda layer: layer.groups > 1,
        quantity="yhat",
        diagnosis="input channels of group g + 1",
    ),
    Broken(
        "batch-not-summed",
        npc.forward,
        batch_not_summed_backward,
        shows=lambda layer: layer.batch > 1,
        quantity="grad_w",
        diagnosis="not summed over the batch",
    ),
    Broken(
        "interleaved-groups",
        interleaved_forward,
        interleaved_backward,
        shows=lambda layer: layer.groups > 1 and layer.in_channels // layer.groups > 1,
        quantity="yhat",
        diagnosis=None,
        needs={"max_channels": 4},
    ),
    Broken(
        "torch-padding-side",
        torch_padding_side_forward,
        None,
        shows=lambda layer: any(a != b for a, b in layer.padding),
        quantity="yhat",
        diagnosis="padding on the wrong side",
        needs={"uneven_padding": True},
    ),
    Broken(
        "torch-no-circular-wrap",
        torch_no_wrap_backward_forward,
        None,
        shows=lambda layer: (
            layer.padding_mode == "circular" and _any(tuple(a + b for a, b in layer.padding), 1)
        ),
        quantity="grad_x",
        diagnosis="circular wrap missing",
        needs={"padding_modes": ("circular",)},
    ),
)
"""Every broken implementation, NumPy first, then torch."""


def by_name(name: str) -> Broken:
    """The catalogue entry called ``name``.

    Example:
        >>> by_name("stride-ignored").quantity
        'grad_x'
    """
    for entry in CATALOGUE:
        if entry.name == name:
            return entry
    names = ", ".join(entry.name for entry in CATALOGUE)
    raise KeyError(f"no broken implementation {name!r} (there are: {names})")
