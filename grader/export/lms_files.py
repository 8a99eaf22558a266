"""A spreadsheet file as the LMS or Excel saved it, read back as rows of text cells.

Teachers hand the grader what their LMS gave them, often after a trip through Excel, so the
roster reader cannot assume "UTF-8, commas". What Excel and the LMSs actually write:

    UTF-8 with BOM      Excel's "CSV UTF-8 (Comma delimited)", and Canvas' gradebook export
    UTF-8 without BOM   Moodle's exports, LibreOffice, hand-made files
    UTF-16 with BOM     Excel's "Unicode Text": tab-separated
    cp1252 / Latin-1    Excel's plain "CSV (Comma delimited)" on Windows; in a Spanish (or any
                        comma-decimal) locale its separator is `;`

Strict decodings are tried first (a BOM, then UTF-8), because a wrong guess would turn "José"
into "JosÃ©" and the name would no longer match; only a file that is not UTF-8 goes to
charset-normalizer, restricted to the Western encodings Excel writes. The separator is `,`,
`;` or tab: `csv.Sniffer` restricted to those three, checked against the header (a sniffed
separator that leaves the header in one piece is not believed), with a count in the header line
as the fallback. Anything that still cannot be read says its line, what was expected, and the
Excel option that writes a readable file. Nothing here knows what the columns mean (roster.py).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..messages import msg

MAX_TABLE_BYTES = 10 * 1024 * 1024  # a class of 2,000 with 50 assignment columns is ~2 MB
SEPARATORS = (",", ";", "\t")
WESTERN = ["cp1252", "latin_1", "iso8859_15", "cp850"]  # what Excel writes outside UTF-8
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass(frozen=True)
class Table:
    """A decoded spreadsheet: its header, its rows (each with its line in the file), and how it
    was read (said in messages, so a teacher sees "cp1252, `;`" when a name looks wrong)."""

    path: Path
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    encoding: str
    separator: str


def _hint():
    return msg("export.roster_excel_hint")


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """The text and the encoding it was read with; UsageError for a file that is not text."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise UsageError(msg("export.roster_bad_encoding", path=str(path), encoding=encoding,
                                     offset=exc.start), hint=_hint()) from exc
    if b"\x00" in data[:4096]:  # UTF-16 without its BOM is not something Excel writes: binary
        raise UsageError(msg("export.roster_binary", path=str(path)), hint=_hint())
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=WESTERN).best()
    if best is None:
        raise UsageError(msg("export.roster_binary", path=str(path)), hint=_hint())
    text = str(best)
    if _looks_binary(text):
        raise UsageError(msg("export.roster_binary", path=str(path)), hint=_hint())
    return text, best.encoding


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    return bool(sample) and controls > len(sample) // 100


def separator(text: str) -> str:
    """`,`, `;` or tab: the sniffer's answer if it splits the header, else the commonest of the
    three in the header line (outside quotes), else `,` (a one-column file)."""
    first = text.split("\n", 1)[0]
    sample = "\n".join(text.splitlines()[:30])
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed in SEPARATORS and len(next(csv.reader([first], delimiter=sniffed), [])) > 1:
        return sniffed
    unquoted = "".join(part for i, part in enumerate(first.split('"')) if i % 2 == 0)
    counts = {sep: unquoted.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: (counts[sep], sep == "\t", sep == ";"))
    return best if counts[best] else ","


def read_table(path: Path) -> Table:
    """Read a CSV/TSV the way Excel or an LMS saved it; UsageError (line, what was expected, the
    Excel option) for anything that is not a readable table."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise UsageError(msg("export.roster_too_large", path=str(path), mb=MAX_TABLE_BYTES >> 20))
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(msg("export.roster_missing", path=str(path))) from None
    except IsADirectoryError:
        raise UsageError(msg("export.roster_unreadable", path=str(path), error="is a directory")) from None
    except OSError as exc:
        raise UsageError(msg("export.roster_unreadable", path=str(path), error=str(exc)), hint=_hint()) from exc
    text, encoding = decode(data, path)
    text = text.lstrip("\ufeff")
    sep = separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    records: list[tuple[int, tuple[str, ...]]] = []
    try:
        line = 1
        for record in reader:
            records.append((line, tuple(record)))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UsageError(msg("export.roster_not_csv_line", path=str(path), line=reader.line_num, error=str(exc),
                             separator=SEPARATOR_NAMES[sep], encoding=encoding), hint=_hint()) from exc
    records = [(line, record) for line, record in records if any(cell.strip() for cell in record)]
    if not records:
        raise UsageError(msg("export.roster_empty", path=str(path)), hint=_hint())
    (_, header), body = records[0], records[1:]
    return Table(path, tuple(cell.strip().lstrip("\ufeff") for cell in header), tuple(body), encoding, sep)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A text cell that Excel will not run as a formula ("=cmd|' /C calc'!A0"): such a cell gets
    a leading apostrophe (OWASP's advice for CSV injection). Numbers (a grade, "-0.5") are left
    alone; they are written by the grader, never copied from a roster or a submission."""
    text = str(value)
    if text.startswith(FORMULA_START):
        try:
            float(text)
            return text
        except ValueError:
            return "'" + text
    return text


__all__ = ["Table", "read_table", "decode", "separator", "safe_cell", "MAX_TABLE_BYTES", "SEPARATORS"]
