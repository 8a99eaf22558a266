"""Artifacts are evidence, validated against the contract: wrong types never crash."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.execute import Execution
from grader.extract import extract
from grader.modeldesc import from_artifact
from grader.errors import ArtifactError
from grader.sandbox import SandboxReport

REPORT = SandboxReport("bwrap", 65534, False, "cgroup", "cgroup", "tmpfs")


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
    assert "número" in extracted.problems["ex1_limit"]
    assert "inf" in extracted.problems["ex1_var_theory"]
    assert "LyingFloat" in extracted.problems["ex1_var_empirical"]
    assert "he_uniform" in extracted.problems["hw_val_accuracy"]
    assert "True o False" in extracted.problems["ex5_same_seed_identical"]
    assert extracted.values == {}


def test_array_shape_and_nan_checked(tmp_path, reference_rubric):
    execution = write(tmp_path / "a", {"ex1_kernel": {"t": "array", "file": "0001-array.npy"}},
                      {"0001-array.npy": np.full((784, 128), np.nan, dtype="float32")})
    assert "NaN" in extract(execution, reference_rubric.contract).problems["ex1_kernel"]
    execution = write(tmp_path / "b", {"ex1_kernel": {"t": "array", "file": "0001-array.npy"}},
                      {"0001-array.npy": np.zeros((10, 10), dtype="float32")})
    assert "forma" in extract(execution, reference_rubric.contract).problems["ex1_kernel"]


def test_pickled_array_is_refused(tmp_path, reference_rubric):
    folder = tmp_path / "a"
    folder.mkdir()
    np.save(folder / "0001-array.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    execution = write(folder, {"ex1_kernel": {"t": "array", "file": "0001-array.npy"}})
    assert "ilegible" in extract(execution, reference_rubric.contract).problems["ex1_kernel"]


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
    with pytest.raises(ArtifactError, match="no admitida"):
        from_artifact(tmp_path, entry, "m")
    entry = model_files(tmp_path, [("Dense", {"units": 2, "activation": {"class_name": "Evil"}},
                                    [np.zeros((784, 2), "float32"), np.zeros(2, "float32")])])
    with pytest.raises(ArtifactError, match="activación"):
        from_artifact(tmp_path, entry, "m")


def test_weight_shapes_must_chain(tmp_path):
    entry = model_files(tmp_path, [("Dense", {"units": 3, "activation": "relu"}, [np.zeros((10, 3), "float32"), np.zeros(3, "float32")])])
    with pytest.raises(ArtifactError, match="forma"):
        from_artifact(tmp_path, entry, "m")


def test_valid_model_round_trips_to_canonical_json(tmp_path):
    entry = model_files(tmp_path, [("Flatten", {}, []),
                                   ("Dense", {"units": 3, "activation": "relu",
                                              "kernel_initializer": {"class_name": "HeNormal", "config": {"seed": None}},
                                              "bias_initializer": {"class_name": "Zeros", "config": {}}},
                                    [np.ones((784, 3), "float32"), np.zeros(3, "float32")])], input_shape=(None, 28, 28))
    desc = from_artifact(tmp_path, entry, "m")
    assert desc.to_json()["layers"][1]["kernel_init"]["name"] == "he_normal"
    assert desc.input_shape == (28, 28) and desc.kernels[0].shape == (784, 3)
