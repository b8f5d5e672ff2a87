"""Reading the course's input files (manifest, rubric) with one bound and one error form."""

from __future__ import annotations

from pathlib import Path

__all__ = ["read_bounded"]


def read_bounded(
    path: str | Path, option: str, *, limit: int, hint: str, encoding: str = "utf-8"
) -> str:
    """The text of the file an option names, at most ``limit`` bytes; raises
    :class:`~symconv.errors.UsageError` (one line naming the option and the value) for a
    missing, too large, unreadable or undecodable file (``hint`` says what to give)."""
    from symconv.errors import UsageError

    name = str(path)
    where = f"`{option}` (={name!r})"
    file = Path(name)
    if not file.is_file():
        raise UsageError(f"{where} is not a readable file; {hint}")
    try:
        if file.stat().st_size > limit:
            raise UsageError(f"{where} is larger than {limit} bytes")
        return file.read_bytes().decode(encoding)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where} cannot be read: {exc}") from None
