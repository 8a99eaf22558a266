"""Nothing a run starts outlives it: processes by their real identity, temporary folders by owner.

Without bubblewrap (a student's `grade check`, a teacher's `--allow-unsandboxed`) there is no
cgroup to empty, so the grader remembers every process it starts as (pid, start time, session)
read from /proc: a pid alone can be reused, a name can be faked. At the end of a run it kills
that process's session, its process group and every descendant it can still find; a student's
child that calls setsid() is found as a descendant while its parent lives.

A run killed outright (SIGKILL) cleans nothing, so each temporary folder carries an `.owner`
file (the grader process's identity) and a `.processes` file (what it started); the next run
sweeps every folder whose owner is gone, killing what that folder's run left behind first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

OWNER_FILE, PROCESSES_FILE = ".owner", ".processes"
PREFIXES = ("grader-", "grader-art-", "grader-check-")
LEGACY_STALE_S = 6 * 3600  # a folder from before owner files: swept once this old


@dataclass(frozen=True)
class Identity:
    """A process as the kernel knows it: the start time (clock ticks since boot) tells a reused pid apart."""

    pid: int
    start: int
    session: int
    group: int
    parent: int

    def line(self) -> str:
        return f"{self.pid} {self.start} {self.session}\n"


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """In a child, before exec (`preexec_fn`): the kernel sends `signum` to it when the thread
    that started it dies. For children of a Dask worker thread: a worker killed with -9 would
    otherwise leave its grading or training processes running, unseen by anyone."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)


def identity(pid: int) -> Identity | None:
    """The live process `pid`, or None (gone, or not readable)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    if fields[0] == "Z":  # a zombie has ended; only its parent's wait is missing
        return None
    return Identity(pid, int(fields[19]), int(fields[3]), int(fields[2]), int(fields[1]))


def alive(pid: int, start: int) -> bool:
    found = identity(pid)
    return found is not None and found.start == start


def _all_processes() -> list[Identity]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (process := identity(int(entry))) is not None:
            found.append(process)
    return found


def belongs(process: Identity, root: Identity, processes: list[Identity]) -> bool:
    """`process` is `root`, or was started no earlier and is in the session or group `root`
    leads, or descends from it. A root that leads no session or group is only followed down."""
    if process.start < root.start:
        return False
    if process.pid == root.pid:
        return process.start == root.start
    if root.session == root.pid and process.session == root.pid:
        return True
    if root.group == root.pid and process.group == root.pid:
        return True
    parents = {p.pid: p for p in processes}
    seen, current = set(), process
    while current.parent in parents and current.parent not in seen:
        seen.add(current.parent)
        current = parents[current.parent]
        if current.pid == root.pid and current.start == root.start:
            return True
    return False


def kill_tree(pid: int, start: int, session: int | None = None) -> int:
    """SIGKILL the process `pid` (if it is still the one that started at `start`), the session
    and group it leads, and its descendants, until none is left; returns how many were killed.
    For a root that already ended, what is left of the session it led (`session` == `pid`)."""
    live = identity(pid)
    root = live if live is not None and live.start == start else Identity(pid, start, -1 if session is None else session, -1, 0)
    me = identity(os.getpid())
    killed = 0
    for _ in range(100):
        processes = _all_processes()
        victims = [p for p in processes if p.pid != os.getpid() and belongs(p, root, processes)
                   and not (me is not None and p.session == me.session and p.pid == me.session)]
        if not victims:
            return killed
        for victim in victims:
            with contextlib.suppress(OSError):
                os.kill(victim.pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.02)
    return killed


def mark_owner(folder: Path) -> None:
    """Write who owns `folder`, so a later run can tell it was left behind."""
    me = identity(os.getpid())
    (folder / OWNER_FILE).write_text(me.line() if me else f"{os.getpid()} 0 0\n")


def record(folder: Path, pid: int) -> Identity | None:
    """Remember a process this run started (in memory by the caller, on disk for a later sweep)."""
    process = identity(pid)
    if process is not None:
        with open(folder / PROCESSES_FILE, "a") as handle:
            handle.write(process.line())
    return process


def _read_identities(path: Path) -> list[tuple[int, int, int]]:
    rows = []
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and all(p.isdigit() for p in parts):
                rows.append(tuple(int(p) for p in parts))
    return rows


def _unmount_under(folder: Path) -> None:
    """A root run mounts tmpfs scratches inside its folder: unmount them before removing it."""
    with contextlib.suppress(OSError):
        targets = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if len(line.split()) > 1]
        for target in sorted(targets, key=len, reverse=True):
            if target == str(folder) or target.startswith(str(folder) + "/"):
                subprocess.run(["umount", "-l", target], capture_output=True)


def sweep(base: Path | None = None) -> list[Path]:
    """Remove the grader's temporary folders (this user's) whose owner process is gone, after
    killing the processes their run left; returns what was removed."""
    base = Path(base or tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for folder in entries:
        if not folder.name.startswith(PREFIXES):
            continue
        try:
            info = folder.lstat()
            if not folder.is_dir() or folder.is_symlink() or info.st_uid != os.geteuid():
                continue
        except OSError:
            continue
        owner = _read_identities(folder / OWNER_FILE)
        if owner:
            pid, start, _ = owner[0]
            if alive(pid, start):
                continue
        elif time.time() - info.st_mtime < LEGACY_STALE_S:
            continue  # no owner file yet (being created), or from an older grader: leave it a while
        for pid, start, session in _read_identities(folder / PROCESSES_FILE):
            kill_tree(pid, start, session)
        _unmount_under(folder)
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    return removed


@contextlib.contextmanager
def owned_tempdir(prefix: str):
    """A temporary folder that a later run sweeps if this process dies before removing it."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        mark_owner(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["Identity", "identity", "alive", "kill_tree", "belongs", "mark_owner", "record", "sweep", "owned_tempdir",
           "OWNER_FILE", "PROCESSES_FILE", "PREFIXES"]
