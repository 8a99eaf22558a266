"""One submission graded on a cluster worker: the task, and what it hands back.

The task runs the local batch's own worker process (`python -m grader.batch.worker`), so a
submission graded on a cluster goes through exactly the sandbox, limits and pipeline of a local
batch: a student's hang, fork bomb or memory hog ends as that run's status inside the process,
never as an exception of the task. The task itself fails only when its worker dies; Dask then
reruns it elsewhere (the scheduler's `allowed-failures`).

Before the process starts, the worker's scratch store receives what the client sent: the runs
the client's store already holds and the memo entries of the protocol's reference runs, so the
sandbox is served those fits read-only by exact key, as locally. The task returns plain data:
the report and result.json as text, the runs and memo entries that appeared in the scratch store
while it ran (for the client's store), and which worker did it.

The job text is the local batch's (`batch.worker.job`), identity included: the worker's
result.json names the student's LMS, LMS user id and late mark exactly as a local run does,
although the file is graded here under a scratch path.
"""

from __future__ import annotations

import json
import signal
import socket
import tempfile
from pathlib import Path

from ..memo import MemoStore
from ..retrain.cache import Cache
from ..workerproc import Worker
from ..retrain.dask import local_environment, scratch_dir

RESULT_FILES = ("notebook.html", "report.html", "result.json")  # notebook.html: when the run had one
PROGRESS_TOPIC = "grader-progress"


def seed_scratch(cache: Cache | None, store: MemoStore | None, bundle: dict, references: tuple) -> None:
    """Put what the client sent into this worker's scratch store (what is there already stays)."""
    if cache is not None:
        for key, value in json.loads(bundle.get("runs") or "{}").items():
            if cache.get(key) is None:
                cache.put(key, value)
        for reference in references:
            if cache.get(reference["key"]) is None:
                cache.put(reference["key"], json.loads(reference["value"]))
    if store is not None:
        for name, entry in (bundle.get("entries") or {}).items():
            store.put(name, entry)
        for reference in references:
            for name, entry in (reference.get("entries") or {}).items():
                store.put(name, entry)


def _keys(cache: Cache | None) -> set:
    return set(cache.items()) if cache is not None else set()


def grade_task(job_text: str, filename: str, content: bytes, rubric_text: str | None, bundle: dict,
               *references) -> dict:
    """On a worker: grade one submission; {"worker", "host", "outcome", "code", "files", "runs", "entries"}."""
    from distributed import get_worker

    worker = get_worker()
    local_environment()
    payload = json.loads(job_text)
    options = dict(payload["options"])
    scratch = scratch_dir()
    cache = Cache(scratch) if options.get("cache_dir") else None
    store = MemoStore(scratch) if options.get("cache_dir") else None
    seed_scratch(cache, store, bundle, references)
    runs_before, entries_before = _keys(cache), set(store.keys()) if store else set()
    student = payload["student"]
    outcome: dict = {}
    with tempfile.TemporaryDirectory(prefix="grader-task-", dir=scratch) as tmp:
        folder = Path(tmp)
        path = folder / "in" / Path(filename).name
        path.parent.mkdir()
        path.write_bytes(content)
        if rubric_text is not None:
            (folder / "rubric.json").write_text(rubric_text, encoding="utf-8")
            payload["rubric"] = str(folder / "rubric.json")
        options.update(out=str(folder / "out"), cache_dir=str(scratch) if cache is not None else None,
                       references=False, cluster=worker.scheduler.address, quiet=True)
        payload.update(path=str(path), options=options)
        # leaving the block ends whatever the process left in its session (a kernel, a trainer)
        with Worker("grader.batch.worker", stderr=False, die_with_parent=signal.SIGTERM) as process:
            process.send(payload, last=True)
            for message in process.messages():
                if "stage" in message:
                    worker.log_event(PROGRESS_TOPIC, {"student": student, "stage": str(message["stage"]),
                                                      "detail": str(message.get("detail", ""))[:200]})
                elif {"done", "error", "fatal"} & set(message):
                    outcome = message
            code = process.wait()
        files = {}
        for name in RESULT_FILES:
            try:
                files[name] = (folder / "out" / student / name).read_text(encoding="utf-8")
            except OSError:
                continue
    runs = {key: cache.get(key) for key in _keys(cache) - runs_before} if cache is not None else {}
    entries = {name: store.read(name) for name in set(store.keys()) - entries_before} if store else {}
    return {"worker": worker.address, "host": socket.gethostname(), "outcome": outcome, "code": code,
            "files": files, "runs": json.dumps({k: v for k, v in runs.items() if v is not None}),
            "entries": {k: v for k, v in entries.items() if v}}


__all__ = ["grade_task", "seed_scratch", "RESULT_FILES", "PROGRESS_TOPIC"]
