"""A worker process that speaks JSON lines: `python -m <module>`, jobs on stdin, answers on stdout.

The grader keeps TensorFlow, a student's grading and long measurements out of its own process:
each runs in a worker it starts, talks to in JSON (never pickle), and ends when it is done. The
five workers (training, batched training, a batch's grading, a cluster task's grading, the
false-alarm measurement) share this one helper, so they end the same way:

- a worker starts in a session of its own, and ending it ends its whole tree: its session and
  group, and every descendant still found under it, one that called setsid() included
  (`leftovers.kill_tree`); `die_with_parent` adds the kernel's signal when this thread dies;
- its stderr goes to a temporary file, so a chatty worker never blocks on a full pipe, and only
  the tail is read back for the error that says why it died;
- a line that is not a JSON object (a library's stray print) is skipped; the output ends when
  the worker has ended and its lines are read, even if a descendant still holds the pipe;
- `timeout` bounds how long a read or a wait may take (WorkerTimeout); None waits as long as
  the worker lives;
- a Registry holds the workers running now, so another thread can stop them all (an
  interrupted run, a deadline).
"""

from __future__ import annotations

import contextlib
import json
import locale
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

from . import leftovers
from .errors import WorkerError, WorkerTimeout
from .messages import msg

TRAINING_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}  # TF quiet; one hash seed in every worker
STDERR_TAIL = 2000  # characters of a failed worker's stderr kept for its error
_READ_BYTES = 1 << 16
_POLL_S = 0.5  # how often a silent pipe checks whether its worker has ended


class Registry:
    """The workers of one kind running now (added at start, removed when closed)."""

    def __init__(self) -> None:
        self._live: set = set()
        self._lock = threading.Lock()

    def add(self, worker: "Worker") -> None:
        with self._lock:
            self._live.add(worker)

    def discard(self, worker: "Worker") -> None:
        with self._lock:
            self._live.discard(worker)

    def live(self) -> list:
        with self._lock:
            return list(self._live)

    def kill_all(self) -> None:
        """End every registered worker's tree now (from any thread); their owners see them die."""
        for worker in self.live():
            worker.kill()


class Worker:
    """One `python -m module` process. `env`: variables set over this process's environment;
    `stderr`: keep it for errors (False: discarded); `die_with_parent`: the signal the kernel
    sends the worker when the thread that started it dies (None: none); `registry`: where it is
    listed while it runs. Use it as a context manager: leaving ends the tree and frees its files."""

    def __init__(self, module: str, *, env: dict | None = None, stderr: bool = True, die_with_parent: int | None = None,
                 registry: Registry | None = None) -> None:
        self.module = module
        self.encoding = locale.getpreferredencoding(False)  # what a text-mode pipe would use
        self._errors = tempfile.TemporaryFile() if stderr else None
        self._buffer = b""
        self._eof = False
        self._registry = registry
        preexec = None
        if die_with_parent is not None:
            def preexec(signum=int(die_with_parent)):
                leftovers.die_with_parent(signum)
        try:
            self.process = subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self._errors if stderr else subprocess.DEVNULL, bufsize=0,
                                            env=dict(os.environ, **env) if env else None, start_new_session=True,
                                            preexec_fn=preexec)
        except BaseException:
            if self._errors is not None:
                self._errors.close()
            raise
        found = leftovers.identity(self.process.pid)
        self._start = found.start if found is not None else 0
        if registry is not None:
            registry.add(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- talking -------------------------------------------------------------------------------

    def send(self, message: "dict | str", last: bool = False) -> None:
        """One line on the worker's stdin (a dict as JSON; a str is JSON text already); `last`:
        then close stdin, for a worker that reads it to the end. A dead worker: BrokenPipeError."""
        line = message if isinstance(message, str) else json.dumps(message)
        self.process.stdin.write((line.rstrip("\n") + "\n").encode(self.encoding))
        if last:
            self.process.stdin.close()

    def close_input(self) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def messages(self, timeout: float | None = None):
        """The JSON objects the worker writes, one per line, until its stdout ends; other lines
        are skipped. `timeout`: seconds for the whole iteration (WorkerTimeout past it). Breaking
        out and calling again goes on where the last call stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            line = self._line(deadline, timeout)
            if line is None:
                return
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                yield message

    def _line(self, deadline: float | None, timeout: float | None) -> str | None:
        stdout = self.process.stdout.fileno()
        poller = select.poll()
        poller.register(stdout, select.POLLIN | select.POLLHUP | select.POLLERR)
        while b"\n" not in self._buffer:
            if self._eof:
                rest, self._buffer = self._buffer, b""
                return rest.decode(self.encoding, "replace") if rest.strip() else None
            left = None if deadline is None else deadline - time.monotonic()
            # poll, not select: a long-lived grader holds descriptors past select()'s FD_SETSIZE (1024)
            wait_s = _POLL_S if left is None else max(0.0, min(left, _POLL_S))
            ready = poller.poll(wait_s * 1000)
            if not ready:
                if self.process.poll() is not None:  # it ended and all it wrote is read: a descendant still holding the pipe is not waited for
                    self._eof = True
                elif left is not None and left <= 0:
                    raise self.timed_out(timeout)
                continue
            chunk = os.read(stdout, _READ_BYTES)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(self.encoding, "replace")

    def wait(self, timeout: float | None = None) -> int:
        """The worker's exit code, once it has ended (WorkerTimeout if not within `timeout`)."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise self.timed_out(timeout) from None

    # --- failing -------------------------------------------------------------------------------

    def stderr_tail(self, limit: int = STDERR_TAIL) -> str:
        """The last `limit` characters of what the worker wrote on stderr, stripped ("" if not kept)."""
        if self._errors is None or self._errors.closed:
            return ""
        with contextlib.suppress(OSError):
            size = os.fstat(self._errors.fileno()).st_size
            self._errors.seek(max(0, size - 4 * limit))
            return self._errors.read().decode(self.encoding, "replace").strip()[-limit:]
        return ""

    def died(self, grace_s: float = 5.0) -> WorkerError:
        """The error for a worker whose output ended before its answer: its exit code (waited
        for at most `grace_s`) and the tail of its stderr."""
        try:
            code = self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            code = None
        tail = self.stderr_tail()
        return WorkerError(msg("worker.died", module=self.module, code="?" if code is None else code),
                           hint=tail, code=code, stderr=tail)

    def timed_out(self, seconds) -> WorkerTimeout:
        tail = self.stderr_tail()
        return WorkerTimeout(msg("worker.timeout", module=self.module, seconds=seconds), hint=tail,
                             code=self.process.poll(), stderr=tail)

    # --- ending --------------------------------------------------------------------------------

    def terminate(self) -> None:
        """SIGTERM to the worker's group: a worker that handles it ends its own run cleanly."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the worker's whole tree: its session, its group, every descendant found (all
        seen in one look while the worker lives, so a child that left its session is found)."""
        leftovers.kill_tree(self.process.pid, self._start, self.process.pid)

    def close(self) -> None:
        """End the tree (what a finished worker left in its session goes too), reap the worker,
        free its pipes and stderr file, and take it out of its registry."""
        try:
            self.kill()
            self.process.wait()
        finally:
            for stream in (self.process.stdin, self.process.stdout, self._errors):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            if self._registry is not None:
                self._registry.discard(self)


def stop_all(workers: list, grace_s: float = 15.0) -> None:
    """SIGTERM every worker's group, give them `grace_s` together to end their runs cleanly, then
    end each tree: nothing they started outlives them."""
    for worker in workers:
        worker.terminate()
    deadline = time.monotonic() + grace_s
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        worker.kill()
        worker.process.wait()


__all__ = ["Worker", "Registry", "stop_all", "TRAINING_ENV", "STDERR_TAIL"]
