"""Grading on a Dask cluster: the connect check, the client's trust in what workers send, a
LocalCluster run whose rerun on a new cluster trains nothing, and a real `dask scheduler` with two
`dask worker` processes, one killed mid-run and then the client, whose files equal the local batch's."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.cluster import batch as cluster_batch
from grader.cluster.connect import COMPARED, ClusterSpec, differences, facts, open_cluster
from grader.cluster.grading import seed_scratch
from grader.cluster.spawn import spawn
from grader.errors import ClusterError
from grader.retrain.plan import reference_specs
from grader.memo import MemoStore
from grader.memo.fitmemo import FORMAT
from grader.messages import msg, render
from grader.retrain.cache import Cache

from ..conftest import ASSIGNMENTS, needs_root_sandbox
from ..golden import differences as golden_differences, normalise
from ..helpers import notebook

QUICK = "ex1_limit = (6 / 912) ** 0.5\nex1_var_theory = 2 / 912"


# -- the connect check ---------------------------------------------------------------------------

def test_facts_name_what_a_worker_must_share(subset):
    mine = facts(str(subset.folder), None)
    assert set(COMPARED) <= set(mine)
    assert len(mine["rubric"]) == 64 and mine["data"] == subset.checksum
    other = dict(mine, tensorflow="2.19.0", data="0" * 64, resources={"grade": 1})
    found = [render(m, "en") for m in differences(mine, other)]
    assert render(msg("cluster.differs", what="tensorflow", worker_value="2.19.0", client_value=mine["tensorflow"]), "en") in found, found
    assert render(msg("cluster.differs", what="data", worker_value="0" * 64, client_value=mine["data"]), "en") in found
    assert any(render(msg("cluster.no_slots", found=str({"grade": 1})), "en") in line for line in found)
    assert differences(mine, dict(mine, resources={"grade": 1, "train": 1})) == []
    edited = (ASSIGNMENTS.parent / "reference" / "rubric.json").read_text().replace('"epochs": 20', '"epochs": 21')
    assert facts(str(subset.folder), edited)["rubric"] != mine["rubric"]  # the digest covers the client's rubric


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ClusterError) as caught:
        with open_cluster(ClusterSpec(scheduler="tcp://127.0.0.1:9", connect_timeout_s=2)):
            pass
    text = caught.value.render("es")
    unreachable = render(msg("cluster.unreachable", address="tcp://127.0.0.1:9", error="\0"), "es").split("\0")[0]  # the error varies
    assert unreachable in text and render(msg("cluster.start_hint"), "es") in text


@pytest.mark.parametrize("argv, says", [
    (["assignments/alice.ipynb", "--scheduler", "tcp://127.0.0.1:8786"], lambda path: msg("cli.cluster_needs_folder", path=path)),
    (["assignments", "--scheduler", "tcp://127.0.0.1:8786", "--cluster", "local"], lambda path: msg("cli.cluster_both")),
])
def test_cluster_flags_are_checked_before_anything_runs(argv, says, capsys):
    from grader.cli import main

    path = str(ASSIGNMENTS.parent / argv[0])
    assert main([path, *argv[1:]]) == 2
    assert render(says(path), "es") in capsys.readouterr().err


def test_runs_asked_counts_protocol_exercise_and_extra_seed_runs():
    result = {"retraining": {"protocol": {"seed": 42}, "runs": {"a": {}, "b": {}, "c": {}},
                             "exercises": {"ex2:x": {}, "ex5:repro": {}},
                             "seeds": {"42": {"a": 0.8, "b": 0.8, "c": 0.8}, "1": {"a": 0.8, "b": 0.8, "c": 0.8}}}}
    assert cluster_batch.runs_asked(result) == 3 + 2 + 3
    assert cluster_batch.runs_asked({"retraining": {}}) == 0


def test_a_worker_without_slots_is_refused_by_name(subset, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    notebook(folder / "ana.ipynb", QUICK)
    with spawn(tmp_path / "cluster", 1, resources=None) as cluster:
        done = subprocess.run([sys.executable, "-m", "grader", str(folder), "--scheduler", cluster.address, "--out",
                               str(tmp_path / "out"), "--data-dir", str(subset.folder), "--lang", "en"],
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    unfit = render(msg("cluster.unfit", n=987, problems=""), "en").split("987")[0]  # before the count
    assert unfit in done.stderr and render(msg("cluster.no_slots", found="{}"), "en") in done.stderr
    worker = render(msg("cluster.worker", address="\0", host=""), "en").split("\0")[0]
    assert f"{worker}tcp://127.0.0.1:" in done.stderr and not (tmp_path / "out" / "ana").exists()


# -- what the client accepts from a worker -----------------------------------------------------

class _Entry:
    student = "ana"


def _payload(**files):
    result = {"student": "ana", "score": 1.0}
    return {"worker": "tcp://w", "host": "h", "files": {"report.html": "<p>ok</p>", "result.json": json.dumps(result),
                                                         **files}, "runs": "{}", "entries": {}}


@pytest.mark.parametrize("hostile", [
    {"../../etc/passwd": "x"},  # a file name outside the student's folder
    {"result.json": json.dumps({"student": "eve"})},  # another student's result
    {"report.html": 7},  # not text
])
def test_the_client_refuses_a_payload_of_the_wrong_shape(hostile, tmp_path):
    options = cluster_batch.Options(out=tmp_path / "out", cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError):
        cluster_batch._accept(_payload(**hostile), _Entry(), options, Cache(options.cache_dir), None)
    assert not (tmp_path / "out" / "ana" / "result.json").exists()


def test_the_client_writes_an_accepted_payload_with_the_worker_field(tmp_path):
    options = cluster_batch.Options(out=tmp_path / "out", cache_dir=tmp_path / "cache")
    cache = Cache(options.cache_dir)
    payload = _payload()
    payload["runs"] = json.dumps({"a" * 64: {"history": {}, "kernel_norms_after": [], "duration_s": 1.0}, "short": {}})
    cluster_batch._accept(payload, _Entry(), options, cache, None)
    result = json.loads((tmp_path / "out" / "ana" / "result.json").read_text())
    assert result["cluster"] == {"worker": "tcp://w", "host": "h"} and result["score"] == 1.0
    assert set(cache.items()) == {"a" * 64}  # a run under a malformed key is not stored


def test_forged_memo_entries_never_reach_a_store(tmp_path):
    store = MemoStore(tmp_path)
    key = "b" * 64
    assert not store.put(key, b"not an entry")
    assert not store.put("../" + key, FORMAT + b"\0" * 8)
    assert not store.put(key, FORMAT + (2).to_bytes(8, "little") + b"{}")  # a header that names no key
    seed_scratch(Cache(tmp_path / "c"), store, {"runs": "{}", "entries": {key: b"forged"}}, ())
    assert store.keys() == []


# -- real clusters -------------------------------------------------------------------------------

def small_class(folder: Path) -> Path:
    """Four kinds of submission: alice's homework trained for the tests' 1 epoch (its protocol
    fits are the reference runs, served from the memo), one that defines a name, a fork bomb,
    and one that is not a notebook."""
    folder.mkdir()
    alice = (ASSIGNMENTS / "alice.ipynb").read_text()
    assert alice.count("EPOCHS = 20") == 1
    (folder / "alice.ipynb").write_text(alice.replace("EPOCHS = 20", "EPOCHS = 1"))
    notebook(folder / "ana.ipynb", QUICK)
    notebook(folder / "eve.ipynb", "import os\nfor i in range(10**9): os.fork()")
    (folder / "rota.ipynb").write_text("{esto no es json")
    return folder


def grade_command(folder: Path, out: Path, cache: Path, subset, *extra: str) -> list[str]:
    return [sys.executable, "-m", "grader", str(folder), "--out", str(out), "--cache", str(cache), "--epochs", "1",
            "--data-dir", str(subset.folder), *extra]


def comparable(out: Path) -> tuple[dict, list]:
    """Each result.json, normalised as the goldens are, without the worker field; the gradebook
    without its durations."""
    results = {}
    for path in sorted(out.glob("*/result.json")):
        result = json.loads(path.read_text())
        result.pop("cluster", None)
        results[path.parent.name] = normalise(result)
    with open(out / "gradebook.csv") as handle:
        rows = [{k: v for k, v in row.items() if k != "duration_s"} for row in csv.DictReader(handle)]
    return results, rows


RACY = {"eve"}  # a fork bomb: which fork fails first (a BlockingIOError in the cell, or the kernel) varies run to
# run, so whether anything was harvested does too; its status (process_limit) and score (0) do not


def gradebook_row(row: dict) -> dict:
    """A gradebook row as it must be equal: whole, but for a racy student, whose per-check columns
    and max_score follow what was harvested before the fork bomb hit (status and score do not)."""
    if row["student"] not in RACY:
        return row
    return {k: v for k, v in row.items() if k in ("student", "display_name", "lms", "lms_user_id", "late",
                                                    "score", "sandbox", "status")}


def verdicts(result: dict) -> tuple:
    return result["status"], result["score"], [(c["id"], c["status"], c["points"]) for c in result["checks"]]


def assert_same(local: Path, cluster: Path) -> None:
    (expected, expected_rows), (found, found_rows) = comparable(local), comparable(cluster)
    assert sorted(found) == sorted(expected)
    for student in expected:
        if student in RACY:
            assert verdicts(found[student])[:2] == verdicts(expected[student])[:2], student
            continue
        assert golden_differences(expected[student], found[student]) == [], student
    assert [gradebook_row(row) for row in found_rows] == [gradebook_row(row) for row in expected_rows]
    students = [json.loads(line)["student"] for line in (cluster / "results.jsonl").read_text().splitlines()]
    assert sorted(students) == sorted(expected)  # each once: nothing lost, nothing twice


@pytest.fixture(scope="module")
def local_batch(subset, tmp_path_factory):
    """The small class graded by the local batch: what every cluster run must equal."""
    needs_root_sandbox()
    base = tmp_path_factory.mktemp("local-batch")
    folder = small_class(base / "clase")
    done = subprocess.run(grade_command(folder, base / "out", base / "cache", subset, "--jobs", "2"),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    statuses = {json.loads(p.read_text())["student"]: json.loads(p.read_text())["status"]
                for p in (base / "out").glob("*/result.json")}
    assert statuses == {"alice": "graded", "ana": "graded", "eve": "process_limit", "rota": "invalid_submission"}
    return folder, base / "out"


def test_local_cluster_grades_and_a_new_cluster_trains_nothing(subset, reference_rubric, tmp_path):
    """`--cluster local`: the reference runs are trained once on the cluster; a new LocalCluster
    with the same client store trains nothing and writes the same files. (That a cluster's files
    equal the local batch's is the next test's, on real scheduler and worker processes.)"""
    needs_root_sandbox()
    folder = tmp_path / "clase"
    folder.mkdir()
    notebook(folder / "ana.ipynb", QUICK)
    (folder / "rota.ipynb").write_text("{esto no es json")
    cache = tmp_path / "cache"
    first = subprocess.run(grade_command(folder, tmp_path / "out", cache, subset, "--cluster", "local", "--jobs", "2"),
                           capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert render(msg("batch.counts", now=2, reused=0), "es") in first.stdout
    references = len(reference_specs(reference_rubric))
    assert render(msg("cluster.references", n=references), "es") in first.stderr
    # ana has no models of her own: her retraining is the reference runs, already trained
    trainings = lambda computed: render(msg("cluster.trainings", computed=computed, asked=987), "es").split("987")[0]
    assert trainings(references) in first.stderr, first.stderr[-3000:]
    ana = json.loads((tmp_path / "out" / "ana" / "result.json").read_text())
    assert ana["status"] == "graded" and ana["cluster"]["worker"].startswith("tcp://127.0.0.1:")
    again = subprocess.run(grade_command(folder, tmp_path / "out2", cache, subset, "--cluster", "local", "--jobs", "2"),
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert trainings(0) in again.stderr, again.stderr[-3000:]
    assert render(msg("cluster.references", n=987), "es").split("987")[0] not in again.stderr
    assert comparable(tmp_path / "out2") == comparable(tmp_path / "out")


def _grading_processes() -> list[tuple[int, int]]:
    """(pid, parent pid) of every `grader.batch.worker` process running now."""
    found = []
    for line in subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout.splitlines():
        pid, ppid, args = line.split(None, 2)
        if "-m grader.batch.worker" in args:
            found.append((int(pid), int(ppid)))
    return found


def test_real_scheduler_and_workers_survive_a_killed_worker_and_a_killed_client(local_batch, subset, tmp_path):
    folder, local_out = local_batch
    cluster = spawn(tmp_path / "cluster", 2)
    address, workers = cluster.address, cluster.workers
    try:
        out, cache = tmp_path / "out", tmp_path / "cache"
        client = subprocess.Popen(grade_command(folder, out, cache, subset, "--scheduler", address),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        worker_pids = {w.pid for w in workers}
        killed = orphan = None
        deadline = time.monotonic() + 600
        while killed is None and time.monotonic() < deadline and client.poll() is None:
            time.sleep(1)
            # a grading process whose parent is a Dask worker process (a child of a `dask worker` nanny)
            for pid, parent in _grading_processes():
                nanny = int(Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[1]) \
                    if Path(f"/proc/{parent}/stat").exists() else -1
                if nanny in worker_pids:
                    os.kill(parent, signal.SIGKILL)  # the Dask worker process, mid-task
                    killed, orphan = parent, pid
                    break
        output, _ = client.communicate(timeout=900)
        assert killed is not None, output[-3000:]
        assert client.returncode == 0, output[-3000:]
        assert render(msg("batch.counts", now=4, reused=0), "es") in output
        assert_same(local_out, out)
        gone = time.monotonic() + 60  # its grading process got SIGTERM with its parent, and stopped its sandbox
        while Path(f"/proc/{orphan}").exists() and time.monotonic() < gone:
            time.sleep(1)
        assert not Path(f"/proc/{orphan}").exists()

        # the client killed after its first result, then run again: only the rest is graded
        out2 = tmp_path / "out2"
        client = subprocess.Popen(grade_command(folder, out2, cache, subset, "--scheduler", address),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not list(out2.glob("*/result.json")) and client.poll() is None:
            time.sleep(0.5)
        client.kill()
        client.wait()
        finished = sorted(p.parent.name for p in out2.glob("*/result.json"))
        assert finished and len(finished) < 4
        rerun = subprocess.run(grade_command(folder, out2, cache, subset, "--scheduler", address),
                               capture_output=True, text=True, timeout=900)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert render(msg("batch.counts", now=4 - len(finished), reused=len(finished)), "es") in rerun.stdout
        assert_same(local_out, out2)
    finally:
        cluster.stop()


def test_a_worker_environment_fault_stops_the_cluster_batch_like_a_local_one(subset, reference_rubric, tmp_path):
    """Keras made unreadable after the readiness check (as a worker machine whose install broke): the first
    submission whose kernel hits it is grader_error, unscored; the batch stops there instead of turning the
    rest of the class into errors, and says who and why."""
    import stat as stat_module

    from grader.errors import NotReady
    from grader.kinds import RetrainMode
    from grader.pipeline import Options

    from ..test_readiness import BROKEN

    needs_root_sandbox()
    klass = tmp_path / "clase"
    klass.mkdir()
    for name in ("a_primera", "b_segunda", "c_tercera", "d_cuarta"):
        notebook(klass / f"{name}.ipynb", "import keras", QUICK)
    options = Options(out=tmp_path / "out", data_dir=str(subset.folder), quiet=True, memo=False, retrain=RetrainMode.OFF)
    modes = {path: stat_module.S_IMODE(path.stat().st_mode) for path in BROKEN}
    try:
        for path in BROKEN:
            path.chmod(0o600)
        with pytest.raises(NotReady) as stopped:
            cluster_batch.grade_folder_on_cluster(klass, reference_rubric, options, ClusterSpec(local_workers=1))
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert "keras" in stopped.value.render("en")
    results = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "out").glob("*/result.json")}
    faults = [r for r in results.values() if r["status"] == "grader_error"]
    assert faults and all(r["score"] is None and r["grader_fault"]["kind"] == "environment" for r in faults)
    assert all(r["status"] == "grader_error" for r in results.values())  # nobody graded as 0 by a broken worker
    assert len(results) < 4  # the batch stopped: the rest wait for the next run
