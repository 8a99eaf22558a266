"""The message catalog: both languages say the same things, every key the code uses exists,
and rendering follows the reader's language all the way down."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.messages import Joined, Localized, Message, catalog, fill, language_from_env, msg, placeholders, render

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
                fill(template, params)
            except (ValueError, TypeError):  # a spec like {n:d} or {x!r} on a float: try text and ints
                fill(template, {name: 2 for name in params})


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


# Count nouns the catalogs use after a number, singular → plural, per language.
COUNT_NOUNS = {
    "es": {"época": "épocas", "capa": "capas", "punto": "puntos", "semilla": "semillas", "modelo": "modelos",
           "inicializador": "inicializadores", "celda": "celdas", "corrida": "corridas", "entrenamiento": "entrenamientos",
           "entrega": "entregas", "estudiante": "estudiantes", "trabajador": "trabajadores", "arreglo": "arreglos",
           "entrada": "entradas", "norma": "normas", "segundo": "segundos", "minuto": "minutos", "error": "errores",
           "verificación": "verificaciones", "ajuste": "ajustes", "fit": "fits", "kernel": "kernels", "archivo": "archivos",
           "núcleo": "núcleos", "proceso": "procesos", "vez": "veces", "tarea": "tareas", "ejercicio": "ejercicios",
           "curva": "curvas"},
    "en": {"epoch": "epochs", "layer": "layers", "point": "points", "seed": "seeds", "model": "models",
           "initializer": "initializers", "cell": "cells", "run": "runs", "training": "trainings", "submission": "submissions",
           "student": "students", "worker": "workers", "array": "arrays", "input": "inputs", "norm": "norms",
           "second": "seconds", "minute": "minutes", "error": "errors", "check": "checks", "fit": "fits", "kernel": "kernels",
           "file": "files", "core": "cores", "process": "processes", "time": "times", "exercise": "exercises",
           "curve": "curves"},
}
PLURAL_ARTICLE_BEFORE_ONE = {"es": r"\b(?:[Ll]os|[Ll]as|[Ss]us|[Tt]odos los|[Tt]odas las) 1\b", "en": r"\b(?:[Aa]ll|[Bb]oth) 1\b"}
TEXT_PARAMS = {"label", "init", "name", "student", "base", "models", "where"}  # names and labels, never counts


def _filled(template: str, n: int) -> str:
    """A template with every parameter set to the number n (text where a spec needs text)."""
    names = placeholders(template)
    for params in ({name: "x" if name in TEXT_PARAMS else n for name in names}, {name: n for name in names},
                   {name: str(n) for name in names}):
        try:
            return fill(template, params)
        except (ValueError, TypeError):
            continue
    raise AssertionError(f"{template!r} formats with neither numbers nor text")


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_count_agrees_with_its_number_for_1_and_2(lang):
    """Every message rendered with its numbers set to 1, then 2: no "1 épocas", no "2 época",
    no "los 1 modelo". The counted form {n:~singular|plural} is what makes this hold."""
    nouns = COUNT_NOUNS[lang]
    plural_after_one = re.compile(r"(?<![\d.,])1 (?:" + "|".join(nouns.values()) + r")\b")
    singular_after_two = re.compile(r"(?<![\d.,])2 (?:" + "|".join(nouns) + r")\b(?!-)")
    article = re.compile(PLURAL_ARTICLE_BEFORE_ONE[lang])
    wrong = {}
    for key, template in catalog(lang).items():
        one, two = _filled(template, 1), _filled(template, 2)
        found = plural_after_one.findall(one) + singular_after_two.findall(two) + article.findall(one)
        if found:
            wrong[key] = (found, one[:160])
    assert wrong == {}


def test_counted_nouns_render_both_forms():
    assert fill("{n:~época|épocas} y {m:~época|épocas}", {"n": 1, "m": 20}) == "1 época y 20 épocas"
    assert fill("{n:~epoch|epochs}", {"n": 0}) == "0 epochs" and fill("{n:~epoch|epochs}", {"n": 1.0}) == "1 epoch"
    assert fill("{n:~point|points}", {"n": 2.5}) == "2.5 points"
    assert render(msg("check.hw_histories.epochs", init="he_uniform", found=1, epochs=20), "es").startswith("he_uniform: 1 época ")
