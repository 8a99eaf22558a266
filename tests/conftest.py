"""Shared fixtures: a small real Fashion-MNIST subset, a rubric for it, a shared retrain cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import data, pipeline, rubric

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
ASSIGNMENTS = ROOT / "assignments"
FILES = TESTS / "files"
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


def needs_root_sandbox():
    from grader.messages import render
    from grader.sandbox import probe

    reason = probe()
    if reason or os.geteuid() != 0:
        pytest.fail(f"the sandbox tests need root and bubblewrap here: {render(reason, 'en') if reason else 'not root'}")
