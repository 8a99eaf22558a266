"""The class summary page (index.html): score spread, pass rate per check, frequent mistakes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .plots import _data_uri  # noqa: E402
from .report import MISTAKES, UI  # noqa: E402


def summarize(results: list[dict], rubric) -> dict:
    scores = [r["score"] for r in results]
    checks = []
    for spec in rubric.checks:
        statuses = [c["status"] for r in results for c in r.get("checks", []) if c["id"] == spec.id]
        passed = sum(s == "pass" for s in statuses)
        checks.append({"id": spec.id, "points": spec.points, "passed": passed, "total": len(statuses),
                       "rate": passed / len(statuses) if statuses else 0.0})
    who: dict[str, set] = {}
    for r in results:
        for c in r.get("checks", []):
            for code in c.get("mistakes", []):
                who.setdefault(code, set()).add(r["student"])
    mistakes = [{"code": code, "count": len(names), "students": sorted(names),
                 "symptom": MISTAKES.get(code, {}).get("symptom", {}).get("es", code),
                 "fix": MISTAKES.get(code, {}).get("fix", {}).get("es", "")}
                for code, names in sorted(who.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    statuses = Counter(r["status"] for r in results)
    rows = sorted(({"student": r["student"], "name": r.get("display_name", r["student"]), "score": r["score"],
                    "max_score": r["max_score"], "status": r["status"],
                    "sandbox": (r.get("sandbox") or {}).get("level", "")} for r in results), key=lambda x: x["student"])
    return {"n": len(results), "scores": scores, "max_score": rubric.max_score,
            "mean": sum(scores) / len(scores) if scores else 0.0, "checks": checks, "mistakes": mistakes,
            "statuses": dict(statuses), "rows": rows}


def _histogram(scores: list[float], max_score: float) -> str | None:
    if not scores:
        return None
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist(scores, bins=min(20, max(5, len(scores))), range=(0, max_score), color="#24364b")
    ax.set_xlabel("puntaje")
    ax.set_ylabel("estudiantes")
    return _data_uri(fig)


def render(summary: dict, rubric) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("index.html.j2").render(
        s=summary, histogram=_histogram(summary["scores"], summary["max_score"]), run_status=UI["es"]["run_status"],
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


__all__ = ["summarize", "render"]
