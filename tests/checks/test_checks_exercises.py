"""Exercises 2–5 (grader/checks/exercises.py) against real RunResult objects of the grader's
runs and real Keras-drawn models for exercise 3."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.checks import CHECKS, exercises, run_checks
from grader.messages import render

from .checks_support import assert_cases, cached_cases, ctx, exercise_runs, model, run


@pytest.mark.parametrize("check_id", exercises.__all__)
def test_each_case_gets_its_status(check_id, reference_rubric):
    assert_cases(check_id, reference_rubric)


def test_ex2_curves_name_each_curve_that_differs(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_curves" and c.name == "off")
    outcome = CHECKS["ex2_curves"](case.context)
    assert outcome.fraction == pytest.approx(1 / 3)
    assert render(outcome.message, "es") == ("Curvas distintas de las esperadas: glorot_uniform: val_loss 0.100 en la época 3 (corrector 1.500); "
                                             "he_normal: sin val_loss. Revise que cada corrida use su inicializador y el protocolo.")
    passing = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_curves" and c.status == "pass")
    assert render(CHECKS["ex2_curves"](passing.context).message, "es") == "En el gráfico, tres curvas suyas coinciden con las del corrector."


def test_ex2_vanishing_needs_the_flat_start(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_vanishing" and c.name == "flat")
    outcome = CHECKS["ex2_vanishing"](case.context)
    assert render(outcome.message, "es") == ("Su corrida RandomNormal(0.01) empieza con val_loss 2.303 ≈ ln 10: la red casi no aprende al principio. "
                                             "En la corrida del corrector, la varianza de las activaciones cae ×1.0e-06 de la primera a la última capa oculta.")
    failing = next(c for c in cached_cases(reference_rubric) if c.check == "ex2_vanishing" and c.name == "no curve")
    assert "(val_loss de la 1.ª época —, se esperaba ≥ 2.2)" in render(CHECKS["ex2_vanishing"](failing.context).message, "es")


def test_not_recomputed_says_why(reference_rubric):
    from grader.retrain import Retraining
    outcome = CHECKS["ex4_tanh"](ctx(reference_rubric, {"ex4_histories": {}}, Retraining({}, {}, {}, "sin tiempo")))
    assert outcome.status == "warn" and render(outcome.message, "en") == "Not verified: sin tiempo."
    outcome = CHECKS["ex2_curves"](ctx(reference_rubric, {"ex2_histories": {}}))
    assert render(outcome.message, "es") == "No verificado: el corrector no recalculó este ejercicio."


def test_a_rubric_without_exercises_verifies_nothing_and_breaks_nothing(reference_rubric):
    bare = replace(reference_rubric, exercises=None)
    values = {"ex2_histories": {}, "ex3_activation_variances": [0.1, 0.1, 0.1], "ex4_histories": {}}
    results = {r.id: r for r in run_checks(ctx(bare, values))}
    for check_id in ("ex2_curves", "ex2_vanishing", "ex3_layer_variances", "ex4_tanh"):
        assert results[check_id].status == "warn", (check_id, results[check_id].to_json("en")["message"])
        assert results[check_id].to_json("en")["message"] == "Not verified: the rubric does not describe exercises 2 to 5."
    assert all(r.status != "error" for r in results.values())


def test_ex3_model_tells_glorot_from_he_where_the_variances_cannot(reference_rubric):
    variances = [0.40, 0.27, 0.18, 0.12, 0.5]  # what Glorot + ReLU really gives: max/min ≈ 3.5, inside the bound
    alone = CHECKS["ex3_layer_variances"](ctx(reference_rubric, {"ex3_activation_variances": variances}))
    hidden_layers = len(reference_rubric.exercises.ex2.units) - 1
    assert alone.status == "pass" and render(alone.message, "es").endswith(f"esta razón sola no distingue Glorot de He con {hidden_layers} capas.")
    assert render(alone.message, "en").endswith(f"over {hidden_layers} layers.")
    he = CHECKS["ex3_layer_variances"](ctx(reference_rubric, {"ex3_activation_variances": variances, "ex3_model": model(reference_rubric, "he_normal", seed=3)}))
    assert he.status == "pass" and he.evidence["ex3_model"]["ok"]
    assert render(he.message, "es") == ("Capas ocultas: máx/mín = 3.33 ≤ 10, y del orden de las del corrector. "
                                        "Los kernels de `ex3_model` siguen su inicializador He.")
    declared = CHECKS["ex3_layer_variances"](ctx(reference_rubric, {"ex3_activation_variances": variances,
                                                                    "ex3_model": model(reference_rubric, "glorot_uniform")}))
    assert declared.status == "fail" and declared.mistakes == ("glorot_with_relu",)
    assert render(declared.message, "es") == ("Varianzas por capa: máx/mín = 3.33; `ex3_model` declara glorot_uniform en sus capas ocultas; "
                                              "con ReLU corresponde He. Mídalas sobre el modelo bien inicializado (He + ReLU) recién construido, "
                                              "antes de entrenar, con un mismo batch: el ejercicio es sobre la inicialización.")
    weights = CHECKS["ex3_layer_variances"](ctx(reference_rubric, {"ex3_activation_variances": variances,
                                                                   "ex3_model": model(reference_rubric, "glorot_uniform", declared="he_normal", seed=5)}))
    assert weights.status == "fail" and weights.evidence["ex3_model"]["best_match"] == "glorot_uniform"
    assert "glorot_with_relu" in weights.mistakes and "recién inicializado" in render(weights.message, "es")
    assert "freshly initialized he_normal" in render(weights.message, "en")


def test_ex3_far_from_the_grader(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex3_layer_variances" and c.name == "far and spread")
    outcome = CHECKS["ex3_layer_variances"](case.context)
    assert render(outcome.message, "es").startswith("Varianzas por capa: máx/mín = 200.00; lejos de las varianzas que calcula el corrector para He + ReLU.")
    assert render(outcome.message, "en").startswith("Per-layer variances: max/min = 200.00; far from the variances the grader computes for He + ReLU.")


def test_ex4_says_when_the_difference_is_within_noise(reference_rubric):
    within = next(c for c in cached_cases(reference_rubric) if c.check == "ex4_tanh" and c.name == "within noise")
    outcome = CHECKS["ex4_tanh"](within.context)
    assert render(outcome.message, "es") == ("Sus curvas coinciden con las del corrector. Glorot − He: usted +0.50 pp, corrector +0.50 pp; una diferencia "
                                             "dentro del ruido entre semillas (±1.5 pp): con tan pocas épocas no se puede afirmar cuál es mejor.")
    beyond = next(c for c in cached_cases(reference_rubric) if c.check == "ex4_tanh" and c.name == "beyond noise")
    assert render(CHECKS["ex4_tanh"](beyond.context).message, "es").endswith("; una diferencia mayor que el ruido entre semillas.")
    wrong = next(c for c in cached_cases(reference_rubric) if c.check == "ex4_tanh" and c.name == "wrong")
    assert render(CHECKS["ex4_tanh"](wrong.context).message, "es").startswith("Curvas distintas de las esperadas en he_normal_tanh. Glorot − He: usted +24.50 pp")


def test_ex5_blames_the_platform_not_the_student(reference_rubric):
    values = {"ex5_same_seed_identical": False, "ex5_no_seed_differs": True}
    shaky = exercise_runs(ex5={"repro": run(extra={"same_seed_identical": False, "no_seed_differs": True})})
    outcome = CHECKS["ex5_reproducibility"](ctx(reference_rubric, values, shaky))
    assert outcome.status == "warn" and outcome.fraction == 1.0 and "no es determinista" in render(outcome.message, "es")
    steady = exercise_runs(ex5={"repro": run(extra={"same_seed_identical": True, "no_seed_differs": True})})
    failed = CHECKS["ex5_reproducibility"](ctx(reference_rubric, values, steady))
    assert failed.status == "fail"
    assert render(failed.message, "es") == ("Reporta misma semilla → idénticos = False, sin semilla → distintos = True; el corrector observó "
                                            "True y True. Llame keras.utils.set_random_seed(42) antes de construir cada modelo y compare con np.array_equal.")
    seeded = CHECKS["ex5_reproducibility"](ctx(reference_rubric.with_protocol(seed=3), values, steady))
    assert "set_random_seed(3)" in render(seeded.message, "en")


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
    assert invented.status == "fail" and "but the grader's, with the same model and protocol, starts at 0.900" in render(invented.message, "en")
    assert alone.status == "pass" and alone.evidence["basis"] == "student_claim"
    assert "the grader has no run of its own to confirm it" in render(alone.message, "en")
