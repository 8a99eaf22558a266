"""The check registry, the runner, and the types a check speaks in.

A check is one function `(Context) -> Outcome`, registered by id with `@check(id)`. Its title
and its "why" are catalog entries (`check.<id>.title`, `check.<id>.why`) filled with the
rubric's facts, so a teacher who edits the rubric sees the titles follow. Outcomes carry
Messages, never text: `CheckResult.to_json(lang)` renders them for whoever reads the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..kinds import CheckStatus
from ..messages import Joined, Localized, Message, msg, render
from ..rubric import Rubric

if TYPE_CHECKING:  # only for annotations: the extract stage is another room
    from ..extract import Extracted
    from ..retrain import Retraining


@dataclass(frozen=True)
class Outcome:
    """What one check concluded; `fraction` is the share of the item's points it earns."""

    status: CheckStatus
    fraction: float
    message: Message | str
    expected: Message | str = ""
    found: Message | str = ""
    evidence: dict = field(default_factory=dict)
    mistakes: tuple = ()


@dataclass(frozen=True)
class Context:
    """Everything a check may look at: what the student defined, the rubric, the grader's runs."""

    extracted: "Extracted"
    rubric: Rubric
    retraining: "Retraining | None" = None


@dataclass(frozen=True)
class CheckResult:
    id: str
    exercise: str
    status: CheckStatus
    points: float
    max_points: float
    title: Message | str
    why: Message | str
    message: Message | str
    expected: Message | str
    found: Message | str
    evidence: dict
    mistakes: tuple
    reads: tuple = ()  # the contract names the check looked at: the report links each to the cell that defined it

    def to_json(self, lang: str) -> dict:
        """result.json's entry for this check, every sentence in `lang`."""
        return {"id": self.id, "exercise": self.exercise, "status": str(self.status), "points": self.points,
                "max_points": self.max_points, "title": render(self.title, lang), "message": render(self.message, lang),
                "expected": render(self.expected, lang), "found": render(self.found, lang),
                "mistakes": list(self.mistakes), "evidence": render(self.evidence, lang), "reads": list(self.reads)}


class _RecordedValues(dict):
    """The extracted values, remembering which names a check asked for (get, [], in).

    Recorded as the check runs, not declared beside it: a declaration could drift from what the
    code reads; this cannot."""

    def __init__(self, values: dict) -> None:
        super().__init__(values)
        self.asked: list[str] = []

    def _note(self, key) -> None:
        if key not in self.asked:
            self.asked.append(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._note(key)
        return super().__contains__(key)


CHECKS: dict[str, Callable[[Context], Outcome]] = {}


def check(check_id: str):
    """Register a check under `check_id`; its title and why live in the catalog."""
    def register(function):
        if check_id in CHECKS:
            raise ValueError(f"check {check_id!r} registered twice")  # a grader bug, caught at import
        CHECKS[check_id] = function
        return function
    return register


def registered_ids() -> list[str]:
    return list(CHECKS)


ACTIVATION_NAMES = {"relu": "ReLU", "elu": "ELU", "selu": "SELU", "gelu": "GELU", "relu6": "ReLU6"}


def count_word(n: int) -> Message | int:
    """A small count as a word ("tres" / "three"); 1 and larger ones stay numbers, so that a
    counted noun ({count:~modelo|modelos}) agrees with them."""
    return msg(f"check.common.count.{n}") if 2 <= n <= 10 else n


def title_params(rubric: Rubric) -> dict:
    """What titles and explanations quote: the rubric's facts plus a few display forms of them."""
    hw = rubric.homework
    return {**rubric.facts(), "hidden_activation_name": ACTIVATION_NAMES.get(hw.hidden_activation, hw.hidden_activation),
            "initializer_count": count_word(len(hw.initializers))}


def run_checks(ctx: Context) -> list[CheckResult]:
    """Every check the rubric lists, in its order; one failing check never hides the others."""
    params = title_params(ctx.rubric)
    names = set(ctx.rubric.contract.get("names") or {})
    results = []
    for spec in ctx.rubric.checks:
        function = CHECKS.get(spec.id)
        recorded = _RecordedValues(ctx.extracted.values)
        check_ctx = replace(ctx, extracted=replace(ctx.extracted, values=recorded))
        if function is None:
            outcome = Outcome(CheckStatus.ERROR, 0.0, msg("check.common.unknown", id=spec.id))
            title, why = spec.id, ""
        else:
            title, why = Message(f"check.{spec.id}.title", params), Message(f"check.{spec.id}.why", params)
            try:
                outcome = function(check_ctx)
            except Exception as exc:  # a grader bug must not hide the other checks
                outcome = Outcome(CheckStatus.ERROR, 0.0, msg("check.common.internal_error", error=repr(exc)))
        points = round(spec.points * outcome.fraction, 2) if outcome.status != CheckStatus.ERROR else 0.0
        # an optional name left out costs nothing: the item leaves this student's max_score
        max_points = 0.0 if outcome.status == CheckStatus.SKIPPED else spec.points
        points = 0.0 if outcome.status == CheckStatus.SKIPPED else points
        results.append(CheckResult(spec.id, spec.exercise, CheckStatus(outcome.status), points, max_points, title, why,
                                   outcome.message, outcome.expected, outcome.found, jsonable(outcome.evidence),
                                   tuple(outcome.mistakes), tuple(n for n in recorded.asked if n in names)))
    return results


def jsonable(value):
    """Evidence as JSON-able data: numpy scalars to Python, non-finite floats to None, tuples to
    lists; Messages (and Joined, Localized) are kept whole so they are rendered per language."""
    if isinstance(value, (Message, Joined, Localized)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


__all__ = ["Outcome", "Context", "CheckResult", "CHECKS", "check", "registered_ids", "run_checks", "jsonable",
           "title_params", "count_word", "ACTIVATION_NAMES"]
