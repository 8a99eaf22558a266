"""The typed reader of the harvest's artifacts: one method per contract type.

Each method returns a validated Python value or raises ArtifactError with a catalog message
that starts with the contract name (`where`) in every language, so a check can quote it after
the name without repeating it. Array files are opened by bare name inside the artifact folder
(a `../` in the manifest cannot leave it), through grader/bounded.py (header checked
before any allocation, never pickle), and every read counts against one budget.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import ArtifactError
from ..messages import Message, msg
from ..modeldesc import ModelDesc, from_artifact
from ..bounded import Budget, Refused, read_npy

_KIND_KEYS = {"str": "extract.kind.text", "list": "extract.kind.list", "number": "extract.kind.number",
              "bool": "extract.kind.bool", "array": "extract.kind.array", "model": "extract.kind.model",
              "callable": "extract.kind.function", "unsupported": "extract.kind.unsupported"}
_KIND_NAMES = {"none": "None", "dict": "dict", "history": "History"}  # the same word in every language


def kind_of(entry) -> Message | str:
    """What the student's value was, in the reader's words ("texto", "lista (…)", "History")."""
    if not isinstance(entry, dict):
        return msg("extract.kind.unknown")
    kind = entry.get("t")
    if not isinstance(kind, str):
        return msg("extract.kind.unknown")
    if kind == "unsupported" and entry.get("type"):
        return msg("extract.kind.unsupported_type", type=str(entry.get("type")))
    if kind in _KIND_NAMES:
        return _KIND_NAMES[kind]
    return msg(_KIND_KEYS[kind]) if kind in _KIND_KEYS else msg("extract.kind.unknown")


def _is_dict(entry) -> bool:
    return isinstance(entry, dict) and entry.get("t") == "dict" and isinstance(entry.get("v"), dict)


def _refuse(key: str, where: str, **params) -> ArtifactError:
    return ArtifactError(msg(key, where=where, **params))


class Reader:
    """Reads manifest entries whose files live in `folder`."""

    def __init__(self, folder: Path, budget: Budget | None = None) -> None:
        self.folder = folder
        self.budget = budget if budget is not None else Budget()

    def number(self, entry, where: str) -> float:
        if isinstance(entry, dict) and entry.get("t") == "number":
            value = entry.get("v")
            if isinstance(value, str):
                raise _refuse("extract.not_finite", where, value=value)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
        if isinstance(entry, dict) and entry.get("t") == "array" and entry.get("shape") in ([], [1]):
            return self.number({"t": "number", "v": float(self.array(entry, where).ravel()[0])}, where)
        raise _refuse("extract.want_number", where, kind=kind_of(entry))

    def boolean(self, entry, where: str) -> bool:
        if isinstance(entry, dict) and entry.get("t") == "bool" and isinstance(entry.get("v"), bool):
            return entry["v"]
        raise _refuse("extract.want_bool", where, kind=kind_of(entry))

    def array(self, entry, where: str, shape=None) -> np.ndarray:
        if not isinstance(entry, dict) or entry.get("t") != "array":
            raise _refuse("extract.want_array", where, kind=kind_of(entry))
        path = self.folder / Path(str(entry.get("file", ""))).name
        try:
            array = read_npy(path, budget=self.budget)
        except Refused as exc:
            raise _refuse("extract.unreadable_array", where, error=exc.message) from exc
        if array.dtype.kind not in "biuf":
            raise _refuse("extract.not_numeric", where, dtype=str(array.dtype))
        if shape is not None and list(array.shape) != list(shape):
            raise _refuse("extract.wrong_shape", where, found=str(tuple(array.shape)), expected=str(tuple(shape)))
        if not np.all(np.isfinite(array)):
            raise _refuse("extract.not_finite_array", where)
        return array

    def number_list(self, entry, where: str) -> list[float]:
        if isinstance(entry, dict) and entry.get("t") == "array":
            array = self.array(entry, where)
            if array.ndim != 1:
                raise _refuse("extract.want_flat_list", where)
            return [float(v) for v in array]
        if isinstance(entry, dict) and entry.get("t") == "list" and isinstance(entry.get("v", []), list):
            return [self.number(item, f"{where}[{i}]") for i, item in enumerate(entry.get("v", []))]
        raise _refuse("extract.want_list", where, kind=kind_of(entry))

    def history(self, entry, where: str) -> dict[str, list[float]]:
        if isinstance(entry, dict) and entry.get("t") == "history":
            entry = entry.get("v")
        if not _is_dict(entry):
            raise _refuse("extract.want_history", where, kind=kind_of(entry))
        return {key: self.number_list(value, f"{where}[{key!r}]") for key, value in entry["v"].items()}

    def model(self, entry, where: str) -> ModelDesc:
        return from_artifact(self.folder, entry, where, self.budget)

    def keyed(self, entry, where: str, keys, reader) -> dict:
        if not _is_dict(entry):
            raise _refuse("extract.want_dict", where, keys=", ".join(map(repr, keys)), kind=kind_of(entry))
        missing = [key for key in keys if key not in entry["v"]]
        if missing:
            raise _refuse("extract.missing_keys", where, keys=", ".join(map(repr, missing)))
        return {str(key): reader(value, f"{where}[{key!r}]") for key, value in list(entry["v"].items())[:20]}

    def probe(self, entry, where: str, kwarg: str = "kernel_initializer") -> dict:
        """A callable the harvest probed (build_model): option -> ModelDesc, or option -> a
        Message saying why that call gave no valid model (its traceback kept as text)."""
        probe = entry.get("probe") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or entry.get("t") != "callable" or not isinstance(probe, dict):
            raise _refuse("extract.want_function", where, kind=kind_of(entry))
        results = {}
        options = probe.get("v") if isinstance(probe.get("v"), dict) else {}
        for option, result in options.items():
            call = f"{where}({kwarg}={option!r})"
            if isinstance(result, dict) and result.get("t") == "error":
                trace = str(result.get("traceback", ""))[-3000:]
                last = next((line for line in reversed(trace.splitlines()) if line.strip()), "")
                results[option] = msg("extract.probe_failed", call=call, last=last, traceback=trace)
            else:
                try:
                    results[option] = self.model(result, call)
                except ArtifactError as exc:
                    results[option] = exc.message
        return results


__all__ = ["Reader", "kind_of"]
