"""Error carried forward: every quantity recomputed exactly from the student's own values.

A grader gives an equation its points when it is wrong only because it correctly uses an
earlier wrong value.  To decide that, each quantity is recomputed from the values the
student wrote for the quantities it depends on (their *claims*, read by
:func:`symconv.course.rubric.read_claims`; the last claim of an entry is the student's
value of it)::

    L, ∂L/∂ŷ        from the student's ŷ          (the loss registry, the true target y)
    ∂L/∂w, ∂L/∂b, ∂L/∂x  from the student's ∂L/∂ŷ (the true x and w)
    w′, b′          from the student's ∂L/∂w, ∂L/∂b  (w′ = w − η·∂L/∂w)
    ŷ′              from the student's w′ and b′  (the true x)
    L′              from the student's ŷ′

An entry the student did not write is taken as recomputed from *their* values in turn
(ŷ and an upstream ∂L/∂ŷ, which depend on nothing the student computes, as the truth):
a student who skips ∂L/∂ŷ and writes ∂L/∂w from a wrong ŷ still carries the error.

The arithmetic is exact (:class:`fractions.Fraction`) and reuses the project's math: the
products of each output entry come from the layer's connectivity
(:meth:`symconv.layer.Layer.connectivity`, which the derivation is built from) and the
loss's constants from the loss registry (:mod:`symconv.loss`); nothing here branches on a
loss name or writes a convolution of its own.  Any layer of the TOML contract works
(entries are flat, row-major in the full shapes).

Example:
    >>> from symconv.problem import load_problem
    >>> exact = truth(load_problem("exercise2"))
    >>> [str(v) for v in exact["yhat"]], [str(v) for v in exact["w_next"]]
    (['14', '20'], ['39/25', '7/25', '2'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from symconv.course.rubric import ITEMS, Claim

if TYPE_CHECKING:
    from symconv.problem import Problem

__all__ = [
    "PARENTS",
    "Numbers",
    "Values",
    "backward",
    "forward",
    "gradient_of_loss",
    "loss_of",
    "numbers",
    "own_values",
    "student_values",
    "truth",
]

Values = tuple[Fraction, ...]
"""A quantity's entries, flat and row-major in the layer's full shapes (L: one entry)."""

PARENTS: dict[str, tuple[str, ...]] = {
    "loss": ("yhat",),
    "grad_yhat": ("yhat",),
    "grad_w": ("grad_yhat",),
    "grad_b": ("grad_yhat",),
    "grad_x": ("grad_yhat",),
    "w_next": ("grad_w",),
    "b_next": ("grad_b",),
    "yhat_next": ("w_next", "b_next"),
    "loss_next": ("yhat_next",),
}
"""The student's quantities each quantity is recomputed from (ŷ has none)."""


def _fraction(value: object) -> Fraction:
    """A SymPy Rational (or int) as a Fraction."""
    p = getattr(value, "p", None)
    q = getattr(value, "q", None)
    if isinstance(p, int) and isinstance(q, int):
        return Fraction(p, q)
    if isinstance(value, int):
        return Fraction(value)
    raise TypeError(f"not an exact rational: {value!r}")


@dataclass(frozen=True)
class Numbers:
    """A problem's numbers as Fractions, and the products of each output entry.

    ``outputs[o] = (bias entry or None, ((weight entry, input entry), ...))`` for every flat
    output entry ``o`` (the layer's connectivity; products reading the zero padding are
    left out).  ``target`` is y, or the given ∂L/∂ŷ of an upstream gradient
    (``has_loss`` False); ``weight`` and ``factor`` the loss's constants
    (``L = weight·Σ(y − ŷ)²``, ``∂L/∂ŷ = factor·(ŷ − y)``).
    """

    x: Values
    w: Values
    b: Values | None
    target: Values | None
    lr: Fraction
    has_loss: bool
    weight: Fraction
    factor: Fraction
    outputs: tuple[tuple[int | None, tuple[tuple[int, int], ...]], ...]


def numbers(problem: Problem) -> Numbers:
    """The exact numbers of a problem with values (raises ValueError without them).

    Example:
        >>> from symconv.problem import load_problem
        >>> n = numbers(load_problem("exercise2"))
        >>> n.outputs[1]
        (1, ((0, 1), (1, 2), (2, 3)))
    """
    if problem.x is None or problem.w is None:
        raise ValueError(f"the problem {problem.title!r} has no values to grade against")
    spec = problem.loss_spec
    count = problem.output_count
    if spec.has_target:
        target = problem.y
    else:
        target = problem.grad_yhat
    b = problem.b_values
    outputs = tuple(
        (bias, tuple((tap.weight, tap.source) for tap in taps))
        for _, bias, taps in problem.layer.connectivity()
    )
    return Numbers(
        x=tuple(_fraction(v) for v in problem.x),
        w=tuple(_fraction(v) for v in problem.w),
        b=None if b is None else tuple(_fraction(v) for v in b),
        target=None if target is None else tuple(_fraction(v) for v in target),
        lr=_fraction(problem.lr),
        has_loss=spec.has_target,
        weight=_fraction(spec.weight(count)),
        factor=_fraction(spec.grad_factor(count)),
        outputs=outputs,
    )


# ---------------------------------------------------------------------------------------
# the layer's arithmetic, exact


def forward(n: Numbers, w: Sequence[Fraction], b: Sequence[Fraction] | None) -> Values:
    """ŷ: each output entry is the sum of its products ``w·x`` plus its bias entry."""
    out: list[Fraction] = []
    for bias, taps in n.outputs:
        total = sum((w[j] * n.x[t] for j, t in taps), Fraction(0))
        if bias is not None and b is not None:
            total += b[bias]
        out.append(total)
    return tuple(out)


def loss_of(n: Numbers, yhat: Sequence[Fraction]) -> Fraction | None:
    """L = weight·Σ(y − ŷ)² (the loss registry's constant); None for an upstream gradient."""
    if not n.has_loss or n.target is None:
        return None
    return n.weight * sum(((y - v) ** 2 for y, v in zip(n.target, yhat)), Fraction(0))


def gradient_of_loss(n: Numbers, yhat: Sequence[Fraction]) -> Values:
    """∂L/∂ŷ = factor·(ŷ − y); for an upstream gradient the given one."""
    if n.target is None:
        raise ValueError("the problem gives neither a target y nor ∂L/∂ŷ")
    if not n.has_loss:
        return n.target
    return tuple(n.factor * (v - y) for v, y in zip(yhat, n.target))


def backward(n: Numbers, grad_yhat: Sequence[Fraction]) -> tuple[Values, Values | None, Values]:
    """(∂L/∂w, ∂L/∂b, ∂L/∂x) from ∂L/∂ŷ: the chain rule through every product ``w·x`` of
    every output entry, and through its bias entry (∂L/∂b None without a bias)."""
    grad_w = [Fraction(0)] * len(n.w)
    grad_x = [Fraction(0)] * len(n.x)
    grad_b = None if n.b is None else [Fraction(0)] * len(n.b)
    for (bias, taps), g in zip(n.outputs, grad_yhat):
        for j, t in taps:
            # ∂(w_j·x_t)/∂w_j = x_t and ∂(w_j·x_t)/∂x_t = w_j
            grad_w[j] += g * n.x[t]
            grad_x[t] += g * n.w[j]
        if grad_b is not None and bias is not None:
            grad_b[bias] += g
    return tuple(grad_w), None if grad_b is None else tuple(grad_b), tuple(grad_x)


def _sgd(params: Sequence[Fraction], grads: Sequence[Fraction], lr: Fraction) -> Values:
    # one SGD step θ' = θ − η·∂L/∂θ
    return tuple(p - lr * g for p, g in zip(params, grads))


def truth(problem: Problem) -> dict[str, Values]:
    """The exact value of every item that exists for the problem (flat entries; L one).

    Items without a bias (∂L/∂b, b′) or without a loss (L, L′, and ∂L/∂ŷ, which is given)
    are absent.
    """
    n = numbers(problem)
    return _chain(n, {})


def _chain(n: Numbers, written: Mapping[str, Sequence[Fraction | None]]) -> dict[str, Values]:
    """Each item's value when every entry the student wrote (``written[item][e]``, None
    where not written) replaces the one computed from the entries before it.

    With nothing written this is the truth.  Returns the *computed* values (from the
    student's earlier values), not the written ones.
    """
    computed: dict[str, Values] = {}

    def mixed(item: str, own: Values) -> Values:
        given = written.get(item)
        if given is None:
            return own
        return tuple(own[i] if v is None else v for i, v in enumerate(given))

    # the forward pass from the true parameters (ŷ has no earlier values of the student's)
    yhat_own = forward(n, n.w, n.b)
    computed["yhat"] = yhat_own
    yhat = mixed("yhat", yhat_own)
    if n.has_loss:
        loss = loss_of(n, yhat)
        assert loss is not None
        computed["loss"] = (loss,)
        computed["grad_yhat"] = gradient_of_loss(n, yhat)
        grad_yhat = mixed("grad_yhat", computed["grad_yhat"])
    else:
        grad_yhat = gradient_of_loss(n, yhat)  # given, not the student's
    grad_w, grad_b, grad_x = backward(n, grad_yhat)
    computed["grad_w"], computed["grad_x"] = grad_w, grad_x
    computed["w_next"] = _sgd(n.w, mixed("grad_w", grad_w), n.lr)
    b_next = None
    if grad_b is not None and n.b is not None:
        computed["grad_b"] = grad_b
        computed["b_next"] = _sgd(n.b, mixed("grad_b", grad_b), n.lr)
        b_next = mixed("b_next", computed["b_next"])
    # the forward pass again, with the student's updated parameters
    computed["yhat_next"] = forward(n, mixed("w_next", computed["w_next"]), b_next)
    if n.has_loss:
        loss_next = loss_of(n, mixed("yhat_next", computed["yhat_next"]))
        assert loss_next is not None
        computed["loss_next"] = (loss_next,)
    return {item: computed[item] for item in ITEMS if item in computed}


def student_values(
    claims: Sequence[Claim], sizes: Mapping[str, int]
) -> dict[str, tuple[Fraction | None, ...]]:
    """Per item, the student's value of each entry: that of the last claim stating it
    (None where no claim does).

    Example:
        >>> c = Claim(3, "8", "yhat", (0, 1), (Fraction(15), Fraction(20)), "incorrect")
        >>> student_values([c], {"yhat": 2})
        {'yhat': (Fraction(15, 1), Fraction(20, 1))}
    """
    out: dict[str, list[Fraction | None]] = {}
    for claim in claims:  # in document order: a later claim replaces an earlier one
        size = sizes.get(claim.item)
        if size is None:
            continue
        row = out.setdefault(claim.item, [None] * size)
        for entry, value in zip(claim.entries, claim.values):
            row[entry] = value
    return {item: tuple(row) for item, row in out.items()}


def own_values(
    problem: Problem | Numbers, claims: Sequence[Claim], sizes: Mapping[str, int]
) -> dict[str, Values | None]:
    """Per item, its entries recomputed exactly from the student's own earlier values (the
    chain in the module docstring); None for ŷ, which has no earlier values.

    Example:
        >>> from symconv.problem import load_problem
        >>> wrong = Claim(0, "8", "yhat", (0, 1), (Fraction(15), Fraction(20)), "incorrect")
        >>> own = own_values(load_problem("exercise2"), [wrong], {"yhat": 2})
        >>> [str(v) for v in own["grad_w"]], str(own["loss"][0])
        (['45', '74', '103'], '425/2')
    """
    n = problem if isinstance(problem, Numbers) else numbers(problem)
    computed: dict[str, Values | None] = dict(_chain(n, student_values(claims, sizes)))
    computed["yhat"] = None
    return computed
