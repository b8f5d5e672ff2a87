"""LaTeX-escaping of user text (titles, names, messages, labels).

Every character that TeX treats specially is replaced by a command that prints it, so
no user text can start a command, a group, a comment or math: ``\\input{/etc/passwd}``
prints as those characters.  Characters the T1 font encoding cannot print become ``?``.
"""

from __future__ import annotations

import re

__all__ = ["escape", "source_tex", "typeset", "written_tex"]

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
        if char == "-" and text[position : position + 1] == "-":
            out.append("-{}")  # not the -- ligature: "--bias" prints both hyphens
        elif char in _SPECIAL:
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


# ---------------------------------------------------------------------------------------
# messages: words as text, the unicode math in them (ŷ₂ − y₂, (3×1)·(1×3), ∂L/∂w, aᵀb)
# as math — italic variables and one minus sign, whether written − or -

_MATH_LETTERS = {
    "ŷ": r"\hat{y}",
    "x̃": r"\tilde{x}",
    "ğ": r"\breve{g}",
    "α": r"\alpha",
    "η": r"\eta",
    "δ": r"\delta",
    "Σ": r"\sum",
    "∇": r"\nabla",
    "L": r"\mathcal{L}",  # the loss, the only L of symconv's messages
}
_MATH_OPERATORS = {
    "+": "+",
    "−": "-",
    "-": "-",
    "·": r"\cdot ",
    "×": r"\times ",
    "/": "/",
    "=": "=",
    "≈": r"\approx ",
    "≠": r"\neq ",
    "≤": r"\le ",
    "≥": r"\ge ",
    "<": "<",
    ">": ">",
    "∂": r"\partial ",
    "∤": r"\nmid ",
    "⊤": r"^{\top}",
    "→": r"\to ",
}
_RELATIONS = {"=", "≈", "≠", "≤", "≥", "<", ">"}
# a letter standing alone that is always a symbol in symconv's messages (the quantities,
# sizes and indices, the letters students name outputs and indices with; not "a", "I" or
# an equation's letter "(a)" … "(f)")
_SYMBOL_LETTERS = frozenset("bwxygkmnpstdijhloqruvz")
_SCRIPT = "".join(_SUBSCRIPTS) + "".join(_SUPERSCRIPTS)
# a token: a variable (one letter, an accent, sub/superscripts), a number, a word, an
# operator, a bracket, a space run or any other character
_TOKEN = re.compile(
    r"(?P<var>(?<![A-Za-z0-9])(?:ŷ|x̃|ğ|[A-Za-zαηδΣ∇][\u0302\u0303\u0306]?)(?:["
    + _SCRIPT
    + r"]+|(?![A-Za-z0-9])))"
    r"|(?P<num>(?:(?<![A-Za-z])\d+(?:\.\d+)?(?:/\d+)?|½)[" + _SCRIPT + r"]*(?![A-Za-z]))"
    r"|(?P<word>[A-Za-zÀ-ÖØ-öø-ÿ'’]+(?:-[A-Za-zÀ-ÖØ-öø-ÿ]+)*)"
    r"|(?P<op>[+−\-·×/=≈≠≤≥<>∂∤⊤→])"
    r"|(?P<open>[(\[])|(?P<close>[)\]]["
    + _SCRIPT
    + r"]*)|(?P<comma>,)|(?P<space>\s+)|(?P<other>.)",
    re.DOTALL,
)


def _scripts(text: str) -> str:
    """Trailing sub/superscript characters as ``_{…}``/``^{…}`` (ᵀ as ``^{\\top}``)."""
    out = ""
    position = 0
    while position < len(text):
        kind = "_" if text[position] in _SUBSCRIPTS else "^"
        table = _SUBSCRIPTS if kind == "_" else _SUPERSCRIPTS
        run = ""
        while position < len(text) and text[position] in table:
            run += table[text[position]]
            position += 1
        run = run.replace("T", r"\top") if kind == "^" and run == "T" else run
        out += f"{kind}{{{run}}}"
    return out


def _math_token(kind: str, text: str) -> str:
    if kind == "var":
        stem = text.rstrip(_SCRIPT)
        if stem in _MATH_LETTERS:
            base = _MATH_LETTERS[stem]
        elif len(stem) == 2 and stem[1] in _ACCENTS:
            base = rf"\{_ACCENTS[stem[1]]}{{{stem[0]}}}"
        else:
            base = stem
        return base + _scripts(text[len(stem) :])
    if kind in ("num", "close"):
        stem = text.rstrip(_SCRIPT)
        stem = r"\tfrac{1}{2}" if stem == "½" else stem
        return stem + _scripts(text[len(stem) :])
    if kind == "op":
        return _MATH_OPERATORS[text]
    if kind == "comma":
        return ",\\allowbreak "
    if kind == "space":
        return " "
    return text  # a bracket


def typeset(text: str) -> str:
    r"""A message as LaTeX: its words escaped, its math set as math (italic variables,
    a true minus for both − and -), the last relation of each formula kept with what
    follows it, so that ``(= 12.8)`` never breaks after its ``=``.

    Example:
        >>> typeset("written ŷ₂ - y₂, expected 9")
        'written $\\hat{y}_{2} - y_{2}$, expected $9$'
    """
    tokens = [(match.lastgroup or "other", match.group()) for match in _TOKEN.finditer(text)]
    math = [False] * len(tokens)

    def neighbour(position: int, step: int) -> int | None:
        position += step
        while 0 <= position < len(tokens) and tokens[position][0] == "space":
            position += step
        return position if 0 <= position < len(tokens) else None

    def scripted(position: int) -> bool:
        kind, value = tokens[position]
        return kind == "var" and (
            value.rstrip(_SCRIPT) != value
            or (value in _MATH_LETTERS and value != "L")
            or any(accent in value for accent in _ACCENTS)
            or value in ("ŷ", "x̃", "ğ")
        )

    # seeds: numbers, scripted variables, ∂; then operators between math, bare letters
    # touching an operator, brackets and commas inside math, until nothing changes
    for position, (kind, value) in enumerate(tokens):
        math[position] = (
            kind == "num"
            or scripted(position)
            or value == "∂"
            or (kind == "var" and value in _SYMBOL_LETTERS)
        )
    changed = True
    while changed:
        changed = False
        for position, (kind, value) in enumerate(tokens):
            if math[position] or kind in ("space", "word", "other"):
                continue
            before, after = neighbour(position, -1), neighbour(position, 1)
            left = before is not None and math[before]
            right = after is not None and math[after]
            if kind == "op":
                # an operator or relation before math (x₁ + y₁, (= 12.8), −3); a hyphen
                # only with spaces between math (ŷ₁ - y₁) or as the sign of a number (-3)
                join = right
                spaced = (
                    0 < position < len(tokens) - 1
                    and tokens[position - 1][0] == "space"
                    and tokens[position + 1][0] == "space"
                )
                if value == "-" and left and not spaced:
                    join = False  # 16-32-64, a label: hyphens, not minus signs
                elif value == "-" and not left:
                    glued = position + 1 < len(tokens) and tokens[position + 1][0] == "num"
                    free = position == 0 or tokens[position - 1][0] in ("space", "open")
                    join = right and glued and free
                bare = [p for p in (before, after) if p is not None and tokens[p][0] == "var"]
                if len(bare) == 2 and value != "-":
                    join = True  # s ∤ t: an operator between two letters
            elif kind == "var":
                join = any(
                    p is not None and tokens[p][0] == "op" and math[p] for p in (before, after)
                ) or (
                    position > 0
                    and math[position - 1]
                    and tokens[position - 1][0] in ("var", "open")
                )
            elif kind == "open":
                # ğ[u], g[u/s + 1]: a bracket that closes, after math or before it
                glued = position > 0 and math[position - 1] and tokens[position - 1][0] == "var"
                join = (right or glued) and _closes(tokens, position)
            elif kind == "close":
                join = left and _opened(tokens, position, math)
            else:  # a comma between two pieces of math, (12, 16)
                join = left and right
            if join:
                math[position] = changed = True
    return _assemble(tokens, math)


def _closes(tokens: list[tuple[str, str]], position: int) -> bool:
    """Whether the bracket at ``position`` is closed later (then it may open math)."""
    depth = 0
    for kind, _ in tokens[position:]:
        depth += kind == "open"
        depth -= kind == "close"
        if depth == 0:
            return True
    return False


def _opened(tokens: list[tuple[str, str]], position: int, math: list[bool]) -> bool:
    """Whether the bracket closed at ``position`` was opened inside math."""
    depth = 0
    for back in range(position, -1, -1):
        kind = tokens[back][0]
        depth += kind == "close"
        depth -= kind == "open"
        if depth == 0:
            return math[back]
    return False


def _unmatched(items: list[tuple[str, str]]) -> list[int]:
    """The positions of the brackets in ``items`` without a partner among them."""
    opened: list[int] = []
    lone: list[int] = []
    for n, (kind, _) in enumerate(items):
        if kind == "open":
            opened.append(n)
        elif kind == "close":
            if opened:
                opened.pop()
            else:
                lone.append(n)
    return sorted(lone + opened)


def _assemble(tokens: list[tuple[str, str]], math: list[bool]) -> str:
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        items = list(run)
        run.clear()
        before, after = "", ""
        while items:
            while items and items[-1][0] == "space":
                after = items.pop()[1] + after
            while items and items[0][0] == "space":
                before += items.pop(0)[1]
            unmatched = _unmatched(items)
            if not unmatched:
                break
            # a bracket whose partner is not in this formula stays text: Conv(1 → 5, k4)
            if unmatched[0] == 0:
                before += items.pop(0)[1]
            elif unmatched[-1] == len(items) - 1:
                after = items.pop()[1] + after
            else:
                before += "".join(value for _, value in items)
                items = []
        out.append(_words(before))
        if items:
            body = [_math_token(kind, value) for kind, value in items]
            for n in range(1, len(items) - 1):  # ŷ₂ (= 20): the space before a bracket stays
                if (
                    items[n][0] == "space"
                    and items[n + 1][0] == "open"
                    and items[n - 1][0] in ("var", "num", "close")
                ):
                    body[n] = "\\ "
            last = max((n for n, (_, v) in enumerate(items) if v in _RELATIONS), default=None)
            if last is not None and last < len(items) - 1:
                body[last] += r"\nobreak "  # the last link stays with its equation
            out.append("$" + "".join(body).strip() + "$")
        out.append(_words(after))

    words = ""  # text between formulas, escaped as a whole (-- stays two hyphens)
    for (kind, value), is_math in zip(tokens, math):
        if is_math or (kind == "space" and run):
            if words:
                out.append(_words(words))
                words = ""
            run.append((kind, value))
        else:
            flush()
            words += value
    flush()
    out.append(_words(words))
    return "".join(out)


_OPTION = re.compile(r"(--[a-z][a-z-]*)")


def _words(text: str) -> str:
    """Words escaped, command-line options (``--bias``) in typewriter type."""
    return "".join(
        rf"\texttt{{{escape(part)}}}" if _OPTION.fullmatch(part) else escape(part)
        for part in _OPTION.split(text)
        if part
    )


# ---------------------------------------------------------------------------------------
# what a submission wrote: its LaTeX set as math when it uses only the usual commands

_SAFE_COMMANDS = frozenset(
    """hat tilde bar breve vec dot ddot check widehat widetilde overline underline mathbf
    mathcal mathrm mathit mathsf mathbb boldsymbol frac dfrac tfrac partial nabla cdot times
    ast star circ odot otimes oplus sum prod top intercal left right begin end ldots cdots
    vdots ddots dots quad qquad text sqrt log exp max min lfloor rfloor lceil rceil langle
    rangle lVert rVert Vert vert lvert rvert in le ge leq geq neq ne approx equiv sim to
    rightarrow leftarrow mapsto Rightarrow prime infty cdotp
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu
    xi pi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma
    Phi Psi Omega""".split()
)
_SAFE_ENVIRONMENTS = frozenset({"bmatrix", "pmatrix", "matrix", "vmatrix", "Bmatrix"})
_SAFE_SYMBOLS = frozenset(",;:! |{}")  # \, \; \: \! \  \| \{ \}
_LATEX_TOKEN = re.compile(r"\\([A-Za-z]+)|\\(.)|([{}])|([&#%$~^_])|([^\\{}&#%$~^_]+)", re.DOTALL)
_DOUBLE_SCRIPT = re.compile(r"([\^_])\s*(?:\{[^{}]*\}|\\[A-Za-z]+|[^\s{}\\])\s*\1")
# the widest unbreakable part of an equation set in the verdict table, in layout units
WRITTEN_UNITS = 56.0


def _safe_math(source: str) -> bool:
    """Whether ``source`` uses only the commands of :data:`_SAFE_COMMANDS`, balanced braces,
    matrices with their rows inside them and no double sub/superscripts: LaTeX that TeX
    sets as math without an error and that can do nothing else."""
    if not source.strip() or _DOUBLE_SCRIPT.search(source):
        return False
    if not all(" " <= char <= "~" for char in source):
        return False  # unicode in math mode stops TeX (ŷ written as such)
    if len(re.findall(r"\\left\b", source)) != len(re.findall(r"\\right\b", source)):
        return False
    depth = 0
    environments: list[str] = []
    position = 0
    for match in _LATEX_TOKEN.finditer(source):
        if match.start() != position:
            return False
        position = match.end()
        command, symbol, brace, special, _ = match.groups()
        if command is not None:
            if command not in _SAFE_COMMANDS:
                return False
            if command in ("begin", "end"):
                name = re.match(r"\{([A-Za-z]+)\}", source[position:])
                if name is None or name.group(1) not in _SAFE_ENVIRONMENTS:
                    return False
                if command == "begin":
                    environments.append(name.group(1))
                elif not environments or environments.pop() != name.group(1):
                    return False
        elif symbol is not None:
            if symbol == "\\":
                if not environments:
                    return False  # a row break outside a matrix
            elif symbol not in _SAFE_SYMBOLS:
                return False
        elif brace is not None:
            depth += 1 if brace == "{" else -1
            if depth < 0:
                return False
        elif special is not None:
            if special in "#%$~":
                return False
            if special == "&" and not environments:
                return False
    text_arguments = re.findall(r"\\text\s*\{([^{}]*)\}", source)
    if any(re.search(r"[^A-Za-z0-9 .,'-]", argument) for argument in text_arguments):
        return False
    return position == len(source) and depth == 0 and not environments


_GROUPING = re.compile(r"\\begin\{[A-Za-z]+\}|\\end\{[A-Za-z]+\}|\\left\b|\\right\b|\\.|[{}=+\-<>]")


def _widest_part(source: str) -> float:
    """The estimated width of the widest part of ``source`` between the places inline
    math may break (after a relation or a binary operator outside every group, matrix
    and ``\\left…\\right``)."""
    from symconv.latex.layout import width

    # a matrix is as wide as its widest row: each one, innermost first, becomes a
    # stand-in of that width
    innermost = re.compile(r"\\begin\{([A-Za-z]+)\}((?:(?!\\begin\{).)*?)\\end\{\1\}", re.DOTALL)
    while (found := innermost.search(source)) is not None:
        rows = found.group(2).split("\\\\")
        wide = max(sum(width(cell) + 1.6 for cell in row.split("&")) for row in rows)
        source = source[: found.start()] + "M" * round(wide) + source[found.end() :]
    parts, depth, start = [], 0, 0
    for match in _GROUPING.finditer(source):
        token = match.group()
        if token == "{" or token.startswith(("\\begin", "\\left")):
            depth += 1
        elif token == "}" or token.startswith(("\\end", "\\right")):
            depth -= 1
        elif depth == 0 and token in "=+-<>":
            parts.append(source[start : match.end()])
            start = match.end()
    parts.append(source[start:])
    return max((width(part) for part in parts), default=0.0)


def written_tex(source: str) -> str:
    r"""An equation as a submission wrote it: its LaTeX set as inline math when it is
    safe (:func:`_safe_math`) and narrow enough for the verdict table, else its source
    as typewriter text (escaped, so it can do nothing).

    Example:
        >>> written_tex(r"\hat{y}_1 = 14")
        '$\\hat{y}_1 = 14$'
        >>> written_tex(r"\input{x} = 1")
        '\\texttt{\\textbackslash{}input\\{x\\}\\allowbreak{} =\\allowbreak{} 1}'
    """
    source = " ".join(source.split())
    if _safe_math(source) and _widest_part(source) <= WRITTEN_UNITS:
        return f"${source}$"
    return source_tex(source)


def source_tex(source: str) -> str:
    r"""LaTeX source shown as typewriter text (escaped), which may break before each
    command and after each brace or operator, so that no long line runs out of its column.

    Example:
        >>> source_tex(r"\hat{y}_1=14")
        '\\texttt{\\textbackslash{}hat\\{y\\}\\allowbreak{}\\_1=\\allowbreak{}14}'
    """
    chunks = re.split(r"(?<=[}=+,])(?=.)|(?<=.)(?=\\)", source)
    return r"\texttt{" + r"\allowbreak{}".join(escape(chunk) for chunk in chunks) + "}"
