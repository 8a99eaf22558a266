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
from grader.messages import Joined, Message, msg, render
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
LABELS = "build_model(kernel_initializer={0!r}), hw_models[{0!r}]"  # the two models a wrong build_model gives


def differs(found: str, parameter: str, expected: str, want, got) -> Message:
    """The clause of a VarianceScaling that differs from `expected` in one parameter."""
    return msg("diagnosis.variance_scaling", found=found,
               parts=Joined([msg(f"diagnosis.differs.{parameter}", expected=expected, want=want, got=got)], "; "))


def effect(expected: str, ratios: str, found_factor: str, trend: str) -> Message:
    """What the wrong variance does through the homework's 5 ReLU layers (with `expected`, the signal keeps ×1)."""
    return msg("diagnosis.effect", expected=expected, layers=5, hidden=4, ratios=ratios, found_factor=found_factor, expected_factor="1",
               trend=msg(f"diagnosis.trend.{trend}"), activation=msg("diagnosis.with_activation", activation="ReLU"))


def line(what: Message, effect: Message) -> Message:
    return msg("diagnosis.line", what=what, effect=effect)


def same_variance(expected: str) -> Message:
    return msg("diagnosis.same_variance", layers=5, expected=expected)


# (case, declared as, Keras initializer the student wrote, code, the diagnosis the message states: clause, numbers, effect)
FORMS = [
    ("He's scale, Glorot's fan", "he_uniform", lambda i: VS(2.0, "fan_avg", "uniform"), "wrong_fan_mode",
     line(differs("variance_scaling(scale=2, mode=fan_avg, distribution=uniform)", "mode", "he_uniform", "fan_in", "fan_avg"),
          effect("he_uniform", "+45 %, +20 %, +33 %, +33 %, +67 %", "5.1", "explodes"))),
    ("glorot_normal for glorot_uniform", "glorot_uniform", lambda i: keras.initializers.GlorotNormal(), "wrong_distribution",
     line(differs("glorot_normal", "distribution", "glorot_uniform", "uniform", "truncated_normal"), same_variance("glorot_uniform"))),
    ("lecun_normal for he_normal", "he_normal", lambda i: keras.initializers.LecunNormal(), "wrong_scale",
     line(differs("lecun_normal", "scale", "he_normal", 2.0, 1.0),
          effect("he_normal", "−50 %, −50 %, −50 %, −50 %, −50 %", "0.031", "vanishes"))),
    ("he_normal for he_uniform", "he_uniform", lambda i: keras.initializers.HeNormal(), "wrong_distribution",
     line(differs("he_normal", "distribution", "he_uniform", "uniform", "truncated_normal"), same_variance("he_uniform"))),
    ("VarianceScaling, wrong scale", "he_uniform", lambda i: VS(3.0, "fan_in", "uniform"), "wrong_scale",
     line(differs("variance_scaling(scale=3, mode=fan_in, distribution=uniform)", "scale", "he_uniform", 2.0, 3.0),
          effect("he_uniform", "+50 %, +50 %, +50 %, +50 %, +50 %", "7.6", "explodes"))),
    ("VarianceScaling, wrong mode", "he_normal", lambda i: VS(2.0, "fan_out", "truncated_normal"), "wrong_fan_mode",
     line(differs("variance_scaling(scale=2, mode=fan_out, distribution=truncated_normal)", "mode", "he_normal", "fan_in", "fan_out"),
          effect("he_normal", "+161 %, +50 %, +100 %, +100 %, +400 %", "78", "explodes"))),
    ("VarianceScaling, untruncated normal", "he_normal", lambda i: VS(2.0, "fan_in", "untruncated_normal"), "wrong_distribution",
     line(differs("variance_scaling(scale=2, mode=fan_in, distribution=untruncated_normal)", "distribution", "he_normal",
                  "truncated_normal", "untruncated_normal"), same_variance("he_normal"))),
    ("RandomUniform(±0.05)", "he_uniform", lambda i: keras.initializers.RandomUniform(-0.05, 0.05), "not_variance_scaling",
     line(msg("diagnosis.fixed_variance", found="random_uniform(-0.05, 0.05)", expected="he_uniform"),
          effect("he_uniform", "−67 %, −88 %, −92 %, −96 %, −98 %", "3.0×10⁻⁶", "vanishes"))),
    ("TruncatedNormal(stddev=0.02)", "he_normal", lambda i: keras.initializers.TruncatedNormal(stddev=0.02),
     "not_variance_scaling",
     line(msg("diagnosis.fixed_variance", found="truncated_normal(mean=0, stddev=0.02)", expected="he_normal"),
          effect("he_normal", "−88 %, −95 %, −97 %, −98 %, −99 %", "2.1×10⁻⁸", "vanishes"))),
    ("Glorot for He (the class's row)", "he_uniform", lambda i: keras.initializers.GlorotUniform(), "glorot_with_relu",
     line(msg("diagnosis.glorot_for_he", expected="he_uniform", found="glorot_uniform"),
          effect("he_uniform", "−28 %, −40 %, −33 %, −33 %, −17 %", "0.16", "vanishes"))),
]


@pytest.mark.parametrize("case, declared_as, make, code, diagnosis", FORMS, ids=[f[0] for f in FORMS])
def test_each_wrong_form_gets_its_code_numbers_and_fix(reference_rubric, case, declared_as, make, code, diagnosis):
    outcome = graded(reference_rubric, declared_as, make)
    assert outcome.status == "fail" and code in outcome.mistakes, (case, outcome.mistakes)
    assert set(outcome.mistakes) <= {code, "fixed_seed"}  # no other code invented for it
    spanish, english = render(outcome.message, "es"), render(outcome.message, "en")
    said = msg("check.hw_declared_initializers.diagnosis", models=LABELS.format(declared_as), diagnosis=diagnosis)
    assert render(said, "es") in spanish, (case, spanish[:600])
    assert render(said, "en") in english, (case, english[:600])
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
    assert render(msg("diagnosis.constant", found="zeros"), "es") in render(outcome.message, "es")
    assert outcome.evidence["diagnosis"][0]["trend"] == "symmetric"


def test_a_fixed_seed_alone_is_not_wrong(reference_rubric):
    """he_uniform with a distinct seed per layer: right initializer, full points, the code and the note."""
    outcome = graded(reference_rubric, "he_uniform", lambda i: keras.initializers.HeUniform(seed=100 + i))
    assert outcome.status == "pass" and outcome.fraction == 1.0 and outcome.mistakes == ("fixed_seed",)
    said = msg("diagnosis.seed_fixed", label=LABELS.format("he_uniform"), layers="1, 2, 3, 4, 5")
    assert render(said, "es") in render(outcome.message, "es")
    assert outcome.evidence["fixed_seeds"][0]["reused"] == {}


def test_a_seed_reused_across_layers_matters_and_is_measured(reference_rubric):
    """One HeUniform(seed=7) object in every layer: the layers share their random numbers (|r| ≈ 1)."""
    shared = keras.initializers.HeUniform(seed=7)
    outcome = graded(reference_rubric, "he_uniform", lambda i: shared)
    assert outcome.status == "warn" and outcome.fraction == 1.0 and outcome.mistakes == ("fixed_seed",)
    r = outcome.evidence["fixed_seeds"][0]["correlation"]
    said = msg("diagnosis.seed_reused", label=LABELS.format("he_uniform"),
               shared=Joined([msg("diagnosis.seed_shared", seed=7, layers="1, 2, 3, 4, 5")], "; "),
               measured=msg("diagnosis.seed_correlation", r=r))
    assert r > 0.99 and render(said, "es") in render(outcome.message, "es")


def test_separate_seeded_objects_with_one_seed_are_reused_too(reference_rubric):
    outcome = graded(reference_rubric, "he_normal", lambda i: keras.initializers.HeNormal(seed=3))
    said = msg("diagnosis.seed_shared", seed=3, layers="1, 2, 3, 4, 5")
    assert outcome.status == "warn" and render(said, "es") in render(outcome.message, "es")
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
