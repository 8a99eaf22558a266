"""Run a list of RunSpecs: from the cache where possible, else in parallel worker processes.

Training happens in `python -m grader.retrain.worker` (JSON lines in and out, grader/workerproc.py), so TensorFlow's
state never leaks into the grader and a crash costs one RetrainError. With a memo store, the
workers serve fits already trained and record the ones they train (grader/memo).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time

from ..data import Dataset
from ..errors import RetrainError, WorkerError
from ..kinds import RunKind
from ..messages import msg
from ..rubric import Protocol
from .cache import Cache
from .specs import RunResult, RunSpec
from ..workerproc import TRAINING_ENV, Registry, Worker
from .worker import ANNOUNCE

_LIVE = Registry()  # training workers running now, for stop_workers()


def stop_workers() -> None:
    """Kill every training worker this process started (an interrupted run, a stopped thread)."""
    _LIVE.kill_all()


VALUE_KEYS = ("history", "kernel_norms_before", "kernel_norms_after", "duration_s", "activations", "extra", "memo")


def _result(spec: RunSpec, key: str, value: dict, cached: bool) -> RunResult:
    return RunResult(spec.label, spec.seed, value["history"], value["kernel_norms_before"],
                     value["kernel_norms_after"], value["duration_s"], cached, key,
                     value.get("activations") or {}, value.get("extra") or {}, value.get("memo") or {})


def run_all(specs: list[RunSpec], protocol: Protocol, dataset: Dataset, cache: Cache,
            progress=lambda message: None, cache_only: bool = False, memo_store=None,
            workers: int | None = None, on_announced=lambda: None, trainer=None) -> list[RunResult]:
    """Results in the order of `specs`. Cached keys are not retrained; equal keys train once;
    a key another process is training is waited for (a file lock per key), never trained twice.
    With `cache_only`, a missing key raises RetrainError instead of training. `memo_store`: the
    training memo the workers serve from and record into; `workers`: how many in parallel;
    `on_announced()`: called once every training to come is marked pending (or none is).
    `trainer`: what trains the missing keys, with `train`'s signature (default `train`, local
    processes; a cluster run passes grader.cluster's, which makes each key one Dask task)."""
    try:
        return _run_all(specs, protocol, dataset, cache, progress, cache_only, memo_store, workers, on_announced,
                        trainer or train)
    finally:
        on_announced()


def _run_all(specs, protocol, dataset, cache, progress, cache_only, memo_store, workers, on_announced, trainer):
    keys = [spec.key(protocol, dataset) for spec in specs]
    found: dict[str, tuple[dict, bool]] = {}
    for key in dict.fromkeys(keys):
        hit = cache.get(key)
        if hit is not None:
            found[key] = (hit, True)
    missing = [key for key in dict.fromkeys(keys) if key not in found]
    if missing and cache_only:
        raise RetrainError(msg("retrain.not_cached", missing=len(missing), total=len(set(keys))))
    if missing:
        first_spec = {key: specs[keys.index(key)] for key in missing}
        with cache.claim(missing) as (mine, theirs):
            if mine:
                for key, value in trainer([(key, first_spec[key]) for key in mine], protocol, dataset, progress,
                                          memo_store, workers, on_announced):
                    cache.put(key, value)
                    cache.release(key)
                    found[key] = (value, False)
            for key in theirs:
                cache.wait(key)
                hit = cache.get(key)
                if hit is None:  # the other process failed: train it here
                    (_, hit), = trainer([(key, first_spec[key])], protocol, dataset, progress, memo_store, 1)
                    cache.put(key, hit)
                    found[key] = (hit, False)
                else:
                    found[key] = (hit, True)
    return [_result(spec, key, *found[key]) for spec, key in zip(specs, keys)]


class Pending:
    """The `<key>.pending` markers of announced trainings, kept fresh until each is trained (the
    worker that trains a key removes its marker; whatever is left is removed at the end)."""

    TOUCH_EVERY_S = 20

    def __init__(self, store) -> None:
        self.store = store
        self.markers: list = []
        self._touched = 0.0

    def mark(self, keys: dict) -> None:
        if self.store is None:
            return
        for key in keys.values():
            if isinstance(key, str) and not self.store.has(key):
                marker = self.store.folder / f"{key}.pending"
                try:
                    marker.touch()
                    marker.chmod(0o644)
                    self.markers.append(marker)
                except OSError:
                    continue
        self._touched = time.monotonic()

    def touch(self) -> None:
        if not self.markers or time.monotonic() - self._touched < self.TOUCH_EVERY_S:
            return
        self._touched = time.monotonic()
        for marker in list(self.markers):
            try:
                os.utime(marker)
            except OSError:  # trained: its worker removed it
                self.markers.remove(marker)

    def clear(self) -> None:
        for marker in self.markers:
            with contextlib.suppress(OSError):
                marker.unlink()
        self.markers = []


def worker_count(jobs: int, requested: int | None = None) -> int:
    """Parallel training processes: one per core by default (batch-32 steps of a small MLP leave
    a core mostly idle in per-step overhead), never more than there are jobs."""
    wanted = requested if requested else (os.cpu_count() or 1)
    return max(1, min(jobs, wanted))


def train(items: list[tuple[str, RunSpec]], protocol: Protocol, dataset: Dataset, progress, memo_store=None,
          workers: int | None = None, on_announced=lambda: None, die_with_parent: bool = False):
    """Yield (key, value) as worker processes finish each run; each worker is handed its next job
    when it answers the last one. A run's result does not depend on which worker trained it
    (seeded, op determinism on, the same threads in each). `die_with_parent`: the workers get
    SIGKILL when this process dies (a Dask worker killed mid-task leaves no trainer behind)."""
    header = {"protocol": protocol.to_json(), "data": str(dataset.folder),
              "memo": {"store": str(memo_store.folder), "serve": True, "record": True} if memo_store else None}
    jobs: queue.Queue = queue.Queue()
    listed = [{"id": key, "label": spec.label, "model": spec.model, "seed": spec.seed, "epochs": spec.epochs,
               "kind": str(spec.kind)} for key, spec in items]
    trainings = [job for job in listed if job["kind"] == str(RunKind.TRAIN)]
    if memo_store is None or not trainings:
        on_announced()
    else:
        # first, one worker computes the fit keys of every training to come and the client marks
        # them pending, so a notebook that reaches one of them before a worker does waits for it
        jobs.put({"id": ANNOUNCE, "kind": ANNOUNCE, "jobs": trainings})
    for job in listed:
        jobs.put(job)
    pending = Pending(memo_store)
    results: queue.Queue = queue.Queue()
    started = []
    try:
        for _ in range(worker_count(len(items), workers)):
            started.append(Worker("grader.retrain.worker", env=TRAINING_ENV, registry=_LIVE,
                                  die_with_parent=signal.SIGKILL if die_with_parent else None))
    except BaseException:
        for worker in started:
            worker.close()
        raise

    def drive(worker: Worker) -> None:
        """Feed one worker job by job; report each line; a dead worker ends with an error."""
        try:
            worker.send(header)
            while True:
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    break
                worker.send(job)
                for message in worker.messages():
                    if "progress" in message:
                        results.put(("progress", message["progress"]))
                        continue
                    if "announce" in message:
                        results.put(("announce", message["announce"]))
                        break
                    results.put(("done", (message["id"], {k: message.get(k) for k in VALUE_KEYS})))
                    break
                else:
                    raise worker.died()
            worker.close_input()
            if worker.wait() != 0:
                raise worker.died()
        except (OSError, ValueError, KeyError, WorkerError):
            results.put(("failed", worker.stderr_tail()))
        finally:
            results.put(("exit", None))

    threads = [threading.Thread(target=drive, args=(worker,), daemon=True) for worker in started]
    for thread in threads:
        thread.start()
    try:
        done, running, failure = 0, len(threads), None
        while running:
            kind, value = results.get()
            if kind == "progress":
                progress(value)
                pending.touch()
            elif kind == "announce":
                pending.mark(value)
                on_announced()
            elif kind == "done":
                done += 1
                yield value
            elif kind == "failed":
                failure = value if failure is None else failure
            else:
                running -= 1
        if failure is not None or done != len(items):
            raise RetrainError(msg("retrain.worker_failed"), hint=failure or "")
    finally:  # interrupted, or the caller stopped early: no worker outlives its client
        pending.clear()
        for worker in started:
            worker.close()


__all__ = ["run_all", "train", "worker_count", "stop_workers", "VALUE_KEYS"]
