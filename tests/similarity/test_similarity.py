"""write_similarity as the batch calls it: on a graded folder (result.json and report.html written
by the real report code) and the submissions; similarity.json, the class page's section, escaping,
and nothing in any student's report."""

from __future__ import annotations

import json
from pathlib import Path

import markupsafe
import pytest

from grader import similarity as similarity_module
from grader.batch.class_files import write_class_files
from grader.kinds import GradeStatus
from grader.messages import msg, render
from grader.pipeline import GradeResult
from grader.report import write_result
from grader.similarity import THRESHOLD, VERSION, write_similarity

from ..conftest import ASSIGNMENTS
from ..helpers import notebook
from .test_numbers import GRADER, PROTOCOL_KEYS, result

SAMPLES = Path(__file__).resolve().parent / "samples"
SCRIPT = "<script>alert('copia')</script>"
# alice's notebook with a hostile cell added: the copy keeps it, so it is among the matching cells
HOSTILE_CELL = f'html = "{SCRIPT}"\nprint(html)  # </pre><b>not bold</b>\nfor i in range(3):\n    print(i, html, "{SCRIPT}")'


def alice_cells() -> list[str]:
    return ["".join(c["source"]) for c in json.loads((ASSIGNMENTS / "alice.ipynb").read_text())["cells"]
            if c["cell_type"] == "code"]


@pytest.fixture()
def graded(tmp_path, reference_rubric) -> tuple[Path, list]:
    """A class: alice (with a hostile cell), a copy of her, dana, hugo and a broken notebook; the
    copy also reports ana's numbers from other trainings. Each has its report and result.json."""
    folder, out = tmp_path / "clase", tmp_path / "out"
    folder.mkdir()
    (folder / "starter.ipynb").write_text((ASSIGNMENTS / "starter.ipynb").read_text())
    notebook(folder / "alice.ipynb", *alice_cells(), HOSTILE_CELL)
    notebook(folder / "copia.ipynb", *alice_cells()[::-1], "# mío\n" + HOSTILE_CELL)
    (folder / "dana.ipynb").write_text((SAMPLES / "dana.ipynb").read_text())
    (folder / "hugo.py").write_text((SAMPLES / "hugo.py").read_text())
    (folder / "rota.ipynb").write_text("{no es json")
    submissions = [(p.stem, p) for p in sorted(folder.iterdir()) if p.stem != "starter"]
    keys = {"alice": PROTOCOL_KEYS, "copia": ["ab" * 8], "dana": PROTOCOL_KEYS, "hugo": ["cd" * 8]}
    numbers = {"alice": GRADER, "copia": GRADER, "dana": GRADER, "hugo": {i: v - 0.02 for i, v in GRADER.items()}}
    for student, _ in submissions:
        if student in numbers:
            data = result(student, reference_rubric, numbers[student], keys[student])
            grade = GradeResult(student, student, GradeStatus.GRADED, data["score"], data["max_score"],
                                execution=data["execution"])
            write_result(grade, None, reference_rubric, out, "es")
            (out / student / "result.json").write_text(json.dumps(data))  # the checks' evidence, as the pipeline writes it
    return out, submissions


def test_similarity_json_has_the_versioned_schema_and_the_pairs(graded, reference_rubric):
    out, submissions = graded
    found = write_similarity(out, submissions, reference_rubric, "es")
    data = json.loads((out / "similarity.json").read_text())
    assert data == found.to_json("es")
    assert (data["version"], data["threshold"]) == (VERSION, THRESHOLD) and "copydetect" in data["method"]
    assert data["boilerplate"] == [str(submissions[0][1].parent / "starter.ipynb")]
    kinds = {(p["a"], p["b"], p["kind"]) for p in data["pairs"]}
    assert kinds == {("alice", "copia", "code"), ("alice", "copia", "numbers"), ("copia", "dana", "numbers")}
    code = next(p for p in data["pairs"] if p["kind"] == "code")
    assert code["score"] >= 0.9 and code["cells"] and all(set(c) >= {"a_cell", "b_cell", "a_lines", "b_lines"} for c in code["cells"])
    assert any(SCRIPT in text and shared for c in code["cells"] for _, text, shared in c["a_lines"])
    assert data["skipped"] == [{"student": "rota", "reason": render(msg("similarity.skip_not_json"), "es")}]
    assert data["failure"] == "" and data["compared"] == 4


def test_the_class_page_shows_each_pair_folded_and_escaped(graded, reference_rubric):
    out, submissions = graded
    found = write_similarity(out, submissions, reference_rubric, "en")
    write_class_files(out, [s for s, _ in submissions], reference_rubric, [], "en", found)
    page = (out / "index.html").read_text()
    assert page.count('<details class="pair">') == 3
    assert render(msg("similarity.pair_code", a="alice", b="copia", score=found.pairs[0].score), "en") in page
    assert SCRIPT not in page and "<b>not bold</b>" not in page
    assert str(markupsafe.escape(SCRIPT)) in page and "<mark>" in page
    assert render(msg("similarity.skip_not_json"), "en") in page


def test_no_pair_says_so_with_the_threshold(tmp_path, reference_rubric):
    out = tmp_path / "out"
    submissions = [("dana", SAMPLES / "dana.ipynb"), ("hugo", SAMPLES / "hugo.py")]
    found = write_similarity(out, submissions, reference_rubric, "es")
    write_class_files(out, ["dana", "hugo"], reference_rubric, [], "es", found)
    assert found.pairs == () and found.compared == 2
    assert render(msg("similarity.none", threshold=THRESHOLD, n=2), "es") in (out / "index.html").read_text()


def test_no_student_report_mentions_similarity(graded, reference_rubric):
    out, submissions = graded
    before = {p: p.read_bytes() for p in out.glob("*/*")}
    found = write_similarity(out, submissions, reference_rubric, "es")
    write_class_files(out, [s for s, _ in submissions], reference_rubric, [], "es", found)
    assert {p: p.read_bytes() for p in out.glob("*/*")} == before  # nothing written in a student's folder
    words = [render(msg(key), "es") for key in ("similarity.heading", "similarity.intro")] + ["similarity", "copydetect"]
    for report in out.glob("*/report.html"):
        html = report.read_text()
        assert [w for w in words if w in html] == [], report
        assert "copia" not in html or report.parent.name == "copia"


def test_a_failure_is_a_note_on_the_class_page_never_an_exception(graded, reference_rubric, monkeypatch):
    out, submissions = graded

    def broken(*args, **kwargs):
        raise RuntimeError("fingerprints exploded")

    monkeypatch.setattr(similarity_module, "compare", broken)
    found = write_similarity(out, submissions, reference_rubric, "es")
    summary = write_class_files(out, [s for s, _ in submissions], reference_rubric, [], "es", found)
    assert summary["n"] == 4  # the grades are all there
    note = render(msg("similarity.failed", error="RuntimeError: fingerprints exploded"), "es")
    assert json.loads((out / "similarity.json").read_text())["failure"] == note
    assert str(markupsafe.escape(note)) in (out / "index.html").read_text()


def test_an_unwritable_similarity_json_is_a_note_too(graded, reference_rubric):
    out, submissions = graded
    (out / "similarity.json").mkdir()  # a folder where the file goes: the rename over it fails
    found = write_similarity(out, submissions, reference_rubric, "es")
    assert render(found.failure, "es").startswith(render(msg("similarity.not_written", error="\0"), "es").split("\0")[0])
    assert found.pairs  # what was found is still shown on the page


def test_the_batch_end_writes_similarity_from_the_discovered_submissions(graded, reference_rubric, tmp_path):
    """The real batch's last step (finish_batch, which the cluster batch also calls) on a real
    plan of the class folder: discovery skips the starter, the pairs reach the file and the page."""
    from grader.batch import finish_batch, plan_batch
    from grader.pipeline import Options

    out, submissions = graded
    folder = submissions[0][1].parent
    with open(tmp_path / "said.txt", "w") as said:
        plan = plan_batch(folder, reference_rubric, Options(out=out, quiet=True), stream=said)
    assert "starter" not in [e.student for e in plan.entries]
    summary = finish_batch(plan, reference_rubric, Options(out=out, quiet=True))
    assert summary["n"] == 4
    data = json.loads((out / "similarity.json").read_text())
    assert ("alice", "copia", "code") in {(p["a"], p["b"], p["kind"]) for p in data["pairs"]}
    assert 'id="h-similarity"' in (out / "index.html").read_text()
