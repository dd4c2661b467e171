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
    """What a pass is doing: the call in progress and when it started.

    The caller's decision to give up and the end of the call are serialised
    by a lock: either the call ended first (the caller does not give up on
    it), or the caller gave up first (its ``on_late`` ran, and :meth:`stop`
    then says so to the pass).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.what = ""
        self.started = 0.0
        self.abandoned = False
        """Set once the caller gave up: the pass must stop at its next step."""

    def start(self, what: str) -> None:
        """A call named ``what`` starts now."""
        with self._lock:
            self.started = time.monotonic()
            self.what = what

    def stop(self) -> bool:
        """The call in progress ended; True if the caller had given up on it."""
        with self._lock:
            self.what = ""
            return self.abandoned

    def check(self, deadline: float, on_late: Callable[[Late], None] | None) -> float:
        """Seconds until the call in progress overruns ``deadline`` (``deadline``
        between calls).

        Raises:
            Late: it has overrun; ``on_late`` was called first, under the lock.
        """
        with self._lock:
            if not self.what:
                return deadline
            overrun = time.monotonic() - self.started
            if overrun < deadline:
                return max(deadline - overrun, 0.001)
            self.abandoned = True
            late = Late(self.what, overrun)
            if on_late is not None:
                on_late(late)
        raise late


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

    def run(
        self,
        function: Callable[[Clock], T],
        deadline: float,
        on_late: Callable[[Late], None] | None = None,
    ) -> T:
        """``function(clock)``'s result (or exception), waited for in this thread.

        ``function`` calls ``clock.start(what)`` before each call whose time
        counts and ``clock.stop()`` after it. With ``deadline <= 0`` it runs
        here, unbounded.

        Raises:
            Late: a call ran longer than ``deadline`` seconds (``on_late`` was
                called with it); ``clock.abandoned`` is set, and the helper
                thread is left to that call.
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
            timeout = clock.check(deadline, on_late)
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _idle(self, helper: _Helper) -> None:
        with self._lock:
            self._free.append(helper)
