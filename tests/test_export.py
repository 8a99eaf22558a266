"""grade export (Canvas, Moodle, Gradescope) and the Gradescope autograder bundle.

Graded folders are built from real result.json content: the goldens (alice, bob, carol, as the
grader wrote them), plus an error result made by the pipeline's own `error_result`. Every file
the export writes is parsed back with the csv or json module.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.errors import UsageError
from grader.export import ExportRequest, export
from grader.export.gradescope import results_json
from grader.export.results import load_folder
from grader.kinds import GradeStatus
from grader.pipeline import error_result

GOLDENS = Path(__file__).resolve().parent / "goldens"
ROOT = Path(__file__).resolve().parent.parent
# names with a comma, accents and quotes: what breaks a hand-made CSV
NAMES = {"alice": 'Müller, Alicia "Ali"', "bob": "Ñúñez, Bob", "carol": "O'Brien, Carol; «Caro»"}


def golden(name: str) -> dict:
    return json.loads((GOLDENS / f"{name}.json").read_text(encoding="utf-8"))


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
    assert list(body) == [NAMES["alice"], NAMES["bob"], NAMES["carol"], "Dora", "Erin"]  # roster order
    assert body[NAMES["alice"]] == [NAMES["alice"], "1000", "S0", "alice@uni.edu", "108, Tarde", "33"]
    assert body[NAMES["bob"]][5] == "14" and body[NAMES["carol"]][5] == "32"
    assert body["Dora"][5] == "" and body["Erin"][5] == ""  # grader error, no submission: blank, never 0
    assert summary.exported == 3 and summary.blank == 2
    problems = (tmp_path / "out" / "canvas-problems.txt").read_text(encoding="utf-8")
    assert "erin" in problems and "dora" in problems and "worker died" in problems


def test_missing_zero_gives_zero_to_the_absent_but_not_to_a_grader_failure(graded, roster, tmp_path, reference_rubric):
    export(ExportRequest(graded, "canvas", roster, "T", None, tmp_path / "out", missing_zero=True), reference_rubric)
    rows = read_csv(tmp_path / "out" / "canvas.csv")
    assert rows[0][5] == "T"  # no assignment id: Canvas creates the assignment
    body = {r[3]: r[5] for r in rows[2:]}
    assert body["erin@uni.edu"] == "0" and body["dora@uni.edu"] == ""


def test_roster_mismatches_both_ways_are_listed_on_the_terminal_and_in_the_file(graded, roster, tmp_path, capsys):
    frank = golden("bob")
    frank["student"] = frank["display_name"] = "frank"
    (graded / "frank").mkdir()
    (graded / "frank" / "result.json").write_text(json.dumps(frank))
    code = cli.main(["export", str(graded), "--to", "canvas", "--roster", str(roster), "--out", str(tmp_path / "o"),
                     "--lang", "en"])
    assert code == 0
    shown = capsys.readouterr().out
    listed = (tmp_path / "o" / "canvas-problems.txt").read_text()
    for text in (shown, listed):
        assert "frank: graded (14/33) but not in the roster" in text
        assert "erin (Erin): in the roster but no submission; blank grade" in text
    assert "frank" not in (tmp_path / "o" / "canvas.csv").read_text()


def test_moodle_never_writes_a_feedback_without_its_grade(graded, roster, tmp_path):
    summary = export(ExportRequest(graded, "moodle", roster, out=tmp_path / "m", lang="en"))
    rows = read_csv(tmp_path / "m" / "moodle.csv")
    assert rows[0] == ["email", "grade", "feedback"]
    body = {r[0]: r for r in rows[1:]}
    assert set(body) == {"alice@uni.edu", "bob@uni.edu", "carol@uni.edu"}  # dora (grader error), erin (absent): left out
    assert all(r[1] != "" and r[2] != "" for r in rows[1:])
    assert body["bob@uni.edu"][1] == "14"
    assert body["bob@uni.edu"][2].startswith("Score 14/33 (graded)") and "To fix:" in body["bob@uni.edu"][2]
    assert "Every check passed." in body["alice@uni.edu"][2]
    assert summary.exported == 3
    assert "left out of the file" in (tmp_path / "m" / "moodle-problems.txt").read_text()
    export(ExportRequest(graded, "moodle", roster, out=tmp_path / "z", moodle_id="idnumber", missing_zero=True, lang="en"))
    rows = {r[0]: r for r in read_csv(tmp_path / "z" / "moodle.csv")[1:]}
    assert rows["ID4"][1:] == ["0", "No submission was received."] and "ID3" not in rows


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
    assert bob["output"].startswith("**Score 14/33 (graded)**")
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
    skipped = next(t for t in carol["tests"] if t["score"] == 0 and t["max_score"] == 0 and "status" not in t)
    assert skipped["output"].startswith("Not graded")
    dora = json.loads((tmp_path / "g" / "gradescope" / "dora" / "results.json").read_text())
    assert dora["score"] == 0 and "worker died" in dora["output"]


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
    assert "bob: not exported, its result is unusable" in shown and "not valid JSON" in shown
    assert "carol: not exported" in shown and "the field score" in shown
    body = {r[3]: r[5] for r in read_csv(tmp_path / "o" / "canvas.csv")[2:]}
    assert body == {"alice@uni.edu": "33", "bob@uni.edu": "", "carol@uni.edu": "", "dora@uni.edu": "", "erin@uni.edu": "0"}


@pytest.mark.parametrize("content, needle", [
    ("student,name,emial\nalice,A,a@x\n", "unknown columns: 'emial'"),
    ("name,email\nA,a@x\n", "has no student column"),
    ("student,name\nalice,A\nalice,B\n", "\"alice\" already appears on line 2"),
    ("student,name\nalice,A,extra\n", "line 2: it has 3 values and the header 2"),
    ("student,name\n,A\n", "line 2: the student column is empty"),
    ("", "is empty or has no header"),
    ('student,name\nalice,"A\n', "not valid CSV"),
])
def test_a_malformed_roster_says_what_is_wrong_and_what_to_do(graded, tmp_path, capsys, content, needle):
    (tmp_path / "r.csv").write_text(content)
    assert cli.main(["export", str(graded), "--to", "canvas", "--roster", str(tmp_path / "r.csv"), "--lang", "en"]) == 2
    error = capsys.readouterr().err
    assert needle in error and "Traceback" not in error


def test_a_folder_that_was_never_graded_is_refused_with_the_fix(tmp_path, capsys):
    (tmp_path / "assignments").mkdir()
    assert cli.main(["export", str(tmp_path / "assignments"), "--to", "gradescope", "--lang", "en"]) == 2
    error = capsys.readouterr().err
    assert "does not look like a graded folder" in error and "Grade the class first" in error
    assert cli.main(["export", str(tmp_path / "nowhere"), "--to", "gradescope", "--lang", "es"]) == 2
    assert "no es una carpeta" in capsys.readouterr().err


def test_the_roster_reads_excel_s_bom_and_quoted_commas(graded, tmp_path, reference_rubric):
    path = tmp_path / "r.csv"
    path.write_bytes('\ufeffStudent,Name,SIS_Login_ID\nalice,"Müller, Alicia ""Ali""",alice@x\n'.encode("utf-8"))
    export(ExportRequest(graded, "canvas", path, "T", out=tmp_path / "o"), reference_rubric)
    rows = read_csv(tmp_path / "o" / "canvas.csv")
    assert rows[2][:4] == ['Müller, Alicia "Ali"', "", "", "alice@x"] and len(rows) == 3


# -- the Gradescope autograder bundle --------------------------------------------------------

def test_the_bundle_has_gradescope_s_two_scripts_and_the_whole_project(tmp_path):
    assert cli.main(["gradescope-bundle", "--out", str(tmp_path / "autograder.zip"), "--epochs", "1"]) == 0
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "pyproject.toml", "reference/rubric.json", "grader/__init__.py",
            "grader/messages/es.json", "grader/export/autograder.py"} <= names
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not any("__pycache__" in n for n in names)
    assert "bubblewrap" in setup and "grader.export.autograder lock" in setup
    assert json.loads(zipfile.ZipFile(tmp_path / "autograder.zip").read("grader-autograder.json"))["epochs"] == 1


def _world_readable_copy(folder: Path) -> Path:
    """A copy of the test data where uid 65534 can read it (pytest's tmp folders are 0700)."""
    target = Path(tempfile.mkdtemp(prefix="grader-gs-data-"))
    target.chmod(0o755)
    for path in folder.iterdir():
        shutil.copy(path, target / path.name)
        (target / path.name).chmod(0o644)
    return target


def _reachable_interpreter() -> list[str]:
    """A command prefix under which uid 65534 can run this interpreter, as in Gradescope's image
    (where setup.sh installs into /opt/grader-venv). Here the interpreter lives under /root
    (mode 0700); a private mount namespace, seen by this run alone, lays a tmpfs over /root with
    only the interpreter's folder bound back in."""
    real = Path(os.path.realpath(sys.executable)).parents[1]  # …/versions/3.11.7
    if not str(real).startswith("/root/"):
        return []
    script = (f'set -e; mkdir -p /run/grader-py && mount --bind "{real}" /run/grader-py && '
              f'mount -t tmpfs -o mode=0755 grader-root /root && mkdir -p "{real}" && '
              f'mount --bind /run/grader-py "{real}" && exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh"]


def test_the_autograder_measures_its_sandbox_level(monkeypatch):
    """bubblewrap when the probe passes and we are root; the unprivileged fallback, with the
    probe's reason, otherwise. (The host case, bubblewrap, grades through the same pipeline the
    integration tests run; the container case below runs the fallback end to end.)"""
    from grader import sandbox
    from grader.export import autograder

    monkeypatch.setattr(sandbox, "probe", lambda: None)
    assert autograder.sandbox_choice() == (False, None)
    monkeypatch.setattr(sandbox, "probe", lambda: "bwrap: No permissions to create new namespace")
    assert autograder.sandbox_choice() == (True, "bwrap: No permissions to create new namespace")
    monkeypatch.setattr(sandbox, "probe", lambda: None)
    monkeypatch.setattr(autograder.os, "geteuid", lambda: 1000)
    fallback, why = autograder.sandbox_choice()
    assert fallback and why.key == "sandbox.needs_root"


@pytest.mark.slow
@pytest.mark.parametrize("where", ["container"])
def test_run_autograder_grades_a_submission_in_a_simulated_gradescope_root(tmp_path, subset, where):
    """Unzip the bundle into a temporary /autograder, put a notebook in submission/, run
    run_autograder with a 1-epoch protocol, parse results.json. The sandbox level is measured by
    run_autograder itself: on this host bubblewrap works; in a container like Gradescope's
    (tests/container_sim.py: no CAP_SYS_ADMIN, Docker's seccomp rules for namespaces) its probe
    fails, and the student's code runs as uid 65534, which cannot read the bundle's reference
    files."""
    from tests.helpers import EX1_DONE, notebook

    base = Path(tempfile.mkdtemp(prefix="grader-gs-root-"))
    root = base / "autograder"
    try:
        (root / "source").mkdir(parents=True)
        assert cli.main(["gradescope-bundle", "--out", str(base / "autograder.zip"), "--epochs", "1"]) == 0
        with zipfile.ZipFile(base / "autograder.zip") as archive:
            archive.extractall(root / "source")
        shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
        (root / "run_autograder").chmod(0o755)
        (root / "submission").mkdir()
        rubric_file = root / "source" / "reference" / "rubric.json"
        # what the student's code can reach: its uid, and the bundle's reference files
        notebook(root / "submission" / "my_homework.ipynb", EX1_DONE, "import os\nprobe_uid = os.getuid()\nassert probe_uid == 65534, probe_uid",
                 f"open({str(rubric_file)!r}).read()")
        data = _world_readable_copy(subset.folder)
        python = Path(sys.executable)
        container = where == "container"
        prefix = [*_reachable_interpreter(), sys.executable, str(ROOT / "tests" / "container_sim.py")] if container else []
        env = {**os.environ, "GRADER_AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": str(python)}
        done = subprocess.run([str(python), "-m", "grader.export.autograder", "lock", "--root", str(root)],
                              env=env, capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        assert (root / "source").stat().st_mode & 0o077 == 0
        done = subprocess.run([*prefix, str(root / "run_autograder"), "--data-dir", str(data), "--lang", "en"], env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
        assert results["output_format"] == "md" and isinstance(results["score"], float)
        assert results["tests"], results["output"] + done.stdout[-3000:]
        graded = json.loads((root / "results" / "grader-result.json").read_text(encoding="utf-8"))
        assert [t["name"] for t in results["tests"]] == [c["title"] for c in graded["checks"]]
        assert all(t["status"] in ("passed", "failed") for t in results["tests"] if "status" in t)
        ex1 = [c for c in graded["checks"] if c["exercise"] == "ex1"]
        assert ex1 and all(c["status"] == "pass" for c in ex1), [(c["id"], c["message"]) for c in ex1]
        level = results["extra_data"]["sandbox"]
        assert level == ("unprivileged" if container else "bwrap") == graded["sandbox"]["level"]
        assert f"Code isolation: {level}." in results["output"]
        cells = graded["execution"]["cells"]
        uid_cell, read_cell = cells[-2], cells[-1]
        assert uid_cell["status"] == "ok", uid_cell  # the student's code ran as 65534
        # the reference file: unreadable by permission (fallback), or not there at all (bubblewrap)
        assert (read_cell["status"], read_cell["ename"]) == \
            ("error", "PermissionError" if container else "FileNotFoundError"), read_cell
        print(f"\nmeasured sandbox ({where}): {graded['sandbox']}; score {results['score']}; "
              f"reading {rubric_file.name}: {read_cell['ename']}; stdout: {done.stdout[:400]}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
