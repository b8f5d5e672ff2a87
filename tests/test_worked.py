"""The backend-neutral pieces both printers print (symconv.worked).

The convention notes are checked against facts about each layer written here by hand (not
read back from the code); the simplified closed form is checked against the plain one with
the layer's sizes put in, index value by index value, after SymPy expands both sums.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from sympy import Expr, Integer, Sum, expand

from symconv.derivation import build
from symconv.problem import load_problem
from symconv.symbolic.closed import alpha, layer_sizes
from symconv.worked import closed_rows, conventions, is_exercise, pytorch_differences

OTHER_PROBLEMS = [
    ("conv2d_small", {}),
    ("mnist_conv1", {}),
    ("exercise2", {"layer.bias": "shared", "values.b": "1"}),  # one change: not the exercise
    ("exercise2", {"values.y": [3, 4]}),
]


def test_only_the_exercise_itself_is_the_exercise() -> None:
    assert is_exercise(load_problem("exercise2"))
    assert is_exercise(load_problem("exercise2", {"title": "Another title"}))
    for name, overrides in OTHER_PROBLEMS:
        assert not is_exercise(load_problem(name, overrides)), (name, overrides)


@pytest.mark.parametrize(("name", "overrides"), OTHER_PROBLEMS)
def test_no_note_of_another_problem_mentions_the_exercise(
    name: str, overrides: dict[str, Any]
) -> None:
    text = " ".join(note.unicode for note in conventions(load_problem(name, overrides)))
    assert "exercise" not in text.lower()
    assert "stride 0" not in text


def test_the_exercise_gets_its_own_remarks() -> None:
    titles = [note.title for note in conventions(load_problem("exercise2"))]
    assert "Output positions are not strides." in titles
    text = " ".join(note.unicode for note in conventions(load_problem("exercise2")))
    assert '"stride 0" and "stride 1"' in text


def test_notes_follow_the_layer() -> None:
    # mnist_conv1: stride 2×2 and padding 1 on each side (its TOML), 14×14 outputs
    notes = {n.title: n.unicode for n in conventions(load_problem("mnist_conv1"))}
    assert "14×14 output positions" in notes["Stride."]
    assert "padded by 1×1 on each side" in notes["Padding."]
    assert "Dilation." not in notes
    # the exercise has neither stride nor padding, its bias is untied
    notes = {n.title: n.unicode for n in conventions(load_problem("exercise2"))}
    assert "Stride." not in notes and "No padding." in notes and "Untied bias." in notes
    # circular padding wraps the gradient around
    circular = load_problem(
        None,
        {
            "layer.input_length": 4,
            "layer.kernel_size": 3,
            "layer.padding": 1,
            "layer.padding_mode": "circular",
        },
    )
    notes = {n.title: n.unicode for n in conventions(circular)}
    assert "wraps around" in notes["Padding."] and "added onto" in notes["Padding."]


def test_the_index_formula_is_the_layers() -> None:
    # stride 2, padding 1, x̃ indexed like x (x̃[t] = xₜ inside, as the padding note and
    # the closed form say): output i's window starts at 2(i − 1) + 1 − 1, so tap j reads
    # x̃[2i + j − 3] (it said x̃[2i + j − 2], counting from the padding's start, before)
    strided = load_problem(
        None,
        {"layer.input_length": 4, "layer.kernel_size": 3, "layer.stride": 2, "layer.padding": 1},
    )
    text = conventions(strided)[0].unicode
    assert "x̃[2i + j − 3]" in text
    assert "x̃[i + j − 1]" in conventions(load_problem("exercise2"))[0].unicode


def test_the_loss_note_has_the_factor() -> None:
    # mse over the exercise's 2 outputs: ∂L/∂ŷ = (2/2)(ŷ − y); sse_half: ∂L/∂ŷ = ŷ − y
    mse = {n.title: n.unicode for n in conventions(load_problem("exercise2", {"loss.kind": "mse"}))}
    assert "(2/2)·(ŷ − y)" in mse["Loss."] and "this mean" in mse["Loss."]
    half = {n.title: n.unicode for n in conventions(load_problem("exercise2"))}
    assert "∂L/∂ŷ = ŷ − y" in half["Loss."]


def test_pytorch_differences() -> None:
    assert pytorch_differences(load_problem("conv2d_small")) == []
    assert pytorch_differences(load_problem("mnist_conv1")) == [
        "stride 2×2 (default 1)",
        "padding 1×1 (default 0)",
    ]
    assert pytorch_differences(load_problem("exercise2")) == [
        "an untied bias, one per output entry (PyTorch's bias is shared)"
    ]


# ---------------------------------------------------------------------------------------
# the closed form with the layer's sizes: simplified, and still the same expression

GROUPED = {  # 1-D, 4 → 2 channels in 2 groups, batch 2: every channel floor matters
    "layer.input_shape": [5],
    "layer.kernel_size": [2],
    "layer.in_channels": 4,
    "layer.out_channels": 2,
    "layer.groups": 2,
    "layer.batch": 2,
}


def _layers() -> list[Any]:
    return [
        build(load_problem("conv2d_small"), form="closed"),
        build(load_problem(None, GROUPED), form="closed"),
    ]


def _free_channel_values(d: Any, expr: Expr) -> list[dict[Any, Integer]]:
    """Every value of the free channel and example indices of ``expr``, over their ranges."""
    general = d.general
    sizes = {**layer_sizes(general, d.problem.layer), alpha: d.problem.lr}
    S = general.symbols
    free = [s for s in (S.beta, S.c, S.kappa, S.gamma) if s in expr.free_symbols]
    ranges = S.ranges(False)
    spans = [
        range(int(ranges[s][0].xreplace(sizes)), int(ranges[s][1].xreplace(sizes)) + 1)
        for s in free
    ]
    return [dict(zip(free, map(Integer, case))) for case in product(*spans)]


def _same(d: Any, plain: Expr, here: Expr) -> bool:
    for values in _free_channel_values(d, plain):
        left = expand(plain.xreplace(values).doit())
        right = expand(here.xreplace(values).doit())
        if expand(left - right) != 0:
            return False
    return True


@pytest.mark.parametrize("which", [0, 1])
def test_the_simplified_closed_form_is_the_plain_one(which: int) -> None:
    d = _layers()[which]
    sizes = {**layer_sizes(d.general, d.problem.layer), alpha: d.problem.lr}
    rows = closed_rows(d)
    assert [row.key for row in rows][:4] == ["yhat", "loss", "grad_yhat", "grad_w"]
    for row in rows:
        plain = getattr(d.general, row.key).xreplace(sizes)
        here = plain if row.here is None else row.here  # None: nothing to put in
        assert _same(d, plain, here), row.key


def test_the_check_catches_a_wrong_simplification() -> None:
    """A floor or a one-term sum put in with a wrong value is not the same expression."""
    d = _layers()[1]
    sizes = {**layer_sizes(d.general, d.problem.layer), alpha: d.problem.lr}
    row = next(r for r in closed_rows(d) if r.key == "grad_x")
    plain = d.general.grad_x.xreplace(sizes)
    assert row.here is not None and _same(d, plain, row.here)
    S = d.general.symbols
    # the kernel's channel index shifted by one: what a wrong group value would give
    wrong = row.here.xreplace({S.gamma: S.gamma + 1})
    assert not _same(d, plain, wrong)


def test_one_term_sums_are_gone_with_batch_one_and_one_group() -> None:
    d = _layers()[0]  # conv2d_small: batch 1, one output channel
    for row in closed_rows(d):
        assert row.here is not None  # batch 1 and one output channel: β = c = 1 put in
        for total in row.here.atoms(Sum):
            assert all(low != high for _, low, high in total.limits), (row.key, total)


def test_a_layer_without_bias_has_no_bias_in_its_notes() -> None:
    """The cross-correlation note adds "(plus the bias)" only when there is one."""
    plain = load_problem("exercise2", {"layer.bias": "none", "values.b": None})
    with_bias = load_problem("exercise2")
    assert "bias" not in conventions(plain)[0].unicode
    assert "(plus the bias)" in conventions(with_bias)[0].unicode
