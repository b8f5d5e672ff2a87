"""PNG plots of the results (matplotlib, Agg backend: no display needed).

:func:`write_plots` writes into a folder and returns the paths:

- ``accuracy.png`` — original vs shifted (2 px right and down) validation accuracy per arm;
- ``shift_sweep.png`` — accuracy heatmaps over dx, dy ∈ [−r, r], zero fill and circular roll;
- ``layer_equivariance.png`` — relative L2 equivariance error per layer by Δ mod 4;
- ``mnist1d.png`` — the 1-D companion: accuracy against the shift of the signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_plots"]


def write_plots(results: dict[str, Any], folder: Path) -> list[Path]:
    """Draw every plot of ``results`` (from :func:`run_experiment`) into ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    arms = list(results["accuracy"])

    # original vs shifted accuracy, mean ± std over seeds
    figure, axes = plt.subplots(figsize=(8, 4))
    positions = np.arange(len(arms))
    for offset, key, label in ((-0.2, "original", "original"), (0.2, "shifted", "shifted 2,2")):
        means = [results["accuracy"][a][key] for a in arms]
        stds = [results["accuracy"][a][f"{key}_std"] for a in arms]
        axes.bar(positions + offset, means, 0.4, yerr=stds, label=label, capsize=3)
    axes.set_xticks(positions, arms, rotation=15)
    axes.set_ylim(0, 1)
    axes.set_ylabel("validation accuracy")
    axes.axhline(0.1, color="grey", linestyle=":", linewidth=1)
    axes.legend()
    axes.set_title("MNIST: validation accuracy, original and shifted 2 px right and down")
    paths.append(_save(figure, folder / "accuracy.png"))

    # accuracy over the shift grid
    radius = int(results["sweep"]["radius"])
    extent = (-radius - 0.5, radius + 0.5, radius + 0.5, -radius - 0.5)
    figure, grid = plt.subplots(2, len(arms), figsize=(3 * len(arms), 6), squeeze=False)
    image = None
    for row, mode in enumerate(("zero", "circular")):
        for column, arm in enumerate(arms):
            axes = grid[row][column]
            image = axes.imshow(
                np.asarray(results["sweep"][arm][mode]), vmin=0, vmax=1, extent=extent
            )
            axes.set_title(f"{arm}\n{mode}", fontsize=9)
            axes.set_xlabel("dx (right)")
            if column == 0:
                axes.set_ylabel("dy (down)")
    if image is not None:
        figure.colorbar(image, ax=grid, shrink=0.6, label="accuracy")
    paths.append(_save(figure, folder / "shift_sweep.png", tight=False))

    # per-layer equivariance error
    probes = results["layer_equivariance"]
    if probes:
        figure, grid = plt.subplots(1, len(probes), figsize=(4 * len(probes), 3.5), squeeze=False)
        for axes, (arm, probe) in zip(grid[0], probes.items()):
            layers: dict[str, list[tuple[int, float]]] = {}
            for entry in probe["rows"]:
                layers.setdefault(entry["layer"], []).append(
                    (entry["delta_mod_4"], entry["relative_l2"])
                )
            for layer, points in layers.items():
                xs, ys = zip(*sorted(points))
                axes.plot(xs, ys, marker="o", label=layer)
            axes.set_xticks([0, 1, 2, 3])
            axes.set_xlabel("Δ mod 4")
            axes.set_ylabel("relative L2 error")
            axes.set_title(arm, fontsize=9)
            axes.legend(fontsize=7)
        paths.append(_save(figure, folder / "layer_equivariance.png"))

    # the 1-D companion
    companion = results.get("mnist1d")
    if companion:
        curve = companion["shift_curve"]
        figure, axes = plt.subplots(figsize=(6, 3.5))
        for name, values in curve.items():
            if name != "shifts":
                axes.plot(curve["shifts"], values, marker="o", label=name)
        axes.set_ylim(0, 1)
        axes.set_xlabel("shift of the signal (samples, zero fill)")
        axes.set_ylabel("test accuracy")
        axes.set_title("MNIST-1D: accuracy under shifts")
        axes.legend()
        paths.append(_save(figure, folder / "mnist1d.png"))
    return paths


def _save(figure: Any, path: Path, *, tight: bool = True) -> Path:
    import matplotlib.pyplot as plt

    if tight:
        figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
