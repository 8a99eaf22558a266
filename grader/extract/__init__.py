"""Stage 2: the harvest's artifacts, read with size caps and checked against the contract.

Every contract name ends up either in `values` (a validated Python value: float, bool,
ndarray, dict, list, ModelDesc) or in `problems` (a catalog message saying why). Nothing here
trusts a value: the checks compare it with what the grader recomputes.

A problem either begins with the contract name in every language (the reader's refusals:
"`ex1_limit` debe ser un número…") or in none ("no está definido"), so a check can decide
once whether to put the name in front.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import ArtifactError
from ..execute import Execution
from ..execute.artifacts import REFUSED_FILE
from ..messages import Message, msg
from ..bounded import MAX_MANIFEST, Budget, Refused, read_json
from .reader import Reader, kind_of


@dataclass(frozen=True)
class Extracted:
    values: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)  # name -> Message | str (missing, wrong type, …)
    note: Message | str = ""  # why nothing could be read at all, if so
    memo: dict | None = None  # the sandbox's memo log as it claims it (grader/memo/claims.py reads it)


class _Unreadable(Exception):
    """The manifest is there but not usable; carries the reason as a Message or text."""


def _manifest(folder, budget: Budget) -> dict:
    """The manifest, read within the bounds of grader/bounded.py (size, depth, values)."""
    try:
        manifest = read_json(folder / "manifest.json", MAX_MANIFEST, budget)
    except Refused as exc:
        raise _Unreadable(exc.message) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("values"), dict):
        raise _Unreadable(msg("extract.values_not_dict"))
    return manifest


def _refused_by_the_copy(folder) -> dict[str, Message]:
    """The sealed files the copy did not bring out, each with why (grader/execute/artifacts.py
    writes this small file itself, in the grader's own folder)."""
    try:
        refused = json.loads((folder / REFUSED_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(refused, dict):
        return {}
    return {str(name): msg(str(key), name=str(name)) for name, key in refused.items()
            if key in ("execute.sealed_file_changed", "execute.sealed_file_gone")}


def _read(reader: Reader, entry, name: str, spec: dict):
    kind, keys = spec.get("type"), spec.get("keys", [])
    if kind == "number":
        return reader.number(entry, name)
    if kind == "bool":
        return reader.boolean(entry, name)
    if kind == "array":
        return reader.array(entry, name, spec.get("shape"))
    if kind == "model":
        return reader.model(entry, name)
    if kind == "list_number":
        return reader.number_list(entry, name)
    if kind == "callable":
        probe = spec.get("probe") if isinstance(spec.get("probe"), dict) else {}
        return reader.probe(entry, name, str(probe.get("kwarg", "kernel_initializer")))
    per_item = {"dict_number": reader.number, "dict_history": reader.history, "dict_model": reader.model,
                "dict_list_number": reader.number_list}.get(kind)
    if per_item is not None:
        return reader.keyed(entry, name, keys, per_item)
    raise ArtifactError(msg("extract.unknown_contract_type", kind=kind))


def extract(execution: Execution, contract: dict) -> Extracted:
    folder = execution.artifacts
    names = contract["names"]
    if folder is None or not (folder / "manifest.json").is_file():
        note = msg("extract.no_artifacts")
        return Extracted({}, {name: note for name in names}, note)
    budget = Budget(refused=_refused_by_the_copy(folder))
    try:
        manifest = _manifest(folder, budget)
    except _Unreadable as exc:
        note = msg("extract.unreadable", error=exc.args[0])
        return Extracted({}, {name: note for name in names}, note)
    values_raw = manifest["values"]
    harvest_errors = manifest.get("errors") if isinstance(manifest.get("errors"), dict) else {}
    reader = Reader(folder, budget)
    values, problems = {}, {}
    for name, spec in names.items():
        if name not in values_raw:
            problems[name] = msg("extract.not_exported", error=str(harvest_errors[name])[-500:]) \
                if name in harvest_errors else msg("extract.not_defined")
            continue
        if spec.get("optional") and isinstance(values_raw[name], dict) and values_raw[name].get("t") == "none":
            problems[name] = msg("extract.not_defined")  # an optional name left at the starter's None: not defined
            continue
        try:
            values[name] = _read(reader, values_raw[name], name, spec)
        except ArtifactError as exc:
            problems[name] = exc.message
        except (RecursionError, MemoryError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # a shape of the student's bytes no reader method foresaw: that item is refused, the grading goes on
            problems[name] = msg("extract.malformed", where=name, error=f"{type(exc).__name__}: {exc}"[:300])
    memo = manifest.get("memo") if isinstance(manifest.get("memo"), dict) else None
    return Extracted(values, problems, memo=memo)


__all__ = ["Extracted", "extract", "Reader", "kind_of", "MAX_MANIFEST"]
