"""The training worker: `python -m grader.retrain.worker`, JSON jobs on stdin, JSON lines out.

Seeded with `keras.utils.set_random_seed` before each model is built, op determinism on,
threads fixed by the protocol: a run here is a pure function of its RunSpec key.
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


def main() -> None:
    payload = json.loads(sys.stdin.read())
    protocol = Protocol(**payload["protocol"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    import keras

    from .. import data
    from ..modeldesc import to_keras

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


__all__ = ["main"]

if __name__ == "__main__":
    main()
