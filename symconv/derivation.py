"""One derivation of a problem, in the forms asked for: the unit the CLI shows or prints."""

from __future__ import annotations

from dataclasses import dataclass

from symconv.errors import UsageError
from symconv.problem import Problem
from symconv.symbolic.closed import ClosedForm, ClosedFormND, derive_closed, derive_closed_layer
from symconv.symbolic.explicit import (
    EVALUATION_LIMIT,
    EXPLICIT_LIMIT,
    ExplicitDerivation,
    StepValues,
    check_explicit_size,
    derive_explicit,
    evaluate_steps,
    evaluation_size,
    explicit_size,
)

__all__ = ["FORMS", "Derivation", "build", "worked_in_1d"]

FORMS = ("explicit", "closed", "both")


@dataclass(frozen=True)
class Derivation:
    """A problem with its closed form, explicit form and step values (each when asked for).

    ``steps`` holds one :class:`StepValues` per SGD step when the problem has values and
    the explicit form was built.  ``closed`` is the 1-D closed form of the exercise's kind
    of layer (:func:`worked_in_1d`), ``general`` the closed form of any other layer.
    """

    problem: Problem
    form: str
    closed: ClosedForm | None
    explicit: ExplicitDerivation | None
    steps: list[StepValues] | None
    general: ClosedFormND | None = None


def worked_in_1d(problem: Problem) -> bool:
    """Whether the problem gets the exercise's worked derivation (1-D, one channel,
    batch 1, even padding, a loss); any other gets the general form and a summary."""
    layer = problem.layer
    return layer.is_single and layer.symmetric_padding is not None and problem.loss_spec.has_target


def build(problem: Problem, *, form: str = "both", force: bool = False) -> Derivation:
    """Derive ``problem`` in ``form`` ("explicit", "closed" or "both").

    The explicit form refuses a cost beyond its limits (what is built: products with the
    padding, output entries, symbols; and products × steps evaluated) unless ``force``
    (see :func:`symconv.symbolic.explicit.check_explicit_size`), before any work is done.

    Example:
        >>> from symconv.problem import load_problem
        >>> build(load_problem("exercise2")).steps[0].loss
        200
    """
    if form not in FORMS:
        raise UsageError(f"`--form` (={form!r}) must be one of {', '.join(FORMS)}")
    explicit = steps = closed = None
    if form in ("explicit", "both"):
        check_explicit_size(problem, force=force)
    small = (
        explicit_size(problem.layer) <= EXPLICIT_LIMIT
        and evaluation_size(problem) <= EVALUATION_LIMIT
    )
    if form != "closed" or (problem.has_values and small):
        # the numbers come from the explicit expressions; with --form closed they are
        # still given when the expansion (and the evaluation of every step) is small
        explicit = derive_explicit(problem, force=force)
        if problem.has_values:
            steps = evaluate_steps(explicit)
    general = None
    if form in ("closed", "both"):
        if worked_in_1d(problem):
            closed = derive_closed(problem.bias, problem.loss, problem.padding_mode)
        else:
            general = derive_closed_layer(problem.layer, problem.loss)
    return Derivation(
        problem=problem, form=form, closed=closed, explicit=explicit, steps=steps, general=general
    )
