"""Stage 1: run the submission inside the sandbox, then the grader's harvest step in the same
process, and copy the artifacts out (regular files only, size-capped, never following links).

A notebook runs in a real Jupyter kernel (nbclient outside, ipykernel inside bwrap, ipc
sockets in a bound folder); a module runs in one interpreter. Each code cell is recorded: ok,
error (with its traceback), timeout, or not run. A failing cell does not stop the rest.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from . import submission as submission_module
from .sandbox import NOBODY, Limits, Sandbox, SandboxReport
from .submission import Submission

HARVEST_SOURCE = Path(__file__).with_name("harvest.py")
MAX_ARTIFACT_FILE = 200 * 1024 * 1024
MAX_ARTIFACTS_TOTAL = 400 * 1024 * 1024
_ARTIFACT_NAME = re.compile(r"^(manifest\.json|\d{4}-(array\.npy|model\.json))$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TIMEOUT_ENAME = "CellTimeout"
SHIM = ('"""Stand-in for grader inside the sandbox: self-check is skipped while a teacher grades."""\n'
        "def check(*args, **kwargs):\n"
        "    print('grader: la auto-revisión no se ejecuta durante la corrección')\n")


@dataclass(frozen=True)
class CellRecord:
    index: int  # position in the notebook (0-based, all cells), or 0 for a module
    status: str  # "ok" | "error" | "timeout" | "not_run"
    source_head: str
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    output_bytes: int = 0
    truncated: bool = False


@dataclass(frozen=True)
class Execution:
    """What running the student's code produced. `status` is about the run as a whole."""

    status: str  # "completed" | "timeout" | "memory_limit" | "process_limit" | "crashed"
    cells: tuple
    artifacts: Path | None  # grader-owned copy of the harvest output, or None
    sandbox: SandboxReport
    duration_s: float
    message: str = ""
    log_tail: str = ""

    @property
    def failed_cells(self) -> list:
        return [cell for cell in self.cells if cell.status in ("error", "timeout")]


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _head(source: str) -> str:
    lines = source.strip().splitlines()
    return (lines[0][:120] + (" …" if len(lines) > 1 else "")) if lines else ""


def harvest_call(sandbox: Sandbox) -> str:
    inp = sandbox.input_path
    return (f"_grader_ns = {{'__name__': 'grader_harvest'}}\n"
            f"exec(compile(open({inp + '/harvest.py'!r}).read(), 'grader-harvest', 'exec'), _grader_ns)\n"
            f"_grader_ns['harvest'](globals(), {sandbox.outbox_path!r}, {inp + '/contract.json'!r})\n")


class _CappedClient(NotebookClient):
    """nbclient that keeps at most N bytes of output per cell and per notebook."""

    def __init__(self, *args, limits: Limits, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._per_cell: dict[int, int] = {}
        self._total = 0
        self.truncated: set[int] = set()
        self.timed_out: set[int] = set()
        self.current_cell = -1

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out.add(self.current_cell)
        return await super()._async_handle_timeout(timeout, cell)

    @staticmethod
    def _size(msg: dict) -> int:
        content = msg.get("content", {})
        if "text" in content:
            return len(content["text"])
        if "data" in content:
            return sum(len(str(value)) for value in content["data"].values())
        if "traceback" in content:
            return sum(len(line) for line in content["traceback"])
        return 0

    def output(self, outs, msg, display_id, cell_index):
        size = self._size(msg)
        used = self._per_cell.get(cell_index, 0) + size
        self._per_cell[cell_index] = used
        self._total += size
        over = used > self._limits.output_bytes_per_cell or self._total > self._limits.output_bytes_total
        if over and msg["msg_type"] != "error":
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text="\n[grader: salida truncada; se superó el límite de bytes por celda o por entrega]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)


class _KernelManager(AsyncKernelManager):
    """Lets the unprivileged kernel read its connection file (jupyter writes it 0600)."""

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if os.geteuid() == 0:
            os.chown(self.connection_file, NOBODY, NOBODY)
        return await super()._async_launch_kernel(kernel_cmd, **kw)


def _cell_record(index: int, cell, truncated: bool, timed_out: bool = False) -> CellRecord:
    size = sum(len(json.dumps(output)) for output in cell.get("outputs", []))
    if timed_out:
        return CellRecord(index, "timeout", _head(cell.source), TIMEOUT_ENAME, "la celda superó el tiempo por celda",
                          output_bytes=size, truncated=truncated)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            status = "timeout" if output.get("ename") == TIMEOUT_ENAME else "error"
            return CellRecord(index, status, _head(cell.source), output.get("ename", ""),
                              _strip_ansi(str(output.get("evalue", "")))[:2000],
                              _strip_ansi("\n".join(output.get("traceback", [])))[-20000:], size, truncated)
    return CellRecord(index, "ok", _head(cell.source), output_bytes=size, truncated=truncated)


async def _run_notebook(nb, sandbox: Sandbox, limits: Limits, log_path: Path) -> tuple[str, list, str]:
    spec_dir = sandbox.work / "kernels" / "grader"
    spec_dir.mkdir(parents=True)
    argv = sandbox.wrap([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                         "--HistoryManager.enabled=False", "--IPKernelApp.log_level=ERROR"])
    (spec_dir / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "grader sandbox", "language": "python", "interrupt_mode": "message"}))
    km = _KernelManager(kernel_name="grader", transport="ipc",
                        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(sandbox.work / "kernels")]))
    km.ip = str(sandbox.conn / "k")
    km.connection_file = str(sandbox.conn / "kernel.json")
    client = _CappedClient(nb, km=km, limits=limits, timeout=limits.cell_timeout_s, allow_errors=True,
                           interrupt_on_timeout=True, startup_timeout=180, shutdown_kernel="immediate",
                           error_on_timeout={"ename": TIMEOUT_ENAME,
                                             "evalue": f"la celda superó {limits.cell_timeout_s} s",
                                             "traceback": []},
                           resources={"metadata": {"path": str(sandbox.work)}})
    records: dict[int, CellRecord] = {}
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    harvest_cell = nbformat.v4.new_code_cell(harvest_call(sandbox))
    status, message = "completed", ""
    deadline = time.monotonic() + limits.total_timeout_s

    async def run_all() -> None:
        nonlocal status, message
        with open(log_path, "wb") as log:
            async with client.async_setup_kernel(stdout=log, stderr=log):
                for index, cell in code_cells:
                    if time.monotonic() >= deadline - 1:
                        status, message = "timeout", f"se superó el tiempo total ({limits.total_timeout_s} s)"
                        return
                    client.timeout = max(1, int(min(limits.cell_timeout_s, deadline - time.monotonic())))
                    client.current_cell = index
                    try:
                        await client.async_execute_cell(cell, index)
                    finally:
                        records[index] = _cell_record(index, cell, index in client.truncated, index in client.timed_out)
                    if index in client.timed_out and len(client.timed_out) >= 2 and \
                            code_cells[[i for i, _ in code_cells].index(index) - 1][0] in client.timed_out:
                        status, message = "timeout", ("dos celdas seguidas superaron el tiempo: el kernel no responde "
                                                      "a la interrupción (¿ignora SIGINT?)")
                        return
                if time.monotonic() >= deadline - 1:
                    status, message = "timeout", f"se superó el tiempo total ({limits.total_timeout_s} s)"
                    return
                client.timeout = max(1, int(min(600, deadline - time.monotonic())))
                nb.cells.append(harvest_cell)
                client.current_cell = len(nb.cells) - 1
                await client.async_execute_cell(harvest_cell, len(nb.cells) - 1)
                if client.current_cell in client.timed_out:
                    status, message = "timeout", "no quedó tiempo para recoger los resultados (tiempo total agotado)"
                    return
                harvest_error = [o for o in harvest_cell.outputs if o.get("output_type") == "error"]
                if harvest_error:
                    message = "harvest: " + _strip_ansi("\n".join(harvest_error[0].get("traceback", [])))[-3000:]

    try:
        await asyncio.wait_for(run_all(), timeout=limits.total_timeout_s + 30)
    except DeadKernelError:
        status = "process_limit" if sandbox.pids_exhausted() else "memory_limit" if sandbox.oom_killed() else "crashed"
        message = "el kernel murió durante la ejecución"
    except TimeoutError as exc:  # CellTimeoutError subclasses it; asyncio.wait_for raises it
        status, message = "timeout", f"se superó el tiempo total ({limits.total_timeout_s} s) {exc}".strip()
    except RuntimeError as exc:  # kernel failed to start
        status, message = "crashed", f"el kernel no arrancó: {exc}"
    finally:
        sandbox.kill_all()
    cells = []
    for index, cell in code_cells:
        record = records.get(index) or CellRecord(index, "not_run", _head(cell.source))
        if record.status == "ok" and status != "completed" and index == max(records, default=-1):
            record = CellRecord(index, status, record.source_head, ename=status, evalue=message)
        cells.append(record)
    if any(c.status == "timeout" for c in cells) and status == "completed":
        message = "una o más celdas superaron el tiempo por celda"
    return status, cells, message


def _run_module(sandbox: Sandbox, limits: Limits, log_path: Path) -> tuple[str, list, str]:
    runner = (f"exec(compile(open({sandbox.input_path + '/harvest.py'!r}).read(), 'grader-harvest', 'exec'))\n"
              f"run_module({sandbox.input_path + '/submission.py'!r}, {sandbox.outbox_path!r}, "
              f"{sandbox.input_path + '/contract.json'!r})\n")
    argv = sandbox.wrap([sys.executable, "-c", runner])
    kept = bytearray()

    def drain(stream) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            if len(kept) < limits.output_bytes_total:
                kept.extend(chunk[: limits.output_bytes_total - len(kept)])

    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=str(sandbox.work), start_new_session=True)
    reader = threading.Thread(target=drain, args=(process.stdout,), daemon=True)
    reader.start()
    status, message = "completed", ""
    try:
        process.wait(timeout=limits.total_timeout_s)
    except subprocess.TimeoutExpired:
        status, message = "timeout", f"se superó el tiempo total ({limits.total_timeout_s} s)"
    finally:
        try:
            os.killpg(process.pid, 9)
        except OSError:
            pass
        sandbox.kill_all()
        process.wait()
        reader.join(timeout=5)
    if status == "completed" and process.returncode not in (0, None):
        if sandbox.pids_exhausted():
            status, message = "process_limit", "se superó el límite de procesos"
        elif sandbox.oom_killed():
            status, message = "memory_limit", "se superó el límite de memoria"
        elif process.returncode < 0 or process.returncode >= 128:
            status, message = "crashed", f"el proceso terminó con la señal/código {process.returncode}"
    text = kept.decode("utf-8", "replace")
    log_path.write_text(text)
    return status, [], message


def _copy_artifacts(source: Path, dest: Path) -> Path | None:
    """Copy regular files with expected names; never follow a link the student planted."""
    try:
        dir_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        for name in sorted(os.listdir(dir_fd))[:5000]:
            if not _ARTIFACT_NAME.match(name):
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ARTIFACT_FILE or total + info.st_size > MAX_ARTIFACTS_TOTAL:
                    continue
                total += info.st_size
                (dest / name).write_bytes(handle.read(info.st_size))
    finally:
        os.close(dir_fd)
    return dest if (dest / "manifest.json").exists() else None


def run(sub: Submission, sandbox: Sandbox, contract_path: Path, artifacts_dest: Path) -> Execution:
    """Execute `sub` inside `sandbox` (already entered) and collect its artifacts."""
    limits = sandbox.limits
    started = time.monotonic()
    (sandbox.input / "harvest.py").write_bytes(HARVEST_SOURCE.read_bytes())
    (sandbox.input / "contract.json").write_bytes(contract_path.read_bytes())
    shim = sandbox.input / "shim" / "grader"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").write_text(SHIM)
    log_path = sandbox.work / "kernel.log"
    if sub.kind == "ipynb":
        nb = submission_module.notebook(sub.source)
        status, cells, message = asyncio.run(_run_notebook(nb, sandbox, limits, log_path))
    else:
        (sandbox.input / "submission.py").write_bytes(sub.source)
        status, cells, message = _run_module(sandbox, limits, log_path)
    artifacts = _copy_artifacts(sandbox.outbox, artifacts_dest)
    if sub.kind == "py" and artifacts is not None:
        cells = _module_cells(artifacts, sub)
    log_tail = log_path.read_text(errors="replace")[-20000:] if log_path.exists() else ""
    return Execution(status, tuple(cells), artifacts, sandbox.report(), time.monotonic() - started, message, log_tail)


def _module_cells(artifacts: Path, sub: Submission) -> list:
    try:
        module = json.loads((artifacts / "manifest.json").read_text()).get("module") or {}
    except (OSError, ValueError):
        module = {}
    if not isinstance(module, dict) or module.get("ok", True):
        return [CellRecord(0, "ok", sub.path.name)]
    trace = str(module.get("traceback", ""))[-20000:]
    last = trace.strip().splitlines()[-1] if trace.strip() else ""
    ename, _, evalue = last.partition(":")
    return [CellRecord(0, "error", sub.path.name, ename.strip()[:200], evalue.strip()[:2000], trace)]


__all__ = ["Execution", "CellRecord", "run"]
