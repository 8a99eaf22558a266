"""Can this machine grade? Asked before anyone is graded, and again when a grading looks like the
grader's own environment failed.

A grading that cannot work here (no TensorFlow, a Keras 2, no sandbox, no data, a venv the
sandbox user cannot read) must never turn into a class of zeros blamed on the students. So
`grade FILE`, `grade FOLDER` (once, in the batch's parent), the cluster client and the
Gradescope autograder call `ensure_ready` first, and stop with what is missing and the one
command that fixes it (`NotReady`, exit 5; `DataError` exit 3 and `SandboxUnavailable` exit 4
keep their codes):

    stack    the teacher's TensorFlow pin (the `grader` distribution's extra "teacher") against
             the installed TensorFlow, and Keras >= 3, from package metadata (nothing imported)
    sandbox  bubblewrap builds a namespace (unless --allow-unsandboxed)
    data     Fashion-MNIST where `data.locate` finds it
    kernel   one real kernel, in the same Sandbox, at the same level, through the same nbclient
             machinery and memo preamble the grading uses, that imports what the grader provides
             and reads the data where `keras.datasets.fashion_mnist.load_data()` looks

During grading (`environment_fault`), a student's run that failed the way a broken environment
fails (the preamble's own check, or an import of a provided package that fails) is only a
suspicion: a student can raise `ModuleNotFoundError('keras')` themselves. It becomes the
grader's fault only if the kernel probe, which runs no student code, fails too.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import preflight
from .errors import DataError, NotReady, SandboxUnavailable
# what the grader's venv gives the student's process, and the preamble's line when one of them
# cannot be found or read (grader/execute/artifacts.py writes it)
from .execute.artifacts import ENVIRONMENT_MARK as ENV_MARK, PROVIDED_PACKAGES as PROVIDED
from .kinds import CellStatus, SandboxLevel
from .messages import Message, msg

FALLBACK_PIN = "tensorflow-cpu==2.21.*"  # pyproject.toml's extra "teacher", when the metadata lacks it
PROBE_MARK = "GRADER-READY "
IMPORT_ERRORS = ("ModuleNotFoundError", "ImportError", "PermissionError", "OSError")
FAULT_ENVIRONMENT, FAULT_RETRAIN = "environment", "retrain"
BATCH_STOPPING = (FAULT_ENVIRONMENT,)  # a fault every other submission of the batch would hit too


@dataclass(frozen=True)
class GraderFault:
    """Why a submission's grading failed on the grader's side: `kind` (environment, retrain) and
    the reason. Such a result is `grader_error`, scores nothing, and is graded again next run."""

    kind: str
    reason: Message | str

    def to_json(self) -> dict:
        return {"kind": self.kind, "reason": self.reason}


@dataclass(frozen=True)
class ReadinessReport:
    """What `ensure_ready` found: the pin and the stack, the sandbox level, the data, and how long
    the kernel probe took (None: not run)."""

    pin: str
    tensorflow: tuple[str, str] | None
    keras: str | None
    sandbox_level: SandboxLevel
    data_folder: str
    kernel_s: float | None = None
    kernel_versions: dict = field(default_factory=dict)


def teacher_pin() -> str:
    """The TensorFlow requirement of the installed grader's extra "teacher" (`tensorflow-cpu==2.21.*`)."""
    try:
        requires = metadata.requires("grader") or []
    except metadata.PackageNotFoundError:
        requires = []
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        if re.search(r"""extra\s*==\s*["']teacher["']""", marker) and re.match(r"\s*(tensorflow|tf-nightly)", spec):
            return spec.strip().replace(" ", "")
    return FALLBACK_PIN


def _pin_allows(pin: str, version: str) -> bool:
    """Whether `version` satisfies the pin's version part (packaging when present, else == X.Y.* / == X.Y.Z)."""
    wanted = re.sub(r"^[A-Za-z0-9_.\-\[\]]+", "", pin)
    try:
        from packaging.specifiers import SpecifierSet
        return SpecifierSet(wanted).contains(version, prereleases=True)
    except Exception:  # packaging absent or a form it refuses: the two forms the pin takes
        exact = wanted.removeprefix("==")
        if exact.endswith(".*"):
            return version == exact[:-2] or version.startswith(exact[:-1])
        return version == exact


def install_command(pin: str) -> str:
    return f'pip install "{pin}"'


def stack_problem(stack: preflight.Stack, pin: str) -> Message | None:
    """Why this Python cannot grade (the teacher's TensorFlow, Keras 3), with the fix; None: it can."""
    fix = install_command(pin)
    if stack.tensorflow is None:
        return msg("readiness.no_tensorflow", pin=pin, command=fix)
    name, version = stack.tensorflow
    if not _pin_allows(pin, version):
        return msg("readiness.wrong_tensorflow", name=name, version=version, pin=pin, command=fix)
    if stack.keras is None or preflight._version_tuple(stack.keras) < (3,):
        return msg("readiness.no_keras3", version=stack.keras or "—", command=fix)
    return None


def _probe_source(data_files: tuple[str, ...]) -> str:
    """The probe cell: what the grader provides imports, and the data reads where Keras looks."""
    return f"""import json as _j, os as _o, sys as _s
_report = {{"versions": {{}}, "errors": {{}}}}
for _name in {PROVIDED!r}:
    try:
        _report["versions"][_name] = str(getattr(__import__(_name), "__version__", "?"))
    except BaseException as _exc:
        _report["errors"][_name] = f"{{type(_exc).__name__}}: {{_exc}}"[:500]
_folder = _o.path.join(_o.environ.get("KERAS_HOME") or _o.path.expanduser("~/.keras"), "datasets", "fashion-mnist")
try:
    for _file in {data_files!r}:
        with open(_o.path.join(_folder, _file), "rb") as _handle:
            _handle.read(16)
    if "keras" in _report["versions"]:
        (_x, _y), _ = __import__("keras").datasets.fashion_mnist.load_data()
        _report["n_train"] = int(len(_x))
except BaseException as _exc:
    _report["errors"]["data"] = f"{{type(_exc).__name__}}: {{_exc}}"[:500]
print({PROBE_MARK!r} + _j.dumps(_report), flush=True)
"""


def _fix_for(error: str) -> str:
    """The one command for a kernel that cannot import what it needs: readable files, or a reinstall."""
    if "Permission" in error or "Errno 13" in error:
        return f"chmod -R a+rX {os.path.realpath(sys.prefix)}"
    checkout_setup = Path(__file__).resolve().parent.parent / "scripts" / "setup.sh"
    return "bash scripts/setup.sh" if checkout_setup.exists() else f'pip install --force-reinstall "{teacher_pin()}"'


def probe_kernel(rubric, options, dataset) -> tuple[float, dict]:
    """Start one kernel exactly as the grading does and ask it what it can import and read;
    (seconds, versions) or NotReady. Runs no student code, so its answer is the environment's."""
    import nbformat

    from .data import FILES
    from .execute import artifacts
    from .execute.interrupt import run_interruptibly
    from .execute.notebook import run_notebook
    from .kinds import RunStatus
    from .messages import render
    from .sandbox import Sandbox

    started = time.monotonic()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_probe_source(FILES))])
    sandbox = Sandbox(rubric.limits, dataset.folder, level=options.sandbox_level)
    try:
        with sandbox:
            artifacts.install(sandbox, rubric.contract_path, None)
            status, cells, message, _, _ = run_interruptibly(run_notebook(nb, sandbox, sandbox.work / "probe.log"))
            log_file = sandbox.work / "probe.log"
            log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
    finally:
        sandbox.close()
    seconds = time.monotonic() - started
    printed = "".join(o.get("text", "") for o in nb.cells[0].get("outputs", []) if o.get("output_type") == "stream")
    line = next((ln for ln in printed.splitlines() if ln.startswith(PROBE_MARK)), None)
    if line is None:
        why = render(message, "en") if message else (cells[0].evalue if cells and cells[0].evalue else log.strip())
        why = f"{status}: {render(why, 'en')}"[:1500] if status != RunStatus.COMPLETED or why else "no answer"
        raise NotReady(msg("readiness.kernel_failed", error=why), hint=msg("readiness.fix", command=_fix_for(str(why))))
    report = json.loads(line[len(PROBE_MARK):])
    errors = report.get("errors") or {}
    if errors:
        what, error = next(iter(errors.items()))
        # TensorFlow imports Keras: the package named is the one whose file failed, if the error says
        culprit = re.search(rf"[/\\]({'|'.join(PROVIDED)})[/\\]", error) if what != "data" else None
        raise NotReady(msg("readiness.kernel_cannot_import" if what != "data" else "readiness.kernel_no_data",
                           package=culprit.group(1) if culprit else what, error=error),
                       hint=msg("readiness.fix", command=_fix_for(error)))
    return seconds, dict(report.get("versions") or {})


def ensure_ready(rubric, options, *, kernel: bool = True) -> ReadinessReport:
    """Raise NotReady, SandboxUnavailable or DataError unless this machine can grade with
    `options` (the stack, the sandbox, the data, then one real kernel: a few seconds)."""
    from . import data as data_module
    from .sandbox import probe

    pin, stack = teacher_pin(), preflight.inspect()
    if (problem := stack_problem(stack, pin)) is not None:
        raise NotReady(problem)
    if options.sandbox_level == SandboxLevel.BWRAP and (reason := probe()) is not None:
        raise SandboxUnavailable(msg("sandbox.unavailable", reason=reason), hint=msg("sandbox.unavailable_hint"))
    dataset = data_module.locate(options.data_dir)  # DataError: how to get the data
    kernel_s, versions = probe_kernel(rubric, options, dataset) if kernel else (None, {})
    return ReadinessReport(pin, stack.tensorflow, stack.keras, options.sandbox_level, str(dataset.folder), kernel_s,
                           versions)


def _suspicious_cell(cell) -> str | None:
    """The provided package a failed cell could not import, if its error looks like that."""
    if cell.status != CellStatus.ERROR or cell.ename not in IMPORT_ERRORS:
        return None
    words = f"{cell.evalue} {cell.traceback[-3000:]}"
    return next((name for name in PROVIDED if re.search(rf"\b{name}\b", words)), None)


def suspected_package(execution) -> str | None:
    """A provided package the run says it could not import or read (a claim: the preamble's line
    in the kernel log, or a failed cell's import error), or None."""
    for line in (execution.log_tail or "").splitlines():
        if line.startswith(ENV_MARK):
            try:
                faults = json.loads(line[len(ENV_MARK):])
                return str(faults[0][0])
            except (ValueError, IndexError, TypeError, KeyError):
                continue
    return next((name for cell in execution.cells if (name := _suspicious_cell(cell))), None)


def environment_fault(execution, rubric, options, dataset) -> GraderFault | None:
    """The grader's fault when the run suggests a broken environment AND the kernel probe agrees;
    None otherwise (the student's outcome stands)."""
    package = suspected_package(execution)
    if package is None:
        return None
    try:
        probe_kernel(rubric, options, dataset)
    except (NotReady, SandboxUnavailable, DataError) as exc:
        return GraderFault(FAULT_ENVIRONMENT, exc.as_message())
    return None


__all__ = ["ensure_ready", "ReadinessReport", "GraderFault", "teacher_pin", "stack_problem", "probe_kernel",
           "environment_fault", "suspected_package", "FALLBACK_PIN", "PROVIDED", "ENV_MARK", "FAULT_ENVIRONMENT",
           "FAULT_RETRAIN", "BATCH_STOPPING"]
