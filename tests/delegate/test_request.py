"""A request is a claim: every field of a real request, bent one way at a time, is refused with a
reason the report can word (grader/delegate/request.py, service.refusal_kind)."""

from __future__ import annotations

import json
import os
import struct

import pytest

from grader.delegate import Caps, Catalog
from grader.delegate.request import RequestRefused, parse, read_file
from grader.delegate.service import refusal_kind
from grader.memo import fitmemo

CAPS = Caps(fits=14, epochs=40, params=2_000_000, max_bytes=64 << 20)


@pytest.fixture(scope="module")
def catalog(subset):
    return Catalog.load_or_build(subset, 5000, 255.0, None)


@pytest.fixture(scope="module")
def real(subset):
    """A real request of a real fit (the bytes fitmemo writes), split into header and payload."""
    import keras
    import numpy as np

    from grader import data

    (x, y), _ = data.load(subset)
    x = x.astype("float32") / 255.0
    memo = fitmemo.Memo(None)
    keras.utils.set_random_seed(42)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    bound = {"x": x[5000:], "y": y[5000:], "validation_data": (x[:5000], y[:5000]), "sample_weight": None,
             "class_weight": None, "batch_size": 32, "epochs": 20, "validation_split": 0.0, "shuffle": True,
             "initial_epoch": 0, "steps_per_epoch": None, "validation_steps": None, "validation_batch_size": None,
             "validation_freq": 1, "verbose": 0, "callbacks": None}
    key = memo.key(model, bound)
    raw = fitmemo.encode_request(key, model, bound, memo._material)
    (size,) = struct.unpack("<Q", raw[8:16])
    assert np.asarray(x).dtype == "float32"
    return json.loads(raw[16:16 + size]), raw[16 + size:]


def pack(header, payload) -> bytes:
    text = json.dumps(header).encode()
    return fitmemo.REQUEST_FORMAT + struct.pack("<Q", len(text)) + text + payload


def bent(header, change):
    copy = json.loads(json.dumps(header))
    change(copy)
    return copy


def test_a_real_request_is_read_into_the_graders_own_description(real, catalog):
    header, payload = real
    request = parse(pack(header, payload), CAPS, catalog)
    assert [layer["kind"] for layer in request.model["layers"]] == ["flatten", "dense", "dropout", "dense"]
    assert request.params == 784 * 16 + 16 + 16 * 10 + 10 + 2  # the dropout's seed state is a variable too
    assert request.data["x"]["recipe"]["form"] == "float32_div" and request.data["x"]["recipe"]["start"] == 5000
    assert request.data["validation_data"]["tuple"][1]["recipe"]["part"] == "y"


def set_path(path, value):
    def change(header):
        target = header
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return change


BENT = {
    "unknown layer": (set_path(["layers", 1, "class"], "Conv2D"), "model"),
    "activation outside the list": (set_path(["layers", 1, "activation"], "my_activation"), "model"),
    "units not a number": (set_path(["layers", 1, "units"], "16"), "model"),
    "an optimizer of its own": (set_path(["optimizer", "class"], "MyOptimizer"), "model"),
    "a schedule object": (set_path(["optimizer", "config", "learning_rate"], {"class_name": "ExponentialDecay"}), "model"),
    "a loss object": (set_path(["compile", "loss"], {"class_name": "MyLoss"}), "model"),
    "a metric of its own": (set_path(["compile", "metrics"], ["accuracy", "f1_custom"]), "model"),
    "a million epochs": (set_path(["fit", "epochs"], 10 ** 6), "caps"),
    "data it does not hold": (set_path(["data", "x", "ndarray", "sha256"], "f" * 64), "data"),
    "a shape that does not fit": (set_path(["data", "x", "ndarray", "shape"], [1000, 7, 112]), "data"),
    "class weights": (set_path(["data", "class_weight"], {"dict": [[0, "2.0"]]}), "data"),
    "a tensor": (set_path(["data", "y"], {"tensor": {"dtype": "uint8", "shape": [1000], "sha256": "0" * 64}}), "data"),
    "arrays whose bytes do not add up": (lambda h: h["arrays"][0].update(nbytes=h["arrays"][0]["nbytes"] + 4), "malformed"),
    "an object dtype": (lambda h: h["arrays"][0].update(dtype="object"), "malformed"),
    "a dtype that is not a name": (lambda h: h["arrays"][0].update(dtype={"descr": "<f4"}), "malformed"),
    "a forged RNG state": (set_path(["rng", "numpy"], ["MT19937", [1, 2, 3], 0, 0, 0.0]), "malformed"),
    "a short key": (set_path(["key"], "abc"), "malformed"),
    "another key version": (set_path(["v"], 99), "malformed"),
}


@pytest.mark.parametrize("name", sorted(BENT))
def test_a_bent_request_is_refused_with_its_kind(real, catalog, name):
    header, payload = real
    change, kind = BENT[name]
    with pytest.raises(RequestRefused) as refused:
        parse(pack(bent(header, change), payload), CAPS, catalog)
    assert refusal_kind(str(refused.value)) == kind, str(refused.value)


def test_a_huge_model_is_refused_before_anything_is_built(real, catalog):
    header, _ = real
    big = bent(header, set_path(["arrays"], [{"role": "model", "dtype": "float32", "shape": [2_000_001], "offset": 0,
                                               "nbytes": 8_000_004, "trainable": True}]))
    with pytest.raises(RequestRefused, match="more than 2000000 parameters"):
        parse(pack(big, bytes(8_000_004)), CAPS, catalog)


@pytest.mark.parametrize("raw", [b"", b"GRDREQ01", b"NOTAREQ!" + bytes(64), b"GRDREQ01" + struct.pack("<Q", 10 ** 12),
                                 b"GRDREQ01" + struct.pack("<Q", 5) + b"{nope",
                                 b"GRDREQ01" + struct.pack("<Q", 40_001) + b"[" * 20_000 + b"]" * 20_000 + b"x",
                                 b"GRDREQ01" + struct.pack("<Q", 2) + b"[]"])
def test_garbage_is_refused(catalog, raw):
    with pytest.raises(RequestRefused) as refused:
        parse(raw, CAPS, catalog)
    assert refusal_kind(str(refused.value)) == "malformed"


def test_a_link_a_fifo_and_an_oversized_file_are_not_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"GRDREQ01 the host's file")
    (tmp_path / "1.req").symlink_to(secret)
    os.mkfifo(tmp_path / "2.req")  # opened without blocking, and refused: not a regular file
    (tmp_path / "3.req").write_bytes(bytes(2048))
    for name, why in (("1.req", "unreadable"), ("2.req", "not a regular file"), ("3.req", "too large")):
        with pytest.raises(RequestRefused, match=why):
            read_file(tmp_path / name, 1024)
