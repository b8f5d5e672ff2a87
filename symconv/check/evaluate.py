"""Turn a parse tree (``grammar.lark``) into SymPy values, node by node — never ``eval``.

A side of an equation becomes a scalar SymPy expression or a :class:`Mat`.  Names mean
the problem's quantities: ``x_j``, ``w_j``, ``b``/``b_i``, ``y_i``, ``\\hat{y}_i`` (a
placeholder for the i-th output), ``\\mathcal{L}`` (the loss in the placeholders),
``\\alpha`` (the learning rate), ``\\frac{\\partial N}{\\partial D}`` (derivatives computed
from the truth), ``w^{(1)}`` (a later step).  Products follow matrix rules; where the
written product is undefined or an outer product but its intent is plain (a column
times a row read as a dot product, ``(2×1)·(2×3)`` read with a transpose) the value is
the intended one and a *notation* note is recorded.
"""

from __future__ import annotations

import math as _math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Union

from lark import Token, Tree
from lark.visitors import Interpreter
from sympy import (
    Abs,
    Add,
    Dummy,
    Expr,
    ImmutableMatrix,
    Integer,
    Mul,
    Pow,
    Rational,
    Symbol,
    diff,
    sqrt,
)

from symconv.check.truth import MAX_STEP, Truth

__all__ = [
    "Context",
    "EvalError",
    "FreeIndex",
    "Mat",
    "NoCase",
    "OutOfRange",
    "Unknown",
    "Value",
    "evaluate",
    "name_key",
    "spelled",
]

MAX_SUM_TERMS = 2000
MAX_ONES = 256  # entries of a vector of ones 1_m
MAX_NUMBER_DIGITS = 40
MAX_SYMBOLIC_POWER = 16
MAX_DIGITS = 2000


class EvalError(Exception):
    """The side cannot be given a value (the reason is the text)."""


class Unknown(EvalError):
    """A name that is not a quantity of the problem nor defined in the document."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown symbol `{name}`")


class FreeIndex(EvalError):
    """An index letter (``i`` in ``\\hat{y}_i``) not bound by a sum."""

    def __init__(self, letter: str) -> None:
        self.letter = letter
        super().__init__(f"free index `{letter}`")


class OutOfRange(EvalError):
    """An index outside the quantity (raised only in strict mode)."""


class NoCase(EvalError):
    """No branch of a case distinction holds for these indices (the claim says nothing
    about them)."""


@dataclass(frozen=True)
class Mat:
    """A matrix value.  ``free``: a named vector/Jacobian whose layout (row or column,
    numerator or denominator) is a convention, so it may be transposed silently;
    ``tag``: ``"x"`` for the plain input vector (read as a window inside ŷ_i)."""

    m: ImmutableMatrix
    free: bool = False
    tag: str | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        rows, cols = self.m.shape
        return int(rows), int(cols)

    @property
    def is_vector(self) -> bool:
        """One row or one column."""
        return 1 in self.shape

    def entries(self) -> list[Expr]:
        """Entries row by row."""
        return list(self.m)


@dataclass(frozen=True)
class DerivOp:
    """``\\nabla_w`` or ``\\frac{\\partial}{\\partial w}``: waits for what it differentiates."""

    den: Tree[Token]
    coefficient: Value | None = None  # η in η∇_w L


@dataclass(frozen=True)
class PartialOf:
    """``\\partial X`` inside a fraction (``tree`` is None for a bare ``\\partial``)."""

    tree: Tree[Token] | None


Value = Union[Expr, Mat]  # noqa: UP007 - a runtime alias
_Any = Union[Expr, Mat, DerivOp, PartialOf]  # noqa: UP007

_LOSS_NAMES = {"cal:L", "L", "E", "cal:E", "ell", "cal:J", "C", "cal:C"}
_RATE_NAMES = {"alpha", "eta", "mu", "text:lr", "text:\\alpha", "text:eta"}
_STEP_WORDS = {"new", "next", "updated", "update", "neu", "+"}
_NEXT_WORDS = {"t+1", "k+1"}  # w^{(t+1)}
_CURRENT_WORDS = {"old", "t", "k", "alt", "current"}
_PREDICTION_WORDS = {"pred", "hat", "out", "predicted", "prediction", "est"}
_SIZE_LETTERS = ("n", "k", "m", "s", "p", "d")


@dataclass
class Context:
    """What a name means here: the truth, the step, the output i, the bound indices."""

    truth: Truth
    step: int = 0
    output: int | None = None  # 0-based output index when the left side is ŷ_i
    env: dict[str, Value] = field(default_factory=dict)
    indices: dict[str, int] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    strict: bool = False
    capture: bool = False  # inside ∂: ignore step marks, record them
    captured: int = 0
    nonexistent: set[Symbol] = field(default_factory=set)
    # every step mark read (``w^{(1)}``, ``w'``, ``w_t``, ``b^{new}``): shared by children
    marks: list[int] = field(default_factory=list)
    # when a list: every decimal literal d (p places) reads d + ½·10⁻ᵖ·r with a fresh
    # symbol r, recorded here as (r, d, its text) — the side's rounding, see rounding.py
    perturb: list[tuple[Symbol, Rational, str]] | None = None
    in_sum: bool = False  # inside ∑: the kernel, outputs and targets are 0 outside their range
    # mistakes read in on the way, as (kind, sentence): W·δ with W the layer's matrix is
    # not loose notation but a missing transpose; shared by children
    mistakes: list[tuple[str, str]] = field(default_factory=list)
    # letters the left side uses as indices (x_p, w_k): there they are not the sizes p, k
    free: frozenset[str] = frozenset()
    # when a list: every derivative taken, as (numerator, variables, step offset), in the
    # order they finish (the outermost last) — what a left side ∂L/∂w_j names
    derivatives: list[tuple[Value, list[Symbol], int]] | None = None

    def child(self) -> Context:
        """A copy sharing env/flags but with its own index bindings."""
        return Context(
            truth=self.truth,
            step=self.step,
            output=self.output,
            env=self.env,
            indices=dict(self.indices),
            flags=self.flags,
            strict=self.strict,
            capture=self.capture,
            captured=self.captured,
            nonexistent=self.nonexistent,
            perturb=self.perturb,
            marks=self.marks,
            in_sum=self.in_sum,
            mistakes=self.mistakes,
            free=self.free,
            derivatives=self.derivatives,
        )


# ---------------------------------------------------------------------------------------
# helpers on values


def _scalar(value: _Any) -> Expr | None:
    """The value as a scalar if it is one (a 1×1 matrix counts)."""
    if isinstance(value, Mat):
        return value.m[0, 0] if value.shape == (1, 1) else None
    if isinstance(value, (DerivOp, PartialOf)):
        return None
    return value


def _value(value: _Any) -> Value:
    if isinstance(value, (DerivOp, PartialOf)):
        raise EvalError("a derivative operator without anything to differentiate")
    return value


def _vector(entries: list[Expr], *, free: bool = True, tag: str | None = None) -> Mat:
    return Mat(ImmutableMatrix(len(entries), 1, entries), free=free, tag=tag)


def _shape_text(shape: tuple[int, int]) -> str:
    return f"({shape[0]}×{shape[1]})"


def _number(text: str) -> Rational:
    """A number token's value; refuses more than :data:`MAX_NUMBER_DIGITS` characters
    (an index ``x_{999…9}`` or a step mark ``w^{(999…9)}`` alike: Python cannot even read
    integers of more than 4,300 digits)."""
    if len(text) > MAX_NUMBER_DIGITS:
        raise EvalError(f"a number with more than {MAX_NUMBER_DIGITS} digits")
    value: Rational = Rational(text)
    return value


def _check_size(expr: Expr) -> Expr:
    """Refuse numbers with absurdly many digits (they would only slow everything)."""
    if expr.is_Rational and expr != 0:
        q = Rational(expr)
        if max(abs(int(q.p)), abs(int(q.q))).bit_length() > MAX_DIGITS * 3.33:
            raise EvalError("a number with more than 2000 digits")
    return expr


# ---------------------------------------------------------------------------------------
# names


def name_key(tree: Tree[Token] | Token) -> tuple[str, list[Tree[Token]]] | None:
    """The name a primary denotes and the scripts written inside it (``\\hat{y_1}``).

    ``x`` → ``("x", [])``, ``\\hat{\\mathbf{y}}_1`` → ``("hat:y", [])`` (outer scripts are
    the caller's), ``\\hat{y_1}`` → ``("hat:y", [sub 1])``, ``\\mathcal{L}`` → ``("cal:L", [])``.
    None for anything that is not a name.
    """
    if isinstance(tree, Token):
        return None
    kind = tree.data
    tokens = [c for c in tree.children if isinstance(c, Token)]
    if kind == "letter":
        return str(tokens[0]), []
    if kind == "greek":
        return str(tokens[0]).lstrip("\\"), []
    if kind == "text":
        content = str(tokens[0])
        content = content[content.find("{") + 1 : content.rfind("}")] if "{" in content else content
        return "text:" + content.strip(), []
    if kind == "cal":
        return "cal:" + str(tokens[-1]), []
    if kind in ("accent", "font"):
        accent = str(tokens[0]).lstrip("\\")
        inner: Tree[Token] | Token | None = None
        for child in tree.children:
            if isinstance(child, Tree):
                inner = child
        if inner is None:
            last = tokens[-1]
            inner = Tree("greek" if last.type == "GREEK" else "letter", [last])
        scripts: list[Tree[Token]] = []
        if isinstance(inner, Tree) and inner.data == "scripted":
            scripts = [c for c in inner.children[1:] if isinstance(c, Tree)]
            inner = inner.children[0]
        if isinstance(inner, Tree) and inner.data == "paren":
            inner = inner.children[0]
        found = name_key(inner)
        if found is None:
            return None
        key, inner_scripts = found
        if kind == "accent" and accent in ("hat", "widehat"):
            key = "hat:" + key.split(":")[-1]
        elif kind == "accent":
            key = accent + ":" + key
        return key, inner_scripts + scripts
    return None


def _script_parts(scripts: list[Tree[Token]]) -> tuple[list[Tree[Token]], list[Tree[Token]]]:
    subs = [s for s in scripts if s.data == "sub"]
    sups = [s for s in scripts if s.data in ("sup", "prime")]
    return subs, sups


def _arg(script: Tree[Token]) -> Tree[Token] | Token:
    return next(
        c for c in script.children if not (isinstance(c, Token) and c.type in ("SUB", "SUP"))
    )


def _inner_tree(tree: Tree[Token]) -> Tree[Token]:
    """Strip ``group``/``paren`` wrappers of a tree."""
    inner = _inner(tree)
    return inner if isinstance(inner, Tree) else tree


def _inner(tree: Tree[Token] | Token) -> Tree[Token] | Token:
    """Strip ``group``/``paren`` wrappers."""
    while isinstance(tree, Tree) and tree.data in ("group", "paren") and len(tree.children) == 1:
        tree = tree.children[0]
    return tree


def _is_transpose(arg: Tree[Token] | Token) -> bool:
    arg = _inner(arg)
    if isinstance(arg, Tree):
        if arg.data == "top":
            return True
        if arg.data == "letter" and str(arg.children[0]) == "T":
            return True
    return False


def _is_two(arg: Tree[Token] | Token) -> bool:
    arg = _inner(arg)
    return isinstance(arg, Tree) and arg.data == "number" and str(arg.children[0]) == "2"


def _spelled(tree: Tree[Token] | Token) -> str | None:
    """A word or a short expression spelled by letters (``new``, ``t+1``, ``\\text{old}``)."""
    tree = _inner(tree)
    if isinstance(tree, Token):
        return None
    kind = tree.data
    parts = [c for c in tree.children if isinstance(c, Tree)]
    if kind in ("letter", "number"):
        return str(tree.children[0])
    if kind == "text":
        found = name_key(tree)
        return found[0].removeprefix("text:").strip() if found else None
    if kind == "imul" and len(parts) == 2:
        left, right = _spelled(parts[0]), _spelled(parts[1])
        return left + right if left is not None and right is not None else None
    if kind in ("add", "subtract") and len(parts) == 2:
        left, right = _spelled(parts[0]), _spelled(parts[1])
        sign = "+" if kind == "add" else "-"
        return left + sign + right if left is not None and right is not None else None
    return None


def spelled(tree: Tree[Token] | Token) -> str | None:
    """A word or a short expression spelled by letters (``new``, ``t+1``, ``\\text{old}``)."""
    return _spelled(tree)


def _step_word(tree: Tree[Token] | Token, ctx: Context) -> int | None:
    """``new``/``t+1`` → the next step, ``old``/``t`` → the current one, else None."""
    word = _spelled(tree)
    if word is None:
        return None
    word = word.replace(" ", "")
    if word in _STEP_WORDS or word in _NEXT_WORDS:
        return ctx.step + 1
    if word in _CURRENT_WORDS:
        return ctx.step
    return None


def _step_mark(script: Tree[Token], ctx: Context) -> int | None:
    """``^{(1)}`` → 1, ``'`` → 1, ``^{new}`` → 1, ``^{(t+1)}`` → the next step;
    None when the superscript is a power."""
    if script.data == "prime":
        return 1
    arg = _arg(script)
    if isinstance(arg, Tree) and arg.data == "group":
        arg = arg.children[0]
    if isinstance(arg, Tree) and arg.data == "paren":
        inner = _inner(arg)
        if isinstance(inner, Tree) and inner.data == "number":
            value = _number(str(inner.children[0]))
            if value.is_Integer and 0 <= int(value) <= MAX_STEP:
                return int(value)
        mark = _step_word(inner, ctx)
        if mark is not None:
            return mark
        raise EvalError("a step superscript that is not a number")
    if isinstance(arg, Tree) and arg.data in ("letter", "number"):
        return None  # w^2, x^t: a power (or a transpose, handled later)
    mark = _step_word(arg, ctx)
    if mark is not None:
        return mark
    if isinstance(arg, Tree) and arg.data == "text" and str(arg.children[0]) == "*":
        raise EvalError("`^*` (an optimum) is not a quantity of the problem")
    return None


# ---------------------------------------------------------------------------------------
# the evaluator


def evaluate(tree: Tree[Token] | Token, ctx: Context) -> Value:
    """The value of one side (a ``sum`` subtree).  Raises :class:`EvalError`."""
    try:
        return _value(_eval(tree, ctx))
    except RecursionError:
        raise EvalError("nested too deeply") from None
    except (ZeroDivisionError, ArithmeticError):
        raise EvalError("a division by zero") from None


def _eval(tree: Tree[Token] | Token, ctx: Context) -> _Any:
    """The value of ``tree`` in ``ctx`` (one :class:`_Rules` method per grammar rule)."""
    if isinstance(tree, Token):
        raise EvalError(f"unexpected `{tree}`")
    return _Rules(ctx).visit(tree)


def _subtrees(tree: Tree[Token]) -> list[Tree[Token]]:
    return [c for c in tree.children if isinstance(c, Tree)]


class _Rules(Interpreter[Token, _Any]):
    """The evaluator: a lark ``Interpreter`` with one method per rule of ``grammar.lark``.

    Each method gets its node and reads the context it was made with; a child context
    (inside a sum, a derivative) is a new ``_Rules``.  A rule without a method is outside
    the notation read (:meth:`__default__`).
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def visit(self, tree: Tree[Token]) -> _Any:
        method = getattr(self, tree.data, None) if not tree.data.startswith("_") else None
        if method is None:
            return self.__default__(tree)
        return method(tree)

    def __default__(self, tree: Tree[Token]) -> _Any:
        raise EvalError(f"`{tree.data}` is not supported")

    # numbers and grouping
    def number(self, tree: Tree[Token]) -> _Any:
        ctx = self.ctx
        text = str(tree.children[0])
        number = _number(text)
        if ctx.perturb is not None and "." in text:
            places = len(text.split(".", 1)[1])
            mark = Dummy(f"r{len(ctx.perturb)}")
            ctx.perturb.append((mark, number, text))
            return number + Rational(1, 2 * 10**places) * mark
        return number

    def paren(self, tree: Tree[Token]) -> _Any:
        return _eval(_subtrees(tree)[0], self.ctx)

    group = pos = paren

    def neg(self, tree: Tree[Token]) -> _Any:
        return _negate(_value(_eval(_subtrees(tree)[0], self.ctx)))

    # sums and products
    def add(self, tree: Tree[Token]) -> _Any:
        terms = _added_terms(tree)
        if any(term.data == "dots" for term in terms):
            # (ŷ₁ − y₁)² + ⋯ + (ŷ₄ − y₄)²: the terms between counted up
            total: Value | None = None
            for term in _and_so_on(terms):
                value = _value(_eval(term, self.ctx))
                total = value if total is None else _add(total, value)
            return total
        first, second = _subtrees(tree)
        left, right = _value(_eval(first, self.ctx)), _value(_eval(second, self.ctx))
        return _add(left, right if tree.data == "add" else _negate(right))

    subtract = add

    def mul(self, tree: Tree[Token]) -> _Any:
        ctx = self.ctx
        first, second = _subtrees(tree)
        left_any = _eval(first, ctx)
        if isinstance(left_any, DerivOp):
            derivative = _derivative_of(second, left_any.den, ctx)
            if left_any.coefficient is None:
                return derivative
            return _multiply(left_any.coefficient, derivative, ctx, "cdot")
        right_any = _eval(second, ctx)
        if isinstance(right_any, DerivOp):
            # η ∇_w L reads (η ∇_w) L: keep η until the operator meets its operand
            if right_any.coefficient is not None:
                raise EvalError("a derivative operator at the end of a product")
            return DerivOp(right_any.den, _value(left_any))
        left, right = _value(left_any), _value(right_any)
        if tree.data in ("star", "conv"):
            conv = _convolution(left, right, ctx)
            if conv is None:
                token = next((str(c) for c in tree.children if isinstance(c, Token)), "*")
                conv = _sequence_conv(left, right, token, ctx)
            if conv is not None:
                return conv
        return _multiply(left, right, ctx, "implicit" if tree.data == "imul" else "cdot")

    imul = star = conv = mul

    def div(self, tree: Tree[Token]) -> _Any:
        ctx = self.ctx
        first, second = _subtrees(tree)
        if first.data in ("imul", "mul"):
            # η ∂C/∂w_j: the product binds first, but the ∂ belongs to the derivative
            front, last = _subtrees(first)
            inner = _subtrees(last) if last.data == "partial" else []
            if inner:
                bottom = _eval(second, ctx)
                factor = _eval(front, ctx)
                usable = not isinstance(factor, (DerivOp, PartialOf))
                if usable and isinstance(bottom, PartialOf) and bottom.tree is not None:
                    derivative = _derivative(inner[0], bottom.tree, ctx)
                    return _multiply(_value(factor), derivative, ctx, "implicit")
        top = _eval(first, ctx)
        if isinstance(top, PartialOf):
            # ∂L / ∂w written inline: the same derivative as \frac{∂L}{∂w}
            bottom = _eval(second, ctx)
            if not isinstance(bottom, PartialOf) or bottom.tree is None:
                raise EvalError("∂ over something that is not ∂ of a variable")
            if top.tree is None:
                return DerivOp(Tree("partial", [bottom.tree]))
            return _derivative(top.tree, bottom.tree, ctx)
        right = _scalar(_eval(second, ctx))
        if right is None:
            raise EvalError("division by a matrix")
        return _divide(_value(top), right)

    def mod(self, tree: Tree[Token]) -> _Any:
        first, second = _subtrees(tree)
        left, right = _scalar(_eval(first, self.ctx)), _scalar(_eval(second, self.ctx))
        if left is None or right is None or not (left.is_Integer and right.is_Integer):
            raise EvalError("\\bmod of something that is not a whole number")
        if int(right) <= 0:
            raise EvalError("a \\bmod by a number that is not positive")
        return Integer(int(left) % int(right))

    def hadamard(self, tree: Tree[Token]) -> _Any:
        first, second = _subtrees(tree)
        return _hadamard(_value(_eval(first, self.ctx)), _value(_eval(second, self.ctx)))

    def frac(self, tree: Tree[Token]) -> _Any:
        top, bottom = _subtrees(tree)
        return _frac(top, bottom, self.ctx)

    def sqrt(self, tree: Tree[Token]) -> _Any:
        inner = _scalar(_eval(_subtrees(tree)[0], self.ctx))
        if inner is None:
            raise EvalError("the square root of a matrix")
        return sqrt(inner)

    # vectors and matrices
    def matrix(self, tree: Tree[Token]) -> _Any:
        return _matrix(_subtrees(tree), self.ctx)

    def dots(self, tree: Tree[Token]) -> _Any:
        raise EvalError("`…` outside a vector (a sum written with … is not read)")

    def cases(self, tree: Tree[Token]) -> _Any:
        """The value of the first branch whose condition holds for the bound indices."""
        for row in (c for c in tree.children if isinstance(c, Tree) and c.data == "crow"):
            value, condition = _subtrees(row)
            if _holds(condition, self.ctx):
                return _eval(value, self.ctx)
        raise NoCase("no case of the distinction holds here")

    def tuple(self, tree: Tree[Token]) -> _Any:
        entries = [_scalar(_eval(t, self.ctx)) for t in _and_so_on(_subtrees(tree))]
        if any(e is None for e in entries):
            raise EvalError("a tuple of matrices")
        return _vector([e for e in entries if e is not None], free=True)

    def norm(self, tree: Tree[Token]) -> _Any:
        return _norm(_value(_eval(_subtrees(tree)[0], self.ctx)), squared=False)

    def floor(self, tree: Tree[Token]) -> _Any:
        inner = _scalar(_eval(_subtrees(tree)[0], self.ctx))
        if inner is None or not inner.is_Rational:
            raise EvalError("⌊…⌋ or ⌈…⌉ of something that is not a number")
        rational = Rational(inner)
        return Integer(rational.floor() if tree.data == "floor" else rational.ceiling())

    ceil = floor

    def abs(self, tree: Tree[Token]) -> _Any:
        inner = _scalar(_eval(_subtrees(tree)[0], self.ctx))
        if inner is None:
            raise EvalError("|…| of a matrix (write a norm ‖…‖)")
        return Abs(inner)

    # names, calls, sums, derivatives
    def scripted(self, tree: Tree[Token]) -> _Any:
        trees = _subtrees(tree)
        return _scripted(trees[0], trees[1:], self.ctx)

    def letter(self, tree: Tree[Token]) -> _Any:
        if tree.data in ("accent", "font") and name_key(tree) is None:
            return _styled(tree, self.ctx)
        return _scripted(tree, [], self.ctx)

    greek = text = accent = font = cal = letter

    def call(self, tree: Tree[Token]) -> _Any:
        return _call(_subtrees(tree), self.ctx)

    def bigsum(self, tree: Tree[Token]) -> _Any:
        return _bigsum(_subtrees(tree), self.ctx)

    def partial(self, tree: Tree[Token]) -> _Any:
        trees = _subtrees(tree)
        return PartialOf(trees[0] if trees else None)

    def nabla(self, tree: Tree[Token]) -> _Any:
        raise EvalError("∇ needs a subscript (∇_w L)")

    def top(self, tree: Tree[Token]) -> _Any:
        raise EvalError("ᵀ outside a superscript")

    def binding(self, tree: Tree[Token]) -> _Any:
        raise EvalError("`i = …` outside a sum")


def _styled(tree: Tree[Token], ctx: Context) -> _Any:
    """A font or accent on something that is not a name: ``\\mathbf{1}`` (the vector of
    ones, its length taken from what it meets), ``\\mathbf{Xw}`` (the expression)."""
    inner = [c for c in tree.children if isinstance(c, Tree)]
    if tree.data == "accent" or not inner:
        raise EvalError("an accent on something that is not a name")
    body = _inner(inner[0])
    if isinstance(body, Tree) and body.data == "number" and str(body.children[0]) in ("0", "1"):
        entry = Integer(int(str(body.children[0])))
        return Mat(ImmutableMatrix(ctx.truth.m, 1, [entry] * ctx.truth.m), free=True, tag="ones")
    return _eval(inner[0], ctx)


def _fit_ones(left: Value, right: Value) -> tuple[Value, Value]:
    """A vector of ones (``\\mathbf{1}``) resized to the vector it meets."""
    if not (isinstance(left, Mat) and isinstance(right, Mat)):
        return left, right
    if left.tag == "ones" and right.tag != "ones" and right.is_vector:
        size = len(right.entries())
        return Mat(ImmutableMatrix(*_oriented(left, size), [left.m[0]] * size), free=True), right
    if right.tag == "ones" and left.tag != "ones" and left.is_vector:
        size = len(left.entries())
        return left, Mat(ImmutableMatrix(*_oriented(right, size), [right.m[0]] * size), free=True)
    return left, right


def _oriented(ones: Mat, size: int) -> tuple[int, int]:
    return (size, 1) if ones.shape[1] == 1 else (1, size)


def _negate(value: Value) -> Value:
    if isinstance(value, Mat):
        return Mat(-value.m, free=value.free)
    return -value


def _add(left: Value, right: Value) -> Value:
    left, right = _fit_ones(left, right)
    a, b = _scalar(left), _scalar(right)
    if a is not None and b is not None:
        return _check_size(a + b)
    if isinstance(left, Mat) and isinstance(right, Mat):
        if left.shape == right.shape:
            return Mat(left.m + right.m, free=left.free and right.free)
        if left.shape == right.shape[::-1] and (left.is_vector or left.free or right.free):
            keep = right if left.free and not right.free else left
            other = left if keep is right else right
            return Mat(keep.m + other.m.T, free=left.free and right.free)
        raise EvalError(f"adds a {_shape_text(left.shape)} and a {_shape_text(right.shape)} matrix")
    # a scalar plus a vector: broadcast (a shared bias added to every output)
    mat = left if isinstance(left, Mat) else right
    scalar = b if a is None else a
    assert isinstance(mat, Mat) and scalar is not None
    return Mat(mat.m.applyfunc(lambda e: e + scalar), free=mat.free)


def _divide(left: Value, right: Expr) -> Value:
    if right == 0:
        raise EvalError("a division by zero")
    if isinstance(left, Mat):
        return Mat(left.m / right, free=left.free)
    return _check_size(left / right)


def _hadamard(left: Value, right: Value) -> Value:
    if isinstance(left, Mat) and isinstance(right, Mat):
        a, b = left.entries(), right.entries()
        if len(a) != len(b):
            raise EvalError("an elementwise product of different sizes")
        shape = left.shape
        return Mat(ImmutableMatrix(shape[0], shape[1], [x * y for x, y in zip(a, b)]))
    return _multiply(left, right, None, "cdot")


def _window(ctx: Context) -> Mat | None:
    """The k inputs output ``ctx.output`` reads (zeros where it reads padding)."""
    if ctx.output is None:
        return None
    truth = ctx.truth
    row = truth.d.windows[ctx.output]
    xs = truth.d.symbols.x
    return _vector([xs[t] if t is not None else Integer(0) for t in row], free=True, tag="window")


def _windowed(left: Value, right: Value, ctx: Context) -> tuple[Value, Value]:
    """Inside ŷ_i the plain input vector x times k weights means the window ŷ_i reads —
    also when x happens to have k entries (n = k with padding) or k = 1 (one weight)."""
    if ctx.output is None or not (isinstance(left, Mat) and isinstance(right, Mat)):
        return left, right
    k = ctx.truth.problem.k
    if left.tag == "x" and right.tag != "x" and right.is_vector and len(right.entries()) == k:
        return _window(ctx) or left, right
    if right.tag == "x" and left.tag != "x" and left.is_vector and len(left.entries()) == k:
        return left, _window(ctx) or right
    return left, right


_COMPARE = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "\\le": lambda a, b: a <= b,
    "\\leq": lambda a, b: a <= b,
    "\\leqslant": lambda a, b: a <= b,
    "\\ge": lambda a, b: a >= b,
    "\\geq": lambda a, b: a >= b,
    "\\geqslant": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
    "\\ne": lambda a, b: a != b,
    "\\neq": lambda a, b: a != b,
}


def _holds(condition: Tree[Token], ctx: Context) -> bool:
    """Does a branch's condition hold (``1 ≤ t − i + 1 ≤ k``, ``t ∈ {0, n+1}``,
    otherwise)?  Every side must be a number once the indices are bound."""
    if condition.data == "otherwise":
        return True
    parts = condition.children
    sides = [p for p in parts if isinstance(p, Tree)]
    relations = [str(p) for p in parts if isinstance(p, Token)]
    probe = ctx.child()
    probe.flags = []
    values = [_value(_eval(side, probe)) for side in sides]
    for (left, right), relation in zip(pairwise(values), relations):
        if relation in ("\\in", "\\notin"):
            members = right.entries() if isinstance(right, Mat) else [right]
            if not (isinstance(left, Expr) and left.is_number):
                raise EvalError("a case distinction on indices that are not bound")
            inside = any(left == member for member in members)
            if inside != (relation == "\\in"):
                return False
            continue
        a, b = _scalar(left), _scalar(right)
        if a is None or b is None or not (a.is_number and b.is_number):
            raise EvalError("a case distinction on indices that are not bound")
        if relation not in _COMPARE:
            raise EvalError(f"a condition with {relation}")
        if not _COMPARE[relation](a, b):
            return False
    return True


def _multiply(left: Value, right: Value, ctx: Context | None, op: str) -> Value:
    """A product with matrix rules; intended readings of loose notation are noted."""
    left, right = _fit_ones(left, right)
    if ctx is not None:
        left, right = _windowed(left, right, ctx)
    a, b = _scalar(left), _scalar(right)
    if a is not None and b is not None:
        return _check_size(Mul(a, b))
    if a is not None:
        assert isinstance(right, Mat)
        return Mat(right.m * a, free=right.free)
    if b is not None:
        assert isinstance(left, Mat)
        return Mat(left.m * b, free=left.free)
    assert isinstance(left, Mat) and isinstance(right, Mat)
    if ctx is not None and left.is_vector and right.is_vector:
        la, lb = len(left.entries()), len(right.entries())
        if la != lb:
            if "slice" in (left.tag, right.tag):
                # x_{1:3} against 2 weights: which entries are meant is unclear
                raise EvalError(
                    f"a range of {la if left.tag == 'slice' else lb} entries "
                    f"multiplied with a vector of {lb if left.tag == 'slice' else la}"
                )
    flags = ctx.flags if ctx is not None else []
    if left.is_vector and right.is_vector and len(left.entries()) == len(right.entries()):
        # the inner product of two vectors
        dot = Add(*[x * y for x, y in zip(left.entries(), right.entries())])
        (ra, ca), (rb, cb) = left.shape, right.shape
        n = len(left.entries())
        if n == 1 or left.free or right.free or (ra == 1 and cb == 1):
            return dot
        if ca == 1 and rb == 1:
            flags.append(
                f"a column times a row {_shape_text(left.shape)}·{_shape_text(right.shape)} "
                "is, as matrices, an outer product; the dot product is written "
                "aᵀb (a row times a column)"
            )
            return dot
        if op == "implicit":
            flags.append(
                f"two {'columns' if ca == 1 else 'rows'} side by side are not a matrix "
                "product; write aᵀb or a·b"
            )
        return dot
    options_a = [left.m] + ([left.m.T] if left.free else [])
    options_b = [right.m] + ([right.m.T] if right.free else [])
    for ma in options_a:
        for mb in options_b:
            if ma.shape[1] == mb.shape[0]:
                return Mat(ImmutableMatrix(ma * mb), free=left.free or right.free)
    sa, sb = _shape_text(left.shape), _shape_text(right.shape)
    if left.shape[0] == right.shape[0]:
        if left.tag == "matrix" and ctx is not None:
            # Wδ with W the layer's m×n matrix: the gradient goes back through Wᵀ
            ctx.mistakes.append(
                (
                    "transpose_missing",
                    f"transpose missing: the {sa} layer matrix times a {sb} vector is not "
                    "defined; the gradient flows back through its transpose (Wᵀδ)",
                )
            )
        else:
            flags.append(
                f"a {sa}·{sb} product is not defined; it is read as the transpose of the "
                "first factor times the second (a transpose is missing)"
            )
        return Mat(ImmutableMatrix(left.m.T * right.m), free=True)
    if left.shape[1] == right.shape[1]:
        flags.append(
            f"a {sa}·{sb} product is not defined; it is read as the first factor times the "
            "transpose of the second (a transpose is missing)"
        )
        return Mat(ImmutableMatrix(left.m * right.m.T), free=True)
    raise EvalError(f"a {sa}·{sb} product is not defined")


def _convolution(left: Value, right: Value, ctx: Context) -> Value | None:
    """``w * x`` (either order): the layer's output without bias; None if not w and x."""
    if not (isinstance(left, Mat) and isinstance(right, Mat)):
        return None
    tags = {left.tag, right.tag}
    if tags != {"x", "w"}:
        return None
    d = ctx.truth.d
    bias = {s: Integer(0) for s in d.symbols.bias_list()}
    return _vector([e.xreplace(bias) for e in d.yhat], free=True)


def _sequence_conv(left: Value, right: Value, token: str, ctx: Context) -> Value | None:
    """``a ⋆ b`` / ``a * b`` between two vectors that are not the layer's x and w.

    The mode is read from the lengths: a vector of the output's length with one of the
    kernel's whose full result has the input's length is the *full* mode (∂L/∂x = δ ∗ w),
    anything else the *valid* mode (∂L/∂w = x ⋆ δ).  ``⋆`` is the cross-correlation;
    ``*``, ``∗`` and ``⊛`` are the deep-learning cross-correlation in the valid
    mode and the true (flipped) convolution in the full mode, as derivations use them.
    """
    if not (isinstance(left, Mat) and isinstance(right, Mat)):
        return None
    if not (left.is_vector and right.is_vector):
        return None
    a, b = left.entries(), right.entries()
    sizes = _sizes(ctx)
    full = len(a) + len(b) - 1 == sizes["n"] and {len(a), len(b)} <= {sizes["m"], sizes["k"]}
    if not full and len(a) < len(b):
        return None
    if full:
        kernel = b if token == r"\star" else list(reversed(b))  # correlation: no flip
        padded = [Integer(0)] * (len(kernel) - 1) + list(a) + [Integer(0)] * (len(kernel) - 1)
        a = padded
        b = kernel
    out = [Add(*[a[i + j] * b[j] for j in range(len(b))]) for i in range(len(a) - len(b) + 1)]
    return _vector(out, free=True)


def _reversed(value: Value) -> Value:
    """``rot180(w)``, ``flip(w)``: the entries in reverse order."""
    if not isinstance(value, Mat) or not value.is_vector:
        raise EvalError("rot180/flip of something that is not a vector")
    return _vector(list(reversed(value.entries())), free=True)


_FLIPS = {"text:rot180", "text:rot_{180}", "text:flip", "text:rot", "text:reverse"}


def _added_terms(tree: Tree[Token]) -> list[Tree[Token]]:
    """The terms of a chain of ``+`` (left to right); a ``−`` ends the chain."""
    terms: list[Tree[Token]] = []
    node = tree
    while node.data == "add":
        first, second = _subtrees(node)
        terms.append(second)
        node = first
    terms.append(node)
    return terms[::-1]


def _and_so_on(items: list[Tree[Token]]) -> list[Tree[Token]]:
    """``δ_1, …, δ_4`` → δ_1, δ_2, δ_3, δ_4: a ``…`` between two entries of one name with
    numbered indices stands for the entries between them ("and so on")."""
    if not any(item.data == "dots" for item in items):
        return items
    out: list[Tree[Token]] = []
    for position, item in enumerate(items):
        if item.data != "dots":
            out.append(item)
            continue
        if not 0 < position < len(items) - 1:
            raise EvalError("`…` at the end of a vector")
        out.extend(_between(items[position - 1], items[position + 1]))
    return out


def _differing_numbers(
    left: Tree[Token] | Token, right: Tree[Token] | Token, path: tuple[int, ...] = ()
) -> list[tuple[tuple[int, ...], int, int]] | None:
    """Where ``left`` and ``right`` differ: (path, number in left, number in right) for
    each differing whole number, or None when they differ in anything else."""
    if isinstance(left, Token) or isinstance(right, Token):
        return [] if left == right else None
    if left.data != right.data or len(left.children) != len(right.children):
        return None
    if left.data == "number":
        low, high = str(left.children[0]), str(right.children[0])
        if low == high:
            return []
        return [(path, int(low), int(high))] if low.isdigit() and high.isdigit() else None
    found: list[tuple[tuple[int, ...], int, int]] = []
    for position, (a, b) in enumerate(zip(left.children, right.children)):
        if a == b:
            continue
        inner = _differing_numbers(a, b, (*path, position))
        if inner is None:
            return None
        found.extend(inner)
    return found


def _with_numbers(tree: Tree[Token], numbers: dict[tuple[int, ...], int]) -> Tree[Token]:
    """``tree`` with the numbers at the given paths replaced."""
    if () in numbers:
        return Tree("number", [Token("NUMBER", str(numbers[()]))])
    children: list[Tree[Token] | Token] = []
    for position, child in enumerate(tree.children):
        below = {p[1:]: v for p, v in numbers.items() if p and p[0] == position}
        children.append(_with_numbers(child, below) if below and isinstance(child, Tree) else child)
    return Tree(tree.data, children)


def _between(left: Tree[Token], right: Tree[Token]) -> list[Tree[Token]]:
    """The entries a ``…`` stands for between ``left`` and ``right``: every index that
    differs counts up (or down) by one per entry, all in step (δ₁w₃ + … + δ₃w₁)."""
    found = _differing_numbers(left, right)
    if not found:
        raise EvalError("`…` between entries that do not count an index")
    spans = {abs(b - a) for _, a, b in found}
    if len(spans) != 1 or 0 in spans:
        raise EvalError("`…` between entries whose indices do not count in step")
    span = spans.pop()
    if span > MAX_ONES:
        raise EvalError(f"`…` standing for more than {MAX_ONES} entries")
    return [
        _with_numbers(left, {p: a + t * (1 if b > a else -1) for p, a, b in found})
        for t in range(1, span)
    ]


def _matrix(rows: list[Tree[Token]], ctx: Context) -> Mat:
    cells: list[list[Expr]] = []
    singles = [[c for c in row.children if isinstance(c, Tree)] for row in rows]
    if all(len(cells_of) == 1 for cells_of in singles):
        # a column written with \vdots: the rows between two numbered entries
        column = _and_so_on([cells_of[0] for cells_of in singles])
        rows = [Tree("mrow", [cell]) for cell in column]
    for row in rows:
        entries: list[Expr] = []
        for cell in [c for c in row.children if isinstance(c, Tree)]:
            value = _scalar(_eval(cell, ctx))
            if value is None:
                raise EvalError("a matrix inside a matrix")
            entries.append(value)
        cells.append(entries)
    width = len(cells[0])
    if any(len(r) != width for r in cells):
        raise EvalError("matrix rows of different lengths")
    return Mat(ImmutableMatrix(cells))


def _norm(value: Value, *, squared: bool) -> Expr:
    entries = value.entries() if isinstance(value, Mat) else [value]
    total = Add(*[e**2 for e in entries])
    if squared:
        return total
    if len(entries) == 1:
        return Abs(entries[0])
    return sqrt(total)


def _power(base: Value, exponent: Expr, ctx: Context) -> Value:
    if isinstance(base, Mat):
        raise EvalError("a power of a matrix")
    if not exponent.is_number:
        raise EvalError("a symbolic exponent")
    if not (exponent.is_Integer or exponent == Rational(1, 2) or exponent == Rational(-1, 2)):
        raise EvalError("an exponent that is not an integer")
    size = abs(exponent)
    if not base.is_number and size > MAX_SYMBOLIC_POWER:
        raise EvalError(f"a power above {MAX_SYMBOLIC_POWER} of a symbolic base")
    if base.is_number and base.is_Rational and size > 1:
        q = Rational(base)
        magnitude = max(abs(int(q.p)), abs(int(q.q)), 1)
        if _math.log10(magnitude) * float(size) > MAX_DIGITS:
            raise EvalError("a number with more than 2000 digits")
    elif size > 4096:
        raise EvalError("an exponent above 4096")
    if base == 0 and exponent < 0:
        raise EvalError("a division by zero")
    return _check_size(Pow(base, exponent))


def _apply_sups(value: Value, sups: list[Tree[Token]], ctx: Context) -> Value:
    for script in sups:
        if script.data == "prime":
            raise EvalError("a prime on something that is not a parameter")
        arg = _arg(script)
        if _is_transpose(arg):
            if isinstance(value, Mat):
                value = Mat(value.m.T, free=value.free, tag=value.tag)
            continue  # the transpose of a scalar is itself
        exponent = _scalar(_eval(arg, ctx))
        if exponent is None:
            raise EvalError("a matrix exponent")
        value = _power(value, exponent, ctx)
    return value


def _index(tree: Tree[Token] | Token, ctx: Context) -> int:
    """An index: a number, a bound letter, or arithmetic on them (``2i-1``)."""
    tree = _inner(tree)
    if isinstance(tree, Tree) and tree.data == "letter":
        letter = str(tree.children[0])
        if letter in ctx.indices:
            return ctx.indices[letter]
        if letter in ctx.free:
            raise FreeIndex(letter)
        sizes = _sizes(ctx)
        if letter in sizes:
            return sizes[letter]
        raise FreeIndex(letter)
    if isinstance(tree, Tree) and tree.data == "scripted":
        size = _subscripted_size(tree, ctx)
        if size is not None:
            return size
    if isinstance(tree, Tree) and tree.data in (
        "add",
        "subtract",
        "mul",
        "imul",
        "neg",
        "number",
        "call",
        "mod",
    ):
        value = _eval_index_expr(tree, ctx)
        return value
    raise EvalError("an index that is not a number")


_SIZE_OF = {"y": "m", "out": "m", "o": "m", "x": "n", "in": "n", "w": "k", "h": "k"}


def _subscripted_size(tree: Tree[Token], ctx: Context) -> int | None:
    """``N_y``, ``L_{out}``, ``N_x``: the length of the quantity the subscript names."""
    primary = tree.children[0]
    subs = [c for c in tree.children[1:] if isinstance(c, Tree) and c.data == "sub"]
    if not (isinstance(primary, Tree) and primary.data == "letter" and len(subs) == 1):
        return None
    if str(primary.children[0]) not in ("N", "n", "L", "M", "m", "size:k", "size:m", "size:n"):
        return None
    word = _spelled(_arg(subs[0]))
    size = _SIZE_OF.get(word.replace(" ", "").lower()) if word else None
    return None if size is None else _sizes(ctx)[size]


def _sizes(ctx: Context) -> dict[str, int]:
    p = ctx.truth.problem
    n, k, m, s, pad, d = p.n, p.k, p.m, p.stride, p.padding, p.dilation
    return {"n": n, "k": k, "K": k, "m": m, "s": s, "p": pad, "d": d, "S": s, "P": pad, "D": d,
            # a capital bounding a sum, read by the binding as the size it counts
            "size:k": k, "size:m": m, "size:n": n}  # fmt: skip


def _eval_index_expr(tree: Tree[Token], ctx: Context) -> int:
    kids = [c for c in tree.children if isinstance(c, Tree)]
    kind = tree.data
    if kind == "number":
        value = _number(str(tree.children[0]))
        if not value.is_Integer or abs(value) > 10**6:
            raise EvalError("an index that is not a whole number")
        return int(value)
    if kind == "neg":
        return -_index(kids[0], ctx)
    if kind == "call" and len(kids) != 2:
        raise EvalError("an index that is not a number")
    a, b = _index(kids[0], ctx), _index(kids[1], ctx)  # 2(i-1): a call is a product
    if kind == "add":
        return a + b
    if kind == "subtract":
        return a - b
    if kind == "mod":
        if b <= 0:
            raise EvalError("a \\bmod by a number that is not positive")
        return a % b  # (i + j − 3) mod 4: circular indices
    return a * b


def _bigsum(trees: list[Tree[Token]], ctx: Context) -> Value:
    scripts, body = trees[:-1], trees[-1]
    letter: str | None = None
    low: int | None = None
    high: int | None = None
    for script in scripts:
        if script.data == "prime":
            raise EvalError("a prime on ∑")
        arg = _arg(script)
        if script.data == "sub":
            arg = _inner(arg)
            if isinstance(arg, Tree) and arg.data == "binding":
                letter = str(arg.children[0])
                low = _index(arg.children[1], ctx)
            elif isinstance(arg, Tree) and arg.data == "letter":
                letter = str(arg.children[0])
            else:
                raise EvalError("a ∑ without an index letter")
        else:
            high = _index(arg, ctx)
    if letter is None:
        raise EvalError("a ∑ without an index letter")
    bounded = high is not None
    if low is None and not bounded:
        # ∑ᵢ without limits: every i the body exists for (within the layer's sizes)
        sizes = _sizes(ctx)
        reach = sizes["n"] + 2 * sizes["p"] + sizes["k"] * sizes["d"] + sizes["m"] * sizes["s"]
        start, stop = ctx.truth.base - reach, ctx.truth.base + reach
    else:
        start = low if low is not None else ctx.truth.base
        stop = high if high is not None else start + MAX_SUM_TERMS - 1
    if stop - start + 1 > MAX_SUM_TERMS:
        raise EvalError(f"a ∑ of more than {MAX_SUM_TERMS} terms")
    total: Value | None = None
    for value in range(start, stop + 1):
        inner = ctx.child()
        inner.indices[letter] = value
        inner.strict = ctx.strict or not bounded
        inner.in_sum = True
        try:
            term = _value(_eval(body, inner))
        except OutOfRange:
            if bounded:
                raise
            if low is not None:
                break  # ∑_{i=1} without an upper limit: the leading run that exists
            continue
        total = term if total is None else _add(total, term)
    if total is None:
        raise EvalError("an empty ∑")
    return total


def _call(trees: list[Tree[Token]], ctx: Context) -> Value:
    callee, rest = trees[0], trees[1:]
    args = [t for t in rest if t.data not in ("sub", "sup", "prime")]
    scripts = [t for t in rest if t.data in ("sub", "sup", "prime")]
    found = _callee_name(callee)
    if found in _LOSS_NAMES and found not in ctx.env:
        # L(ŷ, y), L(w): the loss, when its arguments are the quantities it depends on
        _loss_arguments(args, ctx)
        return _apply_sups(_value(_eval(callee, ctx)), scripts, ctx)
    if found in _CONV_CALLS and len(args) == 2 and found not in ctx.env:
        # conv1d(x, w): the layer's output without its bias
        left, right = (_value(_eval(a, ctx)) for a in args)
        conv = _convolution(left, right, ctx)
        if conv is None:
            raise EvalError(f"`{found.removeprefix('text:')}` of something that is not x and w")
        return _apply_sups(conv, scripts, ctx)
    if found in _FLIPS and len(args) == 1 and found not in ctx.env:
        return _apply_sups(_reversed(_value(_eval(args[0], ctx))), scripts, ctx)
    head = _eval(callee, ctx)
    if len(args) != 1 and found is None and not isinstance(head, (DerivOp, PartialOf)):
        # ½(2, −2, 4): a number times a vector written as a tuple
        vector = _vector([_scalar_or_fail(_value(_eval(a, ctx))) for a in args], free=True)
        return _multiply(_value(head), _apply_sups(vector, scripts, ctx), ctx, "implicit")
    if len(args) != 1:
        raise EvalError("a function of several arguments that is not the loss")
    group = _apply_sups(_value(_eval(args[0], ctx)), scripts, ctx)
    if isinstance(head, DerivOp):
        return _derivative_of(args[0], head.den, ctx)
    return _multiply(_value(head), group, ctx, "implicit")


def _scalar_or_fail(value: Value) -> Expr:
    scalar = _scalar(value)
    if scalar is None:
        raise EvalError("a tuple of matrices")
    return scalar


# the quantities the loss may be written as a function of: L(ŷ, y), L(w, b), L(x, w, b, y)
_LOSS_ARGUMENTS = ("hat:y", "y", "x", "w", "b")


def _loss_arguments(args: list[Tree[Token]], ctx: Context) -> None:
    """Refuse ``L(ŷ, y + 1000)``: every argument of the loss must be one of the quantities
    it depends on (ŷ, y, x, w, b, whole or one entry), at the current step; the loss is the
    problem's, so any other argument would be silently ignored."""
    allowed: list[Expr] = []
    for key in _LOSS_ARGUMENTS:
        try:
            value = _quantity(key, None, _scratch(ctx))
        except EvalError:
            continue
        allowed.extend(value.entries() if isinstance(value, Mat) else [value])
    for position, arg in enumerate(args, start=1):
        try:
            value = _value(_eval(arg, _scratch(ctx)))
        except EvalError as exc:
            raise EvalError(f"argument {position} of the loss cannot be read ({exc})") from None
        entries = value.entries() if isinstance(value, Mat) else [value]
        if not entries or any(entry not in allowed for entry in entries):
            raise EvalError(
                f"argument {position} of the loss is not a quantity it depends on "
                "(ŷ, y, x, w or b at this step); the loss is the problem's"
            )


def _scratch(ctx: Context) -> Context:
    """A context like ``ctx`` whose flags, marks and strangers are thrown away."""
    return Context(
        truth=ctx.truth,
        step=ctx.step,
        output=ctx.output,
        env=ctx.env,
        indices=dict(ctx.indices),
    )


def _callee_name(tree: Tree[Token]) -> str | None:
    if tree.data == "scripted":
        tree = tree.children[0] if isinstance(tree.children[0], Tree) else tree
    found = name_key(tree)
    return found[0] if found else None


def _scripted(primary: Tree[Token], scripts: list[Tree[Token]], ctx: Context) -> _Any:
    found = name_key(primary)
    if primary.data == "nabla":
        subs, sups = _script_parts(scripts)
        if len(subs) != 1 or sups:
            raise EvalError("∇ needs one subscript: ∇_w L")
        return DerivOp(Tree("partial", [_arg(subs[0])]))
    if found is None:
        value = _eval(primary, ctx)
        if isinstance(value, (DerivOp, PartialOf)):
            raise EvalError("scripts on a derivative operator")
        subs, sups = _script_parts(scripts)
        if primary.data == "norm":
            # ‖v‖₂² is the sum of squares; the subscript names the norm
            square = [s for s in sups if s.data == "sup" and _is_two(_arg(s))][:1]
            inner_tree = next(c for c in primary.children if isinstance(c, Tree))
            result: Value = _norm(_value(_eval(inner_tree, ctx)), squared=bool(square))
            return _apply_sups(result, [s for s in sups if s not in square], ctx)
        pair = _index_pair(subs)
        if pair is not None and isinstance(value, Mat) and not value.is_vector:
            # (M)_{it}: an entry of a matrix (W = (…) put in for W)
            return _apply_sups(_entry_of(value, pair, "the matrix", ctx), sups, ctx)
        for script in subs:
            if isinstance(value, Mat) and value.tag == "ones":
                # 1_m: the vector of m ones
                size = _index(_arg(script), ctx)
                if not 1 <= size <= MAX_ONES:
                    raise EvalError(
                        f"a vector of ones of size {size} (at most {MAX_ONES} are read)"
                    )
                value = Mat(ImmutableMatrix(size, 1, [value.m[0]] * size), free=True)
                continue
            # (v)_i: an entry of a vector
            if not isinstance(value, Mat) or not value.is_vector:
                raise EvalError("a subscript on something that is not a vector")
            position = _index(_arg(script), ctx) - ctx.truth.base
            entries = value.entries()
            if not 0 <= position < len(entries):
                if ctx.strict:
                    raise OutOfRange("an entry beyond the end of a vector")
                if ctx.in_sum:
                    value = Integer(0)  # (ŷ − y)_i beyond the end inside a sum: a zero term
                    continue
                raise EvalError("an entry beyond the end of a vector")
            value = entries[position]
        primes = [script for script in sups if script.data == "prime"]
        result = _value(value)
        if len(primes) == 1:
            # (W)' with W spelled in w: its value after the update
            result = _at_offset(result, 1, ctx)
            sups = [script for script in sups if script.data != "prime"]
        return _apply_sups(result, sups, ctx)
    key, inner_scripts = found
    return _name(key, inner_scripts + scripts, ctx)


def _name(key: str, scripts: list[Tree[Token]], ctx: Context) -> _Any:
    """The value of a name with its sub/superscripts (index, step, transpose, power)."""
    subs, sups = _script_parts(scripts)
    size = _size_name(key, subs, ctx)
    if size is not None:
        return _apply_sups(size, sups, ctx)
    step = ctx.step
    stepped = False
    powers: list[Tree[Token]] = []
    for script in sups:
        # a document's own name takes a prime as its value after the step (W' of W = (w…))
        env_prime = key in ctx.env and script.data == "prime"
        mark = _step_mark(script, ctx) if key not in ctx.env or env_prime else None
        if mark is not None and not stepped:
            step, stepped = mark, True
            ctx.marks.append(mark)
        else:
            powers.append(script)
    entry = _matrix_entry(key, subs, ctx)
    if entry is not None:
        return _apply_sups(entry, powers, ctx)
    index: int | None = None
    window: tuple[int, int] | None = None
    general = False  # the index is written with a free or summed letter (w_{t-i+1})
    for arg in _sub_parts(subs):
        word = _spelled(arg)
        # a bound index letter (x_t inside ∑_t) and the size k (w_k) are indices
        as_mark = key not in ctx.env and word not in ctx.indices and word not in _SIZE_LETTERS
        as_mark = as_mark and not (key == "x" and word == "t")  # x_t: the input at t
        mark = _step_word(arg, ctx) if as_mark else None
        if mark is not None:
            ctx.marks.append(mark)
            if mark != ctx.step:
                step, stepped = mark, True
            continue
        if key == "y" and word is not None and word.replace(" ", "") in _PREDICTION_WORDS:
            key = "hat:y"  # y_{pred}: the prediction ŷ
            continue
        if key in _LOSS_NAMES and key not in ctx.env and _is_word(arg, word):
            continue  # L_{MSE}, \mathcal{L}_{\text{train}}: a name for the loss, not an index
        if index is not None or window is not None:
            raise EvalError("two indices on one name")
        inner = _inner(arg)
        if isinstance(inner, Tree) and inner.data == "slice":
            low, high = (c for c in inner.children if isinstance(c, Tree))
            window = (_index(low, ctx), _index(high, ctx))
            continue
        index = _index(arg, ctx)
        general = general or _mentions(arg, ctx.indices)
    if window is not None:
        return _apply_sups(_slice(key, window, step, ctx), powers, ctx)
    if ctx.capture:
        ctx.captured = max(ctx.captured, step - ctx.step)
        offset = 0
    else:
        offset = step - ctx.step
    if general and not ctx.in_sum:
        # w_{t−i+1} for every i and t: the kernel is 0 outside its taps, as in a sum
        ctx = ctx.child()
        ctx.in_sum = True
    value = _quantity(key, index, ctx)
    if offset == 1 and key in ("w", "b") and key not in ctx.env:
        value = _updated(key, index, ctx)  # θ − α·∂L/∂θ, with the placeholders ŷᵢ kept
    elif offset:
        value = _at_offset(value, offset, ctx)
    return _apply_sups(value, powers, ctx)


_SIZE_WORDS = {"K": "k", "S": "s", "P": "p", "D": "d", "text:padding": "p",
               "text:stride": "s", "text:dilation": "d", "text:kernel_size": "k",
               "text:kernel\\_size": "k"}  # fmt: skip
_PADDED = {"tilde:x", "text:x_pad", "text:x_padded", "text:input_padded", "text:input_pad"}
_CONV_CALLS = {"text:conv1d", "text:conv", "text:corr", "text:xcorr", "text:conv1D",
               "text:correlate", "text:Conv1d"}  # fmt: skip
_SIZE_NAMES = {"n": {"in": "n", "out": "m"}, "m": {"out": "m"}, "N": {"in": "n", "out": "m"},
               "L": {"in": "n", "out": "m"}, "l": {"in": "n", "out": "m"}}  # fmt: skip


def _size_name(key: str, subs: list[Tree[Token]], ctx: Context) -> Expr | None:
    """``n_{out}``, ``L_{in}`` (PyTorch's names), ``m_{out}``: a size of the layer."""
    if key not in _SIZE_NAMES or key in ctx.env or len(subs) != 1:
        return None
    word = _spelled(_arg(subs[0]))
    spelled = word.replace(" ", "").lower() if word is not None else ""
    size = _SIZE_NAMES[key].get(spelled)
    if size is None and key in ("N", "L", "M", "n"):
        size = _SIZE_OF.get(spelled)  # N_y, N_x, M_h: the length of y, x, h
    return None if size is None else Integer(_sizes(ctx)[size])


def _mentions(arg: Tree[Token] | Token, letters: dict[str, int]) -> bool:
    """Does the index expression ``arg`` use one of the bound letters (not a number)?"""
    if isinstance(arg, Token):
        return False
    if arg.data == "letter":
        return str(arg.children[0]) in letters
    return any(_mentions(child, letters) for child in arg.children if isinstance(child, Tree))


def _is_word(arg: Tree[Token] | Token, word: str | None) -> bool:
    """A subscript that is a word (``MSE``, ``\\text{train}``), not an index."""
    inner = _inner(arg)
    if isinstance(inner, Tree) and inner.data == "text":
        return True
    return word is not None and len(word) > 1 and word.isalpha()


_ATOM_INDEX = ("letter", "number")


def _index_pair(subs: list[Tree[Token]]) -> list[Tree[Token]] | None:
    """The two indices of ``_{it}`` or ``_{i,t}`` (None for anything else)."""
    if len(subs) != 1:
        return None
    arg = _inner(_arg(subs[0]))
    if not isinstance(arg, Tree) or arg.data not in ("subtuple", "imul"):
        return None
    pair = [c for c in arg.children if isinstance(c, Tree)]
    if arg.data == "imul" and not all(p.data in _ATOM_INDEX for p in pair):
        return None
    return pair if len(pair) == 2 else None


def _entry_of(matrix: Mat, pair: list[Tree[Token]], what: str, ctx: Context) -> Expr:
    row, column = (_index(p, ctx) - ctx.truth.base for p in pair)
    rows, columns = matrix.shape
    if not (0 <= row < rows and 0 <= column < columns):
        if ctx.strict:
            raise OutOfRange(f"{what} has no entry ({row}, {column})")
        base = ctx.truth.base
        raise EvalError(f"{what} has no entry ({row + base}, {column + base})")
    entry: Expr = matrix.m[row, column]
    return entry


def _matrix_entry(key: str, subs: list[Tree[Token]], ctx: Context) -> Expr | None:
    """``W_{it}``, ``W_{i,t}``: the entry of a matrix (the document's own, or the layer's
    banded and window matrices) at row i, column t; None when ``key`` is no matrix or the
    subscript is not two indices."""
    pair = _index_pair(subs)
    if pair is None:
        return None
    matrix: Mat | None = None
    value = ctx.env.get(key)
    if isinstance(value, Mat):
        matrix = value
    elif key in ("text:jac:x", "text:jac:w"):
        found = _quantity(key, None, ctx)
        matrix = found if isinstance(found, Mat) else None
    if matrix is None or matrix.is_vector:
        return None
    return _entry_of(matrix, pair, f"`{key.split(':')[-1]}`", ctx)


def _sub_parts(subs: list[Tree[Token]]) -> list[Tree[Token] | Token]:
    """The arguments of the subscripts, ``_{1,new}`` read as two (``1`` and ``new``)."""
    parts: list[Tree[Token] | Token] = []
    for script in subs:
        arg = _arg(script)
        if isinstance(arg, Tree) and arg.data == "subtuple":
            parts.extend(c for c in arg.children if isinstance(c, Tree))
        else:
            parts.append(arg)
    return parts


def _slice(key: str, window: tuple[int, int], step: int, ctx: Context) -> Mat:
    """``x_{i:i+2}``: the entries ``x_i … x_{i+2}`` (both ends included) as a column."""
    low, high = window
    if high < low or high - low >= MAX_SUM_TERMS:
        raise EvalError("an empty or reversed range of indices")
    entries: list[Expr] = []
    for position in range(low, high + 1):
        value = _name_entry(key, position, step, ctx)
        if isinstance(value, Mat):
            raise EvalError("a range of a matrix")
        entries.append(value)
    return _vector(entries, free=True, tag="slice")


def _name_entry(key: str, index: int, step: int, ctx: Context) -> Value:
    offset = 0 if ctx.capture else step - ctx.step
    value = _quantity(key, index, ctx)
    if offset == 1 and key in ("w", "b") and key not in ctx.env:
        return _updated(key, index, ctx)
    if offset:
        return _at_offset(value, offset, ctx)
    return value


def _updated(key: str, index: int | None, ctx: Context) -> Value:
    d = ctx.truth.d
    updates = d.w_next if key == "w" else d.b_next
    if updates is None:
        raise EvalError("the problem has no bias to update")
    if key == "b" and ctx.truth.problem.bias == "shared":
        return updates[0]
    if index is None:
        if key == "b" and ctx.output is not None:
            return updates[ctx.output]
        return _vector(list(updates), free=True)
    position = index - ctx.truth.base
    if not 0 <= position < len(updates):
        raise EvalError(f"{key}_{index} does not exist")
    return updates[position]


def _at_offset(value: Value, offset: int, ctx: Context) -> Value:
    truth = ctx.truth
    try:
        if isinstance(value, Mat):
            shifted = value.m.applyfunc(lambda e: truth.shift(e, offset, ctx.step))
            return Mat(ImmutableMatrix(shifted), free=value.free)
        return truth.shift(value, offset, ctx.step)
    except LookupError as exc:
        raise EvalError(str(exc)) from None


def _family(ctx: Context, key: str) -> tuple[Symbol, ...] | None:
    sym = ctx.truth.d.symbols
    if key == "x":
        return sym.x
    if key == "w":
        return sym.w
    if key == "y":
        return sym.y
    if key == "hat:y":
        return sym.yhat
    return None


def _member(ctx: Context, key: str, stem: str, family: tuple[Symbol, ...], index: int) -> Expr:
    """The ``index``-th (document numbering) symbol of a family, padding or a stranger."""
    position = index - ctx.truth.base
    if 0 <= position < len(family):
        return family[position]
    problem = ctx.truth.problem
    if (
        key == "x"
        and problem.padding
        and -problem.padding <= position < len(family) + problem.padding
    ):
        if problem.padding_mode == "circular":
            return family[position % len(family)]
        return Integer(0)  # a zero of the padding
    if ctx.strict:
        raise OutOfRange(f"{stem}_{index} does not exist")  # (an unbounded ∑ skips the term)
    if ctx.in_sum and key in ("w", "hat:y", "y"):
        # Σᵢ δᵢ w_{m−i+1}: terms whose kernel tap or output lies outside are 0
        return Integer(0)
    stranger = Symbol(f"{stem}{position + 1}", real=True)  # named like the problem's symbols
    ctx.nonexistent.add(stranger)
    return stranger


def _quantity(key: str, index: int | None, ctx: Context) -> Value:
    """The problem's quantity named ``key`` (entry ``index`` if given), at the current step."""
    truth = ctx.truth
    if key in ctx.env:
        value = ctx.env[key]
        if index is None:
            return value
        if isinstance(value, Mat) and value.is_vector:
            entries = value.entries()
            position = index - truth.base
            if 0 <= position < len(entries):
                return entries[position]
            if ctx.strict:
                raise OutOfRange(f"`{key}` has no entry {index}")
        raise EvalError(f"`{key}` has no entry {index}")
    stems = {"x": "x", "w": "w", "y": "y", "hat:y": "yhat"}
    family = _family(ctx, key)
    if family is not None:
        if index is None:
            return _vector(list(family), free=True, tag=key if key in ("x", "w") else None)
        return _member(ctx, key, stems[key], family, index)
    if key == "b":
        return _bias(index, ctx)
    if key in _LOSS_NAMES:
        if index is not None:
            raise EvalError(f"an index on the loss `{key}`")
        loss: Expr = truth.d.loss_of_yhat
        return loss
    if key in _RATE_NAMES:
        lr: Expr = truth.problem.lr
        return lr
    if len(key) == 1 and key in ctx.indices:
        return Integer(ctx.indices[key])
    if key in ("m", "n", "k", "s", "p", "d") and index is None:
        return Integer(_sizes(ctx)[key])  # 1/m of the mean, the sizes of the layer
    if key == "N" and index is None:
        return Integer(_sizes(ctx)["m"])  # 1/N of the mean: the number of outputs
    if key in _SIZE_WORDS and index is None:
        return Integer(_sizes(ctx)[_SIZE_WORDS[key]])
    if key in _PADDED and key not in ctx.env:
        # x̃, x_{pad}: the input with its padding, (0, x₁, …, xₙ, 0) for p = 1
        xs = list(truth.d.symbols.x)
        p = truth.problem.padding
        if truth.problem.padding_mode == "circular":
            padded = xs[len(xs) - p :] + xs + xs[:p] if p else xs
        else:
            padded = [Integer(0)] * p + xs + [Integer(0)] * p
        if index is None:
            return _vector(list(padded), free=True)
        position = index - truth.base
        if 0 <= position < len(padded):
            return padded[position]
        if ctx.strict:
            raise OutOfRange(f"the padded input has no entry {index}")
        if ctx.in_sum:
            return Integer(0)
        raise EvalError(f"the padded input has no entry {index}")
    if key in ("text:jac:x", "text:jac:w"):
        # the banded (Toeplitz) matrix W = ∂ŷ/∂x, the window matrix X = ∂ŷ/∂w
        d = truth.d
        family = d.symbols.x if key.endswith("x") else d.symbols.w
        rows = [[diff(out, v) for v in family] for out in d.yhat]
        matrix = Mat(ImmutableMatrix(rows), tag="matrix")
        if index is not None:
            raise EvalError(f"one index on the matrix `{key}`")
        return matrix
    raise Unknown(key.split(":")[-1])


def _bias(index: int | None, ctx: Context) -> Value:
    truth = ctx.truth
    problem = truth.problem
    sym = truth.d.symbols
    if problem.bias == "none":
        stranger = Symbol("b" if index is None else f"b{index}", real=True)
        ctx.nonexistent.add(stranger)
        return stranger
    if problem.bias == "shared":
        assert isinstance(sym.b, Symbol)
        if index is not None:
            ctx.flags.append("the bias is shared (one b for every output): it has no index")
        return sym.b
    assert isinstance(sym.b, tuple)
    if index is not None:
        return _member(ctx, "b", "b", sym.b, index)
    if ctx.output is not None:
        return sym.b[ctx.output]  # the untied bias of the i-th output, written plain b
    return _vector(list(sym.b), free=True)


# ---------------------------------------------------------------------------------------
# derivatives


def _d_of(tree: Tree[Token]) -> Tree[Token] | None:
    """``dL`` or ``\\mathrm{d}w_1`` (the d of a derivative): what follows the d, else None."""
    if tree.data != "imul":
        return None
    first, rest = (c for c in tree.children if isinstance(c, Tree))
    word = _spelled(first) if first.data in ("letter", "text") else None
    return rest if word == "d" else None


def _frac(top: Tree[Token], bottom: Tree[Token], ctx: Context) -> _Any:
    d_top, d_bottom = _d_of(_inner_tree(top)), _d_of(_inner_tree(bottom))
    if d_top is not None and d_bottom is not None:
        # dL/dw written with an upright or italic d: the same derivative as ∂L/∂w
        return _derivative(d_top, d_bottom, ctx)
    numerator = _eval(top, ctx)
    if isinstance(numerator, PartialOf):
        denominator = _eval(bottom, ctx)
        if not isinstance(denominator, PartialOf) or denominator.tree is None:
            raise EvalError("∂ over something that is not ∂ of a variable")
        if numerator.tree is None:
            return DerivOp(Tree("partial", [denominator.tree]))
        return _derivative(numerator.tree, denominator.tree, ctx)
    num = _value(numerator)
    den = _scalar(_eval(bottom, ctx))
    if den is None:
        raise EvalError("a fraction with a matrix below")
    return _divide(num, den)


def _derivative_of(target: Tree[Token], den: Tree[Token], ctx: Context) -> Value:
    wrt = den.children[0] if den.children else None
    if not isinstance(wrt, Tree):
        raise EvalError("∂ of nothing")
    return _derivative(target, wrt, ctx)


def _names_of(tree: Tree[Token]) -> set[str]:
    """The name keys in ``tree`` (``∂ŷ_{k-1}`` → {hat:y})."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        key = name_key(node)
        if key is not None:
            found.add(key[0])
            continue
        stack.extend(c for c in node.children if isinstance(c, Tree))
    return found


def _variables(value: Value) -> list[Symbol]:
    entries = value.entries() if isinstance(value, Mat) else [value]
    if not all(isinstance(e, Symbol) for e in entries):
        raise EvalError("a derivative with respect to something that is not a variable")
    return [e for e in entries if isinstance(e, Symbol)]


def _derivative(num_tree: Tree[Token], den_tree: Tree[Token], ctx: Context) -> Value:
    """∂N/∂D from the truth, keeping ŷ as placeholders (chain rule through the outputs)."""
    inner = ctx.child()
    inner.capture, inner.captured = True, 0
    inner.output = None
    numerator = _value(_eval(num_tree, inner))
    num_offset = inner.captured
    inner.captured = 0
    denominator = _value(_eval(den_tree, inner))
    if denominator == 0 and (ctx.in_sum or _names_of(den_tree) & {"hat:y", "w", "y"}):
        # ∂L/∂ŷ₀ inside a sum or a formula for every index: an output outside the range,
        # read as 0 (the zero extension), so its derivative is 0 — not a padded x₀, which
        # is no variable at all
        return Integer(0)
    if num_offset == 0 and inner.captured > 0:
        num_offset = inner.captured  # ∂L/∂w^{(1)}: the loss at the step of w^{(1)}
    if inner.captured != num_offset:
        raise EvalError("a derivative across two different steps")
    variables = _variables(denominator)
    if ctx.derivatives is not None:
        ctx.derivatives.append((numerator, variables, num_offset))
    truth = ctx.truth
    placeholders = truth.placeholders

    def d(expr: Expr, var: Symbol) -> Expr:
        if var in placeholders:
            return diff(expr, var)
        # ∂N/∂v = ∂N/∂v (direct) + Σ_i ∂N/∂ŷ_i · ∂ŷ_i/∂v
        total = diff(expr, var)
        for placeholder in expr.free_symbols & placeholders.keys():
            forward = placeholders[placeholder]
            total += diff(expr, placeholder) * diff(forward, var)
        result: Expr = total
        return result

    n_entries = numerator.entries() if isinstance(numerator, Mat) else [numerator]
    rows = [[d(n, v) for v in variables] for n in n_entries]
    value: Value
    if len(n_entries) == 1 and len(variables) == 1:
        value = rows[0][0]
    elif len(n_entries) == 1:
        value = _vector(rows[0], free=True)
    elif len(variables) == 1:
        value = _vector([r[0] for r in rows], free=True)
    else:
        value = Mat(ImmutableMatrix(rows), free=True)
    if num_offset:
        value = _at_offset(value, num_offset, ctx)
    return value
