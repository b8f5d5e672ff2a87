"""Shared helpers for the symbolic-core tests.

``make_problem`` builds a validated :class:`~symconv.problem.Problem` from plain layer
settings, the way a TOML file would give them, so that test tables can stay short tuples.
It is session-scoped so that hypothesis tests may use it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from symconv.problem import Problem, problem_from_dict

DATA = Path(__file__).parent / "data"

Number = int | str
MakeProblem = Callable[..., Problem]


def problem_for(
    n: int,
    k: int,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    padding_mode: str = "zeros",
    bias: str = "shared",
    loss: str = "sse_half",
    lr: Number = "0.01",
    steps: int = 1,
    x: Sequence[Number] | None = None,
    w: Sequence[Number] | None = None,
    b: Sequence[Number] | Number | None = None,
    y: Sequence[Number] | None = None,
) -> Problem:
    """A problem from keyword settings; values are given when ``x`` is."""
    raw: dict[str, Any] = {
        "layer": {
            "input_length": n,
            "kernel_size": k,
            "stride": stride,
            "padding": padding,
            "padding_mode": padding_mode,
            "dilation": dilation,
            "bias": bias,
        },
        "loss": {"kind": loss},
        "optimizer": {"learning_rate": lr, "steps": steps},
    }
    if x is not None:
        values: dict[str, Any] = {"x": list(x), "w": list(w or []), "y": list(y or [])}
        if b is not None:
            values["b"] = list(b) if isinstance(b, (list, tuple)) else b
        raw["values"] = values
    return problem_from_dict(raw)


@pytest.fixture(scope="session")
def make_problem() -> MakeProblem:
    """The :func:`problem_for` factory."""
    return problem_for


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``tests/data``: the TOML fixtures."""
    return DATA
