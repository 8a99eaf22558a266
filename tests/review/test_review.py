"""The teacher's review: overrides and comments through `grade review`, the review file, regrades
(unchanged, changed submission, changed rubric, changed verdict), the class files and the exports,
and hostile review files.

A graded class is written by the grader's own writer (report.write_result, write_class_files)
from alice's, bob's and carol's golden results, so the report.html and result.json a review
rewrites are the real ones."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from grader import cli, report
from grader.batch.class_files import write_class_files
from grader.checks import CheckResult
from grader.export import ExportRequest, export, summary_lines
from grader.messages import msg
from grader.kinds import CheckStatus, GradeStatus
from grader.pipeline import GradeResult, error_result
from grader.review import ReviewFileError, ReviewRequest, read_book, review
from tests.helpers import said

GOLDENS = Path(__file__).resolve().parent.parent / "goldens"
STUDENTS = ("alice", "bob", "carol", "dora")


def result_from_golden(name: str, rubric, sha: str | None = None, change: dict | None = None) -> GradeResult:
    """A GradeResult with the golden's checks (ids, points, texts), as the pipeline builds one."""
    raw = json.loads((GOLDENS / f"{name}.json").read_text(encoding="utf-8"))
    checks = []
    for c in raw["checks"]:
        status, points = CheckStatus(c["status"]), c["points"]
        if change and c["id"] in change:
            status, points = change[c["id"]]
        checks.append(CheckResult(c["id"], c["exercise"], status, points, c["max_points"], c["title"], "", c["message"],
                                  c["expected"], c["found"], {}, tuple(c["mistakes"])))
    return GradeResult(name, name.title(), GradeStatus(raw["status"]), round(sum(c.points for c in checks), 2),
                       round(sum(c.max_points for c in checks), 2), tuple(checks), {"level": "bwrap"}, {"cells": []},
                       sha256=sha or raw["sha256"], rubric_digest=rubric.digest)


def write_class(out: Path, rubric, lang: str = "es", **regraded) -> None:
    """alice, bob, carol from the goldens; dora a grader_error; `regraded` replaces one student's result."""
    for name in STUDENTS[:3]:
        result = regraded.get(name) or result_from_golden(name, rubric)
        report.write_result(result, None, rubric, out, lang)
    report.write_result(error_result("dora", "Dora", GradeStatus.GRADER_ERROR, "worker died", rubric), None, rubric, out, lang)
    write_class_files(out, list(STUDENTS), rubric, [], lang)


def load(out: Path, student: str) -> dict:
    return json.loads((out / student / "result.json").read_text(encoding="utf-8"))


def check(result: dict, check_id: str) -> dict:
    return next(c for c in result["checks"] if c["id"] == check_id)


@pytest.fixture
def graded(tmp_path, reference_rubric) -> Path:
    out = tmp_path / "grades"
    write_class(out, reference_rubric)
    return out


def test_an_override_shows_everywhere_with_the_automatic_verdict_beside_it(graded, reference_rubric):
    before = load(graded, "bob")
    target = next(c for c in before["checks"] if c["points"] < c["max_points"])
    review(ReviewRequest(graded, "bob", (f"{target['id']}={target['max_points']}",), why="la semilla, no el código",
                         who="ana"))
    write_class_files(graded, list(STUDENTS), reference_rubric, [], "es")
    after = load(graded, "bob")
    gained = target["max_points"] - target["points"]
    assert after["score"] == pytest.approx(before["score"] + gained)
    assert after["review"]["auto_score"] == before["score"]
    adjusted = check(after, target["id"])
    assert adjusted["points"] == target["max_points"]
    assert adjusted["review"] == {"points": target["max_points"], "auto_points": target["points"],
                                  "auto_status": target["status"], "why": "la semilla, no el código", "who": "ana",
                                  "when": adjusted["review"]["when"]}
    html = (graded / "bob" / "report.html").read_text(encoding="utf-8")
    assert said("review.panel_title", "es") in html and "la semilla, no el código" in html
    assert said("review.panel_item", "es", auto=target["points"], points=target["max_points"]) in html
    assert f"{after['score']:g} / {after['max_score']:g}" in html
    rows = {r["student"]: r for r in csv.DictReader(open(graded / "gradebook.csv", encoding="utf-8"))}
    assert float(rows["bob"]["score"]) == after["score"] and float(rows["bob"]["auto_score"]) == before["score"]
    assert float(rows["bob"][target["id"]]) == target["max_points"]
    assert rows["alice"]["auto_score"] == "" and rows["alice"]["review"] == ""
    page = (graded / "index.html").read_text(encoding="utf-8")
    assert said("review.class_adjusted", "es", n=1, auto=f"{before['score']:g}") in page


def test_a_comment_reaches_the_report_escaped(graded):
    review(ReviewRequest(graded, "alice", comment="<script>alert(1)</script> ¡Muy bien!", who="ana"))
    html = (graded / "alice" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ¡Muy bien!" in html and "<script>alert" not in html
    assert load(graded, "alice")["review"]["comments"][0]["text"].endswith("¡Muy bien!")
    assert load(graded, "alice")["score"] == 33  # a comment moves no point


def test_the_override_survives_an_unchanged_regrade(graded, reference_rubric):
    review(ReviewRequest(graded, "bob", ("hw_he_criterion=0",), why="sin cambio", who="ana"))
    review(ReviewRequest(graded, "bob", ("ex1_limit=2",), why="el límite está bien", who="ana"))
    reviewed = load(graded, "bob")
    write_class(graded, reference_rubric)  # the batch writes fresh results (no review in them), then the class files
    again = load(graded, "bob")
    assert again["score"] == reviewed["score"] and again["review"]["overrides"] == reviewed["review"]["overrides"]
    assert again["review"]["needs_look"] == []
    assert said("review.panel_title", "es") in (graded / "bob" / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("what", ["submission", "rubric", "verdict"])
def test_a_changed_basis_is_not_applied_silently(graded, reference_rubric, what, capsys):
    review(ReviewRequest(graded, "bob", ("ex1_limit=2",), why="el límite está bien", who="ana"))
    auto = load(graded, "bob")["review"]["auto_score"]
    if what == "submission":
        bob = result_from_golden("bob", reference_rubric, sha="0" * 64)
    elif what == "rubric":
        bob = replace(result_from_golden("bob", reference_rubric), rubric_digest="f" * 64)
    else:
        bob = result_from_golden("bob", reference_rubric, change={"ex1_limit": (CheckStatus.PASS, 1.5)})
    write_class(graded, reference_rubric, bob=bob)
    again = load(graded, "bob")
    assert "review" not in check(again, "ex1_limit")
    assert again["score"] == (auto if what != "verdict" else again["review"]["auto_score"])
    assert again["review"]["needs_look"][0]["reason"] == what
    page = (graded / "index.html").read_text(encoding="utf-8")
    assert said(f"review.reason_{what}", "es") in page
    # the export says so, and exports the automatic score
    done = export(ExportRequest(graded, "gradescope", out=graded.parent / "lms", lang="en"), reference_rubric)
    lines = "\n".join(summary_lines(done, "en"))
    assert said("review.needs_look_line", "en", student="bob", check="ex1_limit", points=2.0,
                reason=msg(f"review.reason_{what}")) in lines
    exported = json.loads((graded.parent / "lms" / "gradescope" / "bob" / "results.json").read_text(encoding="utf-8"))
    assert exported["score"] == again["score"]


def test_the_exports_carry_the_overridden_score(graded, reference_rubric):
    review(ReviewRequest(graded, "bob", ("ex1_limit=2",), why="bien", who="ana"))
    review(ReviewRequest(graded, "bob", comment="Revise el sesgo.", who="ana"))
    score = load(graded, "bob")["score"]
    export(ExportRequest(graded, "gradescope", out=graded.parent / "lms", lang="es"), reference_rubric)
    gs = json.loads((graded.parent / "lms" / "gradescope" / "bob" / "results.json").read_text(encoding="utf-8"))
    assert gs["score"] == score
    assert said("export.summary_comment", "es", text="Revise el sesgo.") in gs["output"]
    assert "bien" in gs["output"]
    roster = graded.parent / "roster.csv"  # Canvas: by Canvas ID
    roster.write_text("student,name,canvas_id\nalice,Alice,1\nbob,Bob,2\ncarol,Carol,3\ndora,Dora,4\n", encoding="utf-8")
    export(ExportRequest(graded, "canvas", roster, assignment="Clase 108", out=graded.parent / "lms"),
           reference_rubric)
    rows = list(csv.reader(open(graded.parent / "lms" / "canvas.csv", encoding="utf-8")))
    header = rows[0]
    column = next(i for i, name in enumerate(header) if name.startswith("Clase 108"))
    bob_row = next(r for r in rows if "2" in r[:3])
    assert float(bob_row[column]) == score


def test_clear_restores_the_automatic_verdict(graded):
    before = load(graded, "bob")
    review(ReviewRequest(graded, "bob", ("ex1_limit=2",), why="bien", who="ana"))
    review(ReviewRequest(graded, "bob", clear="*"))
    after = load(graded, "bob")
    assert after == before
    assert "review" not in after
    assert said("review.panel_title", "es") not in (graded / "bob" / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("request_, key", [
    (dict(student="zoe", sets=("ex1_limit=1",), why="x"), "review.unknown_student"),
    (dict(student="bob", sets=("ex1_nope=1",), why="x"), "review.unknown_check"),
    (dict(student="bob", sets=("ex1_limit=7",), why="x"), "review.points_range"),
    (dict(student="bob", sets=("ex1_limit=-1",), why="x"), "review.points_range"),
    (dict(student="bob", sets=("ex1_limit=2",)), "review.no_why"),
    (dict(student="bob", sets=("ex1_limit",), why="x"), "review.bad_set"),
    (dict(student="dora", sets=("ex1_limit=1",), why="x"), "review.not_graded"),
    (dict(student="bob", clear="ex1_limit"), "review.nothing_to_clear"),
])
def test_bad_requests_change_nothing(graded, request_, key):
    files = {p: p.read_bytes() for p in graded.rglob("*") if p.is_file()}
    with pytest.raises(ReviewFileError) as caught:
        review(ReviewRequest(graded, **request_))
    assert caught.value.message.key == key
    assert {p: p.read_bytes() for p in graded.rglob("*") if p.is_file()} == files


def test_a_student_is_found_by_name_with_accents_and_capitals(graded, reference_rubric):
    data = load(graded, "carol")
    data["display_name"] = "Carolina Núñez"
    (graded / "carol" / "result.json").write_text(json.dumps(data), encoding="utf-8")
    done = review(ReviewRequest(graded, "CAROLINA NUNEZ", comment="bien", who="ana"))
    assert done.student == "carol"


def hand_file(out: Path, text: str, name: str = "review.csv") -> Path:
    path = out / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_hand_written_row_is_applied_then_sealed(graded, reference_rubric):
    hand_file(graded, "student,check,points,why,who,when\nbob,ex1_limit,2,\"bien, de verdad\",ana,2026-12-07\n")
    write_class_files(graded, list(STUDENTS), reference_rubric, [], "es")
    assert check(load(graded, "bob"), "ex1_limit")["points"] == 2
    sealed = read_book(graded).overrides[0]
    assert sealed.basis.sha256 == load(graded, "bob")["sha256"] and sealed.basis.known
    assert sealed.why == "bien, de verdad"


def test_a_toml_review_is_read_and_kept_toml(graded):
    hand_file(graded, '[[override]]\nstudent = "bob"\ncheck = "ex1_limit"\npoints = 2\nwhy = "bien"\nwho = "ana"\n'
                      'when = "2026-12-07"\n\n[[comment]]\nstudent = "alice"\ncomment = "Excelente"\nwho = "ana"\n'
                      'when = "2026-12-07"\n', "review.toml")
    review(ReviewRequest(graded, "carol", comment="ok", who="ana"))
    book = read_book(graded)
    assert book.path.name == "review.toml" and not (graded / "review.csv").exists()
    assert {(c.student, c.text) for c in book.comments} == {("alice", "Excelente"), ("carol", "ok")}
    assert load(graded, "bob")["review"]["overrides"][0]["check"] == "ex1_limit"


HOSTILE = [
    ("student,check,points,why,who,when\nbob,ex1_limit,dos,x,ana,2026\n", "review.bad_points"),
    ("student,check,points,why,who,when\nbob,ex1_limit,nan,x,ana,2026\n", "review.bad_points"),
    ("student,check,points,why,who,when\nbob,ex1_limit,1,,ana,2026\n", "review.no_why"),
    ("student,check,points,why,who,when\nbob,ex1_limit,1,a,b,c,ana,2026\n", "review.too_many_cells"),
    ("student,check,points,why,who,when,evil\nbob,ex1_limit,1,x,ana,2026,1\n", "review.unknown_fields"),
    ("student,check,points,why,who,when\nbob,ex1_limit,1,x,ana,2026\nbob,ex1_limit,0,y,ana,2026\n", "review.duplicate"),
    ("student,check,points,why,who,when\nbob,ex1_limit,1,x\x07y,ana,2026\n", "review.control_chars"),
    ("student,check,points,why,who,when\nbob,ex1_limit,1," + "x" * 3000 + ",ana,2026\n", "review.text_too_long"),
    ("nombre;nota\nbob;1\n", "review.bad_header"),
    ("student,check,points,why,who,when,sha256\nbob,ex1_limit,1,x,ana,2026,abc\n", "review.partial_basis"),
]


@pytest.mark.parametrize("content, key", HOSTILE)
def test_a_broken_review_file_applies_nothing_and_blocks_the_export(graded, reference_rubric, content, key):
    review(ReviewRequest(graded, "alice", comment="bien", who="ana"))
    applied = load(graded, "alice")
    hand_file(graded, content)
    with pytest.raises(ReviewFileError) as caught:
        review(ReviewRequest(graded))
    assert caught.value.message.key == key
    with pytest.raises(ReviewFileError):
        export(ExportRequest(graded, "gradescope", out=graded.parent / "lms"), reference_rubric)
    assert not (graded.parent / "lms").exists()
    write_class_files(graded, list(STUDENTS), reference_rubric, [], "es")  # the batch still writes the grades
    assert load(graded, "alice") == applied  # nothing of the broken file applied, nothing undone
    assert said("review.class_file_error", "es") in (graded / "index.html").read_text(encoding="utf-8")


def test_binary_and_huge_review_files_are_refused(graded):
    (graded / "review.csv").write_bytes(b"student,check\n\xff\xfe\x00bob")
    with pytest.raises(ReviewFileError) as caught:
        review(ReviewRequest(graded))
    assert caught.value.message.key == "review.not_utf8"
    (graded / "review.csv").write_bytes(b"x" * (3 * 1024 * 1024))
    with pytest.raises(ReviewFileError) as caught:
        review(ReviewRequest(graded))
    assert caught.value.message.key == "review.file_too_large"
    (graded / "review.toml").write_text("")
    with pytest.raises(ReviewFileError) as caught:
        review(ReviewRequest(graded))
    assert caught.value.message.key == "review.two_files"


def test_the_command_line(graded, capsys):
    code = cli.main(["review", str(graded), "bob", "--set", "ex1_limit=2", "--why", "bien", "--by", "ana", "--lang", "en"])
    assert code == 0
    out = capsys.readouterr().out
    assert said("review.done_file", "en", path=str(graded / "review.csv")) in out
    code = cli.main(["review", str(graded), "bob", "--set", "ex1_limit=9", "--why", "x", "--lang", "en"])
    assert code == 2
    assert said("review.points_range", "en", check="ex1_limit", points=9.0, max=2.0) in capsys.readouterr().err
    assert cli.main(["review", str(graded), "--lang", "en"]) == 0
    listing = capsys.readouterr().out
    assert "bob:" in listing
    assert said("review.student_line", "en", student="bob", score=f"{load(graded, 'bob')['score']:g} / 33", adjusted=1,
                comment="", looks="") in listing


def test_a_review_keeps_the_class_pages_similar_pairs(graded, reference_rubric):
    from grader.batch.class_files import rebuild_class_files
    from grader.similarity import write_similarity
    alice = Path(__file__).resolve().parents[2] / "assignments" / "alice.ipynb"
    similarity = write_similarity(graded, [("alice", alice), ("bob", alice), ("carol", None), ("dora", None)],
                                  reference_rubric, "es")
    assert similarity.pairs  # the same notebook twice
    write_class_files(graded, list(STUDENTS), reference_rubric, [], "es", similarity)
    heading = said("similarity.heading", "es")
    assert heading in (graded / "index.html").read_text(encoding="utf-8")
    review(ReviewRequest(graded, "bob", comment="Hablemos de su entrega.", who="ana"))
    rebuild_class_files(graded, reference_rubric)
    page = (graded / "index.html").read_text(encoding="utf-8")
    assert heading in page and said("review.class_commented", "es") in page
    assert "alice" in page and said("similarity.heading", "es") not in (graded / "bob" / "report.html").read_text(encoding="utf-8")
