"""The rubric of ``symconv grade``: points per quantity, partial credit, and the scoring rule.

A rubric file (TOML)::

    [points]              # the graded items; a quantity left out is not graded
    yhat = 2              # ŷ, the forward pass
    loss = 1              # L
    grad_yhat = 1         # ∂L/∂ŷ
    grad_w = 3            # ∂L/∂w
    grad_b = 1            # ∂L/∂b
    grad_x = 2            # ∂L/∂x
    w_next = 1            # w′ after one SGD step
    b_next = 1            # b′
    yhat_next = 1         # ŷ′, the forward pass with w′ and b′
    loss_next = 1         # L′

    [partial]             # fractions of an entry's share, each in [0, 1]
    notation = 0.5        # the values are right, the notation is loose
    carried = 1.0         # wrong only because it correctly uses an earlier wrong value

Points are read exactly (``"0.5"`` is 1/2, ``"2/3"`` two thirds).  Without ``[points]``
every item has its :data:`DEFAULT_POINTS`; without a file the rubric is
:func:`default_rubric` (14 points).  An unknown table or key is an error (exit 2).

The scoring rule
----------------
An *item* is one quantity of the derivation (the names of ``symconv derive --json``).  The
checker says, for each equation, which quantity its left side names (``quantity``, at
``step``), which entry (``entry``: a 0-based flat index, or null for the whole quantity) and
the number its last right side is (``value``).  An equation counts for item Q when

- its quantity is Q at step 0, or it names ŷ or L at step 1 (then it counts for
  ``yhat_next`` / ``loss_next``), or it is one of the ``*_next`` quantities at step 0 or 1;
- its verdict is ``correct``, ``incorrect`` or ``notation`` (``unchecked`` ones do not
  count), and its value is a number (or, for the whole quantity, a list of as many numbers
  as Q has entries): a *claim*.  A symbolic equation (no number) earns nothing by itself.

A claim *states* the entries it names (one entry, or every entry of Q).  For every entry e
of Q (Q has N entries; L, L′ one):

1. no claim states e: e earns 0 ("not stated");
2. otherwise the *final* claim of e (the last one in the document) decides its *value
   part* v: 1 when its verdict is ``correct`` or ``notation``; when it is ``incorrect``,
   ``carried`` if e's written value is an *error carried forward* (below), else 0.  A claim
   of several entries judged ``incorrect`` as a whole is split: an entry whose written
   value agrees with the truth is taken as ``correct``;
3. e earns ``min(v, notation)`` when any claim of e (not only the final one) has the
   verdict ``notation``, else ``v``.

Q earns ``points[Q] × (Σ_e earned(e)) / N`` — exact.  Items that do not exist for the
variant (∂L/∂b and b′ without a bias; L, L′ and ∂L/∂ŷ with an upstream gradient) earn
nothing and count nothing: the student's maximum is the sum of the others.

*Error carried forward*: an entry's written value is wrong (it does not agree with the
truth) but agrees with the value recomputed exactly from the student's own earlier values
(:mod:`symconv.course.carried`: L and ∂L/∂ŷ from the student's ŷ; ∂L/∂w, ∂L/∂b, ∂L/∂x from
the student's ∂L/∂ŷ; w′, b′ from the student's gradients; ŷ′ from the student's w′ and b′;
L′ from the student's ŷ′).  "Agrees" is the checker's own rule: equal, or a decimal
rounding of a value that has no finite decimal (:func:`agrees`).

Example:
    >>> rubric = rubric_from_dict({"points": {"yhat": 2}, "partial": {"notation": "1/2"}})
    >>> rubric.items, rubric.notation, rubric.carried
    (('yhat',), Fraction(1, 2), Fraction(1, 1))
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from symconv.course.files import read_bounded
from symconv.errors import ProblemError, UsageError
from symconv.notation import QUANTITIES as NAMED
from symconv.symbolic.explicit import QUANTITIES

__all__ = [
    "DEFAULT_CARRIED",
    "DEFAULT_NOTATION",
    "DEFAULT_POINTS",
    "ITEMS",
    "ITEM_NAMES",
    "Claim",
    "EntryScore",
    "ItemScore",
    "Rubric",
    "agrees",
    "decimal_places",
    "default_rubric",
    "is_carried",
    "item_of",
    "load_rubric",
    "parse_value",
    "read_claims",
    "rubric_from_dict",
    "score_items",
    "show",
]

ITEMS: tuple[str, ...] = QUANTITIES
"""Every gradable quantity, in the order of the derivation (the gradebook's columns)."""

ITEM_NAMES: dict[str, str] = {item: NAMED[item].unicode for item in ITEMS}
"""How an item is shown to students (feedback, Gradescope test names)."""

DEFAULT_POINTS: dict[str, Fraction] = {
    "yhat": Fraction(2),
    "loss": Fraction(1),
    "grad_yhat": Fraction(1),
    "grad_w": Fraction(3),
    "grad_b": Fraction(1),
    "grad_x": Fraction(2),
    "w_next": Fraction(1),
    "b_next": Fraction(1),
    "yhat_next": Fraction(1),
    "loss_next": Fraction(1),
}
DEFAULT_NOTATION = Fraction(1, 2)
DEFAULT_CARRIED = Fraction(1)

_MAX_RUBRIC_BYTES = 100_000
_MAX_POINTS = Fraction(10**6)
_VERDICTS = ("correct", "incorrect", "notation")  # the judged ones
_STEP_ZERO = frozenset(ITEMS[:6])
_NEXT = {"yhat": "yhat_next", "loss": "loss_next"}


@dataclass(frozen=True)
class Rubric:
    """Points per graded item (in :data:`ITEMS` order) and the two partial fractions.

    ``source`` says where it came from (a path, or ``"built-in"``).
    """

    points: tuple[tuple[str, Fraction], ...]
    notation: Fraction = DEFAULT_NOTATION
    carried: Fraction = DEFAULT_CARRIED
    source: str = "built-in"

    @property
    def items(self) -> tuple[str, ...]:
        """The graded items, in :data:`ITEMS` order."""
        return tuple(item for item, _ in self.points)

    def points_of(self, item: str) -> Fraction:
        """The points of one item (0 when it is not graded)."""
        return dict(self.points).get(item, Fraction(0))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"points": {item: "2"}, "partial": {...}, "source": ...}``."""
        return {
            "points": {item: str(value) for item, value in self.points},
            "partial": {"notation": str(self.notation), "carried": str(self.carried)},
            "source": self.source,
        }

    def digest(self) -> str:
        """sha256 of the points and fractions (not the source): equal rubrics, equal digests."""
        data = self.to_dict()
        del data["source"]
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_rubric() -> Rubric:
    """The built-in rubric: :data:`DEFAULT_POINTS` (14 points), notation ½, carried 1.

    Example:
        >>> sum(points for _, points in default_rubric().points)
        Fraction(14, 1)
    """
    return Rubric(points=tuple((item, DEFAULT_POINTS[item]) for item in ITEMS))


def _fraction(where: str, field_name: str, value: object) -> Fraction:
    from symconv.problem import parse_number

    try:
        number = parse_number(field_name, value)
    except ProblemError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return Fraction(int(number.p), int(number.q))


def rubric_from_dict(raw: Mapping[str, Any], source: str = "built-in") -> Rubric:
    """Validate the tables of a rubric file; raises :class:`~symconv.errors.UsageError`
    naming the key, its value and what is allowed.

    Example:
        >>> rubric_from_dict({"points": {"grad_q": 1}})
        Traceback (most recent call last):
        ...
        symconv.errors.UsageError: `--rubric` (='built-in'): `points.grad_q` is not a quantity; \
allowed: yhat, loss, grad_yhat, grad_w, grad_b, grad_x, w_next, b_next, yhat_next, loss_next
    """
    where = f"`--rubric` (={source!r})"
    unknown = sorted(set(raw) - {"points", "partial"})
    if unknown:
        raise UsageError(
            f"{where}: `{unknown[0]}` is not a rubric table; allowed: [points], [partial]"
        )
    for table in ("points", "partial"):
        if table in raw and not isinstance(raw[table], Mapping):
            raise UsageError(f"{where}: `{table}` must be a table ([{table}])")
    given: Mapping[str, Any] = raw.get("points", {})
    bad = [key for key in given if key not in ITEMS]
    if bad:
        raise UsageError(
            f"{where}: `points.{bad[0]}` is not a quantity; allowed: {', '.join(ITEMS)}"
        )
    points: list[tuple[str, Fraction]] = []
    for item in ITEMS:
        if "points" in raw and item not in given:
            continue  # a rubric with [points] grades the items it lists
        value = _fraction(where, f"points.{item}", given[item]) if item in given else None
        if value is None:
            value = DEFAULT_POINTS[item]
        if not 0 <= value <= _MAX_POINTS:
            raise UsageError(
                f"{where}: `points.{item}` (={given[item]!r}) must be a number of points "
                f"in [0, {_MAX_POINTS}]"
            )
        points.append((item, value))
    partial: Mapping[str, Any] = raw.get("partial", {})
    bad = [key for key in partial if key not in ("notation", "carried")]
    if bad:
        raise UsageError(
            f"{where}: `partial.{bad[0]}` is not a kind of partial credit; allowed: "
            "notation, carried"
        )
    fractions: dict[str, Fraction] = {"notation": DEFAULT_NOTATION, "carried": DEFAULT_CARRIED}
    for key, value in partial.items():
        number = _fraction(where, f"partial.{key}", value)
        if not 0 <= number <= 1:
            raise UsageError(
                f"{where}: `partial.{key}` (={value!r}) must be a fraction in [0, 1] "
                "of an entry's points"
            )
        fractions[key] = number
    if not points:
        raise UsageError(f"{where}: `[points]` grades nothing; give at least one quantity")
    return Rubric(
        points=tuple(points),
        notation=fractions["notation"],
        carried=fractions["carried"],
        source=source,
    )


def load_rubric(path: str | Path | None) -> Rubric:
    """The rubric in a TOML file (None: :func:`default_rubric`); raises
    :class:`~symconv.errors.UsageError` (exit 2) for a missing, unreadable or invalid file."""
    if path is None:
        return default_rubric()
    name = str(path)
    where = f"`--rubric` (={name!r})"
    text = read_bounded(name, "--rubric", limit=_MAX_RUBRIC_BYTES, hint="give a rubric TOML file")
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise UsageError(f"{where} is not valid TOML: {exc}") from None
    return rubric_from_dict(raw, source=name)


# ---------------------------------------------------------------------------------------
# reading the checker's equations as claims


def decimal_places(value: Fraction) -> int | None:
    """How many decimals the terminating expansion of ``value`` has; None when it does not
    end (its denominator has a prime factor other than 2 and 5).

    Example:
        >>> decimal_places(Fraction(39, 25)), decimal_places(Fraction(1, 3))
        (2, None)
    """
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    return max(twos, fives) if denominator == 1 else None


def show(value: Fraction) -> str:
    """A number for people: an exact decimal when it has one, else ``p/q``.

    Example:
        >>> show(Fraction(27, 2)), show(Fraction(14, 3)), show(Fraction(-3))
        ('13.5', '14/3', '-3')
    """
    places = decimal_places(value)
    if places is None:
        return f"{value.numerator}/{value.denominator}"
    if places == 0:
        return str(value.numerator)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def parse_value(text: object) -> Fraction | None:
    """A value string of the checker (``"39/25"``, ``"1.56"``, ``"-3"``) as a Fraction;
    None when it is not one (never evaluated: :class:`fractions.Fraction` parses it).

    Example:
        >>> parse_value("39/25"), parse_value("x + 1")
        (Fraction(39, 25), None)
    """
    if not isinstance(text, str) or len(text) > 200:
        return None
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        return None


def item_of(quantity: object, step: object) -> str | None:
    """The rubric item an equation's ``quantity`` at ``step`` counts for (None: none).

    Example:
        >>> item_of("yhat", 0), item_of("yhat", 1), item_of("grad_w", 1), item_of("w_next", 1)
        ('yhat', 'yhat_next', None, 'w_next')
    """
    if not isinstance(quantity, str) or quantity not in ITEMS:
        return None
    at = 0 if step is None else step
    if isinstance(at, bool) or not isinstance(at, int):
        return None
    if quantity in _STEP_ZERO:
        if at == 0:
            return quantity
        return _NEXT.get(quantity) if at == 1 else None
    return quantity if at in (0, 1) else None


@dataclass(frozen=True)
class Claim:
    """One judged equation read as numbers for an item.

    ``index`` is the equation's position in the checker's list (document order), ``label``
    its label; ``entries`` the 0-based flat entries it states and ``values`` the number
    it gives each (same length); ``verdict`` correct, incorrect or notation.
    """

    index: int
    label: str
    item: str
    entries: tuple[int, ...]
    values: tuple[Fraction, ...]
    verdict: str


def read_claims(
    equations: Sequence[Mapping[str, Any]], sizes: Mapping[str, int]
) -> tuple[list[Claim], dict[str, int]]:
    """The claims of a checker document's equations, and per item the number of equations
    that name it but were ``unchecked`` or hold no number.

    ``sizes`` gives each item's entry count (items not in it are skipped).

    Example:
        >>> eqs = [{"label": "8", "verdict": "correct", "quantity": "yhat", "step": 0,
        ...         "entry": None, "value": ["14", "20"]}]
        >>> claims, _ = read_claims(eqs, {"yhat": 2})
        >>> claims[0].entries, claims[0].values
        ((0, 1), (Fraction(14, 1), Fraction(20, 1)))
    """
    claims: list[Claim] = []
    unread: dict[str, int] = {}
    for index, equation in enumerate(equations):
        item = item_of(equation.get("quantity"), equation.get("step"))
        if item is None or item not in sizes:
            continue
        size = sizes[item]
        claim = _claim(index, equation, item, size)
        if claim is None:
            unread[item] = unread.get(item, 0) + 1
        else:
            claims.append(claim)
    return claims, unread


def _claim(index: int, equation: Mapping[str, Any], item: str, size: int) -> Claim | None:
    verdict = equation.get("verdict")
    if verdict not in _VERDICTS:
        return None
    entry = equation.get("entry")
    value = equation.get("value")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if entry is not None:
        if isinstance(entry, bool) or not isinstance(entry, int) or not 0 <= entry < size:
            return None
        number = parse_value(value)
        if number is None:
            return None
        return Claim(index, str(equation.get("label", "")), item, (entry,), (number,), verdict)
    if isinstance(value, list):
        numbers = [parse_value(v) for v in value]
        if len(numbers) != size or any(n is None for n in numbers):
            return None
        values = tuple(n for n in numbers if n is not None)
    else:
        number = parse_value(value)
        if number is None or size != 1:
            return None
        values = (number,)
    label = str(equation.get("label", ""))
    return Claim(index, label, item, tuple(range(size)), values, verdict)


def agrees(written: Fraction, exact: Fraction) -> bool:
    """Does a written value stand for ``exact``: equal, or a decimal rounding of a value
    without a finite decimal, as the checker accepts it
    (:func:`symconv.check.match.is_rounding_of` with ``=``).

    Example:
        >>> agrees(Fraction("0.667"), Fraction(2, 3)), agrees(Fraction("1.56"), Fraction(25, 16))
        (True, False)
    """
    if written == exact:
        return True
    from sympy import Rational

    from symconv.check.match import is_rounding_of

    return bool(
        is_rounding_of(
            Rational(written.numerator, written.denominator),
            Rational(exact.numerator, exact.denominator),
            approx=False,
        )
    )


# ---------------------------------------------------------------------------------------
# scoring


@dataclass(frozen=True)
class EntryScore:
    """What one entry of an item earned (a fraction of the item's share per entry), the
    verdict that decided it (``missing`` when not stated), the deciding claim's label and
    written value, and whether it was credited as an error carried forward."""

    entry: int
    earned: Fraction
    verdict: str
    label: str | None = None
    written: Fraction | None = None
    expected: Fraction | None = None
    carried: bool = False
    notation: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain data (exact numbers as strings)."""
        return {
            "entry": self.entry,
            "earned": str(self.earned),
            "verdict": self.verdict,
            "label": self.label,
            "written": None if self.written is None else str(self.written),
            "expected": None if self.expected is None else str(self.expected),
            "carried": self.carried,
            "notation": self.notation,
        }


@dataclass(frozen=True)
class ItemScore:
    """An item's points (exact), its maximum, a sentence saying why, and its entries."""

    item: str
    points: Fraction
    max_points: Fraction
    why: str
    entries: tuple[EntryScore, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The record's item: ``{"item", "name", "points", "max_points", "why", "entries"}``,
        points as exact strings (:func:`show`: ``"1.5"``, ``"4/3"``)."""
        return {
            "item": self.item,
            "name": ITEM_NAMES[self.item],
            "points": show(self.points),
            "max_points": show(self.max_points),
            "why": self.why,
            "entries": [entry.to_dict() for entry in self.entries],
        }


def _entry_name(item: str, entry: int, size: int) -> str:
    name = ITEM_NAMES[item]
    return name if size == 1 else f"{name}_{entry + 1}"


def score_items(
    claims: Sequence[Claim],
    rubric: Rubric,
    truth: Mapping[str, Sequence[Fraction]],
    own: Mapping[str, Sequence[Fraction] | None],
    *,
    unread: Mapping[str, int] | None = None,
) -> list[ItemScore]:
    """Score every graded item that exists for the variant (see the module docstring).

    ``truth[item]`` holds the item's exact entries (flat; an item absent from ``truth``
    does not exist for the variant) and ``own[item]`` the entries recomputed from the
    student's own earlier values (None: the item has no earlier values, as ŷ).

    Example:
        >>> rubric = rubric_from_dict({"points": {"loss": 1}, "partial": {"carried": "1/2"}})
        >>> claim = Claim(0, "9a", "loss", (0,), (Fraction(212),), "incorrect")
        >>> [s.points for s in score_items([claim], rubric, {"loss": [200]}, {"loss": [212]})]
        [Fraction(1, 2)]
    """
    by_item: dict[str, list[Claim]] = {}
    for claim in claims:
        by_item.setdefault(claim.item, []).append(claim)
    scores: list[ItemScore] = []
    for item, points in rubric.points:
        if item not in truth:
            continue
        exact = [Fraction(v) for v in truth[item]]
        recomputed = own.get(item)
        entries = [
            _score_entry(item, entry, by_item.get(item, []), rubric, exact, recomputed)
            for entry in range(len(exact))
        ]
        earned = sum((e.earned for e in entries), Fraction(0))
        value = points * earned / len(exact) if exact else Fraction(0)
        scores.append(
            ItemScore(
                item=item,
                points=value,
                max_points=points,
                why=_why(item, entries, len(exact), (unread or {}).get(item, 0)),
                entries=tuple(entries),
            )
        )
    return scores


def _score_entry(
    item: str,
    entry: int,
    claims: Sequence[Claim],
    rubric: Rubric,
    exact: Sequence[Fraction],
    recomputed: Sequence[Fraction] | None,
) -> EntryScore:
    stated = [(c, c.values[c.entries.index(entry)]) for c in claims if entry in c.entries]
    if not stated:
        return EntryScore(entry, Fraction(0), "missing", expected=exact[entry])
    final, written = stated[-1]
    verdict = final.verdict
    if verdict == "incorrect" and len(final.entries) > 1 and agrees(written, exact[entry]):
        verdict = "correct"  # a vector judged wrong as a whole: this entry of it is right
    carried = False
    if verdict == "incorrect":
        carried = is_carried(written, exact[entry], recomputed, entry)
        part = rubric.carried if carried else Fraction(0)
    else:
        part = Fraction(1)
    notation = any(c.verdict == "notation" for c, _ in stated)
    earned = min(part, rubric.notation) if notation else part
    return EntryScore(
        entry,
        earned,
        verdict,
        label=final.label,
        written=written,
        expected=exact[entry],
        carried=carried,
        notation=notation,
    )


def _where(label: str | None) -> str:
    if not label:
        return ""
    return f" on {label}" if label.startswith("line ") else f" in ({label})"


def _why(item: str, entries: Sequence[EntryScore], size: int, unread: int) -> str:
    """What the entries earned and why, in a sentence or two."""
    notes: list[str] = []
    right = sum(1 for e in entries if e.verdict in ("correct", "notation"))
    missing = [e for e in entries if e.verdict == "missing"]
    loose = [e for e in entries if e.notation and e.verdict != "missing"]

    def names(group: Sequence[EntryScore]) -> str:
        if size > 1 and len(group) == size:
            return f"every entry of {ITEM_NAMES[item]}"
        return ", ".join(_entry_name(item, e.entry, size) for e in group)

    for e in entries:
        name = _entry_name(item, e.entry, size)
        written = show(e.written) if e.written is not None else "?"
        expected = show(e.expected) if e.expected is not None else "?"
        if e.carried:
            notes.append(
                f"{name}{_where(e.label)} = {written} is not the true value {expected}, but "
                "it follows from your earlier values (error carried forward)"
            )
        elif e.verdict == "incorrect":
            notes.append(f"{name}{_where(e.label)} = {written} is wrong; it is {expected}")
    if missing:
        notes.append(f"not stated: {names(missing)}")
        if unread:
            notes.append(f"{unread} equation(s) naming {ITEM_NAMES[item]} gave no number to grade")
    if loose:
        notes.append(f"{names(loose)}: the values are right, the notation is loose")
    forward = sum(1 for e in entries if e.carried)
    if size > 1:
        head = "every entry right" if right == size else f"{right} of {size} entries right"
        if forward:
            head += f", {forward} carried forward"
    else:
        head = "right" if right else ""
    return "; ".join(part for part in [head, *notes] if part)


def is_carried(
    written: Fraction, exact: Fraction, recomputed: Sequence[Fraction] | None, entry: int
) -> bool:
    """Is a written value an error carried forward: wrong (it does not agree with the
    truth ``exact``) but agreeing with the value recomputed from the student's own
    earlier values by :mod:`symconv.course.carried` (:func:`agrees`)?

    Example:
        >>> is_carried(Fraction(425, 2), Fraction(200), [Fraction(425, 2)], 0)
        True
    """
    if recomputed is None or agrees(written, exact):
        return False
    return agrees(written, Fraction(recomputed[entry]))
