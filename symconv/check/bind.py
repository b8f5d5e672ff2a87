"""Decide which symbol of a document plays which role, and rewrite its equations so.

People name the layer's quantities in many ways: the output ``ŷ``, ``y``, ``o``, ``z``,
``\\text{out}``; the target ``y``, ``t``, ``d``, ``y^*``, ``y_{true}``; the gradient of the
loss ``∂L/∂w``, ``dw``, ``δ_i`` ("let δ_i = ∂L/∂o_i"), ``\\bar{w}``, ``w'``.  The binding is
decided once per document, from what its equations say:

1. the ``[notation]`` table of the problem, when it names a role, wins;
2. the **output** is the name defined by the forward pass (the left side of an equation
   whose right side holds both the input and the weights), else the first output
   spelling the document uses (``y`` only when something else is the target);
3. the **target** is the other name of the loss's difference (``(o_i − t_i)²``), else the
   first target spelling used; a document without one has no target;
4. the input, weights, bias, loss and learning rate keep their spellings' meaning;
5. after renaming, a name defined as a loss gradient (``δ_i = ∂L/∂ŷ_i``,
   ``\\bar{y}_i := ∂L/∂y_i``, ``y_i' = ∂L/∂y_i``) stands for that gradient everywhere — an
   adjoint bar or a gradient prime on one role means the same on every role — and the code
   shorthand ``dw``, ``dw_j``, ``dx``, ``db``, ``dy_i`` means ``∂L/∂·`` when the document uses it.

The equations are then rewritten into the checker's own names (``\\hat{y}`` for the output,
``y`` for the target, ``∂L/∂·`` for gradients), so everything after this step reads one
dialect.  :meth:`Binding.describe` says which binding was used.

Example:
    >>> from symconv.check.parse import parse_equation
    >>> trees = [parse_equation(r"o_i = \\sum_j w_j x_{i+j-1} + b_i"),
    ...          parse_equation(r"L = \\frac{1}{2} \\sum_i (o_i - t_i)^2")]
    >>> binding = infer(trees)
    >>> binding.describe()
    'output o → ŷ, target t → y'
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree

from symconv.check.diagnose import latex_of
from symconv.check.evaluate import name_key, spelled
from symconv.check.parse import ParseFailure, parse_equation
from symconv.check.pretty import pretty
from symconv.mathtext import sub as subscript
from symconv.notation import GRADIENT_OF, ROLES, WORD_SUBSCRIPTS

__all__ = ["MAX_INLINE_DEFINITIONS", "SIZE_TOKENS", "Binding", "ident_of", "infer", "zero_based"]

Node = Tree[Token]

# the sizes a capital bounding a sum stands for, as names no document writes
SIZE_TOKENS = {"k": "size:k", "m": "size:m", "n": "size:n"}
_MAX_INSERTED = 3  # a definition put in a definition put in a definition, no deeper
_NAME_KINDS = ("letter", "greek", "text", "accent", "font", "cal")
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "eta", "theta", "lambda",
    "mu", "nu", "xi", "rho", "sigma", "tau", "phi", "varphi", "chi", "psi", "omega",
    "kappa", "zeta", "Delta", "ell",
}  # fmt: skip
_LOSS = set(ROLES["loss"].spellings)
_PARAMETERS = {*ROLES["input"].spellings, *ROLES["weights"].spellings, *ROLES["bias"].spellings}
_RATES = set(ROLES["learning_rate"].spellings)
_TARGET_ONLY = [s for s in ROLES["target"].spellings if s not in ROLES["output"].spellings]
# gradients by the shorthand dX are of these canonical names
_SHORTHAND = {"w", "b", "x", "hat:y"}
_NOT_A_ROLE = "?"


# ---------------------------------------------------------------------------------------
# names


def _word(script: Node) -> str | None:
    """The word of a subscript that is part of a name (``_{true}``, ``_{\\text{pred}}``)."""
    if script.data != "sub":
        return None
    arg = script.children[-1]
    word = spelled(arg)
    if word is None:
        return None
    word = word.replace(" ", "").lower()
    return word if word in WORD_SUBSCRIPTS else None


def _leading_word(script: Node) -> tuple[str, Node] | None:
    """``_{pred,1}``: the word and the subscript left (``_1``); else None."""
    arg = script.children[-1]
    if script.data != "sub" or not isinstance(arg, Tree) or arg.data != "subtuple":
        return None
    parts: list[Any] = [c for c in arg.children if isinstance(c, Tree)]
    word = spelled(parts[0])
    word = word.replace(" ", "").lower() if word is not None else None
    if word is None or word not in WORD_SUBSCRIPTS:
        return None
    left: Node = parts[1] if len(parts) == 2 else Tree("subtuple", parts[1:])
    return word, Tree("sub", [script.children[0], left])


def _is_star(script: Node) -> bool:
    arg = script.children[-1]
    return (
        script.data == "sup"
        and isinstance(arg, Tree)
        and arg.data == "text"
        and (str(arg.children[0]) == "*")
    )


def ident_of(node: Node, *, prime: bool = False) -> tuple[str, list[Node]] | None:
    """The document symbol a name node denotes and its remaining scripts.

    ``y_{true}`` → ``("y|true", [])``, ``y^*_i`` → ``("y^*", [sub i])``, ``\\text{out}_i`` →
    ``("text:out", [sub i])``; with ``prime``, a prime is part of the symbol (``w'`` →
    ``("w'", [])``).  None for anything that is not a name.
    """
    if node.data == "scripted":
        primary = node.children[0]
        scripts = [c for c in node.children[1:] if isinstance(c, Tree)]
    else:
        primary, scripts = node, []
    if not isinstance(primary, Tree) or primary.data not in _NAME_KINDS:
        return None
    found = name_key(primary)
    if found is None:
        return None
    key, inner = found
    rest: list[Node] = []
    suffix = ""
    for script in [*inner, *scripts]:
        word = _word(script)
        leading = _leading_word(script) if word is None else None
        if leading is not None and "|" not in key:
            key += "|" + leading[0]
            rest.append(leading[1])
        elif word is not None and "|" not in key:
            key += "|" + word
        elif _is_star(script) and not suffix:
            suffix = "^*"
        elif prime and script.data == "prime" and "'" not in suffix:
            suffix += "'"
        else:
            rest.append(script)
    return key + suffix, rest


def _is_name(node: Node) -> bool:
    primary = node.children[0] if node.data == "scripted" else node
    return isinstance(primary, Tree) and primary.data in _NAME_KINDS


def _canonical(key: str) -> Node:
    """The checker's own spelling of a canonical key, as a tree."""
    if key == _NOT_A_ROLE:
        return Tree("text", [Token("TEXT", r"\text{y (neither the output nor the target)}")])
    if key.startswith("hat:"):
        return Tree(
            "accent", [Token("ACCENT", r"\hat"), Tree("letter", [Token("LETTER", key[4:])])]
        )
    if key in _GREEK:
        return Tree("greek", [Token("GREEK", "\\" + key)])
    return Tree("letter", [Token("LETTER", key)])


def _with_scripts(primary: Node, scripts: list[Node]) -> Node:
    return Tree("scripted", [primary, *scripts]) if scripts else primary


def _gradient(role: Node) -> Node:
    """``\\frac{\\partial L}{\\partial <role>}``."""
    letter: Node = Tree("letter", [Token("LETTER", "L")])
    loss: Node = Tree("partial", [Token("PARTIAL", r"\partial"), letter])
    return Tree(
        "frac",
        [Token("FRAC", r"\frac"), loss, Tree("partial", [Token("PARTIAL", r"\partial"), role])],
    )


def _sides(tree: Node) -> list[Node]:
    if tree.data != "chain":
        return [tree]
    return [c for c in tree.children if isinstance(c, Tree)]


def _walk(tree: Node, *, in_sub: bool = False) -> Iterator[tuple[Node, bool]]:
    """Every node with whether it sits in an index (a name's subscript or a sum's bounds)."""
    stack: list[tuple[Node, bool]] = [(tree, in_sub)]
    while stack:
        node, inside = stack.pop()
        yield node, inside
        indexed = node.data == "bigsum" or (node.data == "scripted" and _is_name(node))
        for child in reversed(node.children):
            if isinstance(child, Tree):
                stack.append((child, inside or (indexed and child.data in ("sub", "sup"))))


def _names(tree: Node, *, prime: bool = False) -> Iterator[tuple[str, list[Node], Node]]:
    """The name nodes outside indices: (symbol, remaining scripts, node)."""
    skip: set[int] = set()
    for node, inside in _walk(tree):
        if inside or id(node) in skip or not _is_name(node):
            continue
        found = ident_of(node, prime=prime)
        if found is None:
            continue
        if node.data == "scripted":
            skip.add(id(node.children[0]))  # the primary is part of this name
        yield found[0], found[1], node


def _rewrite(
    tree: Node, replace: Callable[[Node, bool], Node | None], *, in_sub: bool = False
) -> Node:
    """``tree`` with every node that ``replace`` answers for replaced (top-down)."""
    new = replace(tree, in_sub)
    if new is not None:
        return new
    indexed = tree.data == "bigsum" or (tree.data == "scripted" and _is_name(tree))
    children: list[Any] = []
    changed = False
    for child in tree.children:
        if isinstance(child, Tree):
            inside = in_sub or (indexed and child.data in ("sub", "sup"))
            done = _rewrite(child, replace, in_sub=inside)
            changed = changed or done is not child
            children.append(done)
        else:
            children.append(child)
    return Tree(tree.data, children, tree.meta) if changed else tree


# ---------------------------------------------------------------------------------------
# the binding


@dataclass
class Binding:
    """Which document symbol plays which role (``renames``: symbol → canonical key),
    which names stand for loss gradients (``gradients``: symbol → canonical key of what
    they differentiate), and whether ``dX`` is the shorthand for ∂L/∂X."""

    renames: dict[str, str] = field(default_factory=dict)
    gradients: dict[str, str] = field(default_factory=dict)
    shorthand: bool = False
    index_base: int | None = None
    matrices: dict[str, str] = field(default_factory=dict)  # W → the Jacobian ∂ŷ/∂x ...
    _depth: int = field(default=0, repr=False, compare=False)  # definitions inside definitions
    einstein: bool = False  # a repeated index on the right is summed (said in the prose)
    source: dict[str, str] = field(default_factory=dict)  # role → "document" | "notation table"

    @property
    def is_plain(self) -> bool:
        """The checker's own dialect: nothing to rewrite."""
        return (
            all(k == v for k, v in self.renames.items())
            and not self.gradients
            and not self.shorthand
            and not self.matrices
            and not self.einstein
            and not self.updates
            and not self.named
            and not self.expressions
            and not self.index_letters
        )

    updates: bool = False  # Δw and w(1) are read (the textbook's update notation)
    named: bool = False  # names with a word subscript (δ_{pad}) are used
    index_letters: dict[str, str] = field(default_factory=dict)  # k → q when K is the size
    # δ → o − t, e_i → d_i − z_i: defined in the prose or after their first use
    expressions: dict[str, tuple[str | None, Node]] = field(default_factory=dict)

    def apply(self, tree: Node) -> Node:
        """``tree`` in the checker's names (the input is not changed)."""
        if self.is_plain:
            return tree
        renamed = (
            _rewrite(tree, self._rename) if self.renames or self.named or self.expressions else tree
        )
        if self.index_letters:
            renamed = _rewrite(renamed, self._rename_index)
        if self.shorthand:
            renamed = _rewrite(renamed, _expand_shorthand)
        if self.gradients:
            renamed = _rewrite(renamed, self._expand_gradient)
        if self.matrices:
            renamed = _rewrite(renamed, self._rename_matrix)
        if self.updates:
            renamed = _rewrite(renamed, _expand_updates)
        if self.einstein:
            renamed = _einstein(renamed)
        return renamed

    def _rename_matrix(self, node: Node, in_sub: bool) -> Node | None:
        if in_sub or not _is_name(node):
            return None
        found = ident_of(node)
        if found is None or found[0] not in self.matrices:
            return None
        text: Node = Tree("text", [Token("TEXT", r"\text{" + self.matrices[found[0]] + "}")])
        return _with_scripts(text, self._scripts(found[1]))

    def _rename(self, node: Node, in_sub: bool) -> Node | None:
        if in_sub or not _is_name(node):
            return None
        found = ident_of(node)
        if found is None:
            return None
        symbol, rest = found
        # inside an inserted definition (already in the checker's names) only the names
        # the document defines are put in, nothing renamed twice (its ŷ is no output y)
        target = None if self._depth else self.renames.get(symbol)
        if self.named and node.data == "scripted":
            word = _name_word(symbol, rest)
            if word is not None:
                # δ_{pad}, x_{\text{padded}}: a name of the document's own, not an entry
                stem = symbol.removeprefix("text:")
                named = f"text:{stem}_{word[0]}"
                if named in self.expressions and self.expressions[named][0] is None:
                    # δ_pad used before its definition: the expression it is defined as,
                    # in the checker's names too ((0, δ₁, …, δ₄, 0) with δ = o − t)
                    inner = self._inserted(self.expressions[named][1])
                    defined_as: Node = Tree("paren", [inner])
                    return _with_scripts(defined_as, self._scripts(word[1]))
                text: Node = Tree("text", [Token("TEXT", r"\text{" + f"{stem}_{word[0]}" + "}")])
                return _with_scripts(text, self._scripts(word[1]))
        if symbol in self.expressions:
            # δ, defined as o − t in the prose or further down: that expression
            letter, expression = self.expressions[symbol]
            scripts = self._scripts(rest)
            if letter is not None:
                subs = [script for script in scripts if script.data == "sub"]
                if not subs:
                    return None  # e without its index: not the defined e_i
                expression = _put_index(expression, letter, subs[0].children[-1])
                scripts = [script for script in scripts if script is not subs[0]]
            defined: Node = Tree("paren", [self._inserted(expression)])
            return _with_scripts(defined, scripts)
        if target is None or target == symbol:
            if node.data == "scripted" and ("|" in symbol or "^*" in symbol):
                # y_{true} is one name: its primary `y` is not renamed on its own
                return Tree("scripted", [node.children[0], *self._scripts(node.children[1:])])
            return None
        return _with_scripts(_canonical(target), self._scripts(rest))

    def _inserted(self, expression: Node) -> Node:
        """A defining expression put in for its name, renamed itself (a definition that
        uses another defined name); a bounded depth stops a name defined through itself."""
        if self._depth >= _MAX_INSERTED:
            return expression
        self._depth += 1
        try:
            return _rewrite(expression, self._rename)
        finally:
            self._depth -= 1

    def _rename_index(self, node: Node, in_sub: bool) -> Node | None:
        if node.data == "binding" and str(node.children[0]) in self.index_letters:
            letter = Token("LETTER", self.index_letters[str(node.children[0])])
            return Tree("binding", [letter, *node.children[1:]])
        if in_sub and node.data == "letter" and str(node.children[0]) in self.index_letters:
            return Tree("letter", [Token("LETTER", self.index_letters[str(node.children[0])])])
        return None

    def _scripts(self, scripts: list[Any]) -> list[Node]:
        return [
            _rewrite(s, self._rename, in_sub=s.data == "sub")
            for s in scripts
            if isinstance(s, Tree)
        ]

    def _expand_gradient(self, node: Node, in_sub: bool) -> Node | None:
        if in_sub or not _is_name(node):
            return None
        found = ident_of(node, prime=True)
        if found is None or found[0] not in self.gradients:
            return None
        symbol, rest = found
        subs = [s for s in rest if s.data == "sub"]
        others = [s for s in rest if s.data != "sub"]
        gradient = _gradient(_with_scripts(_canonical(self.gradients[symbol]), subs[:1]))
        if others or subs[1:]:
            return Tree("scripted", [Tree("paren", [gradient]), *subs[1:], *others])
        return gradient

    def describe(self) -> str:
        """The binding in words (empty for the checker's own dialect)."""
        parts = []
        for role in ("output", "target", "input", "weights", "bias"):
            key = ROLES[role].key
            for symbol, target in self.renames.items():
                if target == key and symbol != key:
                    parts.append(f"{role} {_show(symbol)} → {ROLES[role].unicode}")
        for symbol, key in self.gradients.items():
            parts.append(f"{_show(symbol)} = ∂L/∂{_unicode(key)}")
        for symbol, (letter, expression) in self.expressions.items():
            name = _show(symbol) + (subscript(letter) if letter else "")
            parts.append(f"{name} = {pretty(latex_of(expression)).strip()}")
        if self.shorthand:
            parts.append("dX = ∂L/∂X")
        for symbol, what in self.matrices.items():
            parts.append(f"{_show(symbol)} = " + ("∂ŷ/∂x" if what == _TOEPLITZ else "∂ŷ/∂w"))
        if self.einstein:
            parts.append("repeated indices summed")
        if self.index_base == 0:
            parts.append("0-based")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The binding for ``--json`` (design.md's ``[notation]`` role names)."""
        roles: dict[str, str] = {}
        for role in ("output", "target", "input", "weights", "bias"):
            key = ROLES[role].key
            for symbol, target in self.renames.items():
                if target == key:
                    roles[role] = _show(symbol)
        return {
            "roles": roles,
            "gradients": {_show(s): _unicode(k) for s, k in self.gradients.items()},
            "shorthand": self.shorthand,
            "source": dict(self.source),
        }


def _show(symbol: str) -> str:
    """A document symbol as people read it: ``hat:y`` → ŷ, ``y|true`` → y_true."""
    base, _, word = symbol.partition("|")
    star = base.endswith("^*") or word.endswith("^*")
    prime = "'" if symbol.endswith("'") else ""
    base = base.removesuffix("'").removesuffix("^*")
    word = word.removesuffix("'").removesuffix("^*")
    if base.startswith("hat:"):
        base = base[4:] + "\u0302"
    elif base.startswith("bar:"):
        base = base[4:] + "\u0304"
    elif ":" in base:
        base = base.split(":", 1)[1]
    elif base in _GREEK:
        base = {"delta": "δ", "Delta": "Δ", "eta": "η", "alpha": "α", "ell": "ℓ"}.get(base, base)
    return unicodedata.normalize(
        "NFC", base + ("_" + word if word else "") + ("*" if star else "") + prime
    )


def _unicode(key: str) -> str:
    for role in ROLES.values():
        if role.key == key:
            return role.unicode
    return key


def _expand_shorthand(node: Node, in_sub: bool) -> Node | None:
    """``d w_j`` (a product of the letter d and a role's name) → ∂L/∂w_j."""
    if in_sub:
        return None
    if node.data == "frac":
        return node  # dL/dw as a fraction is read by the evaluator itself
    if node.data != "imul":
        return None
    factors = _flatten(node)
    out: list[Node] = []
    changed = False
    index = 0
    while index < len(factors):
        factor = factors[index]
        if _is_d(factor) and index + 1 < len(factors) and _shorthand_name(factors[index + 1]):
            out.append(_gradient(factors[index + 1]))
            index += 2
            changed = True
            continue
        out.append(_rewrite(factor, _expand_shorthand))
        index += 1
    if not changed and len(factors) == 2 and _shorthand_name(factors[1]):
        # lr · dw reads (lr · d) w: the d is the last factor of the left operand
        left = _without_last_d(factors[0])
        if left is not None:
            return (
                Tree("mul", [left[0], Token("MULOP", r"\cdot"), _gradient(factors[1])])
                if left[0] is not None
                else _gradient(factors[1])
            )
    if not changed:
        return None
    result = out[0]
    for factor in out[1:]:
        result = Tree("imul", [result, factor])
    return result


def _flatten(node: Node) -> list[Node]:
    factors: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.data == "imul":
            stack.extend(reversed([c for c in current.children if isinstance(c, Tree)]))
        else:
            factors.append(current)
    return factors


def _is_d(node: Node) -> bool:
    return node.data == "letter" and str(node.children[0]) == "d"


def _shorthand_name(node: Node) -> bool:
    if not _is_name(node):
        return False
    found = ident_of(node)
    return found is not None and found[0] in _SHORTHAND


# ---------------------------------------------------------------------------------------
# inference


def _contains(tree: Node, symbols: set[str]) -> bool:
    return any(symbol in symbols for symbol, _, _ in _names(tree))


def _lhs_symbol(tree: Node, *, prime: bool = False) -> tuple[str, list[Node]] | None:
    lhs = _sides(tree)[0]
    if tree.data != "chain" or not _is_name(lhs):
        return None
    return ident_of(lhs, prime=prime)


def _forward_output(trees: Iterable[Node]) -> str | None:
    """The name the forward pass defines (``o_i = Σ_j w_j x_{i+j-1} + b_i``)."""
    inputs, weights = set(ROLES["input"].spellings), set(ROLES["weights"].spellings)
    not_outputs = _PARAMETERS | _LOSS | _RATES
    for tree in trees:
        found = _lhs_symbol(tree)
        if found is None or found[0] in not_outputs or found[0] not in ROLES["output"].spellings:
            continue
        for side in _sides(tree)[1:]:
            if _contains(side, inputs) and _contains(side, weights):
                return found[0]
    return None


def _forward_kernel(trees: Iterable[Node]) -> tuple[str, str] | None:
    """(output, kernel) of a forward pass whose kernel is not spelled w: the indexed name
    multiplying the input in ``y_n = \\sum_m h_m x_{n+m}`` (h), with the left side."""
    inputs = set(ROLES["input"].spellings)
    others = _PARAMETERS | _LOSS | _RATES
    for tree in trees:
        found = _lhs_symbol(tree)
        if found is None or found[0] in others or not _has_sub(found[1]):
            continue
        for side in _sides(tree)[1:]:
            for left, right in _product_pairs(side):
                names = [ident_of(n) if _is_name(n) else None for n in (left, right)]
                if None in names:
                    continue
                (a, a_rest), (b, b_rest) = names  # type: ignore[misc]
                pair = [(a, a_rest), (b, b_rest)]
                for (one, _), (other, other_rest) in (pair, pair[::-1]):
                    indexed = _has_sub(other_rest)
                    if one in inputs and other not in others and other != found[0] and indexed:
                        return found[0], other
    return None


def _differences(tree: Node) -> Iterator[tuple[str, str]]:
    """The pairs of names subtracted from each other (``o_i - t_i`` → (o, t))."""
    for node, inside in _walk(tree):
        if inside or node.data != "subtract":
            continue
        left, right = [c for c in node.children if isinstance(c, Tree)]
        a = [s for s, _, _ in _names(left)]
        b = [s for s, _, _ in _names(right)]
        if len(a) == 1 and len(b) == 1:
            yield a[0], b[0]


def _loss_target(trees: Iterable[Node], output: str) -> str | None:
    """The other name of the loss's difference with the output."""
    targets = set(ROLES["target"].spellings)
    for tree in trees:
        found = _lhs_symbol(tree)
        if found is None or found[0] not in _LOSS:
            continue
        for side in _sides(tree)[1:]:
            for a, b in _differences(side):
                if a == output and b in targets:
                    return b
                if b == output and a in targets:
                    return a
    return None


def _symbol_of_spelling(spelling: str) -> str:
    """A ``[notation]`` spelling (``o``, ``\\hat{y}``, ``y_{true}``, ``delta``) as a symbol."""
    if spelling in _GREEK:
        return spelling
    try:
        tree = parse_equation(spelling)
    except ParseFailure:
        return "text:" + spelling
    node = _sides(tree)[0]
    found = ident_of(node, prime=True) if _is_name(node) else None
    if found is None or found[1]:
        return "text:" + spelling
    return found[0]


def infer(
    trees: list[Node],
    notation: Mapping[str, str | int] | None = None,
    prose: str = "",
    *,
    said: list[str] | None = None,
) -> Binding:
    """The binding of a document whose equations parsed to ``trees`` (see the module);
    ``prose`` is the document's text, read for what its words say (summation convention,
    primes meaning gradients); ``said`` its inline equations (macros expanded), when the
    reader found them (else they are read from ``prose``)."""
    notation = dict(notation or {})
    # "with $e_n = y_n - d_n$": read for the roles too
    inline = _inline_definitions(prose) if said is None else _parsed(said)
    used: dict[str, int] = {}
    indexed: set[str] = set()  # used with an index (o_1), not only bare (a = 1)
    for tree in [*trees, *inline]:
        for symbol, scripts, node in _names(tree):
            if symbol == "d" and node.data != "scripted":
                continue  # the d of dw or dL/dw, not a name
            used[symbol] = used.get(symbol, 0) + 1
            if any(script.data == "sub" for script in scripts):
                indexed.add(symbol)
    binding = Binding()
    if isinstance(notation.get("index_base"), int):
        binding.index_base = int(notation["index_base"])

    def given(role: str) -> str | None:
        value = notation.get(role)
        return _symbol_of_spelling(value) if isinstance(value, str) else None

    kernel_symbol: str | None = None
    output = given("output")
    if output is not None:
        binding.source["output"] = "notation table"
    else:
        output = _forward_output(trees)
        if output is None and given("weights") is None:
            kernel = _forward_kernel(trees)
            if kernel is not None:
                output, kernel_symbol = kernel  # h is the kernel, y the output
        if output is None:
            has_target = any(s in used for s in _TARGET_ONLY)
            for spelling in ROLES["output"].spellings:
                bare = len(spelling) == 1 and spelling != "y" and spelling not in indexed
                if spelling not in used or bare:
                    continue  # a bare letter (a = 1) is a name of the document's own
                if spelling != "y" or (has_target and "hat:y" not in used):
                    output = spelling
                    break
        if output is not None:
            binding.source["output"] = "document"
    if output is None:
        output = "hat:y"
    target = given("target")
    if target is not None:
        binding.source["target"] = "notation table"
    else:
        target = _loss_target([*trees, *inline], output)
        if target is None:
            for spelling in ROLES["target"].spellings:
                bare = len(spelling) == 1 and spelling != "y" and spelling not in indexed
                if spelling in used and spelling != output and not bare:
                    target = spelling
                    break
        if target is not None:
            binding.source["target"] = "document"
    renames: dict[str, str] = {output: "hat:y"}
    if target is not None and target != output:
        renames[target] = "y"
    elif output == "y":
        pass  # y is the output; the document names no target
    for role in ("input", "weights", "bias", "loss", "learning_rate"):
        key = ROLES[role].key
        mine = kernel_symbol if role == "weights" and kernel_symbol else given(role)
        spellings = [mine] if mine is not None else list(ROLES[role].spellings)
        for spelling in spellings:
            if spelling in used and spelling not in renames and spelling != key:
                if role in ("loss", "learning_rate") and mine is None:
                    continue  # the evaluator reads every usual loss and rate name
                renames[spelling] = key
    # a target spelling the document does not use as the target is not the checker's y
    if "tilde:x" in used and not _defines_literal(trees, "tilde:x"):
        # x̃_t with x's own indices (x̃₀ = 0 the padding): the input as the layer pads it;
        # a document that writes x̃ out as a vector numbers it from its first entry instead
        renames["tilde:x"] = "x"
    if "y" in used and "y" not in renames and target is not None:
        renames["y"] = _NOT_A_ROLE  # neither the output nor the target: an unknown name
    letters = {
        str(node.children[0]) for tree in trees for node, _ in _walk(tree) if node.data == "letter"
    }  # every letter, in indices and bounds too
    if ("K" in letters or "M" in used) and "N" in used:
        # sizes in capitals (N, K, S, M): N is the input's length, M the output's
        renames.setdefault("N", "n")
        renames.setdefault("M", "m")
    if "K" in letters and "q" not in letters:
        binding.index_letters = {"k": "q"}  # K is the kernel size: k is a tap index
    for capital, size in _capital_bounds(trees, renames, kernel_symbol).items():
        # \sum_{m=0}^{M-1} h_m: M is the kernel size — as a size of its own, never the
        # letter k, which the document may use as an index (∂E/∂x_k)
        binding.index_letters.setdefault(capital, SIZE_TOKENS[size])
    binding.renames = renames
    binding.named = any(
        _name_word(symbol, scripts) is not None
        for tree in trees
        for symbol, scripts, _ in _names(tree)
    )

    renamed = [binding.apply(tree) for tree in trees]
    binding.shorthand = "d" not in renames and any(_uses_shorthand(tree) for tree in renamed)
    if binding.shorthand:
        renamed = [_rewrite(tree, _expand_shorthand) for tree in renamed]
    stated = [binding.apply(tree) for tree in inline]
    binding.expressions = _late_definitions(renamed, stated)
    if binding.expressions:
        renamed = [binding.apply(tree) for tree in trees]
        if binding.shorthand:
            renamed = [_rewrite(tree, _expand_shorthand) for tree in renamed]
    if binding.shorthand:
        stated = [_rewrite(tree, _expand_shorthand) for tree in stated]
    binding.gradients = _gradient_names(renamed + stated, given("gradient"), renames, prose)
    if (
        "delta" in used
        and "delta" not in binding.gradients
        and "delta" not in binding.expressions
        and not _defines(renamed, "delta")
    ):
        binding.gradients["delta"] = "hat:y"  # δ_i, never defined: the usual ∂L/∂ŷ_i
    binding.matrices = _matrix_names(renamed + stated, used)  # "with $y = Wx + b$" too
    binding.updates = any(_uses_updates(tree) for tree in renamed)
    binding.einstein = bool(prose) and bool(_EINSTEIN.search(prose))
    for symbol in used:
        # \text{dout}, \text{dx}: the code names of ∂L/∂out, ∂L/∂x
        if symbol.startswith("text:d") and len(symbol) > 6:
            rest = symbol[6:]
            for spelling in (rest, "text:" + rest):
                key = renames.get(spelling, spelling)
                if key in _SHORTHAND:
                    binding.gradients.setdefault(symbol, key)
                    break
    return binding


def _uses_shorthand(tree: Node) -> bool:
    for node, inside in _walk(tree):
        if inside or node.data != "imul":
            continue
        factors = _flatten(node)
        for first, second in itertools.pairwise(factors):
            if _is_d(first) and _shorthand_name(second):
                return True
    return False


def _loss_gradient_of(side: Node) -> str | None:
    """The canonical key ``side`` is the loss gradient with respect to (∂L/∂ŷ_i → hat:y)."""
    if side.data == "imul":
        # ∇_{ŷ_i} L, ∂_{ŷ_i} L
        first, second = [c for c in side.children if isinstance(c, Tree)]
        if first.data == "scripted" and isinstance(first.children[0], Tree):
            if first.children[0].data == "nabla" and _is_name(second):
                of = ident_of(second)
                subs = [c for c in first.children[1:] if isinstance(c, Tree)]
                arg = subs[0].children[-1] if subs else None
                while isinstance(arg, Tree) and arg.data == "group" and len(arg.children) == 1:
                    arg = arg.children[0]
                if of and of[0] in _LOSS and isinstance(arg, Tree) and _is_name(arg):
                    by = ident_of(arg)
                    if by and by[0] in _SHORTHAND:
                        return by[0]
    if side.data == "frac":
        top, bottom = [c for c in side.children if isinstance(c, Tree)]
        if top.data == "partial" and bottom.data == "partial":
            loss = [c for c in top.children if isinstance(c, Tree)]
            wrt = [c for c in bottom.children if isinstance(c, Tree)]
            if len(loss) == 1 and len(wrt) == 1 and _is_name(loss[0]) and _is_name(wrt[0]):
                l_found, w_found = ident_of(loss[0]), ident_of(wrt[0])
                if l_found and w_found and l_found[0] in _LOSS and w_found[0] in _SHORTHAND:
                    return w_found[0]
    return None


def _gradient_names(
    trees: list[Node], given: str | None, renames: Mapping[str, str], prose: str = ""
) -> dict[str, str]:
    """Names defined as a loss gradient (δ_i = ∂L/∂ŷ_i), extended to every role for a bar
    or a prime (an adjoint ȳ defined means x̄ and w̄ are adjoints too)."""
    canonical = set(_SHORTHAND)
    found: dict[str, str] = {}
    if given is not None:
        found[given] = ROLES[GRADIENT_OF.get(given, "output")].key
    for tree in trees:
        lhs = _lhs_symbol(tree, prime=True)
        if lhs is None or lhs[0] in canonical or lhs[0] in found:
            continue
        for side in _sides(tree)[1:]:
            key = _loss_gradient_of(side)
            if key is not None:
                found[lhs[0]] = key
                break
    spellings = {key: key.removeprefix("hat:") for key in canonical}
    spellings.update({key: symbol for symbol, key in renames.items() if key in canonical})
    if prose and _PRIME_GRADIENTS.search(prose):
        for key in canonical:
            found.setdefault(key + "'", key)
    if prose and _BAR_GRADIENTS.search(prose):
        found.setdefault("bar:" + spellings_of(renames).get("hat:y", "y"), "hat:y")
    for symbol in list(found):
        accent = symbol.split(":", 1)[0] if ":" in symbol else None
        if accent in ("bar", "overline"):
            for key, spelling in spellings.items():
                found.setdefault(f"{accent}:{spelling}", key)
        if symbol.endswith("'"):
            for key in canonical:
                found.setdefault(key + "'", key)
    return found


def zero_based(trees: Iterable[Node]) -> bool:
    """Does the document number from 0: an entry 0 of the weights, bias, output or target
    (``w_0``, ``o_0``), or a sum from 0 (``\\sum_{j=0}``)?  ``x_0`` alone is not enough: in
    a 1-based document with padding it is a zero of the padding."""
    for tree in trees:
        for node, inside in _walk(tree):
            if inside:
                continue
            if node.data == "bigsum":
                for script in node.children[1:]:
                    if isinstance(script, Tree) and script.data == "sub":
                        arg = script.children[-1]
                        if (
                            isinstance(arg, Tree)
                            and arg.data == "binding"
                            and _is_zero(arg.children[-1])
                        ):
                            return True
            elif node.data == "scripted" and _is_name(node):
                found = ident_of(node)
                if found is None or found[0] not in ("w", "b", "hat:y", "y"):
                    continue
                subs = [s for s in found[1] if s.data == "sub"]
                if subs and _is_zero(subs[0].children[-1]):
                    return True
    return False


def _is_zero(node: Any) -> bool:
    while isinstance(node, Tree) and node.data in ("group", "paren") and len(node.children) == 1:
        node = node.children[0]
    return isinstance(node, Tree) and node.data == "number" and str(node.children[0]) == "0"


_EINSTEIN = re.compile(
    r"Einstein|summation convention|repeated ind(?:ex|ices) (?:is|are) summed", re.I
)
_PRIME_GRADIENTS = re.compile(
    r"(?:[A-Za-z]'|\bprimes?)\$?\s*+(?:for|means?|denotes?|is|stands?\s+for)\s+(?:the\s+|a\s+)?"
    r"(?:\$\s*)?(?:d\s*L\s*/\s*d|\\frac|\\partial|\\dfrac|gradient|derivative|cotangent)",
    re.I,
)
_BAR_GRADIENTS = re.compile(
    r"\\bar\s*+\{?\s*+[A-Za-z]\s*+\}?\s*+(?::=|=|\\equiv)\s*+(?:\\[dt]?frac\s*+\{\s*+)?\\partial"
)
_TOEPLITZ = "jac:x"
_WINDOWS = "jac:w"


def _defines(trees: list[Node], symbol: str) -> bool:
    """Some equation has ``symbol`` alone on its left and not on its right (``δ = (δ_1,
    …)`` spells the entries out, it does not say what δ is)."""
    for tree in trees:
        found = _lhs_symbol(tree)
        if found is not None and found[0] == symbol:
            if not any(_contains(side, {symbol}) for side in _sides(tree)[1:]):
                return True
    return False


def _product_pairs(tree: Node) -> Iterator[tuple[Node, Node]]:
    for node, inside in _walk(tree):
        if not inside and node.data in ("imul", "mul"):
            kids = [c for c in node.children if isinstance(c, Tree)]
            if len(kids) == 2:
                yield kids[0], kids[1]


def _matrix_names(trees: list[Node], used: Mapping[str, int]) -> dict[str, str]:
    """A capital letter multiplying the input (``W x``, ``T\\mathbf{x}``) is the banded
    (Toeplitz) matrix ∂ŷ/∂x; one multiplying the weights (``X w``) the window matrix ∂ŷ/∂w."""
    out: dict[str, str] = {}
    for tree in trees:
        for left, right in _product_pairs(tree):
            transposed = _transposed_capital(left)
            if transposed is not None and transposed not in out:
                # Wᵀδ (∂L/∂x) and Xᵀδ (∂L/∂w): a transposed capital times the gradient
                out[transposed] = _WINDOWS if transposed == "X" else _TOEPLITZ
                continue
            if not (_is_name(left) and _is_name(right)):
                continue
            a, b = ident_of(left), ident_of(right)
            if a is None or b is None or a[1] or len(a[0]) != 1 or not a[0].isupper():
                continue
            if b[0] == "x" and a[0] not in out and a[0] != "X":
                out[a[0]] = _TOEPLITZ
            elif b[0] == "w" and a[0] not in out:
                out[a[0]] = _WINDOWS
    return out


def _uses_updates(tree: Node) -> bool:
    for node, inside in _walk(tree):
        if inside:
            continue
        if node.data == "imul":
            first = node.children[0]
            if (
                isinstance(first, Tree)
                and first.data == "greek"
                and str(first.children[0]) == r"\Delta"
            ):
                return True
        if node.data == "call" and _step_call(node) is not None:
            return True
    return False


_STEPPED = {"w", "b", "hat:y", "x", *_LOSS}


def _step_call(node: Node) -> tuple[Node, Node] | None:
    """``w(1)``, ``\\mathcal{E}(1)``: a quantity at an iteration; (name, number) or None."""
    kids = [c for c in node.children if isinstance(c, Tree)]
    if len(kids) != 2 or not _is_name(kids[0]):
        return None
    found = ident_of(kids[0])
    arg = kids[1]
    if found is None or found[0] not in _STEPPED:
        return None
    if any(script.data != "sub" for script in found[1]):
        return None  # z_2(1): an entry at an iteration; w^2(1) is something else
    text = str(arg.children[0]) if arg.data == "number" else ""
    # the length first: int() of a 5,000-digit step raises
    if text.isdigit() and len(text) <= 2 and int(text) <= 4:
        return kids[0], arg
    return None


def _expand_updates(node: Node, in_sub: bool) -> Node | None:
    """``Δw_j`` → ``(w_j^{new} − w_j)``; ``w(1)`` → ``w^{(1)}``."""
    if in_sub:
        return None
    if node.data == "call":
        call = _step_call(node)
        if call is None:
            return None
        name, number = call
        mark: Node = Tree("sup", [Token("SUP", "^"), Tree("group", [Tree("paren", [number])])])
        if name.data == "scripted":
            return Tree("scripted", [*name.children, mark])
        return Tree("scripted", [name, mark])
    if node.data != "imul":
        return None
    first, second = [c for c in node.children if isinstance(c, Tree)]
    if not (first.data == "greek" and str(first.children[0]) == r"\Delta" and _is_name(second)):
        return None
    found = ident_of(second)
    if found is None or found[0] not in ("w", "b"):
        return None
    new_word: Node = Tree("text", [Token("TEXT", r"\text{new}")])
    step: Node = Tree("sup", [Token("SUP", "^"), Tree("group", [Tree("paren", [new_word])])])
    after = Tree(
        "scripted", [second.children[0] if second.data == "scripted" else second, *found[1], step]
    )
    return Tree("paren", [Tree("subtract", [after, Token("MINUS", "-"), second])])


def _einstein(tree: Node) -> Node:
    """Each side with an index letter repeated in a product and absent on the left is
    summed over it (the summation convention)."""
    if tree.data != "chain":
        return tree
    kids: list[Any] = list(tree.children)
    sides = [i for i, c in enumerate(kids) if isinstance(c, Tree)]
    lhs_letters = _index_letters(kids[sides[0]]) if sides else set()
    for position in sides[1:]:
        side = kids[position]
        counts: dict[str, int] = {}
        for node, _ in _walk(side):
            if node.data == "bigsum":
                break
            if node.data == "scripted" and _is_name(node):
                for letter in _index_letters(node):
                    counts[letter] = counts.get(letter, 0) + 1
        else:
            for letter in sorted(letter for letter, n in counts.items() if n >= 2):
                if letter not in lhs_letters:
                    sub: Node = Tree(
                        "sub", [Token("SUB", "_"), Tree("letter", [Token("LETTER", letter)])]
                    )
                    side = Tree("bigsum", [Token("SUMCMD", r"\sum"), sub, side])
            kids[position] = side
    return Tree("chain", kids)


def _index_letters(node: Node) -> set[str]:
    """The index letters in the subscripts of a name (``x_{i+j-1}`` → {i, j})."""
    letters: set[str] = set()
    for script, _ in _walk(node):
        if script.data == "sub":
            for leaf, _ in _walk(script):
                if leaf.data == "letter" and str(leaf.children[0]) in "ijlqrtu":
                    letters.add(str(leaf.children[0]))
    return letters


def _without_last_d(node: Node) -> tuple[Node | None, ...] | None:
    """``lr · d`` → (lr,): the product without its last factor when that factor is the
    letter d; None when it does not end in d."""
    if _is_d(node):
        return (None,)
    if node.data == "mul":
        kids = [c for c in node.children if isinstance(c, Tree)]
        if len(kids) == 2 and _is_d(kids[1]):
            return (kids[0],)
    return None


def spellings_of(renames: Mapping[str, str]) -> dict[str, str]:
    """canonical key → the document's spelling of it."""
    out = {key: key.removeprefix("hat:") for key in _SHORTHAND}
    out.update({key: symbol for symbol, key in renames.items() if key in _SHORTHAND})
    return out


_NOT_NAME_WORDS = {
    "new", "next", "updated", "update", "neu", "old", "alt", "current", "in", "out",
    "max", "min", "mse", "MSE", "sse", "train", "test", "total", "loss",
}  # fmt: skip
_SIZE_KEYS = {"n", "m", "N", "L", "l", "k", "K"}


def _name_word(symbol: str, scripts: list[Node]) -> tuple[str, list[Node]] | None:
    """The word subscript that makes ``symbol`` a name of its own (``δ_{pad}`` → pad) and
    the scripts left; None for indices, steps (``w_{new}``) and the checker's own names."""
    if "|" in symbol or symbol in _LOSS or symbol in _SIZE_KEYS:
        return None
    for script in scripts:
        if script.data != "sub":
            continue
        word = spelled(script.children[-1])
        if word is None:
            return None
        word = word.replace(" ", "")
        indices = len(word) <= 3 and set(word) <= set("ijklmnpqrstuvab")  # a_{ij}: indices
        if len(word) > 1 and word.isalpha() and word not in _NOT_NAME_WORDS and not indices:
            return word, [s for s in scripts if s is not script]
        return None
    return None


def _transposed_capital(node: Node) -> str | None:
    """``W^T``, ``T^\\top``: the capital letter, else None."""
    if node.data != "scripted" or not isinstance(node.children[0], Tree):
        return None
    primary = node.children[0]
    if primary.data == "font":
        inner = [c for c in primary.children if isinstance(c, Tree)]
        letter = str(primary.children[-1]) if not inner else None
        if inner and inner[0].data == "letter":
            letter = str(inner[0].children[0])
    elif primary.data == "letter":
        letter = str(primary.children[0])
    else:
        return None
    if letter is None or len(letter) != 1 or not letter.isupper():
        return None
    scripts = [c for c in node.children[1:] if isinstance(c, Tree)]
    for script in scripts:
        arg = script.children[-1]
        if script.data == "sup" and isinstance(arg, Tree):
            if arg.data == "top" or (arg.data == "letter" and str(arg.children[0]) == "T"):
                return letter
    return None


_INLINE = re.compile(r"(?<![$\\])\$(?![\s$])([^$\n]{1,300}?)(?<![\s\\])\$(?!\$)")
MAX_INLINE_DEFINITIONS = 200


def _inline_definitions(prose: str) -> list[Node]:
    """Gradient definitions stated inline in the prose (``let $g_i = \\partial L/\\partial
    \\hat y_i$``), parsed; at most :data:`MAX_INLINE_DEFINITIONS` are read."""
    return _parsed(match.group(1) for match in _INLINE.finditer(prose))


def _parsed(said: Iterable[str]) -> list[Node]:
    """The inline equations with an ``=`` that parse (at most MAX_INLINE_DEFINITIONS)."""
    out: list[Node] = []
    for text in said:
        if "=" not in text or len(text) > 300:
            continue
        try:
            out.append(parse_equation(text))
        except (ParseFailure, RecursionError):
            continue
        if len(out) >= MAX_INLINE_DEFINITIONS:
            break
    return out


_CANONICAL = {"x", "w", "b", "hat:y", "y", "alpha", *_LOSS, *_RATES}


def _late_definitions(trees: list[Node], said: list[Node]) -> dict[str, tuple[str | None, Node]]:
    """Names used before the equation that defines them, or defined only in the prose
    ("with $\\delta = o - t$ …", "$e_i = d_i - z_i$"): (its index letter or None, the
    defining expression) — a definition written with names, not with numbers only."""
    first_use: dict[str, int] = {}
    defined_at: dict[str, tuple[int, str | None, Node]] = {}
    for position, tree in enumerate([*said, *trees]):
        lhs = _lhs_symbol(tree)
        sides = _sides(tree)
        letter = _single_letter_index(lhs[1]) if lhs is not None else None
        plain = lhs is not None and (not lhs[1] or letter is not None)
        if plain and lhs is not None and lhs[0] not in _CANONICAL and len(sides) > 1:
            right = sides[1]
            names = {symbol for symbol, _, _ in _names(right)}
            if names and lhs[0] not in names:
                defined_at.setdefault(lhs[0], (position, letter, right))
        for index, side in enumerate(sides):
            for symbol, _, _ in _names(side):
                if index == 0 and lhs is not None and symbol == lhs[0]:
                    continue
                first_use.setdefault(symbol, position)
    out: dict[str, tuple[str | None, Node]] = {}
    for symbol, (position, letter, expression) in defined_at.items():
        if position < len(said) or first_use.get(symbol, position) < position:
            out[symbol] = (letter, expression)
    return out


def _single_letter_index(scripts: list[Node]) -> str | None:
    """``e_i``: the letter i of the one subscript, else None."""
    if len(scripts) != 1 or scripts[0].data != "sub":
        return None
    arg = scripts[0].children[-1]
    while isinstance(arg, Tree) and arg.data == "group" and len(arg.children) == 1:
        arg = arg.children[0]
    if isinstance(arg, Tree) and arg.data == "letter":
        return str(arg.children[0])
    return None


def _put_index(expression: Node, letter: str, value: Any) -> Node:
    """``expression`` with the index letter replaced by ``value`` in its subscripts."""

    def replace(node: Node, in_sub: bool) -> Node | None:
        if in_sub and node.data == "letter" and str(node.children[0]) == letter:
            return value if isinstance(value, Tree) else None
        return None

    return _rewrite(expression, replace)


def _capital_bounds(
    trees: list[Node], renames: Mapping[str, str], kernel: str | None
) -> dict[str, str]:
    """Capital letters bounding a sum (``\\sum_{m=0}^{M-1} h_m x_{n+m}``) read as the size
    of what the summed index runs over: the kernel (k), the outputs (m) or the input (n)."""
    roles = {"w": "k", "hat:y": "m", "y": "m", "x": "n"}
    if kernel is not None:
        roles[kernel] = "k"
    for symbol, key in renames.items():
        if key in roles:
            roles[symbol] = roles[key]
    found: dict[str, str] = {}
    for tree in trees:
        for node, _ in _walk(tree):
            if node.data != "bigsum":
                continue
            scripts = [c for c in node.children if isinstance(c, Tree) and c.data in ("sub", "sup")]
            letter = None
            capital = None
            for script in scripts:
                arg = script.children[-1]
                while isinstance(arg, Tree) and arg.data == "group" and len(arg.children) == 1:
                    arg = arg.children[0]
                if script.data == "sub" and isinstance(arg, Tree) and arg.data == "binding":
                    letter = str(arg.children[0])
                elif script.data == "sub" and isinstance(arg, Tree) and arg.data == "letter":
                    letter = str(arg.children[0])
                elif script.data == "sup" and isinstance(arg, Tree):
                    capitals = [
                        str(leaf.children[0])
                        for leaf, _ in _walk(arg)
                        if leaf.data == "letter" and str(leaf.children[0]).isupper()
                    ]
                    capital = capitals[0] if len(capitals) == 1 else None
            if letter is None or capital is None or capital in found or capital in ("K",):
                continue
            body = node.children[-1]
            if not isinstance(body, Tree):
                continue
            for symbol, rest, _ in _names(body):
                subs = [script for script in rest if script.data == "sub"]
                if symbol in roles and subs and _mentions_letter(subs[0], letter):
                    found[capital] = roles[symbol]
                    break
    return found


def _mentions_letter(script: Node, letter: str) -> bool:
    return any(
        leaf.data == "letter" and str(leaf.children[0]) == letter for leaf, _ in _walk(script)
    )


def _has_sub(scripts: list[Node]) -> bool:
    return any(script.data == "sub" for script in scripts)


def _defines_literal(trees: list[Node], symbol: str) -> bool:
    """An equation sets ``symbol`` to a written-out vector (``x̃ = (0, 1, −1, 0)``)."""
    for tree in trees:
        found = _lhs_symbol(tree)
        sides = _sides(tree)
        if found is not None and found[0] == symbol and not found[1] and len(sides) > 1:
            if any(side.data in ("tuple", "matrix") or _is_literal(side) for side in sides[1:]):
                return True
    return False


def _is_literal(side: Node) -> bool:
    inner = side
    while inner.data == "scripted" and isinstance(inner.children[0], Tree):
        inner = inner.children[0]  # (…)^T
    return inner.data in ("tuple", "matrix")
