"""Stand-in students for the README's course walkthrough: one hand-in per manifest row.

    python examples/course/hand_in.py course/manifest.csv submissions/

writes ``submissions/<student>.md`` for every student of an exercise folder: the first
gets everything right, the second a wrong ∂L/∂w entry, the third a wrong ŷ entry carried
through the rest correctly (error carried forward), the fourth hands in nothing, and
from then on the pattern repeats.  Real students write their own; this only lets a
lecturer try ``symconv grade`` before the course starts.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

from symconv.course.grade import load_variant, read_manifest
from symconv.course.samples import Plan, write_submission

PLANS = (
    Plan("correct"),
    Plan("wrong", item="grad_w", entry=1, delta=Fraction(3)),
    Plan("carried", entry=0, delta=Fraction(1)),
    None,  # no hand-in: the gradebook says `missing`
)


def main(argv: list[str]) -> int:
    manifest, out = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for number, row in enumerate(read_manifest(manifest)):
        plan = PLANS[number % len(PLANS)]
        if plan is None:
            continue
        path = write_submission(load_variant(row), plan, out, row.id)
        print(f"{row.id}: {plan.kind} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
