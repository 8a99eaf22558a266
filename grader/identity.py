"""Who a submission belongs to, and the one rule that says whether two names are the same person.

Every place that pairs a person with a grade uses this module: discovery (a class folder, an
LMS download), the roster, and every export. A name is compared only through `fold`, so
"José Pérez", "JOSE PEREZ", "Jose_Perez", "josé  pérez" (NFD or NFC) and Canvas' sortable
"perezjose" are one person, while the LMS's own ids, where a file carries them, are compared
first and exactly (`Identity.lms_user_id`): a name is a fallback, an id is proof.

    fold("José Pérez") == fold("jose_perez") == "joseperez"
    order_free("Pérez, José") == order_free("José Pérez") == "jose perez"
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

LMS_NAMES = ("canvas", "moodle")


def _letters(text: str) -> list[str]:
    """NFC first (so an NFD file name equals its NFC roster row), then accents dropped and
    case folded; what remains split into runs of letters and digits."""
    text = unicodedata.normalize("NFC", str(text))
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = plain.replace("ß", "ss")
    return re.findall(r"[^\W_]+", plain)


def fold(text: str) -> str:
    """The matching form of a name or id: accents, case, spacing and punctuation folded away."""
    return "".join(_letters(text))


def order_free(text: str) -> str:
    """The matching form with word order ignored ("Pérez, José" is "José Pérez")."""
    return " ".join(sorted(_letters(text)))


def same_person(a: str, b: str) -> bool:
    """Whether two names are the same under the identity rule (never true for two empty names)."""
    if not fold(a) or not fold(b):
        return False
    return fold(a) == fold(b) or order_free(a) == order_free(b)


@dataclass(frozen=True)
class Identity:
    """A submission's person: the readable, unique id the grader files it under, the name as the
    source gave it, and, for an LMS download, the LMS and the user's id there (Canvas' user id,
    Moodle's participant number) and whether the LMS marked it late."""

    student: str
    display_name: str
    lms: str = ""  # "" (a plain file or folder) | "canvas" | "moodle"
    lms_user_id: str = ""
    late: bool = False
    source_name: str = ""  # the file or folder name the LMS gave it

    def keys(self) -> set[str]:
        """Every folded name this identity answers to (ids excluded: they match exactly, first)."""
        return {k for k in (fold(self.student), fold(self.display_name), order_free(self.display_name)) if k}

    def to_json(self) -> dict:
        return {"student": self.student, "display_name": self.display_name, "lms": self.lms,
                "lms_user_id": self.lms_user_id, "late": self.late, "source_name": self.source_name}

    @classmethod
    def from_json(cls, raw, student: str = "", display_name: str = "") -> "Identity":
        """From a result.json's `identity` (a claim only in the sense that the file may be old or
        hand-edited: anything of the wrong type falls back to the plain student id)."""
        raw = raw if isinstance(raw, dict) else {}

        def text(key: str, default: str = "") -> str:
            value = raw.get(key, default)
            return value if isinstance(value, str) else default

        lms = text("lms")
        return cls(text("student", student) or student, text("display_name", display_name) or display_name or student,
                   lms if lms in LMS_NAMES else "", text("lms_user_id"), raw.get("late") is True, text("source_name"))


__all__ = ["Identity", "fold", "order_free", "same_person", "LMS_NAMES"]
