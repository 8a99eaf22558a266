"""Many seeds of one plain MLP, trained as one batched computation.

Each model keeps its own weights, stacked: kernel l is `[M, in, out]`. A training step gathers
one batch per model (`[M, 32, 784]`), runs every model with batched matmuls, and applies the
same plain SGD as Keras (the rubric's learning rate, the mean loss of the batch, the smaller
last batch included). The whole epoch is one `tf.function`.

What is kept from Keras' protocol run, and what is not:
- The initial weights are Keras' own: for each seed, `keras.utils.set_random_seed(seed)` and the
  model description built with Keras, exactly as the training worker builds it. So the initial
  kernels of a seed are bitwise those of its Keras run, and the initializers of one seed share
  their draws as they do under Keras (he_uniform at a seed is glorot_uniform's draw, rescaled).
- The shuffles: one uniform permutation per seed per epoch, shared by that seed's models, as a
  Keras `fit` after `set_random_seed(seed)` shuffles the same way whatever the initializer. They
  come from NumPy, not from tf.data, so they are not Keras' permutations.
- The arithmetic: the loss is computed from logits (Keras computes it from clipped softmax
  probabilities); sums run in another order. So only the distribution of the outcomes matches
  Keras' (bench/calibrate.py measures it); the protocol seed's run for the memo stays on Keras.
A model's results depend only on its seed, its description and the protocol (not on the other
models in the batch): running it again gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rubric import Protocol

SHUFFLE_STREAM = 0x5EED  # a constant mixed into each seed's permutation generator


@dataclass(frozen=True)
class Model:
    """One model of the batch: a plain MLP description (ModelDesc JSON) and its seed."""

    label: str
    seed: int
    model: dict


@dataclass(frozen=True)
class BatchedRun:
    label: str
    seed: int
    history: dict  # loss, accuracy, val_loss, val_accuracy per epoch
    kernel_norms_before: list
    kernel_norms_after: list
    initial_kernels_var: list  # the variance of each initial kernel (what the initializer drew)


def plain_layers(desc: dict) -> list[dict] | None:
    """The Dense layers of a description the batched path trains exactly: a `flatten` (or none),
    then Dense layers with relu/linear hidden activations and a softmax output. None otherwise
    (the caller then trains that model with Keras)."""
    layers = desc.get("layers") or []
    if layers and layers[0].get("kind") == "flatten":
        layers = layers[1:]
    if not layers or any(layer.get("kind") != "dense" for layer in layers):
        return None
    if layers[-1].get("activation") != "softmax":
        return None
    if any(layer.get("activation") not in ("relu", "linear") for layer in layers[:-1]):
        return None
    return layers


def batchable(desc: dict, protocol: Protocol) -> bool:
    return (plain_layers(desc) is not None and protocol.optimizer.lower() == "sgd"
            and protocol.loss == "sparse_categorical_crossentropy")


def _initial_weights(models: list[Model]):
    """Keras' initial weights of each model: seeded, then built exactly as the worker builds it."""
    import keras

    from ..modeldesc import to_keras

    kernels, biases = [], []
    for item in models:
        keras.utils.set_random_seed(int(item.seed))
        built = to_keras(item.model)
        dense = [layer for layer in built.layers if isinstance(layer, keras.layers.Dense)]
        kernels.append([np.asarray(layer.kernel.numpy(), np.float32) for layer in dense])
        biases.append([np.asarray(layer.bias.numpy(), np.float32) if layer.bias is not None
                       else np.zeros(layer.units, np.float32) for layer in dense])
    keras.backend.clear_session()
    return kernels, biases


def permutations(seed: int, n: int, epochs: int) -> np.ndarray:
    """[epochs, n] indices: one uniform permutation of the training set per epoch for this seed."""
    rng = np.random.default_rng([int(seed), SHUFFLE_STREAM])
    return np.stack([rng.permutation(n) for _ in range(epochs)]).astype(np.int32)


def train(models: list[Model], protocol: Protocol, x_train: np.ndarray, y_train: np.ndarray,
          x_val: np.ndarray, y_val: np.ndarray, epochs: int | None = None, progress=lambda epoch, total: None,
          val_chunk: int = 1000) -> list[BatchedRun]:
    """Train every model of `models` (same architecture) together; one result per model, in order.
    `x_*`: float32 [n, features] already scaled; `y_*`: integer labels."""
    import tensorflow as tf

    epochs = int(epochs or protocol.epochs)
    layers = [plain_layers(item.model) for item in models]
    if any(found is None for found in layers):
        raise ValueError("the batched path trains plain MLPs only (see plain_layers)")
    shapes = [[(layer["units"], layer.get("activation")) for layer in found] for found in layers]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError("every model of one batch must have the same layers")
    activations = [act for _, act in shapes[0]]
    m, n, batch = len(models), len(x_train), int(protocol.batch_size)
    kernels0, biases0 = _initial_weights(models)
    depth = len(activations)
    kernels = [tf.Variable(np.stack([k[i] for k in kernels0])) for i in range(depth)]            # [M, in, out]
    biases = [tf.Variable(np.stack([b[i] for b in biases0])[:, None, :]) for i in range(depth)]  # [M, 1, out]
    before = [[float(np.linalg.norm(k[i].astype(np.float64))) for i in range(depth)] for k in kernels0]  # as the worker
    init_var = [[float(np.var(k[i].astype(np.float64))) for i in range(depth)] for k in kernels0]

    seeds = sorted({int(item.seed) for item in models})
    group = np.array([seeds.index(int(item.seed)) for item in models], np.int32)  # model -> its seed's row
    perms = np.stack([permutations(seed, n, epochs) for seed in seeds])            # [S, epochs, n]
    full, rest = divmod(n, batch)
    x = tf.constant(x_train.reshape(n, -1).astype(np.float32))
    y = tf.constant(y_train.astype(np.int32))
    lr = tf.constant(float(protocol.learning_rate), tf.float32)

    def forward(h):
        for i in range(depth):
            h = tf.matmul(h, kernels[i]) + biases[i]
            if i < depth - 1 and activations[i] == "relu":
                h = tf.nn.relu(h)
        return h  # logits

    def step(index):  # index [M, b]: each model's batch
        xb, yb = tf.gather(x, index), tf.gather(y, index)
        with tf.GradientTape() as tape:
            logits = forward(xb)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits)  # [M, b]
            total = tf.reduce_sum(tf.reduce_mean(losses, axis=1))  # each model's own mean: its own gradient
        grads = tape.gradient(total, kernels + biases)
        for variable, grad in zip(kernels + biases, grads):
            variable.assign_sub(lr * grad)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), yb), tf.float32), axis=1)
        return tf.reduce_sum(losses, axis=1), correct

    @tf.function
    def epoch_fn(order):  # order [M, n]
        loss_sum = tf.zeros([m], tf.float32)
        correct = tf.zeros([m], tf.float32)
        for s in tf.range(full):
            batch_loss, batch_correct = step(order[:, s * batch:(s + 1) * batch])
            loss_sum += batch_loss
            correct += batch_correct
        if rest:
            batch_loss, batch_correct = step(order[:, full * batch:])
            loss_sum += batch_loss
            correct += batch_correct
        return loss_sum / n, correct / n

    @tf.function
    def evaluate(xv, yv):
        logits = forward(tf.broadcast_to(xv[None], [m, tf.shape(xv)[0], xv.shape[-1]]))
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.broadcast_to(yv[None], [m, tf.shape(yv)[0]]),
                                                                logits=logits)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), yv[None]), tf.float32)
        return tf.reduce_sum(losses, axis=1), tf.reduce_sum(correct, axis=1)

    xv_all = x_val.reshape(len(x_val), -1).astype(np.float32)
    yv_all = y_val.astype(np.int32)
    history = {name: [[] for _ in models] for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
    for e in range(epochs):
        order = tf.constant(perms[group, e])
        loss, acc = epoch_fn(order)
        val_loss, val_correct = np.zeros(m), np.zeros(m)
        for start in range(0, len(xv_all), val_chunk):
            chunk_loss, chunk_correct = evaluate(tf.constant(xv_all[start:start + val_chunk]),
                                                 tf.constant(yv_all[start:start + val_chunk]))
            val_loss += chunk_loss.numpy()
            val_correct += chunk_correct.numpy()
        for i in range(m):
            history["loss"][i].append(float(loss[i]))
            history["accuracy"][i].append(float(acc[i]))
            history["val_loss"][i].append(float(val_loss[i] / len(xv_all)))
            history["val_accuracy"][i].append(float(val_correct[i] / len(xv_all)))
        progress(e + 1, epochs)
    after = [[float(np.linalg.norm(kernels[l][i].numpy().astype(np.float64))) for l in range(depth)] for i in range(m)]
    return [BatchedRun(item.label, int(item.seed), {name: values[i] for name, values in history.items()},
                       before[i], after[i], init_var[i]) for i, item in enumerate(models)]


def configure(threads: int, determinism: bool = True) -> None:
    """The protocol's threads and op determinism, before TensorFlow runs its first op."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised in this process: keep what it has
        pass
    if determinism:
        tf.config.experimental.enable_op_determinism()


def protocol_arrays(dataset, protocol: Protocol):
    """(x_train, y_train, x_val, y_val) as the worker splits them: the first `validation_size`
    images validate, the rest train; pixels / pixel_scale, flattened."""
    from .. import data

    (x_all, y_all), _ = data.load(dataset)
    x_all = x_all.reshape(len(x_all), -1).astype(np.float32) / protocol.pixel_scale
    val = protocol.validation_size
    return x_all[val:], y_all[val:], x_all[:val], y_all[:val]


__all__ = ["Model", "BatchedRun", "train", "plain_layers", "batchable", "permutations", "configure", "protocol_arrays"]
