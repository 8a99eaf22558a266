"""The homework's static checks: architecture, declared initializers, the initial weights
themselves, biases, the reported histories, and the kernel norms before and after training."""

from __future__ import annotations

import math

import numpy as np

from ..initializers import InitSpec
from ..kinds import CheckStatus
from ..messages import Joined, Localized, LANGS, msg, render
from ..modeldesc import ModelDesc
from ..stats import best_match, expected_kernel_norm, fit_kernels, norms_outside_band
from .collapse import ARGUMENT_IGNORED, homework_collapse
from .common import RETRAINED, accuracy_fraction, claim_only, missing, norms_agree, retrained_main, truncated
from .diagnosis import diagnose, seed_finding
from .registry import Context, Outcome, check, count_word

PASS, FAIL, WARN = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.WARN


def _hw_models(ctx: Context) -> dict:
    """Every model description we have for the homework, labelled for messages."""
    found = {}
    for init, desc in (ctx.extracted.values.get("build_model") or {}).items():
        found[f"build_model(kernel_initializer={init!r})"] = (init, desc)
    for init, desc in (ctx.extracted.values.get("hw_models") or {}).items():
        found[f"hw_models[{init!r}]"] = (init, desc)
    return found


def _first_line(problem) -> Localized:
    """The first line of an extraction problem (a traceback follows it), in each language."""
    return Localized({lang: (str(render(problem, lang)).splitlines() or [""])[0] for lang in LANGS})


@check("hw_architecture")
def hw_architecture(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "build_model")):
        return absent
    hw = ctx.rubric.homework
    units_asked = list(hw.units)
    problems, checked = [], 0
    for label, (_, desc) in _hw_models(ctx).items():
        if not isinstance(desc, ModelDesc):  # the probe failed: extract says why
            problems.append(msg("check.hw_architecture.broken", label=label, error=_first_line(desc) if desc else ""))
            continue
        checked += 1
        units = [layer.units for layer in desc.dense]
        acts = [layer.activation for layer in desc.dense]
        if units != units_asked:
            problems.append(msg("check.hw_architecture.units", label=label, units=units))
        if not acts or any(a != hw.hidden_activation for a in acts[:-1]) or acts[-1] != hw.output_activation:
            problems.append(msg("check.hw_architecture.activations", label=label, activations=acts))
        if math.prod(desc.input_shape) != hw.input_size:
            problems.append(msg("check.hw_architecture.input", label=label, shape=desc.input_shape))
    expected = msg("check.hw_architecture.expected", units=units_asked, hidden=hw.hidden_activation, output=hw.output_activation)
    if not problems and checked:
        return Outcome(PASS, 1.0, msg("check.hw_architecture.pass", checked=checked, expected=expected),
                       expected, expected, {"models": checked})
    shown = Joined(problems[:6], "; ")
    return Outcome(FAIL, 0.0, msg("check.hw_architecture.fail", problems=shown), expected, shown, {"problems": problems})


def homework_collapse_of(ctx: Context):
    """The homework's collapsed comparison, if any (collapse.py): one model standing for several initializers."""
    return homework_collapse(ctx.extracted.values, ctx.rubric.homework.initializers)


def with_collapse(mistakes, collapse) -> tuple:
    """The mistake codes once a collapse is known: when build_model ignores its argument, the
    cause is that, not "Glorot with ReLU" (the student did ask for He)."""
    codes = set(mistakes)
    if collapse is not None:
        if collapse.cause == ARGUMENT_IGNORED:
            codes.discard("glorot_with_relu")
        codes.add(collapse.cause)
    return tuple(sorted(codes))


def _diagnoses(ctx: Context) -> tuple[list, set]:
    """One diagnosis per distinct (expected, found, layers) across the homework's models, with
    the labels that share it: [(labels, InitDiagnosis)], and their codes."""
    hw = ctx.rubric.homework
    found: dict = {}
    for label, (init, desc) in _hw_models(ctx).items():
        if not isinstance(desc, ModelDesc):
            continue
        by_spec: dict = {}
        for layer in desc.dense:
            if layer.kernel_init.name != init and layer.kernel is not None:
                by_spec.setdefault(layer.kernel_init.describe(), (layer.kernel_init, []))[1].append(layer.kernel.shape)
        for described, (spec, shapes) in by_spec.items():
            key = (init, described, tuple(shapes))
            if key not in found:
                found[key] = ([], diagnose(InitSpec(init), spec, shapes, hw.hidden_activation))
            found[key][0].append(label)
    rows = [(labels, d) for labels, d in found.values() if d is not None]
    return rows, {code for _, d in rows for code in d.codes}


def _seed_findings(ctx: Context) -> list:
    """Fixed seeds per model, those with the same seeds and reuse told once: [(labels, SeedFinding)]."""
    found: dict = {}
    for label, (_, desc) in _hw_models(ctx).items():
        if isinstance(desc, ModelDesc) and (finding := seed_finding(label, desc.dense)) is not None:
            key = (tuple(finding.seeds.items()), tuple((k, tuple(v)) for k, v in finding.reused.items()))
            found.setdefault(key, []).append(finding)
    return [([f.label for f in findings], findings[0]) for findings in found.values()]


@check("hw_declared_initializers")
def hw_declared_initializers(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "build_model")):
        return absent
    wrong, total, mistakes = [], 0, set()
    for label, (init, desc) in _hw_models(ctx).items():
        if not isinstance(desc, ModelDesc):
            continue
        for position, layer in enumerate(desc.dense, 1):
            total += 1
            if layer.kernel_init.name != init:
                wrong.append(msg("check.hw_declared_initializers.kernel", label=label, position=position,
                                 init=layer.kernel_init.describe()))
            if layer.bias_init.name != "zeros":
                wrong.append(msg("check.hw_declared_initializers.bias", label=label, position=position,
                                 init=layer.bias_init.describe()))
                mistakes.add("bias_not_zeros")
    if total == 0:
        return Outcome(FAIL, 0.0, msg("check.hw_declared_initializers.no_models"))
    diagnoses, codes = _diagnoses(ctx)
    mistakes |= codes
    seeds = _seed_findings(ctx)
    if seeds:
        mistakes.add("fixed_seed")
    collapse = homework_collapse_of(ctx)
    evidence = {"layers": total}
    if diagnoses:
        evidence["diagnosis"] = [{"models": labels, **d.evidence()} for labels, d in diagnoses]
    if seeds:
        evidence["fixed_seeds"] = [{"models": labels, **f.evidence()} for labels, f in seeds]
    if collapse is not None:
        evidence["collapse"] = collapse.evidence()
    notes = [msg("check.hw_declared_initializers.diagnosis", models=", ".join(labels), diagnosis=d.message())
             for labels, d in diagnoses]
    notes += [f.message(", ".join(labels)) for labels, f in seeds]
    if collapse is not None:
        notes.insert(0, collapse.message())
    if not wrong:
        reused = any(f.matters for _, f in seeds)
        message = msg("check.hw_declared_initializers.pass", layers=total)
        if notes:
            message = msg("check.hw_declared_initializers.pass_with_notes", passed=message, notes=Joined(notes, " "))
        return Outcome(WARN if reused else PASS, 1.0, message, evidence=evidence,
                       mistakes=with_collapse(mistakes, collapse))
    text = truncated(wrong, 8)
    evidence["wrong"] = wrong
    message = msg("check.hw_declared_initializers.fail", wrong=text)
    if notes:
        message = msg("check.hw_declared_initializers.fail_with_notes", notes=Joined(notes, " "), failed=message)
    return Outcome(FAIL, max(0.0, 1 - len(wrong) / total), message, found=text, evidence=evidence,
                   mistakes=with_collapse(mistakes, collapse))


@check("hw_initial_distribution")
def hw_initial_distribution(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "build_model")):
        return absent
    alpha = ctx.rubric.tolerances.alpha
    initializers = ctx.rubric.homework.initializers
    results, failures, mistakes = {}, [], set()
    for init in initializers:
        desc = ctx.extracted.values["build_model"].get(init)
        if not isinstance(desc, ModelDesc):
            failures.append(msg("check.hw_initial_distribution.invalid", init=init))
            continue
        fit = fit_kernels(desc.kernels, InitSpec(init), alpha)
        best, _ = best_match(desc.kernels, alpha)
        results[init] = {"ok": fit.ok, "ks_p": fit.pooled_ks_p, "best_match": best,
                         "z": [layer.variance.z for layer in fit.layers], "z_crit": fit.layers[0].variance.z_crit}
        if not fit.ok:
            failures.append(msg("check.hw_initial_distribution.looks_like", init=init, best=best))
            # what the layers declare when that is wrong (the weights confirm it), else what the weights look like
            declared = next((layer.kernel_init for layer in desc.dense if layer.kernel_init.name != init), InitSpec(best))
            shapes = [kernel.shape for kernel in desc.kernels]
            if (diagnosis := diagnose(InitSpec(init), declared, shapes, ctx.rubric.homework.hidden_activation)):
                mistakes.update(diagnosis.codes)
                results[init]["diagnosis"] = diagnosis.evidence()
    collapse = homework_collapse_of(ctx)
    if not failures:
        return Outcome(PASS, 1.0, msg("check.hw_initial_distribution.pass", count=count_word(len(initializers))),
                       evidence=results)
    good = len(results) - sum(not r["ok"] for r in results.values())
    return Outcome(FAIL, good / len(initializers), msg("check.hw_initial_distribution.fail", failures=Joined(failures, "; ")),
                   evidence=results, mistakes=with_collapse(mistakes, collapse))


@check("hw_biases_zero")
def hw_biases_zero(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "build_model")):
        return absent
    bad, valid = [], 0
    for init, desc in ctx.extracted.values["build_model"].items():
        if not isinstance(desc, ModelDesc):
            continue
        valid += 1
        for position, layer in enumerate(desc.dense, 1):
            if layer.bias is not None and np.any(layer.bias):
                bad.append(msg("check.hw_biases_zero.layer", init=init, position=position,
                               value=float(np.abs(layer.bias).max())))
    if not valid:
        return Outcome(FAIL, 0.0, msg("check.hw_biases_zero.no_models"))
    if not bad:
        return Outcome(PASS, 1.0, msg("check.hw_biases_zero.pass"))
    return Outcome(FAIL, 0.0, msg("check.hw_biases_zero.fail", nonzero=Joined(bad[:6], "; ")),
                   evidence={"nonzero": bad}, mistakes=("bias_not_zeros",))


@check("hw_histories")
def hw_histories(ctx: Context) -> Outcome:
    """Coherent (the right number of epochs, the reported accuracy is the last one) and, when the
    grader trained the student's models, the grader's: a curve the notebook invented is coherent
    too. Without the grader's runs the verdict rests on the claim, and its evidence says so."""
    if (absent := missing(ctx, "hw_val_accuracy", "hw_histories")):
        return absent
    problems, epochs = [], ctx.rubric.protocol.epochs
    tol = ctx.rubric.tolerances.val_accuracy_pp
    grader_runs = retrained_main(ctx)
    rows, off = {}, []
    for init in ctx.rubric.homework.initializers:
        history = ctx.extracted.values["hw_histories"].get(init, {})
        curve = history.get("val_accuracy")
        reported = ctx.extracted.values["hw_val_accuracy"].get(init)
        if not curve:
            problems.append(msg("check.hw_histories.no_val_accuracy", init=init))
            continue
        if len(curve) != epochs:
            problems.append(msg("check.hw_histories.epochs", init=init, found=len(curve), epochs=epochs))
        if reported is not None and not math.isclose(accuracy_fraction(reported), curve[-1], abs_tol=1e-4):
            problems.append(msg("check.hw_histories.last_epoch", init=init, reported=reported, last=curve[-1]))
        if (run := grader_runs.get(init)) is not None:
            theirs = list(run.history.get("val_accuracy") or [])
            common = min(len(curve), len(theirs))
            gaps = [abs(float(curve[i]) - float(theirs[i])) * 100 for i in range(common)]
            mean_gap = sum(gaps) / common if common else math.inf
            last_gap = gaps[-1] if common else math.inf
            rows[init] = {"mean_diff_pp": mean_gap, "last_diff_pp": last_gap, "epochs_compared": common}
            if len(curve) != len(theirs) or mean_gap > tol or last_gap > tol:
                off.append(msg("check.hw_histories.not_retrained", init=init, mean=mean_gap, last=last_gap, tol=tol))
    evidence = {"basis": RETRAINED, "retrained": rows} if grader_runs else claim_only({})
    if problems:
        return Outcome(FAIL, 0.0, msg("check.hw_histories.fail", problems=Joined(problems + off, "; ")),
                       evidence={**evidence, "problems": problems + off})
    if off:  # coherent, but not the curves the grader's training of the same models gives
        share = (len(ctx.rubric.homework.initializers) - len(off)) / len(ctx.rubric.homework.initializers)
        return Outcome(WARN, share, msg("check.hw_histories.fail", problems=Joined(off, "; ")),
                       evidence={**evidence, "problems": off})
    if not grader_runs:
        return Outcome(PASS, 1.0, msg("check.hw_histories.pass_claim", epochs=epochs), evidence=evidence)
    return Outcome(PASS, 1.0, msg("check.hw_histories.pass_retrained", epochs=epochs, tol=tol), evidence=evidence)


@check("hw_kernel_norms")
def hw_kernel_norms(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "hw_kernel_norms_before", "hw_kernel_norms_after")):
        return absent
    tol = ctx.rubric.tolerances
    before, after = ctx.extracted.values["hw_kernel_norms_before"], ctx.extracted.values["hw_kernel_norms_after"]
    models = ctx.extracted.values.get("hw_models") or {}
    problems, mistakes, evidence = [], set(), {}
    grader_runs, unlike = retrained_main(ctx), []
    for init in ctx.rubric.homework.he_initializers:
        b, a = before.get(init), after.get(init)
        if b is None or a is None:
            problems.append(msg("check.hw_kernel_norms.missing", init=init))
            continue
        if (run := grader_runs.get(init)) is not None:
            # the harvested models can be rescaled or invented along with the norms; the grader's own
            # training of the same model cannot
            evidence.setdefault(init, {}).update(grader_before=list(run.kernel_norms_before),
                                                 grader_after=list(run.kernel_norms_after))
            for stage, mine, theirs in (("before", b, run.kernel_norms_before), ("after", a, run.kernel_norms_after)):
                if not norms_agree(mine, theirs, tol.initial_norm_relative):
                    unlike.append(msg(f"check.hw_kernel_norms.not_retrained_{stage}", init=init, found=np.round(mine, 3).tolist(),
                                   grader=np.round(theirs, 3).tolist(), tol=tol.initial_norm_relative * 100))
        if len(b) == len(a) and np.allclose(b, a, rtol=1e-7, atol=0):
            problems.append(msg("check.hw_kernel_norms.identical", init=init))
            mistakes.add("reset_weights")
        shapes = ctx.rubric.homework.kernel_shapes
        desc = models.get(init)
        if isinstance(desc, ModelDesc):
            shapes = [k.shape for k in desc.kernels]
            recomputed = [float(np.linalg.norm(k.astype(np.float64))) for k in desc.kernels]
            evidence.setdefault(init, {})["after_recomputed"] = recomputed
            if len(a) != len(recomputed) or not np.allclose(a, recomputed, rtol=tol.norms_relative):
                problems.append(msg("check.hw_kernel_norms.after_differs", init=init, after=np.round(a, 3).tolist(),
                                    recomputed=np.round(recomputed, 3).tolist()))
        expected = [expected_kernel_norm(InitSpec(init), shape) for shape in shapes]
        evidence.setdefault(init, {})["before_expected"] = [e for e, _ in expected]
        if len(b) != len(expected):
            problems.append(msg("check.hw_kernel_norms.count", init=init, found=len(b), layers=len(expected)))
        elif "reset_weights" not in mistakes:
            off = norms_outside_band(b, InitSpec(init), shapes, tol.alpha)
            if off:
                glorot = [expected_kernel_norm(InitSpec("glorot_uniform"), shape)[0] for shape in shapes]
                like_glorot = np.allclose(b, glorot, rtol=0.05)
                problems.append(msg("check.hw_kernel_norms.far", init=init, layers=off,
                                    expected=np.round([e for e, _ in expected], 2).tolist(),
                                    like=msg("check.hw_kernel_norms.like_glorot") if like_glorot else ""))
                if like_glorot:
                    mistakes.add("glorot_with_relu")
    evidence = {**evidence, "basis": RETRAINED} if grader_runs else claim_only(evidence)
    if not problems and not unlike:
        return Outcome(PASS, 1.0, msg("check.hw_kernel_norms.pass" if grader_runs else "check.hw_kernel_norms.pass_claim"),
                       evidence=evidence)
    collapse = homework_collapse_of(ctx) if mistakes else None
    return Outcome(FAIL, 0.0, msg("check.hw_kernel_norms.fail", problems=Joined(problems + unlike, "; ")), evidence=evidence,
                   mistakes=with_collapse(mistakes, collapse))


__all__ = ["hw_architecture", "hw_declared_initializers", "hw_initial_distribution", "hw_biases_zero", "hw_histories",
           "hw_kernel_norms"]
