"""Run a command the way Docker runs a container by default, as far as namespaces go:
`python tests/container_sim.py CMD...` drops CAP_SYS_ADMIN and installs a seccomp filter like
Docker's default profile for a process without that capability (unshare, setns, mount and
clone with a namespace flag fail with EPERM; clone3 with ENOSYS, so libc falls back to clone),
then execs CMD. Gradescope grades in such a container (an unprivileged Docker container), which
is where bubblewrap's probe is measured. x86-64 only.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
PR_CAPBSET_DROP, CAP_SYS_ADMIN = 24, 21
AUDIT_ARCH_X86_64 = 0xC000003E
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
CLONE, MOUNT, UNSHARE, SETNS, CLONE3 = 56, 165, 272, 308, 435
NAMESPACE_FLAGS = 0x7E020000  # NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
LD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06


def _program() -> list[tuple[int, int, int, int]]:
    deny, nosys, allow = ERRNO | EPERM, ERRNO | ENOSYS, ALLOW
    return [
        (LD, 0, 0, 4), (JEQ, 1, 0, AUDIT_ARCH_X86_64), (RET, 0, 0, allow),
        (LD, 0, 0, 0),
        (JEQ, 0, 1, UNSHARE), (RET, 0, 0, deny),
        (JEQ, 0, 1, MOUNT), (RET, 0, 0, deny),
        (JEQ, 0, 1, SETNS), (RET, 0, 0, deny),
        (JEQ, 0, 1, CLONE3), (RET, 0, 0, nosys),
        (JEQ, 0, 3, CLONE), (LD, 0, 0, 16), (JSET, 0, 1, NAMESPACE_FLAGS), (RET, 0, 0, deny),
        (RET, 0, 0, allow),
    ]


def confine() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")
    program = _program()
    raw = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(raw)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Program(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def drop_effective_sys_admin() -> list[str]:
    """capsh, when present, also removes CAP_SYS_ADMIN from the effective and permitted sets
    (the bounding set only limits what an exec can gain)."""
    return ["capsh", "--drop=cap_sys_admin", "--"] if os.path.exists("/usr/sbin/capsh") else []


def reachable_interpreter() -> list[str]:
    """A command prefix under which uid 65534 can run this interpreter, as in Gradescope's image
    (where setup.sh installs into /opt/grader-venv). Here the interpreter may live under /root
    (mode 0700); a private mount namespace, seen by this run alone, lays a tmpfs over /root with
    only the interpreter's folder bound back in. Used by the bundle's tests and
    bench/gradescope_bundle.py."""
    real = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))  # …/versions/3.11.7
    if not real.startswith("/root/"):
        return []
    script = (f'set -e; mkdir -p /run/grader-py && mount --bind "{real}" /run/grader-py && '
              f'mount -t tmpfs -o mode=0755 grader-root /root && mkdir -p "{real}" && '
              f'mount --bind /run/grader-py "{real}" && exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh"]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: container_sim.py CMD [ARGS...]")
    confine()
    os.execvp(sys.argv[1], sys.argv[1:])
