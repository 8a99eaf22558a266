"""Each rubric check on hand-made evidence: verdicts, diagnoses and mistake codes."""

from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from grader.checks import CHECKS, Context, run_checks
from grader.extract import Extracted
from grader.initializers import InitSpec
from grader.modeldesc import LayerDesc, ModelDesc

SHAPES = [(784, 300), (300, 200), (200, 100), (100, 50), (50, 10)]
CLASSES = {"glorot_uniform": "GlorotUniform", "he_uniform": "HeUniform", "he_normal": "HeNormal"}


def model(init: str, declared: str | None = None, bias: str = "zeros", seed: int = 0) -> ModelDesc:
    layers = []
    for i, shape in enumerate(SHAPES):
        kernel = np.asarray(keras.initializers.get({"class_name": CLASSES[init], "config": {"seed": seed + i}})(shape))
        b = np.zeros(shape[1], "float32") if bias == "zeros" else np.random.default_rng(i).uniform(-0.1, 0.1, shape[1]).astype("float32")
        layers.append(LayerDesc("dense", shape[1], "relu" if i < 4 else "softmax", True, InitSpec(declared or init), InitSpec(bias), kernel=kernel, bias=b))
    return ModelDesc((784,), tuple(layers))


def ctx(values: dict, rubric) -> Context:
    return Context(Extracted(values, {}), rubric)


def test_wrong_limit_is_diagnosed_as_he_limit(reference_rubric):
    outcome = CHECKS["ex1_limit"](ctx({"ex1_limit": math.sqrt(6 / 784)}, reference_rubric))
    assert outcome.status == "fail" and outcome.mistakes == ("wrong_limit",)
    assert "√(6/fan_in)" in outcome.message.es


def test_conv_fan_in_mistake(reference_rubric):
    outcome = CHECKS["ex1_conv_limit"](ctx({"ex1_conv_limit": math.sqrt(6 / 33)}, reference_rubric))
    assert outcome.mistakes == ("conv_fan_in",)
    assert CHECKS["ex1_conv_limit"](ctx({"ex1_conv_limit": math.sqrt(6 / 297)}, reference_rubric)).status == "pass"


def test_missing_name_fails_with_example(reference_rubric):
    outcome = CHECKS["ex1_var_theory"](Context(Extracted({}, {"ex1_var_theory": "no está definido"}), reference_rubric))
    assert outcome.status == "fail" and "ex1_var_theory = 2 / (fan_in + fan_out)" in outcome.message.es


def test_build_model_ignoring_argument_is_glorot_with_relu(reference_rubric):
    probes = {init: model("glorot_uniform", seed=10 * k) for k, init in enumerate(CLASSES)}
    outcome = CHECKS["hw_initial_distribution"](ctx({"build_model": probes}, reference_rubric))
    assert outcome.status == "fail" and "glorot_with_relu" in outcome.mistakes
    declared = CHECKS["hw_declared_initializers"](ctx({"build_model": probes}, reference_rubric))
    assert "glorot_with_relu" in declared.mistakes


def test_correct_probes_pass(reference_rubric):
    probes = {init: model(init, seed=10 * k) for k, init in enumerate(CLASSES)}
    values = {"build_model": probes}
    for check_id in ("hw_architecture", "hw_declared_initializers", "hw_initial_distribution", "hw_biases_zero"):
        assert CHECKS[check_id](ctx(values, reference_rubric)).status == "pass", check_id


def test_bias_not_zeros(reference_rubric):
    probes = {init: model(init, bias="glorot_uniform", seed=10 * k) for k, init in enumerate(CLASSES)}
    assert CHECKS["hw_biases_zero"](ctx({"build_model": probes}, reference_rubric)).mistakes == ("bias_not_zeros",)
    assert "bias_not_zeros" in CHECKS["hw_declared_initializers"](ctx({"build_model": probes}, reference_rubric)).mistakes


def test_random_normal_small_declared(reference_rubric):
    desc = model("he_normal")
    layers = tuple(LayerDesc("dense", l.units, l.activation, True, InitSpec("random_normal", {"mean": 0.0, "stddev": 0.01}),
                             InitSpec("zeros"), kernel=l.kernel, bias=l.bias) for l in desc.layers)
    probes = {"he_normal": ModelDesc((784,), layers)}
    assert "random_normal_small" in CHECKS["hw_declared_initializers"](ctx({"build_model": probes}, reference_rubric)).mistakes


def test_reset_weights_when_before_equals_after(reference_rubric):
    trained = {init: model(init, seed=5) for init in CLASSES}
    norms = {init: [float(np.linalg.norm(k)) for k in trained[init].kernels] for init in ("he_uniform", "he_normal")}
    values = {"hw_kernel_norms_before": norms, "hw_kernel_norms_after": norms, "hw_models": trained}
    outcome = CHECKS["hw_kernel_norms"](ctx(values, reference_rubric))
    assert outcome.status == "fail" and outcome.mistakes == ("reset_weights",)


def test_honest_norms_pass(reference_rubric):
    trained = {init: model(init, seed=7) for init in CLASSES}
    before = {init: [float(np.linalg.norm(k)) for k in model(init, seed=99).kernels] for init in ("he_uniform", "he_normal")}
    after = {init: [float(np.linalg.norm(k)) for k in trained[init].kernels] for init in ("he_uniform", "he_normal")}
    values = {"hw_kernel_norms_before": before, "hw_kernel_norms_after": after, "hw_models": trained}
    assert CHECKS["hw_kernel_norms"](ctx(values, reference_rubric)).status == "pass"


def test_retraining_checks_say_not_verified_without_runs(reference_rubric):
    results = {r.id: r for r in run_checks(ctx({}, reference_rubric))}
    assert results["hw_retrain_reproduces"].status == "warn"
    assert "No verificado" in results["hw_retrain_reproduces"].message.es
    assert all(r.status != "error" for r in results.values())


def test_claimed_accuracy_that_the_grader_cannot_reproduce_scores_nothing(reference_rubric):
    from grader.checks import Retraining
    from grader.retrain import RunResult

    def run(acc):
        return RunResult("x", 42, {"val_accuracy": [acc], "val_loss": [0.3]}, [1.0] * 5, [2.0] * 5, 1.0)

    retraining = Retraining({"glorot_uniform": run(0.881), "he_uniform": run(0.884), "he_normal": run(0.884)}, {},
                            {"glorot_uniform": "hw_models", "he_uniform": "hw_models", "he_normal": "hw_models"})
    claimed = {"hw_val_accuracy": {"glorot_uniform": 0.85, "he_uniform": 0.99, "he_normal": 0.99}}
    outcome = CHECKS["hw_retrain_reproduces"](Context(Extracted(claimed, {}), reference_rubric, retraining))
    assert outcome.status == "warn" and outcome.fraction == 0.0
    assert "99.00 vs 88.40" in outcome.message.es


def _exercise_retraining(runs: dict):
    from grader.checks import Retraining
    return Retraining({}, {}, {}, exercises=runs)


def _run(history=None, extra=None, activations=None):
    from grader.retrain import RunResult
    return RunResult("x", 42, history or {}, [], [], 1.0, activations=activations or {}, extra=extra or {})


def test_ex4_says_when_the_difference_is_within_noise(reference_rubric):
    runs = {"ex4:he_normal_tanh": _run({"val_accuracy": [0.80, 0.84]}), "ex4:glorot_uniform_tanh": _run({"val_accuracy": [0.81, 0.845]})}
    student = {"ex4_histories": {"he_normal_tanh": {"val_accuracy": [0.80, 0.84]}, "glorot_uniform_tanh": {"val_accuracy": [0.81, 0.845]}}}
    outcome = CHECKS["ex4_tanh"](Context(Extracted(student, {}), reference_rubric, _exercise_retraining(runs)))
    assert outcome.status == "pass" and "dentro del ruido" in outcome.message.es
    wrong = {"ex4_histories": {"he_normal_tanh": {"val_accuracy": [0.5, 0.6]}, "glorot_uniform_tanh": {"val_accuracy": [0.81, 0.845]}}}
    assert CHECKS["ex4_tanh"](Context(Extracted(wrong, {}), reference_rubric, _exercise_retraining(runs))).status == "fail"


def test_ex5_blames_the_platform_not_the_student(reference_rubric):
    values = {"ex5_same_seed_identical": False, "ex5_no_seed_differs": True}
    shaky = _exercise_retraining({"ex5:repro": _run(extra={"same_seed_identical": False, "no_seed_differs": True})})
    outcome = CHECKS["ex5_reproducibility"](Context(Extracted(values, {}), reference_rubric, shaky))
    assert outcome.status == "warn" and outcome.fraction == 1.0 and "no es determinista" in outcome.message.es
    steady = _exercise_retraining({"ex5:repro": _run(extra={"same_seed_identical": True, "no_seed_differs": True})})
    assert CHECKS["ex5_reproducibility"](Context(Extracted(values, {}), reference_rubric, steady)).status == "fail"


def test_ex2_vanishing_needs_the_flat_start(reference_rubric):
    runs = {"ex2:random_normal": _run({"val_loss": [2.302, 2.30]}, activations={"init": [{"var": 1e-2}, {"var": 1e-5}, {"var": 1e-8}, {"var": 1e-9}]})}
    flat = {"ex2_histories": {"random_normal": {"val_loss": [2.3026, 2.30]}}}
    outcome = CHECKS["ex2_vanishing"](Context(Extracted(flat, {}), reference_rubric, _exercise_retraining(runs)))
    assert outcome.status == "pass" and "1.0e-06" in outcome.message.es
    learning = {"ex2_histories": {"random_normal": {"val_loss": [1.2, 0.9]}}}
    assert CHECKS["ex2_vanishing"](Context(Extracted(learning, {}), reference_rubric, _exercise_retraining(runs))).status == "fail"


def test_ex3_model_tells_glorot_from_he_where_the_variances_cannot(reference_rubric):
    # variances a Glorot + ReLU model really gives on real images: max/min ≈ 3.5, inside the bound
    variances = [0.40, 0.27, 0.18, 0.12, 0.5]
    alone = CHECKS["ex3_layer_variances"](ctx({"ex3_activation_variances": variances}, reference_rubric))
    assert alone.status == "pass" and "ex3_model" in alone.message.es  # it asks for the model to check more
    he = CHECKS["ex3_layer_variances"](ctx({"ex3_activation_variances": variances, "ex3_model": model("he_normal", seed=3)}, reference_rubric))
    assert he.status == "pass" and he.evidence["ex3_model"]["ok"]
    declared = CHECKS["ex3_layer_variances"](ctx({"ex3_activation_variances": variances, "ex3_model": model("glorot_uniform")}, reference_rubric))
    assert declared.status == "fail" and declared.mistakes == ("glorot_with_relu",) and "declara glorot_uniform" in declared.message.es
    # declared He but built with Glorot kernels (or trained before measuring): the weights say so
    hidden = model("glorot_uniform", declared="he_normal", seed=5)
    weights = CHECKS["ex3_layer_variances"](ctx({"ex3_activation_variances": variances, "ex3_model": hidden}, reference_rubric))
    assert weights.status == "fail" and weights.evidence["ex3_model"]["best_match"] == "glorot_uniform"
    assert "glorot_with_relu" in weights.mistakes and "recién inicializado" in weights.message.es


def test_multi_seed_evidence_reproduces_design_table_and_plots(reference_rubric):
    """--seeds K: the He − Glorot difference per seed, mean and 95 % CI, and the dot plot."""
    import base64

    from grader import plots
    from grader.checks import Retraining
    from grader.retrain import RunResult

    table = {42: (88.10, 88.12, 88.48), 7: (82.74, 82.52, 85.98), 1: (89.60, 88.70, 89.26),
             2: (88.24, 88.82, 87.94), 3: (88.60, 88.84, 88.50)}  # design.md, val_accuracy %
    runs = {seed: {init: RunResult(init, seed, {"val_accuracy": [acc / 100]}, [], [], 1.0)
                   for init, acc in zip(("glorot_uniform", "he_uniform", "he_normal"), accs)}
            for seed, accs in table.items()}
    retraining = Retraining(runs[42], runs, {})
    outcome = CHECKS["hw_he_criterion"](Context(Extracted({}, {}), reference_rubric, retraining))
    seeds = outcome.evidence["seeds"]
    assert seeds["he_uniform"]["mean"] == pytest.approx(-0.056, abs=1e-6)
    assert seeds["he_uniform"]["ci95"] == pytest.approx([-0.75, 0.63], abs=0.01)
    assert seeds["he_normal"]["mean"] == pytest.approx(0.576, abs=1e-6) and seeds["he_normal"]["holds"] == 1
    assert "5 semillas" in outcome.message.es and "1 de 5" in outcome.message.es
    uri = plots.seed_dots(seeds, reference_rubric.homework["criterion_pp"], {"diff_pp": "pp"})
    assert uri.startswith("data:image/png;base64,") and base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
