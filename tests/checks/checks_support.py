"""Real evidence for the check tests: Keras-drawn kernels in real ModelDesc objects, real
RunResult/Retraining objects, and one passing and several failing inputs for every check."""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np

from grader.checks import Context
from grader.extract import Extracted
from grader.initializers import InitSpec
from grader.messages import Localized, msg
from grader.modeldesc import LayerDesc, ModelDesc
from grader.retrain import Retraining, RunResult

CLASSES = {"glorot_uniform": "GlorotUniform", "he_uniform": "HeUniform", "he_normal": "HeNormal"}
HE = ("he_uniform", "he_normal")


def kernel(init: str, shape, seed: int) -> np.ndarray:
    return np.asarray(keras.initializers.get({"class_name": CLASSES[init], "config": {"seed": seed}})(shape))


def model(rubric, init: str, declared: str | None = None, bias: str = "zeros", seed: int = 0, units=None,
          hidden: str | None = None, input_size: int | None = None) -> ModelDesc:
    """The homework MLP (or `units`), kernels drawn by Keras with `init`, declaring `declared`."""
    hw = rubric.homework
    sizes = [input_size or hw.input_size, *(units or hw.units)]
    layers = []
    for i, shape in enumerate(zip(sizes[:-1], sizes[1:])):
        b = np.zeros(shape[1], "float32") if bias == "zeros" else \
            np.random.default_rng(i).uniform(-0.1, 0.1, shape[1]).astype("float32")
        last = i == len(sizes) - 2
        layers.append(LayerDesc("dense", shape[1], hw.output_activation if last else (hidden or hw.hidden_activation), True,
                                InitSpec(declared or init), InitSpec(bias), kernel=kernel(init, shape, seed + i), bias=b))
    return ModelDesc((sizes[0],), tuple(layers))


def probes(rubric, **kwargs) -> dict:
    """build_model's probes: one honest model per homework initializer."""
    return {init: model(rubric, init, seed=10 * k, **kwargs) for k, init in enumerate(rubric.homework.initializers)}


def run(label="x", acc=None, history=None, before=None, after=None, activations=None, extra=None, seed=42) -> RunResult:
    history = history if history is not None else {"val_accuracy": [acc], "val_loss": [0.3]}
    return RunResult(label, seed, history, before or [1.0] * 5, after or [2.0] * 5, 1.0,
                     activations=activations or {}, extra=extra or {})


def homework_runs(rubric, accs: dict, source: str = "hw_models", after=None) -> Retraining:
    main = {init: run(init, accs[init], after=after) for init in rubric.homework.initializers}
    return Retraining(main, {}, {init: source for init in main})


def exercise_runs(**exercises) -> Retraining:
    return Retraining({}, {}, {}, exercises=exercises)


def ctx(rubric, values: dict | None = None, retraining: Retraining | None = None, problems: dict | None = None) -> Context:
    return Context(Extracted(values or {}, problems or {}), rubric, retraining)


@dataclass
class Case:
    check: str
    name: str
    context: Context
    status: str  # the status the check must give


def norms(models: dict, inits=HE) -> dict:
    return {init: [float(np.linalg.norm(k)) for k in models[init].kernels] for init in inits}


def cases(rubric) -> list[Case]:
    """Every check on a passing input and on failing ones (each branch that has its own message)."""
    hw, ex1, protocol = rubric.homework, rubric.exercise1, rubric.protocol
    fan_in, fan_out = ex1.fan_in, ex1.fan_out
    glorot_kernel = kernel("glorot_uniform", (fan_in, fan_out), 1)
    he_kernel = kernel("he_normal", (fan_in, fan_out), 1)
    ex1_model = ModelDesc((fan_in,), (LayerDesc("dense", fan_out, "linear", True, InitSpec("glorot_uniform"), InitSpec("zeros"),
                                                kernel=glorot_kernel, bias=np.zeros(fan_out, "float32")),))
    ex1_model_he = ModelDesc((fan_in,), (LayerDesc("dense", fan_out, "linear", True, InitSpec("he_normal"), InitSpec("zeros"),
                                                   kernel=glorot_kernel, bias=np.zeros(fan_out, "float32")),))
    bias_model = ModelDesc((fan_in,), (LayerDesc("dense", fan_out, "linear", True, InitSpec("glorot_uniform"),
                                                 InitSpec("random_uniform", {"minval": -0.05, "maxval": 0.05}),
                                                 kernel=glorot_kernel, bias=np.full(fan_out, 0.01, "float32")),))
    s = fan_in + fan_out
    limit, var = math.sqrt(6 / s), 2 / s
    conv = ex1.conv
    conv_in, conv_out = conv.kh * conv.kw * conv.in_channels, conv.kh * conv.kw * conv.filters
    good = probes(rubric)
    ignoring = {init: model(rubric, "glorot_uniform", declared="glorot_uniform", seed=10 * k)
                for k, init in enumerate(hw.initializers)}
    biased = probes(rubric, bias="glorot_uniform")
    wrong_units = {init: model(rubric, init, units=[64, 10], seed=3) for init in hw.initializers}
    tanh = {init: model(rubric, init, hidden="tanh", seed=4) for init in hw.initializers}
    small_input = {init: model(rubric, init, input_size=100, seed=5) for init in hw.initializers}
    broken = {init: Localized({"es": f"build_model(kernel_initializer={init!r}) falló: ValueError: no\nTraceback …",
                               "en": f"build_model(kernel_initializer={init!r}) failed: ValueError: no\nTraceback …"})
              for init in hw.initializers}
    small = {"he_normal": ModelDesc(good["he_normal"].input_shape, tuple(
        LayerDesc("dense", l.units, l.activation, True, InitSpec("random_normal", {"mean": 0.0, "stddev": 0.01}), InitSpec("zeros"),
                  kernel=l.kernel, bias=l.bias) for l in good["he_normal"].layers))}
    one_broken = {**good, "he_normal": msg("check.common.not_defined")}
    epochs = protocol.epochs
    curve = [0.5 + 0.01 * i for i in range(epochs)]
    histories = {init: {"val_accuracy": list(curve), "val_loss": [1.0] * epochs} for init in hw.initializers}
    reported = {init: curve[-1] for init in hw.initializers}
    trained = {init: model(rubric, init, seed=7) for init in hw.initializers}
    before = norms({init: model(rubric, init, seed=99) for init in HE})
    after = norms(trained)
    glorot_before = norms({init: model(rubric, "glorot_uniform", seed=98) for init in HE})
    accs = {hw.initializers[0]: 0.881, hw.initializers[1]: 0.884, hw.initializers[2]: 0.886}
    honest = {init: accs[init] for init in hw.initializers}
    far = {hw.baseline: 0.85, **{init: 0.99 for init in hw.he_initializers}}
    big = {hw.baseline: 0.80, **{init: 0.85 for init in hw.he_initializers}}
    design = {42: (88.10, 88.12, 88.48), 7: (82.74, 82.52, 85.98), 1: (89.60, 88.70, 89.26),
              2: (88.24, 88.82, 87.94), 3: (88.60, 88.84, 88.50)}
    seeds = {seed: {init: run(init, acc / 100, seed=seed) for init, acc in zip(hw.initializers, row)} for seed, row in design.items()}
    ex = rubric.exercises
    ex2_labels = list(ex.ex2.runs)
    ex2_runs = {label: run(label, history={"val_loss": [2.302, 2.0, 1.5]},
                           activations={"init": [{"var": 1e-2}, {"var": 1e-5}, {"var": 1e-8}, {"var": 1e-9}],
                                        "trained": [{"var": 0.2}, {"var": 0.4}, {"var": 0.8}, {"var": 1.6}]})
                for label in ex2_labels}
    ex2_he = {**ex2_runs, "he_normal": run("he_normal", history={"val_loss": [0.9, 0.7, 0.5]},
                                             activations={"init": [{"var": 0.15}, {"var": 0.14}, {"var": 0.13}, {"var": 0.17}, {"var": 0.005}],
                                                          "trained": [{"var": 0.2}, {"var": 0.4}, {"var": 0.8}, {"var": 1.6}, {"var": 0.01}]})}
    ex2_student = {label: {"val_loss": list(r.history["val_loss"])} for label, r in ex2_he.items()}
    ex2_off = {**ex2_student, ex2_labels[0]: {"val_loss": [0.1, 0.1, 0.1]}}
    ex2_off.pop(ex2_labels[1])
    flat = {"random_normal": {"val_loss": [2.3026, 2.30]}}
    learning = {"random_normal": {"val_loss": [1.2, 0.9]}}
    variances = [0.15, 0.14, 0.13, 0.17, 0.005]
    ex4_runs = {"he_normal_tanh": run(history={"val_accuracy": [0.80, 0.84]}),
                "glorot_uniform_tanh": run(history={"val_accuracy": [0.81, 0.845]})}
    ex4_student = {label: {"val_accuracy": list(r.history["val_accuracy"])} for label, r in ex4_runs.items()}
    ex4_apart = {"he_normal_tanh": run(history={"val_accuracy": [0.70, 0.72]}),
                 "glorot_uniform_tanh": run(history={"val_accuracy": [0.75, 0.76]})}
    ex4_apart_student = {label: {"val_accuracy": list(r.history["val_accuracy"])} for label, r in ex4_apart.items()}
    ex4_wrong = {**ex4_student, "he_normal_tanh": {"val_accuracy": [0.5, 0.6]}}
    repro = lambda same, differs: exercise_runs(ex5={"repro": run(extra={"same_seed_identical": same, "no_seed_differs": differs,
                                                                          "same_seed_max_abs_diff": 0.0})})
    said = {"ex5_same_seed_identical": True, "ex5_no_seed_differs": True}
    failed = Retraining({}, {}, {}, msg("retrain.off"))
    C = lambda check, name, status, values=None, retraining=None, problems=None: Case(check, name, ctx(rubric, values, retraining, problems), status)
    return [
        C("ex1_kernel_distribution", "glorot", "pass", {"ex1_kernel": glorot_kernel, "ex1_model": ex1_model}),
        C("ex1_kernel_distribution", "he kernel", "fail", {"ex1_kernel": he_kernel}),
        C("ex1_kernel_distribution", "declared he", "fail", {"ex1_kernel": glorot_kernel, "ex1_model": ex1_model_he}),
        C("ex1_kernel_distribution", "missing", "fail"),
        C("ex1_bias_zeros", "zeros", "pass", {"ex1_model": ex1_model}),
        C("ex1_bias_zeros", "random bias", "fail", {"ex1_model": bias_model}),
        C("ex1_bias_zeros", "missing", "skipped"),
        C("ex1_bias_zeros", "layer only", "pass", {"ex1_layer": ex1_model}),
        C("ex1_bias_zeros", "layer random bias", "fail", {"ex1_layer": bias_model}),
        C("ex1_bias_zeros", "broken model", "fail", problems={"ex1_model": msg("model.no_dense")}),
        C("ex1_bias_zeros", "never harvested", "fail", problems={"ex1_model": msg("extract.no_artifacts"),
                                                                 "ex1_layer": msg("extract.no_artifacts")}),
        C("ex1_limit", "right", "pass", {"ex1_limit": limit}),
        C("ex1_limit", "fan_in", "fail", {"ex1_limit": math.sqrt(6 / fan_in)}),
        C("ex1_limit", "fan_out", "fail", {"ex1_limit": math.sqrt(6 / fan_out)}),
        C("ex1_limit", "std", "fail", {"ex1_limit": math.sqrt(2 / s)}),
        C("ex1_limit", "no root", "fail", {"ex1_limit": 6 / s}),
        C("ex1_limit", "arbitrary", "fail", {"ex1_limit": 0.5}),
        C("ex1_limit", "named problem", "fail", problems={"ex1_limit": Localized({"es": "ex1_limit debe ser un número (float), es texto",
                                                                               "en": "ex1_limit must be a number (float), it is text"})}),
        C("ex1_var_theory", "right", "pass", {"ex1_var_theory": var}),
        C("ex1_var_theory", "he", "fail", {"ex1_var_theory": 2 / fan_in}),
        C("ex1_var_theory", "lecun", "fail", {"ex1_var_theory": 1 / fan_in}),
        C("ex1_var_theory", "sum", "fail", {"ex1_var_theory": 1 / s}),
        C("ex1_var_theory", "limit squared", "fail", {"ex1_var_theory": 6 / s}),
        C("ex1_var_theory", "arbitrary", "fail", {"ex1_var_theory": 0.3}),
        C("ex1_var_theory", "missing", "fail"),
        C("ex1_var_empirical", "right", "pass", {"ex1_kernel": glorot_kernel, "ex1_var_empirical": float(glorot_kernel.var())}),
        C("ex1_var_empirical", "wrong", "fail", {"ex1_kernel": glorot_kernel, "ex1_var_empirical": var * 2}),
        C("ex1_variance_band", "glorot", "pass", {"ex1_kernel": glorot_kernel}),
        C("ex1_variance_band", "he", "fail", {"ex1_kernel": he_kernel}),
        C("ex1_conv_limit", "right", "pass", {"ex1_conv_limit": math.sqrt(6 / (conv_in + conv_out))}),
        C("ex1_conv_limit", "dense fans", "fail", {"ex1_conv_limit": math.sqrt(6 / (conv.in_channels + conv.filters))}),
        C("ex1_conv_limit", "other", "fail", {"ex1_conv_limit": 0.9}),
        C("ex1_conv_limit", "missing", "skipped"),
        C("ex1_conv_limit", "not a number", "fail", problems={"ex1_conv_limit": msg("extract.not_finite", where="ex1_conv_limit", value="nan")}),
        C("hw_architecture", "right", "pass", {"build_model": good, "hw_models": trained}),
        C("hw_architecture", "units", "fail", {"build_model": wrong_units}),
        C("hw_architecture", "tanh", "fail", {"build_model": tanh}),
        C("hw_architecture", "input", "fail", {"build_model": small_input}),
        C("hw_architecture", "broken", "fail", {"build_model": broken}),
        C("hw_architecture", "broken message", "fail", {"build_model": one_broken}),
        C("hw_architecture", "missing", "fail"),
        C("hw_declared_initializers", "right", "pass", {"build_model": good, "hw_models": trained}),
        C("hw_declared_initializers", "ignores argument", "fail", {"build_model": ignoring}),
        C("hw_declared_initializers", "bias", "fail", {"build_model": biased, "hw_models": biased}),
        C("hw_declared_initializers", "random normal", "fail", {"build_model": small}),
        C("hw_declared_initializers", "no models", "fail", {"build_model": broken}),
        C("hw_initial_distribution", "right", "pass", {"build_model": good}),
        C("hw_initial_distribution", "ignores argument", "fail", {"build_model": ignoring}),
        C("hw_initial_distribution", "one broken", "fail", {"build_model": one_broken}),
        C("hw_biases_zero", "zeros", "pass", {"build_model": good}),
        C("hw_biases_zero", "bias", "fail", {"build_model": biased}),
        C("hw_biases_zero", "no models", "fail", {"build_model": broken}),
        C("hw_histories", "fractions", "pass", {"hw_histories": histories, "hw_val_accuracy": reported}),
        C("hw_histories", "percent", "pass", {"hw_histories": histories, "hw_val_accuracy": {k: v * 100 for k, v in reported.items()}}),
        C("hw_histories", "short and wrong", "fail", {"hw_histories": {**histories, hw.baseline: {"val_accuracy": curve[:3]},
                                                                       hw.he_initializers[0]: {"loss": [1.0]}},
                                                      "hw_val_accuracy": {**reported, hw.he_initializers[-1]: 0.2}}),
        C("hw_histories", "missing", "fail", {"hw_histories": histories}),
        C("hw_kernel_norms", "honest", "pass", {"hw_kernel_norms_before": before, "hw_kernel_norms_after": after, "hw_models": trained}),
        C("hw_kernel_norms", "reset", "fail", {"hw_kernel_norms_before": after, "hw_kernel_norms_after": after, "hw_models": trained}),
        C("hw_kernel_norms", "glorot before", "fail", {"hw_kernel_norms_before": glorot_before, "hw_kernel_norms_after": after}),
        C("hw_kernel_norms", "doubled before", "fail", {"hw_kernel_norms_before": {k: [2 * x for x in v] for k, v in before.items()},
                                                        "hw_kernel_norms_after": after}),
        C("hw_kernel_norms", "after differs", "fail", {"hw_kernel_norms_before": before, "hw_models": trained,
                                                       "hw_kernel_norms_after": {k: [x + 1 for x in v] for k, v in after.items()}}),
        C("hw_kernel_norms", "count and key", "fail", {"hw_kernel_norms_before": {HE[0]: before[HE[0]][:2]},
                                                       "hw_kernel_norms_after": after}),
        C("hw_retrain_reproduces", "honest", "pass", {"hw_val_accuracy": honest}, homework_runs(rubric, accs)),
        C("hw_retrain_reproduces", "percent", "pass", {"hw_val_accuracy": {k: v * 100 for k, v in honest.items()}}, homework_runs(rubric, accs)),
        C("hw_retrain_reproduces", "far", "warn", {"hw_val_accuracy": far}, homework_runs(rubric, accs)),
        C("hw_retrain_reproduces", "not run", "warn", {"hw_val_accuracy": honest}),
        C("hw_retrain_reproduces", "off", "warn", {"hw_val_accuracy": honest}, failed),
        C("hw_retrain_reproduces", "reference only", "warn", {"hw_val_accuracy": honest}, homework_runs(rubric, accs, "reference")),
        C("hw_norms_similar", "similar", "pass", {"hw_kernel_norms_after": {init: [2.0] * 5 for init in HE}}, homework_runs(rubric, accs)),
        C("hw_norms_similar", "not the grader's", "fail", {"hw_kernel_norms_after": {init: [3.0] * 5 for init in HE}},
          homework_runs(rubric, accs)),
        C("hw_norms_similar", "apart", "fail", {"hw_kernel_norms_after": {HE[0]: [100.0, 1.0]}}, homework_runs(rubric, accs)),
        C("hw_norms_similar", "not run", "warn"),
        C("hw_he_criterion", "holds", "pass", {"hw_val_accuracy": big}, homework_runs(rubric, big)),
        C("hw_he_criterion", "percent", "pass", {"hw_val_accuracy": {k: v * 100 for k, v in big.items()}}, homework_runs(rubric, big)),
        C("hw_he_criterion", "seeds", "warn", {}, Retraining(seeds[protocol.seed], seeds, {})),
        C("hw_he_criterion", "not run", "warn"),
        C("ex2_curves", "match", "pass", {"ex2_histories": ex2_student}, exercise_runs(ex2=ex2_he)),
        C("ex2_curves", "off", "fail", {"ex2_histories": ex2_off}, exercise_runs(ex2=ex2_he)),
        C("ex2_curves", "not recomputed", "warn", {"ex2_histories": ex2_student}, exercise_runs()),
        C("ex2_curves", "retraining off", "warn", {"ex2_histories": ex2_student}, failed),
        C("ex2_curves", "missing", "fail"),
        C("ex2_vanishing", "flat", "pass", {"ex2_histories": flat}, exercise_runs(ex2=ex2_runs)),
        C("ex2_vanishing", "learning", "fail", {"ex2_histories": learning}, exercise_runs(ex2=ex2_runs)),
        C("ex2_vanishing", "no curve", "fail", {"ex2_histories": {}}, exercise_runs(ex2=ex2_runs)),
        C("ex2_vanishing", "not recomputed", "warn", {"ex2_histories": flat}),
        C("ex3_layer_variances", "alone", "pass", {"ex3_activation_variances": variances}, exercise_runs(ex2=ex2_he)),
        C("ex3_layer_variances", "he model", "pass", {"ex3_activation_variances": variances,
                                                       "ex3_model": model(rubric, "he_normal", seed=3)}),
        C("ex3_layer_variances", "glorot declared", "fail", {"ex3_activation_variances": variances,
                                                              "ex3_model": model(rubric, "glorot_uniform")}),
        C("ex3_layer_variances", "glorot weights", "fail", {"ex3_activation_variances": variances,
                                                             "ex3_model": model(rubric, "glorot_uniform", declared="he_normal", seed=5)}),
        C("ex3_layer_variances", "tanh", "fail", {"ex3_activation_variances": variances,
                                                   "ex3_model": model(rubric, "he_normal", hidden="tanh")}),
        C("ex3_layer_variances", "far and spread", "fail", {"ex3_activation_variances": [10.0, 0.5, 0.1, 0.05, 0.01]},
          exercise_runs(ex2=ex2_he)),
        C("ex3_layer_variances", "not positive", "fail", {"ex3_activation_variances": [0.0, 0.1, 0.2]}),
        C("ex4_tanh", "within noise", "pass", {"ex4_histories": ex4_student}, exercise_runs(ex4=ex4_runs)),
        C("ex4_tanh", "beyond noise", "pass", {"ex4_histories": ex4_apart_student}, exercise_runs(ex4=ex4_apart)),
        C("ex4_tanh", "wrong", "fail", {"ex4_histories": ex4_wrong}, exercise_runs(ex4=ex4_runs)),
        C("ex4_tanh", "not recomputed", "warn", {"ex4_histories": ex4_student}),
        C("ex5_reproducibility", "agrees", "pass", said, repro(True, True)),
        C("ex5_reproducibility", "disagrees", "fail", {**said, "ex5_no_seed_differs": False}, repro(True, True)),
        C("ex5_reproducibility", "platform", "warn", said, repro(False, True)),
        C("ex5_reproducibility", "no probe", "warn", said),
        C("ex5_reproducibility", "missing", "fail"),
    ]


_CACHE: dict = {}


def cached_cases(rubric) -> list[Case]:
    """cases(rubric), drawn once per rubric object (the Keras draws take a few seconds)."""
    if id(rubric) not in _CACHE:
        _CACHE[id(rubric)] = (rubric, cases(rubric))
    return _CACHE[id(rubric)][1]


def assert_cases(check_id: str, rubric) -> None:
    """Every case built for `check_id` gets its expected status (at least one pass and one other)."""
    from grader.checks import CHECKS
    from grader.kinds import CheckStatus
    from grader.messages import render

    selected = [case for case in cached_cases(rubric) if case.check == check_id]
    assert "pass" in {case.status for case in selected} and len({case.status for case in selected}) >= 2
    for case in selected:
        outcome = CHECKS[check_id](case.context)
        assert outcome.status == case.status, (case.name, render(outcome.message, "en"))
        assert isinstance(outcome.status, CheckStatus)

