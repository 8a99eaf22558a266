"""Stage 2: the harvest's artifacts, read with size caps and checked against the contract.

Every contract name ends up either in `values` (a validated Python value: float, bool,
ndarray, dict, list, ModelDesc) or in `problems` (a message that names it and says why).
Nothing here trusts a value: the checks compare it with what the grader recomputes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ArtifactError
from .execute import Execution
from .modeldesc import ModelDesc, from_artifact

MAX_MANIFEST = 20 * 1024 * 1024


@dataclass(frozen=True)
class Extracted:
    values: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)  # name -> message (missing, wrong type, …)
    note: str = ""  # why nothing could be read at all, if so

    def get(self, name: str, default=None):
        return self.values.get(name, default)


class _Reader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def number(self, entry, where: str) -> float:
        if isinstance(entry, dict) and entry.get("t") == "number":
            value = entry.get("v")
            if isinstance(value, str):
                raise ArtifactError(f"{where} vale {value} (no es un número finito)")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
        if isinstance(entry, dict) and entry.get("t") == "array" and entry.get("shape") in ([], [1]):
            return self.number({"t": "number", "v": float(self.array(entry, where).ravel()[0])}, where)
        raise ArtifactError(f"{where} debe ser un número (float), es {_kind(entry)}")

    def boolean(self, entry, where: str) -> bool:
        if isinstance(entry, dict) and entry.get("t") == "bool" and isinstance(entry.get("v"), bool):
            return entry["v"]
        raise ArtifactError(f"{where} debe ser True o False, es {_kind(entry)}")

    def array(self, entry, where: str, shape=None) -> np.ndarray:
        if not isinstance(entry, dict) or entry.get("t") != "array":
            raise ArtifactError(f"{where} debe ser un arreglo numpy, es {_kind(entry)}")
        path = self.folder / Path(str(entry.get("file", ""))).name
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{where}: arreglo ilegible ({exc})") from exc
        if array.dtype.kind not in "biuf":
            raise ArtifactError(f"{where}: tipo {array.dtype} no numérico")
        if shape is not None and list(array.shape) != list(shape):
            raise ArtifactError(f"{where} tiene forma {tuple(array.shape)}, se esperaba {tuple(shape)}")
        if not np.all(np.isfinite(array)):
            raise ArtifactError(f"{where} contiene NaN o infinito")
        return array

    def number_list(self, entry, where: str) -> list[float]:
        if isinstance(entry, dict) and entry.get("t") == "array":
            array = self.array(entry, where)
            if array.ndim != 1:
                raise ArtifactError(f"{where} debe ser una lista de números")
            return [float(v) for v in array]
        if isinstance(entry, dict) and entry.get("t") == "list":
            return [self.number(item, f"{where}[{i}]") for i, item in enumerate(entry.get("v", []))]
        raise ArtifactError(f"{where} debe ser una lista de números, es {_kind(entry)}")

    def history(self, entry, where: str) -> dict[str, list[float]]:
        if isinstance(entry, dict) and entry.get("t") == "history":
            entry = entry.get("v")
        if not isinstance(entry, dict) or entry.get("t") != "dict":
            raise ArtifactError(f"{where} debe ser el dict History.history, es {_kind(entry)}")
        return {key: self.number_list(value, f"{where}[{key!r}]") for key, value in entry["v"].items()}

    def model(self, entry, where: str) -> ModelDesc:
        return from_artifact(self.folder, entry, where)

    def keyed(self, entry, where: str, keys, reader) -> dict:
        if not isinstance(entry, dict) or entry.get("t") != "dict":
            raise ArtifactError(f"{where} debe ser un dict con claves {', '.join(map(repr, keys))}, es {_kind(entry)}")
        missing = [key for key in keys if key not in entry["v"]]
        if missing:
            raise ArtifactError(f"{where}: faltan las claves {', '.join(map(repr, missing))}")
        return {str(key): reader(value, f"{where}[{key!r}]") for key, value in list(entry["v"].items())[:20]}


def _kind(entry) -> str:
    names = {"none": "None", "str": "texto", "list": "lista", "dict": "dict", "number": "número", "bool": "booleano",
             "array": "arreglo", "model": "modelo", "callable": "función", "history": "History", "unsupported": "objeto no admitido"}
    if isinstance(entry, dict):
        kind = entry.get("t")
        extra = f" ({entry.get('type')})" if kind == "unsupported" and entry.get("type") else ""
        return names.get(kind, "desconocido") + extra
    return "desconocido"


def _probe(reader: _Reader, entry, where: str) -> dict:
    """build_model probes: option -> ModelDesc, or option -> error text."""
    probe = entry.get("probe") if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or entry.get("t") != "callable" or not isinstance(probe, dict):
        raise ArtifactError(f"{where} debe ser una función, es {_kind(entry)}")
    results = {}
    for option, result in (probe.get("v") or {}).items():
        if isinstance(result, dict) and result.get("t") == "error":
            trace = str(result.get("traceback", ""))[-3000:]
            last = next((line for line in reversed(trace.splitlines()) if line.strip()), "")
            results[option] = f"{where}(kernel_initializer={option!r}) falló: {last}\n{trace}"
        else:
            try:
                results[option] = reader.model(result, f"{where}(kernel_initializer={option!r})")
            except ArtifactError as exc:
                results[option] = exc.message
    return results


def extract(execution: Execution, contract: dict) -> Extracted:
    folder = execution.artifacts
    names = contract["names"]
    if folder is None or not (folder / "manifest.json").is_file():
        note = "el grader no pudo recoger resultados: la ejecución terminó antes de la extracción"
        return Extracted({}, {name: note for name in names}, note)
    manifest_path = folder / "manifest.json"
    try:
        if manifest_path.stat().st_size > MAX_MANIFEST:
            raise ValueError("manifest demasiado grande")
        manifest = json.loads(manifest_path.read_text())
        values_raw = manifest["values"]
        if not isinstance(values_raw, dict):
            raise ValueError("values no es un dict")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        note = f"los resultados extraídos son ilegibles ({exc})"
        return Extracted({}, {name: note for name in names}, note)
    harvest_errors = manifest.get("errors") if isinstance(manifest.get("errors"), dict) else {}
    reader = _Reader(folder)
    values, problems = {}, {}
    for name, spec in names.items():
        if name not in values_raw:
            why = "no está definido"
            if name in harvest_errors:
                why = f"no se pudo exportar: {str(harvest_errors[name])[-500:]}"
            problems[name] = why
            continue
        entry, kind = values_raw[name], spec.get("type")
        keys = spec.get("keys", [])
        try:
            if kind == "number":
                values[name] = reader.number(entry, name)
            elif kind == "bool":
                values[name] = reader.boolean(entry, name)
            elif kind == "array":
                values[name] = reader.array(entry, name, spec.get("shape"))
            elif kind == "model":
                values[name] = reader.model(entry, name)
            elif kind == "list_number":
                values[name] = reader.number_list(entry, name)
            elif kind == "callable":
                values[name] = _probe(reader, entry, name)
            elif kind == "dict_number":
                values[name] = reader.keyed(entry, name, keys, reader.number)
            elif kind == "dict_history":
                values[name] = reader.keyed(entry, name, keys, reader.history)
            elif kind == "dict_model":
                values[name] = reader.keyed(entry, name, keys, reader.model)
            elif kind == "dict_list_number":
                values[name] = reader.keyed(entry, name, keys, reader.number_list)
            else:
                problems[name] = f"tipo de contrato desconocido {kind!r}"
        except ArtifactError as exc:
            problems[name] = exc.message
    return Extracted(values, problems)


__all__ = ["Extracted", "extract"]
