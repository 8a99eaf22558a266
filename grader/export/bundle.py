"""`grade gradescope-bundle`: the zip Gradescope builds its autograder image from.

Gradescope unzips it into /autograder/source, runs `setup.sh` once as root on an Ubuntu image,
then, for every submission, runs `run_autograder` (copied to /autograder/run_autograder), which
must leave /autograder/results/results.json. The zip holds the project itself (package,
reference files, pyproject), so the image grades with exactly this version, rubric and messages.

setup.sh installs the grader into a virtualenv outside the source folder (/opt/grader-venv),
bubblewrap when the image has it, and the data (the zip's data/, else Debian's package) into
/usr/share/datasets/fashion-mnist, world-readable; it verifies the data with the grader's own
check and fails the image build when there is none (every run would fail otherwise); then it
locks the source folder and the installed package to root (`autograder lock`). The lock is the point of the layout: where
bubblewrap cannot build namespaces, the student's code runs as uid 65534, and that user can
read the interpreter and its packages but not the reference files.

Every path in both scripts comes from environment variables with Gradescope's defaults
(GRADER_AUTOGRADER_ROOT=/autograder, GRADER_VENV=/opt/grader-venv, GRADER_PYTHON), so a test
can play Gradescope in a temporary folder.

The time budget (`Budget`) is the other point: Gradescope kills run_autograder at its timeout
(at most 40 minutes) and the student then gets a 0 with nothing shown, so the whole run must end
before it: startup, the student's kernel (with its harvest reserve inside), the grader's
retraining (every fit trains: the memo is off without bubblewrap), the report. The bundle
records the timeout it was built for; at run time the kernel's limits are derived from it, and
the retraining gets a deadline.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import data as data_module
from ..errors import UsageError
from ..messages import msg
from ..rubric import reference_dir

GRADESCOPE_MAX_TIMEOUT_MIN = 40  # Gradescope's troubleshooting page: "up to a maximum of 40 minutes"
ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # fixed: the same project gives the same zip
CONFIG = "grader-autograder.json"

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu).
# `setup.sh --data-only` runs only the data steps (install, then verify), e.g. to test them.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
VENV="${GRADER_VENV:-/opt/grader-venv}"
PYTHON="${GRADER_PYTHON:-$VENV/bin/python}"
# where the grader looks by default (Debian's package installs there too); world-readable, since
# without bubblewrap the student's code reads it as user 65534 and the source folder is locked
DATA="${GRADER_DATA_TARGET:-/usr/share/datasets/fashion-mnist}"
export DEBIAN_FRONTEND=noninteractive

install_data() {
  # the bundle's own data/ (--data-dir) first; else Debian's package (verified below either way)
  if [ -d "$SOURCE/data" ]; then
    install -d -m 0755 "$DATA"
    install -m 0644 "$SOURCE"/data/* "$DATA"/
  else
    apt-get install -y --no-install-recommends dataset-fashion-mnist \
      || echo "grader setup: apt-get could not install dataset-fashion-mnist" >&2
  fi
}

verify_data() {
  # the grader's own check (grader.data.locate: the 4 files, their checksums); without data
  # every run would fail, so the image build fails here, with what to do
  if ! "$PYTHON" -m grader.export.autograder check-data --root "$ROOT" --data-dir "$DATA"; then
    echo "grader setup: FAILED: no verified Fashion-MNIST data; rebuild the bundle with --data-dir" >&2
    exit 3
  fi
}

if [ "${1:-}" = "--data-only" ]; then
  install_data
  verify_data
  exit 0
fi
apt-get update -y || true
# python3-venv and pip for the grader; util-linux has setpriv and prlimit (the unprivileged fallback)
apt-get install -y --no-install-recommends python3 python3-venv python3-pip python3-dev util-linux ca-certificates
# bubblewrap: used when the container lets it build namespaces (the grader measures this at every run)
apt-get install -y --no-install-recommends bubblewrap \
  || echo "grader setup: bubblewrap could not be installed; student code will run as user 65534 without it" >&2
install_data
python3 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install "$SOURCE[teacher]"
chmod -R a+rX "$VENV"
verify_data
"$VENV/bin/python" -m grader.export.autograder lock --root "$ROOT"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in /autograder.
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
VENV="${GRADER_VENV:-/opt/grader-venv}"
PYTHON="${GRADER_PYTHON:-$VENV/bin/python}"
cd "$ROOT" || exit 1
exec "$PYTHON" -m grader.export.autograder run --root "$ROOT" "$@"
"""


@dataclass(frozen=True)
class Cost:
    """What one grading costs at the `unprivileged` level (memo off), as `fixed + per_epoch × E`
    seconds for E homework epochs, measured on MEASURED_CPUS cores (bench/gradescope_bundle.py
    and bench/grade_class.py); on fewer CPUs it scales by MEASURED_CPUS / cpus. `execute` is a
    protocol-following notebook (it trains what the grader retrains), `retrain` the grader's own
    fits. `startup` (interpreter, sandbox probe, the readiness check's kernel probe), `after`
    (extract, checks, report, copies) and `margin` (for a loaded Gradescope machine, and the
    last write) are reserves well above what was measured (after: 5-7 s)."""

    # alice, memo off, 2 cores: 1 epoch 206.5 s execute + 146.2 s retrain (bench/gradescope_bundle.py,
    # 2026-12-04); 20 epochs 573.5 + 337.3 s (bench/grade_class.py, 2026-12-01): the line through both
    execute_fixed_s: float = 187.2
    execute_per_epoch_s: float = 19.3
    retrain_fixed_s: float = 136.2
    retrain_per_epoch_s: float = 10.1
    measured_cpus: float = 2.0
    startup_s: int = 90
    after_s: int = 60
    margin_s: int = 60


COST = Cost()


@dataclass(frozen=True)
class Budget:
    """How the run's seconds are spent inside Gradescope's timeout (`cap_s`), all measured from
    the start of run_autograder. The kernel gets what the rest leaves; the retraining ends at
    `retrain_deadline_s` whatever happened before it, so the report and results.json are always
    written before the cap."""

    cap_s: int
    epochs: int
    cpus: float
    kernel_s: int  # limits.total_timeout_s for this run (the harvest reserve is inside it)
    kernel_need_s: int  # what a protocol-following notebook is estimated to need
    retrain_need_s: int
    startup_s: int
    after_s: int
    margin_s: int

    @property
    def fits(self) -> bool:
        return self.kernel_s >= self.kernel_need_s

    @property
    def retrain_deadline_s(self) -> int:
        return self.cap_s - self.after_s - self.margin_s

    @property
    def watchdog_s(self) -> int:
        """The last moment: results.json is written (no score: the grader ran out of time) and
        the run ends, if the grader is still busy then."""
        return self.cap_s - self.margin_s // 2

    def limits(self, limits):
        """The rubric's limits, capped for this run (never raised): the total budget, the cell
        timeout inside it, and the harvest reserve no more than a third of the budget."""
        total = max(1, min(limits.total_timeout_s, self.kernel_s))
        reserve = min(limits.harvest_reserve_s, max(1, total // 3))
        return {"total_timeout_s": total, "harvest_reserve_s": reserve,
                "cell_timeout_s": max(1, min(limits.cell_timeout_s, total - reserve))}

    def figures(self) -> dict:
        return {"cap_s": self.cap_s, "epochs": self.epochs, "cpus": self.cpus, "kernel_s": self.kernel_s,
                "kernel_need_s": self.kernel_need_s, "retrain_need_s": self.retrain_need_s,
                "startup_s": self.startup_s, "after_s": self.after_s, "margin_s": self.margin_s,
                "retrain_deadline_s": self.retrain_deadline_s}


def plan_budget(timeout_min: float, epochs: int, cpus: float = COST.measured_cpus, cost: Cost = COST) -> Budget:
    cap = int(timeout_min * 60)
    scale = cost.measured_cpus / cpus
    kernel_need = math.ceil((cost.execute_fixed_s + cost.execute_per_epoch_s * epochs) * scale)
    retrain_need = math.ceil((cost.retrain_fixed_s + cost.retrain_per_epoch_s * epochs) * scale)
    kernel = cap - cost.startup_s - retrain_need - cost.after_s - cost.margin_s
    return Budget(cap, epochs, cpus, kernel, kernel_need, retrain_need, cost.startup_s, cost.after_s, cost.margin_s)


def most_epochs(timeout_min: float, cpus: float, cost: Cost = COST, up_to: int = 1000) -> int:
    """The most homework epochs whose estimated grading fits the timeout (0: not even one)."""
    best = 0
    for epochs in range(1, up_to + 1):
        if not plan_budget(timeout_min, epochs, cpus, cost).fits:
            break
        best = epochs
    return best


def project_root() -> Path:
    """The source checkout the running grader comes from (the bundle ships it whole)."""
    here = Path(__file__).resolve().parent.parent.parent
    if not (here / "pyproject.toml").is_file() or not (here / "grader" / "__init__.py").is_file():
        raise UsageError(msg("export.bundle_needs_checkout", path=str(here)), hint=msg("export.bundle_needs_checkout_hint"))
    return here


def _files(root: Path) -> list[tuple[Path, str]]:
    found = [(root / "pyproject.toml", "pyproject.toml")]
    if (root / "README.md").is_file():
        found.append((root / "README.md", "README.md"))
    for path in sorted((root / "grader").rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if relative.parts[:2] == ("grader", "reference"):
            continue  # an installed copy of reference/: the top-level folder is the one shipped
        found.append((path, relative.as_posix()))
    for path in sorted(reference_dir().glob("*.json")):
        found.append((path, f"reference/{path.name}"))
    return found


def _add(archive: zipfile.ZipFile, name: str, content: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
    archive.writestr(info, content)


def check_budget(timeout_min: float, epochs: int, cpus: float) -> Budget:
    """The budget of a bundle, or a UsageError with the figures when a protocol-following
    notebook and the grader's retraining cannot both fit in Gradescope's timeout."""
    if not 0 < timeout_min <= GRADESCOPE_MAX_TIMEOUT_MIN:
        raise UsageError(msg("export.bundle_timeout_range", most=GRADESCOPE_MAX_TIMEOUT_MIN, found=timeout_min))
    if cpus <= 0:
        raise UsageError(msg("export.bundle_cpus_min", found=cpus))
    budget = plan_budget(timeout_min, epochs, cpus)
    if not budget.fits:
        best = most_epochs(timeout_min, cpus)
        hint = msg("export.bundle_too_long_hint", best=best) if best else msg("export.bundle_too_long_none")
        raise UsageError(msg("export.bundle_too_long", epochs=epochs, minutes=timeout_min, cpus=cpus,
                             need=budget.kernel_need_s + budget.retrain_need_s + budget.startup_s + budget.after_s
                             + budget.margin_s, cap=budget.cap_s, kernel=budget.kernel_need_s,
                             retrain=budget.retrain_need_s, reserves=budget.startup_s + budget.after_s + budget.margin_s),
                         hint=hint)
    return budget


def build_bundle(out: Path, data_dir: Path | None = None, epochs: int | None = None, lang: str = "es",
                 timeout_min: float = GRADESCOPE_MAX_TIMEOUT_MIN, cpus: float = COST.measured_cpus) -> Path:
    """Write the autograder zip to `out`; returns its path. `data_dir`: ship these (verified)
    Fashion-MNIST files in the zip, for an image whose archive lacks dataset-fashion-mnist.
    `timeout_min` and `cpus`: the autograder timeout and CPUs chosen in Gradescope's settings;
    a protocol that cannot be graded within them is refused (UsageError, with the figures)."""
    root = project_root()
    if epochs is None:
        from ..rubric import load
        epochs = load().protocol.epochs
    check_budget(timeout_min, epochs, cpus)
    dataset = data_module.locate(str(data_dir)) if data_dir is not None else None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".part")
    config = {"epochs": epochs, "lang": lang, "data": dataset is not None, "timeout_min": timeout_min, "cpus": cpus}
    with zipfile.ZipFile(temporary, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
        _add(archive, CONFIG, (json.dumps(config, indent=1) + "\n").encode())
        for path, name in _files(root):
            _add(archive, name, path.read_bytes())
        if dataset is not None:
            for name in (*data_module.FILES, data_module.SUBSET_MANIFEST):
                if (dataset.folder / name).is_file():
                    _add(archive, f"data/{name}", (dataset.folder / name).read_bytes())
    temporary.replace(out)
    return out


__all__ = ["build_bundle", "check_budget", "plan_budget", "most_epochs", "Budget", "Cost", "COST", "project_root",
           "SETUP_SH", "RUN_AUTOGRADER", "CONFIG", "GRADESCOPE_MAX_TIMEOUT_MIN"]
