"""Which files of a class folder are submissions, and whose.

A class folder is one of three layouts, told apart by its names alone (lms_download.detect):
a plain folder (a file .ipynb/.py, or a subfolder holding one, per student), a Canvas
"Download Submissions" folder or a Moodle "Download all submissions" folder (unpacked, or the
zip itself: batch.plan_batch unpacks it first). Each submission gets an `Identity`: the readable,
unique student id it is filed under (OUT/<student>/), the name as the source gave it, and for an
LMS download the LMS's own user id and late mark, which the upload back to the LMS needs.

Anything else is skipped with a note the teacher reads (a symlink out of the folder, a folder
with several notebooks, two names that are the same person), never silently. Where a student
handed in several files the rule is export/autograder.py's `find_submission`: the notebook if
there is exactly one, else the one module; the others are named in a note.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..identity import Identity, fold
from ..messages import Message, msg
from ..submission import KINDS, student_id
from . import lms_download
from .unzip import JUNK


@dataclass(frozen=True)
class Entry:
    student: str
    path: Path | None  # None: nothing gradable (see note)
    note: Message | str = ""
    identity: Identity | None = None  # discover always sets it; None only for an Entry made by hand

    @property
    def who(self) -> Identity:
        """The identity, or the plain one a hand-made Entry implies."""
        return self.identity or Identity(self.student, self.path.stem if self.path else self.student,
                                         source_name=self.path.name if self.path else "")


@dataclass
class _Person:
    """One student before the ids are settled: everything the names said, and their files."""

    base_id: str
    display_name: str
    source_name: str
    lms: str = ""
    user_id: str = ""
    late: bool = False
    files: list = field(default_factory=list)
    several: str = "batch.several"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _inside(folder: Path, ignore: list[str]) -> list[Path]:
    """The gradable files anywhere in a student's folder (hidden, macOS junk, the template and
    links out of the folder left out)."""
    root = folder.resolve()
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") or part in JUNK or part == "__pycache__" for part in parts) or path.name in ignore:
            continue
        if not path.is_file() or path.suffix.lower() not in KINDS:
            continue
        if path.is_symlink() and root not in path.resolve().parents:
            continue
        found.append(path)
    return found


def choose(files: list[Path]) -> tuple[Path | None, list[Path]]:
    """The submission among a student's files (the one notebook, else the one module) and the
    rest; (None, all) when the choice is not clear (two notebooks, or no notebook and two modules)."""
    notebooks = [p for p in files if p.suffix.lower() == ".ipynb"]
    pool = notebooks or files
    if len(pool) != 1:
        return None, list(files)
    return pool[0], [p for p in files if p != pool[0]]


def _plain(items: list[Path], ignore: list[str], skipped: list) -> list[_Person]:
    people = []
    for item in items:
        if item.is_file():
            if item.suffix.lower() not in KINDS:
                skipped.append(msg("batch.not_a_submission", name=item.name))
                continue
            people.append(_Person(student_id(item.stem), _nfc(item.stem), item.name, files=[item]))
        else:
            inside = _inside(item, ignore)
            if not inside:
                skipped.append(msg("batch.empty_folder", name=item.name))
                continue
            people.append(_Person(student_id(item.name), _nfc(item.name), item.name, files=inside))
    return people


def _canvas(items: list[Path], skipped: list) -> list[_Person]:
    people: dict[str, _Person] = {}
    for item in items:
        name = lms_download.canvas_name(item.name)
        if name is None or item.suffix.lower() not in KINDS:
            skipped.append(msg("batch.not_a_submission", name=item.name))
            continue
        person = people.setdefault(name.user_id, _Person(student_id(name.name), _nfc(name.name), item.name, lms_download.CANVAS,
                                                         name.user_id, several="batch.several_files"))
        person.late = person.late or name.late
        person.files.append(item)
    return list(people.values())


def _moodle(items: list[Path], ignore: list[str], skipped: list) -> list[_Person]:
    people: dict[str, _Person] = {}
    empty: dict[str, str] = {}
    for item in items:
        name = lms_download.moodle_name(item.name)
        person = people.setdefault(name.user_id, _Person(student_id(name.name), _nfc(name.name), item.name, lms_download.MOODLE,
                                                         name.user_id, several="batch.several_files"))
        if item.is_dir():
            files = _inside(item, ignore)
            if files and not person.files:
                person.source_name = item.name
            person.files += files
            empty.setdefault(name.user_id, item.name + "/")
        elif Path(name.file).suffix.lower() in KINDS and name.file not in ignore:
            if not person.files:
                person.source_name = item.name
            person.files.append(item)
        else:
            skipped.append(msg("batch.not_a_submission", name=item.name))
    for user_id, person in list(people.items()):
        if not person.files:
            if user_id in empty:  # a folder, or only an online text: nothing to grade
                skipped.append(msg("batch.empty_folder", name=empty[user_id].rstrip("/")))
            del people[user_id]
    return list(people.values())


def _settle(people: list[_Person], skipped: list) -> list[Entry]:
    """Unique, readable ids; one file each. Two LMS users whose names fold alike are two people
    (their ids prove it): each id gets its LMS id appended. Two plain names that fold alike
    ("alice" and "Alice") are one person handing in twice: the first is graded, the second said."""
    groups: dict[str, list[_Person]] = {}
    for person in people:
        groups.setdefault(fold(person.base_id) or person.base_id, []).append(person)
    entries, taken = [], {}
    for person in people:
        group = groups[fold(person.base_id) or person.base_id]
        if person.lms and len(group) > 1:
            student = student_id(f"{person.base_id}_{person.user_id}")
        elif not person.lms and group[0] is not person:
            first = group[0]
            if student_id(first.base_id) == person.base_id:
                skipped.append(msg("batch.duplicate_id", name=person.source_name, student=person.base_id))
            else:
                skipped.append(msg("batch.same_person", name=person.source_name, other=first.source_name))
            continue
        else:
            student = person.base_id
        if student in taken:
            skipped.append(msg("batch.duplicate_id", name=person.source_name, student=student))
            continue
        chosen, others = choose(person.files)
        source = person.source_name
        if chosen is not None and person.lms == lms_download.CANVAS:
            source = chosen.name
        identity = Identity(student, person.display_name, person.lms, person.user_id, person.late, source)
        taken[student] = identity
        if chosen is None:
            entries.append(Entry(student, None, msg(person.several, listing=", ".join(p.name for p in others[:5])), identity))
            continue
        if others:
            skipped.append(msg("batch.others_ignored", name=source, chosen=chosen.name,
                               listing=", ".join(p.name for p in others[:5])))
        entries.append(Entry(student, chosen, "", identity))
    return sorted(entries, key=lambda e: e.student)


def discover(folder: Path, ignore: list[str]) -> tuple[list[Entry], list[Message]]:
    """Every submission of a plain, Canvas or Moodle class folder; anything else skipped with a note."""
    folder = Path(folder).resolve()
    items, skipped = [], []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        name = item.name
        if name.startswith(".") or name in ignore or name == "__pycache__" or name in JUNK:
            continue
        if item.is_symlink():
            target = item.resolve()
            if folder not in target.parents:
                skipped.append(msg("batch.symlink_outside", name=name, target=str(target)))
                continue
        if item.is_file() or item.is_dir():
            items.append(item)
    layout = lms_download.detect([(item.name, item.is_dir()) for item in items], set(KINDS))
    if layout.lookalikes:
        skipped.append(msg("batch.lms_mixed", names=", ".join(layout.lookalikes[:5]), lms=layout.lookalike_lms.capitalize()))
    if layout.lms == lms_download.CANVAS:
        people = _canvas(items, skipped)
    elif layout.lms == lms_download.MOODLE:
        people = _moodle(items, ignore, skipped)
    else:
        people = _plain(items, ignore, skipped)
    return _settle(people, skipped), skipped


__all__ = ["Entry", "discover", "choose"]
