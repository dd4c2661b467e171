"""Driving a Flux handle from a running asyncio event loop.

A handle makes progress in two ways of its own: a blocking ``get()`` pumps its
connection, and ``reactor_run()`` runs future continuations. Neither suits an
asyncio program, where the loop owns the thread. So the loop drives the handle
instead, through a bridge attached to it on first use (:func:`aready`):

* the loop watches the handle's socket (``loop.add_reader``, and
  ``add_writer`` while output is queued) and hands what arrives to the handle,
  which stores each response in its future, exactly as a blocking wait does;
* whenever a continuation is queued on the handle's reactor, the handle tells
  the bridge (:class:`~fluxsdk.core._handle.LoopHook`), which runs the reactor
  once, without blocking, from the loop: continuations and composite futures
  (results, output watches) advance as they do under ``reactor_run()``;
* awaiting a future gives it a continuation that resolves an asyncio future.

No thread is involved and nothing polls. A handle belongs to one thread, so
its bridge belongs to the loop running in that thread; a later loop (another
``asyncio.run()``) takes the handle over. Reactor timers
(``timer_watcher_create``, ``then(timeout=...)``) are not run by the loop: use
asyncio's own (``asyncio.timeout``, ``asyncio.wait_for``) for deadlines.
"""

from __future__ import annotations

import asyncio
import errno
import selectors
import weakref
from typing import TYPE_CHECKING, Any

from fluxsdk.core._future import Future
from fluxsdk.core._reactor import FLUX_REACTOR_NOWAIT

if TYPE_CHECKING:
    from fluxsdk.core._handle import Flux

__all__ = ["aget", "aready"]


async def aready(future: Future) -> None:
    """Wait, without blocking the running event loop, until ``future`` has a result.

    The asyncio counterpart of :meth:`~fluxsdk.core.Future.wait_for`: the
    future's handle is driven by the loop while it waits. The future must
    belong to a handle of this thread and must not have a ``then()``
    continuation of its own. For a stream (a watch), it waits for the next
    result; consume it (``get_event()``, ``reset()``) before waiting again.

    Cancelling the awaiting task only stops the waiting: what the future
    stands for (a request, a watch) goes on until cancelled itself.

    Raises:
        ConnectionLostError: the handle was closed while waiting.
        HandleThreadError: the handle belongs to another thread.
        OSError: EEXIST if the future already has a ``then()`` continuation.
    """
    while not future.is_ready():
        bridge = _bridge(future.get_flux())
        waiter = bridge.waiter(future)
        try:
            await waiter
        finally:
            bridge.discard(future, waiter)


async def aget(future: Future) -> Any:
    """The asyncio twin of :meth:`Future.get <fluxsdk.core.Future.get>`: await the result.

    Returns what ``future.get()`` returns once the future is ready (for an RPC,
    the decoded response payload); an error result is raised as ``OSError``.
    See :func:`aready` for the rules.
    """
    await aready(future)
    return future.get()


def _on_ready(future: Future) -> None:
    """The continuation given to awaited futures: wake whoever awaits them."""
    hook = future.get_flux()._loop_hook
    if isinstance(hook, _Bridge):
        hook.notify(future)


def _bridge(handle: Flux) -> _Bridge:
    """The bridge between ``handle`` and the running loop, attached on first use."""
    loop = asyncio.get_running_loop()
    hook = handle._loop_hook
    if isinstance(hook, _Bridge) and hook.loop is loop:
        return hook
    # Raises for a closed handle or one of another thread (whose loop is another).
    handle._check_thread()
    if isinstance(hook, _Bridge):
        hook.release()  # the bridge of an earlier loop, which has stopped
    return _Bridge(handle, loop)


class _Bridge:
    """Connects one handle to one asyncio loop (the handle's ``LoopHook``)."""

    def __init__(self, handle: Flux, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # Weak, as the handle's own reactor holds it: the loop must not keep a
        # dropped handle (and its socket) alive.
        self._handle = weakref.ref(handle)
        self._fd = handle._fd
        self._reading = False
        self._writing = False
        self._wake_pending = False
        self._waiters: dict[Future, list[asyncio.Future[None]]] = {}
        self._finalizer: weakref.finalize[Any, Any] | None = None
        if handle._lost is None:
            loop.add_reader(self._fd, self._on_readable)
            self._reading = True
            # A handle garbage-collected while watched must leave the loop's
            # selector first, or its file descriptor number, once reused,
            # would be taken for one already watched.
            self._finalizer = weakref.finalize(handle, _unwatch, loop, self._fd)
            if handle._writing:
                self.writing(True)
        handle._loop_hook = self
        # Continuations queued before (e.g. by a blocking get()) run now.
        self.wake()

    # -- the handle's LoopHook ------------------------------------------------

    def wake(self) -> None:
        """A continuation was queued on the handle's reactor: run the reactor soon."""
        if self._wake_pending:
            return
        if self.loop.is_closed():
            self.release()
            return
        self._wake_pending = True
        self.loop.call_soon(self._pump)

    def writing(self, writing: bool) -> None:
        """Watch the socket for writability while output is queued."""
        if writing == self._writing or self.loop.is_closed():
            return
        if writing and self._reading:
            self.loop.add_writer(self._fd, self._on_writable)
            self._writing = True
        elif not writing:
            self.loop.remove_writer(self._fd)
            self._writing = False

    def detach(self) -> None:
        """The connection is going away: stop watching it and wake every waiter.

        The bridge stays attached to a lost (not closed) handle, so that the
        continuations failing its futures still run from the loop.
        """
        self._unwatch()
        handle = self._handle()
        if handle is None or handle._closed:
            self.release()
        self._wake_all()

    # -- waiting --------------------------------------------------------------

    def waiter(self, future: Future) -> asyncio.Future[None]:
        """An asyncio future resolved when ``future`` has a result."""
        callback = future._then_cb
        if callback is None:
            future.then(_on_ready)
        elif callback is not _on_ready:
            raise OSError(
                errno.EEXIST,
                "this future already has a then() continuation, so it cannot also be awaited",
            )
        if future.stopped:
            raise RuntimeError("this future was stopped: its results can no longer be awaited")
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._waiters.setdefault(future, []).append(waiter)
        return waiter

    def discard(self, future: Future, waiter: asyncio.Future[None]) -> None:
        """Forget ``waiter`` (done or cancelled)."""
        waiters = self._waiters.get(future)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[future]

    def notify(self, future: Future) -> None:
        """``future`` has a result: resolve its waiters."""
        for waiter in self._waiters.pop(future, ()):
            if not waiter.done():
                waiter.set_result(None)

    # -- internals ------------------------------------------------------------

    def release(self) -> None:
        """Detach from the handle for good (its loop or connection is gone)."""
        self._unwatch()
        handle = self._handle()
        if handle is not None and handle._loop_hook is self:
            handle._loop_hook = None
        if self.loop.is_closed():
            self._waiters.clear()  # nothing can run on a closed loop
        else:
            self._wake_all()

    def _wake_all(self) -> None:
        # Each waiter checks its future again: it is ready (failed) or its
        # next wait reports why it cannot be.
        waiting = list(self._waiters)
        for future in waiting:
            self.notify(future)

    def _unwatch(self) -> None:
        if self._reading:
            self._reading = False
            self._writing = False
            if self._finalizer is not None:
                self._finalizer.detach()
            _unwatch(self.loop, self._fd)

    def _on_readable(self) -> None:
        handle = self._handle()
        if handle is None:
            return
        handle._on_io(selectors.EVENT_READ)
        if self._wake_pending:  # run what arrived without another loop turn
            self._pump()

    def _on_writable(self) -> None:
        handle = self._handle()
        if handle is not None:
            handle._on_io(selectors.EVENT_WRITE)

    def _pump(self) -> None:
        if not self._wake_pending:
            return
        self._wake_pending = False
        handle = self._handle()
        if handle is None or handle._closed:
            return
        try:
            # One non-blocking turn: queued continuations, anything readable,
            # then what those queued. Continuations queued meanwhile call
            # wake() again, so chains of composite futures run to the end.
            handle.reactor_run(flags=FLUX_REACTOR_NOWAIT)
        except Exception as exc:
            self.loop.call_exception_handler(
                {"message": "a fluxsdk future continuation raised", "exception": exc}
            )


def _unwatch(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    if not loop.is_closed():
        loop.remove_reader(fd)
        loop.remove_writer(fd)
