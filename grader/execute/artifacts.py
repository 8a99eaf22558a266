"""The harvest's round trip: put harvest.py and the contract into the sandbox, start it with
one launcher line, and copy what it wrote back out.

The copy trusts nothing in the outbox (the student's code shares it): only regular files with
the harvest's own names, opened without following links, each and all size-capped, and only the
bytes the harvest sealed. The seal (each file's sha256) reaches the grader on another channel
than the outbox, as the harvest finishes (a notebook's cell output, a module's stdout): a thread
that rewrites a file after the harvest, before the sandbox is stopped, changes bytes that no
longer match, and that file is not read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..memo.store import SOURCE as MEMO_SOURCE
from ..messages import Message, msg
from .harvest import SEAL_MARK

HARVEST_SOURCE = Path(__file__).with_name("harvest.py")
MAX_ARTIFACT_FILE = 200 * 1024 * 1024
MAX_ARTIFACTS_TOTAL = 400 * 1024 * 1024
MAX_NAMES = 5000
ARTIFACT_NAME = re.compile(r"^(manifest\.json|\d{4}-(array\.npy|model\.json))$")
MAX_SEAL = 1024 * 1024
"""The seal's bytes at most: MAX_NAMES names with their digests are under 500 KB."""
REFUSED_FILE = "refused.json"
"""Written by the copy into the grader's own folder (no artifact is named so): the sealed files it
did not copy, each with why, which the extraction then refuses by name."""
_CHUNK = 1 << 20
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
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


def parse_seal(seal) -> dict[str, str] | None:
    """The seal as the harvest sent it ({"files": {name: sha256}}), checked: artifact names and
    hex digests only, at most MAX_NAMES; None when it is not that shape."""
    files = seal.get("files") if isinstance(seal, dict) else None
    if not isinstance(files, dict) or len(files) > MAX_NAMES or "manifest.json" not in files:
        return None
    if not all(isinstance(name, str) and ARTIFACT_NAME.match(name) and isinstance(digest, str) and _DIGEST.match(digest)
               for name, digest in files.items()):
        return None
    return dict(files)


def seal_from_output(text: bytes) -> tuple[dict | None, bytes]:
    """(the seal a module run printed, its output without the seal's line). Exactly one line may
    carry it: none (the harvest did not finish) or two (one is forged) is no seal."""
    mark = SEAL_MARK.encode()
    lines = text.split(b"\n")
    sealed = [line for line in lines if line.startswith(mark)]
    rest = b"\n".join(line for line in lines if not line.startswith(mark))
    if len(sealed) != 1 or len(sealed[0]) > MAX_SEAL:
        return None, rest
    try:
        return json.loads(sealed[0][len(mark):]), rest
    except ValueError:
        return None, rest


@dataclass(frozen=True)
class Copied:
    """What the copy brought out: the folder (None when the manifest itself is not the sealed one)
    and why each sealed file that was not copied was refused (name -> Message)."""

    folder: Path | None
    refused: dict[str, Message] = field(default_factory=dict)
    note: Message | str = ""


def copy_out(source: Path, dest: Path, seal) -> Copied:
    """Copy the sealed files, streamed and hashed, never following a link the student planted.
    A file whose bytes are not the sealed ones (rewritten after the harvest), or that is gone, is
    not copied: it is named in REFUSED_FILE with why. Without a seal, or when manifest.json is not
    the sealed one, nothing is read (`folder` None, `note` says why)."""
    sealed = parse_seal(seal)
    if sealed is None:
        return Copied(None, {}, msg("execute.seal_missing"))
    try:
        dir_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return Copied(None, {}, msg("execute.seal_missing"))
    dest.mkdir(parents=True, exist_ok=True)
    refused: dict[str, Message] = {}
    total = 0
    try:
        for name in sorted(sealed):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            except OSError:
                refused[name] = msg("execute.sealed_file_gone", name=name)
                continue
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "rb") as handle, open(dest / name, "wb") as out:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    size = -1
                while size >= 0:
                    chunk = handle.read(_CHUNK)  # streamed: the copy holds one chunk, whatever the file's size
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > MAX_ARTIFACT_FILE or total + size > MAX_ARTIFACTS_TOTAL:
                        size = -1
                        break
                    digest.update(chunk)
                    out.write(chunk)
            if size < 0 or digest.hexdigest() != sealed[name]:
                (dest / name).unlink()
                refused[name] = msg("execute.sealed_file_changed", name=name)
                continue
            total += size
    finally:
        os.close(dir_fd)
    if "manifest.json" in refused:
        for name in sealed:
            (dest / name).unlink(missing_ok=True)
        return Copied(None, refused, msg("execute.manifest_changed"))
    if refused:
        (dest / REFUSED_FILE).write_text(json.dumps({name: message.key for name, message in refused.items()}))
    return Copied(dest, refused)


__all__ = ["install", "launcher", "environment_check", "memo_preamble", "ENVIRONMENT_MARK",
           "PROVIDED_PACKAGES", "copy_out", "Copied", "parse_seal", "seal_from_output", "REFUSED_FILE", "MAX_SEAL", "HARVEST_SOURCE", "SHIM", "ARTIFACT_NAME", "MAX_ARTIFACT_FILE",
           "MAX_ARTIFACTS_TOTAL"]
