"""All exceptions symconv raises on purpose, for the user to read.

Every message names the argument, shows its value and says what is allowed, so that
the command line can print it as one line and exit with status 2 (a TeX failure of
``symconv report`` exits 1, with the first error of the log).  Internal control flow
(the checker's ``ParseFailure``, ``EvalError``, ``TimedOut``) stays in its own module.

Example:
    >>> try:
    ...     raise ProblemError("layer.stride", 0, "must be an integer >= 1")
    ... except SymconvError as exc:
    ...     print(exc)
    `layer.stride` (=0) must be an integer >= 1
"""

from __future__ import annotations

__all__ = [
    "CheckInputError",
    "ExperimentError",
    "NoEngineError",
    "ProblemError",
    "SizeError",
    "SymconvError",
    "TexError",
    "UnsupportedLayerError",
    "UsageError",
    "VerificationError",
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


class CheckInputError(SymconvError):
    """A document given to ``symconv check`` cannot be read."""


class ExperimentError(SymconvError):
    """``--experiment`` names a missing or malformed results file."""


class VerificationError(SymconvError):
    """The verification checks are not in the ``verify --json`` format."""


class TexError(SymconvError):
    """The TeX engine failed; ``excerpt`` holds the first error and its log lines."""

    def __init__(self, message: str, excerpt: str, log: str = "") -> None:
        self.excerpt = excerpt
        self.log = log
        super().__init__(message)


class NoEngineError(SymconvError):
    """Neither latexmk nor pdflatex is on PATH."""


def _show(value: object) -> str:
    """A short, single-line rendering of a user value for error messages."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
