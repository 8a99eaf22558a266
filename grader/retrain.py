"""Stage 3b: the grader's own training of a student's architecture under the rubric protocol.

A run is a pure function of (canonical model description, seed, protocol, data checksum,
TensorFlow version, thread settings), so its result is cached under a hash of exactly those
inputs and shared by every submission that asks for the same thing. Training happens in a
separate worker process (`python -m grader.retrain`): JSON jobs on stdin, JSON lines out.
"""

from __future__ import annotations

import hashlib
import json
import os
import contextlib
import fcntl
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .data import Dataset
from .errors import RetrainError
from .rubric import Protocol


def tf_version() -> str:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


@dataclass(frozen=True)
class RunSpec:
    label: str  # e.g. "he_normal"
    model: dict  # ModelDesc.to_json()
    seed: int
    epochs: int | None = None  # None: the protocol's
    kind: str = "train"  # "train" | "repro" (exercise 5: seeded and unseeded twice, 1 short epoch)

    def key(self, protocol: Protocol, dataset: Dataset) -> str:
        material = {"model": self.model, "seed": self.seed, "protocol": protocol.to_json(), "epochs": self.epochs,
                    "kind": self.kind, "data": dataset.checksum, "tf": tf_version(), "threads": protocol.threads, "v": 2}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RunResult:
    label: str
    seed: int
    history: dict  # metric -> list per epoch
    kernel_norms_before: list
    kernel_norms_after: list
    duration_s: float
    cached: bool = False
    key: str = ""
    activations: dict = field(default_factory=dict)  # "init"/"trained" -> per Dense layer {var, hist, edges}
    extra: dict = field(default_factory=dict)  # repro probe results

    @property
    def final_val_accuracy(self) -> float:
        return float(self.history["val_accuracy"][-1])

    def to_json(self) -> dict:
        return {"label": self.label, "seed": self.seed, "history": self.history,
                "kernel_norms_before": self.kernel_norms_before, "kernel_norms_after": self.kernel_norms_after,
                "duration_s": self.duration_s, "cached": self.cached, "extra": self.extra}


class Cache:
    """An embedded key → JSON store (SQLite); safe to share between processes."""

    def __init__(self, folder: Path | None) -> None:
        self.path = None if folder is None else Path(folder) / "retrain.sqlite"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def get(self, key: str) -> dict | None:
        if self.path is None:
            return None
        with self._connect() as db:
            row = db.execute("SELECT value FROM runs WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            value = json.loads(row[0])
            if isinstance(value.get("history"), dict) and isinstance(value.get("kernel_norms_after"), list) \
                    and isinstance(value.get("duration_s"), (int, float)) and isinstance(value.get("extra", {}), dict):
                return value
        except (ValueError, AttributeError):
            pass
        self.delete(key)  # a corrupt entry is recomputed, never trusted
        return None

    def put(self, key: str, value: dict) -> None:
        if self.path is None:
            return
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)", (key, json.dumps(value), time.time()))

    def delete(self, key: str) -> None:
        if self.path is None:
            return
        with self._connect() as db:
            db.execute("DELETE FROM runs WHERE key = ?", (key,))

    # one lock file per key being trained: held while training, so no two processes train it
    def _lock_path(self, key: str) -> Path | None:
        if self.path is None:
            return None
        folder = self.path.parent / "locks"
        folder.mkdir(exist_ok=True)
        return folder / f"{key}.lock"

    @contextlib.contextmanager
    def claim(self, keys: list[str]):
        """(mine, theirs): keys this process locked and must train, keys someone else holds."""
        self._held: dict[str, int] = {}
        mine, theirs = [], []
        for key in keys:
            path = self._lock_path(key)
            if path is None:
                mine.append(key)
                continue
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                theirs.append(key)
                continue
            if self.get(key) is not None:  # finished between our lookup and the lock
                os.close(fd)
                theirs.append(key)
                continue
            self._held[key] = fd
            mine.append(key)
        try:
            yield mine, theirs
        finally:
            for key in list(self._held):
                self.release(key)

    def release(self, key: str) -> None:
        fd = getattr(self, "_held", {}).pop(key, None)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def wait(self, key: str) -> None:
        path = self._lock_path(key)
        if path is None:
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            os.close(fd)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "grader"


VALUE_KEYS = ("history", "kernel_norms_before", "kernel_norms_after", "duration_s", "activations", "extra")


def _result(spec: RunSpec, key: str, value: dict, cached: bool) -> RunResult:
    return RunResult(spec.label, spec.seed, value["history"], value["kernel_norms_before"],
                     value["kernel_norms_after"], value["duration_s"], cached, key,
                     value.get("activations") or {}, value.get("extra") or {})


def run_all(specs: list[RunSpec], protocol: Protocol, dataset: Dataset, cache: Cache,
            progress=lambda message: None, cache_only: bool = False) -> list[RunResult]:
    """Results in the order of `specs`. Cached keys are not retrained; equal keys train once;
    a key another process is training is waited for (a file lock per key), never trained twice.
    With `cache_only`, a missing key raises RetrainError instead of training."""
    keys = [spec.key(protocol, dataset) for spec in specs]
    found: dict[str, tuple[dict, bool]] = {}
    for key in dict.fromkeys(keys):
        hit = cache.get(key)
        if hit is not None:
            found[key] = (hit, True)
    missing = [key for key in dict.fromkeys(keys) if key not in found]
    if missing and cache_only:
        raise RetrainError(f"{len(missing)} de {len(set(keys))} entrenamientos del grader no están en la caché")
    if missing:
        first_spec = {key: specs[keys.index(key)] for key in missing}
        with cache.claim(missing) as (mine, theirs):
            if mine:
                for key, value in _train([(key, first_spec[key]) for key in mine], protocol, dataset, progress):
                    cache.put(key, value)
                    cache.release(key)
                    found[key] = (value, False)
            for key in theirs:
                cache.wait(key)
                hit = cache.get(key)
                if hit is None:  # the other process failed: train it here
                    (_, hit), = _train([(key, first_spec[key])], protocol, dataset, progress)
                    cache.put(key, hit)
                    found[key] = (hit, False)
                else:
                    found[key] = (hit, True)
    return [_result(spec, key, *found[key]) for spec, key in zip(specs, keys)]


def _train(items: list[tuple[str, RunSpec]], protocol: Protocol, dataset: Dataset, progress):
    """Yield (key, value) as the worker process finishes each run."""
    jobs = [{"id": key, "label": spec.label, "model": spec.model, "seed": spec.seed, "epochs": spec.epochs, "kind": spec.kind}
            for key, spec in items]
    payload = {"protocol": protocol.to_json(), "data": str(dataset.folder), "jobs": jobs}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([sys.executable, "-m", "grader.retrain"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
        process.stdin.write(json.dumps(payload))
        process.stdin.close()
        done = 0
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "progress" in message:
                progress(message["progress"])
                continue
            done += 1
            yield message["id"], {k: message.get(k) for k in VALUE_KEYS}
        if process.wait() != 0 or done != len(items):
            errors.seek(0)
            raise RetrainError("el entrenamiento del grader falló", hint=errors.read().strip()[-2000:])


# --- worker side ------------------------------------------------------------------------------

def _worker() -> None:
    payload = json.loads(sys.stdin.read())
    protocol = Protocol(**payload["protocol"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    import keras

    from . import data
    from .modeldesc import to_keras

    tf.config.threading.set_intra_op_parallelism_threads(protocol.threads)
    tf.config.threading.set_inter_op_parallelism_threads(protocol.threads)
    tf.config.experimental.enable_op_determinism()
    folder = Path(payload["data"])
    (x_all, y_all), _ = data.load(Dataset(folder, False, "", 0, 0))
    x_all = x_all.astype("float32") / protocol.pixel_scale
    val = protocol.validation_size
    x_val, y_val, x_train, y_train = x_all[:val], y_all[:val], x_all[val:], y_all[val:]
    probe = x_val[:256]

    def dense_outputs(model, x):
        """Variance and histogram of each Dense layer's output for one fixed batch."""
        stats, h = [], x
        for layer in model.layers:
            h = layer(h)
            if isinstance(layer, keras.layers.Dense):
                values = np.asarray(h, dtype=np.float64).ravel()
                lo, hi = np.percentile(values, [0.5, 99.5])
                hist, edges = np.histogram(values, bins=40, range=(float(lo), float(hi) if hi > lo else float(lo) + 1e-6))
                stats.append({"var": float(values.var()), "hist": hist.tolist(), "edges": edges.tolist()})
        return stats

    for job in payload["jobs"]:
        started = time.monotonic()
        epochs = int(job.get("epochs") or protocol.epochs)
        shape = tuple(job["model"]["input_shape"])
        xt, xv = x_train.reshape((-1, *shape)), x_val.reshape((-1, *shape))
        optimizer = lambda: keras.optimizers.get({"class_name": protocol.optimizer, "config": {"learning_rate": protocol.learning_rate}})
        if job.get("kind") == "repro":
            def weights_after(seed):
                if seed is not None:
                    keras.utils.set_random_seed(seed)
                model = to_keras(job["model"])
                model.compile(optimizer=optimizer(), loss=protocol.loss)
                model.fit(xt[:2000], y_train[:2000], epochs=1, batch_size=protocol.batch_size, verbose=0, shuffle=True)
                return [w.numpy() for w in model.weights]
            same = [weights_after(int(job["seed"])), weights_after(int(job["seed"]))]
            other = [weights_after(None), weights_after(None)]
            identical = all(np.array_equal(a, b) for a, b in zip(*same))
            differs = not all(np.array_equal(a, b) for a, b in zip(*other))
            gap = max(float(np.abs(a - b).max()) for a, b in zip(*same))
            print(json.dumps({"id": job["id"], "history": {}, "kernel_norms_before": [], "kernel_norms_after": [],
                              "duration_s": time.monotonic() - started, "activations": {},
                              "extra": {"same_seed_identical": identical, "no_seed_differs": differs,
                                        "same_seed_max_abs_diff": gap}}), flush=True)
            keras.backend.clear_session()
            continue
        keras.utils.set_random_seed(int(job["seed"]))
        model = to_keras(job["model"])
        norms = lambda: [float(np.linalg.norm(layer.kernel.numpy())) for layer in model.layers
                         if isinstance(layer, keras.layers.Dense)]
        before = norms()
        at_init = dense_outputs(model, probe.reshape((-1, *shape)))
        model.compile(optimizer=optimizer(), loss=protocol.loss, metrics=["accuracy"])

        class Progress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                print(json.dumps({"progress": f"{job['label']} seed {job['seed']}: epoch {epoch + 1}/{epochs}"}), flush=True)

        history = model.fit(xt, y_train, validation_data=(xv, y_val), epochs=epochs,
                            batch_size=protocol.batch_size, verbose=0, callbacks=[Progress()])
        clean = {k: [float(v) for v in values] for k, values in history.history.items()}
        print(json.dumps({"id": job["id"], "history": clean, "kernel_norms_before": before, "kernel_norms_after": norms(),
                          "duration_s": time.monotonic() - started, "extra": {},
                          "activations": {"init": at_init, "trained": dense_outputs(model, probe.reshape((-1, *shape)))}}),
                         flush=True)
        keras.backend.clear_session()


if __name__ == "__main__":
    _worker()

__all__ = ["RunSpec", "RunResult", "Cache", "run_all", "default_cache_dir", "tf_version"]
