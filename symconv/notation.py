"""The roles of a convolution layer's quantities and how each one is spelled.

One registry for every part that names a quantity: the checker (which document symbol
plays which role), the JSON keys and the printers.  A *role* is what a symbol means
(the input, the output, the target, ...); a *spelling* is how a document writes it
(``\\hat{y}``, ``o``, ``y_{pred}``, ``\\text{out}``).  Spellings are given in the checker's
name keys (:func:`symconv.check.evaluate.name_key`): ``"x"``, ``"hat:y"``, ``"text:out"``,
with ``"|word"`` for a word subscript (``y_{true}`` → ``"y|true"``) and ``"^*"`` for a
star (``y^*`` → ``"y^*"``).

Example:
    >>> ROLES["output"].unicode, ROLES["output"].key
    ('ŷ', 'hat:y')
    >>> role_of_key("hat:y").name
    'output'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BIAS_MODES",
    "GRADIENT_OF",
    "QUANTITIES",
    "ROLES",
    "WORD_SUBSCRIPTS",
    "BiasNotation",
    "Quantity",
    "Role",
    "bias_notation",
    "quantity",
    "role_of_key",
]


@dataclass(frozen=True)
class Role:
    """A quantity of the layer: its ``[notation]`` name, the checker's canonical key, its
    spellings for people (LaTeX, unicode), its JSON key and the spellings documents use
    for it, most usual first (the checker infers which one a document uses)."""

    name: str
    key: str
    latex: str
    unicode: str
    json: str | None
    spellings: tuple[str, ...]


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("input", "x", "x", "x", "x", ("x", "text:input", "text:x")),
        Role(
            "weights",
            "w",
            "w",
            "w",
            "w",
            ("w", "text:weight", "text:weights", "text:kernel", "text:w"),
        ),
        Role("bias", "b", "b", "b", "b", ("b", "text:bias", "text:b")),
        Role(
            "output",
            "hat:y",
            r"\hat{y}",
            "ŷ",
            "yhat",
            (
                "hat:y",
                "y|pred",
                "y|hat",
                "y|out",
                "y|predicted",
                "y|prediction",
                "text:out",
                "text:output",
                "text:y_pred",
                "text:yhat",
                "y",
                "o",
                "z",
                "a",
                "s",
                "h",
                "v",
                "u",
            ),
        ),
        Role(
            "target",
            "y",
            "y",
            "y",
            "y",
            (
                "y",
                "y|true",
                "y|target",
                "y|gt",
                "y|label",
                "y^*",
                "text:target",
                "text:y_true",
                "t",
                "d",
            ),
        ),
        Role(
            "loss",
            "L",
            "L",
            "L",
            "loss",
            ("L", "cal:L", "E", "cal:E", "J", "cal:J", "ell", "C", "cal:C"),
        ),
        Role(
            "learning_rate",
            "alpha",
            r"\alpha",
            "α",
            None,
            ("alpha", "eta", "mu", "text:lr", "text:eta", "text:alpha"),
        ),
    )
}

# a subscript that is part of a name, not an index: y_{true}, y_{pred}
WORD_SUBSCRIPTS = frozenset(
    {"true", "pred", "hat", "out", "target", "gt", "label", "predicted", "prediction"}
)

# the quantity whose loss gradient each ``[notation] gradient`` spelling denotes by default
GRADIENT_OF = {"delta": "output", "g": "output"}


def role_of_key(key: str) -> Role:
    """The role whose canonical key is ``key`` (``"hat:y"`` → the output)."""
    for role in ROLES.values():
        if role.key == key:
            return role
    raise KeyError(key)


@dataclass(frozen=True)
class Quantity:
    """A derived (or given) quantity as people read it: its JSON key (``derive --json``,
    ``check --json``'s ``quantity``, the rubric), its names in unicode and LaTeX (the
    vector or tensor, bold in LaTeX), a short unicode name for narrow tables, and words.

    Example:
        >>> quantity("grad_w").unicode, quantity("grad_w").short
        ('∂L/∂w', '∂w')
        >>> print(quantity("grad_w").latex)
        \\partial \\mathcal{L}/\\partial \\mathbf{w}
    """

    key: str
    unicode: str
    latex: str
    short: str
    words: str
    given: bool = False


_L = r"\mathcal{L}"

QUANTITIES: dict[str, Quantity] = {
    q.key: q
    for q in (
        Quantity("x", "x", r"\mathbf{x}", "x", "the input", given=True),
        Quantity("w", "w", r"\mathbf{w}", "w", "the weights", given=True),
        Quantity("b", "b", r"\mathbf{b}", "b", "the bias", given=True),
        Quantity("y", "y", r"\mathbf{y}", "y", "the target", given=True),
        Quantity("yhat", "ŷ", r"\hat{\mathbf{y}}", "ŷ", "the output"),
        Quantity("loss", "L", _L, "L", "the loss"),
        Quantity(
            "grad_yhat",
            "∂L/∂ŷ",
            rf"\partial {_L}/\partial \hat{{\mathbf{{y}}}}",
            "∂ŷ",
            "the gradient at the output",
        ),
        Quantity(
            "grad_w", "∂L/∂w", rf"\partial {_L}/\partial \mathbf{{w}}", "∂w", "the weight gradient"
        ),
        Quantity(
            "grad_b", "∂L/∂b", rf"\partial {_L}/\partial \mathbf{{b}}", "∂b", "the bias gradient"
        ),
        Quantity(
            "grad_xpad",
            "∂L/∂x̃",
            rf"\partial {_L}/\partial \tilde{{\mathbf{{x}}}}",
            "∂x̃",
            "the gradient at the padded input",
        ),
        Quantity(
            "grad_x", "∂L/∂x", rf"\partial {_L}/\partial \mathbf{{x}}", "∂x", "the input gradient"
        ),
        Quantity("w_next", "w⁽¹⁾", r"\mathbf{w}^{(1)}", "w'", "the weights after one step"),
        Quantity("b_next", "b⁽¹⁾", r"\mathbf{b}^{(1)}", "b'", "the bias after one step"),
        Quantity("yhat_next", "ŷ⁽¹⁾", r"\hat{\mathbf{y}}^{(1)}", "ŷ'", "the output after one step"),
        Quantity("loss_next", "L⁽¹⁾", rf"{_L}^{{(1)}}", "L'", "the loss after one step"),
    )
}


def quantity(key: str) -> Quantity:
    """The registry entry of a quantity's JSON key (``"grad_w"``); KeyError names the keys."""
    try:
        return QUANTITIES[key]
    except KeyError:
        raise KeyError(f"unknown quantity {key!r} (known: {', '.join(QUANTITIES)})") from None


@dataclass(frozen=True)
class BiasNotation:
    """How a bias mode of a 1-D one-channel layer is written and differentiated.

    ``per_output``: one bias b_i per output (``b₁ … b_m``) rather than one ``b`` for all;
    ``jacobian``: ∂ŷ/∂b is the m×m identity (``"identity"``), a column of ones (``"ones"``)
    or there is no bias (None).  Printers, the question sheet and the worked model ask this
    registry instead of comparing the mode's name.

    Example:
        >>> bias_notation("untied").entries(3), bias_notation("shared").entries(3)
        (3, 1)
        >>> bias_notation("untied").unicode_name(1), bias_notation("shared").latex_name(1)
        ('b₂', 'b')
    """

    mode: str
    present: bool
    per_output: bool
    jacobian: str | None

    def entries(self, m: int) -> int:
        """How many bias parameters a layer with ``m`` outputs has."""
        return (m if self.per_output else 1) if self.present else 0

    def index(self, i: int) -> int:
        """The bias parameter that output ``i`` (0-based) adds."""
        return i if self.per_output else 0

    def unicode_name(self, i: int) -> str:
        """``b₂`` (per output, 0-based ``i``) or ``b``."""
        if not self.per_output:
            return "b"
        digits = str(i + 1).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
        return f"b{digits}"

    def latex_name(self, i: int) -> str:
        """``b_{2}`` (per output, 0-based ``i``) or ``b``."""
        return f"b_{{{i + 1}}}" if self.per_output else "b"


BIAS_MODES: dict[str, BiasNotation] = {
    "untied": BiasNotation("untied", present=True, per_output=True, jacobian="identity"),
    "shared": BiasNotation("shared", present=True, per_output=False, jacobian="ones"),
    "none": BiasNotation("none", present=False, per_output=False, jacobian=None),
}


def bias_notation(mode: str) -> BiasNotation:
    """The registry entry of a bias mode; KeyError names the modes."""
    try:
        return BIAS_MODES[mode]
    except KeyError:
        raise KeyError(f"unknown bias mode {mode!r} (known: {', '.join(BIAS_MODES)})") from None
