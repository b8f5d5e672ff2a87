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
    "ImplementationError",
    "NoEngineError",
    "ProblemError",
    "SizeError",
    "SymconvError",
    "Terminated",
    "TexError",
    "UnsupportedLayerError",
    "UsageError",
    "VerificationError",
    "WorkerError",
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


class ImplementationError(SymconvError):
    """A user's own implementation (:mod:`symconv.testing`, ``verify --impl``) could not be
    called: it raised, or returned something that is not an array (or tuple of arrays).

    ``role`` is ``"forward"`` or ``"backward"``, ``name`` the callable (``pkg.mod:fn``),
    ``detail`` what happened and ``where`` the configuration it was called on.
    """

    def __init__(self, role: str, name: str, detail: str, where: str = "") -> None:
        self.role = role
        self.name = name
        self.detail = detail
        self.where = where
        super().__init__(f"{role} `{name}` {detail}" + (f" ({where})" if where else ""))

    def __reduce__(self) -> tuple[type[ImplementationError], tuple[str, str, str, str]]:
        return (type(self), (self.role, self.name, self.detail, self.where))


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


class Terminated(BaseException):
    """SIGTERM arrived: raised in the main thread so that ``finally`` blocks clean up
    (temporary folders, a TeX process group) before the command exits with 143.

    A BaseException, like KeyboardInterrupt, so that ``except Exception`` does not swallow it.
    """

    def __init__(self, signal_number: int) -> None:
        self.signal_number = signal_number
        super().__init__(f"terminated by signal {signal_number}")


def _show(value: object) -> str:
    """A short, single-line rendering of a user value for error messages."""
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except ValueError:  # an integer beyond Python's 4,300-digit conversion limit
        text = f"a {type(value).__name__} too large to print"
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


class WorkerError(SymconvError):
    """The worker process that judges documents (``symconv check``) cannot be started."""
