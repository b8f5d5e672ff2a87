"""The layer spec: one validated convolution layer, and which entries each output reads.

A layer has 1 to 3 spatial axes, ``in_channels``, ``out_channels`` and ``groups``, and per
axis a kernel size, stride, padding (before, after) and dilation; a padding mode (zeros or
circular), a bias mode and a batch size.  It is the geometric seam of symconv: the
explicit derivation, the Jacobians, the window tables and the checker's truth all read
the connectivity computed here, and nothing else knows how padding or groups work.

Shapes (row-major, as PyTorch):

- input ``x``: ``(batch, in_channels, *input_shape)``
- weights ``w``: ``(out_channels, in_channels // groups, *kernel_size)``
- bias ``b``: shared ``(out_channels,)``; untied ``(out_channels, *output_shape)``; none
- output ``ŷ`` and target ``y``: ``(batch, out_channels, *output_shape)``

Convention: a cross-correlation (no kernel flip).  Along one axis, output position ``i``
(0-based) reads with tap ``j`` the padded position ``s·i + d·j``, which is the input
position ``s·i + d·j − p_before``; zero padding reads 0 outside the input, circular
padding wraps modulo the axis length.  Output length per axis:
``floor((n + p_before + p_after − d(k−1) − 1)/s) + 1``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import product
from typing import Literal, cast, get_args

from symconv.errors import ProblemError

__all__ = [
    "BIAS_MODES",
    "PADDING_MODES",
    "BiasMode",
    "Layer",
    "PaddingMode",
    "Tap",
    "make_layer",
    "output_length",
    "padding_for",
]

PaddingMode = Literal["zeros", "circular"]
BiasMode = Literal["shared", "untied", "none"]
PADDING_MODES: tuple[PaddingMode, ...] = get_args(PaddingMode)
BIAS_MODES: tuple[BiasMode, ...] = get_args(BiasMode)

MAX_AXES = 3
# Every size is a plain machine integer, and no tensor of the layer has more entries than
# this (the explicit derivation and the kernels have their own, smaller limits).
MAX_SIZE = 10**9
MAX_ENTRIES = 10**9


def output_length(n: int, k: int, stride: int, before: int, after: int, dilation: int) -> int:
    """``floor((n + before + after − d(k−1) − 1)/s) + 1`` (< 1 for an impossible axis).

    Example:
        >>> output_length(4, 3, 1, 0, 0, 1)
        2
    """
    return (n + before + after - dilation * (k - 1) - 1) // stride + 1


def padding_for(n: int, k: int, stride: int, dilation: int, rule: str) -> tuple[int, int]:
    """The (before, after) padding of one axis for ``"valid"`` or ``"same"``.

    ``"same"`` follows TensorFlow: the output has ``ceil(n/s)`` positions and the extra
    padding of an even total goes after.

    Example:
        >>> padding_for(5, 4, 1, 1, "same")
        (1, 2)
    """
    if rule == "valid":
        return (0, 0)
    span = dilation * (k - 1) + 1
    total = max((-(-n // stride) - 1) * stride + span - n, 0)
    return (total // 2, total - total // 2)


@dataclass(frozen=True)
class Tap:
    """One product in one output entry: ``w[weight] · x[source]`` (flat row-major indices)."""

    weight: int
    source: int


@dataclass(frozen=True)
class Layer:
    """A validated convolution layer (build it with :func:`make_layer`).

    Every per-axis field has one entry per spatial axis; ``padding`` holds
    ``(before, after)`` pairs.

    Example:
        >>> layer = make_layer(input_shape=[4], kernel_size=3, bias="untied")
        >>> layer.output_shape, layer.y_shape, layer.b_shape
        ((2,), (1, 1, 2), (1, 2))
    """

    input_shape: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    padding_mode: PaddingMode = "zeros"
    bias: BiasMode = "shared"
    in_channels: int = 1
    out_channels: int = 1
    groups: int = 1
    batch: int = 1

    # -- sizes ----------------------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of spatial axes (1, 2 or 3)."""
        return len(self.input_shape)

    @cached_property
    def output_shape(self) -> tuple[int, ...]:
        """The output's spatial shape."""
        return tuple(
            output_length(n, k, s, before, after, d)
            for n, k, s, (before, after), d in zip(
                self.input_shape, self.kernel_size, self.stride, self.padding, self.dilation
            )
        )

    @property
    def x_shape(self) -> tuple[int, ...]:
        """``(batch, in_channels, *input_shape)``."""
        return (self.batch, self.in_channels, *self.input_shape)

    @property
    def w_shape(self) -> tuple[int, ...]:
        """``(out_channels, in_channels // groups, *kernel_size)``."""
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    @property
    def b_shape(self) -> tuple[int, ...] | None:
        """Shared ``(out_channels,)``, untied ``(out_channels, *output_shape)``, none None."""
        if self.bias == "shared":
            return (self.out_channels,)
        if self.bias == "untied":
            return (self.out_channels, *self.output_shape)
        return None

    @property
    def y_shape(self) -> tuple[int, ...]:
        """``(batch, out_channels, *output_shape)``: the output, the target, ∂L/∂ŷ."""
        return (self.batch, self.out_channels, *self.output_shape)

    @property
    def is_single(self) -> bool:
        """True for the exercise's kind of layer: 1-D, one channel in and out, batch 1."""
        return (
            self.ndim == 1
            and self.in_channels == 1
            and self.out_channels == 1
            and self.batch == 1
        )

    @property
    def symmetric_padding(self) -> tuple[int, ...] | None:
        """One padding per axis when every axis pads alike on both sides, else None."""
        if all(before == after for before, after in self.padding):
            return tuple(before for before, _ in self.padding)
        return None

    @property
    def taps_per_output(self) -> int:
        """Products in one output entry: ``in_channels/groups · Π kernel_size``."""
        return self.in_channels // self.groups * math.prod(self.kernel_size)

    @property
    def terms(self) -> int:
        """Products in the whole forward pass (output entries × taps): the explicit size."""
        return math.prod(self.y_shape) * self.taps_per_output

    def to_dict(self) -> dict[str, object]:
        """The layer as plain JSON-able data, with the TOML contract's field names."""
        return {
            "input_shape": list(self.input_shape),
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "groups": self.groups,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": [list(pair) for pair in self.padding],
            "padding_mode": self.padding_mode,
            "dilation": list(self.dilation),
            "bias": self.bias,
            "batch": self.batch,
            "output_shape": list(self.output_shape),
        }

    def describe(self) -> str:
        """A short one-line description, e.g. ``2-D 2→3 channels, k 3×2, s 2×1, p 1, batch 2``."""
        times = "×".join
        parts = [f"{self.ndim}-D", f"input {times(map(str, self.input_shape))}"]
        if self.in_channels > 1 or self.out_channels > 1:
            parts.append(f"{self.in_channels}→{self.out_channels} channels")
        if self.groups > 1:
            parts.append(f"{self.groups} groups")
        parts.append(f"kernel {times(map(str, self.kernel_size))}")
        if any(s != 1 for s in self.stride):
            parts.append(f"stride {times(map(str, self.stride))}")
        sym = self.symmetric_padding
        if sym is None:
            parts.append("padding " + times(f"{a}+{b}" for a, b in self.padding))
        elif any(sym):
            parts.append(f"padding {times(map(str, sym))}")
        if self.padding_mode != "zeros":
            parts.append(self.padding_mode)
        if any(d != 1 for d in self.dilation):
            parts.append(f"dilation {times(map(str, self.dilation))}")
        parts.append(f"bias {self.bias}")
        if self.batch > 1:
            parts.append(f"batch {self.batch}")
        return ", ".join(parts)

    # -- connectivity ---------------------------------------------------------------------

    def position(self, axis: int, out_position: int, tap: int) -> int:
        """``s·i + d·j − p_before``: the input position (0-based, before padding is
        resolved: negative or ≥ n in the padding) read along ``axis`` by an output position
        and a tap.  The one place the padding rule is written.

        Example:
            >>> make_layer(input_shape=[4], kernel_size=3, stride=2, padding=1).position(0, 1, 2)
            3
        """
        return (
            self.stride[axis] * out_position
            + self.dilation[axis] * tap
            - self.padding[axis][0]
        )

    def source(self, axis: int, out_position: int, tap: int) -> int | None:
        """The 0-based input position read along ``axis`` by an output position and a tap.

        None when it falls in the zero padding; wrapped when the padding is circular.

        Example:
            >>> make_layer(input_shape=[4], kernel_size=3, padding=1).source(0, 0, 0) is None
            True
        """
        n = self.input_shape[axis]
        position = self.position(axis, out_position, tap)
        if 0 <= position < n:
            return position
        if self.padding_mode == "circular":
            return position % n
        return None

    @cached_property
    def axis_windows(self) -> tuple[tuple[tuple[int | None, ...], ...], ...]:
        """Per axis, the window table: ``[out_position][tap]`` → input position or None."""
        return tuple(
            tuple(
                tuple(self.source(axis, i, j) for j in range(self.kernel_size[axis]))
                for i in range(self.output_shape[axis])
            )
            for axis in range(self.ndim)
        )

    def window_table(self) -> list[list[int | None]]:
        """The spatial window table: for each output position and kernel tap (flat,
        row-major over the spatial axes), the flat input position read, or None.

        Example:
            >>> make_layer(input_shape=[4], kernel_size=3).window_table()
            [[0, 1, 2], [1, 2, 3]]
        """
        windows = self.axis_windows
        table: list[list[int | None]] = []
        for out in product(*(range(m) for m in self.output_shape)):
            row: list[int | None] = []
            for taps in product(*(range(k) for k in self.kernel_size)):
                positions = [windows[a][out[a]][taps[a]] for a in range(self.ndim)]
                row.append(None if None in positions else _flat(positions, self.input_shape))
            table.append(row)
        return table

    def input_channels_of(self, out_channel: int) -> range:
        """The input channels that an output channel reads (its group's)."""
        per_group_in = self.in_channels // self.groups
        group = out_channel // (self.out_channels // self.groups)
        return range(group * per_group_in, (group + 1) * per_group_in)

    def connectivity(self) -> Iterator[tuple[int, int | None, list[Tap]]]:
        """For every output entry (flat index into ``y_shape``): its bias entry (flat index
        into ``b_shape``, or None) and the products ``w[tap.weight] · x[tap.source]`` it sums.

        Products that read the zero padding are left out.  Yields in row-major order.

        Example:
            >>> [(o, b, [(t.weight, t.source) for t in taps])
            ...  for o, b, taps in make_layer(input_shape=[3], kernel_size=2).connectivity()]
            [(0, 0, [(0, 0), (1, 1)]), (1, 0, [(0, 1), (1, 2)])]
        """
        table = self.window_table()
        spatial_in = math.prod(self.input_shape)
        spatial_out = math.prod(self.output_shape)
        kernel = math.prod(self.kernel_size)
        per_group_in = self.in_channels // self.groups
        output = 0
        for batch in range(self.batch):
            for co in range(self.out_channels):
                channels = self.input_channels_of(co)
                for position, row in enumerate(table):
                    taps: list[Tap] = []
                    for ci_local, ci in enumerate(channels):
                        x_base = (batch * self.in_channels + ci) * spatial_in
                        w_base = (co * per_group_in + ci_local) * kernel
                        for tap, source in enumerate(row):
                            if source is not None:
                                taps.append(Tap(w_base + tap, x_base + source))
                    bias: int | None
                    if self.bias == "shared":
                        bias = co
                    elif self.bias == "untied":
                        bias = co * spatial_out + position
                    else:
                        bias = None
                    yield output, bias, taps
                    output += 1


def _flat(index: Sequence[int | None], shape: Sequence[int]) -> int:
    flat = 0
    for i, size in zip(index, shape):
        flat = flat * size + cast(int, i)
    return flat


# ---------------------------------------------------------------------------------------
# validation


def _size(field: str, value: object, *, minimum: int = 1) -> int:
    """An integer in ``minimum..MAX_SIZE``: a TOML int, or digits from the command line."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,12}", value.strip()):
        number = int(value)
    if number is None or number < minimum:
        raise ProblemError(field, value, f"must be an integer >= {minimum}")
    if number > MAX_SIZE:
        raise ProblemError(field, value, f"must be an integer <= {MAX_SIZE}")
    return number


def _split(value: object) -> object:
    """``"3,2"`` (as given on the command line) as ``["3", "2"]``; anything else unchanged."""
    if isinstance(value, str) and "," in value:
        return [part.strip() for part in value.split(",")]
    return value


def _per_axis(field: str, value: object, axes: int, *, minimum: int) -> tuple[int, ...]:
    """One integer for every axis, or a list of one per axis."""
    value = _split(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != axes:
            raise ProblemError(
                field, value, f"has {len(value)} entries; give one integer or {axes} (one per axis)"
            )
        return tuple(_size(f"{field}[{a + 1}]", v, minimum=minimum) for a, v in enumerate(value))
    return (_size(field, value, minimum=minimum),) * axes


def _padding(
    value: object,
    input_shape: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[tuple[int, int], ...]:
    field = "layer.padding"
    axes = len(input_shape)
    if value in ("valid", "same"):
        return tuple(
            padding_for(n, k, s, d, value)
            for n, k, s, d in zip(input_shape, kernel, stride, dilation)
        )
    integer = re.compile(r"\s*[+-]?[0-9]+\s*")
    if isinstance(value, str) and "," not in value and not integer.fullmatch(value):
        raise ProblemError(
            field, value, 'must be an integer >= 0, one per axis, [before, after] pairs, "valid" '
            'or "same"'
        )
    value = _split(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != axes:
            raise ProblemError(
                field, value, f"has {len(value)} entries; give one integer or {axes} (one per axis)"
            )
        pairs: list[tuple[int, int]] = []
        for a, item in enumerate(value):
            if isinstance(item, Sequence) and not isinstance(item, str):
                if len(item) != 2:
                    raise ProblemError(
                        f"{field}[{a + 1}]", item, "must be one integer or a [before, after] pair"
                    )
                pairs.append(
                    (
                        _size(f"{field}[{a + 1}][1]", item[0], minimum=0),
                        _size(f"{field}[{a + 1}][2]", item[1], minimum=0),
                    )
                )
            else:
                p = _size(f"{field}[{a + 1}]", item, minimum=0)
                pairs.append((p, p))
        return tuple(pairs)
    p = _size(field, value, minimum=0)
    return ((p, p),) * axes


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ProblemError(field, value, f"must be one of {', '.join(map(repr, allowed))}")
    return value


def make_layer(
    *,
    input_shape: object,
    kernel_size: object,
    stride: object = 1,
    padding: object = 0,
    dilation: object = 1,
    padding_mode: object = "zeros",
    bias: object = "shared",
    in_channels: object = 1,
    out_channels: object = 1,
    groups: object = 1,
    batch: object = 1,
    length_field: str = "layer.input_shape",
) -> Layer:
    """Validate the settings of a layer (TOML values, or strings from the command line).

    ``input_shape`` is a list of 1 to 3 sizes (or one size: a 1-D layer); every per-axis
    setting is one integer for all axes or a list of one per axis; ``padding`` may also
    hold ``[before, after]`` pairs or be ``"valid"`` or ``"same"``.  Raises
    :class:`ProblemError` naming the field, its value and what is allowed.

    Example:
        >>> make_layer(input_shape=[6, 6], kernel_size=[3, 2], stride=[2, 1], padding=1,
        ...            in_channels=2, out_channels=3).output_shape
        (3, 7)
    """
    shape_value = _split(input_shape)
    if isinstance(shape_value, Sequence) and not isinstance(shape_value, str):
        if not 1 <= len(shape_value) <= MAX_AXES:
            raise ProblemError(
                length_field, shape_value, f"must have 1 to {MAX_AXES} spatial sizes"
            )
        shape = tuple(
            _size(f"{length_field}[{a + 1}]", v) for a, v in enumerate(shape_value)
        )
    else:
        shape = (_size(length_field, shape_value),)
    axes = len(shape)
    kernel = _per_axis("layer.kernel_size", kernel_size, axes, minimum=1)
    strides = _per_axis("layer.stride", stride, axes, minimum=1)
    dilations = _per_axis("layer.dilation", dilation, axes, minimum=1)
    pads = _padding(padding, shape, kernel, strides, dilations)
    mode = cast(PaddingMode, _choice("layer.padding_mode", padding_mode, PADDING_MODES))
    bias_mode = cast(BiasMode, _choice("layer.bias", bias, BIAS_MODES))
    c_in = _size("layer.in_channels", in_channels)
    c_out = _size("layer.out_channels", out_channels)
    group_count = _size("layer.groups", groups)
    batch_size = _size("layer.batch", batch)
    if c_in % group_count or c_out % group_count:
        raise ProblemError(
            "layer.groups",
            group_count,
            f"must divide in_channels (={c_in}) and out_channels (={c_out})",
        )
    for a, (n, k, (before, after), d) in enumerate(zip(shape, kernel, pads, dilations)):
        where = f" on axis {a + 1}" if axes > 1 else ""
        span = d * (k - 1) + 1
        size_name = "input_length" if length_field.endswith("length") else "input_shape"
        if span > n + before + after:
            raise ProblemError(
                "layer.kernel_size",
                k if axes == 1 else list(kernel),
                f"with dilation {d} spans {span} positions{where}, more than the padded input "
                f"({size_name} + 2·padding = {n + before + after}); allowed: a span of at "
                f"most {n + before + after}",
            )
        if mode == "circular" and max(before, after) > n:
            raise ProblemError(
                "layer.padding",
                max(before, after),
                f"is larger than {size_name}{where} ({n}); circular padding wraps at most once",
            )
    layer = Layer(
        input_shape=shape,
        kernel_size=kernel,
        stride=strides,
        padding=pads,
        dilation=dilations,
        padding_mode=mode,
        bias=bias_mode,
        in_channels=c_in,
        out_channels=c_out,
        groups=group_count,
        batch=batch_size,
    )
    for name, tensor in (("input", layer.x_shape), ("output", layer.y_shape)):
        if math.prod(tensor) > MAX_ENTRIES:
            raise ProblemError(
                "layer",
                "×".join(map(str, tensor)),
                f"has a {name} of more than {MAX_ENTRIES} entries; allowed: at most {MAX_ENTRIES}",
            )
    return layer
