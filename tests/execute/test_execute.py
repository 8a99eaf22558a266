"""Executing notebooks and modules in the real sandbox with a real kernel, then harvesting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from grader import execute, extract, submission
from grader.execute import CellRecord
from grader.kinds import CellStatus, RunStatus
from grader.messages import Message, msg, render
from grader.rubric import Limits, reference_dir
from grader.sandbox import Sandbox

from ..conftest import needs_root_sandbox
from ..helpers import notebook

CONTRACT = reference_dir() / "contract.json"
FAST = Limits(cell_timeout_s=60, total_timeout_s=240)


@pytest.fixture(autouse=True)
def _root_and_bwrap():
    needs_root_sandbox()


def run(path: Path, tmp_path: Path, limits: Limits = FAST, data=None):
    sub = submission.load(path)
    with Sandbox(limits, data) as sandbox:
        return execute.run(sub, sandbox, CONTRACT, tmp_path / "artifacts")


def test_failing_cell_is_recorded_and_the_rest_runs(tmp_path, reference_rubric):
    path = notebook(tmp_path / "nb.ipynb", "ex1_limit = 0.08111", "raise ValueError('boom')", "ex1_var_theory = 2 / 912")
    execution = run(path, tmp_path)
    assert execution.status == "completed"
    assert [c.status for c in execution.cells] == ["ok", "error", "ok"]
    assert execution.cells[1].ename == "ValueError" and "boom" in execution.cells[1].traceback
    values = extract.extract(execution, reference_rubric.contract).values
    assert values["ex1_limit"] == 0.08111 and values["ex1_var_theory"] == pytest.approx(2 / 912)


def test_cell_timeout_interrupts_and_goes_on(tmp_path, reference_rubric):
    path = notebook(tmp_path / "nb.ipynb", "import time\nwhile True: time.sleep(0.1)", "ex1_limit = 1.5")
    execution = run(path, tmp_path, replace(FAST, cell_timeout_s=5))
    assert [c.status for c in execution.cells] == ["timeout", "ok"]
    assert execution.cells[0].status is CellStatus.TIMEOUT and execution.cells[0].ename == "CellTimeout"
    assert render(execution.cells[0].evalue, "es") == render(msg("execute.cell_timeout"), "es")
    assert render(execution.cells[0].evalue, "en") == render(msg("execute.cell_timeout"), "en")
    assert render(execution.message, "es") == render(msg("execute.cell_timeouts"), "es")
    assert extract.extract(execution, reference_rubric.contract).values["ex1_limit"] == 1.5


def test_total_timeout_when_interrupt_is_ignored(tmp_path):
    path = notebook(tmp_path / "nb.ipynb", "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.1)",
                    "ex1_limit = 1.5")
    execution = run(path, tmp_path, replace(FAST, cell_timeout_s=4, total_timeout_s=15))
    assert execution.status is RunStatus.TIMEOUT
    assert execution.artifacts is None
    assert isinstance(execution.message, Message)
    # which of the three it is depends on the machine's load (the budget may run out during the first cell)
    spanish = render(execution.message, "es")
    assert spanish == render(msg("execute.interrupt_ignored"), "es") or \
        spanish.startswith(render(msg("execute.total_timeout", seconds=15), "es")) or \
        spanish == render(msg("execute.harvest_blocked"), "es")
    assert "superó" not in render(execution.message, "en") and "time" in render(execution.message, "en")


def test_output_flood_is_capped(tmp_path):
    path = notebook(tmp_path / "nb.ipynb", "for i in range(200000): print('x' * 100)", "print('after')")
    execution = run(path, tmp_path, replace(FAST, output_bytes_per_cell=10_000, output_bytes_total=50_000))
    assert execution.cells[0].truncated
    assert execution.cells[0].output_bytes < 60_000
    assert execution.status == "completed"


def test_memory_hog_is_reported(tmp_path):
    path = notebook(tmp_path / "nb.ipynb", "x = bytearray(4 * 1024**3)", "ex1_limit = 1.0")
    execution = run(path, tmp_path, replace(FAST, memory_mb=768))
    assert execution.status == "memory_limit"


def test_module_exception_is_recorded_and_values_harvested(tmp_path, reference_rubric):
    path = tmp_path / "mod.py"
    path.write_text("ex1_limit = 0.5\nex1_var_theory = float('nan')\nimport sys\nsys.exit(3)\nex1_var_empirical = 1.0\n")
    execution = run(path, tmp_path)
    assert execution.cells[0].status == "error" and "SystemExit" in execution.cells[0].traceback
    extracted = extract.extract(execution, reference_rubric.contract)
    assert extracted.values["ex1_limit"] == 0.5
    assert render(extracted.problems["ex1_var_theory"], "es") == \
        render(msg("extract.not_finite", where="ex1_var_theory", value=float("nan")), "es")
    assert render(extracted.problems["ex1_var_empirical"], "es") == render(msg("extract.not_defined"), "es")
    assert render(extracted.problems["ex1_var_empirical"], "en") == render(msg("extract.not_defined"), "en")
    assert execution.cells[0].to_json()["source_head"] == "mod.py"


def test_forged_manifest_before_harvest_is_replaced(tmp_path, reference_rubric):
    path = notebook(tmp_path / "nb.ipynb",
                    "import os, json\nos.makedirs('/opt/grader-out', exist_ok=True)\n"
                    "json.dump({'values': {'ex1_limit': {'t': 'number', 'v': 0.0811}}}, open('/opt/grader-out/manifest.json', 'w'))",
                    "ex1_limit = 0.25")
    execution = run(path, tmp_path)
    assert extract.extract(execution, reference_rubric.contract).values["ex1_limit"] == 0.25


def test_symlinked_artifact_is_not_followed(tmp_path, reference_rubric):
    # after the harvest, the student's atexit hook swaps the manifest for a link to a host secret
    path = tmp_path / "mod.py"
    path.write_text("import atexit, os\n"
                    "def swap():\n    os.unlink('/opt/grader-out/manifest.json')\n"
                    "    os.symlink('/etc/shadow', '/opt/grader-out/manifest.json')\n"
                    "atexit.register(swap)\nex1_limit = 1.0\n")
    execution = run(path, tmp_path)
    assert execution.artifacts is None
    note = extract.extract(execution, reference_rubric.contract).note
    assert render(note, "es") == render(msg("extract.no_artifacts"), "es")
    assert render(note, "en") == render(msg("extract.no_artifacts"), "en")


def test_harvest_failure_is_the_run_message(tmp_path, reference_rubric):
    # the student's code breaks the json function the harvest reads its contract with: the harvest fails, it seals nothing,
    # and the run's message is the harvest's failure (not the missing seal that follows from it)
    path = notebook(tmp_path / "nb.ipynb", "ex1_limit = 0.5",
                    "import sys\nsys.modules['json'].load = None")
    execution = run(path, tmp_path)
    assert execution.status is RunStatus.COMPLETED and execution.artifacts is None
    assert isinstance(execution.message, Message)
    assert render(execution.message, "es").startswith(render(msg("execute.harvest_failed", traceback=""), "es")) \
        and "TypeError" in render(execution.message, "es")
    assert render(execution.message, "en").startswith(render(msg("execute.harvest_failed", traceback=""), "en"))


def test_to_json_keeps_the_result_keys():
    record = CellRecord(3, "error", "x = 1", "ValueError", "boom", "trace", 12, True)
    assert record.status is CellStatus.ERROR
    assert record.to_json() == {"index": 3, "status": "error", "source_head": "x = 1", "ename": "ValueError",
                                "evalue": "boom", "traceback": "trace", "output_bytes": 12, "truncated": True}
    assert CellRecord(0, "memory_limit", "x").status is RunStatus.MEMORY_LIMIT
    with pytest.raises(ValueError):
        CellRecord(0, "fine", "x")


# --- A timeout keeps what ran: the budget keeps the harvest's time back ----------------------

BUDGET = replace(FAST, cell_timeout_s=60, total_timeout_s=24)  # reserve: min(max(floor, rubric), 24/3) = 8 s
EX1 = "ex1_limit = 0.0811107\nex1_var_theory = 2 / 912"
FOREVER = "import time\nwhile True: time.sleep(0.1)"


def test_the_budget_interrupts_the_running_cell_and_harvests_what_ran(tmp_path, reference_rubric):
    assert BUDGET.harvest_reserve() == 8
    path = notebook(tmp_path / "nb.ipynb", EX1, FOREVER, "ex1_var_empirical = 1.0")
    execution = run(path, tmp_path, BUDGET)
    assert execution.status is RunStatus.TIMEOUT and execution.artifacts is not None
    assert [c.status for c in execution.cells] == ["ok", "timeout", "not_run"]
    assert render(execution.cells[1].evalue, "es") == render(msg("execute.budget_interrupted"), "es")
    assert render(execution.message, "es") == render(msg("execute.budget_reached", seconds=24, reserve=8), "es")
    values = extract.extract(execution, reference_rubric.contract).values
    assert values["ex1_limit"] == 0.0811107 and "ex1_var_empirical" not in values
    assert execution.harvest_s is not None and execution.harvest_s < 8
    assert execution.duration_s < BUDGET.total_timeout_s + 10


def test_a_per_cell_timeout_in_the_middle_then_the_budget(tmp_path, reference_rubric):
    # 36 s, 12 kept: the first loop meets the 12 s cell limit, the second the 24 s budget (if the kernel starts in < 11 s)
    path = notebook(tmp_path / "nb.ipynb", "ex1_limit = 0.0811107", FOREVER, "ex1_var_theory = 2 / 912", FOREVER, "x = 1")
    execution = run(path, tmp_path, replace(BUDGET, cell_timeout_s=12, total_timeout_s=36))
    assert [c.status for c in execution.cells] == ["ok", "timeout", "ok", "timeout", "not_run"]
    assert render(execution.cells[1].evalue, "es") == render(msg("execute.cell_timeout"), "es")
    assert render(execution.cells[3].evalue, "es") == render(msg("execute.budget_interrupted"), "es")
    values = extract.extract(execution, reference_rubric.contract).values
    assert values["ex1_limit"] == 0.0811107 and values["ex1_var_theory"] == pytest.approx(2 / 912)


def test_a_kernel_that_ignores_the_budget_interrupt_ends_within_the_budget(tmp_path):
    ignore = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.1)"
    path = notebook(tmp_path / "nb.ipynb", EX1, ignore)
    execution = run(path, tmp_path, BUDGET)
    assert execution.status is RunStatus.TIMEOUT and execution.artifacts is None
    assert render(execution.message, "es") == render(msg("execute.harvest_blocked"), "es")
    assert render(execution.message, "en") == render(msg("execute.harvest_blocked"), "en")
    assert execution.duration_s < BUDGET.total_timeout_s + 10  # the budget plus a small grace


def test_a_module_out_of_time_is_stopped_and_harvested(tmp_path, reference_rubric):
    path = tmp_path / "mod.py"
    path.write_text("ex1_limit = 0.0811107\ntry:\n    import time\n    while True: time.sleep(0.1)\n"
                    "except Exception:\n    pass  # an except Exception does not swallow the deadline\nex1_var_theory = 1.0\n")
    execution = run(path, tmp_path, BUDGET)
    assert execution.status is RunStatus.TIMEOUT and execution.cells[0].status == "timeout"
    values = extract.extract(execution, reference_rubric.contract).values
    assert values["ex1_limit"] == 0.0811107 and "ex1_var_theory" not in values
    assert render(execution.message, "en") == render(msg("execute.budget_reached", seconds=24, reserve=8), "en")


def test_a_module_that_ignores_its_deadline_is_killed_and_says_why(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nex1_limit = 1.0\n"
                    "while True: time.sleep(0.1)\n")
    execution = run(path, tmp_path, BUDGET)
    assert execution.status is RunStatus.TIMEOUT and execution.artifacts is None
    assert render(execution.message, "es") == render(msg("execute.module_ignored_deadline", seconds=24), "es")
    assert execution.duration_s < BUDGET.total_timeout_s + 10
