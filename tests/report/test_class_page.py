"""The class page: pass rates, who made which mistake, escaping, and the run's language."""

from __future__ import annotations

import math
import re

import markupsafe
import pytest

from grader.checks import Context, run_checks
from grader.extract import Extracted
from grader.kinds import GradeStatus
from grader.messages import catalog, msg, render
from grader.pipeline import GradeResult, error_result
from grader.report import render_class_page, summarize
from grader.retrain import Retraining

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def shown(key: str, lang: str, **params) -> str:
    """A catalog sentence as the page shows it (rendered, then HTML-escaped)."""
    return str(markupsafe.escape(render(msg(key, **params), lang)))


def headline(summary: dict, lang: str) -> str:
    return shown("class.headline", lang, n=summary["n"], mean=summary["mean"], max_score=summary["max_score"])


def graded(student: str, values: dict, rubric, display_name: str | None = None) -> dict:
    checks = run_checks(Context(Extracted(values, {}), rubric, Retraining({}, {}, {}, msg("retrain.off"))))
    result = GradeResult(student, display_name or student, GradeStatus.GRADED, round(sum(c.points for c in checks), 2),
                         rubric.max_score, tuple(checks), {"level": "bwrap"})
    return result.to_json("es")


@pytest.fixture()
def results(reference_rubric):
    ex1 = reference_rubric.exercise1
    right = math.sqrt(6 / (ex1.fan_in + ex1.fan_out))
    wrong = math.sqrt(6 / ex1.fan_in)  # He's limit: the class's wrong_limit mistake
    return [graded("ana", {"ex1_limit": right}, reference_rubric),
            graded("beto", {"ex1_limit": wrong}, reference_rubric),
            graded("eve", {"ex1_limit": wrong}, reference_rubric, display_name=HOSTILE),
            error_result("rota", "rota", GradeStatus.INVALID_SUBMISSION, "no es JSON", reference_rubric).to_json("es")]


def test_summary_counts(results, reference_rubric):
    s = summarize(results, reference_rubric)
    assert s["n"] == 4 and s["max_score"] == reference_rubric.max_score
    assert s["mean"] == pytest.approx(sum(r["score"] for r in results) / 4)
    limit = next(c for c in s["checks"] if c["id"] == "ex1_limit")
    assert (limit["passed"], limit["total"]) == (1, 3) and limit["rate"] == pytest.approx(1 / 3)
    assert [c["id"] for c in s["checks"]] == [c.id for c in reference_rubric.checks]
    mistakes = {m["code"]: m for m in s["mistakes"]}
    assert mistakes["wrong_limit"]["students"] == ["beto", "eve"] and mistakes["wrong_limit"]["count"] == 2
    assert mistakes["wrong_limit"]["fix"] == reference_rubric.mistake("wrong_limit", "fix", "es")
    counts = [m["count"] for m in s["mistakes"]]
    assert counts == sorted(counts, reverse=True)
    assert s["statuses"] == {"graded": 3, "invalid_submission": 1}
    assert [r["student"] for r in s["rows"]] == ["ana", "beto", "eve", "rota"]
    english = summarize(results, reference_rubric, "en")
    assert {m["code"]: m for m in english["mistakes"]}["wrong_limit"]["symptom"] == reference_rubric.mistake("wrong_limit", "symptom", "en")


def test_page_escapes_a_hostile_student_name(results, reference_rubric):
    summary = summarize(results, reference_rubric)
    html = render_class_page(summary, reference_rubric, "es")
    assert HOSTILE not in html and "<script" not in html.lower() and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="eve/report.html"' in html
    assert summary["n"] == 4 and headline(summary, "es") in html
    assert shown("class.pass_rates", "es") in html and shown("ui.grade_status.invalid_submission", "es") in html


def test_english_page_has_no_spanish(results, reference_rubric):
    summary = summarize(results, reference_rubric, "en")
    summary["skipped"] = [msg("batch.not_a_submission", name="notas.txt")]
    html = render_class_page(summary, reference_rubric, "en")
    es, en = catalog("es"), catalog("en")
    spanish = [piece.strip() for key, value in es.items() if key.startswith(("class.", "ui.grade_status.", "batch."))
               and value != en[key] for piece in re.split(r"\{[^}]*\}", value) if len(piece.strip()) >= 5]
    assert spanish and [s for s in spanish if s in html] == []
    assert '<html lang="en">' in html and headline(summary, "en") in html and shown("ui.grade_status.invalid_submission", "en") in html
    assert shown("batch.not_a_submission", "en", name="notas.txt") in html
    spanish_fix = reference_rubric.mistake("wrong_limit", "fix", "es")
    assert spanish_fix not in html and reference_rubric.mistake("wrong_limit", "fix", "en")[:40] in html.replace("&#39;", "'")


def test_histogram_axis_follows_the_language(results, reference_rubric, monkeypatch):
    from grader.report import class_page

    seen = []
    real = class_page.plt.subplots

    def spy(*args, **kwargs):
        fig, ax = real(*args, **kwargs)
        seen.append(ax)
        return fig, ax

    monkeypatch.setattr(class_page.plt, "subplots", spy)
    axes = {lang: (render(msg("class.axis_score"), lang), render(msg("class.axis_students"), lang)) for lang in ("es", "en")}
    assert axes["es"] != axes["en"]
    class_page.histogram([1.0, 2.0], 10.0, "en")
    assert (seen[-1].get_xlabel(), seen[-1].get_ylabel()) == axes["en"]
    class_page.histogram([1.0, 2.0], 10.0, "es")
    assert (seen[-1].get_xlabel(), seen[-1].get_ylabel()) == axes["es"]
    assert class_page.histogram([], 10.0, "es") is None


def test_empty_class(reference_rubric):
    s = summarize([], reference_rubric)
    assert s["n"] == 0 and s["mean"] == 0.0 and all(c["total"] == 0 for c in s["checks"])
    html = render_class_page(replace_skipped(s), reference_rubric, "es")
    assert headline(s, "es") in html and shown("class.none", "es") in html


def replace_skipped(summary: dict) -> dict:
    return {**summary, "skipped": []}
