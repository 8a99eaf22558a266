# Tarea clase 108 - Hugo
# Entrego como script. Corre de arriba a abajo.
import numpy as np
import tensorflow as tf
import keras

datos = keras.datasets.fashion_mnist.load_data()
X = datos[0][0] / 255.0
Y = datos[0][1]
xv = X[0:5000]
yv = Y[0:5000]
xt = X[5000:]
yt = Y[5000:]

###### EJERCICIO 1
keras.utils.set_random_seed(42)
ex1_model = keras.Sequential()
ex1_model.add(keras.Input(shape=(784,)))
ex1_model.add(keras.layers.Dense(128))
W = ex1_model.weights[0].numpy()
ex1_kernel = W
ex1_var_empirical = float(np.sum((W - np.mean(W)) ** 2) / W.size)
ex1_var_theory = 2.0 / (W.shape[0] + W.shape[1])
ex1_limit = np.sqrt(6.0 / (W.shape[0] + W.shape[1])).item()
kh = 3
kw = 3
canales = 1
filtros = 32
ex1_conv_limit = np.sqrt(6.0 / (kh * kw * canales + kh * kw * filtros)).item()


###### TAREA
def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    capas = [keras.Input(shape=(28, 28)), keras.layers.Flatten()]
    tamanios = [300, 200, 100, 50]
    j = 0
    while j < len(tamanios):
        capas.append(keras.layers.Dense(tamanios[j], kernel_initializer=kernel_initializer, activation=activation))
        j = j + 1
    capas.append(keras.layers.Dense(10, kernel_initializer=kernel_initializer, activation="softmax"))
    return keras.Sequential(capas)


def normas(m):
    res = []
    for w in m.get_weights():
        if w.ndim == 2:
            res.append(float(np.sqrt(np.sum(w * w))))
    return res


hw_histories = dict()
hw_models = dict()
hw_val_accuracy = dict()
hw_kernel_norms_before = dict()
hw_kernel_norms_after = dict()
inits = ["glorot_uniform", "he_uniform", "he_normal"]
j = 0
while j < 3:
    ini = inits[j]
    keras.utils.set_random_seed(42)
    m = build_model(kernel_initializer=ini)
    hw_kernel_norms_before[ini] = normas(m)
    opt = keras.optimizers.SGD(learning_rate=0.01)
    m.compile(opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = m.fit(xt, yt, batch_size=32, epochs=20, validation_data=(xv, yv), verbose=0)
    hw_kernel_norms_after[ini] = normas(m)
    hw_histories[ini] = hist.history
    hw_models[ini] = m
    hw_val_accuracy[ini] = hist.history["val_accuracy"][-1]
    print(ini, hw_val_accuracy[ini])
    j = j + 1


###### EJERCICIO 2
def red_profunda(ini, act):
    r = keras.Sequential()
    r.add(keras.Input(shape=(28, 28)))
    r.add(keras.layers.Flatten())
    r.add(keras.layers.Dense(512, kernel_initializer=ini, activation=act))
    r.add(keras.layers.Dense(256, kernel_initializer=ini, activation=act))
    r.add(keras.layers.Dense(128, kernel_initializer=ini, activation=act))
    r.add(keras.layers.Dense(64, kernel_initializer=ini, activation=act))
    r.add(keras.layers.Dense(10, kernel_initializer=ini, activation="softmax"))
    r.compile(keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return r


ex2_histories = dict()
keras.utils.set_random_seed(42)
ex2_histories["glorot_uniform"] = red_profunda("glorot_uniform", "relu").fit(xt, yt, batch_size=32, epochs=2, validation_data=(xv, yv), verbose=0).history
keras.utils.set_random_seed(42)
ex2_histories["he_normal"] = red_profunda("he_normal", "relu").fit(xt, yt, batch_size=32, epochs=2, validation_data=(xv, yv), verbose=0).history
keras.utils.set_random_seed(42)
ex2_histories["random_normal"] = red_profunda(keras.initializers.RandomNormal(stddev=0.01), "relu").fit(xt, yt, batch_size=32, epochs=2, validation_data=(xv, yv), verbose=0).history

###### EJERCICIO 3
keras.utils.set_random_seed(42)
ex3_model = red_profunda("he_normal", "relu")
ex3_activation_variances = []
a = xv[:64]
for c in ex3_model.layers:
    a = c(a)
    if "dense" in c.name:
        ex3_activation_variances.append(float(tf.math.reduce_variance(a)))

###### EJERCICIO 4
ex4_histories = dict()
keras.utils.set_random_seed(42)
ex4_histories["he_normal_tanh"] = build_model("he_normal", "tanh")
ex4_histories["he_normal_tanh"].compile(keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
ex4_histories["he_normal_tanh"] = ex4_histories["he_normal_tanh"].fit(xt, yt, batch_size=32, epochs=2, validation_data=(xv, yv), verbose=0).history
keras.utils.set_random_seed(42)
ex4_histories["glorot_uniform_tanh"] = build_model("glorot_uniform", "tanh")
ex4_histories["glorot_uniform_tanh"].compile(keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
ex4_histories["glorot_uniform_tanh"] = ex4_histories["glorot_uniform_tanh"].fit(xt, yt, batch_size=32, epochs=2, validation_data=(xv, yv), verbose=0).history

###### EJERCICIO 5
tf.random.set_seed(42)
np.random.seed(42)
p1 = build_model("he_normal").predict(xv[:10], verbose=0)
tf.random.set_seed(42)
np.random.seed(42)
p2 = build_model("he_normal").predict(xv[:10], verbose=0)
ex5_same_seed_identical = bool(np.all(p1 == p2))
p3 = build_model("he_normal").predict(xv[:10], verbose=0)
p4 = build_model("he_normal").predict(xv[:10], verbose=0)
ex5_no_seed_differs = bool(np.any(p3 != p4))
