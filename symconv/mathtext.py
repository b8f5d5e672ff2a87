"""Unicode math text: SymPy expressions and exact numbers as they read in a terminal.

``x1`` prints as ``x₁``, ``yhat2`` as ``ŷ₂``, products with ``·``, squares with ``²``,
sums as ``Σⱼ₌₁ᵏ``, ``floor`` as ``⌊…⌋``; numbers are exact (a decimal when it terminates,
else a fraction).  No numpy, torch or rich here.
"""

from __future__ import annotations

import re
from typing import Any

from sympy import Add, Expr, Indexed, Mul, Rational, Symbol
from sympy.printing.str import StrPrinter

__all__ = ["fmt", "fmt_factor", "math", "name", "sub", "sup"]

_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans(
    "0123456789+-=()abcdefghijklmnoprstuvwxyz",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ",
)
_SUBSCRIPTABLE = set("0123456789+-=()aehijklmnoprstuvx")
_SUPERSCRIPTABLE = set("0123456789+-=()abcdefghijklmnoprstuvwxyz")
_STEMS = (("yhat", "ŷ"), ("xpad", "x̃"))
_NAMED = re.compile(r"([A-Za-z]+)(\d+)")
# preferred order of terms inside a sum: the quantity before the target, the position
# before the offsets, positive before negative, constants last
_RANK = {
    name: rank
    for rank, name in enumerate(
        ["ŷ", "yhat", "w", "s", "i", "d", "j", "t", "q", "x", "y", "b", "p", "n", "k", "r"]
    )
}


def sub(text: str | int) -> str:
    """``text`` in subscript characters, or ``_{text}`` when some have none."""
    text = str(text)
    if set(text) <= _SUBSCRIPTABLE:
        return text.translate(_SUB)
    return "_{" + text + "}"


def sup(text: str | int) -> str:
    """``text`` in superscript characters, or ``^{text}`` when some have none."""
    text = str(text)
    if set(text) <= _SUPERSCRIPTABLE:
        return text.translate(_SUP)
    return "^{" + text + "}"


# a per-axis name of the closed form: j_1, n_2, p'_1 → j₁, n₂, p′₁
_PER_AXIS = re.compile(r"([A-Za-z]+'?)_([0-9])")


def name(raw: str) -> str:
    """A 1-based symbol name for people: ``x1`` → ``x₁``, ``yhat12`` → ``ŷ₁₂``."""
    match = _NAMED.fullmatch(raw) or _PER_AXIS.fullmatch(raw)
    stem, index = (match.group(1), match.group(2)) if match else (raw, "")
    for plain, pretty in _STEMS:
        if stem == plain:
            stem = pretty
    return stem + (sub(index) if index else "")


def _terminates(q: Rational) -> bool:
    denominator = int(q.q)
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def _decimal(q: Rational) -> str:
    """The exact decimal of a terminating rational (``39/25`` → ``1.56``)."""
    sign = "−" if q < 0 else ""
    numerator, denominator = abs(int(q.p)), int(q.q)
    # the denominator is 2^a·5^b: max(a, b) decimal places make it divide 10^places
    places = 0
    while 10**places % denominator:
        places += 1
    digits = str(numerator * 10**places // denominator).rjust(places + 1, "0")
    if places == 0:
        return sign + digits
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def fmt(value: Any, *, approx: bool = False) -> str:
    """An exact number as people write it: ``14``, ``1.56``, ``−0.5``, ``1/3``.

    A non-terminating fraction stays a fraction; with ``approx`` it gets ``≈ 0.3333``.
    """
    q = Rational(value)
    if q.is_Integer or _terminates(q):
        text = _decimal(q)
        if len(text) <= 24:
            return text
    sign = "−" if q < 0 else ""
    text = f"{sign}{abs(int(q.p))}/{int(q.q)}"
    if approx:
        text += f" ≈ {float(q):.6g}".replace("-", "−")
    return text


def fmt_factor(value: Any) -> str:
    """A number as a factor of a product: negatives and fractions in parentheses."""
    text = fmt(value)
    return f"({text})" if text.startswith("−") or "/" in text else text


class _UnicodePrinter(StrPrinter):  # type: ignore[misc]
    """SymPy's string printer with unicode names, sums, floors and term order.

    It prints ASCII minus signs (SymPy's printer relies on them to place signs);
    :func:`math` turns them into ``−`` at the end.
    """

    printmethod = "_symconv_unicode"  # not "_sympystr": Indexed would print itself

    def _print_Symbol(self, expr: Symbol) -> str:
        return name(expr.name)

    def _print_Indexed(self, expr: Any) -> str:
        stem = name(str(expr.base))
        if len(expr.indices) > 1:  # a multi-index: x̃[β, c, i₁ + j₁ − 1, …]
            return f"{stem}[{', '.join(self._print(index) for index in expr.indices)}]"
        index = expr.indices[0]
        text = self._print(index)
        if (index.is_Symbol or index.is_Integer) and set(text) <= _SUBSCRIPTABLE:
            return stem + sub(text)
        return f"{stem}[{text}]"

    def _print_IndexedBase(self, expr: Any) -> str:
        return name(str(expr.label))

    def _print_Rational(self, expr: Rational) -> str:
        if expr == Rational(1, 2):
            return "½"
        return f"{expr.p}/{expr.q}"

    def _print_Half(self, expr: Rational) -> str:
        return "½"

    def _print_floor(self, expr: Any) -> str:
        return f"⌊{self._print(expr.args[0])}⌋"

    def _print_Pow(self, expr: Any, rational: bool = False) -> str:
        base, exponent = expr.args
        if exponent.is_Integer and exponent > 0:
            base_text: str = self._print(base)
            if not (base.is_Symbol or base.is_Indexed):
                base_text = f"({base_text})"
            return base_text + sup(int(exponent))
        text: str = super()._print_Pow(expr, rational)
        return text

    def _print_Sum(self, expr: Any) -> str:
        body: str = self._print(expr.function)
        if isinstance(expr.function, Add):
            body = f"({body})"
        signs = []
        for variable, low, high in expr.limits:
            low_text, high_text = self._print(low), self._print(high)
            index = f"{self._print(variable)}={low_text}"
            if set(index) <= _SUBSCRIPTABLE and set(high_text) <= _SUPERSCRIPTABLE:
                signs.append("Σ" + sub(index) + sup(high_text))
            else:
                signs.append(f"Σ[{index}..{high_text}]")
        return " ".join(reversed(signs)) + " " + body

    def _print_Add(self, expr: Add, order: str | None = None) -> str:
        terms = sorted(expr.args, key=_term_key)
        text = ""
        for position, term in enumerate(terms):
            printed = self._print(term)
            if printed.startswith("-"):
                text += (" - " if position else "-") + printed[1:]
            else:
                text += (" + " if position else "") + printed
        return text

    def _print_Mul(self, expr: Mul) -> str:
        text: str = super()._print_Mul(expr)
        text = text.replace("*", "·")
        # a number or one-letter size times a bracket reads better without the dot: s(i − 1)
        text = re.sub(r"(?<![\w\]])([a-z0-9½])·\(", r"\1(", text)
        # and an integer coefficient times a letter: 2i, not 2·i
        return re.sub(r"(?<![\w.])(\d+)·(?=[^\W\d_])", r"\1", text)


def _term_key(term: Expr) -> tuple[int, int, int, str]:
    """Sort key for the terms of a sum (see ``_RANK``)."""
    coefficient, _ = term.as_coeff_Mul()
    negative = 1 if coefficient.is_number and coefficient < 0 else 0
    ranks = [_RANK.get(str(getattr(a, "label", a)), 99) for a in term.atoms(Symbol, Indexed)]
    return (1 if term.is_number else 0, negative, min(ranks, default=99), str(term))


_PRINTER = _UnicodePrinter({"order": "none"})


def math(expr: Any) -> str:
    """``expr`` as one line of unicode math.

    Example:
        >>> from sympy import symbols
        >>> a, b = symbols("yhat1 y1")
        >>> math((a - b) ** 2 / 2)
        '(ŷ₁ − y₁)²/2'
    """
    text: str = _PRINTER.doprint(expr)
    return text.replace("-", "−")
