"""The convolution layer in PyTorch: ``F.conv1d``, autograd and ``torch.optim.SGD``.

A reference built from library parts, sharing nothing with the NumPy reference but the
:class:`~symconv.reference.numpy_conv.Layer` settings and the result's shape:

- padding: ``F.pad`` with mode ``"constant"`` (zeros) or ``"circular"`` (PyTorch refuses a
  circular pad wider than the input, "wrapping around more than once"; the problem
  validation already requires ``p ≤ n``), then ``F.conv1d`` with stride and dilation and no
  padding of its own (a cross-correlation, as in the exercise);
- bias: shared → one scalar parameter added to every output, untied → a parameter vector
  of length m, none → nothing;
- loss: summed over the batch of per-sample losses (as the NumPy reference);
- gradients by autograd (``∂L/∂ŷ`` by ``retain_grad``); the update by one step of
  ``torch.optim.SGD(lr=float(lr))``.

This module imports torch at the top: import it only where torch is wanted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from symconv.reference.numpy_conv import Array, Layer, StepResult

__all__ = ["forward", "gradcheck_loss", "loss", "step"]

_TORCH_DTYPES: dict[Any, torch.dtype] = {
    np.dtype(np.float64): torch.float64,
    np.dtype(np.float32): torch.float32,
}


def forward(layer: Layer, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """ŷ ``(B, m)`` for ``x`` ``(B, n)``, ``w`` ``(k,)`` and ``b`` (``(m,)``, ``()`` or None).

    Example:
        >>> forward(Layer(n=4, k=3, bias="untied"), torch.tensor([[1., 2, 3, 4]]),
        ...         torch.tensor([2., 1, 3]), torch.tensor([1., 1]))
        tensor([[14., 20.]])
    """
    # pad the input (one channel): (B, n) -> (B, 1, n + 2p)
    mode = "constant" if layer.padding_mode == "zeros" else "circular"
    padded = F.pad(x[:, None, :], (layer.padding, layer.padding), mode=mode)
    # cross-correlate with the kernel (out_channels = in_channels = 1): -> (B, m)
    kernel = w.reshape(1, 1, layer.k)
    yhat = F.conv1d(padded, kernel, stride=layer.stride, dilation=layer.dilation)[:, 0, :]
    # add the bias: a scalar broadcast to every output, or one entry per output
    if b is not None:
        yhat = yhat + b
    return yhat


def loss(layer: Layer, yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The batch loss, shape ``()``: Σ over samples of ½Σ_i(y_i−ŷ_i)² or mean_i (y_i−ŷ_i)².

    Example:
        >>> loss(Layer(n=4, k=3), torch.tensor([[14., 20.]]), torch.tensor([[2., 4.]]))
        tensor(200.)
    """
    squares = (y - yhat) ** 2
    if layer.loss == "sse_half":
        return 0.5 * squares.sum()
    return squares.mean(dim=1).sum()


def _dtype(x: ArrayLike) -> np.dtype[Any]:
    dtype = np.asarray(x).dtype
    return dtype if dtype in _TORCH_DTYPES else np.dtype(np.float64)


def _leaf(values: ArrayLike, dtype: np.dtype[Any], *, grad: bool) -> torch.Tensor:
    """A fresh tensor (a copy, so a step never writes into the caller's array)."""
    tensor = torch.tensor(np.asarray(values, dtype=dtype), dtype=_TORCH_DTYPES[dtype])
    return tensor.requires_grad_(grad)


def _numpy(tensor: torch.Tensor | None) -> Array | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()


def _array(tensor: torch.Tensor | None) -> Array:
    array = _numpy(tensor)
    if array is None:
        raise RuntimeError("autograd produced no gradient; is the parameter part of the loss?")
    return array


def step(
    layer: Layer, x: ArrayLike, w: ArrayLike, b: ArrayLike | None, y: ArrayLike, lr: float
) -> StepResult:
    """Forward, loss, autograd gradients and one ``torch.optim.SGD`` step, as NumPy arrays.

    Shapes as :class:`~symconv.reference.numpy_conv.StepResult`: ``x`` ``(B, n)``, ``w``
    ``(k,)``, ``b`` ``(m,)`` | ``()`` | None, ``y`` ``(B, m)``.  Runs in float32 when ``x``
    is float32, else float64.

    Example:
        >>> v = from_problem(load_problem("exercise2"))
        >>> step(v.layer, v.x, v.w, v.b, v.y, v.lr)["grad_x"]
        array([[24., 44., 52., 48.]])
    """
    dtype = _dtype(x)
    xt = _leaf(x, dtype, grad=True)
    wt = _leaf(w, dtype, grad=True)
    bt = None if layer.bias == "none" or b is None else _leaf(b, dtype, grad=True)
    yt = _leaf(y, dtype, grad=False)

    # forward and loss; keep ∂L/∂ŷ, which autograd would otherwise discard
    yhat = forward(layer, xt, wt, bt)
    yhat.retain_grad()
    total = loss(layer, yhat, yt)
    # backward: every gradient by autograd
    torch.autograd.backward(total)
    before = {
        "yhat": _array(yhat),
        "loss": _array(total),
        "grad_yhat": _array(yhat.grad),
        "grad_w": _array(wt.grad),
        "grad_x": _array(xt.grad),
    }
    grad_b = None if bt is None else _array(bt.grad)

    # one SGD step on the parameters (x and y are data)
    params = [wt] if bt is None else [wt, bt]
    optimizer = torch.optim.SGD(params, lr=float(lr))
    optimizer.step()
    with torch.no_grad():
        yhat_next = forward(layer, xt, wt, bt)
        loss_next = loss(layer, yhat_next, yt)
    return StepResult(
        yhat=before["yhat"],
        loss=before["loss"],
        grad_yhat=before["grad_yhat"],
        grad_w=before["grad_w"],
        grad_b=grad_b,
        grad_x=before["grad_x"],
        w_next=_array(wt),
        b_next=_numpy(bt),
        yhat_next=_array(yhat_next),
        loss_next=_array(loss_next),
    )


def gradcheck_loss(
    layer: Layer,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    y: ArrayLike,
    *,
    raise_exception: bool = True,
) -> bool:
    """``torch.autograd.gradcheck`` of the loss w.r.t. ``(x, w, b)`` in float64.

    Compares autograd's gradients with PyTorch's own finite differences (defaults:
    ``eps=1e-6``, ``atol=1e-5``, ``rtol=1e-3``).  Returns True when they agree; raises
    ``torch.autograd.gradcheck.GradcheckError`` on a mismatch unless ``raise_exception`` is
    False (then returns False).

    Example:
        >>> v = from_problem(load_problem("exercise2"))
        >>> gradcheck_loss(v.layer, v.x, v.w, v.b, v.y)
        True
    """
    dtype = np.dtype(np.float64)
    yt = _leaf(y, dtype, grad=False)
    inputs = [_leaf(x, dtype, grad=True), _leaf(w, dtype, grad=True)]
    if layer.bias != "none" and b is not None:
        inputs.append(_leaf(b, dtype, grad=True))

    def loss_of(*args: torch.Tensor) -> torch.Tensor:
        xt, wt, *rest = args
        return loss(layer, forward(layer, xt, wt, rest[0] if rest else None), yt)

    ok: bool = torch.autograd.gradcheck(loss_of, tuple(inputs), raise_exception=raise_exception)
    return ok
