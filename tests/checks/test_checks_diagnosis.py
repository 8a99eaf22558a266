"""The initializer diagnosis (grader/checks/diagnosis.py) through `hw_declared_initializers`:
each form a new student writes gets its code, its numbers and its fix, on kernels Keras drew
from that very initializer and on the config Keras serializes for it (what the harvest sees)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from grader.checks import CHECKS
from grader.checks.diagnosis import diagnose, factor, signed_percent
from grader.initializers import InitSpec, spec_from_config
from grader.messages import render
from grader.modeldesc import LayerDesc, ModelDesc

from .checks_support import ctx


def student_model(rubric, make, seed_base: int = 0) -> ModelDesc:
    """The homework MLP as a student would build it: `make(i)` gives layer i's Keras initializer;
    its kernel is drawn by that initializer and its config read back as Keras serializes it."""
    hw = rubric.homework
    sizes = [hw.input_size, *hw.units]
    layers = []
    for i, shape in enumerate(zip(sizes[:-1], sizes[1:])):
        keras.utils.set_random_seed(seed_base + i)
        initializer = make(i)
        kernel = np.asarray(initializer(shape))
        config = keras.initializers.serialize(initializer)
        last = i == len(sizes) - 2
        layers.append(LayerDesc("dense", shape[1], hw.output_activation if last else hw.hidden_activation, True,
                                spec_from_config(config), InitSpec("zeros"), kernel=kernel,
                                bias=np.zeros(shape[1], "float32")))
    return ModelDesc((sizes[0],), tuple(layers))


def honest(rubric, init: str, seed_base: int) -> ModelDesc:
    return student_model(rubric, lambda i: keras.initializers.get(init), seed_base)


def graded(rubric, wrong_init: str, make):
    """hw_declared_initializers when the model for `wrong_init` is built with `make`, the others honest."""
    models = {init: student_model(rubric, make, 100) if init == wrong_init else honest(rubric, init, 10 * k)
              for k, init in enumerate(rubric.homework.initializers)}
    return CHECKS["hw_declared_initializers"](ctx(rubric, {"build_model": models, "hw_models": models}))


VS = keras.initializers.VarianceScaling

# (case, declared as, Keras initializer the student wrote, code, numbers the Spanish message states)
FORMS = [
    ("He's scale, Glorot's fan", "he_uniform", lambda i: VS(2.0, "fan_avg", "uniform"), "wrong_fan_mode",
     ["he_uniform usa mode=fan_in, y usted usa mode=fan_avg", "+45 %, +20 %, +33 %, +33 %, +67 %", "multiplica por 5.1",
      "la señal explota"]),
    ("glorot_normal for glorot_uniform", "glorot_uniform", lambda i: keras.initializers.GlorotNormal(), "wrong_distribution",
     ["glorot_uniform usa distribution=uniform, y usted usa distribution=truncated_normal", "La varianza es la misma",
      "5 capas"]),
    ("lecun_normal for he_normal", "he_normal", lambda i: keras.initializers.LecunNormal(), "wrong_scale",
     ["he_normal usa scale=2, y usted usa scale=1", "−50 %, −50 %, −50 %, −50 %, −50 %", "multiplica por 0.031",
      "la señal se desvanece"]),
    ("he_normal for he_uniform", "he_uniform", lambda i: keras.initializers.HeNormal(), "wrong_distribution",
     ["he_uniform usa distribution=uniform, y usted usa distribution=truncated_normal", "La varianza es la misma"]),
    ("VarianceScaling, wrong scale", "he_uniform", lambda i: VS(3.0, "fan_in", "uniform"), "wrong_scale",
     ["he_uniform usa scale=2, y usted usa scale=3", "+50 %, +50 %", "multiplica por 7.6", "la señal explota"]),
    ("VarianceScaling, wrong mode", "he_normal", lambda i: VS(2.0, "fan_out", "truncated_normal"), "wrong_fan_mode",
     ["he_normal usa mode=fan_in, y usted usa mode=fan_out", "+161 %", "la señal explota"]),
    ("VarianceScaling, untruncated normal", "he_normal", lambda i: VS(2.0, "fan_in", "untruncated_normal"),
     "wrong_distribution", ["distribution=untruncated_normal", "La varianza es la misma"]),
    ("RandomUniform(±0.05)", "he_uniform", lambda i: keras.initializers.RandomUniform(-0.05, 0.05), "not_variance_scaling",
     ["random_uniform(-0.05, 0.05) no es de la familia VarianceScaling", "−67 %, −88 %, −92 %, −96 %, −98 %",
      "multiplica por 3.0e−06", "la señal se desvanece"]),
    ("TruncatedNormal(stddev=0.02)", "he_normal", lambda i: keras.initializers.TruncatedNormal(stddev=0.02),
     "not_variance_scaling", ["truncated_normal(mean=0, stddev=0.02) no es de la familia VarianceScaling",
                              "multiplica por 2.1e−08", "la señal se desvanece"]),
    ("Glorot for He (the class's row)", "he_uniform", lambda i: keras.initializers.GlorotUniform(), "glorot_with_relu",
     ["He usa fan_in y scale=2", "−28 %, −40 %, −33 %, −33 %, −17 %", "multiplica por 0.16", "la señal se desvanece"]),
]


@pytest.mark.parametrize("case, declared_as, make, code, numbers", FORMS, ids=[f[0] for f in FORMS])
def test_each_wrong_form_gets_its_code_numbers_and_fix(reference_rubric, case, declared_as, make, code, numbers):
    outcome = graded(reference_rubric, declared_as, make)
    assert outcome.status == "fail" and code in outcome.mistakes, (case, outcome.mistakes)
    assert set(outcome.mistakes) <= {code, "fixed_seed"}  # no other code invented for it
    spanish, english = render(outcome.message, "es"), render(outcome.message, "en")
    for number in numbers:
        assert number in spanish, (case, number, spanish[:600])
    assert "capa" not in english and "usted" not in english
    fix_es, fix_en = reference_rubric.mistake(code, "fix", "es"), reference_rubric.mistake(code, "fix", "en")
    assert fix_es and fix_en and fix_es != fix_en  # a one-line fix in both catalogs
    evidence = outcome.evidence["diagnosis"][0]
    assert evidence["codes"] == [code] and len(evidence["variance_ratio_per_layer"]) == 5
    # the points follow the wrong layers, as before: 10 of 30 layers (build_model and hw_models) are wrong
    assert outcome.fraction == pytest.approx(1 - 10 / 30)


def test_the_issue_example_in_numbers():
    """VarianceScaling(2, fan_avg, uniform) declared as he_uniform: layer 1's variance is
    4/(784+300) against 2/784, +45 %, and through 5 ReLU layers the signal grows ×5.1."""
    shapes = [(784, 300), (300, 200), (200, 100), (100, 50), (50, 10)]
    found = InitSpec("variance_scaling", {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"})
    d = diagnose(InitSpec("he_uniform"), found, shapes)
    assert d.ratios[0] == pytest.approx((4 / (784 + 300)) / (2 / 784)) and signed_percent(d.ratios[0]) == "+45 %"
    assert d.through_expected == pytest.approx(1.0) and factor(d.through_found) == "5.1" and d.trend == "explodes"
    assert diagnose(InitSpec("he_uniform"), InitSpec("he_uniform"), shapes) is None


def test_zeros_kernel_is_symmetry_not_a_number(reference_rubric):
    outcome = graded(reference_rubric, "he_normal", lambda i: keras.initializers.Zeros())
    assert "not_variance_scaling" in outcome.mistakes
    assert "la simetría no se rompe" in render(outcome.message, "es")
    assert outcome.evidence["diagnosis"][0]["trend"] == "symmetric"


def test_a_fixed_seed_alone_is_not_wrong(reference_rubric):
    """he_uniform with a distinct seed per layer: right initializer, full points, the code and the note."""
    outcome = graded(reference_rubric, "he_uniform", lambda i: keras.initializers.HeUniform(seed=100 + i))
    assert outcome.status == "pass" and outcome.fraction == 1.0 and outcome.mistakes == ("fixed_seed",)
    spanish = render(outcome.message, "es")
    assert "semilla fija (seed=…) en las capas 1, 2, 3, 4, 5" in spanish and "No es un error" in spanish
    assert outcome.evidence["fixed_seeds"][0]["reused"] == {}


def test_a_seed_reused_across_layers_matters_and_is_measured(reference_rubric):
    """One HeUniform(seed=7) object in every layer: the layers share their random numbers (|r| ≈ 1)."""
    shared = keras.initializers.HeUniform(seed=7)
    outcome = graded(reference_rubric, "he_uniform", lambda i: shared)
    assert outcome.status == "warn" and outcome.fraction == 1.0 and outcome.mistakes == ("fixed_seed",)
    spanish = render(outcome.message, "es")
    assert "seed=7 en las capas 1, 2, 3, 4, 5" in spanish and "sí importa" in spanish
    r = outcome.evidence["fixed_seeds"][0]["correlation"]
    assert r > 0.99 and f"|r| = {r:.2f}" in spanish


def test_separate_seeded_objects_with_one_seed_are_reused_too(reference_rubric):
    outcome = graded(reference_rubric, "he_normal", lambda i: keras.initializers.HeNormal(seed=3))
    assert outcome.status == "warn" and "seed=3 en las capas 1, 2, 3, 4, 5" in render(outcome.message, "es")
    assert outcome.evidence["fixed_seeds"][0]["correlation"] > 0.99


def test_weights_that_contradict_the_declaration_are_diagnosed_from_the_weights(reference_rubric):
    """A model that declares he_normal but whose kernels were drawn by LeCun (set by hand):
    the initial-distribution check names what the weights show."""
    models = {init: honest(reference_rubric, init, 10 * k) for k, init in enumerate(reference_rubric.homework.initializers)}
    lecun = student_model(reference_rubric, lambda i: keras.initializers.LecunNormal(), 300)
    models["he_normal"] = ModelDesc(lecun.input_shape, tuple(
        LayerDesc(layer.kind, layer.units, layer.activation, layer.use_bias, InitSpec("he_normal"), layer.bias_init,
                  kernel=layer.kernel, bias=layer.bias) for layer in lecun.layers))
    outcome = CHECKS["hw_initial_distribution"](ctx(reference_rubric, {"build_model": models}))
    assert outcome.status == "fail" and outcome.mistakes == ("wrong_scale",)
    assert outcome.evidence["he_normal"]["diagnosis"]["found"] == "lecun_normal"


def test_every_diagnosis_code_has_a_row_with_a_fix_in_both_languages(reference_rubric):
    from grader.checks.diagnosis import CODES

    for code in CODES:
        assert reference_rubric.mistake(code, "fix", "es") and reference_rubric.mistake(code, "fix", "en"), code
