"""Number pairs: two students who report the same homework accuracy from trainings that were not the same.

The rule, exactly. For each pair of students A and B, and each homework initializer `init`:

1. A's and B's reported final val_accuracy for `init` (what their notebook put in
   `hw_val_accuracy`, as the check `hw_retrain_reproduces` recorded it: `student_pp`), each as a
   fraction rounded to 4 decimals, are equal. Those initializers are the pair's `inits`.
2. Each student's memo log (`execution.memo.log`, one record per `fit` the sandbox ran, each
   with the first 16 hex digits of its key) gives the set of keys of their fits.
   - Both sets are non-empty and have no key in common → a "numbers" pair. The key is a hash of
     everything a training depends on (model, initial weights, optimizer, data, fit arguments,
     random states, versions: docs/design.md, "The training memo"), so two students whose fits
     share no key ran no training with the same inputs, and four equal decimals are worth a look.
   - The sets share a key → not flagged: the same training was run by both, which is what the
     protocol asks for (the memo served the same stored training to everyone who followed it);
     the log does not say which fit produced which initializer's number, so a shared key is
     read in the students' favour.
   - One side has no key at all → not judged, and the JSON says why (`unjudged`): its memo was
     off, or every fit was one the wrapper could not describe (a custom layer, a callback, no
     seed), or it ran no `fit` while the memo was off. A student who reports A's numbers while
     the memo (on) saw no `fit` in their sandbox at all is flagged (`basis: "no_fit"`): their
     numbers came from no training there.

The score of a number pair is the share of the homework initializers with equal numbers. What a
sandbox reports (the numbers, the memo log) is a claim, kept as such (`"source": "claim"`): a
forged log can hide a pair or make one, never change a grade, and a pair is a reason to look.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from ..messages import Message, msg

DECIMALS = 4
CHECK = "hw_retrain_reproduces"  # its evidence holds each initializer's reported and retrained accuracy


@dataclass(frozen=True)
class Reported:
    """What one result.json says: the reported final val_accuracy per initializer, and the memo's keys."""

    student: str
    accuracy: dict  # init -> fraction rounded to DECIMALS
    keys: frozenset
    memo_on: bool
    fits: int


@dataclass(frozen=True)
class NumbersPair:
    a: str
    b: str
    inits: tuple[str, ...]
    values: dict  # init -> the shared value
    basis: str  # "different_keys" | "no_fit"
    score: float

    def to_json(self) -> dict:
        return {"inits": list(self.inits), "values": dict(self.values), "basis": self.basis, "source": "claim"}


@dataclass(frozen=True)
class Unjudged:
    """Equal numbers the rule could not judge, and why (a Message)."""

    a: str
    b: str
    inits: tuple[str, ...]
    reason: Message


def reported(result: dict) -> Reported:
    """The claims the rule reads from one result.json (anything malformed counts as absent)."""
    accuracy = {}
    for check in result.get("checks") or []:
        if isinstance(check, dict) and check.get("id") == CHECK and isinstance(check.get("evidence"), dict):
            for init, row in check["evidence"].items():
                value = row.get("student_pp") if isinstance(row, dict) else None
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
                    accuracy[init] = round(float(value) / 100, DECIMALS)
    memo = ((result.get("execution") or {}).get("memo") or {}) if isinstance(result.get("execution"), dict) else {}
    log = memo.get("log") if isinstance(memo, dict) and isinstance(memo.get("log"), list) else []
    keys = frozenset(f["key"] for f in log if isinstance(f, dict) and isinstance(f.get("key"), str) and f["key"])
    return Reported(str(result.get("student", "")), accuracy, keys, bool(isinstance(memo, dict) and memo.get("enabled")),
                    len(log))


def _why_no_key(side: Reported) -> Message:
    if not side.memo_on and not side.keys:
        return msg("similarity.unjudged_memo_off", student=side.student)
    return msg("similarity.unjudged_unkeyed", student=side.student)


def number_pairs(results: list[dict], initializers: list[str]) -> tuple[list[NumbersPair], list[Unjudged]]:
    """The module docstring's rule over every pair of results."""
    sides = sorted((reported(r) for r in results), key=lambda s: s.student)
    pairs, unjudged = [], []
    for a, b in combinations(sides, 2):
        same = tuple(i for i in initializers if i in a.accuracy and a.accuracy[i] == b.accuracy.get(i))
        if not same:
            continue
        values = {i: a.accuracy[i] for i in same}
        score = len(same) / max(1, len(initializers))
        if a.keys and b.keys:
            if not a.keys & b.keys:
                pairs.append(NumbersPair(a.student, b.student, same, values, "different_keys", score))
            continue
        empty = [s for s in (a, b) if s.memo_on and s.fits == 0]
        keyed = [s for s in (a, b) if s.keys]
        if empty and keyed:
            pairs.append(NumbersPair(a.student, b.student, same, values, "no_fit", score))
            continue
        blind = a if not a.keys else b
        unjudged.append(Unjudged(a.student, b.student, same, _why_no_key(blind)))
    return pairs, unjudged


__all__ = ["NumbersPair", "Unjudged", "Reported", "reported", "number_pairs", "DECIMALS"]
