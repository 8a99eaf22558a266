"""The training worker: `python -m grader.retrain.worker`, JSON lines in, JSON lines out.

Line 1 is the header (protocol, data folder, memo); each further line is one job, answered by
one result line (and progress lines) before the next is read, so a client can keep several
workers busy. Seeded with `keras.utils.set_random_seed` before each model is built, op
determinism on, threads fixed by the protocol: a run here is a pure function of its RunSpec
key. Every `fit` goes through the training memo (grader/memo/fitmemo.py): a fit whose exact
key is stored is restored, any other is trained and recorded, so what a sandbox is served was
trained here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ..data import Dataset
from ..kinds import RunKind
from ..rubric import Protocol

ANNOUNCE = "announce"  # a job that only computes the fit keys of TRAIN jobs (see client.train)
DELEGATED = "delegated"  # a sandbox's fit to rebuild, check against its key, and train (grader/delegate)


def main() -> None:
    payload = json.loads(sys.stdin.readline())
    protocol = Protocol(**payload["protocol"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow  # noqa: F401  (loaded first: the memo applies threads and op determinism before any op)
    import keras

    from .. import data
    from ..modeldesc import to_keras

    from ..memo import fitmemo

    memo_config = dict(payload.get("memo") or {"store": None})
    memo = fitmemo.install(dict(memo_config, threads=protocol.threads, determinism=True))
    folder = Path(payload["data"])
    (x_all, y_all), (x_test, y_test) = data.load(Dataset(folder, False, "", 0, 0))
    raw_arrays = {"train": (x_all, y_all), "test": (x_test, y_test)}  # what delegated fits' data is made from
    made: dict = {}
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

    optimizer = lambda: keras.optimizers.get({"class_name": protocol.optimizer, "config": {"learning_rate": protocol.learning_rate}})

    def train(job, started, fits_before, announce: bool = False):
        entries_before = len(memo.entries)
        """One TRAIN job, start to end; with `announce`, only as far as its fit's memo key."""
        epochs = int(job.get("epochs") or protocol.epochs)
        shape = tuple(job["model"]["input_shape"])
        xt, xv = x_train.reshape((-1, *shape)), x_val.reshape((-1, *shape))
        keras.utils.set_random_seed(int(job["seed"]))
        model = to_keras(job["model"])
        # summed in float64: a float32 norm goes through the machine's own BLAS kernels and differs in its 7th
        # digit from one CPU to another (measured: AMD EPYC against the goldens' machine), a float64 one does not
        norms = lambda: [float(np.linalg.norm(layer.kernel.numpy().astype(np.float64))) for layer in model.layers
                         if isinstance(layer, keras.layers.Dense)]
        before = norms()
        at_init = dense_outputs(model, probe.reshape((-1, *shape)))
        model.compile(optimizer=optimizer(), loss=protocol.loss, metrics=["accuracy"])

        def progress(epoch, total, label=job["label"], seed=job["seed"]):
            print(json.dumps({"progress": f"{label} seed {seed}: epoch {epoch}/{total}"}), flush=True)

        memo.on_epoch, memo.dry = (None, True) if announce else (progress, False)
        try:
            history = model.fit(xt, y_train, validation_data=(xv, y_val), epochs=epochs,
                                batch_size=protocol.batch_size, verbose=0)
        except fitmemo.DryRun as dry:
            return dry.key
        finally:
            memo.on_epoch, memo.dry = None, False
        clean = {k: [float(v) for v in values] for k, values in history.history.items()}
        return {"id": job["id"], "history": clean, "kernel_norms_before": before, "kernel_norms_after": norms(),
                "duration_s": time.monotonic() - started, "extra": {},
                "activations": {"init": at_init, "trained": dense_outputs(model, probe.reshape((-1, *shape)))},
                "memo": memo_counts(memo, fits_before, entries_before)}

    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        started = time.monotonic()
        fits_before, entries_before = len(memo.log), len(memo.entries)
        if job.get("kind") == ANNOUNCE:  # the fit keys of the jobs to come, so sandboxes wait for them
            keys = {item["id"]: train(item, started, fits_before, announce=True) for item in job["jobs"]}
            keras.backend.clear_session()
            print(json.dumps({"id": job["id"], "announce": keys}), flush=True)
            continue
        if job.get("kind") == DELEGATED:  # a sandbox's fit, rebuilt and proven by its key (grader/delegate)
            from ..delegate import rebuild
            from ..delegate.request import decode_own

            def delegated_progress(epoch, total, job_id=job["id"]):
                print(json.dumps({"progress": f"delegated fit {job_id}: epoch {epoch}/{total}"}), flush=True)

            request = decode_own(Path(job["request"]).read_bytes())
            outcome = rebuild.train(request, memo, fitmemo, raw_arrays, protocol.pixel_scale, made, delegated_progress)
            print(json.dumps({"id": job["id"], "delegated": outcome}), flush=True)
            keras.backend.clear_session()
            continue
        shape = tuple(job["model"]["input_shape"])
        xt = x_train.reshape((-1, *shape))
        if job.get("kind") == RunKind.REPRO:
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
                                        "same_seed_max_abs_diff": gap},
                              "memo": memo_counts(memo, fits_before, entries_before)}), flush=True)
            keras.backend.clear_session()
            continue
        print(json.dumps(train(job, started, fits_before)), flush=True)
        keras.backend.clear_session()


def memo_counts(memo, since: int, entries_since: int) -> dict:
    """How this job's fits went: served from the memo, or trained (and recorded); `entries`:
    the full keys of the memo entries it used, which a cluster run ships to the client's store."""
    fits = memo.log[since:]
    return {"fits": len(fits), "served": sum(1 for f in fits if f["served"]),
            "recorded": sum(1 for f in fits if f.get("recorded")), "entries": memo.entries[entries_since:]}


__all__ = ["main", "ANNOUNCE", "DELEGATED"]

if __name__ == "__main__":
    main()
