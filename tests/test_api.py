"""The public surface: every module declares `__all__`, every name in it exists, nothing private
leaks, and the package's own API is the short list the README documents."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import grader

MODULES = sorted(info.name for info in pkgutil.walk_packages(grader.__path__, "grader.")
                 if not info.name.endswith("__main__"))


def test_the_walk_found_the_stages():
    for stage in ("grader.checks", "grader.execute", "grader.extract", "grader.retrain", "grader.report", "grader.batch"):
        assert stage in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_declares_what_it_exports(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list) and exported, f"{name} has no __all__"
    assert [n for n in exported if not hasattr(module, n)] == []
    assert [n for n in exported if n.startswith("_") and n != "__version__"] == []
    assert len(exported) == len(set(exported))


def test_package_api():
    assert sorted(grader.__all__) == sorted(["grade", "check", "Options", "GradeResult", "__version__"])
    assert callable(grader.grade) and callable(grader.check)
