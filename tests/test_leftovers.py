"""Nothing a self-check starts outlives it: `grade check` (no sandbox, no cgroup) ends its kernel,
the kernel's children, and a child that escaped into its own session, whether the run succeeded,
failed, timed out, or was stopped with SIGINT or SIGTERM; a run killed with SIGKILL is swept by
the next one. Processes are identified by (pid, start time) read from /proc, never by name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader import leftovers
from grader.messages import msg, render

from .conftest import ROOT
from .helpers import notebook

SPAWN = '''
import json, os, pathlib, subprocess
def started(pid):
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[19])
child = subprocess.Popen(["sleep", "1000"])
escaped = subprocess.Popen(["sleep", "1001"], start_new_session=True)
pathlib.Path(MARK).write_text(json.dumps([[p, started(p)] for p in (os.getpid(), child.pid, escaped.pid)]))
'''
ENDINGS = {"succeeds": "ex1_limit = (6 / 912) ** 0.5", "fails": "raise ValueError('boom')",
           "times_out": "import time\ntime.sleep(600)"}


def spawn_notebook(folder: Path, ending: str) -> tuple[Path, Path]:
    mark = folder / "pids.json"
    path = notebook(folder / "ana.ipynb", SPAWN.replace("MARK", repr(str(mark))), ending)
    return path, mark


def command(path: Path, out: Path, subset, *extra) -> list[str]:
    return [sys.executable, "-m", "grader", "check", str(path), "--out", str(out), "--no-cache",
            "--data-dir", str(subset.folder), "--lang", "es", *extra]


def own_folders(pid: int) -> list[Path]:
    """The grader's temporary folders that process `pid` owned."""
    found = []
    for folder in Path(tempfile.gettempdir()).glob("grader-*"):
        owner = (folder / leftovers.OWNER_FILE)
        if owner.exists() and owner.read_text().split()[0] == str(pid):
            found.append(folder)
    return found


def assert_nothing_left(mark: Path, grader_pid: int) -> None:
    started = json.loads(mark.read_text())
    assert len(started) == 3  # the kernel, its child, and a child in a session of its own
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(leftovers.alive(pid, start) for pid, start in started):
        time.sleep(0.2)
    assert [pid for pid, start in started if leftovers.alive(pid, start)] == []
    assert own_folders(grader_pid) == []


@pytest.fixture()
def short_cells(tmp_path):
    raw = json.loads((ROOT / "reference" / "rubric.json").read_text())
    raw["limits"]["cell_timeout_s"] = 8
    (tmp_path / "rubric.json").write_text(json.dumps(raw))
    return tmp_path / "rubric.json"


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_finished_check_leaves_no_process(ending, subset, tmp_path, short_cells):
    path, mark = spawn_notebook(tmp_path, ENDINGS[ending])
    process = subprocess.Popen(command(path, tmp_path / "o", subset, "--rubric", str(short_cells)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]
    result = json.loads((tmp_path / "o" / "ana" / "result.json").read_text())
    statuses = [cell["status"] for cell in result["execution"]["cells"]]
    assert statuses == ["ok", {"succeeds": "ok", "fails": "error", "times_out": "timeout"}[ending]]
    assert_nothing_left(mark, process.pid)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_check_leaves_no_process(signum, code, subset, tmp_path):
    path, mark = spawn_notebook(tmp_path, ENDINGS["times_out"])
    process = subprocess.Popen(command(path, tmp_path / "o", subset), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 300
    while not mark.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert mark.exists(), process.communicate()[1][-2000:]
    time.sleep(0.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err[-2000:]
    assert render(msg("cli.interrupted"), "es") in err
    assert_nothing_left(mark, process.pid)


def test_a_killed_check_is_swept_by_the_next(subset, tmp_path):
    path, mark = spawn_notebook(tmp_path, ENDINGS["times_out"])
    process = subprocess.Popen(command(path, tmp_path / "o", subset), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mark.exists()
    time.sleep(0.5)
    process.kill()
    process.wait()
    left = own_folders(process.pid)
    assert left, "a SIGKILLed run cannot clean up: its folders must still be there for the sweep"
    started = json.loads(mark.read_text())
    assert leftovers.alive(*started[0])  # its kernel is orphaned, still running
    (tmp_path / "next").mkdir()
    quick = notebook(tmp_path / "next" / "beto.ipynb", "ex1_limit = 0.0811")
    done = subprocess.run(command(quick, tmp_path / "o2", subset), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [folder for folder in left if folder.exists()] == []
    assert_nothing_left(mark, process.pid)


def test_identity_tells_a_reused_pid_apart():
    me = leftovers.identity(os.getpid())
    assert me is not None and leftovers.alive(me.pid, me.start)
    assert not leftovers.alive(me.pid, me.start + 1)
    assert leftovers.identity(2 ** 22 + 12345) is None


def test_sweep_keeps_folders_of_living_owners_and_of_other_users(tmp_path):
    mine = tmp_path / "grader-art-live"
    mine.mkdir()
    leftovers.mark_owner(mine)
    dead = tmp_path / "grader-art-dead"
    dead.mkdir()
    (dead / leftovers.OWNER_FILE).write_text("999999999 1 1\n")
    unrelated = tmp_path / "other-dead"
    unrelated.mkdir()
    (unrelated / leftovers.OWNER_FILE).write_text("999999999 1 1\n")
    removed = leftovers.sweep(tmp_path)
    assert removed == [dead] and mine.exists() and unrelated.exists()


def test_an_interrupted_batch_leaves_no_worker_or_kernel(subset, tmp_path):
    """`grade FOLDER` stopped with SIGTERM: every worker ends its own run, kernels included."""
    folder = tmp_path / "clase"
    folder.mkdir()
    marks = []
    for name in ("ana", "beto"):
        (tmp_path / name).mkdir()
        path, mark = spawn_notebook(tmp_path / name, ENDINGS["times_out"])
        path.rename(folder / f"{name}.ipynb")
        marks.append(mark)
    process = subprocess.Popen([sys.executable, "-m", "grader", str(folder), "--jobs", "2", "--allow-unsandboxed",
                                "--out", str(tmp_path / "o"), "--no-cache", "--data-dir", str(subset.folder), "--lang", "en"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not all(mark.exists() for mark in marks) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert all(mark.exists() for mark in marks), process.communicate()[1][-2000:]
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143 and "interrupted" in err, err[-2000:]
    for mark in marks:
        assert_nothing_left(mark, process.pid)
