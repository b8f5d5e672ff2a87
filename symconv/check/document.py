"""Find the equations of a Markdown, LaTeX or notebook document.

Display math is ``$$…$$``, ``\\[…\\]`` or an ``equation``/``align``/``gather``/
``multline``/``eqnarray``/``flalign``/``alignat``/``displaymath`` environment (starred or
not).  Each equation keeps its line number (1-based, the line its text starts on; in a
notebook the line inside its cell, and ``cell`` the cell), its label (``\\tag{5a}``,
``\\label{5a}``, or a ``(5a)`` alone on the line after the block), the ``\\label`` name
(``ref``) and the prose heading it sits under.  Rows of ``align`` are separate equations
unless a row starts with ``=`` (it continues the chain above).

What a document's kind changes (:mod:`symconv.check.source` does the masking and macros):

- Markdown and notebooks: fenced, indented and inline code and HTML comments are not math.
- LaTeX: only the body (between ``\\begin{document}`` and ``\\end{document}``) is read,
  ``%`` comments and verbatim text are not; each equation is labelled with the number the
  PDF shows — unstarred ``equation``/``multline`` one number, each ``align``/``gather``/
  ``eqnarray`` row one unless ``\\nonumber``/``\\notag``; ``\\tag{..}`` replaces it;
  ``subequations`` give ``1a``, ``1b``; book and report classes and ``\\numberwithin``
  give ``2.1`` — as the label, without parentheses (as ``\\tag{5a}`` gives ``5a``), and
  the ``\\label`` name as ``ref``.
- Macros defined anywhere before an equation are expanded in it (bounded; see
  :class:`symconv.check.source.Macros`); ``note`` says why an equation was left as written.
- Inline math (``$…$`` with no space inside either ``$`` and no digit after the closing
  one, or ``\\(…\\)``) holding a relation is read when the document has no display math,
  or always with ``inline=True``.

Example:
    >>> [e.label for e in read_equations("$$a = 1 \\\\tag{1}$$\\n")]
    ['1']
    >>> tex = "\\\\begin{document}\\n\\\\begin{equation} a = 1 \\\\label{eq:a} \\\\end{equation}"
    >>> [(e.label, e.ref) for e in read_equations(tex, kind="latex")]
    [('1', 'eq:a')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from symconv.check.source import (
    Finder,
    Macros,
    Source,
    latex_body,
    latex_setup,
    mask_latex,
    mask_markdown,
)

__all__ = ["Equation", "read_equations", "split_equations", "split_rows"]


@dataclass(frozen=True)
class Equation:
    """One equation: its LaTeX (tags removed, macros expanded), label, line and heading.

    ``cell`` is the notebook cell it is in (1-based, every cell counted; ``line`` is then
    the line inside the cell), None outside notebooks; ``ref`` its ``\\label`` name;
    ``note`` why its macros were left unexpanded ("" when they were not).
    """

    latex: str
    label: str | None
    line: int
    heading: str = ""
    cell: int | None = None
    ref: str | None = None
    note: str = ""

    @property
    def name(self) -> str:
        """The label as written, or ``line N`` (``cell C, line N`` in a notebook)."""
        if self.label:
            return self.label
        if self.cell is not None:
            return f"cell {self.cell}, line {self.line}"
        return f"line {self.line}"


_DISPLAY = (
    r"\$\$|\\\[|\\begin\{(?P<env>equation|align|gather|multline|eqnarray|displaymath"
    r"|flalign|alignat)(?P<star>\*?)\}"
)
# "$x = 1$" opens where a non-space follows (so "costs $5 and $6" holds no math)
_INLINE = r"|(?P<dollar>(?<![\\$])\$(?![\s$]))|(?P<paren>(?<!\\)\\\()"
# what moves a LaTeX document's equation counter besides the equations themselves
_COUNTERS = (
    r"|\\(?P<unit>chapter|section|subsection)(?P<unit_star>\*?+)(?=\s*+[\[{])"
    r"|\\(?P<appendix>appendix)(?![A-Za-z])"
    r"|\\(?P<subequations>begin|end)\s*+\{subequations\}"
    r"|\\setcounter\s*+\{equation\}\s*+\{\s*+(?P<counter>\d{1,6})\s*+\}"
)
_OPENERS = {  # (LaTeX document, inline math read): what opens math or moves the counter
    (latex, inline): re.compile(
        _DISPLAY + (_INLINE if inline else "") + (_COUNTERS if latex else "")
    )
    for latex in (False, True)
    for inline in (False, True)
}
_DISPLAY_OPENER = re.compile(_DISPLAY)
_TAG = re.compile(r"\\(tag\*?|label)\s*+\{([^{}]*+)\}")
_NONUMBER = re.compile(r"\\(?:nonumber|notag)(?![A-Za-z])")
_INLINE_CHARS = 1000  # inline math closes within this many characters
_INLINE_BREAK = re.compile(r"\n[ \t]*+\n")  # a paragraph ends: no inline math goes on
_ALIGNAT_COLUMNS = re.compile(r"^\s*+\{\s*+\d++\s*+\}")
_LABEL_TEXT = r"(?:[Ee]q(?:n|uation)?\.?\s*)?[0-9A-Za-z][0-9A-Za-z.\-]{0,11}"
_AFTER_LABEL = re.compile(r"\s*+\((" + _LABEL_TEXT + r")\)\s*+")
_AFTER_LABEL_CHARS = 80  # a label line is short: a longer line is never read as one
# Every pattern below runs on untrusted text: none may backtrack super-linearly.  Runs of
# a class are possessive (``*+``) where the next token cannot start inside the run, the
# label patterns read only the last ``_TAIL`` characters of a row, and the qualifier only
# short parts (tests/test_check_limits.py measures the growth).
_TAIL = 200  # a label at the end of a row is within its last characters
_QUALIFIER_CHARS = 200  # "i = 1, 2, 3" and "\text{for } i \in \{1, …, m\}" are short
# a label written at the end of the display itself: "… \qquad (3.2)", "… \quad \text{(eq. 4)}";
# after a spacing command any label; after plain space only one with a letter and a digit
# ("(5a)", "(W1)", "(eq. 4)") — a bare "(2)" after a space could be a factor
_INLINE_LABEL = re.compile(
    r"(?:\\(?:q?quad|hfill|;|,|:| )|~)\s*+(?:\\text\s*+\{\s*+)?+\(\s*+"
    r"(?:\\(?:text|textrm|mathrm|textbf)\s*+\{\s*+)?+(" + _LABEL_TEXT + r")\s*+\}?+\s*+\)"
    r"\s*+\}?+\s*+$"
)
# "… && \text{(4a)}" or "… (\text{D1})": a parenthesised label set as text is never math
_INLINE_LABEL_TEXT = re.compile(
    r"(?:^|[\s&}])\s*+(?:\\(?:text|textrm|mathrm)\s*+\{\s*+\(\s*+("
    + _LABEL_TEXT
    + r")\s*+\)\s*+\}|\(\s*+\\(?:text|textrm|mathrm)\s*+\{\s*+("
    + _LABEL_TEXT
    + r")\s*+\}\s*+\))\s*+$"
)
_INLINE_LABEL_PLAIN = re.compile(
    r"\s\(\s*+((?=[^)]*[A-Za-z])(?=[^)]*\d)" + _LABEL_TEXT + r")\s*+\)\s*+$"
)
# "… , \quad i = 1, 2, 3" or "\text{for } i = 1, \dots, m": a qualifier, not an equation
# (an index letter with a list or a range: "b = 2" alone is an equation)
_QUALIFIER = re.compile(
    r"^\s*+(?:\\text\s*+\{[^{}]*+\}\s*+)?+[ijklt]\s*+"
    r"(?:=(?:[-\d\s.]|\b[mnk]\b)*+(?:,|\\[lc]?dots)(?:[-\d\s,.]|\\[lc]?dots|\b[mnk]\b)*+"
    r"|\\in(?:[-\d\s,.{}()\[\]]|\\[lc]?dots|\\\{|\\\}|\b[mnk]\b)*+)$"
)
_SEPARATOR = re.compile(
    r"[,;]?\s*+(?:\\q?quad(?![A-Za-z])\s*+)?+"
    r"(?:\\text\s*+\{\s*+(?:and|und|also|so|thus|hence|,)\s*+\}"
    r"|\\(?:Rightarrow|Longrightarrow|implies|iff|Leftrightarrow|therefore)(?![A-Za-z]))"
    r"(?:\s*+\\q?quad(?![A-Za-z]))?"
    r"|[,;]?\s*+\\q?quad(?![A-Za-z])"
    r"|,\s*+\\;"
)
_HEADING = re.compile(r"^\s*+(#{1,6}\s+.*|\d+(\.\d+)*+\.?\s+\S.*|\\(sub)*section\*?\{.*)$")
_HEADING_CHARS = 120  # a longer line is prose, not a heading
_MULTI_ROW = {"align", "gather", "eqnarray", "flalign", "alignat"}  # a number per row
_ONE_NUMBER = {"equation", "multline"}  # one number for the block
# a row that goes on with the row above: "&= 6", "&\approx 0.3", "&+ (ŷ₂ − y₂)²"
_CONTINUES = re.compile(
    r"^(?:\\(?:q?quad|[,;:! ])\s*+|~\s*+|\\h?phantom\s*+\{[^{}]*+\}\s*+)*+"
    r"(?:=|\\approx(?![A-Za-z])|\+|-|\\cdot(?![A-Za-z])|\\times(?![A-Za-z]))"
)
_INTERTEXT = re.compile(r"\\(?:short)?intertext\s*+\{(?:[^{}]++|\{[^{}]*+\})*+\}")
_PROSE_ROW = re.compile(r"^\s*+(?:\\text\s*+\{[^{}]*+\}\s*+(?:[,.;:]\s*+)?+)++$")
_RELATION = re.compile(r"=|\\(?:approx|leftarrow|gets|longleftarrow)(?![A-Za-z])")


class _Cursor:
    """Line numbers and headings of offsets met in increasing order (one pass, linear).

    ``line_of(offset)`` counts only the newlines since the previous offset, and
    ``heading_before(line)`` reads each line once: the last heading above ``line - 1``.
    ``shown`` is the text as written when ``text`` has parts blanked (same lines): a
    heading is read from it, unless its line was blanked whole (a line of code).
    """

    def __init__(self, text: str, shown: str | None = None) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.shown = self.lines if shown is None else shown.split("\n")
        self.offset = 0
        self.line = 1
        self.scanned = 0  # lines[0 : scanned] have been looked at for headings
        self.heading = ""

    def line_of(self, offset: int) -> int:
        """The 1-based line of ``offset`` (offsets must not decrease)."""
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line

    def heading_before(self, line: int) -> str:
        """The nearest heading on a line before the line above ``line`` (1-based)."""
        while self.scanned < line - 1:
            kept = self.lines[self.scanned].strip()
            candidate = self.shown[self.scanned].strip() if kept else ""
            self.scanned += 1
            if candidate and len(candidate) < _HEADING_CHARS and _HEADING.match(candidate):
                self.heading = candidate.lstrip("#").strip()
        return self.heading


def _all_rows(body: str) -> list[str]:
    """The rows between top-level ``\\\\`` (blank ones kept, so lines can be counted)."""
    rows: list[str] = []
    depth = 0
    env_depth = 0
    start = 0
    i = 0
    while i < len(body):
        if body.startswith("\\begin{", i):
            env_depth += 1
        elif body.startswith("\\end{", i):
            env_depth -= 1
        char = body[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif body.startswith("\\\\", i):
            if depth == 0 and env_depth == 0:
                rows.append(body[start:i])
                start = i + 2
            i += 2
            continue
        elif char == "\\":
            i += 2
            continue
        i += 1
    rows.append(body[start:])
    return rows


def split_rows(body: str) -> list[str]:
    """Split at top-level ``\\\\`` (not inside a matrix or braces); blank rows dropped."""
    return [r for r in _all_rows(body) if r.strip()]


_ALIGNED = re.compile(
    r"\\(?:begin\{(?:aligned|alignedat|split|gathered)\}(?:\[[a-z]\]|\{\d+\})?"
    r"|end\{(?:aligned|alignedat|split|gathered)\})"
)


def _unwrap_aligned(body: str) -> tuple[str, bool]:
    """``$$\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}$$``: the rows, as in ``align``.

    Returns the body without the inner environment and whether it had one.
    """
    if not _ALIGNED.search(body):
        return body, False
    return _ALIGNED.sub(" ", body), True


def _strip_alignment(row: str) -> str:
    """Remove ``&`` alignment marks outside matrices."""
    out: list[str] = []
    env_depth = 0
    i = 0
    while i < len(row):
        if row.startswith("\\begin{", i):
            env_depth += 1
        elif row.startswith("\\end{", i):
            env_depth -= 1
        if row[i] == "\\" and i + 1 < len(row):
            out.append(row[i : i + 2])
            i += 2
            continue
        if row[i] == "&" and env_depth == 0:
            out.append(" ")
        else:
            out.append(row[i])
        i += 1
    return "".join(out)


class _Marks(NamedTuple):
    """What a row says of itself besides its math."""

    text: str  # the row without its \\tag, \\label and hand-written label
    tag: str | None  # \\tag{..} (in Markdown also \\label{..}: whichever comes first)
    hand: str | None  # a label written at the end: "… \\qquad (3.2)"
    ref: str | None  # \\label{..}
    nonumber: bool  # \\nonumber or \\notag


def _take_marks(text: str, *, latex: bool, hand: bool = True) -> _Marks:
    """The row's labels: in Markdown ``\\tag`` and ``\\label`` are labels alike (the first
    one counts); in LaTeX only ``\\tag`` is, ``\\label`` is a name for ``\\ref``."""
    tag: str | None = None
    ref: str | None = None
    for found in _TAG.finditer(text):
        is_label = found.group(1) == "label"
        if is_label and ref is None:
            ref = found.group(2).strip()
        if tag is None and not (latex and is_label):
            tag = found.group(2).strip()
    nonumber = _NONUMBER.search(text) is not None
    stripped_of_tags = _TAG.sub(" ", text)
    if tag is not None or not hand:
        return _Marks(stripped_of_tags, tag, None, ref, nonumber)
    stripped = stripped_of_tags.rstrip()
    tail = max(0, len(stripped) - _TAIL)
    for pattern in (_INLINE_LABEL, _INLINE_LABEL_TEXT, _INLINE_LABEL_PLAIN):
        written = pattern.search(stripped, tail)
        if written:
            label = next(group for group in written.groups() if group is not None)
            return _Marks(stripped[: written.start()], None, label.strip(), ref, nonumber)
    return _Marks(stripped_of_tags, None, None, ref, nonumber)


def _top_level_cuts(row: str) -> list[tuple[int, int]]:
    """Spans of the separators ``, \\quad`` outside braces, brackets and environments."""
    cuts: list[tuple[int, int]] = []
    depth = 0
    i = 0
    while i < len(row):
        if row.startswith("\\begin{", i):
            depth += 1
        elif row.startswith("\\end{", i):
            depth -= 1
        char = row[i]
        if depth == 0 and char in ",;\\":
            found = _SEPARATOR.match(row, i)
            if found and found.end() > i:
                cuts.append((i, found.end()))
                i = found.end()
                continue
        if char == "\\":
            i += 2
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        i += 1
    return cuts


def _is_qualifier(part: str) -> bool:
    return len(part) <= _QUALIFIER_CHARS and _QUALIFIER.match(part) is not None


def split_equations(row: str) -> list[str]:
    """``a = b, \\quad c = d`` → two equations; a qualifier ``, \\quad i = 1, 2`` is dropped.

    The row stays whole unless every part (besides qualifiers) is itself an equation.
    """
    cuts = _top_level_cuts(row)
    if not cuts:
        return [row]
    parts: list[str] = []
    start = 0
    for begin, end in cuts:
        parts.append(row[start:begin])
        start = end
    parts.append(row[start:])
    kept = [p for p in parts if p.strip() and not _is_qualifier(p)]
    if not kept:
        return [row]
    if len(kept) == 1:
        return kept
    if all(re.search(r"=|\\approx", p) for p in kept):
        return kept
    return [row]


def _label_after(text: str, after: int) -> str | None:
    """A label alone on the line after a block that ends at ``after``: ``(5a)``."""
    next_line_end = text.find("\n", after, after + _AFTER_LABEL_CHARS + 1)
    if next_line_end < 0:
        if len(text) - after > _AFTER_LABEL_CHARS:
            return None  # the rest of a long line is text, not a label
        next_line_end = len(text)
    following = text[after:next_line_end]
    if not following.strip() and next_line_end < len(text):
        end = text.find("\n", next_line_end + 1, next_line_end + _AFTER_LABEL_CHARS + 2)
        if end < 0 and len(text) - next_line_end - 1 > _AFTER_LABEL_CHARS:
            return None
        following = text[next_line_end + 1 : end if end >= 0 else None]
    found = _AFTER_LABEL.fullmatch(following)
    return found.group(1) if found else None


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _letters(number: int) -> str:
    """1 → a, 26 → z, 27 → aa (the letters of ``subequations``)."""
    text = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        text = _LETTERS[rest] + text
    return text


class _Numbers:
    """The equation counter of a LaTeX document, as LaTeX would print it.

    ``within`` is the sectioning counter the numbers restart with (``chapter`` gives
    ``2.1``); ``\\appendix`` turns the top counter into letters; inside
    ``subequations`` the numbers are the group's with a letter (``3a``, ``3b``).
    """

    def __init__(self, document_class: str, within: str | None) -> None:
        chapters = document_class in ("book", "report", "scrbook", "scrreprt", "memoir")
        self.units = ["chapter", "section", "subsection"] if chapters else ["section", "subsection"]
        self.within = within if within in self.units else None
        self.counters = dict.fromkeys(self.units, 0)
        self.equation = 0
        self.appendix = False
        self.group: str | None = None  # the number of the open subequations
        self.member = 0

    def unit(self, name: str) -> None:
        """A new chapter/section/subsection (unstarred)."""
        if name not in self.counters:
            return
        self.counters[name] += 1
        level = self.units.index(name)
        for deeper in self.units[level + 1 :]:
            self.counters[deeper] = 0
        if self.within is not None and level <= self.units.index(self.within):
            self.equation = 0

    def start_appendix(self) -> None:
        self.appendix = True
        self.counters[self.units[0]] = 0
        if self.within is not None:
            self.equation = 0

    def subequations(self, begin: bool) -> None:
        if begin:
            self.equation += 1
            self.group, self.member = self._show(self.equation), 0
        else:
            self.group = None

    def next(self) -> str:
        """The number of the next numbered equation (its label, without parentheses)."""
        if self.group is not None:
            self.member += 1
            return f"{self.group}{_letters(self.member)}"
        self.equation += 1
        return self._show(self.equation)

    def _show(self, number: int) -> str:
        if self.within is None:
            return str(number)
        shown = self.units[: self.units.index(self.within) + 1]
        parts = [str(self.counters[unit]) for unit in shown]
        if self.appendix and self.counters[self.units[0]] > 0:
            parts[0] = _letters(self.counters[self.units[0]]).upper()
        return ".".join([*parts, str(number)])


@dataclass
class _Document:
    """A document ready to be read: each part's text with what is not math blanked (and
    the offset it starts at), its macros, and how LaTeX would number its equations."""

    # each part: text (blanked), text as written (for headings), cell, offset in the document
    parts: list[tuple[str, str | None, int | None, int]]
    macros: Macros
    latex: bool
    setup: tuple[str, str | None] = ("article", None)


def _prepare(source: Source) -> _Document:
    """Blank what is not math (code, comments, a LaTeX preamble) and collect the macros."""
    macros = Macros()
    parts: list[tuple[str, str | None, int | None, int]] = []
    offset = 0
    setup: tuple[str, str | None] = ("article", None)
    for part in source.parts:
        if source.kind == "latex":
            whole = mask_latex(part.text)
            setup = latex_setup(whole)
            text = latex_body(macros.collect(whole, base=offset))
            shown = None  # a heading of a LaTeX document is read without its comments
        else:
            text = macros.collect(mask_markdown(part.text), base=offset)
            shown = part.text  # "## Run `test_conv`": the heading as written
        parts.append((text, shown, part.cell, offset))
        offset += len(part.text) + 1
    return _Document(parts, macros, source.kind == "latex", setup)


def read_equations(
    text: str | Source,
    *,
    kind: str = "markdown",
    inline: bool | None = None,
    said: list[Equation] | None = None,
) -> list[Equation]:
    """Every equation of a document in order (see the module docstring).

    ``text`` is the document's text, of ``kind`` (``markdown``, ``latex`` or ``notebook``
    — a notebook's JSON), or a :class:`~symconv.check.source.Source` (which carries its
    own kind and inline rule; ``kind`` and ``inline`` then do not apply).  ``inline``:
    True reads inline math always, False never, None only when there is no display math.
    ``said`` (a list) receives the inline equations that are not returned, macros
    expanded — what the prose states (``with $\\vo = T\\vx + b$``), for the binding.

    Linear in the length of the text: each block, row and line is scanned a bounded
    number of times (tests/test_check_limits.py measures it).
    """
    source = text if isinstance(text, Source) else Source.from_text(text, kind, inline=inline)
    document = _prepare(source)
    found, displays = _read(document, inline=source.inline is not False)
    if source.inline or displays == 0:
        return [equation for equation, _ in found]
    if said is not None:
        said.extend(equation for equation, is_inline in found if is_inline)
    return [equation for equation, is_inline in found if not is_inline]


def _read(document: _Document, *, inline: bool) -> tuple[list[tuple[Equation, bool]], int]:
    """The equations of every part (each with whether it is inline math), and how many
    display blocks held anything: one pass, inline math read on the way when ``inline``."""
    document.macros.restart()
    numbers = _Numbers(*document.setup) if document.latex else None
    pattern = _OPENERS[document.latex, inline]
    equations: list[tuple[Equation, bool]] = []
    displays = 0
    heading = ""
    for text, shown, cell, base in document.parts:
        reader = _PartReader(text, shown, cell, base, document, numbers, heading)
        displays += reader.read(pattern, equations)
        heading = reader.cursor.heading_before(len(reader.cursor.lines) + 1)
    return equations, displays


class _PartReader:
    """Reads one part (a document, or one notebook cell) from its first opener to its last."""

    def __init__(
        self,
        text: str,
        shown: str | None,
        cell: int | None,
        base: int,
        document: _Document,
        numbers: _Numbers | None,
        heading: str,
    ) -> None:
        self.text = text
        self.cell = cell
        self.base = base
        self.macros = document.macros
        self.latex = document.latex
        self.numbers = numbers
        self.cursor = _Cursor(text, shown)
        self.cursor.heading = heading  # a notebook's heading goes on into later cells
        self._find = Finder(text).find  # \) remembered: many \( without one scan once

    def read(self, pattern: re.Pattern[str], equations: list[tuple[Equation, bool]]) -> int:
        """Append the part's equations; return how many display blocks held anything."""
        text = self.text
        displays = 0
        position = 0
        missing: set[str] = set()  # closers absent after some opener: absent after later ones
        while True:
            match = pattern.search(text, position)
            if match is None:
                break
            start = position = match.end()
            group = match.lastgroup  # None for $$ and \[, "star" for an environment
            if group is not None and group != "star":
                if group in ("dollar", "paren"):
                    position = self._inline(match, equations)
                else:
                    self._count(match.groupdict())
                continue
            opener = match.group(0)
            environment = match.group("env")
            if opener == "$$":
                closer = "$$"
            elif opener == "\\[":
                closer = "\\]"
            else:
                closer = f"\\end{{{environment}{match.group('star')}}}"
            end = -1 if closer in missing else text.find(closer, start)
            if end < 0:
                missing.add(closer)
                continue  # an unclosed block: no later one of its kind closes either
            body = text[start:end]
            position = end + len(closer)
            if environment == "alignat":
                body = _ALIGNAT_COLUMNS.sub(" ", body, count=1)
            numbered = environment is not None and self.numbers is not None
            numbered = numbered and not match.group("star")
            if not body.strip():
                if numbered and environment in _ONE_NUMBER:
                    assert self.numbers is not None
                    self.numbers.next()  # an empty equation still takes its number
                continue  # an empty block ("$$$$") holds no equation
            displays += 1
            self._block(match.start(), body, position, environment, numbered, equations)
        return displays

    def _count(self, groups: dict[str, str | None]) -> None:
        """A LaTeX sectioning command, \\appendix, subequations or \\setcounter."""
        numbers = self.numbers
        if numbers is None:
            return
        unit = groups.get("unit")
        if unit:
            if not groups.get("unit_star"):
                numbers.unit(unit)
        elif groups.get("appendix"):
            numbers.start_appendix()
        elif groups.get("subequations"):
            numbers.subequations(groups.get("subequations") == "begin")
        elif groups.get("counter") is not None:
            numbers.equation = int(str(groups.get("counter")))

    def _expand(self, body: str, end: int) -> tuple[str, str]:
        if not self.macros.defined:
            return body, ""
        self.macros.advance(self.base + end)
        return self.macros.expand(body)

    def _inline(self, match: re.Match[str], equations: list[tuple[Equation, bool]]) -> int:
        """Read the inline math ``match`` opens; return where to search on from (its end,
        or just after the opener when none opens there: a display block may follow)."""
        text = self.text
        start = match.end()
        dollar = match.lastgroup == "dollar"
        if dollar:
            end = text.find("$", start, start + _INLINE_CHARS)
            while end > 0 and text[end - 1] == "\\":
                end = text.find("$", end + 1, start + _INLINE_CHARS)  # \$ is a dollar sign
            if end < 0:
                return start
            after = end + 1
            # TeX's rule as Markdown reads it: no space before the closing $, no digit after
            closes = not text[end - 1].isspace() and not (
                after < len(text) and text[after].isdigit()
            )
            if not closes or text[after : after + 1] == "$":
                return start  # no inline math opens here ("costs $5 and $6")
        else:
            end = self._find("\\)", start)
            if end < 0 or end - start > _INLINE_CHARS:
                return start
            after = end + 2
        body = text[start:end]
        if _INLINE_BREAK.search(body) or _DISPLAY_OPENER.search(body):
            return start  # a paragraph ends inside, or display math opens: no inline math
        if not _RELATION.search(body) or _is_qualifier(body):
            return after  # "$x \\in \\mathbb{R}$", "$i = 1, 2$": no claim of its own
        line = self.cursor.line_of(match.start())
        heading = self.cursor.heading_before(line)
        latex, note = self._expand(body, end)
        marks = _take_marks(latex, latex=self.latex, hand=False)
        row = _strip_alignment(marks.text).strip()
        if not row or not _RELATION.search(row):
            return after
        for number, piece in enumerate(split_equations(row)):
            label = marks.tag if number == 0 else None
            ref = marks.ref if number == 0 else None
            equation = Equation(piece.strip(), label, line, heading, self.cell, ref, note)
            equations.append((equation, True))
        return after

    def _block(
        self,
        start: int,
        body: str,
        after: int,
        environment: str | None,
        numbered: bool,
        equations: list[tuple[Equation, bool]],
    ) -> None:
        """The equations of one display block (its rows, chained as the module says)."""
        text = self.text
        line = self.cursor.line_of(start)
        heading = self.cursor.heading_before(line)
        trailing = _label_after(text, after)
        body, note = self._expand(body, after)
        one_number: str | None = None
        if numbered and environment in _ONE_NUMBER and not _NONUMBER.search(body):
            if not any(found.group(1).startswith("tag") for found in _TAG.finditer(body)):
                assert self.numbers is not None
                one_number = self.numbers.next()
        per_row = numbered and environment in _MULTI_ROW
        body, inner_rows = _unwrap_aligned(body)
        rows = _all_rows(body)
        if not (environment in _MULTI_ROW or inner_rows) and sum(1 for r in rows if r.strip()) < 2:
            rows = [body]  # one equation (a stray \\\\ at its end changes nothing)
        row_line = line
        # each equation as its pieces (a continued row is appended, joined once at the end)
        chain: list[tuple[list[str], str | None, int, str | None]] = []
        for row in rows:
            row = _INTERTEXT.sub(" ", row)
            marks = _take_marks(row, latex=self.latex)
            number: str | None = None
            if per_row and marks.tag is None and not marks.nonumber:
                if row.strip() or environment == "eqnarray":  # amsmath drops a last empty row
                    assert self.numbers is not None
                    number = self.numbers.next()
            label = marks.tag or number or marks.hand
            row_text = _strip_alignment(marks.text).strip()
            if _PROSE_ROW.match(row_text):
                row_text = ""  # a row of words only ("\\text{and}")
            if not row_text:
                row_line += row.count("\n")
                continue
            start_line = row_line + row[: len(row) - len(row.lstrip())].count("\n")
            if chain and (_CONTINUES.match(row_text) or not _RELATION.search(row_text)):
                # a row that goes on with the one above (a row without `=` is no equation)
                pieces, previous_label, previous_line, previous_ref = chain[-1]
                pieces.append(row_text)
                chain[-1] = (
                    pieces,
                    previous_label or label,
                    previous_line,
                    previous_ref or marks.ref,
                )
            else:
                for index, piece in enumerate(split_equations(row_text)):
                    first = index == 0
                    chain.append(
                        (
                            [piece.strip()],
                            label if first else None,
                            start_line,
                            marks.ref if first else None,
                        )
                    )
            row_line += row.count("\n")
        if chain and one_number is not None:
            chain[0] = (chain[0][0], one_number, chain[0][2], chain[0][3])
        if len(chain) == 1 and chain[0][1] is None and trailing:
            chain[0] = (chain[0][0], trailing, chain[0][2], chain[0][3])
        for pieces, label, row_number, ref in chain:
            if len(chain) == 1:
                row_number = line  # a block of one equation: the line it opens on
            latex = " ".join(pieces)
            row_number = max(row_number, line)
            equations.append(
                (Equation(latex, label, row_number, heading, self.cell, ref, note), False)
            )
