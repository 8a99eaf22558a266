"""Collapsed comparisons (grader/checks/collapse.py): one run standing for several initializers
is named first, with its cause, and no check reads it as evidence about one initializer
against another. Real Keras-drawn kernels in real ModelDescs; bob's real report is in
test_integration."""

from __future__ import annotations

from grader.checks import CHECKS
from grader.checks.collapse import ARGUMENT_IGNORED, HISTORY_REUSED, MODEL_REUSED, homework_collapse
from grader.messages import Joined, msg, render

from .checks_support import HE, ctx, homework_runs, model, norms, probes


def _histories(rubric, same: bool) -> dict:
    return {init: {"val_accuracy": [0.80, 0.85 if same else 0.85 + 0.01 * k], "val_loss": [0.6, 0.5]}
            for k, init in enumerate(rubric.homework.initializers)}


def test_honest_runs_do_not_collapse(reference_rubric):
    models = probes(reference_rubric)
    values = {"build_model": models, "hw_models": models, "hw_histories": _histories(reference_rubric, same=False)}
    assert homework_collapse(values, reference_rubric.homework.initializers) is None


def test_one_model_object_stored_under_every_key(reference_rubric):
    """build_model is right, but the loop stores one trained model for every initializer."""
    one = model(reference_rubric, "he_normal", seed=5)
    values = {"build_model": probes(reference_rubric), "hw_models": {init: one for init in reference_rubric.homework.initializers},
              "hw_histories": _histories(reference_rubric, same=True),
              "hw_val_accuracy": {init: 85.0 for init in reference_rubric.homework.initializers}}
    collapse = homework_collapse(values, reference_rubric.homework.initializers)
    assert collapse.cause == MODEL_REUSED and collapse.identical == ("trained_weights", "histories")
    assert collapse.accuracy == 0.85
    names = ", ".join(f"'{init}'" for init in reference_rubric.homework.initializers)
    identical = msg("ui.and", head=msg("collapse.what.trained_weights"), last=msg("collapse.what.histories"))
    assert render(collapse.message(), "es") == render(msg("collapse.message", names=names, identical=identical,
                                                          accuracy=msg("collapse.accuracy", accuracy=85.0),
                                                          cause=msg("collapse.cause.same_model_reused")), "es")
    declared = CHECKS["hw_declared_initializers"](ctx(reference_rubric, values))
    assert MODEL_REUSED in declared.mistakes and "glorot_with_relu" not in declared.mistakes


def test_one_history_stored_under_every_key(reference_rubric):
    models = probes(reference_rubric)
    values = {"build_model": models, "hw_models": models, "hw_histories": _histories(reference_rubric, same=True)}
    collapse = homework_collapse(values, reference_rubric.homework.initializers)
    assert collapse.cause == HISTORY_REUSED and collapse.groups == (tuple(reference_rubric.homework.initializers),)


def test_argument_ignored_turns_the_criterion_and_the_norms_into_nothing_compared(reference_rubric):
    hw = reference_rubric.homework
    glorot = {init: model(reference_rubric, "glorot_uniform", seed=10 * k) for k, init in enumerate(hw.initializers)}
    values = {"build_model": glorot, "hw_models": glorot, "hw_val_accuracy": {init: 0.8864 for init in hw.initializers},
              "hw_kernel_norms_before": norms(glorot), "hw_kernel_norms_after": norms(glorot)}
    assert homework_collapse(values, hw.initializers).cause == ARGUMENT_IGNORED
    runs = homework_runs(reference_rubric, {init: 0.8864 for init in hw.initializers}, after=[3.0, 2.5, 2.0, 1.5, 1.0])
    criterion = CHECKS["hw_he_criterion"](ctx(reference_rubric, values, runs))
    assert criterion.status == "warn" and criterion.fraction == 0.0 and "collapse" in criterion.evidence
    names = ", ".join(hw.initializers)
    zero = Joined([msg("check.hw_he_criterion.diff", init=init, base=hw.baseline, diff=0.0) for init in hw.he_initializers], ", ")
    assert render(criterion.message, "es") == render(msg("check.hw_he_criterion.collapsed", names=names, grader=zero), "es")
    norms_check = CHECKS["hw_norms_similar"](ctx(reference_rubric, values, runs))
    assert norms_check.status == "warn" and norms_check.fraction == 0.0
    assert render(norms_check.message, "es") == render(msg("check.hw_norms_similar.collapsed", names=names, baseline=hw.baseline), "es")
    reproduces = CHECKS["hw_retrain_reproduces"](ctx(reference_rubric, values, runs))
    assert reproduces.status == "warn" and reproduces.fraction == 1.0  # the numbers do reproduce: the points stay
    table = Joined([msg("check.hw_retrain_reproduces.row", init=init, student=88.64, grader=88.64) for init in hw.initializers], "; ")
    tol = reference_rubric.tolerances.val_accuracy_pp
    assert render(reproduces.message, "es") == render(msg("check.hw_retrain_reproduces.collapsed", tol=tol, table=table, names=names), "es")
    for check_id in ("hw_kernel_norms", "hw_initial_distribution"):
        outcome = CHECKS[check_id](ctx(reference_rubric, values))
        assert "glorot_with_relu" not in outcome.mistakes, check_id


def test_two_he_names_on_one_initializer_is_a_diagnosis_not_a_collapse(reference_rubric):
    """build_model maps 'he_uniform' to he_normal: a wrong distribution, the comparison with Glorot still stands."""
    models = probes(reference_rubric)
    models["he_uniform"] = model(reference_rubric, "he_normal", seed=77)
    values = {"build_model": models, "hw_models": models}
    assert homework_collapse(values, reference_rubric.homework.initializers) is None
    declared = CHECKS["hw_declared_initializers"](ctx(reference_rubric, values))
    assert declared.mistakes == ("wrong_distribution",)


def test_identical_exercise_curves_compare_nothing(reference_rubric):
    same = {"val_loss": [2.3, 2.2], "val_accuracy": [0.1, 0.12]}
    from .checks_support import exercise_runs, run

    ex2 = {label: run(label, history={"val_loss": [2.3 - 0.3 * k, 1.5], "val_accuracy": [0.1, 0.5]})
           for k, label in enumerate(reference_rubric.exercises.ex2.runs)}
    student = {label: dict(same) for label in ex2}
    outcome = CHECKS["ex2_curves"](ctx(reference_rubric, {"ex2_histories": student}, exercise_runs(ex2=ex2)))
    assert outcome.status == "fail" and outcome.evidence["identical"] == [list(ex2)]
    groups = ", ".join(f"'{label}'" for label in ex2)
    assert render(outcome.message, "es").startswith(render(msg("check.common.identical_curves", groups=groups, then=""), "es"))
    ex4 = {"he_normal_tanh": run(history={"val_accuracy": [0.70, 0.72]}),
           "glorot_uniform_tanh": run(history={"val_accuracy": [0.75, 0.76]})}
    twins = {label: {"val_accuracy": [0.70, 0.72]} for label in ex4}
    tanh = CHECKS["ex4_tanh"](ctx(reference_rubric, {"ex4_histories": twins}, exercise_runs(ex4=ex4)))
    identical = msg("check.ex4_tanh.identical", groups=", ".join(f"'{label}'" for label in ex4))  # and no reading of the noise
    assert render(tanh.message, "es") == render(msg("check.ex4_tanh.fail", off="glorot_uniform_tanh", reading=identical), "es")


def test_he_initializers_of_the_rubric_are_what_the_tests_assume(reference_rubric):
    assert tuple(reference_rubric.homework.he_initializers) == HE
