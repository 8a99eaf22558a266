"""The batch's progress lines on stderr: `[done/total · ETA] student: stage`."""

from __future__ import annotations

import sys
import time

from ..messages import Message, render
from ..report.terminal import terminal_safe


class Progress:
    """Counts finished submissions and estimates the time left from their average duration."""

    def __init__(self, total: int, jobs: int, lang: str = "es", stream=sys.stderr) -> None:
        self.total, self.jobs, self.lang, self.stream = total, jobs, lang, stream
        self.done, self.durations, self.state = 0, [], {}
        self.started = time.monotonic()

    def update(self, student: str, stage: "Message | str", detail: str = "") -> None:
        stage = render(stage, self.lang)
        self.state[student] = f"{stage}{' ' + detail if detail else ''}"
        self.say(f"{student}: {self.state[student]}")

    def finish(self, student: str, line: "Message | str", duration: float | None) -> None:
        self.done += 1
        self.state.pop(student, None)
        if duration is not None:
            self.durations.append(duration)
        self.say(line)

    def say(self, line: "Message | str") -> None:
        remaining = self.total - self.done
        eta = ""
        if self.durations and remaining:
            seconds = sum(self.durations) / len(self.durations) * remaining / self.jobs
            eta = f" · ETA {seconds / 60:.0f} min"
        print(terminal_safe(f"[{self.done:>3}/{self.total}{eta}] {render(line, self.lang)}"), file=self.stream, flush=True)


__all__ = ["Progress"]
