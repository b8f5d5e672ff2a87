"""LaTeX-escaping of user text (titles, names, messages, labels).

Every character that TeX treats specially is replaced by a command that prints it, so
no user text can start a command, a group, a comment or math: ``\\input{/etc/passwd}``
prints as those characters.  Characters the T1 font encoding cannot print become ``?``.
"""

from __future__ import annotations

__all__ = ["escape"]

# the ten special characters of LaTeX, each as text that prints it
_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "%": r"\%",
    "`": r"\textasciigrave{}",  # else T1 prints a curly quote
}

# typographic characters and the math letters symconv itself uses in names
_UNICODE = {
    "–": "--",
    "—": "---",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\dots{}",
    "×": r"\texttimes{}",
    "·": r"\textperiodcentered{}",
    "−": r"\textminus{}",
    "∂": r"\ensuremath{\partial}",
    "Σ": r"\ensuremath{\Sigma}",
    "α": r"\ensuremath{\alpha}",
    "ŷ": r"\ensuremath{\hat{y}}",
    "x̃": r"\ensuremath{\tilde{x}}",
    "✓": r"\ensuremath{\checkmark}",
    "✗": r"\ensuremath{\times}",
    "≈": r"\ensuremath{\approx}",
    "→": r"\ensuremath{\rightarrow}",
    "±": r"\ensuremath{\pm}",
    "≤": r"\ensuremath{\le}",
    "≥": r"\ensuremath{\ge}",
}

# sub- and superscript characters (the unicode math of symconv's messages: x₁, w⁽¹⁾, aᵀ)
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", "0123456789+-=()aehijklmnoprstuvx"))
_SUPERSCRIPTS = dict(
    zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵀᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ", "0123456789+-=()Tabcdefghijklmnoprstuvwxyz")
)
for _char, _plain in _SUBSCRIPTS.items():
    _UNICODE[_char] = rf"\textsubscript{{{_plain}}}"
for _char, _plain in _SUPERSCRIPTS.items():
    _UNICODE[_char] = rf"\textsuperscript{{{_plain}}}"
_UNICODE.update(
    {
        "ğ": r"\ensuremath{\breve{g}}",
        "⊤": r"\ensuremath{\top}",
        "∇": r"\ensuremath{\nabla}",
        "η": r"\ensuremath{\eta}",
        "δ": r"\ensuremath{\delta}",
        "⌊": r"\ensuremath{\lfloor}",
        "⌋": r"\ensuremath{\rfloor}",
        "≠": r"\ensuremath{\neq}",
        "∤": r"\ensuremath{\nmid}",
        "∘": r"\ensuremath{\circ}",
        "½": r"\ensuremath{\tfrac{1}{2}}",
    }
)
# a letter followed by a combining accent: ŷ as y + U+0302, x̃ as x + U+0303, ğ as g + U+0306
_ACCENTS = {"\u0302": "hat", "\u0303": "tilde", "\u0306": "breve"}

# characters that could combine with the next one into a ligature or a special quote
# are printed as they are: T1 has glyphs for < > | " and the hyphen.


def _printable(char: str) -> bool:
    """True for characters T1 + utf8 inputenc print: ASCII text and Latin-1 letters."""
    code = ord(char)
    return 0x20 <= code < 0x7F or 0xC0 <= code <= 0xFF or code in (0xA3, 0xA7, 0xA9, 0xAB, 0xBB)


def escape(text: str) -> str:
    r"""``text`` as LaTeX that prints it literally (one line; newlines become spaces).

    Example:
        >>> escape(r"50% of \input{x}")
        '50\\% of \\textbackslash{}input\\{x\\}'
    """
    out: list[str] = []
    position = 0
    while position < len(text):
        pair = text[position : position + 2]
        if pair in _UNICODE:  # x̃ is x + a combining tilde
            out.append(_UNICODE[pair])
            position += 2
            continue
        if len(pair) == 2 and pair[1] in _ACCENTS and pair[0].isascii() and pair[0].isalpha():
            out.append(rf"\ensuremath{{\{_ACCENTS[pair[1]]}{{{pair[0]}}}}}")
            position += 2
            continue
        char = text[position]
        position += 1
        if char in _SPECIAL:
            out.append(_SPECIAL[char])
        elif char in _UNICODE:
            out.append(_UNICODE[char])
        elif char in "\n\r\t\f\v":
            out.append(" ")
        elif _printable(char):
            out.append(char)
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or 0x300 <= ord(char) < 0x370:
            continue  # control characters and stray combining marks print nothing
        else:
            out.append("?")
    return "".join(out)
