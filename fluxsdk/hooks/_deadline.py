"""Running plugin code that the caller waits for, with a deadline per plugin call.

A client's submission hooks must not hang ``submit`` forever, and a call
stuck in a plugin cannot be interrupted. So a submission's plugin pass runs
in a helper thread while the caller waits; the pass tells its :class:`Clock`
when each call starts, and the caller gives up once a call has run longer
than the deadline. The helper thread is then abandoned to the stuck call (a
fresh one serves the next submission) and returns to the pool if the call
ever returns.

One handoff per submission, not per call: the caller sleeps until the whole
pass is done, waking only if a call overruns.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Clock", "Late", "Runner"]

T = TypeVar("T")


class Late(Exception):
    """The call named ``what`` ran past the deadline; the pass was abandoned."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(what, seconds)
        self.what = what
        self.seconds = seconds


class Clock:
    """What a pass is doing: the call in progress and when it started."""

    def __init__(self) -> None:
        self.what = ""
        self.started = 0.0
        self.abandoned = False
        """Set by the caller once it gave up: the pass must stop at its next step."""

    def start(self, what: str) -> None:
        """A call named ``what`` starts now."""
        self.started = time.monotonic()  # before ``what``: the caller reads ``what`` first
        self.what = what

    def stop(self) -> None:
        """No call is in progress (the pass is between calls, or done)."""
        self.what = ""


class _Job(Generic[T]):
    __slots__ = ("context", "done", "error", "function", "result")

    def __init__(self, function: Callable[[], T]) -> None:
        self.function = function
        self.context = contextvars.copy_context()  # the plugins see the caller's context
        self.done = threading.Lock()  # held until the job is done (C-level waits: cheap)
        self.done.acquire()
        self.result: T | None = None
        self.error: BaseException | None = None


class _Helper:
    """One daemon thread taking jobs one at a time."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self.jobs: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="fluxsdk-plugin-pass", daemon=True).start()

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                job.result = job.context.run(job.function)
            except BaseException as exc:  # handed to the caller, who re-raises it
                job.error = exc
            self._runner._idle(self)  # free before the caller can take it again
            job.done.release()


class Runner:
    """Runs callables in helper threads while the caller waits, with a per-call deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[_Helper] = []

    def run(self, function: Callable[[Clock], T], deadline: float) -> T:
        """``function(clock)``'s result (or exception), waited for in this thread.

        ``function`` calls ``clock.start(what)`` before each call whose time
        counts and ``clock.stop()`` after it. With ``deadline <= 0`` it runs
        here, unbounded.

        Raises:
            Late: a call ran longer than ``deadline`` seconds; ``clock.abandoned``
                is set, and the helper thread is left to that call.
        """
        clock = Clock()
        if deadline <= 0:
            return function(clock)
        job: _Job[T] = _Job(lambda: function(clock))
        with self._lock:
            helper = self._free.pop() if self._free else None
        if helper is None:
            helper = _Helper(self)
        helper.jobs.put(job)
        timeout = deadline
        while not job.done.acquire(timeout=timeout):
            what, started = clock.what, clock.started
            if what:
                overrun = time.monotonic() - started
                if overrun >= deadline:
                    clock.abandoned = True
                    if not job.done.acquire(blocking=False):
                        raise Late(what, overrun)
                    clock.abandoned = False  # it finished just now after all
                    break
                timeout = max(deadline - overrun, 0.001)
            else:
                timeout = deadline
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _idle(self, helper: _Helper) -> None:
        with self._lock:
            self._free.append(helper)
