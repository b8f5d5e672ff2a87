"""The worked derivation's backend-neutral pieces: what both printers say, said once.

The terminal printer (:mod:`symconv.display`) and the LaTeX printer
(:mod:`symconv.latex.document`) print these; neither writes its own prose about the
problem.  A :class:`Note` is a run of :class:`Span` s, each with its unicode text and its
LaTeX (plain words are escaped by the LaTeX printer, math is set as math).

The convention notes are generated from the problem (stride, padding, dilation, bias
mode, loss, what differs from PyTorch's defaults); the remarks about the exercise's own
wording are made only for the exercise (:func:`is_exercise`).

Example:
    >>> from symconv.problem import load_problem
    >>> notes = conventions(load_problem("conv2d_small"))
    >>> any("exercise" in note.unicode for note in notes)
    False
    >>> [note.title for note in conventions(load_problem("exercise2"))][:2]
    ['Cross-correlation, not convolution.', 'Output positions are not strides.']
"""

from __future__ import annotations

import math as _math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sympy import Expr, Symbol

from symconv.mathtext import fmt, sub
from symconv.notation import QUANTITIES, Quantity, bias_notation
from symconv.problem import Problem, load_problem

__all__ = [
    "CLOSED_FIELDS",
    "GROUP_OF_C",
    "GROUP_OF_GAMMA",
    "AxisSize",
    "Block",
    "ClosedRow",
    "Note",
    "Shown",
    "Span",
    "Tensor",
    "bias_words",
    "blocks",
    "closed_legend",
    "closed_rows",
    "conventions",
    "is_exercise",
    "output_sizes",
    "pytorch_differences",
    "read_at",
    "shown",
    "tensors",
]

EXERCISE = "exercise2"  # the built-in problem whose wording the exercise remarks are about


@dataclass(frozen=True)
class Span:
    """A piece of a note: words (``latex`` None: the printer escapes ``unicode``) or math
    (``latex`` set: the printer sets it as inline math)."""

    unicode: str
    latex: str | None = None

    @property
    def is_math(self) -> bool:
        return self.latex is not None


@dataclass(frozen=True)
class Note:
    """One convention note: a bold title and its sentence(s) as spans."""

    title: str
    spans: tuple[Span, ...]

    @property
    def unicode(self) -> str:
        """The note as one line of unicode text (title first)."""
        return (self.title + " " if self.title else "") + self.text

    @property
    def text(self) -> str:
        """The note's spans as unicode text, without its title."""
        return "".join(span.unicode for span in self.spans)


def _m(unicode: str, latex: str) -> Span:
    return Span(unicode, latex)


def _note(title: str, *parts: str | Span) -> Note:
    return Note(title, tuple(Span(p) if isinstance(p, str) else p for p in parts))


@lru_cache(maxsize=1)
def _exercise() -> Problem:
    return load_problem(EXERCISE)


def is_exercise(problem: Problem) -> bool:
    """Is ``problem`` the exercise itself (its layer, loss, SGD settings and numbers)?

    A title may differ; any other change (``--bias shared``, other values) makes it
    another problem, on which remarks about the exercise's wording would be untrue.
    """
    other = _exercise()
    return (
        problem.layer == other.layer
        and problem.loss == other.loss
        and problem.lr == other.lr
        and problem.steps == other.steps
        and problem.x == other.x
        and problem.w == other.w
        and problem.b == other.b
        and problem.y == other.y
    )


def _axes(values: Sequence[int]) -> str:
    return "×".join(map(str, values))


def _torch_class(problem: Problem) -> str:
    return f"torch.nn.Conv{problem.layer.ndim}d"


def pytorch_differences(problem: Problem) -> list[str]:
    """The layer's settings that differ from ``torch.nn.ConvNd``'s defaults, in words
    (empty: every setting is PyTorch's default).  PyTorch's defaults: stride 1, padding
    0, dilation 1, groups 1, a shared bias, zero padding."""
    layer = problem.layer
    out = []
    if any(s != 1 for s in layer.stride):
        out.append(f"stride {_axes(layer.stride)} (default 1)")
    if any(before or after for before, after in layer.padding):
        sym = layer.symmetric_padding
        if sym is None:
            out.append(
                "padding "
                + "×".join(f"{a}+{b}" for a, b in layer.padding)
                + " (PyTorch pads both sides alike; default 0)"
            )
        else:
            out.append(f"padding {_axes(sym)} (default 0)")
    if layer.padding_mode != "zeros":
        out.append(f"{layer.padding_mode} padding (default zeros)")
    if any(d != 1 for d in layer.dilation):
        out.append(f"dilation {_axes(layer.dilation)} (default 1)")
    if layer.groups != 1:
        out.append(f"{layer.groups} groups (default 1)")
    bias = bias_notation(layer.bias)
    if bias.per_output:
        out.append("an untied bias, one per output entry (PyTorch's bias is shared)")
    elif not bias.present:
        out.append("no bias (bias=False)")
    return out


def read_at(problem: Problem) -> Expr:
    """Which input position (1-based, x̃ indexed like x) output ``i`` reads under tap
    ``j`` of a 1-D layer, in the symbols i and j: ``s(i − 1) + d(j − 1) − p + 1``, where p
    is the padding before the input."""
    layer = problem.layer
    i, j = Symbol("i"), Symbol("j")
    s, d, p = layer.stride[0], layer.dilation[0], layer.padding[0][0]
    return s * (i - 1) + d * (j - 1) - p + 1


def _index_formula(problem: Problem) -> tuple[str, str]:
    """The input position output i reads at tap j, 1-based, with x̃ indexed like x
    (x̃[t] = xₜ for 1 ≤ t ≤ n, the padding outside; the closed form's convention): unicode
    and LaTeX (``x̃[i + j − 1]`` for stride and dilation 1 without padding, ``x̃[2i + j − 2]``
    for stride 2, ``x̃[i + j − 2]`` with padding 1)."""
    from sympy import latex

    from symconv.mathtext import math

    layer = problem.layer
    if layer.ndim == 1:
        at = read_at(problem)
        text = math(at)
        return f"x̃[{text}]", f"\\tilde{{x}}_{{{latex(at, order='lex')}}}"
    return "x̃[s(i − 1) + d(j − 1) − p + 1]", "\\tilde{x}_{s(i-1)+d(j-1)-p+1}"


def _correlation(problem: Problem) -> Note:
    unicode, latex = _index_formula(problem)
    if problem.layer.is_single:
        formula = _m(f"ŷᵢ = Σⱼ wⱼ·{unicode}", f"\\hat{{y}}_i = \\sum_j w_j {latex}")
    else:  # per axis; channels summed over the input channels of the group
        formula = _m(
            "ŷ[c, i] = Σ_κ Σⱼ w[c, κ, j]·x̃[γ(c, κ), s(i − 1) + d(j − 1) − p + 1]",
            "\\hat{y}_{c,\\mathbf{i}} = \\sum_{\\kappa}\\sum_{\\mathbf{j}} "
            "w_{c,\\kappa,\\mathbf{j}}"
            "\\,\\tilde{x}_{\\gamma(c,\\kappa),\\,s(\\mathbf{i}-1)+d(\\mathbf{j}-1)-p+1}",
        )
    return _note(
        "Cross-correlation, not convolution.",
        'A deep-learning "convolution" slides the kernel without flipping it, ',
        formula,
        (" (plus the bias); a" if bias_notation(problem.bias).present else "; a")
        + " convolution in the signal-processing sense flips it. The "
        "flipped kernel appears in the input gradient.",
    )


def _stride(problem: Problem, exercise: bool) -> Note | None:
    layer = problem.layer
    stride = _axes(layer.stride)
    if exercise:
        return _note(
            "Output positions are not strides.",
            'The exercise\'s "stride 0" and "stride 1" are the outputs ',
            _m("ŷ₁", "\\hat{y}_1"),
            " and ",
            _m("ŷ₂", "\\hat{y}_2"),
            f" of one layer with stride {stride}; the stride is how far the window moves "
            "between neighbouring outputs.",
        )
    if all(s == 1 for s in layer.stride):
        return None
    return _note(
        "Stride.",
        f"The window moves {stride} positions between neighbouring outputs, so there are ",
        _m(_axes(layer.output_shape), " \\times ".join(map(str, layer.output_shape))),
        " output positions: ",
        _m(
            "⌊(n + p_before + p_after − d(k − 1) − 1)/s⌋ + 1",
            "\\lfloor (n + p_{\\mathrm{before}} + p_{\\mathrm{after}} - d(k-1) - 1)/s \\rfloor + 1",
        ),
        " per axis. The stride spreads the gradient out in the backward pass.",
    )


def _padding(problem: Problem) -> Note:
    layer = problem.layer
    if not any(before or after for before, after in layer.padding):
        return _note(
            "No padding.",
            "The window stays inside the input: ",
            _m("x̃ = x", "\\tilde{\\mathbf{x}} = \\mathbf{x}"),
            ", and the outputs are fewer than the inputs.",
        )
    sym = layer.symmetric_padding
    amount = (
        f"{_axes(sym)} on each side"
        if sym is not None
        else "×".join(f"{a} before, {b} after" for a, b in layer.padding)
    )
    if layer.padding_mode == "circular":
        rule = "outside it the input wraps around (circular padding)"
    else:
        rule = "and 0 outside it (zero padding)"
    return _note(
        "Padding.",
        f"The input is padded by {amount}: ",
        _m("x̃[t] = xₜ", "\\tilde{x}_t = x_t"),
        f" inside the input {rule}. "
        + (
            "The gradient at a padding position is added onto the input position it wraps to."
            if layer.padding_mode == "circular"
            else "The gradient at a padding position is dropped: ∂L/∂x is ∂L/∂x̃ inside."
        ),
    )


def _dilation(problem: Problem) -> Note | None:
    layer = problem.layer
    if all(d == 1 for d in layer.dilation):
        return None
    return _note(
        "Dilation.",
        f"The kernel's taps are {_axes(layer.dilation)} input positions apart, so one "
        "window spans ",
        _m("d(k − 1) + 1", "d(k-1)+1"),
        " inputs.",
    )


def _bias(problem: Problem) -> Note:
    mode = problem.bias
    if mode == "untied":
        return _note(
            "Untied bias.",
            "One bias per output entry, so ",
            _m(
                "∂L/∂bᵢ = ∂L/∂ŷᵢ",
                "\\partial \\mathcal{L}/\\partial b_i = "
                "\\partial \\mathcal{L}/\\partial \\hat{y}_i",
            ),
            ". A convolution layer usually shares one b per output channel (--bias shared); "
            "its gradient is then the sum over positions.",
        )
    if mode == "shared":
        per = "" if problem.layer.out_channels == 1 else " per output channel"
        return _note(
            "Shared bias.",
            f"One b{per} for every output position, as in PyTorch, so its gradient is the sum ",
            _m(
                "∂L/∂b = Σᵢ ∂L/∂ŷᵢ",
                "\\partial \\mathcal{L}/\\partial b = \\sum_i "
                "\\partial \\mathcal{L}/\\partial \\hat{y}_i",
            ),
            ". An untied bias (--bias untied) has one bᵢ per output entry.",
        )
    return _note("No bias.", "The layer has no bias term (--bias shared or untied adds one).")


def bias_words(problem: Problem) -> Note:
    """The bias mode of a 1-D one-channel layer in a few words (no title), for the problem
    section of both printers: ``untied: one bias per output (b₁, …, b₂)``."""
    bias = bias_notation(problem.bias)
    if bias.per_output:
        m = problem.m
        return _note(
            "",
            f"{bias.mode}: one bias per output (",
            _m(f"b₁, …, b{sub(m)}", rf"b_1, \dots, b_{{{m}}}"),
            ")",
        )
    if bias.present:
        return _note("", f"{bias.mode}: one bias ", _m("b", "b"), " added to every output")
    return _note("", "none")


def _loss(problem: Problem) -> Note:
    spec = problem.loss_spec
    count = _math.prod(problem.layer.y_shape)
    if not spec.has_target:
        return _note(
            "Upstream gradient.",
            "There is no loss formula: ",
            _m("∂L/∂ŷ", "\\partial \\mathcal{L}/\\partial \\hat{\\mathbf{y}}"),
            " is given, as when the layer sits inside a network.",
        )
    factor = spec.grad_factor(count)
    if spec.averaged:
        words = f"the mean over all {count} output entries"
        unicode = f"∂L/∂ŷ = (2/{count})·(ŷ − y)"
        latex = f"\\tfrac{{2}}{{{count}}}\\,(\\hat{{\\mathbf{{y}}}} - \\mathbf{{y}})"
        torch = "PyTorch's MSELoss() is this mean."
    else:
        words = "the ½ cancels the 2 of the square's derivative"
        unicode = "∂L/∂ŷ = ŷ − y" if factor == 1 else f"∂L/∂ŷ = {fmt(factor)}·(ŷ − y)"
        latex = (
            "\\hat{\\mathbf{y}} - \\mathbf{y}"
            if factor == 1
            else f"{_tex_number(factor)}\\,(\\hat{{\\mathbf{{y}}}} - \\mathbf{{y}})"
        )
        torch = "PyTorch's MSELoss() is the mean; with reduction='sum', halved, it is this loss."
    return _note(
        "Loss.",
        f"{spec.unicode} ({spec.words}): {words}, ",
        _m(unicode, "\\partial \\mathcal{L}/\\partial \\hat{\\mathbf{y}} = " + latex),
        ". " + torch,
    )


def _tex_number(value: Any) -> str:
    from sympy import Rational, latex

    return str(latex(Rational(value)))


def _shapes(problem: Problem) -> Note:
    layer = problem.layer
    if layer.is_single:
        return _note(
            "Shapes.",
            "Vectors are columns: ∂L/∂ŷ is m×1 and ∂ŷ/∂w is m×k, so ",
            _m(
                "∂L/∂w = (∂ŷ/∂w)ᵀ·∂L/∂ŷ",
                "\\partial \\mathcal{L}/\\partial \\mathbf{w} = (\\partial \\hat{\\mathbf{y}}/"
                "\\partial \\mathbf{w})^{\\top}\\,\\partial \\mathcal{L}/\\partial "
                "\\hat{\\mathbf{y}}",
            ),
            " is k×1. A column times a row is an outer product (a matrix), not a dot product.",
        )
    batch = "" if layer.batch == 1 else f"; the {layer.batch} examples of the batch add up in ∂L/∂w"
    return _note(
        "Shapes.",
        f"Tensors are laid out as PyTorch's: x is (batch, channels, positions…) = "
        f"{_axes(layer.x_shape)}, w is (out channels, in channels per group, taps…) = "
        f"{_axes(layer.w_shape)}, ŷ is {_axes(layer.y_shape)}{batch}.",
    )


def _indices(problem: Problem, exercise: bool) -> Note:
    where = ", as in the exercise" if exercise else ""
    return _note(
        "Indices",
        f"are 1-based{where} (PyTorch counts from 0); x̃ is the padded input.",
    )


def _torch(problem: Problem) -> Note:
    differences = pytorch_differences(problem)
    name = _torch_class(problem)
    if not differences:
        return _note(
            "PyTorch.",
            f"Every layer setting is {name}'s default, so its autograd gives "
            "these gradients as they are.",
        )
    return _note(
        "PyTorch.",
        f"Where this layer differs from {name}'s defaults: " + "; ".join(differences) + ".",
    )


def conventions(problem: Problem) -> tuple[Note, ...]:
    """The convention notes of ``problem``, in the order both printers show them.

    Each is true for the problem shown: stride, padding and dilation notes only when
    the layer has them (the exercise's stride remark only on the exercise), the bias
    mode, the loss with its factor, the shapes, indices, and what differs from PyTorch.
    """
    exercise = is_exercise(problem)
    notes = [
        _correlation(problem),
        _stride(problem, exercise),
        _padding(problem),
        _dilation(problem),
        _bias(problem),
        _loss(problem),
        _shapes(problem),
        _indices(problem, exercise),
        _torch(problem),
    ]
    return tuple(note for note in notes if note is not None)


# ---------------------------------------------------------------------------------------
# feature maps


@dataclass(frozen=True)
class Block:
    """One matrix of a tensor: ``index`` its 1-based leading indices (batch, channel),
    ``rows`` its last two axes (raw values; printers format them)."""

    index: tuple[int, ...]
    rows: tuple[tuple[Any, ...], ...]

    @property
    def label(self) -> str:
        return ",".join(map(str, self.index))


def blocks(
    values: Sequence[Any], shape: Sequence[int], *, side: int = 8, count: int = 8
) -> list[Block] | None:
    """A row-major tensor of ``shape`` (2 axes or more) as matrices of its last two axes,
    one per leading index; None when it is not 2-D or too large to show (a side over
    ``side`` or more than ``count`` matrices): show its shape and a summary instead.

    Example:
        >>> [b.rows for b in blocks(range(8), (2, 2, 2))]
        [((0, 1), (2, 3)), ((4, 5), (6, 7))]
    """
    if len(shape) < 2:
        return None
    rows, cols = shape[-2], shape[-1]
    lead = list(shape[:-2])
    total = _math.prod(lead) if lead else 1
    if rows > side or cols > side or total > count:
        return None
    flat = list(values)
    out = []
    size = rows * cols
    for number in range(total):
        index, rest = [], number
        for extent in reversed(lead):
            rest, here = divmod(rest, extent)
            index.append(here + 1)
        entries = flat[number * size : (number + 1) * size]
        out.append(
            Block(
                tuple(reversed(index)),
                tuple(tuple(entries[r * cols : (r + 1) * cols]) for r in range(rows)),
            )
        )
    return out


# ---------------------------------------------------------------------------------------
# the layer and its tensors (both printers' problem section)


@dataclass(frozen=True)
class Tensor:
    """A tensor of the layer: its quantity (:data:`symconv.notation.QUANTITIES`), its
    full shape and what each axis counts, in words."""

    key: str
    shape: tuple[int, ...]
    axes: str

    @property
    def quantity(self) -> Quantity:
        return QUANTITIES[self.key]


def tensors(problem: Problem) -> list[Tensor]:
    """The given tensors of the layer with their shapes (PyTorch's layout), in order."""
    layer = problem.layer
    out = [
        Tensor("x", layer.x_shape, "example, input channel, positions"),
        Tensor("w", layer.w_shape, "output channel, input channel of its group, taps"),
    ]
    if layer.b_shape is not None:
        per_output = bias_notation(layer.bias).per_output
        axes = "output channel, positions" if per_output else "one per output channel"
        out.append(Tensor("b", layer.b_shape, axes))
    if problem.loss_spec.has_target:
        out.append(Tensor("y", layer.y_shape, "example, output channel, positions"))
    out.append(Tensor("yhat", layer.y_shape, "example, output channel, positions"))
    return out


@dataclass(frozen=True)
class AxisSize:
    """One spatial axis's output size, ``⌊(n + p_before + p_after − d(k − 1) − 1)/s⌋ + 1``
    with this axis's numbers."""

    n: int
    k: int
    stride: int
    before: int
    after: int
    dilation: int
    m: int


def output_sizes(problem: Problem) -> list[AxisSize]:
    """Each spatial axis's numbers in the output-size formula, and its output size."""
    layer = problem.layer
    return [
        AxisSize(n, k, s, before, after, d, m)
        for n, k, s, (before, after), d, m in zip(
            layer.input_shape,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.dilation,
            layer.output_shape,
        )
    ]


# ---------------------------------------------------------------------------------------
# the numbers of a layer beyond the exercise's kind: shown whole when they fit


@dataclass(frozen=True)
class Shown:
    """One quantity's numbers for the printers: ``values`` row-major in ``shape``; and how
    to show them — ``"number"`` (a scalar), ``"list"`` (a short vector), ``"blocks"``
    (matrices, in ``maps``), or ``"summary"`` (too large: shape, ``first`` entries, range).
    """

    key: str
    shape: tuple[int, ...]
    values: tuple[Any, ...]
    how: str
    maps: tuple[Block, ...] = ()

    @property
    def quantity(self) -> Quantity:
        return QUANTITIES[self.key]

    def first(self, count: int) -> tuple[Any, ...]:
        return self.values[:count]

    @property
    def low(self) -> Any:
        return min(self.values)

    @property
    def high(self) -> Any:
        return max(self.values)


MAX_LIST = 16  # a vector of at most this many entries is written out on one line
MAP_SIDE = 8  # a feature map is shown as a matrix up to this many rows and columns,
MAP_BLOCKS = 8  # for at most this many (example, channel) blocks


def shown(
    problem: Problem,
    step: Any,
    *,
    side: int = MAP_SIDE,
    count: int = MAP_BLOCKS,
    max_list: int = MAX_LIST,
) -> list[Shown]:
    """The given and computed quantities of one step (``StepValues``), each with how
    to show it; a printer with less room (a terminal) passes smaller limits."""
    from symconv.symbolic.explicit import QUANTITIES as COMPUTED
    from symconv.symbolic.explicit import quantity_shape

    layer = problem.layer
    given: list[tuple[str, Any, tuple[int, ...] | None]] = [
        ("x", problem.x, layer.x_shape),
        ("w", problem.w, layer.w_shape),
        ("b", problem.b_values, layer.b_shape),
        ("y", problem.y, layer.y_shape),
    ]
    computed = [(key, getattr(step, key), quantity_shape(layer, key)) for key in COMPUTED]
    out: list[Shown] = []
    for key, value, shape in given + computed:
        if value is None or shape is None:
            continue
        values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        shape = tuple(shape)
        if not shape:
            out.append(Shown(key, shape, values, "number"))
            continue
        flat_vector = _math.prod(shape) == max(shape)  # one axis longer than 1
        if (len(shape) == 1 or flat_vector) and len(values) <= max_list:
            out.append(Shown(key, shape, values, "list"))
            continue
        maps = blocks(values, shape, side=side, count=count)
        if maps is None:
            out.append(Shown(key, shape, values, "summary"))
        else:
            out.append(Shown(key, shape, values, "blocks", tuple(maps)))
    return out


# ---------------------------------------------------------------------------------------
# the closed form of a general layer: in symbolic sizes, then with this layer's sizes

# the fields of the closed form, in the order of the derivation
CLOSED_FIELDS = (
    "yhat",
    "loss",
    "grad_yhat",
    "grad_w",
    "grad_b",
    "grad_xpad",
    "grad_x",
    "w_next",
    "b_next",
)
# the 0-based group of output channel c, ⌊G(c − 1)/C_out⌋, and of input channel γ
GROUP_OF_C = Symbol("Γ_c")
GROUP_OF_GAMMA = Symbol("Γ_γ")
_MAX_CASES = 4096  # a floor is settled by trying every value of its indices, up to this many


@dataclass(frozen=True)
class ClosedRow:
    """One quantity of the closed form: ``general`` in symbolic sizes (the channel groups
    named :data:`GROUP_OF_C`, :data:`GROUP_OF_GAMMA`), ``here`` with this layer's sizes
    put in and simplified — one-valued floors and indices put in, sums over one value
    replaced by their term (None when it is the same expression)."""

    key: str
    general: Expr
    here: Expr | None


def closed_legend(problem: Problem) -> Note:
    """What the closed form's indices and helper names mean (both printers show it)."""
    layer = problem.layer
    groups = layer.in_channels > 1 or layer.out_channels > 1
    parts: list[str | Span] = [
        "are 1-based: ",
        _m("β", "\\beta"),
        " the example, ",
        _m("c", "c"),
        " the output channel, ",
        _m("κ", "\\kappa"),
        " the input channel within its group, ",
        _m("γ", "\\gamma"),
        " an input channel, and per axis ",
        _m("a", "a"),
        ": ",
        _m("iₐ", "i_a"),
        " the output, ",
        _m("jₐ", "j_a"),
        " the tap, ",
        _m("tₐ", "t_a"),
        " the input and ",
        _m("qₐ", "q_a"),
        " the padded position; ",
        _m("x̃", "\\tilde{x}"),
        " is the padded input, ",
        _m("g = ∂L/∂ŷ", "g = \\partial \\mathcal{L}/\\partial \\hat{y}"),
        ", and ",
        _m("ğ", "\\breve{g}"),
        " is g spread out by the stride (at ",
        _m("uₐ", "u_a"),
        " it is g at ",
        _m("uₐ/sₐ + 1", "u_a/s_a + 1"),
        " where every ",
        _m("sₐ", "s_a"),
        " divides ",
        _m("uₐ", "u_a"),
        ", else 0)",
    ]
    if groups:
        parts += [
            "; ",
            _m("Γ_c = ⌊G(c − 1)/C_out⌋", "\\Gamma_{c} = \\lfloor G(c-1)/C_{\\text{out}} \\rfloor"),
            " is the group of output channel ",
            _m("c", "c"),
            " and ",
            _m(
                "Γ_γ = ⌊G(γ − 1)/C_in⌋",
                "\\Gamma_{\\gamma} = \\lfloor G(\\gamma-1)/C_{\\text{in}} \\rfloor",
            ),
            " that of input channel ",
            _m("γ", "\\gamma"),
            ", counted from 0",
        ]
    parts.append(
        ". Only the forward pass and the loss are written down; SymPy differentiates the "
        "index sums and solves each index equation for the Kronecker deltas, which gives "
        "the backward pass. The second line of each puts in this layer's sizes."
    )
    return _note("Indices", *parts)


def _settle_floors(expr: Expr, ranges: dict[Symbol, tuple[int, int]]) -> Expr:
    """``expr`` with each free channel index that has one value replaced by it, and each
    ``⌊…⌋`` of channel indices that takes one value over all of their range replaced by
    that value (with one group, the group of channel γ, ``⌊(γ − 1)/C_in⌋``, is 0 for
    every γ): checked on every index value, not assumed."""
    from itertools import product

    from sympy import Integer, floor

    # a channel index with one value (one input channel: γ = 1) is that value
    expr = expr.xreplace(
        {
            index: Integer(lo)
            for index, (lo, hi) in ranges.items()
            if lo == hi and index in expr.free_symbols
        }
    )
    changed = True
    while changed:
        changed = False
        for term in sorted(expr.atoms(floor), key=lambda f: len(str(f))):
            free = sorted(term.free_symbols, key=str)
            if not free or any(symbol not in ranges for symbol in free):
                continue
            spans = [range(ranges[s][0], ranges[s][1] + 1) for s in free]
            if _math.prod(len(span) for span in spans) > _MAX_CASES:
                continue
            values = {term.xreplace(dict(zip(free, case))) for case in product(*spans)}
            if len(values) == 1:
                expr = expr.xreplace({term: Integer(values.pop())})
                changed = True
                break
    return expr


def _one_term_sums(expr: Expr) -> Expr:
    """``expr`` with every sum over a range of one value replaced by its one term
    (``Σ[β=1..1] f(β)`` → ``f(1)``, as a layer of batch 1 or one channel has)."""
    from sympy import Integer, Sum

    def collapse(total: Any) -> Any:
        fixed: dict[Any, Any] = {}
        kept = []
        for variable, low, high in total.limits:
            low, high = low.xreplace(fixed), high.xreplace(fixed)
            if low.is_Integer and high.is_Integer and low == high:
                fixed[variable] = Integer(low)
            else:
                kept.append((variable, low, high))
        if not fixed:
            return total
        body = total.function.xreplace(fixed)
        # an inner range may name an outer variable that now has its value
        kept = [(v, lo.xreplace(fixed), hi.xreplace(fixed)) for v, lo, hi in kept]
        return Sum(body, *kept) if kept else body

    changed = True
    while changed:  # nested sums: an inner one may collapse once the outer one has
        new = expr.replace(lambda e: isinstance(e, Sum), collapse)
        changed = new != expr
        expr = new
    return expr


def _name_groups(expr: Expr, symbols: Any) -> Expr:
    """``expr`` with the group floors of output channel c and input channel γ named."""
    from sympy import floor

    names = {symbols.c: GROUP_OF_C, symbols.gamma: GROUP_OF_GAMMA}
    found = {}
    for term in expr.atoms(floor):
        channels = [index for index in names if index in term.free_symbols]
        if len(channels) == 1:
            found[term] = names[channels[0]]
    return expr.xreplace(found)


def closed_rows(d: Any) -> list[ClosedRow]:
    """The closed form of ``d`` (a :class:`~symconv.derivation.Derivation` with a general
    closed form), one row per field of :data:`CLOSED_FIELDS` that the layer has."""
    from symconv.symbolic.closed import alpha, layer_sizes

    general = d.general
    if general is None:
        return []
    sizes: dict[Any, Any] = {**layer_sizes(general, d.problem.layer), alpha: d.problem.lr}
    S = general.symbols
    channels = (S.beta, S.c, S.kappa, S.gamma)
    ranges = {
        index: (int(lo.xreplace(sizes)), int(hi.xreplace(sizes)))
        for index, (lo, hi) in S.ranges(d.problem.layer.padding_mode == "circular").items()
        if index in channels
    }
    rows = []
    for key in CLOSED_FIELDS:
        expr = getattr(general, key, None)
        if expr is None:
            continue
        here = _one_term_sums(_settle_floors(expr.xreplace(sizes), ranges))
        named = _name_groups(expr, S)
        rows.append(ClosedRow(key, named, None if here == expr else here))
    return rows
