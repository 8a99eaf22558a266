"""The homework's static checks (grader/checks/homework.py) on real Keras-drawn kernels in real
ModelDescs, including bob's classic mistakes (goldens) and an edited rubric."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from grader.checks import CHECKS, homework
from grader.messages import render

from .checks_support import HE, assert_cases, cached_cases, ctx, model, norms, probes
from ..golden import GOLDENS


def bob(check_id: str) -> dict:
    return next(c for c in json.loads((GOLDENS / "bob.json").read_text())["checks"] if c["id"] == check_id)


@pytest.mark.parametrize("check_id", homework.__all__)
def test_each_case_gets_its_status(check_id, reference_rubric):
    assert_cases(check_id, reference_rubric)


def test_bobs_glorot_everywhere_names_the_collapse_first(reference_rubric):
    """build_model ignores its argument and draws biases like kernels (bob): the collapse comes
    first, with its cause and the line to change; the wrong layers and the points are as before."""
    glorot = {init: model(reference_rubric, "glorot_uniform", declared="glorot_uniform", bias="glorot_uniform", seed=10 * k)
              for k, init in enumerate(reference_rubric.homework.initializers)}
    values = {"build_model": glorot, "hw_models": glorot}
    declared = CHECKS["hw_declared_initializers"](ctx(reference_rubric, values))
    golden = bob("hw_declared_initializers")
    spanish = render(declared.message, "es")
    assert spanish.startswith("Sus modelos 'glorot_uniform', 'he_uniform', 'he_normal' son un mismo modelo")
    assert "Causa: build_model no pasa su argumento kernel_initializer a las capas: declara glorot_uniform" in spanish
    assert "Solución: Dense(..., kernel_initializer=kernel_initializer) en cada capa." in spanish
    assert spanish.endswith(render(golden["found"], "es")) and render(declared.found, "es") == golden["found"]
    assert declared.mistakes == ("bias_not_zeros", "initializer_argument_ignored") and declared.fraction == 0.0
    assert [render(w, "es") for w in declared.evidence["wrong"]] == golden["evidence"]["wrong"]
    english = render(declared.message, "en")
    assert english.endswith("layer 2: glorot_uniform (and 42 more)") and "capa" not in english
    distribution = CHECKS["hw_initial_distribution"](ctx(reference_rubric, values))
    golden = bob("hw_initial_distribution")
    assert render(distribution.message, "es") == golden["message"]
    assert distribution.mistakes == ("initializer_argument_ignored",)  # not "Glorot with ReLU": bob asked for He
    assert distribution.fraction == pytest.approx(1 / 3)
    biases = CHECKS["hw_biases_zero"](ctx(reference_rubric, values))
    assert biases.mistakes == ("bias_not_zeros",) and len(biases.evidence["nonzero"]) == 15
    assert re.fullmatch(r"Bias iniciales distintos de cero: (build_model\('\w+'\) capa \d: \|b\| máx = [0-9.]+; ){5}"
                        r"build_model\('\w+'\) capa \d: \|b\| máx = [0-9.]+", render(biases.message, "es"))
    assert render(biases.evidence["nonzero"][0], "en").startswith("build_model('glorot_uniform') layer 1: max |b| = ")


def test_random_normal_small_declared(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "hw_declared_initializers" and c.name == "random normal")
    outcome = CHECKS["hw_declared_initializers"](case.context)
    assert outcome.mistakes == ("random_normal_small",) and outcome.fraction == 0.0


def test_architecture_reports_each_problem_in_each_language(reference_rubric):
    wrong = {init: model(reference_rubric, init, units=[64, 10], hidden="tanh", input_size=100) for init in reference_rubric.homework.initializers}
    outcome = CHECKS["hw_architecture"](ctx(reference_rubric, {"build_model": wrong}))
    problems_es = [render(p, "es") for p in outcome.evidence["problems"]]
    assert problems_es[:3] == ["build_model(kernel_initializer='glorot_uniform'): capas Dense [64, 10]",
                               "build_model(kernel_initializer='glorot_uniform'): activaciones ['tanh', 'softmax']",
                               "build_model(kernel_initializer='glorot_uniform'): entrada (100,)"]
    assert [render(p, "en") for p in outcome.evidence["problems"]][:3] == [
        "build_model(kernel_initializer='glorot_uniform'): Dense layers [64, 10]",
        "build_model(kernel_initializer='glorot_uniform'): activations ['tanh', 'softmax']",
        "build_model(kernel_initializer='glorot_uniform'): input (100,)"]
    assert len(outcome.evidence["problems"]) == 9
    assert render(outcome.message, "es") == "Arquitectura distinta de la pedida: " + "; ".join(problems_es[:6])
    assert render(outcome.expected, "es") == "Dense [300, 200, 100, 50, 10], relu + softmax"


def test_a_failed_probe_shows_its_first_line(reference_rubric):
    probes_ = {"he_normal": "build_model(kernel_initializer='he_normal') falló: ValueError: x\nTraceback (most recent call last): …"}
    outcome = CHECKS["hw_architecture"](ctx(reference_rubric, {"build_model": probes_}))
    assert outcome.status == "fail"
    assert render(outcome.message, "es") == ("Arquitectura distinta de la pedida: build_model(kernel_initializer='he_normal'): "
                                             "build_model(kernel_initializer='he_normal') falló: ValueError: x")
    assert CHECKS["hw_declared_initializers"](ctx(reference_rubric, {"build_model": probes_})).status == "fail"


def test_architecture_follows_an_edited_rubric(reference_rubric):
    """A teacher who changes homework.units to (256, 128, 10): a matching model passes, the [300, …] one fails,
    and the messages quote [256, 128, 10]."""
    edited = replace(reference_rubric, homework=replace(reference_rubric.homework, units=(256, 128, 10)))
    assert edited.homework.kernel_shapes[0] == (edited.homework.input_size, 256)
    matching = probes(edited)
    assert [l.units for l in matching["he_normal"].dense] == [256, 128, 10]
    passed = CHECKS["hw_architecture"](ctx(edited, {"build_model": matching}))
    assert passed.status == "pass"
    assert render(passed.message, "es") == "3 modelos tienen Dense [256, 128, 10], relu + softmax."
    assert render(passed.message, "en") == "3 models have Dense [256, 128, 10], relu + softmax."
    old = CHECKS["hw_architecture"](ctx(edited, {"build_model": probes(reference_rubric)}))
    assert old.status == "fail"
    assert render(old.expected, "es") == "Dense [256, 128, 10], relu + softmax" and "[256, 128, 10]" in render(old.expected, "en")
    assert "capas Dense [300, 200, 100, 50, 10]" in render(old.message, "es")
    # the kernel norms use the edited shapes when no trained model is given
    before = norms({init: model(edited, init, seed=99) for init in HE})
    after = norms({init: model(edited, init, seed=7) for init in HE})
    outcome = CHECKS["hw_kernel_norms"](ctx(edited, {"hw_kernel_norms_before": before, "hw_kernel_norms_after": after}))
    assert outcome.status == "pass" and len(outcome.evidence["he_normal"]["before_expected"]) == 3
    assert CHECKS["hw_kernel_norms"](ctx(reference_rubric, {"hw_kernel_norms_before": before, "hw_kernel_norms_after": after})).status == "fail"


def test_histories_accept_percent_or_fraction_and_name_each_problem(reference_rubric):
    hw, epochs = reference_rubric.homework, reference_rubric.protocol.epochs
    case = next(c for c in cached_cases(reference_rubric) if c.check == "hw_histories" and c.name == "short and wrong")
    outcome = CHECKS["hw_histories"](case.context)
    problems = [render(p, "es") for p in outcome.evidence["problems"]]
    assert problems == [f"{hw.baseline}: 3 épocas (el protocolo pide {epochs})", f"{hw.baseline}: hw_val_accuracy = 0.6900 pero la última época dio 0.5200",
                        f"{hw.he_initializers[0]}: el historial no tiene val_accuracy (¿falta validation_data?)",
                        f"{hw.he_initializers[-1]}: hw_val_accuracy = 0.2000 pero la última época dio 0.6900"]
    assert render(outcome.message, "es") == "; ".join(problems)
    assert render(outcome.evidence["problems"][0], "en") == f"{hw.baseline}: 3 epochs (the protocol asks for {epochs})"
    passing = next(c for c in cached_cases(reference_rubric) if c.check == "hw_histories" and c.name == "percent")
    passed = CHECKS["hw_histories"](passing.context)
    assert render(passed.message, "es") == f"{epochs} épocas por inicializador; val_accuracy reportada = última época. " \
        "Solo es coherente consigo mismo: el corrector no tuvo un entrenamiento propio con el que compararlo."
    assert passed.evidence["basis"] == "student_claim"  # no retraining in this case: the verdict rests on the claim


def test_reset_weights_when_before_equals_after(reference_rubric):
    trained = {init: model(reference_rubric, init, seed=5) for init in reference_rubric.homework.initializers}
    same = norms(trained)
    outcome = CHECKS["hw_kernel_norms"](ctx(reference_rubric, {"hw_kernel_norms_before": same, "hw_kernel_norms_after": same, "hw_models": trained}))
    assert outcome.status == "fail" and outcome.mistakes == ("reset_weights",)
    assert render(outcome.message, "es") == ("he_uniform: las normas 'antes' son idénticas a las 'después'; "
                                             "he_normal: las normas 'antes' son idénticas a las 'después'")
    assert "normas" not in render(outcome.message, "en")


def test_glorot_like_initial_norms_are_glorot_with_relu(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "hw_kernel_norms" and c.name == "glorot before")
    outcome = CHECKS["hw_kernel_norms"](case.context)
    assert outcome.mistakes == ("glorot_with_relu",)
    assert re.fullmatch(r"he_uniform: normas iniciales de las capas \[[0-9, ]+\] lejos de √\(n·Var\) = \[24\.49, 20\.0, 14\.14, 10\.0, 4\.47\] "
                        r"\(coinciden con glorot_uniform\); he_normal: .* \(coinciden con glorot_uniform\)", render(outcome.message, "es"))
    assert "(they match glorot_uniform)" in render(outcome.message, "en")


def test_invented_histories_and_rescaled_norms_are_not_the_grader_s(reference_rubric):
    """A notebook that trained nothing and reports coherent invented curves and ×1.5 norms keeps
    them coherent with itself; compared with the grader's own training of the same models, the
    histories and norms checks give nothing for them, and a check without that training says it
    rests on the claim."""
    from .checks_support import Retraining, run
    hw, epochs = reference_rubric.homework, reference_rubric.protocol.epochs
    trained = {init: model(reference_rubric, init, seed=7) for init in hw.initializers}
    before = norms({init: model(reference_rubric, init, seed=99) for init in HE})
    after = norms(trained)
    curve = [0.5 + 0.01 * i for i in range(epochs)]
    grader = Retraining({init: run(init, history={"val_accuracy": curve, "val_loss": [1.0] * epochs},
                                   before=before.get(init, [1.0] * 5), after=after.get(init, [2.0] * 5))
                         for init in hw.initializers}, {}, {init: "hw_models" for init in hw.initializers})
    honest = {"hw_histories": {i: {"val_accuracy": curve} for i in hw.initializers}, "hw_val_accuracy": {i: curve[-1] for i in hw.initializers},
              "hw_kernel_norms_before": before, "hw_kernel_norms_after": after, "hw_models": trained}
    invented = [0.9] * epochs
    scaled = {init: replace(desc, layers=tuple(replace(layer, kernel=layer.kernel * 1.5) if layer.kernel is not None else layer
                                           for layer in desc.layers)) for init, desc in trained.items()}
    forged = {"hw_histories": {i: {"val_accuracy": invented} for i in hw.initializers}, "hw_val_accuracy": {i: 0.9 for i in hw.initializers},
              "hw_kernel_norms_before": before, "hw_kernel_norms_after": norms(scaled), "hw_models": scaled}
    for check_id in ("hw_histories", "hw_kernel_norms"):
        good = CHECKS[check_id](ctx(reference_rubric, honest, grader))
        bad = CHECKS[check_id](ctx(reference_rubric, forged, grader))
        alone = CHECKS[check_id](ctx(reference_rubric, forged))
        assert good.status == "pass" and good.evidence["basis"] == "retrained", (check_id, render(good.message, "en"))
        assert bad.fraction == 0.0 and bad.status != "pass", (check_id, render(bad.message, "en"))
        assert alone.status == "pass" and alone.evidence["basis"] == "student_claim"  # coherent with itself, and it says so
        assert "Rests only on what the notebook says" in render(alone.evidence["basis_note"], "en")
    message = render(CHECKS["hw_histories"](ctx(reference_rubric, forged, grader)).message, "en")
    assert "departs from the grader's" in message and "tolerance 2 pp" in message
    assert "trained by the grader ends at" in render(CHECKS["hw_kernel_norms"](ctx(reference_rubric, forged, grader)).message, "en")
