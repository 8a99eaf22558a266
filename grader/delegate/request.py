"""A delegated fit's request, as the grader reads it: a claim, checked field by field.

The sandbox writes `<n>.req` (grader/memo/fitmemo.py, `encode_request`) into a folder it can
write and the grader watches. Nothing in it is trusted: it is read once, from an open file that
is not a link, within a size bound; every field goes through an allow-list (layer classes and
their plain settings, activations, optimizers, losses, metrics, fit arguments, RNG state shapes)
and the caps of the rubric's `delegation` section (parameters, epochs). What passes is a
`FitRequest`: plain data the training worker turns into a Keras model with the grader's own
code (`modeldesc.to_keras`), never by deserializing anything of the student's.

Passing these checks proves nothing about the fit: the worker computes the memo key of what it
rebuilt and trains only if it equals the key the sandbox asked for.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..bounded import MAX_JSON_DEPTH, MAX_JSON_ITEMS, json_shape
from ..memo.fitmemo import FIT_DATA, FIT_SCALARS, KEY_VERSION, REQUEST_FORMAT, REQUEST_LAYERS
from ..modeldesc import ACTIVATIONS, MAX_UNITS

MAX_HEADER = 1 << 20  # a header is layers, configs and RNG states: about 30 KB
MAX_LAYERS = 64
MAX_ARRAYS = 512
DTYPES = {"float16", "float32", "float64", "int32", "int64", "uint8"}
OPTIMIZERS = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam", "Adadelta", "Lion", "Ftrl"}
LOSSES = {"sparse_categorical_crossentropy", "categorical_crossentropy", "mean_squared_error", "mse",
          "binary_crossentropy", "mean_absolute_error", "mae", "kl_divergence"}
METRICS = {"accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "mse", "mae",
           "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy", "crossentropy"}
COMPILE_KEYS = {"loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly", "steps_per_execution",
                "jit_compile", "auto_scale_loss"}
NAME = re.compile(r"\d{1,6}\.req")
KEY = re.compile(r"[0-9a-f]{64}")


class RequestRefused(Exception):
    """Why a request is not the grader's to train (a short English reason for execution.memo)."""


@dataclass(frozen=True)
class Caps:
    """What one submission may ask for (the rubric's `delegation` section, resolved)."""

    fits: int
    epochs: int
    params: int
    max_bytes: int


@dataclass(frozen=True)
class FitRequest:
    """A validated request: the model as `modeldesc` JSON, the arrays as slices of `payload`."""

    key: str
    model: dict
    arrays: tuple
    optimizer: dict
    compile: dict
    fit: dict
    data: dict
    rng: dict
    params: int
    payload: bytes = field(repr=False, default=b"")

    def to_json(self) -> dict:
        """The header of the grader's own copy, which the worker reads (the payload follows it)."""
        return {"key": self.key, "model": self.model, "arrays": list(self.arrays), "optimizer": self.optimizer,
                "compile": self.compile, "fit": self.fit, "data": self.data, "rng": self.rng, "params": self.params}

    def encode(self) -> bytes:
        header = json.dumps(self.to_json()).encode()
        return REQUEST_FORMAT + struct.pack("<Q", len(header)) + header + self.payload


def read_file(path: Path, limit: int) -> bytes:
    """The bytes of one request: an open regular file, no link followed, at most `limit` bytes.
    Read once; a file replaced while it is read gives whatever bytes this descriptor had, and
    the checks below decide on those bytes alone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise RequestRefused(f"unreadable: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RequestRefused("not a regular file")
        if info.st_size > limit:
            raise RequestRefused(f"too large ({info.st_size} bytes, at most {limit})")
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise RequestRefused(f"too large (more than {limit} bytes)")
    return raw


def _named(value, allowed) -> bool:
    """A name from an allow-list (a dict or list where a name belongs is not one)."""
    return isinstance(value, str) and value in allowed


def _int(value, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RequestRefused(f"{what}: {str(value)[:40]}")
    return value


def _number(value, what: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise RequestRefused(f"{what}: {str(value)[:40]}")
    return value


def _layers(raw, input_shape) -> tuple[dict, int]:
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_LAYERS:
        raise RequestRefused("layers")
    layers = []
    for layer in raw:
        cls = layer.get("class") if isinstance(layer, dict) else None
        if not _named(cls, REQUEST_LAYERS) or set(layer) != {"class", *REQUEST_LAYERS[cls]}:
            raise RequestRefused(f"layer {str(cls)[:40]}")
        if cls == "Dense":
            if not _named(layer["activation"], ACTIVATIONS) or not isinstance(layer["use_bias"], bool):
                raise RequestRefused("Dense settings")
            zeros = {"name": "zeros", "params": {}}  # the bytes are set afterwards; nothing drawn
            layers.append({"kind": "dense", "units": _int(layer["units"], 1, MAX_UNITS, "units"),
                           "activation": layer["activation"], "use_bias": layer["use_bias"],
                           "kernel_init": zeros, "bias_init": zeros})
        elif cls == "Flatten":
            layers.append({"kind": "flatten"})
        elif cls == "Dropout":
            rate = _number(layer["rate"], "dropout rate")
            if not 0 <= rate < 1:
                raise RequestRefused("dropout rate")
            layers.append({"kind": "dropout", "rate": float(rate)})
        elif cls == "Activation":
            if not _named(layer["activation"], ACTIVATIONS):
                raise RequestRefused("activation")
            layers.append({"kind": "activation", "activation": layer["activation"]})
        else:
            layers.append({"kind": "rescaling", "scale": float(_number(layer["scale"], "scale")),
                           "offset": float(_number(layer["offset"], "offset"))})
    return {"input_shape": input_shape, "layers": layers}, len(layers)


def _arrays(raw, payload_size: int, caps: Caps) -> tuple[tuple, int]:
    if not isinstance(raw, list) or len(raw) > MAX_ARRAYS:
        raise RequestRefused("arrays")
    out, offset, params = [], 0, 0
    for spec in raw:
        if not isinstance(spec, dict) or not _named(spec.get("role"), ("model", "optimizer")) \
                or not _named(spec.get("dtype"), DTYPES):
            raise RequestRefused("array description")
        shape = spec.get("shape")
        if not isinstance(shape, list) or len(shape) > 8:
            raise RequestRefused("array shape")
        size = math.prod(_int(d, 0, 1 << 31, "array dimension") for d in shape)
        nbytes = size * np.dtype(spec["dtype"]).itemsize
        if spec.get("offset") != offset or spec.get("nbytes") != nbytes or offset + nbytes > payload_size:
            raise RequestRefused("array bytes")
        if spec["role"] == "model":
            params += size
            if params > caps.params:
                raise RequestRefused(f"more than {caps.params} parameters")
        out.append({"role": spec["role"], "dtype": spec["dtype"], "shape": shape, "offset": offset, "nbytes": nbytes,
                    "trainable": spec.get("trainable") is True})
        offset += nbytes
    if offset != payload_size:
        raise RequestRefused("payload size")
    return tuple(out), params


def _optimizer(raw) -> dict:
    if not isinstance(raw, dict) or not _named(raw.get("class"), OPTIMIZERS) or not isinstance(raw.get("built"), bool):
        raise RequestRefused(f"optimizer {str(raw.get('class') if isinstance(raw, dict) else raw)[:40]}")
    config = raw.get("config")
    if not isinstance(config, dict) or len(config) > 40:
        raise RequestRefused("optimizer config")
    for name, value in config.items():
        if not re.fullmatch(r"[a-z_0-9]{1,40}", name):
            raise RequestRefused("optimizer config")
        if isinstance(value, str):
            if name != "name" or len(value) > 64:
                raise RequestRefused(f"optimizer {name}")
        elif value is not None and not isinstance(value, bool):
            _number(value, f"optimizer {name}")
    return {"class": raw["class"], "config": dict(config), "built": raw["built"]}


def _compile(raw) -> dict:
    if not isinstance(raw, dict) or not set(raw) <= COMPILE_KEYS or not _named(raw.get("loss"), LOSSES):
        raise RequestRefused("compile config")
    metrics = raw.get("metrics")
    if metrics is not None and (not isinstance(metrics, list) or len(metrics) > 10 or not all(_named(m, METRICS) for m in metrics)):
        raise RequestRefused("metrics")
    for name in ("loss_weights", "weighted_metrics"):
        if raw.get(name) is not None:
            raise RequestRefused(name)
    for name in ("run_eagerly", "auto_scale_loss"):
        if name in raw and not isinstance(raw[name], bool):
            raise RequestRefused(name)
    if "steps_per_execution" in raw:
        _int(raw["steps_per_execution"], 1, 10_000, "steps_per_execution")
    if "jit_compile" in raw and not (isinstance(raw["jit_compile"], bool) or raw["jit_compile"] == "auto"):
        raise RequestRefused("jit_compile")
    return dict(raw)


def _fit(raw, caps: Caps) -> dict:
    if not isinstance(raw, dict) or set(raw) != set(FIT_SCALARS):
        raise RequestRefused("fit arguments")
    epochs = _int(raw["epochs"], 1, 1_000_000, "epochs")
    first = _int(raw["initial_epoch"], 0, epochs - 1, "initial_epoch")
    if epochs - first > caps.epochs:
        raise RequestRefused(f"more than {caps.epochs} epochs")
    if raw["batch_size"] is not None:
        _int(raw["batch_size"], 1, 1 << 20, "batch_size")
    if raw["validation_batch_size"] is not None:
        _int(raw["validation_batch_size"], 1, 1 << 20, "validation_batch_size")
    split = _number(raw["validation_split"], "validation_split")
    if not 0 <= split < 1:
        raise RequestRefused("validation_split")
    if not isinstance(raw["shuffle"], bool):
        raise RequestRefused("shuffle")
    for name in ("steps_per_epoch", "validation_steps"):
        if raw[name] is not None:
            raise RequestRefused(name)
    _int(raw["validation_freq"], 1, 1_000_000, "validation_freq")
    return dict(raw)


def _data_tree(value, catalog, depth: int = 0):
    """The key's description of x, y and validation data; every array must be one the grader has."""
    if depth > 3:
        raise RequestRefused("data nested too deeply")
    if value is None:
        return None
    if isinstance(value, dict) and len(value) == 1:
        (kind, inner), = value.items()
        if kind == "ndarray":
            recipe = catalog.find(inner)
            if recipe is None:
                raise RequestRefused("an array the grader does not hold")
            return {"ndarray": dict(inner), "recipe": recipe.to_json()}
        if kind in ("tuple", "list") and isinstance(inner, list) and len(inner) <= 3:
            return {kind: [_data_tree(v, catalog, depth + 1) for v in inner]}
    raise RequestRefused("data the grader does not hold")


def _rng(raw) -> dict:
    """The RNG states' shapes (their values are only ever compared through the key)."""
    if not isinstance(raw, dict) or set(raw) != {"python", "numpy", "tf_seed", "tf_rng", "tf_generator", "keras_global"}:
        raise RequestRefused("RNG states")
    _int(raw["tf_seed"], -(1 << 63), 1 << 63, "tf_seed")

    def python_state(state, what):
        if not (isinstance(state, list) and len(state) == 3 and isinstance(state[1], list) and len(state[1]) <= 700
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 32 for v in state[1])
                and isinstance(state[0], int) and (state[2] is None or isinstance(state[2], float))):
            raise RequestRefused(f"RNG state {what}")

    python_state(raw["python"], "python")
    if raw["tf_rng"] is not None:
        python_state(raw["tf_rng"], "tf")
    numpy_state = raw["numpy"]
    if not (isinstance(numpy_state, list) and len(numpy_state) == 5 and numpy_state[0] == "MT19937"
            and isinstance(numpy_state[1], list) and len(numpy_state[1]) == 624
            and all(isinstance(v, int) and 0 <= v < 1 << 32 for v in numpy_state[1])):
        raise RequestRefused("RNG state numpy")
    for name in ("tf_generator", "keras_global"):
        value = raw[name]
        if value is not None and (not isinstance(value, list) or len(value) > 4 or len(str(value)) > 200):
            raise RequestRefused(f"RNG state {name}")
    return raw


def parse(raw: bytes, caps: Caps, catalog) -> FitRequest:
    """A FitRequest, or RequestRefused with the first reason found."""
    if len(raw) < 16 or raw[:8] != REQUEST_FORMAT:
        raise RequestRefused("not a request")
    (length,) = struct.unpack("<Q", raw[8:16])
    if length > min(MAX_HEADER, len(raw) - 16):
        raise RequestRefused("header size")
    text = raw[16:16 + length]
    depth, items = json_shape(text)
    if depth > MAX_JSON_DEPTH or items > MAX_JSON_ITEMS:
        raise RequestRefused("header shape")
    try:
        header = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RequestRefused("header is not JSON") from exc
    if not isinstance(header, dict) or header.get("v") != KEY_VERSION or not isinstance(header.get("key"), str) \
            or not KEY.fullmatch(header["key"]):
        raise RequestRefused("header")
    shape = header.get("input_shape")
    if not isinstance(shape, list) or not 0 < len(shape) <= 3:
        raise RequestRefused("input shape")
    shape = [_int(d, 1, 100_000, "input shape") for d in shape]
    model, _ = _layers(header.get("layers"), shape)
    payload = raw[16 + length:]
    arrays, params = _arrays(header.get("arrays"), len(payload), caps)
    data = header.get("data")
    if not isinstance(data, dict) or set(data) != set(FIT_DATA):
        raise RequestRefused("data")
    tree = {name: _data_tree(data[name], catalog) for name in FIT_DATA}
    if tree["x"] is None or "ndarray" not in tree["x"]:
        raise RequestRefused("x is not an array the grader holds")
    return FitRequest(header["key"], model, arrays, _optimizer(header.get("optimizer")), _compile(header.get("compile")),
                      _fit(header.get("fit"), caps), tree, _rng(header.get("rng")), params, payload)


def decode_own(raw: bytes) -> FitRequest:
    """The grader's own copy (FitRequest.encode), read back in the training worker."""
    (length,) = struct.unpack("<Q", raw[8:16])
    header = json.loads(raw[16:16 + length])
    return FitRequest(payload=raw[16 + length:], arrays=tuple(header.pop("arrays")), **header)


__all__ = ["FitRequest", "Caps", "RequestRefused", "parse", "read_file", "decode_own", "NAME", "OPTIMIZERS", "LOSSES", "METRICS"]
