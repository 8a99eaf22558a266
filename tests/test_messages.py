"""The message catalog: both languages say the same things, every key the code uses exists,
and rendering follows the reader's language all the way down."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.messages import Joined, Localized, Message, catalog, language_from_env, msg, placeholders, render

from .spanish import spanish_words

GRADER = Path(__file__).resolve().parent.parent / "grader"


def test_both_languages_have_the_same_keys_and_parameters():
    es, en = catalog("es"), catalog("en")
    assert sorted(set(es) ^ set(en)) == []
    different = {key: (placeholders(es[key]), placeholders(en[key])) for key in es
                 if placeholders(es[key]) != placeholders(en[key])}
    assert different == {}


def test_every_key_the_code_names_exists():
    used = set()
    for path in GRADER.rglob("*.py"):
        for key in re.findall(r"""\b(?:msg|Message|text)\(\s*["']([a-z0-9_]+\.[a-z0-9_.]+)["']""", path.read_text()):
            used.add((key, path.relative_to(GRADER).as_posix()))
    assert len(used) > 100  # the scan really found the code's messages
    missing = sorted((key, where) for key, where in used if key not in catalog("es"))
    assert missing == []


def test_english_catalog_has_no_spanish():
    leaks = {key: words for key, value in catalog("en").items() if (words := spanish_words(value))}
    assert leaks == {}


def test_every_template_formats_with_its_own_parameters():
    for lang in ("es", "en"):
        for key, template in catalog(lang).items():
            params = {name: 1.5 for name in placeholders(template)}
            try:
                template.format_map(params)
            except (ValueError, TypeError):  # a spec like {n:d} or {x!r} on a float: try text and ints
                template.format_map({name: 2 for name in params})


def test_rendering_nests_and_follows_the_language():
    inner = [msg("rubric.missing_field"), msg("rubric.unknown_field")]
    outer = Message("rubric.field", {"file": "r.json", "field": "x", "problem": Joined(inner, " / ")})
    assert render(outer, "es") == "r.json: campo x: falta / campo desconocido (¿un error de tipeo?)"
    assert render(outer, "en") == "r.json: field x: missing / unknown field (a typo?)"
    assert render({"a": [outer], "b": 3}, "en") == {"a": ["r.json: field x: missing / unknown field (a typo?)"], "b": 3}
    assert render(Localized({"es": "hola", "en": "hello"}), "en") == "hello"
    assert render(Localized("solo"), "en") == "solo"
    assert render("texto del estudiante", "en") == "texto del estudiante"  # plain text is never translated
    assert render(outer, "fr") == render(outer, "es")  # unknown language: the course's


def test_an_unknown_key_fails_loudly():
    with pytest.raises(KeyError, match="no.such.key"):
        render(msg("no.such.key"), "es")


@pytest.mark.parametrize("environ, lang", [({}, "es"), ({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "es_AR.UTF-8"}, "es"),
                                           ({"LANG": "es_AR.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"), ({"LANG": "C.UTF-8"}, "es")])
def test_terminal_language_from_environment(environ, lang):
    assert language_from_env(environ) == lang
