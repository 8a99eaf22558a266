"""Grade a class folder: one worker process per submission, N at a time, resumable.

Each submission is graded by `python -m grader.batch.worker` in its own process (JSON in, JSON
lines out), so a crash, a hang or a `kill -9` of one worker costs only that student's result,
which becomes a grader_error result (and is regraded on the next run). A rerun skips every
submission whose result.json carries the same fingerprint (content, rubric, protocol, grader
version, options). At the end the class files are rebuilt from the per-student results.

A result the grader's environment failed on (a grader_fault of kind "environment", confirmed by
grader/readiness.py's probe) stops the batch: nothing new starts, the running workers stop
without a result (so they are graded next run), the class files are rebuilt from what was
written, and NotReady (exit 5) says why and the fix. A grader_error is never "unchanged".

    discover.py     which files are submissions, and whose (Entry, discover)
    lms_download.py a Canvas or Moodle download's names, read
    unzip.py        an LMS download zip, unpacked as untrusted input
    worker.py       the per-submission process
    progress.py     the progress lines
    class_files.py  gradebook.csv, results.jsonl, index.html (with grader/similarity's pairs)
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import NotReady, OutputError
from ..kinds import GradeStatus
from ..messages import Joined, Message, msg, render
from .. import data as data_module
from ..pipeline import Options, error_result, fingerprint, memo_settings, start_references
from ..report import write_result
from ..report.terminal import score_text
from ..rubric import Rubric
from ..workerproc import Worker, stop_all
from .class_files import write_class_files
from .discover import Entry, discover
from .progress import Progress
from .unzip import is_zip, unpack_download
from ..readiness import BATCH_STOPPING

WORKER_MEMORY_GB = 1.5  # kernel + retraining worker, resident, per submission


def jobs_for_memory(requested: int) -> tuple[int, Message | None]:
    """As many parallel workers as 3/4 of the RAM holds (at most `requested`), and why if fewer."""
    try:
        total_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return requested, None
    fit = max(1, int(total_gb * 0.75 / WORKER_MEMORY_GB))
    if requested > fit:
        return fit, msg("batch.jobs_reduced", requested=requested, fit=fit, per_job=WORKER_MEMORY_GB, total_gb=total_gb)
    return requested, None


def _previous(out: Path, student: str) -> dict | None:
    try:
        data = json.loads((out / student / "result.json").read_text(encoding="utf-8"))
        return data if (out / student / "report.html").exists() else None
    except (OSError, ValueError):
        return None


def _unchanged(entry: Entry, rubric: Rubric, options: Options) -> bool:
    previous = _previous(options.out, entry.student)
    if entry.path is None or not previous or not previous.get("fingerprint"):
        return False
    if previous.get("status") == GradeStatus.GRADER_ERROR or previous.get("grader_fault"):
        return False  # the grader failed on it: graded again, whatever its fingerprint says
    sha = hashlib.sha256(entry.path.read_bytes()).hexdigest()
    return previous["fingerprint"] == fingerprint(sha, rubric, options)


def write_error(entry: Entry, status: GradeStatus, message, rubric: Rubric, options: Options) -> None:
    who = entry.who  # the person and their LMS ids: an error result is uploaded and matched like any other
    result = error_result(entry.student, who.display_name, status, message, rubric, identity=who)
    write_result(result, None, rubric, options.out, options.lang)


def stop_workers(workers: list, grace_s: float = 15.0) -> None:
    """SIGTERM every worker (each ends its kernel and sandbox on the way out), then SIGKILL its
    whole tree after `grace_s`: no worker, kernel or trainer outlives an interrupted batch."""
    stop_all(workers, grace_s)


@dataclass
class BatchPlan:
    """What a batch run will do, the same locally and on a cluster: every entry, the notes on
    what was skipped, who is unchanged since the last run (reused) and who is to grade."""

    entries: list
    skipped: list
    reused: list
    todo: list
    say: object  # say(Message | str): one line on the terminal, in its language
    lang: str


def plan_batch(folder: Path, rubric: Rubric, options: Options, force: bool = False, stream=sys.stderr,
               lang: str | None = None) -> BatchPlan:
    """Discover, say what is skipped, find what is unchanged (`lang`: the terminal's). `folder`
    may be an LMS download zip: it is unpacked (member by member, refusals said) into
    OUT/.download/<zip stem>/ and graded as that folder."""
    say_lang = lang or options.lang

    def say(line) -> None:
        print(f"  {render(line, say_lang)}", file=stream, flush=True)

    refused: list = []
    if is_zip(folder):
        unpacked = unpack_download(folder, options.out)
        say(msg("zip.unpacked", archive=Path(folder).name, n=unpacked.written, folder=str(unpacked.folder)))
        folder, refused = unpacked.folder, list(unpacked.refused)
    entries, skipped = discover(folder, rubric.contract.get("batch_ignore", []))
    skipped = refused + skipped
    lms = sorted({e.who.lms for e in entries if e.who.lms})
    for name in lms:
        say(msg("batch.lms_detected", lms=name.capitalize(), n=sum(e.who.lms == name for e in entries)))
    for note in skipped:
        say(msg("batch.skipped", note=note))
    reused = [] if force else [e.student for e in entries if _unchanged(e, rubric, options)]
    todo = [e for e in entries if e.student not in reused]
    return BatchPlan(entries, skipped, reused, todo, say, say_lang)


def finish_batch(plan: BatchPlan, rubric: Rubric, options: Options) -> dict:
    """The class files, rebuilt from every result on disk, with the similar pairs (similarity.json
    and the class page's section: grader/similarity, which never raises); the summary, with who
    was graded now."""
    from ..similarity import write_similarity

    similarity = write_similarity(options.out, [(e.student, e.path) for e in plan.entries], rubric, options.lang)
    summary = write_class_files(options.out, [e.student for e in plan.entries], rubric, plan.skipped, options.lang,
                                similarity)
    summary["reused"] = plan.reused
    summary["graded_now"] = [e.student for e in plan.todo]
    return summary


def grade_folder(folder: Path, rubric: Rubric, options: Options, jobs: int = 1, force: bool = False,
                 rubric_path: Path | None = None, stream=sys.stderr, lang: str | None = None) -> dict:
    """Grade every submission in `folder`; returns the class summary (also written to disk).

    `lang` is the terminal's language for the progress lines (default: the report's)."""
    from .worker import job  # not at import time: the worker process imports this package first

    plan = plan_batch(folder, rubric, options, force, stream, lang)
    say, todo = plan.say, plan.todo
    jobs, why = jobs_for_memory(max(1, jobs))
    if why:
        say(why)
    progress = Progress(len(todo), jobs, plan.lang, stream)
    if plan.reused:
        say(msg("batch.unchanged", names=", ".join(plan.reused)))
    # reference runs first, once for the class, in the background: the first notebooks already
    # wait for (rather than repeat) the protocol's fits; the workers leave them to this process
    references = start_references(rubric, replace(options, quiet=True), data_module.locate(options.data_dir),
                                  memo_settings(rubric, options)) if todo else None
    if references is not None:
        say(msg("batch.references"))
        references.wait_announced()
    worker_options = replace(options, references=False)
    events: queue.Queue = queue.Queue()
    reported: set[str] = set()
    running: dict[str, tuple[Worker, float, Entry]] = {}
    pending = list(todo)
    halted: tuple[str, str] | None = None  # (student, reason): the grader's environment failed

    def reader(student: str, process: Worker) -> None:
        for message in process.messages():
            events.put((student, message))
        events.put((student, {"eof": True}))

    try:
        while pending or running:
            while pending and len(running) < jobs:
                entry = pending.pop(0)
                if entry.path is None:
                    write_error(entry, GradeStatus.INVALID_SUBMISSION, entry.note, rubric, options)
                    progress.finish(entry.student, msg("batch.invalid", student=entry.student, note=entry.note), None)
                    continue
                process = Worker("grader.batch.worker", stderr=False)
                process.send(job(entry.path, entry.student, rubric_path, rubric, worker_options, entry.who), last=True)
                running[entry.student] = (process, time.monotonic(), entry)
                threading.Thread(target=reader, args=(entry.student, process), daemon=True).start()
                progress.update(entry.student, msg("batch.start"))
            if not running:
                continue
            student, message = events.get()
            if student not in running:  # a worker stopped with the batch: its end is no news
                continue
            process, began, entry = running[student]
            if "stage" in message:
                progress.update(student, str(message["stage"]), str(message.get("detail", "")))
            elif "done" in message:
                reported.add(student)
                done = message["done"]
                progress.finish(student, f"{student}: {score_text(done['score'], done['max_score'], '/')} ({done['status']})",
                                time.monotonic() - began)
                if done.get("fault") in BATCH_STOPPING and halted is None:
                    # every other submission would hit it too: none starts, the running ones stop
                    # without a result (so they are graded again), the results written stay
                    halted = (student, str(done.get("reason") or ""))
                    pending.clear()
                    others = [s for s in running if s != student]
                    stop_workers([running[s][0] for s in others])
                    for other in others:
                        running.pop(other)[0].close()
            elif "fatal" in message:
                for other, (proc, _, _) in running.items():
                    if other != student:
                        proc.kill()
                        proc.close()
                raise OutputError(str(message["fatal"]))
            elif "error" in message:
                reported.add(student)
                error = str(message["error"])
                write_error(entry, GradeStatus.GRADER_ERROR, error, rubric, options)
                progress.finish(student, msg("batch.grader_error", student=student, error=error[:200]), time.monotonic() - began)
            elif message.get("eof"):
                code = process.wait()
                del running[student]
                process.close()  # whatever the worker left behind in its session (a kernel, a trainer) goes with it
                if student not in reported:
                    write_error(entry, GradeStatus.GRADER_ERROR, msg("batch.worker_died", code=code), rubric, options)
                    progress.finish(student, msg("batch.worker_failed", student=student, code=code), time.monotonic() - began)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: each worker stops its own run cleanly, then the batch stops
        stop_workers([process for process, _, _ in running.values()])
        for process, _, _ in running.values():
            process.close()
        if references is not None:
            references.stop()
        raise
    if references is not None:
        if halted is not None:
            references.stop()
        references.join()
    summary = finish_batch(plan, rubric, options)
    if halted is not None:
        raise NotReady(msg("batch.stopped_environment", student=halted[0], reason=halted[1]))
    return summary


def summary_lines(summary: dict, out: Path, lang: str) -> list[str]:
    """The closing lines of a batch run in the terminal."""
    statuses = Joined([f"{k}: {v}" for k, v in summary["statuses"].items()], " · ")
    head = render(msg("class.headline", n=summary["n"], mean=summary["mean"], max_score=summary["max_score"]), lang)
    counts = render(msg("batch.counts", now=len(summary["graded_now"]), reused=len(summary["reused"])), lang)
    return [f"\n{head} · {render(statuses, lang)}", f"  {counts}",
            f"  {out / 'index.html'} · {out / 'gradebook.csv'} · {out / 'results.jsonl'}"]


__all__ = ["grade_folder", "plan_batch", "finish_batch", "BatchPlan", "write_error", "discover", "write_class_files",
           "jobs_for_memory", "summary_lines", "Entry", "Progress"]
