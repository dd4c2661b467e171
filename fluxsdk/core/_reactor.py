"""The reactor: one event loop per Flux handle.

It waits on file descriptors (the handle's connection) with :mod:`selectors`,
runs timers from a heap, and runs deferred callbacks (future continuations)
in the order they were scheduled. :meth:`Reactor.run` returns when nothing is
left to wait for: no deferred callback, no active timer and no reference taken
with :meth:`Reactor.ref` (a future awaiting a response holds one while it has
a continuation), or when :meth:`Reactor.stop` / :meth:`Reactor.stop_error` is
called.

An exception escaping a callback stops the loop as ``stop_error`` does and is
re-raised by :meth:`Reactor.run`, as in the Flux bindings.

Timer watchers (:class:`TimerWatcher`) live here too: they are the public face
of the reactor's timers, with the Flux bindings' callback signature.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import selectors
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

# reactor_run() flags: NOWAIT runs one iteration without blocking, ONCE one
# iteration that blocks until something happens.
from fluxsdk.constants import FLUX_REACTOR_NOWAIT, FLUX_REACTOR_ONCE
from fluxsdk.core._errors import ReactorStoppedError

if TYPE_CHECKING:
    from types import TracebackType

    from fluxsdk.core._handle import Flux


__all__ = [
    "FLUX_REACTOR_NOWAIT",
    "FLUX_REACTOR_ONCE",
    "Reactor",
    "Timer",
    "TimerWatcher",
    "Watcher",
]


EVENT_READ: Final = selectors.EVENT_READ
EVENT_WRITE: Final = selectors.EVENT_WRITE

_STOP: Final = 1
_STOP_ERROR: Final = 2

_clock = time.monotonic


class Timer:
    """A reactor timer: calls ``callback()`` ``after`` seconds, then every ``repeat``.

    Internal building block; users get :class:`TimerWatcher`.
    """

    __slots__ = ("_gen", "_reactor", "active", "after", "callback", "referenced", "repeat")

    def __init__(
        self, reactor: Reactor, after: float, repeat: float, callback: Callable[[], None]
    ) -> None:
        self._reactor = reactor
        self._gen = 0
        self.after = float(after)
        self.repeat = float(repeat)
        self.callback = callback
        self.active = False
        self.referenced = True

    def start(self) -> None:
        """Arm the timer (no effect if it is already armed)."""
        if not self.active:
            self._reactor._arm(self, _clock() + max(self.after, 0.0))

    def stop(self) -> None:
        """Disarm the timer (no effect if it is not armed)."""
        if self.active:
            self._reactor._disarm(self)

    def reset(self, after: float | None = None, repeat: float | None = None) -> None:
        """Change ``after``/``repeat`` and re-arm from now."""
        self.stop()
        if after is not None:
            self.after = float(after)
        if repeat is not None:
            self.repeat = float(repeat)
        self.start()

    def set_referenced(self, referenced: bool) -> None:
        """Whether this timer, while armed, keeps :meth:`Reactor.run` running."""
        if referenced != self.referenced:
            self.referenced = referenced
            if self.active:
                self._reactor._refs += 1 if referenced else -1


class Reactor:
    """A selectors-based event loop with timers and deferred callbacks.

    Not thread-safe: it belongs to one handle, used from one thread.
    """

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._ready: deque[Callable[[], None]] = deque()
        self._heap: list[tuple[float, int, Timer, int]] = []
        self._stale = 0
        self._seq = itertools.count()
        self._refs = 0
        self._stop = 0
        self._exception: BaseException | None = None
        self._depth = 0

    # -- scheduling ---------------------------------------------------------

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback()`` from the loop, after what is already scheduled."""
        self._ready.append(callback)

    def ref(self) -> None:
        """Keep :meth:`run` running until a matching :meth:`unref`."""
        self._refs += 1

    def unref(self) -> None:
        """Drop a reference taken with :meth:`ref`."""
        self._refs -= 1

    def timer(self, after: float, repeat: float, callback: Callable[[], None]) -> Timer:
        """A new (stopped) timer on this reactor."""
        return Timer(self, after, repeat, callback)

    # -- file descriptors ---------------------------------------------------

    def add_fd(self, fd: int, events: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(mask)`` when ``fd`` is ready for ``events``."""
        self._selector.register(fd, events, callback)

    def modify_fd(self, fd: int, events: int) -> None:
        """Change the events watched on ``fd``."""
        key = self._selector.get_key(fd)
        self._selector.modify(fd, events, key.data)

    def remove_fd(self, fd: int) -> None:
        """Stop watching ``fd`` (no error if it is not watched)."""
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(fd)

    # -- running ------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while :meth:`run` is active (in this reactor's thread)."""
        return self._depth > 0

    def active_count(self) -> int:
        """How many things keep the loop alive (references, armed timers, callbacks)."""
        return self._refs + len(self._ready)

    def run(self, flags: int = 0) -> int:
        """Run until idle or stopped; return :meth:`active_count` (0 when idle).

        ``FLUX_REACTOR_NOWAIT`` runs one iteration without blocking,
        ``FLUX_REACTOR_ONCE`` one iteration that may block. Re-raises an
        exception that escaped a callback; raises
        :class:`~fluxsdk.core.ReactorStoppedError` after :meth:`stop_error`.
        """
        if flags & ~(FLUX_REACTOR_NOWAIT | FLUX_REACTOR_ONCE):
            raise ValueError(f"invalid reactor_run flags {flags:#x}")
        once = bool(flags)
        self._stop = 0
        self._depth += 1
        try:
            while True:
                if self._ready:
                    self._run_ready()
                    if self._stop:
                        break
                if self._ready:
                    timeout: float | None = 0.0
                elif self._refs <= 0:
                    break
                elif self._heap:
                    timeout = max(0.0, self._heap[0][0] - _clock())
                else:
                    timeout = None
                if flags & FLUX_REACTOR_NOWAIT:
                    timeout = 0.0
                self._poll(timeout)
                if self._stop:
                    break
                if once:
                    self._run_ready()
                    break
        finally:
            self._depth -= 1
        if self._stop == _STOP_ERROR:
            self._stop = 0
            exc, self._exception = self._exception, None
            if exc is not None:
                raise exc
            raise ReactorStoppedError("reactor_run() was ended by reactor_stop_error()")
        self._stop = 0
        return self.active_count()

    def stop(self) -> None:
        """Make :meth:`run` return after the current callback."""
        self._stop = max(self._stop, _STOP)

    def stop_error(self) -> None:
        """Make :meth:`run` return after the current callback, raising an error."""
        self._stop = _STOP_ERROR

    def fail(self, exc: BaseException) -> None:
        """Record ``exc`` (from a callback) to be raised by :meth:`run`, and stop."""
        if self._exception is None:
            self._exception = exc
        self.stop_error()

    def close(self) -> None:
        """Release the selector; the reactor cannot be used afterwards."""
        self._ready.clear()
        self._heap.clear()
        self._selector.close()

    # -- internals ----------------------------------------------------------

    def _run_ready(self) -> None:
        ready = self._ready
        for _ in range(len(ready)):
            callback = ready.popleft()
            try:
                callback()
            except Exception as exc:
                self.fail(exc)
            if self._stop:
                return

    def _poll(self, timeout: float | None) -> None:
        for key, mask in self._selector.select(timeout):
            try:
                key.data(mask)
            except Exception as exc:
                self.fail(exc)
            if self._stop:
                return
        heap = self._heap
        if not heap or heap[0][0] > _clock():
            return
        now = _clock()
        while heap and heap[0][0] <= now and not self._stop:
            _, _, timer, gen = heapq.heappop(heap)
            if gen != timer._gen:
                self._stale -= 1
                continue
            if timer.repeat > 0.0:
                self._push(timer, now + timer.repeat)
            else:
                self._deactivate(timer)
            try:
                timer.callback()
            except Exception as exc:
                self.fail(exc)

    def _push(self, timer: Timer, when: float) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), timer, timer._gen))

    def _arm(self, timer: Timer, when: float) -> None:
        timer.active = True
        if timer.referenced:
            self._refs += 1
        self._push(timer, when)

    def _deactivate(self, timer: Timer) -> None:
        timer.active = False
        timer._gen += 1
        if timer.referenced:
            self._refs -= 1

    def _disarm(self, timer: Timer) -> None:
        self._deactivate(timer)
        self._stale += 1
        if self._stale > 64 and self._stale > len(self._heap) // 2:
            self._heap = [entry for entry in self._heap if entry[3] == entry[2]._gen]
            heapq.heapify(self._heap)
            self._stale = 0


# -- watchers ----------------------------------------------------------------

_W = TypeVar("_W", bound="Watcher")

TimerCallback = Callable[["Flux", "TimerWatcher", int, Any], object]
"""``callback(flux_handle, watcher, revents, args)``, as in the Flux bindings."""


class Watcher:
    """Base of the reactor watchers, as in ``flux.core.watchers``.

    A watcher does nothing until :meth:`start`; as a context manager it is
    started on entry and stopped on exit. The handle keeps a reference to it
    until :meth:`destroy`.
    """

    def __init__(self, flux_handle: Flux) -> None:
        self.flux_handle = flux_handle
        flux_handle.add_watcher(self)

    def __enter__(self: _W) -> _W:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self: _W) -> _W:
        """Start watching."""
        return self

    def stop(self: _W) -> _W:
        """Stop watching (it can be started again)."""
        return self

    def ref(self: _W) -> _W:
        """Let this watcher keep ``reactor_run()`` running (the default)."""
        return self

    def unref(self: _W) -> _W:
        """Do not let this watcher alone keep ``reactor_run()`` running."""
        return self

    def destroy(self) -> None:
        """Stop and release the watcher."""
        self.stop()
        self.flux_handle.del_watcher(self)


class TimerWatcher(Watcher):
    """Calls ``callback(flux_handle, watcher, revents, args)`` after ``after``
    seconds, then every ``repeat`` seconds if ``repeat`` > 0."""

    def __init__(
        self,
        flux_handle: Flux,
        after: float,
        callback: TimerCallback,
        repeat: float = 0.0,
        args: Any = None,
    ) -> None:
        if after < 0 or repeat < 0:
            raise ValueError("timer 'after' and 'repeat' must not be negative")
        self.after = float(after)
        self.repeat = float(repeat)
        self.callback = callback
        self.args = args
        self._timer = flux_handle.get_reactor().timer(after, repeat, self._fire)
        super().__init__(flux_handle)

    @property
    def active(self) -> bool:
        """True while the timer is armed."""
        return self._timer.active

    def start(self) -> TimerWatcher:
        """Arm the timer (counting ``after`` from now)."""
        self._timer.start()
        return self

    def stop(self) -> TimerWatcher:
        """Disarm the timer."""
        self._timer.stop()
        return self

    def reset(self, after: float | None = None, repeat: float | None = None) -> None:
        """Update ``after``/``repeat`` (default: unchanged) and re-arm from now."""
        if after is not None:
            self.after = float(after)
        if repeat is not None:
            self.repeat = float(repeat)
        self._timer.reset(self.after, self.repeat)

    def ref(self) -> TimerWatcher:
        """Let this timer keep ``reactor_run()`` running (the default)."""
        self._timer.set_referenced(True)
        return self

    def unref(self) -> TimerWatcher:
        """Do not let this timer alone keep ``reactor_run()`` running."""
        self._timer.set_referenced(False)
        return self

    def _fire(self) -> None:
        self.callback(self.flux_handle, self, 0, self.args)
