"""Render a complete student submission, in the style of the exercise submission, for any layer.

The style is that of ``../shared/exercise/submission.md``: Markdown prose, ``$$ … $$``
blocks, a label ``(5a)`` on the line after a block or a ``\\tag{..}`` inside it, sections
"Forward Pass / Stride 0 / Stride 1 / Loss / Backward pass / Weight update / Performing the
convolution with backward pass for given values / Forward pass with updated weights", the
forward pass as a column times a row ``[w₁ w₂]ᵀ·[x₁ x₂] + b``, the weight gradient as an
``(m×1)·(m×k)`` product, ``||y_i − ŷ_i||_2^2``, ``w^{(1)} = w − α·…`` and decimals.

The truth (numbers and windows) comes from the explicit derivation only; the LaTeX is
written here, equation by equation, as a student would write it.  Every equation's
expected verdict is decided by construction: the column·row products and the undefined
``(m×1)·(m×k)``/``(m×1)·(m×m)`` products are ``notation`` (when they are not real matrix
products: k ≥ 2, m ≥ 2), everything else ``correct``.

A *mutation* plants one mistake in one equation (see :data:`MUTATIONS`); the rendering
records the label it lands on and the diagnosis kind it must get (None where another
catalogued mistake explains the same value, so the kind is ambiguous).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction

from sympy import Rational

from symconv.errors import ProblemError
from symconv.problem import Problem, load_problem
from symconv.symbolic.explicit import StepValues, derive_explicit, evaluate_steps, window_table

__all__ = [
    "MUTATIONS",
    "Rendered",
    "applicable",
    "random_problem",
    "render",
]

# mutation -> the diagnosis kind it must get where it is unambiguous
MUTATIONS = {
    "parentheses": "missing_parentheses",  # α multiplies only the first term of the update
    "sign": "sign_error",  # ŷ₁ + y₁ in ∂L/∂ŷ
    "label": "wrong_label",  # ŷ₁ written on the computation of ŷ₂
    "window": "wrong_index",  # a window shifted by one
    "stride": "stride_ignored",  # the stride-1 window on a strided layer
    "slip": "arithmetic_slip",  # the final number of a chain off
    "bias": "bias_confused",  # the untied bias gradient for a shared bias (or the reverse)
}

# mutations only the extended documents (∂L/∂x, a second SGD step) can carry
EXTENDED_MUTATIONS = {
    "flip_x": "flipped_kernel",  # ∂L/∂x with the kernel not flipped (w_j for w_{k+1-j})
    "update_sign2": "learning_rate",  # w^{(2)} = w^{(1)} + α·∂L/∂w
    "border_x": None,  # ∂L/∂x_t at the border with one term missing (ambiguous kind)
}
ALL_MUTATIONS = {**MUTATIONS, **EXTENDED_MUTATIONS}

SLIP_TARGETS = ("yhat", "loss", "grad_w", "w_next", "loss_next")
LEARNING_RATES = ("0.01", "0.1", "0.5", "1/4", "0.05", "0.2")
# the extended documents: rates whose updates do not terminate (1/3, 1/6) as well
EXTENDED_RATES = ("1/3", "1/3", "1/6", "1/6", "0.1", "1/4")


# ---------------------------------------------------------------------------------------
# problems


def random_problem(rng: random.Random, *, extended: bool = False) -> Problem:
    """A random layer (n ≤ 7, k ≤ 3, stride ≤ 2, padding 0–1) with small values.

    ``extended``: also circular padding and dilation 2, and rates (1/3, 1/6) and means
    (m = 3) whose values do not terminate as decimals.
    """
    mode, dilation = "zeros", 1
    while True:
        k = rng.choice((1, 2, 2, 3, 3, 3))
        n = rng.randint(2, 7)
        stride = rng.choice((1, 1, 2))
        padding = rng.choice((0, 0, 1))
        if extended:
            k = rng.choice((2, 2, 3, 3))
            padding = rng.choice((0, 1, 1))
            mode = "circular" if padding and rng.random() < 0.5 else "zeros"
            dilation = rng.choice((1, 2))
        m = (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1
        if m >= 1 and m <= 6 and (mode == "zeros" or padding <= n):
            break
    bias = rng.choice(("untied", "shared", "none"))
    loss = rng.choice(("sse_half", "sse_half", "mse"))
    lr = rng.choice(LEARNING_RATES)
    if extended:
        loss = rng.choice(("sse_half", "mse", "mse"))
        lr = rng.choice(EXTENDED_RATES)
    decimals = rng.random() < 0.4

    def value() -> str:
        if decimals and rng.random() < 0.5:
            return str(Fraction(rng.randint(-30, 30), 10).limit_denominator())
        return str(rng.randint(-3, 4))

    values: dict[str, object] = {
        "values.x": [value() for _ in range(n)],
        "values.w": [value() for _ in range(k)],
        "values.y": [str(rng.randint(-4, 6)) for _ in range(m)],
    }
    if bias == "untied":
        values["values.b"] = [value() for _ in range(m)]
    elif bias == "shared":
        values["values.b"] = value()
    return load_problem(
        None,
        {
            "title": "generated",
            "layer.input_length": n,
            "layer.kernel_size": k,
            "layer.stride": stride,
            "layer.padding": padding,
            "layer.padding_mode": mode,
            "layer.dilation": dilation,
            "layer.bias": bias,
            "loss.kind": loss,
            "optimizer.learning_rate": lr,
            **values,
        },
    )


# ---------------------------------------------------------------------------------------
# numbers and small pieces of LaTeX


def _terminating(q: Rational) -> bool:
    d = int(q.q)
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def num(value: object) -> str:
    """An exact number as a student writes it: ``3``, ``-0.35``, ``\\frac{2}{3}``."""
    q = Rational(value)
    if q.is_Integer:
        return str(int(q))
    if _terminating(q):
        return _long_division(q)
    sign = "-" if q < 0 else ""
    return f"{sign}\\frac{{{abs(int(q.p))}}}{{{int(q.q)}}}"


def _long_division(q: Rational) -> str:
    p, d = abs(int(q.p)), int(q.q)
    whole, rest = divmod(p, d)
    digits = []
    while rest:
        rest *= 10
        digit, rest = divmod(rest, d)
        digits.append(str(digit))
    return ("-" if q < 0 else "") + f"{whole}." + "".join(digits)


def rounded(value: object, digits: int) -> str:
    """``value`` rounded to ``digits`` significant digits (never into the integer part:
    1234.56 to 3 digits is ``1235``), as a student writes a value that does not terminate."""
    q = Rational(value)
    whole = len(str(abs(int(q))).lstrip("0")) if abs(q) >= 1 else 0
    if whole:
        places = max(0, digits - whole)
    else:
        places, probe = digits, abs(q)
        while probe < Rational(1, 10):  # leading zeros after the point
            probe *= 10
            places += 1
    scaled = abs(q) * 10**places
    units = int(scaled + Rational(1, 2))  # half up
    text = str(units).rjust(places + 1, "0")
    body = text if not places else f"{text[:-places]}.{text[-places:]}"
    return ("-" if q < 0 else "") + body


def terminates(value: object) -> bool:
    return _terminating(Rational(value))


def fac(value: object) -> str:
    """A number as a factor or operand: negative ones in parentheses."""
    text = num(value)
    return f"({text})" if text.startswith("-") else text


def bmatrix_col(entries: list[str], tight: bool = False) -> str:
    sep = "\\\\" if tight else " \\\\ "
    return "\\begin{bmatrix} " + sep.join(entries) + " \\end{bmatrix}"


def bmatrix_row(entries: list[str]) -> str:
    return "\\begin{bmatrix} " + " & ".join(entries) + " \\end{bmatrix}"


def bmatrix(rows: list[list[str]]) -> str:
    return "\\begin{bmatrix} " + " \\\\ ".join(" & ".join(r) for r in rows) + " \\end{bmatrix}"


LOSS = "\\mathcal{L}(\\hat{y}, y)"
D_YHAT = f"\\frac{{\\partial {LOSS}}}{{\\partial \\hat{{\\mathbf{{y}}}}}}"
D_W = f"\\frac{{\\partial {LOSS}}}{{\\partial \\mathbf{{w}}}}"
D_B = f"\\frac{{\\partial {LOSS}}}{{\\partial \\mathbf{{b}}}}"
D_B_SHARED = f"\\frac{{\\partial {LOSS}}}{{\\partial b}}"
JAC_W = "\\frac{\\partial \\hat{\\mathbf{y}}}{\\partial \\mathbf{w}}"
JAC_B = "\\frac{\\partial \\hat{\\mathbf{y}}}{\\partial \\mathbf{b}}"
D_X = f"\\frac{{\\partial {LOSS}}}{{\\partial \\mathbf{{x}}}}"
JAC_X = "\\frac{\\partial \\hat{\\mathbf{y}}}{\\partial \\mathbf{x}}"


# ---------------------------------------------------------------------------------------
# the document


@dataclass
class Rendered:
    """A rendered submission and what the checker must say about it."""

    text: str
    expected: dict[str, str] = field(default_factory=dict)  # label -> verdict
    roles: dict[str, str] = field(default_factory=dict)  # role -> label
    mutated: str | None = None  # the label of the mutated equation
    kind: str | None = None  # the diagnosis it must get (None: ambiguous)
    site: str = ""  # where the mutation went: symbolic, numeric, before, after
    rounded: set[str] = field(default_factory=set)  # how values were rounded: frac, approx, equals


@dataclass
class _Writer:
    rng: random.Random
    lines: list[str] = field(default_factory=list)
    rendered: Rendered = field(default_factory=lambda: Rendered(""))
    unlabelled: int = 0

    def prose(self, *texts: str) -> None:
        for text in texts:
            self.lines += [text, ""]

    def equation(
        self, latex: str, label: str | None, verdict: str, role: str | None = None
    ) -> None:
        """One ``$$`` block; the label as ``\\tag`` or on the next line (either style)."""
        assert "\n" not in latex
        if label is None:
            self.lines += [f"$${latex}$$", ""]
            key = f"line {len(self.lines) - 1}"
        else:
            style = self.rng.random()
            if style < 0.35:
                self.lines += [f"$${latex} \\tag{{{label}}}$$", ""]
            elif style < 0.7:
                self.lines += [f"$${latex}$$", f" ({label})", ""]
            else:
                self.lines += [f"$${latex}$$", f"({label})", ""]
            key = label
        assert key not in self.rendered.expected, key
        self.rendered.expected[key] = verdict
        if role is not None:
            self.rendered.roles[role] = key


def applicable(problem: Problem, mutation: str, *, extended: bool = False) -> bool:
    """Can ``mutation`` be planted in the rendering of ``problem``?"""
    if mutation in EXTENDED_MUTATIONS and not extended:
        return False
    return bool(_Plan(problem, extended).sites(mutation))


class _Plan:
    """The truth of a problem and where each mutation lands."""

    def __init__(self, problem: Problem, extended: bool = False) -> None:
        self.p = problem
        self.m = problem.m
        self.extended = extended
        self.windows = positions(problem)
        d = derive_explicit(problem.with_steps(2) if extended else problem)
        self.d = d
        self.steps: list[StepValues] = evaluate_steps(d)
        self.s0 = self.steps[0]

    def terms_of_input(self, t: int) -> list[tuple[int, int]]:
        """(output i, tap j) pairs that read input t (all of them when circular padding
        wraps a window onto it)."""
        return [
            (i, j)
            for i, row in enumerate(self.windows)
            for j, position in enumerate(row)
            if position == t
        ]

    def border_target(self) -> tuple[int, int] | None:
        """The border input (first or last) whose ∂L/∂x_t loses its last term, and that
        term's position in the sum; None if no border input is read twice."""
        for t in (0, self.p.n - 1):
            terms = self.terms_of_input(t)
            if len(terms) >= 2:
                return (t, len(terms) - 1)
        return None

    def flipped_grad_x(self, step: StepValues) -> tuple[Rational, ...]:
        """∂L/∂x computed with the kernel not flipped (w_j read as w_{k+1-j})."""
        k = self.p.k
        return tuple(
            sum(
                (step.grad_yhat[i] * step.w[k - 1 - j] for i, j in self.terms_of_input(t)),
                Rational(0),
            )
            for t in range(self.p.n)
        )

    def terms_of_tap(self, j: int) -> list[tuple[int, int]]:
        """(output i, input t) pairs that tap j reads (padding left out)."""
        n = self.p.n
        return [(i, row[j]) for i, row in enumerate(self.windows) if 0 <= row[j] < n]

    def target(self, mutation: str) -> tuple[int, ...] | None:
        """Where ``mutation`` goes (an output or a tap), or None if it cannot be planted."""
        p, m = self.p, self.m
        if mutation == "parentheses":
            taps = [j for j in range(p.k) if len(self.terms_of_tap(j)) >= 2]
            return (taps[0],) if taps else None
        if mutation == "sign":
            return (0,)
        if mutation == "label":
            if m < 2 or self.s0.yhat[0] == self.s0.yhat[1]:
                return None
            return (1,)
        if mutation == "window":
            return self._window_target()
        if mutation == "stride":
            if p.stride == 1 or m < 2:
                return None
            return (1,)
        if mutation == "slip":
            return (0,)
        if mutation == "bias":
            if p.bias == "none" or m < 2:
                return None
            return (0,)
        if mutation in EXTENDED_MUTATIONS and not self.extended:
            return None
        if mutation == "flip_x":
            # the flip must change ∂L/∂x as a function (not for a palindromic reading)
            d = self.d
            flip = dict(zip(d.symbols.w, reversed(d.symbols.w)))
            if all((g.xreplace(flip) - g).expand() == 0 for g in d.grad_x):
                return None
            return (0,)
        if mutation == "update_sign2":
            s1 = self.steps[1]
            return (0,) if any(s1.grad_w) and p.lr != 0 else None
        if mutation == "border_x":
            return self.border_target()
        raise ValueError(mutation)

    def sites(self, mutation: str) -> list[str]:
        """Where ``mutation`` can be planted: in the symbolic or the numeric part (for the
        label: before or after the update); empty if nowhere."""
        if self.target(mutation) is None:
            return []
        p, s0 = self.p, self.s0
        assert p.y is not None
        if mutation == "label":
            after = self.steps[0].yhat_next
            return [
                site
                for site, values in (("before", s0.yhat), ("after", after))
                if values[0] != values[1]
            ]
        if mutation == "slip":
            return ["numeric"]
        found = ["symbolic"]
        where = self.target(mutation) or (0,)
        x = p.x or ()
        if mutation == "parentheses":
            rest = sum(
                (s0.grad_yhat[i] * x[t] for i, t in self.terms_of_tap(where[0])[1:]), Rational(0)
            )
            if rest != 0:
                found.append("numeric")
        elif mutation == "sign":
            if p.y[0] != 0:
                found.append("numeric")
        elif mutation in ("window", "stride"):
            if self.numeric_window(mutation)[0] != s0.yhat[where[0]]:
                found.append("numeric")
        elif mutation == "bias":
            found.append("numeric")
        elif mutation == "flip_x":
            if self.flipped_grad_x(s0) != s0.grad_x:
                found.append("numeric")
        elif mutation == "update_sign2":
            return ["numeric"]  # the second step is written with numbers only
        elif mutation == "border_x":
            t, position = where[0], where[1]
            i, j = self.terms_of_input(t)[position]
            if s0.grad_yhat[i] * s0.w[j] != 0:
                found.append("numeric")
        return found

    def window_value(self, i: int, row: list[int], step: StepValues) -> Rational:
        """ŷ_i at ``step`` computed with the window ``row``."""
        p = self.p
        assert p.x is not None
        total = Rational(0)
        for wj, t in zip(step.w, row):
            if 0 <= t < p.n:
                total += wj * p.x[t]
        if step.b is not None:
            total += step.b[i] if p.bias == "untied" else step.b[0]
        return total

    def numeric_window(self, mutation: str) -> tuple[Rational, bool]:
        """The value of the planted window (step 0) and whether only the planted mistake
        explains it (no other output, other catalogued window, sign or factor gives it)."""
        where = self.target(mutation)
        assert where is not None
        i = where[0]
        if mutation == "window":
            row = self.shifted(i, where[1])
        else:
            row = positions(_changed(self.p, stride=1))[i]
        assert row is not None
        s0, p = self.s0, self.p
        assert p.x is not None
        value = self.window_value(i, row, s0)
        truth = s0.yhat[i]
        # values another catalogued mistake gives: another output (before or after the
        # update), the negated, doubled or halved truth, another window of the catalogue
        others: set[Rational] = set(s0.yhat) | set(self.steps[0].yhat_next)
        others |= {-truth, 2 * truth, truth / 2}
        others |= {self.window_value(i, r, s0) for r in self._alternatives(i) if r != row}
        ambiguous = value in others
        # one sign of the written side flipped (the bias, or a negative entry) gives the truth
        bias = Rational(0) if s0.b is None else (s0.b[i] if p.bias == "untied" else s0.b[0])
        if bias and value - 2 * bias == truth:
            ambiguous = True
        for wj, t in zip(s0.w, row):
            if 0 <= t < p.n and (wj < 0 or p.x[t] < 0) and value - 2 * wj * p.x[t] == truth:
                ambiguous = True
        # a plain ``+ b`` read as another output's untied bias gives that output
        if p.bias == "untied" and s0.b is not None:
            for j in range(self.m):
                if j != i and value - s0.b[i] + s0.b[j] == s0.yhat[j]:
                    ambiguous = True
        return value, not ambiguous

    def shifted(self, i: int, delta: int) -> list[int] | None:
        """Output i's window moved by ``delta`` inputs (None if it leaves x and its padding)."""
        p = self.p
        row = [t + delta for t in self.windows[i]]
        if not all(-p.padding <= t < p.n + p.padding for t in row):
            return None
        if p.padding_mode == "circular" and not all(0 <= t < p.n for t in row):
            return None
        return row

    def _alternatives(self, i: int) -> list[list[int]]:
        """Windows another catalogued mistake gives output i (another label, stride, padding,
        the flipped kernel)."""
        p = self.p
        found = [row for other, row in enumerate(self.windows) if other != i]
        if p.stride != 1:
            one = positions(_changed(p, stride=1))
            if i < len(one):
                found.append(one[i])
        if p.padding:
            zero = _valid_change(p, padding=0)
            if zero is not None:
                rows = positions(zero)
                if i < len(rows):
                    found.append(rows[i])
        if p.padding and p.padding_mode == "circular":
            rows = positions(_changed(p, padding_mode="zeros"))
            if i < len(rows):
                found.append(rows[i])
        if p.dilation != 1:
            adjacent = _valid_change(p, dilation=1)
            if adjacent is not None:
                rows = positions(adjacent)
                if i < len(rows):
                    found.append(rows[i])
        found.append(list(reversed(self.windows[i])))
        return found

    def _window_target(self) -> tuple[int, ...] | None:
        for i in range(self.m):
            for delta in (1, -1):
                row = self.shifted(i, delta)
                if row is None or all(not 0 <= t < self.p.n for t in row):
                    continue
                if _reads(row, self.p) in [_reads(r, self.p) for r in self._alternatives(i)]:
                    continue
                return (i, delta)
        return None


def positions(problem: Problem) -> list[list[int]]:
    """For output i and tap j, the input position read (0-based; outside 0..n-1: padding)."""
    table = window_table(problem)
    return [
        [
            t if t is not None else problem.stride * i + problem.dilation * j - problem.padding
            for j, t in enumerate(row)
        ]
        for i, row in enumerate(table)
    ]


def _reads(row: list[int], problem: Problem) -> list[int | None]:
    """What a window reads: the input positions, None for a padding zero."""
    return [t if 0 <= t < problem.n else None for t in row]


def _valid_change(problem: Problem, **changes: object) -> Problem | None:
    """The changed problem, or None when the change leaves no valid layer."""
    try:
        return problem.with_layer(**changes)
    except ProblemError:
        return None


def _changed(problem: Problem, **changes: object) -> Problem:

    return problem.with_layer(**changes)


def render(
    problem: Problem, *, seed: int = 0, mutation: str | None = None, extended: bool = False
) -> Rendered:
    """The whole submission for ``problem`` (with one planted mistake if ``mutation``).

    ``extended``: also ∂L/∂x (the product with ∂ŷ/∂x, the sums, entry by entry, with
    numbers), a second SGD step written out, and values that do not terminate rounded to
    3–4 significant digits (``≈``, or ``=`` with the rounded value).
    """
    plan = _Plan(problem, extended)
    where = plan.target(mutation) if mutation else None
    site = ""
    if mutation:
        sites = plan.sites(mutation)
        if not sites:
            raise ValueError(f"mutation {mutation!r} does not apply to this problem")
        site = random.Random(f"{seed}/{mutation}").choice(sites)
    renderer = _Renderer(problem, plan, random.Random(seed), mutation, where)
    renderer.site = site
    rendered = renderer.run()
    rendered.site = site
    return rendered


class _Renderer:
    def __init__(
        self,
        problem: Problem,
        plan: _Plan,
        rng: random.Random,
        mutation: str | None,
        where: tuple[int, ...] | None,
    ) -> None:
        self.p = problem
        self.plan = plan
        self.m = problem.m
        self.k = problem.k
        self.mse = problem.loss == "mse"
        self.rng = rng
        self.mutation = mutation
        self.where = where or ()
        self.site = ""
        self.out = _Writer(rng)
        self.col_row = "notation" if self.k >= 2 else "correct"  # [k×1]·[1×k]
        self.jac = "notation" if self.m >= 2 and self.k >= 2 else "correct"  # (m×1)·(m×k)
        self.eye = "notation" if self.m >= 2 else "correct"  # (m×1)·(m×m)
        # where an arithmetic slip goes (its own random stream: the style stays the same)
        self.slip_at = random.Random(rng.random()).choice(SLIP_TARGETS)
        self.slipped = False
        self.pad_names = rng.random() < 0.5  # padding written x_0, x_{n+1} (else 0)
        self.rate_text = num(problem.lr)
        if problem.lr == Rational(1, 4) and rng.random() < 0.5:
            self.rate_text = "\\frac{1}{4}"
        # variants of the same style (each right; only the column·row products are notation)
        self.short = rng.choice(
            ("w \\cdot x", "w \\cdot x", "w^T x", "w^T \\cdot x", "\\mathbf{w}^T \\mathbf{x}")
        )
        self.row_col = rng.random() < 0.2  # [w₁ w₂]·[x₁ x₂]ᵀ-shaped: a real product
        self.per_entry = rng.random() < 0.5  # ∂L/∂w_j written one by one too
        self.half_first = rng.random() < 0.3  # ½ Σ instead of Σ ½
        self.vector_form = rng.random() < 0.3  # ∂L/∂ŷ = … = ŷ − y as vectors
        self.bold_update = rng.random() < 0.3  # \mathbf{w}^{(1)}
        self.braces = rng.random() < 0.3  # x_{1} rather than x_1
        self.extended = plan.extended
        extra = random.Random(rng.random()) if plan.extended else random.Random(0)
        self.digits = extra.choice((3, 4))  # significant digits of a rounded value
        # a value that does not terminate: = 2/3 ≈ 0.667, ≈ 0.667, or = 0.667
        self.round_style = extra.choice(("frac", "approx", "equals"))
        self.per_entry_x = extra.random() < 0.5  # ∂L/∂x_t written one by one too
        self.second_symbolic = extra.random() < 0.5  # w^{(2)} = w^{(1)} − α·∂L/∂w = …

    # -- helpers -------------------------------------------------------------------------

    def planted(self, mutation: str, site: str) -> bool:
        return self.mutation == mutation and self.site == site

    def mark(self, label: str, kind: str | None) -> None:
        r = self.out.rendered
        r.mutated = label
        r.kind = kind
        r.expected[label] = "incorrect"

    def hat(self, i: int) -> str:
        """ŷ_{i+1}, sometimes written ``\\hat{y_1}`` as in the submission."""
        return f"\\hat{{y_{i + 1}}}" if self.rng.random() < 0.15 else f"\\hat{{y}}_{i + 1}"

    def mean(self) -> str:
        """The 1/m of the mean (nothing for one output)."""
        return "" if self.m == 1 else f"\\frac{{1}}{{{self.m}}} "

    def two_over_m(self) -> str:
        """The factor 2/m of the mean's derivative (``2`` for one output)."""
        return "2 " if self.m == 1 else f"\\frac{{2}}{{{self.m}}} "

    def g_sym(self, i: int, sign: str = "-") -> str:
        """∂L/∂ŷ_i written with symbols."""
        core = f"{self.hat(i)} {sign} y_{i + 1}"
        return f"{self.two_over_m()}({core})" if self.mse else core

    def g_factor(self, i: int) -> str:
        core = f"({self.hat(i)} - y_{i + 1})"
        return f"{self.two_over_m()}{core}" if self.mse else core

    def dot(self) -> str:
        return " \\cdot "

    def bias_sym(self) -> str:
        return "" if self.p.bias == "none" else " + b"

    def bias_value(self, i: int, step: StepValues) -> Rational | None:
        if step.b is None:
            return None
        value: Rational = step.b[i] if self.p.bias == "untied" else step.b[0]
        return value

    def plus(self, value: object) -> str:
        text = num(value)
        if text.startswith("-") and self.rng.random() < 0.5:
            return f" - {text[1:]}"
        return f" + {fac(value)}"

    def join_terms(self, terms: list[str]) -> str:
        return " + ".join(terms) if terms else "0"

    def x_entry(self, t: int) -> str:
        """The input at position t; a padding zero as ``0`` or by its name (``x_0``)."""
        if 0 <= t < self.p.n or self.pad_names:
            return self.sub("x", t + 1) if t >= 0 else "x_{" + str(t + 1) + "}"
        return "0"

    def x_value(self, t: int) -> object:
        assert self.p.x is not None
        return self.p.x[t] if 0 <= t < self.p.n else 0

    # -- the document ----------------------------------------------------------------------

    def run(self) -> Rendered:
        out = self.out
        out.prose(
            "Submission for Deep Learning Exercise 2",
            "Team and student names removed.",
            "1 Pen and paper task: Convolution in 1-D",
        )
        self.symbolic()
        out.prose("2 Performing the convolution with backward pass for given values")
        self.definitions()
        self.numeric()
        out.rendered.text = "\n".join(out.lines) + "\n"
        return out.rendered

    # -- 1: the symbolic derivation -----------------------------------------------------

    def sub(self, stem: str, index: int) -> str:
        return f"{stem}_{{{index}}}" if self.braces else f"{stem}_{index}"

    def product(self, column: list[str], row: list[str]) -> tuple[str, str]:
        """The forward product as the student writes it, and its verdict."""
        if self.row_col:
            return f"{bmatrix_row(column)} \\cdot {bmatrix_col(row)}", "correct"
        tight = self.rng.random() < 0.3
        return f"{bmatrix_col(column, tight)} \\cdot {bmatrix_row(row)}", self.col_row

    def forward_symbolic(self, i: int, label: str, windows: list[int], role: str) -> None:
        cols = [self.sub("w", j + 1) for j in range(self.k)]
        row = [self.x_entry(t) for t in windows]
        terms = [f"{self.sub('w', j + 1)} \\cdot {self.x_entry(t)}" for j, t in enumerate(windows)]
        product, verdict = self.product(cols, row)
        latex = (
            f"\\hat{{y}}_{i + 1} = {product}{self.bias_sym()}"
            f" = {' + '.join(terms)}{self.bias_sym()}"
        )
        self.out.equation(latex, label, verdict, role)

    def symbolic(self) -> None:
        out, p = self.out, self.p
        out.prose("1.1 Forward Pass")
        for i in range(self.m):
            out.prose(f"1.1.{i + 1} Stride {i}")
            out.equation(
                f"\\hat{{y}}_{i + 1} = {self.short}{self.bias_sym()}", f"{i + 1}a", "correct"
            )
            windows = self.plan.windows[i]
            label = f"{i + 1}b"
            if self.planted("window", "symbolic") and self.where[0] == i:
                shifted = self.plan.shifted(i, self.where[1])
                assert shifted is not None
                self.forward_symbolic(i, label, shifted, "window")
                self.mark(label, MUTATIONS["window"])
            elif self.planted("stride", "symbolic") and self.where[0] == i:
                one = positions(_changed(p, stride=1))[i]
                self.forward_symbolic(i, label, one, "stride")
                self.mark(label, MUTATIONS["stride"])
            else:
                self.forward_symbolic(i, label, windows, f"forward{i}")
        g = self.m + 1  # the next group number
        out.prose(f"1.1.{self.m + 1} Loss")
        if self.mse:
            loss = f"{LOSS} = {self.mean()}\\sum_{{i=1}}^{{{self.m}}} ||y_i - \\hat{{y}}_i||_2^2"
        elif self.half_first:
            loss = (
                f"{LOSS} = \\frac{{1}}{{2}} \\sum_{{i=1}}^{{{self.m}}} ||y_i - \\hat{{y}}_i||_2^2"
            )
        else:
            loss = (
                f"{LOSS} = \\sum_{{i=1}}^{{{self.m}}} \\frac{{1}}{{2}} ||y_i - \\hat{{y}}_i||_2^2"
            )
        out.equation(loss, f"{g}", "correct", "loss")
        g += 1

        out.prose("1.2 Backward pass")
        entries = [self.g_sym(i) for i in range(self.m)]
        label = f"{g}a"
        if self.planted("sign", "symbolic"):
            entries[0] = self.g_sym(0, "+")
        vector = ""
        if self.vector_form:
            vector = " = \\hat{\\mathbf{y}} - \\mathbf{y}"
            if self.mse:
                vector = f" = {self.two_over_m()}(\\hat{{\\mathbf{{y}}}} - \\mathbf{{y}})"
        out.equation(f"{D_YHAT} = {bmatrix_col(entries)}{vector}", label, "correct", "grad_yhat")
        if self.planted("sign", "symbolic"):
            self.mark(label, MUTATIONS["sign"])
        out.equation(f"{D_W} = {D_YHAT} \\cdot {JAC_W}", f"{g}b", "correct")
        jac = bmatrix([[self.x_entry(t) for t in self.plan.windows[i]] for i in range(self.m)])
        sums = [
            self.join_terms(
                [f"{self.g_factor(i)} \\cdot x_{t + 1}" for i, t in self.plan.terms_of_tap(j)]
            )
            for j in range(self.k)
        ]
        left = bmatrix_col([self.g_sym(i) for i in range(self.m)])
        out.equation(
            f"{D_W} = {left} \\cdot {jac} = {bmatrix_col(sums)}", f"{g}c", self.jac, "grad_w"
        )
        if self.per_entry:
            for j in range(self.k):
                name = f"\\frac{{\\partial {LOSS}}}{{\\partial {self.sub('w', j + 1)}}}"
                out.equation(f"{name} = {sums[j]}", f"{g}c{j + 1}", "correct")
        if p.bias != "none":
            self.bias_gradient_symbolic(g)
        if self.extended:
            self.input_gradient_symbolic(g)
        g += 1

        out.prose("1.2.1 Weight update")
        rows = []
        for j in range(self.k):
            terms = self.plan.terms_of_tap(j)
            body = sums[j]
            if len(terms) >= 2 and not (
                self.planted("parentheses", "symbolic") and self.where[0] == j
            ):
                body = f"({body})"
            rows.append(f"{self.sub('w', j + 1)} - \\alpha \\cdot {body}")
        label = f"{g}a"
        new = "\\mathbf{w}^{(1)} = \\mathbf{w}" if self.bold_update else "w^{(1)} = w"
        out.equation(f"{new} - \\alpha \\cdot {D_W} = {bmatrix_col(rows)}", label, "correct", "w1")
        if self.planted("parentheses", "symbolic"):
            self.mark(label, MUTATIONS["parentheses"])
        if p.bias == "untied":
            rows = [f"b_{i + 1} - \\alpha \\cdot {self.g_factor(i)}" for i in range(self.m)]
            out.equation(
                f"b^{{(1)}} = b - \\alpha \\cdot {D_B} = {bmatrix_col(rows)}", f"{g}b", "correct"
            )
        elif p.bias == "shared":
            total = " + ".join(self.g_factor(i) for i in range(self.m))
            if self.m >= 2:
                total = f"({total})"
            out.equation(
                f"b^{{(1)}} = b - \\alpha \\cdot {D_B_SHARED} = b - \\alpha \\cdot {total}",
                f"{g}b",
                "correct",
            )
        self.group = g + 1

    def bias_gradient_symbolic(self, g: int) -> None:
        """∂L/∂b: the identity for an untied bias, the sum for a shared one (or, planted,
        the other one's form)."""
        out, p = self.out, self.p
        planted = self.planted("bias", "symbolic")
        untied_form = (p.bias == "untied") != planted
        name = D_B if p.bias == "untied" else D_B_SHARED
        if untied_form:
            out.equation(f"{name} = {D_YHAT} \\cdot {JAC_B}", f"{g}d", "correct")
            eye = bmatrix([["1" if r == c else "0" for c in range(self.m)] for r in range(self.m)])
            left = bmatrix_col([self.g_sym(i) for i in range(self.m)])
            right = bmatrix_col([self.g_sym(i) for i in range(self.m)])
            label = f"{g}e"
            out.equation(f"{name} = {left} \\cdot {eye} = {right}", label, self.eye, "grad_b")
        else:
            parts = " + ".join(f"({self.g_sym(i)})" for i in range(self.m))
            label = f"{g}d"
            out.equation(
                f"{name} = \\sum_{{i=1}}^{{{self.m}}} \\frac{{\\partial {LOSS}}}"
                f"{{\\partial \\hat{{y}}_i}} = {parts}",
                label,
                "correct",
                "grad_b",
            )
        if planted:
            self.mark(label, MUTATIONS["bias"])

    # -- 2: the numbers ---------------------------------------------------------------------

    def definitions(self) -> None:
        p, out = self.p, self.out
        assert p.x is not None and p.w is not None and p.y is not None
        out.equation(f"x = {bmatrix_row([num(v) for v in p.x])}^T", None, "correct")
        out.equation(f"w = {bmatrix_row([num(v) for v in p.w])}^T", None, "correct")
        if isinstance(p.b, tuple):
            out.equation(f"b = {bmatrix_row([num(v) for v in p.b])}^T", None, "correct")
        elif p.b is not None:
            out.equation(f"b = {num(p.b)}", None, "correct")
        out.equation(f"y = {bmatrix_row([num(v) for v in p.y])}^T", None, "correct")
        out.equation(f"\\alpha = {self.rate()}", None, "correct")

    def rate(self) -> str:
        return self.rate_text

    def yhat_vector(self, values: tuple[Rational, ...]) -> str:
        """``ŷ = [v₁ … vₘ]`` (rounded where a value does not terminate)."""
        ending = self.vector_ending("", values, True)
        if self.extended and self.round_style == "frac":
            ending = ending.split(" \\approx ")[-1]
            ending = ending if ending.startswith(" = ") else f" \\approx {ending}"
            if all(terminates(v) for v in values):
                ending = f" = {bmatrix_col([num(v) for v in values], True)}"
        return f"\\hat{{\\mathbf{{y}}}}{ending}"

    def new_parameters(self, step: StepValues) -> None:
        """``New weights: w = [..]ᵀ`` and the biases, of the step just computed."""
        out = self.out
        out.equation(self.definition("w", step.w_next), None, "correct")
        if step.b_next is not None:
            out.prose("New biases:")
            out.equation(self.definition("b", step.b_next), None, "correct")

    # -- extended: ∂L/∂x and a second step ------------------------------------------------

    def jac_x(self, entry: Callable[[list[int]], str]) -> str:
        """∂ŷ/∂x (m×n): in row i, column t, the taps of window i that read x_t."""
        rows = []
        for i in range(self.m):
            row = []
            for t in range(self.p.n):
                taps = [j for ii, j in self.plan.terms_of_input(t) if ii == i]
                row.append(entry(taps) if taps else "0")
            rows.append(row)
        return bmatrix(rows)

    def x_terms(self, t: int, site: str) -> list[tuple[int, int]]:
        """The (output, tap) pairs of ∂L/∂x_t as written (flipped or one dropped if the
        mutation is planted at ``site``)."""
        terms = self.plan.terms_of_input(t)
        k = self.k
        if self.planted("flip_x", site):
            terms = [(i, k - 1 - j) for i, j in terms]
        if self.planted("border_x", site) and t == self.where[0]:
            terms = [term for n, term in enumerate(terms) if n != self.where[1]]
        return terms

    def input_gradient_symbolic(self, g: int) -> None:
        out = self.out
        out.equation(f"{D_X} = {D_YHAT} \\cdot {JAC_X}", f"{g}f", "correct")
        jac = self.jac_x(lambda taps: " + ".join(self.sub("w", j + 1) for j in taps))
        left = bmatrix_col([self.g_sym(i) for i in range(self.m)])

        def sums(site: str) -> list[str]:
            return [
                self.join_terms(
                    [f"{self.g_factor(i)} \\cdot {self.sub('w', j + 1)}" for i, j in terms]
                )
                for terms in (self.x_terms(t, site) for t in range(self.p.n))
            ]

        verdict = "notation" if self.m >= 2 else "correct"
        label = f"{g}g"
        out.equation(
            f"{D_X} = {left} \\cdot {jac} = {bmatrix_col(sums('symbolic'))}", label, verdict
        )
        if self.mutation in ("flip_x", "border_x") and self.site == "symbolic":
            self.mark(label, EXTENDED_MUTATIONS[self.mutation])
        if self.per_entry_x:
            right = sums("none")
            for t in range(self.p.n):
                name = f"\\frac{{\\partial {LOSS}}}{{\\partial {self.sub('x', t + 1)}}}"
                out.equation(f"{name} = {right[t]}", f"{g}h{t + 1}", "correct")

    def input_gradient_numeric(self, label: str, step: StepValues) -> None:
        out = self.out
        jac = self.jac_x(lambda taps: num(sum((step.w[j] for j in taps), Rational(0))))
        left = bmatrix_col([self.g_sym(i) for i in range(self.m)])
        written, values = [], []
        for t in range(self.p.n):
            terms = self.x_terms(t, "numeric")
            written.append(
                self.join_terms(
                    [f"{fac(step.grad_yhat[i])} \\cdot {fac(step.w[j])}" for i, j in terms]
                )
            )
            values.append(sum((step.grad_yhat[i] * step.w[j] for i, j in terms), Rational(0)))
        verdict = "notation" if self.m >= 2 else "correct"
        out.equation(
            f"{D_X} = {left} \\cdot {jac} = {bmatrix_col(written)}"
            f"{self.vector_ending('', tuple(values))}",
            label,
            verdict,
        )
        if self.mutation in ("flip_x", "border_x") and self.site == "numeric":
            self.mark(label, EXTENDED_MUTATIONS[self.mutation])

    def second_step(self, g: int) -> None:
        """The second SGD step with numbers: ∂L/∂ŷ, ∂L/∂w, w⁽²⁾, b⁽²⁾, then the forward
        pass and the loss with them."""
        out, p = self.out, self.p
        assert p.y is not None
        s1 = self.plan.steps[1]
        out.prose("2.6 Second update")
        symbolic = [self.g_sym(i) for i in range(self.m)]
        differences = [f"{num(v)} - {fac(y)}" for v, y in zip(s1.yhat, p.y)]
        if self.mse:
            differences = [f"{self.two_over_m()}({d})" for d in differences]
        out.equation(
            f"{D_YHAT} = {bmatrix_col(symbolic)} = {bmatrix_col(differences)}"
            f"{self.vector_ending('', s1.grad_yhat)}",
            f"{g}a",
            "correct",
        )
        jac = bmatrix([[self.x_entry(t) for t in self.plan.windows[i]] for i in range(self.m)])
        sums = [
            self.join_terms(
                [
                    f"{fac(s1.grad_yhat[i])} \\cdot {fac(self.x_value(t))}"
                    for i, t in self.plan.terms_of_tap(j)
                ]
            )
            for j in range(self.k)
        ]
        out.equation(
            f"{D_W} = {bmatrix_col(symbolic)} \\cdot {jac} = {bmatrix_col(sums)}"
            f"{self.vector_ending('', s1.grad_w)}",
            f"{g}b",
            self.jac,
        )
        wrong = self.planted("update_sign2", "numeric")
        sign = "+" if wrong else "-"
        rows = [
            f"{num(wj)} {sign} {self.rate()} \\cdot {fac(gj)}" for wj, gj in zip(s1.w, s1.grad_w)
        ]
        lr = p.lr
        new = tuple(wj + lr * gj if wrong else wj - lr * gj for wj, gj in zip(s1.w, s1.grad_w))
        head = (
            f"w^{{(2)}} = w^{{(1)}} {sign} \\alpha \\cdot {D_W} = "
            if self.second_symbolic
            else "w^{(2)} = "
        )
        out.equation(f"{head}{bmatrix_col(rows)}{self.vector_ending('', new)}", f"{g}c", "correct")
        if wrong:
            self.mark(f"{g}c", EXTENDED_MUTATIONS["update_sign2"])
        if p.bias == "untied":
            assert s1.b is not None and s1.b_next is not None
            rows = [
                f"{num(bi)} - {self.rate()} \\cdot {fac(gi)}" for bi, gi in zip(s1.b, s1.grad_yhat)
            ]
            out.equation(
                f"b^{{(2)}} = b^{{(1)}} - \\alpha \\cdot {D_B} = {bmatrix_col(rows)}"
                f"{self.vector_ending('', s1.b_next)}",
                f"{g}d",
                "correct",
            )
        elif p.bias == "shared":
            assert s1.b is not None and s1.b_next is not None and s1.grad_b is not None
            parts = " + ".join(fac(v) for v in s1.grad_yhat)
            if self.m >= 2:
                parts = f"({parts})"
            out.equation(
                f"b^{{(2)}} = b^{{(1)}} - \\alpha \\cdot {D_B_SHARED} = {num(s1.b[0])} - "
                f"{self.rate()} \\cdot {parts}{self.ending('', s1.b_next[0])}",
                f"{g}d",
                "correct",
            )
        g += 1
        out.prose("2.7 Forward pass with the weights of the second update", "New weights:")
        self.new_parameters(s1)
        after = replace(s1, w=s1.w_next, b=s1.b_next, yhat=s1.yhat_next, loss=s1.loss_next)
        for i in range(self.m):
            out.prose(f"2.7.{i + 1} Stride {i}")
            self.forward_numeric(i, after, f"{g + i}a", True)
        g += self.m
        out.equation(self.yhat_vector(after.yhat), f"{g}", "correct")
        g += 1
        loss = self.loss_numeric(after, after.yhat, f"{g}a")
        out.equation(f"{loss}{self.ending('', after.loss)}", f"{g}a", "correct")

    def forward_numeric(
        self,
        i: int,
        step: StepValues,
        label: str,
        after: bool,
        *,
        name: int | None = None,
        windows: list[int] | None = None,
    ) -> None:
        """ŷ_i with numbers: the column·row product, the sum of products, the value."""
        value = step.yhat[i]
        if windows is not None:
            value = self.plan.window_value(i, windows, step)
        windows = windows if windows is not None else self.plan.windows[i]
        cols = [num(v) for v in step.w]
        row = [num(self.x_value(t)) for t in windows]
        terms = [f"{fac(wj)} \\cdot {fac(self.x_value(t))}" for wj, t in zip(step.w, windows)]
        bias_value = self.bias_value(i, step)
        if bias_value is None:
            bias_sym, bias_num = "", ""
        elif self.p.bias == "untied" and (after or name is not None):
            bias_sym, bias_num = f" + b_{i + 1}", self.plus(bias_value)
        else:
            bias_sym, bias_num = " + b", self.plus(bias_value)
        shown = i if name is None else name
        product, verdict = self.product(cols, row)
        latex = (
            f"\\hat{{y}}_{shown + 1} = {product}{bias_sym} = {' + '.join(terms)}{bias_num}"
            f"{self.ending('yhat' if not after else '', value)}"
        )
        self.out.equation(latex, label, verdict, f"forward_numeric{i}")
        self.settle(label)

    def loss_numeric(self, step: StepValues, yhat: tuple[Rational, ...], label: str) -> str:
        assert self.p.y is not None
        squares = [f"({num(y)} - {fac(v)})^2" for y, v in zip(self.p.y, yhat)]
        if self.mse:
            body = (
                f"{self.mean()}\\sum_{{i=1}}^{{{self.m}}} ||y_i - \\hat{{y}}_i||_2^2 = "
                f"{self.mean()}({' + '.join(squares)})"
            )
        else:
            halves = [
                "\\frac{1}{2}" + (" \\cdot " if self.rng.random() < 0.5 else " ") + square
                for square in squares
            ]
            body = (
                f"\\sum_{{i=1}}^{{{self.m}}} \\frac{{1}}{{2}} ||y_i - \\hat{{y}}_i||_2^2 = "
                + " + ".join(halves)
            )
        return f"{LOSS} = {body}"

    def final(self, role: str, value: object) -> str:
        """A final number; off by one if the arithmetic slip is planted here."""
        return num(self.final_value(role, value))

    def final_value(self, role: str, value: object) -> Rational:
        if self.mutation == "slip" and self.slip_at == role and not self.slipped:
            self.slipped = True
            return Rational(value) + 1
        return Rational(value)

    def shown(self, value: object) -> str:
        """A value in a rounded form: exact if it terminates, else rounded."""
        return num(value) if terminates(value) else rounded(value, self.digits)

    def ending(self, role: str, value: object) -> str:
        """`` = v`` closing a chain; a value that does not terminate rounded (extended)."""
        value = self.final_value(role, value)
        if not self.extended or terminates(value):
            return f" = {num(value)}"
        self.out.rendered.rounded.add(self.round_style)
        if self.round_style == "frac":
            return f" = {num(value)} \\approx {rounded(value, self.digits)}"
        relation = "\\approx" if self.round_style == "approx" else "="
        return f" {relation} {rounded(value, self.digits)}"

    def vector_ending(self, role: str, values: tuple[Rational, ...], tight: bool = False) -> str:
        """`` = [v₁ … vₘ]`` closing a chain, rounded like :meth:`ending`."""
        finals = [self.final_value(role, v) for v in values]
        exact = bmatrix_col([num(v) for v in finals], tight)
        if not self.extended or all(terminates(v) for v in finals):
            return f" = {exact}"
        approximate = bmatrix_col([self.shown(v) for v in finals], tight)
        self.out.rendered.rounded.add(self.round_style)
        if self.round_style == "frac":
            return f" = {exact} \\approx {approximate}"
        relation = "\\approx" if self.round_style == "approx" else "="
        return f" {relation} {approximate}"

    def definition(self, name: str, values: tuple[Rational, ...]) -> str:
        """``w = [..]^T`` (a shared bias: ``b = v``), rounded where a value does not
        terminate and the document rounds."""
        exact = len(values) > 1 or name != "b" or self.p.bias == "untied"
        if not self.extended or self.round_style == "frac" or all(terminates(v) for v in values):
            body = [num(v) for v in values]
            relation = "="
        else:
            body = [self.shown(v) for v in values]
            relation = "\\approx" if self.round_style == "approx" else "="
        if exact:
            return f"{name} {relation} {bmatrix_row(body)}^T"
        return f"{name} {relation} {body[0]}"

    def finals(self, role: str, values: tuple[Rational, ...]) -> list[str]:
        return [self.final(role, v) for v in values]

    def settle(self, label: str) -> None:
        """Mark ``label`` if the slip was just planted in it."""
        if self.slipped and self.out.rendered.mutated is None:
            self.mark(label, MUTATIONS["slip"])

    def numeric(self) -> None:
        out, p, s0 = self.out, self.p, self.plan.s0
        assert p.y is not None
        g = self.group
        out.prose("2.1 Forward Pass")
        for i in range(self.m):
            out.prose(f"2.1.{i + 1} Stride {i}")
            label = f"{g + i}a"
            if self.planted("label", "before") and i == self.where[0]:
                self.forward_numeric(i, s0, label, False, name=i - 1)
                self.mark(label, MUTATIONS["label"])
            elif self.mutation in ("window", "stride") and self.site == "numeric":
                if i == self.where[0]:
                    row = (
                        self.plan.shifted(i, self.where[1])
                        if self.mutation == "window"
                        else positions(_changed(p, stride=1))[i]
                    )
                    assert row is not None
                    self.forward_numeric(i, s0, label, False, windows=row)
                    unique = self.plan.numeric_window(self.mutation)[1]
                    self.mark(label, MUTATIONS[self.mutation] if unique else None)
                else:
                    self.forward_numeric(i, s0, label, False)
            else:
                self.forward_numeric(i, s0, label, False)
        g += self.m
        out.prose(f"2.1.{self.m + 1} Prediction and Loss")
        out.equation(self.yhat_vector(s0.yhat), f"{g}", "correct")
        g += 1
        loss = self.loss_numeric(s0, s0.yhat, f"{g}a")
        label = f"{g}a"
        out.equation(f"{loss}{self.ending('loss', s0.loss)}", label, "correct", "loss_numeric")
        self.settle(label)
        g += 1

        out.prose("2.2 Backward Pass")
        symbolic = [self.g_sym(i) for i in range(self.m)]
        differences = [f"{num(v)} - {fac(y)}" for v, y in zip(s0.yhat, p.y)]
        if self.planted("sign", "numeric"):
            differences[0] = f"{num(s0.yhat[0])} + {fac(p.y[0])}"
        if self.mse:
            differences = [f"{self.two_over_m()}({d})" for d in differences]
        out.equation(
            f"{D_YHAT} = {bmatrix_col(symbolic)} = {bmatrix_col(differences)}"
            f"{self.vector_ending('', s0.grad_yhat)}",
            f"{g}a",
            "correct",
        )
        if self.planted("sign", "numeric"):
            self.mark(f"{g}a", MUTATIONS["sign"])
        jac = bmatrix([[self.x_entry(t) for t in self.plan.windows[i]] for i in range(self.m)])
        sums = [
            self.join_terms(
                [
                    f"{fac(s0.grad_yhat[i])} \\cdot {fac(self.x_value(t))}"
                    for i, t in self.plan.terms_of_tap(j)
                ]
            )
            for j in range(self.k)
        ]
        out.equation(
            f"{D_W} = {bmatrix_col(symbolic)} \\cdot {jac} = {bmatrix_col(sums)}"
            f"{self.vector_ending('grad_w', s0.grad_w)}",
            f"{g}b",
            self.jac,
        )
        self.settle(f"{g}b")
        assert s0.grad_b is not None or p.bias == "none"
        swap = self.planted("bias", "numeric")
        if (p.bias == "untied") != swap and p.bias != "none":
            name = D_B if p.bias == "untied" else D_B_SHARED
            eye = bmatrix([["1" if r == c else "0" for c in range(self.m)] for r in range(self.m)])
            out.equation(
                f"{name} = {bmatrix_col(symbolic)} \\cdot {eye}"
                f"{self.vector_ending('', s0.grad_yhat)}",
                f"{g}c",
                self.eye,
            )
        elif p.bias != "none":
            name = D_B_SHARED if p.bias == "shared" else D_B
            parts = " + ".join(fac(v) for v in s0.grad_yhat)
            total = sum(s0.grad_yhat, Rational(0))
            out.equation(
                f"{name} = \\sum_{{i=1}}^{{{self.m}}} \\frac{{\\partial {LOSS}}}"
                f"{{\\partial \\hat{{y}}_i}} = {parts}{self.ending('', total)}",
                f"{g}c",
                "correct",
            )
        if swap:
            self.mark(f"{g}c", MUTATIONS["bias"])
        if self.extended:
            self.input_gradient_numeric(f"{g}d", s0)
        g += 1

        out.prose("2.3 Weight update")
        rows = [f"{num(wj)} - {self.rate()} \\cdot {fac(gj)}" for wj, gj in zip(s0.w, s0.grad_w)]
        if self.planted("parentheses", "numeric"):
            # the products written out in each row, the parentheses lost in one
            rows = []
            for j, wj in enumerate(s0.w):
                products = [
                    f"{fac(s0.grad_yhat[i])} \\cdot {fac(self.x_value(t))}"
                    for i, t in self.plan.terms_of_tap(j)
                ]
                body = self.join_terms(products)
                if len(products) >= 2 and j != self.where[0]:
                    body = f"({body})"
                rows.append(f"{num(wj)} - {self.rate()} \\cdot {body}")
        out.equation(
            f"w^{{(1)}} = w - \\alpha \\cdot {D_W} = {bmatrix_col(rows)}"
            f"{self.vector_ending('w_next', s0.w_next)}",
            f"{g}a",
            "correct",
        )
        self.settle(f"{g}a")
        if self.planted("parentheses", "numeric"):
            self.mark(f"{g}a", MUTATIONS["parentheses"])
        if p.bias == "untied":
            assert s0.b is not None and s0.b_next is not None
            rows = [
                f"{num(bi)} - {self.rate()} \\cdot {fac(gi)}" for bi, gi in zip(s0.b, s0.grad_yhat)
            ]
            out.equation(
                f"b^{{(1)}} = b - \\alpha \\cdot {D_B} = {bmatrix_col(rows)}"
                f"{self.vector_ending('', s0.b_next)}",
                f"{g}b",
                "correct",
            )
        elif p.bias == "shared":
            assert s0.b is not None and s0.b_next is not None and s0.grad_b is not None
            out.equation(
                f"b^{{(1)}} = b - \\alpha \\cdot {D_B_SHARED} = {num(s0.b[0])} - {self.rate()} "
                f"\\cdot {fac(s0.grad_b[0])}{self.ending('', s0.b_next[0])}",
                f"{g}b",
                "correct",
            )
        g += 1

        out.prose("2.4 Forward pass with updated weights and biases", "New weights:")
        self.new_parameters(s0)
        s1 = self.plan.steps[0]
        after = StepValues(
            w=s1.w_next,
            b=s1.b_next,
            yhat=s1.yhat_next,
            loss=s1.loss_next,
            grad_yhat=(),
            grad_w=(),
            grad_b=None,
            grad_x=(),
            w_next=(),
            b_next=None,
            yhat_next=(),
            loss_next=s1.loss_next,
        )
        out.prose("2.5 Forward Pass")
        for i in range(self.m):
            out.prose(f"2.5.{i + 1} Stride {i}")
            label = f"{g + i}a"
            if self.planted("label", "after") and i == self.where[0]:
                self.forward_numeric(i, after, label, True, name=i - 1)
                self.mark(label, MUTATIONS["label"])
            else:
                self.forward_numeric(i, after, label, True)
        g += self.m
        out.prose(f"2.5.{self.m + 1} Prediction and Loss")
        out.equation(self.yhat_vector(after.yhat), f"{g}", "correct")
        g += 1
        loss = self.loss_numeric(after, after.yhat, f"{g}a")
        out.equation(f"{loss}{self.ending('loss_next', after.loss)}", f"{g}a", "correct")
        self.settle(f"{g}a")
        if self.extended:
            self.second_step(g + 1)
