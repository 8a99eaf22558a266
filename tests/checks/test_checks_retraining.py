"""The checks that read the grader's own training (grader/checks/retraining.py), on real
RunResult/Retraining objects: reproduction, norm ratios, and the seed-by-seed criterion."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from grader.checks import CHECKS, retraining
from grader.messages import render
from grader.retrain import Retraining
from grader.retrain.plan import SOURCE_BUILD_MODEL, SOURCE_REFERENCE

from .checks_support import HE, assert_cases, cached_cases, ctx, homework_runs, run
from ..golden import GOLDENS


def golden_check(student: str, check_id: str) -> dict:
    return next(c for c in json.loads((GOLDENS / f"{student}.json").read_text())["checks"] if c["id"] == check_id)


@pytest.mark.parametrize("check_id", retraining.__all__)
def test_each_case_gets_its_status(check_id, reference_rubric):
    assert_cases(check_id, reference_rubric)


def alice_runs(rubric) -> tuple[dict, Retraining]:
    """Alice's golden numbers: what she reported (fractions) and what the grader trained."""
    rows = golden_check("alice", "hw_retrain_reproduces")["evidence"]
    reported = {init: row["student_pp"] / 100 for init, row in rows.items()}
    main = {init: run(init, rows[init]["grader_pp"] / 100, after=[5.0, 4.0, 3.0, 2.0, 1.0]) for init in rubric.homework.initializers}
    return reported, Retraining(main, {}, {init: "hw_models" for init in main})


def test_alice_reproduces_as_before(reference_rubric):
    reported, retraining_ = alice_runs(reference_rubric)
    outcome = CHECKS["hw_retrain_reproduces"](ctx(reference_rubric, {"hw_val_accuracy": reported}, retraining_))
    golden = golden_check("alice", "hw_retrain_reproduces")
    assert outcome.status == golden["status"] and outcome.fraction == 1.0
    assert render(outcome.message, "es") == golden["message"]
    assert render(outcome.message, "en").startswith("Within ±2 pp for three initializers: glorot_uniform: 67.36 vs 67.36;")
    for init, row in golden["evidence"].items():
        assert outcome.evidence[init]["student_pp"] == pytest.approx(row["student_pp"], rel=1e-12)
    criterion = CHECKS["hw_he_criterion"](ctx(reference_rubric, {"hw_val_accuracy": reported}, retraining_))
    golden = golden_check("alice", "hw_he_criterion")
    assert render(criterion.message, "es") == golden["message"] and render(criterion.found, "es") == golden["found"]
    assert render(criterion.expected, "es") == golden["expected"] == "≥ +0.5 pp"
    assert criterion.status == "pass"
    for init, diff in golden["evidence"]["student_diff_pp"].items():
        assert criterion.evidence["student_diff_pp"][init] == pytest.approx(diff, abs=1e-8)


def test_percent_and_fraction_reports_give_the_same_verdicts(reference_rubric):
    reported, retraining_ = alice_runs(reference_rubric)
    percent = {init: value * 100 for init, value in reported.items()}
    for check_id in ("hw_retrain_reproduces", "hw_he_criterion"):
        a = CHECKS[check_id](ctx(reference_rubric, {"hw_val_accuracy": reported}, retraining_))
        b = CHECKS[check_id](ctx(reference_rubric, {"hw_val_accuracy": percent}, retraining_))
        assert (a.status, a.fraction, render(a.message, "es")) == (b.status, b.fraction, render(b.message, "es")), check_id


def test_claimed_accuracy_that_the_grader_cannot_reproduce_scores_nothing(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "hw_retrain_reproduces" and c.name == "far")
    outcome = CHECKS["hw_retrain_reproduces"](case.context)
    assert outcome.status == "warn" and outcome.fraction == 0.0
    es, en = render(outcome.message, "es"), render(outcome.message, "en")
    assert "99.00 vs 88.40" in es
    assert es.endswith("Revise que fije la semilla con keras.utils.set_random_seed(42) justo antes de construir cada modelo "
                       "y que siga el protocolo (SGD 0.01, batch 32, validación = primeras 5000).")
    assert en.endswith("(SGD 0.01, batch 32, validation = first 5000).")


def test_the_protocol_text_follows_the_rubric(reference_rubric):
    edited = reference_rubric.with_protocol(seed=7, learning_rate=0.05, batch_size=64, validation_size=10000, optimizer="adam")
    far = {"glorot_uniform": 0.5, "he_uniform": 0.5, "he_normal": 0.5}
    outcome = CHECKS["hw_retrain_reproduces"](ctx(edited, {"hw_val_accuracy": far},
                                                  homework_runs(edited, {i: 0.9 for i in far})))
    assert "set_random_seed(7)" in render(outcome.message, "es")
    assert "(ADAM 0.05, batch 64, validación = primeras 10000)" in render(outcome.message, "es")


def test_without_own_models_nothing_is_verified(reference_rubric):
    accs = {init: 0.88 for init in reference_rubric.homework.initializers}
    borrowed = homework_runs(reference_rubric, accs, SOURCE_REFERENCE)
    for check_id in retraining.__all__:
        outcome = CHECKS[check_id](ctx(reference_rubric, {"hw_val_accuracy": accs}, borrowed))
        assert outcome.status == "warn" and outcome.fraction == 0.0 and "reference_only" in outcome.evidence
        assert render(outcome.message, "es").startswith("No verificado: no hay un modelo suyo para glorot_uniform, he_uniform, he_normal")
    own = homework_runs(reference_rubric, accs, SOURCE_BUILD_MODEL)
    assert CHECKS["hw_retrain_reproduces"](ctx(reference_rubric, {"hw_val_accuracy": accs}, own)).status == "pass"
    off = CHECKS["hw_norms_similar"](ctx(reference_rubric, {}, Retraining({}, {}, {}, "sin GPU")))
    assert render(off.message, "es") == "No verificado: sin GPU." and off.evidence == {"retraining": "sin GPU"}


def test_norm_ratios(reference_rubric):
    accs = {init: 0.88 for init in reference_rubric.homework.initializers}
    runs = homework_runs(reference_rubric, accs, after=[5.0, 4.0, 3.0, 2.0, 1.0])
    outcome = CHECKS["hw_norms_similar"](ctx(reference_rubric, {}, runs))
    assert outcome.status == "pass" and render(outcome.message, "es") == "máx/mín de las normas < 10 (he_uniform: 5.00, he_normal: 5.00)."
    apart = CHECKS["hw_norms_similar"](ctx(reference_rubric, {"hw_kernel_norms_after": {"he_normal": [30.0, 1.0]}}, runs))
    assert apart.status == "fail" and apart.evidence["not_retrained"] == ["he_normal"]
    assert render(apart.message, "en") == "In the grader's training, max/min of the norms < 10 (he_uniform: 5.00, he_normal: 5.00), " \
        "but the final norms you report for he_normal are not that training's (tolerance 5 %): the point is for the norms of your training."
    exploding = homework_runs(reference_rubric, accs, after=[50.0, 4.0, 3.0, 2.0, 1.0])
    far = CHECKS["hw_norms_similar"](ctx(reference_rubric, {"hw_kernel_norms_after": {"he_normal": [50.0, 4.0, 3.0, 2.0, 1.0]}}, exploding))
    assert far.status == "fail"
    assert render(far.message, "es") == "máx/mín de las normas ≥ 10: corrector he_uniform: 50.00, he_normal: 50.00; estudiante {'he_normal': 50.0}."


def test_reported_norms_that_are_a_rescaled_model_are_not_the_grader_s(reference_rubric):
    """A notebook that trained nothing and reports ×1.5 kernels keeps their ratios: the point
    goes with the grader's own norms, not the claimed ratio."""
    accs = {init: 0.88 for init in reference_rubric.homework.initializers}
    after = [24.5, 20.1, 14.3, 10.2, 4.8]
    runs = homework_runs(reference_rubric, accs, after=after)
    honest = CHECKS["hw_norms_similar"](ctx(reference_rubric, {"hw_kernel_norms_after": {i: after for i in HE}}, runs))
    scaled = CHECKS["hw_norms_similar"](ctx(reference_rubric, {"hw_kernel_norms_after": {i: [1.5 * x for x in after] for i in HE}}, runs))
    assert honest.status == "pass" and honest.evidence["basis"] == "retrained"
    assert scaled.status == "fail" and scaled.fraction == 0.0
    assert scaled.evidence["student_ratio"] == pytest.approx(honest.evidence["student_ratio"])  # the ratios alone could not tell them apart


def test_multi_seed_evidence_reproduces_the_design_table(reference_rubric):
    """--seeds K: the He − Glorot difference per seed, its mean and 95 % CI, and how often it holds."""
    case = next(c for c in cached_cases(reference_rubric) if c.check == "hw_he_criterion" and c.name == "seeds")
    outcome = CHECKS["hw_he_criterion"](case.context)
    seeds = outcome.evidence["seeds"]
    assert seeds["he_uniform"]["mean"] == pytest.approx(-0.056, abs=1e-6)
    assert seeds["he_uniform"]["ci95"] == pytest.approx([-0.75, 0.63], abs=0.01)
    assert seeds["he_normal"]["mean"] == pytest.approx(0.576, abs=1e-6) and seeds["he_normal"]["holds"] == 1
    es, en = render(outcome.message, "es"), render(outcome.message, "en")
    assert " Con 5 semillas, he_normal: media +0.58 pp, IC95 −1.31 … +2.46; se cumple en 1 de 5." in es
    assert " Over 5 seeds, he_normal: mean +0.58 pp, 95% CI −1.31 … +2.46; holds in 1 of 5." in en
    assert "Estudiante: —." in es and outcome.status == "warn"


def test_the_criterion_threshold_comes_from_the_rubric(reference_rubric):
    edited = replace(reference_rubric, homework=replace(reference_rubric.homework, criterion_pp=6.0))
    big = {"glorot_uniform": 0.80, "he_uniform": 0.85, "he_normal": 0.85}
    outcome = CHECKS["hw_he_criterion"](ctx(edited, {"hw_val_accuracy": big}, homework_runs(edited, big)))
    assert outcome.status == "warn" and render(outcome.expected, "en") == "≥ +6 pp"
    assert "the 6 pp threshold" in render(outcome.message, "en")
