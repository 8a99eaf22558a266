"""Shared fixtures: a small real Fashion-MNIST subset, a rubric for it, a shared retrain cache; and the
`sandbox` marker's check, made once before any fixture of a marked test is built."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from grader import data, pipeline, rubric

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
ASSIGNMENTS = ROOT / "assignments"
# Marks of tests whose own file does not declare them (a module's `pytestmark`, a test's decorator
# is where a mark belongs): a module by its path under tests/, one test by its node id there.
MARKS = {
    "execute/test_execute.py": ("sandbox",),
    "execute/test_execute.py::test_the_budget_interrupts_the_running_cell_and_harvests_what_ran": ("slow",),
    # timeouts waited out (20-30 s each on 2 cores): `make test-fast` stays under 10 minutes without them
    "execute/test_execute.py::test_a_kernel_that_ignores_the_budget_interrupt_ends_within_the_budget": ("slow",),
    "execute/test_execute.py::test_a_per_cell_timeout_in_the_middle_then_the_budget": ("slow",),
    "execute/test_execute.py::test_a_module_that_ignores_its_deadline_is_killed_and_says_why": ("slow",),
    "execute/test_sandbox.py": ("sandbox",),
    "execute/test_hostile.py": ("sandbox",),
    "execute/test_hostile_outbox.py": ("sandbox",),
    "execute/test_hostile_spoof.py": ("sandbox",),
    "execute/test_hostile.py::test_sleep_past_the_total_timeout": ("slow",),
    "batch/test_batch.py::test_folder_is_graded_and_resumed": ("sandbox", "slow"),
    "batch/test_batch.py::test_killed_worker_loses_nothing": ("sandbox", "slow"),
    "batch/test_batch.py::test_full_output_disk_gives_a_clear_error": ("sandbox",),
    "cluster/test_cluster.py::test_a_worker_without_slots_is_refused_by_name": ("cluster",),
    "cluster/test_cluster.py::test_local_cluster_grades_and_a_new_cluster_trains_nothing": ("sandbox", "cluster"),
    "cluster/test_cluster.py::test_a_worker_environment_fault_stops_the_cluster_batch_like_a_local_one": ("sandbox", "cluster"),
    "cluster/test_cluster.py::test_real_scheduler_and_workers_survive_a_killed_worker_and_a_killed_client":
        ("sandbox", "cluster"),
    "retrain/test_retrain.py::test_parallel_workers_and_the_memo_give_bitwise_the_results_of_one_worker": ("slow",),
}
# 6,000 training images: the protocol's first 5,000 validate, 1,000 train; fast but real.
SUBSET_TRAIN, SUBSET_TEST = 6000, 500


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/goldens/*.json from this run")


@pytest.fixture(scope="session")
def update_goldens(request) -> bool:
    return request.config.getoption("--update-goldens")


@pytest.fixture(scope="session")
def real_data() -> data.Dataset:
    return data.locate()  # raises DataError with install instructions if absent: no silent skip


@pytest.fixture(scope="session")
def subset(real_data, tmp_path_factory) -> data.Dataset:
    return data.build_subset(real_data, tmp_path_factory.mktemp("fmnist") / "subset", SUBSET_TRAIN, SUBSET_TEST)


@pytest.fixture(scope="session")
def reference_rubric() -> rubric.Rubric:
    return pipeline.load_rubric()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("retrain-cache")


@functools.cache
def _why_no_sandbox() -> str | None:
    from grader.messages import render
    from grader.sandbox import probe

    reason = probe()
    if reason:
        return render(reason, "en")
    return None if os.geteuid() == 0 else "not root"


def needs_root_sandbox():
    """Skip where the real sandbox (root and bubblewrap) cannot run, saying why. Under
    GRADER_REQUIRE_SANDBOX=1 (`make test`, so CI) it fails instead: a suite that skipped its sandbox
    tests proves nothing about the cage, and must not pass as if it did."""
    reason = _why_no_sandbox()
    if reason is None:
        return
    said = f"the sandbox tests need root and bubblewrap here: {reason}"
    if os.environ.get("GRADER_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"{said} (GRADER_REQUIRE_SANDBOX=1)")
    pytest.skip(said)


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.relative_to(TESTS).as_posix()
        for name in {*MARKS.get(module, ()), *MARKS.get(f"{module}::{item.originalname}", ())}:
            item.add_marker(getattr(pytest.mark, name))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("sandbox"):
        needs_root_sandbox()
