"""``typeset`` on the formulas of the reports' own prose and on students' letters.

The expected LaTeX is written by hand.  Before this file, ``ğ[u]`` left its index as text
(``$\\breve{g}$[u]``) and letters outside the quantities' (``u``, ``z``, ``h``) stayed
upright; equation labels ``(a)`` … ``(f)`` and the words ``a``/``I`` stay text.
"""

from __future__ import annotations

import pytest

from symconv.latex.escape import typeset

CASES = [
    (
        "ğ[u] = g[u/s + 1] when s divides u",
        r"$\breve{g}[u] =\nobreak  g[u/s + 1]$ when $s$ divides $u$",
    ),
    ("the value of h at r", "the value of $h$ at $r$"),
    ("written z₃ + q", "written $z_{3} + q$"),
    ("used f where e is expected", "used f where e is expected"),
    ("equation (f) is wrong", "equation (f) is wrong"),
    ("a value I expected", "a value I expected"),
    ("x[t] is read", "$x[t]$ is read"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_typeset(text: str, expected: str) -> None:
    assert typeset(text) == expected
