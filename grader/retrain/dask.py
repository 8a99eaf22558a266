"""The grader's training runs as Dask tasks: one task per content key, trained once in the cluster.

A run's Dask key is `grader-run-<RunSpec key>`. Two submissions that need the same run at the
same moment get the same task (the scheduler knows the key and computes it once), and a trained
run is published under that name, so a later request finds it in the cluster's memory instead of
training it again. The task trains on whichever worker has a free `train` slot, with that
worker's scratch store, and returns the run's value and the memo entries the run recorded, as
JSON text and raw entry bytes (never a pickled object of ours); whoever asked writes both into
its own store.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .. import data as data_module
from ..errors import ClusterError, RetrainError
from ..kinds import RunKind
from ..memo import MemoStore
from ..messages import msg
from ..rubric import Protocol
from .client import train
from .specs import RunSpec

RUN_PREFIX = "grader-run-"
TRAINED_TOPIC = "grader-trained"  # one event per run a worker actually trained (the client counts them)
GRADE, TRAIN = "grade", "train"  # the worker resources: grading slots, training slots
TRAIN_PRIORITY = 10  # a training someone waits for goes before the next submission's grading


def run_key(key: str) -> str:
    return RUN_PREFIX + key


def local_environment() -> None:
    """Undo what Dask's nanny put in this worker's environment (OMP_NUM_THREADS=1 and the like,
    `distributed.nanny.pre-spawn-environ`), so that the processes a task starts (the grading
    process, the kernel, the trainer) see the environment a local batch's would: BLAS sums
    in as many threads, hence the same last bits in every statistic."""
    import dask

    for name, value in (dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}).items():
        if os.environ.get(name) == str(value):
            del os.environ[name]


def scratch_dir() -> Path:
    """This worker's own store (retraining cache and memo entries), inside the Dask worker's
    local directory: it goes when the worker goes; the lasting store is the client's."""
    try:
        from distributed import get_worker
        base = Path(get_worker().local_directory)
    except (ImportError, ValueError):  # not inside a worker (a test calling a task directly)
        base = Path(tempfile.gettempdir())
    folder = base / "grader-scratch"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _event(topic: str, data: dict) -> None:
    try:
        from distributed import get_worker
        get_worker().log_event(topic, data)
    except (ImportError, ValueError):  # not inside a worker
        pass


def train_job(key: str, spec, protocol: Protocol, dataset, data_dir: str | None) -> str:
    """The task's one argument besides its key: plain JSON."""
    return json.dumps({"key": key, "label": spec.label, "model": spec.model, "seed": spec.seed, "epochs": spec.epochs,
                       "kind": str(spec.kind), "protocol": protocol.to_json(), "data_dir": data_dir,
                       "checksum": dataset.checksum})


def train_task(job_text: str) -> dict:
    """On a worker: train one run. Refuses (ClusterError) when this worker's data or versions
    would give the run another key than the one asked for: its result would not be that run's."""
    local_environment()
    job = json.loads(job_text)
    protocol = Protocol(**job["protocol"])
    dataset = data_module.locate(job["data_dir"])
    if dataset.checksum != job["checksum"]:
        raise ClusterError(msg("cluster.task_data_differs", folder=str(dataset.folder)))
    spec = RunSpec(job["label"], job["model"], int(job["seed"]), job["epochs"], RunKind(job["kind"]))
    if spec.key(protocol, dataset) != job["key"]:
        raise ClusterError(msg("cluster.task_key_differs"))
    store = MemoStore(scratch_dir())
    ((_, value),) = list(train([(job["key"], spec)], protocol, dataset, lambda message: None, store, 1,
                               die_with_parent=True))
    entries = {name: store.read(name) for name in (value.get("memo") or {}).get("entries", [])}
    _event(TRAINED_TOPIC, {"key": job["key"][:16], "label": spec.label})
    return {"key": job["key"], "value": json.dumps(value), "entries": {k: v for k, v in entries.items() if v}}


def accept_run(raw: dict, memo_store: MemoStore | None) -> tuple[str, dict]:
    """(key, value) of a train_task's answer; its entries go into `memo_store` (each verified)."""
    value = json.loads(raw["value"])
    if memo_store is not None:
        for name, entry in (raw.get("entries") or {}).items():
            memo_store.put(name, entry)
    return raw["key"], value


def cluster_trainer(address: str, data_dir: str | None):
    """A trainer for `run_all` (same signature as `client.train`) that makes each
    missing run a task on the cluster at `address`, instead of a local process."""

    def trainer(items, protocol, dataset, progress, memo_store=None, workers=None, on_announced=lambda: None):
        on_announced()  # nothing to announce: the sandbox that could wait for these has finished
        from distributed import Client, as_completed

        try:
            client = Client(address, timeout=30, set_as_default=False)
        except OSError as exc:
            raise RetrainError(msg("cluster.train_unreachable", address=address, error=str(exc))) from exc
        labels = {key: spec.label for key, spec in items}
        try:
            futures = {client.submit(train_task, train_job(key, spec, protocol, dataset, data_dir), key=run_key(key),
                                     resources={TRAIN: 1}, priority=TRAIN_PRIORITY): key for key, spec in items}
            for future in as_completed(futures, loop=client.loop):
                try:
                    raw = future.result()
                except Exception as exc:  # the task failed on its worker, or every worker that tried it died
                    raise RetrainError(msg("cluster.train_failed", error=f"{type(exc).__name__}: {exc}"[:500])) from exc
                client.publish_dataset(future, name=run_key(futures[future]), override=True)
                key, value = accept_run(raw, memo_store)
                progress(f"{labels.get(key, key[:12])}: ✓")
                yield key, value
        finally:
            client.close()

    return trainer


__all__ = ["RUN_PREFIX", "TRAINED_TOPIC", "GRADE", "TRAIN", "run_key", "local_environment", "scratch_dir", "train_job", "train_task", "accept_run",
           "cluster_trainer"]
