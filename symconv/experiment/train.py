"""Training: mini-batch SGD with cross-entropy, deterministic for a seed.

The seed fixes the initial weights (``torch.manual_seed`` in :func:`models.build`), the
order of the mini-batches and the random training shifts (one ``torch.Generator``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from symconv.experiment.models import ModelSpec, build

__all__ = ["Trained", "random_shift", "to_tensor", "train"]


@dataclass
class Trained:
    """A trained model with its per-epoch mean training loss and wall time (seconds)."""

    spec: ModelSpec
    model: nn.Module
    losses: list[float]
    seconds: float


def to_tensor(x: npt.NDArray[np.float32]) -> torch.Tensor:
    """``(N, H, W)`` → ``(N, 1, H, W)`` (or ``(N, L)`` → ``(N, 1, L)``) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image of ``(N, C, H, W)`` by its own (dx, dy) in ``[−max, max]``, zero fill."""
    n, _, height, width = x.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (2, n), generator=generator)
    padded = nn.functional.pad(x, (max_shift,) * 4)
    # output pixel (r, c) of image b reads padded pixel (r + max − dy_b, c + max − dx_b)
    rows = torch.arange(height)[None, :] + max_shift - offsets[1][:, None]
    cols = torch.arange(width)[None, :] + max_shift - offsets[0][:, None]
    batch = torch.arange(n)[:, None, None]
    channels = [padded[:, c][batch, rows[:, :, None], cols[:, None, :]] for c in range(x.shape[1])]
    return torch.stack(channels, dim=1)


def train(
    spec: ModelSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 50,
    on_epoch: Callable[[int, float], None] | None = None,
) -> Trained:
    """Train ``spec`` on ``(x, y)`` for ``epochs`` epochs of shuffled mini-batches.

    ``x`` is ``(N, 1, H, W)`` or ``(N, 1, L)``, ``y`` is ``(N,)`` int64.  ``on_epoch(epoch,
    mean_loss)`` is called after each epoch (1-based) for progress display.
    """
    model, optimizer = build(spec, seed)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(y), generator=generator)
        total, batches = 0.0, 0
        for first in range(0, len(y), batch_size):
            index = order[first : first + batch_size]
            inputs = x[index]
            if spec.augment:
                inputs = random_shift(inputs, spec.augment, generator)
            # one SGD step on the mean cross-entropy of the batch
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), y[index])
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            batches += 1
        losses.append(total / max(batches, 1))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    model.eval()
    return Trained(spec, model, losses, time.perf_counter() - start)
