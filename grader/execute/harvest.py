"""Runs INSIDE the sandbox, after the student's code, in the student's process.

It is grader-owned but untrusted by construction (the student's code ran first and could have
changed anything), so it only writes evidence: plain JSON and `.npy` arrays
(allow_pickle=False) into OUT. The grader validates all of it and recomputes what matters.
It imports nothing from the grader package (which is not visible inside the sandbox).

Values are encoded generically: {"t": "number"|"bool"|"str"|"list"|"dict"|"array"|"model"|
"history"|"callable"|"none"|"unsupported", ...}. Callables named in the contract with a
"probe" are called (e.g. build_model(kernel_initializer=k)) under a fixed seed and the models
they return are exported with their fresh weights.
"""

import hashlib
import io
import json
import math
import os
import traceback

MAX_ARRAY = 20_000_000
MAX_LIST = 100_000
MAX_DEPTH = 6
SEAL_MIME = "application/x-grader-seal+json"
"""The harvest's seal in a notebook: one display output of the harvest cell, on the kernel's
message channel, which the grader reads as the cell runs (grader/execute/notebook.py)."""
SEAL_MARK = "grader-seal: "
"""The harvest's seal of a module run: one line on the process's own stdout, after the module
(grader/execute/module.py)."""


class _Writer:
    def __init__(self, out):
        import shutil

        self.out = out
        self.count = 0
        if os.path.islink(out) or os.path.isfile(out):
            os.unlink(out)
        elif os.path.isdir(out):  # may be a mount point: empty it, keep it
            for name in os.listdir(out):
                path = os.path.join(out, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
        os.makedirs(out, exist_ok=True)
        self.sealed = {}  # file name -> sha256 of the bytes this writer wrote

    def write(self, name, data):
        """Write `data` as OUT/name and seal it: the digest is of the bytes in hand, never of the file
        read back, so a rewrite at any moment after this call is a mismatch when the grader copies it."""
        with open(os.path.join(self.out, name), "wb") as handle:
            handle.write(data)
        self.sealed[name] = hashlib.sha256(data).hexdigest()

    def _name(self, stem):
        self.count += 1
        return f"{self.count:04d}-{stem}"

    def array(self, value):
        import numpy as np

        arr = np.asarray(value)
        if arr.dtype == object or arr.size > MAX_ARRAY:
            return {"t": "unsupported", "type": f"ndarray[{arr.dtype}] size {arr.size}"}
        if arr.dtype.kind not in "biuf":
            return {"t": "unsupported", "type": f"ndarray[{arr.dtype}]"}
        name = self._name("array.npy")
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(arr), allow_pickle=False)
        self.write(name, buffer.getvalue())
        return {"t": "array", "file": name, "shape": list(arr.shape), "dtype": str(arr.dtype)}

    def model(self, model):
        return self._layers(model, model.layers)

    def layer(self, layer):
        """A built layer on its own (ex1_layer = Dense(128); ex1_layer.build(...)): a one-layer model
        whose input is what its kernel expects (unbuilt, it has no weights and the grader says so)."""
        return self._layers(layer, [layer])

    def _layers(self, model, model_layers):
        layers = []
        for layer in model_layers:
            weights = []
            for variable in layer.weights:
                entry = self.array(variable.numpy())
                entry["name"] = str(getattr(variable, "path", None) or variable.name)
                weights.append(entry)
            try:
                config = _plain(layer.get_config())
            except Exception as exc:  # a custom layer whose config fails
                config = {"error": repr(exc)[:300]}
            cls = type(layer)  # its real type: a look-alike named Dense is not Keras's Dense
            layers.append({"class": cls.__name__ if _keras_own(cls) else f"{cls.__name__} (not Keras's own)",
                           "module": str(cls.__dict__.get("__module__"))[:200],
                           "config": config, "weights": weights})
        try:
            if model_layers and model_layers[0] is model:  # a lone layer: the kernel's first axis is its input
                input_shape = [None, int(model.kernel.shape[0])]
            else:
                input_shape = [None if d is None else int(d) for d in model.inputs[0].shape]
        except Exception:
            input_shape = None
        desc = {"class": type(model).__name__, "input_shape": input_shape, "layers": layers}
        name = self._name("model.json")
        self.write(name, json.dumps(desc).encode())
        return {"t": "model", "file": name}


def _plain(value, depth=0):
    """Layer configs as JSON-safe data (no objects, finite numbers as floats)."""
    if depth > 12:
        return None
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in list(value)[:200]]
    return repr(value)[:200]


def _keras_own(cls):
    """A class Keras itself defines, not a student's look-alike: its module is keras's and that
    module really holds this very class under its name (a copied `__module__` is not enough)."""
    import sys

    module, name = cls.__dict__.get("__module__"), cls.__dict__.get("__qualname__", cls.__name__)
    if not isinstance(module, str) or not (module == "keras" or module.startswith("keras.")):
        return False
    return isinstance(name, str) and getattr(sys.modules.get(module), name, None) is cls


def _is_model(value):
    """`type(value)`, not `value.__class__` (a property can claim anything): a real keras.Model
    subclass (its layers' classes are checked one by one in _Writer._layers)."""
    try:
        import keras
    except Exception:
        return False
    return issubclass(type(value), keras.Model)


def _is_layer(value):
    try:
        import keras
    except Exception:
        return False
    return issubclass(type(value), keras.layers.Layer) and not issubclass(type(value), keras.Model) \
        and _keras_own(type(value))


_NUMPY_SCALARS = ()


def encode(value, writer, depth=0):
    import numpy as np

    global _NUMPY_SCALARS
    if not _NUMPY_SCALARS:
        _NUMPY_SCALARS = frozenset(np.dtype(name).type for name in (
            "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"))

    if depth > MAX_DEPTH:
        return {"t": "unsupported", "type": "too deep"}
    if value is None:
        return {"t": "none"}
    # exact types, never isinstance: a subclass can make float(), repr() and == say different things
    kind = type(value)
    if kind is bool or kind is np.bool_:
        return {"t": "bool", "v": bool(value)}
    if kind is int or kind is float or (kind in _NUMPY_SCALARS):
        number = float(value)
        return {"t": "number", "v": number if math.isfinite(number) else str(number)}
    if kind is str:
        return {"t": "str", "v": str.__str__(value)[:2000]}
    if _is_model(value):
        return writer.model(value)
    if _is_layer(value):
        return writer.layer(value)
    if type(value).__name__ == "History" and isinstance(getattr(value, "history", None), dict):
        return {"t": "history", "v": encode(value.history, writer, depth + 1)}
    if isinstance(value, np.ndarray) or hasattr(value, "numpy"):
        try:
            arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        except Exception as exc:
            return {"t": "unsupported", "type": f"{type(value).__name__}: {exc!r}"[:300]}
        if arr.ndim == 0 and arr.dtype.kind in "biuf":
            return encode(arr.item(), writer, depth)
        return writer.array(arr)
    if kind is dict:
        items = list(dict.items(value))[:1000]
        return {"t": "dict", "v": {str(k)[:200]: encode(v, writer, depth + 1) for k, v in items}}
    if kind is list or kind is tuple:
        if len(value) > MAX_LIST:
            return {"t": "unsupported", "type": f"list of {len(value)}"}
        return {"t": "list", "v": [encode(v, writer, depth + 1) for v in value]}
    if callable(value):
        return {"t": "callable", "type": type(value).__name__}
    return {"t": "unsupported", "type": type(value).__name__[:100]}


def _probe(function, probe, writer):
    """Call function(**{kwarg: value}) for each value, seeded, and export the models."""
    import keras

    results = {}
    for index, option in enumerate(probe["values"]):
        try:
            keras.utils.set_random_seed(int(probe.get("seed", 1234)) + index)
            model = function(**{probe["kwarg"]: option})
            results[option] = encode(model, writer)
        except Exception:
            results[option] = {"t": "error", "traceback": traceback.format_exc()[-3000:]}
    return {"t": "probe", "v": results}


def harvest(namespace, out, contract_path, module_status=None, publish=False):
    """Write OUT/manifest.json describing every contract name found in `namespace`; return the seal,
    each file's sha256, which the grader must receive where the outbox is not: `publish` (the
    notebook's harvest cell) sends it as the cell's output, run_module prints it on stdout."""
    import time

    started = time.monotonic()
    with open(contract_path) as handle:
        contract = json.load(handle)
    writer = _Writer(out)
    values, errors = {}, {}
    for name, spec in contract["names"].items():
        if name not in namespace:
            continue
        try:
            value = namespace[name]
            entry = encode(value, writer)
            if spec.get("probe") and callable(value):
                entry = {"t": "callable", "probe": _probe(value, spec["probe"], writer)}
            values[name] = entry
        except Exception:
            errors[name] = traceback.format_exc()[-3000:]
    manifest = {"harvest": 1, "values": values, "errors": errors, "module": module_status, "memo": _memo_log(),
                "seconds": time.monotonic() - started}
    writer.write("manifest.json", json.dumps(manifest).encode())
    seal = {"files": writer.sealed}
    if publish:
        publish_seal(seal)
    return seal


def publish_seal(seal):
    """In a notebook: the seal as one display output of the harvest cell. The kernel sends it on
    its message channel while the cell runs; a thread that rewrites the outbox afterwards cannot
    change what was sent, and a forged second seal in the same cell voids both."""
    from IPython.display import display

    display({SEAL_MIME: seal}, raw=True)


def _memo_log():
    """The fit wrapper's log (grader/memo/fitmemo.py), if it was installed: a claim like the rest."""
    import sys

    module = sys.modules.get("_grader_memo")
    try:
        return module.summary() if module is not None else None
    except Exception:
        return None


class OutOfTime(BaseException):
    """Raised into the module when its share of the budget is spent (a BaseException, so that a
    student's `except Exception` does not swallow it)."""


def run_module(source_path, out, contract_path, deadline_s=None):
    """For .py submissions: exec the module as __main__, record a failure, then harvest.

    With `deadline_s`, an alarm stops the module that many seconds after it starts (the total
    budget minus the harvest's reserve), and what it defined by then is harvested. A module
    that catches BaseException or ignores SIGALRM runs on until the grader kills it: then
    nothing is harvested, and the grader says so."""
    import signal
    import sys
    import time

    namespace = {"__name__": "__main__", "__file__": source_path, "__builtins__": __builtins__}
    status = {"ok": True, "traceback": ""}
    started = time.monotonic()

    def out_of_time(signum, frame):
        raise OutOfTime()

    try:
        if deadline_s:
            signal.signal(signal.SIGALRM, out_of_time)
            signal.setitimer(signal.ITIMER_REAL, float(deadline_s))
        with open(source_path, "rb") as handle:
            code = compile(handle.read(), os.path.basename(source_path), "exec")
        exec(code, namespace)
    except OutOfTime:
        status = {"ok": False, "timeout": True, "traceback": traceback.format_exc()[-20000:]}
    except BaseException:  # SystemExit and KeyboardInterrupt too: record, then harvest
        status = {"ok": False, "traceback": traceback.format_exc()[-20000:]}
    finally:
        if deadline_s:
            signal.setitimer(signal.ITIMER_REAL, 0)
    status["seconds"] = time.monotonic() - started
    seal = harvest(namespace, out, contract_path, module_status=status)
    # the seal, on the process's own stdout (a student's sys.stdout is not used): the grader reads it from
    # the output's tail; a forged second line voids both
    line = ("\n" + SEAL_MARK + json.dumps(seal, separators=(",", ":")) + "\n").encode()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os.write(1, line)


__all__ = ["harvest", "run_module", "publish_seal", "OutOfTime", "encode", "MAX_ARRAY", "MAX_LIST", "MAX_DEPTH",
           "SEAL_MIME", "SEAL_MARK"]
