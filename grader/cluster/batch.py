"""A class graded on a Dask cluster, written on the client exactly as a local batch writes it.

The client plans the batch as the local one does (`batch.plan_batch`: who is new, who is
unchanged), checks the workers (`connect.check_workers`), then:

1. sends what its store holds (every retraining run, and the memo entries of the protocol's
   reference runs) once, as one scattered object each worker fetches when it first needs it;
2. submits the reference runs it lacks as training tasks (`retrain.dask.train_task`, keyed by their
   content), which every grading task takes as arguments, so the first notebooks are served
   their protocol fits instead of training them in every sandbox;
3. submits one grading task per submission (`grading.grade_task`) and, as each finishes, writes
   its report and result.json into OUT/<student>/ (result.json gains a `cluster` field naming
   the worker) and the runs and memo entries it brought into the client's store, which outlives
   the cluster.

A task whose worker died on each try (KilledWorker) or that failed is that student's
grader_error, regraded on the next run; it never stops the batch. Killing the client loses
only what had not been written: a rerun regrades just that.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from .. import data as data_module
from ..batch import finish_batch, plan_batch, write_error
from ..batch.progress import Progress
from ..batch.worker import job
from ..errors import ClusterError, NotReady
from ..kinds import GradeStatus, RetrainMode
from ..memo import MemoStore
from ..messages import msg
from ..pipeline import Options, fingerprint, memo_settings
from ..readiness import BATCH_STOPPING
from ..report import write_text_atomic
from ..report.terminal import score_text
from ..retrain.cache import Cache
from ..retrain.plan import reference_specs
from ..rubric import Rubric
from .connect import ClusterSpec, check_workers, dashboard, open_cluster
from .grading import PROGRESS_TOPIC, RESULT_FILES, grade_task
from ..retrain.dask import (GRADE, RUN_PREFIX, TRAIN, TRAIN_PRIORITY, TRAINED_TOPIC, accept_run, run_key, train_job,
                       train_task)

MAX_FILE_BYTES = 64 << 20  # a report or result larger than this from a worker is refused


def _bundle(cache: Cache, store: MemoStore | None, reference_keys: list[str]) -> dict:
    """What the client's store holds, for the workers: every run, and the reference runs' entries."""
    runs = cache.items()
    entries = {}
    if store is not None:
        for key in reference_keys:
            for name in (runs.get(key, {}).get("memo") or {}).get("entries", []):
                raw = store.read(name)
                if raw is not None:
                    entries[name] = raw
    return {"runs": json.dumps(runs), "entries": entries}


def _accept(payload: dict, entry, options: Options, cache: Cache, store: MemoStore | None) -> dict:
    """Write one task's answer on the client; the result's summary line fields. Anything a worker
    sends is checked for shape before it is written: it names only this student's files."""
    files = payload.get("files") or {}
    if set(files) - set(RESULT_FILES) or any(not isinstance(v, str) or len(v) > MAX_FILE_BYTES for v in files.values()):
        raise ValueError("unexpected files from the worker")
    for key, value in json.loads(payload.get("runs") or "{}").items():
        if isinstance(key, str) and len(key) == 64 and isinstance(value, dict) and cache.get(key) is None:
            cache.put(key, value)
    if store is not None:
        for name, raw in (payload.get("entries") or {}).items():
            store.put(name, raw)
    if "result.json" not in files or "report.html" not in files:
        raise ValueError("the worker sent no result")
    result = json.loads(files["result.json"])
    if result.get("student") != entry.student:
        raise ValueError("the worker's result names another student")
    result["cluster"] = {"worker": payload.get("worker", ""), "host": payload.get("host", "")}
    folder = Path(options.out) / entry.student
    if "notebook.html" in files:  # the student's notebook, then the report, then result.json, as write_result does
        write_text_atomic(folder / "notebook.html", files["notebook.html"])
    write_text_atomic(folder / "report.html", files["report.html"])
    write_text_atomic(folder / "result.json", json.dumps(result, indent=1, ensure_ascii=False))
    return result


def runs_asked(result: dict) -> int:
    """How many training runs a graded submission needed (each from the store, the cluster's
    memory, or a training): its protocol runs, its exercises' runs and its extra seeds' runs."""
    retraining = result.get("retraining") or {}
    protocol_seed = str((retraining.get("protocol") or {}).get("seed"))
    extra = sum(len(runs) for seed, runs in (retraining.get("seeds") or {}).items() if seed != protocol_seed)
    return len(retraining.get("runs") or {}) + len(retraining.get("exercises") or {}) + extra


def _references(client, rubric: Rubric, options: Options, dataset, cache: Cache) -> tuple[list, list[str]]:
    """(futures of the reference runs the client's store lacks, every reference key)."""
    if memo_settings(rubric, options).store is None or options.retrain != RetrainMode.RUN:
        return [], []
    futures, keys = [], []
    for spec in reference_specs(rubric):
        key = spec.key(rubric.protocol, dataset)
        keys.append(key)
        if cache.get(key) is None:
            futures.append(client.submit(train_task, train_job(key, spec, rubric.protocol, dataset, options.data_dir),
                                         key=run_key(key), resources={TRAIN: 1}, priority=TRAIN_PRIORITY))
    return futures, keys


def _settle(future, entry, took: float | None, rubric: Rubric, options: Options, cache: Cache,
            store: MemoStore | None, progress: Progress) -> tuple[int, tuple[str, str] | None]:
    """One finished grading task: its files written, or that student's grader_error; the
    number of training runs the submission asked for (0 when it was not graded), and, when its
    worker's environment failed (a fault every other submission there would hit too), who and why."""
    try:
        payload = future.result()
    except Exception as exc:  # KilledWorker (its worker died on every try), or the task failed
        error = f"{type(exc).__name__}: {exc}"[:500]
        write_error(entry, GradeStatus.GRADER_ERROR, msg("cluster.task_failed", error=error), rubric, options)
        progress.finish(entry.student, msg("batch.grader_error", student=entry.student, error=error[:200]), took)
        return 0, None
    outcome = payload.get("outcome") or {}
    try:
        if "done" in outcome:
            asked = runs_asked(_accept(payload, entry, options, cache, store))
            done = outcome["done"]
            progress.finish(entry.student, f"{entry.student}: {score_text(done['score'], done['max_score'], '/')} "
                            f"({done['status']}) · {payload.get('host', '')}", took)
            halt = None
            if done.get("fault") in BATCH_STOPPING:
                halt = (entry.student, f"{done.get('reason') or ''} ({payload.get('host', '')})")
            return asked, halt
    except ValueError as exc:  # a worker's answer of the wrong shape: this student's error
        outcome = {"error": f"{exc}"}
    error = str(outcome.get("error") or outcome.get("fatal") or msg("batch.worker_died", code=payload.get("code")))
    write_error(entry, GradeStatus.GRADER_ERROR, error, rubric, options)
    progress.finish(entry.student, msg("batch.grader_error", student=entry.student, error=error[:200]), took)
    return 0, None


def grade_folder_on_cluster(folder: Path, rubric: Rubric, options: Options, spec: ClusterSpec, force: bool = False,
                            rubric_path: Path | None = None, stream=sys.stderr, lang: str | None = None) -> dict:
    """Grade every submission in `folder` on the cluster `spec`; the class summary, as `grade_folder`."""
    from distributed import as_completed, wait

    plan = plan_batch(folder, rubric, options, force, stream, lang)
    say = plan.say
    rubric_text = Path(rubric_path).read_text(encoding="utf-8") if rubric_path else None
    dataset = data_module.locate(options.data_dir)
    cache = Cache(options.cache_dir)
    store = MemoStore(options.cache_dir) if options.cache_dir is not None else None
    with open_cluster(spec, plan.lang) as client:
        workers = check_workers(client, options.data_dir, rubric_text)
        say(msg("cluster.connected", address=client.scheduler.address, n=len(workers)))
        link = dashboard(client)
        if link:
            say(msg("cluster.dashboard", link=link))
        progress = Progress(len(plan.todo), len(workers), plan.lang, stream)
        if plan.reused:
            say(msg("batch.unchanged", names=", ".join(plan.reused)))
        started: dict[str, float] = {}

        def on_progress(event) -> None:
            _, data = event
            student = data.get("student", "")
            started.setdefault(student, time.monotonic())
            progress.update(student, data.get("stage", ""), data.get("detail", ""))

        client.subscribe_topic(PROGRESS_TOPIC, on_progress)
        trained: list = []
        client.subscribe_topic(TRAINED_TOPIC, lambda event: trained.append(event[1]))
        asked = 0
        references, reference_keys = _references(client, rubric, options, dataset, cache) if plan.todo else ([], [])
        references_s = 0.0
        if references:
            say(msg("cluster.references", n=len(references)))
            began = time.monotonic()
            wait(references)  # no grading could start before them anyway: each takes them as arguments
            references_s = time.monotonic() - began
            failed = [f for f in references if f.status != "finished"]
            if failed:  # a grading must not fail with them: its own retraining trains what is missing
                why = failed[0].exception() if failed[0].status == "error" else failed[0].status
                say(msg("cluster.references_failed", n=len(failed), error=str(why)[:300]))
                references = [f for f in references if f.status == "finished"]
        bundle = client.scatter(_bundle(cache, store, reference_keys), hash=False)
        worker_options = replace(options, references=False, quiet=True)
        futures = {}
        for entry in plan.todo:
            if entry.path is None:
                write_error(entry, GradeStatus.INVALID_SUBMISSION, entry.note, rubric, options)
                progress.finish(entry.student, msg("batch.invalid", student=entry.student, note=entry.note), None)
                continue
            content = entry.path.read_bytes()
            # the fingerprint (content, rubric, protocol, version, options): two clients grading
            # the same file the same way may share a task, never one graded another way
            task_key = f"grader-grade-{entry.student}-{fingerprint(hashlib.sha256(content).hexdigest(), rubric, options)[:20]}"
            future = client.submit(grade_task, job(entry.path, entry.student, None, rubric, worker_options, entry.who),
                                   entry.path.name, content, rubric_text, bundle, *references, key=task_key,
                                   resources={GRADE: 1}, pure=False)
            futures[future] = entry
        halted: tuple[str, str] | None = None  # (student, reason): a worker's environment failed
        try:
            for future in as_completed(futures, loop=client.loop):
                if future not in futures:  # cancelled below, after a fault that stops the batch
                    continue
                entry = futures.pop(future)
                began = started.get(entry.student)
                took = time.monotonic() - began if began is not None else None
                settled, halt = _settle(future, entry, took, rubric, options, cache, store, progress)
                asked += settled
                if halt is not None and halted is None:
                    # as a local batch does: no other task starts, the running ones are cancelled without a result
                    # (graded again next run), the results written stay
                    halted = halt
                    for other in list(futures):
                        other.cancel()
                    futures.clear()
                    break
            for future in references:  # into the client's store, which outlives the cluster
                if future.status == "finished":
                    key, value = accept_run(future.result(), store)
                    if cache.get(key) is None:
                        cache.put(key, value)
            time.sleep(0.5)  # the last workers' events are on their way
            say(msg("cluster.trainings", computed=len(trained), asked=asked + len(references)))
        finally:
            for future in list(futures):
                future.cancel()
            for name in client.list_datasets():
                if str(name).startswith(RUN_PREFIX):
                    client.unpublish_dataset(name)
    summary = finish_batch(plan, rubric, options)
    if halted is not None:
        raise NotReady(msg("batch.stopped_environment", student=halted[0], reason=halted[1]))
    summary["cluster"] = {"workers": len(workers), "trainings_computed": len(trained),
                          "trainings_asked": asked + len(references), "references_trained": len(references),
                          "references_s": round(references_s, 1)}
    return summary


__all__ = ["grade_folder_on_cluster", "runs_asked", "ClusterSpec", "ClusterError"]
