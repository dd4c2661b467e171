"""Futures: results that arrive later, as in ``flux.future`` and ``flux.rpc``.

A :class:`Future` is fulfilled once, or several times for a streaming RPC:
further results queue up and :meth:`Future.reset` moves to the next one.
Results are consumed in two ways, mirroring ``flux_future_get(3)`` and
``flux_future_then(3)``:

* :meth:`Future.get` / :meth:`Future.wait_for` block, pumping the handle's
  connection until this future is fulfilled. Responses that arrive for other
  futures meanwhile are stored in them; their continuations are *not* run
  (they run later, from ``reactor_run()``).
* :meth:`Future.then` registers a continuation that the handle's reactor runs
  once the future is fulfilled, never from inside ``then()`` itself, even
  when the future is already fulfilled.

An :class:`RPC` is the future of a request sent with ``Flux.rpc()``.
:func:`wait_any` blocks, by the same rules as :meth:`Future.get`, until one of
several futures is ready (composite futures, which build on others, are in
:mod:`fluxsdk.core._composite`).
"""

from __future__ import annotations

import errno
import json
import os
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from fluxsdk.core._errors import ConnectionLostError
from fluxsdk.core._message import (
    FLUX_NODEID_ANY,
    FLUX_RPC_NORESPONSE,
    FLUX_RPC_STREAMING,
    Message,
)

if TYPE_CHECKING:
    from fluxsdk.core._handle import Flux
    from fluxsdk.core._reactor import Reactor, Timer

__all__ = ["RPC", "Future", "wait_any"]

_F = TypeVar("_F", bound="Future")

# A result: (0, value) for success, (errnum, errstr or None) for an error.
_Result = tuple[int, Any]


class _Lost(str):
    """The error string of a result that reports a lost connection."""

    __slots__ = ()


class Future:
    """A result that will be available later, bound to a :class:`~fluxsdk.core.Flux` handle.

    Futures belong to their handle's thread. Create them through the handle
    (``Flux.rpc()``); a bare ``Future(handle)`` is fulfilled by whoever owns
    it with :meth:`fulfill` / :meth:`fulfill_error`.
    """

    def __init__(self, flux_handle: Flux) -> None:
        self._flux = flux_handle
        self._result: _Result | None = None
        self._queue: deque[_Result] | None = None
        self._then_cb: Callable[..., object] | None = None
        self._then_args: tuple[Any, ...] = ()
        self._then_kwargs: dict[str, Any] = {}
        self._then_timeout = -1.0
        self._timer: Timer | None = None
        self._scheduled = False
        self.stopped = False
        """True once :meth:`stop` was called: the continuation will not run again."""

    # -- the handle ---------------------------------------------------------

    def get_flux(self) -> Flux:
        """The handle this future belongs to."""
        return self._flux

    def get_reactor(self) -> Reactor:
        """The reactor that runs this future's continuation."""
        return self._flux.get_reactor()

    # -- consuming the result ----------------------------------------------

    def is_ready(self) -> bool:
        """True if :meth:`get` would return (or raise) without blocking."""
        return self._result is not None

    def wait_for(self: _F, timeout: float = -1.0) -> _F:
        """Block until fulfilled; ``timeout`` < 0 waits forever.

        Raises ``OSError(ETIMEDOUT)`` (a ``TimeoutError``) if ``timeout``
        seconds pass first (the future stays unfulfilled), and
        ``OSError(EDEADLOCK)`` if nothing is left that could fulfil it.
        """
        if self._result is None:
            if timeout == 0:
                raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
            self._flux._wait(self, timeout)
        return self

    def get(self) -> Any:
        """The current result, blocking until there is one.

        An error result raises ``OSError(errnum, errstr)``.
        """
        if self._result is None:
            self._flux._wait(self, -1.0)
        assert self._result is not None
        errnum, value = self._result
        if errnum:
            _raise(errnum, value)
        return value

    def error_string(self) -> str | None:
        """The error message of an error result, else None."""
        result = self._result
        if result is None or not result[0]:
            return None
        return str(result[1]) if result[1] else os.strerror(result[0])

    def then(
        self: _F,
        callback: Callable[..., object],
        *args: Any,
        timeout: float = -1.0,
        **kwargs: Any,
    ) -> _F:
        """Call ``callback(self, *args, **kwargs)`` from the reactor once fulfilled.

        The callback runs from ``Flux.reactor_run()``, never from inside this
        call. If ``timeout`` >= 0 and no result arrives in that many seconds,
        the future is fulfilled with ``ETIMEDOUT``. A streaming future's
        callback should call :meth:`reset` to be called for the next result.
        Only one continuation may be set (``OSError(EEXIST)`` otherwise).
        """
        if self._then_cb is not None:
            raise OSError(errno.EEXIST, "then callback already exists for this future")
        if callback is None:
            raise ValueError("Callback cannot be None")
        self._then_cb = callback
        self._then_args = args
        self._then_kwargs = kwargs
        self._then_timeout = float(timeout)
        self._on_then()
        if self._result is not None:
            self._schedule()
        else:
            self._arm_timeout()
        return self

    def reset(self) -> None:
        """Drop the current result; the next queued one (if any) becomes current."""
        self._result = None
        queue = self._queue
        if queue:
            self._fulfilled(queue.popleft())
        elif self._then_cb is not None:
            self._arm_timeout()

    def stop(self) -> None:
        """Never call this future's continuation again."""
        self.stopped = True
        if self._timer is not None:
            self._timer.stop()

    # -- fulfilling ---------------------------------------------------------

    def fulfill(self, result: Any = None) -> None:
        """Fulfil with ``result`` (queued if a result is already current)."""
        self._deliver((0, result))

    def fulfill_error(self, errnum: int = errno.ENOENT, errstr: str | None = None) -> None:
        """Fulfil with an error: :meth:`get` raises ``OSError(errnum, errstr)``."""
        if errnum <= 0:
            raise ValueError(f"errnum must be a positive errno value, not {errnum}")
        self._deliver((errnum, errstr))

    # -- internals ----------------------------------------------------------

    def _deliver(self, result: _Result) -> None:
        if self._result is None:
            self._fulfilled(result)
        elif self._queue is None:
            self._queue = deque((result,))
        else:
            self._queue.append(result)

    def _fulfilled(self, result: _Result) -> None:
        self._result = result
        if self._then_cb is not None:
            if self._timer is not None:
                self._timer.stop()
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and not self.stopped:
            self._scheduled = True
            self._flux._reactor.call_soon(self._run_then)
            hook = self._flux._loop_hook
            if hook is not None:  # an asyncio loop drives the handle: let it run this
                hook.wake()

    def _run_then(self) -> None:
        self._scheduled = False
        callback = self._then_cb
        if callback is None or self.stopped or self._result is None:
            return
        try:
            callback(self, *self._then_args, **self._then_kwargs)
        except BaseException:
            # As in the Flux bindings: a failing continuation is not called
            # again, and its exception ends reactor_run().
            self.stop()
            raise

    def _arm_timeout(self) -> None:
        if self._then_timeout < 0 or self.stopped:
            return
        if self._timer is None:
            self._timer = self._flux._reactor.timer(self._then_timeout, 0.0, self._timed_out)
        self._timer.reset(self._then_timeout)

    def _timed_out(self) -> None:
        if self._result is None:
            self._fulfilled((errno.ETIMEDOUT, None))

    def _on_then(self) -> None:
        """Hook: a continuation was just registered."""

    def _drive(self) -> None:
        """Hook for blocking waits: consume what is ready to make progress (no I/O).

        A plain future is fulfilled by its handle; a composite future
        overrides this to let its code react to children that are ready.
        """

    def _may_progress(self) -> bool:
        """Whether pumping the connection could still fulfil this future."""
        return self._flux._pending_count() > 0


def _raise(errnum: int, errstr: Any) -> None:
    if isinstance(errstr, _Lost):
        raise ConnectionLostError(errnum, str(errstr)) from None
    raise OSError(errnum, errstr or os.strerror(errnum)) from None


class RPC(Future):
    """The future of a request: ``RPC(flux_handle, topic, payload, nodeid, flags)``.

    The request is sent when the object is created (``Flux.rpc()`` does
    that). :meth:`get` returns the response's decoded JSON payload.

    With ``FLUX_RPC_STREAMING`` responses queue up: :meth:`get` returns the
    current one and :meth:`reset` advances; the stream ends with an error
    response, normally ENODATA, which :meth:`get` raises as ``OSError``.
    With ``FLUX_RPC_NORESPONSE`` no response is expected: the future is
    fulfilled with None at once.
    """

    def __init__(
        self,
        flux_handle: Flux,
        topic: str | bytes,
        payload: Any = None,
        nodeid: int = FLUX_NODEID_ANY,
        flags: int = 0,
    ) -> None:
        super().__init__(flux_handle)
        self._streaming = bool(flags & FLUX_RPC_STREAMING)
        self._holds_ref = False
        self.topic = topic.decode() if isinstance(topic, bytes) else topic
        self.nodeid = nodeid
        self.flags = flags
        self.matchtag = flux_handle._send_request(self, self.topic, payload, nodeid, flags)
        """The request's matchtag (0 with ``FLUX_RPC_NORESPONSE``)."""
        if flags & FLUX_RPC_NORESPONSE:
            self._result = (0, None)

    def get(self) -> Any:
        """The (current) response payload, decoded; None if it had none."""
        return super().get()

    def get_str(self) -> str | None:
        """The (current) response payload as JSON text; None if it had none."""
        value = self.get()
        return None if value is None else json.dumps(value)

    def _response(self, message: Message) -> None:
        # Called by the handle for each response to this request.
        errnum = message.aux1
        if errnum:
            self._flux._retire(self)
            self._deliver((errnum, message.payload or None))
        else:
            if not self._streaming:
                self._flux._retire(self)
            self._deliver((0, message.payload))

    def _lost(self, why: str) -> None:
        # Called by the handle when the connection is gone.
        self._deliver((errno.ECONNRESET, _Lost(why)))

    def is_pending(self) -> bool:
        """True while the request still awaits a response from the instance.

        False once it was answered (for a streaming RPC: once its final,
        error response arrived), for ``FLUX_RPC_NORESPONSE``, and once the
        connection is gone. A request that is no longer pending has given
        up its matchtag, which a newer request may now use.
        """
        return self._flux._is_pending(self)

    def _on_then(self) -> None:
        if self._flux._is_pending(self):
            self._holds_ref = True
            self._flux._reactor.ref()

    def _may_progress(self) -> bool:
        return self._flux._is_pending(self)


def wait_any(futures: Iterable[Future], timeout: float = -1.0) -> list[Future]:
    """Block until at least one of ``futures`` is ready; return the ready ones, in order.

    The futures must belong to one handle. As with :meth:`Future.get`, the
    handle's connection is pumped but no continuation runs (they run later,
    from ``reactor_run()``). ``timeout`` < 0 waits forever.

    Raises:
        ValueError: no futures, or futures of different handles.
        OSError: ETIMEDOUT (a ``TimeoutError``) if ``timeout`` seconds pass
            first; EDEADLOCK if nothing left could fulfil any of them.
    """
    pending = list(futures)
    if not pending:
        raise ValueError("wait_any() needs at least one future")
    flux_handle = pending[0]._flux
    if any(future._flux is not flux_handle for future in pending):
        raise ValueError("wait_any() futures must all belong to the same Flux handle")
    if not any(future.is_ready() for future in pending):
        flux_handle._wait_any(pending, timeout)
    return [future for future in pending if future.is_ready()]
