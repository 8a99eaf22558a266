"""The cage a student's code runs in, as measured on Debian 12 machines (docs/design.md, "The pipeline, by stage" and "Threat model").

Layers, from the outside in:
  cgroup v1 (memory, pids)  real memory and process caps; the grader kills leftovers through it
  bubblewrap (started as root, no user namespace)  new mount/pid/net/ipc/uts namespaces; only
      /usr, the interpreter, its packages, the data (read-only) and a size-capped scratch exist
  prlimit                   RLIMIT_AS (a generous backstop), FSIZE, NOFILE, CORE, CPU
  setpriv                   drops to uid/gid 65534 with no capabilities and no-new-privs

bwrap runs as root only to set up binds (so /root/.pyenv and a clone in /root work); the
student's process is a real unprivileged host user, so a bound file it should not read stays
unreadable, and a kill of a host process fails. Where bubblewrap cannot run, `probe()` keeps the
exact reason; `Sandbox(level="none")` runs with rlimits only and says so in every result.
`Sandbox(level="unprivileged")` is the fallback for a container where bubblewrap cannot build
namespaces (Gradescope's): no namespaces, but cgroups where they can be made, rlimits, and the
student's process dropped by setpriv to uid/gid 65534, so that files readable only by the grader
(the autograder's source and reference files) stay unreadable. It needs root, and an
interpreter and packages that uid can read.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import leftovers
from .errors import SandboxUnavailable
from .kinds import SandboxLevel
from .messages import Message, msg, render
from .rubric import Limits  # re-exported: the sandbox is where the limits are enforced

NOBODY = 65534
HOME = "/home/student"
INPUT = "/opt/grader"
OUTBOX = "/opt/grader-out"
MEMO = "/opt/grader-memo"  # the training memo's entries, read-only, openable by exact key only
REQUESTS = "/opt/grader-requests"  # delegated fits' requests: the student's process writes, the grader reads
ANSWERS = "/opt/grader-answers"  # the grader's answers to them, read-only
REQUEST_INODES = 256  # files the request folder can hold at once: a flood of names stops here
OUTBOX_MB = 512
CONN_MB = 16  # the kernel's sockets, connection file and log: what a student writes there stops here, not at the host's disk
CGROUP_ROOT = Path("/sys/fs/cgroup")
# the student's process: uid/gid 65534, no groups, no capabilities, no way back up
_DROP = ["/usr/bin/setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def _userns_filter() -> bytes | None:
    """A seccomp program (classic BPF) for bwrap's --seccomp: unshare and clone with
    CLONE_NEWUSER fail with EPERM, clone3 (whose flags a filter cannot read) with ENOSYS so libc
    falls back to clone; everything else is allowed. bwrap's own --disable-userns needs
    --unshare-user, which would map the student's uid onto root's: not used. x86_64 only; on
    another architecture None, and the report says userns_cap "none"."""
    import platform
    import struct

    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    program = [(ld, 0, 0, 4), (jeq, 0, 6, 0xC000003E),  # arch is x86_64, else allow
               (ld, 0, 0, 0), (jeq, 6, 0, 435),  # clone3 -> ENOSYS
               (jeq, 1, 0, 272), (jeq, 0, 2, 56),  # unshare, clone -> look at the flags
               (ld, 0, 0, 16), (jset, 1, 0, 0x10000000),  # CLONE_NEWUSER -> EPERM
               (ret, 0, 0, allow), (ret, 0, 0, eperm), (ret, 0, 0, enosys)]
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


USERNS_FILTER = _userns_filter()


@dataclass(frozen=True)
class SandboxReport:
    """What protected this run: goes into result.json and the report."""

    level: SandboxLevel
    uid: int | None
    network: bool
    memory_cap: str  # "cgroup" | "rlimit" | "none"
    process_cap: str
    scratch_cap: str
    limits: dict = field(default_factory=dict)
    note: Message | str = ""
    userns_cap: str = "none"  # "seccomp": the sandboxed code cannot create a user namespace of its own

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", SandboxLevel(self.level))

    def to_json(self) -> dict:
        """Field by field (not `asdict`, which would take a Message `note` apart); `note` stays a
        Message until the result is rendered."""
        return {f.name: dict(self.limits) if f.name == "limits" else getattr(self, f.name) for f in fields(self)}


def probe() -> Message | str | None:
    """None if bubblewrap can build a namespace here; otherwise why not (bwrap's own words when
    it ran and refused, as a plain string)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return msg("sandbox.no_bwrap")
    try:
        done = subprocess.run([bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return msg("sandbox.bwrap_did_not_start", error=str(exc))
    if done.returncode != 0:
        return (done.stderr or done.stdout or f"exit {done.returncode}").strip()
    return None


def capabilities() -> dict:
    """The sandbox level this machine reaches, as plain data (a cluster's workers must all reach
    the client's): bubblewrap ("ok" or why not), root, and which cgroup controllers exist."""
    reason = probe()
    return {"bwrap": "ok" if reason is None else render(reason, "en"), "root": _is_root(),
            "cgroups": [c for c in ("memory", "pids") if (CGROUP_ROOT / c / "cgroup.procs").exists()]}


def _is_root() -> bool:
    return os.geteuid() == 0


STALE_S = 6 * 3600


def _sweep_stale(base: Path) -> None:
    """Remove empty cgroups left by a grader process that was killed (kill -9 skips cleanup)."""
    now = time.time()
    for path in base.glob("*"):
        try:
            if path.is_dir() and now - path.stat().st_mtime > STALE_S and not (path / "cgroup.procs").read_text().strip():
                path.rmdir()
        except OSError:
            continue


class _Cgroups:
    """One memory and one pids cgroup (v1) per run, or nothing where they cannot be made."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.paths: dict[str, Path] = {}
        if not _is_root():
            return
        for controller in ("memory", "pids"):
            base = CGROUP_ROOT / controller
            if not (base / "cgroup.procs").exists():
                continue
            path = base / "grader" / name
            _sweep_stale(base / "grader")
            try:
                path.mkdir(parents=True, exist_ok=True)
                if controller == "memory":
                    (path / "memory.limit_in_bytes").write_text(str(limits.memory_mb << 20))
                    swap = path / "memory.memsw.limit_in_bytes"
                    if swap.exists():
                        swap.write_text(str(limits.memory_mb << 20))
                else:
                    (path / "pids.max").write_text(str(limits.pids))
            except OSError:
                continue
            self.paths[controller] = path

    def join_command(self) -> list[str]:
        """A shell prefix that moves itself into the cgroups, then execs the rest."""
        if not self.paths:
            return []
        script = "".join(f'echo $$ > "{path}/cgroup.procs" && ' for path in self.paths.values())
        return ["/bin/sh", "-c", script + 'exec "$@"', "sh"]

    def oom_killed(self) -> bool:
        path = self.paths.get("memory")
        if not path:
            return False
        try:
            for line in (path / "memory.oom_control").read_text().splitlines():
                if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                    return True
            return int((path / "memory.failcnt").read_text()) > 0 and \
                int((path / "memory.max_usage_in_bytes").read_text()) >= int((path / "memory.limit_in_bytes").read_text()) - (8 << 20)
        except (OSError, ValueError):
            return False

    def pids_exhausted(self) -> bool:
        path = self.paths.get("pids")
        if not path:
            return False
        try:
            return int((path / "pids.events").read_text().split()[1]) > 0
        except (OSError, ValueError, IndexError):
            return False

    def kill_all(self) -> None:
        for _ in range(50):
            pids = set()
            for path in self.paths.values():
                try:
                    pids |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for path in self.paths.values():
            for _ in range(20):
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


class Sandbox:
    """A scratch folder plus a command wrapper; use as a context manager.

    Inside: HOME=/home/student (the scratch, capped), data at ~/.keras/datasets/fashion-mnist
    (read-only), grader inputs at /opt/grader (read-only), the kernel's connection folder at the
    same path as outside (sockets must be reachable from both sides).
    """

    def __init__(self, limits: Limits, data_folder: Path | None, *, level: SandboxLevel | str = SandboxLevel.BWRAP,
                 memo_folder: Path | None = None, delegate_mb: int = 0) -> None:
        self.limits = limits
        self.memo_folder = memo_folder
        self.delegate_mb = delegate_mb if memo_folder is not None else 0  # 0: no delegated fits
        self.level = SandboxLevel(level)  # ValueError for anything else
        self.data_folder = data_folder
        self.name = uuid.uuid4().hex[:12]
        leftovers.sweep()  # folders (and processes) of earlier runs killed before they could clean up
        self.work = Path(tempfile.mkdtemp(prefix="grader-"))
        leftovers.mark_owner(self.work)
        self._tracked: list[leftovers.Identity] = []
        self.scratch = self.work / "home"
        self.input = self.work / "in"
        self.conn = self.work / "conn"
        self.outbox = self.work / "out"  # the harvest's own space: a full scratch cannot starve it
        self.requests = self.work / "requests"  # delegated fits (grader/delegate): the student's to write
        self.answers = self.work / "answers"  # and the grader's answers, read-only inside
        for folder in (self.scratch, self.input, self.conn, self.outbox, self.requests, self.answers):
            folder.mkdir()
        self.answers.chmod(0o755)
        self.work.chmod(0o755)
        self.input.chmod(0o755)
        self._mounted: list[Path] = []
        self._cgroups: _Cgroups | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "Sandbox":
        if self.level == SandboxLevel.BWRAP:
            reason = probe()
            if reason:
                raise SandboxUnavailable(msg("sandbox.unavailable", reason=reason), hint=msg("sandbox.unavailable_hint"))
            if not _is_root():
                raise SandboxUnavailable(msg("sandbox.needs_root"), hint=msg("sandbox.needs_root_hint"))
        if self.level == SandboxLevel.UNPRIVILEGED and not _is_root():
            raise SandboxUnavailable(msg("sandbox.unprivileged_needs_root"), hint=msg("sandbox.needs_root_hint"))
        if _is_root():
            capped = [(self.scratch, self.limits.scratch_mb, ""), (self.outbox, OUTBOX_MB, ""), (self.conn, CONN_MB, "")]
            if self.delegate_mb:
                capped.append((self.requests, self.delegate_mb, f",nr_inodes={REQUEST_INODES}"))
            for folder, megabytes, extra in capped:
                size = f"size={megabytes}m,mode=0755,uid={NOBODY},gid={NOBODY}{extra}"
                done = subprocess.run(["mount", "-t", "tmpfs", "-o", size, "grader-scratch", str(folder)],
                                      capture_output=True, text=True)
                if done.returncode == 0:
                    self._mounted.append(folder)
            datasets = self.scratch / ".keras" / "datasets"
            datasets.mkdir(parents=True, exist_ok=True)
            for folder in (self.scratch, self.conn, self.outbox, self.requests, datasets.parent, datasets):
                os.chown(folder, NOBODY, NOBODY)
        self._cgroups = _Cgroups(self.name, self.limits)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def track(self, pid: int) -> None:
        """Remember a process started for this run: `kill_all` ends it, its session and its
        descendants (all a run has where there is no cgroup), and a later run sweeps them if
        this one is killed outright."""
        process = leftovers.record(self.work, pid)
        if process is not None:
            self._tracked.append(process)

    def close(self) -> None:
        self.kill_all()
        if self._cgroups is not None:
            self._cgroups.remove()
            self._cgroups = None
        for folder in self._mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        self._mounted = []
        shutil.rmtree(self.work, ignore_errors=True)

    def kill_all(self) -> None:
        if self._cgroups is not None:
            self._cgroups.kill_all()
        for process in self._tracked:
            leftovers.kill_tree(process.pid, process.start, process.session)

    @property
    def conn_capped(self) -> bool:
        """The connection folder is its own small tmpfs (not the host's temp folder)."""
        return self.conn in self._mounted

    def oom_killed(self) -> bool:
        return bool(self._cgroups and self._cgroups.oom_killed())

    def pids_exhausted(self) -> bool:
        return bool(self._cgroups and self._cgroups.pids_exhausted())

    # -- what the student's process sees ---------------------------------------------------
    def environment(self) -> dict[str, str]:
        home = HOME if self.level == SandboxLevel.BWRAP else str(self.scratch)
        return {
            "HOME": home,
            "PATH": f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": f"{home}/.config/matplotlib",
            "IPYTHONDIR": f"{home}/.ipython",
            "KERAS_HOME": f"{home}/.keras",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            # 3, not 2: with op determinism on (the grader's setting, grader/memo) tf.data logs a
            # harmless C++ "NodeDef mentions attribute use_unbounded_threadpool" error into every
            # cell that trains; TensorFlow's real errors still reach the cell as Python exceptions
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "MALLOC_ARENA_MAX": "2",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            # a stand-in `grader` package: a notebook that ends with `from grader import check; check()`
            # (the student self-check) must not fail, nor run a self-check, while being graded
            "PYTHONPATH": f"{self.input_path}/shim",
        }

    @property
    def input_path(self) -> str:
        return INPUT if self.level == SandboxLevel.BWRAP else str(self.input)

    @property
    def memo_path(self) -> str | None:
        """Where the student's process finds the memo's entries (None: no memo)."""
        if self.memo_folder is None:
            return None
        return MEMO if self.level == SandboxLevel.BWRAP else str(self.memo_folder)

    @property
    def delegating(self) -> bool:
        """Delegated fits are possible: bubblewrap (the request folder is the student's own, the
        answers are read-only) and a memo store to be served from."""
        return bool(self.delegate_mb) and self.level == SandboxLevel.BWRAP and self.requests in self._mounted

    def delegate_config(self) -> dict | None:
        """Where the student's process writes requests and reads answers (None: no delegation)."""
        if not self.delegating:
            return None
        return {"requests": REQUESTS, "answers": ANSWERS}

    @property
    def outbox_path(self) -> str:
        return OUTBOX if self.level == SandboxLevel.BWRAP else str(self.outbox)

    def wrap(self, argv: list[str]) -> list[str]:
        """The full command line that runs `argv` inside the sandbox."""
        rlimits = [
            "/usr/bin/prlimit",
            f"--as={self.limits.address_space_mb << 20}",
            f"--fsize={self.limits.file_size_mb << 20}",
            f"--nofile={self.limits.open_files}",
            "--core=0",
            f"--cpu={self.limits.total_timeout_s * (os.cpu_count() or 1) + 60}",
        ]
        if self.level != SandboxLevel.BWRAP:
            if self.data_folder is not None:
                target = self.scratch / ".keras" / "datasets" / "fashion-mnist"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.symlink_to(self.data_folder)
            env = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in self.environment().items())]
            if self.level == SandboxLevel.UNPRIVILEGED:
                cgroup = self._cgroups.join_command() if self._cgroups else []
                return cgroup + env + rlimits + ["--", *_DROP, *argv]
            return env + rlimits + ["--", *argv]
        cgroup = self._cgroups.join_command() if self._cgroups else []
        args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                "--ro-bind", "/usr", "/usr",
                "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
                "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/dev/shm"]
        for optional in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts"):
            if os.path.exists(optional):
                args += ["--ro-bind", optional, optional]
        made: set[str] = {"/", "/usr", "/tmp", "/proc", "/dev", "/home"}
        args += ["--perms", "0755", "--dir", "/home"]

        def bind(flag: str, source: Path | str, target: str) -> None:
            parts = Path(target).parts
            for depth in range(2, len(parts)):
                parent = str(Path(*parts[:depth]))
                if parent not in made:
                    args.extend(["--perms", "0755", "--dir", parent])
                    made.add(parent)
            args.extend([flag, str(source), target])
            made.add(target)

        for prefix in sorted({sys.prefix, sys.base_prefix}):
            real = os.path.realpath(prefix)
            bind("--ro-bind", real, real)
            if real != prefix:
                bind("--symlink", real, prefix)
        bind("--bind", self.scratch, HOME)
        bind("--ro-bind", self.input, INPUT)
        bind("--bind", self.outbox, OUTBOX)
        bind("--bind", self.conn, str(self.conn))
        if self.data_folder is not None:
            bind("--ro-bind", self.data_folder, f"{HOME}/.keras/datasets/fashion-mnist")
        if self.memo_folder is not None:
            bind("--ro-bind", self.memo_folder, MEMO)
        if self.delegating:
            bind("--bind", self.requests, REQUESTS)
            bind("--ro-bind", self.answers, ANSWERS)
        args += ["--chdir", HOME, "--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        if USERNS_FILTER is None:
            return cgroup + args + ["--", *rlimits, "--", *_DROP, *argv]
        # bwrap reads the filter from an inherited descriptor; the launcher closes every other one,
        # so a shell opens it as fd 9 just before exec'ing bwrap
        filter_path = self.work / "userns.bpf"
        if not filter_path.exists():
            filter_path.write_bytes(USERNS_FILTER)
        return cgroup + ["/bin/sh", "-c", 'exec "$@" 9<"$0"', str(filter_path)] + args + \
            ["--seccomp", "9", "--", *rlimits, "--", *_DROP, *argv]

    def report(self, note: Message | str = "") -> SandboxReport:
        cg = self._cgroups.paths if self._cgroups else {}
        if self.level == SandboxLevel.NONE:
            return SandboxReport(SandboxLevel.NONE, os.geteuid(), True, "rlimit", "none",
                                 "tmpfs" if self._mounted else "rlimit", asdict(self.limits),
                                 note or msg("sandbox.unsandboxed_note"))
        if self.level == SandboxLevel.UNPRIVILEGED:
            return SandboxReport(SandboxLevel.UNPRIVILEGED, NOBODY, True,
                                 "cgroup" if "memory" in cg else "rlimit", "cgroup" if "pids" in cg else "none",
                                 "tmpfs" if self._mounted else "rlimit", asdict(self.limits),
                                 note or msg("sandbox.unprivileged_note"))
        return SandboxReport(SandboxLevel.BWRAP, NOBODY, False,
                             "cgroup" if "memory" in cg else "rlimit",
                             "cgroup" if "pids" in cg else "none",
                             "tmpfs" if self._mounted else "rlimit", asdict(self.limits), note,
                             "seccomp" if USERNS_FILTER is not None else "none")


__all__ = ["Sandbox", "Limits", "SandboxReport", "probe", "NOBODY", "HOME", "INPUT", "OUTBOX", "MEMO", "REQUESTS", "ANSWERS"]
