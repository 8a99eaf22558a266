"""The JSON-lines worker helper, on real processes (tests/toy_worker.py): an exchange, garbage
skipped, a worker that dies mid-job, a timeout, and a grandchild that goes with the tree."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader import leftovers, workerproc
from grader.errors import WorkerError, WorkerTimeout
from grader.messages import msg, render

HERE = str(Path(__file__).resolve().parent)


def toy(**kwargs) -> workerproc.Worker:
    path = os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH", "")) if p)
    return workerproc.Worker("toy_worker", env={"PYTHONPATH": path, **kwargs.pop("env", {})}, **kwargs)


def test_an_exchange_job_by_job_then_a_clean_exit():
    with toy(env=workerproc.TRAINING_ENV) as worker:
        answers = []
        for n in range(3):
            worker.send({"do": "echo", "n": n})
            answers.append(next(worker.messages(timeout=30)))
        worker.close_input()
        assert list(worker.messages(timeout=30)) == []
        assert worker.wait(timeout=30) == 0
    assert answers == [{"echo": {"do": "echo", "n": n}} for n in range(3)]


def test_lines_that_are_not_json_objects_are_skipped():
    with toy() as worker:
        worker.send({"do": "garbage"}, last=True)
        assert list(worker.messages(timeout=30)) == [{"echo": {"do": "garbage"}}]


def test_a_worker_that_dies_mid_job_says_why_with_its_stderr():
    with toy() as worker:
        worker.send({"do": "echo"})
        worker.send({"do": "die"})
        got = list(worker.messages(timeout=30))
        error = worker.died()
    assert got == [{"echo": {"do": "echo"}}]  # the answer before it died, then the end of its output
    assert isinstance(error, WorkerError) and error.code == 3
    assert "boom: the toy worker failed on purpose" in error.stderr and error.stderr == error.hint
    assert render(msg("worker.died", module="toy_worker", code=3), "en") in error.render("en")


def test_the_stderr_tail_is_bounded():
    with toy() as worker:
        worker.send({"do": "die"}, last=True)
        worker.wait(timeout=30)
        tail = worker.stderr_tail(limit=20)
    assert tail == "failed on purpose"[-20:] or (len(tail) <= 20 and tail.endswith("failed on purpose"))


def test_a_silent_worker_times_out_and_is_ended():
    with toy() as worker:
        worker.send({"do": "hang"})
        started = time.monotonic()
        with pytest.raises(WorkerTimeout) as caught:
            list(worker.messages(timeout=1))
        assert time.monotonic() - started < 30
        with pytest.raises(WorkerTimeout):
            worker.wait(timeout=0.5)
    assert worker.process.returncode is not None  # leaving the block ended it
    assert render(msg("worker.timeout", module="toy_worker", seconds=1), "en") in caught.value.render("en")


@pytest.mark.parametrize("setsid", [False, True])
def test_a_grandchild_goes_with_the_tree(setsid):
    with toy() as worker:
        worker.send({"do": "grandchild", "setsid": setsid})
        pid = next(worker.messages(timeout=30))["grandchild"]
        grandchild = leftovers.identity(pid)
        assert grandchild is not None
    assert not leftovers.alive(pid, grandchild.start)


def test_the_registry_kills_what_runs_now_from_another_thread():
    registry = workerproc.Registry()
    with toy(registry=registry) as worker:
        assert registry.live() == [worker]
        worker.send({"do": "hang"})
        registry.kill_all()
        assert list(worker.messages(timeout=30)) == []
        assert worker.wait(timeout=30) == -9
    assert registry.live() == []


def test_stop_all_asks_first_then_ends_the_trees():
    workers = [toy() for _ in range(2)]
    try:
        for worker in workers:
            worker.send({"do": "hang"})
        workerproc.stop_all(workers, grace_s=5)
        assert [w.process.returncode for w in workers] == [-15, -15]  # SIGTERM was enough for these
    finally:
        for worker in workers:
            worker.close()
