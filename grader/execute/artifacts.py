"""The harvest's round trip: put harvest.py and the contract into the sandbox, start it with
one launcher line, and copy what it wrote back out.

The copy trusts nothing in the outbox (the student's code shares it): only regular files with
the harvest's own names, opened without following links, each and all size-capped.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from ..memo.store import SOURCE as MEMO_SOURCE

HARVEST_SOURCE = Path(__file__).with_name("harvest.py")
MAX_ARTIFACT_FILE = 200 * 1024 * 1024
MAX_ARTIFACTS_TOTAL = 400 * 1024 * 1024
MAX_NAMES = 5000
ARTIFACT_NAME = re.compile(r"^(manifest\.json|\d{4}-(array\.npy|model\.json))$")
# The self-check does not run while a teacher grades: a notebook ending in
# `from grader import check; check()` imports this stand-in. Its words are course Spanish
# printed into the student's own notebook, not grader output, so they stay as they are.
SHIM = ('"""Stand-in for grader inside the sandbox: self-check is skipped while a teacher grades."""\n'
        "def check(*args, **kwargs):\n"
        "    print('grader: la auto-revisión no se ejecuta durante la corrección')\n")


def install(sandbox, contract_path: Path, memo_config: dict | None = None) -> None:
    """Write harvest.py, the contract, the `grader` stand-in and the training memo (its code and
    memo.json) into the sandbox's input folder, which the student's process sees read-only."""
    (sandbox.input / "harvest.py").write_bytes(HARVEST_SOURCE.read_bytes())
    (sandbox.input / "fitmemo.py").write_bytes(MEMO_SOURCE.read_bytes())
    (sandbox.input / "memo.json").write_text(json.dumps(memo_config or {"store": None, "serve": False}))
    (sandbox.input / "contract.json").write_bytes(Path(contract_path).read_bytes())
    shim = sandbox.input / "shim" / "grader"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").write_text(SHIM)


# Before the student's first line, nothing of theirs has run: the packages the grader provides
# must be findable and readable by the sandbox's user. Looking them up costs milliseconds (a
# notebook that never imports Keras still pays nothing for it); what is wrong goes, as one
# line, to the process's own stderr (the kernel log), where grader/readiness.py reads it as a
# suspicion that its probe, outside the student's reach, confirms or not.
ENVIRONMENT_CHECK = (
    "def _grader_environment(packages, mark):\n"
    "    import importlib.util, json, os, sys\n"
    "    faults = []\n"
    "    for name in packages:\n"
    "        try:\n"
    "            spec = importlib.util.find_spec(name)\n"
    "        except BaseException as exc:\n"
    "            faults.append([name, f'{type(exc).__name__}: {exc}'[:300]])\n"
    "            continue\n"
    "        if spec is None:\n"
    "            faults.append([name, 'not installed'])\n"
    "        elif spec.origin and os.path.exists(spec.origin) and not os.access(spec.origin, os.R_OK):\n"
    "            faults.append([name, f'cannot read {spec.origin}'])\n"
    "    if faults:\n"
    "        print(mark + json.dumps(faults), file=sys.__stderr__ or sys.stderr, flush=True)\n")
PROVIDED_PACKAGES = ("numpy", "tensorflow", "keras")  # grader/readiness.py: PROVIDED
ENVIRONMENT_MARK = "grader-environment: "  # grader/readiness.py: ENV_MARK


def environment_check() -> str:
    """Python source that says, on the process's stderr, which provided package is missing or
    unreadable (nothing when all are there). It leaves no name behind."""
    return (f"_grader_ns = {{'__name__': 'grader_environment'}}\n"
            f"exec({ENVIRONMENT_CHECK!r}, _grader_ns)\n"
            f"_grader_ns['_grader_environment']({PROVIDED_PACKAGES!r}, {ENVIRONMENT_MARK!r})\n"
            f"del _grader_ns\n")


def memo_preamble(sandbox) -> str:
    """Python source run before the student's first line: the check of the provided packages,
    then the grader's TensorFlow settings and the `fit` wrapper, installed on import of
    TensorFlow/Keras (see grader/memo/fitmemo.py). It leaves no name behind in the student's
    namespace."""
    inp = sandbox.input_path
    return environment_check() + (f"_grader_ns = {{'__name__': 'grader_memo'}}\n"
            f"exec(compile(open({inp + '/fitmemo.py'!r}).read(), 'grader-memo', 'exec'), _grader_ns)\n"
            f"_grader_ns['install'](__import__('json').load(open({inp + '/memo.json'!r})))\n"
            f"del _grader_ns\n")


def launcher(sandbox, entry: str, first_argument: str, extra: str = "") -> str:
    """Python source that loads harvest.py (as seen inside the sandbox) into a namespace of its
    own and calls `entry(first_argument, outbox, contract[, extra])`: the notebook's last cell runs
    `launcher(sb, "harvest", "globals()")`, a module run `launcher(sb, "run_module", repr(path),
    "deadline_s=…")`."""
    inp = sandbox.input_path
    more = f", {extra}" if extra else ""
    return (f"_grader_ns = {{'__name__': 'grader_harvest'}}\n"
            f"exec(compile(open({inp + '/harvest.py'!r}).read(), 'grader-harvest', 'exec'), _grader_ns)\n"
            f"_grader_ns[{entry!r}]({first_argument}, {sandbox.outbox_path!r}, {inp + '/contract.json'!r}{more})\n")


def copy_out(source: Path, dest: Path) -> Path | None:
    """Copy regular files with expected names; never follow a link the student planted.
    Returns `dest`, or None when no manifest came out."""
    try:
        dir_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        for name in sorted(os.listdir(dir_fd))[:MAX_NAMES]:
            if not ARTIFACT_NAME.match(name):
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


__all__ = ["install", "launcher", "environment_check", "memo_preamble", "ENVIRONMENT_MARK",
           "PROVIDED_PACKAGES", "copy_out", "HARVEST_SOURCE", "SHIM", "ARTIFACT_NAME", "MAX_ARTIFACT_FILE",
           "MAX_ARTIFACTS_TOTAL"]
