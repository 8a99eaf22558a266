"""The exact memo of Keras `Model.fit`: one file, run in two places.

Inside the sandbox it is loaded from source before the student's first cell (it imports
nothing from the grader package) and only *serves*: it opens entries read-only, by exact key,
from a folder it can neither list nor write. In the grader's training worker it is imported
and also *records*: a fit trained there is written under its key. So every entry comes from
the grader's own process, and a hit in the sandbox hands the student exactly the training the
grader ran on identical inputs.

The key hashes everything a fit's result depends on (measured: docs/design.md, "The training memo", and docs/measurements.md): the
architecture (layer classes and configs, names aside), every model variable's bytes (initial
weights, seed-generator states), the optimizer's config and variables, the compile config, the
bytes of x, y, validation data and sample weights, the fit arguments, the callbacks (any that
could change training makes the fit unkeyable), Python's, NumPy's, TensorFlow's and Keras'
RNG states, the TF/Keras versions, threads, op determinism, floatx and the CPU. Anything it
cannot describe exactly (a custom layer, a tf.data input, a patched Keras class, no TF seed)
makes the fit unkeyable: it trains as usual. A miss is always allowed; a wrong hit is not.

A hit restores the trained variables, the optimizer's variables and the RNG states as training
left them, and returns a History with the stored history.

A miss in the sandbox may be *delegated* (grader/delegate): the fit is written down as a request
(the allow-listed layers, every variable's bytes, the optimizer's and compile's configs, the fit's
arguments, the RNG states, and the data as sha256 digests only) in a folder the grader watches.
The grader rebuilds the fit, computes this same key itself, trains it in its own worker only if
the keys are equal, and writes the entry; the sandbox, which waited, is then served it like any
hit. Anything else (a refusal, no answer, a grader that stops answering) trains here, as before.
"""

import contextlib
import hashlib
import importlib.abc
import importlib.util
import inspect
import json
import os
import struct
import sys
import time
import types

FORMAT = b"GRDMEMO1"
KEY_VERSION = 1
MODULE_NAME = "_grader_memo"  # how the harvest finds this module's log
MAX_LOG = 1000
PENDING = ".pending"  # "<key>.pending": the grader's worker is training this key right now
PENDING_STALE_S = 300  # a marker not touched for this long belongs to a worker that died
WAIT_POLL_S = 0.25
DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"}
FIT_SCALARS = ("batch_size", "epochs", "validation_split", "shuffle", "initial_epoch", "steps_per_epoch",
               "validation_steps", "validation_batch_size", "validation_freq")
FIT_DATA = ("x", "y", "validation_data", "sample_weight", "class_weight")
REQUEST_FORMAT = b"GRDREQ01"  # a delegated fit's request: magic, header length, JSON header, arrays
REQUEST_LAYERS = {"Dense": ("units", "activation", "use_bias"), "Flatten": (), "Dropout": ("rate",),
                  "Activation": ("activation",), "Rescaling": ("scale", "offset")}
ANSWER_WAIT_S = 60  # no answer at all within this: the grader is not listening, train here
TRAINER_READY = "trainer"  # "trainer.json" in the answers folder: the grader's worker for this sandbox runs
ANSWER_STALE_S = 120  # an answer not refreshed for this long: the grader stopped, train here
IGNORED_FIT_ARGS = ("self", "verbose", "callbacks")


class DryRun(Exception):
    """Raised instead of training when the memo only computes a fit's key (`Memo.dry`)."""

    def __init__(self, key) -> None:
        super().__init__(key)
        self.key = key


class Unkeyable(Exception):
    """This fit cannot be described exactly: it trains as usual (a miss, with this reason)."""


# -- the key ---------------------------------------------------------------------------------

class _Hasher:
    """Arrays by their dtype, shape and the sha256 of their bytes (what a key says of an array)."""

    def array(self, value) -> dict:
        import numpy as np

        arr = np.asarray(value)
        dtype = str(arr.dtype)
        if dtype not in DTYPES:
            raise Unkeyable(f"array dtype {dtype}")
        arr = np.asarray(arr, order="C")  # (ascontiguousarray would make a scalar 1-d)
        part = hashlib.sha256(memoryview(arr.reshape(-1)).cast("B")).hexdigest() if arr.size else "empty"
        return {"dtype": dtype, "shape": list(arr.shape), "sha256": part}


def _plain(value, depth: int = 0):
    """A config as JSON-safe data; refuses what it cannot name exactly."""
    if depth > 30:
        raise Unkeyable("config too deep")
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [type(value).__name__] + [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    raise Unkeyable(f"config value of type {type(value).__name__}")


def _strip(config, drop=("name",), drop_suffix=("_initializer",)):
    """A layer/optimizer config without what does not change training: names, and initializers
    (the initial weights are hashed as bytes instead)."""
    if isinstance(config, dict):
        return {k: _strip(v, drop, drop_suffix) for k, v in config.items()
                if k not in drop and not any(k.endswith(s) for s in drop_suffix)}
    if isinstance(config, (list, tuple)):
        return type(config)(_strip(v, drop, drop_suffix) for v in config)
    return config


def _serialized_modules_ok(config) -> None:
    """Every object a serialized config names must be Keras' own."""
    if isinstance(config, dict):
        module = config.get("module")
        if isinstance(module, str) and not (module == "keras" or module.startswith("keras.")):
            raise Unkeyable(f"custom object {config.get('class_name')} from {module}")
        if config.get("registered_name") not in (None, config.get("class_name")) and "module" in config:
            raise Unkeyable(f"registered object {config.get('registered_name')}")
        for value in config.values():
            _serialized_modules_ok(value)
    elif isinstance(config, (list, tuple)):
        for value in config:
            _serialized_modules_ok(value)


class _Origins:
    """Is a class (and each function on it) the installed Keras/TensorFlow code, unpatched?"""

    def __init__(self, own=()) -> None:
        import keras
        import tensorflow

        self.roots = tuple(os.path.dirname(os.path.realpath(m.__file__)) + os.sep for m in (keras, tensorflow))
        self.own = {id(f) for f in own}  # this module's own `fit` wrapper
        self._seen: dict = {}

    def code_ok(self, function) -> bool:
        if id(function) in self.own:
            return True
        code = getattr(function, "__code__", None)
        if code is None:
            return True  # a builtin or C method: not something a notebook defines
        return os.path.realpath(code.co_filename).startswith(self.roots)

    def check_class(self, cls) -> None:
        for klass in cls.__mro__:
            module = klass.__module__ or ""
            if klass is object or module in ("builtins", "abc", "typing"):
                continue
            if not (module.startswith("keras.") or module.startswith("tensorflow.") or module == "keras"):
                raise Unkeyable(f"class {klass.__qualname__} from {module}")
            fingerprint = tuple(id(v) for v in vars(klass).values())
            if self._seen.get(klass) == fingerprint:
                continue
            for name, value in vars(klass).items():
                for function in _functions_of(value):
                    if not self.code_ok(function):
                        raise Unkeyable(f"{klass.__qualname__}.{name} was replaced")
            self._seen[klass] = fingerprint

    def check_instance(self, obj) -> None:
        self.check_class(type(obj))
        for name, value in list(vars(obj).items()):
            if isinstance(value, (types.FunctionType, types.MethodType)) and not self.code_ok(getattr(value, "__func__", value)):
                raise Unkeyable(f"{type(obj).__name__}.{name} is a function defined outside Keras")


def _functions_of(value):
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if f is not None]
    if isinstance(value, types.FunctionType):
        return [value]
    return []


def _architecture(model, origins: _Origins) -> dict:
    """Layers in order with their configs; a Sequential and a Functional chain of the same
    layers compute the same thing (measured bitwise) and get the same description."""
    from keras.src.layers.core.input_layer import InputLayer
    from keras.src.models.functional import Functional
    from keras.src.models.sequential import Sequential

    if type(model) not in (Sequential, Functional):
        raise Unkeyable(f"model class {type(model).__name__}")
    origins.check_instance(model)
    layers = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
    if type(model) is Functional:
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise Unkeyable("a model with several inputs or outputs")
        previous = None
        for layer in model.layers:
            nodes = layer._inbound_nodes
            if len(nodes) != 1:
                raise Unkeyable(f"layer {layer.name} is used more than once")
            parents = [node.operation for node in nodes[0].parent_nodes]
            expected = [] if previous is None else [previous]
            if parents != expected:
                raise Unkeyable("a model that is not a chain of layers")
            previous = layer
        if model.layers and not isinstance(model.layers[0], InputLayer):
            raise Unkeyable("a functional model without an InputLayer first")
        if layers and model.outputs[0] is not layers[-1].output:
            raise Unkeyable("a model whose output is not its last layer")
    described = []
    for layer in layers:
        if hasattr(layer, "layers") or getattr(layer, "_layers", None):
            raise Unkeyable(f"nested model {type(layer).__name__}")
        origins.check_instance(layer)
        config = layer.get_config()
        _serialized_modules_ok(config)
        described.append({"class": f"{type(layer).__module__}.{type(layer).__qualname__}",
                          "config": _plain(_strip(config)), "build": _plain(layer.get_build_config()),
                          "trainable": bool(layer.trainable)})
    return {"input": [None if d is None else int(d) for d in model.inputs[0].shape], "layers": described,
            "trainable": bool(model.trainable)}


def _compile_config(model, origins: _Origins) -> dict:
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise Unkeyable("the model is not compiled")
    config = model.get_compile_config()
    if config is None:
        raise Unkeyable("no compile config")
    config = {k: v for k, v in config.items() if k != "optimizer"}
    _serialized_modules_ok(config)
    loss = model.loss
    losses = list(loss.values()) if isinstance(loss, dict) else list(loss) if isinstance(loss, (list, tuple)) else [loss]
    for obj in losses:
        if obj is None or isinstance(obj, str):
            continue
        if isinstance(obj, types.FunctionType):
            if not origins.code_ok(obj):
                raise Unkeyable("a loss function defined outside Keras")
        else:
            origins.check_instance(obj)
    return _plain(_strip(config))


def _optimizer(model, origins: _Origins, hasher: _Hasher) -> dict:
    optimizer = model.optimizer
    origins.check_instance(optimizer)
    schedule = getattr(optimizer, "_learning_rate", None)
    if schedule is not None and not hasattr(schedule, "numpy") and not isinstance(schedule, (int, float)):
        origins.check_instance(schedule)
    config = optimizer.get_config()
    _serialized_modules_ok(config)
    return {"class": f"{type(optimizer).__module__}.{type(optimizer).__qualname__}", "config": _plain(_strip(config)),
            "built": bool(getattr(optimizer, "built", False)),
            "variables": [hasher.array(v.numpy()) for v in optimizer.variables]}


def _data(value, hasher: _Hasher, depth: int = 0):
    """x, y, validation data, weights: arrays by their bytes; containers by structure."""
    import numpy as np

    if depth > 5:
        raise Unkeyable("input nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, np.ndarray):
        return {"ndarray": hasher.array(value)}
    if isinstance(value, (np.generic,)):
        return {"scalar": hasher.array(np.asarray(value))}
    if type(value).__module__.startswith("tensorflow") and hasattr(value, "numpy") and hasattr(value, "dtype") \
            and type(value).__name__ in ("EagerTensor", "Tensor"):
        return {"tensor": hasher.array(value.numpy())}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [_data(v, hasher, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[_data(k, hasher, depth + 1), _data(v, hasher, depth + 1)]
                         for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))]}
    raise Unkeyable(f"input of type {type(value).__module__}.{type(value).__name__}")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            lines = [line for line in handle if line.startswith(("model name", "flags"))]
        return hashlib.sha256("".join(sorted(set(lines))).encode()).hexdigest()[:16]
    except OSError:
        import platform

        return platform.machine()


def _settings() -> dict:
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    return {"tf": tf.__version__, "keras": keras.__version__, "python": list(sys.version_info[:2]),
            "intra": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter": tf.config.threading.get_inter_op_parallelism_threads(),
            "determinism": bool(tf_config.is_op_determinism_enabled()), "floatx": keras.config.floatx(),
            "policy": keras.config.dtype_policy().name, "cpu": _cpu(), "eager": bool(tf.executing_eagerly())}


# -- RNG states ------------------------------------------------------------------------------

def rng_states() -> dict:
    """Every RNG a fit could read, as JSON: Python's, NumPy's global, TensorFlow's global seed and
    op-seed generator, its global Generator, Keras' global SeedGenerator."""
    import random

    import numpy as np
    from tensorflow.python.eager import context

    ctx = context.context()
    np_state = np.random.get_state()
    states = {"python": _jsonable(random.getstate()),
              "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
              "tf_seed": ctx._seed, "tf_rng": _jsonable(ctx._rng.getstate()) if ctx._rng is not None else None,
              "tf_generator": None, "keras_global": None}
    try:
        from tensorflow.python.ops import stateful_random_ops

        generator = getattr(stateful_random_ops, "_global_generator", None)
        if generator is not None:
            states["tf_generator"] = [int(generator.algorithm), generator.state.numpy().tolist()]
    except Exception:
        pass
    from keras.src.backend.common import global_state

    seed_generator = global_state.get_global_attribute("global_seed_generator")
    if seed_generator is not None:
        states["keras_global"] = seed_generator.state.numpy().tolist()
    return states


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def set_rng_states(states: dict) -> None:
    import random

    import numpy as np
    from tensorflow.python.eager import context

    random.setstate(_tuples(states["python"]))
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    ctx = context.context()
    if states["tf_rng"] is not None and ctx._rng is not None:
        ctx._rng.setstate(_tuples(states["tf_rng"]))
    if states.get("tf_generator") is not None:
        from tensorflow.python.ops import stateful_random_ops

        generator = getattr(stateful_random_ops, "_global_generator", None)
        if generator is not None:
            generator.state.assign(np.asarray(states["tf_generator"][1], dtype=generator.state.dtype.as_numpy_dtype))
    if states.get("keras_global") is not None:
        from keras.src.random.seed_generator import global_seed_generator

        generator = global_seed_generator()
        generator.state.assign(np.asarray(states["keras_global"], dtype=generator.state.dtype))


def become_rng_states(states: dict) -> None:
    """Make this process's RNGs exactly `states`, including which generators exist at all: the
    grader's worker taking on a delegated fit's RNG states before it computes that fit's key."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    if states.get("tf_seed") is not None and context.context()._seed != states["tf_seed"]:
        tf.random.set_seed(states["tf_seed"])
    # the generators the request has are made first: making one may draw from Python's RNG,
    # whose state is set after them
    if states.get("keras_global") is not None:
        from keras.src.random.seed_generator import global_seed_generator

        global_seed_generator()
    if states.get("tf_generator") is not None:
        tf.random.get_global_generator()
    set_rng_states(states)
    if states.get("tf_generator") is None:
        from tensorflow.python.ops import stateful_random_ops

        if getattr(stateful_random_ops, "_global_generator", None) is not None:
            stateful_random_ops._global_generator = None
    if states.get("keras_global") is None:
        from keras.src.backend.common import global_state

        global_state.set_global_attribute("global_seed_generator", None)


# -- entries ---------------------------------------------------------------------------------

def encode_entry(key: str, model, history, rng_after: dict) -> bytes:
    """An entry: magic, header length, JSON header, then each array's raw bytes."""
    import numpy as np

    arrays, chunks, offset = [], [], 0
    for role, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
        for index, variable in enumerate(variables):
            arr = np.asarray(variable.numpy(), order="C")
            raw = arr.tobytes()
            arrays.append({"role": role, "index": index, "dtype": str(arr.dtype), "shape": list(arr.shape),
                           "offset": offset, "nbytes": len(raw)})
            chunks.append(raw)
            offset += len(raw)
    payload = b"".join(chunks)
    header = {"key": key, "format": 1, "arrays": arrays, "sha256": hashlib.sha256(payload).hexdigest(),
              "history": {k: [float(v) for v in values] for k, values in history.history.items()},
              "params": _plain_params(history.params), "epoch": [int(e) for e in history.epoch], "rng_after": rng_after}
    raw_header = json.dumps(header).encode()
    return FORMAT + struct.pack("<Q", len(raw_header)) + raw_header + payload


def _plain_params(params) -> dict:
    return {str(k): v for k, v in (params or {}).items() if isinstance(v, (int, float, str, bool, type(None)))}


def decode_entry(raw: bytes, key: str) -> tuple[dict, bytes]:
    """(header, payload), or ValueError: a corrupt or foreign entry is never used."""
    if len(raw) < 16 or raw[:8] != FORMAT:
        raise ValueError("not a memo entry")
    (length,) = struct.unpack("<Q", raw[8:16])
    if length > len(raw) - 16:
        raise ValueError("truncated entry")
    header = json.loads(raw[16:16 + length])
    payload = raw[16 + length:]
    if header.get("key") != key or hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise ValueError("entry does not match its key or checksum")
    for spec in header["arrays"]:
        if spec["dtype"] not in DTYPES or spec["offset"] + spec["nbytes"] > len(payload):
            raise ValueError("bad array in entry")
    return header, payload


def _arrays(header: dict, payload: bytes, role: str) -> list:
    import numpy as np

    out = []
    for spec in header["arrays"]:
        if spec["role"] == role:
            chunk = payload[spec["offset"]:spec["offset"] + spec["nbytes"]]
            out.append(np.frombuffer(chunk, dtype=spec["dtype"]).reshape(spec["shape"]))
    return out


# -- a delegated fit's request ---------------------------------------------------------------

def _steps(bound: dict):
    """Optimizer steps the fit would take (None: cannot tell): short fits are not worth a request."""
    import math

    x = bound.get("x")
    rows = getattr(x, "shape", None)
    if not rows:
        return None
    n = int(rows[0])
    split = bound.get("validation_split") or 0.0
    if isinstance(split, (int, float)) and 0 < split < 1:
        n = int(n * (1 - split))
    batch = bound.get("batch_size") or 32
    epochs, first = bound.get("epochs") or 1, bound.get("initial_epoch") or 0
    per_epoch = bound.get("steps_per_epoch") or (math.ceil(n / batch) if isinstance(batch, int) and batch > 0 else None)
    if not isinstance(per_epoch, int) or not isinstance(epochs, int) or not isinstance(first, int):
        return None
    return per_epoch * max(0, epochs - first)


def _request_value(value):
    """A config value a request may carry as it is: JSON scalars, never objects."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise Unkeyable(f"config value of type {type(value).__name__}")


def encode_request(key: str, model, bound: dict, material: dict) -> bytes:
    """The fit as the grader can rebuild it: layers from REQUEST_LAYERS with their plain settings,
    every model and optimizer variable's bytes, the optimizer's class and config, the compile
    config, the fit's scalar arguments, the data (digests only, from the key) and the RNG states."""
    import numpy as np
    from keras.src.layers.core.input_layer import InputLayer

    layers = []
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        cls = type(layer)
        if cls.__name__ not in REQUEST_LAYERS or not cls.__module__.startswith("keras."):
            raise Unkeyable(f"layer {cls.__name__}")
        config = layer.get_config()
        layers.append({"class": cls.__name__, **{f: _request_value(config.get(f)) for f in REQUEST_LAYERS[cls.__name__]}})
    optimizer = model.optimizer
    compile_config = {k: v for k, v in (model.get_compile_config() or {}).items() if k != "optimizer"}
    arrays, chunks, offset = [], [], 0
    for role, variables in (("model", model.variables), ("optimizer", optimizer.variables)):
        for variable in variables:
            arr = np.asarray(variable.numpy(), order="C")
            raw = arr.tobytes()
            arrays.append({"role": role, "dtype": str(arr.dtype), "shape": list(arr.shape), "offset": offset,
                           "nbytes": len(raw), "trainable": bool(getattr(variable, "trainable", False))})
            chunks.append(raw)
            offset += len(raw)
    header = {"v": KEY_VERSION, "key": key, "input_shape": [int(d) for d in model.inputs[0].shape[1:]],
              "layers": layers, "optimizer": {"class": type(optimizer).__name__,
                                              "config": {k: _request_value(v) for k, v in optimizer.get_config().items()},
                                              "built": bool(getattr(optimizer, "built", False))},
              "compile": compile_config, "fit": {name: _request_value(bound.get(name)) for name in FIT_SCALARS},
              "data": material["data"], "rng": material["rng"], "arrays": arrays}
    raw_header = json.dumps(header).encode()
    return REQUEST_FORMAT + struct.pack("<Q", len(raw_header)) + raw_header + b"".join(chunks)


# -- the wrapper -----------------------------------------------------------------------------

class Memo:
    """Serves (and, in the grader's worker, records) fits by exact key; keeps a log of each fit."""

    def __init__(self, store: str | None, *, serve: bool = True, record: bool = False) -> None:
        self.store = store
        self.serve = serve and store is not None
        self.record = record and store is not None
        self.log: list[dict] = []
        self.entries: list[str] = []  # full keys of the entries this process served or recorded, in order
        self.on_epoch = None  # the worker's progress line; never changes training
        self.dry = False  # compute the key, then raise DryRun: the worker announcing what it will train
        self.delegation: dict | None = None  # {"requests", "answers", "min_steps", "start_steps", "max_bytes"}
        self._requests = 0
        self._material: dict | None = None  # the last key's material (the request reuses its digests)
        self._origins: _Origins | None = None
        self._original_fit = None
        self._wrapper = None

    # -- lookup --------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        return os.path.join(self.store, key)

    def lookup(self, key: str):
        try:
            with open(self._path(key), "rb") as handle:
                raw = handle.read()
        except OSError:
            return None
        try:
            return decode_entry(raw, key)
        except (ValueError, KeyError, TypeError):
            return "corrupt"

    def wait_for(self, key: str):
        """While the grader's worker is training this very key (its marker is fresh), wait for the
        entry instead of training it a second time; None when there is nothing to wait for."""
        marker = self._path(key + PENDING)
        waited = False
        while True:
            try:
                age = time.time() - os.stat(marker).st_mtime
            except OSError:
                return self.lookup(key) if waited else None  # done (or never started)
            if age > PENDING_STALE_S:
                return None
            waited = True
            time.sleep(WAIT_POLL_S)
            found = self.lookup(key)
            if found is not None:
                return found

    def _mark(self, key: str) -> str | None:
        marker = self._path(key + PENDING)
        try:
            with open(marker, "w"):
                pass
            os.chmod(marker, 0o644)
            return marker
        except OSError:
            return None

    def write(self, key: str, raw: bytes) -> None:
        tmp = self._path(f".{key}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(raw)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self._path(key))

    # -- the key -------------------------------------------------------------------------
    def key(self, model, bound: dict) -> str:
        if self._origins is None:
            self._origins = _Origins(own=[self._wrapper] if self._wrapper is not None else [])
        hasher = _Hasher()
        callbacks = bound.get("callbacks") or []
        if not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        import keras

        harmless = (keras.callbacks.History, keras.callbacks.ProgbarLogger)
        for callback in callbacks:
            if type(callback) not in harmless:
                raise Unkeyable(f"callback {type(callback).__name__}")
        material = {
            "v": KEY_VERSION,
            "settings": _settings(),
            "model": _architecture(model, self._origins),
            "variables": [dict(hasher.array(v.numpy()), trainable=bool(v.trainable)) for v in model.variables],
            "compile": _compile_config(model, self._origins),
            "optimizer": _optimizer(model, self._origins, hasher),
            "fit": {name: _plain(bound.get(name)) for name in FIT_SCALARS},
            "data": {name: _data(bound.get(name), hasher) for name in FIT_DATA},
            "rng": rng_states(),
        }
        unknown = set(bound) - set(FIT_SCALARS) - set(FIT_DATA) - set(IGNORED_FIT_ARGS)
        if unknown:
            raise Unkeyable(f"fit arguments {sorted(unknown)}")
        if material["rng"]["tf_seed"] is None:
            raise Unkeyable("no TensorFlow seed: the shuffle is not reproducible")
        self._material = material
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    # -- restore -------------------------------------------------------------------------
    def restore(self, model, header: dict, payload: bytes):
        """Put the model, optimizer and RNGs where training left them; checked before any change."""
        import keras

        optimizer = model.optimizer
        model_arrays = _arrays(header, payload, "model")
        optimizer_arrays = _arrays(header, payload, "optimizer")
        if len(model_arrays) != len(model.variables) or any(
                tuple(a.shape) != tuple(v.shape) or str(a.dtype) != str(v.dtype) for a, v in zip(model_arrays, model.variables)):
            raise ValueError("model variables do not match the entry")
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        if len(optimizer_arrays) != len(optimizer.variables) or any(
                tuple(a.shape) != tuple(v.shape) for a, v in zip(optimizer_arrays, optimizer.variables)):
            raise ValueError(f"optimizer variables do not match the entry ({len(optimizer_arrays)} stored, "
                             f"{len(optimizer.variables)} here)")
        for variable, value in zip(model.variables, model_arrays):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, optimizer_arrays):
            variable.assign(value)
        set_rng_states(header["rng_after"])
        history = keras.callbacks.History()
        history.set_model(model)
        history.set_params(dict(header["params"]))
        history.epoch = list(header["epoch"])
        history.history = {k: list(v) for k, v in header["history"].items()}
        model.history = history
        return history

    # -- fit -----------------------------------------------------------------------------
    def fit(self, original, model, args, kwargs):
        started = time.monotonic()
        record = {"served": False, "reason": "", "key": ""}
        key = None
        try:
            bound = inspect.signature(original).bind(model, *args, **kwargs)
            bound.apply_defaults()
            key = self.key(model, dict(bound.arguments))
            record["key"] = key[:16]
        except Unkeyable as exc:
            record["reason"] = f"unkeyable: {exc}"[:200]
        except Exception as exc:  # describing the fit failed: train as usual
            record["reason"] = f"unkeyable: {type(exc).__name__}: {exc}"[:200]
        if self.dry:
            raise DryRun(key)
        if key is not None and self.serve:
            found = self.lookup(key)
            if found is None and not self.record:  # a worker never waits: it is the one training
                found = self.wait_for(key)
                record["waited"] = found is not None
            if found == "corrupt":
                record["reason"] = "corrupt entry"
            elif found is not None:
                history = self._serve(model, key, found, record, "exact key", started)
                if history is not None:
                    return history
            else:
                record["reason"] = "no entry"
                if self.delegation is not None and not self.record:
                    found, why = self._delegate(key, model, dict(bound.arguments))
                    record["delegated"] = why
                    history = self._serve(model, key, found, record, "delegated", started) if found is not None else None
                    if history is not None:
                        return history
        elif key is not None:
            record["reason"] = "memo off"
        marker = self._mark(key) if key is not None and self.record else None
        if marker is not None or self.on_epoch is not None:  # the worker's own fits (always keyword arguments)
            kwargs = dict(kwargs)
            kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [_progress_callback(self._epoch_done(marker))]
        try:
            history = original(model, *args, **kwargs)
            if marker is not None:
                try:
                    self.write(key, encode_entry(key, model, history, rng_states()))
                    record["recorded"] = True
                    self.entries.append(key)
                except Exception as exc:
                    record["record_error"] = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            if marker is not None:
                with contextlib.suppress(OSError):
                    os.unlink(marker)
        record["seconds"] = round(time.monotonic() - started, 3)
        self._log(record)
        return history

    def _serve(self, model, key: str, found, record: dict, reason: str, started: float):
        """Restore an entry into the model (its History), or None with the refusal in `record`."""
        try:
            history = self.restore(model, *found)
        except Exception as exc:
            record["reason"] = f"restore refused: {exc}"[:200]
            return None
        record.update(served=True, reason=reason, seconds=round(time.monotonic() - started, 3))
        self.entries.append(key)
        self._log(record)
        return history

    # -- delegation --------------------------------------------------------------------
    def _delegate(self, key: str, model, bound: dict):
        """(entry, why): ask the grader to train this fit and wait for its entry; (None, why) when
        it trains here instead. The wait is the student's time, like training would be."""
        config = self.delegation
        steps = _steps(bound)
        if steps is None or steps < int(config.get("min_steps", 0)):
            return None, "short fit: trained here"
        if steps < int(config.get("start_steps", 0)) and not os.path.exists(os.path.join(config["answers"], f"{TRAINER_READY}.json")):
            return None, "short fit for a worker yet to start: trained here"
        try:
            raw = encode_request(key, model, bound, self._material)
        except Unkeyable as exc:
            return None, f"not delegable: {exc}"[:200]
        except Exception as exc:
            return None, f"not delegable: {type(exc).__name__}: {exc}"[:200]
        if len(raw) > int(config.get("max_bytes", 64 << 20)):
            return None, "not delegable: too large"
        self._requests += 1
        name = str(self._requests)
        folder = config["requests"]
        try:
            tmp = os.path.join(folder, f".{name}.tmp")
            with open(tmp, "wb") as handle:
                handle.write(raw)
            os.replace(tmp, os.path.join(folder, f"{name}.req"))
        except OSError as exc:
            return None, f"request not written: {exc.strerror or exc}"[:200]
        return self._await(name, key, config)

    def _await(self, name: str, key: str, config: dict):
        path = os.path.join(config["answers"], f"{name}.json")
        asked = time.monotonic()
        while True:
            answer, age = None, 0.0
            try:
                with open(path, "rb") as handle:
                    age = time.time() - os.fstat(handle.fileno()).st_mtime
                    answer = json.loads(handle.read(8192))
            except (OSError, ValueError):
                pass
            state = answer.get("state") if isinstance(answer, dict) else None
            if state == "done":
                found = self.lookup(key)
                if found is None or found == "corrupt":
                    return None, "delegated entry missing: trained here"
                return found, "served"
            if state in ("refused", "failed", "cancelled"):
                return None, f"{state}: {str(answer.get('reason', ''))[:160]}"
            if state is None and time.monotonic() - asked > float(config.get("answer_wait_s", ANSWER_WAIT_S)):
                return None, "no answer: trained here"
            if state is not None and age > float(config.get("stale_s", ANSWER_STALE_S)):
                return None, "the grader stopped answering: trained here"
            time.sleep(WAIT_POLL_S)

    def _epoch_done(self, marker: str | None):
        def done(epoch, total) -> None:
            if marker is not None:
                with contextlib.suppress(OSError):
                    os.utime(marker)  # still training: whoever waits for this key keeps waiting
            if self.on_epoch is not None:
                self.on_epoch(epoch, total)
        return done

    def _log(self, record: dict) -> None:
        if len(self.log) < MAX_LOG:
            self.log.append(record)

    def summary(self) -> dict:
        return {"fits": len(self.log), "served": sum(1 for r in self.log if r["served"]), "log": list(self.log)}

    # -- installation --------------------------------------------------------------------
    def wrap_keras(self) -> None:
        import keras

        if self._original_fit is not None:
            return
        original = keras.Model.fit
        self._original_fit = original
        memo = self

        def fit(model, *args, **kwargs):
            return memo.fit(original, model, args, kwargs)

        fit.__doc__ = original.__doc__
        fit.__wrapped__ = original
        self._wrapper = fit
        keras.Model.fit = fit


def _progress_callback(on_epoch):
    import keras

    class _Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            on_epoch(epoch + 1, self.params.get("epochs"))

    return _Progress()


def apply_settings(threads: int, determinism: bool) -> None:
    """The grader's TensorFlow settings: before any op runs, in the sandbox and the worker alike.

    With op determinism on, TensorFlow refuses any random op (the shuffle in `fit` is one) until
    a global seed is set. Code that never seeds must still run, and still vary from run to run,
    so a process without a seed starts from one drawn from the OS: what unseeded code had in
    effect before. A seed the code sets later replaces it."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # the runtime already started (TF was used before): leave it, the key says so
        pass
    if determinism:
        tf.config.experimental.enable_op_determinism()
        if context.context()._seed is None:
            tf.random.set_seed(int.from_bytes(os.urandom(4), "little") % (2**31 - 1))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a hook right after a top-level module finishes importing (TensorFlow's settings,
    the fit wrapper), so a notebook that never imports Keras pays nothing. A hook is spent when
    the module is executed, not when it is looked up: TensorFlow asks for Keras' spec (to see
    whether it is installed) long before anything imports it."""

    def __init__(self, hooks: dict) -> None:
        self.hooks = dict(hooks)
        self.busy: set = set()
        self.errors: list = []

    def find_spec(self, name, path=None, target=None):
        if name not in self.hooks or name in self.busy:
            return None
        self.busy.add(name)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy.discard(name)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _HookedLoader(spec.loader, name, self)
        return spec

    def run(self, name: str, module) -> None:
        hook = self.hooks.pop(name, None)
        if hook is None:
            return
        try:
            hook(module)
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])


class _HookedLoader(importlib.abc.Loader):
    def __init__(self, inner, name: str, finder: _AfterImport) -> None:
        self.inner, self.name, self.finder = inner, name, finder

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = self.inner
        if module.__spec__ is not None:
            module.__spec__.loader = self.inner
        self.inner.exec_module(module)
        self.finder.run(self.name, module)


def install(config: dict) -> Memo:
    """Set the grader's TF settings and wrap `fit`, now if TF/Keras are loaded, else on import.

    config: {"store": folder or None, "serve": bool, "record": bool, "threads": int, "determinism": bool}
    """
    memo = Memo(config.get("store"), serve=bool(config.get("serve", True)), record=bool(config.get("record", False)))
    if isinstance(config.get("delegate"), dict) and memo.serve and not memo.record:
        memo.delegation = dict(config["delegate"])
    threads, determinism = int(config.get("threads", 2)), bool(config.get("determinism", True))
    module = types.ModuleType(MODULE_NAME)
    module.memo = memo
    module.summary = memo.summary
    sys.modules[MODULE_NAME] = module
    hooks = {"tensorflow": lambda _: apply_settings(threads, determinism), "keras": lambda _: memo.wrap_keras()}
    if "tensorflow" in sys.modules:
        hooks.pop("tensorflow")(None)
    if "keras" in sys.modules:
        hooks.pop("keras")(None)
    if hooks:
        finder = _AfterImport(hooks)
        module.import_errors = finder.errors
        sys.meta_path.insert(0, finder)
    return memo


__all__ = ["Memo", "Unkeyable", "DryRun", "install", "apply_settings", "rng_states", "set_rng_states", "encode_entry",
           "decode_entry", "encode_request", "become_rng_states", "MODULE_NAME", "REQUEST_FORMAT", "REQUEST_LAYERS"]
