"""The homework checks that need the grader's own training of the student's models: the
reported accuracies reproduce, final norms stay of similar size, and the (informational)
"He beats Glorot" criterion, with the seed-to-seed evidence when several seeds were run."""

from __future__ import annotations

from ..kinds import CheckStatus
from ..messages import Joined, msg
from ..stats import mean_ci
from .collapse import homework_collapse
from .common import RETRAINED, accuracy_fraction, missing, no_retraining, norms_agree
from .registry import Context, Outcome, check, count_word

PASS, FAIL, WARN = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.WARN


def _collapsed_with_baseline(ctx: Context):
    """The collapse that makes a He model one with the Glorot baseline (None: they differ): then a
    check about He against Glorot compares nothing, whatever the numbers say."""
    hw = ctx.rubric.homework
    collapse = homework_collapse(ctx.extracted.values, hw.initializers)
    if collapse is not None and any(collapse.together(init, hw.baseline) for init in hw.he_initializers):
        return collapse
    return None


def _served_fits(ctx: Context) -> int:
    """How many of the notebook's fits its memo log says were served (0 without a log)."""
    log = (ctx.extracted.memo or {}).get("log")
    return sum(1 for item in log if isinstance(item, dict) and item.get("served") is True) if isinstance(log, list) else 0


@check("hw_retrain_reproduces")
def hw_retrain_reproduces(ctx: Context) -> Outcome:
    if (skip := no_retraining(ctx)) or (skip := missing(ctx, "hw_val_accuracy")):
        return skip
    tol = ctx.rubric.tolerances.val_accuracy_pp
    reported = ctx.extracted.values["hw_val_accuracy"]
    main = ctx.retraining.main
    rows, off = {}, []
    for init, run in main.items():
        value = reported.get(init)
        if value is None:
            off.append(init)
            continue
        student_pp = accuracy_fraction(value) * 100
        grader_pp = run.final_val_accuracy * 100
        rows[init] = {"student_pp": student_pp, "grader_pp": grader_pp, "diff_pp": student_pp - grader_pp,
                      "source": ctx.retraining.source.get(init), "cached": run.cached}
        if abs(student_pp - grader_pp) > tol:
            off.append(init)
    table = Joined([msg("check.hw_retrain_reproduces.row", init=init, student=row["student_pp"], grader=row["grader_pp"])
                    for init, row in rows.items()], "; ")
    collapse = homework_collapse(ctx.extracted.values, ctx.rubric.homework.initializers)
    if not off and collapse is not None:  # reproduced, but one model: not a card of evidence about initializers
        return Outcome(WARN, 1.0, msg("check.hw_retrain_reproduces.collapsed", tol=tol, table=table,
                                      names=", ".join(collapse.groups[0])), evidence={**rows, "collapse": collapse.evidence()})
    if not off:
        # served by the memo: the two numbers are one training, and what that shows is that the
        # notebook asked for exactly the protocol's inputs (the memo log is the notebook's claim;
        # only these words depend on it, never a point)
        key = "check.hw_retrain_reproduces.pass_served" if _served_fits(ctx) >= len(main) else "check.hw_retrain_reproduces.pass"
        return Outcome(PASS, 1.0, msg(key, tol=tol, count=count_word(len(main)), table=table), evidence=rows)
    protocol = ctx.rubric.protocol
    return Outcome(WARN, (len(rows) - len(off)) / max(1, len(main)),
                   msg("check.hw_retrain_reproduces.fail", tol=tol, off=", ".join(off), table=table, seed=protocol.seed,
                       optimizer=protocol.optimizer.upper(), learning_rate=protocol.learning_rate,
                       batch_size=protocol.batch_size, validation_size=protocol.validation_size),
                   evidence=rows)


@check("hw_norms_similar")
def hw_norms_similar(ctx: Context) -> Outcome:
    """Computed on the grader's own training of the student's He models: the student's reported
    final norms earn nothing unless they are those norms (a notebook that trained nothing and
    reports rescaled or invented ones keeps its ratios, not the point)."""
    if (skip := no_retraining(ctx)):
        return skip
    hw = ctx.rubric.homework
    limit, tol = hw.norm_ratio_max, ctx.rubric.tolerances.initial_norm_relative
    runs = {init: run for init, run in ctx.retraining.main.items() if init in hw.he_initializers}
    ratios = {init: max(run.kernel_norms_after) / min(run.kernel_norms_after) for init, run in runs.items()}
    student = {}
    claimed = ctx.extracted.values.get("hw_kernel_norms_after") or {}
    for init, norms in claimed.items():
        if norms and min(norms) > 0:
            student[init] = max(norms) / min(norms)
    not_theirs = [init for init, run in runs.items()
                  if claimed.get(init) is not None and not norms_agree(claimed[init], run.kernel_norms_after, tol)]
    evidence = {"grader_ratio": ratios, "student_ratio": student, "limit": limit, "basis": RETRAINED}
    if not_theirs:
        evidence["not_retrained"] = not_theirs
    text = ", ".join(f"{k}: {v:.2f}" for k, v in ratios.items())  # names and numbers: the same in every language
    if (collapse := _collapsed_with_baseline(ctx)) is not None:
        return Outcome(WARN, 0.0, msg("check.hw_norms_similar.collapsed", names=", ".join(collapse.groups[0]),
                                      baseline=hw.baseline), evidence={**evidence, "collapse": collapse.evidence()})
    if not all(r < limit for r in ratios.values()):
        return Outcome(FAIL, 0.0, msg("check.hw_norms_similar.fail", limit=limit, ratios=text, student=student), evidence=evidence)
    if not_theirs:
        return Outcome(FAIL, 0.0, msg("check.hw_norms_similar.not_retrained", limit=limit, ratios=text,
                                      names=", ".join(not_theirs), tol=tol * 100), evidence=evidence)
    return Outcome(PASS, 1.0, msg("check.hw_norms_similar.pass", limit=limit, ratios=text), evidence=evidence)


def _differences(diffs: dict, base: str) -> Joined:
    return Joined([msg("check.hw_he_criterion.diff", init=init, base=base, diff=d) for init, d in diffs.items()], ", ")


@check("hw_he_criterion")
def hw_he_criterion(ctx: Context) -> Outcome:
    if (skip := no_retraining(ctx)):
        return skip
    hw = ctx.rubric.homework
    need, base = hw.criterion_pp, hw.baseline
    main = ctx.retraining.main
    grader = {init: (run.final_val_accuracy - main[base].final_val_accuracy) * 100
              for init, run in main.items() if init in hw.he_initializers}
    reported = ctx.extracted.values.get("hw_val_accuracy") or {}
    student = {init: (accuracy_fraction(reported[init]) - accuracy_fraction(reported[base])) * 100
               for init in hw.he_initializers if init in reported and base in reported}
    seeds = {}
    for init in hw.he_initializers:
        diffs = [(runs[init].final_val_accuracy - runs[base].final_val_accuracy) * 100
                 for runs in ctx.retraining.seeds.values() if init in runs and base in runs]
        if diffs:
            mean, low, high = mean_ci(diffs)
            seeds[init] = {"diffs": diffs, "mean": mean, "ci95": [low, high],
                           "holds": sum(d >= need for d in diffs), "n": len(diffs)}
    evidence = {"grader_diff_pp": grader, "student_diff_pp": student, "seeds": seeds, "criterion_pp": need}
    if (collapse := _collapsed_with_baseline(ctx)) is not None:
        return Outcome(WARN, 0.0, msg("check.hw_he_criterion.collapsed", names=", ".join(collapse.groups[0]),
                                      grader=_differences(grader, base)),
                       msg("check.hw_he_criterion.expected", criterion_pp=need), _differences(grader, base),
                       {**evidence, "collapse": collapse.evidence()})
    holds = {init: d >= need for init, d in grader.items()}
    seed_text = Joined([msg("check.hw_he_criterion.seeds", n=v["n"], init=k, mean=v["mean"], low=v["ci95"][0],
                            high=v["ci95"][1], holds=v["holds"]) for k, v in seeds.items()], "")
    status = PASS if holds and all(holds.values()) else WARN
    found = _differences(grader, base)
    return Outcome(status, 1.0 if status == PASS else 0.0,
                   msg("check.hw_he_criterion.message", seed=ctx.rubric.protocol.seed, grader=found,
                       student=_differences(student, base) if student else "—", seeds=seed_text, criterion_pp=need,
                       noise=ctx.rubric.facts()["measured_noise_pp"], measured_seeds=ctx.rubric.facts()["measured_seeds"]),
                   msg("check.hw_he_criterion.expected", criterion_pp=need), found, evidence)


__all__ = ["hw_retrain_reproduces", "hw_norms_similar", "hw_he_criterion"]
