"""Clase 108 — tarea de inicialización, entregada como módulo (Carol)."""

import numpy as np
import keras

# Protocolo del curso: píxeles / 255; validación = las primeras 5000 imágenes de entrenamiento.
(x_train_full, y_train_full), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train_full = x_train_full.astype("float32") / 255.0
x_valid, y_valid = x_train_full[:5000], y_train_full[:5000]
x_train, y_train = x_train_full[5000:], y_train_full[5000:]
INITS = ["glorot_uniform", "he_uniform", "he_normal"]
EPOCHS = 20


keras.utils.set_random_seed(42)
ex1_model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128)])
ex1_kernel = ex1_model.layers[0].kernel.numpy()
fan_in, fan_out = ex1_kernel.shape
ex1_var_empirical = float(ex1_kernel.var())
ex1_var_theory = 2 / (fan_in + fan_out)
ex1_limit = float(np.sqrt(6 / (fan_in + fan_out)))
# Extra: Conv2D(32, (3, 3)) sobre 1 canal -> fan_in = 3*3*1, fan_out = 3*3*32
ex1_conv_limit = float(np.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 32)))
print(f"Var empírica {ex1_var_empirical:.6f}  teórica {ex1_var_theory:.6f}  límite {ex1_limit:.4f}  máx |w| {np.abs(ex1_kernel).max():.4f}")


def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for units in [300, 200, 100, 50]:
        model.add(keras.layers.Dense(units, activation=activation, kernel_initializer=kernel_initializer))
    model.add(keras.layers.Dense(10, activation="softmax", kernel_initializer=kernel_initializer))
    return model


def kernel_norms(model):
    return [float(np.linalg.norm(layer.kernel.numpy())) for layer in model.layers
            if isinstance(layer, keras.layers.Dense)]

hw_histories, hw_models, hw_val_accuracy = {}, {}, {}
hw_kernel_norms_before, hw_kernel_norms_after = {}, {}
for init in INITS:
    keras.utils.set_random_seed(42)          # antes de construir: fija también el inicializador
    model = build_model(kernel_initializer=init)
    hw_kernel_norms_before[init] = kernel_norms(model)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32,
                        validation_data=(x_valid, y_valid), verbose=0)
    hw_histories[init] = history.history
    hw_models[init] = model
    hw_kernel_norms_after[init] = kernel_norms(model)
    hw_val_accuracy[init] = float(history.history["val_accuracy"][-1])
    print(f"{init:15s} val_accuracy = {hw_val_accuracy[init]:.4f}")


for init in ["he_uniform", "he_normal"]:
    diff = (hw_val_accuracy[init] - hw_val_accuracy["glorot_uniform"]) * 100
    print(f"{init} - glorot = {diff:+.2f} pp; normas antes {np.round(hw_kernel_norms_before[init], 2)}; después {np.round(hw_kernel_norms_after[init], 2)}")


# Ejercicios 2-5 (pocas épocas: lo que importa es la forma de las curvas)
EX_EPOCHS = 5

def mlp(units, kernel_initializer, activation="relu"):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for u in units[:-1]:
        model.add(keras.layers.Dense(u, activation=activation, kernel_initializer=kernel_initializer))
    model.add(keras.layers.Dense(units[-1], activation="softmax", kernel_initializer=kernel_initializer))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

ex2_histories = {}
for name, init in [("glorot_uniform", "glorot_uniform"), ("he_normal", "he_normal"),
                   ("random_normal", keras.initializers.RandomNormal(stddev=0.01))]:
    keras.utils.set_random_seed(42)
    model = mlp([512, 256, 128, 64, 10], init)
    ex2_histories[name] = model.fit(x_train, y_train, epochs=EX_EPOCHS, batch_size=32,
                                    validation_data=(x_valid, y_valid), verbose=0).history

# Ejercicio 3: el modelo bien inicializado (He + ReLU), recién construido: la pregunta es sobre la inicialización
keras.utils.set_random_seed(42)
ex3_model = mlp([512, 256, 128, 64, 10], "he_normal")
ex3_activations, h = [], x_valid[:256]
for layer in ex3_model.layers:
    h = layer(h)
    if isinstance(layer, keras.layers.Dense):
        ex3_activations.append(np.asarray(h))
ex3_activation_variances = [float(np.var(a)) for a in ex3_activations]

ex4_histories = {}
for name, init in [("he_normal_tanh", "he_normal"), ("glorot_uniform_tanh", "glorot_uniform")]:
    keras.utils.set_random_seed(42)
    model = mlp([300, 200, 100, 50, 10], init, activation="tanh")
    ex4_histories[name] = model.fit(x_train, y_train, epochs=EX_EPOCHS, batch_size=32,
                                    validation_data=(x_valid, y_valid), verbose=0).history

def train_once(seed):
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = mlp([64, 10], "he_normal")
    model.fit(x_train[:2000], y_train[:2000], epochs=1, batch_size=32, verbose=0)
    return [w.numpy() for w in model.weights]

same = [train_once(42), train_once(42)]
ex5_same_seed_identical = all(np.array_equal(a, b) for a, b in zip(*same))
other = [train_once(None), train_once(None)]
ex5_no_seed_differs = not all(np.array_equal(a, b) for a, b in zip(*other))
print(ex3_activation_variances, ex5_same_seed_identical, ex5_no_seed_differs)
