"""What is measured on a trained model: accuracy under shifts, equivariance, invariance.

- :func:`shift_sweep` — accuracy for every (dx, dy) in ``[−r, r]²`` (zero fill or roll), and
  the per-image predictions, from which
- :func:`consistency` — the probability that two different random shifts of the sweep give
  the same top-1 prediction (Zhang 2019), computed exactly over all pairs of the grid, and
- :func:`p_change` — the probability that the top-1 prediction changes after one more 1-pixel
  step right or down (Azulay & Weiss 2019), over all neighbouring pairs of the grid;
- :func:`layer_equivariance` — relative L2 and cosine distance between ``F_l(S_Δ x)`` and
  ``S_{⌊Δ/s_l⌋} F_l(x)`` for the feature maps ``F_l`` of a CNN with cumulative stride ``s_l``,
  by ``Δ mod 4`` (``Δ`` in ±1..4, circular shifts);
- :func:`invariance_error` — max relative L2 change of the logits under circular shifts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from symconv.experiment.shift import roll, shift

__all__ = [
    "accuracy",
    "consistency",
    "invariance_error",
    "layer_equivariance",
    "logits",
    "p_change",
    "shift_sweep",
]

Shift = Callable[[torch.Tensor, int, int], torch.Tensor]
SHIFTS: dict[str, Shift] = {"zero": shift, "circular": roll}


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """The model's outputs for ``x``, evaluated in batches without gradients."""
    outputs = [model(x[first : first + batch]) for first in range(0, len(x), batch)]
    return torch.cat(outputs)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correct top-1 predictions, in [0, 1]."""
    return float((logits(model, x).argmax(dim=1) == y).float().mean())


def shift_sweep(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, radius: int, mode: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Accuracy for each shift: ``(acc[dy + r, dx + r], predictions[dy + r, dx + r, image])``."""
    size = 2 * radius + 1
    move = SHIFTS[mode]
    acc = np.zeros((size, size))
    predictions = np.zeros((size, size, len(y)), dtype=np.int64)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            top = logits(model, move(x, dx, dy)).argmax(dim=1)
            predictions[dy + radius, dx + radius] = top.numpy()
            acc[dy + radius, dx + radius] = float((top == y).float().mean())
    return acc, predictions


def consistency(predictions: npt.NDArray[np.int64]) -> float:
    """P(two different shifts of the grid give the same prediction), averaged over images.

    For one image with ``c_k`` grid cells predicting class k among ``G`` cells, the
    probability over ordered pairs of distinct cells is ``(Σ c_k² − G) / (G(G − 1))``.
    """
    cells = predictions.reshape(-1, predictions.shape[-1])
    grid = cells.shape[0]
    counts = np.stack([(cells == k).sum(axis=0) for k in range(int(cells.max()) + 1)])
    same = ((counts**2).sum(axis=0) - grid) / (grid * (grid - 1))
    return float(same.mean())


def p_change(predictions: npt.NDArray[np.int64]) -> float:
    """P(top-1 changes after a 1-pixel step), over all horizontal and vertical neighbours."""
    across = predictions[:, 1:] != predictions[:, :-1]
    down = predictions[1:, :] != predictions[:-1, :]
    return float((across.sum() + down.sum()) / (across.size + down.size))


@torch.no_grad()
def layer_equivariance(
    model: nn.Module,
    layers: Sequence[tuple[int, int]],
    x: torch.Tensor,
    deltas: Sequence[int] = (-4, -3, -2, -1, 1, 2, 3, 4),
    mode: str = "circular",
) -> list[dict[str, object]]:
    """Equivariance error of each feature map of a ``nn.Sequential``, by ``Δ mod 4``.

    ``layers`` holds ``(index, cumulative stride)``: the output of ``model[: index + 1]``.
    The input moves ``Δ`` right and down; the feature map is compared with its own
    unshifted map moved ``⌊Δ/s⌋``.  The default circular shift keeps borders out of the
    measurement (MNIST's margins are blank, so a roll by at most 4 only moves background,
    and the constant ReLU(bias) background rolls along), leaving the effect of the stride.
    Relative L2 is ``‖a − b‖ / ‖b‖`` over the whole batch;
    cosine distance is ``1 − cos(a, b)`` per image, averaged.  Each row averages the ``Δ``
    with the same remainder ``Δ mod 4``.  The logits (``"logits"``, stride ∞: compared with
    the unshifted logits) are included as the last layer.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError("layer_equivariance needs an nn.Sequential")
    move = SHIFTS[mode]
    rows: list[dict[str, object]] = []
    probes: list[tuple[str, nn.Module, int | None]] = [
        (f"layer {index} (stride {stride})", model[: index + 1], stride) for index, stride in layers
    ]
    probes.append(("logits", model, None))
    for name, part, stride in probes:
        base = logits(part, x)
        by_remainder: dict[int, list[tuple[float, float]]] = {}
        for delta in deltas:
            moved = logits(part, move(x, delta, delta))
            if stride is None:
                target = base
            else:
                step = delta // stride
                target = move(base, step, step)
            a, b = moved.flatten(1).double(), target.flatten(1).double()
            relative = float((a - b).norm() / b.norm().clamp_min(1e-30))
            cosine = nn.functional.cosine_similarity(a, b, dim=1, eps=1e-30)
            distance = max(0.0, float(1 - cosine.mean()))  # ≥ 0 up to rounding
            by_remainder.setdefault(delta % 4, []).append((relative, distance))
        for remainder in sorted(by_remainder):
            values = np.array(by_remainder[remainder])
            rows.append(
                {
                    "layer": name,
                    "stride": stride,
                    "delta_mod_4": remainder,
                    "relative_l2": float(values[:, 0].mean()),
                    "cosine_distance": float(values[:, 1].mean()),
                }
            )
    return rows


@torch.no_grad()
def invariance_error(
    model: nn.Module, x: torch.Tensor, offsets: Sequence[tuple[int, int]]
) -> float:
    """Max over ``offsets`` of ``‖f(roll(x)) − f(x)‖ / ‖f(x)‖`` on the logits (circular)."""
    base = logits(model, x).double()
    worst = 0.0
    for dx, dy in offsets:
        moved = logits(model, roll(x, dx, dy)).double()
        worst = max(worst, float((moved - base).norm() / base.norm().clamp_min(1e-30)))
    return worst
