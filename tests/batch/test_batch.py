"""A class folder: gradebook, summary, resume, a broken and a hostile submission among good ones,
and a worker killed mid-batch."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from grader.batch import discover, grade_folder
from grader.messages import msg, render
from grader.pipeline import Options

from ..conftest import ASSIGNMENTS, needs_root_sandbox
from ..helpers import notebook

QUICK = "ex1_limit = (6 / 912) ** 0.5\nex1_var_theory = 2 / 912"


@pytest.fixture()
def klass(tmp_path):
    folder = tmp_path / "clase"
    folder.mkdir()
    notebook(folder / "ana.ipynb", QUICK)
    notebook(folder / "beto con espacio.ipynb", "ex1_limit = (6 / 784) ** 0.5")
    (folder / "rota.ipynb").write_text("{esto no es json")
    (folder / "notas.txt").write_text("no es una entrega")
    sub = folder / "dora"
    sub.mkdir()
    (sub / "tarea.py").write_text("ex1_limit = 0.0811107\n")
    hostile = folder / "eve;rm -rf ~.ipynb"
    notebook(hostile, "import os\nfor i in range(10**9): os.fork()")
    (folder / "fuera.ipynb").symlink_to(ASSIGNMENTS / "alice.ipynb")
    return folder


def test_discover_names_and_skips(klass):
    entries, notes = discover(klass, [])
    skipped = [render(note, "es") for note in notes]
    students = [e.student for e in entries]
    assert students == ["ana", "beto_con_espacio", "dora", "eve_rm_-rf", "rota"]
    assert render(msg("batch.not_a_submission", name="notas.txt"), "es") in skipped
    outside = msg("batch.symlink_outside", name="fuera.ipynb", target=str((ASSIGNMENTS / "alice.ipynb").resolve()))
    assert render(outside, "es") in skipped
    assert len(skipped) == 2
    english = [render(note, "en") for note in notes]
    assert render(msg("batch.not_a_submission", name="notas.txt"), "en") in english and not any("carpeta" in s for s in english)


def test_folder_is_graded_and_resumed(klass, subset, reference_rubric, cache_dir, tmp_path):
    needs_root_sandbox()
    out = tmp_path / "out"
    rubric = reference_rubric.with_protocol(epochs=1)
    options = Options(out=out, data_dir=str(subset.folder), cache_dir=cache_dir, quiet=True)
    first = grade_folder(klass, rubric, options, jobs=2)
    assert sorted(first["graded_now"]) == ["ana", "beto_con_espacio", "dora", "eve_rm_-rf", "rota"]
    statuses = {row["student"]: row["status"] for row in first["rows"]}
    assert statuses["rota"] == "invalid_submission"
    assert statuses["ana"] == "graded" and statuses["dora"] == "graded"
    # A fork bomb always exhausts the pids cgroup (pids.events > 0): process_limit whether the kernel
    # died of it or lived on past a BlockingIOError (a race; execute/__init__.py says so either way).
    assert statuses["eve_rm_-rf"] == "process_limit"
    eve = json.loads((out / "eve_rm_-rf" / "result.json").read_text())
    assert eve["sandbox"]["process_cap"] == "cgroup" and eve["score"] == 0
    with open(out / "gradebook.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["student"] for r in rows} == set(statuses)
    assert "ex1_limit" in rows[0] and rows[0]["sandbox"] in ("bwrap", "")
    assert len((out / "results.jsonl").read_text().splitlines()) == 5
    index = (out / "index.html").read_text()
    assert "wrong_limit" in index and "beto_con_espacio/report.html" in index
    ana = json.loads((out / "ana" / "result.json").read_text())
    assert {c["id"]: c["status"] for c in ana["checks"]}["ex1_limit"] == "pass"

    second = grade_folder(klass, rubric, options, jobs=2)
    assert second["graded_now"] == [] and sorted(second["reused"]) == sorted(statuses)

    notebook(klass / "ana.ipynb", "ex1_limit = 1.0")
    third = grade_folder(klass, rubric, options, jobs=1)
    assert third["graded_now"] == ["ana"]


def test_killed_worker_loses_nothing(subset, reference_rubric, cache_dir, tmp_path):
    needs_root_sandbox()
    folder = tmp_path / "c"
    folder.mkdir()
    notebook(folder / "lenta.ipynb", "import time\ntime.sleep(60)\nex1_limit = 0.0811107")
    notebook(folder / "rapida.ipynb", QUICK)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader", str(folder), "--out", str(out), "--jobs", "2", "--epochs", "1",
               "--data-dir", str(subset.folder), "--cache", str(cache_dir)]
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # 'rapida' finishes in seconds; 'lenta' sleeps a minute. Kill only once rapida's worker has
    # exited (its result on disk and one worker left): that last worker is lenta's, so the kill
    # lands mid-run and nothing else is touched.
    killed = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not killed:
        time.sleep(1)
        if not (out / "rapida" / "result.json").exists():
            continue
        workers = subprocess.run(["pgrep", "-f", "-P", str(parent.pid), "grader.batch.worker"], capture_output=True,
                                 text=True).stdout.split()
        if len(workers) == 1:
            os.kill(int(workers[0]), signal.SIGKILL)
            killed.append(workers[0])
    output, _ = parent.communicate(timeout=300)
    assert killed and parent.returncode == 0, output
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/result.json")}
    assert set(results) == {"lenta", "rapida"}
    assert results["lenta"]["status"] == "grader_error", results["lenta"]
    assert results["lenta"]["message"] == render(msg("batch.worker_died", code=-9), "es")
    assert results["rapida"]["status"] == "graded"
    assert render(msg("batch.worker_failed", student="lenta", code=-9), "es") in output
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert render(msg("batch.unchanged", names="rapida"), "es") in rerun.stderr  # only the killed one is graded again
    assert render(msg("batch.counts", now=1, reused=1), "es") in rerun.stdout
    again = json.loads((out / "lenta" / "result.json").read_text())
    assert again["status"] == "graded"
    assert {c["id"]: c["status"] for c in again["checks"]}["ex1_limit"] == "pass"


def test_full_output_disk_gives_a_clear_error(subset, cache_dir, tmp_path):
    needs_root_sandbox()
    out = tmp_path / "tiny"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tiny", str(out)], check=True)
    try:
        path = notebook(tmp_path / "ana.ipynb", QUICK)
        done = subprocess.run([sys.executable, "-m", "grader", str(path), "--out", str(out), "--epochs", "1",
                               "--data-dir", str(subset.folder), "--cache", str(cache_dir)],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 1
        # the path and the OS's reason vary: the sentence before the path, and the hint after the folder
        cannot_write = render(msg("output.cannot_write", path="\0", why=""), "es").split("\0")[0]
        choose_out = render(msg("output.cannot_write_hint", folder="\0"), "es").split("\0")[1]
        assert cannot_write in done.stderr and choose_out in done.stderr
        assert not any(p.name.startswith(".tmp-") for p in out.rglob("*"))
    finally:
        subprocess.run(["umount", "-l", str(out)])
