"""Say when an equation is about something the checker does not judge.

The checker judges one 1-D convolution layer with one channel, a loss and SGD.  An
equation about more — 2-D indices (``y_{i,j}``, ``y_{11}`` read as row 1, column 1),
channels (``x^{(c)}``), an activation (ReLU, σ, tanh), pooling, a second layer
(``W^{[2]}``) — is answered ``unchecked`` with the reason ``unsupported`` and a sentence
naming what is out of scope, never judged as if it were about the layer.

Example:
    >>> from symconv.check.parse import parse_equation
    >>> from symconv.problem import load_problem
    >>> problem = load_problem("exercise2")
    >>> beyond(r"a_i = \\operatorname{ReLU}(\\hat{y}_i)", None, problem)
    'an activation function (ReLU) after the layer'
    >>> beyond(r"\\hat{y}_{i,j} = 3", parse_equation(r"\\hat{y}_{i,j} = 3"), problem)
    'two indices on ŷ (a 2-D layer) where the problem is 1-D'
"""

from __future__ import annotations

import math
import re

from lark import Token, Tree

from symconv.check.bind import ident_of
from symconv.check.evaluate import spelled
from symconv.notation import ROLES
from symconv.problem import Problem

__all__ = ["beyond", "section_beyond"]

_ACTIVATIONS = re.compile(
    r"\\operatorname\s*+\{\s*+(ReLU|relu|ReLu|LeakyReLU|softmax|tanh|sigmoid|GELU|ELU)\s*+\}"
    r"|\\(?:text|mathrm)\s*+\{\s*+(ReLU|relu|ReLu|softmax|sigmoid|tanh)\s*+\}"
    r"|\\(tanh)(?![A-Za-z])"
    r"|\\(sigma)\s*+(?:'|\^\s*+\{?\s*+\\prime\s*+\}?)?+\s*+\\?(?:left)?\s*+\("
    r"|(?<![A-Za-z\\])(ReLU|relu|softmax|sigmoid)\s*+\("
)
_POOLING = re.compile(
    r"\\max(?![A-Za-z])|\\(?:text|mathrm|operatorname)\s*+\{\s*+(?:max|avg|mean)?_?pool"
    r"|\\arg\s*+max|\\operatorname\s*+\{\s*+(?:arg\s*+)?max\s*+\}"
)
_LAYER_MARK = re.compile(r"\^\s*+\{?\s*+\[\s*+(?:\d|l|L|\\ell)[^\]]{0,6}\]")
_CHANNEL_MARK = re.compile(r"\^\s*+\{\s*+\(\s*+[c]\s*+(?:,\s*+c'?\s*+)?\)\s*+\}")
_ROLE_KEYS = {
    ROLES[r].key: ROLES[r].unicode for r in ("input", "weights", "bias", "output", "target")
}
_SIZES = {"x": "input", "w": "weights", "hat:y": "output", "y": "target", "b": "bias"}


def beyond(latex: str, tree: Tree[Token] | None, problem: Problem) -> str | None:
    """What makes the equation ``latex`` (``tree``: as bound) out of scope, or None."""
    found = _ACTIVATIONS.search(latex)
    if found:
        name = next(g for g in found.groups() if g)
        return f"an activation function ({'σ' if name == 'sigma' else name}) after the layer"
    if re.search(r"\\max\s*+\\?(?:left)?\s*+\(\s*+0\s*+,", latex):
        return "an activation function (ReLU, written max(0, ·)) after the layer"
    if re.search(r"\\mathbb\s*+\{?\s*+1\s*+\}?\s*+(?:\\left)?\s*+[\[(_]", latex):
        return "an indicator (the derivative of a ReLU) after the layer"
    if _POOLING.search(latex):
        return "pooling (a maximum over outputs) after the layer"
    if _LAYER_MARK.search(latex):
        return "a second layer (a layer index in brackets)"
    if _CHANNEL_MARK.search(latex):
        return "channels (a channel superscript) where the problem has one channel"
    if tree is None:
        return None
    return _indices(tree, problem)


def _length(problem: Problem, key: str) -> int:
    layer = problem.layer
    if key == "x":
        return layer.input_shape[0]
    if key == "w":
        return layer.kernel_size[0]
    if key == "b":
        shape = layer.b_shape  # the layer says how many biases there are
        return 0 if shape is None else math.prod(shape)
    return layer.output_shape[0]


def _indices(tree: Tree[Token], problem: Problem) -> str | None:
    """Two indices on a quantity of the layer: ``x_{i,j}``, or ``y_{11}`` beyond its length."""
    stack = [tree]
    while stack:
        node = stack.pop()
        stack.extend(reversed([c for c in node.children if isinstance(c, Tree)]))
        if node.data == "bigsum" and any(
            isinstance(c, Tree) and c.data == "sub" and _two_letters(c.children[-1])
            for c in node.children
        ):
            return "a sum over two indices (a 2-D layer) where the problem is 1-D"
        if node.data != "scripted":
            continue
        subs = [c for c in node.children[1:] if isinstance(c, Tree) and c.data == "sub"]
        found = ident_of(node)
        if subs and _two_letters(subs[0].children[-1]):
            symbol = found[0].split(":")[-1] if found else "a name"
            name = _ROLE_KEYS.get(found[0], symbol) if found else symbol
            return f"two indices on {name} (a 2-D layer) where the problem is 1-D"
        if found is None or found[0] not in _ROLE_KEYS:
            continue
        key, scripts = found
        for script in scripts:
            if script.data != "sub":
                continue
            arg = script.children[-1]
            while (
                isinstance(arg, Tree) and arg.data in ("group", "paren") and len(arg.children) == 1
            ):
                arg = arg.children[0]
            name = _ROLE_KEYS[key]
            if isinstance(arg, Tree) and arg.data == "subtuple" and not _has_word(arg):
                return f"two indices on {name} (a 2-D layer) where the problem is 1-D"
            if isinstance(arg, Tree) and arg.data == "number":
                digits = str(arg.children[0])
                length = _length(problem, key)
                if (
                    len(digits) == 2
                    and digits.isdigit()
                    and int(digits) > length
                    and all(1 <= int(c) <= 9 for c in digits)
                ):
                    return (
                        f"{name}_{digits} reads as a 2-D index (row {digits[0]}, column "
                        f"{digits[1]}) where the problem's {name} has {length} entries"
                    )
    return None


def _has_word(subtuple: Tree[Token]) -> bool:
    """``_{1,new}``, ``_{pred,2}``: one part is a word (a step or a name), not an index."""
    for part in subtuple.children:
        if isinstance(part, Tree):
            word = spelled(part)
            if word is not None and len(word) > 1 and word.replace(" ", "").isalpha():
                return True
    return False


def _two_letters(arg: object) -> bool:
    """``ij``, ``{i,j}``, ``{a,b}``: two index letters (not ``i+j``, not a word)."""
    while isinstance(arg, Tree) and arg.data == "group" and len(arg.children) == 1:
        arg = arg.children[0]
    if not isinstance(arg, Tree) or arg.data not in ("imul", "subtuple"):
        return False
    parts = [c for c in arg.children if isinstance(c, Tree)]
    if arg.data == "imul" and spelled(arg) in ("in", "on", "at", "is", "it", "to"):
        return False  # L_{in}: a word
    return len(parts) == 2 and all(
        p.data == "letter" and str(p.children[0]) in "abcdefghijklmnpqrstuvxyz" for p in parts
    )


_SECTION = re.compile(
    r"\b(?:2-?D|3-?D|two-dimensional|image|channels?|pooling|max-?pool\w*|"
    r"(?:second|next|hidden|dense|fully[- ]connected)(?:\s*\([^()]{0,20}\))?"
    r"\s+layers?|two layers|ReLU|activation|batch norm\w*)\b",
    re.I,
)


def section_beyond(heading: str) -> str | None:
    """A section about more than the 1-D layer (``## The 2-D version``, ``## Max pooling``):
    what its heading names, else None.  An equation there that does not hold for the
    problem is out of scope, not wrong."""
    found = _SECTION.search(heading or "")
    return None if found is None else f"the section “{heading[:60]}” is about {found.group(0)}"
