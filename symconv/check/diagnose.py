"""Why a side is wrong: a catalogue of the common mistakes, each tried in turn.

Each diagnosis rebuilds the side (or the truth) the way the mistake would have changed
it and compares again; the first that makes the side right names the mistake:

1. arithmetic slip — the last side is a number, the side before it is right;
2. missing parentheses — a factor meant for a whole sum multiplies one term
   (``w - α·a·x₁ + b·x₂`` for ``w - α·(a·x₁ + b·x₂)``), or a power meant for a sum;
3. sign error — one ``+``/``−`` flipped, or the whole side negated;
4. transpose missing — a product is right with one factor transposed;
5. wrong label — the value belongs to another named quantity (ŷ₂ for ŷ₁, the next step;
   tried first when the side is a number);
   missing factor — the side is the truth times 2, ½, m or 1/m (the ½ of the loss, the 2
   of the square's derivative, the mean's 1/m);
6. shared vs untied bias confused, stride ignored, padding ignored, dilation ignored —
   the value is the truth of the problem changed that way;
7. wrong or shifted index — the truth with x (or w, y, b) indices shifted, one index
   swapped, or the kernel flipped (a true convolution instead of a cross-correlation).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lark import Token, Tree
from sympy import Expr, Integer, Rational, Symbol

from symconv.check.evaluate import Context, EvalError, Mat, Value, evaluate, name_key
from symconv.check.match import compare, entries_of, show
from symconv.check.parse import ParseFailure, parse_equation
from symconv.check.truth import Truth
from symconv.mathtext import fmt, sub

if TYPE_CHECKING:
    from symconv.check.judge import DocState

__all__ = ["KINDS", "Diagnosis", "diagnose", "latex_of"]

KINDS = (
    "arithmetic_slip",
    "missing_parentheses",
    "sign_error",
    "transpose_missing",
    "wrong_label",
    "bias_confused",
    "stride_ignored",
    "padding_ignored",
    "dilation_ignored",
    "missing_factor",
    "wrong_index",
)
MAX_VARIANTS = 300


@dataclass(frozen=True)
class Diagnosis:
    """A catalogued mistake: ``kind`` (one of :data:`KINDS`) and a sentence."""

    kind: str
    text: str


# ---------------------------------------------------------------------------------------
# tree helpers


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
    yield tree
    for child in tree.children:
        if isinstance(child, Tree):
            yield from _nodes(child)


def _sum_roots(tree: Tree[Token]) -> Iterator[Tree[Token]]:
    """Sums not inside a larger sum (each flattened once)."""

    def walk(node: Tree[Token], inside: bool) -> Iterator[Tree[Token]]:
        is_sum = node.data in ("add", "subtract")
        if is_sum and not inside:
            yield node
        for child in node.children:
            if isinstance(child, Tree):
                yield from walk(child, is_sum)

    yield from walk(tree, False)


def _regroupings(side: Tree[Token]) -> Iterator[tuple[Tree[Token], str]]:
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


def _sign_flips(side: Tree[Token]) -> Iterator[tuple[Tree[Token], str]]:
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


def _transposes(side: Tree[Token]) -> Iterator[tuple[Tree[Token], str]]:
    for node in _nodes(side):
        if node.data in ("mul", "imul"):
            left, right = [c for c in node.children if isinstance(c, Tree)]
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


# ---------------------------------------------------------------------------------------
# the catalogue


def diagnose(
    *,
    side: Tree[Token],
    written: Value,
    expected: Value,
    lhs: Tree[Token],
    state: DocState,
    step: int,
    bound: dict[str, int],
    output: int | None,
    previous_ok: bool,
    previous: object,
    previous_side: Tree[Token] | None = None,
    last: bool,
    numeric: bool,
) -> Diagnosis | None:
    """The first catalogued mistake that explains ``written`` ≠ ``expected``, or None."""
    truth = state.truth

    def context(out: int | None = output, t: Truth = truth) -> Context:
        return Context(truth=t, step=step, env=state.env, indices=dict(bound), output=out)

    def holds(tree: Tree[Token], want: Value, out: int | None = output, t: Truth = truth) -> bool:
        try:
            value = evaluate(tree, context(out, t))
        except EvalError:
            return False
        return compare(value, want, t, step, numeric=numeric, exact=False).equal

    strangers = _strangers(side, state, step, bound, output)
    if strangers:
        return strangers

    # a matrix written entry by entry: diagnose the first wrong entry
    target, want = side, expected
    cell = _first_wrong_cell(side, written, expected, truth, step, context, numeric)
    if cell is not None:
        target, want = cell

    # 1. a number after a right side: the arithmetic slipped
    if previous_ok and _is_number(written, truth):
        shown = show(_numeric(expected, truth, step))
        slip = Diagnosis(
            "arithmetic_slip",
            f"arithmetic slip in the last step: the side before is right and equals {shown}, "
            f"not {show(written)}",
        )
        after_numbers = isinstance(previous, (Mat, Expr)) and _is_number(previous, truth)
        if _bare(target) or after_numbers:
            return slip
        # numbers put into a right symbolic side: a pair of parentheses lost on the way
        # explains the side better than an arithmetic slip, and so does a flipped sign when
        # the side is the one before with numbers for the names (a substitution, no
        # arithmetic done yet)
        # products of numbers that pair each weight with the input (or output gradient)
        # of its mirror tap: the kernel flipped, not a slip of the arithmetic — tried on
        # the whole side first, as it explains every entry, a regrouping only one
        if _flipped_kernel(written, expected, truth, step, numeric):
            return Diagnosis("wrong_index", FLIPPED)
        structural: list[tuple[Callable[..., Iterator[tuple[Tree[Token], str]]], str, str]] = [
            (_regroupings, "missing_parentheses", "missing parentheses")
        ]
        counterpart = _counterpart(side, target, previous_side)
        if counterpart is not None and _shape(counterpart) == _shape(target):
            structural.append((_sign_flips, "sign_error", "sign error"))
        for variants, kind, lead in structural:
            for variant, reason in itertools.islice(variants(target), MAX_VARIANTS):
                if holds(variant, want):
                    return Diagnosis(kind, f"{lead}: {_pretty(reason)}")
        return slip

    def changed_problem() -> Diagnosis | None:
        """6. the truth of a changed problem (bias, stride, padding, dilation)."""
        problem = truth.problem
        changes: list[tuple[str, dict[str, object], str]] = []
        if problem.bias in ("shared", "untied"):
            other = "shared" if problem.bias == "untied" else "untied"
            changes.append(
                (
                    "bias_confused",
                    {"bias": other},
                    f"shared vs untied bias confused: this is right for "
                    f"{'an' if other == 'untied' else 'a'} {other} bias, but the layer's bias is "
                    f"{problem.bias}"
                    + (
                        " (one per output)"
                        if problem.bias == "untied"
                        else " (one for all outputs)"
                    ),
                )
            )
        if problem.stride != 1:
            changes.append(
                (
                    "stride_ignored",
                    {"stride": 1},
                    f"stride ignored: this is the value for stride 1, "
                    f"the layer has stride {problem.stride}",
                )
            )
        if problem.padding:
            changes.append(
                (
                    "padding_ignored",
                    {"padding": 0},
                    f"padding ignored: this is the value without "
                    f"padding, the layer pads {problem.padding} on each side",
                )
            )
        if problem.dilation != 1:
            changes.append(
                (
                    "dilation_ignored",
                    {"dilation": 1},
                    f"dilation ignored: this is the value for dilation 1 (adjacent taps), "
                    f"the layer has dilation {problem.dilation}",
                )
            )
        if problem.padding and problem.padding_mode == "circular":
            changes.append(
                (
                    "padding_ignored",
                    {"padding_mode": "zeros"},
                    "circular padding read as zeros: this is the value with zero padding, but the "
                    "layer wraps around (x₀ is xₙ)",
                )
            )
        for kind, change, text in changes:
            changed = truth.variant(**change)
            if changed is None:
                continue
            changed.base = truth.base
            out = output if output is None or output < changed.m else None
            try:
                want_changed = evaluate(lhs, context(out, changed))
            except EvalError:
                continue
            if holds(side, want_changed, out, changed):
                return Diagnosis(kind, text)
            if kind == "bias_confused" and problem.bias == "shared":
                # ∂L/∂b of a shared bias written as one output's term: one entry of the untied
                entry = _one_entry(side, want_changed, out, changed, context, step, numeric)
                if entry is not None:
                    return Diagnosis(
                        kind,
                        "shared vs untied bias confused: this is only the term of output "
                        f"{entry + truth.base}; the shared bias collects the gradient of "
                        "every output",
                    )
        return None

    numeric_side = _is_number(written, truth)
    if (str(expected), step) in state.established and _kind(lhs) == "output":
        # the document has already stated this output rightly (so it knows its window,
        # stride and padding): a second, different value under the same name that is
        # another output's is that output labelled with this one's name
        found = _other_quantity(
            side, written, expected, lhs, truth, step, context, numeric, outputs_only=True
        )
        if found is not None:
            return Diagnosis("wrong_label", found)
    if numeric_side:
        # a number: a changed problem or another quantity's value names the mistake more
        # surely than one flipped sign among the many of a numeric side
        found_changed = changed_problem()
        if found_changed is not None:
            return found_changed
        found = _other_quantity(side, written, expected, lhs, truth, step, context, numeric)
        if found is not None:
            return Diagnosis("wrong_label", found)
        if output is not None and _kind(lhs) == "output":
            # ŷ_i with numbers read from a window moved along x
            shifted = _window_shift(written, truth, step, output, numeric)
            if shifted is not None:
                return Diagnosis("wrong_index", shifted)

    # 2.–4. mistakes in how the side is written
    for variants, kind, lead in (
        (_regroupings, "missing_parentheses", "missing parentheses"),
        (_sign_flips, "sign_error", "sign error"),
        (_transposes, "transpose_missing", "transpose missing"),
    ):
        for variant, reason in itertools.islice(variants(target), MAX_VARIANTS):
            if holds(variant, want):
                return Diagnosis(kind, f"{lead}: {_pretty(reason)}")
    if _negated(written, expected, truth, step, numeric):
        return Diagnosis("sign_error", "sign error: the side is the negative of the truth")
    factor = _factor_mistake(written, expected, truth, step, numeric, loss=_kind(lhs) == "loss")
    if factor is not None:
        return Diagnosis("missing_factor", factor)

    found_changed = None if numeric_side else changed_problem()
    if found_changed is not None:
        return found_changed

    # 5. the value of another named quantity
    found = _other_quantity(side, written, expected, lhs, truth, step, context, numeric)
    if found is not None:
        return Diagnosis("wrong_label", found)

    # 7. indices (only meaningful while the side still has symbols)
    if _is_number(written, truth):
        return None
    index = _index_mistake(written, expected, truth, step, numeric)
    if index is None and output is not None and _kind(lhs) == "output":
        index = _window_shift(written, truth, step, output, numeric)
    if index is not None:
        return Diagnosis("wrong_index", index)
    return None


def _window_shift(
    written: Value, truth: Truth, step: int, output: int, numeric: bool
) -> str | None:
    """ŷ_i computed with its window moved by a few inputs.

    Renaming the x of the truth (as :func:`_index_mistake` does) misses a window that
    moves onto or off the padding: the truth has no term for a tap that reads a zero.
    Here the window is rebuilt, tap by tap, at the moved positions.
    """
    problem = truth.problem
    if output >= truth.m:
        return None
    sym = truth.d.symbols
    bias: Expr = Integer(0)
    if isinstance(sym.b, tuple):
        bias = sym.b[output]
    elif sym.b is not None:
        bias = sym.b
    layer = problem.layer
    start = layer.position(0, output, 0)  # the input position the window's first tap reads
    for delta in (1, -1, 2, -2):
        terms: list[Expr] = []
        for j in range(problem.k):
            position = layer.position(0, output, j) + delta
            terms.append(sym.w[j] * _shifted("x", sym.x, position, truth))
        candidate: Expr = sum(terms, bias)
        if compare(written, candidate, truth, step, numeric=numeric, exact=False).equal:
            return (
                f"shifted index: the window of ŷ{sub(output + 1)} is moved by {delta:+d} "
                f"input{'s' if abs(delta) > 1 else ''} (it reads x from position "
                f"{start + 1 + delta}, not {start + 1})"
            )
    return None


def _cells(tree: Tree[Token]) -> list[Tree[Token]]:
    return [
        c
        for row in tree.children
        if isinstance(row, Tree)
        for c in row.children
        if isinstance(c, Tree)
    ]


def _counterpart(
    side: Tree[Token], target: Tree[Token], previous: Tree[Token] | None
) -> Tree[Token] | None:
    """The part of the side before that ``target`` (the side or one of its cells) rewrites."""
    if previous is None:
        return None
    if target is side:
        return previous
    if side.data != "matrix" or previous.data != "matrix":
        return None
    cells, before = _cells(side), _cells(previous)
    if len(cells) != len(before):
        return None
    for cell, old in zip(cells, before):
        if cell is target:
            return old
    return None


_ATOMS = ("number", "letter", "greek", "text", "accent", "font", "cal", "scripted")


def _shape(tree: Tree[Token] | Token) -> str:
    """The operators of a tree with every name or number one atom and ``+``/``−`` alike:
    ``ŷ₁ − y₁`` and ``14 + 2`` have one shape (numbers substituted for the names)."""
    if isinstance(tree, Token):
        return ""
    kind = tree.data
    kids = [c for c in tree.children if isinstance(c, Tree)]
    if kind in _ATOMS:
        return "a"
    if kind in ("paren", "neg") and len(kids) == 1 and _bare(kids[0]):
        return "a"  # (-3): a number
    if kind in ("add", "subtract"):
        kind = "sum"
    if kind in ("mul", "imul", "call"):
        kind = "product"
    return kind + "(" + ",".join(_shape(c) for c in kids) + ")"


def _bare(tree: Tree[Token]) -> bool:
    """A number as written (``-2.5``), or a matrix of them: a result, not an expression."""
    if tree.data in ("paren", "group", "pos") and len(tree.children) == 1:
        inner = tree.children[0]
        return isinstance(inner, Tree) and _bare(inner)
    if tree.data == "number":
        return True
    if tree.data == "neg":
        operand = next(c for c in tree.children if isinstance(c, Tree))
        return _bare(operand)
    if tree.data == "matrix":
        cells = [
            c
            for row in tree.children
            if isinstance(row, Tree)
            for c in row.children
            if isinstance(c, Tree)
        ]
        return all(_bare(c) for c in cells)
    return False


def _strangers(
    side: Tree[Token], state: DocState, step: int, bound: dict[str, int], output: int | None
) -> Diagnosis | None:
    """Symbols the problem does not have: x₅ when n = 4, or b without a bias."""
    ctx = Context(truth=state.truth, step=step, env=state.env, indices=dict(bound), output=output)
    try:
        evaluate(side, ctx)
    except EvalError:
        return None
    if not ctx.nonexistent:
        return None
    problem = state.truth.problem
    names = ", ".join(sorted(_pretty_symbol(s) for s in ctx.nonexistent))
    if (
        any(s.name == "b" or s.name.startswith("b") for s in ctx.nonexistent)
        and problem.bias == "none"
    ):
        return Diagnosis("bias_confused", f"the layer has no bias, but the side adds {names}")
    sizes = f"n = {problem.n}, k = {problem.k}, m = {problem.m}"
    return Diagnosis("wrong_index", f"wrong index: {names} does not exist ({sizes})")


def _pretty(text: str) -> str:
    from symconv.check.report import pretty

    return pretty(text)


def _is_number(value: Value, truth: Truth) -> bool:
    entries = value.entries() if isinstance(value, Mat) else [value]
    return all(truth.full(e).free_symbols == set() for e in entries)


def _numeric(value: Value, truth: Truth, step: int) -> Value:
    values = truth.values(step) or {}
    if isinstance(value, Mat):
        return Mat(value.m.applyfunc(lambda e: truth.full(e).xreplace(values)))
    result: Expr = truth.full(value).xreplace(values)
    return result


def _negated(written: Value, expected: Value, truth: Truth, step: int, numeric: bool) -> bool:
    negative: Value = (
        Mat(-expected.m, free=expected.free) if isinstance(expected, Mat) else -expected
    )
    if compare(written, negative, truth, step, numeric=numeric, exact=False).equal:
        return not compare(written, expected, truth, step, numeric=numeric, exact=False).equal
    return False


def _one_entry(
    side: Tree[Token],
    want: Value,
    out: int | None,
    changed: Truth,
    context: Callable[..., Context],
    step: int,
    numeric: bool,
) -> int | None:
    """The position of the entry of the vector ``want`` that the scalar side equals."""
    if not isinstance(want, Mat) or not want.is_vector:
        return None
    try:
        value = evaluate(side, context(out, changed))
    except EvalError:
        return None
    if isinstance(value, Mat):
        return None
    for position, entry in enumerate(want.entries()):
        if compare(value, entry, changed, step, numeric=numeric, exact=False).equal:
            return position
    return None


def _factor_mistake(
    written: Value, expected: Value, truth: Truth, step: int, numeric: bool, *, loss: bool = False
) -> str | None:
    """The side is the truth times 2, ½, m or 1/m: a factor of the loss lost or doubled."""
    m = truth.problem.m
    mse = truth.problem.loss_spec.averaged  # a mean (1/m Σ) rather than a sum (½ Σ)
    if loss:
        # the loss itself: its normalisation (½ Σ or the mean 1/m Σ) is the one that is off
        meant = truth.problem.loss_spec.normalisation(m)
        for factor in sorted({Rational(2), Rational(1, 2), Rational(m), Rational(1, m)}):
            if factor == 1:
                continue
            scaled_loss: Value = (
                Mat(expected.m * factor, free=expected.free)
                if isinstance(expected, Mat)
                else expected * factor
            )
            if compare(written, scaled_loss, truth, step, numeric=numeric, exact=False).equal:
                return (
                    f"missing factor: the side is {fmt_factor(factor)} the loss — its "
                    f"normalisation is off (this problem's loss is {meant})"
                )
        return None
    candidates: list[tuple[Rational, str]] = [
        (
            Rational(2),
            "missing factor: the side is twice the truth — "
            + (
                "the 2 of the square's derivative is counted twice"
                if mse
                else "the ½ of the loss is missing (or the 2 of the square's derivative is "
                "kept although the ½ cancels it)"
            ),
        ),
        (
            Rational(1, 2),
            "missing factor: the side is half the truth — the 2 from differentiating the "
            "square is missing",
        ),
    ]
    if mse and m > 2:
        # ŷ − y for the derivative of the mean: the whole factor 2/m is left out
        candidates.insert(
            0,
            (
                Rational(m, 2),
                f"missing factor: the side is m/2 = {fmt(Rational(m, 2))} times the truth — the "
                f"factor 2/m of the mean's derivative is missing (m = {m})",
            ),
        )
    if m > 2:
        candidates += [
            (
                Rational(m),
                f"missing factor: the side is m = {m} times the truth — "
                + (
                    "the mean's 1/m is missing"
                    if mse
                    else "the loss is a sum, not a mean (a 1/m too few)"
                ),
            ),
            (
                Rational(1, m),
                f"missing factor: the side is the truth divided by m = {m} — "
                + ("divided by m once too often" if mse else "the loss is a sum, not a mean"),
            ),
        ]
    for factor, text in candidates:
        scaled: Value = (
            Mat(expected.m * factor, free=expected.free)
            if isinstance(expected, Mat)
            else expected * factor
        )
        if compare(written, scaled, truth, step, numeric=numeric, exact=False).equal:
            return text
    return None


def fmt_factor(factor: Rational) -> str:
    """``2`` → "twice", ``1/2`` → "half", ``4`` → "4 times", ``1/4`` → "1/4 of"."""
    if factor == 2:
        return "twice"
    if factor == Rational(1, 2):
        return "half"
    if factor.q == 1:
        return f"{factor} times"
    return f"{factor.p}/{factor.q} of"


def _first_wrong_cell(
    side: Tree[Token],
    written: Value,
    expected: Value,
    truth: Truth,
    step: int,
    context: Callable[[], Context],
    numeric: bool,
) -> tuple[Tree[Token], Value] | None:
    if side.data != "matrix" or not isinstance(written, Mat):
        return None
    cells = [
        c
        for row in side.children
        if isinstance(row, Tree)
        for c in row.children
        if isinstance(c, Tree)
    ]
    pairs, shape = entries_of(written, expected)
    if shape or len(pairs) != len(cells):
        return None
    for cell, (w, e) in zip(cells, pairs):
        if not compare(w, e, truth, step, numeric=numeric, exact=False).equal:
            return cell, e
    return None


def _quantities(truth: Truth, step: int) -> list[tuple[str, str, int | None]]:
    """Named quantities a value may belong to: (LaTeX, name, output index)."""
    base, problem = truth.base, truth.problem
    out: list[tuple[str, str, int | None]] = []
    nxt = f"^{{({step + 1})}}"
    for j in range(problem.m):
        out.append((rf"\hat{{y}}_{{{j + base}}}", f"ŷ{sub(j + 1)}", j))
    for j in range(problem.m):
        out.append((rf"\hat{{y}}_{{{j + base}}}{nxt}", f"ŷ{sub(j + 1)} after the update", j))
    out += [
        (r"\hat{y}", "ŷ", None),
        (rf"\hat{{y}}{nxt}", "ŷ after the update", None),
        (r"L", "L", None),
        (rf"L{nxt}", "L after the update", None),
        (r"\frac{\partial L}{\partial \hat{y}}", "∂L/∂ŷ", None),
        (r"\frac{\partial L}{\partial w}", "∂L/∂w", None),
        (r"\frac{\partial L}{\partial x}", "∂L/∂x", None),
        (r"w", "w", None),
        (r"w^{(1)}", "w after the update", None),
    ]
    if problem.bias != "none":
        out += [
            (r"\frac{\partial L}{\partial b}", "∂L/∂b", None),
            (r"b", "b", None),
            (r"b^{(1)}", "b after the update", None),
        ]
    for stem, name, count in (
        ("w", "w", problem.k),
        ("x", "x", problem.n),
        ("\\hat{y}", "ŷ", problem.m),
    ):
        for j in range(count):
            out.append(
                (
                    rf"\frac{{\partial L}}{{\partial {stem}_{{{j + base}}}}}",
                    f"∂L/∂{name}{sub(j + 1)}",
                    None,
                )
            )
    return out


_LOSS_KEYS = {"cal:L", "L", "E", "cal:E", "ell", "cal:J"}


def _kind(tree: Tree[Token]) -> str | None:
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


def _other_quantity(
    side: Tree[Token],
    written: Value,
    expected: Value,
    lhs: Tree[Token],
    truth: Truth,
    step: int,
    context: Callable[..., Context],
    numeric: bool,
    *,
    outputs_only: bool = False,
) -> str | None:
    wanted = _kind(lhs)
    for latex, name, out in _quantities(truth, step):
        if outputs_only and out is None:
            continue
        try:
            tree = parse_equation(latex).children[0]
            assert isinstance(tree, Tree)
            if wanted is not None and _kind(tree) not in (wanted, None):
                continue  # a loss that equals a weight by chance is no wrong label
            value = evaluate(tree, context(out))
        except (ParseFailure, EvalError, AssertionError):
            continue
        if compare(value, expected, truth, step, numeric=numeric, exact=False).equal:
            continue  # the quantity the left side names
        try:
            again = evaluate(side, context(out)) if out is not None else written
        except EvalError:
            continue
        if compare(again, value, truth, step, numeric=numeric, exact=False).equal:
            shown = show(_numeric(value, truth, step))
            want = show(_numeric(expected, truth, step))
            return (
                f"wrong label: the value is that of {name} (= {shown}), not of the quantity "
                f"on the left (= {want})"
            )
    return None


def _index_mistake(
    written: Value, expected: Value, truth: Truth, step: int, numeric: bool
) -> str | None:
    sym = truth.d.symbols
    families: list[tuple[str, tuple[Symbol, ...]]] = [
        ("x", sym.x),
        ("w", sym.w),
        ("y", sym.y),
        ("yhat", sym.yhat),
    ]
    if isinstance(sym.b, tuple):
        families.append(("b", sym.b))

    def full(value: Value) -> Value:
        if isinstance(value, Mat):
            return Mat(value.m.applyfunc(truth.full), free=value.free)
        return truth.full(value)

    targets = [expected, full(expected)]  # indices in the placeholders, then in the inputs

    def apply_to(target: Value, mapping: dict[Symbol, Expr]) -> Value:
        if isinstance(target, Mat):
            return Mat(target.m.applyfunc(lambda e: e.xreplace(mapping)), free=target.free)
        result: Expr = target.xreplace(mapping)
        return result

    def same_to(target: Value, mapping: dict[Symbol, Expr]) -> bool:
        candidate = apply_to(target, mapping)
        return compare(written, candidate, truth, step, numeric=numeric, exact=False).equal

    def apply(mapping: dict[Symbol, Expr]) -> dict[Symbol, Expr]:
        return mapping

    def same(mapping: dict[Symbol, Expr]) -> bool:
        return any(same_to(target, mapping) for target in targets)

    names = {"x": "x", "w": "w", "y": "y", "yhat": "ŷ", "b": "b"}
    if _flipped_kernel(written, expected, truth, step, numeric):
        return FLIPPED
    for stem, family in families:
        for delta in (1, -1, 2, -2):
            mapping: dict[Symbol, Expr] = {
                s: _shifted(stem, family, i + delta, truth) for i, s in enumerate(family)
            }
            if same(apply(mapping)):
                return (
                    f"shifted index: every {names[stem]} index is off by {delta:+d} "
                    f"({names[stem]}{sub(1 + delta) if 1 + delta > 0 else '_' + str(1 + delta)} "
                    f"where {names[stem]}₁ belongs)"
                )
    for _, family in families:
        for a, b in itertools.permutations(family, 2):
            if same(apply({a: b})):
                return f"wrong index: {_pretty_symbol(b)} where {_pretty_symbol(a)} belongs"
    return None


FLIPPED = (
    "wrong index: the kernel is flipped (w_j ↔ w_{k+1-j}); a deep-learning "
    "convolution is a cross-correlation, it does not flip the kernel (and ∂L/∂x is the "
    "gradient correlated with the flipped kernel)"
)


def _flipped_kernel(
    written: Value, expected: Value, truth: Truth, step: int, numeric: bool
) -> bool:
    """Is ``written`` the truth with the kernel flipped (``w_j ↔ w_{k+1-j}``), in the
    placeholders or in the inputs, and does the flip change the truth at all?"""
    sym = truth.d.symbols
    if len(sym.w) < 2:
        return False
    flip = dict(zip(sym.w, reversed(sym.w)))

    def apply(target: Value) -> Value:
        if isinstance(target, Mat):
            return Mat(target.m.applyfunc(lambda e: e.xreplace(flip)), free=target.free)
        result: Expr = target.xreplace(flip)
        return result

    full: Value = (
        Mat(expected.m.applyfunc(truth.full), free=expected.free)
        if isinstance(expected, Mat)
        else truth.full(expected)
    )
    for target in (expected, full):
        candidate = apply(target)
        if compare(written, candidate, truth, step, numeric=numeric, exact=False).equal:
            return True
    return False


def _shifted(stem: str, family: tuple[Symbol, ...], position: int, truth: Truth) -> Expr:
    """The member at 0-based ``position`` of a shifted family: x reads its padding there."""
    if 0 <= position < len(family):
        return family[position]
    problem = truth.problem
    if (
        stem == "x"
        and problem.padding
        and -problem.padding <= position < len(family) + problem.padding
    ):
        if problem.padding_mode == "circular":
            return family[position % len(family)]
        return Integer(0)
    return Symbol(f"{stem}{position + 1}", real=True)


def _pretty_symbol(symbol: Symbol) -> str:
    from symconv.mathtext import name

    return name(symbol.name)
