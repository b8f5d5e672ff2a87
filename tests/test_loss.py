"""The loss registry: each loss once, its factors consistent with its form and with torch."""

from __future__ import annotations

import pytest
import torch
from sympy import Rational, Symbol, diff, simplify

from symconv.errors import ProblemError
from symconv.loss import LOSSES, get_loss

u, v = Symbol("u", real=True), Symbol("v", real=True)


@pytest.mark.parametrize("kind", ["sse_half", "mse"])
@pytest.mark.parametrize("count", [1, 2, 7])
def test_grad_factor_is_the_derivative_of_the_summand(kind: str, count: int) -> None:
    loss = get_loss(kind)
    # ∂/∂ŷ of weight·(y − ŷ)² is grad_factor·(ŷ − y): differentiate, do not trust the table
    assert simplify(diff(loss.summand(u, v, count), u) - loss.grad_factor(count) * (u - v)) == 0


def test_weights_by_hand() -> None:
    assert get_loss("sse_half").weight(5) == Rational(1, 2)
    assert get_loss("mse").weight(5) == Rational(1, 5)
    assert get_loss("mse").grad_factor(4) == Rational(1, 2)


def test_mse_is_torchs_mean_over_every_entry() -> None:
    yhat = torch.tensor([[[1.0, 2.0], [3.0, 5.0]], [[0.5, -1.0], [2.0, 2.0]]])
    y = torch.tensor([[[0.0, 2.0], [1.0, 1.0]], [[0.0, 0.0], [2.0, 4.0]]])
    mse = get_loss("mse")
    ours = sum(
        mse.summand(Rational(str(a)), Rational(str(b)), yhat.numel())
        for a, b in zip(yhat.flatten().tolist(), y.flatten().tolist())
    )
    assert float(ours) == pytest.approx(float(torch.nn.functional.mse_loss(yhat, y)))
    # and a wrong divisor (the per-example count) is caught by the same comparison
    wrong = sum(
        mse.summand(Rational(str(a)), Rational(str(b)), 4)
        for a, b in zip(yhat.flatten().tolist(), y.flatten().tolist())
    )
    assert float(wrong) != pytest.approx(float(torch.nn.functional.mse_loss(yhat, y)))


def test_upstream_has_no_target_and_no_summand() -> None:
    upstream = get_loss("upstream")
    assert not upstream.has_target
    assert upstream.grad_factor(3) == 0
    with pytest.raises(ValueError):
        upstream.summand(u, v, 1)


def test_every_loss_has_names() -> None:
    for kind in LOSSES:
        loss = get_loss(kind)
        assert loss.kind == kind and loss.words and loss.unicode and loss.latex


@pytest.mark.parametrize("bad", ["l1", ["mse"], None, 3])
def test_unknown_loss_names_the_choices(bad: object) -> None:
    with pytest.raises(ProblemError, match="'sse_half', 'mse', 'upstream'"):
        get_loss(bad)
