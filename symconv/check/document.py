"""Find the displayed equations of a Markdown or LaTeX document.

Display math is ``$$…$$``, ``\\[…\\]`` or an ``equation``/``align``/``gather``
environment (starred or not).  Each equation keeps its line number (1-based, the line
its text starts on), its label (``\\tag{5a}``, ``\\label{5a}``, or a ``(5a)`` alone on the
line after the block) and the prose heading it sits under.  Rows of ``align`` are
separate equations unless a row starts with ``=`` (it continues the chain above).

Example:
    >>> [e.label for e in read_equations("$$a = 1 \\\\tag{1}$$\\n")]
    ['1']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Equation", "read_equations", "split_equations", "split_rows"]


@dataclass(frozen=True)
class Equation:
    """One displayed equation: its LaTeX (tags removed), label, line and heading."""

    latex: str
    label: str | None
    line: int
    heading: str = ""

    @property
    def name(self) -> str:
        """The label as written, or ``line N``."""
        return self.label if self.label else f"line {self.line}"


_OPENERS = re.compile(
    r"\$\$|\\\[|\\begin\{(equation|align|gather|multline|eqnarray|displaymath)(\*?)\}"
)
_TAG = re.compile(r"\\(?:tag\*?|label)\s*+\{([^{}]*+)\}")
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
_MULTI_ROW = {"align", "gather", "eqnarray"}
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
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
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
            candidate = self.lines[self.scanned].strip()
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


def _take_tag(text: str) -> tuple[str, str | None]:
    labels = _TAG.findall(text)
    text = _TAG.sub(" ", text)
    if labels:
        return text, labels[0].strip()
    stripped = text.rstrip()
    tail = max(0, len(stripped) - _TAIL)
    for pattern in (_INLINE_LABEL, _INLINE_LABEL_TEXT, _INLINE_LABEL_PLAIN):
        found = pattern.search(stripped, tail)
        if found:
            label = next(group for group in found.groups() if group is not None)
            return stripped[: found.start()], label.strip()
    return text, None


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


def read_equations(text: str) -> list[Equation]:
    """Every displayed equation of ``text`` in order (see the module docstring).

    Linear in the length of ``text``: each block, row and line is scanned a bounded
    number of times (tests/test_check_limits.py measures it).
    """
    cursor = _Cursor(text)
    equations: list[Equation] = []
    position = 0
    while True:
        match = _OPENERS.search(text, position)
        if match is None:
            break
        opener = match.group(0)
        environment = match.group(1)
        if opener == "$$":
            closer = "$$"
        elif opener == "\\[":
            closer = "\\]"
        else:
            closer = f"\\end{{{environment}{match.group(2)}}}"
        end = text.find(closer, match.end())
        if end < 0:
            break  # an unclosed block: nothing more to read
        body = text[match.end() : end]
        after = end + len(closer)
        position = after
        if not body.strip():
            continue  # an empty block ("$$$$") holds no equation
        line = cursor.line_of(match.start())
        heading = cursor.heading_before(line)
        trailing = _label_after(text, after)
        body, inner_rows = _unwrap_aligned(body)
        rows = _all_rows(body)
        if not (environment in _MULTI_ROW or inner_rows) and sum(1 for r in rows if r.strip()) < 2:
            rows = [body]  # one equation (a stray \\\\ at its end changes nothing)
        row_line = line
        # each equation as its pieces (a continued row is appended, joined once at the end)
        chain: list[tuple[list[str], str | None, int]] = []
        for row in rows:
            row = _INTERTEXT.sub(" ", row)
            row_text, label = _take_tag(row)
            row_text = _strip_alignment(row_text).strip()
            if _PROSE_ROW.match(row_text):
                row_text = ""  # a row of words only ("\\text{and}")
            if not row_text:
                row_line += row.count("\n")
                continue
            start_line = row_line + row[: len(row) - len(row.lstrip())].count("\n")
            if chain and (_CONTINUES.match(row_text) or not _RELATION.search(row_text)):
                # a row that goes on with the one above (a row without `=` is no equation)
                pieces, previous_label, previous_line = chain[-1]
                pieces.append(row_text)
                chain[-1] = (pieces, previous_label or label, previous_line)
            else:
                for number, piece in enumerate(split_equations(row_text)):
                    chain.append(([piece.strip()], label if number == 0 else None, start_line))
            row_line += row.count("\n")
        if len(chain) == 1 and chain[0][1] is None and trailing:
            chain[0] = (chain[0][0], trailing, chain[0][2])
        for pieces, label, row_number in chain:
            if len(chain) == 1:
                row_number = line  # a block of one equation: the line it opens on
            equations.append(Equation(" ".join(pieces), label, max(row_number, line), heading))
    return equations
