"""Show the verdicts: a rich terminal report, the JSON of design.md, a summary table.

``pretty`` renders an equation's LaTeX as one line of unicode math for the terminal
(``\\hat{y}_1`` → ``ŷ₁``, ``\\frac{\\partial L}{\\partial w}`` → ``∂L/∂w``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from symconv.check.judge import VERDICTS, Judgement
from symconv.mathtext import sub, sup

__all__ = ["STYLES", "file_json", "pretty", "render_file", "render_summary", "summary"]

STYLES = {"correct": "green", "incorrect": "bold red", "notation": "yellow", "unchecked": "magenta"}
_MARKS = {"correct": "✓", "incorrect": "✗", "notation": "~", "unchecked": "?"}

_SIMPLE = [
    (r"\\(?:mathbf|boldsymbol|bm|vec|mathrm|text|operatorname|mathit)\s*\{([^{}]*)\}", r"\1"),
    (r"\\mathcal\s*\{L\}", "L"),
    (r"\\mathcal\s*\{([^{}]*)\}", r"\1"),
    (r"\\(?:hat|widehat)\s*\{([A-Za-z])\}", "\\1\u0302"),
    (r"\\(?:hat|widehat)\s*\{([A-Za-z])_", "\\1\u0302{_"),
    (r"\\(?:hat|widehat)\s*([A-Za-z])", "\\1\u0302"),
    (r"\\(?:left|right|big|Big|bigl|bigr|displaystyle|limits)(?![A-Za-z])", ""),
    (r"\\(?:lVert|rVert|Vert|\|)", "‖"),
    (r"\\(?:lvert|rvert|vert)", "|"),
    (r"\\cdot", "·"),
    (r"\\times", "×"),
    (r"\\alpha", "α"),
    (r"\\eta", "η"),
    (r"\\partial\s*", "∂"),
    (r"\\nabla", "∇"),
    (r"\\sum", "Σ"),
    (r"\\approx", "≈"),
    (r"\\(?:leftarrow|gets)(?![A-Za-z])", "←"),
    (r"\\delta(?![A-Za-z])", "δ"),
    (r"\\(?:top|intercal)", "T"),
    (r"\\(?:quad|qquad|,|;|!|:)", " "),
    (r"\\begin\{[pbBvV]?matrix\}", "["),
    (r"\\end\{[pbBvV]?matrix\}", "]"),
    (r"\\\\", ";"),
    (r"&", " "),
]


def pretty(latex: str) -> str:
    """Unicode for a LaTeX equation (best effort; unknown commands stay as written)."""
    text = re.sub(r"\\([dt]?frac)\s*(\d)\s*(\d)", r"\\frac{\2}{\3}", latex)
    for pattern, replacement in _SIMPLE:
        text = re.sub(pattern, replacement, text)
    # \frac{a}{b} → a/b (innermost first; simple scripts inside a fraction first)
    text = re.sub(r"_\{([A-Za-z0-9]{1,3})\}", lambda m: sub(m.group(1)), text)
    text = re.sub(r"\^\{([A-Za-z0-9()+\-]{1,5})\}", lambda m: sup(m.group(1)), text)
    for _ in range(10):
        new = re.sub(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", _frac, text)
        if new == text:
            break
        text = new
    text = re.sub(r"_\{([^{}]*)\}", lambda m: sub(m.group(1)), text)
    text = re.sub(r"_([A-Za-z0-9])", lambda m: sub(m.group(1)), text)
    text = re.sub(r"\^\{([^{}]*)\}", lambda m: sup(m.group(1)), text)
    text = re.sub(r"\^([A-Za-z0-9])", lambda m: sup(m.group(1)), text)
    text = text.replace("{", "").replace("}", "")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\[ ", "[", text)
    return unicodedata.normalize("NFC", re.sub(r" \]", "]", text))


def _frac(match: re.Match[str]) -> str:
    top, bottom = match.group(1).strip(), match.group(2).strip()
    if top.startswith("∂") and bottom.startswith("∂"):
        return f"{top}/{bottom}"
    return f"{_wrap(top)}/{_wrap(bottom)}"


def _wrap(text: str) -> str:
    return text if re.fullmatch(r"[\w.∂̂]+", text) else f"({text})"


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
    """Print one file's verdicts: the equation, the coloured verdict, the message."""
    from rich.text import Text

    console.print(Text(data["file"], style="bold"))
    for eq in data["equations"]:
        verdict = eq["verdict"]
        line = Text()
        line.append(
            f"  ({eq['label']})".ljust(12)
            if eq["label"] and not eq["label"].startswith("line")
            else f"  {eq['label']}".ljust(12)
        )
        line.append(f"{_MARKS[verdict]} {verdict:<9}", style=STYLES[verdict])
        line.append(" " + _shorten(pretty(eq["latex"]), 160))
        console.print(line)
        if verdict != "correct" or eq["message"]:
            console.print(
                Text("      " + eq["message"], style="dim" if verdict == "correct" else "")
            )
        if eq["diagnosis"]:
            note = Text("      diagnosis: ", style="bold")
            note.append(eq["diagnosis"])
            console.print(note)
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
    for data in files:
        counts = data["summary"]
        table.add_row(data["file"], *(str(counts[v]) for v in VERDICTS))
    console.print(table)
