"""An LMS download zip, unpacked as untrusted input into a folder the grader owns.

A class's zip comes from an LMS, but what is inside it comes from students (Canvas and Moodle
keep the file names they uploaded), so every member is checked before a byte is written, and
one bad member never stops the others: each refused member is said, with its reason.

- names: decoded as the zip says (UTF-8 when flag bit 0x800 is set, else cp437, APPNOTE 4.4.4);
  a cp437 name that is valid UTF-8 is read as UTF-8 (what Windows and macOS tools write without
  setting the flag), then NFC, so an NFD name from a Mac is the same student as its NFC row;
- paths: no absolute path, drive letter, backslash, `..` or empty part, nothing that would land
  outside the target folder; no two members with the same name;
- kinds: regular files and folders only; a symbolic link (S_IFLNK in the high 16 bits of
  `external_attr`, as Info-ZIP stores it) or any other special file is refused, so is an
  encrypted member;
- sizes: at most MAX_MEMBERS members, MAX_MEMBER_BYTES each and MAX_TOTAL_BYTES in all, and no
  member larger than RATIO_FLOOR compressed more than MAX_RATIO:1 (a zip bomb). The declared
  sizes are never trusted: bytes are counted while they are written, and a member that yields
  more (or fewer) bytes than it declares is refused; `zipfile`'s own CRC check stays on.

The target is OUT/.download/<zip stem>/: rebuilt from the zip on every run (in a sibling folder,
then swapped in), so a rerun finds the unchanged submissions by content and grades only the new.
"""

from __future__ import annotations

import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import UsageError
from ..messages import Message, msg
from ..submission import student_id

MAX_MEMBERS = 5000
MAX_MEMBER_BYTES = 64 << 20  # a notebook is at most submission.MAX_BYTES (20 MB); room for a PDF beside it
MAX_TOTAL_BYTES = 2 << 30
MAX_RATIO = 200  # deflate tops out near 1032:1; real notebooks compress ~3-20:1
RATIO_FLOOR = 1 << 20  # a small member cannot be a bomb, whatever its ratio
CHUNK = 1 << 16
DOWNLOADS = ".download"  # OUT/.download/<zip stem>/: hidden, so discovery never grades it as a student
JUNK = ("__MACOSX",)  # macOS resource forks: not anyone's submission, not unpacked


@dataclass(frozen=True)
class Unpacked:
    """Where a zip was unpacked, how many files were written and each refused member's note."""

    folder: Path
    written: int
    refused: tuple[Message, ...]


def is_zip(path: Path) -> bool:
    return Path(path).suffix.lower() == ".zip" and Path(path).is_file()


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author wrote it (see the module docstring), NFC."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # a real cp437 name (or already decoded otherwise): keep zipfile's reading
    return unicodedata.normalize("NFC", name)


def unsafe_path(name: str) -> Message | None:
    """Why a member's name cannot be written under the target folder, or None."""
    if "\\" in name:
        return msg("zip.reason_backslash")
    if "\x00" in name or any(ord(ch) < 32 for ch in name):
        return msg("zip.reason_bad_name")
    if name.startswith("/"):
        return msg("zip.reason_absolute")
    if re.match(r"^[A-Za-z]:", name):
        return msg("zip.reason_drive")
    parts = PurePosixPath(name.rstrip("/")).parts
    if any(part == ".." for part in name.split("/")):
        return msg("zip.reason_escape")
    if not parts or any(part in ("", ".") for part in name.rstrip("/").split("/")):
        return msg("zip.reason_bad_name")
    return None


def _kind(info: zipfile.ZipInfo) -> Message | None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return msg("zip.reason_symlink")
    if mode and stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return msg("zip.reason_special")
    if info.flag_bits & 0x1:
        return msg("zip.reason_encrypted")
    return None


class _Refused(Exception):
    def __init__(self, reason: Message) -> None:
        super().__init__(reason.key)
        self.reason = reason


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Write one member, counting its bytes; the bytes written (raises _Refused)."""
    cap = min(MAX_MEMBER_BYTES, budget)
    written = 0
    partial = target.with_name(target.name + ".part")
    try:
        with archive.open(info) as source, open(partial, "wb") as sink:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if written > cap:
                    raise _Refused(msg("zip.reason_too_big", max_mb=MAX_MEMBER_BYTES / 2**20) if cap == MAX_MEMBER_BYTES
                                   else msg("zip.reason_total", max_mb=MAX_TOTAL_BYTES / 2**20))
                if written > RATIO_FLOOR and written > MAX_RATIO * max(1, info.compress_size):
                    raise _Refused(msg("zip.reason_ratio", max=MAX_RATIO))
                sink.write(chunk)
        if written != info.file_size:
            raise _Refused(msg("zip.reason_size_lies"))
        partial.replace(target)
        return written
    except zipfile.BadZipFile as exc:  # the CRC check, or a declared size the stream does not hold
        raise _Refused(msg("zip.reason_size_lies") if "CRC" in str(exc) else msg("zip.reason_corrupt", error=str(exc)[:200])) from exc
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, RuntimeError) as exc:
        raise _Refused(msg("zip.reason_corrupt", error=str(exc)[:200])) from exc
    except OSError as exc:
        raise _Refused(msg("zip.reason_write", error=exc.strerror or str(exc))) from exc
    finally:
        partial.unlink(missing_ok=True)


def unpack_into(zip_path: Path, folder: Path) -> tuple[int, list[Message]]:
    """Unpack every acceptable member of `zip_path` into the empty `folder`; (written, notes)."""
    zip_path = Path(zip_path)
    label = zip_path.name
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(msg("zip.not_a_zip", path=str(zip_path), error=str(exc)[:200])) from exc
    notes: list[Message] = []
    written_files, total = 0, 0
    seen: set[str] = set()
    root = folder.resolve()
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            notes.append(msg("zip.too_many", archive=label, n=len(members), max=MAX_MEMBERS))
            members = members[:MAX_MEMBERS]
        for info in members:
            name = member_name(info)
            shown = name[:200]
            reason = unsafe_path(name) or _kind(info)
            if reason is None and name.split("/")[0] in JUNK:
                continue
            clean = name.rstrip("/")
            if reason is None and clean.casefold() in seen and not info.is_dir():
                reason = msg("zip.reason_duplicate")
            target = root.joinpath(*clean.split("/")) if reason is None else None
            if target is not None and root not in target.resolve().parents:
                reason = msg("zip.reason_escape")  # through a folder a previous member made
            if reason is not None:
                notes.append(msg("zip.refused", archive=label, member=shown, reason=reason))
                continue
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists() or target.is_symlink():
                    raise _Refused(msg("zip.reason_duplicate"))
                seen.add(clean.casefold())
                total += _copy(archive, info, target, MAX_TOTAL_BYTES - total)
                written_files += 1
            except _Refused as refused:
                notes.append(msg("zip.refused", archive=label, member=shown, reason=refused.reason))
            except OSError as exc:
                notes.append(msg("zip.refused", archive=label, member=shown,
                                 reason=msg("zip.reason_write", error=exc.strerror or str(exc))))
    return written_files, notes


def unpack_download(zip_path: Path, out: Path) -> Unpacked:
    """Unpack an LMS download into OUT/.download/<zip stem>/ (replacing the previous unpacking)."""
    zip_path = Path(zip_path)
    downloads = Path(out) / DOWNLOADS
    downloads.mkdir(parents=True, exist_ok=True)
    folder = downloads / student_id(zip_path.stem)
    fresh = downloads / f".{folder.name}.new"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    try:
        written, notes = unpack_into(zip_path, fresh)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    fresh.rename(folder)
    return Unpacked(folder, written, tuple(notes))


__all__ = ["Unpacked", "unpack_download", "unpack_into", "unsafe_path", "member_name", "is_zip", "MAX_MEMBERS",
           "MAX_MEMBER_BYTES", "MAX_TOTAL_BYTES", "MAX_RATIO", "DOWNLOADS"]
