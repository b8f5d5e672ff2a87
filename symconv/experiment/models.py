"""The models of the shift experiment, with their optimizers.

The exercise's two models, exactly as specified:

- ``mlp``: Flatten – Linear(784→30) – ReLU – Linear(30→10); SGD(lr 0.05, momentum 0.9).
- ``cnn``: Conv2d(1→5, k4, s2, p1) – ReLU – Conv2d(5→10, k4, s2, p1) – ReLU – Flatten –
  Linear(490→10); SGD(lr 0.01, momentum 0.9).  Feature maps 28 → 14 → 7 (strides 2, 4).

The arms beyond the exercise (same optimizer as ``cnn``):

- ``cnn_augmented``: ``cnn`` trained on randomly shifted images (answer 3.2).
- ``cnn_blurpool``: each strided conv becomes a stride-1 conv – ReLU – blur-pool (a 3×3
  binomial filter [1, 2, 1]ᵀ[1, 2, 1]/16 applied with stride 2; Zhang 2019).  Same shapes.
- ``cnn_circular_gap``: circular padding and a global-average-pool head:
  Conv2d(1→16, k4, s2, p1) – ReLU – Conv2d(16→32, k4, s2, p1) – ReLU – Conv2d(32→64, k3, s1,
  p1) – ReLU – GAP – Linear(64→10), all circular, SGD(lr 0.05, momentum 0.9).  Each conv
  covers one period (28 = 2·14, 14 = 2·7, 7 = 7), so the features roll with the input and
  the pool forgets where: invariant to circular shifts by multiples of the cumulative
  stride 4.  It is wider than ``cnn`` because the exercise's 5/10 channels behind a pool
  barely train (about 21% validation accuracy after 10 epochs at lr 0.01, 67% at lr 0.1).

And the MNIST-1D companion (length-40 signals): ``cnn1d`` Conv1d(1→32, k5, s2, p2) – ReLU –
Conv1d(32→32, k5, s2, p2) – ReLU – Flatten – Linear(320→10) and ``mlp1d`` 40→100 – ReLU – 10,
both SGD(lr 0.05, momentum 0.9).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ARMS", "COMPANION", "BlurPool2d", "ModelSpec", "build"]


class BlurPool2d(nn.Module):
    """Anti-aliased downsampling: a binomial low-pass per channel, then keep every 2nd pixel.

    Input ``(N, C, H, W)`` → ``(N, C, ⌈H/2⌉, ⌈W/2⌉)``; reflect padding of 1 pixel.
    """

    kernel: torch.Tensor

    def __init__(self, channels: int, stride: int = 2) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(taps, taps)
        kernel = kernel / kernel.sum()
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone())
        self.stride = stride
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Blur then subsample."""
        padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
        return nn.functional.conv2d(padded, self.kernel, stride=self.stride, groups=self.channels)


class GlobalAveragePool(nn.Module):
    """Mean over every axis after the channel axis: ``(N, C, ...)`` → ``(N, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Average over positions."""
        return x.flatten(2).mean(dim=2)


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 30), nn.ReLU(), nn.Linear(30, 10))


def _cnn_head() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 5, kernel_size=4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(5, 10, kernel_size=4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(490, 10),
    )


def _cnn_blurpool() -> nn.Module:
    # 28 → conv k4 s1 p1 → 27 → blur-pool → 14 → conv → 13 → blur-pool → 7
    return nn.Sequential(
        nn.Conv2d(1, 5, kernel_size=4, stride=1, padding=1),
        nn.ReLU(),
        BlurPool2d(5),
        nn.Conv2d(5, 10, kernel_size=4, stride=1, padding=1),
        nn.ReLU(),
        BlurPool2d(10),
        nn.Flatten(),
        nn.Linear(490, 10),
    )


def _cnn_circular_gap() -> nn.Module:
    # every layer covers one period of its input: 28 → 14 → 7 → 7, so features roll along
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=4, stride=2, padding=1, padding_mode="circular"),
        nn.ReLU(),
        nn.Conv2d(16, 32, kernel_size=4, stride=2, padding=1, padding_mode="circular"),
        nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1, padding_mode="circular"),
        nn.ReLU(),
        GlobalAveragePool(),
        nn.Linear(64, 10),
    )


def _cnn1d() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(1, 32, kernel_size=5, stride=2, padding=2),
        nn.ReLU(),
        nn.Conv1d(32, 32, kernel_size=5, stride=2, padding=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(320, 10),
    )


def _mlp1d() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 10))


@dataclass(frozen=True)
class ModelSpec:
    """A model to train: how to build it, its SGD settings and its training shifts.

    ``augment`` is the largest random shift (pixels, each axis, zero fill) applied to each
    training batch; 0 for none.  ``feature_layers`` are the indices (into the Sequential)
    whose outputs are the feature maps probed for equivariance, with their cumulative strides.
    """

    name: str
    description: str
    factory: Callable[[], nn.Module]
    lr: float
    momentum: float = 0.9
    augment: int = 0
    feature_layers: tuple[tuple[int, int], ...] = ()


ARMS: tuple[ModelSpec, ...] = (
    ModelSpec("mlp", "MLP 784→30→10 (exercise)", _mlp, lr=0.05),
    ModelSpec(
        "cnn",
        "CNN k4 s2 ×2 + linear head (exercise)",
        _cnn_head,
        lr=0.01,
        feature_layers=((1, 2), (3, 4)),
    ),
    ModelSpec(
        "cnn_augmented",
        "CNN trained on random shifts ±4 px",
        _cnn_head,
        lr=0.01,
        augment=4,
        feature_layers=((1, 2), (3, 4)),
    ),
    ModelSpec(
        "cnn_blurpool",
        "CNN stride 1 + ReLU + binomial blur-pool",
        _cnn_blurpool,
        lr=0.01,
        feature_layers=((2, 2), (5, 4)),
    ),
    ModelSpec(
        "cnn_circular_gap",
        "circular CNN 16-32-64 + global average pool",
        _cnn_circular_gap,
        lr=0.05,
        feature_layers=((1, 2), (3, 4), (5, 4)),
    ),
)

COMPANION: tuple[ModelSpec, ...] = (
    ModelSpec("mlp1d", "MLP 40→100→10", _mlp1d, lr=0.05),
    ModelSpec("cnn1d", "1-D CNN k5 s2 ×2 + linear head", _cnn1d, lr=0.05),
)


def build(spec: ModelSpec, seed: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The model of ``spec`` initialised from ``seed``, and its SGD optimizer."""
    torch.manual_seed(seed)
    model = spec.factory()
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum)
    return model, optimizer
