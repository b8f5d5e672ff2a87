"""Fuzzing ``symconv check`` and ``symconv derive --problem`` (issue #13, item 5).

Generators (each document comes from its own ``random.Random(f"{seed}:{index}")``, so any
one can be made again alone with ``--only INDEX``):

- **grammar**: sentences derived from ``symconv/check/grammar.lark`` (its rules and
  terminals as lark compiles them; regex terminals sampled from their own patterns; a
  depth bound) made into equations, in Markdown, LaTeX or notebook documents;
- **mutation**: the documents of ``tests/data/check/corpus`` and ``heldout`` with
  characters deleted, duplicated or swapped, equations spliced in from other documents,
  adversarial snippets inserted, numbers made huge, line endings changed, bytes broken;
- **catalogue**: the adversarial inputs of the issue and more (:data:`CATALOGUE`, with
  the small files of ``tests/data/fuzz``);
- **problems**: hostile problem files (:func:`hostile_problem`) for ``derive --problem``;
- **hypothesis**: :meth:`Grammar.strategy`, the same grammar as a hypothesis strategy
  (used by ``tests/test_fuzz.py``).

The harness (:class:`Harness`) runs documents through the in-process API
(``symconv.check.run.check_files``, with workers that note when each answer arrives:
:class:`TimedWorker`) or through the real CLI (``python -m symconv check … --json``) and
:func:`examine` / :func:`examine_cli` state what must hold: no exception escapes; exit
codes only 0/1/2, and the one the JSON implies; no traceback, stderr lines are
``symconv: …``; each equation within its budget plus the grace and a stated slack, each
document within its document budget likewise; the worker's peak memory within the limit;
JSON strict; every file of a batch has its result, in order; no equation ``unchecked``
because the checker itself failed.

``python tests/fuzz.py --documents 10000 [--seed S]`` prints one JSON summary line and a
short table, saves every document that broke a rule under ``--out`` and exits 1 if any did.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from symconv.check.isolate import Limits, Worker

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from symconv.problem import Problem

ROOT = Path(__file__).resolve().parents[1]
GRAMMAR = ROOT / "symconv" / "check" / "grammar.lark"
CORPORA = (
    ROOT / "tests" / "data" / "check" / "corpus",
    ROOT / "tests" / "data" / "check" / "heldout",
)
DATA = ROOT / "tests" / "data" / "fuzz"
VERDICTS = ("correct", "incorrect", "notation", "unchecked")
BIG = "9" * 5000  # beyond Python's 4,300-digit int <-> str limit

# ---------------------------------------------------------------------------------------
# strict JSON


def strict_loads(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and ``-Infinity`` (and trailing
    text): what a strict JSON reader in another language accepts.

    Example:
        >>> strict_loads('{"a": 1}')
        {'a': 1}
        >>> strict_loads('[NaN]')
        Traceback (most recent call last):
        ...
        ValueError: not strict JSON: NaN
    """

    def refuse(token: str) -> Any:
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------------------------------
# a sampler of regular expressions (the grammar's regex terminals)

_PRINTABLE = [chr(c) for c in range(0x21, 0x7F)]


def sample_regex(pattern: str, rng: random.Random, *, repeat: int = 3) -> str:
    """A string the regular expression ``pattern`` matches, repeats bounded by ``repeat``
    (lookarounds are ignored: :func:`join_tokens` keeps a control word apart from a
    letter after it).

    Example:
        >>> sample_regex(r"\\\\(hat|bar)", random.Random(1)) in ("\\\\hat", "\\\\bar")
        True
    """
    import re._constants as c  # type: ignore[import-not-found]

    def category(kind: object) -> list[str]:
        if kind == c.CATEGORY_DIGIT:
            return list("0123456789")
        if kind == c.CATEGORY_SPACE:
            return [" "]
        if kind == c.CATEGORY_WORD:
            return list("abcxyz_019")
        return [" "]

    def charset(items: list[tuple[object, Any]]) -> str:
        negate = any(op == c.NEGATE for op, _ in items)
        pool: list[str] = []
        for op, value in items:
            if op == c.LITERAL:
                pool.append(chr(value))
            elif op == c.RANGE:
                pool.extend(chr(x) for x in range(value[0], value[1] + 1))
            elif op == c.CATEGORY:
                pool.extend(category(value))
        if negate:
            pool = [ch for ch in _PRINTABLE if ch not in pool]
        return rng.choice(pool) if pool else ""

    def walk(items: Iterable[tuple[object, Any]]) -> str:
        out: list[str] = []
        for op, value in items:
            if op == c.LITERAL:
                out.append(chr(value))
            elif op == c.NOT_LITERAL:
                out.append(rng.choice([ch for ch in _PRINTABLE if ord(ch) != value]))
            elif op == c.IN:
                out.append(charset(value))
            elif op == c.ANY:
                out.append(rng.choice(_PRINTABLE))
            elif op == c.BRANCH:
                out.append(walk(rng.choice(value[1])))
            elif op == c.SUBPATTERN:
                out.append(walk(value[-1]))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
                low, high, sub = value
                high = min(high, low + repeat)
                out.extend(walk(sub) for _ in range(rng.randint(low, high)))
            elif op == c.CATEGORY:
                out.append(rng.choice(category(value)))
            # AT, ASSERT, ASSERT_NOT, GROUPREF…: nothing to produce
        return "".join(out)

    return walk(_parsed(pattern))


@cache
def _parsed(pattern: str) -> Any:
    import re._parser as p  # type: ignore[import-not-found]

    return p.parse(pattern)


# ---------------------------------------------------------------------------------------
# the grammar generator

# what real derivations use most, to reach beyond the parser into the judge
_LETTERS = "xwbyLtdozheEnkmijp"
_LEFT_SIDES = [
    r"\hat{y}_{i}",
    r"\hat{y}_{1}",
    r"\hat{y}_{2}",
    r"L",
    r"\mathcal{L}",
    r"\frac{\partial L}{\partial w_{1}}",
    r"\frac{\partial L}{\partial \hat{y}_{2}}",
    r"\frac{\partial \mathcal{L}}{\partial b}",
    r"\delta_{1}",
    r"w_{1}'",
    r"w^{(1)}_{2}",
    r"b^{new}",
    r"\nabla_{w} L",
    r"y_{1}",
    r"x_{3}",
    r"\mathbf{w}",
    r"\hat{\mathbf{y}}",
]


LEVELS = 7  # rule levels from ``sum`` down to ``primary``: one level of nesting
RECUR = 0.3  # the share of a rule's choices that recur (a longer sum, another factor)
RARE = {("implicit", "partial"): 0.2, ("implicit", "bigsum"): 0.5, ("unary", "PLUS"): 0.3}


@dataclass(frozen=True)
class _Symbol:
    name: str
    terminal: bool


class Grammar:
    """The rules and terminals of ``grammar.lark`` (as lark compiles them: the ``?``
    rules, aliases and ``*``/``+`` helpers included) and random sentences of them.

    Example:
        >>> grammar = Grammar()
        >>> "sum" in grammar.rules and "NUMBER" in grammar.terminals
        True
        >>> text = grammar.sentence(random.Random(3), "sum", depth=4)
        >>> isinstance(text, str) and len(text) > 0
        True
    """

    def __init__(self, path: Path = GRAMMAR) -> None:
        from lark import Lark

        lark = Lark(path.read_text("utf-8"), parser="lalr")
        self.rules: dict[str, list[tuple[_Symbol, ...]]] = {}
        for rule in lark.rules:
            expansion = tuple(_Symbol(s.name, s.is_term) for s in rule.expansion)
            self.rules.setdefault(rule.origin.name, []).append(expansion)
        self.terminals: dict[str, tuple[str, str]] = {}  # name -> (kind "str"/"re", value)
        ignored = set(lark.ignore_tokens)
        for terminal in lark.terminals:
            if terminal.name in ignored:
                continue
            kind = "str" if type(terminal.pattern).__name__ == "PatternStr" else "re"
            self.terminals[terminal.name] = (kind, terminal.pattern.value)
        self.height = self._heights()
        self._table: dict[tuple[str, str], tuple[list[tuple[_Symbol, ...]], list[float]]] = {}

    def _heights(self) -> dict[str, int]:
        """The least derivation height of every rule (terminals 0): the way out at the
        depth bound."""
        height: dict[str, int] = {}
        changed = True
        while changed:
            changed = False
            for name, expansions in self.rules.items():
                best = height.get(name)
                for expansion in expansions:
                    parts = [0 if s.terminal else height.get(s.name) for s in expansion]
                    if any(h is None for h in parts):
                        continue
                    value = 1 + max([h for h in parts if h is not None], default=0)
                    if best is None or value < best:
                        best = value
                if best is not None and height.get(name) != best:
                    height[name] = best
                    changed = True
        return height

    def terminal(self, name: str, rng: random.Random) -> str:
        """One token of terminal ``name`` (biased to what derivations use)."""
        if name == "LETTER":
            return rng.choice(_LETTERS) if rng.random() < 0.7 else rng.choice("abcfgqrsuvAZ")
        if name == "NUMBER":
            roll = rng.random()
            if roll < 0.75:
                return str(rng.randint(0, 20))
            if roll < 0.95:
                return f"{rng.randint(0, 99)}.{rng.randint(0, 99)}"
            return str(rng.randint(10**20, 10**40))
        if name == "TEXT":
            word = rng.choice(["d", "new", "out", "in", "pad", "loss", "if", "T", ""])
            return f"\\{rng.choice(['text', 'mathrm', 'operatorname'])}{{{word}}}"
        kind, value = self.terminals[name]
        return value if kind == "str" else sample_regex(value, rng)

    def tokens(self, rng: random.Random, start: str = "start", *, depth: int = 6) -> list[str]:
        """The tokens of one random derivation from ``start``: about ``depth`` levels of
        nesting (``LEVELS`` rule levels each, as ``sum`` to ``primary`` takes) and
        ``20 * depth`` tokens, then only the shortest ways out (recurring choices are
        taken less often: sums and products stay a few terms long)."""
        out: list[str] = []
        limit = 20 * depth  # tokens: past it only the shortest ways out are taken
        bound = depth * LEVELS

        def expand(symbol: _Symbol, level: int) -> None:
            if symbol.terminal:
                out.append(self.terminal(symbol.name, rng))
                return
            if len(out) > 2 * limit or level > bound + 2 * LEVELS:
                mode = "end"  # only the shortest ways: the derivation ends
            elif level >= bound or len(out) > limit:
                mode = "out"  # nearly the shortest, not recurring
            else:
                mode = "free"
            expansions, weights = self._choices(symbol.name, mode)
            for part in rng.choices(expansions, cum_weights=weights)[0]:
                expand(part, level + 1)

        expand(_Symbol(start, False), 0)
        return out

    def _choices(self, name: str, mode: str) -> tuple[list[tuple[_Symbol, ...]], list[float]]:
        """The expansions of rule ``name`` open in ``mode`` and their cumulative weights:
        the expansions that recur (hold ``name`` again) share ``RECUR`` of the choice,
        the others the rest; ``RARE`` ones less (made once per rule and mode)."""
        key = (name, mode)
        if key not in self._table:
            expansions = self.rules[name]
            least = min(self._cost(e) for e in expansions)
            if mode == "end":
                expansions = [e for e in expansions if self._cost(e) <= least]
            elif mode == "out":
                expansions = [
                    e
                    for e in expansions
                    if self._cost(e) <= least + 1 and all(s.name != name for s in e)
                ] or [e for e in expansions if self._cost(e) <= least]
            recurring = [any(s.name == name for s in e) for e in expansions]
            again = sum(recurring)
            once = len(expansions) - again
            weights: list[float] = []
            total = 0.0
            for expansion, recurs in zip(expansions, recurring):
                if again and once:
                    weight = RECUR / again if recurs else (1 - RECUR) / once
                else:
                    weight = 1.0
                first = expansion[0].name if expansion else ""
                total += weight * RARE.get((name, first), 1.0)
                weights.append(total)
            self._table[key] = (expansions, weights)
        return self._table[key]

    def _cost(self, expansion: tuple[_Symbol, ...]) -> int:
        return max([0 if s.terminal else self.height.get(s.name, 99) for s in expansion], default=0)

    def sentence(self, rng: random.Random, start: str = "start", *, depth: int = 6) -> str:
        """The tokens of :meth:`tokens` as LaTeX: a space where two would run together,
        else sometimes none (``x_1`` as well as ``x _ 1``)."""
        return join_tokens(self.tokens(rng, start, depth=depth), rng)

    def equation(self, rng: random.Random, *, depth: int = 6) -> str:
        """A random equation: a left side a derivation names ``= sum``, two sums, or the
        grammar's whole ``chain`` (which may hold no relation at all)."""
        roll = rng.random()
        if roll < 0.5:
            return f"{rng.choice(_LEFT_SIDES)} = {self.sentence(rng, 'sum', depth=depth)}"
        if roll < 0.8:
            left = self.sentence(rng, "sum", depth=depth)
            return f"{left} = {self.sentence(rng, 'sum', depth=depth)}"
        return self.sentence(rng, "start", depth=depth)

    def strategy(self, start: str = "sum", *, depth: int = 5) -> SearchStrategy[str]:
        """The grammar as a hypothesis strategy (shrinks to the shortest ways out)."""
        from hypothesis import strategies as st

        def symbol(sym: _Symbol, level: int) -> SearchStrategy[list[str]]:
            if sym.terminal:
                return st.builds(
                    lambda seed, name=sym.name: [self.terminal(name, random.Random(seed))],
                    st.integers(0, 2**16),
                )
            expansions = self.rules[sym.name]
            ordered = sorted(expansions, key=self._cost)  # the shortest first: shrinks to it
            if level >= depth:
                ordered = ordered[:1]
            return st.one_of([st.deferred(later(e, level + 1)) for e in ordered])

        def later(
            expansion: tuple[_Symbol, ...], level: int
        ) -> Callable[[], SearchStrategy[list[str]]]:
            return lambda: sequence(expansion, level)  # hypothesis defers a function

        def sequence(expansion: tuple[_Symbol, ...], level: int) -> SearchStrategy[list[str]]:
            if not expansion:
                return st.just([])
            return st.tuples(*(symbol(s, level) for s in expansion)).map(
                lambda parts: [token for part in parts for token in part]
            )

        return symbol(_Symbol(start, False), 0).map(lambda tokens: " ".join(tokens))


_CONTROL_WORD = re.compile(r"\\[A-Za-z]+$")


def join_tokens(tokens: Sequence[str], rng: random.Random) -> str:
    """Tokens as one text: a space where two would merge into another token (a control
    word followed by a letter, two letters, two numbers), else a space or none."""
    out: list[str] = []
    for token in tokens:
        if out:
            previous = out[-1]
            merge = (
                (_CONTROL_WORD.search(previous) and token[:1].isalpha())
                or (previous[-1:].isalnum() and token[:1].isalnum())
                or (previous[-1:] in "=:" and token[:1] in "=:")
                or (previous[-1:] == "\\" and token[:1] in "\\{}[]()|,;: ")
                or (previous[-1:].isdigit() and token[:1] == ".")
                or (previous[-1:] == "." and token[:1].isdigit())
            )
            if merge or rng.random() < 0.5:
                out.append(" ")
        out.append(token)
    return "".join(out)


# ---------------------------------------------------------------------------------------
# documents


@dataclass(frozen=True)
class Doc:
    """One generated document: its bytes, suffix, problem (built-in name or path), and
    where it came from (``origin``; ``detail`` says what was done)."""

    name: str
    suffix: str
    data: bytes
    problem: str = "exercise2"
    origin: str = "grammar"
    detail: str = ""

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


_PROSE = [
    "The forward pass:",
    "We differentiate the loss.",
    "Using the chain rule,",
    "so that",
    "Hence the update is",
    "# Step 1",
    "## Gradients",
    "1. The output",
    "- note: indices are 1-based",
    "where $i$ runs over the outputs.",
    "",
]


def _markdown(equations: list[str], rng: random.Random) -> str:
    lines: list[str] = []
    for equation in equations:
        if rng.random() < 0.5:
            lines.append(rng.choice(_PROSE))
        roll = rng.random()
        if roll < 0.6:
            lines.append(f"$${equation}$$")
        elif roll < 0.75:
            lines.append(f"\\[ {equation} \\]")
        elif roll < 0.9:
            lines.append(f"\\begin{{align}}\n{equation.replace(' = ', ' &= ', 1)}\n\\end{{align}}")
        else:
            lines.append(f"so ${equation}$ holds.")
        lines.append("")
    return "\n".join(lines)


def _latex(equations: list[str], rng: random.Random) -> str:
    body: list[str] = []
    for number, equation in enumerate(equations, start=1):
        if rng.random() < 0.4:
            body.append(rng.choice(["We have", "Then", "\\section{Backward}", "Thus"]))
        environment = rng.choice(["equation", "equation*", "align", "gather"])
        label = f"\\label{{eq:{number}}}" if rng.random() < 0.3 else ""
        body.append(f"\\begin{{{environment}}}\n{equation} {label}\n\\end{{{environment}}}")
    return (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
        + "\n".join(body)
        + "\n\\end{document}\n"
    )


def _notebook(cells: list[str], rng: random.Random) -> str:
    out: list[dict[str, Any]] = []
    for index, source in enumerate(cells):
        if rng.random() < 0.3:
            out.append(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": "import numpy as np\nx = np.array([1, 2, 3, 4])",
                }
            )
        out.append({"cell_type": "markdown", "metadata": {}, "source": source, "id": f"c{index}"})
    notebook = {
        "cells": out,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=rng.random() < 0.5)


def grammar_document(grammar: Grammar, rng: random.Random, name: str) -> Doc:
    """A document of 1 to 12 grammar equations, in Markdown, LaTeX or a notebook."""
    depth = rng.choice([3, 4, 5, 6, 8])
    equations = [grammar.equation(rng, depth=depth) for _ in range(rng.randint(1, 12))]
    kind = rng.choices(["md", "tex", "ipynb"], weights=[6, 2, 2])[0]
    if kind == "md":
        text = _markdown(equations, rng)
    elif kind == "tex":
        text = _latex(equations, rng)
    else:
        text = _notebook([f"$${e}$$" for e in equations], rng)
    return Doc(name, f".{kind}", text.encode("utf-8"), "exercise2", "grammar", f"depth {depth}")


# --- the corpora and their mutations ------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """A corpus document: its path, its problem file and its text."""

    path: Path
    problem: Path
    text: str

    @property
    def suffix(self) -> str:
        return self.path.suffix


def corpus_seeds() -> list[Seed]:
    """Every document of the corpus and the held-out set, with its problem."""
    seeds: list[Seed] = []
    for root in CORPORA:
        for manifest in sorted(root.glob("*/manifest.toml")):
            data = tomllib.loads(manifest.read_text("utf-8"))
            for entry in data.get("document", []):
                path = manifest.parent / entry["file"]
                problem = manifest.parent / entry["problem"]
                seeds.append(Seed(path, problem, path.read_text("utf-8")))
    return seeds


_DISPLAY = re.compile(
    r"\$\$(?:[^$]|\$(?!\$)){1,2000}?\$\$|\\begin\{(equation|align)\*?\}.{0,2000}?\\end\{\1\*?\}",
    re.S,
)


def equations_of(text: str) -> list[str]:
    """The display blocks of ``text`` (``$$…$$`` or ``equation``/``align``), as written."""
    return [m.group(0) for m in _DISPLAY.finditer(text)]


# small hostile snippets, inserted by mutation (the catalogue holds the big ones)
SNIPPETS = [
    "\\text{a} " * 30,
    "{" * 60,
    "}" * 60,
    "(" * 45,
    "\\left(" * 50,
    "$" * 300,
    "$$" * 40,
    "\\\\" * 80,
    "&" * 80,
    "\\def\\a{\\a}\\a",
    "\\def\\a{\\a\\a}\\a",
    "\\newcommand{\\x}{\\x}\\x",
    "\\newcommand{\\y}[1]{\\y{#1#1}}\\y{a}",
    "\\renewcommand{\\hat}{\\hat}",
    "\\let\\frac\\sqrt",
    "\\input{/etc/passwd}",
    "\\include{../../secret}",
    "\\write18{rm -rf /}",
    "\x00",
    "\r\n",
    "\r",
    "\u202e",
    "\u200b\u200d",
    "\ufeff",
    "а",  # Cyrillic a
    "ｘ₁",  # fullwidth x, subscript one
    "𝑥",  # mathematical italic x
    "ŷ₁ = 14",
    "−",
    "x_{" + BIG + "}",
    "w^{(" + BIG + ")}_1",
    "\\tag{" + BIG + "}",
    "Step " + BIG + ":",
    "\\hat{y}_1 = " + BIG,
    "^{4096}",
    "(\\sqrt2+\\sqrt3+\\sqrt5+\\sqrt7)^{4096}",
    "(\\sqrt{2}+\\sqrt{3}+\\sqrt{5}+\\sqrt{7})^{4096}",
    "10^{10^{10}}",
    "2^{2^{2^{2^{2}}}}",
    "\\frac{1}{0}",
    "0^{-1}",
    "\\sum_{i=1}^{10^{9}}",
    "x_{i+10^{9}}",
    "1e308",
    "\\infty",
    "nan",
    "%",
    "\\iffalse",
    "\\fi",
    "\\begin{verbatim}",
    "\\end{document}",
    "\\begin{document}",
    "```",
    "<!--",
    "\\begin{cases}",
    "\\end{bmatrix}",
    "\\begin{bmatrix}" + " & ".join(["1"] * 70) + "\\end{bmatrix}",
    "\\verb|",
    "\\\\[",
    "\\(",
    "#" * 7 + " heading",
    "\\label{" + "l" * 3000 + "}",
]


def mutate_text(text: str, rng: random.Random, others: Sequence[Seed]) -> tuple[str, list[str]]:
    """``text`` after 1 to 4 random mutations, and what they were."""
    done: list[str] = []
    for _ in range(rng.randint(1, 4)):
        if not text:
            text = rng.choice(SNIPPETS)
            done.append("empty: a snippet")
            continue
        at = rng.randrange(len(text) + 1)
        span = rng.randint(1, 60)
        roll = rng.random()
        if roll < 0.15:
            text = text[:at] + text[at + span :]
            done.append(f"delete {span} at {at}")
        elif roll < 0.27:
            text = text[:at] + text[at : at + span * 3] + text[at:]
            done.append(f"duplicate {span * 3} at {at}")
        elif roll < 0.37 and len(text) > 2:
            i, j = sorted(rng.sample(range(len(text)), 2))
            text = text[:i] + text[j] + text[i + 1 : j] + text[i] + text[j + 1 :]
            done.append(f"swap {i} {j}")
        elif roll < 0.52 and others:
            donor = rng.choice(others)
            blocks = equations_of(donor.text)
            if blocks:
                block = rng.choice(blocks)
                mine = equations_of(text)
                if mine and rng.random() < 0.5:
                    text = text.replace(rng.choice(mine), block, 1)
                    done.append(f"replace an equation with one of {donor.path.name}")
                else:
                    text = text[:at] + "\n" + block + "\n" + text[at:]
                    done.append(f"splice an equation of {donor.path.name} at {at}")
        elif roll < 0.75:
            snippet = rng.choice(SNIPPETS)
            text = text[:at] + snippet + text[at:]
            done.append(f"insert snippet {SNIPPETS.index(snippet)} at {at}")
        elif roll < 0.83:
            numbers = list(re.finditer(r"\d+", text))
            if numbers:
                number = rng.choice(numbers)
                huge = rng.choice([BIG, "9" * 400, "1" + "0" * 30, "0." + "3" * 500])
                text = text[: number.start()] + huge + text[number.end() :]
                done.append(f"a huge number at {number.start()}")
        elif roll < 0.88:
            text = text.replace("\n", "\r\n")
            done.append("CRLF")
        elif roll < 0.93:
            text = text[:at]
            done.append(f"truncate at {at}")
        else:
            char = rng.choice("{}\\$^_&%#~\x00\x07\x1b\u2028\u00a0é∑∂ŷ−·")
            text = text[:at] + char * rng.randint(1, 5) + text[at:]
            done.append(f"insert {char!r} at {at}")
    return text, done


def crop_text(text: str, rng: random.Random, blocks: int) -> str:
    """``text`` with only ``blocks`` of its display blocks in a row (the text before the
    first block, a LaTeX preamble included, is kept): a shorter document to judge."""
    found = list(_DISPLAY.finditer(text))
    if len(found) <= blocks:
        return text
    first = rng.randrange(len(found) - blocks + 1)
    head = text[: found[0].start()]
    body = text[found[first].start() : found[first + blocks - 1].end()]
    tail = "\n\\end{document}\n" if "\\begin{document}" in head else "\n"
    return head + body + tail


def mutation_document(
    seeds: Sequence[Seed], rng: random.Random, name: str, *, crop: int | None = None
) -> Doc:
    """A corpus document, mutated (a notebook in its cells, or its JSON broken);
    ``crop``: only that many of its display blocks (or markdown cells) in a row."""
    seed = rng.choice(seeds)
    problem = str(seed.problem)
    if seed.suffix == ".ipynb":
        notebook = json.loads(seed.text)
        if crop is not None:
            kept = notebook.get("cells", [])
            first = rng.randrange(max(1, len(kept) - crop + 1))
            notebook["cells"] = kept[first : first + crop]
        cells = [c for c in notebook.get("cells", []) if c.get("cell_type") == "markdown"]
        if cells and rng.random() < 0.8:
            cell = rng.choice(cells)
            source = cell["source"]
            source = "".join(source) if isinstance(source, list) else source
            cell["source"], done = mutate_text(source, rng, seeds)
            text = json.dumps(notebook, indent=1)
            detail = f"{seed.path.name} (a cell): " + "; ".join(done)
        else:
            original = json.dumps(notebook, indent=1)
            text, done = mutate_text(original, rng, seeds)  # most likely no notebook now
            detail = f"{seed.path.name} (its JSON): " + "; ".join(done)
    else:
        original = seed.text if crop is None else crop_text(seed.text, rng, crop)
        text, done = mutate_text(original, rng, seeds)
        detail = f"{seed.path.name}: " + "; ".join(done)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.02:  # a byte that is not UTF-8: the file is unreadable, exit 2
        at = rng.randrange(len(data) + 1)
        data = data[:at] + b"\xff\xfe" + data[at:]
        detail += "; invalid UTF-8"
    return Doc(name, seed.suffix, data, problem, "mutation", detail)


# --- the adversarial catalogue ------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An adversarial input: its name, how to make its bytes, its suffix and problem,
    and the exit codes the CLI may give (all three unless the case says)."""

    name: str
    make: Callable[[], bytes]
    suffix: str = ".md"
    problem: str = "exercise2"
    exits: tuple[int, ...] = (0, 1, 2)
    why: str = ""
    big: bool = False  # slow through the CLI (the default 120 s document budget)

    def doc(self) -> Doc:
        return Doc(
            f"catalogue-{self.name}", self.suffix, self.make(), self.problem, "catalogue", self.why
        )


def _utf8(text: str) -> Callable[[], bytes]:
    return lambda: text.encode("utf-8")


def _notebook_bytes(cells: list[str]) -> bytes:
    return _notebook(cells, random.Random(0)).encode("utf-8")


def _bomb(levels: int) -> str:
    """Macros that double at each level: 2**levels copies if expanded naively."""
    lines = ["\\def\\m0{x}"]
    lines += [
        f"\\def\\m{chr(97 + i)}{{\\m{chr(96 + i) if i else '0'}\\m{chr(96 + i) if i else '0'}}}"
        for i in range(levels)
    ]
    top = f"\\m{chr(96 + levels)}"
    return "\n".join(lines) + f"\n$$\\hat{{y}}_1 = {top}$$\n"


def _macro_bomb(levels: int) -> str:
    body = ["\\newcommand{\\za}{x_1}"]
    names = ["za"]
    for i in range(1, levels):
        name = "z" + "abcdefghijklmnopqrstuvwxyz"[i % 26] * (1 + i // 26)
        body.append(f"\\newcommand{{\\{name}}}{{\\{names[-1]} + \\{names[-1]}}}")
        names.append(name)
    return "\n".join(body) + f"\n$$\\hat{{y}}_1 = \\{names[-1]}$$\n"


CATALOGUE: list[Case] = [
    # the examples
    Case("repeated-text", _utf8("$$" + "\\text{a} " * 27 + "x = 1$$\n"), why="was exponential"),
    Case("repeated-text-long", _utf8("$$" + "\\text{a} " * 20_000 + "x = 1$$\n")),
    Case("twenty-thousand-blocks", _utf8("$$a = 1$$\n" * 20_000), big=True, why="was minutes"),
    Case("a-line-of-dollars", _utf8("$" * 1_000_000), exits=(2,), why="no equation: exit 2"),
    Case(
        "blow-up",
        _utf8(
            "$$\\hat{y}_1 = (\\sqrt{2}+\\sqrt{3}+\\sqrt{5}+\\sqrt{7})^{4096}$$\n\n"
            "$$\\hat{y}_1 = (\\sqrt2+\\sqrt3+\\sqrt5+\\sqrt7)^{4096}$$\n\n$$\\hat{y}_2 = 20$$\n"
        ),
        exits=(0,),
        why="the blow-up unchecked (timeout or memory), ŷ₂ = 20 judged correct",
    ),
    Case("huge-index", _utf8(f"$$\\hat{{y}}_1 = w_1 x_{{{BIG}}} + b_1$$\n"), exits=(2,)),
    Case("huge-step-mark", _utf8(f"$$w^{{({BIG})}}_1 = 2$$\n$$\\hat{{y}}_{{{BIG}}} = 14$$\n")),
    Case("huge-tag", _utf8(f"$$\\hat{{y}}_1 = 14 \\tag{{{BIG}}}$$\n"), exits=(0,)),
    Case("huge-label", _utf8(f"$$\\hat{{y}}_1 = 14$$\n({BIG})\n"), exits=(0,)),
    Case("huge-number", _utf8(f"$$\\hat{{y}}_1 = {BIG}$$\n$$L = 0.{BIG}$$\n")),
    Case(
        "huge-exponent",
        _utf8("$$\\hat{y}_1 = 10^{10^{10}}$$\n$$\\hat{y}_1 = 2^{2^{2^{2^{2}}}}$$\n"),
    ),
    Case(
        "matrix-times-huge",
        _utf8(
            f"$$\\hat{{\\mathbf{{y}}}} = {'9' * 4000} "
            "\\begin{bmatrix} 1 \\\\ 2 \\end{bmatrix}$$\n"
        ),
    ),
    Case(
        "huge-sum",
        _utf8("$$L = \\sum_{i=1}^{10^{9}} x_1$$\n$$L = \\sum_{i=1}^{" + BIG + "} x_i$$\n"),
    ),
    Case("step-headings", _utf8("".join(f"## Step {BIG}\n$$w_1 = 2$$\n" for _ in range(3)))),
    Case(
        "huge-step-call",
        _utf8(f"$$\\hat{{y}}_1 = 14$$\n\n$$\\mathbf{{w}}({BIG}) = \\mathbf{{w}}(0) - 0.01 g$$\n"),
        exits=(0,),
        why="found by the fuzzer: the binder read the 5,000-digit step with int() and the "
        "worker died (every equation 'checker failure')",
    ),
    # nesting and balance
    Case("deep-braces", _utf8("$$\\hat{y}_1 = " + "{" * 100_000 + "x_1" + "}" * 100_000 + "$$\n")),
    Case("deep-parens", _utf8("$$\\hat{y}_1 = " + "(" * 39 + "x_1" + ")" * 39 + "$$\n")),
    Case("deep-fracs", _utf8("$$\\hat{y}_1 = " + "\\frac{1}{" * 30 + "2" + "}" * 30 + "$$\n")),
    Case("deep-sqrt", _utf8("$$\\hat{y}_1 = " + "\\sqrt{" * 38 + "2" + "}" * 38 + "$$\n")),
    Case("deep-minus", _utf8("$$\\hat{y}_1 = " + "-" * 50_000 + "14$$\n")),
    Case("deep-scripts", _utf8("$$\\hat{y}_1 = x" + "_{x" * 39 + "}" * 39 + "$$\n")),
    Case("long-sum", _utf8("$$\\hat{y}_1 = " + " + ".join(["1"] * 1400) + "$$\n")),
    Case("long-product", _utf8("$$\\hat{y}_1 = " + " ".join(["x_1"] * 2000) + "$$\n")),
    Case("unbalanced-open", _utf8("$$\\hat{y}_1 = {{{x_1$$\n$$\\hat{y}_2 = 20$$\n")),
    Case("unbalanced-close", _utf8("$$\\hat{y}_1 = x_1}}}$$\n$$\\hat{y}_2 = 20$$\n")),
    Case("unclosed-display", _utf8("$$\\hat{y}_1 = 14\n\nprose\n" * 500)),
    Case("unclosed-environment", _utf8("\\begin{align}\n\\hat{y}_1 &= 14\n" * 300)),
    Case("unclosed-cases", _utf8("$$f = \\begin{cases} 1 & x > 0 \\\\ " * 200 + "$$\n")),
    Case(
        "big-matrix",
        _utf8(
            "$$\\hat{\\mathbf{y}} = \\begin{bmatrix}"
            + " \\\\ ".join(" & ".join(["1"] * 60) for _ in range(60))
            + "\\end{bmatrix}$$\n"
        ),
    ),
    Case("ragged-matrix", _utf8("$$\\hat{y}_1 = \\begin{bmatrix} 1 & 2 \\\\ 3 \\end{bmatrix}$$\n")),
    Case(
        "many-rows",
        _utf8("\\begin{align}\n" + "a &= 1 \\\\\n" * 20_000 + "\\end{align}\n"),
        big=True,
    ),
    Case("one-long-equation", _utf8("$$\\hat{y}_1 = " + "x_1 + " * 200_000 + "1$$\n"), big=True),
    Case("two-mb-minus-one", lambda: b"$$a = 1$$\n" + b" " * (2_000_000 - 11) + b"\n"),
    Case("two-mb-plus-one", lambda: b" " * 2_000_001, exits=(2,), why="larger than MAX_BYTES"),
    Case("no-math-many-lines", _utf8("prose line\n" * 150_000), exits=(2,)),
    Case("dollars-and-backslashes", _utf8("$\\$" * 100_000), exits=(2,), big=True),
    Case("only-backslashes", _utf8("\\" * 1_000_000), exits=(2,)),
    # characters
    Case("nul-bytes", _utf8("$$\\hat{y}_1\x00 = 14$$\n\x00\x00$$\\hat{y}_2 = 20\x00$$\n")),
    Case(
        "crlf", _utf8("# forward\r\n$$\\hat{y}_1 = 14$$\r\n\r\n$$\\hat{y}_2 = 20$$\r\n"), exits=(0,)
    ),
    Case("cr-only", _utf8("# forward\r$$\\hat{y}_1 = 14$$\r\r$$\\hat{y}_2 = 20$$\r")),
    Case("bom", lambda: "\ufeff$$\\hat{y}_1 = 14$$\n".encode("utf-8"), exits=(0,)),
    Case("rtl-override", _utf8("$$\\hat{y}_1 = \u202e41\u202c$$\n$$\\hat{y}_2 = 20$$\n")),
    Case(
        "confusables",
        _utf8("$$\\hat{у}_1 = 14$$\n$$ŷ₁ = 14$$\n$$\\hat{y}_1 = １４$$\n$$\\hat{y}_2 = 20$$\n"),
    ),
    Case("zero-width", _utf8("$$\\hat{y}\u200b_1 = 1\u200d4$$\n$$\\hat{y}_2 = 20$$\n")),
    Case("combining-marks", _utf8("$$\\hat{y}_1 = 1" + "\u0301" * 5000 + "4$$\n")),
    Case("surrogates-escaped", _utf8("$$\\hat{y}_1 = \\text{\\ud800} 14$$\n")),
    Case("invalid-utf8", lambda: b"$$\\hat{y}_1 = 14$$\n\xff\xfe\xc3\x28\n", exits=(2,)),
    Case("utf16", lambda: "$$\\hat{y}_1 = 14$$\n".encode("utf-16"), exits=(2,)),
    Case("binary", lambda: bytes(range(256)) * 100, exits=(2,)),
    # LaTeX
    Case(
        "def-loop",
        _utf8("\\def\\a{\\a}\n$$\\hat{y}_1 = \\a$$\n$$\\hat{y}_2 = 20$$\n"),
        suffix=".tex",
    ),
    Case(
        "def-growth",
        _utf8("\\def\\a{\\a\\a}\n$$\\hat{y}_1 = \\a$$\n$$\\hat{y}_2 = 20$$\n"),
        suffix=".tex",
    ),
    Case(
        "newcommand-recursion",
        _utf8(
            "\\newcommand{\\r}[1]{\\r{#1#1}}\n\\[\\hat{y}_1 = \\r{x}\\]\n\\[\\hat{y}_2 = 20\\]\n"
        ),
        suffix=".tex",
    ),
    Case("macro-doubling-bomb", _utf8(_bomb(25)), suffix=".tex"),
    Case("newcommand-bomb", _utf8(_macro_bomb(40)), suffix=".tex"),
    Case(
        "ten-thousand-macros",
        _utf8(
            "".join(f"\\newcommand{{\\q{i:05d}}}{{{i}}}\n" for i in range(10_000))
            + "$$\\hat{y}_1 = 14$$\n"
        ),
        suffix=".tex",
    ),
    Case(
        "input-include",
        _utf8(
            "\\documentclass{article}\n\\input{/etc/passwd}\n\\begin{document}\n"
            "\\include{../../secret}\n\\input{|ls}\n\\[\\hat{y}_1 = 14\\]\n\\end{document}\n"
        ),
        suffix=".tex",
        exits=(0,),
    ),
    Case(
        "write18",
        _utf8("\\immediate\\write18{touch /tmp/symconv-pwned}\n\\[\\hat{y}_1 = 14\\]\n"),
        suffix=".tex",
        exits=(0,),
    ),
    Case(
        "iffalse-unclosed",
        _utf8("\\iffalse\n" * 50_000 + "\\[\\hat{y}_1 = 14\\]\n"),
        suffix=".tex",
        exits=(0, 2),
        why="TeX skips to the end after an unclosed \\iffalse; the reader reads on",
    ),
    Case(
        "verbatim-unclosed",
        _utf8("\\begin{verbatim}\n" * 50_000 + "\\[\\hat{y}_1 = 14\\]\n"),
        suffix=".tex",
        exits=(2,),
    ),
    Case(
        "many-comments",
        _utf8("%" * 1_000_000 + "\n\\[\\hat{y}_1 = 14\\]\n"),
        suffix=".tex",
        exits=(0,),
    ),
    Case("verb-storm", _utf8("\\verb|" * 200_000), suffix=".tex", exits=(2,)),
    Case(
        "begin-document-storm",
        _utf8("\\begin{document}" * 50_000 + "\\[\\hat{y}_1 = 14\\]"),
        suffix=".tex",
    ),
    Case(
        "subequations-deep",
        _utf8(
            "\\begin{subequations}\n" * 2000 + "\\begin{equation}\\hat{y}_1 = 14\\end{equation}\n"
        ),
        suffix=".tex",
    ),
    # notebooks
    Case(
        "notebook-truncated",
        lambda: _notebook_bytes(["$$\\hat{y}_1 = 14$$"])[:-40],
        suffix=".ipynb",
        exits=(2,),
    ),
    Case("notebook-not-json", _utf8("{cells: []}"), suffix=".ipynb", exits=(2,)),
    Case("notebook-empty", _utf8(""), suffix=".ipynb", exits=(2,)),
    Case(
        "notebook-cells-not-list",
        _utf8('{"cells": {}, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'),
        suffix=".ipynb",
        exits=(2,),
    ),
    Case(
        "notebook-source-numbers",
        _utf8(
            '{"cells": [{"cell_type": "markdown", "metadata": {}, "source": [1, 2]}], '
            '"metadata": {}, "nbformat": 4, "nbformat_minor": 4}'
        ),
        suffix=".ipynb",
        exits=(2,),
    ),
    Case(
        "notebook-nbformat-huge",
        _utf8('{"cells": [], "metadata": {}, "nbformat": ' + BIG + ', "nbformat_minor": 5}'),
        suffix=".ipynb",
        exits=(2,),
    ),
    Case(
        "notebook-nbformat-3",
        _utf8(
            '{"worksheets": [{"cells": [{"cell_type": "markdown", '
            '"source": "$$\\\\hat{y}_1 = 14$$"}]}], "metadata": {}, '
            '"nbformat": 3, "nbformat_minor": 0}'
        ),
        suffix=".ipynb",
    ),
    Case(
        "notebook-deep-json",
        _utf8(
            '{"cells": [], "metadata": {"a": '
            + "[" * 100_000
            + "]" * 100_000
            + '}, "nbformat": 4, "nbformat_minor": 5}'
        ),
        suffix=".ipynb",
        exits=(2,),
    ),
    Case(
        "notebook-huge-cell",
        lambda: _notebook_bytes(["$$\\hat{y}_1 = 14$$\n" + "x " * 900_000]),
        suffix=".ipynb",
        exits=(0,),
    ),
    Case(
        "notebook-over-limit",
        lambda: _notebook_bytes(["a" * 1_000_000, "b" * 1_000_001]),
        suffix=".ipynb",
        exits=(2,),
    ),
    Case(
        "notebook-many-cells",
        lambda: _notebook_bytes(["$$a = 1$$"] * 5000),
        suffix=".ipynb",
        big=True,
    ),
    Case(
        "notebook-huge-output",
        lambda: json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": 1,
                        "metadata": {},
                        "source": "x",
                        "outputs": [
                            {"output_type": "stream", "name": "stdout", "text": "y" * 10_000_000}
                        ],
                    },
                    {"cell_type": "markdown", "metadata": {}, "source": "$$\\hat{y}_1 = 14$$"},
                ],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        ).encode(),
        suffix=".ipynb",
        exits=(0,),
    ),
    Case(
        "notebook-as-markdown",
        lambda: _notebook_bytes(["$$\\hat{y}_1 = 14$$"]),
        suffix=".txt",
        exits=(0,),
    ),
    Case("notebook-nul", lambda: _notebook_bytes(["$$\\hat{y}_1 = 14\x00$$"]), suffix=".ipynb"),
    # odd suffixes and kinds
    Case(
        "tex-as-md",
        _utf8("\\documentclass{article}\\begin{document}\\[\\hat{y}_1 = 14\\]\\end{document}"),
        suffix=".txt",
        exits=(0,),
    ),
    Case("empty", _utf8(""), exits=(2,)),
    Case("whitespace", _utf8(" \n\t\n" * 1000), exits=(2,)),
]


def catalogue_files() -> list[Case]:
    """The small files of ``tests/data/fuzz`` (their ``manifest.toml`` says what each
    is and the exit codes it may give)."""
    manifest = tomllib.loads((DATA / "manifest.toml").read_text("utf-8"))
    cases = []
    for entry in manifest.get("case", []):
        path = DATA / entry["file"]
        cases.append(
            Case(
                f"file-{path.name}",
                path.read_bytes,
                suffix=path.suffix,
                problem=str(DATA / entry["problem"]) if "problem" in entry else "exercise2",
                exits=tuple(entry.get("exits", (0, 1, 2))),
                why=entry.get("why", ""),
            )
        )
    return cases


def all_cases() -> list[Case]:
    """The catalogue: the generated cases and the files."""
    return [*CATALOGUE, *catalogue_files()]


# --- hostile problem files ---------------------------------------------------------------

HOSTILE_VALUES = [
    BIG,
    "-" + BIG,
    "9" * 101,
    "1e308",
    "-1e308",
    "1e-320",
    "5e-324",
    "1.7976931348623157e308",
    "nan",
    "+nan",
    "-nan",
    "inf",
    "-inf",
    "0",
    "-0",
    "-1",
    "0.0",
    "-0.0",
    "1_000_000_000_000",
    "0x7fffffffffffffff",
    "0o777",
    "0b1",
    "9223372036854775808",
    '"1/0"',
    '"0/0"',
    '"1e99999"',
    '"nan"',
    '"inf"',
    '"1/' + "3" * 99 + '"',
    '"' + "3" * 99 + "/" + "7" * 99 + '"',
    '"٣"',  # an Arabic-Indic digit
    '"１"',  # fullwidth one
    '""',
    '" "',
    '"' + "1" * 100_000 + '"',
    "true",
    "[]",
    "[[]]",
    "{}",
    "1979-05-27",
    "[" * 60 + "1" + "]" * 60,
    "[" * 2000 + "]" * 2000,
    "{a = " * 2000 + "1" + "}" * 2000,
    "[1, 2, 3, 4" + ", 5" * 10_000 + "]",
    '"\\u0000"',
]
_SIZE_KEYS = [
    "input_length",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "in_channels",
    "out_channels",
    "groups",
    "batch",
]
_SIZES = [
    "0",
    "-1",
    "4000",
    "1000000",
    "10" * 6,
    BIG,
    "2.5",
    '"3"',
    '"4000"',
    "[4, 4]",
    "[64, 64, 64]",
    "[" + ", ".join(["2"] * 12) + "]",
]
_VALUE_LINE = re.compile(r"^(\s*)([A-Za-z_]+)(\s*=\s*)(.+)$", re.M)


def problem_bases() -> list[str]:
    """The problem files to start from: the built-ins and the corpora's."""
    texts = [p.read_text("utf-8") for p in sorted((ROOT / "symconv" / "problems").glob("*.toml"))]
    for root in CORPORA:
        texts += [
            p.read_text("utf-8") for p in sorted(root.glob("*/*.toml")) if p.name != "manifest.toml"
        ]
    return texts


def _keep_key(value: str, match: re.Match[str]) -> str:
    return match.group(1) + value


def hostile_problem(bases: Sequence[str], rng: random.Random) -> tuple[bytes, str]:
    """A problem file with 1 to 3 hostile changes, and what they were."""
    text = rng.choice(bases)
    done: list[str] = []
    for _ in range(rng.randint(1, 3)):
        lines = list(_VALUE_LINE.finditer(text))
        roll = rng.random()
        if roll < 0.45 and lines:
            line = rng.choice(lines)
            value = rng.choice(HOSTILE_VALUES)
            text = text[: line.start(4)] + value + text[line.end(4) :]
            done.append(f"{line.group(2)} = {value[:20]}")
        elif roll < 0.6:
            key = rng.choice(_SIZE_KEYS)
            size = rng.choice(_SIZES)
            if re.search(rf"^\s*{key}\s*=", text, re.M):
                text = re.sub(
                    rf"^(\s*{key}\s*=\s*).*$",
                    partial(_keep_key, size),
                    text,
                    count=1,
                    flags=re.M,
                )
            else:
                text = text.replace("[layer]\n", f"[layer]\n{key} = {size}\n", 1)
            done.append(f"layer.{key} = {size[:20]}")
        elif roll < 0.7 and lines:
            line = rng.choice(lines)
            text = text[: line.start()] + text[line.end() :]
            done.append(f"remove {line.group(2)}")
        elif roll < 0.78 and lines:
            line = rng.choice(lines)
            text = text[: line.end()] + "\n" + line.group(0) + text[line.end() :]
            done.append(f"duplicate {line.group(2)}")
        elif roll < 0.84:
            extra = rng.choice(
                [
                    "[[layer]]\nstride = 1\n",
                    "[unknown]\na = 1\n",
                    "[layer.sub]\na = 1\n",
                    'title = "' + "t" * 300 + '"\n',
                    "[optimizer]\nsteps = 100000\n",
                    "[optimizer]\nsteps = 2500\n",
                    '[loss]\nkind = "' + "x" * 1000 + '"\n',
                    "[notation]\n" + "".join(f"n{i} = 'x_{i}'\n" for i in range(5000)),
                    "[values]\nx = " + "[" * 500 + "1" + "]" * 500 + "\n",
                ]
            )
            text = text + "\n" + extra
            done.append(f"append {extra[:24]!r}")
        elif roll < 0.9:
            at = rng.randrange(len(text) + 1)
            text = (
                text[:at]
                + rng.choice(["\x00", "=", "[", "]", '"', "\\", "\ufeff", "\r"])
                + text[at:]
            )
            done.append(f"a stray character at {at}")
        elif roll < 0.95:
            text = text[: rng.randrange(len(text) + 1)]
            done.append("truncated")
        else:
            data = text.encode("utf-8")
            at = rng.randrange(len(data) + 1)
            return data[:at] + b"\xff" + data[at:], "; ".join([*done, "invalid UTF-8"])
    return text.encode("utf-8", "surrogatepass"), "; ".join(done)


# ---------------------------------------------------------------------------------------
# what must hold


@dataclass(frozen=True)
class Budget:
    """The bounds the harness holds the checker to: its :class:`Limits` plus a stated
    slack — ``equation_slack`` s past each equation's budget and grace (the kill, the
    reaping, the parent's polling on a loaded machine) and ``document_slack`` s past the
    document's (one replacement worker's start after a kill); ``memory_mb`` the peak
    resident memory a worker may reach (the address-space limit by default)."""

    limits: Limits = field(default_factory=lambda: Limits(equation_s=2.0, document_s=30.0))
    equation_slack: float = 0.5
    document_slack: float = 5.0
    memory_mb: int | None = None

    @property
    def equation_s(self) -> float:
        return self.limits.equation_s + self.limits.grace_s + self.equation_slack

    @property
    def document_s(self) -> float:
        return self.limits.document_s + self.limits.grace_s + self.document_slack

    @property
    def peak_mb(self) -> float:
        return float(self.memory_mb if self.memory_mb is not None else self.limits.memory_mb)


@dataclass
class Observation:
    """What the harness saw of one document.

    ``result`` is its JSON object (None when none came back); ``error`` an exception
    that escaped the API (``CheckInputError: …`` for a single unreadable file is the
    API's contract, not a crash); ``seconds`` the document's time (from the moment its
    worker was ready), ``equations`` each judged equation's time ``(index, seconds)``;
    ``peak_kb`` the worker's peak resident memory; ``via`` "api" or "cli".
    """

    doc: Doc
    via: str = "api"
    result: dict[str, Any] | None = None
    error: str | None = None
    seconds: float | None = None
    equations: list[tuple[int, float]] = field(default_factory=list)
    peak_kb: int = 0
    restarts: int = 0


@dataclass(frozen=True)
class Finding:
    """A rule broken: its ``kind`` (crash, checker failure, budget, memory, json, exit
    code, traceback, stderr, missing result, shape), the document, and what was seen."""

    kind: str
    doc: str
    message: str


def exit_code_of(results: Sequence[dict[str, Any]]) -> int:
    """The exit status ``symconv check`` must give for these file objects (design.md):
    2 if a file was unreadable, else 1 if an equation is incorrect, else 2 if a file had
    nothing judged, else 0."""
    if any((r.get("failure") or {}).get("reason") == "unreadable input" for r in results):
        return 2
    if any(r["summary"]["incorrect"] for r in results):
        return 1
    judged = ("correct", "incorrect", "notation")
    if any(not any(r["summary"].get(v, 0) for v in judged) for r in results):
        return 2
    return 0


def examine(observation: Observation, budget: Budget) -> list[Finding]:
    """The rules one document's observation must keep (see the module's docstring)."""
    from symconv.serialize import dumps_strict

    name = observation.doc.name
    found: list[Finding] = []

    def add(kind: str, message: str) -> None:
        found.append(Finding(kind, name, message[:500]))

    if observation.error is not None:
        if observation.error.startswith("MissingResult"):
            add("missing result", observation.error)
        elif not observation.error.startswith("CheckInputError"):
            add("crash", observation.error)
        return found
    result = observation.result
    if result is None:
        add("missing result", "no result and no error")
        return found
    found += [Finding("shape", name, m) for m in _shape_problems(result)]
    for entry in result.get("equations", []):
        if entry.get("reason") == "checker failure":
            add(
                "checker failure",
                f"{entry.get('label')}: {entry.get('message')} :: {entry.get('latex', '')[:200]}",
            )
    failure = result.get("failure") or {}
    if failure.get("reason") == "checker failure" and not any(
        f.kind == "checker failure" for f in found
    ):
        add("checker failure", str(failure.get("message")))
    try:
        strict_loads(dumps_strict(result))
    except (ValueError, TypeError) as exc:
        add("json", f"the result is not strict JSON: {exc}")
    for index, seconds in observation.equations:
        if seconds > budget.equation_s:
            equations = result.get("equations", [])
            latex = equations[index]["latex"][:120] if index < len(equations) else "?"
            add(
                "budget",
                f"equation {index} took {seconds:.2f} s > {budget.equation_s:g} s: {latex}",
            )
    if observation.seconds is not None and observation.seconds > budget.document_s:
        add("budget", f"the document took {observation.seconds:.2f} s > {budget.document_s:g} s")
    if observation.peak_kb / 1024 > budget.peak_mb:
        add(
            "memory",
            f"the worker's peak {observation.peak_kb / 1024:.0f} MB > {budget.peak_mb:g} MB",
        )
    return found


def _shape_problems(result: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    equations = result.get("equations")
    if not isinstance(equations, list):
        return ["no list of equations"]
    counts = Counter(e.get("verdict") for e in equations)
    for verdict in counts:
        if verdict not in VERDICTS:
            problems.append(f"an unknown verdict {verdict!r}")
    summary = result.get("summary", {})
    if {v: summary.get(v, 0) for v in VERDICTS} != {v: counts.get(v, 0) for v in VERDICTS}:
        problems.append(f"the summary {summary} does not count the equations {dict(counts)}")
    for entry in equations:
        if entry.get("verdict") == "unchecked" and not entry.get("reason"):
            problems.append(f"unchecked without a reason: {entry.get('label')}")
    return problems


@dataclass
class CliRun:
    """One ``symconv check`` (or ``derive``) process: its documents, argv, exit status,
    output, time and peak resident memory (the CLI process and the children it reaped)."""

    docs: list[Doc]
    argv: list[str]
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    maxrss_kb: int = 0
    paths: list[str] = field(default_factory=list)
    killed: bool = False


def examine_cli(
    run: CliRun, budget: Budget, *, seconds: float | None = None
) -> tuple[list[Finding], list[dict[str, Any]] | None]:
    """The rules of one CLI run of ``check --json``, and the file objects it printed.

    Exit codes only 0/1/2 and the one the JSON implies; no traceback; each stderr line
    ``symconv: …``; stdout strict JSON with one object per file, in order, or nothing
    (exit 2, one line on stderr); the run within ``seconds`` (default: every document's
    budget plus 30 s of start-up).
    """
    name = ",".join(d.name for d in run.docs)[:200]
    found: list[Finding] = []

    def add(kind: str, message: str) -> None:
        found.append(Finding(kind, name, message[:500]))

    limit = seconds if seconds is not None else 30.0 + budget.document_s * len(run.docs)
    if run.killed or run.seconds > limit:
        add("budget", f"the run took {run.seconds:.1f} s > {limit:g} s")
        if run.killed:
            return found, None  # killed: what it printed (or not) says nothing more
    if run.code not in (0, 1, 2):
        add("exit code", f"exit {run.code}")
    if "Traceback" in run.stderr:
        add("traceback", run.stderr[-400:])
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    stray = [line for line in lines if not line.startswith("symconv: ")]
    if stray:
        add("stderr", f"a stderr line not 'symconv: …': {stray[0][:200]!r}")
    results: list[dict[str, Any]] | None = None
    if not run.stdout.strip():
        if run.code != 2 or len(lines) != 1:
            add(
                "stderr",
                f"no output: must be exit 2 with one line; exit {run.code}, {len(lines)} lines",
            )
        return found, None
    try:
        data = strict_loads(run.stdout)
    except ValueError as exc:
        add("json", f"stdout is not strict JSON: {exc}")
        return found, None
    results = [data] if isinstance(data, dict) else data
    if not isinstance(results, list) or len(results) != len(run.docs):
        add(
            "missing result",
            f"{len(run.docs)} files, {len(results) if isinstance(results, list) else '?'} results",
        )
        return found, None
    if run.paths and [r.get("file") for r in results] != run.paths:
        add("missing result", "the results are not the files, in order")
    if run.code in (0, 1, 2) and run.code != exit_code_of(results):
        add("exit code", f"exit {run.code}, the JSON implies {exit_code_of(results)}")
    for doc, result in zip(run.docs, results):
        if doc.suffix not in (".md", ".tex", ".ipynb", ".txt"):
            continue
        found += examine(Observation(doc, "cli", result), Budget(budget.limits, memory_mb=10**9))
    return found, results


# ---------------------------------------------------------------------------------------
# the harness


def _vm_hwm_kb(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class _Timing:
    start: float
    end: float
    marks: list[tuple[float, str, str, int | None]]  # time, message kind, why, index
    peak_kb: int


class TimedWorker(Worker):
    """A :class:`~symconv.check.isolate.Worker` that notes when each of its worker's
    answers arrives (and its peak memory), keyed by the document's name.

    It relies on the worker's protocol (``Worker._receive`` returns the messages
    ``ready``, ``read``, ``bound``, ``resumed``, ``result`` with the equation's index,
    ``done``; a dead worker raises): :func:`timing_of` turns the notes into the
    document's and each equation's time; ``tests/test_fuzz.py`` checks that every
    judged equation of a document is timed, so a change of protocol is seen.
    """

    def __init__(
        self, limits: Limits | None = None, sink: dict[str, _Timing] | None = None
    ) -> None:
        super().__init__(limits)
        self.sink: dict[str, _Timing] = sink if sink is not None else {}
        self._marks: list[tuple[float, str, str, int | None]] = []
        self._hwm_kb = 0
        self._read_at = 0.0

    def check(
        self, text: Any, problem: Any, *, name: str = "<text>", limits: Limits | None = None
    ) -> dict[str, Any]:
        self._marks = []
        self._hwm_kb = 0
        start = time.monotonic()
        try:
            return super().check(text, problem, name=name, limits=limits)
        finally:
            peak = max(
                self._hwm_kb, self.peak_kb if self._marks and self._marks[-1][1] == "done" else 0
            )
            self.sink[name] = _Timing(start, time.monotonic(), self._marks, peak)

    def _receive(self, until: float, why: str) -> Any:
        try:
            message = super()._receive(until, why)
        except Exception:
            self._marks.append((time.monotonic(), "died", why, None))
            raise
        kind = message[0] if isinstance(message, tuple) and message else "?"
        index = message[1] if kind == "result" else None
        now = time.monotonic()
        self._marks.append((now, kind, why, index))
        # the worker's peak memory, read at most every 50 ms (a document of 20,000 quick
        # equations must not be slowed by its harness) and at the end of the document
        if kind == "done" or (kind in ("result", "read") and now - self._read_at > 0.05):
            self._hwm_kb = max(self._hwm_kb, _vm_hwm_kb(self.pid))
            self._read_at = time.monotonic()
        return message

    def _kill(self) -> None:
        self._hwm_kb = max(self._hwm_kb, _vm_hwm_kb(self.pid))
        super()._kill()


def timing_of(timing: _Timing) -> tuple[float, list[tuple[int, float]], int]:
    """The document's seconds (from when its worker was ready: the product's document
    budget starts then), each equation's ``(index, seconds)`` (from the previous answer
    to its own, or to the kill) and the workers started again mid-document."""
    begin = timing.start
    equations: list[tuple[int, float]] = []
    restarts = 0
    last: float | None = None
    next_index = 0
    seen_other = False
    for moment, kind, why, index in timing.marks:
        if why == "starting the worker":
            if not seen_other:
                begin = moment  # the first worker's start is before the budget
            else:
                restarts += 1
            continue
        seen_other = True
        if kind == "resumed":
            last = moment
        elif kind == "result" and index is not None:
            if last is not None:
                equations.append((index, moment - last))
            last = moment
            next_index = index + 1
        elif kind == "died" and why.startswith("equation"):
            if last is not None:
                equations.append((next_index, moment - last))
            next_index += 1
            last = None
    return timing.end - begin, equations, restarts


class Harness:
    """Runs documents through the API and the CLI and collects observations, findings
    and figures.

    ``worker`` makes the pool's workers (a :class:`TimedWorker` by default; the tests
    give a deliberately slow or crashing one to show the rules catch it).
    """

    def __init__(
        self,
        budget: Budget | None = None,
        *,
        jobs: int = 2,
        batch: int = 10,
        worker: Callable[[Limits, dict[str, _Timing]], Worker] | None = None,
        workdir: Path | None = None,
        cli: Sequence[str] | None = None,
    ) -> None:
        self.budget = budget or Budget()
        self.jobs = jobs
        self.batch = batch
        self.timings: dict[str, _Timing] = {}
        self._make_worker = worker or (lambda limits, sink: TimedWorker(limits, sink))
        self._workers: list[Worker] = []
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="symconv-fuzz-"))
        self.cli = list(cli) if cli is not None else [sys.executable, "-m", "symconv"]
        self.observations: list[Observation] = []
        self.findings: list[Finding] = []
        self.cli_runs: list[CliRun] = []
        self._batch = 0
        self._problems: dict[str, Any] = {}

    def reset(self, budget: Budget | None = None) -> Harness:
        """Forget what was seen (the workers stay warm); ``budget`` replaces the budget."""
        self.observations, self.findings, self.cli_runs = [], [], []
        if budget is not None:
            self.budget = budget
        return self

    def close(self) -> None:
        from symconv.check import isolate

        with isolate._IDLE_LOCK:
            mine = [w for w in isolate._IDLE if w in self._workers]
            isolate._IDLE[:] = [w for w in isolate._IDLE if w not in self._workers]
        for worker in [*mine, *self._workers]:
            worker.close()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _install(self) -> None:
        """Make the pool's idle workers this harness's (timed) ones.  The pool is
        ``symconv.check.isolate``'s: check_files borrows from it, one per thread."""
        from symconv.check import isolate

        if not self._workers:
            self._workers = [
                self._make_worker(self.budget.limits, self.timings)
                for _ in range(max(1, self.jobs))
            ]
        with isolate._IDLE_LOCK:
            others = [w for w in isolate._IDLE if w not in self._workers]
            isolate._IDLE[:] = list(self._workers)
        for worker in others:
            worker.close()

    def _problem(self, spec: str) -> Problem:
        from symconv.problem import load_problem

        if spec not in self._problems:
            self._problems[spec] = load_problem(spec)
        problem: Problem = self._problems[spec]
        return problem

    def _write(self, docs: Sequence[Doc]) -> list[str]:
        self._batch += 1
        folder = self.workdir / f"b{self._batch:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, doc in enumerate(docs):
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", doc.name)[:80]
            path = folder / f"{index:03d}-{safe}{doc.suffix}"
            path.write_bytes(doc.data)
            paths.append(str(path))
        return paths

    def run_api(
        self, docs: Sequence[Doc], *, check: Callable[..., list[dict[str, Any]]] | None = None
    ) -> list[Observation]:
        """Check ``docs`` with ``symconv.check.run.check_files`` (batches of ``batch``
        documents of one problem, ``jobs`` at a time); one observation per document, its
        findings noted.  ``check`` replaces check_files (the tests give a broken one)."""
        from symconv.check.run import check_files

        out: list[Observation] = []
        for spec, whole in _by_problem(docs):
            for first in range(0, len(whole), self.batch):
                out += self._api_batch(
                    spec, whole[first : first + self.batch], check or check_files
                )
        self.observations += out
        return out

    def _api_batch(
        self, spec: str, group: list[Doc], check: Callable[..., list[dict[str, Any]]]
    ) -> list[Observation]:
        from symconv.check.run import check_files

        if check is check_files:
            self._install()
        paths = self._write(group)
        for path in paths:
            self.timings.pop(path, None)
        results: list[dict[str, Any]] | None = None
        error = None
        try:
            results = check(paths, self._problem(spec), jobs=self.jobs, limits=self.budget.limits)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if results is not None and [r.get("file") for r in results] != paths:
            self.findings.append(
                Finding(
                    "missing result",
                    group[0].name,
                    f"{len(paths)} files, {len(results)} results, or not in order",
                )
            )
        out = []
        for index, (doc, path) in enumerate(zip(group, paths)):
            observation = Observation(doc, "api")
            if results is not None and index < len(results):
                observation.result = results[index]
            elif index == 0 or error is None:
                observation.error = error  # the exception that lost the batch: once
            else:
                observation.error = "MissingResult: the batch was lost (see its first file)"
            timing = self.timings.pop(path, None)
            if timing is not None:
                observation.seconds, observation.equations, observation.restarts = timing_of(timing)
                observation.peak_kb = timing.peak_kb
            out.append(observation)
            self.findings += examine(observation, self.budget)
        return out

    def run_cli(
        self, docs: Sequence[Doc], *, extra: Sequence[str] = (), seconds: float | None = None
    ) -> list[CliRun]:
        """Check ``docs`` with the CLI (one process per problem: ``check FILE… --problem
        P --json --jobs J --timeout T``); their findings noted."""
        runs = []
        for spec, group in _by_problem(docs):
            paths = self._write(group)
            argv = [
                *self.cli,
                "check",
                *paths,
                "--problem",
                spec,
                "--json",
                "--jobs",
                str(self.jobs),
                "--timeout",
                f"{self.budget.limits.equation_s:g}",
                *extra,
            ]
            limit = seconds if seconds is not None else 30.0 + 120.0 * len(group)
            run = run_process(argv, timeout=limit + min(5.0, limit))
            run.docs, run.paths = list(group), paths
            found, results = examine_cli(run, self.budget, seconds=limit)
            self.findings += found
            self.cli_runs.append(run)
            for index, doc in enumerate(group):
                result = results[index] if results is not None else None
                self.observations.append(Observation(doc, "cli", result, seconds=None))
            runs.append(run)
        return runs


def _by_problem(docs: Sequence[Doc]) -> Iterator[tuple[str, list[Doc]]]:
    groups: dict[str, list[Doc]] = {}
    for doc in docs:
        groups.setdefault(doc.problem, []).append(doc)
    yield from groups.items()


def run_process(argv: Sequence[str], *, timeout: float, cwd: Path = ROOT) -> CliRun:
    """Run ``argv`` (stdin closed), its output to temporary files; killed (with its
    process group) after ``timeout`` s.  The peak resident memory is ``wait4``'s."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # a worker left behind
        out.seek(0)
        err.seek(0)
        return CliRun(
            [],
            list(argv),
            process.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            int(usage.ru_maxrss),
            killed=killed.is_set(),
        )


# --- derive --problem --------------------------------------------------------------------


@dataclass
class DeriveCase:
    """One ``derive --problem FILE --json`` of the derive driver."""

    path: str
    detail: str
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    hung: bool = False


def examine_derive(case: DeriveCase, *, seconds: float) -> list[Finding]:
    """``derive --problem FUZZ.toml``: exit 0 with strict JSON and nothing on stderr, or
    exit 2 with one line ``symconv: error: …`` and nothing on stdout; within ``seconds``."""
    found: list[Finding] = []
    name = f"problem {Path(case.path).name} ({case.detail[:80]})"
    lines = [line for line in case.stderr.splitlines() if line.strip()]
    if case.hung or case.seconds > seconds:
        found.append(Finding("budget", name, f"derive took {case.seconds:.1f} s > {seconds:g} s"))
        return found
    if "Traceback" in case.stderr:
        found.append(Finding("traceback", name, case.stderr[-400:]))
    if case.code == 0:
        try:
            strict_loads(case.stdout)
        except ValueError as exc:
            found.append(Finding("json", name, f"stdout is not strict JSON: {exc}"))
        if lines:
            found.append(Finding("stderr", name, f"exit 0 with stderr {lines[0][:200]!r}"))
    elif case.code == 2:
        if len(lines) != 1 or not lines[0].startswith("symconv: error:"):
            found.append(
                Finding("stderr", name, f"exit 2 needs one error line: {case.stderr[:300]!r}")
            )
        if case.stdout.strip():
            found.append(Finding("stderr", name, "exit 2 with output on stdout"))
    else:
        found.append(Finding("exit code", name, f"exit {case.code}: {case.stderr[-300:]}"))
    return found


def _derive_driver(paths: Sequence[str]) -> None:
    """In a child process: ``symconv.cli.main(["derive", "--problem", P, "--json"])`` for
    each path, one JSON line each on the real stdout (a crash is caught and shown as a
    traceback, exit 99)."""
    import traceback

    from symconv.cli import main

    real = sys.stdout
    for path in paths:
        out, err = io.StringIO(), io.StringIO()
        start = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: int | None = main(["derive", "--problem", path, "--json"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:
                traceback.print_exc()
                code = 99
        line = {
            "path": path,
            "code": code,
            "stdout": out.getvalue()[:200_000],
            "stderr": err.getvalue()[-4000:],
            "seconds": time.monotonic() - start,
        }
        real.write(json.dumps(line) + "\n")
        real.flush()


def _read_lines(stream: IO[str], lines: list[str]) -> None:
    lines.extend(iter(stream.readline, ""))


def run_derive(cases: list[DeriveCase], *, seconds: float = 30.0) -> list[DeriveCase]:
    """Run the derive cases in a driver process (restarted past a case that hangs)."""
    pending = list(cases)
    while pending:
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--derive-driver",
            *[c.path for c in pending],
        ]
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        done = 0
        last = time.monotonic()
        while done < len(pending):
            if len(lines) > done:
                data = json.loads(lines[done])
                case = pending[done]
                case.code, case.stdout, case.stderr, case.seconds = (
                    data["code"],
                    data["stdout"],
                    data["stderr"],
                    data["seconds"],
                )
                done += 1
                last = time.monotonic()
                continue
            if process.poll() is not None and not reader.is_alive() and len(lines) <= done:
                break
            if time.monotonic() - last > seconds + 20.0:  # the driver's start-up included
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                pending[done].hung, pending[done].seconds = True, time.monotonic() - last
                done += 1
                break
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if done == 0 and not pending[0].hung:
            pending[0].code, pending[0].stderr = None, "the driver ended before its first case"
            done = 1
        pending = pending[done:]
    return cases


# ---------------------------------------------------------------------------------------
# the long run


def make_document(
    index: int, seed: int, grammar: Grammar, seeds: Sequence[Seed], *, crop: int | None = None
) -> Doc:
    """Document ``index`` of the run with ``seed`` (made alone: reproducible); 40% from
    the grammar, 52% mutated corpus documents (``crop``: that many display blocks of
    each), 8% corpus documents with a catalogue case spliced in."""
    rng = random.Random(f"{seed}:{index}")
    roll = rng.random()
    if roll < 0.4:
        return grammar_document(grammar, rng, f"grammar-{index:05d}")
    if roll < 0.92:
        return mutation_document(seeds, rng, f"mutation-{index:05d}", crop=crop)
    # a corpus document with a catalogue case's text spliced in at a random place
    seed_doc = rng.choice(seeds)
    case = rng.choice([c for c in CATALOGUE if not c.big and c.suffix in (".md", ".tex")])
    text = seed_doc.text if seed_doc.suffix != ".ipynb" else "$$\\hat{y}_1 = 14$$\n"
    if crop is not None:
        text = crop_text(text, rng, crop)
    at = rng.randrange(len(text) + 1)
    blob = case.make().decode("utf-8", "replace")[: rng.choice([200, 5_000, 200_000])]
    suffix = seed_doc.suffix if seed_doc.suffix != ".ipynb" else ".md"
    data = (text[:at] + blob + text[at:]).encode("utf-8", "surrogatepass")
    return Doc(
        f"spliced-{index:05d}",
        suffix,
        data,
        str(seed_doc.problem),
        "spliced",
        f"{seed_doc.path.name} + {case.name} at {at}",
    )


@dataclass
class Figures:
    """The figures of a run."""

    documents: int = 0
    api_documents: int = 0
    cli_documents: int = 0
    cli_runs: int = 0
    problems: int = 0
    equations: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    origins: Counter[str] = field(default_factory=Counter)
    check_exits: Counter[int] = field(default_factory=Counter)
    api_exits: Counter[int] = field(default_factory=Counter)
    derive_exits: Counter[int] = field(default_factory=Counter)
    slowest_equation: tuple[float, str, str] = (0.0, "", "")
    slowest_document: tuple[float, str, int] = (0.0, "", 0)
    slowest_cli: tuple[float, str] = (0.0, "")
    slowest_derive: tuple[float, str] = (0.0, "")
    peak_worker_kb: int = 0
    peak_cli_kb: int = 0
    children_maxrss_kb: int = 0
    json_documents: int = 0
    json_strict: int = 0
    restarts: int = 0
    elapsed: float = 0.0
    equation_times: list[float] = field(default_factory=list)
    document_times: list[float] = field(default_factory=list)

    def add(self, observation: Observation) -> None:
        self.documents += 1
        self.origins[observation.doc.origin] += 1
        if observation.via == "api":
            self.api_documents += 1
        else:
            self.cli_documents += 1
        result = observation.result
        if observation.error is not None:
            self.api_exits[2 if observation.error.startswith("CheckInputError") else -1] += 1
        if result is None:
            return
        if observation.via == "api":
            self.api_exits[exit_code_of([result])] += 1
        equations = result.get("equations", [])
        self.equations += len(equations)
        for entry in equations:
            self.verdicts[entry.get("verdict")] += 1
            if entry.get("reason"):
                self.reasons[entry["reason"]] += 1
        self.equation_times += [seconds for _, seconds in observation.equations]
        if observation.seconds is not None:
            self.document_times.append(observation.seconds)
        for index, seconds in observation.equations:
            if seconds > self.slowest_equation[0]:
                latex = equations[index]["latex"][:100] if index < len(equations) else "?"
                self.slowest_equation = (seconds, observation.doc.name, latex)
        if observation.seconds is not None and observation.seconds > self.slowest_document[0]:
            self.slowest_document = (observation.seconds, observation.doc.name, len(equations))
        self.peak_worker_kb = max(self.peak_worker_kb, observation.peak_kb)
        self.restarts += observation.restarts

    def summary(self, findings: Sequence[Finding], seed: int) -> dict[str, Any]:
        kinds = Counter(f.kind for f in findings)
        return {
            "seed": seed,
            "documents": self.documents,
            "generated_documents": self.documents - self.origins["catalogue"],
            "api_documents": self.api_documents,
            "cli_documents": self.cli_documents,
            "cli_runs": self.cli_runs,
            "problems": self.problems,
            "equations": self.equations,
            "crashes": kinds["crash"] + kinds["traceback"] + kinds["checker failure"],
            "budget_overruns": kinds["budget"],
            "memory_overruns": kinds["memory"],
            "findings": dict(kinds),
            "check_exit_codes": {str(k): v for k, v in sorted(self.check_exits.items())},
            "api_exit_codes": {str(k): v for k, v in sorted(self.api_exits.items())},
            "derive_exit_codes": {
                str(k): v for k, v in sorted(self.derive_exits.items(), key=lambda kv: str(kv[0]))
            },
            "verdicts": dict(self.verdicts),
            "reasons": dict(self.reasons),
            "origins": dict(self.origins),
            "slowest_equation": {
                "seconds": round(self.slowest_equation[0], 3),
                "document": self.slowest_equation[1],
                "latex": self.slowest_equation[2],
            },
            "slowest_document": {
                "seconds": round(self.slowest_document[0], 3),
                "document": self.slowest_document[1],
                "equations": self.slowest_document[2],
            },
            "slowest_cli_run": {
                "seconds": round(self.slowest_cli[0], 2),
                "documents": self.slowest_cli[1],
            },
            "slowest_derive": {
                "seconds": round(self.slowest_derive[0], 3),
                "problem": self.slowest_derive[1],
            },
            "equation_seconds": _percentiles(self.equation_times),
            "document_seconds": _percentiles(self.document_times),
            "peak_worker_mb": round(self.peak_worker_kb / 1024, 1),
            "peak_cli_process_mb": round(self.peak_cli_kb / 1024, 1),
            "children_maxrss_mb": round(self.children_maxrss_kb / 1024, 1),
            "json": {"parsed": self.json_documents, "strict": self.json_strict},
            "worker_restarts": self.restarts,
            "elapsed_s": round(self.elapsed, 1),
        }


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    """The median, 99th percentile and maximum of ``values`` (seconds, rounded)."""
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 4)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 4)}


def table(summary: dict[str, Any]) -> str:
    """The summary as a short table."""
    slowest, longest = summary["slowest_equation"], summary["slowest_document"]
    rows = [
        (
            "documents",
            f"{summary['documents']} ({summary['generated_documents']} generated; "
            f"{summary['api_documents']} API, "
            f"{summary['cli_documents']} CLI in {summary['cli_runs']} runs)",
        ),
        ("equations", str(summary["equations"])),
        ("problem files (derive)", str(summary["problems"])),
        ("crashes", str(summary["crashes"])),
        ("budget overruns", str(summary["budget_overruns"])),
        ("memory overruns", str(summary["memory_overruns"])),
        (
            "other findings",
            str(
                sum(summary["findings"].values())
                - summary["crashes"]
                - summary["budget_overruns"]
                - summary["memory_overruns"]
            ),
        ),
        ("check exit codes (CLI)", json.dumps(summary["check_exit_codes"])),
        ("derive exit codes", json.dumps(summary["derive_exit_codes"])),
        (
            "slowest equation",
            f"{slowest['seconds']} s, {slowest['document']}: {slowest['latex'][:60]}",
        ),
        (
            "slowest document",
            f"{longest['seconds']} s, {longest['document']} ({longest['equations']} equations)",
        ),
        ("equation seconds", json.dumps(summary["equation_seconds"])),
        ("document seconds", json.dumps(summary["document_seconds"])),
        ("slowest CLI run", f"{summary['slowest_cli_run']['seconds']} s"),
        (
            "slowest derive",
            f"{summary['slowest_derive']['seconds']} s, {summary['slowest_derive']['problem']}",
        ),
        ("peak worker memory", f"{summary['peak_worker_mb']} MB (VmHWM)"),
        ("peak CLI process memory", f"{summary['peak_cli_process_mb']} MB (wait4 ru_maxrss)"),
        ("strict JSON", f"{summary['json']['strict']}/{summary['json']['parsed']} CLI outputs"),
        ("worker restarts", str(summary["worker_restarts"])),
        ("elapsed", f"{summary['elapsed_s']} s"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def long_run(
    documents: int,
    seed: int,
    *,
    jobs: int = 2,
    batch: int = 10,
    cli_every: int = 10,
    problems: int | None = None,
    out: Path | None = None,
    only: Sequence[int] = (),
    catalogue: bool = True,
    crop: int | None = None,
    harness: Harness | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], list[Finding]]:
    """The long run: ``documents`` generated documents (every ``cli_every``-th batch
    through the CLI, the others through the API; ``crop`` as in :func:`make_document`),
    the catalogue, and ``problems`` hostile problem files (default: one per 20
    documents) through ``derive``.  ``harness``: one to reuse (its workers warm); it is
    closed at the end only when made here."""
    import resource

    start = time.monotonic()
    grammar = Grammar()
    seeds = corpus_seeds()
    figures = Figures()
    out = out or Path(tempfile.gettempdir()) / f"symconv-fuzz-{seed}"
    own = harness is None
    harness = harness if harness is not None else Harness(jobs=jobs, batch=batch)
    harness.reset()
    indices = list(only) if only else list(range(documents))
    (out / "findings.jsonl").unlink(missing_ok=True)
    reported = 0

    def consume() -> None:
        """Count what the harness saw, save the documents of new findings (at once: a run
        that is stopped keeps them) and forget the results."""
        nonlocal reported
        for observation in harness.observations:
            figures.add(observation)
        new = harness.findings[reported:]
        reported = len(harness.findings)
        _save(new, harness.observations, out)
        for finding in new:
            if progress:
                progress(f"  finding: {finding.kind}: {finding.doc}: {finding.message[:300]}")
        harness.observations.clear()
        harness.cli_runs.clear()

    try:
        if catalogue and not only:
            cases = all_cases()
            harness.run_api([c.doc() for c in cases])
            consume()
            small = [c.doc() for c in cases if not c.big]
            for at in range(0, len(small), 25):
                _cli(harness, small[at : at + 25], figures)
                consume()
        for number, first in enumerate(range(0, len(indices), batch)):
            chunk = indices[first : first + batch]
            docs = [make_document(i, seed, grammar, seeds, crop=crop) for i in chunk]
            if cli_every and number % cli_every == cli_every - 1:
                # one CLI process per problem: the batch's largest group of one problem
                # goes through the CLI, the others through the API
                groups = list(_by_problem(docs))
                largest = max(groups, key=lambda group: len(group[1]))[1]
                _cli(harness, largest, figures)
                harness.run_api([doc for doc in docs if doc not in largest])
            else:
                harness.run_api(docs)
            consume()
            if progress and number % 10 == 0:
                progress(
                    f"{first + len(docs)}/{len(indices)} documents, "
                    f"{len(harness.findings)} findings, {time.monotonic() - start:.0f} s"
                )
        count = problems if problems is not None else (0 if only else max(1, documents // 20))
        if count:
            figures.problems = _derive_run(harness, count, seed, figures, out)
            consume()
    finally:
        if own:
            harness.close()
    figures.children_maxrss_kb = int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    figures.elapsed = time.monotonic() - start
    return figures.summary(harness.findings, seed), harness.findings


def _cli(harness: Harness, docs: list[Doc], figures: Figures) -> None:
    for run in harness.run_cli(docs):
        figures.cli_runs += 1
        if run.code is not None:
            figures.check_exits[run.code] += 1
        figures.peak_cli_kb = max(figures.peak_cli_kb, run.maxrss_kb)
        if run.seconds > figures.slowest_cli[0]:
            figures.slowest_cli = (run.seconds, ",".join(d.name for d in run.docs)[:120])
        if run.stdout.strip():
            figures.json_documents += 1
            try:
                strict_loads(run.stdout)
                figures.json_strict += 1
            except ValueError:
                pass


def _derive_run(harness: Harness, count: int, seed: int, figures: Figures, out: Path) -> int:
    bases = problem_bases()
    folder = harness.workdir / "problems"
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for index in range(count):
        data, detail = hostile_problem(bases, random.Random(f"{seed}:problem:{index}"))
        path = folder / f"p{index:05d}.toml"
        path.write_bytes(data)
        cases.append(DeriveCase(str(path), detail))
    for entry in sorted(DATA.glob("problems/*.toml")):
        cases.append(DeriveCase(str(entry), f"catalogue {entry.name}"))
    for case in run_derive(cases):
        figures.derive_exits[case.code if case.code is not None else -1] += 1
        if case.seconds > figures.slowest_derive[0]:
            figures.slowest_derive = (case.seconds, f"{Path(case.path).name}: {case.detail[:60]}")
        found = examine_derive(case, seconds=30.0)
        if found:
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy(case.path, out / Path(case.path).name)
        harness.findings += found
        if case.code == 0:
            figures.json_documents += 1
            with contextlib.suppress(ValueError):
                strict_loads(case.stdout)
                figures.json_strict += 1
    return len(cases)


def _save(findings: Sequence[Finding], observations: Sequence[Observation], out: Path) -> None:
    """Every document named by a finding (its bytes, and a ``.problem`` file: its problem
    and what was done to it), and the findings (appended to ``findings.jsonl``)."""
    if not findings:
        return
    out.mkdir(parents=True, exist_ok=True)
    named = {name for f in findings for name in f.doc.split(",")}
    for observation in observations:
        doc = observation.doc
        if doc.name in named:
            (out / f"{doc.name}{doc.suffix}").write_bytes(doc.data)
            (out / f"{doc.name}.problem").write_text(
                doc.problem + "\n" + doc.detail + "\n", "utf-8"
            )
    with (out / "findings.jsonl").open("a", encoding="utf-8") as sink:
        for finding in findings:
            sink.write(json.dumps(finding.__dict__) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fuzz symconv check and derive (issue #13, item 5)."
    )
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--batch", type=int, default=10, help="documents per check_files / CLI call"
    )
    parser.add_argument(
        "--cli-every", type=int, default=10, help="every N-th batch through the CLI (0: none)"
    )
    parser.add_argument(
        "--problems", type=int, default=None, help="hostile problem files (default documents/20)"
    )
    parser.add_argument(
        "--only", type=int, nargs="*", default=(), help="just these document indices"
    )
    parser.add_argument("--no-catalogue", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=None, help="where documents that broke a rule are saved"
    )
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--derive-driver", nargs="*", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.derive_driver is not None:
        _derive_driver(args.derive_driver)
        return 0

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    summary, findings = long_run(
        args.documents,
        args.seed,
        jobs=args.jobs,
        batch=args.batch,
        cli_every=args.cli_every,
        problems=args.problems,
        out=args.out,
        only=args.only,
        catalogue=not args.no_catalogue,
        progress=None if args.quiet else progress,
    )
    print(json.dumps(summary, ensure_ascii=False))
    print(table(summary))
    for finding in findings[:30]:
        print(f"  {finding.kind}: {finding.doc}: {finding.message[:200]}")
    if findings:
        where = args.out or Path(tempfile.gettempdir()) / f"symconv-fuzz-{args.seed}"
        print(f"{len(findings)} finding(s); the documents are in {where}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
