"""The Gradescope autograder bundle: the zip, its time budget inside Gradescope's timeout,
setup.sh's data step, and run_autograder's failures that are the grader's (no score, never a 0).

setup.sh's data step runs for real (`setup.sh --data-only`, with apt-get a stub that fails and
the data's target folder in a temporary directory); run_autograder's full grading in a simulated
Gradescope root is the slow test at the bottom (and bench/gradescope_bundle.py measures it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.errors import NotReady, RetrainError
from grader.export import autograder
from grader.messages import msg, render
from grader.export.bundle import GRADESCOPE_MAX_TIMEOUT_MIN, Budget, build_bundle, most_epochs, plan_budget

ROOT = Path(__file__).resolve().parent.parent.parent


def _unzip(zip_path: Path, base: Path) -> Path:
    """A Gradescope root: the bundle in source/, run_autograder beside it, an empty submission/."""
    root = base / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)
    (root / "submission").mkdir()
    return root


def test_the_bundle_has_gradescope_s_two_scripts_and_the_whole_project(tmp_path):
    assert cli.main(["gradescope-bundle", "--out", str(tmp_path / "autograder.zip"), "--epochs", "1"]) == 0
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        config = json.loads(archive.read("grader-autograder.json"))
    assert {"setup.sh", "run_autograder", "pyproject.toml", "reference/rubric.json", "grader/__init__.py",
            "grader/messages/es.json", "grader/export/autograder.py"} <= names
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not any("__pycache__" in n for n in names)
    assert "bubblewrap" in setup and "grader.export.autograder lock" in setup and "check-data" in setup
    assert config["epochs"] == 1 and config["timeout_min"] == GRADESCOPE_MAX_TIMEOUT_MIN == 40 and config["cpus"] == 2


def test_the_whole_run_is_planned_inside_gradescope_s_timeout(reference_rubric):
    """The rubric's own budget (4,200 s) is above Gradescope's 40 minutes: the run's limits are
    cut to what the cap leaves after startup, retraining, report and margin, and every part adds
    up to less than the cap."""
    assert reference_rubric.limits.total_timeout_s > 40 * 60
    budget = plan_budget(40, reference_rubric.protocol.epochs)
    assert budget.fits
    limits = reference_rubric.with_limits(**budget.limits(reference_rubric.limits)).limits
    assert limits.total_timeout_s == budget.kernel_s
    assert limits.total_timeout_s + budget.startup_s + budget.retrain_need_s + budget.after_s + budget.margin_s <= budget.cap_s
    assert limits.harvest_reserve() <= limits.total_timeout_s / 3 and limits.cell_timeout_s <= limits.total_timeout_s
    assert budget.startup_s + limits.total_timeout_s <= budget.retrain_deadline_s < budget.watchdog_s < budget.cap_s
    assert reference_rubric.limits.total_timeout_s == 4200  # the teacher's rubric is untouched
    # a budget above the rubric's is never raised: the rubric's limits stay the ceiling
    small = reference_rubric.with_limits(total_timeout_s=600, cell_timeout_s=300, harvest_reserve_s=60)
    assert Budget(**{**plan_budget(40, 1).__dict__}).limits(small.limits)["total_timeout_s"] == 600


def test_a_protocol_that_cannot_fit_is_refused_with_the_figures_and_the_epochs_that_fit(tmp_path, capsys, reference_rubric):
    out = tmp_path / "autograder.zip"
    assert cli.main(["gradescope-bundle", "--out", str(out), "--timeout-min", "10", "--lang", "en"]) == 2
    error = capsys.readouterr().err
    best = most_epochs(10, 2)
    # the seconds it needs are the budget's arithmetic: the sentence around them, with the 10 minutes and the 600 s cap
    too_long = render(msg("export.bundle_too_long", epochs=reference_rubric.protocol.epochs, minutes=10, cpus=2, need="\0",
                          kernel="\0", retrain="\0", reserves="\0", cap=600), "en").split("\0")
    assert too_long[0] in error and too_long[-1] in error
    assert render(msg("export.bundle_too_long_hint", best=best), "en") in error
    assert not out.exists() and 1 <= best < 20
    assert cli.main(["gradescope-bundle", "--out", str(out), "--timeout-min", "10", "--epochs", str(best)]) == 0
    assert cli.main(["gradescope-bundle", "--out", str(out), "--timeout-min", "10", "--epochs", str(best + 1)]) == 2
    assert cli.main(["gradescope-bundle", "--out", str(out), "--timeout-min", "41", "--lang", "en"]) == 2
    assert render(msg("export.bundle_timeout_range", most=GRADESCOPE_MAX_TIMEOUT_MIN, found=41.0), "en") in capsys.readouterr().err


def test_the_retraining_deadline_ends_the_retraining_as_the_grader_s_failure(reference_rubric, subset):
    """The Deadline is the pipeline's progress callback: past its seconds, a worker's progress
    line raises RetrainError. `retrain` (RUN mode) passes it on as the grader's own failure,
    which `pipeline.finish` turns into a grader_error result (no score, graded again next time)
    with this reason; the real planner, with a trainer that reports one epoch."""
    from grader.kinds import RetrainMode
    from grader.retrain import retrain

    deadline = autograder.Deadline(time.monotonic() - 100, 50)
    deadline("retrain")  # the stage's announcement, outside the retraining: never raises
    with pytest.raises(RetrainError):
        deadline("retrain", "he_normal seed 42: epoch 1/20")
    autograder.Deadline(time.monotonic(), 50)("retrain", "epoch 1/20")  # before it: nothing
    answered = []

    def trainer(items, protocol, dataset, progress, memo_store=None, workers=None, on_announced=lambda: None):
        progress("glorot_uniform seed 42: epoch 1/20")
        answered.append(True)  # never reached: the deadline stopped it
        yield from ()

    with pytest.raises(RetrainError) as stopped:
        retrain({}, reference_rubric, subset, cache_dir=None, mode=RetrainMode.RUN,
                progress=lambda message: deadline("retrain", message), trainer=trainer)
    assert not answered
    assert render(msg("autograder.retrain_deadline", seconds=50), "en") in render(stopped.value.as_message(), "en")


def test_a_machine_that_cannot_grade_writes_results_without_a_score(tmp_path, monkeypatch):
    """readiness.ensure_ready failing (a GraderError): results.json has no score (not a 0), and
    says the grader could not grade, not the student's fault, and why."""
    build_bundle(tmp_path / "autograder.zip", epochs=1, lang="en")
    root = _unzip(tmp_path / "autograder.zip", tmp_path)
    (root / "submission" / "homework.ipynb").write_text("{}")
    seen = []

    def not_ready(rubric, options):
        seen.append(rubric.limits.total_timeout_s)
        raise NotReady("TensorFlow 2.15 is installed and the grader needs 2.21")

    monkeypatch.setattr(autograder, "readiness_check", lambda: not_ready)
    results = json.loads(autograder.run(root, fallback=True).read_text(encoding="utf-8"))
    assert "score" not in results and results["tests"] == [] and results["extra_data"]["grader_error"]
    assert render(msg("autograder.not_ready", error="TensorFlow 2.15 is installed and the grader needs 2.21"), "en") in results["output"]
    assert seen and seen[0] < 40 * 60  # the check saw the run's limits, inside Gradescope's cap


def test_the_watchdog_writes_results_before_the_cap_and_ends_the_run(tmp_path):
    """A grading still busy at the watchdog's moment: results.json says the grader ran out of
    time (no score), and the process ends at once (a real process: the watchdog calls _exit)."""
    code = ("import sys, time; from pathlib import Path; from grader.export import autograder as a; "
            "from grader.export.bundle import Budget; "
            "b = Budget(cap_s=61, epochs=1, cpus=2, kernel_s=1, kernel_need_s=1, retrain_need_s=1, startup_s=1, after_s=1, margin_s=120); "
            "a._watchdog(Path(sys.argv[1]), 'en', time.monotonic(), b); time.sleep(60); print('not stopped')")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and "not stopped" not in done.stdout and time.monotonic() - started < 30, done.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text(encoding="utf-8"))
    out_of_time = render(msg("autograder.out_of_time", minutes=1), "en")  # the 61 s cap, in minutes
    assert "score" not in results and out_of_time in results["output"] and "40" not in results["output"]


def _setup_data(root: Path, target: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """setup.sh's data steps, as Gradescope would run them, with apt-get a stub that fails."""
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    (stubs / "apt-get").write_text("#!/bin/sh\necho 'E: Unable to locate package dataset-fashion-mnist' >&2\nexit 100\n")
    (stubs / "apt-get").chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "GRADER_AUTOGRADER_ROOT": str(root),
           "GRADER_PYTHON": sys.executable, "GRADER_DATA_TARGET": str(target), "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", str(root / "source" / "setup.sh"), "--data-only"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=root)


def test_setup_fails_loudly_when_the_data_cannot_be_installed(tmp_path):
    build_bundle(tmp_path / "autograder.zip", epochs=1, lang="en")
    root = _unzip(tmp_path / "autograder.zip", tmp_path)
    done = _setup_data(root, tmp_path / "no-data", tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "apt-get could not install dataset-fashion-mnist" in done.stderr
    missing = render(msg("autograder.data_missing", error="\0"), "en").split("\0")[0]  # then apt-get's own error
    assert missing in done.stderr and render(msg("autograder.data_missing_hint"), "en") in done.stderr and "FAILED" in done.stderr


def test_setup_installs_the_bundle_s_data_readable_and_refuses_it_corrupted(tmp_path, subset):
    build_bundle(tmp_path / "autograder.zip", data_dir=subset.folder, epochs=1, lang="en")
    root = _unzip(tmp_path / "autograder.zip", tmp_path)
    target = tmp_path / "datasets" / "fashion-mnist"
    done = _setup_data(root, target, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert render(msg("autograder.data_ok", folder=str(target)), "en") in done.stdout and "apt-get" not in done.stderr
    assert all((target / name).stat().st_mode & 0o044 == 0o044 for name in os.listdir(target))  # uid 65534 reads it
    shipped = root / "source" / "data" / "train-labels-idx1-ubyte.gz"
    shipped.write_bytes(shipped.read_bytes()[:-10])  # a damaged upload
    done = _setup_data(root, tmp_path / "other-target", tmp_path)
    assert done.returncode == 3 and render(msg("autograder.data_missing", error="\0"), "en").split("\0")[0] in done.stderr, done.stderr


def test_the_autograder_measures_its_sandbox_level(monkeypatch):
    """bubblewrap when the probe passes and we are root; the unprivileged fallback, with the
    probe's reason, otherwise. (The host case, bubblewrap, grades through the same pipeline the
    integration tests run; the container case below runs the fallback end to end.)"""
    from grader import sandbox

    monkeypatch.setattr(sandbox, "probe", lambda: None)
    assert autograder.sandbox_choice() == (False, None)
    monkeypatch.setattr(sandbox, "probe", lambda: "bwrap: No permissions to create new namespace")
    assert autograder.sandbox_choice() == (True, "bwrap: No permissions to create new namespace")
    monkeypatch.setattr(sandbox, "probe", lambda: None)
    monkeypatch.setattr(autograder.os, "geteuid", lambda: 1000)
    fallback, why = autograder.sandbox_choice()
    assert fallback and why.key == "sandbox.needs_root"


def _world_readable_copy(folder: Path) -> Path:
    """A copy of the test data where uid 65534 can read it (pytest's tmp folders are 0700)."""
    target = Path(tempfile.mkdtemp(prefix="grader-gs-data-"))
    target.chmod(0o755)
    for path in folder.iterdir():
        shutil.copy(path, target / path.name)
        (target / path.name).chmod(0o644)
    return target


@pytest.mark.slow
@pytest.mark.parametrize("where", ["container"])
def test_run_autograder_grades_a_submission_in_a_simulated_gradescope_root(tmp_path, subset, where):
    """Unzip the bundle into a temporary /autograder, put a notebook in submission/, run
    run_autograder with a 1-epoch protocol, parse results.json. The sandbox level is measured by
    run_autograder itself: on this host bubblewrap works; in a container like Gradescope's
    (tests/container_sim.py: no CAP_SYS_ADMIN, Docker's seccomp rules for namespaces) its probe
    fails, and the student's code runs as uid 65534, which cannot read the bundle's reference
    files. The run's limits are the bundle's budget, inside Gradescope's 40 minutes."""
    from tests.container_sim import reachable_interpreter
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
        prefix = [*reachable_interpreter(), sys.executable, str(ROOT / "tests" / "container_sim.py")] if container else []
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
        assert render(msg("autograder.sandbox_line", level=level), "en") in results["output"]
        assert results["extra_data"]["limits"]["total_timeout_s"] < 40 * 60 < 4200
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
