"""Hostile requests for delegated fits (grader/delegate), from a notebook in a real bwrap sandbox.

A notebook reaches into the memo's own wrapper and the request folder: it forges the key of a real
fit, claims a huge model, lies about its arrays' bytes, names data the grader does not hold, asks
for a million epochs, links a request to a host file, leaves a FIFO, rewrites one request while
it may be read, and floods the folder with a thousand names. At the same time a second, honest
notebook is graded with the same store. Whatever the first does: its grading ends normally, the
grader trains nothing for it, the store holds only the honest notebook's entry (the grader's own
training, under the key it computed), and the honest notebook's fit is delegated and served.
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import replace

import pytest

from grader.memo import MemoStore
from grader.memo.fitmemo import decode_entry
from grader.pipeline import Options, grade
from grader.sandbox import Limits

from ..conftest import needs_root_sandbox
from ..helpers import notebook
from ..report import lint

pytestmark = pytest.mark.slow

LIMITS = Limits(cell_timeout_s=240, total_timeout_s=420, memory_mb=4096, pids=256, scratch_mb=256)

DATA = """import numpy as np
import keras
(x_full, y_full), _ = keras.datasets.fashion_mnist.load_data()
x_full = x_full.astype("float32") / 255.0
x_valid, y_valid, x_train, y_train = x_full[:5000], y_full[:5000], x_full[5000:], y_full[5000:]

def train(epochs=2):
    keras.utils.set_random_seed(42)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, model.fit(x_train, y_train, validation_data=(x_valid, y_valid), epochs=epochs, batch_size=32, verbose=0)
"""

HONEST = DATA + """
model, history = train()
ex1_limit = (6 / 912) ** 0.5
"""

HOSTILE = DATA + r'''
import json, os, struct, sys, threading, time
R, A = "/opt/grader-requests", "/opt/grader-answers"
memo = sys.modules["_grader_memo"].memo
space = memo._delegate.__globals__
real_encode = space["encode_request"]
seen = {}

def forged(key, model, bound, material):
    raw = real_encode(key, model, bound, material)
    seen["raw"] = raw
    return real_encode("0" * 64, model, bound, material)  # a key that is not this fit's

space["encode_request"] = forged
model, history = train(epochs=3)  # its request is refused: trained here
raw = seen["raw"]
size = struct.unpack("<Q", raw[8:16])[0]
header, payload = json.loads(raw[16:16 + size]), raw[16 + size:]

def put(name, head, body=payload):
    text = json.dumps(head).encode()
    with open(f"{R}/.{name}", "wb") as handle:
        handle.write(raw[:8] + struct.pack("<Q", len(text)) + text + body)
    os.replace(f"{R}/.{name}", f"{R}/{name}")

big = dict(header, arrays=[{"role": "model", "dtype": "float32", "shape": [2_000_001], "offset": 0,
                            "nbytes": 8_000_004, "trainable": True}])
put("2.req", big, bytes(8_000_004))                      # a huge model
lying = json.loads(json.dumps(header)); lying["arrays"][0]["nbytes"] += 4
put("3.req", lying)                                       # arrays whose bytes do not add up
other = json.loads(json.dumps(header)); other["data"]["x"]["ndarray"]["sha256"] = "f" * 64
put("4.req", other)                                       # data the grader does not hold
longer = json.loads(json.dumps(header)); longer["fit"]["epochs"] = 10 ** 6
put("5.req", longer)                                      # a million epochs
os.symlink("/etc/passwd", f"{R}/6.req")                   # a host file
os.mkfifo(f"{R}/7.req")                                   # a reader that would block
stop = time.time() + 3
def rewrite():                                            # replaced while it may be read
    while time.time() < stop:
        for body in (b"x" * 64, raw):
            try:
                with open(f"{R}/.8", "wb") as handle:
                    handle.write(body)
                os.replace(f"{R}/.8", f"{R}/8.req")
            except OSError:
                pass
threading.Thread(target=rewrite).start()
flooded = 0
for n in range(1000, 2000):                               # a thousand names
    try:
        with open(f"{R}/{n}.req", "wb") as handle:
            handle.write(b"GRDREQ01" + b"\xff" * 8)
        flooded += 1
    except OSError:
        break
time.sleep(6)
answers = sorted(os.listdir(A))
ex1_limit = (6 / 912) ** 0.5
print("flooded", flooded, "answers", len(answers))
'''


@pytest.fixture(scope="module")
def graded(subset, reference_rubric, tmp_path_factory):
    needs_root_sandbox()
    tmp_path = tmp_path_factory.mktemp("hostile-delegate")
    rubric = replace(reference_rubric, limits=LIMITS, delegation=replace(reference_rubric.delegation, min_steps=0, start_steps=0))
    cache = tmp_path / "cache"
    honest, hostile = notebook(tmp_path / "honest.ipynb", HONEST), notebook(tmp_path / "hostile.ipynb", HOSTILE)
    results = {}

    def go(path):
        results[path.stem] = grade(path, rubric, Options(out=tmp_path / f"out-{path.stem}", data_dir=str(subset.folder),
                                                         cache_dir=cache, quiet=True, retrain="off"))

    threads = [threading.Thread(target=go, args=(path,)) for path in (hostile, honest)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in results:
        results[name] = (results[name], tmp_path / f"out-{name}" / results[name].student)
    return {name: result for name, (result, _) in results.items()}, MemoStore(cache), \
        {name: folder for name, (_, folder) in results.items()}


def test_hostile_requests_train_nothing_and_stop_nobody(graded):
    results, store, _ = graded
    hostile, honest = results["hostile"], results["honest"]
    assert hostile.status == "graded", hostile.message
    assert [c["status"] for c in hostile.execution["cells"]] == ["ok"] * len(hostile.execution["cells"])
    delegation = hostile.execution["delegation"]
    # nothing it forged was trained; the one request that may be (8.req, rewritten with its own real
    # request) is a genuine fit of its own, trained under the key the grader computed
    assert delegation["enabled"] and delegation["trained"] + delegation["already"] <= 1, delegation
    refused = delegation["refused"]
    assert refused.get("key") == 1, delegation  # the forged key: rebuilt, compared, refused
    assert refused.get("caps", 0) >= 3 and refused.get("data") == 1 and refused.get("malformed", 0) >= 3, delegation
    # its own fit trained in its sandbox, and says why
    fit, = hostile.execution["memo"]["log"]
    assert not fit["served"] and fit["delegation"].startswith("refused: rebuilt fit has another key"), fit


def test_the_honest_notebook_is_delegated_meanwhile(graded):
    results, _, _ = graded
    honest = results["honest"]
    assert honest.status == "graded", honest.message
    fit, = honest.execution["memo"]["log"]
    assert fit["served"] and fit["reason"] == "delegated", fit
    assert honest.execution["delegation"]["trained"] == 1


def test_the_store_holds_only_the_graders_own_training(graded):
    results, store, _ = graded
    keys = store.keys()
    fits = {name: result.execution["memo"]["log"][0]["key"] for name, result in results.items()}
    trained = sum(result.execution["delegation"]["trained"] for result in results.values())
    assert len(keys) == trained and "0" * 64 not in keys
    assert any(key.startswith(fits["honest"]) for key in keys)
    for key in keys:  # each well-formed under its own key, and the training of a real fit of one of them
        decode_entry(store.read(key), key)
        assert key[:16] in fits.values()
    assert subprocess.run(["pgrep", "-f", "grader.retrain.worker"], capture_output=True).returncode == 1  # no trainer left
    assert subprocess.run(["pgrep", "-u", "65534"], capture_output=True).stdout == b""


def test_both_reports_say_it_in_plain_words(graded):
    """The delegation lines pass the report lint (no machinery outside "Cómo se corrigió", no English)."""
    results, _, folders = graded
    for name, folder in folders.items():
        found = lint.folder_findings(folder, "es")
        assert found == [], lint.summary(found)
        text = (folder / "report.html").read_text(encoding="utf-8")
        assert ("El corrector entrenó por su cuaderno" in text) == (name == "honest")
        assert ("que el corrector no aceptó" in text) == (name == "hostile")
