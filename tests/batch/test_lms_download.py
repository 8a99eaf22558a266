"""A Canvas or Moodle submissions download (a folder or its zip) graded as a class: who each file
is (LMS ids, names, late), a hostile zip refused member by member, and one graded end to end.

The names are the LMS's own, as their source writes them: Canvas' content_zipper.rb
(`<sortable name>[_late]_<user id>_<attachment id>_<file>`, the prefix stripped of non-word
characters and lowercased), Moodle's mod/assign/locallib.php
(`<full name>_<participant id>_assignsubmission_<plugin>_` as a folder, or as the prefix of
each file with "Download submissions in folders" off). No real accounts: made-up people."""

from __future__ import annotations

import csv
import json
import stat
import struct
import unicodedata
import warnings
import zipfile
from pathlib import Path

import pytest

from grader.batch import discover, grade_folder, unzip
from grader.batch.lms_download import canvas_name, detect, moodle_name
from grader.batch.unzip import unpack_download, unsafe_path
from grader.kinds import RetrainMode
from grader.messages import msg, render
from grader.pipeline import Options

from ..helpers import notebook

QUICK = "ex1_limit = (6 / 912) ** 0.5\nex1_var_theory = 2 / 912"
WRONG = "ex1_limit = (6 / 784) ** 0.5"
NUNEZ_NFD = unicodedata.normalize("NFD", "núñezluis")  # what a Mac's unzip leaves on disk

CANVAS_FILES = {
    "perezjose_1001_5001_tarea.ipynb": QUICK,
    "garcíaana_late_1002_5002_tarea-1.ipynb": WRONG,  # late, an accent Canvas keeps, a resubmission suffix
    f"{NUNEZ_NFD}_1003_5003_Tarea Final.ipynb": QUICK,
    "lopezmaria_1004_5004_a.ipynb": QUICK,  # two users whose sortable names are the same
    "lopezmaria_1005_5005_b.ipynb": WRONG,
}
CANVAS_EXTRA = {"perezjose_1001_5006_notas.pdf": "%PDF-1.4", "ruizpablo_1006_text.html": "<p>hola</p>"}


def write_files(folder: Path, files: dict) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".ipynb":
            notebook(path, content)
        else:
            path.write_text(content)
    return folder


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def without_utf8_flag(path: Path) -> None:
    """Clear bit 11 (names are UTF-8) in every header, as Windows' and older macOS' zip tools
    write: the names stay UTF-8 bytes that a reader decodes as cp437 unless it knows better."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            flags = struct.unpack_from("<H", data, start + offset)[0]
            struct.pack_into("<H", data, start + offset, flags & ~0x800)
            start += 4
    path.write_bytes(bytes(data))


def identities(entries) -> dict:
    return {e.student: e.identity for e in entries}


def check_canvas(entries, notes):
    found = identities(entries)
    assert sorted(found) == ["garciaana", "lopezmaria_1004", "lopezmaria_1005", "nunezluis", "perezjose"]
    assert found["garciaana"].lms == "canvas" and found["garciaana"].lms_user_id == "1002" and found["garciaana"].late
    assert found["garciaana"].display_name == "garcíaana" and found["garciaana"].source_name.endswith("tarea-1.ipynb")
    assert not found["perezjose"].late and found["perezjose"].lms_user_id == "1001"
    assert found["nunezluis"].display_name == "núñezluis"  # NFC, whatever the disk held
    assert {found["lopezmaria_1004"].lms_user_id, found["lopezmaria_1005"].lms_user_id} == {"1004", "1005"}
    said = [render(n, "en") for n in notes]
    assert any("perezjose_1001_5006_notas.pdf: not a submission" in s for s in said)
    assert any("ruizpablo_1006_text.html" in s for s in said)
    assert all(e.path is not None and e.path.suffix == ".ipynb" for e in entries)


def test_canvas_download_folder_and_zip(tmp_path):
    folder = write_files(tmp_path / "canvas", {**CANVAS_FILES, **CANVAS_EXTRA})
    check_canvas(*discover(folder, []))
    archive = zip_folder(folder, tmp_path / "curso-tarea 1 submissions.zip")
    unpacked = unpack_download(archive, tmp_path / "out")
    assert unpacked.refused == () and unpacked.written == len(CANVAS_FILES) + len(CANVAS_EXTRA)
    assert unpacked.folder == tmp_path / "out" / ".download" / "curso-tarea_1_submissions"
    check_canvas(*discover(unpacked.folder, []))
    without_utf8_flag(archive)  # the same zip as a tool that does not flag UTF-8 names writes it
    assert any(not i.flag_bits & 0x800 and "garc├¡aana" in i.filename for i in zipfile.ZipFile(archive).infolist())
    check_canvas(*discover(unpack_download(archive, tmp_path / "out").folder, []))


MOODLE_FOLDERS = {
    "José Pérez_201_assignsubmission_file_/tarea.ipynb": QUICK,
    "José Pérez_201_assignsubmission_onlinetext_/onlinetext.html": "<p>listo</p>",
    "Ana María Gómez_202_assignsubmission_file_/entrega/tarea.ipynb": QUICK,
    "Ana María Gómez_202_assignsubmission_file_/utils.py": "x = 1\n",
    "Participant_203_assignsubmission_file_/t.ipynb": QUICK,  # blind marking: every name is "Participant"
    "Participant_204_assignsubmission_file_/t.py": "ex1_limit = 0.0811107\n",
    "Luis Núñez_205_assignsubmission_onlinetext_/onlinetext.html": "<p>solo texto</p>",
}


def check_moodle(entries, notes):
    found = identities(entries)
    assert sorted(found) == ["Ana_Maria_Gomez", "Jose_Perez", "Participant_203", "Participant_204"]
    assert found["Jose_Perez"].lms == "moodle" and found["Jose_Perez"].lms_user_id == "201"
    assert found["Jose_Perez"].display_name == "José Pérez" and not found["Jose_Perez"].late
    assert {e.student: e.path.name for e in entries}["Ana_Maria_Gomez"].endswith("tarea.ipynb")  # not utils.py
    assert found["Participant_204"].lms_user_id == "204"
    said = [render(n, "en") for n in notes]
    # the names as the download holds them (a folder's, or a flat file's): tarea.ipynb graded, utils.py not
    graded_not = render(msg("batch.others_ignored", name="\0", chosen="\0", listing="\0"), "en").split("\0")[2]
    assert any(graded_not in s and s.split(graded_not)[0].endswith("tarea.ipynb") and s.endswith("utils.py") for s in said)
    assert any("Luis Núñez_205_assignsubmission_onlinetext_" in s for s in said)


def test_moodle_download_folders_flat_and_zip(tmp_path):
    folder = write_files(tmp_path / "moodle", MOODLE_FOLDERS)
    check_moodle(*discover(folder, []))
    check_moodle(*discover(unpack_download(zip_folder(folder, tmp_path / "m.zip"), tmp_path / "out").folder, []))
    flat = {name.replace("_/", "_").replace("entrega/", ""): content for name, content in MOODLE_FOLDERS.items()}
    flat_folder = write_files(tmp_path / "flat", flat)
    check_moodle(*discover(flat_folder, []))
    check_moodle(*discover(unpack_download(zip_folder(flat_folder, tmp_path / "f.zip"), tmp_path / "out").folder, []))


def test_names_are_read_exactly():
    late = canvas_name("perezjose_late_1234_98765_tarea.ipynb")
    assert (late.name, late.user_id, late.late, late.file) == ("perezjose", "1234", True, "tarea.ipynb")
    assert canvas_name("perez-jose-late_12_34_t.ipynb").late  # older Canvas: " LATE_", spaces as "-"
    assert canvas_name("Alice_1_2_x.ipynb") is None  # Canvas lowercases: a student's own name
    assert canvas_name("hw_1.ipynb") is None and moodle_name("ana.ipynb") is None
    assert moodle_name("José Pérez_201_assignsubmission_file_").file == ""
    plain = detect([("ana.ipynb", False), ("perezjose_1_2_t.ipynb", False)], {".ipynb"})
    assert plain.lms == "" and plain.lookalikes == ("perezjose_1_2_t.ipynb",) and plain.lookalike_lms == "canvas"


def test_plain_folder_keeps_names_and_says_one_person_twice(tmp_path):
    folder = tmp_path / "clase"
    folder.mkdir()
    notebook(folder / "José Pérez.ipynb", QUICK)
    notebook(folder / "alice.ipynb", QUICK)
    notebook(folder / "Alice.ipynb", WRONG)  # the same person under identity.fold: not graded twice
    notebook(folder / "perezjose_1001_5001_t.ipynb", QUICK)  # one Canvas-like name among plain ones
    entries, notes = discover(folder, [])
    found = identities(entries)
    assert sorted(found) == ["Alice", "Jose_Perez", "perezjose_1001_5001_t"]
    assert found["Jose_Perez"].display_name == "José Pérez" and found["Jose_Perez"].lms == ""
    said = [render(n, "en") for n in notes]
    assert any(s.startswith("alice.ipynb: the same student as Alice.ipynb") for s in said)
    assert any("perezjose_1001_5001_t.ipynb: named like a Canvas download" in s for s in said)
    assert any("es el mismo estudiante que Alice.ipynb" in render(n, "es") for n in notes)


def hostile_zip(path: Path) -> Path:
    """A Canvas download with every kind of bad member beside two good ones."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        good = notebook(path.parent / "good.ipynb", QUICK).read_bytes()
        archive.writestr("perezjose_1001_5001_tarea.ipynb", good)
        archive.writestr("../escape.ipynb", good)
        archive.writestr("/etc/cron.d/abs.ipynb", good)
        archive.writestr("C:/Users/x.ipynb", good)
        archive.writestr("a\\..\\b.ipynb", good)
        link = zipfile.ZipInfo("link_1009_5009_x.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        fifo = zipfile.ZipInfo("fifo_1010_5010_x.ipynb")
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        archive.writestr(fifo, "")
        archive.writestr("bomb_1011_5011_x.ipynb", b"\0" * (8 << 20))  # ~1000:1
        archive.writestr("liar_1012_5012_x.ipynb", b"\0" * (2 << 20))  # its declared size is patched below
        with warnings.catch_warnings():  # zipfile warns, and writes it: a hostile zip has it
            warnings.simplefilter("ignore")
            archive.writestr("perezjose_1001_5001_tarea.ipynb", b"{}")  # the same name twice
        archive.writestr("garciaana_late_1002_5002_t.ipynb", good)
    data = bytearray(path.read_bytes())
    name = b"liar_1012_5012_x.ipynb"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", data, start + size_at, 100)  # "100 bytes", it unpacks to 2 MB
            start += 4
    path.write_bytes(bytes(data))
    return path


def test_hostile_zip_is_refused_member_by_member(tmp_path):
    archive = hostile_zip(tmp_path / "hostile.zip")
    unpacked = unpack_download(archive, tmp_path / "out")
    said = {render(note, "en").split(": ", 2)[1]: render(note, "en") for note in unpacked.refused}
    expected = {"../escape.ipynb": msg("zip.reason_escape"), "/etc/cron.d/abs.ipynb": msg("zip.reason_absolute"),
                "C:/Users/x.ipynb": msg("zip.reason_drive"), "a\\..\\b.ipynb": msg("zip.reason_backslash"),
                "link_1009_5009_x.ipynb": msg("zip.reason_symlink"), "fifo_1010_5010_x.ipynb": msg("zip.reason_special"),
                "bomb_1011_5011_x.ipynb": msg("zip.reason_ratio", max=unzip.MAX_RATIO),
                "liar_1012_5012_x.ipynb": msg("zip.reason_size_lies"),
                "perezjose_1001_5001_tarea.ipynb": msg("zip.reason_duplicate")}
    assert set(said) == set(expected), said
    for member, reason in expected.items():
        assert said[member] == render(msg("zip.refused", archive="hostile.zip", member=member, reason=reason), "en")
    written = sorted(p.relative_to(unpacked.folder).as_posix() for p in unpacked.folder.rglob("*"))
    assert written == ["garciaana_late_1002_5002_t.ipynb", "perezjose_1001_5001_tarea.ipynb"]
    assert json.loads((unpacked.folder / written[1]).read_text())["cells"]  # the first, good one: not the "{}"
    assert not (tmp_path / "out" / "escape.ipynb").exists() and not (tmp_path / "escape.ipynb").exists()
    entries, _ = discover(unpacked.folder, [])
    assert [(e.student, e.identity.lms_user_id, e.identity.late) for e in entries] == [
        ("garciaana", "1002", True), ("perezjose", "1001", False)]
    assert render(msg("zip.reason_escape"), "es") in render(unpacked.refused[0], "es")


def test_zip_caps_on_members_and_total(tmp_path, monkeypatch):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(8):
            archive.writestr(f"s{i}_{100 + i}_{200 + i}_t.ipynb", "x" * 1000)
    monkeypatch.setattr(unzip, "MAX_MEMBERS", 5)
    monkeypatch.setattr(unzip, "MAX_TOTAL_BYTES", 3500)
    unpacked = unpack_download(path, tmp_path / "out")
    notes = [render(n, "en") for n in unpacked.refused]
    assert notes[0] == render(msg("zip.too_many", archive="many.zip", n=8, max=5), "en")
    assert unpacked.written == 3 and len(list(unpacked.folder.iterdir())) == 3  # the 4th passes the total
    total = msg("zip.reason_total", max_mb=3500 / 2**20)
    assert render(msg("zip.refused", archive="many.zip", member="s3_103_203_t.ipynb", reason=total), "en") in notes and len(notes) == 3


def test_unsafe_paths():
    for name in ("../x", "a/../../x", "/x", "C:x", "c:/x", "a\\b", "a//b", "./a", "a\x00b"):
        assert unsafe_path(name) is not None, name
    assert unsafe_path("José Pérez_201_assignsubmission_file_/sub/t.ipynb") is None


@pytest.mark.sandbox
def test_canvas_zip_is_graded_with_its_ids(subset, reference_rubric, cache_dir, tmp_path):
    """A Canvas download zip graded by the batch: result.json, gradebook and class page carry the
    Canvas ids and the late mark, a hostile member beside them changes nothing, and the scores
    are those of the same files graded under plain names."""
    rubric = reference_rubric.with_protocol(epochs=1)
    canvas = write_files(tmp_path / "canvas", {"perezjose_1001_5001_tarea.ipynb": QUICK,
                                                "garcíaana_late_1002_5002_tarea-1.ipynb": WRONG})
    archive = zip_folder(canvas, tmp_path / "submissions.zip")
    with zipfile.ZipFile(archive, "a") as extra:
        extra.writestr("../../escape.ipynb", (canvas / "perezjose_1001_5001_tarea.ipynb").read_bytes())
    out = tmp_path / "out"
    options = Options(out=out, data_dir=str(subset.folder), cache_dir=cache_dir, quiet=True, retrain=RetrainMode.OFF)
    summary = grade_folder(archive, rubric, options, jobs=1)
    assert sorted(summary["graded_now"]) == ["garciaana", "perezjose"]
    assert any("../../escape.ipynb" in render(n, "en") for n in summary["skipped"])
    results = {s: json.loads((out / s / "result.json").read_text()) for s in ("perezjose", "garciaana")}
    assert results["perezjose"]["identity"] == {"student": "perezjose", "display_name": "perezjose", "lms": "canvas",
                                                "lms_user_id": "1001", "late": False,
                                                "source_name": "perezjose_1001_5001_tarea.ipynb"}
    assert results["garciaana"]["identity"]["lms_user_id"] == "1002" and results["garciaana"]["identity"]["late"]
    assert results["garciaana"]["display_name"] == "garcíaana"
    with open(out / "gradebook.csv", encoding="utf-8") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    assert (rows["garciaana"]["lms"], rows["garciaana"]["lms_user_id"], rows["garciaana"]["late"]) == ("canvas", "1002", "true")
    index = (out / "index.html").read_text()
    assert "canvas 1002" in index and 'class="late"' in index and "garcíaana" in index
    assert not (tmp_path / "escape.ipynb").exists()

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "jose.ipynb").write_bytes((canvas / "perezjose_1001_5001_tarea.ipynb").read_bytes())
    (plain / "ana.ipynb").write_bytes((canvas / "garcíaana_late_1002_5002_tarea-1.ipynb").read_bytes())
    grade_folder(plain, rubric, Options(out=tmp_path / "plain-out", data_dir=str(subset.folder), cache_dir=cache_dir,
                                        quiet=True, retrain=RetrainMode.OFF), jobs=1)
    same = {"perezjose": "jose", "garciaana": "ana"}
    for student, plain_name in same.items():
        other = json.loads((tmp_path / "plain-out" / plain_name / "result.json").read_text())
        assert other["identity"]["lms"] == "" and other["identity"]["lms_user_id"] == ""
        assert (results[student]["score"], results[student]["status"]) == (other["score"], other["status"])
        assert ([(c["id"], c["status"]) for c in results[student]["checks"]]
                == [(c["id"], c["status"]) for c in other["checks"]])
    assert results["perezjose"]["score"] > results["garciaana"]["score"]  # the comparison could have failed


def test_not_a_zip_is_a_usage_error(tmp_path):
    from grader.errors import UsageError

    bad = tmp_path / "broken.zip"
    bad.write_text("not a zip")
    with pytest.raises(UsageError) as caught:
        unpack_download(bad, tmp_path / "out")
    assert "broken.zip is not a valid zip file" in caught.value.render("en")
