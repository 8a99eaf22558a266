"""Hostile and broken submissions, each graded for real: a clear status and message, and
nothing outside the submission's scratch changed, no process left behind, no score forged."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from grader.messages import msg, render
from grader.pipeline import Options, grade
from grader.report import render_report
from grader.sandbox import Limits

from ..conftest import ASSIGNMENTS, ROOT, needs_root_sandbox
from ..helpers import notebook
from ..report import lint

LIMITS = Limits(cell_timeout_s=15, total_timeout_s=60, memory_mb=1024, pids=128, scratch_mb=64,
                output_bytes_per_cell=20_000, output_bytes_total=60_000)
GOOD = "ex1_limit = (6 / 912) ** 0.5"


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("host") / "sentinel.txt"
    path.write_text("do not touch")
    return path


@pytest.fixture()
def run(subset, reference_rubric, tmp_path, sentinel):
    needs_root_sandbox()
    rubric = replace(reference_rubric, limits=LIMITS)
    before = hashlib.sha256(sentinel.read_bytes()).hexdigest()
    cgroups = lambda: {p.name for p in Path("/sys/fs/cgroup/pids/grader").glob("*") if p.is_dir()}
    cgroups_before = cgroups()

    count = [0]

    def go(path: Path):
        count[0] += 1
        out = tmp_path / f"out{count[0]}"
        result = grade(path, rubric, Options(out=out, data_dir=str(subset.folder), cache_dir=None, quiet=True, retrain="off"))
        # nothing leaked: the host sentinel, no sandbox process left, no cgroup left, only this student's output
        assert hashlib.sha256(sentinel.read_bytes()).hexdigest() == before
        leftovers = subprocess.run(["pgrep", "-u", "65534"], capture_output=True, text=True).stdout.split()
        assert leftovers == [], leftovers
        # no cgroup left by this run (one an earlier run left may be removed by this one: the sandbox
        # removes stale leftovers when it starts, so the set can only shrink)
        assert cgroups() <= cgroups_before
        assert [p.name for p in out.iterdir()] == [result.student]
        report = (out / result.student / "report.html").read_text()
        # what a hostile notebook leaves is still a report a teacher forwards (issue 27's lint)
        found = lint.folder_findings(out / result.student, "es")
        english = tmp_path / f"en{count[0]}"  # the same result in English (its text; figures need the run)
        english.mkdir()
        (english / "report.html").write_text(render_report(result, None, rubric, "en"), encoding="utf-8")
        (english / "result.json").write_text(json.dumps(result.to_json("en"), ensure_ascii=False), encoding="utf-8")
        found += lint.folder_findings(english, "en")
        assert found == [], lint.summary(found)
        return result, report
    return go


def status_of(result, check_id):
    return next(c.status for c in result.checks if c.id == check_id)


def cells(result):
    return [(c["status"], c["ename"]) for c in result.execution["cells"]]


# --- escapes --------------------------------------------------------------------------------

def test_network_to_a_loopback_server_never_arrives(run, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(1)
    port, seen, stop = server.getsockname()[1], [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                seen.append(server.accept())
            except OSError:
                continue
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    path = notebook(tmp_path / "net.ipynb", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)",
                    "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=3)", GOOD)
    try:
        result, _ = run(path)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert not seen
    assert [s for s, _ in cells(result)] == ["error", "error", "ok"]
    assert status_of(result, "ex1_limit") == "pass" and result.status == "graded"


def test_other_students_reference_and_rubric_are_invisible(run, tmp_path):
    targets = [ASSIGNMENTS / "alice.ipynb", ROOT / "reference" / "rubric.json", ROOT / "grader" / "checks.py", Path("/etc/shadow")]
    code = "import os\nfound = [p for p in %r if os.path.exists(p)]\nprint('FOUND', found)\nassert not found" % [str(p) for p in targets]
    result, report = run(notebook(tmp_path / "peek.ipynb", code, GOOD))
    assert cells(result)[0][0] == "ok"
    assert "points" not in report.split("FOUND")[0][-200:]


def test_writes_outside_scratch_fail_and_the_sentinel_stays(run, tmp_path, sentinel):
    code = (f"for path in [{str(sentinel)!r}, '/usr/lib/x', '/opt/grader/harvest.py', '/home/student/.keras/datasets/fashion-mnist/x']:\n"
            "    try:\n        open(path, 'w').write('pwned')\n        print('WROTE', path)\n"
            "    except OSError as e:\n        print('refused', path, type(e).__name__)")
    result, report = run(notebook(tmp_path / "write.ipynb", code, GOOD))
    assert cells(result)[0][0] == "ok" and result.status == "graded"


# --- resources ------------------------------------------------------------------------------

def test_fork_bomb(run, tmp_path):
    """Whether the kernel survives a fork bomb is a race; the status is not: the cap was reached."""
    result, report = run(notebook(tmp_path / "bomb.ipynb", "import os\nwhile True:\n    os.fork()", GOOD))
    assert result.status == "process_limit"
    assert "procesos" in report


def test_reaching_the_process_cap_and_going_on_is_process_limit_with_the_rest_graded(run, tmp_path):
    """A notebook that catches its own failed fork lives on deterministically: the run still says the cap was
    reached (not a clean `graded`), and what the notebook defined afterwards keeps its points."""
    spawn = ("import os, time\nkids = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
             "            time.sleep(5); os._exit(0)\n        kids += 1\nexcept OSError:\n    print('stopped after', kids)\n"
             "for _ in range(kids):\n    os.wait()")  # the cap is free again for the harvest's own threads
    result, report = run(notebook(tmp_path / "cap.ipynb", spawn, GOOD))
    assert result.status == "process_limit"
    assert result.execution["harvested"] and cells(result)[0][0] == "ok"
    reached = f"límite de procesos e hilos ({result.sandbox['limits']['pids']})"
    assert reached in render(result.execution["message"], "es") and reached in report
    assert status_of(result, "ex1_limit") == "pass"


def test_memory_hog(run, tmp_path):
    result, report = run(notebook(tmp_path / "hog.ipynb", "x = bytearray(8 * 1024**3)", GOOD))
    assert result.status == "memory_limit"
    assert render(msg("run.memory_limit"), "es") in report


def test_infinite_loop_times_out_and_the_rest_runs(run, tmp_path):
    result, report = run(notebook(tmp_path / "loop.ipynb", "while True:\n    pass", GOOD))
    assert cells(result) == [("timeout", "CellTimeout"), ("ok", "")]
    assert status_of(result, "ex1_limit") == "pass"


def test_output_flood_is_capped(run, tmp_path):
    result, report = run(notebook(tmp_path / "flood.ipynb", "for _ in range(10**6):\n    print('A' * 1000)", GOOD))
    assert result.execution["cells"][0]["truncated"]
    assert len(report) < 1_000_000


def test_disk_fill_stops_at_the_scratch_cap(run, tmp_path):
    code = "with open('big', 'wb') as f:\n    while True:\n        f.write(b'0' * 2**20)"
    result, _ = run(notebook(tmp_path / "disk.ipynb", code, GOOD))
    assert cells(result)[0] == ("error", "OSError")
    assert status_of(result, "ex1_limit") == "pass"


def test_sleep_past_the_total_timeout(run, tmp_path, reference_rubric):
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(10**6)"
    result, report = run(notebook(tmp_path / "sleepy.ipynb", code, GOOD))
    assert result.status == "timeout" and render(msg("run.timeout", epochs=reference_rubric.protocol.epochs), "es") in report
    # the kernel ignores the interrupt: still within the budget plus a small grace, nothing harvested
    assert result.execution["duration_s"] < LIMITS.total_timeout_s + 15 and result.execution["harvested"] is False


# --- exits ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code, statuses", [
    ("import sys\nsys.exit(0)", {"graded"}),
    ("import os\nos._exit(0)", {"crashed"}),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", {"crashed"}),
    ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", {"crashed", "graded"}),
    ("import os, signal\nos.killpg(0, signal.SIGKILL)", {"crashed"}),
    ("import os, signal\nos.kill(1, signal.SIGKILL)", {"crashed", "graded"}),
])
def test_exits_and_signals(run, tmp_path, code, statuses):
    result, report = run(notebook(tmp_path / "bye.ipynb", code, GOOD))
    assert result.status in statuses
    if result.status == "graded":
        assert status_of(result, "ex1_limit") == "pass"
    else:
        assert render(msg("run.crashed"), "es") in report


# --- forgery ---------------------------------------------------------------------------------

def test_pip_install_fails_quietly(run, tmp_path):
    code = "import subprocess, sys\nr = subprocess.run([sys.executable, '-m', 'pip', 'install', 'requests'], capture_output=True)\nprint(r.returncode)\nassert r.returncode != 0"
    result, _ = run(notebook(tmp_path / "pip.ipynb", code, GOOD))
    assert cells(result)[0][0] == "ok" and status_of(result, "ex1_limit") == "pass"


@pytest.mark.parametrize("patch", [
    "import json\njson.dump = lambda *a, **k: None",
    "import builtins\nbuiltins.open = None",
    "import numpy as np\nnp.save = lambda *a, **k: None",
    "import keras\nkeras.Model = int",
])
def test_monkeypatching_before_extraction_forges_nothing(run, tmp_path, patch):
    path = notebook(tmp_path / "patch.ipynb", "ex1_limit = 0.5\nex1_kernel = __import__('numpy').zeros((784, 128), 'float32')", patch)
    result, _ = run(path)
    assert result.score == 0
    assert status_of(result, "ex1_limit") == "fail"


def test_forged_artifacts_before_the_harvest_are_ignored(run, tmp_path):
    forged = {"values": {"ex1_limit": {"t": "number", "v": 0.0811107}, "ex1_var_theory": {"t": "number", "v": 2 / 912}}}
    code = ("import os, json\n"
            "for folder in ['/home/student/.grader-out', '/opt/grader-out', '/home/student']:\n"
            "    try:\n        os.makedirs(folder, exist_ok=True)\n"
            "        json.dump(%r, open(folder + '/manifest.json', 'w'))\n"
            "    except OSError as e:\n        print('refused', folder, e)\n"
            "ex1_limit = 0.5" % forged)
    result, _ = run(notebook(tmp_path / "forge.ipynb", code))
    assert status_of(result, "ex1_limit") == "fail" and status_of(result, "ex1_var_theory") == "fail"
    assert result.score == 0


@pytest.mark.parametrize("code, check_id, words", [
    ("ex1_limit = float('nan')", "ex1_limit", "nan"),
    ("ex1_limit = float('inf')", "ex1_limit", "inf"),
    ("ex1_limit = '0.0811'", "ex1_limit", "texto"),
    ("import numpy as np\nex1_kernel = np.zeros(10**8, dtype='float32')", "ex1_kernel_distribution", "no admitido"),
    ("class Liar(float):\n    def __eq__(self, other): return True\n    def __repr__(self): return '0.0811107'\nex1_limit = Liar(0.5)", "ex1_limit", "Liar"),  # a float subclass is not a float: only exact builtin types are harvested
    ("class Lying(list):\n    def __len__(self): return 3\nhw_val_accuracy = Lying()", "hw_histories", "hw_val_accuracy"),
])
def test_bad_values_are_named_and_score_nothing(run, tmp_path, code, check_id, words):
    result, _ = run(notebook(tmp_path / "vals.ipynb", code))
    check = next(c for c in result.checks if c.id == check_id)
    assert check.status == "fail" and check.points == 0
    assert words in render(check.message, "es")


# --- broken input ----------------------------------------------------------------------------

def test_broken_inputs_are_invalid_submissions(run, tmp_path):
    cases = {
        "json.ipynb": b"{not json",
        "empty.ipynb": b"",
        "md.ipynb": nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# solo texto")])).encode(),
        "huge.ipynb": b'{"cells": [], "x": "' + b"A" * (100 * 1024 * 1024) + b'"}',
        "empty.py": b"   \n",
    }
    for name, content in cases.items():
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        result, report = run(path)
        assert result.status == "invalid_submission", name
        assert result.message and render(msg("ui.grade_status.invalid_submission"), "es") in report


def test_nbformat_v3_is_upgraded_and_graded(run, tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
          "worksheets": [{"cells": [{"cell_type": "code", "input": GOOD, "language": "python", "outputs": [], "metadata": {}}],
                          "metadata": {}}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    result, _ = run(path)
    assert result.status == "graded" and status_of(result, "ex1_limit") == "pass"


def test_non_utf8_module_and_syntax_errors(run, tmp_path):
    latin = tmp_path / "latin.py"
    latin.write_bytes("ex1_limit = 0.5\nname = 'Joaquín'\n".encode("latin-1"))
    result, report = run(latin)
    assert result.status == "graded" and cells(result)[0] == ("error", "SyntaxError")
    assert "utf-8" in report.lower()
    broken = notebook(tmp_path / "syntax.ipynb", "def f(:\n    pass", GOOD)
    result, _ = run(broken)
    assert cells(result)[0][0] == "error" and status_of(result, "ex1_limit") == "pass"


# --- the report is safe ------------------------------------------------------------------------

MARK = "document.documentElement.setAttribute('data-pwned','yes')"


def test_script_payloads_through_every_path_do_not_execute(run, tmp_path):
    payload = f"<script>{MARK}</script><img src=x onerror=\"{MARK}\">"
    folder = tmp_path / f"x<img src=x onerror=\"{MARK}\">"
    folder.mkdir()
    path = notebook(folder / f"<b>mallory<img src=x onerror=\"{MARK}\">.ipynb",
                    f"print({payload!r})", f"raise ValueError({payload!r})", f"ex1_limit = {payload!r}",
                    f"hw_val_accuracy = {{{payload!r}: 1.0}}")
    result, report = run(path)
    assert "<script>" + MARK not in report and 'onerror="' + MARK not in report
    page = tmp_path / "report.html"
    page.write_text(report)
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<title>" in dom and 'data-pwned="yes"' not in dom
