"""Calibrations in the grader's store (its cache folder), one file per protocol.

The key hashes what the figures depend on: the protocol, the homework's network, its
initializers and the data. The criterion's threshold is not in it: the figures are recomputed
from the stored per-seed accuracies with the rubric's own `criterion_pp`, so a teacher who
changes only the threshold still reads their measurement, and one who changes the protocol
never reads a stale one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..report.output import write_text_atomic
from ..rubric import Rubric
from .measure import figures

FOLDER = "calibrations"


def protocol_json(rubric: Rubric, data_checksum: str, subset: bool = False) -> dict:
    """What a calibration is a measurement of (calibration.json's `protocol`)."""
    hw = rubric.homework
    return {**rubric.protocol.to_json(), "units": list(hw.units), "hidden_activation": hw.hidden_activation,
            "output_activation": hw.output_activation, "initializers": list(hw.initializers), "baseline": hw.baseline,
            "criterion_pp": hw.criterion_pp, "data": data_checksum, "data_subset": subset}


def key(protocol: dict) -> str:
    material = {k: v for k, v in protocol.items() if k not in ("criterion_pp", "data_subset")}  # the checksum says which data
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def path_for(cache_dir, protocol: dict) -> Path:
    return Path(cache_dir) / FOLDER / f"{key(protocol)}.json"


def save(cache_dir, calibration: dict) -> Path:
    """Written atomically; the latest measurement of a protocol replaces the one before."""
    path = path_for(cache_dir, calibration["protocol"])
    write_text_atomic(path, json.dumps(calibration, indent=1, ensure_ascii=False))
    return path


def load_calibration(cache_dir, rubric: Rubric, data_checksum: str | None) -> dict | None:
    """The stored calibration of this rubric's protocol on these data, its figures recomputed for
    the rubric's criterion; None when there is none (or no store, or an unreadable file)."""
    if cache_dir is None or not data_checksum:
        return None
    protocol = protocol_json(rubric, data_checksum)
    path = path_for(cache_dir, protocol)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        per_seed = accuracy_table(stored, rubric)
        measured_on = dict(stored["measured_on"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if key(stored.get("protocol") or {}) != key(protocol):
        return None
    hw = rubric.homework
    try:
        found = figures(per_seed, hw.he_initializers, hw.baseline, hw.criterion_pp)
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return {**found, "protocol": {**stored["protocol"], "criterion_pp": hw.criterion_pp}, "measured_on": measured_on}


def accuracy_table(calibration: dict, rubric: Rubric) -> list[dict]:
    """Back from calibration.json to [{"seed", "val_accuracy_pct": {init: %}}]: each He variant's
    rows carry its own and the baseline's accuracy."""
    hw, table = rubric.homework, {}
    for init in hw.he_initializers:
        for row in calibration[init]["per_seed"]:
            accuracy = table.setdefault(int(row["seed"]), {})
            accuracy[init], accuracy[hw.baseline] = float(row[init]), float(row[hw.baseline])
    if not table:
        raise ValueError("no seeds")
    return [{"seed": seed, "val_accuracy_pct": row} for seed, row in table.items()]


__all__ = ["protocol_json", "key", "path_for", "save", "load_calibration", "accuracy_table", "FOLDER"]
