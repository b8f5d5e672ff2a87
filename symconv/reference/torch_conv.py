"""The convolution layer in PyTorch: ``F.conv1d/2d/3d``, autograd and ``torch.optim.SGD``.

A reference built from library parts, sharing nothing with the NumPy reference but the
layer's settings (:class:`~symconv.layer.Layer`, read as a container of fields) and the
result's shapes (:mod:`symconv.arrays`):

- padding: ``F.pad`` with mode ``"constant"`` (zeros) or ``"circular"`` and the layer's
  (before, after) pairs, last axis first as ``F.pad`` wants them (PyTorch refuses a
  circular pad wider than the input; the layer validation already requires ``p ≤ n``),
  then ``F.conv{1,2,3}d`` with stride, dilation and groups and no padding of its own (a
  cross-correlation);
- bias: shared → ``F.conv*d``'s own bias ``(C_out,)``; untied → a parameter
  ``(C_out, *O)`` added after the convolution; none → nothing;
- loss: ``sse_half`` ``½·F.mse_loss(reduction="sum")``, ``mse`` ``F.mse_loss`` (the mean
  over every entry); ``upstream`` the linear functional ``L = Σ g·ŷ``, whose gradient
  w.r.t. ŷ is the given ``g``;
- gradients by autograd (``∂L/∂ŷ`` by ``retain_grad``); the update by one step of
  ``torch.optim.SGD(lr=float(lr))``.

This module imports torch at the top: import it only where torch is wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from symconv.layer import Layer
from symconv.reference.numpy_conv import Array, Quantities

__all__ = ["forward", "gradcheck_loss", "loss", "step"]

_TORCH_DTYPES: dict[Any, torch.dtype] = {
    np.dtype(np.float64): torch.float64,
    np.dtype(np.float32): torch.float32,
}

_CONV: dict[int, Callable[..., torch.Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def forward(
    layer: Layer, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None
) -> torch.Tensor:
    """ŷ ``(B, C_out, *O)`` for ``x`` ``(B, C_in, *S)``, ``w`` ``(C_out, C_in/G, *K)``, ``b``.

    Example:
        >>> from symconv.layer import make_layer
        >>> forward(make_layer(input_shape=[4], kernel_size=3, bias="untied"),
        ...         torch.tensor([[[1., 2, 3, 4]]]), torch.tensor([[[2., 1, 3]]]),
        ...         torch.tensor([[1., 1]]))
        tensor([[[14., 20.]]])
    """
    # pad the input: F.pad takes (before, after) pairs from the last axis to the first
    pads = tuple(side for pair in reversed(layer.padding) for side in pair)
    mode = "constant" if layer.padding_mode == "zeros" else "circular"
    padded = F.pad(x, pads, mode=mode) if any(pads) else x
    # cross-correlate; a shared bias is the convolution's own
    shared = b if layer.bias == "shared" else None
    yhat = _CONV[layer.ndim](
        padded, w, shared, stride=layer.stride, dilation=layer.dilation, groups=layer.groups
    )
    # an untied bias: one entry per output channel and position, the same for every example
    if layer.bias == "untied" and b is not None:
        yhat = yhat + b
    return yhat


def loss(kind: str, yhat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The loss, shape ``()``: ``½Σ(y − ŷ)²``, the mean of ``(y − ŷ)²``, or ``Σ g·ŷ``
    (``upstream``, ``target`` = g: a functional whose ∂/∂ŷ is g).

    Example:
        >>> loss("sse_half", torch.tensor([[[14., 20.]]]), torch.tensor([[[2., 4.]]]))
        tensor(200.)
    """
    if kind == "sse_half":
        return 0.5 * F.mse_loss(yhat, target, reduction="sum")
    if kind == "mse":
        return F.mse_loss(yhat, target, reduction="mean")
    if kind == "upstream":
        return (target * yhat).sum()
    raise ValueError(f"`kind` (={kind!r}) must be one of 'sse_half', 'mse', 'upstream'")


def _dtype(x: ArrayLike) -> np.dtype[Any]:
    dtype = np.asarray(x).dtype
    return dtype if dtype in _TORCH_DTYPES else np.dtype(np.float64)


def _leaf(values: ArrayLike, dtype: np.dtype[Any], *, grad: bool) -> torch.Tensor:
    """A fresh tensor (a copy, so a step never writes into the caller's array)."""
    tensor = torch.tensor(np.asarray(values, dtype=dtype), dtype=_TORCH_DTYPES[dtype])
    return tensor.requires_grad_(grad)


def _array(tensor: torch.Tensor | None) -> Array:
    if tensor is None:
        raise RuntimeError("autograd produced no gradient; is the parameter part of the loss?")
    array: Array = tensor.detach().cpu().numpy().copy()
    return array


def step(
    layer: Layer,
    kind: str,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    target: ArrayLike,
    lr: float,
) -> Quantities:
    """Forward, loss, autograd gradients and one ``torch.optim.SGD`` step, as NumPy arrays.

    Arguments and result as :func:`symconv.reference.numpy_conv.step` (``target`` is y, or
    the given ∂L/∂ŷ for ``upstream``, whose ``loss``/``loss_next`` are None).  Runs in
    float32 when ``x`` is float32, else float64.

    Example:
        >>> from symconv.arrays import problem_arrays
        >>> from symconv.problem import load_problem
        >>> p = load_problem("exercise2")
        >>> a = problem_arrays(p)
        >>> step(p.layer, p.loss, a.x, a.w, a.b, a.target, a.lr)["grad_x"]
        array([[[24., 44., 52., 48.]]])
    """
    dtype = _dtype(x)
    xt = _leaf(x, dtype, grad=True)
    wt = _leaf(w, dtype, grad=True)
    bt = None if layer.bias == "none" or b is None else _leaf(b, dtype, grad=True)
    tt = _leaf(target, dtype, grad=False)

    # forward and loss; keep ∂L/∂ŷ, which autograd would otherwise discard
    yhat = forward(layer, xt, wt, bt)
    yhat.retain_grad()
    total = loss(kind, yhat, tt)
    # backward: every gradient by autograd
    torch.autograd.backward(total)
    result: Quantities = {
        "yhat": _array(yhat),
        "loss": None if kind == "upstream" else _array(total),
        "grad_yhat": _array(yhat.grad),
        "grad_w": _array(wt.grad),
        "grad_b": None if bt is None else _array(bt.grad),
        "grad_x": _array(xt.grad),
    }

    # one SGD step on the parameters (x and the target are data)
    params = [wt] if bt is None else [wt, bt]
    torch.optim.SGD(params, lr=float(lr)).step()
    with torch.no_grad():
        yhat_next = forward(layer, xt, wt, bt)
        loss_next = loss(kind, yhat_next, tt)
    result |= {
        "w_next": _array(wt),
        "b_next": None if bt is None else _array(bt),
        "yhat_next": _array(yhat_next),
        "loss_next": None if kind == "upstream" else _array(loss_next),
    }
    return result


def gradcheck_loss(
    layer: Layer,
    kind: str,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    target: ArrayLike,
    *,
    raise_exception: bool = True,
) -> bool:
    """``torch.autograd.gradcheck`` of the loss w.r.t. ``(x, w, b)`` in float64.

    Compares autograd's gradients with PyTorch's own finite differences (defaults:
    ``eps=1e-6``, ``atol=1e-5``, ``rtol=1e-3``); for ``upstream`` the loss is ``Σ g·ŷ``.
    Returns True when they agree; raises ``torch.autograd.gradcheck.GradcheckError`` on a
    mismatch unless ``raise_exception`` is False (then returns False).

    Example:
        >>> from symconv.arrays import problem_arrays
        >>> from symconv.problem import load_problem
        >>> p = load_problem("exercise2")
        >>> a = problem_arrays(p)
        >>> gradcheck_loss(p.layer, p.loss, a.x, a.w, a.b, a.target)
        True
    """
    dtype = np.dtype(np.float64)
    tt = _leaf(target, dtype, grad=False)
    inputs = [_leaf(x, dtype, grad=True), _leaf(w, dtype, grad=True)]
    if layer.bias != "none" and b is not None:
        inputs.append(_leaf(b, dtype, grad=True))

    def loss_of(*args: torch.Tensor) -> torch.Tensor:
        xt, wt, *rest = args
        return loss(kind, forward(layer, xt, wt, rest[0] if rest else None), tt)

    ok: bool = torch.autograd.gradcheck(loss_of, tuple(inputs), raise_exception=raise_exception)
    return ok
