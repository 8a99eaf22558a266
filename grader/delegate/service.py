"""The grader's side of delegated fits: one service per sandbox, for as long as its code runs.

A thread watches the sandbox's request folder. Each `<n>.req` is read once (then removed),
checked (request.parse: allow-lists, the rubric's caps, data the grader holds) and answered in
`<n>.json` in a folder the sandbox reads but cannot write:

    {"state": "training"}           accepted; the file is touched while the training runs
    {"state": "done", "key": K}     the entry K is in the memo store (trained now, or already there)
    {"state": "refused"|"failed"|"cancelled", "reason": why}   the sandbox trains the fit itself

Accepted requests go, one at a time, to a trainer: `LocalTrainer` (a training worker process of
this grader, `python -m grader.retrain.worker`, started on the first request) or, on a cluster,
`ClusterTrainer` (one Dask task per memo key). The worker rebuilds the fit, proves it by the key
and writes the entry (grader/delegate/rebuild.py). When the submission ends, `close()` answers
every request still waiting "cancelled" and stops the trainer: nothing outlives its submission.

What this class counts (`summary`) is the grader's own record, not the sandbox's claim.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..memo.fitmemo import TRAINER_READY
from .request import NAME, Caps, RequestRefused, parse, read_file

POLL_S = 0.2
TOUCH_S = 10.0
MAX_SEEN = 10_000  # request names looked at, in all: a flood of names costs the flood, not the grader


@dataclass
class Summary:
    """The grader's own count of one submission's delegated fits."""

    requests: int = 0
    trained: int = 0  # trained by the grader's worker for this submission
    trained_keys: list = field(default_factory=list)  # their memo keys (16 characters, as the memo's log)
    already: int = 0  # the entry was in the store already: nothing trained
    refused: dict = field(default_factory=dict)  # kind (REFUSAL_KINDS) -> how many
    reasons: list = field(default_factory=list)  # the first refusals' reasons, word for word
    cancelled: int = 0
    seconds: float = 0.0  # the grader's training time for this submission

    def to_json(self) -> dict:
        return {"requests": self.requests, "trained": self.trained, "trained_keys": list(self.trained_keys[:100]),
                "already": self.already,
                "refused": dict(self.refused), "reasons": list(self.reasons), "cancelled": self.cancelled, "seconds": round(self.seconds, 1),
                "source": "grader"}


REFUSAL_KINDS = ("caps", "data", "model", "key", "failed", "malformed")


def refusal_kind(reason: str, state: str = "refused") -> str:
    """Which of REFUSAL_KINDS a refusal is (the report words each kind; result.json keeps the reason)."""
    if state == "failed":
        return "failed"
    if reason.startswith(("more than", "too large")):
        return "caps"
    if "grader does not hold" in reason or reason.startswith(("data", "x is not")):
        return "data"
    if reason.startswith("rebuilt fit has another key"):
        return "key"
    if reason.startswith(("layer", "Dense", "dropout", "activation", "scale", "offset", "units", "optimizer", "compile",
                          "metrics", "loss", "jit_compile", "run_eagerly", "steps_per_execution", "model")):
        return "model"
    return "malformed"


class Delegation:
    """Serve one sandbox's requests (see the module's docstring); use `start()` and `close()`."""

    def __init__(self, requests: Path, answers: Path, *, store, caps: Caps, catalog, trainer) -> None:
        self.requests, self.answers = Path(requests), Path(answers)
        self.store, self.caps, self.trainer = store, caps, trainer
        self._catalog = catalog  # a Catalog, or a function that makes one (first request only)
        self.summary = Summary()
        self._stop = threading.Event()
        self._seen: set[str] = set()
        self._live: dict[str, str] = {}  # request name -> key, while it trains
        self._lock = threading.Lock()
        self._private = Path(tempfile.mkdtemp(prefix="grader-delegate-"))
        os.chmod(self._private, 0o700)
        self._thread = threading.Thread(target=self._run, name="grader-delegation", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "Delegation":
        self._thread.start()
        return self

    def close(self) -> Summary:
        """Stop watching, cancel what is waiting or training, stop the trainer."""
        self._stop.set()
        with self._lock:
            for name, key in list(self._live.items()):
                self._cancel(name, key)
        self.trainer.cancel()
        self._thread.join(timeout=30)
        for path in self._pending_files():
            self._answer(path.name[:-4], {"state": "cancelled", "reason": "the submission ended"})
            self.summary.cancelled += 1
        self.trainer.close()
        shutil.rmtree(self._private, ignore_errors=True)
        return self.summary

    def _cancel(self, name: str, key: str) -> None:
        self._answer(name, {"state": "cancelled", "reason": "the submission ended"})
        self.summary.cancelled += 1
        self._live.pop(name, None)
        if not self.store.has(key):  # the worker was killed mid-training: its marker would make others wait
            with contextlib.suppress(OSError):
                (self.store.folder / f"{key}.pending").unlink()

    # -- the watch -------------------------------------------------------------------------
    def _pending_files(self) -> list[Path]:
        found = []
        try:
            with os.scandir(self.requests) as entries:
                for entry in entries:
                    if len(self._seen) + len(found) >= MAX_SEEN:
                        break
                    if NAME.fullmatch(entry.name) and entry.name not in self._seen:
                        found.append(Path(entry.path))
        except OSError:
            return []
        return sorted(found, key=lambda p: int(p.name[:-4]))

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._pending_files()
            if not batch:
                self._stop.wait(POLL_S)
                continue
            for path in batch:
                if self._stop.is_set():
                    break
                self._seen.add(path.name)
                self._handle(path)

    def _handle(self, path: Path) -> None:
        name = path.name[:-4]
        self.summary.requests += 1
        try:
            raw = read_file(path, self.caps.max_bytes)
        except RequestRefused as exc:
            return self._refuse(name, str(exc))
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
        if self.summary.requests > self.caps.fits:
            return self._refuse(name, f"more than {self.caps.fits} fits asked for")
        try:
            request = parse(raw, self.caps, self.catalog())
        except RequestRefused as exc:
            return self._refuse(name, str(exc))
        except Exception as exc:  # a bug of ours must cost the sandbox a miss, not the grading
            return self._refuse(name, f"{type(exc).__name__}: {exc}"[:160])
        if self.store.has(request.key):
            self.summary.already += 1
            return self._answer(name, {"state": "done", "key": request.key})
        own = self._private / f"{name}.req"
        own.write_bytes(request.encode())
        with self._lock:
            self._live[name] = request.key
        self._answer(name, {"state": "training"})
        self._answer(TRAINER_READY, {"state": "running"})  # from now on a medium fit is worth sending too
        started = time.monotonic()
        last_touch = [time.monotonic()]

        def alive(_line: str = "") -> None:
            if time.monotonic() - last_touch[0] > TOUCH_S:
                last_touch[0] = time.monotonic()
                with contextlib.suppress(OSError):
                    os.utime(self.answers / f"{name}.json")

        try:
            outcome = self.trainer.train(name, own, request, alive)
        except Exception as exc:
            outcome = {"failed": f"{type(exc).__name__}: {exc}"[:160]}
        finally:
            with contextlib.suppress(OSError):
                own.unlink()
        with self._lock:
            if name not in self._live:  # cancelled meanwhile: already answered
                return
            self._live.pop(name, None)
        self.summary.seconds += time.monotonic() - started
        if outcome.get("key") == request.key and self.store.has(request.key):
            if outcome.get("trained"):
                self.summary.trained += 1
                self.summary.trained_keys.append(request.key[:16])
            else:
                self.summary.already += 1
            return self._answer(name, {"state": "done", "key": request.key})
        if "refused" in outcome:
            return self._refuse(name, str(outcome["refused"]))
        return self._refuse(name, "the grader's training failed: " + str(outcome.get("failed", ""))[:140], "failed")

    def _refuse(self, name: str, reason: str, state: str = "refused") -> None:
        kind = refusal_kind(reason, state)
        self.summary.refused[kind] = self.summary.refused.get(kind, 0) + 1
        if len(self.summary.reasons) < 20:
            self.summary.reasons.append(reason[:200])
        self._answer(name, {"state": state, "reason": reason[:200]})

    def _answer(self, name: str, answer: dict) -> None:
        tmp = self.answers / f".{name}.tmp"
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(answer), encoding="utf-8")
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.answers / f"{name}.json")

    def catalog(self):
        if callable(self._catalog):
            self._catalog = self._catalog()
        return self._catalog


__all__ = ["Delegation", "Summary", "POLL_S", "REFUSAL_KINDS", "refusal_kind"]
