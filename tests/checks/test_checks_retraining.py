"""The checks that read the grader's own training (grader/checks/retraining.py), on real
RunResult/Retraining objects: reproduction, norm ratios, and the seed-by-seed criterion."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from grader.checks import CHECKS, retraining
from grader.messages import Joined, msg, render
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
    # alice's three protocol fits were served by the memo (her log says so): the golden's sentence
    served = ctx(reference_rubric, {"hw_val_accuracy": reported}, retraining_)
    served = replace(served, extracted=replace(served.extracted, memo={"log": [{"served": True, "key": "k"}] * 3}))
    golden = golden_check("alice", "hw_retrain_reproduces")
    assert render(CHECKS["hw_retrain_reproduces"](served).message, "es") == golden["message"]
    outcome = CHECKS["hw_retrain_reproduces"](ctx(reference_rubric, {"hw_val_accuracy": reported}, retraining_))
    assert outcome.status == golden["status"] and outcome.fraction == 1.0
    assert outcome.message.key == "check.hw_retrain_reproduces.pass"  # trained, not served: the plain sentence
    rows = golden["evidence"]
    table = Joined([msg("check.hw_retrain_reproduces.row", init=init, student=rows[init]["student_pp"], grader=rows[init]["grader_pp"])
                    for init in reference_rubric.homework.initializers], "; ")
    said = msg("check.hw_retrain_reproduces.pass", tol=2.0, count=msg("check.common.count.3"), table=table)
    assert render(outcome.message, "en") == render(said, "en")
    for init, row in golden["evidence"].items():
        assert outcome.evidence[init]["student_pp"] == pytest.approx(row["student_pp"], rel=1e-12)
    criterion = CHECKS["hw_he_criterion"](ctx(reference_rubric, {"hw_val_accuracy": reported}, retraining_))
    golden = golden_check("alice", "hw_he_criterion")
    assert render(criterion.message, "es") == golden["message"] and render(criterion.found, "es") == golden["found"]
    assert render(criterion.expected, "es") == golden["expected"] == render(msg("check.hw_he_criterion.expected", criterion_pp=0.5), "es")
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
    table = Joined([msg("check.hw_retrain_reproduces.row", init="glorot_uniform", student=85.0, grader=88.1),
                    msg("check.hw_retrain_reproduces.row", init="he_uniform", student=99.0, grader=88.4),
                    msg("check.hw_retrain_reproduces.row", init="he_normal", student=99.0, grader=88.6)], "; ")
    said = msg("check.hw_retrain_reproduces.fail", tol=2.0, off="glorot_uniform, he_uniform, he_normal", table=table, seed=42,
               optimizer="SGD", learning_rate=0.01, batch_size=32, validation_size=5000)
    for lang in ("es", "en"):
        assert render(outcome.message, lang) == render(said, lang)


def test_the_protocol_text_follows_the_rubric(reference_rubric):
    edited = reference_rubric.with_protocol(seed=7, learning_rate=0.05, batch_size=64, validation_size=10000, optimizer="adam")
    far = {"glorot_uniform": 0.5, "he_uniform": 0.5, "he_normal": 0.5}
    outcome = CHECKS["hw_retrain_reproduces"](ctx(edited, {"hw_val_accuracy": far},
                                                  homework_runs(edited, {i: 0.9 for i in far})))
    table = Joined([msg("check.hw_retrain_reproduces.row", init=init, student=50.0, grader=90.0) for init in far], "; ")
    said = msg("check.hw_retrain_reproduces.fail", tol=2.0, off=", ".join(far), table=table, seed=7,
               optimizer="ADAM", learning_rate=0.05, batch_size=64, validation_size=10000)
    assert render(outcome.message, "es") == render(said, "es")


def test_without_own_models_nothing_is_verified(reference_rubric):
    accs = {init: 0.88 for init in reference_rubric.homework.initializers}
    borrowed = homework_runs(reference_rubric, accs, SOURCE_REFERENCE)
    for check_id in retraining.__all__:
        outcome = CHECKS[check_id](ctx(reference_rubric, {"hw_val_accuracy": accs}, borrowed))
        assert outcome.status == "warn" and outcome.fraction == 0.0 and "reference_only" in outcome.evidence
        said = msg("check.common.reference_only", names="glorot_uniform, he_uniform, he_normal")
        assert render(outcome.message, "es") == render(said, "es")
    own = homework_runs(reference_rubric, accs, SOURCE_BUILD_MODEL)
    assert CHECKS["hw_retrain_reproduces"](ctx(reference_rubric, {"hw_val_accuracy": accs}, own)).status == "pass"
    off = CHECKS["hw_norms_similar"](ctx(reference_rubric, {}, Retraining({}, {}, {}, "sin GPU")))
    said = msg("check.common.not_verified", why="sin GPU")  # the retraining's own reason, passed on
    assert render(off.message, "es") == render(said, "es") and off.evidence == {"retraining": "sin GPU"}


def test_norm_ratios(reference_rubric):
    accs = {init: 0.88 for init in reference_rubric.homework.initializers}
    runs = homework_runs(reference_rubric, accs, after=[5.0, 4.0, 3.0, 2.0, 1.0])
    outcome = CHECKS["hw_norms_similar"](ctx(reference_rubric, {}, runs))
    said = msg("check.hw_norms_similar.pass", limit=10, ratios="he_uniform: 5.00, he_normal: 5.00")
    assert outcome.status == "pass" and render(outcome.message, "es") == render(said, "es")
    apart = CHECKS["hw_norms_similar"](ctx(reference_rubric, {"hw_kernel_norms_after": {"he_normal": [30.0, 1.0]}}, runs))
    assert apart.status == "fail" and apart.evidence["not_retrained"] == ["he_normal"]
    said = msg("check.hw_norms_similar.not_retrained", limit=10, ratios="he_uniform: 5.00, he_normal: 5.00", names="he_normal",
               tol=reference_rubric.tolerances.initial_norm_relative * 100)
    assert render(apart.message, "en") == render(said, "en")
    exploding = homework_runs(reference_rubric, accs, after=[50.0, 4.0, 3.0, 2.0, 1.0])
    far = CHECKS["hw_norms_similar"](ctx(reference_rubric, {"hw_kernel_norms_after": {"he_normal": [50.0, 4.0, 3.0, 2.0, 1.0]}}, exploding))
    assert far.status == "fail"
    said = msg("check.hw_norms_similar.fail", limit=10, ratios="he_uniform: 50.00, he_normal: 50.00", student={"he_normal": 50.0})
    assert render(far.message, "es") == render(said, "es")


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
    he_normal = msg("check.hw_he_criterion.seeds", n=5, init="he_normal", mean=0.576, low=-1.31, high=2.46, holds=1)
    for lang in ("es", "en"):
        assert render(he_normal, lang) in render(outcome.message, lang)
    grader = Joined([msg("check.hw_he_criterion.diff", init=init, base="glorot_uniform", diff=d)
                     for init, d in outcome.evidence["grader_diff_pp"].items()], ", ")
    each = Joined([msg("check.hw_he_criterion.seeds", n=v["n"], init=init, mean=v["mean"], low=v["ci95"][0], high=v["ci95"][1],
                       holds=v["holds"]) for init, v in seeds.items()], "")
    said = msg("check.hw_he_criterion.message", seed=42, grader=grader, student="—", seeds=each, criterion_pp=0.5, noise=1.5, measured_seeds=5)
    assert render(outcome.message, "es") == render(said, "es") and outcome.status == "warn"  # no student numbers: "—"


def test_the_criterion_threshold_comes_from_the_rubric(reference_rubric):
    edited = replace(reference_rubric, homework=replace(reference_rubric.homework, criterion_pp=6.0))
    big = {"glorot_uniform": 0.80, "he_uniform": 0.85, "he_normal": 0.85}
    outcome = CHECKS["hw_he_criterion"](ctx(edited, {"hw_val_accuracy": big}, homework_runs(edited, big)))
    assert outcome.status == "warn"
    assert render(outcome.expected, "en") == render(msg("check.hw_he_criterion.expected", criterion_pp=6.0), "en")
    diffs = Joined([msg("check.hw_he_criterion.diff", init=init, base="glorot_uniform", diff=5.0) for init in HE], ", ")
    said = msg("check.hw_he_criterion.message", seed=42, grader=diffs, student=diffs, seeds="", criterion_pp=6.0, noise=1.5, measured_seeds=5)
    assert render(outcome.message, "en") == render(said, "en")
