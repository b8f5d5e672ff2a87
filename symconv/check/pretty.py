"""LaTeX as one line of unicode math, for the terminal and for messages.

``pretty`` renders an equation's LaTeX (``\\hat{y}_1`` → ``ŷ₁``,
``\\frac{\\partial L}{\\partial w}`` → ``∂L/∂w``).  It imports nothing of the checker, so
the judge, the diagnosers and the report can all use it.
"""

from __future__ import annotations

import re
import unicodedata

from symconv.mathtext import sub, sup

__all__ = ["pretty"]

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
    (r"\\(?:ldots|cdots|dots|dotsc|dotsb)(?![A-Za-z])", "…"),  # "and so on", never ·s
    (r"\\vdots(?![A-Za-z])", "⋮"),
    (r"\\cdot(?![A-Za-z])", "·"),
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
    (r"\\begin\{d?cases\*?\}", "\x01 "),  # braces put back after they are dropped
    (r"\\end\{d?cases\*?\}", " \x02"),
    (r"\\(?:leq|le|leqslant)(?![A-Za-z])", "≤"),
    (r"\\(?:geq|ge|geqslant)(?![A-Za-z])", "≥"),
    (r"\\(?:neq|ne)(?![A-Za-z])", "≠"),
    (r"\\in(?![A-Za-z])", "∈"),
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
    text = text.replace("{", "").replace("}", "").replace("\x01", "{").replace("\x02", "}")
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
