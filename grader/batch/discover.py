"""Which files of a class folder are submissions, and under which student id.

A file (.ipynb/.py) or a subfolder holding exactly one is a submission; anything else is skipped
with a note the teacher reads (a symlink out of the folder, a folder with several notebooks, two
names that fold to the same id), never silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..messages import Message, msg
from ..submission import KINDS, student_id


@dataclass(frozen=True)
class Entry:
    student: str
    path: Path | None  # None: nothing gradable (see note)
    note: Message | str = ""


def discover(folder: Path, ignore: list[str]) -> tuple[list[Entry], list[Message]]:
    """Files (.ipynb/.py) or one subfolder per student; anything else is skipped with a note."""
    folder = Path(folder).resolve()
    entries, skipped, seen = [], [], set()
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        name = item.name
        if name.startswith(".") or name in ignore or name == "__pycache__":
            continue
        if item.is_symlink():
            target = item.resolve()
            if folder not in target.parents:
                skipped.append(msg("batch.symlink_outside", name=name, target=str(target)))
                continue
        if item.is_file():
            if item.suffix.lower() not in KINDS:
                skipped.append(msg("batch.not_a_submission", name=name))
                continue
            candidate = Entry(student_id(item.stem), item)
        elif item.is_dir():
            inside = [p for p in sorted(item.rglob("*")) if p.is_file() and p.suffix.lower() in KINDS
                      and not any(part.startswith(".") for part in p.relative_to(item).parts)]
            inside = [p for p in inside if not p.is_symlink() or item.resolve() in p.resolve().parents]
            student = student_id(name)
            if len(inside) == 1:
                candidate = Entry(student, inside[0])
            elif not inside:
                skipped.append(msg("batch.empty_folder", name=name))
                continue
            else:
                candidate = Entry(student, None, msg("batch.several", listing=", ".join(p.name for p in inside[:5])))
        else:
            continue
        if candidate.student in seen:
            skipped.append(msg("batch.duplicate_id", name=name, student=candidate.student))
            continue
        seen.add(candidate.student)
        entries.append(candidate)
    return entries, skipped


__all__ = ["Entry", "discover"]
