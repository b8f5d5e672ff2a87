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

__all__ = ["GRADIENT_OF", "ROLES", "WORD_SUBSCRIPTS", "Role", "role_of_key"]


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
