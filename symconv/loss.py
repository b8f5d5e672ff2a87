"""The loss registry: every loss defined once — its SymPy form, its names, its factors.

A loss is a sum over the entries of the output ``ŷ`` and the target ``y`` (all of them:
batch × channels × positions) of one summand; ``count`` is the number of entries.

- ``sse_half``: ``L = Σ ½ (y − ŷ)²``; ``∂L/∂ŷ = ŷ − y``.
- ``mse``: ``L = (1/count) Σ (y − ŷ)²`` (torch's ``MSELoss``); ``∂L/∂ŷ = (2/count)(ŷ − y)``.
- ``upstream``: no loss.  ``∂L/∂ŷ`` is given (``values.grad_yhat``) or stays a symbol
  ``g``: the layer inside a larger network, where the gradient arrives from above.

Nothing outside this module branches on a loss name; the independent references keep
their own formulas on purpose (they are the oracle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sympy import Expr, Integer, Rational

from symconv.errors import ProblemError

__all__ = ["LOSSES", "Loss", "LossKind", "get_loss"]

LossKind = Literal["sse_half", "mse", "upstream"]
LOSSES: tuple[LossKind, ...] = get_args(LossKind)


@dataclass(frozen=True)
class Loss:
    """One loss of the registry.

    ``weight(count)`` is the constant in front of each squared error and
    ``grad_factor(count)`` the constant ``c`` in ``∂L/∂ŷ = c·(ŷ − y)`` (the checker uses it
    to name a missing or wrong factor).  ``has_target`` is False for ``upstream``.

    Example:
        >>> get_loss("mse").grad_factor(2)
        1
    """

    kind: LossKind
    words: str
    unicode: str
    latex: str
    has_target: bool
    term_factor: str = ""  # written in front of each squared error ("½" for sse_half)
    averaged: bool = False  # L is divided by the number of entries (mse)
    meant: str = ""  # the normalisation in words, for diagnoses ({m}: the entry count)

    def weight(self, count: int | Expr) -> Expr:
        """The constant in front of each ``(y − ŷ)²`` (½ or 1/count); 0 for upstream.

        ``count`` may be a symbol (the closed form's number of output entries).
        """
        if not self.has_target:
            return Integer(0)
        result: Expr = Integer(1) / count if self.averaged else Rational(1, 2)
        return result

    def normalisation(self, count: int) -> str:
        """The loss's normalisation in words, e.g. ``the mean 1/m Σ with m = 4``."""
        return self.meant.format(m=count)

    def grad_factor(self, count: int | Expr) -> Expr:
        """``c`` in ``∂L/∂ŷ = c·(ŷ − y)``: 1 for sse_half, 2/count for mse."""
        result: Expr = 2 * self.weight(count)
        return result

    def summand(self, yhat: Expr, y: Expr, count: int | Expr) -> Expr:
        """One entry's share of L: ``weight·(y − ŷ)²``.

        Example:
            >>> from sympy import symbols
            >>> u, v = symbols("u v")
            >>> get_loss("sse_half").summand(u, v, 4)
            (-u + v)**2/2
        """
        if not self.has_target:
            raise ValueError("an upstream gradient has no loss summand")
        result: Expr = self.weight(count) * (y - yhat) ** 2
        return result


_REGISTRY: dict[str, Loss] = {
    "sse_half": Loss(
        kind="sse_half",
        words="half the sum of squared errors",
        unicode="L = Σᵢ ½(yᵢ − ŷᵢ)²",
        latex=r"L = \sum_i \tfrac{1}{2}\,(y_i - \hat y_i)^2",
        has_target=True,
        term_factor="½",
        meant="½ Σ (half the sum of squares)",
    ),
    "mse": Loss(
        kind="mse",
        words="mean squared error",
        unicode="L = (1/m) Σᵢ (yᵢ − ŷᵢ)²",
        latex=r"L = \frac{1}{m} \sum_i (y_i - \hat y_i)^2",
        has_target=True,
        averaged=True,
        meant="the mean 1/m Σ with m = {m}",
    ),
    "upstream": Loss(
        kind="upstream",
        words="an upstream gradient (no loss): ∂L/∂ŷ is given",
        unicode="∂L/∂ŷᵢ = gᵢ (given)",
        latex=r"\frac{\partial L}{\partial \hat y_i} = g_i \text{ (given)}",
        has_target=False,
    ),
}


def get_loss(kind: object) -> Loss:
    """The registry entry of a loss name (raises :class:`ProblemError` naming the choices).

    Example:
        >>> get_loss("sse_half").words
        'half the sum of squared errors'
    """
    if not isinstance(kind, str) or kind not in _REGISTRY:
        raise ProblemError("loss.kind", kind, f"must be one of {', '.join(map(repr, LOSSES))}")
    return _REGISTRY[kind]
