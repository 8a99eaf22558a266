"""The class's files, rebuilt from the per-student result.json files after every batch run:
gradebook.csv, results.jsonl and index.html (so a resumed run and a fresh one agree)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..identity import Identity
from ..report import render_class_page, summarize, write_text_atomic


def load_results(out: Path, students: list[str]) -> list[dict]:
    results = []
    for student in students:
        try:
            results.append(json.loads((Path(out) / student / "result.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return results


def write_class_files(out: Path, students: list[str], rubric, skipped: list, lang: str = "es", similarity=None) -> dict:
    """gradebook.csv, results.jsonl and index.html; returns the class summary. `similarity`
    (grader.similarity.Similarity) is the class page's section of similar pairs, if computed.

    The gradebook carries each student's identity (display name, LMS, LMS user id, late) beside
    the id, so a teacher can match a row to the LMS by eye and the exports by id."""
    out = Path(out)
    results = load_results(out, students)
    check_ids = [c.id for c in rubric.checks]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "display_name", "lms", "lms_user_id", "late", "score", "max_score", *check_ids, "sandbox",
                     "status", "duration_s"])
    for r in results:
        who = Identity.from_json(r.get("identity"), r["student"], r.get("display_name", ""))
        # a skipped item (an optional name not defined) is blank: it was not graded, it is not a 0
        points = {c["id"]: "" if c["status"] == "skipped" else c["points"] for c in r.get("checks", [])}
        writer.writerow([r["student"], who.display_name, who.lms, who.lms_user_id, "true" if who.late else "false",
                         "" if r["score"] is None else r["score"], r["max_score"], *[points.get(i, "") for i in check_ids],
                         (r.get("sandbox") or {}).get("level", ""), r["status"],
                         round((r.get("timings") or {}).get("total", 0.0), 1)])
    write_text_atomic(out / "gradebook.csv", buffer.getvalue())
    write_text_atomic(out / "results.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    summary = summarize(results, rubric, lang)
    summary["skipped"] = list(skipped)
    write_text_atomic(out / "index.html", render_class_page(summary, rubric, lang, similarity))
    return summary


__all__ = ["write_class_files", "load_results"]
