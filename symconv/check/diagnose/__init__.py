"""Why a side is wrong: a catalogue of the common mistakes, each tried in turn.

Each diagnoser (:mod:`.catalogue`, in order) says when it can be relevant and what it
tries: the side rewritten (or read in a changed problem), or the value the mistake would
give; the first candidate that makes the side right names the mistake.  The families:

- :mod:`.written` — an arithmetic slip (the last side is a number, the side before is
  right), missing parentheses (a factor meant for a whole sum multiplies one term, a
  power meant for a sum), a sign flipped or the whole side negated, a transpose missing;
- :mod:`.label` — a wrong label: the value of another named quantity (ŷ₂ for ŷ₁, the
  next step's);
- :mod:`.factor` — a missing factor: the truth times 2, ½, m or 1/m;
- :mod:`.changed` — another problem's truth: shared vs untied bias confused, stride,
  padding or dilation ignored, circular padding read as zeros, the learning rate missing
  or with the wrong sign;
- :mod:`.index` — wrong or shifted indices, a moved window, a symbol that does not
  exist, the kernel flipped (a true convolution where the layer is a cross-correlation).

:mod:`.readings` builds the truths of the layer read the mistaken way (its own outputs
with stride-1 or dilation-1 windows; every window backwards), so a mistake is found in
∂L/∂w as a sum, as an expanded sum of products or as a vector of numbers alike; :mod:`.base`
holds the case, the candidates and the diagnoser record; :mod:`.trees` the tree
rewritings.

This package imports nothing of the judge or the report: the document's state is typed by
the :class:`~.base.State` protocol.
"""

from __future__ import annotations

from lark import Token, Tree

from symconv.check.diagnose.base import KINDS, Case, Diagnosis, State, text_of
from symconv.check.diagnose.catalogue import CATALOGUE
from symconv.check.diagnose.trees import latex_of
from symconv.check.evaluate import Value

__all__ = ["CATALOGUE", "KINDS", "Diagnosis", "State", "diagnose", "latex_of"]


def diagnose(
    *,
    side: Tree[Token],
    written: Value,
    expected: Value,
    lhs: Tree[Token],
    state: State,
    step: int,
    bound: dict[str, int],
    output: int | None,
    previous_ok: bool,
    previous: object,
    previous_side: Tree[Token] | None = None,
    last: bool,
    numeric: bool,
    only: str | None = None,
) -> Diagnosis | None:
    """The first catalogued mistake that explains ``written`` ≠ ``expected``, or None.

    ``side`` evaluates to ``written``; ``lhs`` (the left side) to ``expected``.  ``bound``:
    the index letters bound by the equation (``i = 1``); ``output``: the 0-based output
    index of a left side ŷ_i; ``previous_ok``/``previous``/``previous_side``: whether the
    side before is right, its value and its tree; ``numeric``: compare numerically.
    """
    case = Case(
        side=side,
        written=written,
        expected=expected,
        lhs=lhs,
        state=state,
        step=step,
        bound=bound,
        output=output,
        previous_ok=previous_ok,
        previous=previous,
        previous_side=previous_side,
        last=last,
        numeric=numeric,
    )
    if numeric and not case.numeric_side:
        # a side with symbols in a chain that ends in numbers is compared at the problem's
        # values, where a wrong reading can agree by chance: a reading that agrees as a
        # formula is tried first
        exact = _first(case.as_formula(), only)
        if exact is not None:
            return exact
    return _first(case, only)


def _first(case: Case, only: str | None = None) -> Diagnosis | None:
    """The first diagnoser of the catalogue (of kind ``only``) with a candidate that holds."""
    for diagnoser in CATALOGUE:
        if only is not None and diagnoser.kind != only:
            continue
        if not diagnoser.applies(case):
            continue
        candidates = diagnoser.tries(case)
        for number, candidate in enumerate(candidates):
            if diagnoser.limit is not None and number >= diagnoser.limit:
                break
            if case.holds(candidate):
                return Diagnosis(diagnoser.kind, text_of(candidate.text))
    return None
