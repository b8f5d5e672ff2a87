"""Reading the inputs of the report's optional sections, validated before any writing.

- the equivariance experiment's ``results.json`` (design.md: ``accuracy.<model>.original``
  and ``.shifted`` in [0, 1] for the five models, ``invariance_error.<model>`` >= 0;
  optionally ``*_std``, ``models``, ``layer_equivariance``, ``consistency``, ``p_change``
  as ``symconv equivariance`` writes them, and the PNG plots next to the file);
- the verification checks (design.md's ``verify --json`` ``checks`` list).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# defined in symconv.errors (every user-facing exception); importable from here too
from symconv.errors import ExperimentError, VerificationError

__all__ = [
    "MODELS",
    "Experiment",
    "ExperimentError",
    "VerificationError",
    "load_experiment",
    "validate_checks",
]

MODELS = ("mlp", "cnn", "cnn_augmented", "cnn_blurpool", "cnn_circular_gap")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MAX_PLOTS = 12
_MAX_BYTES = 20_000_000


@dataclass(frozen=True)
class Experiment:
    """The validated results of the equivariance experiment.

    ``accuracy`` maps each model to ``(original, shifted)`` and ``spread`` to their standard
    deviations over seeds (when given); ``invariance_error`` a model to its error;
    ``descriptions`` a model to its description (``models``); ``layers`` a model to the rows
    of its per-layer equivariance error (``layer_equivariance``: layer, Δ mod 4, relative
    L2, cosine distance); ``stability`` a model to its ``consistency`` and ``p_change``
    means; ``plots`` are PNG files.
    """

    accuracy: dict[str, tuple[float, float]]
    invariance_error: dict[str, float]
    spread: dict[str, tuple[float, float]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    layers: dict[str, list[tuple[str, int, float, float]]] = field(default_factory=dict)
    stability: dict[str, dict[str, float]] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)


def _fraction(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ExperimentError(f"`{where}` (={value!r}) must be a number in [0, 1]")
    if not 0 <= value <= 1:
        raise ExperimentError(f"`{where}` (={value!r}) must be an accuracy in [0, 1]")
    return float(value)


def _nonnegative(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ExperimentError(f"`{where}` (={value!r}) must be a finite number >= 0")
    if value < 0:
        raise ExperimentError(f"`{where}` (={value!r}) must be >= 0")
    return float(value)


def _mapping(where: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ExperimentError(f"`{where}` must be a JSON object, not {type(value).__name__}")
    return value


def _plots(raw: Mapping[str, Any], folder: Path) -> list[Path]:
    """The PNG plots: those listed under ``plots`` (relative to the file), else the PNGs
    next to it.  Each must really be a PNG (a TeX engine would choke on anything else)."""
    listed = raw.get("plots")
    candidates: list[Path]
    if listed is None:
        candidates = sorted(folder.glob("*.png"))
    else:
        entries = list(listed.values()) if isinstance(listed, Mapping) else listed
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise ExperimentError("`plots` must be a list (or object) of PNG file names")
        candidates = [folder / entry for entry in entries]
    plots = []
    for path in candidates[:_MAX_PLOTS]:
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                magic = handle.read(len(_PNG_MAGIC))
        except OSError as exc:
            raise ExperimentError(f"plot `{path}` cannot be read: {exc.strerror}") from None
        if magic != _PNG_MAGIC or size > _MAX_BYTES:
            raise ExperimentError(
                f"plot `{path}` is not a PNG image of at most {_MAX_BYTES // 1_000_000} MB"
            )
        plots.append(path)
    return plots


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate ``results.json`` (see the module docstring).

    Raises :class:`ExperimentError` naming the first bad field.
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"`--experiment` (={path}) cannot be read: {exc}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExperimentError(f"`--experiment` (={path}) is not valid JSON: {exc}") from None
    raw = _mapping("results.json", raw)
    accuracy_raw = _mapping("accuracy", raw.get("accuracy"))
    accuracy: dict[str, tuple[float, float]] = {}
    for model, entry in accuracy_raw.items():
        entry = _mapping(f"accuracy.{model}", entry)
        accuracy[str(model)] = (
            _fraction(f"accuracy.{model}.original", entry.get("original")),
            _fraction(f"accuracy.{model}.shifted", entry.get("shifted")),
        )
    for model in MODELS:
        if model not in accuracy:
            raise ExperimentError(
                f"`accuracy.{model}` is missing; results.json needs all of {', '.join(MODELS)}"
            )
    errors_raw = _mapping("invariance_error", raw.get("invariance_error", {}))
    invariance = {
        str(model): _nonnegative(f"invariance_error.{model}", value)
        for model, value in errors_raw.items()
    }
    spread: dict[str, tuple[float, float]] = {}
    for model, entry in accuracy_raw.items():
        if "original_std" in entry or "shifted_std" in entry:
            spread[str(model)] = (
                _nonnegative(f"accuracy.{model}.original_std", entry.get("original_std")),
                _nonnegative(f"accuracy.{model}.shifted_std", entry.get("shifted_std")),
            )
    descriptions = {
        str(model): str(text)
        for model, text in _mapping("models", raw.get("models", {})).items()
        if isinstance(text, str)
    }
    layers: dict[str, list[tuple[str, int, float, float]]] = {}
    for model, entry in _mapping("layer_equivariance", raw.get("layer_equivariance", {})).items():
        rows = _mapping(f"layer_equivariance.{model}", entry).get("rows", [])
        if not isinstance(rows, list):
            raise ExperimentError(f"`layer_equivariance.{model}.rows` must be a list")
        table = []
        for number, row in enumerate(rows):
            where = f"layer_equivariance.{model}.rows[{number}]"
            row = _mapping(where, row)
            delta = row.get("delta_mod_4")
            if isinstance(delta, bool) or not isinstance(delta, int):
                raise ExperimentError(f"`{where}.delta_mod_4` (={delta!r}) must be an integer")
            table.append(
                (
                    str(row.get("layer", "")),
                    delta,
                    _nonnegative(f"{where}.relative_l2", row.get("relative_l2")),
                    _nonnegative(f"{where}.cosine_distance", row.get("cosine_distance")),
                )
            )
        layers[str(model)] = table
    stability: dict[str, dict[str, float]] = {}
    for key in ("consistency", "p_change"):
        for model, entry in _mapping(key, raw.get(key, {})).items():
            value = entry.get("mean") if isinstance(entry, Mapping) else entry
            stability.setdefault(str(model), {})[key] = _fraction(f"{key}.{model}", value)
    return Experiment(
        accuracy,
        invariance,
        spread,
        descriptions,
        layers,
        stability,
        _plots(raw, path.parent),
    )


_CHECK_FIELDS = {"quantity": str, "backend": str, "max_abs_err": float, "ok": bool}


def validate_checks(checks: object) -> list[dict[str, Any]]:
    """The verification checks (``verify --json``'s ``checks``), validated.

    Each needs ``quantity`` and ``backend`` (strings), ``max_abs_err`` (a number) and
    ``ok`` (a boolean); ``max_rel_err`` and ``tolerance`` are optional numbers.
    """
    if not isinstance(checks, list):
        raise VerificationError(f"verification must be a list of checks, not {type(checks)}")
    valid: list[dict[str, Any]] = []
    for number, check in enumerate(checks, start=1):
        if not isinstance(check, Mapping):
            raise VerificationError(f"check {number} must be an object, not {check!r}")
        for key, kind in _CHECK_FIELDS.items():
            value = check.get(key)
            good = (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                if kind is float
                else isinstance(value, kind)
            )
            if not good:
                raise VerificationError(
                    f"check {number}: `{key}` (={value!r}) must be a {kind.__name__}"
                )
        valid.append(dict(check))
    return valid
