"""The layer read another way: the truths of the layer as a mistaken document sees it.

A :class:`Misread` layer keeps the layer's own outputs (the m a document knows) but reads
each window as another layer would — with stride 1, or dilation 1.  A :class:`Flipped`
layer reads every window backwards: a true convolution where the layer is a
cross-correlation.  Their truths are derived like any other (the explicit derivation
follows the windows), so every quantity — the outputs, the gradients, the next step —
comes out as the mistaken reading gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from symconv.check.truth import Truth
from symconv.errors import SymconvError
from symconv.layer import Layer

__all__ = ["Flipped", "Misread", "flipped_truth", "misread_truth"]


@dataclass(frozen=True)
class Misread(Layer):
    """This layer's outputs, each window read as ``reading`` reads it."""

    reading: Layer | None = None

    def source(self, axis: int, out_position: int, tap: int) -> int | None:
        """The input position ``reading`` reads for this output and tap."""
        if self.reading is None:
            return super().source(axis, out_position, tap)
        return self.reading.source(axis, out_position, tap)


@dataclass(frozen=True)
class Flipped(Layer):
    """This layer with every window read backwards (tap j reads tap k + 1 − j's input)."""

    def source(self, axis: int, out_position: int, tap: int) -> int | None:
        """The input position the mirrored tap reads."""
        return super().source(axis, out_position, self.kernel_size[axis] - 1 - tap)


def _own(layer: Layer) -> dict[str, object]:
    return {f.name: getattr(layer, f.name) for f in fields(Layer)}


def _truth_of(truth: Truth, layer: Layer) -> Truth:
    return Truth(replace(truth.problem, layer=layer), base=truth.base)


def misread_truth(truth: Truth, change: dict[str, object]) -> Truth | None:
    """The truth of the layer read with ``change`` (``stride=1``, ``dilation=1``) but
    keeping its own outputs; None if the change does not fit the layer."""
    try:
        reading = truth.problem.with_layer(**change).layer
    except (ValueError, TypeError, SymconvError):
        return None
    return _truth_of(truth, Misread(**_own(truth.problem.layer), reading=reading))  # type: ignore[arg-type]


def flipped_truth(truth: Truth) -> Truth:
    """The truth of the layer as a true convolution (its kernel flipped)."""
    return _truth_of(truth, Flipped(**_own(truth.problem.layer)))  # type: ignore[arg-type]
