"""The homework's static checks (grader/checks/homework.py) on real Keras-drawn kernels in real
ModelDescs, including bob's classic mistakes (goldens) and an edited rubric."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from grader.checks import CHECKS, homework
from grader.messages import Joined, msg, render

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
    collapse = msg("collapse.message", names="'glorot_uniform', 'he_uniform', 'he_normal'", accuracy="",
                   identical=msg("collapse.what.declared"),  # one seed per model: only the declarations are the same
                   cause=msg("collapse.cause.initializer_argument_ignored", declared="glorot_uniform"))
    assert spanish.startswith(render(collapse, "es") + " ")  # the collapse first, its cause and the line to change
    assert spanish.endswith(render(golden["found"], "es")) and render(declared.found, "es") == golden["found"]
    assert declared.mistakes == ("bias_not_zeros", "initializer_argument_ignored") and declared.fraction == 0.0
    assert [render(w, "es") for w in declared.evidence["wrong"]] == golden["evidence"]["wrong"]
    english = render(declared.message, "en")
    eighth = msg("check.hw_declared_initializers.kernel", label="build_model(kernel_initializer='he_uniform')", position=2,
                 init="glorot_uniform")
    assert english.endswith(render(msg("check.common.truncated", items=eighth, more=42), "en")) and "capa" not in english
    distribution = CHECKS["hw_initial_distribution"](ctx(reference_rubric, values))
    golden = bob("hw_initial_distribution")
    assert render(distribution.message, "es") == golden["message"]
    assert distribution.mistakes == ("initializer_argument_ignored",)  # not "Glorot with ReLU": bob asked for He
    assert distribution.fraction == pytest.approx(1 / 3)
    biases = CHECKS["hw_biases_zero"](ctx(reference_rubric, values))
    assert biases.mistakes == ("bias_not_zeros",) and len(biases.evidence["nonzero"]) == 15
    nonzero = [msg("check.hw_biases_zero.layer", init=init, position=position, value=float(np.abs(layer.bias).max()))
               for init, desc in glorot.items() for position, layer in enumerate(desc.dense, 1)]
    assert render(biases.message, "es") == render(msg("check.hw_biases_zero.fail", nonzero=Joined(nonzero[:6], "; ")), "es")
    assert render(biases.evidence["nonzero"][0], "en") == render(nonzero[0], "en")


def test_random_normal_small_declared(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "hw_declared_initializers" and c.name == "random normal")
    outcome = CHECKS["hw_declared_initializers"](case.context)
    assert outcome.mistakes == ("random_normal_small",) and outcome.fraction == 0.0


def test_architecture_reports_each_problem_in_each_language(reference_rubric):
    wrong = {init: model(reference_rubric, init, units=[64, 10], hidden="tanh", input_size=100) for init in reference_rubric.homework.initializers}
    outcome = CHECKS["hw_architecture"](ctx(reference_rubric, {"build_model": wrong}))
    label = "build_model(kernel_initializer='glorot_uniform')"
    first = [msg("check.hw_architecture.units", label=label, units=[64, 10]),
             msg("check.hw_architecture.activations", label=label, activations=["tanh", "softmax"]),
             msg("check.hw_architecture.input", label=label, shape=(100,))]
    for lang in ("es", "en"):
        assert [render(p, lang) for p in outcome.evidence["problems"]][:3] == [render(p, lang) for p in first]
    assert len(outcome.evidence["problems"]) == 9
    shown = Joined(outcome.evidence["problems"][:6], "; ")
    assert render(outcome.message, "es") == render(msg("check.hw_architecture.fail", problems=shown), "es")
    expected = msg("check.hw_architecture.expected", units=[300, 200, 100, 50, 10], hidden="relu", output="softmax")
    assert render(outcome.expected, "es") == render(expected, "es")


def test_a_failed_probe_shows_its_first_line(reference_rubric):
    probes_ = {"he_normal": "build_model(kernel_initializer='he_normal') falló: ValueError: x\nTraceback (most recent call last): …"}
    outcome = CHECKS["hw_architecture"](ctx(reference_rubric, {"build_model": probes_}))
    assert outcome.status == "fail"
    broken = msg("check.hw_architecture.broken", label="build_model(kernel_initializer='he_normal')",
                 error=probes_["he_normal"].splitlines()[0])  # the first line, not the traceback
    assert render(outcome.message, "es") == render(msg("check.hw_architecture.fail", problems=Joined([broken], "; ")), "es")
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
    expected = msg("check.hw_architecture.expected", units=[256, 128, 10], hidden="relu", output="softmax")
    for lang in ("es", "en"):
        assert render(passed.message, lang) == render(msg("check.hw_architecture.pass", checked=3, expected=expected), lang)
    old = CHECKS["hw_architecture"](ctx(edited, {"build_model": probes(reference_rubric)}))
    assert old.status == "fail"
    assert render(old.expected, "es") == render(expected, "es") and render(old.expected, "en") == render(expected, "en")
    units = msg("check.hw_architecture.units", label="build_model(kernel_initializer='glorot_uniform')", units=[300, 200, 100, 50, 10])
    assert render(units, "es") in render(old.message, "es")
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
    assert epochs == 20  # the case's curve: 0.50, 0.51, … 0.69
    problems = [msg("check.hw_histories.epochs", init=hw.baseline, found=3, epochs=epochs),
                msg("check.hw_histories.last_epoch", init=hw.baseline, reported=0.69, last=0.52),
                msg("check.hw_histories.no_val_accuracy", init=hw.he_initializers[0]),
                msg("check.hw_histories.last_epoch", init=hw.he_initializers[-1], reported=0.2, last=0.69)]
    assert [render(p, "es") for p in outcome.evidence["problems"]] == [render(p, "es") for p in problems]
    assert render(outcome.message, "es") == render(msg("check.hw_histories.fail", problems=Joined(problems, "; ")), "es")
    assert render(outcome.evidence["problems"][0], "en") == render(problems[0], "en")
    passing = next(c for c in cached_cases(reference_rubric) if c.check == "hw_histories" and c.name == "percent")
    passed = CHECKS["hw_histories"](passing.context)
    assert render(passed.message, "es") == render(msg("check.hw_histories.pass_claim", epochs=epochs), "es")
    assert passed.evidence["basis"] == "student_claim"  # no retraining in this case: the verdict rests on the claim


def test_reset_weights_when_before_equals_after(reference_rubric):
    trained = {init: model(reference_rubric, init, seed=5) for init in reference_rubric.homework.initializers}
    same = norms(trained)
    outcome = CHECKS["hw_kernel_norms"](ctx(reference_rubric, {"hw_kernel_norms_before": same, "hw_kernel_norms_after": same, "hw_models": trained}))
    assert outcome.status == "fail" and outcome.mistakes == ("reset_weights",)
    identical = Joined([msg("check.hw_kernel_norms.identical", init=init) for init in HE], "; ")
    assert render(outcome.message, "es") == render(msg("check.hw_kernel_norms.fail", problems=identical), "es")
    assert "normas" not in render(outcome.message, "en")


def test_glorot_like_initial_norms_are_glorot_with_relu(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "hw_kernel_norms" and c.name == "glorot before")
    outcome = CHECKS["hw_kernel_norms"](case.context)
    assert outcome.mistakes == ("glorot_with_relu",)
    hole = "\0"  # the layers that are off: which ones depends on the draw, not on the wording
    far = [re.escape(render(msg("check.hw_kernel_norms.far", init=init, layers=hole, expected=[24.49, 20.0, 14.14, 10.0, 4.47],
                                like=msg("check.hw_kernel_norms.like_glorot")), "es")).replace(hole, r"\[[0-9, ]+\]") for init in HE]
    assert re.fullmatch(re.escape("; ").join(far), render(outcome.message, "es"))
    assert render(msg("check.hw_kernel_norms.like_glorot"), "en") in render(outcome.message, "en")


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
        assert render(alone.evidence["basis_note"], "en") == render(msg("check.common.claim_only"), "en")
    gaps = [abs(0.9 - c) * 100 for c in curve]
    off = [msg("check.hw_histories.not_retrained", init=init, mean=sum(gaps) / epochs, last=gaps[-1], tol=2.0) for init in hw.initializers]
    message = render(CHECKS["hw_histories"](ctx(reference_rubric, forged, grader)).message, "en")
    assert message == render(msg("check.hw_histories.fail", problems=Joined(off, "; ")), "en")
    tol = reference_rubric.tolerances.initial_norm_relative * 100
    unlike = [msg("check.hw_kernel_norms.not_retrained_after", init=init, found=np.round(norms(scaled)[init], 3).tolist(),
                  grader=np.round(after[init], 3).tolist(), tol=tol) for init in HE]
    message = render(CHECKS["hw_kernel_norms"](ctx(reference_rubric, forged, grader)).message, "en")
    assert message == render(msg("check.hw_kernel_norms.fail", problems=Joined(unlike, "; ")), "en")
