"""What several checks share: the "missing name" and "not verified" outcomes, number formatting,
curve comparison, and reading a reported accuracy given in % or as a fraction."""

from __future__ import annotations

import math

import numpy as np

from ..kinds import CheckStatus
from ..messages import Joined, Localized, Message, msg, render
from ..retrain.plan import SOURCE_REFERENCE
from .registry import Context, Outcome


def fmt(x: float) -> str:
    """A number as the report shows it: four significant digits (as the messages write them) and
    a real minus sign; the exact values stay in the evidence."""
    return f"{x:.4g}".replace("-", "\u2212")


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def scientific(x: float) -> str:
    """A number far from 1 as a reader takes it in: "3.1×10⁵", "3.0×10⁻⁶" (never "3.2e-06")."""
    exponent = int(math.floor(math.log10(abs(x))))
    return f"{x / 10 ** exponent:.1f}×10{str(exponent).translate(_SUPERSCRIPT)}"


def times(x: float) -> str:
    """A large factor in words a student reads: "310", "3.1×10⁵"."""
    if not math.isfinite(x) or x <= 0:
        return "?"
    return f"{x:.0f}" if x < 1000 else scientific(x)


def missing(ctx: Context, *names: str) -> Outcome | None:
    """A failing outcome for the first contract name the student did not define, with the
    contract's example; None when every name is there."""
    for name in names:
        if name in ctx.extracted.values:
            continue
        spec = ctx.rubric.contract["names"].get(name, {})
        why = ctx.extracted.problems.get(name) or msg("check.common.not_defined")
        example = Localized(spec.get("example", "") if isinstance(spec, dict) else "")
        # a problem that already starts with the name (in both languages, by extract's rule) is not prefixed again
        named = str(render(why, "es")).startswith(name)
        message = msg("check.common.missing_named", why=why, example=example) if named else \
            msg("check.common.missing", name=name, why=why, example=example)
        return Outcome(CheckStatus.FAIL, 0.0, message, evidence={"missing": name})
    return None


def undefined(ctx: Context, name: str) -> bool:
    """The student did not define `name` at all (the harvest ran and found no such name), as
    opposed to defining it wrongly or a run that never reached the harvest."""
    if name in ctx.extracted.values:
        return False
    problem = ctx.extracted.problems.get(name)
    return problem is None or (isinstance(problem, Message) and problem.key == "extract.not_defined")


def skipped(ctx: Context, name: str, shows: Message) -> Outcome:
    """An optional name the student did not define: nothing to grade, no points lost (the item
    leaves this student's max_score), and what defining it would show."""
    spec = ctx.rubric.contract["names"].get(name, {})
    example = Localized(spec.get("example", "") if isinstance(spec, dict) else "")
    return Outcome(CheckStatus.SKIPPED, 0.0, msg("check.common.skipped", name=name, shows=shows, example=example),
                   evidence={"skipped": name})


def not_verified(why: Message | str, evidence: dict | None = None) -> Outcome:
    """A warning worth no points: the grader could not look, which is not the student's fault."""
    return Outcome(CheckStatus.WARN, 0.0, msg("check.common.not_verified", why=why), evidence=evidence or {})


def no_retraining(ctx: Context) -> Outcome | None:
    """The warning a retraining check gives when the grader has no run of the student's own models."""
    r = ctx.retraining
    if r is None or r.error or not r.main:
        why = r.error if r is not None and r.error else msg("check.common.retrain_not_run")
        return not_verified(why, {"retraining": why})
    borrowed = [init for init, source in r.source.items() if source == SOURCE_REFERENCE]
    if borrowed:
        return Outcome(CheckStatus.WARN, 0.0, msg("check.common.reference_only", names=", ".join(borrowed)),
                       evidence={"reference_only": borrowed})
    return None


# What a check's verdict rests on, in its evidence: the grader's own runs, or only what the
# student's notebook says (internally consistent numbers that nothing of the grader's confirms).
RETRAINED, CLAIM = "retrained", "student_claim"


def retrained_main(ctx: Context) -> dict:
    """The grader's protocol-seed runs of the student's own models (initializer -> RunResult),
    empty when there are none to compare a claim with (no retraining, or the reference borrowed)."""
    return {} if no_retraining(ctx) is not None else dict(ctx.retraining.main)


def claim_only(evidence: dict) -> dict:
    """Evidence marked as resting on the student's claim alone, with the sentence that says so."""
    return {**evidence, "basis": CLAIM, "basis_note": msg("check.common.claim_only")}


def norms_agree(claimed, grader, relative: float) -> bool:
    """The student's norms are the grader's within `relative` of the whole vector (a seed's spread
    in one small layer does not fail it; a rescaled model or invented numbers do)."""
    claimed, grader = np.asarray(claimed, float), np.asarray(grader, float)
    if claimed.shape != grader.shape or not grader.size:
        return False
    return bool(np.linalg.norm(claimed - grader) <= relative * np.linalg.norm(grader))


def exercise_runs(ctx: Context, exercise: str) -> dict:
    """The grader's runs for one exercise (label → RunResult), empty without retraining."""
    return ctx.retraining.exercise(exercise) if ctx.retraining is not None else {}


def not_recomputed(ctx: Context, exercise: str) -> Outcome | None:
    """The warning an exercise check gives when the grader has no run of its own to compare with."""
    if ctx.rubric.exercises is None:
        return not_verified(msg("check.common.no_exercises"))
    if exercise_runs(ctx, exercise):
        return None
    r = ctx.retraining
    return not_verified(r.error if r is not None and r.error else msg("check.common.not_recomputed"))


def compare_curves(student: dict, runs: dict, metric: str, close) -> tuple[dict, list]:
    """Student's curve vs the grader's run at their last common epoch: (rows, labels that differ)."""
    rows, off = {}, []
    for label, run in runs.items():
        mine_curve, theirs_curve = student.get(label, {}).get(metric, []), run.history.get(metric, [])
        epoch = min(len(mine_curve), len(theirs_curve))
        if not epoch:
            off.append(label)
            continue
        mine, theirs = mine_curve[epoch - 1], theirs_curve[epoch - 1]
        rows[label] = {"epoch": epoch, "student": mine, "grader": theirs}
        if not close(mine, theirs):
            off.append(label)
    return rows, off


def accuracy_fraction(value: float) -> float:
    """A reported accuracy as a fraction of 1: students write 0.8836 or 88.36; above 1 it is a percentage."""
    return value / 100 if value > 1.0 else value


def truncated(items: list, limit: int) -> Joined | Message:
    """The first `limit` items joined with "; ", then "(and N more)"."""
    shown = Joined(items[:limit], "; ")
    return msg("check.common.truncated", items=shown, more=len(items) - limit) if len(items) > limit else shown


__all__ = ["fmt", "times", "scientific", "missing", "undefined", "skipped", "not_verified", "no_retraining", "RETRAINED", "CLAIM", "retrained_main",
           "claim_only", "norms_agree", "exercise_runs", "not_recomputed", "compare_curves",
           "accuracy_fraction", "truncated"]
