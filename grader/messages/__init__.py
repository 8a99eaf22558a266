"""Every sentence the grader says, as data: a key and named parameters, rendered per language.

The catalogs are `es.json` and `en.json` beside this file, one flat object each, key →
`str.format` template (`{value:.6g}`, `{name!r}` work), plus one form of our own for counts:
`{epochs:~época|épocas}` gives "1 época" and "20 épocas" (the number, then the word that
agrees with it), so no sentence says "1 épocas". A stage never builds user text: it
returns `Message(key, params)`, and the text is made only where a person reads it (the
report, result.json, the terminal), in the language asked for. A parameter may itself be a
Message, or a list of them (rendered and joined with "; "), so a check can say "these three
things are wrong" in either language. Plain strings are language-neutral: names, numbers,
and whatever the student wrote.
"""

from __future__ import annotations

import json
import os
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

LANGS = ("es", "en")
DEFAULT_LANG = "es"
FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Message:
    """A sentence not yet in any language."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        return render(self, lang)


def msg(key: str, **params) -> Message:
    return Message(key, params)


class Joined:
    """Several values rendered in the reader's language and joined with `sep`."""

    def __init__(self, items, sep: str = "; ") -> None:
        self.items, self.sep = list(items), sep

    def __eq__(self, other) -> bool:
        return isinstance(other, Joined) and (self.items, self.sep) == (other.items, other.sep)

    def __repr__(self) -> str:
        return f"Joined({self.items!r}, {self.sep!r})"


class Localized:
    """Text that arrives already written per language (the contract's examples, a teacher's
    mistakes table): `{"es": …, "en": …}`; a plain string is used for every language."""

    def __init__(self, texts) -> None:
        self.texts = dict(texts) if isinstance(texts, dict) else {DEFAULT_LANG: str(texts)}

    def get(self, lang: str) -> str:
        return self.texts.get(lang) or self.texts.get(DEFAULT_LANG) or next(iter(self.texts.values()), "")

    def __eq__(self, other) -> bool:
        return isinstance(other, Localized) and self.texts == other.texts

    def __repr__(self) -> str:
        return f"Localized({self.texts!r})"


def language(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT_LANG


def language_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The terminal's language when --lang is not given: English if LC_ALL/LC_MESSAGES/LANG say so."""
    environ = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable, "")
        if value:
            return "en" if value.lower().startswith("en") else DEFAULT_LANG
    return DEFAULT_LANG


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    return json.loads((FOLDER / f"{language(lang)}.json").read_text(encoding="utf-8"))


def placeholders(template: str) -> set[str]:
    """The parameter names a template uses (`{value:.3g}` → {"value"})."""
    names = set()
    for _, name, _, _ in string.Formatter().parse(template):
        if name:
            names.add(name.split(".")[0].split("[")[0])
    return names


class _Formatter(string.Formatter):
    """`str.format` with counted nouns, and numbers as a reader reads them.

    A spec `~singular|plural` prints the number and the word that agrees with it (1 → singular;
    0, 2, 1.5 → plural, as in Spanish and English). Every number is written with a real minus
    sign (−0.49, not -0.49), and a float with no spec at all gets four significant digits, not
    Python's seventeen."""

    def format_field(self, value, format_spec: str):
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if format_spec.startswith("~"):
            singular, _, plural = format_spec[1:].partition("|")
            word = singular if number == 1 else (plural or singular)
            shown = f"{number:g}" if number is not None else str(value)
            return f"{shown.replace('-', MINUS)} {word}"
        if isinstance(value, float) and not format_spec:
            format_spec = ".4g"
        shown = super().format_field(value, format_spec)
        return shown.replace("-", MINUS) if isinstance(value, float) else shown


MINUS = "\u2212"
_FORMATTER = _Formatter()


def fill(template: str, params: Mapping[str, Any]) -> str:
    """One catalog template with its parameters (what every renderer uses, counted nouns included)."""
    return _FORMATTER.vformat(template, (), params)


def render(value, lang: str):
    """A Message (or Joined, list, dict of them) as text in `lang`; anything else unchanged."""
    lang = language(lang)
    if isinstance(value, Message):
        try:
            template = catalog(lang)[value.key]
        except KeyError:
            raise KeyError(f"message {value.key!r} is not in the {lang} catalog") from None
        params = {name: _param(v, lang) for name, v in value.params.items()}
        return fill(template, params)
    if isinstance(value, Localized):
        return value.get(lang)
    if isinstance(value, Joined):
        return value.sep.join(str(render(item, lang)) for item in value.items)
    if isinstance(value, dict):
        return {k: render(v, lang) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v, lang) for v in value]
    return value


def _param(value, lang: str):
    if isinstance(value, (Message, Joined, Localized)):
        return render(value, lang)
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Message, Joined)) for v in value):
        return "; ".join(str(render(v, lang)) for v in value)
    return value


def text(lang: str, key: str, **params) -> str:
    """Shorthand for the places that only ever print (CLI, terminal)."""
    return render(Message(key, params), lang)


__all__ = ["Message", "Joined", "Localized", "msg", "render", "text", "fill", "catalog", "placeholders", "language", "language_from_env",
           "LANGS", "DEFAULT_LANG"]
