"""The catalogue: every diagnoser, in the order they are tried (the first hit names the
mistake).

The order is part of the behaviour: a value can often be explained two ways, and the
earlier entry is the likelier reading.  Entries with the same kind at two places are the
same mistake tried in two situations (on a number, early; on symbols, later).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sympy import Expr

from symconv.check.diagnose.base import Case, Diagnoser
from symconv.check.diagnose.changed import BIAS_KEPT, CHANGES, LEARNING_RATE, NO_BIAS
from symconv.check.diagnose.factor import FACTOR
from symconv.check.diagnose.index import CONVOLUTION, FLIPPED, NONEXISTENT, SHIFTED, SWAPPED, WINDOW
from symconv.check.diagnose.label import RELABELLED_OUTPUT, WRONG_LABEL
from symconv.check.diagnose.shape import SHAPES
from symconv.check.diagnose.written import (
    NEGATED,
    PARENTHESES,
    PARENTHESES_SUBSTITUTED,
    SIGN_FLIP,
    SIGN_SUBSTITUTED,
    SLIP,
    SLIP_AFTER_NUMBERS,
    TRANSPOSE,
)
from symconv.check.evaluate import Mat

__all__ = ["CATALOGUE"]


def _when(diagnoser: Diagnoser, suffix: str, also: Callable[[Case], bool]) -> Diagnoser:
    """The diagnoser tried only where ``also`` holds too."""
    applies = diagnoser.applies
    return replace(
        diagnoser,
        name=f"{diagnoser.name} ({suffix})",
        applies=lambda case: also(case) and applies(case),
    )


def _on_numbers(case: Case) -> bool:
    return case.numeric_side


def _on_symbols(case: Case) -> bool:
    return not case.numeric_side


def _substituted(case: Case) -> bool:
    return case.slip


def _kernel_substituted(case: Case) -> bool:
    """Numbers put into a side of a quantity that pairs with the kernel's taps (∂L/∂x,
    ŷ — only there can the taps have been put in reversed; ``∂L/∂w_2 = Σ y'_i x_{i+1}
    = 0 − 1 − 1`` has a sign wrong, not a flip)."""
    if not case.slip:
        return False
    taps = set(case.truth.d.symbols.w)
    for value in (case.previous, case.expected):
        if isinstance(value, (Mat, Expr)):
            entries = value.entries() if isinstance(value, Mat) else [value]
            if any(taps & entry.free_symbols for entry in entries):
                return True
    return False


CATALOGUE: tuple[Diagnoser, ...] = (
    # symbols the problem does not have: x₅ when n = 4, b without a bias
    NO_BIAS,
    NONEXISTENT,
    # the bias kept where it drops out (∂(w·x + b)/∂w read as x + b)
    BIAS_KEPT,
    # a number after a right side: the arithmetic slipped, unless the numbers put into the
    # right side show another mistake (the kernel flipped, parentheses lost, a sign flipped
    # or the learning rate dropped while substituting); the slip is the last word here
    SLIP_AFTER_NUMBERS,
    _when(FLIPPED, "substituted", _kernel_substituted),
    PARENTHESES_SUBSTITUTED,
    SIGN_SUBSTITUTED,
    _when(LEARNING_RATE, "substituted", _substituted),
    # the loss's ½ (or 2/m) dropped while substituting: a number twice (half) the truth
    _when(FACTOR, "substituted", _substituted),
    SLIP,
    # a side of another shape: the layer's matrix or ∂L/∂x without padding, stride, dilation
    *SHAPES,
    # an output the document has already stated rightly, now with another's value
    RELABELLED_OUTPUT,
    # a number: a changed problem, another quantity, a moved window name it more surely
    # than one flipped sign among its many
    *(_when(d, "numbers", _on_numbers) for d in CHANGES),
    # an update going the wrong way or without its rate (numbers or symbols)
    LEARNING_RATE,
    _when(FLIPPED, "numbers", _on_numbers),
    _when(WRONG_LABEL, "numbers", _on_numbers),
    _when(CONVOLUTION, "numbers", _on_numbers),
    _when(WINDOW, "numbers", _on_numbers),
    # how the side is written
    PARENTHESES,
    SIGN_FLIP,
    TRANSPOSE,
    NEGATED,
    FACTOR,
    # symbols: a changed problem, another quantity
    *(_when(d, "symbols", _on_symbols) for d in CHANGES),
    # the kernel reversed: one reading that explains every tap, tried before a value
    # that merely coincides with another quantity's
    _when(FLIPPED, "symbols", _on_symbols),
    _when(WRONG_LABEL, "symbols", _on_symbols),
    # the whole layer read as a true convolution (its gradients too), after a single
    # entry's value that is another entry's (∂L/∂w₂ written with ∂L/∂w₁'s terms)
    _when(CONVOLUTION, "symbols", _on_symbols),
    # indices (only while the side still has symbols)
    _when(SHIFTED, "symbols", _on_symbols),
    _when(SWAPPED, "symbols", _on_symbols),
    _when(WINDOW, "symbols", _on_symbols),
)
