"""A notebook, run cell by cell in a real Jupyter kernel inside the sandbox.

nbclient drives the kernel from outside; ipykernel runs inside bwrap, talking over ipc
sockets in a folder bound at the same path on both sides. Each code cell is recorded (ok,
error with its traceback, timeout, not run); a failing cell does not stop the rest. After the
last cell the harvest runs as one more cell, in the same kernel, on the live objects.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from ..kinds import CellStatus, RunStatus
from ..messages import DEFAULT_LANG, Message, msg, render
from ..rubric import Limits
from ..sandbox import NOBODY, Sandbox
from .artifacts import MAX_SEAL, launcher, memo_preamble
from .harvest import SEAL_MIME
from .interrupt import ARM_SIGNALS
from .records import CellRecord, head, strip_ansi

TIMEOUT_ENAME = "CellTimeout"
HARVEST_TIMEOUT_S = 600
MAX_MESSAGE = 64 * 1024 * 1024
"""The largest message the grader's sockets accept from the kernel. What a cell may show is capped
far lower (Limits.output_bytes_per_cell) after a message arrives; this bounds what arrives at all.
A legitimate message (a plot, a model summary) is a few MB."""


class CappedClient(NotebookClient):
    """nbclient that keeps at most N bytes of output per cell and per notebook, and remembers
    which cells it had to interrupt."""

    def __init__(self, *args, limits: Limits, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._per_cell: dict[int, int] = {}
        self._total = 0
        self.truncated: set[int] = set()
        self.timed_out: set[int] = set()
        self.current_cell = -1
        self.harvest_cell = -1
        self.seals: list = []  # what the harvest cell published as its seal (exactly one is a seal)

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out.add(self.current_cell)
        return await super()._async_handle_timeout(timeout, cell)

    @staticmethod
    def _size(message: dict) -> int:
        content = message.get("content", {})
        if "text" in content:
            return len(content["text"])
        if "data" in content:
            return sum(len(str(value)) for value in content["data"].values())
        if "traceback" in content:  # an error: its name and value count as much as its traceback
            return sum(len(str(line)) for line in content["traceback"]) + len(str(content.get("ename", ""))) \
                + len(str(content.get("evalue", "")))
        return 0

    def output(self, outs, msg, display_id, cell_index):  # nbclient's signature (`msg` is its name)
        size = self._size(msg)
        data = msg.get("content", {}).get("data")
        if cell_index == self.harvest_cell and isinstance(data, dict) and SEAL_MIME in data:
            # the harvest's seal: kept apart from the outputs and their caps (a notebook that printed its
            # whole allowance still gets its harvest read), bounded on its own
            self.seals.append(data[SEAL_MIME] if size <= MAX_SEAL else None)
            return None
        used = self._per_cell.get(cell_index, 0) + size
        self._per_cell[cell_index] = used
        self._total += size
        over = used > self._limits.output_bytes_per_cell or self._total > self._limits.output_bytes_total
        if over and msg["msg_type"] == "error":
            # the error is what the cell record reads (ename, evalue): kept, its traceback cut to what is left
            left = max(0, min(self._limits.output_bytes_per_cell - (used - size), self._limits.output_bytes_total - (self._total - size)))
            content = dict(msg.get("content", {}))
            content["evalue"] = str(content.get("evalue", ""))[:2000]
            kept, room = [], left
            for line in reversed([str(line) for line in content.get("traceback") or []]):
                if len(line) > room:
                    break
                kept.insert(0, line)
                room -= len(line)
            content["traceback"] = kept
            self._per_cell[cell_index] = used - size + (left - room)
            self._total = self._total - size + (left - room)
            self.truncated.add(cell_index)
            msg = {**msg, "content": content}
        elif over:
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                # Lives only in the grader's in-memory copy of the notebook (it counts in
                # output_bytes, which result.json keeps): a notebook output is text, so it is
                # written in the default language; `CellRecord.truncated` is what readers see.
                outs.append(nbformat.v4.new_output("stream", name="stderr",
                                                   text=render(Message("execute.output_truncated"), DEFAULT_LANG)))
            return None
        return super().output(outs, msg, display_id, cell_index)


class KernelManager(AsyncKernelManager):
    """Lets the unprivileged kernel read its connection file (jupyter writes it 0600), and tells
    the sandbox which process the kernel is, so that nothing of it outlives the run."""

    sandbox: Sandbox | None = None

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # every socket the client makes from here on refuses a message above MAX_MESSAGE (ZMQ drops the peer):
        # a kernel cannot make the grader hold an arbitrarily large message in memory
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        if os.geteuid() == 0:
            os.chown(self.connection_file, NOBODY, NOBODY)
        launched = await super()._async_launch_kernel(kernel_cmd, **kw)
        pid = getattr(self.provisioner, "pid", None)
        if self.sandbox is not None and pid:
            self.sandbox.track(pid)
        return launched

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        # while the kernel still lives, its descendants can be found, even one that left its session
        if self.sandbox is not None:
            self.sandbox.kill_all()
        await super().shutdown_kernel(now=now, restart=restart)


def output_size(output) -> int:
    """What a cell printed or displayed, in characters: the text of a stream, the values of a
    display, the lines of a traceback. Not the JSON of the outputs: how the kernel splits the
    same prints into stream chunks depends on flush timing (each chunk brings its own wrapper;
    measured 282 and 227 for one cell's same three prints), and a measure must not."""
    kind = output.get("output_type")
    if kind == "stream":
        return len(output.get("text", ""))
    if kind in ("display_data", "execute_result"):
        return sum(len(str(value)) for value in (output.get("data") or {}).values())
    if kind == "error":
        return sum(len(line) for line in output.get("traceback") or [])
    return 0


def cell_record(index: int, cell, truncated: bool, timed_out: bool, cell_timeout_s: int) -> CellRecord:
    size = sum(output_size(output) for output in cell.get("outputs", []))
    if timed_out:
        return CellRecord(index, CellStatus.TIMEOUT, head(cell.source), TIMEOUT_ENAME, msg("execute.cell_timeout"),
                          output_bytes=size, truncated=truncated)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            if output.get("ename") == TIMEOUT_ENAME:
                evalue = msg("execute.cell_timeout_after", seconds=cell_timeout_s)
                return CellRecord(index, CellStatus.TIMEOUT, head(cell.source), TIMEOUT_ENAME, evalue,
                                  _traceback(output), size, truncated)
            return CellRecord(index, CellStatus.ERROR, head(cell.source), output.get("ename", ""),
                              strip_ansi(str(output.get("evalue", "")))[:2000], _traceback(output), size, truncated)
    return CellRecord(index, CellStatus.OK, head(cell.source), output_bytes=size, truncated=truncated)


def _traceback(output) -> str:
    return strip_ansi("\n".join(output.get("traceback", [])))[-20000:]


def _kernel_client(nb, sandbox: Sandbox, limits: Limits) -> CappedClient:
    spec_dir = sandbox.work / "kernels" / "grader"
    spec_dir.mkdir(parents=True)
    argv = sandbox.wrap([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                         "--HistoryManager.enabled=False", "--IPKernelApp.log_level=ERROR"])
    (spec_dir / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "grader sandbox", "language": "python", "interrupt_mode": "message"}))
    km = KernelManager(kernel_name="grader", transport="ipc",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(sandbox.work / "kernels")]))
    km.sandbox = sandbox
    km.ip = str(sandbox.conn / "k")
    km.connection_file = str(sandbox.conn / "kernel.json")
    # the kernel puts this text in the notebook's error output (text, hence the default language);
    # cell_record reads the output's ename and records a Message instead
    timeout_text = render(msg("execute.cell_timeout_after", seconds=limits.cell_timeout_s), DEFAULT_LANG)
    return CappedClient(nb, km=km, limits=limits, timeout=limits.cell_timeout_s, allow_errors=True,
                        interrupt_on_timeout=True, startup_timeout=180, shutdown_kernel="immediate",
                        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": timeout_text, "traceback": []},
                        resources={"metadata": {"path": str(sandbox.work)}})


async def run_notebook(nb, sandbox: Sandbox, log_path: Path) -> tuple[RunStatus, list[CellRecord], Message | str, float | None, dict | None]:
    """Run every non-empty code cell, then the harvest; (status, cell records, message, harvest
    seconds, the harvest's seal: None unless the harvest cell published exactly one).

    The total budget keeps `limits.harvest_reserve()` seconds back: when the cells have used the
    rest, the running cell is interrupted, the remaining ones are not run, and the harvest runs on
    what the notebook defined so far (the status stays "timeout"). A kernel that ignores the
    interrupt is still busy when the harvest asks: the harvest times out within the budget and
    the status says why nothing was harvested."""
    limits = sandbox.limits
    client = _kernel_client(nb, sandbox, limits)
    records: dict[int, CellRecord] = {}
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    order = [i for i, _ in code_cells]
    harvest_cell = nbformat.v4.new_code_cell(launcher(sandbox, "harvest", "globals()", "publish=True"))
    status, message = RunStatus.COMPLETED, ""
    deadline = time.monotonic() + limits.total_timeout_s
    reserve = limits.harvest_reserve()
    work_deadline = deadline - reserve  # the cells' budget: what is left after it is the harvest's
    total_timeout = msg("execute.total_timeout", seconds=limits.total_timeout_s)
    budget_reached = msg("execute.budget_reached", seconds=limits.total_timeout_s, reserve=round(reserve))
    budget_cell: int | None = None  # the cell interrupted when the budget ran out
    harvest_s: float | None = None

    async def run_all() -> None:
        try:
            await run_cells()
        except DeadKernelError:
            task = asyncio.current_task()
            if task is not None and getattr(task, "cancelling", lambda: 0)():
                raise asyncio.CancelledError() from None  # interrupted: the kernel died because we stopped it
            raise

    async def run_preamble() -> None:
        """The memo's settings and wrapper, before the student's first cell; a cell of its own that
        leaves the notebook as it was (its failure only costs the memo, never the run)."""
        cell = nbformat.v4.new_code_cell(memo_preamble(sandbox))
        nb.cells.append(cell)
        client.timeout = max(1, int(min(HARVEST_TIMEOUT_S, deadline - time.monotonic())))
        try:
            await client.async_execute_cell(cell, len(nb.cells) - 1)
        finally:
            nb.cells.pop()

    async def run_cells() -> None:
        nonlocal status, message, budget_cell, harvest_s
        with open(log_path, "wb") as log:
            async with client.async_setup_kernel(stdout=log, stderr=log):
                ARM_SIGNALS.get()()  # take SIGINT/SIGTERM back from nbclient (interrupt.py)
                await run_preamble()
                for position, (index, cell) in enumerate(code_cells):
                    if time.monotonic() >= work_deadline - 1:  # the budget is spent: the rest does not run
                        status, message = RunStatus.TIMEOUT, budget_reached
                        break
                    client.timeout = max(1, int(min(limits.cell_timeout_s, work_deadline - time.monotonic())))
                    client.current_cell = index
                    try:
                        await client.async_execute_cell(cell, index)
                    finally:
                        records[index] = cell_record(index, cell, index in client.truncated, index in client.timed_out,
                                                     limits.cell_timeout_s)
                    if index in client.timed_out and position > 0 and order[position - 1] in client.timed_out:
                        status, message = RunStatus.TIMEOUT, msg("execute.interrupt_ignored")
                        return
                    if index in client.timed_out and time.monotonic() >= work_deadline - 1:
                        # interrupted because the budget ran out, not because of the per-cell limit
                        records[index] = replace(records[index], evalue=msg("execute.budget_interrupted"))
                        status, message, budget_cell = RunStatus.TIMEOUT, budget_reached, index
                        break
                client.timeout = max(1, int(min(HARVEST_TIMEOUT_S, deadline - time.monotonic())))
                nb.cells.append(harvest_cell)
                client.current_cell = client.harvest_cell = len(nb.cells) - 1
                started = time.monotonic()
                await client.async_execute_cell(harvest_cell, len(nb.cells) - 1)
                harvest_s = time.monotonic() - started
                if client.current_cell in client.timed_out:
                    # the kernel is still busy with the interrupted cell, or the harvest ran out of time:
                    # nothing was harvested (harvest_s None), so the outbox, whoever wrote it, is not read
                    harvest_s = None
                    status = RunStatus.TIMEOUT
                    message = msg("execute.harvest_blocked") if budget_cell is not None else msg("execute.no_time_to_harvest")
                    return
                harvest_error = [o for o in harvest_cell.outputs if o.get("output_type") == "error"]
                if harvest_error:
                    message = msg("execute.harvest_failed", traceback=_traceback(harvest_error[0])[-3000:])

    try:
        await asyncio.wait_for(run_all(), timeout=limits.total_timeout_s + 30)
    except DeadKernelError:
        status = RunStatus.PROCESS_LIMIT if sandbox.pids_exhausted() else \
            RunStatus.MEMORY_LIMIT if sandbox.oom_killed() else RunStatus.CRASHED
        message = msg("execute.kernel_died")
    except (TimeoutError, asyncio.TimeoutError) as exc:  # CellTimeoutError; asyncio.wait_for's (one class from 3.11 on)
        detail = str(exc).rstrip()
        status = RunStatus.TIMEOUT
        message = msg("execute.total_timeout_detail", seconds=limits.total_timeout_s, detail=detail) \
            if detail.strip() else total_timeout
    except RuntimeError as exc:  # kernel failed to start
        status, message = RunStatus.CRASHED, msg("execute.kernel_did_not_start", error=str(exc))
    finally:
        sandbox.kill_all()
    cells = []
    stopped_on_time = message in (budget_reached, msg("execute.harvest_blocked"))  # not a crash mid-cell
    for index, cell in code_cells:
        record = records.get(index) or CellRecord(index, CellStatus.NOT_RUN, head(cell.source))
        if record.status == CellStatus.OK and status != RunStatus.COMPLETED and not stopped_on_time \
                and index == max(records, default=-1):
            record = CellRecord(index, status, record.source_head, ename=status.value, evalue=message)
        cells.append(record)
    if any(c.status == CellStatus.TIMEOUT for c in cells) and status == RunStatus.COMPLETED:
        message = msg("execute.cell_timeouts")
    seal = client.seals[0] if len(client.seals) == 1 else None
    return status, cells, message, harvest_s, seal


__all__ = ["run_notebook", "cell_record", "CappedClient", "KernelManager", "TIMEOUT_ENAME"]
