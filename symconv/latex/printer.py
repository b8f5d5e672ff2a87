"""SymPy expressions and exact numbers as LaTeX math.

``x1`` prints as ``x_{1}``, ``yhat2`` as ``\\hat{y}_{2}``, the closed form's bases ``x̃``,
``ŷ``, ``ğ`` as ``\\tilde{x}``, ``\\hat{y}``, ``\\breve{g}``, ``α`` as ``\\alpha``; products take
``\\cdot`` (as in the exercise) except inside indices; terms follow the reading order of
the terminal output (the quantity before the target, the position before the offsets).
Numbers are exact: a decimal when it terminates (``1.56``), else a fraction
(``\\frac{1}{3}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from sympy import Add, Expr, Indexed, Mul, Rational, Symbol
from sympy.printing.latex import LatexPrinter

__all__ = ["factor", "latex", "number", "symbol_name", "terms"]

# stems of symbol and IndexedBase names, as LaTeX
_STEMS = {
    "yhat": r"\hat{y}",
    "xpad": r"\tilde{x}",
    "x̃": r"\tilde{x}",
    "ŷ": r"\hat{y}",
    "ğ": r"\breve{g}",
    "α": r"\alpha",
    "β": r"\beta",
    "γ": r"\gamma",
    "κ": r"\kappa",
    "Γ_c": r"\Gamma_{c}",  # the channel groups of the closed form (symconv.worked)
    "Γ_γ": r"\Gamma_{\gamma}",
}
# the closed form's per-axis and channel names: j_1 → j_{1}, C_in → C_{\text{in}}
_SUBSCRIPTED = re.compile(r"([A-Za-z]+'?)_([0-9]+|[a-z]+)")
_NAMED = re.compile(r"([^\d]+)(\d+)")
# reading order of the letters inside a sum (see symconv.mathtext)
_RANK = {
    letter: rank
    for rank, letter in enumerate(
        [
            "α",
            "ŷ",
            "yhat",
            "w",
            "g",
            "ğ",
            "s",
            "i",
            "d",
            "j",
            "t",
            "q",
            "x",
            "y",
            "b",
            "n",
            "p",
            "k",
        ]
    )
}
_SIZE_LETTERS = set("nkspdmijtqr")
_DIGITS = re.compile(r"(\d+)")
_LONGEST_DECIMAL = 16


def symbol_name(raw: str) -> str:
    r"""The LaTeX of a symbol name: ``x1`` → ``x_{1}``, ``yhat12`` → ``\hat{y}_{12}``.

    Example:
        >>> symbol_name("yhat1")
        '\\hat{y}_{1}'
    """
    scripted = _SUBSCRIPTED.fullmatch(raw)
    if scripted:
        stem, index = scripted.group(1), scripted.group(2)
        return stem + (f"_{{{index}}}" if index.isdigit() else f"_{{\\text{{{index}}}}}")
    match = _NAMED.fullmatch(raw)
    stem, index = (match.group(1), match.group(2)) if match else (raw, "")
    stem = _STEMS.get(stem, stem)
    return stem + (f"_{{{index}}}" if index else "")


def _natural(text: str) -> list[Any]:
    """A sort key that orders ``w2`` before ``w10``."""
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(text)]


def _term_key(term: Expr) -> tuple[Any, ...]:
    coefficient, _ = term.as_coeff_Mul()
    negative = 1 if coefficient.is_number and coefficient < 0 else 0
    return (1 if term.is_number else 0, negative, _letter_rank(term), _natural(str(term)))


def _letter_rank(expr: Expr) -> int:
    ranks = [99]
    for atom in expr.atoms(Symbol, Indexed):
        label = str(getattr(atom, "label", atom))
        match = _NAMED.fullmatch(label)
        ranks.append(_RANK.get(match.group(1) if match else label, 99))
    return min(ranks)


def _factor_key(factor: Expr) -> tuple[Any, ...]:
    """Order of the factors of a product: α first, then by letter (ŷ before x, d before k)."""
    if isinstance(factor, Symbol) and factor.name == "α":
        return (0, 0, "")
    return (1, _letter_rank(factor), _natural(str(factor)))


def _is_size(expr: Expr) -> bool:
    """True for a size or index expression (s, d, k − 1, i), not a quantity."""
    return not expr.atoms(Indexed) and {str(a) for a in expr.free_symbols} <= _SIZE_LETTERS


def _terminating(q: Fraction) -> bool:
    denominator = q.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def number(value: Any) -> str:
    r"""An exact number as LaTeX: ``14``, ``1.56``, ``-0.5``, ``\frac{1}{3}``.

    Example:
        >>> number(Rational(39, 25)), number(Rational(-1, 3))
        ('1.56', '-\\frac{1}{3}')
    """
    q = Fraction(int(Rational(value).p), int(Rational(value).q))
    sign = "-" if q < 0 else ""
    q = abs(q)
    if q.denominator == 1:
        return f"{sign}{q.numerator}"
    if _terminating(q):
        places = 0
        scaled = q
        while scaled.denominator != 1:
            scaled *= 10
            places += 1
        digits = str(scaled.numerator).rjust(places + 1, "0")
        if len(digits) <= _LONGEST_DECIMAL:
            return f"{sign}{digits[:-places]}.{digits[-places:]}"
    return rf"{sign}\frac{{{q.numerator}}}{{{q.denominator}}}"


def factor(value: Any) -> str:
    r"""A number as a factor of a product: a negative one in parentheses.

    Example:
        >>> factor(-3)
        '\\left(-3\\right)'
    """
    text = number(value)
    return rf"\left({text}\right)" if text.startswith("-") else text


class _Printer(LatexPrinter):  # type: ignore[misc]
    """SymPy's LaTeX printer with symconv's names, exact decimals and term order.

    ``values`` maps symbols to numbers printed in their place (``ŷ₁ − y₁`` at the point
    ŷ₁ = 14, y₁ = 2 prints ``14 - 2``), for the unevaluated middle links of a chain.
    """

    printmethod = "_symconv_latex"

    def __init__(self, values: Mapping[Symbol, Any] | None = None, *, index: bool = False):
        super().__init__({"mul_symbol": None if index else "dot", "order": "none"})
        self.values = dict(values or {})
        self.index = index

    def _print_Symbol(self, expr: Symbol, style: str = "plain") -> str:
        if expr in self.values:
            return factor(self.values[expr])
        return symbol_name(expr.name)

    def _print_IndexedBase(self, expr: Any) -> str:
        return symbol_name(str(expr.label))

    def _print_Indexed(self, expr: Any) -> str:
        base = symbol_name(str(expr.base.label))
        printer = _Printer(index=True)
        index = ", ".join(printer.doprint(position) for position in expr.indices)
        return f"{base}_{{{index}}}"

    def _print_Rational(self, expr: Rational) -> str:
        if self.index or expr.q == 1:
            text: str = super()._print_Rational(expr)
            return text
        return number(expr)

    def _print_Mul(self, expr: Mul) -> str:
        coefficient, rest = expr.as_coeff_Mul()
        factors = Mul.make_args(rest)
        if self.index or any(f.is_Pow and f.exp.is_negative for f in factors):
            text: str = super()._print_Mul(expr)  # a quotient, or an index: SymPy's layout
            return text
        sign = "- " if coefficient < 0 else ""
        coefficient = abs(coefficient)
        # the number first, written next to what it multiplies (½(y − ŷ)², 2p); the
        # other factors joined by a dot, as in the exercise (w₁·x₁)
        body = ""
        previous: Expr | None = None
        for item in sorted(factors, key=_factor_key):
            item_text = self._print(item)
            if isinstance(item, Add):
                item_text = rf"\left({item_text}\right)"
            if previous is not None:
                # sizes are written side by side, d(k − 1); quantities with a dot
                body += " " if _is_size(previous) and _is_size(item) else r" \cdot "
            body += item_text
            previous = item
        if coefficient == 1:
            return sign + body
        if coefficient.is_Integer:
            return f"{sign}{coefficient} {body}"
        return rf"{sign}\frac{{{coefficient.p}}}{{{coefficient.q}}} {body}"

    def _as_ordered_terms(self, expr: Expr, order: str | None = None) -> list[Expr]:
        if isinstance(expr, Add):
            return sorted(expr.args, key=_term_key)
        terms: list[Expr] = super()._as_ordered_terms(expr, order=order)
        return terms


def latex(expr: Any, values: Mapping[Symbol, Any] | None = None) -> str:
    r"""``expr`` as LaTeX math (``values`` are written in place of their symbols).

    Example:
        >>> from sympy import symbols
        >>> yhat1, y1 = symbols("yhat1 y1")
        >>> latex(yhat1 - y1), latex(yhat1 - y1, {yhat1: 14, y1: 2})
        ('\\hat{y}_{1} - y_{1}', '14 - 2')
    """
    text: str = _Printer(values).doprint(expr)
    return text


def terms(expr: Expr, values: Mapping[Symbol, Any] | None = None) -> list[str]:
    r"""The terms of a sum as LaTeX, the second on with their sign (``+ w_{2} \cdot x_{2}``).

    A line of an equation may break between any two of them.
    """
    if not isinstance(expr, Add):
        return [latex(expr, values)]
    printer = _Printer(values)
    pieces: list[str] = []
    for position, term in enumerate(sorted(expr.args, key=_term_key)):
        sign = ""
        if position:
            sign = "+ "
            if term.could_extract_minus_sign():
                sign, term = "- ", -term
        text: str = printer.doprint(term)
        if isinstance(term, Add):
            text = rf"\left({text}\right)"
        pieces.append(sign + text)
    return pieces
