"""The pipeline's own objects: Options across a process boundary, the fingerprint, and a run
that produced nothing still ends as a complete, written result."""

from __future__ import annotations

import json
from pathlib import Path

from grader.execute import Execution
from grader.kinds import GradeStatus, RetrainMode, RunStatus
from grader.messages import msg
from grader.pipeline import GradeResult, Options, finish, fingerprint, grade
from grader.sandbox import SandboxReport
from grader.submission import Submission

from .helpers import said
from .spanish import untranslated


def test_options_cross_a_process_boundary_as_json():
    options = Options(out=Path("/tmp/x"), lang="en", data_dir="/d", seeds=3, allow_unsandboxed=True,
                      cache_dir=Path("/c"), quiet=True, retrain=RetrainMode.CACHE_ONLY)
    text = json.dumps(options.to_json())
    assert Options.from_json(json.loads(text)) == options
    assert Options.from_json(Options().to_json()) == Options()


def test_fingerprint_moves_with_what_a_result_depends_on(reference_rubric):
    base = fingerprint("abc", reference_rubric, Options())
    assert base == fingerprint("abc", reference_rubric, Options(out=Path("elsewhere"), quiet=True))
    changed = [fingerprint("abd", reference_rubric, Options()), fingerprint("abc", reference_rubric, Options(lang="en")),
               fingerprint("abc", reference_rubric, Options(seeds=2)),
               fingerprint("abc", reference_rubric, Options(allow_unsandboxed=True)),
               fingerprint("abc", reference_rubric.with_protocol(epochs=3), Options())]
    assert len({base, *changed}) == 6


def test_invalid_submission_is_written_without_running(subset, reference_rubric, tmp_path):
    bad = tmp_path / "dave.ipynb"
    bad.write_text("[1, 2]")
    result = grade(bad, reference_rubric, Options(out=tmp_path / "out", lang="en", data_dir=str(subset.folder), quiet=True))
    assert result.status == GradeStatus.INVALID_SUBMISSION and result.score == 0
    saved = json.loads((tmp_path / "out" / "dave" / "result.json").read_text())
    assert saved["status"] == "invalid_submission"
    assert saved["message"] == said("submission.not_notebook", "en", "submission.not_notebook_hint")  # why, and what to hand in
    assert untranslated(saved["message"]) == []


def test_a_run_that_produced_nothing_still_grades_every_check(subset, reference_rubric, tmp_path):
    """A crash before the harvest: every check says why, in the reader's language, and the
    result is written once with the timings of every stage."""
    sub = Submission(tmp_path / "eve.py", "eve", "eve", "0" * 64, "py", b"x = 1\n")
    report = SandboxReport("bwrap", 65534, False, "cgroup", "cgroup", "tmpfs", {})
    execution = Execution(RunStatus.CRASHED, (), None, report, 1.5, msg("rubric.missing_field"))
    options = Options(out=tmp_path / "out", lang="en", data_dir=str(subset.folder), quiet=True, retrain=RetrainMode.OFF)
    result = finish(sub, execution, reference_rubric, options, subset)
    assert isinstance(result, GradeResult) and result.status == GradeStatus.CRASHED and result.score == 0
    assert [c.id for c in result.checks] == [c.id for c in reference_rubric.checks]
    assert {"execute", "extract", "retrain", "checks", "report", "total"} <= set(result.timings)
    saved = json.loads((tmp_path / "out" / "eve" / "result.json").read_text())
    assert saved["timings"]["total"] == result.timings["total"]
    assert saved["status"] == "crashed" and all(c["status"] in ("fail", "warn") for c in saved["checks"])
    assert untranslated(json.dumps(saved, ensure_ascii=False)) == []
    html = (tmp_path / "out" / "eve" / "report.html").read_text()
    assert 'lang="en"' in html and untranslated(html) == []
