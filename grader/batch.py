"""Grade a class folder: one worker process per submission, N at a time, resumable.

Each submission is graded by `python -m grader.batch` in its own process (JSON in, JSON lines
out), so a crash, a hang or a `kill -9` of one worker costs only that student's result, which
becomes an error result (and is regraded on the next run). A rerun skips every submission whose
result.json carries the same fingerprint (content, rubric, protocol, grader version, options).
At the end the class files are rebuilt from the per-student results: gradebook.csv,
results.jsonl and index.html.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import OutputError
from .pipeline import GradeResult, Options, _atomic_write, fingerprint
from .rubric import Rubric
from .submission import KINDS, student_id

WORKER_MEMORY_GB = 1.5  # kernel + retraining worker, resident, per submission


@dataclass(frozen=True)
class Entry:
    student: str
    path: Path | None  # None: nothing gradable (see note)
    note: str = ""


def discover(folder: Path, ignore: list[str]) -> tuple[list[Entry], list[str]]:
    """Files (.ipynb/.py) or one subfolder per student; anything else is skipped with a note."""
    folder = folder.resolve()
    entries, skipped, seen = [], [], set()
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        name = item.name
        if name.startswith(".") or name in ignore or name == "__pycache__":
            continue
        if item.is_symlink():
            target = item.resolve()
            if folder not in target.parents:
                skipped.append(f"{name}: enlace simbólico que apunta fuera de la carpeta ({target}); no se corrige")
                continue
        if item.is_file():
            if item.suffix.lower() not in KINDS:
                skipped.append(f"{name}: no es una entrega (.ipynb o .py)")
                continue
            student = student_id(item.stem)
            candidate = Entry(student, item)
        elif item.is_dir():
            inside = [p for p in sorted(item.rglob("*")) if p.is_file() and p.suffix.lower() in KINDS
                      and not any(part.startswith(".") for part in p.relative_to(item).parts)]
            inside = [p for p in inside if not p.is_symlink() or item.resolve() in p.resolve().parents]
            student = student_id(name)
            if len(inside) == 1:
                candidate = Entry(student, inside[0])
            elif not inside:
                skipped.append(f"{name}/: la carpeta no tiene un .ipynb ni un .py")
                continue
            else:
                listing = ", ".join(p.name for p in inside[:5])
                candidate = Entry(student, None, f"la carpeta tiene varias entregas ({listing}); deje una sola")
        else:
            continue
        if candidate.student in seen:
            skipped.append(f"{name}: el id de estudiante {candidate.student!r} ya está usado por otra entrega")
            continue
        seen.add(candidate.student)
        entries.append(candidate)
    return entries, skipped


def _previous(out: Path, student: str) -> dict | None:
    try:
        data = json.loads((out / student / "result.json").read_text())
        return data if (out / student / "report.html").exists() else None
    except (OSError, ValueError):
        return None


def _error_result(entry: Entry, rubric: Rubric, status: str, message: str) -> GradeResult:
    return GradeResult(entry.student, entry.path.stem if entry.path else entry.student, status, 0.0,
                       rubric.max_score, message=message)


def jobs_for_memory(requested: int) -> tuple[int, str]:
    try:
        total_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return requested, ""
    fit = max(1, int(total_gb * 0.75 / WORKER_MEMORY_GB))
    if requested > fit:
        return fit, f"--jobs {requested} reducido a {fit}: cada corrección usa ~{WORKER_MEMORY_GB} GB y hay {total_gb:.0f} GB"
    return requested, ""


class _Progress:
    def __init__(self, total: int, jobs: int, stream=sys.stderr) -> None:
        self.total, self.jobs, self.stream = total, jobs, stream
        self.done, self.durations, self.state = 0, [], {}
        self.started = time.monotonic()

    def update(self, student: str, stage: str, detail: str = "") -> None:
        self.state[student] = f"{stage}{' ' + detail if detail else ''}"
        self._print(f"{student}: {self.state[student]}")

    def finish(self, student: str, line: str, duration: float | None) -> None:
        self.done += 1
        self.state.pop(student, None)
        if duration is not None:
            self.durations.append(duration)
        self._print(line)

    def _print(self, line: str) -> None:
        remaining = self.total - self.done
        eta = ""
        if self.durations and remaining:
            seconds = sum(self.durations) / len(self.durations) * remaining / self.jobs
            eta = f" · ETA {seconds / 60:.0f} min"
        print(f"[{self.done:>3}/{self.total}{eta}] {line}", file=self.stream, flush=True)


def _worker_command(entry: Entry, rubric_path: Path | None, options: Options, protocol: dict) -> tuple[list[str], str]:
    payload = {"path": str(entry.path), "student": entry.student, "rubric": str(rubric_path) if rubric_path else None,
               "protocol": protocol, "options": {**asdict(options), "out": str(options.out),
                                                 "cache_dir": str(options.cache_dir) if options.cache_dir else None,
                                                 "quiet": True}}
    return [sys.executable, "-m", "grader.batch"], json.dumps(payload)


def grade_folder(folder: Path, rubric: Rubric, options: Options, jobs: int = 1, force: bool = False,
                 rubric_path: Path | None = None, stream=sys.stderr) -> dict:
    """Grade every submission in `folder`; returns the class summary (also written to disk)."""
    entries, skipped = discover(folder, rubric.contract.get("batch_ignore", []))
    for note in skipped:
        print(f"  omitido: {note}", file=stream)
    jobs, why = jobs_for_memory(max(1, jobs))
    if why:
        print(f"  {why}", file=stream)
    todo, reused = [], []
    for entry in entries:
        previous = _previous(options.out, entry.student)
        if entry.path is not None and not force and previous and previous.get("fingerprint"):
            sha = __import__("hashlib").sha256(entry.path.read_bytes()).hexdigest()
            if previous["fingerprint"] == fingerprint(sha, rubric, options):
                reused.append(entry.student)
                continue
        todo.append(entry)
    progress = _Progress(len(todo), jobs, stream)
    if reused:
        print(f"  sin cambios (no se recorrigen): {', '.join(reused)}", file=stream)
    events: queue.Queue = queue.Queue()
    reported: set[str] = set()
    running: dict[str, tuple[subprocess.Popen, float, Entry]] = {}
    pending = list(todo)
    protocol = rubric.protocol.to_json()

    def reader(student: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            try:
                events.put((student, json.loads(line)))
            except ValueError:
                continue
        events.put((student, {"eof": True}))

    while pending or running:
        while pending and len(running) < jobs:
            entry = pending.pop(0)
            if entry.path is None:
                result = _error_result(entry, rubric, "invalid_submission", entry.note)
                _write_error(result, rubric, options)
                progress.finish(entry.student, f"{entry.student}: entrega inválida — {entry.note}", None)
                continue
            command, payload = _worker_command(entry, rubric_path, options, protocol)
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True, start_new_session=True)
            process.stdin.write(payload)
            process.stdin.close()
            running[entry.student] = (process, time.monotonic(), entry)
            threading.Thread(target=reader, args=(entry.student, process), daemon=True).start()
            progress.update(entry.student, "inicio")
        if not running:
            continue
        student, message = events.get()
        process, began, entry = running[student]
        if "stage" in message:
            progress.update(student, message["stage"], message.get("detail", ""))
        elif "done" in message:
            reported.add(student)
            summary = message["done"]
            progress.finish(student, f"{student}: {summary['score']:g}/{summary['max_score']:g} ({summary['status']})",
                            time.monotonic() - began)
        elif "fatal" in message:
            for other, (proc, _, _) in running.items():
                if other != student:
                    proc.kill()
            raise OutputError(message["fatal"])
        elif "error" in message:
            reported.add(student)
            result = _error_result(entry, rubric, "grader_error", message["error"])
            _write_error(result, rubric, options)
            progress.finish(student, f"{student}: error del grader — {message['error'][:200]}", time.monotonic() - began)
        elif message.get("eof"):
            code = process.wait()
            del running[student]
            if student not in reported:
                result = _error_result(entry, rubric, "grader_error",
                                       f"el proceso que corregía esta entrega terminó con el código {code}; se recorrige en la próxima ejecución")
                _write_error(result, rubric, options)
                progress.finish(student, f"{student}: el corrector falló (código {code})", time.monotonic() - began)
    summary = write_class_files(options.out, [e.student for e in entries], rubric, skipped)
    summary["reused"] = reused
    summary["graded_now"] = [e.student for e in todo]
    return summary


def _write_error(result: GradeResult, rubric: Rubric, options: Options) -> None:
    from .pipeline import _write
    _write(result, None, rubric, options)


def write_class_files(out: Path, students: list[str], rubric: Rubric, skipped: list[str]) -> dict:
    """gradebook.csv, results.jsonl and index.html from the per-student result.json files."""
    results = []
    for student in students:
        try:
            results.append(json.loads((out / student / "result.json").read_text()))
        except (OSError, ValueError):
            continue
    check_ids = [c.id for c in rubric.checks]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "score", "max_score", *check_ids, "sandbox", "status", "duration_s"])
    for r in results:
        points = {c["id"]: c["points"] for c in r.get("checks", [])}
        writer.writerow([r["student"], r["score"], r["max_score"], *[points.get(i, "") for i in check_ids],
                         (r.get("sandbox") or {}).get("level", ""), r["status"],
                         round((r.get("timings") or {}).get("total", 0.0), 1)])
    _atomic_write(out / "gradebook.csv", buffer.getvalue())
    _atomic_write(out / "results.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    from . import class_report
    summary = class_report.summarize(results, rubric)
    summary["skipped"] = skipped
    _atomic_write(out / "index.html", class_report.render(summary, rubric))
    return summary


# --- worker side ------------------------------------------------------------------------------

def _worker() -> int:
    from . import rubric as rubric_module
    from .pipeline import grade

    payload = json.loads(sys.stdin.read())
    raw = payload["options"]
    options = Options(out=Path(raw["out"]), lang=raw["lang"], data_dir=raw["data_dir"], seeds=raw["seeds"],
                      allow_unsandboxed=raw["allow_unsandboxed"],
                      cache_dir=Path(raw["cache_dir"]) if raw["cache_dir"] else None, quiet=True, retrain=raw["retrain"])
    rubric = rubric_module.load(payload["rubric"])
    rubric = rubric.with_protocol(**payload["protocol"])

    def on_stage(stage: str, detail: str) -> None:
        print(json.dumps({"stage": stage, "detail": detail}), flush=True)

    try:
        result = grade(Path(payload["path"]), rubric, options, payload["student"], on_stage)
    except OutputError as exc:  # the output disk: the parent stops the batch with this message
        print(json.dumps({"fatal": str(exc)}), flush=True)
        return 1
    except Exception as exc:  # reported to the parent as this student's error, never a batch stop
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    print(json.dumps({"done": {"score": result.score, "max_score": result.max_score, "status": result.status}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
