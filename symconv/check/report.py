"""Show the verdicts: a rich terminal report, the JSON of design.md, a summary table.

``pretty`` (defined in :mod:`symconv.check.pretty`, re-exported here) renders an equation's
LaTeX as one line of unicode math for the terminal.
"""

from __future__ import annotations

from typing import Any

from symconv.check.judge import VERDICTS, Judgement
from symconv.check.pretty import pretty

__all__ = ["STYLES", "file_json", "pretty", "render_file", "render_summary", "summary"]

STYLES = {"correct": "green", "incorrect": "bold red", "notation": "yellow", "unchecked": "magenta"}
_MARKS = {"correct": "✓", "incorrect": "✗", "notation": "~", "unchecked": "?"}


def summary(judgements: list[Judgement]) -> dict[str, int]:
    """Counts per verdict."""
    counts = dict.fromkeys(VERDICTS, 0)
    for judgement in judgements:
        counts[judgement.verdict] += 1
    return counts


def file_json(path: str, judgements: list[Judgement]) -> dict[str, Any]:
    """The ``symconv check --json`` object of one file (design.md, extended with links)."""
    equations = []
    for j in judgements:
        equations.append(
            {
                "label": j.equation.name,
                "line": j.equation.line,
                "verdict": j.verdict,
                "message": j.message,
                "expected": j.expected,
                "diagnosis": j.diagnosis.text if j.diagnosis else None,
                "diagnosis_kind": j.diagnosis.kind if j.diagnosis else None,
                "latex": j.equation.latex,
                "cell": j.equation.cell,
                "ref": j.equation.ref,
                "quantity": j.named.quantity if j.named else None,
                "step": j.named.step if j.named else None,
                "entry": j.named.entry if j.named else None,
                "value": j.value,
                "links": [
                    {
                        "side": link.index + 1,
                        "verdict": link.verdict,
                        "message": link.message,
                        "written": link.written or None,
                        "expected": link.expected or None,
                        "counterexample": link.counterexample or None,
                    }
                    for link in j.links
                ],
            }
        )
    return {"file": path, "equations": equations, "summary": summary(judgements)}


def render_file(console: Any, data: dict[str, Any], *, plain: bool = False) -> None:
    """Print one file's verdicts: the equation, the coloured verdict, the message.

    A long equation or message wraps with a hanging indent (under its own start); when
    the output is not a terminal the console does not wrap (:mod:`symconv.terminal`).
    """
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    console.print(Text(data["file"], style="bold"))
    failure = data.get("failure") or {}
    if failure.get("reason") == "unreadable input":
        console.print(Text(f"  unreadable: {failure['message']}", style="red"))
    for eq in data["equations"]:
        verdict = eq["verdict"]
        head = Text()
        head.append(
            f"  ({eq['label']})".ljust(12)
            if eq["label"] and not eq["label"].startswith(("line", "cell"))
            else f"  {eq['label']}".ljust(12)
        )
        head.append(f"{_MARKS[verdict]} {verdict:<9}", style=STYLES[verdict])
        line = Table.grid(padding=(0, 1))
        line.add_column(no_wrap=True)
        line.add_column()
        line.add_row(head, Text(_shorten(pretty(eq["latex"]), 160)))
        console.print(line)
        if verdict != "correct" or eq["message"]:
            message = Text(eq["message"], style="dim" if verdict == "correct" else "")
            console.print(Padding(message, (0, 0, 0, 6), expand=False))
        if eq["diagnosis"]:
            note = Text("diagnosis: ", style="bold")
            note.append(eq["diagnosis"])
            console.print(Padding(note, (0, 0, 0, 6), expand=False))
    counts = data["summary"]
    total = Text("  ")
    for verdict in VERDICTS:
        total.append(f"{counts[verdict]} {verdict}", style=STYLES[verdict])
        total.append("  ")
    console.print(total)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_summary(console: Any, files: list[dict[str, Any]]) -> None:
    """A table of verdict counts per file (the grading view)."""
    from rich.table import Table

    table = Table(title="symconv check", show_lines=False)
    table.add_column("file")
    for verdict in VERDICTS:
        table.add_column(verdict, justify="right", style=STYLES[verdict])
    failed = any(data.get("failure") for data in files)
    if failed:  # a file that could not be read, or hit a limit, says so in its row
        table.add_column("failure", style="red")
    for data in files:
        counts = data["summary"]
        row = [data["file"], *(str(counts[v]) for v in VERDICTS)]
        if failed:
            row.append((data.get("failure") or {}).get("reason", ""))
        table.add_row(*row)
    console.print(table)
