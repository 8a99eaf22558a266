"""What a self-check needs (grader/preflight.py): each missing piece is one sentence with the one
command that fixes it, in both languages. The real environments (no TensorFlow, the student's
own `tensorflow`) are in tests/cli/test_student_install.py; here the same function reads stacks
this machine does not have (Keras 2, TensorFlow 2.15, Python 3.14)."""

from __future__ import annotations

import pytest

from grader import preflight
from grader.messages import msg, render
from grader.preflight import Stack


def test_this_machine_can_self_check():
    stack = preflight.inspect()
    assert stack.tensorflow is not None and stack.keras.startswith("3.")
    assert preflight.problem(stack) is None


def python(found: str, command: str):
    """The sentence for a Python that TensorFlow does not publish for (the supported range is preflight.PYTHONS)."""
    (low_major, low_minor), (high_major, high_minor) = preflight.PYTHONS
    return msg("preflight.python", found=found, low=f"{low_major}.{low_minor}", high=f"{high_major}.{high_minor}", command=command)


@pytest.mark.parametrize("stack, sentence, command", [
    (Stack((3, 11), None, None), lambda c: msg("preflight.no_tensorflow", command=c), 'pip install "tensorflow>=2.16"'),
    (Stack((3, 11), ("tensorflow", "2.15.1"), "2.15.0"),
     lambda c: msg("preflight.old_tensorflow", name="tensorflow", version="2.15.1", command=c),
     'pip install --upgrade "tensorflow>=2.16"'),
    (Stack((3, 10), ("tensorflow-macos", "2.13.0"), "2.13.1"),
     lambda c: msg("preflight.old_tensorflow", name="tensorflow-macos", version="2.13.0", command=c),
     'pip install --upgrade "tensorflow-macos>=2.16"'),
    (Stack((3, 12), ("tensorflow", "2.17.0"), "2.15.0"), lambda c: msg("preflight.keras2", version="2.15.0", command=c),
     'pip install --upgrade "keras>=3"'),
    (Stack((3, 14), ("tensorflow", "2.21.0"), "3.12.0"), lambda c: python("3.14", c), "python3.13 -m venv .venv"),
    (Stack((3, 9), None, None), lambda c: python("3.9", c), "python3.13 -m venv .venv"),
])
def test_each_missing_piece_is_one_sentence_with_its_command(stack, sentence, command):
    problem = preflight.problem(stack)
    assert problem is not None
    es, en = render(problem, "es"), render(problem, "en")
    assert es == render(sentence(command), "es") and en == render(sentence(command), "en")
    assert command in es and command in en
    assert "Tiene" not in en and "Este" not in en


def test_versions_are_read_as_numbers():
    assert preflight._version_tuple("2.16.0rc1") == (2, 16) and preflight._version_tuple("2.9.3") < (2, 16)
    assert preflight.problem(Stack((3, 13), ("tf-nightly", "2.22.0.dev20261130"), "3.13.0.dev2026")) is None


def test_the_package_declares_what_the_preflight_and_the_readme_say():
    """Base dependencies name no TensorFlow (the student keeps theirs); the teacher's extra pins one;
    the declared Python range is the preflight's, and the student guide (docs/student.md) states both."""
    tomllib = pytest.importorskip("tomllib")
    from .conftest import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.lower().startswith(("tensorflow", "keras")) for dep in project["dependencies"])
    assert project["optional-dependencies"]["teacher"] == ["tensorflow-cpu==2.21.*"]
    assert "grader[teacher]" in project["optional-dependencies"]["cluster"]
    (low_major, low_minor), (high_major, high_minor) = preflight.PYTHONS
    assert project["requires-python"] == f">={low_major}.{low_minor},<{high_major}.{high_minor + 1}"
    readme = (ROOT / "docs" / "student.md").read_text()
    assert f"Python {low_major}.{low_minor} a {high_major}.{high_minor}" in readme and 'pip install "grader[teacher]"' in readme
