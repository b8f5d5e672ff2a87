"""Judge a document equation by equation, each chain ``a = b = c`` link by link.

The left side names the quantity (``\\hat{y}_1``, ``\\frac{\\partial L}{\\partial w}``,
``w^{(1)}``): its truth comes from the problem.  Every later side is compared with that
truth.  A left side that is a new name (``X = …``) defines it for later equations; a
left side that is a parameter written with numbers (``w = [1.56 0.28 2]ᵀ``) either
matches the current step or the next one — then the document has moved on to the
updated weights, and so do the later equations.  Only such a parameter moves the step;
an equation without step marks that is wrong at the current step but right at an
earlier one (a recap of the gradient before the update) is right, read at that step.

One time budget covers an equation's parse, judgement and diagnosis.  The bound here
(:func:`time_bound`: ``SIGALRM`` on the main thread, a timer thread on any other) holds
between the bytecodes of Python code; :mod:`symconv.check.isolate` runs this module in
worker processes with hard limits (memory, CPU, a wall-clock kill) for any caller.

Example:
    >>> from symconv.check.document import read_equations
    >>> from symconv.check.truth import Truth
    >>> from symconv.problem import load_problem
    >>> equations = read_equations("$$\\\\hat{y}_1 = 14$$ $$\\\\hat{y}_2 = 21$$")
    >>> [j.verdict for j in judge_document(equations, Truth(load_problem("exercise2")))]
    ['correct', 'incorrect']
"""

from __future__ import annotations

import copy
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from lark import Token, Tree
from sympy import ImmutableMatrix, Symbol

from symconv.check.bind import MAX_INLINE_DEFINITIONS, Binding, infer, zero_based
from symconv.check.diagnose import Diagnosis, diagnose
from symconv.check.document import Equation
from symconv.check.evaluate import (
    Context,
    EvalError,
    FreeIndex,
    Mat,
    NoCase,
    OutOfRange,
    Unknown,
    Value,
    evaluate,
    name_key,
)
from symconv.check.match import compare, show
from symconv.check.parse import ParseFailure, parse_equation
from symconv.check.pretty import pretty
from symconv.check.quantity import Named, exact_strings, named_quantity
from symconv.check.rounding import MESSAGE as ROUNDING
from symconv.check.rounding import has_rounding, within_rounding
from symconv.check.scope import beyond, section_beyond
from symconv.check.truth import MAX_STEP, Truth

__all__ = [
    "REASONS",
    "VERDICTS",
    "DocState",
    "Judgement",
    "Link",
    "TimedOut",
    "begin_document",
    "judge_document",
    "judge_next",
    "reason_of",
    "time_bound",
]

VERDICTS = ("correct", "incorrect", "notation", "unchecked")
TIME_LIMIT = 2.0  # seconds per equation
MAX_INSTANCES = 50
_OK = ("correct", "notation")  # the verdicts of a right equation
# why an equation is unchecked (design.md's JSON contract, plus the limits of isolation)
REASONS = (
    "unsupported",
    "unreadable",
    "no claim",
    "timeout",
    "unbound symbol",
    "resource limit",
    "checker failure",
)


class TimedOut(BaseException):
    """The time bound of one equation passed.

    A BaseException, like KeyboardInterrupt: raised asynchronously (a timer thread, a
    signal) anywhere in SymPy, it must not be swallowed by the library's own
    ``except Exception`` fallbacks, which would leave the equation without a bound.
    """


@dataclass
class Link:
    """One side after the first, judged against the truth of the left side."""

    index: int  # 1 for the first right-hand side
    verdict: str
    message: str = ""
    written: str = ""
    expected: str = ""
    counterexample: str = ""
    flags: list[str] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    pending: Callable[..., Diagnosis | None] | None = None  # the diagnosis, when wanted


@dataclass
class Judgement:
    """The verdict on one equation (the JSON object of design.md, plus links)."""

    equation: Equation
    verdict: str
    message: str
    expected: str | None = None
    diagnosis: Diagnosis | None = None
    links: list[Link] = field(default_factory=list)
    pending: Callable[..., Diagnosis | None] | None = None  # diagnosed once it is kept
    key: tuple[str, int] | None = None  # the quantity on the left (its truth) and the step
    reason: str | None = None  # for ``unchecked``: one of REASONS (None: read from message)
    named: Named | None = None  # the quantity the left side names (for grading)
    value: str | list[str] | None = None  # the last side's value, exact, when a number


@dataclass
class DocState:
    """What the document has established so far: the step, its own names, and the
    quantities it has already stated rightly (``established``: truth and step)."""

    truth: Truth
    step: int = 0
    env: dict[str, Value] = field(default_factory=dict)
    time_limit: float = TIME_LIMIT
    established: set[tuple[str, int]] = field(default_factory=set)
    reached: int = 0  # the latest step whose values it has computed (``w^{(1)} = [1.56 …]``)
    mentioned: int = 0  # the latest step it has named (``w^{(1)} = w − α·∂L/∂w``), right or not
    binding: Binding = field(default_factory=Binding)  # which symbol plays which role
    trees: dict[str, Tree[Token]] = field(default_factory=dict)  # equations read, bound
    # names defined in a part beyond the layer (``ŷ^{(2)}`` of a channel section)
    beyond: set[str] = field(default_factory=set)
    beyond_symbols: set[str] = field(default_factory=set)  # s of s_i = σ(ŷ_i)


# An asynchronous TimedOut can be swallowed where Python reports and drops an exception
# (a gc callback, a __del__: "Exception ignored in ..."); it is raised again this many
# times, this far apart, while the bounded block is still running.
RETRIES = 3
RETRY_SECONDS = 0.25


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise :class:`TimedOut` in this thread after ``seconds`` (none: ``seconds <= 0``).

    On the main thread a ``SIGALRM`` timer; on any other thread (a library caller's,
    a pool's) a timer thread that raises :class:`TimedOut` asynchronously in this one
    (CPython's ``PyThreadState_SetAsyncExc``).  Either is seen between two bytecodes of
    Python code, never inside one long C call: the hard bounds (memory, CPU, a
    wall-clock kill) are the worker's of :mod:`symconv.check.isolate`.
    """
    if seconds <= 0:
        yield
        return
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "SIGALRM"
    ):
        with _thread_bound(seconds):
            yield
        return

    fired = [0]

    def _expire(signum: int, frame: object) -> None:
        fired[0] += 1
        if fired[0] <= 1 + RETRIES:
            raise TimedOut

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, RETRY_SECONDS)  # again if swallowed
    try:
        yield
    finally:
        while True:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except TimedOut:  # a repeat that arrived while disarming: disarm again
                continue


def _raise_in(thread: int, exception: type[BaseException] | None) -> bool:
    """Make ``exception`` pending in thread ``thread`` (None: clear a pending one)."""
    import ctypes

    try:
        function = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except AttributeError:  # not CPython: no bound off the main thread
        return False
    argument = None if exception is None else ctypes.py_object(exception)
    return int(function(ctypes.c_ulong(thread), argument)) == 1


@contextmanager
def _thread_bound(seconds: float) -> Iterator[None]:
    """:func:`time_bound` off the main thread: a timer raises TimedOut in this thread.

    The lock makes the timer and the end of the block exclusive: once the block has
    ended no TimedOut can arrive, and one made pending but not yet raised is cleared.
    While the block runs on, TimedOut is raised again (:data:`RETRIES`).
    """
    thread = threading.get_ident()
    lock = threading.Lock()
    state = {"open": True, "fired": False}

    def expire() -> None:
        for _ in range(1 + RETRIES):
            with lock:
                if not state["open"]:
                    return
                state["fired"] = _raise_in(thread, TimedOut) or state["fired"]
            time.sleep(RETRY_SECONDS)  # still open: the last one was swallowed

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.name = "symconv-time-bound"
    timer.start()
    try:
        yield
    finally:
        while True:
            try:
                timer.cancel()
                with lock:
                    state["open"] = False
                    if state["fired"]:
                        _raise_in(thread, None)  # raised already, or cleared here
                break
            except TimedOut:  # a repeat that arrived while closing: close again
                continue


def _zero_based(equations: list[Equation]) -> bool:
    """Does the document number from 0 (``w_0``, ``\\hat{y}_0``)?"""
    pattern = re.compile(r"(?:\b[wby]|\\hat\{y\}|\\hat\{\\mathbf\{y\}\})_\{?0\b")
    return any(pattern.search(e.latex) for e in equations)


_PROSE_CHARS = 200_000  # the binder reads the words of at most this much of a document
MAX_BINDING_EQUATIONS = 400  # the binding is inferred from at most this many equations
BINDING_SECONDS = 2.0  # and within this time (else the checker's own names are used)


def judge_document(
    equations: list[Equation], truth: Truth, *, time_limit: float = TIME_LIMIT
) -> list[Judgement]:
    """Judge every equation in order (definitions and step changes carry forward)."""
    state = begin_document(equations, truth, time_limit=time_limit)
    if isinstance(state, list):
        return state
    return [judge_next(equation, state) for equation in equations]


def begin_document(
    equations: list[Equation],
    truth: Truth,
    *,
    time_limit: float = TIME_LIMIT,
    text: str = "",
    said: list[str] | None = None,
) -> DocState | list[Judgement]:
    """The state to judge ``equations`` in, or their judgements if none can be judged.

    ``text`` is the document's prose; ``said`` its inline equations with macros expanded
    (None: they are read from ``text``)."""
    layer = truth.problem.layer
    if not layer.is_single or not truth.problem.loss_spec.has_target:
        # the checker reads 1-D one-channel derivations with a loss; anything else is
        # said to be outside what it judges, never judged wrongly
        what = layer.describe() if not layer.is_single else "an upstream gradient (no loss)"
        return [
            Judgement(
                equation,
                "unchecked",
                f"unchecked: unsupported: a layer of {what}",
                reason="unsupported",
            )
            for equation in equations
        ]
    # the binding is read from the first equations (a document states its notation early);
    # the rest are parsed and bound one by one, inside each equation's budget
    trees: dict[str, Tree[Token]] = {}
    for equation in equations:
        if len(trees) >= MAX_BINDING_EQUATIONS:
            break
        if equation.latex not in trees:
            try:
                trees[equation.latex] = parse_equation(equation.latex)
            except (ParseFailure, RecursionError):
                continue
    try:
        with time_bound(BINDING_SECONDS):
            binding = infer(
                list(trees.values()),
                dict(truth.problem.notation),
                text[:_PROSE_CHARS],
                said=None if said is None else said[:MAX_INLINE_DEFINITIONS],
            )
            trees = {latex: binding.apply(tree) for latex, tree in trees.items()}
    except (TimedOut, RecursionError):
        binding, trees = Binding(), {}  # the checker's own names; each equation parsed alone
    base = binding.index_base
    if base is None and (_zero_based(equations) or zero_based(trees.values())):
        base = binding.index_base = 0
    if base is not None and base != truth.base:
        truth = copy.copy(truth)  # the document's own numbering; the caller's truth is kept
        truth.base = base
    return DocState(truth=truth, time_limit=time_limit, binding=binding, trees=trees)


def judge_next(
    equation: Equation, state: DocState, *, seconds: float | None = None, diagnose: bool = True
) -> Judgement:
    """Judge the next equation of the document: parse, judgement and diagnosis within
    one budget of ``seconds`` (default ``state.time_limit``).

    A diagnosis cut short by the budget is left out (the verdict stands); an equation
    whose judgement is cut short is unchecked with the reason ``timeout``.
    """
    budget = state.time_limit if seconds is None else seconds
    if budget <= 0:
        return Judgement(
            equation, "unchecked", "unchecked: no time left in the budget", reason="timeout"
        )
    judgement: Judgement | None = None
    try:
        with time_bound(budget):
            judgement = _judge(equation, state)
            section = section_beyond(equation.heading)
            defines = judgement.message.startswith("defines")
            if section is not None and (judgement.verdict in ("incorrect", "unchecked") or defines):
                judgement = Judgement(
                    equation,
                    "unchecked",
                    f"unchecked: unsupported: {section}, beyond the problem's 1-D layer",
                    reason="unsupported",
                )
                _remember_beyond(equation, state)
            elif judgement.verdict == "unchecked" and _beyond_symbol(judgement.message, state):
                # a name defined through σ or tanh (s_i = σ(z_i)) brought the activation in
                judgement = Judgement(
                    equation,
                    "unchecked",
                    "unchecked: unsupported: it goes through an activation function, beyond "
                    "the problem's 1-D layer",
                    reason="unsupported",
                )
            elif judgement.verdict in ("incorrect", "unchecked"):
                used = _uses_beyond(equation, state)
                if used is not None:
                    judgement = Judgement(
                        equation,
                        "unchecked",
                        f"unchecked: unsupported: it uses {used}, defined in a part beyond the "
                        "problem's 1-D layer",
                        reason="unsupported",
                    )
            if diagnose:
                _diagnose(judgement)
    except TimedOut:
        if judgement is None:
            message = f"unchecked: timed out after {budget:.3g} s"
            judgement = Judgement(equation, "unchecked", message, reason="timeout")
    except RecursionError:
        judgement = Judgement(
            equation, "unchecked", "unchecked: nested too deeply", reason="unreadable"
        )
    judgement.pending = None  # a diagnosis not made in the budget is not made later
    if judgement.key is not None and judgement.verdict in _OK:
        state.established.add(judgement.key)
    return judgement


# a name with a superscript or a two-index subscript, as a left side writes it
_MARKED_NAME = re.compile(r"^\s*(\\[A-Za-z]+\s*\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|[A-Za-z])"
                          r"\s*(?:\^\s*\{\s*[(\[][^{}]{1,8}[)\]]\s*\})")


_UNKNOWN = re.compile(r"unknown symbol `([^`]{1,40})`")
_ACTIVATIONS = {"sigma", "tanh", "ReLU", "relu", "sigmoid", "softmax"}


def _beyond_symbol(message: str, state: DocState) -> bool:
    """Is the unknown symbol of an unchecked equation an activation (σ brought in by a
    definition) or a name defined beyond the layer (s_i = σ(ŷ_i))?"""
    found = _UNKNOWN.search(message)
    return found is not None and (
        found.group(1) in _ACTIVATIONS or found.group(1) in state.beyond_symbols
    )



def _remember_beyond(equation: Equation, state: DocState) -> None:
    """Remember the name an equation beyond the layer defines (``ŷ^{(2)}`` of a channel
    section): a later equation using it is beyond the layer too."""
    lhs = re.split(r":=|=|\\approx", equation.latex, maxsplit=1)[0]
    found = _MARKED_NAME.match(lhs)
    if found is not None and len(state.beyond) < 50:
        state.beyond.add(re.sub(r"\s+", "", found.group(0)))


def _uses_beyond(equation: Equation, state: DocState) -> str | None:
    if not state.beyond:
        return None
    text = re.sub(r"\s+", "", equation.latex)
    for name in state.beyond:
        if name in text:
            return pretty(name)
    return None


def _diagnose(judgement: Judgement) -> None:
    """Name the mistake of an incorrect equation (in what is left of its budget)."""
    pending, judgement.pending = judgement.pending, None
    if pending is None or judgement.verdict != "incorrect":
        return
    from sympy.matrices.exceptions import MatrixError

    try:
        judgement.diagnosis = pending()
    except (RecursionError, EvalError, MatrixError):  # no diagnosis; the verdict stands
        judgement.diagnosis = None


_REASON_WORDS = (
    ("unsupported", "unsupported"),
    ("timed out", "timeout"),
    ("unknown symbol", "unbound symbol"),
    ("not an equation", "no claim"),
    ("relation ", "no claim"),
)


def reason_of(judgement: Judgement) -> str | None:
    """Why ``judgement`` is unchecked (one of :data:`REASONS`), None if it is not.

    Example:
        >>> from symconv.check.document import Equation
        >>> reason_of(Judgement(Equation("a", None, 1), "unchecked", "unchecked: not an equation"))
        'no claim'
    """
    if judgement.verdict != "unchecked":
        return None
    if judgement.reason is not None:
        return judgement.reason
    message = judgement.message
    for words, reason in _REASON_WORDS:
        if words in message:
            return reason
    return "unreadable"  # outside the notation the checker reads, or beyond its limits


# ---------------------------------------------------------------------------------------


def _sides(tree: Tree[Token]) -> tuple[list[Tree[Token]], list[str]]:
    sides = [c for c in tree.children if isinstance(c, Tree)]
    relations = [str(c) for c in tree.children if isinstance(c, Token)]
    return sides, relations


def _lhs_name(lhs: Tree[Token]) -> tuple[str, bool] | None:
    """(key, has scripts) when the left side is a plain name."""
    primary, scripted = lhs, False
    if lhs.data == "scripted":
        primary, scripted = lhs.children[0], True  # type: ignore[assignment]
    if not isinstance(primary, Tree):
        return None
    found = name_key(primary)
    if found is None:
        return None
    return found[0], scripted or bool(found[1])


def _output_index(lhs: Tree[Token], ctx: Context) -> int | None:
    """The i of a left side ``\\hat{y}_i`` (0-based), else None."""
    probe = ctx.child()
    probe.capture = True
    probe.flags = []
    try:
        value = evaluate(lhs, probe)
    except EvalError:
        return None
    if isinstance(value, Symbol) and value in ctx.truth.placeholders:
        return ctx.truth.d.symbols.yhat.index(value)
    return None


def _judge(equation: Equation, state: DocState) -> Judgement:
    tree = state.trees.get(equation.latex)
    failure: ParseFailure | None = None
    if tree is None:
        try:
            tree = state.binding.apply(parse_equation(equation.latex))
        except ParseFailure as exc:
            failure = exc
    outside = beyond(equation.latex, tree, state.truth.problem)
    if outside is not None:
        if tree is not None:
            # s_i = σ(ŷ_i): s is a name beyond the layer too, wherever it is used later
            named = _lhs_name(_sides(tree)[0][0]) if _sides(tree)[0] else None
            if named is not None and len(state.beyond_symbols) < 50:
                state.beyond_symbols.add(named[0].split(":")[-1])
        return Judgement(
            equation, "unchecked", f"unchecked: unsupported: {outside}", reason="unsupported"
        )
    if tree is None:
        return Judgement(equation, "unchecked", f"unchecked: {failure}")
    sides, relations = _sides(tree)
    if len(sides) < 2:
        return Judgement(equation, "unchecked", "unchecked: not an equation (no `=`)")
    if relations and relations[0] in _ASSIGN:
        # w ← w − α·∂L/∂w: the left side is the parameter after the update
        sides = [_after_update(sides[0]), *sides[1:]]
        relations = ["=", *relations[1:]]
    lhs = sides[0]
    if _defines_operator(lhs):
        return Judgement(
            equation,
            "unchecked",
            "unchecked: no claim: it defines what the operator means, not a quantity of "
            "the layer",
            reason="no claim",
        )
    base = Context(truth=state.truth, step=state.step, env=state.env, free=_index_letters(lhs))

    # a new name on the left: the document defines it
    named = _lhs_name(lhs)
    if named is not None and not named[1]:
        try:
            evaluate(lhs, base.child())
        except Unknown:
            return _define(equation, named[0], sides, relations, state)
        except EvalError:
            pass
    letter = _indexed_name(lhs)
    if named is not None and letter is not None and not _has_value(lhs, base):
        probe = base.child()
        probe.indices[letter] = state.truth.base
        try:
            evaluate(lhs, probe)
        except Unknown as exc:
            if exc.name == named[0].split(":")[-1]:
                return _define_indexed(equation, named[0], letter, sides, state)
        except EvalError:
            pass

    instances = _instances(lhs, base)
    if isinstance(instances, str):
        return Judgement(equation, "unchecked", f"unchecked: {instances}")
    judgement = _judge_instances(equation, sides, relations, state, state.step, instances)
    if not state.truth.problem.has_values or judgement.verdict not in (*_OK, "incorrect"):
        return judgement
    marks = _marks(sides, base, instances)
    state.mentioned = max(state.mentioned, *marks, 0)
    if judgement.verdict in _OK:
        if marks and _has_numbers(judgement):
            state.reached = max(state.reached, *marks)  # the update computed in numbers
        return judgement
    ahead = _ahead(equation, sides, relations, state, instances, lhs, base, marks)
    if ahead is not None:
        return ahead
    # an unmarked quantity of an earlier step (a recap of the gradient or the loss
    # before the update): right at that step, the document's step is unchanged
    if state.step > 0 and not marks:
        for earlier in range(state.step - 1, -1, -1):
            before = _judge_instances(equation, sides, relations, state, earlier, instances)
            if before.verdict in _OK:
                name = _step_name(equation, earlier)
                before.message = (
                    f"{before.message}; matches step {earlier} ({name}), not the current "
                    f"step {state.step}: the values are those before the update"
                )
                return before
    return judgement


def _has_value(lhs: Tree[Token], ctx: Context) -> bool:
    """Does the left side mean something as written (``N_y``, the output size), before its
    subscript is read as an index letter?"""
    try:
        evaluate(lhs, ctx.child())
    except EvalError:
        return False
    return True


def _ahead(
    equation: Equation,
    sides: list[Tree[Token]],
    relations: list[str],
    state: DocState,
    instances: list[dict[str, int]],
    lhs: Tree[Token],
    base: Context,
    marks: list[int],
) -> Judgement | None:
    """The equation read at the next step, when it is right there and the document has
    shown it is there: a parameter written with the updated values moves the step (the
    only evidence that does); another unmarked equation is read at the next step alone,
    once the document has written the update (computed in numbers, or at least named)."""
    if state.step + 1 > MAX_STEP - 1 or not _has_numbers_in(equation):
        return None
    parameter = _is_parameter(lhs, base)
    # evidence that the document has moved on: the update computed in numbers, or at
    # least written down (a numeric update the checker could not read must not make
    # every value after it wrong)
    if not parameter and (marks or max(state.reached, state.mentioned) <= state.step):
        return None
    ahead = _judge_instances(equation, sides, relations, state, state.step + 1, instances)
    if ahead.verdict not in _OK:
        return None
    step = state.step + 1
    if parameter:
        state.step = step
        state.reached = max(state.reached, step)
    name = _step_name(equation, step)
    ahead.message = (
        f"{ahead.message}; read at step {step} ({name}): the values are those after the update"
    )
    return ahead


def _is_parameter(lhs: Tree[Token], ctx: Context) -> bool:
    """Is the left side a trained parameter (``w``, ``b``, ``w_2``) of the current step?"""
    probe = Context(truth=ctx.truth, step=ctx.step, env=ctx.env)
    try:
        value = evaluate(lhs, probe)
    except EvalError:
        return False
    if probe.marks:
        return False
    entries = value.entries() if isinstance(value, Mat) else [value]
    params = set(ctx.truth.params)
    return bool(entries) and all(entry in params for entry in entries)


def _marks(sides: list[Tree[Token]], ctx: Context, instances: list[dict[str, int]]) -> list[int]:
    """The step marks of the sides (``w^{(1)}``, ``w'``, ``b^{new}``, ``w_t``)."""
    probe = Context(truth=ctx.truth, step=ctx.step, env=ctx.env, indices=dict(instances[0]))
    for side in sides:
        try:
            evaluate(side, probe.child())
        except EvalError:
            pass
    return list(probe.marks)


_ASSIGN = ("\\leftarrow", "\\gets", "\\longleftarrow")


def _after_update(lhs: Tree[Token]) -> Tree[Token]:
    """``w`` → ``w'`` (a prime marks the next step)."""
    prime = Tree("prime", [Token("PRIME", "'")])
    if lhs.data == "scripted":
        return Tree("scripted", [*lhs.children, prime])
    return Tree("scripted", [lhs, prime])


def _has_numbers(judgement: Judgement) -> bool:
    return _has_numbers_in(judgement.equation)


def _has_numbers_in(equation: Equation) -> bool:
    return bool(re.search(r"\d", equation.latex.split("=", 1)[-1]))


def _step_name(equation: Equation, step: int) -> str:
    superscript = "⁽" + "⁰¹²³⁴⁵⁶⁷⁸⁹"[step] + "⁾" if step < 10 else f"^({step})"
    head = equation.latex.split("=", 1)[0]
    return pretty(head).strip() + superscript


def _instances(lhs: Tree[Token], ctx: Context) -> list[dict[str, int]] | str:
    """Values of the free indices on the left (``\\hat{y}_i = …`` for every i; two letters
    as in ``∂ŷ_i/∂w_j = x_{i+j−1}`` for every pair), or [{}]."""
    try:
        evaluate(lhs, ctx.child())
        return [{}]
    except FreeIndex as exc:
        letter = exc.letter
    except EvalError:
        return [{}]
    truth = ctx.truth
    top = max(truth.problem.n, truth.problem.k, truth.m) + truth.base
    values = range(truth.base, min(top, MAX_INSTANCES) + 1)
    found: list[dict[str, int]] = []
    second: str | None = None
    for value in values:
        probe = ctx.child()
        probe.strict = True
        probe.indices[letter] = value
        try:
            evaluate(lhs, probe)
        except OutOfRange:
            continue
        except FreeIndex as exc:
            if second is not None and exc.letter != second:
                return f"three free indices ({letter}, {second}, {exc.letter}) on the left side"
            second = exc.letter
            for other in values:
                pair = probe.child()
                pair.indices[second] = other
                try:
                    evaluate(lhs, pair)
                except (OutOfRange, FreeIndex):
                    continue
                except EvalError:
                    continue
                found.append({letter: value, second: other})
            continue
        except EvalError:
            continue
        found.append({letter: value})
    return found or f"no value of the index {letter} fits the left side"


_SIZE_LETTERS = frozenset("kpnmsd")


def _index_letters(lhs: Tree[Token]) -> frozenset[str]:
    """Size letters the left side writes as the index of a quantity (``∂L/∂x_p``,
    ``\\text{weight}_k``, ``y_n``): there they are free indices, not the sizes."""
    found: set[str] = set()
    stack = [lhs]
    while stack:
        node = stack.pop()
        stack.extend(c for c in node.children if isinstance(c, Tree))
        if node.data != "scripted" or not isinstance(node.children[0], Tree):
            continue
        if node.children[0].data not in ("letter", "greek", "text", "accent", "font", "cal"):
            continue
        for script in node.children[1:]:
            if isinstance(script, Tree) and script.data == "sub":
                arg = script.children[-1]
                while isinstance(arg, Tree) and arg.data == "group" and len(arg.children) == 1:
                    arg = arg.children[0]
                if isinstance(arg, Tree) and arg.data == "letter":
                    letter = str(arg.children[0])
                    if letter in _SIZE_LETTERS:
                        found.add(letter)
    return frozenset(found)


def _defines_operator(lhs: Tree[Token]) -> bool:
    """``(x \\ast w)_i = …``: the left side is an entry of an operator applied to names
    (a definition of the operator, as a document states it before using it)."""
    if lhs.data != "scripted" or not isinstance(lhs.children[0], Tree):
        return False
    inner = lhs.children[0]
    if inner.data != "paren":
        return False
    body = next((c for c in inner.children if isinstance(c, Tree)), None)
    subs = [c for c in lhs.children[1:] if isinstance(c, Tree) and c.data == "sub"]
    return body is not None and body.data in ("star", "conv") and bool(subs)


def _indexed_name(lhs: Tree[Token]) -> str | None:
    """The letter i of a left side ``\\delta_i`` (a name with one index letter), else None."""
    if lhs.data != "scripted" or len(lhs.children) != 2:
        return None
    script = lhs.children[1]
    if not isinstance(script, Tree) or script.data != "sub":
        return None
    arg = next((c for c in script.children if isinstance(c, Tree)), None)
    while arg is not None and arg.data == "group" and isinstance(arg.children[0], Tree):
        arg = arg.children[0]
    if arg is None or arg.data != "letter":
        return None
    return str(arg.children[0])


def _define_indexed(
    equation: Equation, key: str, letter: str, sides: list[Tree[Token]], state: DocState
) -> Judgement:
    """``\\delta_i = \\hat{y}_i - y_i``: remember δ as the vector of every i it exists for."""
    name = key.split(":")[-1]
    if len(sides) != 2:
        return Judgement(equation, "unchecked", f"unchecked: defines `{name}` in a chain")
    truth = state.truth
    entries = []
    top = max(truth.problem.n, truth.problem.k, truth.m) + truth.base
    for value in range(truth.base, min(top, MAX_INSTANCES) + 1):
        output = value - truth.base if value - truth.base < truth.m else None
        ctx = Context(
            truth=truth,
            step=state.step,
            env=state.env,
            indices={letter: value},
            output=output,
            strict=True,
        )
        try:
            entry = evaluate(sides[1], ctx)
        except OutOfRange:
            break
        except EvalError as exc:
            return Judgement(equation, "unchecked", f"unchecked: defines `{name}`, but {exc}")
        if isinstance(entry, Mat):
            return Judgement(
                equation, "unchecked", f"unchecked: defines `{name}` with matrix entries"
            )
        entries.append(entry)
    if not entries:
        return Judgement(equation, "unchecked", f"unchecked: defines `{name}` for no {letter}")
    value_mat = Mat(ImmutableMatrix(len(entries), 1, entries), free=True)
    state.env[key] = value_mat
    first, last = truth.base, truth.base + len(entries) - 1
    return Judgement(
        equation,
        "correct",
        f"defines {name}_{letter} for {letter} = {first}…{last}: {show(value_mat)}",
    )


def _define(
    equation: Equation, key: str, sides: list[Tree[Token]], relations: list[str], state: DocState
) -> Judgement:
    """``X = …``: remember X; any further sides must agree with the first."""
    ctx = Context(truth=state.truth, step=state.step, env=state.env)
    try:
        value = evaluate(sides[1], ctx)
    except EvalError as exc:
        return Judgement(equation, "unchecked", f"unchecked: defines `{key}`, but {exc}")
    state.env[key] = value
    name = key.split(":")[-1]
    if len(sides) == 2:
        message = f"defines {name} = {show(value)}"
        verdict = "notation" if ctx.flags else "correct"
        if ctx.flags:
            message += "; " + "; ".join(ctx.flags)
        return Judgement(equation, verdict, message, expected=None)
    judgement = _judge_instances(
        equation, sides[1:], relations[1:], state, state.step, [{}], truth_value=value
    )
    judgement.message = f"defines {name}; " + judgement.message
    return judgement


def _judge_instances(
    equation: Equation,
    sides: list[Tree[Token]],
    relations: list[str],
    state: DocState,
    step: int,
    instances: list[dict[str, int]],
    *,
    truth_value: Value | None = None,
) -> Judgement:
    judgements = [
        _judge_chain(equation, sides, relations, state, step, bound, truth_value)
        for bound in instances
    ]
    # a case distinction says nothing about indices none of its conditions holds for
    judgements = [j for j in judgements if j.verdict != _NO_CASE] or [
        Judgement(
            equation,
            "unchecked",
            "unchecked: no claim: none of its conditions holds for an index of the layer",
            reason="no claim",
        )
    ]
    wrong = [judgement for judgement in judgements if judgement.verdict == "incorrect"]
    if wrong:
        _diagnose_together(wrong)
        return wrong[0]
    for verdict in ("unchecked", "notation"):
        for judgement in judgements:
            if judgement.verdict == verdict:
                return judgement
    first = judgements[0]
    if len(instances) > 1:
        ranges = ", ".join(
            f"{letter} = {min(b[letter] for b in instances)}…{max(b[letter] for b in instances)}"
            for letter in instances[0]
        )
        first.message += f" (for every {ranges})"
    return first


_TOGETHER = 3  # the instances of a general formula one diagnosis must explain


def _diagnose_together(wrong: list[Judgement]) -> None:
    """A formula wrong for several indices (∂L/∂w_j for j = 1, 2) gets the diagnosis that
    explains all of them: one index alone can agree with a mistake by chance (for a 2-tap
    kernel, the flipped kernel and an index shifted by one read alike at j = 1)."""
    first = wrong[0]
    pendings = [j.pending for j in wrong[:_TOGETHER] if j.pending is not None]
    if first.pending is None or len(pendings) < 2:
        return

    def together() -> Diagnosis | None:
        tried: list[str] = []
        for own in pendings:
            found = own()
            if found is None or found.kind in tried:
                continue
            tried.append(found.kind)
            if all(p is own or p(only=found.kind) is not None for p in pendings):
                return found if own is pendings[0] else pendings[0](only=found.kind) or found
        return pendings[0]()

    first.pending = together


def _judge_chain(
    equation: Equation,
    sides: list[Tree[Token]],
    relations: list[str],
    state: DocState,
    step: int,
    bound: dict[str, int],
    truth_value: Value | None,
) -> Judgement:
    truth = state.truth

    def context(output: int | None) -> Context:
        return Context(truth=truth, step=step, env=state.env, indices=dict(bound), output=output)

    lhs = sides[0]
    output = _output_index(lhs, context(None))
    expected: Value
    if truth_value is not None:
        expected = truth_value
        rhs = sides[1:]
    else:
        try:
            expected = evaluate(lhs, context(output))
        except EvalError as exc:
            return Judgement(equation, "unchecked", f"unchecked: the left side: {exc}")
        rhs = sides[1:]

    # every right-hand side evaluated in the context of the left one
    values: list[Value | EvalError] = []
    if truth_value is None and _no_case(rhs, context(output)):
        return Judgement(equation, _NO_CASE, "")
    flags: list[list[str]] = []
    mistakes: list[list[tuple[str, str]]] = []
    strangers: set[Symbol] = set()
    for side in rhs:
        ctx = context(output)
        try:
            values.append(evaluate(side, ctx))
        except EvalError as exc:
            values.append(exc)
        strangers |= ctx.nonexistent
        flags.append(list(dict.fromkeys(ctx.flags)))
        mistakes.append(list(dict.fromkeys(ctx.mistakes)))
    numeric = any(not isinstance(v, EvalError) and _free(v, truth) == set() for v in values)
    links: list[Link] = []
    previous_ok = True
    for position, (side, value, notes) in enumerate(zip(rhs, values, flags)):
        relation = relations[position] if position < len(relations) else "="
        index = position + 1
        if isinstance(value, EvalError):
            links.append(Link(index, "unchecked", f"side {index + 1}: {value}"))
            previous_ok = False
            continue
        unknown = _free(value, truth) - truth.known - strangers
        if unknown:
            names = ", ".join(sorted(s.name for s in unknown))
            links.append(Link(index, "unchecked", f"side {index + 1}: unknown symbol {names}"))
            previous_ok = False
            continue
        if relation not in ("=", "\\approx", ":=", "=:", "\\equiv"):
            links.append(Link(index, "unchecked", f"side {index + 1}: relation {relation}"))
            continue
        outcome = compare(
            value, expected, truth, step, numeric=numeric, approx=relation == "\\approx"
        )
        rounding = (
            not outcome.equal
            and not outcome.shape
            and (numeric or relation == "\\approx")
            and has_rounding(side, truth)
            and within_rounding(
                side, context(output), value, expected, truth, step, approx=relation == "\\approx"
            )
        )
        wrong_reading = mistakes[position]
        if (outcome.equal or rounding) and wrong_reading:
            # the value comes out right only when read past a mistake (Wδ read as Wᵀδ)
            kind, text = wrong_reading[0]
            links.append(
                Link(
                    index,
                    "incorrect",
                    "a product that is not defined (read with the transpose it would hold)",
                    diagnosis=Diagnosis(kind, text),
                    flags=notes,
                )
            )
            previous_ok = False
            continue
        if outcome.equal or rounding:
            verdict = "notation" if notes else "correct"
            message = "; ".join(notes)
            if outcome.rounded:
                message = (message + "; " if message else "") + "rounded"
            if rounding:
                message = (message + "; " if message else "") + ROUNDING
            links.append(Link(index, verdict, message, flags=notes))
            previous_ok = True
            continue
        link = Link(
            index,
            "incorrect",
            outcome.shape,
            written=outcome.written,
            expected=outcome.expected,
            counterexample=outcome.counterexample,
            flags=notes,
        )
        first_wrong = not any(other.verdict == "incorrect" for other in links)
        link.pending = (
            None
            if not first_wrong
            else partial(
                diagnose,
                side=side,
                written=value,
                expected=expected,
                lhs=lhs,
                state=state,
                step=step,
                bound=bound,
                output=output,
                previous_ok=previous_ok and position > 0,
                previous=values[position - 1] if position > 0 else None,
                previous_side=rhs[position - 1] if position > 0 else None,
                last=position == len(rhs) - 1,
                numeric=numeric,
            )
        )
        links.append(link)
        previous_ok = False
    judgement = _summarise(equation, links, expected, truth, step)
    if truth_value is None and not bound:
        judgement.key = (str(expected), step)
    if truth_value is None:
        judgement.named = named_quantity(lhs, context(None), general=bool(bound))
        last = values[-1] if values else None
        if last is not None and not isinstance(last, EvalError):
            judgement.value = exact_strings(last, bool(_free(last, truth)))
    return judgement


_NO_CASE = "no case"  # an instance no branch of a case distinction speaks about


def _no_case(sides: list[Tree[Token]], ctx: Context) -> bool:
    """Does a side hold a case distinction none of whose conditions holds here?"""
    for side in sides:
        if not any(node.data == "cases" for node in side.iter_subtrees()):
            continue
        try:
            evaluate(side, ctx.child())
        except NoCase:
            return True
        except EvalError:
            pass
    return False


def _free(value: Value, truth: Truth) -> set[Symbol]:
    entries = value.entries() if isinstance(value, Mat) else [value]
    symbols: set[Symbol] = set()
    for entry in entries:
        symbols |= {s for s in truth.full(entry).free_symbols if isinstance(s, Symbol)}
    return symbols


def _summarise(
    equation: Equation, links: list[Link], expected: Value, truth: Truth, step: int
) -> Judgement:
    verdicts = [link.verdict for link in links]
    expected_text = show(_at_values(expected, truth, step))
    if "incorrect" in verdicts:
        link = next(link for link in links if link.verdict == "incorrect")
        parts = [f"side {link.index + 1} is wrong"]
        if link.message:
            parts.append(f"it is {link.message}")
        if link.written:
            parts.append(f"written {link.written}, expected {link.expected}")
        if link.counterexample:
            parts.append(link.counterexample)
        later = [
            other.index + 1 for other in links if other.verdict == "incorrect" and other is not link
        ]
        if later:
            parts.append("also wrong: side " + ", ".join(map(str, later)))
        notes = [note for other in links for note in other.flags]
        if notes:
            parts.append("notation: " + "; ".join(dict.fromkeys(notes)))
        return Judgement(
            equation,
            "incorrect",
            "; ".join(parts),
            expected=link.expected or expected_text,
            diagnosis=link.diagnosis,
            links=links,
            pending=link.pending,
        )
    if "unchecked" in verdicts:
        reasons = [link.message for link in links if link.verdict == "unchecked"]
        return Judgement(
            equation, "unchecked", "unchecked: " + "; ".join(reasons), expected_text, links=links
        )
    if "notation" in verdicts:
        notes = list(dict.fromkeys(n for link in links for n in link.flags))
        return Judgement(
            equation,
            "notation",
            "the values are right, the notation is not: " + "; ".join(notes),
            expected_text,
            links=links,
        )
    count = len(links)
    what = "the side holds" if count == 1 else f"all {count} sides hold"
    rounded = any("rounded" in link.message for link in links)
    carried = [link.index + 1 for link in links if ROUNDING in link.message]
    if carried and count == 1:
        what += " up to the rounding of the written decimals"
    elif carried:
        sides = ", ".join(map(str, carried))
        what += f"; side {sides} {ROUNDING}" if len(carried) == 1 else f"; sides {sides} hold"
        what += "" if len(carried) == 1 else " " + ROUNDING.removeprefix("holds ")
    return Judgement(
        equation,
        "correct",
        what + (" (a decimal rounded)" if rounded else ""),
        expected_text,
        links=links,
    )


def _at_values(value: Value, truth: Truth, step: int) -> Value:
    values = truth.values(step)
    if values is None:
        return value
    if isinstance(value, Mat):
        return Mat(value.m.applyfunc(lambda e: truth.full(e).xreplace(values)), free=value.free)
    result = truth.full(value).xreplace(values)
    return result if result.is_number else value
