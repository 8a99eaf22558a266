"""The review as the student reads it: the score line of the report's header, and a panel at the
top of the report with the teacher's adjustments (the automatic verdict beside each, and why) and
comment. What needs the teacher's look is theirs: it is on the class page, never here."""

from __future__ import annotations

import jinja2
from markupsafe import escape

from ..messages import catalog, language, text
from ..report.student import TEMPLATES, points_text
from ..report.terminal import score_text

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)


def score_html(result: dict, lang: str) -> str:
    """The header's score: the reviewed one, with the automatic one beside it when they differ."""
    review = result.get("review") or {}
    line = score_text(result.get("score"), float(result.get("max_score") or 0.0))
    auto = review.get("auto_score")
    if review.get("overrides") and auto is not None and auto != result.get("score"):
        line += f" <small>{escape(text(lang, 'review.auto_score_note', score=auto))}</small>"
    return line


def points_html(check: dict, lang: str) -> str:
    """A check's points in the report ("2 / 3"), marked as the teacher's when they replaced the automatic ones."""
    line = f"{float(check.get('points') or 0.0):g} / {points_text(float(check.get('max_points') or 0.0), lang)}"
    review = check.get("review")
    if isinstance(review, dict):
        line += " " + str(escape(text(lang, "review.adjusted_mark", auto=review.get("auto_points"))))
    return line


def render_panel(result: dict, review, lang: str) -> str:
    """The panel's HTML ("" when there is nothing to show), every teacher's word escaped."""
    lang = language(lang)
    if not review.applied and not review.comments:
        return ""
    titles = {c.get("id"): c.get("title") or c.get("id") for c in result.get("checks") or []}
    words = {key[len("review."):]: value for key, value in catalog(lang).items() if key.startswith("review.panel_")}
    items = [{"check": o.check, "title": titles.get(o.check, o.check), "points": o.points,
              "auto_points": o.basis.auto_points, "why": o.why, "who": o.who, "when": o.when[:10],
              "line": text(lang, "review.panel_item", auto=o.basis.auto_points, points=o.points)}
             for o in review.applied]
    comments = [{"text": c.text, "who": c.who, "when": c.when[:10]} for c in review.comments]
    return _ENV.get_template("review.html.j2").render(t=words, items=items, comments=comments,
                                                      score=score_text(result.get("score"), float(result.get("max_score") or 0.0)),
                                                      auto=review.auto_score)


__all__ = ["score_html", "points_html", "render_panel"]
