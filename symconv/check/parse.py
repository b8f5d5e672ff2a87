"""Read one equation of LaTeX into a parse tree (the grammar is ``grammar.lark``).

Nothing here evaluates user text: the text is normalised with plain string rules, then
parsed by a lark LALR parser into a tree that :mod:`symconv.check.evaluate` turns into
SymPy objects node by node.  Limits on length, nesting and matrix size keep every
equation cheap to read (an equation beyond them is reported as unchecked, not parsed).

Example:
    >>> str(parse_equation(r"\\hat{y}_1 = w \\cdot x + b").data)
    'chain'
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

__all__ = ["MAX_CHARS", "MAX_DEPTH", "ParseFailure", "normalise", "parse_equation"]

MAX_CHARS = 6000  # longer equations are not read
MAX_DEPTH = 40  # deeper nesting of { ( [ is not read
MAX_CELLS = 2500  # matrix cells per equation
MAX_RAW_CHARS = 4 * MAX_CHARS  # raw text (spacing not yet removed) beyond this is not read


class ParseFailure(Exception):
    """The equation is outside the notation this checker reads (the reason is the text)."""


# spacing and sizing commands that carry no meaning
_DROP = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![A-Za-z])\.?"
    r"|\\(?:displaystyle|textstyle|limits|nolimits|nonumber|notag|quad|qquad|mathop|checkmark"
    r"|square|blacksquare|qed|,|;|:|!| )"
    r"|~"
)
_SYNONYMS = [
    (re.compile(r"\\partial(?=\s*+_)"), r"\\nabla"),  # ∂_w L is ∇_w L
    (re.compile(r"\^\s*+\{\s*+\+\s*+\}|\^\s*+\+"), "^{new}"),  # w^{+}: the updated w
    (re.compile(r"\\[dt]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\(?:intercal|mathsf\s*\{T\}|mathrm\s*\{T\}|text\s*\{T\}|mathsf\s*T)"), r"\\top"),
    (re.compile(r"\\(?:Vert|\|)"), "‖"),
    (re.compile(r"\|\|"), "‖"),
    (re.compile(r"\\(?:vert|mid)(?![A-Za-z])"), "|"),
    (re.compile(r"\\lVert(?![A-Za-z])"), "⟦"),
    (re.compile(r"\\rVert(?![A-Za-z])"), "⟧"),
    (re.compile(r"\\lvert(?![A-Za-z])"), "⟨"),
    (re.compile(r"\\rvert(?![A-Za-z])"), "⟩"),
    (re.compile(r"\\\{"), "("),
    (re.compile(r"\\\}"), ")"),
    (re.compile(r"\\(?:begin|end)\{(?:aligned|split|gathered)\}(?:\[[a-z]\])?"), ""),
]
_UNICODE = {
    "−": "-",
    "–": "-",
    "·": r"\cdot ",
    "⋅": r"\cdot ",
    "×": r"\times ",
    "α": r"\alpha ",
    "η": r"\eta ",
    "∂": r"\partial ",
    "∇": r"\nabla ",
    "Σ": r"\sum ",
    "∑": r"\sum ",
    "ŷ": r"\hat{y}",
    "ᵀ": r"^{\top}",
    "′": "'",
    "²": "^{2}",
    "≈": r"\approx ",
}
# what an equation says about itself, not a claim: a range (``, \\forall i``,
# ``, 0 \\le i < m``), a set (``\\in \\mathbb{R}^{n}``); and spellings to unify
_ANNOTATIONS = [
    (
        re.compile(r"\\in\s*+\\mathbb\s*+\{?\s*+R\s*+\}?(?:\s*+\^\s*+(?:\{[^{}]*+\}|\w))?+"),
        "",
    ),
    (re.compile(r"\\(mathbf|mathbb|boldsymbol|bm)\s*+1(?![\d.])"), r"\\\1{1}"),
    (
        re.compile(
            r"(\\(?:ast|star|circledast|otimes))\s*+_\s*+\{\s*+(?:\\(?:text|mathrm)\s*+\{)?"
            r"\s*+(?:full|valid|same)\s*+\}?\s*+\}"
        ),
        r"\1",
    ),
]
_FORALL = re.compile(r"\\forall(?![A-Za-z])")
_QUAD_TAIL = re.compile(r"(?:\\q?quad|\\[,;])\s*+[,;]?$")
_RANGE = re.compile(
    r"[,;]\s*+(?:\\q?quad\s*+)?+-?\d\s*+(?:\\leq?|<|\\leqslant)(?![A-Za-z])[^=,;]*+$"
)
_RANGE_TAIL = 120
_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


_NUMBER_LIST = re.compile(r"\s*-?(?:\d+(?:\.\d+)?|\.\d+)(?:\s+-?(?:\d+(?:\.\d+)?|\.\d+))+\s*")
_GAP = re.compile(r"\\(?:q?quad|;|:| )(?![A-Za-z])|~")


def _top_level_gaps(content: str) -> list[tuple[int, int]]:
    """Spacing commands (``\\;``, ``\\quad``…) of ``content`` outside braces and parentheses."""
    gaps: list[tuple[int, int]] = []
    depth = 0
    i = 0
    while i < len(content):
        char = content[i]
        if char in "{(":
            depth += 1
        elif char in "})":
            depth -= 1
        elif depth == 0 and (char == "\\" or char == "~"):
            found = _GAP.match(content, i)
            if found:
                gaps.append((i, found.end()))
                i = found.end()
                continue
            i += 2
            continue
        i += 1
    return gaps


def _bracket_list(match: re.Match[str]) -> str:
    """``[1 2 3]`` and ``[w_1 \\; w_2]``: a row written with spaces is a list of entries.

    Two numbers side by side are never a product, and a spacing command between the
    entries of a bracket marks columns; anything else stays as written.
    """
    content = match.group(1)
    if "," in content or "&" in content or "=" in content:
        return match.group(0)
    if _NUMBER_LIST.fullmatch(content):
        return "[" + ", ".join(content.split()) + "]"
    gaps = _top_level_gaps(content)
    if not gaps:
        return match.group(0)
    pieces: list[str] = []
    start = 0
    for begin, end in gaps:
        pieces.append(content[start:begin])
        start = end
    pieces.append(content[start:])
    pieces = [piece for piece in pieces if piece.strip()]
    if len(pieces) < 2:
        return match.group(0)
    return "[" + ", ".join(piece.strip() for piece in pieces) + "]"


_CASES_BEGIN = re.compile(r"\\begin\s*+\{(?:cases|dcases)\*?\}")
_CASES_END = re.compile(r"\\end\s*+\{(?:cases|dcases)\*?\}")
# the words of a condition ("if", "for", "when"): dropped; "otherwise", "else": a branch
_CONDITION_WORDS = re.compile(
    r"\\(?:text|mathrm|textrm|mbox)\s*+\{\s*+(?:if|for|when|where|for all|falls|wenn)?"
    r"\s*+[,.]?\s*+\}"
    r"|^\s*+(?:if|for|when)(?![A-Za-z])"
)
_OTHERWISE = re.compile(
    r"\\(?:text|mathrm|textrm|mbox)\s*+\{\s*+(?:otherwise|else|elsewhere|sonst)\s*+[,.]?\s*+\}"
    r"|^\s*+(?:otherwise|else)\s*+$"
)
# "x_t = 0 \text{ for } t < 0": a claim under a condition, a case distinction of one branch
_FOR_TAIL = re.compile(
    r"\\(?:text|mathrm)\s*+\{\s*+(?:for|if|when)\s*+\}(?P<cond>[^=&{}\\]*+(?:\\[a-z]+[^=&{}\\]*+)?)$"
)
_COMPARISON = re.compile(r"<|>|\\(?:le|leq|ge|geq|ne|neq|in|notin|leqslant|geqslant)(?![A-Za-z])")


def _punctuation_stripped(text: str) -> str:
    end = len(text)
    while end and (text[end - 1].isspace() or text[end - 1] in ",.;"):
        end -= 1
    return text[:end]


def _cases(text: str) -> str:
    """``\\begin{cases} v & \\text{if } c \\\\ u & \\text{otherwise.} \\end{cases}`` in the
    grammar's form: each row ``value & condition``, the condition's words and the
    punctuation dropped, "otherwise" as ``\\otherwise`` (one pass over the text: linear)."""
    tail = _FOR_TAIL.search(text, max(0, len(text) - _RANGE_TAIL))
    if tail is not None and _COMPARISON.search(tail.group("cond")):
        head = text[: tail.start()]
        cut = head.rfind("=")
        if cut > 0 and "&" not in head:
            condition = _punctuation_stripped(tail.group("cond"))
            text = (
                f"{head[: cut + 1]} \\begin{{cases}} {_punctuation_stripped(head[cut + 1 :])}"
                f" & {condition} \\end{{cases}}"
            )
    pieces: list[str] = []
    position = 0
    while True:
        begin = _CASES_BEGIN.search(text, position)
        if begin is None:
            break
        end = _CASES_END.search(text, begin.end())
        if end is None:
            break
        rows = []
        for row in text[begin.end() : end.start()].split("\\\\"):
            if not row.strip():
                continue
            value, amp, condition = row.partition("&")
            condition = _punctuation_stripped(condition)
            if _OTHERWISE.search(condition):
                condition = "\\otherwise"
            else:
                condition = _CONDITION_WORDS.sub(" ", condition).strip()
            rows.append(f"{_punctuation_stripped(value)} {amp} {condition}")
        pieces.append(text[position : begin.start()])
        pieces.append("\\begin{cases} " + " \\\\ ".join(rows) + " \\end{cases}")
        position = end.end()
    pieces.append(text[position:])
    return "".join(pieces)


def normalise(text: str) -> str:
    """The equation with spacing removed, synonyms unified and norm bars paired.

    ``||a||``, ``\\|a\\|`` and ``\\lVert a \\rVert`` all become ``\\lVert a \\rVert``;
    ``|a|`` becomes ``\\lvert a \\rvert`` (bars alternate open, close).
    """
    if "cases" in text or "\\text" in text:
        text = _cases(text)
    forall = _FORALL.search(text)
    if forall:
        # "…, \\forall i": the range of a claim, not part of it
        text = _QUAD_TAIL.sub("", text[: forall.start()].rstrip(" ,;"))
    for pattern, replacement in _ANNOTATIONS:
        text = pattern.sub(replacement, text)
    # ", 0 \\le i < m" at the end (read in the last characters only: linear)
    tail = len(text) - _RANGE_TAIL
    found = _RANGE.search(text, max(tail, 0))
    if found:
        text = text[: found.start()]
    for char, replacement in _UNICODE.items():
        text = text.replace(char, replacement)
    text = re.sub(
        r"[₀₁₂₃₄₅₆₇₈₉]+", lambda m: "_{" + m.group(0).translate(_SUBSCRIPT_DIGITS) + "}", text
    )
    text = text.replace("\\\\", "\x00")  # keep row breaks apart from control spaces
    text = re.sub(r"\\(?:left|bigl|Bigl|biggl|Biggl|big|Big)\s*\[", "[", text)
    text = re.sub(r"\\(?:right|bigr|Bigr|biggr|Biggr|big|Big)\s*\]", "]", text)
    text = re.sub(r"(?<!\\)\[([^\[\]]*)\]", _bracket_list, text)
    text = _DROP.sub(" ", text).replace("\x00", " \\\\ ")
    for pattern, replacement in _SYNONYMS:
        text = pattern.sub(replacement, text)
    # pair the bars: a bar opens, the next one closes (norms and absolute values do not nest)
    out: list[str] = []
    open_norm = open_abs = False
    for char in text:
        if char == "‖":
            out.append(r"\rVert " if open_norm else r"\lVert ")
            open_norm = not open_norm
        elif char == "|":
            out.append(r"\rvert " if open_abs else r"\lvert ")
            open_abs = not open_abs
        elif char == "⟦":
            out.append(r"\lVert ")
        elif char == "⟧":
            out.append(r"\rVert ")
        elif char == "⟨":
            out.append(r"\lvert ")
        elif char == "⟩":
            out.append(r"\rvert ")
        else:
            out.append(char)
    text = "".join(out).strip()
    # trailing punctuation of the sentence the equation ends (a scan from the end: a
    # regex anchored at `$` would retry from every start of a long run, quadratic)
    end = len(text)
    while end and (text[end - 1].isspace() or text[end - 1] in ",.;"):
        end -= 1
    return text[:end]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("symconv.check").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", maybe_placeholders=False)


def _depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth -= 1
    return deepest


def parse_equation(text: str) -> Tree[Token]:
    """Parse one (normalised or raw) equation ``a = b = …`` into a ``chain`` tree.

    Raises :class:`ParseFailure` with a short reason for text outside the notation or
    beyond the limits.
    """
    if len(text) > MAX_RAW_CHARS:  # before any rule reads it
        raise ParseFailure(f"too long to read ({len(text)} characters, limit {MAX_CHARS})")
    text = normalise(text)
    if not text:
        raise ParseFailure("empty equation")
    if len(text) > MAX_CHARS:
        raise ParseFailure(f"too long to read ({len(text)} characters, limit {MAX_CHARS})")
    if _depth(text) > MAX_DEPTH:
        raise ParseFailure(f"nested deeper than {MAX_DEPTH} levels")
    if text.count("&") + text.count(r"\\") > MAX_CELLS:
        raise ParseFailure(f"a matrix with more than {MAX_CELLS} cells")
    try:
        tree: Tree[Token] = _parser().parse(text)
    except LarkError as exc:
        raise ParseFailure(_describe(exc, text)) from None
    except RecursionError:
        raise ParseFailure("nested too deeply") from None
    if tree.data != "chain":  # a single side still reads as a chain of one
        tree = Tree("chain", [tree])
    return tree


def _describe(exc: LarkError, text: str) -> str:
    """A one-line reason for a parse error, quoting the text around its position."""
    position = getattr(exc, "pos_in_stream", None)
    if position is None:
        position = getattr(exc, "column", 1) - 1
    position = max(0, min(int(position), len(text)))
    around = text[max(0, position - 12) : position + 12].replace("\n", " ")
    return f"cannot read the notation near `{around}`"
