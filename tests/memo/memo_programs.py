"""Programs that change something a `fit` depends on, run by test_memo_soundness.py.

    python tests/memo/memo_programs.py MODE STORE [PROGRAM ...] > results.json

MODE: off (the memo installed, nothing served), record (what the grader's worker does: serve
and record), serve (what a sandbox does: serve only), delegate (a sandbox that delegates its
misses: requests go to the folders named by GRADER_TEST_DELEGATE="REQUESTS:ANSWERS", which a
grader-side service answers; tests/delegate/test_delegate_soundness.py). Each program trains a small real MLP on
real Fashion-MNIST images and reports, per fit, whether it was served; and, as sha256 digests,
the model's variables, the optimizer's variables, the history and the RNG draws that follow the
fit. Programs run in order in one process, so a served fit must also leave the process exactly
as training would have (the next program's key and results depend on it).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from grader.memo import fitmemo  # noqa: E402

N_TRAIN, N_VAL = 1500, 300


def _data():
    from grader import data

    (x, y), _ = data.load(data.locate())
    x = x[: N_TRAIN + N_VAL].astype("float32") / 255.0
    y = y[: N_TRAIN + N_VAL]
    return x[N_VAL:], y[N_VAL:], x[:N_VAL], y[:N_VAL]


def _model(keras, init="he_normal", dropout=False, functional=False):
    if functional:
        inputs = keras.Input((28, 28))
        h = keras.layers.Flatten()(inputs)
        h = keras.layers.Dense(64, activation="relu", kernel_initializer=init)(h)
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", kernel_initializer=init)(h))
    layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(64, activation="relu", kernel_initializer=init)]
    if dropout:
        layers.append(keras.layers.Dropout(0.3))
    return keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax", kernel_initializer=init)])


def _compile(keras, model, optimizer=None):
    model.compile(optimizer=optimizer or keras.optimizers.SGD(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def programs(keras, x, y, xv, yv):
    """name -> a function that trains and returns (model, [History, ...])."""

    def base(**fit):
        keras.utils.set_random_seed(42)
        model = _compile(keras, _model(keras))
        args = dict(x=x, y=y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)
        args.update(fit)
        return model, [model.fit(**args)]

    def extra_draw():
        keras.utils.set_random_seed(42)
        keras.random.uniform((3,))  # Keras' own generator: the initial weights change
        __import__("numpy").random.rand()  # and NumPy's global state
        model = _compile(keras, _model(keras))
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def draw_after_build():
        import tensorflow as tf

        keras.utils.set_random_seed(42)
        model = _compile(keras, _model(keras))
        tf.random.uniform((2,))  # an eager TF draw between building and fit
        random.random()
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def other_seed():
        keras.utils.set_random_seed(7)
        model = _compile(keras, _model(keras))
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def tf_seed_changed_after_build():
        import tensorflow as tf

        keras.utils.set_random_seed(42)
        model = _compile(keras, _model(keras))
        tf.random.set_seed(7)  # same initial weights, another shuffle (docs/measurements.md: what a fit depends on)
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def early_stopping():
        keras.utils.set_random_seed(42)
        model = _compile(keras, _model(keras))
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, restore_best_weights=True)
        return model, [model.fit(x, y, epochs=3, batch_size=32, validation_data=(xv, yv), verbose=0, callbacks=[stop])]

    def lr_schedule():
        keras.utils.set_random_seed(42)
        schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=20, decay_rate=0.5)
        model = _compile(keras, _model(keras), keras.optimizers.SGD(learning_rate=schedule))
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def momentum():
        keras.utils.set_random_seed(42)
        model = _compile(keras, _model(keras), keras.optimizers.SGD(learning_rate=0.01, momentum=0.9))
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def fit_twice():
        keras.utils.set_random_seed(42)
        model = _compile(keras, _model(keras))
        first = model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)
        return model, [first, model.fit(x, y, epochs=1, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def functional():
        keras.utils.set_random_seed(42)
        model = _compile(keras, _model(keras, functional=True))
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def dropout():
        keras.utils.set_random_seed(42)
        model = _compile(keras, _model(keras, dropout=True))
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    def custom_layer():
        class Scale(keras.layers.Layer):  # a class of the student's own: its `call` is unknown
            def call(self, inputs):
                return inputs * 1.0

        keras.utils.set_random_seed(42)
        model = _compile(keras, keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), Scale(),
                                                  keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
                                                  keras.layers.Dense(10, activation="softmax", kernel_initializer="he_normal")]))
        return model, [model.fit(x, y, epochs=2, batch_size=32, validation_data=(xv, yv), verbose=0)]

    import numpy as np

    weights = np.linspace(0.5, 1.5, len(y)).astype("float32")
    return {
        "base": base,
        "extra_draw": extra_draw,
        "draw_after_build": draw_after_build,
        "other_seed": other_seed,
        "tf_seed_changed_after_build": tf_seed_changed_after_build,
        "no_shuffle": lambda: base(shuffle=False),
        "early_stopping": early_stopping,
        "lr_schedule": lr_schedule,
        "validation_split": lambda: base(validation_data=None, validation_split=0.2),
        "sample_weight": lambda: base(sample_weight=weights),
        "class_weight": lambda: base(class_weight={k: (2.0 if k == 3 else 1.0) for k in range(10)}),
        "float64": lambda: base(x=x.astype("float64")),
        "batch_size": lambda: base(batch_size=64),
        "fit_twice": fit_twice,
        "momentum": momentum,
        "functional": functional,
        "dropout": dropout,
        "custom_layer": custom_layer,
    }


def _digest(arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str(array.dtype).encode() + str(array.shape).encode() + array.tobytes())
    return digest.hexdigest()


def run(mode: str, store: str, names: list[str]) -> dict:
    config = {"store": store, "serve": mode != "off", "record": mode == "record", "threads": 2}
    if mode == "delegate":
        import os

        requests, answers = os.environ["GRADER_TEST_DELEGATE"].split(":")
        config["delegate"] = {"requests": requests, "answers": answers, "min_steps": 0}
    memo = fitmemo.install(config)
    import keras
    import numpy as np

    x, y, xv, yv = _data()
    out = {}

    def measure(name, make):
        before = len(memo.log)
        model, histories = make()
        fits = memo.log[before:]
        out[name] = {
            "served": [f["served"] for f in fits], "reasons": [f["reason"] for f in fits], "keys": [f["key"] for f in fits],
            "delegation": [f.get("delegated", "") for f in fits],
            "weights": _digest([v.numpy() for v in model.variables]),
            "optimizer": _digest([v.numpy() for v in model.optimizer.variables]),
            "history": hashlib.sha256(json.dumps([[h.history, h.epoch, h.params] for h in histories],
                                                 sort_keys=True).encode()).hexdigest(),
            "after": [random.random(), float(np.random.rand())],  # the RNGs as the fit left them
        }
        # the model works on as a trained one: evaluate (metrics built lazily) and predict
        out[name]["evaluate"] = hashlib.sha256(json.dumps(model.evaluate(xv, yv, verbose=0)).encode()
                                               + model.predict(xv[:64], verbose=0).tobytes()).hexdigest()

    # first, in a fresh process: no seed at all (TensorFlow has no global seed yet)
    if "no_seed" in names:
        def no_seed():
            model = _compile(keras, _model(keras))
            return model, [model.fit(x, y, epochs=1, batch_size=32, verbose=0)]
        measure("no_seed", no_seed)
    table = programs(keras, x, y, xv, yv)
    for name in names:
        if name != "no_seed":
            measure(name, table[name])
    return out


PROGRAMS = ["no_seed", "base", "extra_draw", "draw_after_build", "other_seed", "tf_seed_changed_after_build",
            "no_shuffle", "early_stopping", "lr_schedule", "validation_split", "sample_weight", "class_weight",
            "float64", "batch_size", "fit_twice", "momentum", "functional", "dropout", "custom_layer"]

if __name__ == "__main__":
    mode, store, *names = sys.argv[1:]
    print(json.dumps(run(mode, store, names or PROGRAMS)))
