"""Golden results: alice's, bob's and carol's result.json, normalised, compared field by field.

What a rerun may change on its own is left out: wall-clock timings, the grader version (and the fingerprint that hashes it), the
temporary folder the data subset lives in, and whether a training came from the cache (that
depends on which test ran first). Everything else, every message included, must match; a float to
10 significant digits, or within 1e-8 of its value (1e-9 near zero), where a statistic that
cancels (a z-score near 0) shows the CPU's rounding in its last digits.
Rewrite on purpose with `pytest --update-goldens`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

GOLDENS = Path(__file__).resolve().parent / "goldens"
# "fingerprint" hashes the grader version and the reference files' bytes, so it moves with them; "rubric"
# (the digest a teacher's override is sealed against) hashes the reference files too.
VOLATILE = {"timings", "grader_version", "fingerprint", "rubric", "duration_s", "cached", "folder", "generated", "memo", "harvest_s"}


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.10g}")
    return value


def differences(expected, found, where: str = "$") -> list[str]:
    """Every path where the two normalised results differ (empty: the same)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        out = []
        for key in sorted(set(expected) | set(found)):
            if key not in found:
                out.append(f"{where}.{key}: missing")
            elif key not in expected:
                out.append(f"{where}.{key}: new field")
            else:
                out += differences(expected[key], found[key], f"{where}.{key}")
        return out
    if isinstance(expected, list) and isinstance(found, list):
        if len(expected) != len(found):
            return [f"{where}: {len(expected)} items, now {len(found)}"]
        return [d for i, (a, b) in enumerate(zip(expected, found)) for d in differences(a, b, f"{where}[{i}]")]
    if isinstance(expected, float) and isinstance(found, float) and math.isclose(expected, found, rel_tol=1e-8, abs_tol=1e-9):
        return []  # the last digits of a float64 statistic that cancels (a z near 0) follow the CPU's SIMD path
    return [] if expected == found else [f"{where}: {str(expected)[:300]!r} → {str(found)[:300]!r}"]


def compare(name: str, result_path: Path, update: bool) -> list[str]:
    found = normalise(json.loads(result_path.read_text()))
    golden = GOLDENS / f"{name}.json"
    if not update and not golden.exists():
        return [f"no golden for {name}: write it on purpose with pytest --update-goldens"]
    if update:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(found, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
        return []
    return differences(normalise(json.loads(golden.read_text())), found)
