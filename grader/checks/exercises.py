"""Exercises 2–5: the student's curves and measurements against the grader's own runs of the
rubric's MLPs (vanishing with a tiny normal, variance through the layers, tanh, seeding)."""

from __future__ import annotations

import math

from ..initializers import InitSpec
from ..kinds import CheckStatus
from ..messages import Joined, msg
from ..modeldesc import ModelDesc
from ..stats import best_match, fit_kernels, hidden_variance_ratio
from .collapse import identical_histories
from .common import RETRAINED, claim_only, compare_curves, exercise_runs, missing, not_recomputed, not_verified, times
from .registry import Context, Outcome, check, count_word

PASS, FAIL, WARN = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.WARN


def _groups_text(groups) -> str:
    return " / ".join(", ".join(f"'{label}'" for label in group) for group in groups)


@check("ex2_curves")
def ex2_curves(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex2_histories")):
        return absent
    if (skip := not_recomputed(ctx, "ex2")):
        return skip
    tol = ctx.rubric.exercises.ex2.val_loss_tolerance
    runs = exercise_runs(ctx, "ex2")
    rows, off = compare_curves(ctx.extracted.values["ex2_histories"], runs, "val_loss",
                               lambda mine, theirs: abs(mine - theirs) <= tol * max(theirs, 0.1))
    collapsed = identical_histories(ctx.extracted.values["ex2_histories"])
    if collapsed:  # one curve standing for several initializers: the figure compares nothing
        rows["identical"] = [list(group) for group in collapsed]
    if not off:
        return Outcome(PASS, 1.0, msg("check.ex2_curves.pass", count=count_word(len(runs))), evidence=rows)
    curves = Joined([msg("check.ex2_curves.row", label=label, student=rows[label]["student"], epoch=rows[label]["epoch"],
                         grader=rows[label]["grader"]) if label in rows else msg("check.ex2_curves.no_curve", label=label)
                     for label in off], "; ")
    message = msg("check.ex2_curves.fail", curves=curves)
    if collapsed:
        message = msg("check.common.identical_curves", groups=_groups_text(collapsed), then=message)
    return Outcome(FAIL, (len(runs) - len(off)) / len(runs), message, evidence=rows)


@check("ex2_vanishing")
def ex2_vanishing(ctx: Context) -> Outcome:
    """The flat start of the student's RandomNormal(0.01) run, and the same start in the grader's
    own run of it: a first val_loss the notebook wrote down proves nothing by itself. Without the
    grader's run the verdict rests on the claim, and its evidence says so."""
    if (absent := missing(ctx, "ex2_histories")):
        return absent
    if (skip := not_recomputed(ctx, "ex2")):
        return skip
    ex = ctx.rubric.exercises.ex2
    grader = exercise_runs(ctx, "ex2").get("random_normal")
    variances = [layer["var"] for layer in grader.activations.get("init", [])] if grader else []
    collapse = variances[-2] / variances[0] if len(variances) > 2 and variances[0] > 0 else None
    student = ctx.extracted.values["ex2_histories"].get("random_normal", {})
    first = (student.get("val_loss") or [None])[0]
    grader_first = (grader.history.get("val_loss") or [None])[0] if grader else None
    evidence = {"grader_hidden_variances_at_init": variances[:-1], "collapse_ratio": collapse, "student_first_val_loss": first,
                "grader_first_val_loss": grader_first}
    evidence = {**evidence, "basis": RETRAINED} if grader_first is not None else claim_only(evidence)
    if first is None or first < ex.stuck_loss:
        return Outcome(FAIL, 0.0, msg("check.ex2_vanishing.fail", first=first if first is not None else "—", stuck=ex.stuck_loss),
                       evidence=evidence)
    if grader_first is not None and abs(first - grader_first) > ex.val_loss_tolerance * max(grader_first, 0.1):
        return Outcome(FAIL, 0.0, msg("check.ex2_vanishing.not_retrained", first=first, grader=grader_first,
                                      tol=ex.val_loss_tolerance * 100), evidence=evidence)
    if grader_first is None:
        return Outcome(PASS, 1.0, msg("check.ex2_vanishing.pass_claim", first=first), evidence=evidence)
    # what the run did after its flat start: a curve that never leaves chance is not one that "learns slowly"
    accuracy = grader.history.get("val_accuracy") or student.get("val_accuracy") or []
    chance = 1.0 / ex.units[-1]
    never = bool(accuracy) and max(accuracy) < 1.5 * chance
    shrink = times(1.0 / collapse) if collapse else "?"
    key = "check.ex2_vanishing.pass_never" if never else "check.ex2_vanishing.pass"
    return Outcome(PASS, 1.0, msg(key, first=first, shrink=shrink, epochs=len(accuracy), classes=ex.units[-1],
                                  best=100 * max(accuracy) if accuracy else 0.0), evidence=evidence)


def _ex3_model_problem(ctx: Context, evidence: dict):
    """With the optional `ex3_model`, what the variances alone cannot show: its hidden layers
    are ReLU and declare a He initializer, and their fresh kernels follow it (calibrated:
    grader/false_alarms.py, 100 % of Glorot kernels rejected at these shapes).
    Returns (message, mistakes) or None."""
    model = ctx.extracted.values.get("ex3_model")
    if not isinstance(model, ModelDesc) or len(model.dense) < 2:
        return None
    hidden = model.dense[:-1]
    declared = sorted({layer.kernel_init.describe() for layer in hidden})
    activations = sorted({layer.activation for layer in hidden})
    evidence["ex3_model"] = {"declared": declared, "activations": activations}
    if activations != ["relu"]:
        return msg("check.ex3_layer_variances.not_relu", activations=", ".join(activations)), ()
    if len(declared) != 1 or not declared[0].startswith("he_"):
        mistakes = ("glorot_with_relu",) if any(name.startswith("glorot") for name in declared) else ()
        return msg("check.ex3_layer_variances.declared", declared=", ".join(declared)), mistakes
    kernels = [layer.kernel for layer in hidden if layer.kernel is not None]
    fit = fit_kernels(kernels, InitSpec(declared[0]), ctx.rubric.tolerances.alpha) if kernels else None
    if fit is None:
        return None
    evidence["ex3_model"].update(ok=fit.ok, ks_p=fit.pooled_ks_p, z=[layer.variance.z for layer in fit.layers])
    if fit.ok:
        return None
    best, _ = best_match(kernels, ctx.rubric.tolerances.alpha)
    evidence["ex3_model"]["best_match"] = best
    return (msg("check.ex3_layer_variances.trained", init=declared[0], best=best),
            ("glorot_with_relu",) if best.startswith("glorot") else ())


@check("ex3_layer_variances")
def ex3_layer_variances(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex3_activation_variances")):
        return absent
    if ctx.rubric.exercises is None:
        return not_verified(msg("check.common.no_exercises"))
    ex = ctx.rubric.exercises.ex3
    values = ctx.extracted.values["ex3_activation_variances"]
    hidden = values[:-1] if len(values) > 1 else values
    ratio = hidden_variance_ratio(values)
    if not math.isfinite(ratio):
        return Outcome(FAIL, 0.0, msg("check.ex3_layer_variances.not_positive"), evidence={"values": values})
    grader = exercise_runs(ctx, "ex2").get("he_normal")
    evidence = {"student": values, "hidden_ratio": ratio, "limit": ex.similar_ratio_max}
    close = True
    if grader and grader.activations:
        refs = {stage: [layer["var"] for layer in grader.activations.get(stage, [])][:-1] for stage in ("init", "trained")}
        evidence["grader"] = refs
        factor = ex.variance_factor
        close = any(len(ref) == len(hidden) and all(1 / factor <= v / r <= factor for v, r in zip(hidden, ref) if r > 0)
                    for ref in refs.values())
    model_problem = _ex3_model_problem(ctx, evidence)
    if ratio <= ex.similar_ratio_max and close and model_problem is None:
        more = msg("check.ex3_layer_variances.model_checked") if "ex3_model" in evidence else \
            msg("check.ex3_layer_variances.model_wanted", layers=len(ctx.rubric.exercises.ex2.units) - 1)
        return Outcome(PASS, 1.0, msg("check.ex3_layer_variances.pass", ratio=ratio, limit=ex.similar_ratio_max, more=more),
                       evidence=evidence)
    why = [msg("check.ex3_layer_variances.ratio", ratio=ratio)]
    if not close:
        why.append(msg("check.ex3_layer_variances.far"))
    mistakes = ()
    if model_problem is not None:
        why.append(model_problem[0])
        mistakes = model_problem[1]
    return Outcome(FAIL, 0.0, msg("check.ex3_layer_variances.fail", why=Joined(why, "; ")), evidence=evidence, mistakes=mistakes)


@check("ex4_tanh")
def ex4_tanh(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex4_histories")):
        return absent
    if (skip := not_recomputed(ctx, "ex4")):
        return skip
    ex = ctx.rubric.exercises.ex4
    runs = exercise_runs(ctx, "ex4")
    rows, off = compare_curves(ctx.extracted.values["ex4_histories"], runs, "val_accuracy",
                               lambda mine, theirs: abs(mine - theirs) * 100 <= ex.val_accuracy_pp)
    diff = lambda who: (rows["glorot_uniform_tanh"][who] - rows["he_normal_tanh"][who]) * 100 if len(rows) == 2 else None
    student_diff, grader_diff = diff("student"), diff("grader")
    noise = ex.noise_pp
    reading = ""
    collapsed = identical_histories(ctx.extracted.values["ex4_histories"])
    if collapsed:  # the student's two runs are one: say so, and no reading about noise
        reading = msg("check.ex4_tanh.identical", groups=_groups_text(collapsed))
    elif grader_diff is not None:
        verdict = msg("check.ex4_tanh.within", noise=noise) if abs(grader_diff) <= noise else msg("check.ex4_tanh.beyond")
        reading = msg("check.ex4_tanh.reading", student=student_diff, grader=grader_diff, verdict=verdict)
    evidence = {**rows, "noise_pp": noise, "student_diff_pp": student_diff, "grader_diff_pp": grader_diff}
    if collapsed:
        evidence["identical"] = [list(group) for group in collapsed]
    if not off:
        return Outcome(PASS, 1.0, msg("check.ex4_tanh.pass", reading=reading), evidence=evidence)
    return Outcome(FAIL, 0.0, msg("check.ex4_tanh.fail", off=", ".join(off), reading=reading), evidence=evidence)


@check("ex5_reproducibility")
def ex5_reproducibility(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex5_same_seed_identical", "ex5_no_seed_differs")):
        return absent
    probe = exercise_runs(ctx, "ex5").get("repro")
    if probe is None:
        return Outcome(WARN, 0.0, msg("check.ex5_reproducibility.no_probe"))
    seen_same, seen_differs = probe.extra["same_seed_identical"], probe.extra["no_seed_differs"]
    said_same = ctx.extracted.values["ex5_same_seed_identical"]
    said_differs = ctx.extracted.values["ex5_no_seed_differs"]
    evidence = {"grader_same_seed_identical": seen_same, "grader_no_seed_differs": seen_differs,
                "grader_max_abs_diff": probe.extra.get("same_seed_max_abs_diff"),
                "student_same_seed_identical": said_same, "student_no_seed_differs": said_differs}
    if not seen_same:  # the platform, not the student
        return Outcome(WARN, 1.0, msg("check.ex5_reproducibility.platform"), evidence=evidence)
    if said_same == seen_same and said_differs == seen_differs:
        return Outcome(PASS, 1.0, msg("check.ex5_reproducibility.pass"), evidence=evidence)
    return Outcome(FAIL, 0.0, msg("check.ex5_reproducibility.fail", said_same=said_same, said_differs=said_differs,
                                  seen_same=seen_same, seen_differs=seen_differs, seed=ctx.rubric.protocol.seed),
                   evidence=evidence)


__all__ = ["ex2_curves", "ex2_vanishing", "ex3_layer_variances", "ex4_tanh", "ex5_reproducibility"]
