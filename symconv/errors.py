"""All exceptions symconv raises on purpose.

Every message names the argument, shows its value and says what is allowed, so that
the command line can print it as one line and exit with status 2.
"""

from __future__ import annotations

__all__ = [
    "ProblemError",
    "SizeError",
    "SymconvError",
    "UnsupportedLayerError",
    "UsageError",
]


class SymconvError(Exception):
    """Base class: bad input or usage that the user can fix (CLI exit status 2)."""


class ProblemError(SymconvError):
    """A problem file or override is invalid.

    ``field`` is the dotted TOML name (``layer.stride``), ``value`` what was given and
    ``allowed`` a short phrase saying what would be accepted.
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"`{field}` (={_show(value)}) {allowed}")


class UsageError(SymconvError):
    """A command-line option is invalid or options contradict each other."""


class SizeError(SymconvError):
    """An explicit expansion would be too large to build (use the closed form or --force)."""


class UnsupportedLayerError(SymconvError):
    """A part of symconv that does not yet handle this kind of layer was asked to."""


def _show(value: object) -> str:
    """A short, single-line rendering of a user value for error messages."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
