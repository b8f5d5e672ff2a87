"""What ``symconv check`` reads of a file: its kind, its text, the parts that are not math,
and its macros.

A document is one of ``KINDS``: ``markdown`` (``.md`` and any other text), ``latex``
(``.tex``) or ``notebook`` (``.ipynb``: its markdown cells; code and raw cells are not
math).  A :class:`Source` holds the kind and the text in parts (one part, or one per
markdown cell with the cell's number); :func:`read_source` makes one from a file and raises
:class:`CheckInputError` for a file that cannot be read, an invalid notebook included, so
that ``symconv check`` exits 2 before any work.

The reader (:mod:`symconv.check.document`) blanks what is not math — Markdown code
(fenced, indented, inline) and HTML comments (:func:`mask_markdown`); LaTeX comments,
verbatim text, ``\\iffalse`` blocks and everything outside ``\\begin{document}``
(:func:`mask_latex`) — with spaces, newlines kept, so every line number stays.  Macros
(:class:`Macros`) are read and expanded as text, never by running TeX: ``\\newcommand``,
``\\renewcommand``, ``\\providecommand`` (up to 9 arguments, an optional first one with
its default), ``\\def`` (``#1``…``#9``), ``\\let`` and ``\\DeclareMathOperator``; an
expansion deeper than ``MAX_DEPTH`` or longer than ``MAX_EXPANSION`` characters leaves the
equation as written, with a note.  Every scan here is linear in the text (no pattern
backtracks, and each search resumes where the last one ended).

Example:
    >>> source = Source.from_text("\\\\newcommand{\\\\R}{\\\\mathbb{R}} $$x \\\\in \\\\R$$")
    >>> macros = Macros()
    >>> text = macros.collect(source.parts[0].text)  # the definition blanked
    >>> macros.advance(len(text))  # the definitions before this offset take effect
    >>> macros.expand("x \\\\in \\\\R")
    ('x \\\\in \\\\mathbb{R}', '')
"""

from __future__ import annotations

import bisect
import re
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from symconv.errors import CheckInputError

__all__ = [
    "KINDS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_EXPANSION",
    "Finder",
    "Macros",
    "Part",
    "Source",
    "kind_of",
    "latex_body",
    "latex_setup",
    "mask_latex",
    "mask_markdown",
    "notebook_parts",
    "read_source",
]

KINDS = ("markdown", "latex", "notebook")
MAX_BYTES = 2_000_000  # the text a document may hold (a notebook: its markdown cells)
MAX_NOTEBOOK_BYTES = 50_000_000  # a notebook's file, outputs (images) included
# the JSON values a notebook may hold (cells, outputs, metadata): what costs the parent's
# time and memory when it is read, bounded before it is parsed (a 40 MB file of 900,000
# empty cells took a minute and 1.2 GB; a real notebook of 300 cells holds ~20,000)
MAX_NOTEBOOK_VALUES = 500_000
MAX_DEPTH = 20  # macros inside macros, levels
MAX_EXPANSION = 50_000  # characters of one equation once its macros are expanded
MAX_DOCUMENT_EXPANSION = 2_000_000  # characters rewritten by expansion in one document
_SUFFIXES = {
    ".ipynb": "notebook",
    ".tex": "latex",
    ".latex": "latex",
    ".ltx": "latex",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".mkd": "markdown",
    ".qmd": "markdown",
    ".rmd": "markdown",
}


@dataclass(frozen=True)
class Part:
    """A stretch of a document's text; ``cell`` is the notebook cell it is (1-based,
    counting every cell as Jupyter shows them, code cells included), else None."""

    text: str
    cell: int | None = None


@dataclass(frozen=True)
class Source:
    """A document as the reader takes it: its kind, its parts and the inline rule.

    ``inline``: True reads inline math (``$…$``, ``\\(…\\)``) always, False never, None
    only when the document has no display math at all.
    """

    kind: str = "markdown"
    parts: tuple[Part, ...] = ()
    inline: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            allowed = ", ".join(repr(k) for k in KINDS)
            raise ValueError(f"`kind` (={self.kind!r}) must be one of {allowed}")

    @classmethod
    def from_text(
        cls, text: str, kind: str = "markdown", *, inline: bool | None = None, name: str = "<text>"
    ) -> Source:
        """A document of ``kind`` from its text (a notebook's JSON text for ``notebook``;
        raises :class:`CheckInputError` naming ``name`` when it is not a notebook)."""
        if kind == "notebook":
            return cls(kind, notebook_parts(text, name), inline)
        return cls(kind, (Part(text),), inline)


def kind_of(path: str, text: str = "") -> str:
    """The kind of the document at ``path``: by its suffix, else by what ``text`` holds.

    Example:
        >>> kind_of("hw.ipynb"), kind_of("notes.tex"), kind_of("a.md"), kind_of("a.txt")
        ('notebook', 'latex', 'markdown', 'markdown')
    """
    kind = _SUFFIXES.get(Path(path).suffix.lower())
    if kind is not None:
        return kind
    head = text[:4096].lstrip()
    if head.startswith("{") and '"cells"' in text and '"nbformat"' in text:
        return "notebook"
    if "\\documentclass" in head or "\\begin{document}" in text:
        return "latex"
    return "markdown"


def _read_text(path: str, max_bytes: int) -> str:
    file = Path(path)
    if not file.is_file():
        raise CheckInputError(f"`FILE` (={path!r}) is not a readable file")
    try:
        if file.stat().st_size > max_bytes:
            raise CheckInputError(f"`FILE` (={path!r}) is larger than {max_bytes} bytes")
        return file.read_text("utf-8")
    except UnicodeDecodeError:
        raise CheckInputError(f"`FILE` (={path!r}) is not UTF-8 text") from None
    except OSError as exc:
        raise CheckInputError(f"`FILE` (={path!r}) cannot be read: {exc.strerror}") from None


def read_source(path: str, *, inline: bool | None = None) -> Source:
    """The document at ``path`` (raises :class:`CheckInputError` if it cannot be read).

    A notebook's file may be up to ``MAX_NOTEBOOK_BYTES`` (outputs count), its markdown
    cells up to ``MAX_BYTES``; any other document up to ``MAX_BYTES``.
    """
    notebook = Path(path).suffix.lower() == ".ipynb"
    text = _read_text(path, MAX_NOTEBOOK_BYTES if notebook else MAX_BYTES)
    kind = kind_of(path, text)
    if kind == "notebook" and not notebook and len(text.encode("utf-8")) > MAX_BYTES:
        raise CheckInputError(f"`FILE` (={path!r}) is larger than {MAX_BYTES} bytes")
    return Source.from_text(text, kind, inline=inline, name=path)


def notebook_parts(text: str, name: str = "<text>") -> tuple[Part, ...]:
    """The markdown cells of a Jupyter notebook's JSON, each with its cell number.

    Raises :class:`CheckInputError` (one line, naming ``name``) when ``text`` is not a
    notebook nbformat can read and validate (extra keys are tolerated), when it holds
    more than ``MAX_NOTEBOOK_VALUES`` JSON values (counted before it is parsed: reading
    it is the caller's time and memory) or when its markdown holds more than ``MAX_BYTES``.
    """
    import nbformat
    from nbformat.reader import reads

    problem = f"`FILE` (={name!r}) is not a valid Jupyter notebook"
    if _json_values(text) > MAX_NOTEBOOK_VALUES:
        raise CheckInputError(
            f"`FILE` (={name!r}) holds more than {MAX_NOTEBOOK_VALUES} JSON values "
            "(cells, outputs, metadata): too many to read"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat warns of missing cell ids
            notebook = nbformat.convert(reads(text), 4)  # type: ignore[no-untyped-call]
            nbformat.validate(notebook, relax_add_props=True)
    except (ValueError, TypeError, AttributeError, KeyError, nbformat.ValidationError) as exc:
        raise CheckInputError(f"{problem}: {_first_line(exc)}") from None
    except RecursionError:  # JSON nested deeper than Python's parser recurses
        raise CheckInputError(f"{problem}: its JSON is nested too deeply") from None
    except Exception as exc:  # nbformat's own failure on a malformed (e.g. v3) notebook
        raise CheckInputError(f"{problem}: {type(exc).__name__}: {_first_line(exc)}") from None
    parts: list[Part] = []
    size = 0
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "markdown":
            continue  # code and raw cells are not math
        source = cell.get("source", "")
        if not isinstance(source, str):
            raise CheckInputError(f"{problem}: cell {number}'s source is not text")
        try:
            size += len(source.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate escaped in the JSON (\ud800)
            raise CheckInputError(
                f"{problem}: cell {number}'s source is not text (a lone surrogate)"
            ) from None
        if size > MAX_BYTES:
            raise CheckInputError(
                f"`FILE` (={name!r}) holds more than {MAX_BYTES} bytes of markdown"
            )
        parts.append(Part(source, number))
    return tuple(parts)


def _json_values(text: str) -> int:
    """An upper bound of the values a JSON text holds, counted without parsing it: each
    array or object opens with ``[`` or ``{`` and holds one value more than its commas.

    Example:
        >>> _json_values('{"a": [1, 2], "b": "x"}')  # 5 values: the object, 1, 2, [1, 2], "x"
        6
    """
    containers = text.count("{") + text.count("[")
    return 2 * containers + text.count(",")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n", 1)[0].strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"


# --- blanking what is not math ----------------------------------------------------------


class Finder:
    """``str.find`` for starts that do not decrease: each needle's answer is remembered,
    so a document with many openers and no closer is still scanned once (linear)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._seen: dict[str, tuple[int, int]] = {}

    def find(self, needle: str, start: int) -> int:
        seen = self._seen.get(needle)
        if seen is not None:
            origin, found = seen
            if origin <= start and (found < 0 or found >= start):
                return found
        found = self.text.find(needle, start)
        self._seen[needle] = (start, found)
        return found


_NOT_NEWLINE = re.compile(r"[^\n]++")


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every span (in order, not overlapping) blanked, newlines kept."""
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces.append(text[position:start])
        blanked = text[start:end]
        pieces.append(
            _NOT_NEWLINE.sub(lambda run: " " * len(run.group(0)), blanked)
            if "\n" in blanked
            else " " * len(blanked)
        )
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


_LATEX_SKIP = re.compile(
    r"%[^\n]*+"
    r"|\\(?:begin\s*+\{(?P<env>verbatim|Verbatim|lstlisting|minted|comment)(?P<star>\*?)\}"
    r"|(?P<verb>verb|lstinline)\*?(?P<delim>[^A-Za-z\s*\[{])"
    r"|(?P<iffalse>iffalse)(?![A-Za-z])"
    r"|.)",
    re.S,
)
_FI = re.compile(r"\\fi(?![A-Za-z])")
_BEGIN_DOCUMENT = re.compile(r"\\begin\s*+\{document\}")
_END_DOCUMENT = re.compile(r"\\end\s*+\{document\}")
_VERB_CHARS = 500  # \verb|…| ends on its line, within this many characters


def mask_latex(text: str) -> str:
    """``text`` with its comments (``%`` to the end of the line, not ``\\%``), verbatim
    text (``verbatim``, ``lstlisting``, ``minted``, ``comment``, ``\\verb``) and
    ``\\iffalse…\\fi`` blanked.

    Example:
        >>> mask_latex("a % b\\n\\\\% c")
        'a    \\n\\\\% c'
    """
    finder = Finder(text)
    spans: list[tuple[int, int]] = []
    position = 0
    fi_from, fi_at = -1, -1  # the last search for \fi: where it started, what it found
    while True:
        match = _LATEX_SKIP.search(text, position)
        if match is None:
            break
        position = match.end()
        if match.group(0).startswith("%"):
            spans.append((match.start(), match.end()))
        elif match.group("env"):
            closer = f"\\end{{{match.group('env')}{match.group('star')}}}"
            end = finder.find(closer, match.end())
            position = len(text) if end < 0 else end + len(closer)
            spans.append((match.start(), position))
        elif match.group("verb"):
            end = text.find(match.group("delim"), match.end(), match.end() + _VERB_CHARS)
            if end >= 0 and text.find("\n", match.end(), end) < 0:
                spans.append((match.start(), end + 1))
                position = end + 1
        elif match.group("iffalse"):
            if fi_from < 0 or not (fi_at < 0 or fi_at >= match.end()):
                found = _FI.search(text, match.end())
                fi_from, fi_at = match.end(), found.start() if found else -1
            if fi_at >= 0:
                position = fi_at + 3
                spans.append((match.start(), position))
    return _blank(text, spans)


def latex_body(text: str) -> str:
    """``text`` with everything outside ``\\begin{document}…\\end{document}`` blanked
    (unchanged when it has no ``\\begin{document}``: a fragment is all body).

    Example:
        >>> latex_body("\\\\usepackage{x}\\n\\\\begin{document}a\\\\end{document}b").split()
        ['a']
    """
    begin = _BEGIN_DOCUMENT.search(text)
    if begin is None:
        return text
    end_match = _END_DOCUMENT.search(text, begin.end())
    end = end_match.start() if end_match else len(text)
    return _blank(text, [(0, begin.end()), (end, len(text))])


def latex_setup(whole: str) -> tuple[str, str | None]:
    """The document class of a (masked) LaTeX text and the counter its equation numbers
    are within (``chapter`` for book and report, else None, unless ``\\numberwithin``
    says otherwise).

    Example:
        >>> latex_setup("\\\\documentclass[11pt]{report}")
        ('report', 'chapter')
    """
    found = re.search(r"\\documentclass\s*+(?:\[[^\[\]]{0,500}+\]\s*+)?+\{\s*+([A-Za-z-]++)", whole)
    document_class = found.group(1) if found else "article"
    within = "chapter" if document_class in _CHAPTER_CLASSES else None
    numbered = re.search(r"\\numberwithin\s*+\{equation\}\s*+\{([a-z]++)\}", whole)
    if numbered and numbered.group(1) in ("chapter", "section", "subsection"):
        within = numbered.group(1)
    return document_class, within


_CHAPTER_CLASSES = {"book", "report", "scrbook", "scrreprt", "memoir"}

_LIST_ITEM = re.compile(r"( {0,3}+)([-+*]|\d{1,9}[.)])( {1,4}+|\t|$)")
_FENCE_OPEN = re.compile(r"[ \t]*+(`{3,}+|~{3,}+)([^\n]*+)")
_MATH_MARK = re.compile(
    r"\\\$|\$\$|\\[\[\]]|\\(begin|end)\s*+\{(?:equation|align|gather|multline|eqnarray"
    r"|displaymath|flalign|alignat)\*?\}"
)
_MAY_BE_CODE = re.compile(r"^(?: {0,3}\t| {4}|[ \t]*+(?:```|~~~))", re.M)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*+(?=\n)")
_HTML_COMMENT_OPEN = "<!--"
_HTML_COMMENT_CLOSE = "-->"


def _indent(line: str) -> int:
    """The columns of a line's leading white space (a tab to the next multiple of 4)."""
    column = 0
    for char in line:
        if char == " ":
            column += 1
        elif char == "\t":
            column += 4 - column % 4
        else:
            break
    return column


def _code_lines(lines: list[str]) -> list[bool]:
    """Which lines are Markdown code: inside a ``` or ~~~ fence (the fences too) or an
    indented code block (4 columns past the list item it is in, after a blank line, and
    not inside display math)."""
    code = [False] * len(lines)
    fence: tuple[str, int] | None = None
    items: list[int] = []  # the content columns of the list items the line may be in
    blank_before = True
    in_indented = False
    math_open = dollars_open = False
    env_depth = 0
    for number, line in enumerate(lines):
        if fence is not None:
            code[number] = True
            closing = _FENCE_OPEN.fullmatch(line)
            if (
                closing
                and closing.group(1)[0] == fence[0]
                and len(closing.group(1)) >= fence[1]
                and not closing.group(2).strip()
            ):
                fence = None
            continue
        if not line.strip():
            blank_before = True
            continue
        column = _indent(line)
        if not math_open:
            if blank_before:
                while items and column < items[-1] and not _LIST_ITEM.match(line):
                    items.pop()
            base = items[-1] if items else 0
            if (blank_before or in_indented) and column >= base + 4:
                code[number] = in_indented = True
                blank_before = False
                continue
            opened = _FENCE_OPEN.fullmatch(line)
            if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
                code[number] = True
                fence = (opened.group(1)[0], len(opened.group(1)))
                in_indented = blank_before = False
                continue
        in_indented = False
        item = _LIST_ITEM.match(line)
        if item and not math_open:
            while items and len(item.group(1)) < items[-1]:
                items.pop()
            items.append(len(item.group(1)) + len(item.group(2)) + max(1, len(item.group(3))))
        # display math that goes on to later lines: its indented lines are not code
        for mark in _MATH_MARK.finditer(line):
            token = mark.group(0)
            if token == "$$":
                dollars_open = not dollars_open
            elif token == "\\[" or mark.group(1) == "begin":
                env_depth += 1
            elif token == "\\]" or mark.group(1) == "end":
                env_depth = max(0, env_depth - 1)
        math_open = dollars_open or env_depth > 0
        blank_before = False
    return code


def mask_markdown(text: str) -> str:
    """``text`` with Markdown code (fenced, indented and inline) and HTML comments blanked.

    Example:
        >>> mask_markdown("a `$x = 1$` b <!-- $$c = 2$$ -->").split()
        ['a', 'b']
    """
    if _MAY_BE_CODE.search(text):  # an indented line or a fence: look line by line
        lines = text.split("\n")
        spans: list[tuple[int, int]] = []
        offset = 0
        for line, is_code in zip(lines, _code_lines(lines)):
            if is_code and line.strip():
                spans.append((offset, offset + len(line)))
            offset += len(line) + 1
        text = _blank(text, spans)
    if "`" not in text and _HTML_COMMENT_OPEN not in text:
        return text
    return _blank(text, _inline_spans(text))


def _inline_spans(text: str) -> list[tuple[int, int]]:
    """The spans of HTML comments (``<!--`` to ``-->``, or to the end) and of inline code
    (a run of backticks to the next run of the same length in its paragraph), in order;
    whichever opens first holds the other's marks as text."""
    finder = Finder(text)
    runs = [(m.start(), m.end()) for m in re.finditer(r"`++", text)]
    # each run's partner: the next run of the same length (one pass from the right)
    partner = [-1] * len(runs)
    latest: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        partner[index] = latest.get(length, -1)
        latest[length] = index
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(text)] if runs else []
    spans: list[tuple[int, int]] = []
    position = 0
    index = 0  # the next backtick run to look at
    while True:
        while index < len(runs) and runs[index][0] < position:
            index += 1
        comment = finder.find(_HTML_COMMENT_OPEN, position)
        run = runs[index][0] if index < len(runs) else -1
        if comment < 0 and run < 0:
            return spans
        if comment >= 0 and (run < 0 or comment < run):
            end = finder.find(_HTML_COMMENT_CLOSE, comment + len(_HTML_COMMENT_OPEN))
            position = len(text) if end < 0 else end + len(_HTML_COMMENT_CLOSE)
            spans.append((comment, position))
            continue
        other = partner[index]
        paragraph = bisect.bisect_right(breaks, run)
        if other < 0 or (paragraph < len(breaks) and breaks[paragraph] < runs[other][0]):
            position = runs[index][1]  # no closing run in its paragraph: literal backticks
            continue
        position = runs[other][1]
        spans.append((run, position))


# --- macros -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Macro:
    arguments: int
    default: str | None  # the first argument's default (an optional argument), if any
    body: str


_NAME = r"\\(?:[A-Za-z]++|[^A-Za-z\s])"
_DEFINE = re.compile(
    r"\\(?:(?P<new>newcommand|renewcommand|providecommand)(?![A-Za-z])\*?+\s*+"
    r"(?:\{\s*+(?P<new_name>" + _NAME + r")\s*+\}|(?P<new_bare>" + _NAME + r"))"
    r"\s*+(?:\[\s*+(?P<count>\d)\s*+\]\s*+)?+(?P<optional>\[)?+"
    r"|(?P<def>[gex]?def)(?![A-Za-z])\s*+(?P<def_name>" + _NAME + r")"
    r"(?P<params>(?:#[1-9])*+)\s*+(?=\{)"
    r"|(?P<operator>DeclareMathOperator)(?P<op_star>\*?+)\s*+"
    r"(?:\{\s*+(?P<op_name>" + _NAME + r")\s*+\}|(?P<op_bare>" + _NAME + r"))\s*+(?=\{)"
    r"|(?P<let>let)(?![A-Za-z])\s*+(?P<let_name>" + _NAME + r")\s*+=?+\s*+"
    r"(?P<let_target>" + _NAME + r"))"
)
_TEXT_MODE_ONLY = re.compile(r"\\(?:ensuremath|xspace)(?![A-Za-z])\s*+")
_CONTROL = re.compile(r"\\(?:[A-Za-z]++|.)", re.S)
_PARAMETER = re.compile(r"#(#|[1-9])")
_OPTIONAL_CHARS = 1000  # an optional argument [..] closes within this many characters
_BODY_CHARS = 20_000  # a definition's body


def _brace_pairs(text: str) -> dict[int, int]:
    """Each ``{`` of ``text`` that closes: the offset of its ``}`` (``\\{`` is no brace)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for match in re.finditer(r"\\.|[{}]", text, re.S):
        token = match.group(0)
        if token == "{":
            stack.append(match.start())
        elif token == "}" and stack:
            pairs[stack.pop()] = match.start()
    return pairs


def _close_bracket(text: str, start: int, pairs: dict[int, int]) -> int:
    """The ``]`` closing the ``[`` at ``start`` (braces skipped), or -1 within the bound."""
    position = start + 1
    limit = min(len(text), start + _OPTIONAL_CHARS)
    while position < limit:
        char = text[position]
        if char == "]":
            return position
        if char == "{":
            close = pairs.get(position, -1)
            if close < 0:
                return -1
            position = close + 1
            continue
        if char == "\\":
            position += 2
            continue
        position += 1
    return -1


class Macros:
    """The macros a document defines, in the order it defines them, and their expansion.

    :meth:`collect` reads the definitions of a text (returning it with them blanked);
    :meth:`expand` substitutes every macro of an equation, level by level, up to
    ``MAX_DEPTH`` levels and ``MAX_EXPANSION`` characters (and, for the whole document,
    ``MAX_DOCUMENT_EXPANSION`` characters of work).  Definitions take effect from where
    they stand: :meth:`collect` queues them with their offsets, :meth:`advance` applies
    those before an offset.
    """

    def __init__(self) -> None:
        self.table: dict[str, _Macro] = {}
        self._queue: list[tuple[int, str, str, _Macro | str]] = []  # offset, kind, name, macro
        self._next = 0
        self._work = 0

    def collect(self, text: str, *, base: int = 0) -> str:
        """Queue the definitions in ``text`` (at offsets ``base + offset``); the text is
        returned with each definition blanked (newlines kept)."""
        if "\\" not in text or _DEFINE.search(text) is None:
            return text
        pairs = _brace_pairs(text)
        spans: list[tuple[int, int]] = []
        position = 0
        while True:
            match = _DEFINE.search(text, position)
            if match is None:
                break
            found = self._definition(text, match, pairs)
            if found is None:
                position = match.end()
                continue
            end, kind, name, macro = found
            self._queue.append((base + match.start(), kind, name, macro))
            spans.append((match.start(), end))
            position = end
        return _blank(text, spans)

    def _definition(
        self, text: str, match: re.Match[str], pairs: dict[int, int]
    ) -> tuple[int, str, str, _Macro | str] | None:
        """``(end, kind, name, macro)`` of the definition ``match`` opens, or None."""
        if match.group("let"):
            return match.end(), "let", match.group("let_name"), match.group("let_target")
        position = match.end()
        default: str | None = None
        arguments = 0
        if match.group("new"):
            name = match.group("new_name") or match.group("new_bare")
            arguments = int(match.group("count") or 0)
            if match.group("optional"):
                close = _close_bracket(text, position - 1, pairs)
                if close < 0 or arguments == 0:
                    return None
                default = text[position:close]
                position = close + 1
            kind = "provide" if match.group("new") == "providecommand" else "new"
        elif match.group("def"):
            name = match.group("def_name")
            params = match.group("params")
            arguments = len(params) // 2
            if params != "".join(f"#{k}" for k in range(1, arguments + 1)):
                return None  # #1#3…: not a TeX definition
            kind = "new"
        else:
            name = match.group("op_name") or match.group("op_bare")
            kind = "operator"
        while position < len(text) and text[position] in " \t\n":
            position += 1
        if position >= len(text):
            return None
        if text[position] == "{":
            close = pairs.get(position, -1)
            if close < 0 or close - position > _BODY_CHARS:
                return None
            body, end = text[position + 1 : close], close + 1
        elif kind == "new" and match.group("new"):
            token = _CONTROL.match(text, position)
            body, end = (token.group(0), token.end()) if token else (text[position], position + 1)
        else:
            return None
        body = body.replace("\n", " ")  # an expansion keeps the equation's line count
        body = _TEXT_MODE_ONLY.sub("", body)  # \ensuremath{x} is {x} in math; \xspace nothing
        if kind == "operator":
            body = f"\\operatorname{{{body.strip()}}}"
        return end, kind, name, _Macro(arguments, default, body)

    @property
    def defined(self) -> bool:
        """Whether the document defines any macro at all."""
        return bool(self._queue)

    def restart(self) -> None:
        """Forget what :meth:`advance` applied (the queue stays): read again from the top."""
        self.table = {}
        self._next = 0

    def advance(self, offset: int) -> None:
        """Apply the queued definitions that stand before ``offset``."""
        while self._next < len(self._queue) and self._queue[self._next][0] < offset:
            _, kind, name, macro = self._queue[self._next]
            self._next += 1
            if isinstance(macro, str):  # \let\name\target: the target's meaning now
                target = self.table.get(macro)
                self.table[name] = target if target is not None else _Macro(0, None, macro)
            elif kind != "provide" or name not in self.table:
                self.table[name] = macro

    def expand(self, latex: str) -> tuple[str, str]:
        """``(latex with its macros expanded, note)``; the note says why the latex was
        left as written (too deep, too long, the document's budget used up), else ""."""
        if not self.table or "\\" not in latex:
            return latex, ""
        text = latex
        for _ in range(MAX_DEPTH):
            if self._work > MAX_DOCUMENT_EXPANSION:
                return latex, (
                    f"its macros were not expanded: the document's expansions passed "
                    f"{MAX_DOCUMENT_EXPANSION} characters"
                )
            text, changed = self._pass(text)
            self._work += len(text)
            if not changed:
                return text, ""
            if len(text) > MAX_EXPANSION:
                return latex, (
                    f"its macros were not expanded: they grow past {MAX_EXPANSION} characters"
                )
        if self._pass(text)[1]:
            return latex, f"its macros were not expanded: they nest deeper than {MAX_DEPTH} levels"
        return text, ""

    def _pass(self, text: str) -> tuple[str, bool]:
        """One level: every macro of ``text`` replaced by its body (arguments filled in),
        without rescanning what was put in."""
        pieces: list[str] = []
        position = 0
        changed = False
        pairs: dict[int, int] | None = None
        for match in _CONTROL.finditer(text):
            if match.start() < position:
                continue  # inside the arguments of a macro just expanded
            macro = self.table.get(match.group(0))
            if macro is None:
                continue
            if pairs is None and macro.arguments:
                pairs = _brace_pairs(text)
            read = _arguments(text, match.end(), macro, pairs or {})
            if read is None:
                continue  # arguments missing: left as written
            values, end = read
            body = macro.body
            if macro.arguments:
                body = _PARAMETER.sub(partial(_spaced, values, macro), body)
            pieces.append(text[position : match.start()])
            pieces.append(body)
            if re.search(r"\\[A-Za-z]+$", body) and end < len(text) and text[end].isalpha():
                pieces.append(" ")  # "\alpha" then "b" must not become "\alphab"
            position = end
            changed = True
        pieces.append(text[position:])
        return "".join(pieces), changed


def _spaced(values: list[str], macro: _Macro, parameter: re.Match[str]) -> str:
    """The text of ``#k`` in a body (``##`` is ``#``): argument k, with a space after it
    when it ends in a control word and a letter follows (``#1x`` with ``\\alpha`` is
    ``\\alpha x``)."""
    if parameter.group(1) == "#":
        return "#"
    number = int(parameter.group(1))
    if number > macro.arguments:
        return parameter.group(0)
    value = values[number - 1]
    after = parameter.end()
    if (
        after < len(macro.body)
        and macro.body[after].isalpha()
        and re.search(r"\\[A-Za-z]+$", value)
    ):
        return value + " "
    return value


def _arguments(
    text: str, start: int, macro: _Macro, pairs: dict[int, int]
) -> tuple[list[str], int] | None:
    """The arguments of ``macro`` read from ``start``: ``(values, end)``, None if missing."""
    values: list[str] = []
    position = start
    for number in range(macro.arguments):
        skipped = position
        while skipped < len(text) and text[skipped] in " \t\n":
            skipped += 1
        if number == 0 and macro.default is not None:
            if skipped < len(text) and text[skipped] == "[":
                close = _close_bracket(text, skipped, pairs)
                if close < 0:
                    return None
                values.append(text[skipped + 1 : close])
                position = close + 1
            else:
                values.append(macro.default)
            continue
        if skipped >= len(text) or text[skipped] in "}]&":
            return None
        if text[skipped] == "{":
            close = pairs.get(skipped, -1)
            if close < 0:
                return None
            values.append(text[skipped + 1 : close])
            position = close + 1
        elif text[skipped] == "\\":
            token = _CONTROL.match(text, skipped)
            assert token is not None  # a backslash always starts a control sequence
            values.append(token.group(0))
            position = token.end()
        else:
            values.append(text[skipped])
            position = skipped + 1
    return values, position
