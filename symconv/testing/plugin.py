"""symconv's pytest plugin: the ``symconv_case`` fixture, the ``symconv`` marker and the
``--symconv-sweep`` / ``--symconv-seed`` options (entry point ``pytest11``).

A test that requests ``symconv_case`` is parametrized over
:func:`symconv.testing.cases`: one test per case, with the case's id
(``test_my_conv[c07-2d-s2x1-p1-g2-shared]``), so that ``-k`` selects one case, ``-x``
stops at the first failure and xdist workers agree on the ids (they depend only on the
options).  The supports come from the ``symconv`` marker on the test (its keywords are
the fields of :class:`~symconv.testing.Supports`, or one ``Supports`` positional); marks
on the class and module apply too, the closest one winning per field.

Every pytest run loads this module, so it imports nothing heavy: the cases are drawn
(NumPy, SymPy) only for a test that requests the fixture.

Example:
    >>> FIXTURE, OPTIONS
    ('symconv_case', ('--symconv-sweep', '--symconv-seed'))
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from symconv.testing.supports import Case

__all__ = ["FIXTURE", "OPTIONS", "symconv_case"]

FIXTURE = "symconv_case"
OPTIONS = ("--symconv-sweep", "--symconv-seed")
_MARKER = "symconv"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("symconv", "symconv: a convolution proven against the exact truth")
    group.addoption(
        "--symconv-sweep",
        type=int,
        default=20,
        metavar="N",
        help="random configurations per test that requests `symconv_case` (default 20)",
    )
    group.addoption(
        "--symconv-seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of those configurations (default 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**supports): what the implementation under test supports (fields of "
        "symconv.testing.Supports: dims, max_stride, max_dilation, max_padding, "
        "uneven_padding, padding_modes, biases, groups, max_channels, max_batch); the "
        "`symconv_case` fixture draws its cases from them",
    )
    sweep = config.getoption("--symconv-sweep")
    if not 1 <= sweep <= 100_000:
        raise pytest.UsageError(f"`--symconv-sweep` (={sweep}) must be between 1 and 100000")


def _supports(metafunc: pytest.Metafunc) -> Any:
    """The Supports of the test's ``symconv`` marks (closest first)."""
    from symconv.errors import UsageError
    from symconv.testing.supports import Supports

    fields: dict[str, Any] = {}
    base: Any = None
    for mark in reversed(list(metafunc.definition.iter_markers(_MARKER))):
        if mark.args:
            if len(mark.args) != 1 or not isinstance(mark.args[0], Supports):
                pytest.fail(
                    f"@pytest.mark.{_MARKER} takes keywords (fields of Supports) or one "
                    f"Supports, not {mark.args!r} ({metafunc.definition.nodeid})",
                    pytrace=False,
                )
            base, fields = mark.args[0], {}
        fields.update(mark.kwargs)
    known = {field.name for field in dataclasses.fields(Supports)}
    unknown = sorted(set(fields) - known)
    if unknown:
        pytest.fail(
            f"@pytest.mark.{_MARKER} got unknown field `{unknown[0]}` (allowed: "
            f"{', '.join(sorted(known))}) on {metafunc.definition.nodeid}",
            pytrace=False,
        )
    try:
        return dataclasses.replace(base or Supports(), **fields)
    except UsageError as exc:
        pytest.fail(f"@pytest.mark.{_MARKER} on {metafunc.definition.nodeid}: {exc}", pytrace=False)


def _parametrized(metafunc: pytest.Metafunc) -> bool:
    """True when the test parametrizes ``symconv_case`` itself."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        listed = names.split(",") if isinstance(names, str) else list(names)
        if FIXTURE in (name.strip() for name in listed):
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # every test of every project passes here: leave at once unless it wants a case
    if FIXTURE not in metafunc.fixturenames or _parametrized(metafunc):
        return
    from symconv.testing.supports import cases

    supports = _supports(metafunc)
    sweep = metafunc.config.getoption("--symconv-sweep")
    seed = metafunc.config.getoption("--symconv-seed")
    node = metafunc.definition.nodeid
    drawn = [
        dataclasses.replace(
            case,
            replay=f"pytest {shlex.quote(node)} -k {case.id} --symconv-sweep {sweep} "
            f"--symconv-seed {seed}",
        )
        for case in cases(supports, sweep=sweep, seed=seed)
    ]
    metafunc.parametrize(FIXTURE, drawn, ids=[case.id for case in drawn], indirect=True)


@pytest.fixture
def symconv_case(request: pytest.FixtureRequest) -> Case:
    """One case of the sweep (a :class:`symconv.testing.Case`): the test runs once per case."""
    case: Case | None = getattr(request, "param", None)
    if case is None:
        pytest.fail("`symconv_case` is drawn by symconv's pytest plugin; it was not "
                    "parametrized for this test", pytrace=False)
    return case
