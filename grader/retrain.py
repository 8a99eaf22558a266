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
import sqlite3
import subprocess
import sys
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

    def key(self, protocol: Protocol, dataset: Dataset) -> str:
        material = {"model": self.model, "seed": self.seed, "protocol": protocol.to_json(),
                    "data": dataset.checksum, "tf": tf_version(), "threads": protocol.threads, "v": 1}
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

    @property
    def final_val_accuracy(self) -> float:
        return float(self.history["val_accuracy"][-1])

    def to_json(self) -> dict:
        return {"label": self.label, "seed": self.seed, "history": self.history,
                "kernel_norms_before": self.kernel_norms_before, "kernel_norms_after": self.kernel_norms_after,
                "duration_s": self.duration_s, "cached": self.cached}


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
            if isinstance(value.get("history", {}).get("val_accuracy"), list):
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
        with self._connect() as db:
            db.execute("DELETE FROM runs WHERE key = ?", (key,))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "grader"


def run_all(specs: list[RunSpec], protocol: Protocol, dataset: Dataset, cache: Cache,
            progress=lambda message: None) -> list[RunResult]:
    """Results in the order of `specs`; cached ones are not retrained."""
    results: dict[int, RunResult] = {}
    todo = []
    for index, spec in enumerate(specs):
        key = spec.key(protocol, dataset)
        hit = cache.get(key)
        if hit is not None:
            results[index] = RunResult(spec.label, spec.seed, hit["history"], hit["kernel_norms_before"],
                                       hit["kernel_norms_after"], hit["duration_s"], True, key)
        else:
            todo.append((index, spec, key))
    if todo:
        jobs = [{"id": index, "label": spec.label, "model": spec.model, "seed": spec.seed} for index, spec, _ in todo]
        payload = {"protocol": protocol.to_json(), "data": str(dataset.folder), "jobs": jobs}
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")
        process = subprocess.Popen([sys.executable, "-m", "grader.retrain"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        process.stdin.write(json.dumps(payload))
        process.stdin.close()
        keys = {index: (spec, key) for index, spec, key in todo}
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "progress" in message:
                progress(message["progress"])
                continue
            index = message["id"]
            spec, key = keys[index]
            value = {k: message[k] for k in ("history", "kernel_norms_before", "kernel_norms_after", "duration_s")}
            cache.put(key, value)
            results[index] = RunResult(spec.label, spec.seed, value["history"], value["kernel_norms_before"],
                                       value["kernel_norms_after"], value["duration_s"], False, key)
        stderr = process.stderr.read()
        if process.wait() != 0 or len(results) != len(specs):
            raise RetrainError("el entrenamiento del grader falló", hint=stderr.strip()[-2000:])
    return [results[index] for index in range(len(specs))]


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
    for job in payload["jobs"]:
        started = time.monotonic()
        shape = tuple(job["model"]["input_shape"])
        xt, xv = x_train.reshape((-1, *shape)), x_val.reshape((-1, *shape))
        keras.utils.set_random_seed(int(job["seed"]))
        model = to_keras(job["model"])
        norms = lambda: [float(np.linalg.norm(layer.kernel.numpy())) for layer in model.layers
                         if isinstance(layer, keras.layers.Dense)]
        before = norms()
        optimizer = keras.optimizers.get({"class_name": protocol.optimizer, "config": {"learning_rate": protocol.learning_rate}})
        model.compile(optimizer=optimizer, loss=protocol.loss, metrics=["accuracy"])

        class Progress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                print(json.dumps({"progress": f"{job['label']} seed {job['seed']}: epoch {epoch + 1}/{protocol.epochs}"}), flush=True)

        history = model.fit(xt, y_train, validation_data=(xv, y_val), epochs=protocol.epochs,
                            batch_size=protocol.batch_size, verbose=0, callbacks=[Progress()])
        clean = {k: [float(v) for v in values] for k, values in history.history.items()}
        print(json.dumps({"id": job["id"], "history": clean, "kernel_norms_before": before, "kernel_norms_after": norms(),
                          "duration_s": time.monotonic() - started}), flush=True)
        keras.backend.clear_session()


if __name__ == "__main__":
    _worker()

__all__ = ["RunSpec", "RunResult", "Cache", "run_all", "default_cache_dir", "tf_version"]
