"""Per-student feedback of ``symconv grade``: an HTML page and a PDF.

Each page shows the student, the variant and the points (per rubric item and in total),
then every equation the checker found: where it is, the equation typeset, the verdict (a
word and a mark, not only a colour), the checker's message, the diagnosis and the expected
value.  A submission that is missing, unreadable or whose grading failed gets a page that
says so and why.

The student's LaTeX is untrusted.  It is typeset only when :func:`safe_math` accepts it:
every token is a letter, a digit, an operator or a whitelisted math command (what the
checker's grammar ``symconv/check/grammar.lark`` reads, plus spacing, delimiters and a few
symbols), braces, ``\\left``/``\\right`` and environments are balanced, and every script
and command has its argument.  Anything else is shown as its source, escaped.  In the HTML
the MathML of ``latex2mathml`` is parsed back and rebuilt from a whitelist of elements and
attributes, so no markup of the student's reaches the page, and the page itself loads
nothing (its Content-Security-Policy forbids scripts and remote content).  In the PDF, an
equation that still makes TeX fail is shown as source and the document compiled again.

Sizes are bounded: at most :data:`MAX_EQUATIONS` equations, :data:`MAX_SOURCE_CHARS`
characters of each equation's source and :data:`MAX_TEXT_CHARS` of each message; the pages
say what they leave out.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from symconv.errors import SymconvError, TexError
from symconv.latex.compiler import compile_tex
from symconv.latex.escape import escape
from symconv.latex.report import safe_stem, write_atomic

__all__ = [
    "MAX_EQUATIONS",
    "MAX_SOURCE_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_TYPESET_CHARS",
    "SafeMath",
    "feedback_stem",
    "points_text",
    "render_html",
    "render_tex",
    "safe_math",
    "write_feedback",
]

MAX_EQUATIONS = 200  # equations shown per student (the rest are counted)
MAX_SOURCE_CHARS = 1500  # characters of an equation's LaTeX shown as source
MAX_TYPESET_CHARS = 1500  # longer equations are shown as source only
MAX_TEXT_CHARS = 2000  # characters of a message, diagnosis, expected value or error
MAX_ITEMS = 100  # rubric items shown
_MAX_DEPTH = 40  # nesting of groups, environments and \left … \right
_TEX_RETRIES = 2  # equations set as source, one by one, before all of them are

# ---------------------------------------------------------------------------------------
# the whitelist of the student's LaTeX

_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu "
    "xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta "
    "Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell"
)
_OPERATORS = (
    "cdot times ast star circledast otimes odot circ bullet pm mp div setminus oplus bmod cap "
    "cup wedge vee"
)
# the checker's relations (grammar.lark REL) come first: an equation is split at them
_SPLIT_RELATIONS = frozenset(r"\coloneqq \approx \equiv \leftarrow \gets \longleftarrow".split())
_RELATIONS = (
    "coloneqq eqqcolon approx equiv leftarrow gets longleftarrow rightarrow to longrightarrow "
    "mapsto Rightarrow Leftarrow Leftrightarrow iff implies le leq ge geq leqslant geqslant ne "
    "neq ll gg sim simeq cong propto in notin ni subset subseteq supset supseteq perp parallel mid"
)
_MISC = (
    "partial nabla infty top bot intercal prime emptyset forall exists neg lnot ldots cdots dots "
    "vdots ddots dotsc dotsb dotsm hbar imath jmath Re Im aleph checkmark square blacksquare "
    "triangle angle lfloor rfloor lceil rceil lvert rvert lVert rVert vert Vert langle rangle "
    "sin cos tan exp log ln max min sup inf lim arg det dim ker tanh quad qquad displaystyle "
    "textstyle scriptstyle"
)
_SYMBOLS = frozenset("\\" + name for name in f"{_GREEK} {_OPERATORS} {_RELATIONS} {_MISC}".split())
_LARGE_OPERATORS = frozenset(r"\sum \prod \int \oint \bigcup \bigcap \coprod".split())
_LIMITS = frozenset({r"\limits", r"\nolimits"})
_ONE_ARGUMENT = frozenset(
    "\\" + name
    for name in (
        "hat widehat tilde widetilde bar overline underline vec dot ddot check breve acute grave "
        "mathring overrightarrow mathbf boldsymbol bm mathbfit pmb mathbb mathcal mathscr mathrm "
        "mathit mathsf mathtt mathfrak operatorname pmod underbrace overbrace"
    ).split()
)
_TWO_ARGUMENTS = frozenset(r"\frac \dfrac \tfrac \binom \dbinom \tbinom".split())
_TEXT_COMMANDS = frozenset(r"\text \textrm \textit \textbf \textsf \texttt \textnormal".split())
_TEXT_CHARS = re.compile(r"[A-Za-z0-9 ,.;:!?'()/+=-]*\Z")
_SIZES = frozenset(
    "\\" + name
    for name in (
        "big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr bigm Bigm biggm Biggm"
    ).split()
)
_DELIMITERS = frozenset(
    "( ) [ ] | . / \\{ \\} \\| \\langle \\rangle \\lvert \\rvert \\lVert \\rVert \\vert \\Vert "
    "\\lfloor \\rfloor \\lceil \\rceil".split()
)
_CONTROL_SYMBOLS = frozenset({r"\,", r"\;", r"\:", r"\!", "\\ ", r"\{", r"\}", r"\|"})
_ENVIRONMENTS = frozenset(
    "matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix matrix* pmatrix* bmatrix* Bmatrix* "
    "vmatrix* Vmatrix* smallmatrix array aligned gathered cases".split()
)
# cells per row: a matrix has MaxMatrixCols (set in the PDF's preamble), aligned any number
_MAX_MATRIX_COLUMNS = 50
_COLUMNS: dict[str, int | None] = {"aligned": None, "gathered": 1, "cases": 2}
_PUNCTUATION = frozenset("+-*/=()[]<>|,.;:!?~")
# unicode the checker reads (parse.py) and a few more, as the commands that typeset them
_UNICODE_MATH = {
    "−": "-",
    "–": "-",
    "·": r"\cdot ",
    "⋅": r"\cdot ",
    "×": r"\times ",
    "∗": r"\ast ",
    "⊛": r"\circledast ",
    "⊗": r"\otimes ",
    "⊙": r"\odot ",
    "∘": r"\circ ",
    "∂": r"\partial ",
    "∇": r"\nabla ",
    "Σ": r"\sum ",
    "∑": r"\sum ",
    "ŷ": r"\hat{y}",
    "ᵀ": r"^{\top}",
    "⊤": r"\top ",
    "′": "'",
    "²": "^{2}",
    "≈": r"\approx ",
    "≤": r"\le ",
    "≥": r"\ge ",
    "≠": r"\ne ",
    "∈": r"\in ",
    "ℝ": r"\mathbb{R}",
    "‖": r"\| ",
    "…": r"\dots ",
    "⋯": r"\cdots ",
    "α": r"\alpha ",
    "β": r"\beta ",
    "γ": r"\gamma ",
    "δ": r"\delta ",
    "ε": r"\varepsilon ",
    "η": r"\eta ",
    "θ": r"\theta ",
    "λ": r"\lambda ",
    "μ": r"\mu ",
    "ρ": r"\rho ",
    "σ": r"\sigma ",
    "τ": r"\tau ",
    "φ": r"\varphi ",
    "ω": r"\omega ",
    "Δ": r"\Delta ",
}
_SUBSCRIPT_RUN = re.compile("[₀₁₂₃₄₅₆₇₈₉]+")
_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\\|\s+|.", re.DOTALL)


class _Unsafe(Exception):
    """The text is outside the whitelist (or would make TeX fail)."""


@dataclass(frozen=True)
class SafeMath:
    """LaTeX that :func:`safe_math` accepted: ``text`` (unicode spelled as commands, spacing
    collapsed) and its ``pieces``, the sides of the equation with the relation that
    starts each (``["a", "= b", "= c"]``; one piece when it is not split)."""

    text: str
    pieces: tuple[str, ...]
    aligned: bool = False  # a top-level & or row break: the text has rows of its own


def _translate(text: str) -> str:
    """``text`` with the unicode math the checker reads spelled as LaTeX commands."""
    text = text.replace("y\u0302", r"\hat{y}")
    text = _SUBSCRIPT_RUN.sub(lambda m: "_{" + m.group(0).translate(_SUBSCRIPT_DIGITS) + "}", text)
    return "".join(_UNICODE_MATH.get(char, char) for char in text)


class _Reader:
    """A recursive-descent reader of the whitelisted math: raises :class:`_Unsafe`."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0
        self.splits: list[int] = []  # token indices of top-level relations
        self.aligned = False  # a top-level & or \\ (the text is its own alignment)

    # the tokens, spacing skipped
    def peek(self, ahead: int = 0) -> str | None:
        index = self.position
        while index < len(self.tokens):
            if not self.tokens[index].isspace():
                if ahead == 0:
                    return self.tokens[index]
                ahead -= 1
            index += 1
        return None

    def take(self) -> str:
        while self.position < len(self.tokens) and self.tokens[self.position].isspace():
            self.position += 1
        if self.position >= len(self.tokens):
            raise _Unsafe("ends too early")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expect(self, token: str) -> None:
        if self.take() != token:
            raise _Unsafe(f"expected {token}")

    def _index(self) -> int:
        index = self.position
        while index < len(self.tokens) and self.tokens[index].isspace():
            index += 1
        return index

    # the grammar
    def sequence(self, context: str, columns: int | None = None) -> None:
        """Items until the end of ``context``: top (the end), group (``}``), env
        (``\\end``), left (``\\right``) or bracket (``]``).  ``columns``: the most
        cells a row of the environment may have (None: any number)."""
        ends = {"top": None, "group": "}", "env": r"\end", "left": r"\right", "bracket": "]"}
        end = ends[context]
        cells = 1
        while True:
            token = self.peek()
            if token == end:
                return
            if token is None or token in ("}", r"\end", r"\right"):
                raise _Unsafe("unbalanced")
            if token in ("&", r"\\"):
                if context not in ("top", "env"):
                    raise _Unsafe("alignment inside a group")
                self.take()
                if token == r"\\" and self.peek() in ("[", "*"):
                    raise _Unsafe(r"\\ with an option")
                cells = 1 if token == r"\\" else cells + 1
                if columns is not None and cells > columns:
                    raise _Unsafe("more cells than the environment has columns")
                self.aligned = self.aligned or context == "top"
                continue
            if context == "top" and (token == "=" or token in _SPLIT_RELATIONS):
                self.splits.append(self._index())
            self.item()

    def item(self) -> None:
        if self.peek() not in ("^", "_", "'"):
            self.atom()
        self.scripts()

    def scripts(self) -> None:
        sub = sup = False
        while True:
            token = self.peek()
            if token == "'":
                if sup:
                    raise _Unsafe("double superscript")
                self.take()
            elif token == "^":
                if sup:
                    raise _Unsafe("double superscript")
                sup = True
                self.take()
                if self.peek() == "^":
                    raise _Unsafe("^^")  # TeX's ^^5c is a backslash
                self.argument()
            elif token == "_":
                if sub:
                    raise _Unsafe("double subscript")
                sub = True
                self.take()
                self.argument()
            else:
                return

    def argument(self) -> None:
        """One token (a letter, a digit, a symbol) or a braced group."""
        token = self.peek()
        if token == "{":
            self.group()
        elif token is not None and (token.isascii() and token.isalnum() and len(token) == 1):
            self.take()
        elif token in _SYMBOLS or token in _CONTROL_SYMBOLS:
            self.take()
        else:
            raise _Unsafe("missing argument")

    def group(self) -> None:
        self.expect("{")
        self.nested("group")
        self.expect("}")

    def nested(self, context: str, columns: int | None = None) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Unsafe("nested too deeply")
        self.sequence(context, columns)
        self.depth -= 1

    def atom(self) -> None:
        token = self.peek()
        if token == "{":
            self.group()
            return
        token = self.take()
        if len(token) == 1 and ((token.isascii() and token.isalnum()) or token in _PUNCTUATION):
            return
        if token in _SYMBOLS or token in _CONTROL_SYMBOLS:
            return
        if token in _LARGE_OPERATORS:
            if self.peek() in _LIMITS:
                self.take()
            return
        if token in _ONE_ARGUMENT:
            self.argument()
        elif token in _TWO_ARGUMENTS:
            self.argument()
            self.argument()
        elif token == r"\sqrt":
            if self.peek() == "[":
                self.take()
                self.nested("bracket")
                self.expect("]")
            self.argument()
        elif token in _TEXT_COMMANDS:
            self.text_argument()
        elif token == r"\left":
            self.delimiter()
            self.nested("left")
            self.expect(r"\right")
            self.delimiter()
        elif token in _SIZES:
            self.delimiter()
        elif token == r"\begin":
            self.environment()
        else:
            raise _Unsafe(f"not on the whitelist: {token}")

    def text_argument(self) -> None:
        self.expect("{")
        start = self.position
        while self.position < len(self.tokens) and self.tokens[self.position] != "}":
            self.position += 1
        if self.position >= len(self.tokens):
            raise _Unsafe("unbalanced")
        if not _TEXT_CHARS.match("".join(self.tokens[start : self.position])):
            raise _Unsafe("text beyond the whitelist")
        self.position += 1

    def delimiter(self) -> None:
        if self.take() not in _DELIMITERS:
            raise _Unsafe("not a delimiter")

    def name(self) -> str:
        self.expect("{")
        parts: list[str] = []
        while self.peek() not in ("}", None):
            parts.append(self.take())
        self.expect("}")
        return "".join(parts)

    def environment(self) -> None:
        name = self.name()
        if name not in _ENVIRONMENTS:
            raise _Unsafe(f"environment {name}")
        columns = _COLUMNS.get(name, _MAX_MATRIX_COLUMNS)
        if name == "array":
            spec = self.name()
            if not re.fullmatch(r"[lcr|]{1,50}", spec):
                raise _Unsafe("array columns")
            columns = len(spec.replace("|", ""))
        elif (name.endswith("*") or name in ("aligned", "gathered")) and self.peek() == "[":
            self.take()
            if self.take() not in ("l", "c", "r", "t", "b") or self.take() != "]":
                raise _Unsafe("environment option")
        self.nested("env", columns)
        self.expect(r"\end")
        if self.name() != name:
            raise _Unsafe("environments do not match")


def safe_math(latex: str) -> SafeMath | None:
    r"""``latex`` made of whitelisted math only (then safe to give to TeX and to
    latex2mathml), split at its top-level relations; None for anything else: an unknown
    command (``\input``, ``\def``), ``$``, ``%``, ``#``, ``^^``, unbalanced braces or
    environments, a missing argument, more than :data:`MAX_TYPESET_CHARS` characters.

    Example:
        >>> safe_math(r"\hat{y}_1 = w \cdot x + b = 14").pieces
        ('\\hat{y}_1', '= w \\cdot x + b', '= 14')
        >>> safe_math(r"\input{/etc/passwd}") is None
        True
    """
    if len(latex) > MAX_TYPESET_CHARS:
        return None
    text = _translate(latex)
    tokens = [" " if token.isspace() else token for token in _TOKEN.findall(text)]
    if any(not token.isascii() for token in tokens):
        return None
    reader = _Reader(tokens)
    try:
        reader.sequence("top")
    except (_Unsafe, RecursionError):
        return None
    joined = "".join(tokens).strip()
    if not joined:
        return None
    if reader.aligned:
        return SafeMath(joined, (joined,), aligned=True)
    cuts = [0, *reader.splits, len(tokens)]
    pieces = tuple("".join(tokens[a:b]).strip() for a, b in itertools.pairwise(cuts))
    if not all(pieces):
        return SafeMath(joined, (joined,))  # "= b" with nothing on the left
    return SafeMath(joined, pieces)


# ---------------------------------------------------------------------------------------
# the feedback, read from the grader's result (untrusted strings, any shape)


@dataclass(frozen=True)
class _Equation:
    label: str
    line: str
    verdict: str
    message: str
    diagnosis: str
    expected: str
    reason: str
    latex: str  # as written, at most MAX_SOURCE_CHARS
    cut: int  # characters of the source not shown
    math: SafeMath | None
    sides: dict[int, str]  # side number (2 = the first right side) -> its verdict


@dataclass(frozen=True)
class _Item:
    item: str
    points: str
    max_points: str
    why: str


@dataclass
class _Page:
    student: str
    variant: str
    status: str
    points: str
    max_points: str
    file: str = ""
    title: str = ""
    error: str = ""
    failure: str = ""
    items: list[_Item] = field(default_factory=list)
    hidden_items: int = 0
    equations: list[_Equation] = field(default_factory=list)
    hidden: int = 0
    summary: dict[str, int] = field(default_factory=dict)


def _text(value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """``value`` as one bounded string ("" for None); the cut is said."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        return f"{text[:limit]} … ({len(text) - limit} more characters not shown)"
    return text


def _sides(links: Any) -> dict[int, str]:
    sides: dict[int, str] = {}
    if isinstance(links, Sequence) and not isinstance(links, str):
        for link in links[:50]:
            if isinstance(link, Mapping) and isinstance(link.get("side"), int):
                sides[int(link["side"])] = _text(link.get("verdict"), 40)
    return sides


def _equation(raw: Mapping[str, Any]) -> _Equation:
    source = raw.get("latex")
    source = source if isinstance(source, str) else ""
    return _Equation(
        label=_text(raw.get("label"), 80),
        line=_text(raw.get("line"), 20),
        verdict=_text(raw.get("verdict"), 40),
        message=_text(raw.get("message")),
        diagnosis=_text(raw.get("diagnosis")),
        expected=_text(raw.get("expected")),
        reason=_text(raw.get("reason"), 200),
        latex=source[:MAX_SOURCE_CHARS],
        cut=max(0, len(source) - MAX_SOURCE_CHARS),
        math=safe_math(source),
        sides=_sides(raw.get("links")),
    )


def _page(result: Mapping[str, Any]) -> _Page:
    page = _Page(
        student=_text(result.get("student"), 200),
        variant=_text(result.get("variant"), 200),
        status=_text(result.get("status"), 40) or "graded",
        points=_text(result.get("points"), 40),
        max_points=_text(result.get("max_points"), 40),
        error=_text(result.get("error")),
    )
    items = result.get("items")
    if isinstance(items, Sequence) and not isinstance(items, str):
        rows = [item for item in items if isinstance(item, Mapping)]
        page.items = [
            _Item(
                _text(row.get("item"), 80),
                _text(row.get("points"), 40),
                _text(row.get("max_points"), 40),
                _text(row.get("why"), 500),
            )
            for row in rows[:MAX_ITEMS]
        ]
        page.hidden_items = max(0, len(rows) - MAX_ITEMS)
    check = result.get("check")
    if isinstance(check, Mapping):
        page.file = _text(check.get("file"), 300)
        problem = check.get("problem")
        if isinstance(problem, Mapping):
            page.title = _text(problem.get("title"), 200)
        failure = check.get("failure")
        if isinstance(failure, Mapping):
            page.failure = _text(failure.get("message") or failure.get("reason"))
        elif check.get("note"):
            page.failure = _text(check.get("note"))
        equations = check.get("equations")
        if isinstance(equations, Sequence) and not isinstance(equations, str):
            rows = [eq for eq in equations if isinstance(eq, Mapping)]
            page.equations = [_equation(eq) for eq in rows[:MAX_EQUATIONS]]
            page.hidden = max(0, len(rows) - MAX_EQUATIONS)
        summary = check.get("summary")
        if isinstance(summary, Mapping):
            page.summary = {
                _text(key, 40): int(value)
                for key, value in list(summary.items())[:10]
                if isinstance(value, int) and not isinstance(value, bool)
            }
    return page


def points_text(value: str) -> str:
    """Exact points for people: ``"7/2"`` → ``"3.5"``, ``"1/3"`` stays, ``"3.50"`` → ``"3.5"``;
    text that is not a number is returned as it is.

    Example:
        >>> points_text("7/2"), points_text("1/3"), points_text("10"), points_text("n/a")
        ('3.5', '1/3', '10', 'n/a')
    """
    if not re.fullmatch(r"\s*-?\d{1,30}(\.\d{1,30})?(/\d{1,30})?\s*", value):
        return value
    try:
        number = Fraction(value.strip())
    except (ValueError, ZeroDivisionError):
        return value
    denominator = number.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{number.numerator}/{number.denominator}"
    decimal = Decimal(number.numerator) / Decimal(number.denominator)
    text = format(decimal.normalize(), "f")
    return text if text != "-0" else "0"


def feedback_stem(student: str) -> str:
    """The file-name stem of a student's feedback: the id itself when it is a plain file
    name (letters, digits, ``. _ @ + -``, not starting with a dot), else a safe stem with
    a short hash of the id (so that two ids never share a file).

    Example:
        >>> feedback_stem("v001"), feedback_stem("alice.smith")
        ('v001', 'alice.smith')
        >>> feedback_stem("../etc/passwd").startswith("etc-passwd-")
        True
    """
    if re.fullmatch(r"[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,99}", student) and not student.endswith(
        "."
    ):
        return student
    digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe_stem(student)[:60]}-{digest}"


def _item_name(item: str) -> tuple[str, str]:
    """A rubric item as people read it, in unicode and in LaTeX: "the weight gradient
    ∂L/∂w" (the notation registry's words and symbol); an unknown item as its key."""
    from symconv.notation import QUANTITIES

    if item not in QUANTITIES:
        return item, escape(item)
    q = QUANTITIES[item]
    return f"{q.words} {q.unicode}", f"{q.words} ${q.latex}$"


# verdict -> (mark, word, what it means)
_VERDICTS = {
    "correct": ("✓", "correct", "the equation holds"),
    "incorrect": ("✗", "incorrect", "a side does not hold"),
    "notation": ("≈", "notation", "the values are right, the notation is loose"),
    "unchecked": ("?", "unchecked", "the checker could not judge it"),
}
_SIDE_WORDS = {"correct": "holds", "incorrect": "wrong", "notation": "notation"}

_STATUS_TEXT = {
    "missing": "No submission was found for this student.",
    "unreadable": "The submission could not be read.",
    "failed": "Grading this submission failed.",
}


def _marked_sides(equation: _Equation) -> dict[int, str]:
    """Sides worth a mark: with two right sides or more, when one of them is not correct,
    each side's verdict (the pieces must be the checker's sides)."""
    math = equation.math
    if math is None or len(math.pieces) < 3 or not equation.sides:
        return {}
    if max(equation.sides) > len(math.pieces) or min(equation.sides) < 2:
        return {}
    if all(verdict == "correct" for verdict in equation.sides.values()):
        return {}
    return equation.sides


# ---------------------------------------------------------------------------------------
# HTML

_MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"
_MATHML_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mover munder "
    "munderover mtable mtr mtd mstyle mpadded mphantom menclose".split()
)
_MATHML_ATTRIBUTES = frozenset(
    "display mathvariant accent accentunder stretchy fence separator lspace rspace "
    "linethickness displaystyle scriptlevel columnalign rowalign columnspacing rowspacing "
    "columnlines rowlines frame width height depth linebreak notation form largeop "
    "movablelimits symmetric minsize maxsize".split()
)
_LIMITS_BELOW = {"msubsup": "munderover", "msub": "munder", "msup": "mover"}
_BIG_OPERATORS = frozenset("∑∏⋃⋂∐")
_ATTRIBUTE_VALUE = re.compile(r"[A-Za-z0-9.% -]{0,64}\Z")
_HTML_SPELLINGS = [
    (re.compile(r"\\(?:bm|mathbfit|pmb)(?![A-Za-z])"), r"\\boldsymbol"),
    (re.compile(r"\\intercal(?![A-Za-z])"), r"\\top"),
    (re.compile(r"\\dots[cbm](?![A-Za-z])"), r"\\dots"),
    (re.compile(r"(?<!\\)\|\|"), r"\\| "),  # a norm's bars as one fence, not two
    (re.compile(r"\\arg(?![A-Za-z])"), r"\\operatorname{arg}"),
    # latex2mathml has no aligned rows: a matrix keeps the rows (centred, not aligned)
    (re.compile(r"\\(begin|end)\{(?:aligned|gathered)\}"), r"\\\1{matrix}"),
]


def _rebuild(element: ElementTree.Element, out: list[str]) -> None:
    """``element`` as MathML of whitelisted elements and attributes, all text escaped;
    raises :class:`_Unsafe` for anything else (a tag, an attribute, a command left over)."""
    tag = element.tag
    if not tag.startswith(_MATHML_NS) or tag[len(_MATHML_NS) :] not in _MATHML_ELEMENTS:
        raise _Unsafe(f"element {tag}")
    name = tag[len(_MATHML_NS) :]
    first = element[0] if len(element) else None
    if name in _LIMITS_BELOW and first is not None and first.tag == f"{_MATHML_NS}mo":
        if (first.text or "").strip() in _BIG_OPERATORS:
            name = _LIMITS_BELOW[name]  # Σ's limits below and above it, as TeX sets them
    attributes = []
    for key, value in element.attrib.items():
        if key not in _MATHML_ATTRIBUTES or not _ATTRIBUTE_VALUE.match(value):
            raise _Unsafe(f"attribute {key}")
        attributes.append(f' {key}="{html.escape(value, quote=True)}"')
    text = element.text or ""
    if "\\" in text:
        raise _Unsafe("a command latex2mathml does not know")  # it prints \cmd as text
    out.append(f"<{name}{''.join(attributes)}>{html.escape(text, quote=False)}")
    for child in element:
        _rebuild(child, out)
        tail = child.tail or ""
        if "\\" in tail:
            raise _Unsafe("a command latex2mathml does not know")
        out.append(html.escape(tail, quote=False))
    out.append(f"</{name}>")


def _mathml(latex: str) -> str | None:
    """The MathML of whitelisted ``latex`` (one ``<math>`` element), or None when
    latex2mathml fails or writes anything outside the MathML whitelist."""
    from latex2mathml.converter import convert

    for pattern, spelling in _HTML_SPELLINGS:
        latex = pattern.sub(spelling, latex)
    try:
        markup = convert(latex)
        root = ElementTree.fromstring(markup)
        if root.tag != f"{_MATHML_NS}math":
            return None
        out: list[str] = []
        for child in root:
            _rebuild(child, out)
            if (child.tail or "").strip():
                return None
    except Exception:  # latex2mathml on any input, a parse error, _Unsafe: show the source
        return None
    return '<math xmlns="http://www.w3.org/1998/Math/MathML">' + "".join(out) + "</math>"


_CSS = """
:root { --ok: #1b6e20; --bad: #b3261e; --note: #8a5300; --none: #5f6368; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1f1f1f; background: #fff; max-width: 62rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .75rem; border-bottom: 1px solid #ddd; }
.meta { color: #444; margin: 0; }
.total { font-size: 1.35rem; margin: .75rem 0 .25rem; }
.status { border: 2px solid var(--bad); padding: .75rem 1rem; margin: 1rem 0; }
.status strong { text-transform: uppercase; letter-spacing: .03em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e3e3;
  vertical-align: top; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: bold; border-top: 2px solid #999; }
.eq { border: 1px solid #ddd; border-left: .5rem solid var(--none); padding: .6rem 1rem;
  margin: 0 0 1rem; break-inside: avoid; }
.eq.correct { border-left-color: var(--ok); }
.eq.incorrect { border-left-color: var(--bad); border-left-style: double;
  border-left-width: .6rem; }
.eq.notation { border-left-color: var(--note); border-left-style: dashed; }
.eqhead { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap; }
.label { font-weight: bold; }
.where { color: #555; font-size: .9rem; }
.verdict { margin-left: auto; font-weight: bold; padding: 0 .5rem; border-radius: .25rem; }
.verdict.correct { color: var(--ok); }
.verdict.incorrect { color: #fff; background: var(--bad); }
.verdict.notation { color: var(--note); border: 1px solid var(--note); }
.verdict.unchecked { color: var(--none); border: 1px dotted var(--none); }
.math { display: grid; grid-template-columns: max-content 1fr; column-gap: .25rem;
  align-items: baseline;
  row-gap: .3rem; overflow-x: auto; overflow-y: hidden; margin: .6rem 0; padding: .2rem 0; }
.math .row { display: contents; }
.math .lhs { justify-self: end; }
.math .only { grid-column: 1 / span 2; }
math { font-size: 1.15rem; math-style: normal; font-family: "Latin Modern Math", "STIX Two Math",
  "Cambria Math", math; }
.side { font-size: .8rem; font-weight: bold; margin-left: .75rem; font-family: system-ui,
  sans-serif; }
.side.incorrect { color: var(--bad); }
.side.notation { color: var(--note); }
.side.correct { color: var(--ok); }
code, .src { font: .9rem/1.4 ui-monospace, "DejaVu Sans Mono", monospace;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.src { display: block; background: #f6f6f6; padding: .4rem .6rem; margin: .5rem 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: .4rem 0 0;
  font-size: .95rem; }
dt { color: #555; }
dd { margin: 0; overflow-wrap: anywhere; }
details summary { cursor: pointer; color: #555; font-size: .85rem; }
.cut { color: #555; font-style: italic; }
.note { color: #555; font-size: .8rem; margin: -.3rem 0 .3rem; }
@media print { .eq { page-break-inside: avoid; } details { display: none; } }
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _verdict_html(verdict: str, reason: str) -> str:
    mark, word, meaning = _VERDICTS.get(verdict, ("?", verdict or "no verdict", ""))
    css = verdict if verdict in _VERDICTS else "unchecked"
    extra = f" ({_e(reason)})" if reason and verdict == "unchecked" else ""
    title = f' title="{_e(meaning)}"' if meaning else ""
    return f'<span class="verdict {css}"{title}>{mark} {_e(word)}{extra}</span>'


def _math_html(equation: _Equation) -> str | None:
    """The typeset equation (rows aligned at the relations), or None to show the source."""
    math = equation.math
    if math is None:
        return None
    if math.aligned:
        pieces = [_mathml(rf"\begin{{matrix}}{math.text}\end{{matrix}}")]
    else:
        pieces = [_mathml(piece) for piece in math.pieces]
    if any(piece is None for piece in pieces):
        return None
    marks = _marked_sides(equation)
    rows = []
    for number, markup in enumerate(pieces, start=1):
        if len(pieces) == 1:
            rows.append(f'<div class="row"><span class="only">{markup}</span></div>')
            break
        side = ""
        if number in marks:
            verdict = marks[number]
            word = _SIDE_WORDS.get(verdict, verdict)
            css = verdict if verdict in _VERDICTS else "unchecked"
            mark = _VERDICTS.get(verdict, ("?",))[0]
            side = f'<span class="side {css}">{mark} side {number}: {_e(word)}</span>'
        if number == 1:
            rows.append(f'<div class="row"><span class="lhs">{markup}</span>')
        elif number == 2:
            rows.append(f"<span>{markup}{side}</span></div>")
        else:
            rows.append(f'<div class="row"><span></span><span>{markup}{side}</span></div>')
    return '<div class="math">' + "".join(rows) + "</div>"


def _source_html(equation: _Equation) -> str:
    cut = (
        f'<span class="cut"> … ({equation.cut} more characters not shown)</span>'
        if equation.cut
        else ""
    )
    return f'<code class="src">{_e(equation.latex) or "(no LaTeX)"}{cut}</code>'


def _equation_html(index: int, equation: _Equation) -> str:
    css = equation.verdict if equation.verdict in _VERDICTS else "unchecked"
    label = _e(equation.label) if equation.label else f"equation {index + 1}"
    where = f'<span class="where">line {_e(equation.line)}</span>' if equation.line else ""
    if equation.label.startswith("line "):
        where = ""
    head = (
        f'<div class="eqhead"><span class="label">({label})</span>{where}'
        f"{_verdict_html(equation.verdict, equation.reason)}</div>"
    )
    typeset = _math_html(equation)
    if typeset is None:
        body = _source_html(equation)
        if equation.latex and equation.math is None:
            body += '<p class="note">shown as written: not typeset (outside the notation read)</p>'
    else:
        body = (
            typeset + f"<details><summary>LaTeX source</summary>{_source_html(equation)}</details>"
        )
    facts = []
    if equation.message:
        facts.append(f"<dt>Checker</dt><dd>{_e(equation.message)}</dd>")
    if equation.diagnosis:
        facts.append(f"<dt>Diagnosis</dt><dd>{_e(equation.diagnosis)}</dd>")
    if equation.expected and equation.verdict not in ("correct", "notation"):
        facts.append(f"<dt>Expected</dt><dd>{_e(equation.expected)}</dd>")
    elif equation.expected:
        facts.append(f"<dt>Value</dt><dd>{_e(equation.expected)}</dd>")
    if equation.reason and equation.verdict == "unchecked":
        facts.append(f"<dt>Reason</dt><dd>{_e(equation.reason)}</dd>")
    dl = f"<dl>{''.join(facts)}</dl>" if facts else ""
    return f'<article class="eq {css}" id="eq-{index + 1}">{head}{body}{dl}</article>'


def _items_html(page: _Page) -> str:
    if not page.items:
        return ""
    rows = []
    for item in page.items:
        name = _item_name(item.item)[0]
        code = f" <code>{_e(item.item)}</code>" if name != item.item else ""
        rows.append(
            f"<tr><td>{_e(name)}{code}</td><td class='num'>{_e(points_text(item.points))}</td>"
            f"<td class='num'>{_e(points_text(item.max_points))}</td><td>{_e(item.why)}</td></tr>"
        )
    if page.hidden_items:
        rows.append(
            f'<tr><td colspan="4" class="cut">{page.hidden_items} more items not shown</td></tr>'
        )
    return (
        "<section><h2>Points per part</h2><table><thead><tr><th>part</th>"
        "<th class='num'>points</th><th class='num'>of</th><th>why</th></tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody><tfoot><tr><td>total</td><td class='num'>{_e(points_text(page.points))}"
        f"</td><td class='num'>{_e(points_text(page.max_points))}</td><td></td></tr></tfoot>"
        "</table></section>"
    )


def _counts(summary: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {verdict}" for verdict, count in summary.items())


def render_html(result: Mapping[str, Any]) -> str:
    """The feedback page of ``result`` (the grader's result of one student, see
    :func:`write_feedback`): one self-contained HTML document that loads nothing.

    Example:
        >>> page = render_html({"student": "<b>x</b>", "status": "missing", "points": "0",
        ...                     "max_points": "10", "items": [], "check": None})
        >>> "<b>x</b>" in page, "&lt;b&gt;x&lt;/b&gt;" in page, "No submission" in page
        (False, True, True)
    """
    page = _page(result)
    who = _e(page.student) or "(no student id)"
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Feedback: {who}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>Feedback for {who}</h1>",
    ]
    meta = []
    if page.variant:
        meta.append(f"variant <strong>{_e(page.variant)}</strong>")
    if page.title:
        meta.append(_e(page.title))
    if page.file:
        meta.append(f"file <code>{_e(page.file)}</code>")
    if meta:
        parts.append(f'<p class="meta">{" · ".join(meta)}</p>')
    parts.append(
        f'<p class="total">Points: <strong>{_e(points_text(page.points)) or "–"}</strong> of '
        f"{_e(points_text(page.max_points)) or '–'}</p>"
    )
    if page.summary and page.equations:
        parts.append(f'<p class="meta">Equations: {_e(_counts(page.summary))}</p>')
    parts.append("</header>")
    if page.status != "graded":
        said = _STATUS_TEXT.get(page.status, "This submission was not graded.")
        why = page.error or page.failure
        parts.append(
            f'<div class="status" role="alert"><strong>{_e(page.status)}</strong>: {_e(said)}'
            + (f"<br>Why: {_e(why)}" if why else "")
            + "</div>"
        )
    elif page.failure:
        parts.append(f'<div class="status"><strong>note</strong>: {_e(page.failure)}</div>')
    parts.append(_items_html(page))
    if page.equations or page.status == "graded":
        parts.append("<section><h2>Equations</h2>")
        if not page.equations:
            parts.append("<p>The checker found no equation in the submission.</p>")
        parts.extend(_equation_html(i, eq) for i, eq in enumerate(page.equations))
        if page.hidden:
            parts.append(
                f'<p class="cut">{page.hidden} more equations not shown '
                f"(at most {MAX_EQUATIONS} are).</p>"
            )
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(part for part in parts if part)


# ---------------------------------------------------------------------------------------
# LaTeX

_PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{lmodern}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb,mathtools,bm}
\usepackage{array,booktabs,longtable}
\IfFileExists{adjustbox.sty}{\usepackage{adjustbox}}{\newenvironment{adjustbox}[1]{}{}}
\IfFileExists{needspace.sty}{\usepackage{needspace}}{\newcommand{\needspace}[1]{}}
\usepackage{xcolor}
\usepackage{microtype}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5ex plus 0.2ex}
\setcounter{MaxMatrixCols}{50}
\setlength{\LTleft}{0pt}
\providecommand{\mathbfit}[1]{\boldsymbol{#1}}
\providecommand{\mathscr}{\mathcal}
\definecolor{ok}{rgb}{0.11,0.43,0.13}
\definecolor{bad}{rgb}{0.70,0.15,0.12}
\definecolor{note}{rgb}{0.54,0.33,0.0}
\newcommand{\vcorrect}{\textcolor{ok}{$\checkmark$~correct}}
\newcommand{\vincorrect}{\textcolor{bad}{\boldmath$\times$~\textbf{INCORRECT}}}
\newcommand{\vnotation}{\textcolor{note}{$\approx$~\textit{notation}}}
\newcommand{\vunchecked}{\textcolor{gray}{?~unchecked}}
\newcommand{\eqrule}{\par\smallskip{\color{gray}\hrule}\medskip}
"""
_TEX_VERDICT = {
    "correct": r"\vcorrect{}",
    "incorrect": r"\vincorrect{}",
    "notation": r"\vnotation{}",
    "unchecked": r"\vunchecked{}",
}
_TEX_SIDE = {
    "correct": r"\textcolor{ok}{side {n} holds}",
    "incorrect": r"\textcolor{bad}{\textbf{side {n} wrong}}",
    "notation": r"\textcolor{note}{side {n}: notation}",
}


def _verbatim_tex(text: str) -> str:
    """``text`` printed as it is, in typewriter type, breakable every few characters."""
    chunks = [text[i : i + 10] for i in range(0, len(text), 10)]
    return r"{\ttfamily\small " + r"\allowbreak{}".join(escape(chunk) for chunk in chunks) + "}"


def _math_tex(equation: _Equation) -> str:
    """The typeset equation on one line (an ``aligned`` block shrunk to the line width)."""
    math = equation.math
    if math is None:
        raise ValueError("not safe to typeset")
    marks = _marked_sides(equation)
    if len(math.pieces) == 1:
        body = math.pieces[0]
    else:
        rows = []
        for number, piece in enumerate(math.pieces[1:], start=2):
            mark = ""
            if number in marks:
                template = _TEX_SIDE.get(marks[number], r"side {n}: " + escape(marks[number]))
                mark = r"\qquad\text{\footnotesize " + template.replace("{n}", str(number)) + "}"
            lhs = math.pieces[0] if number == 2 else ""
            rows.append(f"{lhs} &{piece}{mark}")
        body = r" \\ ".join(rows)
    return (
        r"\begin{center}\begin{adjustbox}{max width=\linewidth}$\displaystyle\begin{aligned}"
        + body
        + r"\end{aligned}$\end{adjustbox}\end{center}"
    )


def _equation_tex(index: int, equation: _Equation, verbatim: bool) -> tuple[str, str]:
    """The heading and the math line (the line TeX may fail on) of one equation, plus
    the facts after it."""
    label = escape(equation.label) if equation.label else f"equation {index + 1}"
    where = ""
    if equation.line and not equation.label.startswith("line "):
        where = rf"\enspace{{\small\color{{gray}}line {escape(equation.line)}}}"
    verdict = _TEX_VERDICT.get(equation.verdict, escape(equation.verdict or "no verdict"))
    if equation.verdict == "unchecked" and equation.reason:
        verdict += rf" \textcolor{{gray}}{{({escape(equation.reason)})}}"
    head = (
        rf"\needspace{{6\baselineskip}}\textbf{{({label})}}{where}\hfill {verdict}\par\nopagebreak"
    )
    if equation.math is not None and not verbatim:
        math = _math_tex(equation)
    else:
        source = _verbatim_tex(equation.latex) if equation.latex else r"\textit{(no LaTeX)}"
        if equation.cut:
            source += rf" \textit{{\dots\ ({equation.cut} more characters not shown)}}"
        math = r"\begin{quote}\raggedright " + source + r"\end{quote}"
    return head, math


def _facts_tex(equation: _Equation) -> str:
    facts = []
    if equation.message:
        facts.append(rf"\item[Checker] {escape(equation.message)}")
    if equation.diagnosis:
        facts.append(rf"\item[Diagnosis] {escape(equation.diagnosis)}")
    if equation.expected:
        name = "Value" if equation.verdict in ("correct", "notation") else "Expected"
        facts.append(rf"\item[{name}] {escape(equation.expected)}")
    if not facts:
        return ""
    return (
        r"{\small\begin{description}\setlength{\itemsep}{0pt} "
        + " ".join(facts)
        + r"\end{description}}"
    )


def _items_tex(page: _Page) -> list[str]:
    if not page.items:
        return []
    rows = []
    for item in page.items:
        name = _item_name(item.item)[1]
        rows.append(
            f"{name} & {escape(points_text(item.points))} & "
            f"{escape(points_text(item.max_points))} & {escape(item.why)} \\\\"
        )
    if page.hidden_items:
        rows.append(
            rf"\multicolumn{{4}}{{l}}{{\textit{{{page.hidden_items} more items not shown}}}} \\"
        )
    return [
        r"\section*{Points per part}",
        r"\begin{longtable}{@{}l r r >{\raggedright\arraybackslash}p{0.5\textwidth}@{}}",
        r"\toprule part & points & of & why \\ \midrule \endhead",
        *rows,
        r"\midrule \textbf{total} & \textbf{"
        + escape(points_text(page.points))
        + "} & "
        + escape(points_text(page.max_points))
        + r" & \\ \bottomrule",
        r"\end{longtable}",
    ]


def render_tex(
    result: Mapping[str, Any], *, verbatim: bool | frozenset[int] = frozenset()
) -> tuple[str, dict[int, int]]:
    """The LaTeX source of the feedback PDF of ``result`` and, for each line that typesets
    a student's equation, the index of that equation (to find the one TeX failed on).

    ``verbatim``: True shows every equation as its source; a set of indices those only.
    Only LaTeX that :func:`safe_math` accepts is typeset; everything else is escaped.

    Example:
        >>> tex, lines = render_tex({"student": "s", "status": "graded", "points": "1",
        ...     "max_points": "2", "items": [], "check": {"equations": [{"label": "1",
        ...     "verdict": "correct", "latex": r"\\input{/etc/passwd}"}]}})
        >>> r"\\input{/etc/passwd}" in tex, r"\\textbackslash{}input" in tex
        (False, True)
    """
    page = _page(result)
    who = escape(page.student) or "(no student id)"
    lines = [_PREAMBLE.rstrip("\n"), r"\begin{document}"]
    lines.append(rf"{{\LARGE\bfseries Feedback for {who}}}\par\smallskip")
    meta = []
    if page.variant:
        meta.append(rf"variant \textbf{{{escape(page.variant)}}}")
    if page.title:
        meta.append(escape(page.title))
    if page.file:
        meta.append(rf"file \texttt{{{_verbatim_tex(page.file)}}}")
    if meta:
        lines.append(r"\quad{}\textperiodcentered{}\quad{}".join(meta) + r"\par")
    lines.append(
        rf"{{\Large Points: \textbf{{{escape(points_text(page.points)) or '--'}}} of "
        rf"{escape(points_text(page.max_points)) or '--'}}}\par"
    )
    if page.summary and page.equations:
        lines.append(rf"Equations: {escape(_counts(page.summary))}\par")
    if page.status != "graded":
        said = _STATUS_TEXT.get(page.status, "This submission was not graded.")
        why = page.error or page.failure
        lines.append(
            r"\medskip\fcolorbox{bad}{white}{\parbox{0.95\linewidth}{\textbf{\MakeUppercase{"
            + escape(page.status)
            + r"}}: "
            + escape(said)
            + (rf"\\ Why: {escape(why)}" if why else "")
            + r"}}\par"
        )
    elif page.failure:
        lines.append(rf"\medskip\textit{{Note: {escape(page.failure)}}}\par")
    lines.extend(_items_tex(page))
    where: dict[int, int] = {}
    if page.equations or page.status == "graded":
        lines.append(r"\section*{Equations}")
        if not page.equations:
            lines.append(r"The checker found no equation in the submission.")
        for index, equation in enumerate(page.equations):
            shown = verbatim if isinstance(verbatim, bool) else index in verbatim
            head, math = _equation_tex(index, equation, shown)
            lines.append(head)
            where[len(lines) + 1] = index  # 1-based line numbers of the file
            lines.append(math)
            lines.append(_facts_tex(equation))
            lines.append(r"\eqrule")
        if page.hidden:
            lines.append(
                rf"\textit{{{page.hidden} more equations not shown (at most {MAX_EQUATIONS} are).}}"
            )
    lines.append(r"\end{document}")
    # every line above is one line of the file (no line holds a newline of user text)
    text = "\n".join(line.replace("\n", " ") if i > 0 else line for i, line in enumerate(lines))
    return text + "\n", _line_map(text, where)


def _line_map(text: str, where: dict[int, int]) -> dict[int, int]:
    """``where`` keyed by the file's real line numbers (the preamble spans several)."""
    offset = _PREAMBLE.rstrip("\n").count("\n")
    return {line + offset: index for line, index in where.items()}


def _failed_equation(error: TexError, lines: Mapping[int, int]) -> int | None:
    """The equation on the line TeX reported, if it is one."""
    for found in re.finditer(r"\.tex:(\d+):|^l\.(\d+)", error.excerpt, re.MULTILINE):
        number = int(found.group(1) or found.group(2))
        if number in lines:
            return lines[number]
    return None


def _pdf(result: Mapping[str, Any], path: str | None) -> bytes:
    """Compile the feedback; an equation TeX fails on is shown as source and the document
    compiled again (then, if TeX still fails, every equation is).  Raises
    :class:`~symconv.errors.NoEngineError` or :class:`~symconv.errors.TexError`."""
    verbatim: set[int] = set()
    for _ in range(_TEX_RETRIES + 1):
        tex, lines = render_tex(result, verbatim=frozenset(verbatim))
        try:
            return compile_tex(tex, name="feedback", path=path)[0]
        except TexError as exc:
            culprit = _failed_equation(exc, lines)
            if culprit is None or culprit in verbatim:
                break
            verbatim.add(culprit)
    tex, _ = render_tex(result, verbatim=True)
    return compile_tex(tex, name="feedback", path=path)[0]


def write_feedback(
    result: Mapping[str, Any], out_dir: Path, *, pdf: bool, path: str | None = None
) -> list[Path]:
    """Write ``out_dir/<student>.html`` and, with ``pdf``, ``out_dir/<student>.pdf``
    (each atomically: a temporary file and a rename); return the paths written.

    ``result`` is the grader's result of one student: ``student``, ``variant``, ``status``
    (``graded``, ``unreadable``, ``missing``, ``failed``), ``points`` and ``max_points``
    (exact strings, ``"7/2"`` or ``"3.5"``), ``items`` (``[{"item", "points",
    "max_points", "why"}]``), ``check`` (the ``check --json`` document object or None) and
    ``error`` (str or None).  Any field may be missing or malformed: the page says what it
    has.  The stem is :func:`feedback_stem` of the student id.  ``path`` replaces PATH for
    finding TeX.

    The HTML is written first.  When the PDF cannot be built (no TeX engine:
    :class:`~symconv.errors.NoEngineError`; TeX failing even with every equation shown as
    source: :class:`~symconv.errors.TexError`) the error is raised after a stale PDF of
    the student was removed; so is one left from an earlier run when ``pdf`` is False
    (the folder never holds a PDF that disagrees with the page).

    Example:
        >>> import shutil, tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> [p.name for p in write_feedback({"student": "v001", "status": "missing"},
        ...                                 folder, pdf=False)]
        ['v001.html']
        >>> shutil.rmtree(folder)
    """
    out_dir = Path(out_dir)
    stem = feedback_stem(_text(result.get("student"), 200))
    page = render_html(result)
    html_path, pdf_path = out_dir / f"{stem}.html", out_dir / f"{stem}.pdf"
    data: bytes | None = None
    failure: Exception | None = None
    if pdf:
        try:
            data = _pdf(result, path)
        except (SymconvError, OSError) as exc:  # no engine, TeX failing: the page is kept
            failure = exc
    write_atomic(html_path, page.encode("utf-8"))
    written = [html_path]
    if data is not None:
        write_atomic(pdf_path, data)
        written.append(pdf_path)
    else:
        pdf_path.unlink(missing_ok=True)
    if failure is not None:
        raise failure
    return written
