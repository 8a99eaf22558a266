"""Ctrl-C or SIGTERM during a notebook run: cancel the run, so every `finally` stops the kernel
and what it started, then raise Interrupted for the caller (the CLI exits 130 / 143).

A plain signal handler is no use here: raised inside the event loop it lands in some callback
that swallows it, and nbclient installs loop handlers of its own that kill the kernel and let
grading go on as if the student's kernel had crashed. So the run installs its handlers on the
loop, and re-arms them right after nbclient has set up the kernel (`ARM_SIGNALS`).
"""

from __future__ import annotations

import asyncio
import contextvars
import signal

from ..errors import Interrupted

ARM_SIGNALS: contextvars.ContextVar = contextvars.ContextVar("grader_arm_signals", default=lambda: None)


def run_interruptibly(coroutine):
    """asyncio.run that ends on SIGINT or SIGTERM by cancelling the run, so the kernel and
    everything of it is stopped on the way out, then raises Interrupted. (A signal handler that
    raises inside the event loop is swallowed by whatever callback it lands in; nbclient may
    absorb a cancellation: the flag, checked afterwards, is what decides.)"""
    received: list[int] = []
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

    async def main():
        loop, task = asyncio.get_running_loop(), asyncio.current_task()

        def arm() -> None:
            for signum in saved:
                try:
                    loop.add_signal_handler(signum, lambda s=signum: (received.append(s), task.cancel()))
                except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
                    pass
        ARM_SIGNALS.set(arm)  # nbclient installs handlers of its own (that kill the kernel and go on): re-armed after
        arm()
        return await coroutine

    try:
        result = asyncio.run(main())
    except asyncio.CancelledError:
        if not received:
            raise
        result = None
    finally:
        for signum, handler in saved.items():
            try:
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
            except ValueError:
                pass
    if received:
        raise Interrupted(received[0])
    return result


__all__ = ["run_interruptibly", "ARM_SIGNALS"]
