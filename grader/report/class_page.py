"""The class summary page (index.html): score spread, pass rate per check, frequent mistakes,
and the pairs of submissions that look alike (grader/similarity; this page is the teacher's).

Built from the per-student result.json dicts (not from live objects), so a resumed batch and a
fresh one draw the same page; in the run's language, like the students' reports.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..identity import Identity  # noqa: E402
from ..messages import catalog, language, render, text  # noqa: E402
from .plots import png_data_uri  # noqa: E402
from .student import TEMPLATES, ui_texts  # noqa: E402


def summarize(results: list[dict], rubric, lang: str = "es") -> dict:
    """Pass rate per rubric check, who made each common mistake, status counts, one row per student."""
    scores = [r["score"] for r in results if r["score"] is not None]  # a grader failure has none: not a 0
    checks = []
    for spec in rubric.checks:
        statuses = [c["status"] for r in results for c in r.get("checks", []) if c["id"] == spec.id and c["status"] != "skipped"]
        passed = sum(s == "pass" for s in statuses)
        checks.append({"id": spec.id, "points": spec.points, "passed": passed, "total": len(statuses),
                       "rate": passed / len(statuses) if statuses else 0.0})
    who: dict[str, set] = {}
    for r in results:
        for c in r.get("checks", []):
            for code in c.get("mistakes", []):
                who.setdefault(code, set()).add(r["student"])
    mistakes = [{"code": code, "count": len(names), "students": sorted(names),
                 "symptom": rubric.mistake(code, "symptom", lang), "fix": rubric.mistake(code, "fix", lang)}
                for code, names in sorted(who.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    statuses = Counter(str(r["status"]) for r in results)
    rows = sorted((_row(r, lang) for r in results), key=lambda x: x["student"])
    return {"n": len(results), "scores": scores, "max_score": rubric.max_score,
            "mean": sum(scores) / len(scores) if scores else 0.0, "checks": checks, "mistakes": mistakes,
            "statuses": dict(statuses), "rows": rows, "skipped": [], "has_lms": any(row["lms_user_id"] for row in rows),
            "has_review": any(row["review"] for row in rows), "needs_look": [], "review_error": None}


def _row(r: dict, lang: str = "es") -> dict:
    """One student's line: the name as the source gave it, and, from an LMS download, the LMS's
    user id and late mark (what the teacher checks against the LMS before uploading)."""
    who = Identity.from_json(r.get("identity"), r["student"], r.get("display_name", ""))
    return {"student": r["student"], "name": who.display_name or r["student"], "lms": who.lms,
            "lms_user_id": who.lms_user_id, "late": who.late, "score": r["score"], "max_score": r["max_score"],
            "status": str(r["status"]), "sandbox": (r.get("sandbox") or {}).get("level", ""),
            "review": _review_mark(r.get("review"), lang)}


def _review_mark(review, lang: str) -> dict | None:
    """What the teacher's review did to this row, in words: how many checks were adjusted (and the
    automatic score), whether there is a comment, and how many overrides need a look."""
    if not isinstance(review, dict):
        return None
    adjusted, looks = len(review.get("overrides") or []), len(review.get("needs_look") or [])
    auto = review.get("auto_score")
    parts = [text(lang, "review.class_adjusted", n=adjusted, auto="—" if auto is None else f"{auto:g}")] if adjusted else []
    parts += [text(lang, "review.class_commented")] if review.get("comments") else []
    return {"label": " · ".join(parts), "needs_look": text(lang, "review.class_needs_look_n", n=looks) if looks else ""}


def histogram(scores: list[float], max_score: float, lang: str = "es") -> str | None:
    if not scores:
        return None
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist(scores, bins=min(20, max(5, len(scores))), range=(0, max_score), color="#24364b")
    ax.set_xlabel(text(lang, "class.axis_score"))
    ax.set_ylabel(text(lang, "class.axis_students"))
    return png_data_uri(fig)


def similarity_view(similarity, lang: str) -> dict | None:
    """The similar pairs (a grader.similarity.Similarity, or its similarity.json) as the class page shows them: the JSON
    of similarity.json, each pair with its title and note in words. Every string the students
    wrote (their code, their ids) reaches the page through the template's autoescape only."""
    if similarity is None:
        return None
    data = similarity if isinstance(similarity, dict) else similarity.to_json(lang)  # similarity.json, read back
    pairs = []
    for pair in data["pairs"]:
        if pair["kind"] == "code":
            title = text(lang, "similarity.pair_code", a=pair["a"], b=pair["b"], score=pair["score"])
            note = text(lang, "similarity.shares", a=pair["a"], b=pair["b"], a_share=pair["a_share"], b_share=pair["b_share"])
        else:
            inits = ", ".join(f"{init} {value:.4f}" for init, value in pair["values"].items())
            title = text(lang, "similarity.pair_numbers", a=pair["a"], b=pair["b"], inits=inits)
            note = text(lang, "similarity.numbers_no_fit" if pair["basis"] == "no_fit" else "similarity.numbers_different_keys")
        cells = [{**cell, "a_label": text(lang, "similarity.cell", cell=cell["a_cell"]),
                  "b_label": text(lang, "similarity.cell", cell=cell["b_cell"])} for cell in pair["cells"]]
        pairs.append({**pair, "title": title, "note": note, "cells": cells})
    if pairs:
        headline = text(lang, "similarity.summary", n=len(pairs), threshold=data["threshold"], compared=data["compared"])
    else:
        headline = text(lang, "similarity.none", threshold=data["threshold"], n=data["compared"])
    return {"pairs": pairs, "headline": headline, "failure": data["failure"], "skipped": data["skipped"],
            "unjudged": data["unjudged"]}


def render_class_page(summary: dict, rubric, lang: str = "es", similarity=None) -> str:
    """The class page; `similarity` (grader.similarity.Similarity) adds its section of similar pairs."""
    lang = language(lang)
    words = {key[len("class."):]: value for key, value in catalog(lang).items() if key.startswith("class.")}
    words |= {key: value for key, value in catalog(lang).items() if key.startswith("review.class_")}
    words["headline"] = text(lang, "class.headline", n=summary["n"], mean=summary["mean"], max_score=summary["max_score"])
    similar = {key[len("similarity."):]: value for key, value in catalog(lang).items() if key.startswith("similarity.")}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("index.html.j2").render(
        s=summary, t=words, sim_t=similar, sim=similarity_view(similarity, lang), lang=lang, histogram=histogram(summary["scores"], summary["max_score"], lang),
        run_status=ui_texts(rubric, lang)["grade_status"], skipped=[render(note, lang) for note in summary.get("skipped", [])],
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


__all__ = ["summarize", "render_class_page", "histogram", "similarity_view"]
