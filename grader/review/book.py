"""The teacher's review file, OUT/review.csv (or OUT/review.toml): one row per override or comment.

A file, not a database, so that a teacher can edit it, keep it in git and read it in a year.
`grade review` writes it; a teacher may write it too. Every row says who and when; an override
also says why, and the grader fills in its *basis* (the submission's sha256, the rubric's digest,
and the automatic verdict it replaced) the first time it applies the row. The basis is what lets a
regrade keep an override silently only while nothing it was about has changed.

CSV (UTF-8, with or without a BOM, as Excel saves "CSV UTF-8"):

    student,check,points,why,comment,who,when,sha256,rubric,auto_status,auto_points
    bob,hw_he_criterion,1,"seed noise, see calibration",,ana,2026-12-07T10:00:00+00:00,,,,
    bob,,,,"Buen trabajo con las curvas.",ana,2026-12-07T10:01:00+00:00,,,,

TOML: the same fields, `[[override]]` and `[[comment]]` tables.

A file that cannot be read whole is refused whole (`ReviewFileError`, with the line and the fix):
half a review applied would be a grade nobody decided.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import UsageError
from ..messages import msg
from ..report import write_text_atomic

CSV_NAME, TOML_NAME = "review.csv", "review.toml"
COLUMNS = ("student", "check", "points", "why", "comment", "who", "when", "sha256", "rubric", "auto_status", "auto_points")
MAX_FILE_BYTES = 2 * 1024 * 1024  # a class's review is a few KB; a larger file is not one
MAX_TEXT = 2000  # a why or a comment: a paragraph, not a document


class ReviewFileError(UsageError):
    """The review file (or a `grade review` request) is not usable; nothing of it was applied."""


@dataclass(frozen=True)
class Basis:
    """What an override was decided about: the submission, the rubric, and the automatic verdict."""

    sha256: str
    rubric: str
    auto_status: str
    auto_points: float

    @property
    def known(self) -> bool:
        return bool(self.sha256 and self.rubric and self.auto_status)


NO_BASIS = Basis("", "", "", 0.0)


@dataclass(frozen=True)
class Override:
    """A teacher's points for one check of one student, and why."""

    student: str
    check: str
    points: float
    why: str
    who: str
    when: str
    basis: Basis = NO_BASIS
    line: int = 0  # where it is in the file (0: not from a file yet)


@dataclass(frozen=True)
class Comment:
    """A teacher's word to one student, shown at the top of their report."""

    student: str
    text: str
    who: str
    when: str
    line: int = 0


@dataclass(frozen=True)
class ReviewBook:
    """Everything a class's review file says, validated row by row."""

    overrides: tuple[Override, ...] = ()
    comments: tuple[Comment, ...] = ()
    path: Path | None = None

    def for_student(self, student: str) -> tuple[tuple[Override, ...], tuple[Comment, ...]]:
        return (tuple(o for o in self.overrides if o.student == student),
                tuple(c for c in self.comments if c.student == student))

    @property
    def students(self) -> set[str]:
        return {o.student for o in self.overrides} | {c.student for c in self.comments}

    def without(self, student: str, check: str | None = None) -> "ReviewBook":
        """The book with one student's overrides (or one check's) and, for the whole student, comment removed."""
        overrides = tuple(o for o in self.overrides if not (o.student == student and (check is None or o.check == check)))
        comments = tuple(c for c in self.comments if not (c.student == student and check is None))
        return replace(self, overrides=overrides, comments=comments)


def review_path(out: Path) -> Path | None:
    """OUT/review.csv or OUT/review.toml, whichever exists; None when neither. Both: refused
    (which one the teacher meant is theirs to say)."""
    out = Path(out)
    found = [out / name for name in (CSV_NAME, TOML_NAME) if (out / name).is_file()]
    if len(found) > 1:
        raise ReviewFileError(msg("review.two_files", folder=str(out)), hint=msg("review.two_files_hint"))
    return found[0] if found else None


def clean_text(value, field: str, where: str) -> str:
    """A why, a comment or a name as kept: stripped, at most MAX_TEXT characters, no control
    characters other than line breaks (they would corrupt the CSV, the report or an LMS file)."""
    text = "" if value is None else str(value).strip()
    if len(text) > MAX_TEXT:
        raise ReviewFileError(msg("review.text_too_long", where=where, field=field, limit=MAX_TEXT),
                              hint=msg("review.text_too_long_hint"))
    if any(ord(ch) < 32 and ch not in "\n\t" or ord(ch) == 127 for ch in text):
        raise ReviewFileError(msg("review.control_chars", where=where, field=field), hint=msg("review.fix_row_hint"))
    return text


def _points(value, where: str, field: str = "points") -> float:
    if isinstance(value, bool):
        raise ReviewFileError(msg("review.bad_points", where=where, value=str(value)), hint=msg("review.bad_points_hint"))
    try:
        number = float(str(value).strip().replace(",", ".")) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise ReviewFileError(msg("review.bad_points", where=where, value=str(value)[:40]),
                              hint=msg("review.bad_points_hint")) from None
    if not math.isfinite(number):
        raise ReviewFileError(msg("review.bad_points", where=where, value=str(value)[:40]), hint=msg("review.bad_points_hint"))
    return number


def _row(raw: dict, kind: str | None, where: str, line: int) -> Override | Comment:
    """One row (a CSV line or a TOML table) as an Override or a Comment; ReviewFileError names what is wrong."""
    unknown = sorted(set(raw) - set(COLUMNS))
    if unknown:
        raise ReviewFileError(msg("review.unknown_fields", where=where, fields=", ".join(map(str, unknown))),
                              hint=msg("review.columns_hint", columns=", ".join(COLUMNS)))
    value = {name: clean_text(raw.get(name), name, where) for name in COLUMNS if name not in ("points", "auto_points")}
    if not value["student"]:
        raise ReviewFileError(msg("review.no_student", where=where), hint=msg("review.fix_row_hint"))
    if not value["who"] or not value["when"]:
        raise ReviewFileError(msg("review.no_who_when", where=where), hint=msg("review.fix_row_hint"))
    has_points = raw.get("points") not in (None, "")
    is_override = kind == "override" or (kind is None and (value["check"] or has_points))
    if is_override:
        if value["comment"]:
            raise ReviewFileError(msg("review.override_and_comment", where=where), hint=msg("review.fix_row_hint"))
        if not value["check"] or not has_points:
            raise ReviewFileError(msg("review.override_incomplete", where=where), hint=msg("review.fix_row_hint"))
        if not value["why"]:
            raise ReviewFileError(msg("review.no_why", where=where), hint=msg("review.no_why_hint"))
        auto_points = 0.0 if raw.get("auto_points") in (None, "") else _points(raw.get("auto_points"), where, "auto_points")
        basis = Basis(value["sha256"], value["rubric"], value["auto_status"], auto_points)
        if any((value["sha256"], value["rubric"], value["auto_status"])) and not basis.known:
            raise ReviewFileError(msg("review.partial_basis", where=where), hint=msg("review.partial_basis_hint"))
        return Override(value["student"], value["check"], _points(raw.get("points"), where), value["why"], value["who"],
                        value["when"], basis, line)
    if not value["comment"]:
        raise ReviewFileError(msg("review.empty_row", where=where), hint=msg("review.fix_row_hint"))
    return Comment(value["student"], value["comment"], value["who"], value["when"], line)


def _text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ReviewFileError(msg("review.file_too_large", path=str(path), mb=MAX_FILE_BYTES >> 20),
                                  hint=msg("review.file_too_large_hint"))
        data = path.read_bytes()
    except OSError as exc:
        raise ReviewFileError(msg("review.unreadable", path=str(path), why=str(exc.strerror or exc))) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReviewFileError(msg("review.not_utf8", path=str(path)), hint=msg("review.not_utf8_hint")) from None


def _rows_csv(path: Path, text: str) -> list[tuple[dict, str | None, str, int]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        table = list(reader)
    except csv.Error as exc:
        raise ReviewFileError(msg("review.csv_broken", path=str(path), why=str(exc)), hint=msg("review.fix_row_hint")) from None
    if not table:
        return []
    header = [cell.strip().lower() for cell in table[0]]
    if "student" not in header or len(set(header)) != len(header):
        raise ReviewFileError(msg("review.bad_header", path=str(path)), hint=msg("review.columns_hint", columns=",".join(COLUMNS)))
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        where = f"{path.name}:{number}"
        if len(cells) > len(header):
            raise ReviewFileError(msg("review.too_many_cells", where=where, found=len(cells), expected=len(header)),
                                  hint=msg("review.quote_hint"))
        rows.append(({name: cell for name, cell in zip(header, cells) if name}, None, where, number))
    return rows


def _rows_toml(path: Path, text: str) -> list[tuple[dict, str | None, str, int]]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReviewFileError(msg("review.toml_broken", path=str(path), why=str(exc)), hint=msg("review.fix_row_hint")) from None
    extra = sorted(set(document) - {"override", "comment"})
    if extra:
        raise ReviewFileError(msg("review.toml_unknown", path=str(path), tables=", ".join(extra)),
                              hint=msg("review.toml_hint"))
    rows = []
    for kind in ("override", "comment"):
        tables = document.get(kind, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise ReviewFileError(msg("review.toml_unknown", path=str(path), tables=kind), hint=msg("review.toml_hint"))
        for position, table in enumerate(tables, start=1):
            rows.append((table, kind, f"{path.name} [[{kind}]] #{position}", position))
    return rows


def read_book(out: Path) -> ReviewBook:
    """The class's review file as a ReviewBook (empty when there is none); ReviewFileError when any
    row is wrong, naming the first one. Two overrides of one check, or two comments to one
    student, are refused: which one counts would be a guess."""
    path = review_path(out)
    if path is None:
        return ReviewBook()
    text = _text(path)
    rows = _rows_toml(path, text) if path.suffix == ".toml" else _rows_csv(path, text)
    overrides, comments, seen = [], [], {}
    for raw, kind, where, line in rows:
        item = _row(raw, kind, where, line)
        key = (item.student, item.check if isinstance(item, Override) else "")
        if key in seen:
            raise ReviewFileError(msg("review.duplicate", where=where, first=seen[key], student=item.student,
                                      check=key[1] or "—"), hint=msg("review.duplicate_hint"))
        seen[key] = where
        (overrides if isinstance(item, Override) else comments).append(item)
    return ReviewBook(tuple(overrides), tuple(comments), path)


def _number_text(value: float) -> str:
    return f"{value:g}"


def _csv_text(book: ReviewBook) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for o in book.overrides:
        b = o.basis
        writer.writerow([o.student, o.check, _number_text(o.points), o.why, "", o.who, o.when, b.sha256, b.rubric,
                         b.auto_status, _number_text(b.auto_points) if b.known else ""])
    for c in book.comments:
        writer.writerow([c.student, "", "", "", c.text, c.who, c.when, "", "", "", ""])
    return buffer.getvalue()


def _toml_text(book: ReviewBook) -> str:
    """TOML by hand (the standard library reads it, it does not write it): a JSON string is a
    valid TOML basic string, and every value here is a string or a number."""
    parts = ["# The teacher's review: grade review writes it; the grader fills in each override's basis.\n"]
    for o in book.overrides:
        fields = {"student": o.student, "check": o.check, "points": o.points, "why": o.why, "who": o.who, "when": o.when}
        if o.basis.known:
            fields |= {"sha256": o.basis.sha256, "rubric": o.basis.rubric, "auto_status": o.basis.auto_status,
                       "auto_points": o.basis.auto_points}
        parts.append("\n[[override]]\n" + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in fields.items()))
    for c in book.comments:
        fields = {"student": c.student, "comment": c.text, "who": c.who, "when": c.when}
        parts.append("\n[[comment]]\n" + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in fields.items()))
    return "".join(parts)


def write_book(out: Path, book: ReviewBook) -> Path:
    """The book back into the file it came from (review.csv when it is new), atomically."""
    path = book.path or Path(out) / CSV_NAME
    write_text_atomic(path, _toml_text(book) if path.suffix == ".toml" else _csv_text(book))
    return path


__all__ = ["CSV_NAME", "TOML_NAME", "COLUMNS", "MAX_TEXT", "ReviewFileError", "Basis", "NO_BASIS", "Override", "Comment",
           "ReviewBook", "review_path", "read_book", "write_book", "clean_text"]
