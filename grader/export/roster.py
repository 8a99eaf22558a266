"""The roster: who is in the course as the LMS knows them, and which submission is whose.

`--roster` takes the file the LMS gives, as it gives it (lms_files.py reads whatever encoding
and separator Excel left). The shape is told by the header:

    canvas_gradebook  Canvas' gradebook export (Grades ▸ Export): Student, ID, SIS User ID,
                      SIS Login ID, [Integration ID], [Root Account], Section, then one column per
                      assignment, "Name (assignment id)", and read-only ones (Current Score,
                      Unposted Final Grade…), ignored. Below the header, rows that are not
                      students: "Points Possible" (often indented) and the posting-policy row,
                      both without an ID, and Canvas' student view ("Student, Test").
    moodle_worksheet  Moodle's assignment grading worksheet (Download grading worksheet):
                      Identifier ("Participant N"), Full name, Email address, Status, Grade,
                      Maximum Grade, Grade can be changed, Last modified (submission),
                      Last modified (grade), Feedback comments.
    moodle_grades     Moodle's gradebook export (Export ▸ Plain text file): First name,
                      Last name, ID number, Institution, Department, Email address, one column
                      per grade item ("Assignment: NAME (Real)"), Last downloaded from this course.
    plain             the grader's own form: student (the submission id, as in OUT/<student>/)
                      and any of name, canvas_id, sis_user_id, sis_login_id, section, email,
                      idnumber. Only here is an unknown column refused (a misspelt `emial`
                      would export everyone without an identifier); the LMS files carry many
                      columns the export does not need.

A row keeps everything the LMS said about the person (which LMS, its user id: Canvas' ID or
Moodle's participant number, name, email, SIS ids, ID number, section, the worksheet's own
columns) so the export answers in the same form.

Matching, one rule for every export (grader/identity.py): the LMS's ids first where both sides
carry them (exact, and two different ids of the same LMS are never the same person), then the
exact submission id, then the folded names (accents, case, spacing, word order). A pair is
made only when it is unique both ways; everything else is a Doubt with its nearest candidates,
so that a grade never lands on the wrong person and nobody is a silent 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import UsageError
from ..identity import Identity, fold, order_free
from ..messages import msg
from .lms_files import Table, read_table
from .results import BrokenResult, StudentResult

COLUMNS = ("student", "name", "canvas_id", "sis_user_id", "sis_login_id", "section", "email", "idnumber")
SOURCES = ("plain", "canvas_gradebook", "moodle_worksheet", "moodle_grades")
MAX_ROSTER_BYTES = 10 * 1024 * 1024
CANVAS_META_ROWS = ("points possible", "manual posting", "automatic posting")
CANVAS_TEST_STUDENT = order_free("Student, Test")
WORKSHEET = ("Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
             "Last modified (submission)", "Last modified (grade)", "Feedback comments")
MOODLE_LABELS = {
    "identifier": ("identificador",),
    "full name": ("nombre completo",),
    "email address": ("dirección de correo", "dirección de correo electrónico", "dirección email", "correo electrónico",
                      "email"),
    "status": ("estado",),
    "grade": ("calificación", "nota"),
    "maximum grade": ("calificación máxima", "nota máxima"),
    "grade can be changed": ("la calificación puede ser cambiada", "la calificación puede cambiarse",
                             "se puede cambiar la calificación"),
    "last modified (submission)": ("última modificación (entrega)", "última modificación (envío)"),
    "last modified (grade)": ("última modificación (calificación)", "última modificación (nota)"),
    "feedback comments": ("comentarios de retroalimentación", "comentarios de la retroalimentación"),
    "first name": ("nombre",),
    "last name": ("apellido(s)", "apellidos"),
    "id number": ("número de id", "número de identificación", "número id"),
    "department": ("departamento",),
}
"""Moodle's own column labels in Spanish (its language packs: es, es_mx and their versions), each
read as the English one. Moodle writes a worksheet and a grade export in the language of the
teacher's session and reads an uploaded worksheet by the labels of that same language, so a
worksheet is written back with the labels it came with."""
_MOODLE_ALIAS = {label: english for english, labels in MOODLE_LABELS.items() for label in labels}


@dataclass(frozen=True)
class RosterRow:
    student: str  # the submission id when the roster says it (plain form); "" in an LMS file
    name: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    idnumber: str = ""
    line: int = 0  # where it is in the roster file (0: made up from a result, no roster given)
    lms: str = ""  # "canvas" | "moodle" | "" (unknown)
    lms_user_id: str = ""  # Canvas' ID, Moodle's participant number
    source: str = "plain"
    integration_id: str = ""
    root_account: str = ""
    status: str = ""  # the worksheet's own columns, written back unchanged
    max_grade: str = ""
    can_change: str = ""
    modified_submission: str = ""
    modified_grade: str = ""
    identifier: str = ""  # the worksheet's own Identifier cell, written back as it came (Moodle parses it by its label's length)

    @property
    def key(self) -> str:
        """Unique within a roster: what the export keys each row's grade by."""
        return self.student or (f"{self.lms}:{self.lms_user_id}" if self.lms_user_id else f"line:{self.line}")

    @property
    def label(self) -> str:
        """How a message names this row: the submission id, else the LMS's name and id."""
        if self.student:
            return self.student
        ident = self.lms_user_id or self.email or self.sis_login_id
        return f"{self.name} [{ident}]" if ident else self.name or f"line {self.line}"


@dataclass(frozen=True)
class CanvasAssignment:
    """One assignment column of a Canvas gradebook export, and its Points Possible cell."""

    name: str
    id: str
    points_possible: str


@dataclass(frozen=True)
class Roster:
    rows: tuple[RosterRow, ...]
    path: Path | None  # None: no roster was given, each result stands for itself
    source: str = "plain"
    encoding: str = "utf-8"
    separator: str = ","
    canvas_assignments: tuple[CanvasAssignment, ...] = ()
    header: tuple[str, ...] = ()  # the file's own column labels, as written (a worksheet goes back with them)


@dataclass(frozen=True)
class Entry:
    """One line of an export: a rostered student, with their submission if one matched."""

    row: RosterRow
    result: StudentResult | None
    broken: BrokenResult | None = None  # a submission whose result.json is unusable: never a 0
    rule: str = ""  # "lms_id" | "student" | "name": how the pair was made


@dataclass(frozen=True)
class Doubt:
    """A roster row or a submission that could not be paired, and the nearest names on the other
    side, so the teacher can fix the roster (or the folder name) in one look."""

    kind: str  # "row_none" | "row_several" | "submission_none" | "submission_several"
    who: str
    line: int
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Matching:
    entries: tuple[Entry, ...]  # roster order: every rostered student, graded or not
    unrostered: tuple[StudentResult, ...]  # graded, but no roster row: not exported
    absent: tuple[RosterRow, ...]  # rostered, and no submission matched
    doubts: tuple[Doubt, ...] = ()
    plausible: frozenset = field(default_factory=frozenset)  # row keys an unmatched submission may be
    unrostered_broken: tuple[BrokenResult, ...] = ()

    @property
    def blocking(self) -> tuple[Doubt, ...]:
        """What stops the export without --allow-unmatched: a submission without its row, a row
        or submission with several candidates, a row an unmatched submission may belong to."""
        return tuple(d for d in self.doubts if d.kind != "row_none" or d.candidates)


# -- reading ---------------------------------------------------------------------------------

def _norm(cell: str) -> str:
    return " ".join(cell.replace("_", " ").split()).casefold()


def moodle_label(cell: str) -> str:
    """A Moodle column label as the English one ("Identificador" is "identifier"), normalised."""
    name = _norm(cell)
    return _MOODLE_ALIAS.get(name, name)


def detect(header: tuple[str, ...]) -> str:
    names = {_norm(h) for h in header}
    if {"student", "id"} <= names and names & {"sis user id", "sis login id"}:
        return "canvas_gradebook"
    names = {moodle_label(h) for h in header}
    if {"identifier", "full name", "grade"} <= names:
        return "moodle_worksheet"
    if {"first name", "last name", "email address"} <= names:
        return "moodle_grades"
    return "plain"


def load_roster(path: Path) -> Roster:
    """Read a roster in any of the four shapes; UsageError says which line or column is wrong."""
    table = read_table(Path(path))
    source = detect(table.header)
    reader = {"canvas_gradebook": _canvas, "moodle_worksheet": _worksheet, "moodle_grades": _moodle_grades,
              "plain": _plain}[source]
    rows, assignments = reader(table)
    _no_duplicates(table.path, rows)
    return Roster(tuple(rows), table.path, source, table.encoding, table.separator, tuple(assignments),
                  tuple(table.header))


def _cells(table: Table, record: tuple[str, ...], label=_norm) -> dict[str, str]:
    values = {}
    for name, cell in zip(table.header, record):
        values.setdefault(label(name), cell.strip())
    return values


def _width(table: Table, line: int, record) -> None:
    if len(record) != len(table.header):
        raise UsageError(msg("export.roster_row_width", path=str(table.path), line=line, found=len(record),
                             expected=len(table.header)), hint=msg("export.roster_excel_hint"))


ASSIGNMENT_COLUMN = re.compile(r"^(?P<name>.*\S)\s*\((?P<id>\d+)\)$")


def _canvas(table: Table):
    assignments, points = [], {}
    rows = []
    for line, record in table.rows:
        cells = _cells(table, record)
        first = record[0] if record else ""
        if not cells.get("id"):  # Points Possible, the posting-policy row: not students
            if first.strip().casefold() == "points possible":
                points = dict(zip(table.header, record))
            continue
        _width(table, line, record)
        name = cells.get("student", "")
        if order_free(name) == CANVAS_TEST_STUDENT:  # Canvas' student view, never a person
            continue
        rows.append(RosterRow("", name=name, canvas_id=cells["id"], sis_user_id=cells.get("sis user id", ""),
                              sis_login_id=cells.get("sis login id", ""), section=cells.get("section", ""),
                              line=line, lms="canvas", lms_user_id=cells["id"], source="canvas_gradebook",
                              integration_id=cells.get("integration id", ""),
                              root_account=cells.get("root account", "")))
    for column in table.header:
        found = ASSIGNMENT_COLUMN.match(column.strip())
        if found:
            assignments.append(CanvasAssignment(found["name"], found["id"], (points.get(column) or "").strip()))
    return rows, assignments


PARTICIPANT = re.compile(r"(\d+)\s*$")


def _worksheet(table: Table):
    rows = []
    for line, record in table.rows:
        _width(table, line, record)
        cells = _cells(table, record, moodle_label)
        found = PARTICIPANT.search(cells.get("identifier", ""))
        if not found:
            raise UsageError(msg("export.roster_bad_participant", path=str(table.path), line=line,
                                 found=cells.get("identifier", "")), hint=msg("export.roster_worksheet_hint"))
        rows.append(RosterRow("", name=cells.get("full name", ""), email=cells.get("email address", ""), line=line,
                              lms="moodle", lms_user_id=found.group(1), source="moodle_worksheet",
                              status=cells.get("status", ""), max_grade=cells.get("maximum grade", ""),
                              can_change=cells.get("grade can be changed", ""),
                              modified_submission=cells.get("last modified (submission)", ""),
                              modified_grade=cells.get("last modified (grade)", ""),
                              identifier=cells.get("identifier", "").strip()))
    return rows, []


def _moodle_grades(table: Table):
    rows = []
    for line, record in table.rows:
        _width(table, line, record)
        cells = _cells(table, record, moodle_label)
        name = " ".join(part for part in (cells.get("first name", ""), cells.get("last name", "")) if part)
        rows.append(RosterRow("", name=name, email=cells.get("email address", ""), idnumber=cells.get("id number", ""),
                              section=cells.get("department", ""), line=line, lms="moodle", source="moodle_grades"))
    return rows, []


def _plain(table: Table):
    path = table.path
    hint = msg("export.roster_hint", columns=", ".join(COLUMNS))
    header = [_norm(cell).replace(" ", "_") for cell in table.header]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise UsageError(msg("export.roster_unknown_columns", path=str(path), columns=", ".join(repr(u) for u in unknown)),
                         hint=hint)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise UsageError(msg("export.roster_repeated_columns", path=str(path), columns=", ".join(repeated)))
    if "student" not in header:
        raise UsageError(msg("export.roster_no_student", path=str(path)), hint=hint)
    rows = []
    for line, record in table.rows:
        if len(record) != len(header):
            raise UsageError(msg("export.roster_row_width", path=str(path), line=line, found=len(record),
                                 expected=len(header)))
        values = {name: cell.strip() for name, cell in zip(header, record)}
        if not values["student"]:
            raise UsageError(msg("export.roster_row_no_student", path=str(path), line=line))
        canvas = values.get("canvas_id", "")
        rows.append(RosterRow(line=line, lms="canvas" if canvas else "", lms_user_id=canvas, **values))
    return rows, []


def _no_duplicates(path: Path, rows) -> None:
    """The same person twice would take one grade twice: refused, with both lines."""
    seen: dict[str, int] = {}
    for row in rows:
        for key in filter(None, (row.student and f"s:{row.student}",
                                 row.lms_user_id and f"{row.lms}:{row.lms_user_id}")):
            if key in seen:
                raise UsageError(msg("export.roster_duplicate", path=str(path), student=key.split(":", 1)[1],
                                     line=row.line, first=seen[key]))
            seen[key] = row.line


def implicit_roster(results, broken=()) -> Roster:
    """Without --roster each submission is its own row, carrying the LMS identity its result
    recorded (a Canvas or Moodle download): the student id stands in for the LMS login."""
    rows = []
    for r in sorted(results, key=lambda r: r.student):
        ident = r.identity
        rows.append(RosterRow(r.student, name=r.display_name, lms=ident.lms, lms_user_id=ident.lms_user_id,
                              canvas_id=ident.lms_user_id if ident.lms == "canvas" else ""))
    known = {row.student for row in rows}
    rows += [RosterRow(b.student) for b in broken if b.student not in known]
    return Roster(tuple(sorted(rows, key=lambda r: r.student)), None)


# -- matching --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Submission:
    identity: Identity
    result: StudentResult | None
    broken: BrokenResult | None


def _row_ids(row: RosterRow) -> set[str]:
    return {v for v in (row.student, row.sis_login_id, row.sis_user_id, row.idnumber, row.email) if v}


def _row_names(row: RosterRow) -> set[str]:
    return {k for k in (fold(row.name), order_free(row.name), fold(row.student), order_free(row.student)) if k}


def _sub_names(identity: Identity) -> set[str]:
    return identity.keys() | ({order_free(identity.student)} - {""})


def _conflict(row: RosterRow, identity: Identity) -> bool:
    """Both carry an id of the same LMS, and the ids differ: two people, whatever their names."""
    return bool(row.lms and row.lms_user_id and identity.lms == row.lms and identity.lms_user_id
                and identity.lms_user_id != row.lms_user_id)


def match(roster: Roster, results, broken=()) -> Matching:
    """Pair roster rows with submissions (results, and unusable results, which are submissions
    too: their student must never get a 0 for "no submission")."""
    rows = list(roster.rows)
    subs = [_Submission(r.identity, r, None) for r in results]
    subs += [_Submission(Identity(b.student, b.student), None, b) for b in broken]
    pairs: dict[int, tuple[int, str]] = {}
    several_rows: set[int] = set()
    several_subs: set[int] = set()
    rules = (
        ("lms_id", lambda row: {f"{row.lms}:{row.lms_user_id}"} if row.lms and row.lms_user_id else set(),
         lambda ident: {f"{ident.lms}:{ident.lms_user_id}"} if ident.lms and ident.lms_user_id else set()),
        ("student", _row_ids, lambda ident: {ident.student}),
        ("name", _row_names, _sub_names),
    )
    for rule, row_keys, sub_keys in rules:
        free_rows = [i for i in range(len(rows)) if i not in pairs]
        taken = {s for s, _ in pairs.values()}
        free_subs = [j for j in range(len(subs)) if j not in taken]
        keys_of_sub = {j: sub_keys(subs[j].identity) for j in free_subs}
        row_cands: dict[int, list[int]] = {}
        sub_cands: dict[int, list[int]] = {j: [] for j in free_subs}
        for i in free_rows:
            keys = row_keys(rows[i])
            cands = [j for j in free_subs if keys & keys_of_sub[j] and not _conflict(rows[i], subs[j].identity)]
            row_cands[i] = cands
            for j in cands:
                sub_cands[j].append(i)
        for i, cands in row_cands.items():
            if len(cands) == 1 and len(sub_cands[cands[0]]) == 1:
                pairs[i] = (cands[0], rule)
                several_rows.discard(i)
                several_subs.discard(cands[0])
            elif len(cands) > 1:
                several_rows.add(i)
        several_subs |= {j for j, cands in sub_cands.items() if len(cands) > 1}
    taken = {s for s, _ in pairs.values()}
    several_subs -= taken
    several_rows -= set(pairs)
    entries = []
    for i, row in enumerate(rows):
        j, rule = pairs.get(i, (None, ""))
        sub = subs[j] if j is not None else None
        entries.append(Entry(row, sub.result if sub else None, sub.broken if sub else None, rule))
    loose_subs = [j for j in range(len(subs)) if j not in taken]
    loose_rows = [i for i in range(len(rows)) if i not in pairs]
    doubts, plausible = [], set()
    sub_label = {j: _sub_label(subs[j]) for j in loose_subs}
    row_label = {i: rows[i].label for i in loose_rows}
    for i in loose_rows:
        near = _nearest(_row_query(rows[i]), {j: _sub_query(subs[j].identity) for j in loose_subs})
        cands = tuple(sub_label[j] for j, _ in near)
        if loose_subs or i in several_rows:
            # an unmatched submission may be anyone's whose row is unmatched, whatever its name's distance
            # (a nickname, a married name, a student id as a file name): no such row is ever a 0 for "nothing sent"
            plausible.add(rows[i].key)
        doubts.append(Doubt("row_several" if i in several_rows else "row_none", rows[i].label, rows[i].line, cands))
    for j in loose_subs:
        near = _nearest(_sub_query(subs[j].identity), {i: _row_query(rows[i]) for i in loose_rows})
        doubts.append(Doubt("submission_several" if j in several_subs else "submission_none", sub_label[j], 0,
                            tuple(row_label[i] for i, _ in near)))
    unrostered = tuple(sorted((subs[j].result for j in loose_subs if subs[j].result), key=lambda r: r.student))
    unrostered_broken = tuple(subs[j].broken for j in loose_subs if subs[j].broken)
    absent = tuple(e.row for e in entries if e.result is None and e.broken is None)
    return Matching(tuple(entries), unrostered, absent, tuple(doubts), frozenset(plausible), unrostered_broken)


def _sub_label(sub: _Submission) -> str:
    ident = sub.identity
    return ident.student if fold(ident.display_name) in ("", fold(ident.student)) else f"{ident.student} ({ident.display_name})"


def _row_query(row: RosterRow) -> str:
    return order_free(row.name or row.student)


def _sub_query(identity: Identity) -> str:
    return order_free(identity.display_name or identity.student)


def _nearest(query: str, choices: dict, limit: int = 3) -> list[tuple[object, float]]:
    """The nearest names on the other side (rapidfuzz, word order ignored), best first."""
    if not query or not choices:
        return []
    from rapidfuzz import fuzz, process

    found = process.extract(query, choices, scorer=fuzz.token_sort_ratio, limit=limit, score_cutoff=40)
    return [(key, score) for _, score, key in found]


def with_row(entry: Entry, **changes) -> Entry:
    return replace(entry, row=replace(entry.row, **changes))


__all__ = ["COLUMNS", "SOURCES", "WORKSHEET", "RosterRow", "Roster", "Entry", "Doubt", "Matching", "CanvasAssignment",
           "load_roster", "implicit_roster", "match", "detect"]
