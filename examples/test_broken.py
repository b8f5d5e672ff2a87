"""Every broken implementation of the catalogue fails, with the right report.

For each mistake: search the sweep of the supports it needs for the first case where it
can show, check that the correct implementation passes there and the broken one raises
:class:`ConvMismatch`, and read the report — the configuration, the quantity, the first
wrong entry (its expected value checked against torch autograd, its actual value against
a direct call of the broken code) and the diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("torch")

import torch

from examples import numpy_im2col, torch_function
from examples.broken import CATALOGUE, Broken
from symconv.arrays import problem_arrays
from symconv.reference import torch_conv
from symconv.testing import Case, ConvMismatch, Supports, assert_case, cases

SEARCH = 60
"""Cases searched for one where the mistake can show."""

CORRECT: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None]] = {
    "numpy": (numpy_im2col.forward, numpy_im2col.backward),
    "torch": (torch_function.forward, None),
}
# where no mistake can show, the broken one must pass: the correct one's whole space
WIDE = {
    "numpy": Supports(
        dims=(1, 2, 3),
        uneven_padding=True,
        padding_modes=("zeros", "circular"),
        biases=("shared", "untied", "none"),
        max_channels=4,
    ),
    "torch": Supports(
        dims=(1, 2), uneven_padding=True, padding_modes=("zeros", "circular"), max_channels=4
    ),
}


def _framework(entry: Broken) -> str:
    return "numpy" if entry.backward is not None else "torch"


def _keywords(case: Case) -> dict[str, Any]:
    layer = case.problem.layer
    return {
        "stride": layer.stride,
        "padding": tuple(a if a == b else (a, b) for a, b in layer.padding),
        "dilation": layer.dilation,
        "groups": layer.groups,
        "padding_mode": layer.padding_mode,
    }


def _call(entry: Broken, case: Case) -> dict[str, Any]:
    """The broken implementation's quantities, by a direct call (no symconv.testing)."""
    a = problem_arrays(case.problem)
    if entry.backward is not None:
        y = entry.forward(a.x, a.w, a.b, **_keywords(case))
        grad_x, grad_w, grad_b = entry.backward(a.x, a.w, a.b, a.target, **_keywords(case))
        return {"yhat": y, "grad_x": grad_x, "grad_w": grad_w, "grad_b": grad_b}
    x, w = (torch.tensor(v, requires_grad=True) for v in (a.x, a.w))
    b = None if a.b is None else torch.tensor(a.b, requires_grad=True)
    y = entry.forward(x, w, b, **_keywords(case))
    y.backward(torch.tensor(a.target))
    grads = {"grad_x": x.grad, "grad_w": w.grad, "grad_b": None if b is None else b.grad}
    return {"yhat": y.detach().numpy()} | {
        k: None if v is None else v.numpy() for k, v in grads.items()
    }


def _first_showing(entry: Broken) -> Case:
    for case in cases(entry.supports, sweep=SEARCH):
        if entry.shows(case.problem.layer):
            return case
    raise AssertionError(f"no case of {entry.supports} shows {entry.name}")


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.name)
def test_caught_with_the_right_report(entry: Broken) -> None:
    case = _first_showing(entry)
    # the same comparison passes the correct implementation on this very case
    assert_case(*CORRECT[_framework(entry)], case)

    with pytest.raises(ConvMismatch) as caught:
        assert_case(entry.forward, entry.backward, case)
    mismatch, message = caught.value, str(caught.value)

    # the quantity, and the configuration of the case
    assert mismatch.quantity == entry.quantity
    assert message.startswith(f"{entry.quantity} of examples.")
    layer = case.problem.layer
    assert f"configuration: {layer.ndim}-D {'×'.join(map(str, layer.input_shape))}" in message
    assert case.describe() in message
    # the first wrong entry: expected from torch autograd, actual from the broken code
    entry_text = f"{entry.quantity}[{', '.join(map(str, mismatch.index))}]"
    assert f"first wrong entry: {entry_text}" in message
    a = problem_arrays(case.problem)
    truth = torch_conv.step(layer, "upstream", a.x, a.w, a.b, a.target, 0.1)
    got = _call(entry, case)
    assert mismatch.expected == pytest.approx(truth[entry.quantity][mismatch.index], abs=1e-9)
    assert mismatch.actual == got[entry.quantity][mismatch.index]
    assert abs(mismatch.actual - mismatch.expected) > mismatch.tolerance
    # the diagnosis names the mistake (or says that none is known)
    if entry.diagnosis is None:
        assert mismatch.diagnosis is None
        assert "diagnosis: no known mistake matches" in message
    else:
        assert mismatch.diagnosis is not None
        assert entry.diagnosis in mismatch.diagnosis
        assert f"diagnosis: {mismatch.diagnosis}" in message
    assert "replay: symconv verify --impl examples." in message


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.name)
def test_passes_where_the_mistake_cannot_show(entry: Broken) -> None:
    hidden = [
        case
        for case in cases(WIDE[_framework(entry)], sweep=30)
        if not entry.shows(case.problem.layer)
    ]
    assert hidden, f"every case shows {entry.name}"
    for case in hidden:
        assert_case(entry.forward, entry.backward, case)


def test_catalogue_covers_the_classic_mistakes() -> None:
    names = {entry.name for entry in CATALOGUE}
    assert {
        "flipped-kernel",
        "off-by-one",
        "stride-ignored",
        "dilation-ignored",
        "missing-bias",
        "padding-side",
        "no-circular-wrap",
        "wrong-group",
        "batch-not-summed",
    } <= names
    assert len(names) == len(CATALOGUE)
    assert {entry.quantity for entry in CATALOGUE} <= {"yhat", "grad_x", "grad_w", "grad_b"}
