"""The checker corpus (``tests/data/check/corpus``): documents, expected verdicts, figures.

Each family directory holds documents written in one notation family, their problem
files and a ``manifest.toml`` listing, per document, every claim in order: a snippet of
its LaTeX (``has``), the verdict a careful reader gives it (``correct``, ``incorrect``
with the catalogue ``diagnosis``, or ``unsupported``) and why.  The expectations were
worked out by hand (or with scratch NumPy), never by running the checker.

``python tests/corpus.py`` prints the figures per family (the table the session notes
quote); ``tests/test_check_corpus.py`` asserts them.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "data" / "check" / "corpus"
# documents written after the checker was tuned on the corpus, by someone who had not seen
# it: how the checker does on derivations nobody tuned it for (measured, not tuned to)
HELDOUT = Path(__file__).parent / "data" / "check" / "heldout"


@dataclass(frozen=True)
class Claim:
    has: str
    verdict: str  # correct | incorrect | unsupported
    diagnosis: str | None
    why: str
    # kinds that name the same written value as truly (``also``, with the reason in ``why``):
    # Σ δ_i x_{2i+j−2} on a padded stride-2 layer is an index shifted by one and exactly the
    # unpadded layer's formula
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    family: str
    path: Path
    problem: Path
    claims: tuple[Claim, ...]

    @property
    def name(self) -> str:
        return f"{self.family}/{self.path.name}"


@dataclass
class Outcome:
    """How the checker did on one claim (``found`` is its JSON entry, None if no match)."""

    claim: Claim
    found: dict[str, Any] | None

    @property
    def verdict(self) -> str | None:
        return None if self.found is None else str(self.found["verdict"])

    @property
    def kind(self) -> str | None:
        return None if self.found is None else self.found.get("diagnosis_kind")

    @property
    def reason(self) -> str | None:
        return None if self.found is None else self.found.get("reason")

    @property
    def ok(self) -> bool:
        """The checker's answer is the expected one."""
        want = self.claim.verdict
        if want == "correct":
            return self.verdict in ("correct", "notation")
        if want == "incorrect":
            kinds = (self.claim.diagnosis, *self.claim.also)
            return self.verdict == "incorrect" and self.kind in kinds
        return self.verdict == "unchecked" and self.reason == "unsupported"


@dataclass
class Result:
    document: Document
    outcomes: list[Outcome] = field(default_factory=list)
    unlisted: list[dict[str, Any]] = field(default_factory=list)  # equations of no claim


def _compact(text: str) -> str:
    return "".join(text.split())


def documents(root: Path = CORPUS) -> list[Document]:
    """Every document of the corpus (or another set in its format), family by family."""
    out: list[Document] = []
    for manifest in sorted(root.glob("*/manifest.toml")):
        data = tomllib.loads(manifest.read_text("utf-8"))
        family = manifest.parent.name
        for entry in data.get("document", []):
            claims = tuple(
                Claim(
                    has=c["has"],
                    verdict=c["verdict"],
                    diagnosis=c.get("diagnosis"),
                    why=c.get("why", ""),
                    also=tuple(c.get("also", ())),
                )
                for c in entry.get("claim", [])
            )
            out.append(
                Document(
                    family,
                    manifest.parent / entry["file"],
                    manifest.parent / entry["problem"],
                    claims,
                )
            )
    return out


def match(document: Document, equations: list[dict[str, Any]]) -> Result:
    """Pair the claims with the checker's equations (in order, by snippet)."""
    result = Result(document)
    position = 0
    used: set[int] = set()
    for claim in document.claims:
        snippet = _compact(claim.has)
        found = None
        for index in range(position, len(equations)):
            if snippet in _compact(equations[index]["latex"]):
                found, position = equations[index], index + 1
                used.add(index)
                break
        result.outcomes.append(Outcome(claim, found))
    result.unlisted = [e for i, e in enumerate(equations) if i not in used]
    return result


def judge(docs: list[Document] | None = None, *, jobs: int = 2) -> list[Result]:
    """Run the real checker (``symconv.check.run.check_files``) on every document."""
    from symconv.check.run import check_files
    from symconv.problem import load_problem

    docs = documents() if docs is None else docs
    results = []
    by_problem: dict[Path, list[Document]] = {}
    for document in docs:
        by_problem.setdefault(document.problem, []).append(document)
    judged: dict[Path, dict[str, Any]] = {}
    for problem_path, group in by_problem.items():
        problem = load_problem(str(problem_path))
        files = check_files([str(d.path) for d in group], problem, jobs=jobs, time_limit=4.0)
        for document, data in zip(group, files):
            judged[document.path] = data
    for document in docs:
        results.append(match(document, judged[document.path]["equations"]))
    return results


@dataclass
class Figures:
    documents: int = 0
    claims: int = 0
    correct: int = 0  # claims that are right
    correct_ok: int = 0
    correct_called_incorrect: int = 0
    correct_unchecked: int = 0
    planted: int = 0
    planted_caught: int = 0  # incorrect
    planted_right_kind: int = 0
    unsupported: int = 0
    unsupported_ok: int = 0
    unmatched: int = 0  # claims the document reader did not find
    unlisted_incorrect: int = 0  # equations of no claim answered incorrect

    @property
    def in_scope(self) -> int:
        return self.correct + self.planted

    @property
    def in_scope_unchecked(self) -> int:
        return self.correct_unchecked + self.planted_unchecked

    planted_unchecked: int = 0


def figures(results: list[Result]) -> dict[str, Figures]:
    """Figures per family (and ``"all"``)."""
    table: dict[str, Figures] = {}
    for result in results:
        for key in (result.document.family, "all"):
            f = table.setdefault(key, Figures())
            f.documents += 1
            f.unlisted_incorrect += sum(1 for e in result.unlisted if e["verdict"] == "incorrect")
            for outcome in result.outcomes:
                f.claims += 1
                want = outcome.claim.verdict
                if outcome.found is None:
                    f.unmatched += 1
                if want == "correct":
                    f.correct += 1
                    f.correct_ok += outcome.ok
                    f.correct_called_incorrect += outcome.verdict == "incorrect"
                    f.correct_unchecked += outcome.verdict in ("unchecked", None)
                elif want == "incorrect":
                    f.planted += 1
                    f.planted_caught += outcome.verdict == "incorrect"
                    f.planted_right_kind += outcome.ok
                    f.planted_unchecked += outcome.verdict in ("unchecked", None)
                else:
                    f.unsupported += 1
                    f.unsupported_ok += outcome.ok
    return table


def render(table: dict[str, Figures]) -> str:
    head = (
        f"{'family':16} {'docs':>4} {'claims':>6} {'right ok':>9} {'right→✗':>7} "
        f"{'uncheck':>7} {'planted':>7} {'caught':>6} {'kind ok':>7} {'out-of-scope ok':>15}"
    )
    lines = [head]
    for family, f in sorted(table.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        unchecked = f.in_scope_unchecked / f.in_scope if f.in_scope else 0.0
        lines.append(
            f"{family:16} {f.documents:>4} {f.claims:>6} {f.correct_ok:>4}/{f.correct:<4} "
            f"{f.correct_called_incorrect:>7} {unchecked:>6.0%} {f.planted:>7} "
            f"{f.planted_caught:>6} {f.planted_right_kind:>7} "
            f"{f.unsupported_ok:>7}/{f.unsupported:<7}"
        )
    return "\n".join(lines)


def misses(results: list[Result]) -> list[str]:
    """Every claim the checker answers otherwise than expected, one line each."""
    out = []
    for result in results:
        for outcome in result.outcomes:
            if not outcome.ok:
                claim = outcome.claim
                want = claim.verdict + (f" ({claim.diagnosis})" if claim.diagnosis else "")
                got = (
                    "not found"
                    if outcome.found is None
                    else (
                        f"{outcome.verdict} ({outcome.kind or outcome.reason or ''}): "
                        f"{outcome.found['message'][:140]}"
                    )
                )
                out.append(f"{result.document.name}: {claim.has!r}: want {want}; got {got}")
    return out


if __name__ == "__main__":
    judged = judge(documents(HELDOUT if "--heldout" in sys.argv else CORPUS))
    print(render(figures(judged)))
    if "-v" in sys.argv:
        print("\n".join(misses(judged)))
