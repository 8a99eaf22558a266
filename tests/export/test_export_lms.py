"""grade export with the files an LMS really gives: Canvas' gradebook export, Moodle's grading
worksheet and grade export as rosters, Excel's encodings and separators, the one identity rule
(accents, capitals, NFD, word order, LMS ids), and the answers in the LMS's own forms.

Every file is written here in the documented shape of its LMS (headers and naming as Canvas and
Moodle write them; invented people). Graded folders are result.json files, as in test_export.py:
no grading runs.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.errors import UsageError
from grader.export import ExportRequest, export
from grader.export.gradescope import results_json
from grader.export.lms_files import safe_cell
from grader.export.results import load_folder
from grader.export.roster import load_roster
from grader.messages import msg, render

from .test_export import golden

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section",
                 "Tarea 108 (4711)", "Tarea 107 (4710)", "Current Score", "Unposted Current Score", "Final Score",
                 "Unposted Final Score", "Current Grade", "Final Grade"]
WORKSHEET = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
             "Last modified (submission)", "Last modified (grade)", "Feedback comments"]
MOODLE_EXPORT = ["First name", "Last name", "ID number", "Institution", "Department", "Email address",
                 "Assignment: Tarea 108 (Real)", "Last downloaded from this course"]


def write_result(out: Path, student: str, display_name: str, score: float | None = None, identity: dict | None = None,
                 report: str | None = None, status: str = "graded") -> None:
    result = golden("alice")  # 33/33
    result.update(student=student, display_name=display_name, status=status)
    if score is not None:
        result["score"] = score
    if identity is not None:
        result["identity"] = {"student": student, "display_name": display_name, **identity}
    (out / student).mkdir(parents=True, exist_ok=True)
    (out / student / "result.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    if report is not None:
        (out / student / "report.html").write_text(report, encoding="utf-8")


def write_table(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def canvas_export(path: Path, people: list[tuple[str, str, str]], encoding: str = "utf-8-sig") -> Path:
    """Canvas' gradebook export: the header, the indented Points Possible row, the students, and
    the student view's "Student, Test" (Canvas adds it to every course that used it)."""
    rows = [CANVAS_HEADER, ["    Points Possible", "", "", "", "", "", "", "33", "10", "(read only)", "(read only)",
                            "(read only)", "(read only)", "(read only)", "(read only)"]]
    for name, canvas_id, login in people:
        rows.append([name, canvas_id, f"S{canvas_id}", login, "", "UNI", "108 Tarde", "", "7", "70", "70", "35", "35",
                     "C", "F"])
    rows.append(["Student, Test", "999", "", "", "", "UNI", "108 Tarde", "", "", "", "", "", "", "", ""])
    return write_table(path, rows, encoding)


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# -- rosters as the LMS gives them -----------------------------------------------------------

def test_a_canvas_gradebook_export_is_a_roster_without_its_points_row_or_test_student(tmp_path):
    path = canvas_export(tmp_path / "2026-12-04T1200_Grades-DL108.csv",
                         [("Pérez, José", "1201", "jperez"), ("Müller, Alicia", "1202", "amuller")])
    roster = load_roster(path)
    assert roster.source == "canvas_gradebook" and roster.encoding == "utf-8-sig"
    assert [(r.name, r.lms, r.lms_user_id, r.sis_login_id, r.section) for r in roster.rows] == [
        ("Pérez, José", "canvas", "1201", "jperez", "108 Tarde"), ("Müller, Alicia", "canvas", "1202", "amuller", "108 Tarde")]
    assert roster.rows[0].sis_user_id == "S1201" and roster.rows[0].root_account == "UNI"
    assert [(a.name, a.id, a.points_possible) for a in roster.canvas_assignments] == [("Tarea 108", "4711", "33"),
                                                                                   ("Tarea 107", "4710", "10")]


def test_canvas_s_posting_policy_row_is_not_a_student(tmp_path):
    """A course whose assignments post grades by hand: Canvas' export carries a "Manual Posting" row under
    Points Possible (no ID, "Manual Posting" in the assignment columns)."""
    path = canvas_export(tmp_path / "Grades.csv", [("Pérez, José", "1201", "jperez")])
    rows = path.read_text(encoding="utf-8-sig").splitlines()
    posting = ",".join(["    Manual Posting", "", "", "", "", "", "", "Manual Posting", "Manual Posting", "", "", "", "", "", ""])
    path.write_text("\r\n".join([rows[0], rows[1], posting, *rows[2:]]) + "\r\n", encoding="utf-8-sig")
    roster = load_roster(path)
    assert [(r.name, r.lms_user_id) for r in roster.rows] == [("Pérez, José", "1201")]
    assert roster.canvas_assignments[0].points_possible == "33"


def test_a_moodle_worksheet_and_a_moodle_grade_export_are_rosters(tmp_path):
    sheet = write_table(tmp_path / "Grades-DL108-Tarea 108-123.csv", [WORKSHEET, [
        "Participant 17", "José Pérez", "jose@uni.edu", "Submitted for grading", "", "33.00", "Yes",
        "Thursday, 3 December 2026, 9:15 AM", "-", ""]])
    row = load_roster(sheet).rows[0]
    assert (row.lms, row.lms_user_id, row.name, row.email, row.source) == ("moodle", "17", "José Pérez", "jose@uni.edu",
                                                                           "moodle_worksheet")
    assert row.modified_grade == "-" and row.max_grade == "33.00"
    grades = write_table(tmp_path / "DL108 Grades.csv", [MOODLE_EXPORT, [
        "José", "Pérez", "A-0042", "Uni", "Informática", "jose@uni.edu", "-", "1764850000"]])
    row = load_roster(grades).rows[0]
    assert (row.name, row.idnumber, row.email, row.lms, row.source) == ("José Pérez", "A-0042", "jose@uni.edu", "moodle",
                                                                        "moodle_grades")


@pytest.mark.parametrize("encoding, delimiter", [("utf-8-sig", ","), ("cp1252", ";"), ("utf-16", "\t"), ("utf-8", ";")])
def test_excel_s_encodings_and_separators_read_the_same_names(tmp_path, encoding, delimiter):
    """UTF-8 with BOM (CSV UTF-8), cp1252 with `;` (Excel's plain CSV in a Spanish locale),
    UTF-16 with tabs (Unicode Text)."""
    rows = [["student", "name", "email"], ["jperez", "Pérez, José Ñandú", "jose@uni.edu"],
            ["amuller", "Müller; Alicia", "alicia@uni.edu"]]
    roster = load_roster(write_table(tmp_path / "r.csv", rows, encoding, delimiter))
    assert [(r.student, r.name, r.email) for r in roster.rows] == [tuple(r) for r in rows[1:]]


def test_a_file_that_is_not_a_readable_table_says_the_line_and_the_excel_option(tmp_path, capsys):
    out = tmp_path / "grades"
    write_result(out, "alice", "Alice")
    (tmp_path / "bad.csv").write_text('student;name\nalice;"Alice\n')
    assert cli.main(["export", str(out), "--to", "canvas", "--roster", str(tmp_path / "bad.csv"), "--lang", "en"]) == 2
    error = capsys.readouterr().err
    # the parser's error and the encoding it guessed vary: the sentence around them
    said = msg("export.roster_not_csv_line", path=str(tmp_path / "bad.csv"), line=2, error="\0", encoding="\0", separator="semicolon")
    where, _, separated = render(said, "en").split("\0")
    assert where in error and separated in error
    assert render(msg("export.roster_excel_hint"), "en") in error and "Traceback" not in error


@pytest.mark.parametrize("content, said", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, msg("export.roster_binary", path="\0")),
    (b"PK\x03\x04" + bytes(range(256)) * 40, msg("export.roster_binary", path="\0")),
    (b"\xff\xfes\x00t\x00\x00\xd8", msg("export.roster_bad_encoding", path="\0", encoding="utf-16", offset="\0")),
])
def test_hostile_roster_bytes_are_refused_with_the_fix(tmp_path, content, said):
    (tmp_path / "r.csv").write_bytes(content)
    with pytest.raises(UsageError) as caught:
        load_roster(tmp_path / "r.csv")
    needle = render(said, "en").split("\0")[1]  # after the path (and up to the offset)
    assert needle in caught.value.render("en") and render(msg("export.roster_excel_hint"), "en") in caught.value.render("en")


def test_a_huge_roster_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "r.csv"
    with open(path, "wb") as handle:
        handle.truncate(11 * 1024 * 1024)  # sparse: no 11 MB written
    with pytest.raises(UsageError) as caught:
        load_roster(path)
    assert render(msg("export.roster_too_large", path=str(path), mb=10), "en") in caught.value.render("en")


# -- one identity rule ------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path) -> Path:
    """alice (33/33, folder `alice`), Jose_Perez (20/33; his name NFD, as a Mac writes it), bob."""
    out = tmp_path / "grades"
    write_result(out, "alice", "alice")
    write_result(out, "Jose_Perez", unicodedata.normalize("NFD", "José Pérez"), score=20.0)
    write_result(out, "bob", "Bob Ñúñez", score=14.0)
    return out


def plain_roster(path: Path, rows: list[list[str]]) -> Path:
    return write_table(path, [["student", "name", "sis_login_id"], *rows])


def test_names_match_across_capitals_accents_nfd_and_word_order(folder, tmp_path, reference_rubric):
    roster = plain_roster(tmp_path / "r.csv", [["Alice", "Alice", "a1"], ["jose", "Pérez, José", "j2"],
                                              ["BOB", "ÑÚÑEZ, BOB", "b3"]])
    summary = export(ExportRequest(folder, "canvas", roster, "T", out=tmp_path / "o"), reference_rubric)
    body = {r[3]: r[5] for r in read_csv(tmp_path / "o" / "canvas.csv")[2:]}
    assert body == {"a1": "33", "j2": "20", "b3": "14"}
    assert {e.row.sis_login_id: e.rule for e in summary.matching.entries} == {"a1": "name", "j2": "name", "b3": "name"}


def test_missing_zero_never_zeroes_alice_when_her_row_says_Alice(folder, tmp_path, reference_rubric):
    roster = plain_roster(tmp_path / "r.csv", [["Alice", "Alice", "a1"], ["Jose_Perez", "José Pérez", "j2"],
                                              ["bob", "Bob", "b3"], ["erin", "Erin Díaz", "e4"]])
    export(ExportRequest(folder, "moodle", roster, out=tmp_path / "o", moodle_id="idnumber", missing_zero=True,
                         lang="es"), reference_rubric)
    export(ExportRequest(folder, "canvas", roster, "T", out=tmp_path / "o", missing_zero=True), reference_rubric)
    body = {r[3]: r[5] for r in read_csv(tmp_path / "o" / "canvas.csv")[2:]}
    assert body == {"a1": "33", "j2": "20", "b3": "14", "e4": "0"}  # only erin, who sent nothing, gets 0


def test_an_unmatched_submission_stops_the_export_and_blocks_the_zero_of_its_likely_row(folder, tmp_path, capsys):
    roster = plain_roster(tmp_path / "r.csv", [["alice", "Alice", "a1"], ["bob", "Bob", "b3"],
                                              ["jp", "José Pedro Pérez", "j2"]])
    command = ["export", str(folder), "--to", "canvas", "--roster", str(roster), "--out", str(tmp_path / "o"),
               "--lang", "en", "--missing-zero"]
    assert cli.main(command) == 2
    error = capsys.readouterr().err
    assert render(msg("export.doubt_submission_none", who="Jose_Perez", candidates="jp"), "en") in error
    assert render(msg("export.doubt_row_none", line=4, who="jp", candidates="Jose_Perez"), "en") in error
    assert "--allow-unmatched" in error and not (tmp_path / "o").exists()
    assert cli.main([*command, "--allow-unmatched"]) == 0
    body = {r[3]: r[5] for r in read_csv(tmp_path / "o" / "canvas.csv")[2:]}
    assert body == {"a1": "33", "b3": "14"}  # jp is probably Jose_Perez: never 0 while that is possible
    listed = (tmp_path / "o" / "canvas-problems.txt").read_text(encoding="utf-8")
    assert render(msg("export.problem_absent_maybe", student="jp", name="José Pedro Pérez"), "en") in listed


def test_an_unmatched_submission_under_a_name_nothing_like_the_row_still_blocks_the_zero(folder, tmp_path):
    """Jose_Perez's row says "Pepe Gómez Ruiz" (a nickname and the other surnames): no name rule can pair
    them, the names are far apart, and he still sent work. No row left unmatched may get a 0 while any
    submission is unmatched."""
    roster = plain_roster(tmp_path / "r.csv", [["alice", "Alice", "a1"], ["bob", "Bob", "b3"],
                                              ["pg", "Pepe Gómez Ruiz", "p9"]])
    command = ["export", str(folder), "--to", "canvas", "--roster", str(roster), "--out", str(tmp_path / "o"),
               "--lang", "en", "--missing-zero", "--allow-unmatched"]
    assert cli.main(command) == 0
    body = {r[3]: r[5] for r in read_csv(tmp_path / "o" / "canvas.csv")[2:]}
    assert body == {"a1": "33", "b3": "14"}  # pg gets no 0: the unmatched Jose_Perez may be his
    assert render(msg("export.problem_absent_maybe", student="pg", name="Pepe Gómez Ruiz"), "en") \
        in (tmp_path / "o" / "canvas-problems.txt").read_text(encoding="utf-8")


def test_two_rows_for_one_submission_are_a_doubt_never_a_guess(folder, tmp_path, reference_rubric):
    roster = plain_roster(tmp_path / "r.csv", [["a", "Alice", "a1"], ["a2", "ALICE", "a2"], ["bob", "Bob", "b3"],
                                              ["Jose_Perez", "J", "j2"]])
    with pytest.raises(UsageError) as caught:
        export(ExportRequest(folder, "canvas", roster, "T", out=tmp_path / "o"), reference_rubric)
    assert render(msg("export.doubt_submission_several", who="alice", candidates="a, a2"), "en") in caught.value.render("en")
    summary = export(ExportRequest(folder, "canvas", roster, "T", out=tmp_path / "o", allow_unmatched=True,
                                   missing_zero=True), reference_rubric)
    body = {r[3]: r[5] for r in read_csv(tmp_path / "o" / "canvas.csv")[2:]}
    assert body == {"b3": "14", "j2": "20"}  # neither Alice row gets alice's 33, nor a 0
    assert {r.student for r in summary.matching.absent} == {"a", "a2"}


def test_a_repeated_person_in_an_lms_roster_is_refused(tmp_path):
    path = canvas_export(tmp_path / "g.csv", [("Pérez, José", "1201", "jperez"), ("Pérez, José", "1201", "jperez")])
    with pytest.raises(UsageError) as caught:
        load_roster(path)
    assert render(msg("export.roster_duplicate", path=str(path), line=4, student="1201", first=3), "en") in caught.value.render("en")


# -- back into the LMS ------------------------------------------------------------------------

def test_canvas_by_id_from_a_canvas_roster_and_left_out_rather_than_blank(tmp_path, reference_rubric):
    out = tmp_path / "grades"
    # a Canvas download: the folder name is Canvas' login-ish name, the id proves who it is
    write_result(out, "amuller", "amuller", identity={"lms": "canvas", "lms_user_id": "1202"})
    # same name as the roster's José but another Canvas user: the ids differ, so not him
    write_result(out, "jperez_2", "José Pérez", score=3.0, identity={"lms": "canvas", "lms_user_id": "7777"})
    roster = canvas_export(tmp_path / "grades.csv", [("Pérez, José", "1201", "jperez"), ("Müller, Alicia", "1202", "am")])
    with pytest.raises(UsageError, match="jperez_2"):
        export(ExportRequest(out, "canvas", roster, "Tarea 108", out=tmp_path / "o", missing_zero=True), reference_rubric)
    summary = export(ExportRequest(out, "canvas", roster, "Tarea 108", out=tmp_path / "o", allow_unmatched=True,
                                   missing_zero=True), reference_rubric)
    rows = read_csv(tmp_path / "o" / "canvas.csv")
    assert rows[0][5] == "Tarea 108 (4711)"  # the roster's own column: the existing assignment
    assert rows[2:] == [["Müller, Alicia", "1202", "S1202", "am", "108 Tarde", "33"]]  # José: no row, not blank
    assert summary.matching.entries[1].rule == "lms_id"


def test_canvas_warns_when_the_existing_assignment_has_other_points(tmp_path, reference_rubric):
    out = tmp_path / "grades"
    write_result(out, "amuller", "Alicia Müller")
    roster = canvas_export(tmp_path / "grades.csv", [("Müller, Alicia", "1202", "am")])
    summary = export(ExportRequest(out, "canvas", roster, "Tarea 107", out=tmp_path / "o", lang="en"),
                     reference_rubric)
    assert read_csv(tmp_path / "o" / "canvas.csv")[0][5] == "Tarea 107 (4710)"
    assert any(p.key == "export.problem_canvas_points" for p in summary.problems)


def test_moodle_worksheet_by_participant_with_the_feedback_zip_in_moodle_s_naming(tmp_path, reference_rubric):
    out = tmp_path / "grades"
    write_result(out, "jose", "José Pérez", score=20.0, report="<html>informe de José</html>")
    write_result(out, "ana", "Ana_María O'Neil", report="<html>Ana</html>")
    write_result(out, "locked", "Luis Locked", report="<html>L</html>")
    modified = "Thursday, 3 December 2026, 9:15 AM"
    sheet = write_table(tmp_path / "worksheet.csv", [WORKSHEET,
        ["Participant 17", "José Pérez", "jose@uni.edu", "Submitted for grading", "", "33.00", "Yes", modified, modified, ""],
        ["Participant 18", "Ana_María O'Neil", "ana@uni.edu", "Submitted for grading", "", "33.00", "Yes", modified, "-", ""],
        ["Participant 19", "Luis Locked", "luis@uni.edu", "Submitted for grading", "", "33.00", "No", modified, "-", ""],
        ["Participant 20", "Nadie Nunca", "n@uni.edu", "No submission", "", "33.00", "Yes", "-", "-", ""]])
    summary = export(ExportRequest(out, "moodle", sheet, out=tmp_path / "o", lang="en"), reference_rubric)
    rows = read_csv(tmp_path / "o" / "moodle-worksheet.csv")
    assert rows[0] == WORKSHEET
    body = {r[0]: r for r in rows[1:]}
    assert set(body) == {"Participant 17", "Participant 18"}  # locked and no-submission rows: left out
    assert body["Participant 17"][4:9] == ["20", "33.00", "Yes", modified, modified]  # Moodle's own dates back
    assert body["Participant 17"][9].startswith(render(msg("export.summary_score", score=20, max_score=33, status="graded"), "en"))
    with zipfile.ZipFile(tmp_path / "o" / "moodle-feedback.zip") as archive:
        names = sorted(archive.namelist())
        assert archive.read("José Pérez_17_assignfeedback_file_/report.html") == "<html>informe de José</html>".encode()
    assert names == ["Ana María O'Neil_18_assignfeedback_file_/report.html",  # "_" would hide the participant
                     "José Pérez_17_assignfeedback_file_/report.html"]
    assert any(p.key == "export.problem_moodle_locked" for p in summary.problems)
    # Moodle's rule for the zip: the participant is the second "_" part, followed by plugin type and name
    for name in names:
        parts = name.split("/")[0].split("_", 4)
        assert parts[1].isdigit() and parts[2:4] == ["assignfeedback", "file"]
        # before Moodle 4.1: the whole path and file name split on "_" into five parts, the last the file name
        old = ("/" + name).split("_", 4)
        assert len(old) == 5 and old[1].isdigit() and old[2:4] == ["assignfeedback", "file"] and old[4] == "/report.html"


WORKSHEET_ES = ["Identificador", "Nombre completo", "Dirección de correo", "Estado", "Calificación", "Calificación máxima",
                "La calificación puede ser cambiada", "Última modificación (entrega)", "Última modificación (calificación)",
                "Comentarios de retroalimentación"]


def test_a_spanish_moodle_worksheet_saved_by_excel_goes_back_in_spanish(tmp_path, reference_rubric):
    """A Moodle in Spanish writes its worksheet with Spanish labels and reads an upload by them; Excel in a
    Spanish locale saves it as cp1252 with ";"."""
    out = tmp_path / "grades"
    write_result(out, "jose", "José Pérez", score=20.0, report="<html>José</html>")
    modified = "jueves, 3 de diciembre de 2026, 09:15"
    sheet = write_table(tmp_path / "Calificaciones-Tarea 108.csv", [WORKSHEET_ES,
        ["Participante 17", "José Pérez", "jose@uni.edu", "Enviado para calificar", "", "33,00", "Sí", modified, "-", ""]],
        encoding="cp1252", delimiter=";")
    roster = load_roster(sheet)
    assert roster.source == "moodle_worksheet" and roster.rows[0].lms_user_id == "17"
    export(ExportRequest(out, "moodle", sheet, out=tmp_path / "o", lang="es"), reference_rubric)
    rows = read_csv(tmp_path / "o" / "moodle-worksheet.csv")
    assert rows[0] == WORKSHEET_ES
    assert rows[1][0] == "Participante 17" and rows[1][4] == "20" and rows[1][7:9] == [modified, "-"]


def test_moodle_grade_export_roster_pairs_with_the_grade_import_csv(tmp_path, reference_rubric):
    out = tmp_path / "grades"
    write_result(out, "jose", "José Pérez", score=20.0)
    grades = write_table(tmp_path / "DL108 Grades.csv", [MOODLE_EXPORT,
        ["José", "Pérez", "A-0042", "Uni", "Informática", "jose@uni.edu", "-", "1764850000"],
        ["Erin", "Díaz", "A-0043", "Uni", "Informática", "erin@uni.edu", "-", "1764850000"]])
    export(ExportRequest(out, "moodle", grades, out=tmp_path / "o", lang="en"), reference_rubric)
    rows = read_csv(tmp_path / "o" / "moodle.csv")
    assert [r[:2] for r in rows] == [["email", "grade"], ["jose@uni.edu", "20"]]  # erin: no line that could abort
    assert not (tmp_path / "o" / "moodle-worksheet.csv").exists()  # no participant numbers known


def test_formula_looking_cells_are_neutralised_in_every_csv(tmp_path, reference_rubric):
    out = tmp_path / "grades"
    hostile = "=cmd|' /C calc'!A0"
    write_result(out, "eve", hostile)
    roster = plain_roster(tmp_path / "r.csv", [["eve", hostile, "@SUM(1+1)"]])
    export(ExportRequest(out, "canvas", roster, "+T", out=tmp_path / "o"), reference_rubric)
    rows = read_csv(tmp_path / "o" / "canvas.csv")
    assert rows[0][5] == "'+T" and rows[2][0] == "'" + hostile and rows[2][3] == "'@SUM(1+1)"
    assert safe_cell("-0.5") == "-0.5" and safe_cell("-x") == "'-x" and safe_cell("José") == "José"


# -- Gradescope: never "everything is fine" for what was not graded ----------------------------

def test_gradescope_grader_error_has_no_score_and_skipped_items_are_not_passed_tests(tmp_path):
    out = tmp_path / "grades"
    write_result(out, "dora", "Dora", status="grader_error")
    result = golden("alice")
    for check in result["checks"]:
        check.update(status="skipped", points=0.0, max_points=0.0)
    result.update(student="sam", display_name="Sam", score=0.0, max_score=0.0)
    (out / "sam").mkdir()
    (out / "sam" / "result.json").write_text(json.dumps(result))
    loaded = {r.student: r for r in load_folder(out).results}
    dora = results_json(loaded["dora"], "es")
    assert "score" not in dora and dora["tests"] == [] and dora["extra_data"] == {"grader_error": True}
    assert render(msg("export.summary_grader_error"), "es") in dora["output"]
    assert render(msg("export.summary_all_passed"), "es") not in dora["output"]
    sam = results_json(loaded["sam"], "en")
    assert sam["tests"] == [] and render(msg("export.summary_all_passed"), "en") not in sam["output"]
    assert render(msg("export.summary_nothing_checked"), "en") in sam["output"]
