"""One plugin's thread inside the instance: its calls, one at a time, in order.

The instance's event loop never runs plugin code itself: it queues calls for
each plugin's worker. Observers are fire-and-forget (a full queue drops the
event and counts it); a call whose answer is needed is awaited with a
deadline, after which the instance goes on without it. A plugin stuck past a
deadline is skipped for answers until that call returns.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

import pluggy

from fluxsdk.hooks._call import Calls

__all__ = ["BUSY", "LATE", "Task", "Worker"]

log = logging.getLogger("fluxsdk.plugins")


class _Outcome:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


LATE: Final = _Outcome("LATE")
"""The call missed its deadline (it goes on in the plugin's thread)."""
BUSY: Final = _Outcome("BUSY")
"""The call was not made: the plugin is still in a call that missed its deadline."""


class Task:
    """One queued call; ``future`` (if any) gets its result."""

    __slots__ = (
        "consequence",
        "done",
        "errors",
        "future",
        "hook",
        "impl",
        "kwargs",
        "result",
        "started",
    )

    def __init__(
        self,
        impl: pluggy.HookImpl,
        hook: str,
        kwargs: Mapping[str, Any],
        done: threading.Event | None,
        future: concurrent.futures.Future[object] | None = None,
    ) -> None:
        self.impl = impl
        self.hook = hook
        self.kwargs = kwargs
        self.done = done
        self.future = future
        self.consequence = "ignored"
        """What a failure of this call leads to, for the log."""
        self.errors: list[BaseException] = []
        """The exception the call raised, if it did (and was reported)."""
        self.result: object = None
        self.started = 0.0


class Worker:
    """A daemon thread that makes one plugin's calls."""

    def __init__(self, plugin: str, calls: Calls, *, limit: int) -> None:
        self.plugin = plugin
        self._calls = calls
        self._limit = limit
        self._queue: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._count = threading.Lock()
        self._pending = 0
        self._late: Task | None = None
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"fluxsdk-plugin:{plugin}", daemon=True
        )
        self._thread.start()

    @property
    def pending(self) -> int:
        """Calls queued or running."""
        return self._pending

    def post(self, impl: pluggy.HookImpl, hook: str, kwargs: Mapping[str, Any]) -> bool:
        """Queue a call nobody waits for; False if it was dropped (queue full or closed)."""
        if self._closed:
            return False
        if self._pending >= self._limit:
            stats = self._calls.stats_for(self.plugin, hook)
            stats.dropped += 1
            if stats.dropped == 1 or stats.dropped % 10000 == 0:
                log.warning(
                    "plugin %r is not keeping up: %d calls queued; %d %s call(s) dropped so far",
                    self.plugin,
                    self._pending,
                    stats.dropped,
                    hook,
                )
            return False
        self._put(Task(impl, hook, kwargs, None))
        return True

    def ask(
        self, impl: pluggy.HookImpl, hook: str, kwargs: Mapping[str, Any], timeout: float
    ) -> object:
        """Make a call and wait for it at most ``timeout`` seconds.

        Returns its result, ``FAILED`` (it raised, reported already), :data:`LATE`
        or :data:`BUSY`.
        """
        if self._late is not None or self._closed:
            self._calls.stats_for(self.plugin, hook).timeouts += 1
            return BUSY
        task = Task(impl, hook, kwargs, threading.Event())
        self._put(task)
        assert task.done is not None
        if task.done.wait(timeout):
            return task.result
        self._calls.stats_for(self.plugin, hook).timeouts += 1
        self._late = task
        if task.done.is_set():  # it finished just now: the worker saw no late call
            self._late = None
        return LATE

    def submit(
        self,
        impl: pluggy.HookImpl,
        hook: str,
        kwargs: Mapping[str, Any],
        consequence: str = "ignored",
    ) -> Task | None:
        """Queue a call whose result ``task.future`` gets (``FAILED`` if it raised,
        the exception then in ``task.errors``); None if the plugin is still in a
        call that missed its deadline, or closed.

        Cancelling the future before the call starts skips the call. A caller
        that gives up waiting calls :meth:`missed`.
        """
        if self._late is not None or self._closed:
            self._calls.stats_for(self.plugin, hook).timeouts += 1
            return None
        task = Task(impl, hook, kwargs, None, concurrent.futures.Future())
        task.consequence = consequence
        self._put(task)
        return task

    def missed(self, task: Task) -> None:
        """``task``'s caller gave up waiting: until it returns, the plugin is skipped."""
        self._calls.stats_for(self.plugin, task.hook).timeouts += 1
        assert task.future is not None
        if task.future.running():
            self._late = task
            if task.future.done():  # it finished just now: the worker saw no late call
                self._late = None

    def close(self) -> None:
        """Accept no more calls; the thread ends after those queued."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; True if it did."""
        self._thread.join(max(timeout, 0.0))
        return not self._thread.is_alive()

    def _put(self, task: Task) -> None:
        with self._count:
            self._pending += 1
        self._queue.put(task)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            task.started = time.monotonic()
            if task.future is not None and not task.future.set_running_or_notify_cancel():
                with self._count:
                    self._pending -= 1
                continue  # its caller gave up before it started
            try:
                task.result = self._calls.call(
                    task.impl, task.hook, task.kwargs, task.consequence, task.errors
                )
            finally:
                with self._count:
                    self._pending -= 1
                if task.done is not None:
                    task.done.set()
                if task.future is not None:
                    task.future.set_result(task.result)
                if self._late is task:
                    self._late = None
                    log.warning(
                        "plugin %r returned from a late %s call after %.3f s; it is called again",
                        self.plugin,
                        task.hook,
                        time.monotonic() - task.started,
                    )
