"""Tree helpers for the diagnosers: LaTeX back from a tree, sums and products as lists,
the side rewritten one way (parentheses added, one sign flipped, one factor transposed).

Every rewriting yields ``(tree, reason)``: a copy of the side with one change, and the
reason as LaTeX-ish text (shown through :func:`~symconv.check.pretty.pretty`).
"""

from __future__ import annotations

from collections.abc import Iterator

from lark import Token, Tree

from symconv.check.evaluate import name_key

__all__ = [
    "bare",
    "cells",
    "counterpart",
    "kind_of",
    "latex_of",
    "regroupings",
    "shape",
    "sign_flips",
    "term_by_term",
    "transposes",
]


def latex_of(tree: Tree[Token] | Token) -> str:
    """The LaTeX a tree was read from (normalised), for messages."""
    if isinstance(tree, Token):
        return str(tree)
    k = tree.data
    kids = tree.children
    parts = [latex_of(c) for c in kids]
    subtrees = [c for c in kids if isinstance(c, Tree)]
    if k in ("paren",):
        return "(" + parts[0] + ")"
    if k == "group":
        return "{" + parts[0] + "}"
    if k == "tuple":
        return "(" + ", ".join(latex_of(c) for c in subtrees) + ")"
    if k == "frac":
        return r"\frac{" + latex_of(subtrees[0]) + "}{" + latex_of(subtrees[1]) + "}"
    if k == "sqrt":
        return r"\sqrt{" + latex_of(subtrees[0]) + "}"
    if k in ("accent", "font", "cal"):
        return parts[0] + "{" + " ".join(parts[1:]) + "}"
    if k == "matrix":
        rows = [
            " & ".join(latex_of(c) for c in r.children if isinstance(c, Tree)) for r in subtrees
        ]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"
    if k in ("sub", "sup"):
        return parts[0] + "{" + "".join(parts[1:]) + "}"
    if k == "call":
        inner = [c for c in subtrees[1:] if c.data not in ("sub", "sup", "prime")]
        scripts = [c for c in subtrees[1:] if c.data in ("sub", "sup", "prime")]
        return (
            latex_of(subtrees[0])
            + "("
            + ", ".join(latex_of(c) for c in inner)
            + ")"
            + "".join(latex_of(c) for c in scripts)
        )
    if k == "binding":
        return parts[0] + "=" + parts[1]
    if k == "scripted":
        return "".join(parts)
    return " ".join(parts)


def _terms(tree: Tree[Token]) -> list[tuple[int, Tree[Token]]]:
    """A sum as signed terms: ``a - b + c`` → [(+1, a), (−1, b), (+1, c)]."""
    if tree.data in ("add", "subtract"):
        left, right = [c for c in tree.children if isinstance(c, Tree)]
        return [*_terms(left), (1 if tree.data == "add" else -1, right)]
    return [(1, tree)]


def _factors(tree: Tree[Token]) -> list[Tree[Token]]:
    if tree.data in ("mul", "imul"):
        left, right = [c for c in tree.children if isinstance(c, Tree)]
        return _factors(left) + _factors(right)
    if tree.data == "call":
        # η(ŷ₁ − y₁) reads as a call; as a product it is η · (ŷ₁ − y₁); ½(a − b)² as ½ · (a − b)²
        callee, argument, *scripts = tree.children
        if (
            isinstance(callee, Tree)
            and isinstance(argument, Tree)
            and all(isinstance(s, Tree) and s.data in ("sub", "sup") for s in scripts)
        ):
            group: Tree[Token] = Tree("paren", [argument])
            if scripts:
                group = Tree("scripted", [group, *scripts])
            return [*_factors(callee), group]
    return [tree]


def _product(factors: list[Tree[Token]]) -> Tree[Token]:
    result = factors[0]
    for factor in factors[1:]:
        result = Tree("mul", [result, Token("MULOP", r"\cdot"), factor])
    return result


def _paren(tree: Tree[Token]) -> Tree[Token]:
    return Tree("paren", [tree])


def _sum(terms: list[tuple[int, Tree[Token]]]) -> Tree[Token]:
    sign, first = terms[0]
    result: Tree[Token] = first if sign > 0 else Tree("neg", [Token("MINUS", "-"), first])
    for sign, term in terms[1:]:
        if sign > 0:
            result = Tree("add", [result, Token("PLUS", "+"), term])
        else:
            result = Tree("subtract", [result, Token("MINUS", "-"), term])
    return result


def _replace(tree: Tree[Token], target: Tree[Token], new: Tree[Token]) -> Tree[Token]:
    """A copy of ``tree`` with the subtree ``target`` (by identity) replaced."""
    if tree is target:
        return new
    changed = False
    children: list[Tree[Token] | Token] = []
    for child in tree.children:
        if isinstance(child, Tree):
            replaced = _replace(child, target, new)
            changed = changed or replaced is not child
            children.append(replaced)
        else:
            children.append(child)
    return Tree(tree.data, children) if changed else tree


def _nodes(tree: Tree[Token]) -> Iterator[Tree[Token]]:
    """Every node of the value, not inside an index (``x_{i+j-1}``: a sign or a pair of
    parentheses wrong there is a wrong index, not a sign error)."""
    yield tree
    for child in tree.children:
        if isinstance(child, Tree) and child.data != "sub":
            yield from _nodes(child)


def _sum_roots(tree: Tree[Token]) -> Iterator[Tree[Token]]:
    """Sums not inside a larger sum (each flattened once)."""

    def walk(node: Tree[Token], inside: bool) -> Iterator[Tree[Token]]:
        is_sum = node.data in ("add", "subtract")
        if is_sum and not inside:
            yield node
        for child in node.children:
            if isinstance(child, Tree) and child.data != "sub":
                yield from walk(child, is_sum)

    yield from walk(tree, False)


def regroupings(side: Tree[Token]) -> Iterator[tuple[Tree[Token], str]]:
    """The side with one pair of parentheses added (see the module docstring)."""
    for root in _sum_roots(side):
        terms = _terms(root)
        for i, (sign, term) in enumerate(terms):
            factors = _factors(term)
            # a factor in front of the i-th term meant for the terms after it too
            for p in range(0 if sign < 0 else 1, len(factors)):
                prefix, rest = factors[:p], factors[p:]
                for j in range(i + 1, len(terms)):
                    grouped = _paren(_sum([(1, _product(rest)), *terms[i + 1 : j + 1]]))
                    new_term = _product([*prefix, grouped]) if prefix else grouped
                    new = _sum([*terms[:i], (sign, new_term), *terms[j + 1 :]])
                    front = latex_of(_product(prefix)) if prefix else "the minus sign"
                    yield (
                        _replace(side, root, new),
                        (
                            f"{front} multiplies only the first term; it is meant for "
                            f"({latex_of(grouped.children[0])})"
                        ),
                    )
            # a power meant for the sum before it: a - b^2 for (a - b)^2
            if term.data == "scripted" and i > 0:
                primary, *scripts = [c for c in term.children if isinstance(c, Tree)]
                if any(s.data == "sup" for s in scripts):
                    for j in range(i):
                        inner = _sum([*terms[j:i], (sign, primary)])
                        new_term = Tree("scripted", [Tree("paren", [inner]), *scripts])
                        new = _sum([*terms[:j], (1, new_term), *terms[i + 1 :]])
                        yield (
                            _replace(side, root, new),
                            (f"the power applies to ({latex_of(inner)}), not to its last term"),
                        )


def sign_flips(side: Tree[Token]) -> Iterator[tuple[Tree[Token], str]]:
    for node in _nodes(side):
        if node.data in ("add", "subtract"):
            left, right = [c for c in node.children if isinstance(c, Tree)]
            flipped = _sum([(1, left), (-1 if node.data == "add" else 1, right)])
            wrote = "+" if node.data == "add" else "−"
            yield (
                _replace(side, node, flipped),
                (f"the {wrote} before {latex_of(right)} should be {'−' if wrote == '+' else '+'}"),
            )
        elif node.data == "neg":
            operand = next(c for c in node.children if isinstance(c, Tree))
            yield _replace(side, node, operand), f"the minus before {latex_of(operand)} is wrong"


def _transposed(tree: Tree[Token]) -> Tree[Token]:
    top = Tree("top", [Token("TOP", r"\top")])
    return Tree("scripted", [Tree("paren", [tree]), Tree("sup", [Token("SUP", "^"), top])])


def _call_product(node: Tree[Token]) -> tuple[Tree[Token], Tree[Token]] | None:
    """``X(ŷ − y)`` read as a call: as a product, ``X`` and ``(ŷ − y)``."""
    if node.data != "call" or len(node.children) != 2:
        return None
    callee, argument = node.children
    if isinstance(callee, Tree) and isinstance(argument, Tree):
        return callee, _paren(argument)
    return None


def transposes(side: Tree[Token]) -> Iterator[tuple[Tree[Token], str]]:
    """The side with one factor of one product transposed (``X δ`` for ``Xᵀ δ``)."""
    for node in _nodes(side):
        pair = _call_product(node)
        if node.data in ("mul", "imul") or pair is not None:
            left, right = pair or [c for c in node.children if isinstance(c, Tree)]
            yield (
                _replace(
                    side, node, Tree("mul", [_transposed(left), Token("MULOP", r"\cdot"), right])
                ),
                (f"the first factor {latex_of(left)} should be transposed"),
            )
            yield (
                _replace(
                    side, node, Tree("mul", [left, Token("MULOP", r"\cdot"), _transposed(right)])
                ),
                (f"the second factor {latex_of(right)} should be transposed"),
            )


def cells(tree: Tree[Token]) -> list[Tree[Token]]:
    """The entries of a matrix tree, row by row."""
    return [
        c
        for row in tree.children
        if isinstance(row, Tree)
        for c in row.children
        if isinstance(c, Tree)
    ]


def counterpart(
    side: Tree[Token], target: Tree[Token], previous: Tree[Token] | None
) -> Tree[Token] | None:
    """The part of the side before that ``target`` (the side or one of its cells) rewrites."""
    if previous is None:
        return None
    if target is side:
        return previous
    if side.data != "matrix" or previous.data != "matrix":
        return None
    now, before = cells(side), cells(previous)
    if len(now) != len(before):
        return None
    for cell, old in zip(now, before):
        if cell is target:
            return old
    return None


_ATOMS = ("number", "letter", "greek", "text", "accent", "font", "cal", "scripted")


def shape(tree: Tree[Token] | Token) -> str:
    """The operators of a tree with every name or number one atom and ``+``/``−`` alike:
    ``ŷ₁ − y₁`` and ``14 + 2`` have one shape (numbers substituted for the names)."""
    if isinstance(tree, Token):
        return ""
    kind = tree.data
    kids = [c for c in tree.children if isinstance(c, Tree)]
    if kind in _ATOMS:
        return "a"
    if kind in ("paren", "neg") and len(kids) == 1 and bare(kids[0]):
        return "a"  # (-3): a number
    if kind in ("add", "subtract"):
        kind = "sum"
    if kind in ("mul", "imul", "call"):
        kind = "product"
    return kind + "(" + ",".join(shape(c) for c in kids) + ")"


def term_by_term(before: Tree[Token], after: Tree[Token]) -> bool:
    """``after`` is a sum of numbers, one for each term of the sum ``before`` (each product
    worked out as it was substituted: ``y'_1 x_2 + y'_2 x_3 + y'_3 x_4 = 0 − 1 − 1``)."""
    terms = _terms(after)
    return (
        len(terms) > 1
        and len(terms) == len(_terms(before))
        and all(bare(term) for _, term in terms)
    )


def bare(tree: Tree[Token]) -> bool:
    """A number as written (``-2.5``), or a matrix of them: a result, not an expression."""
    if tree.data in ("paren", "group", "pos") and len(tree.children) == 1:
        inner = tree.children[0]
        return isinstance(inner, Tree) and bare(inner)
    if tree.data == "number":
        return True
    if tree.data == "neg":
        operand = next(c for c in tree.children if isinstance(c, Tree))
        return bare(operand)
    if tree.data == "matrix":
        return all(bare(c) for c in cells(tree))
    return False


_LOSS_KEYS = {"cal:L", "L", "E", "cal:E", "ell", "cal:J"}


def kind_of(tree: Tree[Token]) -> str | None:
    """What a left side (or a quantity) names: ``gradient``, ``output``, ``loss``,
    ``parameter``; None when it cannot be told."""
    text = latex_of(tree)
    if "partial" in text or "nabla" in text:
        return "gradient"
    primary: Tree[Token] | Token = tree
    while isinstance(primary, Tree) and primary.data in ("scripted", "call", "paren"):
        primary = primary.children[0]
    found = name_key(primary) if isinstance(primary, Tree) else None
    if found is None:
        return None
    key = found[0]
    if key == "hat:y":
        return "output"
    if key in _LOSS_KEYS:
        return "loss"
    if key in ("w", "b"):
        return "parameter"
    return None
