"""The symbolic shift-equivariance proofs: exact zeros where they must be, borders where not.

The truth is stated independently of the module: with circular padding covering one period
a conv commutes with shifts by multiples of its stride; with zero padding the difference
lives at the borders; a flatten + linear head is not invariant, a mean is.  Each check is
shown able to fail (a kernel read off by one position, a wrong output shift).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sympy import Expr, expand, symbols

from symconv.cli import main
from symconv.problem import Problem, problem_from_dict
from symconv.symbolic import equivariance as eq
from symconv.symbolic.explicit import Symbols

# (n, k, stride, padding, mode, shift) -> expected failing 1-based output positions
CASES: list[tuple[int, int, int, int, str, int, tuple[int, ...]]] = [
    (8, 3, 1, 1, "circular", 1, ()),
    (8, 3, 1, 1, "circular", 3, ()),
    (7, 5, 1, 2, "circular", 2, ()),
    (8, 3, 2, 1, "circular", 2, ()),
    (8, 3, 2, 1, "circular", 4, ()),
    (8, 4, 2, 1, "circular", 2, ()),
    (8, 3, 1, 1, "zeros", 1, (1, 8)),
    (8, 3, 1, 1, "zeros", 2, (1, 2, 8)),
    (8, 3, 1, 0, "zeros", 1, (1,)),
    (8, 3, 2, 1, "zeros", 2, (1,)),
]


@pytest.mark.parametrize(("n", "k", "s", "p", "mode", "t", "failing"), CASES)
def test_explicit_proofs(
    make_problem: Any, n: int, k: int, s: int, p: int, mode: str, t: int, failing: tuple[int, ...]
) -> None:
    proof = eq.prove_shift(make_problem(n, k, stride=s, padding=p, padding_mode=mode), t)
    assert proof.failing_positions == failing
    assert proof.equivariant == (not failing)
    if not failing:
        # exact symbolic zeros, not small numbers
        assert all(e == 0 for e in proof.difference)
    else:
        assert all(proof.difference[i - 1] != 0 for i in failing)


@pytest.mark.parametrize("t", [1, 3, 5])
def test_stride_not_dividing_shift_has_no_output_shift(make_problem: Any, t: int) -> None:
    proof = eq.prove_shift(make_problem(8, 3, stride=2, padding=1, padding_mode="circular"), t)
    assert proof.output_shift is None
    assert proof.no_output_shift
    assert not proof.equivariant


def test_untied_bias_breaks_equivariance_everywhere(make_problem: Any) -> None:
    problem = make_problem(8, 3, padding=1, padding_mode="circular", bias="untied")
    proof = eq.prove_shift(problem, 1)
    assert proof.failing_positions == tuple(range(1, 9))
    # and the difference is exactly the bias mismatch b_i − b_(i−1)
    b = Symbols.for_problem(problem).b
    assert isinstance(b, tuple)
    assert proof.difference[0] == expand(b[0] - b[7])


def test_shift_sequence() -> None:
    a, b, c = symbols("a b c")
    assert eq.shift_sequence((a, b, c), 1, circular=True) == (c, a, b)
    assert eq.shift_sequence((a, b, c), -1, circular=False) == (b, c, 0)
    assert eq.shift_sequence((a, b, c), 1, circular=False) == (0, a, b)


def _difference_with(problem: Problem, conv: Any, t: int, u: int) -> tuple[Expr, ...]:
    sym = Symbols.for_problem(problem)
    circular = problem.padding_mode == "circular"
    moved_in = conv(problem, eq.shift_sequence(sym.x, t, circular=circular), sym)
    moved_out = eq.shift_sequence(conv(problem, sym.x, sym), u, circular=circular)
    return tuple(expand(a - b) for a, b in zip(moved_in, moved_out))


def test_check_can_fail(make_problem: Any) -> None:
    """A kernel with an extra tap at the last output, or a wrong output shift, is caught."""
    problem = make_problem(8, 3, padding=1, padding_mode="circular")

    def broken_conv(p: Problem, x: Any, sym: Symbols) -> tuple[Expr, ...]:
        out = list(eq.conv_outputs(p, x, sym))
        out[-1] = out[-1] + sym.w[0] * x[0]  # an extra tap: not a convolution any more
        return tuple(out)

    assert any(e != 0 for e in _difference_with(problem, broken_conv, 1, 1))
    assert all(e == 0 for e in _difference_with(problem, eq.conv_outputs, 1, 1))
    assert any(e != 0 for e in _difference_with(problem, eq.conv_outputs, 1, 2))


def test_circular_padding_for_covers_one_period(make_problem: Any) -> None:
    for n, k, s in [(8, 3, 1), (8, 3, 2), (8, 4, 2), (12, 5, 3), (9, 3, 3)]:
        p = eq.circular_padding_for(n, k, s, 1)
        assert make_problem(n, k).with_layer(stride=s, padding=p).m * s == n


def test_closed_form_index_algebra() -> None:
    proof = eq.closed_proof()
    assert str(proof.index_gap) == "s*u - t"
    assert proof.gap_at_t_su == 0
    assert proof.sum_difference == 0
    assert proof.period_gap == 0
    assert proof.circular_holds


def test_heads() -> None:
    linear, pool = eq.prove_heads(m=4, shift=1)
    assert not linear.invariant and linear.difference != 0
    assert pool.invariant and pool.difference == 0


def test_prove_all_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["equivariance", "--prove", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = document["proofs"]
    assert {"padding_mode", "stride", "shift", "equivariant", "failing_positions"} <= set(rows[0])
    circular = [r for r in rows if r["padding_mode"] == "circular"]
    # circular: equivariant exactly when the stride divides the shift
    assert circular and all(r["equivariant"] == (r["shift"] % r["stride"] == 0) for r in circular)
    zeros = [r for r in rows if r["padding_mode"] == "zeros"]
    assert zeros and all(not r["equivariant"] and r["failing_positions"] for r in zeros)
    assert [h["invariant"] for h in document["heads"]] == [False, True]


def test_prove_table_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["equivariance", "--prove", "--plain", "--width", "140"]) == 0
    out = capsys.readouterr().out
    assert "yes: exactly 0" in out and "none (s ∤ t)" in out
    assert "w[j]*x̃[d*(j - 1) - p + s*(i - 1) - t + 1]" in out  # markup not eaten


def test_prove_bad_input_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["equivariance", "--prove", "--n", "2", "--k", "5"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(4, 10),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    u=st.integers(0, 3),
)
def test_circular_one_period_is_equivariant_for_multiples_of_the_stride(
    n: int, k: int, s: int, d: int, u: int
) -> None:
    span = d * (k - 1) + 1
    assume(n % s == 0 and span <= n)
    p = eq.circular_padding_for(n, k, s, d)
    base = problem_from_dict(
        {"layer": {"input_length": n, "kernel_size": k, "dilation": d, "padding": p}}
    )
    problem = base.with_layer(stride=s, padding_mode="circular")
    assume(problem.m * s == n)
    assert eq.prove_shift(problem, s * u).equivariant
    if s > 1:
        assert eq.prove_shift(problem, s * u + 1).no_output_shift
