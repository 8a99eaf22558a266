"""Artifacts are evidence, validated against the contract: wrong types never crash."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.errors import ArtifactError
from grader.execute import Execution
from grader.extract import extract
from grader.messages import msg, render
from grader.modeldesc import from_artifact
from grader.sandbox import SandboxReport

from ..spanish import spanish_words, untranslated

REPORT = SandboxReport("bwrap", 65534, False, "cgroup", "cgroup", "tmpfs")


def kind(name: str, **params):
    """What the reader calls a value of the wrong type ("texto", "función", …)."""
    return msg(f"extract.kind.{name}", **params)


def at_layer(why, n: int = 1):
    """A refusal of layer `n` of model "m", as the model reader words it."""
    return msg("model.at", where=msg("model.layer_at", where="m", n=n), why=why)


def write(folder, values, files=None):
    folder.mkdir(exist_ok=True)
    for name, content in (files or {}).items():
        if isinstance(content, np.ndarray):
            np.save(folder / name, content, allow_pickle=False)
        else:
            (folder / name).write_text(json.dumps(content))
    (folder / "manifest.json").write_text(json.dumps({"values": values, "errors": {}}))
    return Execution("completed", (), folder, REPORT, 1.0)


def test_wrong_types_become_problems(tmp_path, reference_rubric):
    execution = write(tmp_path / "a", {
        "ex1_limit": {"t": "str", "v": "0.08"},
        "ex1_var_theory": {"t": "number", "v": "inf"},
        "ex1_var_empirical": {"t": "unsupported", "type": "LyingFloat"},
        "hw_val_accuracy": {"t": "dict", "v": {"glorot_uniform": {"t": "number", "v": 0.8}}},
        "ex5_same_seed_identical": {"t": "number", "v": 1},
    })
    extracted = extract(execution, reference_rubric.contract)
    expected = {"ex1_limit": msg("extract.want_number", where="ex1_limit", kind=kind("text")),
                "ex1_var_theory": msg("extract.not_finite", where="ex1_var_theory", value="inf"),
                "ex1_var_empirical": msg("extract.want_number", where="ex1_var_empirical",
                                         kind=kind("unsupported_type", type="LyingFloat")),
                "hw_val_accuracy": msg("extract.missing_keys", where="hw_val_accuracy", keys="'he_uniform', 'he_normal'"),
                "ex5_same_seed_identical": msg("extract.want_bool", where="ex5_same_seed_identical", kind=kind("number"))}
    for lang in ("es", "en"):
        rendered = render(extracted.problems, lang)
        for name, problem in expected.items():
            assert rendered[name] == render(problem, lang), (lang, name)
    assert extracted.values == {}


def test_array_shape_and_nan_checked(tmp_path, reference_rubric):
    execution = write(tmp_path / "a", {"ex1_kernel": {"t": "array", "file": "0001-array.npy"}},
                      {"0001-array.npy": np.full((784, 128), np.nan, dtype="float32")})
    not_finite = msg("extract.not_finite_array", where="ex1_kernel")
    assert render(extract(execution, reference_rubric.contract).problems["ex1_kernel"], "es") == render(not_finite, "es")
    execution = write(tmp_path / "b", {"ex1_kernel": {"t": "array", "file": "0001-array.npy"}},
                      {"0001-array.npy": np.zeros((10, 10), dtype="float32")})
    problem = extract(execution, reference_rubric.contract).problems["ex1_kernel"]
    wrong_shape = msg("extract.wrong_shape", where="ex1_kernel", found="(10, 10)", expected="(784, 128)")
    assert render(problem, "es") == render(wrong_shape, "es")
    assert render(problem, "en") == render(wrong_shape, "en")


def test_pickled_array_is_refused(tmp_path, reference_rubric):
    folder = tmp_path / "a"
    folder.mkdir()
    np.save(folder / "0001-array.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    execution = write(folder, {"ex1_kernel": {"t": "array", "file": "0001-array.npy"}})
    problem = render(extract(execution, reference_rubric.contract).problems["ex1_kernel"], "es")
    refused = msg("extract.unreadable_array", where="ex1_kernel",
                  error=msg("extract.bound.npy_dtype", name="0001-array.npy", dtype="object"))
    assert problem == render(refused, "es")  # refused at the header: pickle is never reached


def test_path_traversal_in_file_names_is_neutralised(tmp_path, reference_rubric):
    (tmp_path / "secret.npy").parent.mkdir(exist_ok=True)
    np.save(tmp_path / "secret.npy", np.ones((784, 128), dtype="float32"))
    execution = write(tmp_path / "a", {"ex1_kernel": {"t": "array", "file": "../secret.npy"}})
    assert "ex1_kernel" in extract(execution, reference_rubric.contract).problems


def model_files(folder, layers, input_shape=(None, 784)):
    files, described = {}, []
    for i, (cls, config, weights) in enumerate(layers):
        entries = []
        for j, w in enumerate(weights):
            name = f"{i:02d}{j:02d}-array.npy"
            files[name] = w
            entries.append({"t": "array", "file": name})
        described.append({"class": cls, "config": config, "weights": entries})
    files["0999-model.json"] = {"class": "Sequential", "input_shape": list(input_shape), "layers": described}
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        if isinstance(content, np.ndarray):
            np.save(folder / name, content)
        else:
            (folder / name).write_text(json.dumps(content))
    return {"t": "model", "file": "0999-model.json"}


def test_allow_list_refuses_custom_layers_and_activations(tmp_path):
    entry = model_files(tmp_path, [("Lambda", {"function": "os.system"}, [])])
    with pytest.raises(ArtifactError) as info:
        from_artifact(tmp_path, entry, "m")
    refused = at_layer(msg("model.layer_not_allowed", layer="'Lambda'", allowed="Dense, Flatten, Dropout, Activation, Rescaling"))
    assert info.value.render("es") == render(refused, "es")
    assert info.value.render("en") == render(refused, "en")
    entry = model_files(tmp_path, [("Dense", {"units": 2, "activation": {"class_name": "Evil"}},
                                    [np.zeros((784, 2), "float32"), np.zeros(2, "float32")])])
    with pytest.raises(ArtifactError) as info:
        from_artifact(tmp_path, entry, "m")
    refused = at_layer(msg("model.activation_not_allowed", activation=repr(str({"class_name": "Evil"}))))
    assert info.value.render("es") == render(refused, "es")


def test_weight_shapes_must_chain(tmp_path):
    entry = model_files(tmp_path, [("Dense", {"units": 3, "activation": "relu"}, [np.zeros((10, 3), "float32"), np.zeros(3, "float32")])])
    with pytest.raises(ArtifactError) as info:
        from_artifact(tmp_path, entry, "m")
    assert info.value.render("es") == render(at_layer(msg("model.kernel_shape", found="(10, 3)", expected="(784, 3)")), "es")


def test_valid_model_round_trips_to_canonical_json(tmp_path):
    entry = model_files(tmp_path, [("Flatten", {}, []),
                                   ("Dense", {"units": 3, "activation": "relu",
                                              "kernel_initializer": {"class_name": "HeNormal", "config": {"seed": None}},
                                              "bias_initializer": {"class_name": "Zeros", "config": {}}},
                                    [np.ones((784, 3), "float32"), np.zeros(3, "float32")])], input_shape=(None, 28, 28))
    desc = from_artifact(tmp_path, entry, "m")
    assert desc.to_json()["layers"][1]["kernel_init"]["name"] == "he_normal"
    assert desc.input_shape == (28, 28) and desc.kernels[0].shape == (784, 3)


SPANISH = ("debe", "es un", "texto", "no está", "lista", "función", "capa", "forma", "arreglo", "falt", "ilegible",
           "admitid", "vale", "número", "contiene", "se esperaba")


def _no_spanish(text: str) -> None:
    assert not [word for word in SPANISH if word in text.lower()], text
    assert not spanish_words(text) and not untranslated(text), text


def test_every_problem_reads_in_english_without_spanish(tmp_path, reference_rubric):
    """Each kind of refusal the reader makes, rendered in English, carries no Spanish word."""
    folder = tmp_path / "a"
    folder.mkdir()
    np.save(folder / "0001-array.npy", np.zeros((3, 3), "float32"))
    np.save(folder / "0002-array.npy", np.array(["a", "b"]))
    execution = write(folder, {
        "ex1_limit": {"t": "list", "v": []},
        "ex1_var_theory": {"t": "callable", "type": "function"},
        "ex1_var_empirical": {"t": "number", "v": "nan"},
        "ex1_kernel": {"t": "array", "file": "0001-array.npy"},
        "ex1_model": {"t": "str", "v": "x"},
        "build_model": {"t": "number", "v": 1.0},
        "hw_val_accuracy": {"t": "list", "v": []},
        "hw_histories": {"t": "dict", "v": {k: {"t": "bool", "v": True} for k in ("glorot_uniform", "he_uniform", "he_normal")}},
        "ex5_same_seed_identical": {"t": ["hostile"]},
    })
    extracted = extract(execution, reference_rubric.contract)
    assert set(extracted.problems) == set(reference_rubric.contract["names"])
    for name, problem in extracted.problems.items():
        english, spanish = render(problem, "en"), render(problem, "es")
        _no_spanish(english)
        # a problem starts with the contract name in both languages or in neither
        assert english.startswith(name) == spanish.startswith(name), (english, spanish)
    expected = {"ex1_limit": msg("extract.want_number", where="ex1_limit", kind=kind("list")),
                "ex1_var_theory": msg("extract.want_number", where="ex1_var_theory", kind=kind("function")),
                "ex1_model": msg("model.at", where="ex1_model", why=msg("model.not_a_model")),
                "ex5_same_seed_identical": msg("extract.want_bool", where="ex5_same_seed_identical", kind=kind("unknown"))}
    for name, problem in expected.items():
        assert render(extracted.problems[name], "en") == render(problem, "en"), name
    assert render(extracted.problems["ex1_var_theory"], "es") == render(expected["ex1_var_theory"], "es")


def test_model_refusals_read_in_english(tmp_path):
    cases = [
        ([("Dense", {"units": 3, "activation": "relu"}, [np.zeros((10, 3), "float32"), np.zeros(3, "float32")])], (None, 784),
         at_layer(msg("model.kernel_shape", found="(10, 3)", expected="(784, 3)"))),
        ([("Dense", {"units": 3, "activation": "relu"}, [np.zeros((784, 3), "float32"), np.zeros(3, "float32")])], (None, 28, 28),
         at_layer(msg("model.needs_flatten", shape="[28, 28]"))),
        ([("Dense", {"units": 3, "activation": "relu"}, [])], (None, 3, None), None),
        ([("Activation", {"activation": "evil"}, [])], (None, 784), at_layer(msg("model.activation_not_allowed", activation="'evil'"))),
        ([("Dropout", {"rate": "x"}, [])], (None, 784), at_layer(msg("model.parameter_not_numeric"))),
        ([("Flatten", {}, [])], (None, 784), msg("model.at", where="m", why=msg("model.no_dense"))),
    ]
    for i, (layers, shape, expected) in enumerate(cases):
        folder = tmp_path / str(i)
        entry = model_files(folder, layers, input_shape=shape)
        with pytest.raises(ArtifactError) as info:
            from_artifact(folder, entry, "m")
        english = info.value.render("en")
        _no_spanish(english)
        assert english.startswith("m") and info.value.render("es").startswith("m")
        if expected:
            assert english == render(expected, "en")
    assert info.value.render("es") == render(expected, "es")  # the last case: no Dense layer
    folder = tmp_path / "shape"
    entry = model_files(folder, [("Flatten", {}, [])], input_shape=(None, 3, None))
    with pytest.raises(ArtifactError) as info:
        from_artifact(folder, entry, "m")
    refused = msg("model.at", where="m", why=msg("model.bad_input_shape", shape="[None, 3, None]", pixels=784, image="(28, 28)"))
    assert info.value.render("es") == render(refused, "es")
    assert info.value.render("en") == render(refused, "en")


def test_unreadable_manifest_is_a_note_for_every_name(tmp_path, reference_rubric):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"values": ["not", "a", "dict"]}))
    extracted = extract(Execution("completed", (), folder, REPORT, 1.0), reference_rubric.contract)
    unreadable = msg("extract.unreadable", error=msg("extract.values_not_dict"))
    assert render(extracted.note, "es") == render(unreadable, "es")
    assert render(extracted.note, "en") == render(unreadable, "en")
    assert extracted.values == {} and set(extracted.problems) == set(reference_rubric.contract["names"])
    (folder / "manifest.json").write_text("{not json")
    note = render(extract(Execution("completed", (), folder, REPORT, 1.0), reference_rubric.contract).note, "es")
    with pytest.raises(json.JSONDecodeError) as decoding:
        json.loads("{not json")
    bad_json = msg("extract.bound.bad_json", name="manifest.json", error=str(decoding.value))  # json's own words, quoted
    assert note == render(msg("extract.unreadable", error=bad_json), "es")
