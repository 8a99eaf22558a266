"""Exercises 2–5 (grader/checks/exercises.py) against real RunResult objects of the grader's
runs and real Keras-drawn models for exercise 3."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.checks import CHECKS, exercises, run_checks
from grader.messages import Joined, msg, render

from .checks_support import assert_cases, cached_cases, ctx, exercise_runs, model, run


@pytest.mark.parametrize("check_id", exercises.__all__)
def test_each_case_gets_its_status(check_id, reference_rubric):
    assert_cases(check_id, reference_rubric)


def test_ex2_vanishing_says_never_when_the_run_never_leaves_chance(reference_rubric):
    """A curve that sits at chance in every epoch does not "barely learn at first": it never learns."""
    from dataclasses import replace as replaced
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_vanishing" and c.name == "flat")
    grader = case.context.retraining.exercise("ex2")["random_normal"]
    stuck = replaced(grader, history={**grader.history, "val_accuracy": [0.0914] * 5})
    learns = replaced(grader, history={**grader.history, "val_accuracy": [0.0914, 0.31, 0.52, 0.60, 0.64]})
    for run, key in ((stuck, "check.ex2_vanishing.pass_never"), (learns, "check.ex2_vanishing.pass")):
        runs = {**case.context.retraining.exercise("ex2"), "random_normal": run}
        retraining = replaced(case.context.retraining, exercises={**case.context.retraining.exercises, "ex2": runs})
        outcome = CHECKS["ex2_vanishing"](replaced(case.context, retraining=retraining))
        assert outcome.message.key == key
    assert outcome.status == "pass"


def test_ex2_curves_name_each_curve_that_differs(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_curves" and c.name == "off")
    outcome = CHECKS["ex2_curves"](case.context)
    assert outcome.fraction == pytest.approx(1 / 3)
    curves = Joined([msg("check.ex2_curves.row", label="glorot_uniform", student=0.1, epoch=3, grader=1.5),
                     msg("check.ex2_curves.no_curve", label="he_normal")], "; ")
    assert render(outcome.message, "es") == render(msg("check.ex2_curves.fail", curves=curves), "es")
    passing = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_curves" and c.status == "pass")
    three = msg("check.ex2_curves.pass", count=msg("check.common.count.3"))
    assert render(CHECKS["ex2_curves"](passing.context).message, "es") == render(three, "es")


def test_ex2_vanishing_needs_the_flat_start(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_vanishing" and c.name == "flat")
    outcome = CHECKS["ex2_vanishing"](case.context)
    assert render(outcome.message, "es") == render(msg("check.ex2_vanishing.pass", first=2.3026, shrink="1.0×10⁶"), "es")
    failing = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_vanishing" and c.name == "no curve")
    no_curve = msg("check.ex2_vanishing.fail", first="—", stuck=2.2)
    assert render(CHECKS["ex2_vanishing"](failing.context).message, "es") == render(no_curve, "es")


def test_not_recomputed_says_why(reference_rubric):
    from grader.retrain import Retraining
    outcome = CHECKS["ex4_tanh"](ctx(reference_rubric, {"ex4_histories": {}}, Retraining({}, {}, {}, "sin tiempo")))
    assert outcome.status == "warn" and render(outcome.message, "en") == render(msg("check.common.not_verified", why="sin tiempo"), "en")
    outcome = CHECKS["ex2_curves"](ctx(reference_rubric, {"ex2_histories": {}}))
    said = msg("check.common.not_verified", why=msg("check.common.not_recomputed"))
    assert render(outcome.message, "es") == render(said, "es")


def test_a_rubric_without_exercises_verifies_nothing_and_breaks_nothing(reference_rubric):
    bare = replace(reference_rubric, exercises=None)
    values = {"ex2_histories": {}, "ex3_activation_variances": [0.1, 0.1, 0.1], "ex4_histories": {}}
    results = {r.id: r for r in run_checks(ctx(bare, values))}
    for check_id in ("ex2_curves", "ex2_vanishing", "ex3_layer_variances", "ex4_tanh"):
        assert results[check_id].status == "warn", (check_id, results[check_id].to_json("en")["message"])
        said = msg("check.common.not_verified", why=msg("check.common.no_exercises"))
        assert results[check_id].to_json("en")["message"] == render(said, "en")
    assert all(r.status != "error" for r in results.values())


def test_ex3_model_tells_glorot_from_he_where_the_variances_cannot(reference_rubric):
    variances = [0.40, 0.27, 0.18, 0.12, 0.5]  # what Glorot + ReLU really gives: max/min ≈ 3.5, inside the bound
    alone = CHECKS["ex3_layer_variances"](ctx(reference_rubric, {"ex3_activation_variances": variances}))
    hidden_layers = len(reference_rubric.exercises.ex2.units) - 1
    wanted = msg("check.ex3_layer_variances.model_wanted", layers=hidden_layers)
    assert alone.status == "pass" and render(alone.message, "es").endswith(render(wanted, "es"))
    assert render(alone.message, "en").endswith(render(wanted, "en"))
    he = CHECKS["ex3_layer_variances"](ctx(reference_rubric, {"ex3_activation_variances": variances, "ex3_model": model(reference_rubric, "he_normal", seed=3)}))
    assert he.status == "pass" and he.evidence["ex3_model"]["ok"]
    ratio = 0.40 / 0.12
    said = msg("check.ex3_layer_variances.pass", ratio=ratio, limit=10, more=msg("check.ex3_layer_variances.model_checked"))
    assert render(he.message, "es") == render(said, "es")
    declared = CHECKS["ex3_layer_variances"](ctx(reference_rubric, {"ex3_activation_variances": variances,
                                                                    "ex3_model": model(reference_rubric, "glorot_uniform")}))
    assert declared.status == "fail" and declared.mistakes == ("glorot_with_relu",)
    why = Joined([msg("check.ex3_layer_variances.ratio", ratio=ratio),
                  msg("check.ex3_layer_variances.declared", declared="glorot_uniform")], "; ")
    assert render(declared.message, "es") == render(msg("check.ex3_layer_variances.fail", why=why), "es")
    weights = CHECKS["ex3_layer_variances"](ctx(reference_rubric, {"ex3_activation_variances": variances,
                                                                   "ex3_model": model(reference_rubric, "glorot_uniform", declared="he_normal", seed=5)}))
    assert weights.status == "fail" and weights.evidence["ex3_model"]["best_match"] == "glorot_uniform"
    why = Joined([msg("check.ex3_layer_variances.ratio", ratio=ratio),
                  msg("check.ex3_layer_variances.trained", init="he_normal", best="glorot_uniform")], "; ")
    assert "glorot_with_relu" in weights.mistakes
    for lang in ("es", "en"):
        assert render(weights.message, lang) == render(msg("check.ex3_layer_variances.fail", why=why), lang)


def test_ex3_far_from_the_grader(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex3_layer_variances" and c.name == "far and spread")
    outcome = CHECKS["ex3_layer_variances"](case.context)
    why = Joined([msg("check.ex3_layer_variances.ratio", ratio=200.0), msg("check.ex3_layer_variances.far")], "; ")
    for lang in ("es", "en"):
        assert render(outcome.message, lang) == render(msg("check.ex3_layer_variances.fail", why=why), lang)


def test_ex4_says_when_the_difference_is_within_noise(reference_rubric):
    within = next(c for c in cached_cases(reference_rubric) if c.check == "ex4_tanh" and c.name == "within noise")
    outcome = CHECKS["ex4_tanh"](within.context)
    within_noise = msg("check.ex4_tanh.within", noise=1.5)
    said = msg("check.ex4_tanh.pass", reading=msg("check.ex4_tanh.reading", student=0.5, grader=0.5, verdict=within_noise))
    assert render(outcome.message, "es") == render(said, "es")
    beyond = next(c for c in cached_cases(reference_rubric) if c.check == "ex4_tanh" and c.name == "beyond noise")
    said = msg("check.ex4_tanh.pass", reading=msg("check.ex4_tanh.reading", student=4.0, grader=4.0, verdict=msg("check.ex4_tanh.beyond")))
    assert render(CHECKS["ex4_tanh"](beyond.context).message, "es") == render(said, "es")
    wrong = next(c for c in cached_cases(reference_rubric) if c.check == "ex4_tanh" and c.name == "wrong")
    said = msg("check.ex4_tanh.fail", off="he_normal_tanh",
               reading=msg("check.ex4_tanh.reading", student=24.5, grader=0.5, verdict=within_noise))
    assert render(CHECKS["ex4_tanh"](wrong.context).message, "es") == render(said, "es")


def test_ex5_blames_the_platform_not_the_student(reference_rubric):
    values = {"ex5_same_seed_identical": False, "ex5_no_seed_differs": True}
    shaky = exercise_runs(ex5={"repro": run(extra={"same_seed_identical": False, "no_seed_differs": True})})
    outcome = CHECKS["ex5_reproducibility"](ctx(reference_rubric, values, shaky))
    assert outcome.status == "warn" and outcome.fraction == 1.0
    assert render(outcome.message, "es") == render(msg("check.ex5_reproducibility.platform"), "es")
    steady = exercise_runs(ex5={"repro": run(extra={"same_seed_identical": True, "no_seed_differs": True})})
    failed = CHECKS["ex5_reproducibility"](ctx(reference_rubric, values, steady))
    assert failed.status == "fail"
    said = lambda seed: msg("check.ex5_reproducibility.fail", said_same=False, said_differs=True, seen_same=True, seen_differs=True,
                            seed=seed)
    assert render(failed.message, "es") == render(said(42), "es")
    seeded = CHECKS["ex5_reproducibility"](ctx(reference_rubric.with_protocol(seed=3), values, steady))
    assert render(seeded.message, "en") == render(said(3), "en")  # the protocol's seed, not 42


def test_ex2_vanishing_compares_the_claimed_start_with_the_grader_s(reference_rubric):
    """A flat start the notebook wrote down earns nothing when the grader's own run of the same
    MLP starts elsewhere; without the grader's run the evidence says the verdict is the claim's."""
    stuck = run("random_normal", history={"val_loss": [2.3026, 2.3025]}, activations={"init": [{"var": 1e-2}, {"var": 1e-8}, {"var": 1e-9}]})
    learning = run("random_normal", history={"val_loss": [0.9, 0.7]})
    claim = {"ex2_histories": {"random_normal": {"val_loss": [2.31, 2.30]}}}
    agrees = CHECKS["ex2_vanishing"](ctx(reference_rubric, claim, exercise_runs(ex2={"random_normal": stuck})))
    invented = CHECKS["ex2_vanishing"](ctx(reference_rubric, claim, exercise_runs(ex2={"random_normal": learning})))
    alone = CHECKS["ex2_vanishing"](ctx(reference_rubric, claim, exercise_runs(ex2={"he_normal": learning})))
    assert agrees.status == "pass" and agrees.evidence["basis"] == "retrained"
    tol = reference_rubric.exercises.ex2.val_loss_tolerance * 100
    said = msg("check.ex2_vanishing.not_retrained", first=2.31, grader=0.9, tol=tol)
    assert invented.status == "fail" and render(invented.message, "en") == render(said, "en")
    assert alone.status == "pass" and alone.evidence["basis"] == "student_claim"
    assert render(alone.message, "en") == render(msg("check.ex2_vanishing.pass_claim", first=2.31), "en")
