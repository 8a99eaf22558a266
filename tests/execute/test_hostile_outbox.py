"""The outbox is a claim: whatever the student's code leaves there (nested JSON, lying .npy
headers, a rewrite after the harvest) costs that item, never crashes the grader, and is read
within stated bounds."""

from __future__ import annotations

import io
import json
import os
import tracemalloc

import numpy as np
import pytest

from grader.execute import Execution, harvest
from grader.extract import extract
from grader.bounded import MAX_JSON_DEPTH, Refused, read_json, read_npy
from dataclasses import replace

from grader.execute.artifacts import copy_out, seal_from_output
from grader.execute.module import harvest_seconds, module_cells, module_stopped_on_time
from grader.messages import msg, render
from grader.pipeline import Options, grade
from grader.sandbox import SandboxReport

from ..helpers import notebook
from ..conftest import needs_root_sandbox
from .test_hostile import GOOD, LIMITS, status_of

REPORT = SandboxReport("none", os.geteuid(), True, "none", "none", "none")
DEEP = "[" * 100_000 + "]" * 100_000


def lying_npy(shape=(10**12,)) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return header.getvalue() + b"\0" * 64


def test_deep_json_and_lying_npy_are_refused_items_within_a_memory_bound(tmp_path, reference_rubric):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "0001-array.npy").write_bytes(lying_npy())
    (folder / "0002-model.json").write_text(DEEP)
    (folder / "0003-model.json").write_text(json.dumps({"input_shape": [None, 784], "layers": [
        {"class": "Dense", "config": {"units": 128}, "weights": [{"t": "array", "file": "0001-array.npy"},
                                                              {"t": "array", "file": "0001-array.npy"}]}]}))
    values = {"ex1_kernel": {"t": "array", "file": "0001-array.npy"}, "ex1_model": {"t": "model", "file": "0002-model.json"},
              "ex3_model": {"t": "model", "file": "0003-model.json"}, "ex1_limit": {"t": "number", "v": 0.08}}
    (folder / "manifest.json").write_text(json.dumps({"values": values, "errors": {}}))
    tracemalloc.start()
    extracted = extract(Execution("completed", (), folder, REPORT, 1.0), reference_rubric.contract)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    problems = render(extracted.problems, "en")
    lying = render(msg("extract.bound.npy_size", name="0001-array.npy", claimed=4 * 10**12, size=len(lying_npy())), "en")
    assert lying in problems["ex1_kernel"]
    assert render(msg("extract.bound.too_deep", name="0002-model.json", depth=100_000, limit=MAX_JSON_DEPTH), "en") in problems["ex1_model"]
    assert lying in problems["ex3_model"]  # its weights are the same lying file
    assert extracted.values["ex1_limit"] == 0.08
    assert peak < 20 * 1024 * 1024, peak  # the 100,000-deep file is 200 KB: nothing near 7 TiB, nor a recursion


def test_a_deep_manifest_is_a_note_for_every_name(tmp_path, reference_rubric):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"values": {"ex1_limit": ' + DEEP + "}}")
    extracted = extract(Execution("completed", (), folder, REPORT, 1.0), reference_rubric.contract)
    assert "nests 100002 levels" in render(extracted.note, "en")
    assert extracted.values == {} and set(extracted.problems) == set(reference_rubric.contract["names"])


def test_npy_header_checks(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(Refused, match="npy_dtype"):
        read_npy(path)
    np.save(path, np.arange(10, dtype="float32"))
    path.write_bytes(path.read_bytes() + b"extra")  # file size not what the header says
    with pytest.raises(Refused, match="npy_size"):
        read_npy(path)
    np.save(path, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    assert read_npy(path).tolist() == [[0, 1, 2], [3, 4, 5]]
    (tmp_path / "s.json").write_text('["[[[[[[", {"k": "]]]]"}]')  # brackets inside strings are text
    assert read_json(tmp_path / "s.json", 1000) == ["[[[[[[", {"k": "]]]]"}]


def test_the_harvest_takes_exact_types_only(tmp_path):
    keras = pytest.importorskip("keras")

    class Liar(float):
        def __float__(self):
            return 0.0811107

    class Posing:
        __class__ = property(lambda self: keras.Model)

    class Dense(keras.layers.Layer):  # a look-alike named like Keras's Dense
        pass

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(4), Dense()])
    assert isinstance(Posing(), keras.Model)  # what fooled the harvest before
    contract = tmp_path / "contract.json"
    contract.write_text(json.dumps({"names": {"ex1_limit": {}, "ex1_model": {}, "ex3_model": {}}}))
    out = tmp_path / "out"
    harvest.harvest({"ex1_limit": Liar(0.5), "ex1_model": Posing(), "ex3_model": model}, str(out), str(contract))
    values = json.loads((out / "manifest.json").read_text())["values"]
    assert values["ex1_limit"] == {"t": "unsupported", "type": "Liar"}
    assert values["ex1_model"] == {"t": "unsupported", "type": "Posing"}
    layers = json.loads((out / values["ex3_model"]["file"]).read_text())["layers"]
    assert [layer["class"] for layer in layers] == ["Dense", "Dense (not Keras's own)"]


# --- in the real sandbox -------------------------------------------------------------------

@pytest.fixture()
def run(subset, reference_rubric, tmp_path):
    """tests/test_hostile.py's `run` without its machine-wide check that no uid-65534 process is
    left: other gradings on the same machine run as that uid too."""
    needs_root_sandbox()
    rubric = replace(reference_rubric, limits=LIMITS)

    def go(path):
        out = tmp_path / "out"
        result = grade(path, rubric, Options(out=out, data_dir=str(subset.folder), cache_dir=None, quiet=True, retrain="off"))
        return result, (out / result.student / "report.html").read_text()
    return go

HOOK = ("import json, os\n"
        "def rewrite(result):\n"
        "    if os.path.exists('/opt/grader-out/manifest.json'):\n"
        "        open('/opt/grader-out/manifest.json', 'w').write('{\"values\": {\"ex1_limit\": ' + '[' * 100000 + ']' * 100000 + '}}')\n"
        "get_ipython().events.register('post_run_cell', rewrite)")
THREAD = ("import threading, io, numpy as np, json, time\n"
          "def loop():\n"
          "    header = io.BytesIO()\n"
          "    np.lib.format.write_array_header_1_0(header, {'descr': '<f4', 'fortran_order': False, 'shape': (10**12,)})\n"
          "    while True:\n"
          "        try:\n"
          "            open('/opt/grader-out/0001-array.npy', 'wb').write(header.getvalue())\n"
          "            open('/opt/grader-out/0002-model.json', 'w').write('[' * 100000)\n"
          "        except OSError:\n"
          "            pass\n"
          "        time.sleep(0.001)\n"
          "threading.Thread(target=loop, daemon=True).start()")


FORGER = ("import threading, json, os, time\n"
          "FORGED = json.dumps({'harvest': 1, 'values': {'ex1_limit': {'t': 'number', 'v': (6 / 912) ** 0.5}}, 'errors': {}})\n"
          "def forge():\n"
          "    while True:\n"
          "        try:\n"
          "            if open('/opt/grader-out/manifest.json').read() != FORGED:\n"
          "                open('/opt/grader-out/manifest.json', 'w').write(FORGED)\n"
          "        except OSError:\n"
          "            pass\n"
          "        time.sleep(0.001)\n"
          "threading.Thread(target=forge, daemon=True).start()")


def test_a_post_run_cell_hook_that_rewrites_the_manifest_is_graded_not_a_crash(run, tmp_path):
    result, report = run(notebook(tmp_path / "hook.ipynb", GOOD, HOOK))
    assert result.status == "graded", result.status
    assert result.score == 0 and status_of(result, "ex1_limit") == "fail"
    # the hook ran after the harvest had sealed the manifest: the rewritten one is not read at all
    assert result.execution["message"] == msg("execute.manifest_changed")
    assert result.execution["harvested"] is False


def test_a_thread_rewriting_arrays_and_models_costs_those_items_only(run, tmp_path):
    code = "import numpy as np\nex1_kernel = np.zeros((784, 128), 'float32')\n" + GOOD
    result, report = run(notebook(tmp_path / "thread.ipynb", THREAD, code))
    assert result.status == "graded", result.status
    assert status_of(result, "ex1_limit") == "pass"
    # the thread's lying header is never read: the copy refuses the file whose bytes are not the sealed ones
    assert "4000000000000" not in json.dumps(result.to_json("en"))


def test_a_thread_that_forges_the_manifest_after_the_harvest_gains_nothing(run, tmp_path):
    """The notebook defines nothing; a thread rewrites manifest.json as soon as the harvest has written it,
    claiming a right ex1_limit. Before the seal, that won the race and its point."""
    result, report = run(notebook(tmp_path / "forger.ipynb", FORGER, "import time\ntime.sleep(0.5)"))
    assert result.status == "graded", result.status
    assert status_of(result, "ex1_limit") == "fail"
    assert result.execution["message"] == msg("execute.manifest_changed")


def test_the_copy_takes_only_the_sealed_bytes(tmp_path):
    """copy_out on its own: a changed array and a deleted model are refused by name (and the extraction says
    why), a file the seal does not name is not copied, no seal or a changed manifest reads nothing."""
    contract = tmp_path / "contract.json"
    contract.write_text(json.dumps({"names": {"ex1_kernel": {}, "ex1_limit": {}, "ex3_model": {}}}))
    outbox = tmp_path / "outbox"
    seal = harvest.harvest({"ex1_kernel": np.ones((3, 2), "float32"), "ex1_limit": 0.08}, str(outbox), str(contract))
    assert set(seal["files"]) == {"manifest.json", "0001-array.npy"}
    (outbox / "0002-model.json").write_text("{}")  # planted, never sealed
    copied = copy_out(outbox, tmp_path / "a", seal)
    assert sorted(p.name for p in copied.folder.iterdir()) == ["0001-array.npy", "manifest.json"]
    assert copied.refused == {}

    np.save(outbox / "0001-array.npy", np.zeros((3, 2), "float32"))
    copied = copy_out(outbox, tmp_path / "b", seal)
    assert copied.refused == {"0001-array.npy": msg("execute.sealed_file_changed", name="0001-array.npy")}
    assert not (copied.folder / "0001-array.npy").exists()
    extracted = extract(Execution("completed", (), copied.folder, REPORT, 1.0),
                        {"names": {"ex1_kernel": {"type": "array"}, "ex1_limit": {"type": "number"}}})
    assert extracted.values == {"ex1_limit": 0.08}
    assert "0001-array.npy changed after the grader collected it" in render(extracted.problems["ex1_kernel"], "en")

    assert copy_out(outbox, tmp_path / "c", None).folder is None
    assert copy_out(outbox, tmp_path / "d", {"files": {"../x": "0" * 64, "manifest.json": "0" * 64}}).folder is None
    (outbox / "manifest.json").write_text(json.dumps({"values": {}, "errors": {}}))
    copied = copy_out(outbox, tmp_path / "e", seal)
    assert copied.folder is None and copied.note == msg("execute.manifest_changed")


def test_a_module_s_seal_is_its_one_seal_line(tmp_path):
    line = b"grader-seal: " + json.dumps({"files": {"manifest.json": "a" * 64}}).encode()
    seal, printed = seal_from_output(b"hola\n" + line + b"\n")
    assert seal == {"files": {"manifest.json": "a" * 64}} and printed == b"hola\n"
    assert seal_from_output(b"hola\n" + line + b"\n" + line + b"\n")[0] is None  # a forged second line voids both
    assert seal_from_output(b"hola" + line + b"\n")[0] is None  # not at a line's start: not the harvest's


def test_errors_are_capped_like_any_output(run, tmp_path):
    big = "raise ValueError('E' * 5_000_000)"
    result, _ = run(notebook(tmp_path / "errors.ipynb", big, big, big, GOOD))
    records = result.execution["cells"]
    assert [c["ename"] for c in records[:3]] == ["ValueError"] * 3
    assert all(c["output_bytes"] <= LIMITS.output_bytes_per_cell for c in records)
    assert sum(c["output_bytes"] for c in records) <= LIMITS.output_bytes_total
    assert status_of(result, "ex1_limit") == "pass"


def test_a_module_s_deep_manifest_is_read_within_the_bounds(tmp_path):
    """A .py submission's record is read from the manifest before the extraction: a patched json in the
    student's process can make the harvest seal a 100,000-deep one, and that is no record, not a crash."""
    (tmp_path / "manifest.json").write_text('{"module": ' + DEEP + "}")
    assert module_cells(tmp_path, "tarea.py")[0].status == "ok"
    assert harvest_seconds(tmp_path) is None and module_stopped_on_time(tmp_path) is False


FILL_CONNECTION_FOLDER = (
    "import errno, os, ipykernel.connect\n"
    "folder = os.path.dirname(ipykernel.connect.get_connection_file())\n"
    "written, refused = 0, None\n"
    "try:\n"
    "    with open(os.path.join(folder, 'fill'), 'wb') as handle:\n"
    "        for _ in range(256):\n"
    "            handle.write(b'x' * 1_000_000)\n"
    "            handle.flush()\n"
    "            written += 1_000_000\n"
    "except OSError as exc:\n"
    "    refused = errno.errorcode.get(exc.errno)\n"
    "print('WRITTEN', written, refused)")


def test_the_kernel_s_connection_folder_stops_at_its_small_tmpfs(tmp_path):
    """The connection folder (the kernel's sockets, connection file and log) is bound read-write into the
    sandbox: what a student writes there stops at its own 16 MB tmpfs, never at the host's disk."""
    needs_root_sandbox()
    from grader import execute, submission
    from grader.sandbox import CONN_MB, Sandbox

    from .test_execute import CONTRACT, FAST

    sub = submission.load(notebook(tmp_path / "fill.ipynb", FILL_CONNECTION_FOLDER, GOOD))
    with Sandbox(FAST, None) as sandbox:
        assert sandbox.conn_capped  # its own tmpfs: a failed mount would put it on the host's temp folder
        execution = execute.run(sub, sandbox, CONTRACT, tmp_path / "artifacts")
    printed = "".join(o.get("text", "") for o in execution.notebook["cells"][0]["outputs"])
    written = int(printed.split("WRITTEN ")[1].split()[0])
    assert "ENOSPC" in printed and written <= CONN_MB * 1024 * 1024, printed
    assert execution.status == "completed" and execution.artifacts is not None  # and the grading went on
