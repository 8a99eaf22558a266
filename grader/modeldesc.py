"""A student's model as plain, validated data: the grader's only view of it.

The harvest step writes each model's layer configs (JSON) and weights (.npy). Here they are
checked against an allow-list (layer kinds, activations, initializer names, shapes, sizes) and
turned into a `ModelDesc`. The grader builds its own Keras model from a ModelDesc
(`to_keras`) and never hands student-written bytes to Keras deserialization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bounded import MAX_MODEL_JSON, Budget, Refused, read_json, read_npy
from .data import IMAGE_SHAPE
from .errors import ArtifactError
from .initializers import InitSpec, spec_from_config
from .messages import Message, msg

ACTIVATIONS = {"linear", "relu", "softmax", "tanh", "sigmoid", "selu", "elu", "gelu", "leaky_relu",
               "swish", "silu", "softplus", "softsign", "hard_sigmoid", "relu6", "exponential", "mish"}
LAYER_KINDS = {"Dense": "dense", "Flatten": "flatten", "Dropout": "dropout", "Activation": "activation",
               "InputLayer": "input", "Rescaling": "rescaling"}
MAX_UNITS = 20_000
MAX_PARAMS = 50_000_000


@dataclass(frozen=True)
class LayerDesc:
    kind: str
    units: int = 0
    activation: str = "linear"
    use_bias: bool = True
    kernel_init: InitSpec = InitSpec("glorot_uniform")
    bias_init: InitSpec = InitSpec("zeros")
    rate: float = 0.0
    scale: float = 1.0
    offset: float = 0.0
    kernel: np.ndarray | None = field(default=None, compare=False, repr=False)
    bias: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        data = {"kind": self.kind}
        if self.kind == "dense":
            data.update(units=self.units, activation=self.activation, use_bias=self.use_bias,
                        kernel_init={"name": self.kernel_init.name, "params": self.kernel_init.params},
                        bias_init={"name": self.bias_init.name, "params": self.bias_init.params})
        elif self.kind == "activation":
            data["activation"] = self.activation
        elif self.kind == "dropout":
            data["rate"] = self.rate
        elif self.kind == "rescaling":
            data.update(scale=self.scale, offset=self.offset)
        return data


@dataclass(frozen=True)
class ModelDesc:
    input_shape: tuple
    layers: tuple

    @property
    def dense(self) -> list[LayerDesc]:
        return [layer for layer in self.layers if layer.kind == "dense"]

    @property
    def kernels(self) -> list[np.ndarray]:
        return [layer.kernel for layer in self.dense if layer.kernel is not None]

    def to_json(self) -> dict:
        """Canonical JSON (no weights): what crosses into the retraining worker and cache keys."""
        return {"input_shape": list(self.input_shape), "layers": [layer.to_json() for layer in self.layers]}


def _allowed_activation(value) -> bool:
    return isinstance(value, str) and value in ACTIVATIONS


def _fail(where: "Message | str", why: Message) -> ArtifactError:
    """Every refusal starts with the contract name (`where`), in both languages."""
    return ArtifactError(msg("model.at", where=where, why=why))


def _layer_kinds_text() -> str:
    return ", ".join(name for name, kind in LAYER_KINDS.items() if kind != "input")


def _load_npy(folder: Path, entry, where: str, budget) -> np.ndarray:
    """One weight array, its header checked before any allocation (grader/bounded.py)."""
    if not isinstance(entry, dict) or entry.get("t") != "array" or not isinstance(entry.get("file"), str):
        raise _fail(where, msg("model.weight_not_array"))
    path = folder / Path(entry["file"]).name
    try:
        array = read_npy(path, budget=budget, kinds="biuf")
    except Refused as exc:
        raise _fail(where, msg("model.unreadable_array", error=exc.message)) from exc
    if array.dtype.kind != "f":
        raise _fail(where, msg("model.weight_not_float", dtype=str(array.dtype)))
    return array


def from_artifact(folder: Path, entry, where: str, budget=None) -> ModelDesc:
    """Validate one exported model (entry from the manifest) and load its weights, every byte
    within the bounds of grader/bounded.py (`budget`: the extraction's, shared by its reads)."""
    budget = budget if budget is not None else Budget()
    if not isinstance(entry, dict) or entry.get("t") != "model":
        raise _fail(where, msg("model.not_a_model"))
    path = folder / Path(str(entry.get("file", ""))).name
    if not path.is_file():
        raise _fail(where, msg("model.description_missing"))
    try:
        raw = read_json(path, MAX_MODEL_JSON, budget)
    except Refused as exc:
        raise _fail(where, msg("model.description_unreadable", error=exc.message)) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("layers"), list):
        raise _fail(where, msg("model.no_layers"))
    shape = raw.get("input_shape")
    if not isinstance(shape, list) or not shape or shape[0] is not None or \
            not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 100_000 for d in shape[1:]) or len(shape) < 2:
        raise _fail(where, msg("model.bad_input_shape", shape=str(shape)[:80], pixels=math.prod(IMAGE_SHAPE),
                                image=str(IMAGE_SHAPE)))
    current = list(shape[1:])
    layers, params = [], 0
    for position, layer in enumerate(raw["layers"][:100]):
        lw = msg("model.layer_at", where=where, n=position + 1)
        cls = layer.get("class") if isinstance(layer, dict) else None
        config = layer.get("config") if isinstance(layer, dict) and isinstance(layer.get("config"), dict) else {}
        kind = LAYER_KINDS.get(cls) if isinstance(cls, str) else None
        if kind is None:
            raise _fail(lw, msg("model.layer_not_allowed", layer=repr(str(cls)[:60]), allowed=_layer_kinds_text()))
        weights = layer.get("weights") if isinstance(layer.get("weights"), list) else []
        if kind == "input":
            continue
        if kind == "flatten":
            current = [math.prod(current)]
            layers.append(LayerDesc("flatten"))
            continue
        if kind in ("dropout", "rescaling", "activation"):
            activation = config.get("activation", "linear")
            if kind == "activation" and not _allowed_activation(activation):
                raise _fail(lw, msg("model.activation_not_allowed", activation=repr(str(activation)[:40])))
            rate, scale, offset = config.get("rate", 0.0), config.get("scale", 1.0), config.get("offset", 0.0)
            for value in (rate, scale, offset):
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                    raise _fail(lw, msg("model.parameter_not_numeric"))
            layers.append(LayerDesc(kind, activation=activation if kind == "activation" else "linear",
                                    rate=float(rate), scale=float(scale), offset=float(offset)))
            continue
        units, activation, use_bias = config.get("units"), config.get("activation", "linear"), config.get("use_bias", True)
        if not isinstance(units, int) or isinstance(units, bool) or not 0 < units <= MAX_UNITS:
            raise _fail(lw, msg("model.bad_units", units=str(units)[:40]))
        if not _allowed_activation(activation):
            raise _fail(lw, msg("model.activation_not_allowed", activation=repr(str(activation)[:40])))
        if not isinstance(use_bias, bool):
            raise _fail(lw, msg("model.use_bias_not_bool"))
        if len(current) != 1:
            raise _fail(lw, msg("model.needs_flatten", shape=str(current)))
        if len(weights) != (2 if use_bias else 1):
            raise _fail(lw, msg("model.weight_count", expected=2 if use_bias else 1, found=len(weights)))
        kernel = _load_npy(path.parent, weights[0], lw, budget)
        if kernel.shape != (current[0], units):
            raise _fail(lw, msg("model.kernel_shape", found=str(kernel.shape), expected=str((current[0], units))))
        bias = _load_npy(path.parent, weights[1], lw, budget) if use_bias else None
        if bias is not None and bias.shape != (units,):
            raise _fail(lw, msg("model.bias_shape", found=str(bias.shape), expected=str((units,))))
        params += kernel.size + (bias.size if bias is not None else 0)
        if params > MAX_PARAMS:
            raise _fail(where, msg("model.too_big"))
        layers.append(LayerDesc("dense", units, activation, use_bias,
                                spec_from_config(config.get("kernel_initializer", "glorot_uniform")),
                                spec_from_config(config.get("bias_initializer", "zeros")), kernel=kernel, bias=bias))
        current = [units]
    if not any(layer.kind == "dense" for layer in layers):
        raise _fail(where, msg("model.no_dense"))
    return ModelDesc(tuple(shape[1:]), tuple(layers))


def _keras_initializer(spec: dict):
    import keras

    name, params = spec["name"], spec.get("params") or {}
    if name == "variance_scaling":
        return keras.initializers.VarianceScaling(**params)
    if name in ("random_normal", "truncated_normal", "random_uniform", "constant"):
        cls = {"random_normal": keras.initializers.RandomNormal, "truncated_normal": keras.initializers.TruncatedNormal,
               "random_uniform": keras.initializers.RandomUniform, "constant": keras.initializers.Constant}[name]
        return cls(**params)
    if name.startswith("unknown:"):
        raise ArtifactError(msg("model.unknown_initializer", name=name[8:]))
    return keras.initializers.get(name)


def to_keras(desc_json: dict):
    """Build a fresh Keras model from canonical JSON (the retraining worker's side)."""
    import keras

    layers = [keras.Input(tuple(desc_json["input_shape"]))]
    for layer in desc_json["layers"]:
        kind = layer["kind"]
        if kind == "flatten":
            layers.append(keras.layers.Flatten())
        elif kind == "dropout":
            layers.append(keras.layers.Dropout(layer["rate"]))
        elif kind == "activation":
            layers.append(keras.layers.Activation(layer["activation"]))
        elif kind == "rescaling":
            layers.append(keras.layers.Rescaling(layer["scale"], layer["offset"]))
        elif kind == "dense":
            if layer["activation"] not in ACTIVATIONS:
                raise ArtifactError(msg("model.activation_refused", activation=layer["activation"]))
            layers.append(keras.layers.Dense(int(layer["units"]), activation=layer["activation"], use_bias=bool(layer["use_bias"]),
                                             kernel_initializer=_keras_initializer(layer["kernel_init"]),
                                             bias_initializer=_keras_initializer(layer["bias_init"])))
    return keras.Sequential(layers)


__all__ = ["ModelDesc", "LayerDesc", "from_artifact", "to_keras", "ACTIVATIONS"]
