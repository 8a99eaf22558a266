"""The sandbox's memo log, as the harvest wrote it: a claim, size-capped and type-checked.

It goes into result["execution"]["memo"] and the report so that a teacher sees which fits were
served and why that is sound. No check reads it: a notebook that forges this log, or patches the
wrapper, changes what it says about itself and nothing the grader computes.
"""

from __future__ import annotations

MAX_FITS = 200


def _reason_kind(reason: str) -> str:
    if reason == "exact key":
        return "served"
    if reason == "delegated":
        return "delegated"
    if reason.startswith("unkeyable"):
        return "unkeyable"
    if reason in ("no entry", "corrupt entry", "memo off") or reason.startswith("restore refused"):
        return reason.split(":")[0].replace(" ", "_")
    return "other"


def memo_claims(raw, enabled: bool, off_reason="") -> dict:
    """{"enabled", "fits", "served", "trained", "delegated", "why": {kind: n}, "seconds_served", "log": [...]}.
    `delegated`: served fits whose entry the grader trained on this sandbox's request (grader/delegate)."""
    log = raw.get("log") if isinstance(raw, dict) else None
    fits = []
    items = [item for item in (log if isinstance(log, list) else [])[:10 * MAX_FITS] if isinstance(item, dict)]
    for item in items[:MAX_FITS]:
        reason = item.get("reason") if isinstance(item.get("reason"), str) else ""
        seconds = item.get("seconds") if isinstance(item.get("seconds"), (int, float)) else None
        key = item.get("key") if isinstance(item.get("key"), str) else ""
        delegation = item.get("delegated") if isinstance(item.get("delegated"), str) else ""
        fits.append({"served": item.get("served") is True, "reason": reason[:200], "key": key[:16],
                     "seconds": None if seconds is None else round(float(seconds), 3), "delegation": delegation[:200]})
    why: dict = {}
    for fit in fits:
        kind = _reason_kind(fit["reason"]) if not fit["served"] else "served"
        if fit["served"] and fit["reason"] == "delegated":
            kind = "delegated"
        why[kind] = why.get(kind, 0) + 1
    served = sum(1 for f in fits if f["served"])
    return {"enabled": enabled, "off_reason": off_reason, "fits": len(fits), "served": served,
            "trained": len(fits) - served, "delegated": sum(1 for f in fits if f["served"] and f["reason"] == "delegated"),
            "why": why,
            "seconds_served": round(sum(f["seconds"] or 0 for f in fits if f["served"]), 3), "log": fits,
            "source": "claim"}


__all__ = ["memo_claims"]
