"""Which LMS a class folder was downloaded from, read from its names alone, and who each name is.

Canvas, "Download Submissions" (app/models/content_zipper.rb, `add_upload_submission` and
`get_filename`): one flat zip, each uploaded file named

    <sortable name>[_late]_<user id>_<attachment id>_<file name>     perezjose_late_1234_98765_tarea.ipynb

where the prefix `[sortable name, "LATE", user id].join("_")` is stripped of every non-word
character and lowercased (`gsub(/[^[[:word:]]]/, '').downcase`): "Pérez, José" becomes
"pérezjosé" (Ruby's [[:word:]] keeps accented letters), and the late marker "LATE" becomes
"late". Older Canvas wrote " LATE_" with spaces turned into "-" ("perez-jose-late_1234_…"), so
"-late" is read too, in any case. The file name is the student's own, with Canvas' "-1", "-2"
before the extension when a name repeats (`Attachment.make_unique_filename`). A name inside the
sortable name never holds "_<digits>_" (`sanitize_user_name` removes them), which is what makes
the first "_<digits>_<digits>_" the ids. Text and URL entries end in "_text.html"/"_link.html"
(nothing to grade). Anonymous grading drops the name: such files are not read as Canvas.

Moodle, "Download all submissions" (mod/assign/locallib.php, `download_submissions`): each
plugin's files under

    <full name>_<participant id>_assignsubmission_<plugin>_/<file path>   (in folders, the default since 3.1)
    <full name>_<participant id>_assignsubmission_<plugin>_<file name>    ("Download submissions in folders" off)

where underscores in the full name were turned into spaces, the plugin is `file` or
`onlinetext`, and the id is the assignment's participant id (`get_uniqueid_for_user`, the
number the grading table shows), not the site's user id. With blind marking the full name is
"Participant" (in the site's language).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CANVAS = "canvas"
MOODLE = "moodle"

_CANVAS = re.compile(r"^(?P<name>[\w-]+?)(?P<late>[_-]late)?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>.+)$",
                     re.IGNORECASE | re.DOTALL)
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<file>.*)$", re.DOTALL)


@dataclass(frozen=True)
class LmsName:
    """What one LMS-made name says: whose it is and the student's own file name within it
    ("" for a Moodle folder, whose files are inside)."""

    lms: str
    name: str  # Canvas: the sortable name as the file carries it ("perezjose"); Moodle: the full name
    user_id: str
    late: bool
    file: str
    plugin: str = ""  # Moodle's submission plugin ("file", "onlinetext")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def canvas_name(name: str) -> LmsName | None:
    """A Canvas download file name, read; None if it is not one."""
    match = _CANVAS.match(_nfc(name))
    if not match or not match["name"].strip("_-") or match["name"] != match["name"].lower():
        return None  # Canvas lowercases the prefix: "Alice_1_2_x.ipynb" is someone's own name
    return LmsName(CANVAS, match["name"], match["user"], bool(match["late"]), match["file"])


def moodle_name(name: str) -> LmsName | None:
    """A Moodle download folder or file name, read; None if it is not one."""
    match = _MOODLE.match(_nfc(name))
    if not match or not match["name"].strip():
        return None
    return LmsName(MOODLE, match["name"].strip(), match["user"], False, match["file"], match["plugin"])


@dataclass(frozen=True)
class Layout:
    """A class folder's layout: "canvas", "moodle" or "" (one file or folder per student), and,
    for a plain folder some of whose names look like an LMS's, those names and that LMS."""

    lms: str
    lookalikes: tuple[str, ...] = ()
    lookalike_lms: str = ""


def detect(items: list[tuple[str, bool]], gradable: set[str]) -> Layout:
    """The layout of a folder's visible `items` (name, is a folder), `gradable` the suffixes that
    can be a submission. Canvas: every gradable file (and no folder) in Canvas' pattern; Moodle:
    every file and folder in Moodle's; anything else is plain, and a partial match is named so
    the teacher sees why the LMS ids were not read."""
    candidates = [(name, is_dir) for name, is_dir in items if is_dir or _suffix(name) in gradable]
    if not candidates:
        return Layout("")
    if all(not is_dir and canvas_name(name) for name, is_dir in candidates):
        return Layout(CANVAS)
    if items and all(moodle_name(name) for name, _ in items):
        return Layout(MOODLE)
    for lms, reader in ((MOODLE, moodle_name), (CANVAS, canvas_name)):
        alike = tuple(name for name, is_dir in candidates if reader(name) and (lms == MOODLE or not is_dir))
        if alike:
            return Layout("", alike, lms)
    return Layout("")


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


__all__ = ["LmsName", "Layout", "canvas_name", "moodle_name", "detect", "CANVAS", "MOODLE"]
