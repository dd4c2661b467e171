"""One plugin's thread inside the instance: its calls, one at a time, in order.

The instance's event loop never runs plugin code itself: it queues calls for
each plugin's worker. Observers are fire-and-forget (a full queue drops the
event and counts it); a call whose answer is needed is awaited with a
deadline, after which the instance goes on without it. A plugin stuck past a
deadline is skipped for answers until that call returns.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

import pluggy

from fluxsdk.hooks._call import Calls

__all__ = ["BUSY", "LATE", "Worker"]

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


class _Task:
    __slots__ = ("done", "hook", "impl", "kwargs", "result", "started")

    def __init__(
        self,
        impl: pluggy.HookImpl,
        hook: str,
        kwargs: Mapping[str, Any],
        done: threading.Event | None,
    ) -> None:
        self.impl = impl
        self.hook = hook
        self.kwargs = kwargs
        self.done = done
        self.result: object = None
        self.started = 0.0


class Worker:
    """A daemon thread that makes one plugin's calls."""

    def __init__(self, plugin: str, calls: Calls, *, limit: int) -> None:
        self.plugin = plugin
        self._calls = calls
        self._limit = limit
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._count = threading.Lock()
        self._pending = 0
        self._late: _Task | None = None
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
        self._put(_Task(impl, hook, kwargs, None))
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
        task = _Task(impl, hook, kwargs, threading.Event())
        self._put(task)
        assert task.done is not None
        if task.done.wait(timeout):
            return task.result
        self._calls.stats_for(self.plugin, hook).timeouts += 1
        self._late = task
        if task.done.is_set():  # it finished just now: the worker saw no late call
            self._late = None
        return LATE

    def close(self) -> None:
        """Accept no more calls; the thread ends after those queued."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; True if it did."""
        self._thread.join(max(timeout, 0.0))
        return not self._thread.is_alive()

    def _put(self, task: _Task) -> None:
        with self._count:
            self._pending += 1
        self._queue.put(task)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            task.started = time.monotonic()
            try:
                task.result = self._calls.call(task.impl, task.hook, task.kwargs)
            finally:
                with self._count:
                    self._pending -= 1
                if task.done is not None:
                    task.done.set()
                if self._late is task:
                    self._late = None
                    log.warning(
                        "plugin %r returned from a late %s call after %.3f s; it is called again",
                        self.plugin,
                        task.hook,
                        time.monotonic() - task.started,
                    )
