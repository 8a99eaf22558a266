"""Telling whether grader-written text is Spanish, for the tests that English carries none."""

from __future__ import annotations

import re
from functools import lru_cache

from grader.messages import catalog

# Words that are Spanish and not English (function words and the class's own vocabulary).
SPANISH = {"el", "la", "los", "las", "del", "una", "unos", "por", "para", "con", "que", "está", "están", "sin", "pero",
           "cuando", "capa", "capas", "época", "épocas", "semilla", "semillas", "pesos", "normas", "falta", "faltan",
           "debe", "tiene", "hay", "entrega", "corrección", "informe", "puntos", "celda", "celdas", "ejercicio", "tarea",
           "verificado", "esperaba", "encontrado", "inicializador", "inicializadores", "arreglo", "lista", "texto",
           "número", "función", "también", "más", "según", "así", "aquí", "datos", "modelo", "modelos", "usted", "su"}
ACCENTED = re.compile(r"[áéíóúñ¿¡]", re.IGNORECASE)


def spanish_words(text: str) -> list[str]:
    """The Spanish words (and accented letters) found in `text`."""
    words = [w for w in re.findall(r"[A-Za-záéíóúñÁÉÍÓÚÑ]+", text) if w.lower() in SPANISH]
    return words + ACCENTED.findall(text)


@lru_cache(maxsize=1)
def spanish_fragments() -> tuple[str, ...]:
    """Literal pieces of the Spanish catalog (between placeholders, ≥ 12 characters) that the
    English catalog does not contain: if one shows up in English output, a message was not translated."""
    english = "\n".join(catalog("en").values())
    pieces = set()
    for template in catalog("es").values():
        for piece in re.split(r"\{[^{}]*\}", template):
            piece = piece.strip(" .;:,()\n")
            if len(piece) >= 12 and piece not in english and spanish_words(piece):
                pieces.add(piece)
    return tuple(sorted(pieces))


def untranslated(text: str) -> list[str]:
    return [piece for piece in spanish_fragments() if piece in text]
