"""`grade gradescope-bundle`: the zip Gradescope builds its autograder image from.

Gradescope unzips it into /autograder/source, runs `setup.sh` once as root on an Ubuntu image,
then, for every submission, runs `run_autograder` (copied to /autograder/run_autograder), which
must leave /autograder/results/results.json. The zip holds the project itself (package,
reference files, pyproject), so the image grades with exactly this version, rubric and messages.

setup.sh installs the grader into a virtualenv outside the source folder (/opt/grader-venv),
bubblewrap when the image has it, and the data; then it locks the source folder and the
installed package to root (`autograder lock`). The lock is the point of the layout: where
bubblewrap cannot build namespaces, the student's code runs as uid 65534, and that user can
read the interpreter and its packages but not the reference files.

Every path in both scripts comes from environment variables with Gradescope's defaults
(GRADER_AUTOGRADER_ROOT=/autograder, GRADER_VENV=/opt/grader-venv, GRADER_PYTHON), so a test
can play Gradescope in a temporary folder.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from .. import data as data_module
from ..errors import UsageError
from ..messages import msg
from ..rubric import reference_dir

ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # fixed: the same project gives the same zip
CONFIG = "grader-autograder.json"

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu).
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
VENV="${GRADER_VENV:-/opt/grader-venv}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -y || true
# python3-venv and pip for the grader; util-linux has setpriv and prlimit (the unprivileged fallback)
apt-get install -y --no-install-recommends python3 python3-venv python3-pip python3-dev util-linux ca-certificates
# bubblewrap: used when the container lets it build namespaces (the grader measures this at every run)
apt-get install -y --no-install-recommends bubblewrap \
  || echo "grader setup: bubblewrap could not be installed; student code will run as user 65534 without it" >&2
if [ ! -d "$SOURCE/data" ]; then
  apt-get install -y --no-install-recommends dataset-fashion-mnist \
    || echo "grader setup: dataset-fashion-mnist is not in this image's archive; rebuild the bundle with --data-dir" >&2
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install "$SOURCE[teacher]"
chmod -R a+rX "$VENV"
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


def build_bundle(out: Path, data_dir: Path | None = None, epochs: int | None = None, lang: str = "es") -> Path:
    """Write the autograder zip to `out`; returns its path. `data_dir`: ship these (verified)
    Fashion-MNIST files in the zip, for an image whose archive lacks dataset-fashion-mnist."""
    root = project_root()
    dataset = data_module.locate(str(data_dir)) if data_dir is not None else None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".part")
    config = {"epochs": epochs, "lang": lang, "data": dataset is not None}
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


__all__ = ["build_bundle", "project_root", "SETUP_SH", "RUN_AUTOGRADER", "CONFIG"]
