"""Class 108 homework as a module: every experiment is one Run, trained the same way."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import keras

SEED = 42
HIDDEN = (300, 200, 100, 50)
DEEP = (512, 256, 128, 64)


def load_fashion():
    (images, labels), _ = keras.datasets.fashion_mnist.load_data()
    images = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return (images[5000:], labels[5000:]), (images[:5000], labels[:5000])


(TRAIN_X, TRAIN_Y), (VAL_X, VAL_Y) = load_fashion()


@dataclass
class Run:
    initializer: object
    hidden: tuple = HIDDEN
    activation: str = "relu"
    epochs: int = 20
    model: keras.Model | None = None
    norms_before: list = field(default_factory=list)
    norms_after: list = field(default_factory=list)
    history: dict = field(default_factory=dict)

    def build(self) -> keras.Model:
        keras.utils.set_random_seed(SEED)
        stack = [keras.layers.Input(shape=(784,))]
        stack += [keras.layers.Dense(width, activation=self.activation, kernel_initializer=self.initializer)
                  for width in self.hidden]
        stack.append(keras.layers.Dense(10, activation="softmax", kernel_initializer=self.initializer))
        self.model = keras.Sequential(stack)
        return self.model

    @staticmethod
    def kernel_norms(model: keras.Model) -> list[float]:
        return [float(np.linalg.norm(dense.kernel)) for dense in model.layers if isinstance(dense, keras.layers.Dense)]

    def execute(self) -> "Run":
        model = self.build()
        self.norms_before = self.kernel_norms(model)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        self.history = model.fit(TRAIN_X, TRAIN_Y, batch_size=32, epochs=self.epochs,
                                 validation_data=(VAL_X, VAL_Y), verbose=0).history
        self.norms_after = self.kernel_norms(model)
        return self


# Exercise 1 ---------------------------------------------------------------------------------
keras.utils.set_random_seed(SEED)
ex1_model = keras.Sequential([keras.layers.Input(shape=(784,)), keras.layers.Dense(128)])
ex1_kernel = ex1_model.layers[0].kernel.numpy()
ex1_var_empirical = float(ex1_kernel.var())
ex1_var_theory = 2 / (784 + 128)
ex1_limit = float(np.sqrt(6 / (784 + 128)))
RECEPTIVE = 3 * 3
ex1_conv_limit = float(np.sqrt(6 / (RECEPTIVE * 1 + RECEPTIVE * 32)))


# Homework -----------------------------------------------------------------------------------
def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    return Run(kernel_initializer, activation=activation).build()


HOMEWORK = {name: Run(name).execute() for name in ("glorot_uniform", "he_uniform", "he_normal")}
hw_models = {name: run.model for name, run in HOMEWORK.items()}
hw_histories = {name: run.history for name, run in HOMEWORK.items()}
hw_val_accuracy = {name: run.history["val_accuracy"][-1] for name, run in HOMEWORK.items()}
hw_kernel_norms_before = {name: run.norms_before for name, run in HOMEWORK.items()}
hw_kernel_norms_after = {name: run.norms_after for name, run in HOMEWORK.items()}


# Exercises 2 to 5 ---------------------------------------------------------------------------
ex2_histories = {
    "glorot_uniform": Run("glorot_uniform", DEEP, epochs=5).execute().history,
    "he_normal": Run("he_normal", DEEP, epochs=5).execute().history,
    "random_normal": Run(keras.initializers.RandomNormal(stddev=0.01), DEEP, epochs=5).execute().history,
}

ex3_model = Run("he_normal", DEEP).build()
_outputs = keras.Model(ex3_model.inputs, [d.output for d in ex3_model.layers])(VAL_X[:256])
ex3_activation_variances = [float(np.var(np.asarray(o))) for o in _outputs]

ex4_histories = {f"{name}_tanh": Run(name, HIDDEN, "tanh", epochs=5).execute().history
                 for name in ("he_normal", "glorot_uniform")}


def _trained_weights(seeded: bool) -> list:
    if seeded:
        keras.utils.set_random_seed(SEED)
    model = keras.Sequential([keras.layers.Input(shape=(784,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    model.fit(TRAIN_X[:1000], TRAIN_Y[:1000], epochs=1, batch_size=32, verbose=0)
    return model.get_weights()


ex5_same_seed_identical = all(np.array_equal(p, q) for p, q in zip(_trained_weights(True), _trained_weights(True)))
ex5_no_seed_differs = not all(np.array_equal(p, q) for p, q in zip(_trained_weights(False), _trained_weights(False)))

if __name__ == "__main__":
    for name, value in hw_val_accuracy.items():
        print(name, round(value, 4))
