"""grade export (Canvas, Moodle, Gradescope): the LMS files (the bundle: test_gradescope_bundle.py).

Graded folders are built from real result.json content: the goldens (alice, bob, carol, as the
grader wrote them), plus an error result made by the pipeline's own `error_result`. Every file
the export writes is parsed back with the csv or json module.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from grader import cli
from grader.errors import UsageError
from grader.export import ExportRequest, export
from grader.export.gradescope import results_json
from grader.export.results import load_folder
from grader.kinds import GradeStatus
from grader.messages import msg, render
from grader.pipeline import error_result

GOLDENS = Path(__file__).resolve().parent.parent / "goldens"
# names with a comma, accents and quotes: what breaks a hand-made CSV
NAMES = {"alice": 'Müller, Alicia "Ali"', "bob": "Ñúñez, Bob", "carol": "O'Brien, Carol; «Caro»"}


def golden(name: str) -> dict:
    """A golden result as a template for other students: without the golden's own identity
    (alice's name and file), which would otherwise speak for whoever the test writes."""
    result = json.loads((GOLDENS / f"{name}.json").read_text(encoding="utf-8"))
    result.pop("identity", None)
    return result


@pytest.fixture
def graded(tmp_path, reference_rubric) -> Path:
    """A batch's output: alice (33/33), bob (14/33, fails and warnings), carol (one skipped
    optional item), dora (the grader failed on her: grader_error)."""
    out = tmp_path / "grades"
    for name in ("alice", "bob", "carol"):
        result = golden(name)
        result["display_name"] = NAMES[name]
        result["timings"] = {"total": 61.4}
        if name == "carol":  # an optional name not defined: skipped, its points leave max_score
            check = next(c for c in result["checks"] if c["id"] == "ex1_conv_limit")
            check.update(status="skipped", points=0.0, max_points=0.0, message="not defined")
            result["max_score"] -= 1.0
            result["score"] -= 1.0
        (out / name).mkdir(parents=True)
        (out / name / "result.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    dora = error_result("dora", "dora", GradeStatus.GRADER_ERROR, "worker died", reference_rubric)
    (out / "dora").mkdir()
    (out / "dora" / "result.json").write_text(json.dumps(dora.to_json("en")), encoding="utf-8")
    (out / "gradebook.csv").write_text("student,score\n")
    return out


def write_roster(path: Path, rows: list[dict], columns: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def roster(tmp_path) -> Path:
    """alice, bob, carol, dora rostered; erin rostered with no submission. (frank is graded in
    one test without a roster row.)"""
    rows = [{"student": s, "name": NAMES.get(s, s.title()), "canvas_id": str(1000 + i), "sis_user_id": f"S{i}",
             "sis_login_id": f"{s}@uni.edu", "section": "108, Tarde", "email": f"{s}@uni.edu", "idnumber": f"ID{i}"}
            for i, s in enumerate(["alice", "bob", "carol", "dora", "erin"])]
    return write_roster(tmp_path / "roster.csv", rows, list(rows[0]))


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_canvas_parses_back_with_the_points_row_and_every_rostered_student(graded, roster, tmp_path, reference_rubric):
    summary = export(ExportRequest(graded, "canvas", roster, "Tarea 108, pesos", "4711", tmp_path / "out"),
                     reference_rubric)
    rows = read_csv(tmp_path / "out" / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Tarea 108, pesos (4711)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "33"]
    body = {r[0]: r for r in rows[2:]}
    # roster order; dora (grader error) and erin (no submission) are left out, not blank: in
    # Canvas a blank cell clears a score that is already there
    assert list(body) == [NAMES["alice"], NAMES["bob"], NAMES["carol"]]
    assert body[NAMES["alice"]] == [NAMES["alice"], "1000", "S0", "alice@uni.edu", "108, Tarde", "33"]
    assert body[NAMES["bob"]][5] == "14" and body[NAMES["carol"]][5] == "32"
    assert summary.exported == 3 and summary.blank == 2
    problems = (tmp_path / "out" / "canvas-problems.txt").read_text(encoding="utf-8")
    assert "erin" in problems and "dora" in problems and "worker died" in problems
    left_out = render(msg("export.problem_canvas_left_out", n=2, students="\0"), "en").split("\0")[0]
    assert left_out not in problems or "dora" in problems.split(left_out)[1]


def test_missing_zero_gives_zero_to_the_absent_but_not_to_a_grader_failure(graded, roster, tmp_path, reference_rubric):
    export(ExportRequest(graded, "canvas", roster, "T", None, tmp_path / "out", missing_zero=True), reference_rubric)
    rows = read_csv(tmp_path / "out" / "canvas.csv")
    assert rows[0][5] == "T"  # no assignment id: Canvas creates the assignment
    body = {r[3]: r[5] for r in rows[2:]}
    assert body["erin@uni.edu"] == "0" and "dora@uni.edu" not in body  # a grader failure: no row at all


def test_roster_mismatches_both_ways_are_listed_on_the_terminal_and_in_the_file(graded, roster, tmp_path, capsys):
    frank = golden("bob")
    frank["student"] = frank["display_name"] = "frank"
    (graded / "frank").mkdir()
    (graded / "frank" / "result.json").write_text(json.dumps(frank))
    command = ["export", str(graded), "--to", "canvas", "--roster", str(roster), "--out", str(tmp_path / "o"),
               "--lang", "en"]
    assert cli.main(command) == 2  # a submission without its roster row stops the export
    stopped = capsys.readouterr().err
    assert render(msg("export.doubt_submission_none", who="frank", candidates="erin"), "en") in stopped
    assert render(msg("export.doubt_row_none", line=6, who="erin", candidates="frank"), "en") in stopped
    assert not (tmp_path / "o" / "canvas.csv").exists()
    assert cli.main([*command, "--allow-unmatched"]) == 0
    shown = capsys.readouterr().out
    listed = (tmp_path / "o" / "canvas-problems.txt").read_text()
    for text in (shown, listed):
        assert render(msg("export.problem_unrostered", student="frank", score=14, max_score=33), "en") in text
        # frank is unmatched, so he may be erin: she is not listed as someone who sent nothing
        assert render(msg("export.problem_absent_maybe", student="erin", name="Erin"), "en") in text
    assert "frank" not in (tmp_path / "o" / "canvas.csv").read_text()


def test_moodle_never_writes_a_feedback_without_its_grade(graded, roster, tmp_path):
    summary = export(ExportRequest(graded, "moodle", roster, out=tmp_path / "m", lang="en"))
    rows = read_csv(tmp_path / "m" / "moodle.csv")
    assert rows[0] == ["email", "grade", "feedback"]
    body = {r[0]: r for r in rows[1:]}
    assert set(body) == {"alice@uni.edu", "bob@uni.edu", "carol@uni.edu"}  # dora (grader error), erin (absent): left out
    assert all(r[1] != "" and r[2] != "" for r in rows[1:])
    assert body["bob@uni.edu"][1] == "14"
    score = render(msg("export.summary_score", score=14, max_score=33, status="graded"), "en")
    assert body["bob@uni.edu"][2].startswith(score) and render(msg("export.summary_to_fix"), "en") in body["bob@uni.edu"][2]
    assert render(msg("export.summary_all_passed"), "en") in body["alice@uni.edu"][2]
    assert summary.exported == 3
    assert render(msg("export.problem_absent", student="erin", name="Erin"), "en") in (tmp_path / "m" / "moodle-problems.txt").read_text()
    export(ExportRequest(graded, "moodle", roster, out=tmp_path / "z", moodle_id="idnumber", missing_zero=True, lang="en"))
    rows = {r[0]: r for r in read_csv(tmp_path / "z" / "moodle.csv")[1:]}
    assert rows["ID4"][1:] == ["0", render(msg("export.feedback_no_submission"), "en")] and "ID3" not in rows


def test_moodle_without_a_roster_needs_idnumber(graded, tmp_path):
    with pytest.raises(UsageError, match="roster"):
        export(ExportRequest(graded, "moodle", out=tmp_path / "m"))
    export(ExportRequest(graded, "moodle", moodle_id="idnumber", out=tmp_path / "m"))
    assert [r[0] for r in read_csv(tmp_path / "m" / "moodle.csv")[1:]] == ["alice", "bob", "carol"]


def test_gradescope_results_follow_the_spec_and_map_every_status(graded, tmp_path):
    summary = export(ExportRequest(graded, "gradescope", out=tmp_path / "g", lang="en"))
    assert summary.exported == 4  # dora too: her result says what went wrong
    bob = json.loads((tmp_path / "g" / "gradescope" / "bob" / "results.json").read_text(encoding="utf-8"))
    assert bob["score"] == 14.0 and bob["execution_time"] == 61 and bob["output_format"] == "md"
    assert bob["output"].startswith(f'**{render(msg("export.summary_score", score=14, max_score=33, status="graded"), "en")}**')
    source = golden("bob")["checks"]
    assert [t["name"] for t in bob["tests"]] == [c["title"] for c in source]
    assert [t["number"] for t in bob["tests"]] == [str(i) for i in range(1, len(source) + 1)]
    for test, check in zip(bob["tests"], source):
        assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert (test["score"], test["max_score"]) == (check["points"], check["max_points"])
        expected = {"pass": "passed", "fail": "failed"}.get(check["status"])
        if check["status"] == "warn":
            expected = "passed" if check["points"] >= check["max_points"] else "failed"
        assert test["status"] == expected, check["id"]
    assert sum(t["score"] for t in bob["tests"]) == bob["score"]
    carol = json.loads((tmp_path / "g" / "gradescope" / "carol" / "results.json").read_text(encoding="utf-8"))
    skipped = next(c for c in golden("carol")["checks"] if c["id"] == "ex1_conv_limit")
    # a skipped item is not a test (0 of 0 without status looks passed): it is named in the output
    assert skipped["title"] not in [t["name"] for t in carol["tests"]]
    not_graded = render(msg("export.summary_not_graded", items="\0"), "en").split("\0")[0]
    assert not_graded + skipped["title"].replace("_", "\\_") in carol["output"]
    assert all("status" in t for t in carol["tests"])
    dora = json.loads((tmp_path / "g" / "gradescope" / "dora" / "results.json").read_text())
    # the grader failed, not dora: no score at all (not 0), no tests, and never "every check passed"
    assert "score" not in dora and dora["tests"] == [] and dora["extra_data"] == {"grader_error": True}
    assert "worker died" in dora["output"] and render(msg("export.summary_grader_error"), "en") in dora["output"]
    zero = render(msg("export.summary_score", score=0, max_score="\0", status=""), "en").split("\0")[0]
    assert render(msg("export.summary_all_passed"), "en") not in dora["output"] and zero not in dora["output"]


def test_markdown_output_escapes_what_a_student_could_write(graded):
    result = next(r for r in load_folder(graded).results if r.student == "bob")
    from dataclasses import replace
    hostile = replace(result, message="<script>alert(1)</script> *bold* [link](http://x)")
    output = results_json(hostile, "en")["output"]
    assert "<script>" not in output and "\\*bold\\*" in output and "\\[link\\]" in output


def test_a_broken_result_json_stops_no_one_else(graded, roster, tmp_path, capsys):
    (graded / "bob" / "result.json").write_text('{"student": "bob", "score": ')
    (graded / "carol" / "result.json").write_text(json.dumps({"student": "carol", "status": "graded", "score": "many",
                                                              "max_score": 33}))
    assert cli.main(["export", str(graded), "--to", "canvas", "--roster", str(roster), "--out", str(tmp_path / "o"),
                     "--lang", "en", "--missing-zero"]) == 0
    shown = capsys.readouterr().out
    unusable = lambda student: render(msg("export.problem_broken", student=student, path="\0", reason=""), "en").split("\0")[0]
    assert unusable("bob") in shown and render(msg("export.result_not_json", error="\0"), "en").split("\0")[0] in shown
    assert unusable("carol") in shown and render(msg("export.result_bad_field", field="score"), "en") in shown
    body = {r[3]: r[5] for r in read_csv(tmp_path / "o" / "canvas.csv")[2:]}
    # bob and carol submitted (their result.json is broken), dora's grading failed: none is a 0
    assert body == {"alice@uni.edu": "33", "erin@uni.edu": "0"}


@pytest.mark.parametrize("content, said", [
    ("student,name,emial\nalice,A,a@x\n", msg("export.roster_unknown_columns", path="\0", columns="'emial'")),
    ("name,email\nA,a@x\n", msg("export.roster_no_student", path="\0")),
    ("student,name\nalice,A\nalice,B\n", msg("export.roster_duplicate", path="\0", line=3, student="alice", first=2)),
    ("student,name\nalice,A,extra\n", msg("export.roster_row_width", path="\0", line=2, found=3, expected=2)),
    ("student,name\n,A\n", msg("export.roster_row_no_student", path="\0", line=2)),
    ("", msg("export.roster_empty", path="\0")),
    ('student,name\nalice,"A\n', msg("export.roster_not_csv_line", path="\0", line=2, error="\0", encoding="", separator="")),
])
def test_a_malformed_roster_says_what_is_wrong_and_what_to_do(graded, tmp_path, capsys, content, said):
    (tmp_path / "r.csv").write_text(content)
    assert cli.main(["export", str(graded), "--to", "canvas", "--roster", str(tmp_path / "r.csv"), "--lang", "en"]) == 2
    error = capsys.readouterr().err
    needle = render(said, "en").split("\0")[1]  # what follows the roster's path (up to the parser's own error)
    assert needle in error and "Traceback" not in error


def test_a_folder_that_was_never_graded_is_refused_with_the_fix(tmp_path, capsys):
    (tmp_path / "assignments").mkdir()
    assert cli.main(["export", str(tmp_path / "assignments"), "--to", "gradescope", "--lang", "en"]) == 2
    error = capsys.readouterr().err
    assert render(msg("export.not_graded", path=str(tmp_path / "assignments")), "en") in error
    assert render(msg("export.not_graded_hint"), "en") in error
    assert cli.main(["export", str(tmp_path / "nowhere"), "--to", "gradescope", "--lang", "es"]) == 2
    assert render(msg("export.not_a_folder", path=str(tmp_path / "nowhere")), "es") in capsys.readouterr().err


def test_the_roster_reads_excel_s_bom_and_quoted_commas(graded, tmp_path, reference_rubric):
    path = tmp_path / "r.csv"
    path.write_bytes('\ufeffStudent,Name,SIS_Login_ID\nalice,"Müller, Alicia ""Ali""",alice@x\n'.encode("utf-8"))
    export(ExportRequest(graded, "canvas", path, "T", out=tmp_path / "o", allow_unmatched=True), reference_rubric)
    rows = read_csv(tmp_path / "o" / "canvas.csv")
    assert rows[2][:4] == ['Müller, Alicia "Ali"', "", "", "alice@x"] and len(rows) == 3


# The Gradescope autograder bundle (setup.sh, run_autograder, its time budget): tests/export/test_gradescope_bundle.py
