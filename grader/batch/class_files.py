"""The class's files, rebuilt from the per-student result.json files after every batch run:
gradebook.csv, results.jsonl and index.html (so a resumed run and a fresh one agree).

The teacher's review (OUT/review.csv or .toml, grader/review/) is applied to the results first,
so a regraded student gets their overrides back, and an override whose basis changed is listed
on the class page as needing a look. A review file that cannot be read applies nothing and says
so on the page: the grades are still written, and `grade export` refuses until it is fixed.
The students and skipped notes are kept in OUT/class.json, so `grade review` can rebuild the
same page without the batch."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import UsageError
from ..identity import Identity
from ..messages import msg, render
from ..report import render_class_page, summarize, write_text_atomic
from ..review import review_folder

CLASS_STATE = "class.json"


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
    skipped = [str(render(note, lang)) for note in skipped]
    write_text_atomic(out / CLASS_STATE, json.dumps({"students": list(students), "skipped": skipped, "lang": lang},
                                                    ensure_ascii=False, indent=1))
    reviews, review_error = [], None
    try:
        reviews, _ = review_folder(out, students=students)
    except UsageError as exc:
        review_error = exc.render(lang)
    results = load_results(out, students)
    check_ids = [c.id for c in rubric.checks]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "display_name", "lms", "lms_user_id", "late", "score", "max_score", *check_ids, "sandbox",
                     "status", "duration_s", "auto_score", "review"])
    for r in results:
        who = Identity.from_json(r.get("identity"), r["student"], r.get("display_name", ""))
        # a skipped item (an optional name not defined) is blank: it was not graded, it is not a 0
        points = {c["id"]: "" if c["status"] == "skipped" else c["points"] for c in r.get("checks", [])}
        writer.writerow([r["student"], who.display_name, who.lms, who.lms_user_id, "true" if who.late else "false",
                         "" if r["score"] is None else r["score"], r["max_score"], *[points.get(i, "") for i in check_ids],
                         (r.get("sandbox") or {}).get("level", ""), r["status"],
                         round((r.get("timings") or {}).get("total", 0.0), 1), *_review_cells(r)])
    write_text_atomic(out / "gradebook.csv", buffer.getvalue())
    write_text_atomic(out / "results.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    summary = summarize(results, rubric, lang)
    summary["skipped"] = list(skipped)
    summary["review_error"] = review_error
    summary["needs_look"] = needs_look_rows(reviews, results, lang)
    write_text_atomic(out / "index.html", render_class_page(summary, rubric, lang, similarity))
    return summary


def _review_cells(r: dict) -> list:
    """The gradebook's last two cells: the automatic score and what the review did ("" without one)."""
    review = r.get("review") or {}
    if not review:
        return ["", ""]
    parts = [f"{o['check']}={o['points']:g}" for o in review.get("overrides", [])]
    parts += [f"{o['check']}?" for o in review.get("needs_look", [])]
    parts += ["comment"] if review.get("comments") else []
    auto = review.get("auto_score")
    return ["" if auto is None else auto, " ".join(parts)]


def needs_look_rows(reviews, results: list[dict], lang: str) -> list[dict]:
    """The overrides the review could not apply, one row each, for the class page."""
    names = {r["student"]: Identity.from_json(r.get("identity"), r["student"], r.get("display_name", "")).display_name
             for r in results}
    return [{"student": review.student, "name": names.get(review.student) or review.student, "check": o.check,
             "points": o.points, "why": o.why, "reason": str(render(msg(f"review.reason_{reason}"), lang))}
            for review in reviews for o, reason in review.needs_look]


def rebuild_class_files(out: Path, rubric, lang: str | None = None) -> dict:
    """The class files again, from OUT/class.json (what the last batch run graded and skipped) and
    OUT/similarity.json (the pairs it found), after a review changed what they show."""
    out = Path(out)
    try:
        state = json.loads((out / CLASS_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    students = state.get("students") if isinstance(state.get("students"), list) else None
    if students is None:
        students = sorted(p.parent.name for p in out.glob("*/result.json"))
    students = [s for s in students if isinstance(s, str)]
    skipped = [s for s in state.get("skipped", []) if isinstance(s, str)]
    return write_class_files(out, students, rubric, skipped, lang or state.get("lang") or "es", _similarity_json(out))


def _similarity_json(out: Path) -> dict | None:
    """The last batch's similarity.json, for the page rebuilt without the batch (None if unusable:
    the page then has no section of pairs, and the next batch writes it again)."""
    try:
        data = json.loads((out / "similarity.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    needed = ("pairs", "threshold", "compared", "failure", "skipped", "unjudged")
    return data if isinstance(data, dict) and all(k in data for k in needed) else None


__all__ = ["write_class_files", "load_results", "rebuild_class_files", "CLASS_STATE"]
