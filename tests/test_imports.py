"""What a process that needs one stage loads: each worker module, imported alone in a fresh
interpreter, leaves the report stack (matplotlib, jinja2, nbconvert, grader.report) unloaded,
and `import grader` alone loads none of its stages."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

REPORT_STACK = ("matplotlib", "jinja2", "nbconvert", "grader.report", "grader.pipeline")

# The batch worker grades a whole submission and writes its report.html: the report stack is its work.
RENDERS_REPORTS = {"grader.batch.worker"}
# Worker modules that still load the report stack through their package's own imports (files outside
# this test's reach); strict, so the entry fails as soon as the chain is cut.
KNOWN_CHAINS: dict[str, str] = {}

WORKERS = sorted(".".join(path.relative_to(ROOT).with_suffix("").parts) for path in (ROOT / "grader").rglob("*worker.py"))


def _loaded(statement: str, among: tuple[str, ...] = REPORT_STACK) -> list[str]:
    """The modules of `among` that `statement` leaves in sys.modules, run in a fresh interpreter."""
    program = (f"{statement}\nimport json, sys\n"
               f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {among!r} or m.startswith({among!r}))))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _params():
    for name in WORKERS:
        if name in RENDERS_REPORTS:
            yield pytest.param(name, marks=pytest.mark.skip(reason="renders report.html: the report stack is its job"))
        elif name in KNOWN_CHAINS:
            yield pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_CHAINS[name]))
        else:
            yield name


def test_the_glob_found_the_training_worker():
    assert {"grader.retrain.worker", "grader.retrain.batched_worker", "grader.batch.worker"} <= set(WORKERS)


@pytest.mark.parametrize("module", list(_params()))
def test_a_worker_alone_loads_no_report_stack(module):
    assert _loaded(f"import {module}") == []


def test_the_training_worker_loads_no_scipy():
    """scipy.stats is most of a worker's start-up; grader/initializers.py imports it only to build a distribution."""
    assert _loaded("import grader.retrain.worker", ("scipy",)) == []


def test_the_package_alone_loads_no_stage():
    assert _loaded("import grader") == []


def test_the_public_names_still_load_on_first_use():
    loaded = _loaded("from grader import grade, check, Options, GradeResult\nassert callable(grade) and callable(check)")
    assert "grader.pipeline" in loaded and "grader.report" in loaded
