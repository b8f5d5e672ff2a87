"""What an implementation supports, and the configurations (cases) drawn for it.

A :class:`Supports` says which layers a user's convolution handles (spatial axes, stride,
padding, dilation, padding modes, bias modes, groups, channels, batch); :func:`cases`
draws a reproducible sweep of random layers from exactly that space
(:func:`symconv.crosscheck.random_problem` on the matching
:class:`~symconv.crosscheck.Space`), each with exact random values (multiples of 1/8) and
an upstream gradient ∂L/∂ŷ (loss ``"upstream"``), so that the truth of every quantity —
ŷ, ∂L/∂x, ∂L/∂w, ∂L/∂b — is exact.

Case ``I`` of a sweep depends only on the supports, the seed and ``I`` (the sweep is
drawn in order, so a longer sweep starts with the cases of a shorter one); its id
(``c07-2d-s2x1-p1-g2-shared``) names it in pytest and ``-k`` selects it.

Example:
    >>> first = cases(Supports(dims=(2,)), sweep=3, seed=0)[0]
    >>> first.id, first.problem.loss, first.problem.layer.ndim
    ('c01-2d-s3x2-p1-d2x1-g3-shared', 'upstream', 2)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from symconv.crosscheck import Space, random_problem
from symconv.errors import UsageError
from symconv.layer import BIAS_MODES, PADDING_MODES, Layer
from symconv.problem import Problem

__all__ = ["Case", "Supports", "cases", "configuration_text", "space_of"]

_AXES = (1, 2, 3)
# the largest sizes a sweep may ask for (each drawn layer stays small: see Space)
_LIMITS = {
    "max_stride": (1, 8),
    "max_dilation": (1, 8),
    "max_padding": (0, 8),
    "max_channels": (1, 8),
    "max_batch": (1, 8),
}
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


@dataclass(frozen=True)
class Supports:
    """What an implementation declares it supports; cases are drawn only from this.

    ``dims``: the numbers of spatial axes drawn (repeat one to draw it more often);
    per-axis ``max_stride``, ``max_dilation``, ``max_padding``; ``uneven_padding``: whether
    ``(before, after)`` pairs with before ≠ after are drawn (else one int per axis);
    ``padding_modes`` among ``"zeros"``, ``"circular"``; ``biases`` among ``"shared"``
    (``b`` of shape ``(C_out,)``), ``"untied"`` (``(C_out, *O)``), ``"none"`` (``b`` is
    None); ``groups``: whether groups > 1 are drawn; ``max_channels`` in and out;
    ``max_batch``.  Invalid settings raise :class:`~symconv.errors.UsageError`.

    Example:
        >>> Supports(dims=(1,), padding_modes=("zeros", "circular")).options()
        ['dims=1', 'padding_modes=zeros,circular']
        >>> Supports.from_options(["dims=1", "padding_modes=zeros,circular"]).dims
        (1,)
    """

    dims: tuple[int, ...] = (1, 2)
    max_stride: int = 3
    max_dilation: int = 2
    max_padding: int = 2
    uneven_padding: bool = False
    padding_modes: tuple[str, ...] = ("zeros",)
    biases: tuple[str, ...] = ("shared", "none")
    groups: bool = True
    max_channels: int = 3
    max_batch: int = 3

    def __post_init__(self) -> None:
        _choices("dims", self.dims, _AXES)
        _choices("padding_modes", self.padding_modes, PADDING_MODES)
        _choices("biases", self.biases, BIAS_MODES)
        for name, (low, high) in _LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise UsageError(
                    f"`Supports.{name}` (={value!r}) must be an integer from {low} to {high}"
                )
        for name in ("uneven_padding", "groups"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(
                    f"`Supports.{name}` (={getattr(self, name)!r}) must be True or False"
                )

    # -- as text: `symconv verify --supports KEY=VALUE` and Python source -------------------

    def options(self) -> list[str]:
        """The fields that differ from the defaults as ``KEY=VALUE`` (``verify --supports``)."""
        out = []
        for name, value in self._changed():
            if isinstance(value, tuple):
                text = ",".join(map(str, value))
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            out.append(f"{name}={text}")
        return out

    def source(self) -> str:
        """Python source of these supports (only the fields that differ from the defaults).

        Example:
            >>> Supports(dims=(2,), max_batch=1).source()
            'Supports(dims=(2,), max_batch=1)'
        """
        return f"Supports({', '.join(f'{name}={value!r}' for name, value in self._changed())})"

    def _changed(self) -> list[tuple[str, Any]]:
        default = Supports()
        return [
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]

    @classmethod
    def from_options(cls, items: Sequence[str], option: str = "--supports") -> Supports:
        """Supports from ``KEY=VALUE`` texts (lists comma-separated; booleans true/false)."""
        kinds = {f.name: Supports.__dataclass_fields__[f.name].default for f in fields(cls)}
        changes: dict[str, Any] = {}
        for item in items:
            key, equals, text = item.partition("=")
            key, text = key.strip(), text.strip()
            if not equals or key not in kinds:
                raise UsageError(
                    f"`{option}` (={item}) must be KEY=VALUE with KEY one of {', '.join(kinds)}"
                )
            default = kinds[key]
            if isinstance(default, bool):
                if text.lower() not in _TRUE + _FALSE:
                    raise UsageError(f"`{option}` (={item}) must set {key} to true or false")
                changes[key] = text.lower() in _TRUE
            elif isinstance(default, tuple):
                parts = tuple(part.strip() for part in text.split(",") if part.strip())
                if key == "dims":
                    if not all(part.isdigit() for part in parts):
                        raise UsageError(f"`{option}` (={item}) must list integers, e.g. dims=1,2")
                    changes[key] = tuple(int(part) for part in parts)
                else:
                    changes[key] = parts
            else:
                if not text.isdigit():
                    raise UsageError(f"`{option}` (={item}) must set {key} to an integer")
                changes[key] = int(text)
        try:
            return cls(**changes)
        except UsageError as exc:
            raise UsageError(f"`{option}`: {exc}") from None


def _choices(name: str, values: object, allowed: Sequence[object]) -> None:
    if (
        not isinstance(values, tuple)
        or not values
        or any(value not in allowed for value in values)
    ):
        raise UsageError(
            f"`Supports.{name}` (={values!r}) must be a non-empty tuple of "
            f"{', '.join(map(repr, allowed))}"
        )


def space_of(supports: Supports) -> Space:
    """The sweep space of ``supports``: its layers, with an upstream gradient (no loss).

    Example:
        >>> space_of(Supports(groups=False)).groups, space_of(Supports()).losses
        (False, ('upstream',))
    """
    return Space(
        dims=supports.dims,
        max_stride=supports.max_stride,
        max_dilation=supports.max_dilation,
        max_padding=supports.max_padding,
        uneven_padding=supports.uneven_padding,
        padding_modes=supports.padding_modes,
        biases=supports.biases,
        max_channels=supports.max_channels,
        groups=supports.groups,
        max_batch=supports.max_batch,
        losses=("upstream",),
    )


def _axes(values: Sequence[object]) -> str:
    """One value when every axis has it, else the values joined by ``x`` (``2x1``)."""
    texts = [str(v) for v in values]
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


@dataclass(frozen=True)
class Case:
    """One configuration of a sweep: a layer with exact values and an upstream gradient.

    ``index`` is the 1-based position in the sweep of ``sweep`` cases drawn with ``seed``
    from ``supports``; ``problem`` has loss ``"upstream"`` and its ``grad_yhat`` is the
    ``grad_y`` handed to a backward.  ``replay`` (set by the pytest plugin) is the command
    that runs this case alone; empty when the caller should make one.
    """

    index: int
    seed: int
    sweep: int
    problem: Problem
    supports: Supports = Supports()
    replay: str = ""

    @property
    def id(self) -> str:
        """The pytest id, e.g. ``c07-2d-s2x1-p1-g2-shared``: unique within the sweep (the
        index comes first) and the same on every run with the same supports, sweep and
        seed.  Only ``[a-z0-9+-]``, so that ``pytest -k`` takes it as one word."""
        layer = self.problem.layer
        width = max(2, len(str(self.sweep)))
        pads = [str(a) if a == b else f"{a}+{b}" for a, b in layer.padding]
        parts = [
            f"c{self.index:0{width}d}",
            f"{layer.ndim}d",
            f"s{_axes(layer.stride)}",
            f"p{_axes(pads)}",
        ]
        if any(d > 1 for d in layer.dilation):
            parts.append(f"d{_axes(layer.dilation)}")
        if layer.groups > 1:
            parts.append(f"g{layer.groups}")
        if layer.padding_mode != "zeros":
            parts.append(layer.padding_mode)
        parts.append("nobias" if layer.bias == "none" else layer.bias)
        return "-".join(parts)

    def describe(self) -> str:
        """``case 7 of 50 (seed 0)``."""
        return f"case {self.index} of {self.sweep} (seed {self.seed})"


def cases(supports: Supports = Supports(), *, sweep: int = 20, seed: int = 0) -> list[Case]:
    """``sweep`` random cases from ``supports`` (deterministic in supports, sweep, seed).

    Example:
        >>> [case.id for case in cases(Supports(dims=(1,), groups=False), sweep=3, seed=1)]
        ['c01-1d-s2-p1-nobias', 'c02-1d-s1-p2-nobias', 'c03-1d-s1-p0-d2-shared']
    """
    if isinstance(sweep, bool) or not isinstance(sweep, int) or not 1 <= sweep <= 100_000:
        raise UsageError(f"`sweep` (={sweep!r}) must be an integer from 1 to 100000")
    if not isinstance(supports, Supports):
        raise UsageError(f"`supports` (={supports!r}) must be a symconv.testing.Supports")
    rng = random.Random(seed)
    space = space_of(supports)
    drawn = []
    for index in range(1, sweep + 1):
        problem = random_problem(rng, space=space)
        title = f"symconv.testing case {index} of {sweep} (seed {seed})"
        drawn.append(Case(index, seed, sweep, replace(problem, title=title), supports))
    return drawn


def configuration_text(layer: Layer) -> str:
    """A layer in one line: ``2-D 5×4, 2→4 ch g2, k 3×2, s 2×1, p 1 zeros, d 1×1, bias
    shared, batch 2``.

    Example:
        >>> from symconv.layer import make_layer
        >>> configuration_text(make_layer(input_shape=[5, 4], kernel_size=[3, 2],
        ...     stride=[2, 1], padding=1, in_channels=2, out_channels=4, groups=2, batch=2))
        '2-D 5×4, 2→4 ch g2, k 3×2, s 2×1, p 1 zeros, d 1×1, bias shared, batch 2'
    """
    times = "×".join
    pads = [str(a) if a == b else f"{a}+{b}" for a, b in layer.padding]
    return (
        f"{layer.ndim}-D {times(map(str, layer.input_shape))}, "
        f"{layer.in_channels}→{layer.out_channels} ch"
        + (f" g{layer.groups}" if layer.groups > 1 else "")
        + f", k {times(map(str, layer.kernel_size))}, s {times(map(str, layer.stride))}"
        + f", p {_axes(pads) if len(set(pads)) == 1 else times(pads)} {layer.padding_mode}"
        + f", d {times(map(str, layer.dilation))}, bias {layer.bias}, batch {layer.batch}"
    )
