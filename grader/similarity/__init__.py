"""Similarity across a class: which submissions look copied, for the teacher only.

Issue 29: in a class where the homework is one model trained three times, copies are the
commonest fraud, and nothing showed them. After a batch, `write_similarity` compares every
submission with every other and writes OUT/similarity.json; the class page (OUT/index.html)
shows the same pairs. Nothing of it reaches a student's report.

    code.py     the code cells, fingerprinted (copydetect's winnowing), compared pairwise
    numbers.py  equal reported accuracies from trainings with different memo keys

A pair is a reason to look, never a verdict and never a change of grade (docs/teacher.md,
"Copies"). Whatever fails here (a hostile file, a bug) becomes a note on the class page: the
batch and its grades never depend on it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..messages import Message, msg, render
from .numbers import number_pairs

if TYPE_CHECKING:
    from .code import CellMatch

VERSION = 1
THRESHOLD = 0.5
"""A code pair is listed when the larger of its two shares of shared fingerprinted code is at
least this. Measured by bench/similarity.py (bench/results/similarity-2026-12-07.txt): over 33
independent pairs (6 solutions of the homework written separately, in different styles, and
alice, bob and carol against each of them) the largest score was 0.236; the five planted copies
(alice renamed, reordered, commented, all three; bob with its whitespace changed) scored 0.986
to 1.000. 0.5 is more than twice the independent maximum and half the planted minimum: a copy
must lose half of its shared code to its edits before it goes unseen, and an independent
solution must share twice what the closest one did before it is listed."""
MIN_SHARED_CHARS = 200
"""…and when the shared runs add up to at least this many characters of folded code (several
lines): a submission that is nearly all starter keeps only a few fingerprints, and two such
could share a large share of almost nothing."""
METHOD = ("copydetect winnowing (pygments tokens; comments, whitespace, identifiers and strings folded; "
          "k = 25 characters, window 1); the starter's code removed as boilerplate; score = max share of "
          "either submission's fingerprinted code found in the other")


@dataclass(frozen=True)
class Pair:
    """Two submissions that look alike: kind "code" (with the matching cells) or "numbers"."""

    a: str
    b: str
    kind: str
    score: float
    cells: tuple[CellMatch, ...] = ()
    detail: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "kind": self.kind, "score": round(self.score, 4), **self.detail,
                "cells": [cell.to_json() for cell in self.cells]}


@dataclass(frozen=True)
class Skipped:
    student: str
    reason: Message | str


@dataclass(frozen=True)
class Similarity:
    """What the comparison found: the pairs, who could not be compared and why, the equal numbers
    the memo rule could not judge, which starter files were boilerplate, and `failure` when the
    comparison itself failed (then nothing else is trusted)."""

    pairs: tuple[Pair, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    unjudged: tuple = ()
    compared: int = 0
    boilerplate: tuple[str, ...] = ()
    threshold: float = THRESHOLD
    failure: Message | str = ""

    def to_json(self, lang: str = "es") -> dict:
        return {"version": VERSION, "threshold": self.threshold, "min_shared_chars": MIN_SHARED_CHARS,
                "method": METHOD, "compared": self.compared, "boilerplate": list(self.boilerplate),
                "pairs": [pair.to_json() for pair in self.pairs],
                "skipped": [{"student": s.student, "reason": render(s.reason, lang)} for s in self.skipped],
                "unjudged": [{"a": u.a, "b": u.b, "kind": "numbers", "inits": list(u.inits), "reason": render(u.reason, lang)}
                             for u in self.unjudged],
                "failure": render(self.failure, lang)}


def starter_files(paths: list[Path], names: list[str]) -> list[Path]:
    """The starter the class was given, wherever the grader can see it: files named in the
    contract's `batch_ignore` (the template batch discovery skips) in the class folder (the
    submissions' common folder), else the source checkout's assignments/ beside reference/."""
    from ..rubric import reference_dir

    folders = []
    if paths:
        folders.append(Path(os.path.commonpath([str(Path(p).resolve().parent) for p in paths])))
    try:
        folders.append(reference_dir().resolve().parent / "assignments")
    except Exception:  # no reference folder: the rubric came from elsewhere; no starter there either
        pass
    found = []
    for folder in folders:
        found += [folder / name for name in names if (folder / name).is_file()]
        if found:
            return found
    return found


def compare(submissions: list[tuple[str, Path | None]], results: list[dict], initializers: list[str],
            starters: list[Path], threshold: float = THRESHOLD) -> Similarity:
    """Every pair of submissions, by code (read from the files) and by numbers (read from the
    results), above `threshold`; the matching cells of each code pair."""
    from .code import Fingerprints, boilerplate_hashes, read_code  # copydetect, only when a class is compared

    codes = [read_code(student, path) for student, path in submissions]
    starter = boilerplate_hashes([c for c in (read_code("starter", p) for p in starters) if not c.skipped])
    prints = Fingerprints(codes, starter)
    pairs = []
    for found in prints.all_scores():
        if found.score >= threshold and found.shared_chars >= MIN_SHARED_CHARS:
            pairs.append(Pair(found.a, found.b, "code", found.score, tuple(prints.matches(found.a, found.b)),
                              {"a_share": round(found.a_share, 4), "b_share": round(found.b_share, 4),
                               "shared_chars": found.shared_chars}))
    numbers, unjudged = number_pairs(results, initializers)
    pairs += [Pair(n.a, n.b, "numbers", n.score, (), n.to_json()) for n in numbers]
    pairs.sort(key=lambda p: (-p.score, p.kind, p.a, p.b))
    skipped = tuple(Skipped(c.student, c.skipped) for c in codes if c.skipped)
    if not starters:
        skipped += (Skipped("starter", msg("similarity.no_starter")),)
    return Similarity(tuple(pairs), skipped, tuple(unjudged), len(prints.whole), tuple(str(p) for p in starters), threshold)


def _results(out: Path, students: list[str]) -> list[dict]:
    from ..export.results import MAX_RESULT_BYTES

    found = []
    for student in students:
        path = Path(out) / student / "result.json"
        try:
            if path.stat().st_size <= MAX_RESULT_BYTES:
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    found.append(data)
        except (OSError, ValueError):
            continue
    return found


def write_similarity(out: Path, submissions: list[tuple[str, Path | None]], rubric, lang: str = "es") -> Similarity:
    """Compare the class and write OUT/similarity.json (atomically); never raises. A failure
    (of the comparison or of the write) is returned as `failure`, for the class page to say."""
    from ..report.output import write_text_atomic

    try:
        starters = starter_files([p for _, p in submissions if p is not None], list(rubric.contract.get("batch_ignore", [])))
        found = compare(submissions, _results(out, [s for s, _ in submissions]), list(rubric.homework.initializers), starters)
    except Exception as exc:  # never the batch's problem: the grades are written already
        found = Similarity(failure=msg("similarity.failed", error=f"{type(exc).__name__}: {exc}"[:300]))
    try:
        write_text_atomic(Path(out) / "similarity.json", json.dumps(found.to_json(lang), ensure_ascii=False, indent=1) + "\n")
    except Exception as exc:
        failure = msg("similarity.not_written", error=render(getattr(exc, "message", str(exc)), lang))
        found = Similarity(found.pairs, found.skipped, found.unjudged, found.compared, found.boilerplate, found.threshold,
                           found.failure or failure)
    return found


__all__ = ["Similarity", "Pair", "Skipped", "compare", "write_similarity", "starter_files", "THRESHOLD",
           "MIN_SHARED_CHARS", "VERSION"]
