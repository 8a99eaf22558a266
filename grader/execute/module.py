"""A .py submission, run as __main__ in one interpreter inside the sandbox, harvest included.

The harvest's `run_module` executes the file, records an exception (SystemExit too) and then
harvests the module's namespace, all in that one process. Its output is drained into a capped
buffer, the kernel log of a module run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import nbformat

from ..bounded import MAX_MANIFEST, Refused, read_json
from ..kinds import CellStatus, RunStatus
from ..messages import Message, msg
from ..sandbox import Sandbox
from .artifacts import MAX_SEAL, launcher, memo_preamble, seal_from_output
from .records import CellRecord


def run_module(sandbox: Sandbox, log_path: Path) -> tuple[RunStatus, list[CellRecord], Message | str, dict | None]:
    """Run `submission.py` (already in the sandbox's input folder); (status, [], message, the
    harvest's seal: the one seal line of the output's tail, else None). The module's one record
    comes from the manifest afterwards (`module_cells`)."""
    limits = sandbox.limits
    # the module is stopped (SIGALRM) when the budget minus the harvest's reserve is spent, and harvested
    deadline_s = max(1.0, limits.total_timeout_s - limits.harvest_reserve())
    runner = memo_preamble(sandbox) + launcher(sandbox, "run_module", repr(sandbox.input_path + "/submission.py"),
                                               f"deadline_s={deadline_s!r}")
    argv = sandbox.wrap([sys.executable, "-c", runner])
    kept = bytearray()
    tail = bytearray()  # the output's last bytes, where the harvest's seal line is, whatever came before

    def drain(stream) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            if len(kept) < limits.output_bytes_total:
                kept.extend(chunk[: limits.output_bytes_total - len(kept)])
            tail.extend(chunk)
            del tail[: max(0, len(tail) - 2 * MAX_SEAL)]

    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=str(sandbox.work), start_new_session=True)
    sandbox.track(process.pid)
    reader = threading.Thread(target=drain, args=(process.stdout,), daemon=True)
    reader.start()
    status, message = RunStatus.COMPLETED, ""
    try:
        process.wait(timeout=limits.total_timeout_s)
    except subprocess.TimeoutExpired:  # it did not stop at its deadline: nothing was harvested
        status, message = RunStatus.TIMEOUT, msg("execute.module_ignored_deadline", seconds=limits.total_timeout_s)
    finally:
        sandbox.kill_all()  # first, while the module's process lives and its descendants can be found
        try:
            os.killpg(process.pid, 9)
        except OSError:
            pass
        process.wait()
        reader.join(timeout=5)
    if status == RunStatus.COMPLETED and process.returncode not in (0, None):
        if sandbox.pids_exhausted():
            status, message = RunStatus.PROCESS_LIMIT, msg("execute.process_limit")
        elif sandbox.oom_killed():
            status, message = RunStatus.MEMORY_LIMIT, msg("execute.memory_limit")
        elif process.returncode < 0 or process.returncode >= 128:
            status, message = RunStatus.CRASHED, msg("execute.process_died", code=process.returncode)
    seal, _ = seal_from_output(bytes(tail))
    _, printed = seal_from_output(bytes(kept))  # what the student printed, without the grader's line
    log_path.write_text(printed.decode("utf-8", "replace"))
    return status, [], message, seal


def _manifest(artifacts: Path) -> dict:
    """The manifest, through the same bounds as the extraction (the harvest runs in the student's
    process: a patched json can make it write anything, 100,000 levels deep included)."""
    try:
        manifest = read_json(artifacts / "manifest.json", MAX_MANIFEST)
    except Refused:
        return {}
    return manifest if isinstance(manifest, dict) else {}


def module_stopped_on_time(artifacts: Path) -> bool:
    """The harvest's record says the module was stopped at its deadline (a claim, like the rest of
    the manifest: it can only make the student's own status a timeout)."""
    module = _manifest(artifacts).get("module")
    return isinstance(module, dict) and module.get("timeout") is True


def harvest_seconds(artifacts: Path) -> float | None:
    """How long the harvest says it took (a claim; used only to measure the reserve)."""
    seconds = _manifest(artifacts).get("seconds")
    return float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < 1e6 else None


def module_cells(artifacts: Path, name: str) -> list[CellRecord]:
    """The module's single record: ok, or the exception the harvest recorded while running it."""
    module = _manifest(artifacts).get("module") or {}
    if not isinstance(module, dict) or module.get("ok", True):
        return [CellRecord(0, CellStatus.OK, name)]
    if module.get("timeout") is True:
        return [CellRecord(0, CellStatus.TIMEOUT, name, "OutOfTime", msg("execute.budget_interrupted"))]
    trace = str(module.get("traceback", ""))[-20000:]
    last = trace.strip().splitlines()[-1] if trace.strip() else ""
    ename, _, evalue = last.partition(":")
    return [CellRecord(0, CellStatus.ERROR, name, ename.strip()[:200], evalue.strip()[:2000], trace)]


def module_notebook(source: str, printed: str) -> dict:
    """A .py submission as a one-cell notebook: its source, and what it printed as that cell's
    output, so the report renders a module the way it renders a notebook (the print is already
    capped at limits.output_bytes_total by run_module)."""
    output = nbformat.v4.new_output("stream", name="stdout", text=printed) if printed else None
    cell = nbformat.v4.new_code_cell(source, outputs=[output] if output else [])
    return dict(nbformat.v4.new_notebook(cells=[cell], metadata={"language_info": {"name": "python"},
                                                                        "grader": {"kind": "py"}}))


__all__ = ["run_module", "module_notebook", "module_cells", "module_stopped_on_time", "harvest_seconds"]
