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


def test_package_names_resolve_lazily_and_nothing_else_does():
    """`grader/__init__.py` loads `pipeline` and `selfcheck` on first use (PEP 562): the names are
    the same objects, listed by dir(), and a misspelt one is still an AttributeError."""
    from grader import pipeline, selfcheck

    assert grader.grade is pipeline.grade and grader.Options is pipeline.Options and grader.check is selfcheck.check
    assert set(grader.__all__) <= set(dir(grader))
    with pytest.raises(AttributeError, match="gradee"):
        grader.gradee  # noqa: B018
