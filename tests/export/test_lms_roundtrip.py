"""From an LMS download to an LMS upload: a class round-trips with the LMS's own files, and every
student gets their own grade.

Each test builds the LMS's download zip and the roster file the same LMS gives, grades the zip
for real (grade_folder, the sandbox, one epoch, no retraining), exports into that LMS's import
format with that roster, and reads the export back with `csv`/`zipfile`: each person's row holds
the score their own notebook gets when it is graded under a plain file name. The notebooks only do
exercise 1, each differently, so every score differs and a grade on the wrong row cannot pass.
Naming as Canvas' content_zipper.rb and Moodle's mod/assign/locallib.php write it; made-up people.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_folder
from grader.export import ExportRequest, export
from grader.export.roster import load_roster
from grader.export.summary import points
from grader.kinds import RetrainMode
from grader.pipeline import Options

from ..helpers import notebook

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

# Three notebooks, exercise 1 only, three different scores, none of them 0.
LIMIT = "ex1_limit = (6 / 912) ** 0.5"
VAR = "ex1_var_theory = 2 / 912"
CONV = "ex1_conv_limit = (6 / (3 * 3 * 1 + 3 * 3 * 32)) ** 0.5"
WRONG_LIMIT = "ex1_limit = (6 / 784) ** 0.5"  # fan_in only
NOTEBOOKS = {"full": f"{LIMIT}\n{VAR}\n{CONV}", "good": f"{LIMIT}\n{VAR}", "wrong": f"{WRONG_LIMIT}\n{VAR}"}

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Tarea 108 (4711)", "Current Score",
                 "Unposted Current Score", "Final Score", "Unposted Final Score", "Current Grade",
                 "Unposted Current Grade", "Final Grade", "Unposted Final Grade"]
WORKSHEET = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
             "Last modified (submission)", "Last modified (grade)", "Feedback comments"]


def options(out: Path, subset, cache_dir) -> Options:
    return Options(out=out, data_dir=str(subset.folder), cache_dir=cache_dir, quiet=True, retrain=RetrainMode.OFF)


def notebooks(folder: Path) -> dict[str, bytes]:
    """The bytes of each notebook, so the download and the plain folder hold the very same files."""
    folder.mkdir()
    return {kind: notebook(folder / f"{kind}.ipynb", code).read_bytes() for kind, code in NOTEBOOKS.items()}


def plain_scores(files: dict[str, bytes], tmp_path: Path, rubric, subset, cache_dir) -> dict[str, float]:
    """Each notebook graded under a plain file name, with the same options: kind -> score."""
    plain = tmp_path / "plain"
    plain.mkdir()
    for kind, content in files.items():
        (plain / f"{kind}.ipynb").write_bytes(content)
    out = tmp_path / "plain-out"
    summary = grade_folder(plain, rubric, options(out, subset, cache_dir), jobs=1)
    assert sorted(summary["graded_now"]) == sorted(files)
    scores = {}
    for kind in files:
        result = json.loads((out / kind / "result.json").read_text(encoding="utf-8"))
        assert result["status"] == "graded" and result["identity"]["lms"] == "", result
        scores[kind] = result["score"]
    # the notebooks do what they are meant to: three scores, all different, none 0
    assert len(set(scores.values())) == 3 and min(scores.values()) > 0, scores
    return scores


def results_by_lms_id(out: Path, lms: str) -> dict[str, dict]:
    found = {}
    for path in out.glob("*/result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        assert result["identity"]["lms"] == lms, result["identity"]
        found[result["identity"]["lms_user_id"]] = result
    return found


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_canvas_download_to_canvas_import(subset, reference_rubric, cache_dir, tmp_path):
    rubric = reference_rubric.with_protocol(epochs=1)
    files = notebooks(tmp_path / "nb")
    # Canvas ID -> (the gradebook's "Student", the file in the download, which notebook)
    people = {
        "1001": ("Pérez, José", "pérezjosé_1001_5001_tarea.ipynb", "good"),  # accents Canvas keeps
        "1002": ("García, Ana", "garcíaana_late_1002_5002_tarea-1.ipynb", "wrong"),  # late, resubmitted
        "1003": ("Núñez, Luis", unicodedata.normalize("NFD", "núñezluis_1003_5003_Tarea Final.ipynb"), "full"),
    }
    archive = tmp_path / "DL108-Tarea 108 submissions.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for _, member, kind in people.values():
            handle.writestr(member, files[kind])
    assert any(unicodedata.is_normalized("NFD", n) and not unicodedata.is_normalized("NFC", n)
               for n in zipfile.ZipFile(archive).namelist())

    # Grades ▸ Export, opened and saved by Excel in a Spanish locale: cp1252, ";", decimal commas
    rows = [CANVAS_HEADER,
            ["    Points Possible", "", "", "", "", points(rubric.max_score), *["(read only)"] * 8]]
    for canvas_id, (name, _, _) in people.items():
        rows.append([name, canvas_id, f"S{canvas_id}", f"login{canvas_id}", "108 Tarde", "", "70,5", "70,5", "35,25",
                     "35,25", "C", "C", "F", "F"])
    rows.append(["Díaz, Erin", "1004", "S1004", "login1004", "108 Tarde", "", "", "", "0", "0", "", "", "F", "F"])
    rows.append(["Student, Test", "999", "", "", "108 Tarde", "", "", "", "", "", "", "", "", ""])
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    roster = tmp_path / "2026-12-04T1200_Notas-DL108.csv"
    roster.write_bytes(buffer.getvalue().encode("cp1252"))
    assert roster.read_bytes().startswith(b"Student;ID;SIS User ID;SIS Login ID;Section;Tarea 108 (4711);Current Score")
    assert "Pérez, José".encode("cp1252") in roster.read_bytes()

    out = tmp_path / "graded"
    summary = grade_folder(archive, rubric, options(out, subset, cache_dir), jobs=1)
    assert len(summary["graded_now"]) == 3, summary
    graded = results_by_lms_id(out, "canvas")
    assert sorted(graded) == ["1001", "1002", "1003"]
    assert graded["1002"]["identity"]["late"] and not graded["1001"]["identity"]["late"]
    assert graded["1003"]["display_name"] == "núñezluis"  # NFC, though the zip held NFD

    plain = plain_scores(files, tmp_path, rubric, subset, cache_dir)
    for canvas_id, (_, _, kind) in people.items():  # the grade does not depend on the LMS's file name
        assert graded[canvas_id]["score"] == plain[kind], (canvas_id, graded[canvas_id]["score"], plain)

    done = export(ExportRequest(out, "canvas", roster, "Tarea 108", out=tmp_path / "lms", missing_zero=True,
                                lang="en"), rubric)
    assert {e.row.lms_user_id: e.rule for e in done.matching.entries} == {
        "1001": "lms_id", "1002": "lms_id", "1003": "lms_id", "1004": ""}
    assert not any(p.key == "export.problem_canvas_points" for p in done.problems), done.problems

    table = read_csv(tmp_path / "lms" / "canvas.csv")
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Tarea 108 (4711)"]
    assert table[1][0] == "Points Possible" and table[1][5] == points(rubric.max_score)
    body = {row[1]: row for row in table[2:]}
    assert len(body) == len(table) - 2 == 4  # one row per rostered person, none twice
    assert "999" not in body and not any("Test" in row[0] for row in table[2:])
    expected = {canvas_id: points(plain[kind]) for canvas_id, (_, _, kind) in people.items()}
    assert {canvas_id: row[5] for canvas_id, row in body.items()} == {**expected, "1004": "0"}
    assert all(float(body[canvas_id][5]) > 0 for canvas_id in people)  # nobody who sent work is "no submission"
    for canvas_id, (name, _, _) in people.items():  # the roster's own cells back, read right from cp1252
        assert body[canvas_id][:5] == [name, canvas_id, f"S{canvas_id}", f"login{canvas_id}", "108 Tarde"]
    assert body["1004"][0] == "Díaz, Erin"
    again = load_roster(tmp_path / "lms" / "canvas.csv")  # what Canvas imports is its own gradebook shape
    assert again.source == "canvas_gradebook" and [r.lms_user_id for r in again.rows] == ["1001", "1002", "1003", "1004"]


def test_moodle_download_to_moodle_worksheet_and_feedback_zip(subset, reference_rubric, cache_dir, tmp_path):
    rubric = reference_rubric.with_protocol(epochs=1)
    files = notebooks(tmp_path / "nb")
    # participant number -> (Full name as Moodle shows it, which notebook)
    people = {"17": ("José Pérez", "full"), "18": ("Ana María GÓMEZ", "wrong"), "19": ("ÑANDÚ Ortiz", "good")}
    archive = tmp_path / "DL108-Tarea 108-123.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for number, (name, kind) in people.items():
            handle.writestr(f"{name}_{number}_assignsubmission_file_/Tarea108.ipynb", files[kind])
        handle.writestr("José Pérez_17_assignsubmission_onlinetext_/onlinetext.html", "<p>listo</p>")

    modified = "Thursday, 3 December 2026, 9:15 AM"
    sheet = [WORKSHEET]
    graded_before = {"17": "Friday, 4 December 2026, 10:02 AM"}  # a grade already in Moodle: its date must come back
    for number, (name, _) in people.items():
        sheet.append([f"Participant {number}", name, f"p{number}@uni.edu", "Submitted for grading", "", "33.00", "Yes",
                      modified, graded_before.get(number, "-"), ""])
    sheet.append(["Participant 20", "Nadie Nunca", "p20@uni.edu", "No submission", "", "33.00", "Yes", "-", "-", ""])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(sheet)
    worksheet = tmp_path / "Grades-DL108-Tarea 108-123.csv"
    worksheet.write_bytes(buffer.getvalue().encode("utf-8-sig"))

    out = tmp_path / "graded"
    summary = grade_folder(archive, rubric, options(out, subset, cache_dir), jobs=1)
    assert len(summary["graded_now"]) == 3, summary
    graded = results_by_lms_id(out, "moodle")
    assert sorted(graded) == ["17", "18", "19"]
    assert {n: r["display_name"] for n, r in graded.items()} == {n: name for n, (name, _) in people.items()}

    plain = plain_scores(files, tmp_path, rubric, subset, cache_dir)
    for number, (_, kind) in people.items():
        assert graded[number]["score"] == plain[kind], (number, graded[number]["score"], plain)

    done = export(ExportRequest(out, "moodle", worksheet, out=tmp_path / "lms", lang="en"), rubric)
    assert {e.row.lms_user_id: e.rule for e in done.matching.entries} == {"17": "lms_id", "18": "lms_id",
                                                                          "19": "lms_id", "20": ""}
    table = read_csv(tmp_path / "lms" / "moodle-worksheet.csv")
    assert table[0] == WORKSHEET
    body = {row[0]: row for row in table[1:]}
    assert len(body) == len(table) - 1 == 3  # Participant 20 sent nothing: no row (no --missing-zero)
    for number, (name, kind) in people.items():
        row = body[f"Participant {number}"]
        assert row[1] == name and row[2] == f"p{number}@uni.edu"
        assert row[4] == points(plain[kind]), (number, row[4], plain)
        assert row[5:8] == ["33.00", "Yes", modified]  # Moodle's own cells, back unchanged
        if number in graded_before:  # Moodle skips a row whose grade changed after this date: exactly as downloaded
            assert row[8] == graded_before[number]
        # (a "-" in Last modified (grade) comes back as "'-": safe_cell; to Moodle's strtotime both are false)
        assert row[9].startswith(f"Score {points(plain[kind])}/"), row[9]
    assert load_roster(tmp_path / "lms" / "moodle-worksheet.csv").source == "moodle_worksheet"

    with zipfile.ZipFile(tmp_path / "lms" / "moodle-feedback.zip") as feedback:
        names = feedback.namelist()
        assert len(names) == 3 and all(n.endswith("/report.html") for n in names), names
        by_number = {}
        for name in names:
            parts = name.split("/")[0].split("_")  # Moodle reads the participant from the second part
            assert len(parts) == 5 and parts[2:] == ["assignfeedback", "file", ""], name  # its download's trailing "_"
            by_number[parts[1]] = (parts[0], feedback.read(name))
    assert sorted(by_number) == ["17", "18", "19"]
    for number, (name, _) in people.items():
        folder_name, report = by_number[number]
        assert folder_name == name
        student = graded[number]["student"]
        assert report == (out / student / "report.html").read_bytes()  # that student's own report
    assert len({report for _, report in by_number.values()}) == 3
