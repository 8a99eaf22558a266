"""Retraining plan: which description is trained for each initializer, the seeds, the exercise
runs' naming (made and read in one place), and a self-check that never trains."""

from __future__ import annotations

import numpy as np

from grader.kinds import RetrainMode, RunKind
from grader.messages import msg, render
from grader.modeldesc import LayerDesc, ModelDesc
from grader.retrain import Retraining, RunResult, plan
from grader.initializers import InitSpec


def model(init: str, units=(300, 200, 100, 50, 10)) -> ModelDesc:
    sizes = [784, *units]
    layers = tuple(LayerDesc("dense", u, "relu" if i < len(units) - 1 else "softmax", True, InitSpec(init), InitSpec("zeros"),
                             kernel=np.zeros((sizes[i], u), np.float32), bias=np.zeros(u, np.float32))
                   for i, u in enumerate(units))
    return ModelDesc((784,), layers)


def test_trained_models_first_then_build_model_then_reference(reference_rubric):
    values = {"hw_models": {"glorot_uniform": model("glorot_uniform")},
              "build_model": {"glorot_uniform": model("he_normal"), "he_uniform": model("he_uniform"), "he_normal": "falló"}}
    descs, source = plan.choose_runs(values, reference_rubric)
    assert source == {"glorot_uniform": plan.SOURCE_HW_MODELS, "he_uniform": plan.SOURCE_BUILD_MODEL, "he_normal": plan.SOURCE_REFERENCE}
    assert descs["glorot_uniform"]["layers"][0]["kernel_init"]["name"] == "glorot_uniform"
    assert descs["he_normal"] == plan.reference_model(reference_rubric, "he_normal")
    reference = descs["he_normal"]
    # the starter's form (Input((28, 28)), Flatten, the Dense layers): the grader's run of it is
    # the student's fit, which the training memo then serves by its exact key
    assert reference["input_shape"] == [28, 28] and reference["layers"][0] == {"kind": "flatten"}
    assert [layer["units"] for layer in reference["layers"][1:]] == [300, 200, 100, 50, 10]


def test_seed_list_puts_the_protocol_seed_first(reference_rubric):
    assert plan.seed_list(reference_rubric, 0) == [42]
    assert plan.seed_list(reference_rubric, 4) == [42, 1, 2, 3, 4]
    assert len(plan.seed_list(reference_rubric, 50)) == 51 and len(set(plan.seed_list(reference_rubric, 50))) == 51


def test_exercise_runs_are_labelled_and_grouped_in_one_place(reference_rubric):
    specs = plan.exercise_specs(reference_rubric, {})
    labels = [spec.label for spec in specs]
    assert labels == ["ex2:glorot_uniform", "ex2:he_normal", "ex2:random_normal", "ex4:he_normal_tanh",
                      "ex4:glorot_uniform_tanh", "ex5:repro"]
    assert specs[-1].kind == RunKind.REPRO and all(spec.kind == RunKind.TRAIN for spec in specs[:-1])
    assert [plan.split_label(label) for label in ("ex2:he_normal", "he_normal")] == [("ex2", "he_normal"), None]
    ex2 = specs[2].model
    assert [layer["units"] for layer in ex2["layers"][1:]] == list(reference_rubric.exercises.ex2.units)
    assert ex2["layers"][1]["kernel_init"] == {"name": "random_normal", "params": {"mean": 0.0, "stddev": 0.01}}
    run = RunResult("ex2:he_normal", 42, {"val_loss": [1.0]}, [], [], 1.0)
    retraining = Retraining({}, {}, {}, exercises={"ex2": {"he_normal": run}})
    saved = plan.retraining_json(retraining, reference_rubric)
    assert list(saved["exercises"]) == ["ex2:he_normal"] and retraining.exercise("ex4") == {}


def test_self_check_never_trains(reference_rubric, subset, tmp_path):
    retraining = plan.retrain({}, reference_rubric.with_protocol(epochs=1), subset, cache_dir=tmp_path,
                              mode=RetrainMode.CACHE_ONLY)
    assert retraining.main == {} and retraining.source["he_normal"] == plan.SOURCE_REFERENCE
    counted = retraining.error.params["why"].params  # how many of the grader's runs are missing: the plan's count
    assert 0 < counted["missing"] <= counted["total"]
    said = msg("retrain.self_check_not_cached", why=msg("retrain.not_cached", missing=counted["missing"], total=counted["total"]))
    for lang in ("es", "en"):  # not cached, and how to get it verified (grade check --retrain)
        assert render(retraining.error, lang) == render(said, lang)
    off = plan.retrain({}, reference_rubric, subset, cache_dir=None, mode=RetrainMode.OFF)
    assert render(off.error, "en") == render(msg("retrain.off"), "en")
