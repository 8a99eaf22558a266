"""The harvest in-process on real objects (numbers, arrays, a real Keras model, build_model,
NaN, a lying object, a huge array), then extract() reading what it wrote."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from grader.execute import Execution, harvest
from grader.execute.artifacts import ARTIFACT_NAME
from grader.extract import extract
from grader.messages import msg, render
from grader.modeldesc import ModelDesc
from grader.rubric import reference_dir
from grader.sandbox import SandboxReport

from ..spanish import untranslated

keras = pytest.importorskip("keras")

CONTRACT_PATH = reference_dir() / "contract.json"
CONTRACT = json.loads(CONTRACT_PATH.read_text())
REPORT = SandboxReport("none", os.geteuid(), True, "none", "none", "none")
INITS = ("glorot_uniform", "he_uniform", "he_normal")


class LyingFloat:
    """Claims to equal everything and converts to a plausible number: must not pass as one."""

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__

    def __float__(self):
        return 0.0811


class ExplodingDict(dict):
    def items(self):
        raise RuntimeError("items() exploded")


def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(8, activation=activation, kernel_initializer=kernel_initializer),
                             keras.layers.Dense(10, activation="softmax", kernel_initializer=kernel_initializer)])


@pytest.fixture(scope="module")
def harvested(tmp_path_factory):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128)])
    kernel = model.layers[0].kernel.numpy()
    x, y = np.random.default_rng(0).random((64, 784), dtype=np.float32), np.arange(64) % 10
    histories, nets = {}, {}
    for init in INITS:
        nets[init] = net = build_model(init)
        net.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        histories[init] = net.fit(x, y, validation_data=(x, y), epochs=2, verbose=0)
    namespace = {
        "ex1_kernel": kernel,
        "ex1_model": model,
        "ex1_var_empirical": np.float32(kernel.var()),
        "ex1_var_theory": float("nan"),
        "ex1_limit": LyingFloat(),
        "ex1_conv_limit": np.zeros(harvest.MAX_ARRAY + 1, dtype=np.uint8),
        "build_model": build_model,
        "hw_val_accuracy": {init: np.float64(h.history["val_accuracy"][-1]) for init, h in histories.items()},
        "hw_histories": histories,
        "hw_models": nets,
        "hw_kernel_norms_before": {"he_uniform": [1.0, 2.0], "he_normal": np.array([3.0, 4.0])},
        "hw_kernel_norms_after": {"he_uniform": [1.0, float("inf")], "he_normal": [1.0]},
        "ex3_model": ExplodingDict(a=1),
        "ex3_activation_variances": keras.ops.convert_to_tensor([0.5, 0.25, 0.125]),
        "ex4_histories": {"he_normal_tanh": {"loss": [1.0]}},
        "ex5_same_seed_identical": np.bool_(True),
        "ex5_no_seed_differs": "yes",
        "not_in_contract": np.ones(10),
    }
    out = tmp_path_factory.mktemp("harvest") / "out"
    harvest.harvest(namespace, str(out), str(CONTRACT_PATH))
    return out, namespace


def test_manifest_describes_each_contract_name(harvested):
    out, namespace = harvested
    manifest = json.loads((out / "manifest.json").read_text())
    values, errors = manifest["values"], manifest["errors"]
    assert manifest["harvest"] == 1 and manifest["module"] is None
    assert set(values) | set(errors) == set(CONTRACT["names"]) - {"ex2_histories", "ex1_layer"}  # never defined
    assert "not_in_contract" not in values
    assert values["ex1_var_theory"] == {"t": "number", "v": "nan"}
    assert values["ex1_limit"] == {"t": "unsupported", "type": "LyingFloat"}
    assert values["ex1_conv_limit"]["t"] == "unsupported" and str(harvest.MAX_ARRAY + 1) in values["ex1_conv_limit"]["type"]
    assert values["ex1_kernel"]["t"] == "array" and values["ex1_kernel"]["shape"] == [784, 128]
    assert values["ex5_same_seed_identical"] == {"t": "bool", "v": True}
    assert values["ex5_no_seed_differs"] == {"t": "str", "v": "yes"}
    assert values["hw_histories"]["v"]["he_normal"]["t"] == "history"
    assert set(values["build_model"]["probe"]["v"]) == set(INITS)
    # a dict subclass is not a dict: exact types only, its lying items() is never called
    assert values["ex3_model"] == {"t": "unsupported", "type": "ExplodingDict"} and "ex3_model" not in errors
    # every file it wrote has a name the grader will copy, and every file named in the manifest exists
    written = sorted(os.listdir(out))
    assert all(ARTIFACT_NAME.match(name) for name in written)
    referenced = set(_files(values))
    for name in [n for n in referenced if n.endswith("model.json")]:  # a model's weights are named in its own file
        referenced |= set(_files(json.loads((out / name).read_text())))
    assert referenced == set(written) - {"manifest.json"}
    kernel = np.load(out / values["ex1_kernel"]["file"], allow_pickle=False)
    assert np.array_equal(kernel, namespace["ex1_kernel"])
    model_json = json.loads((out / values["ex1_model"]["file"]).read_text())
    assert model_json["input_shape"] == [None, 784] and [l["class"] for l in model_json["layers"]] == ["Dense"]


def _files(entry):
    if isinstance(entry, dict):
        if isinstance(entry.get("file"), str):
            yield entry["file"]
        for value in entry.values():
            yield from _files(value)
    elif isinstance(entry, list):
        for value in entry:
            yield from _files(value)


def test_model_files_reference_their_weights(harvested):
    out, _ = harvested
    values = json.loads((out / "manifest.json").read_text())["values"]
    model_json = json.loads((out / values["ex1_model"]["file"]).read_text())
    weights = model_json["layers"][0]["weights"]
    assert [w["shape"] for w in weights] == [[784, 128], [128]]
    assert all((out / w["file"]).is_file() for w in weights)


def test_extract_reads_the_harvest(harvested):
    out, namespace = harvested
    extracted = extract(Execution("completed", (), out, REPORT, 0.0), CONTRACT)
    values, problems = extracted.values, render(extracted.problems, "es")
    assert np.array_equal(values["ex1_kernel"], namespace["ex1_kernel"])
    assert isinstance(values["ex1_model"], ModelDesc) and np.array_equal(values["ex1_model"].kernels[0], namespace["ex1_kernel"])
    assert values["ex1_var_empirical"] == pytest.approx(float(namespace["ex1_kernel"].var()), rel=1e-6)
    assert problems["ex1_var_theory"] == render(msg("extract.not_finite", where="ex1_var_theory", value=math.nan), "es")
    unsupported = lambda name, type: msg("extract.want_number", where=name, kind=msg("extract.kind.unsupported_type", type=type))
    assert problems["ex1_limit"] == render(unsupported("ex1_limit", "LyingFloat"), "es")
    # the array's size follows: the sentence up to it
    assert problems["ex1_conv_limit"].startswith(render(unsupported("ex1_conv_limit", "ndarray[uint8] size…"), "es").split("…")[0])
    probes = values["build_model"]
    assert set(probes) == set(INITS) and all(isinstance(d, ModelDesc) for d in probes.values())
    assert [layer.units for layer in probes["he_normal"].dense] == [8, 10]
    assert {init: d.dense[0].kernel_init.name for init, d in probes.items()} == {init: init for init in INITS}
    assert not np.array_equal(probes["glorot_uniform"].kernels[0], probes["he_uniform"].kernels[0])
    assert values["hw_val_accuracy"] == {init: pytest.approx(float(namespace["hw_val_accuracy"][init])) for init in INITS}
    for init in INITS:
        assert values["hw_histories"][init]["val_accuracy"] == pytest.approx(namespace["hw_histories"][init].history["val_accuracy"])
        assert len(values["hw_histories"][init]["loss"]) == 2
    for init in INITS:  # trained weights, as the student's objects hold them after fit
        assert np.array_equal(values["hw_models"][init].kernels[1], namespace["hw_models"][init].layers[1].kernel.numpy())
    assert values["hw_kernel_norms_before"] == {"he_uniform": [1.0, 2.0], "he_normal": [3.0, 4.0]}
    assert problems["hw_kernel_norms_after"] == render(msg("extract.not_finite", where="hw_kernel_norms_after['he_uniform'][1]",
                                                           value=math.inf), "es")
    assert values["ex3_activation_variances"] == [0.5, 0.25, 0.125]
    assert problems["ex3_model"].startswith("ex3_model: ") and "items() exploded" not in problems["ex3_model"]
    assert problems["ex4_histories"] == render(msg("extract.missing_keys", where="ex4_histories", keys="'glorot_uniform_tanh'"), "es")
    assert values["ex5_same_seed_identical"] is True
    not_bool = msg("extract.want_bool", where="ex5_no_seed_differs", kind=msg("extract.kind.text"))
    assert problems["ex5_no_seed_differs"] == render(not_bool, "es")
    assert problems["ex2_histories"] == render(msg("extract.not_defined"), "es")
    assert set(values) | set(extracted.problems) == set(CONTRACT["names"]) and not set(values) & set(extracted.problems)
    assert extracted.note == ""
    english = render(extracted.problems, "en")
    assert english["ex5_no_seed_differs"] == render(not_bool, "en")
    assert english["ex2_histories"] == render(msg("extract.not_defined"), "en")
    assert english["ex3_model"].startswith("ex3_model: ")
    for text in english.values():
        assert not [w for w in ("debe", "es un", "texto", "no está", "faltan", "vale", "objeto") if w in text], text
        assert not untranslated(text), text


def test_probe_failure_keeps_the_traceback(tmp_path):
    def broken(kernel_initializer="glorot_uniform"):
        if kernel_initializer == "he_normal":
            raise ValueError("he_normal is not for me")
        return build_model(kernel_initializer)

    out = tmp_path / "out"
    harvest.harvest({"build_model": broken}, str(out), str(CONTRACT_PATH))
    extracted = extract(Execution("completed", (), out, REPORT, 0.0), CONTRACT)
    probes = extracted.values["build_model"]
    assert isinstance(probes["he_uniform"], ModelDesc)
    failure_es, failure_en = render(probes["he_normal"], "es"), render(probes["he_normal"], "en")
    failed = lambda traceback: msg("extract.probe_failed", call="build_model(kernel_initializer='he_normal')",
                                   last="ValueError: he_normal is not for me", traceback=traceback)
    assert failure_es.startswith(render(failed("Traceback"), "es"))
    assert failure_en.startswith(render(failed(""), "en"))


def test_harvest_replaces_a_planted_outbox(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"values": {"ex1_limit": {"t": "number", "v": 0.0811}}}))
    (out / "sub").mkdir()
    (out / "0001-array.npy").symlink_to("/etc/passwd")
    harvest.harvest({"ex1_limit": 0.25}, str(out), str(CONTRACT_PATH))
    assert sorted(os.listdir(out)) == ["manifest.json"]
    extracted = extract(Execution("completed", (), out, REPORT, 0.0), CONTRACT)
    assert extracted.values == {"ex1_limit": 0.25}
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    harvest.harvest({"ex1_limit": math.pi}, str(link), str(CONTRACT_PATH))
    assert not link.is_symlink() and (link / "manifest.json").is_file() and not (tmp_path / "elsewhere").exists()


def test_a_lone_built_layer_is_a_one_layer_model_and_optional_none_is_not_defined(tmp_path):
    """ex1_layer = Dense(128); ex1_layer.build((None, 784)): exported as a one-layer model whose input
    is the kernel's first axis; an unbuilt layer is refused with a reason; an optional name left at
    the starter's None counts as not defined (it costs nothing), a required one left at None does not."""
    keras.utils.set_random_seed(3)
    layer = keras.layers.Dense(128)
    layer.build((None, 784))
    out = tmp_path / "out"
    harvest.harvest({"ex1_layer": layer, "ex1_model": None, "ex1_limit": None}, str(out), str(CONTRACT_PATH))
    extracted = extract(Execution("completed", (), out, REPORT, 0.0), CONTRACT)
    desc = extracted.values["ex1_layer"]
    assert isinstance(desc, ModelDesc) and desc.input_shape == (784,) and len(desc.dense) == 1
    assert np.array_equal(desc.dense[0].kernel, layer.kernel.numpy()) and desc.dense[0].bias_init.name == "zeros"
    assert extracted.problems["ex1_model"].key == "extract.not_defined"
    assert extracted.problems["ex1_limit"].key != "extract.not_defined"
    unbuilt = tmp_path / "unbuilt"
    harvest.harvest({"ex1_layer": keras.layers.Dense(128)}, str(unbuilt), str(CONTRACT_PATH))
    refused = extract(Execution("completed", (), unbuilt, REPORT, 0.0), CONTRACT)
    assert "ex1_layer" not in refused.values and render(refused.problems["ex1_layer"], "es").startswith("ex1_layer")
