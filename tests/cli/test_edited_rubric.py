"""A teacher who edits the rubric (units [256, 128, 10], 3 epochs) gets checks, messages and a
retraining that follow the edit: no class fact is read from anywhere but the rubric.
Real sandbox, real kernel, real TF, the Fashion-MNIST subset."""

from __future__ import annotations

import json
import shutil

import pytest

from grader import rubric as rubric_module
from grader.messages import msg, render
from grader.pipeline import Options, grade, load_rubric

from ..helpers import notebook

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SMALL_MLP = '''
import numpy as np, keras
(x, y), _ = keras.datasets.fashion_mnist.load_data()
x = x.astype("float32") / 255.0
x_valid, y_valid, x_train, y_train = x[:5000], y[:5000], x[5000:], y[5000:]
INITS = ["glorot_uniform", "he_uniform", "he_normal"]

def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for units in [256, 128]:
        model.add(keras.layers.Dense(units, activation=activation, kernel_initializer=kernel_initializer))
    model.add(keras.layers.Dense(10, activation="softmax", kernel_initializer=kernel_initializer))
    return model

norms = lambda m: [float(np.linalg.norm(l.kernel.numpy())) for l in m.layers if isinstance(l, keras.layers.Dense)]
hw_histories, hw_models, hw_val_accuracy, hw_kernel_norms_before, hw_kernel_norms_after = {}, {}, {}, {}, {}
for init in INITS:
    keras.utils.set_random_seed(42)
    model = build_model(init)
    hw_kernel_norms_before[init] = norms(model)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, validation_data=(x_valid, y_valid), epochs=3, batch_size=32, verbose=0)
    hw_histories[init], hw_models[init] = history.history, model
    hw_val_accuracy[init] = history.history["val_accuracy"][-1]
    hw_kernel_norms_after[init] = norms(model)
'''


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    folder = tmp_path_factory.mktemp("teacher")
    shutil.copytree(rubric_module.reference_dir(), folder / "ref")
    raw = json.loads((folder / "ref" / "rubric.json").read_text())
    raw["homework"]["units"] = [256, 128, 10]
    raw["protocol"]["epochs"] = 3
    (folder / "ref" / "rubric.json").write_text(json.dumps(raw))
    return load_rubric(folder / "ref" / "rubric.json")


def test_edited_rubric_grades_consistently(edited, subset, cache_dir, tmp_path):
    path = notebook(tmp_path / "tina.ipynb", SMALL_MLP)
    result = grade(path, edited, Options(out=tmp_path / "out", data_dir=str(subset.folder), cache_dir=cache_dir, quiet=True))
    saved = json.loads((tmp_path / "out" / "tina" / "result.json").read_text())
    checks = {c["id"]: c for c in saved["checks"]}
    for passing in ("hw_architecture", "hw_declared_initializers", "hw_initial_distribution", "hw_biases_zero",
                    "hw_histories", "hw_kernel_norms", "hw_retrain_reproduces"):
        assert checks[passing]["status"] == "pass", (passing, checks[passing]["message"])
    assert "[256, 128, 10]" in checks["hw_architecture"]["title"] and "[256, 128, 10]" in checks["hw_architecture"]["message"]
    coherent = {render(msg(f"check.hw_histories.{key}", epochs=3, tol=edited.tolerances.val_accuracy_pp), "es")
                for key in ("pass", "pass_claim", "pass_retrained")}  # 3 epochs per initializer, whatever it is compared with
    assert checks["hw_histories"]["message"] in coherent
    assert saved["retraining"]["protocol"]["epochs"] == 3
    assert all(len(run["history"]["val_accuracy"]) == 3 for run in saved["retraining"]["runs"].values())
    assert [len(run["kernel_norms_after"]) for run in saved["retraining"]["runs"].values()] == [3, 3, 3]
    assert result.status == "graded"


def test_reference_rubric_rejects_the_same_model(reference_rubric, subset, cache_dir, tmp_path):
    """The other side of consistency: under the class's own rubric that model is the wrong architecture."""
    path = notebook(tmp_path / "tina.ipynb", SMALL_MLP.replace("epochs=3", "epochs=1"))
    result = grade(path, reference_rubric.with_protocol(epochs=1),
                   Options(out=tmp_path / "out", data_dir=str(subset.folder), cache_dir=cache_dir, quiet=True))
    architecture = next(c for c in result.checks if c.id == "hw_architecture")
    assert architecture.status == "fail"
    assert "[256, 128, 10]" in architecture.to_json("es")["message"] and "[300, 200, 100, 50, 10]" in architecture.to_json("es")["expected"]
    histories = next(c for c in result.checks if c.id == "hw_histories")
    assert histories.status == "pass"  # 1 epoch asked (--epochs 1), 1 epoch trained
