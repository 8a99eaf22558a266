"""Stage 1: run the submission inside the sandbox, then the grader's harvest step in the same
process, and copy the artifacts out (regular files only, size-capped, never following links).

    notebook.py   a .ipynb in a real Jupyter kernel, cell by cell, the harvest as a last cell
    module.py     a .py as __main__ in one interpreter, the harvest after it
    artifacts.py  harvest.py into the sandbox, its launcher line, its files back out
    harvest.py    runs INSIDE the sandbox, in the student's process; imports nothing from grader
    records.py    CellRecord and Execution
    interrupt.py  SIGINT/SIGTERM end the run cleanly, then raise Interrupted

A failing cell does not stop the rest; a run that hits a limit keeps that limit as its status.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import submission as submission_module
from ..sandbox import Sandbox
from ..submission import Submission
from . import artifacts as artifacts_module
from ..kinds import RunStatus
from ..messages import msg
from .module import harvest_seconds, module_cells, module_notebook, module_stopped_on_time, run_module
from .interrupt import run_interruptibly
from .notebook import run_notebook
from .records import CellRecord, Execution

LOG_TAIL = 20000


def run(sub: Submission, sandbox: Sandbox, contract_path: Path, artifacts_dest: Path,
        memo_config: dict | None = None) -> Execution:
    """Execute `sub` inside `sandbox` (already entered) and collect its artifacts.
    `memo_config`: the training memo as the sandbox sees it (MemoSettings.sandbox_config)."""
    started = time.monotonic()
    artifacts_module.install(sandbox, contract_path, memo_config)
    # on the connection folder's small tmpfs (grader/sandbox.py: CONN_MB): the kernel writes its own stdout and
    # stderr there, so what a student prints at the file descriptor stops at that size, not at the host's disk
    log_path = (sandbox.conn if sandbox.conn_capped else sandbox.work) / "kernel.log"
    harvest_s = notebook = None
    if sub.kind == "ipynb":
        nb = submission_module.notebook(sub.source)
        own_cells = len(nb.cells)
        try:
            status, cells, message, harvest_s, seal = run_interruptibly(run_notebook(nb, sandbox, log_path))
        finally:
            del nb.cells[own_cells:]  # the grader's harvest cell is not the student's
        notebook = dict(nb)
    else:
        (sandbox.input / "submission.py").write_bytes(sub.source)
        status, cells, message, seal = run_module(sandbox, log_path)
    harvested = harvest_s is not None if sub.kind == "ipynb" else status != RunStatus.TIMEOUT or message != \
        msg("execute.module_ignored_deadline", seconds=sandbox.limits.total_timeout_s)
    # no harvest, no outbox: what is there was written by the student's code, not by the harvest; and of a
    # harvest, only the bytes it sealed (a rewrite after it is not read)
    copied = artifacts_module.copy_out(sandbox.outbox, artifacts_dest, seal) if harvested else None
    artifacts = copied.folder if copied is not None else None
    if copied is not None and copied.note and not message:
        message = copied.note
    if sub.kind == "py" and artifacts is not None:
        cells = module_cells(artifacts, sub.path.name)
        harvest_s = harvest_seconds(artifacts)
        if status == RunStatus.COMPLETED and module_stopped_on_time(artifacts):
            status = RunStatus.TIMEOUT
            message = msg("execute.budget_reached", seconds=sandbox.limits.total_timeout_s,
                          reserve=round(sandbox.limits.harvest_reserve()))
    if status == RunStatus.COMPLETED and sandbox.pids_exhausted():
        # A fork bomb whose kernel survives (fork raised BlockingIOError, the kernel answered the harvest) and one
        # that takes the kernel down are the same event: the cap was reached. Whether the kernel lived is a race.
        status = RunStatus.PROCESS_LIMIT
        message = msg("execute.process_limit_reached", pids=sandbox.limits.pids)
    # by its tail (a module's log is already capped at output_bytes_total by run_module)
    log_text = _tail(log_path, LOG_TAIL * 4 if sub.kind == "ipynb" else sandbox.limits.output_bytes_total).decode("utf-8", "replace")
    log_tail = log_text[-LOG_TAIL:]
    if sub.kind == "py":
        notebook = module_notebook(sub.source.decode("utf-8", "replace"), log_text)
    return Execution(status, tuple(cells), artifacts, sandbox.report(), time.monotonic() - started, message, log_tail,
                     harvest_s, notebook)


def _tail(path: Path, size: int) -> bytes:
    """The last `size` bytes of `path` (nothing if it is not there), read without reading the rest."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - size))
            return handle.read(size)
    except OSError:
        return b""


__all__ = ["run", "run_interruptibly", "Execution", "CellRecord"]
