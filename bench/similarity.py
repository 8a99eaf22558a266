"""How far apart independent solutions and planted copies score, which is where THRESHOLD comes from.

    .venv/bin/python bench/similarity.py

One run of grader.similarity's real comparison (copydetect, the starter as boilerplate) over:

- the independent solutions: tests/similarity/samples/ (6 solutions of the homework written
  separately, in different styles: notebooks and modules) and the project's own samples, alice
  and bob (notebooks) and carol (a module). alice, bob and carol are not independent of each
  other: bob and carol were made from alice's notebook (bob changes build_model, carol is alice
  as a module), so their three pairs are shown apart as "shared origin", expected to score high;
  each of them against each separately written solution is an independent pair;
- the planted copies (tests/similarity/samples/planted/, made by make_planted.py): alice renamed,
  reordered, commented, all three; bob with only its whitespace changed, each scored against
  its original.

Prints every pair's score, then the independent maximum, the planted minimum and the threshold;
the last line is machine-readable. A false pair is an independent pair at or above THRESHOLD
(with MIN_SHARED_CHARS); a planted copy is found when its pair is.
"""

from __future__ import annotations

import sys
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.similarity import MIN_SHARED_CHARS, THRESHOLD, starter_files  # noqa: E402
from grader.similarity.code import Fingerprints, boilerplate_hashes, read_code  # noqa: E402

SAMPLES = ROOT / "tests" / "similarity" / "samples"
PROJECT = {"alice": ROOT / "assignments" / "alice.ipynb", "bob": ROOT / "assignments" / "bob.ipynb",
           "carol": ROOT / "assignments" / "carol.py"}
PLANTED = {"renamed": ("alice_renamed", "alice"), "reordered": ("alice_reordered", "alice"),
           "commented": ("alice_commented", "alice"), "all_edits": ("alice_all_edits", "alice"),
           "whitespace": ("bob_whitespace", "bob")}


def main() -> None:
    started = time.monotonic()
    written = {p.stem: p for p in sorted(SAMPLES.glob("*")) if p.suffix in (".ipynb", ".py")}
    planted = {p.stem: p for p in sorted((SAMPLES / "planted").glob("*.ipynb"))}
    files = {**PROJECT, **written, **planted}
    codes = [read_code(name, path) for name, path in files.items()]
    skipped = [c.student for c in codes if c.skipped]
    assert not skipped, f"samples not read: {skipped}"
    starters = starter_files([ROOT / "assignments" / "alice.ipynb"], ["starter.ipynb"])
    prints = Fingerprints(codes, boilerplate_hashes([read_code("starter", p) for p in starters]))

    def flagged(score) -> bool:
        return score.score >= THRESHOLD and score.shared_chars >= MIN_SHARED_CHARS

    originals = [*PROJECT, *written]
    independent = [(a, b) for a, b in combinations(originals, 2) if not (a in PROJECT and b in PROJECT)]
    origin = list(combinations(PROJECT, 2))
    print(f"starter as boilerplate: {', '.join(str(p.relative_to(ROOT)) for p in starters) or 'none'}")
    print(f"threshold {THRESHOLD}, at least {MIN_SHARED_CHARS} shared characters of folded code\n")
    print(f"{'pair':<34}{'kind':<20}{'score':>7}{'a share':>9}{'b share':>9}{'shared':>8}  flagged")
    rows = []
    for kind, pairs in (("independent", independent), ("shared origin", origin),
                        *((f"planted {label}", [(copy, original)]) for label, (copy, original) in PLANTED.items())):
        for a, b in pairs:
            score = prints.score(a, b)
            rows.append((kind, a, b, score))
            print(f"{a + ' ~ ' + b:<34}{kind:<20}{score.score:>7.3f}{score.a_share:>9.3f}{score.b_share:>9.3f}"
                  f"{score.shared_chars:>8}  {'yes' if flagged(score) else 'no'}")
    independent_scores = [s for kind, _, _, s in rows if kind == "independent"]
    worst = max(independent_scores, key=lambda s: s.score)
    false_pairs = sum(flagged(s) for s in independent_scores)
    planted_scores = {kind.split(" ", 1)[1]: s for kind, _, _, s in rows if kind.startswith("planted")}
    found = sum(flagged(s) for s in planted_scores.values())
    planted_min = min(s.score for s in planted_scores.values())
    print(f"\nindependent pairs: {len(independent_scores)}, largest {worst.score:.3f} ({worst.a} ~ {worst.b}); "
          f"false pairs at {THRESHOLD}: {false_pairs}")
    print(f"planted copies found: {found}/{len(planted_scores)}, smallest score {planted_min:.3f}")
    print(f"shared-origin pairs (alice, bob, carol): "
          + ", ".join(f"{a}~{b} {s.score:.3f}" for kind, a, b, s in rows if kind == "shared origin"))
    print(f"{len(files)} files, {len(rows)} pairs scored in {time.monotonic() - started:.1f} s\n")
    figures = " ".join(f"{label}={planted_scores[label].score:.3f}" for label in PLANTED)
    print(f"independent_max={worst.score:.3f} false_pairs={false_pairs} {figures} planted_min={planted_min:.3f} "
          f"threshold={THRESHOLD} found={found}/{len(planted_scores)}")


if __name__ == "__main__":
    main()
