"""Who trains a delegated fit: the grader's own training workers, here or on the cluster.

Both run the one training engine, `python -m grader.retrain.worker` (its DELEGATED job), with
the memo recording: the entry a sandbox is served is written by that worker, under the key it
computed itself.

    LocalTrainer    one worker process of this grader, started on the first request and kept
                    for the submission (a notebook's fits come one after another)
    ClusterTrainer  one Dask task per memo key (`grader-fit-<key>`) on a worker with a free
                    training slot; the entry comes back as bytes and is checked into the store
"""

from __future__ import annotations

import json
import signal
import tempfile
from pathlib import Path

from ..errors import WorkerError
from ..retrain.client import _LIVE
from ..retrain.worker import DELEGATED
from ..workerproc import TRAINING_ENV, Worker

FIT_PREFIX = "grader-fit-"


def _header(protocol, data_folder, store) -> dict:
    return {"protocol": protocol.to_json(), "data": str(data_folder),
            "memo": {"store": str(store.folder), "serve": True, "record": True}}


class LocalTrainer:
    def __init__(self, protocol, data_folder: Path, store, *, die_with_parent: bool = False) -> None:
        self.header = _header(protocol, data_folder, store)
        self.die_with_parent = die_with_parent
        self.worker: Worker | None = None
        self.cancelled = False

    def train(self, name: str, path: Path, request, alive) -> dict:
        """{"key", "trained", ...} | {"refused": why} | {"failed": why}; `alive()` on each line."""
        if self.cancelled:
            return {"failed": "cancelled"}
        try:
            if self.worker is None:
                self.worker = Worker("grader.retrain.worker", env=TRAINING_ENV, registry=_LIVE,
                                     die_with_parent=signal.SIGKILL if self.die_with_parent else None)
                self.worker.send(self.header)
            self.worker.send({"id": name, "kind": DELEGATED, "request": str(path)})
            for message in self.worker.messages():
                alive()
                if "delegated" in message:
                    return dict(message["delegated"])
            raise self.worker.died()
        except (OSError, ValueError, WorkerError) as exc:
            worker, tail = self.worker, ""
            if worker is not None:
                try:
                    tail = worker.stderr_tail()
                except Exception:
                    tail = ""
            self.close()
            return {"failed": f"{type(exc).__name__}: {exc} {tail[-200:]}".strip()[:300]}

    def cancel(self) -> None:
        self.cancelled = True
        self.close()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def fit_task(request_bytes: bytes, job_text: str) -> dict:
    """On a cluster worker: train one delegated fit with a local worker and that worker's scratch
    store; the entry's bytes (or why not) go back to the grading process that asked."""
    from ..data import locate
    from ..memo import MemoStore
    from ..retrain.dask import local_environment, scratch_dir
    from ..rubric import Protocol

    local_environment()
    job = json.loads(job_text)
    dataset = locate(job["data_dir"])
    if dataset.checksum != job["checksum"]:
        return {"outcome": {"refused": "this worker's dataset differs"}, "entry": None}
    store = MemoStore(scratch_dir())
    trainer = LocalTrainer(Protocol(**job["protocol"]), dataset.folder, store, die_with_parent=True)
    with tempfile.TemporaryDirectory(prefix="grader-fit-", dir=scratch_dir()) as tmp:
        path = Path(tmp) / "request.req"
        path.write_bytes(request_bytes)
        try:
            outcome = trainer.train("1", path, None, lambda: None)
        finally:
            trainer.close()
    key = outcome.get("key")
    return {"outcome": outcome, "entry": store.read(key) if isinstance(key, str) else None}


class ClusterTrainer:
    """Each delegated fit one Dask task keyed by its memo key: two submissions that ask for the
    same fit at once get one training."""

    def __init__(self, address: str, protocol, dataset, data_dir: str | None, store) -> None:
        self.address, self.store = address, store
        self.job = json.dumps({"protocol": protocol.to_json(), "data_dir": data_dir, "checksum": dataset.checksum})
        self.client = None
        self.future = None
        self.cancelled = False

    def train(self, name: str, path: Path, request, alive) -> dict:
        from distributed import Client

        from ..retrain.dask import TRAIN, TRAIN_PRIORITY

        if self.cancelled:
            return {"failed": "cancelled"}
        if self.client is None:
            self.client = Client(self.address, timeout=30, set_as_default=False)
        self.future = self.client.submit(fit_task, path.read_bytes(), self.job, key=FIT_PREFIX + request.key,
                                         resources={TRAIN: 1}, priority=TRAIN_PRIORITY)
        while True:
            try:
                raw = self.future.result(timeout=5)
                break
            except TimeoutError:
                alive()
                if self.cancelled:
                    return {"failed": "cancelled"}
        outcome, entry = dict(raw.get("outcome") or {}), raw.get("entry")
        if "refused" in outcome or (isinstance(entry, bytes) and self.store.put(request.key, entry)):
            return outcome
        return {"failed": f"no valid entry came back: {outcome}"[:200]}

    def cancel(self) -> None:
        self.cancelled = True
        future = self.future
        if future is not None:
            try:
                future.cancel()
            except Exception:  # the client is closing: the scheduler forgets the task with it
                pass

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


__all__ = ["LocalTrainer", "ClusterTrainer", "fit_task", "FIT_PREFIX"]
