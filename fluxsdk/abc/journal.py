"""Consumers of journal-style streams (``flux.abc.journal``): history, then live events.

A journal service answers one streaming request with the events of the past
(the backlog), a sentinel response that ends it, then every new event as it
happens. :class:`JournalConsumerBase` hides that: events come out one at a
time, the backlog in time order, through :meth:`~JournalConsumerBase.poll`
or a callback run by the handle's reactor; ``None`` marks the end of the
stream (after :meth:`~JournalConsumerBase.stop`). Subclasses say how a
response becomes events (:meth:`~JournalConsumerBase.process_response`,
:meth:`~JournalConsumerBase.create_event`).
"""

from __future__ import annotations

import abc
import errno
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from fluxsdk.core import RPC, Flux
from fluxsdk.core._message import FLUX_RPC_NORESPONSE, FLUX_RPC_STREAMING
from fluxsdk.eventlog import EventLogEvent

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; fluxsdk supports 3.10

__all__ = ["JournalConsumerBase", "JournalEventBase"]


class JournalEventBase(EventLogEvent):
    """One event of a journal: an RFC 18 entry (``name``, ``timestamp``, ``context``).

    An event without a name is *empty*: it stands for the sentinel that ends
    the backlog. An entry without a timestamp gets the current time.
    """

    def __init__(self, event: Mapping[str, Any]) -> None:
        entry = dict(event)
        if "timestamp" not in entry:
            entry["timestamp"] = time.time()
        if "name" in entry:
            super().__init__(entry)
        else:  # the sentinel: no name to check
            dict.__init__(self, entry)
            self.setdefault("context", {})

    def is_empty(self) -> bool:
        """True for the empty event that stands for the end of the backlog."""
        return "name" not in self

    def __str__(self) -> str:
        if self.is_empty():
            return f"{self.timestamp:<0.5f} End of historical data stream"
        return " ".join([f"{self.timestamp:<0.5f}", self.name, self.context_string])


EventCallback = Callable[..., object]
_E = TypeVar("_E", bound=JournalEventBase)


class JournalConsumerBase(abc.ABC, Generic[_E]):
    """Reads a journal service: its backlog in time order, then live events.

    :param flux_handle: the handle to the instance.
    :param topic: the journal's request topic.
    :param cancel_topic: the topic that cancels a stream (default: ``topic + "-cancel"``).
    :param full: ask for the whole history (where the service has one).
    :param since: drop events not newer than this timestamp (resume after it).
    :param include_sentinel: hand out :attr:`SENTINEL_EVENT` where the backlog ends.

    :meth:`start` sends the request; :meth:`poll` returns the next event, or a
    callback set with :meth:`set_callback` is called from the handle's reactor.
    After :meth:`stop`, the stream ends with ``None``.
    """

    SENTINEL_EVENT: ClassVar[JournalEventBase] = JournalEventBase({})

    def __init__(
        self,
        flux_handle: Flux,
        topic: str,
        cancel_topic: str | None = None,
        full: bool = True,
        since: float = 0.0,
        include_sentinel: bool = False,
    ) -> None:
        self.handle = flux_handle
        self.topic = topic
        self.cancel_topic = cancel_topic if cancel_topic is not None else f"{topic}-cancel"
        self.full = full
        self.since = since
        self.include_sentinel = include_sentinel
        self.backlog: deque[_E | None] = deque()
        self.rpc: RPC | None = None
        self.cb: EventCallback | None = None
        self.cb_args: tuple[Any, ...] = ()
        self.cb_kwargs: dict[str, Any] = {}
        self.processing_inactive = full
        self._then_set = False

    # -- what subclasses say -------------------------------------------------------

    @abc.abstractmethod
    def process_response(self, resp: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for :meth:`create_event`, from one response."""

    @abc.abstractmethod
    def create_event(self, entry: Mapping[str, Any], **kwargs: Any) -> _E:
        """The event object for one entry of a response's ``events``."""

    def is_empty_response(self, resp: Mapping[str, Any]) -> bool:
        """Whether ``resp`` is the sentinel that ends the backlog."""
        return len(resp["events"]) == 0

    @property
    def request_payload(self) -> dict[str, Any]:
        """The payload of the journal request."""
        return {}

    # -- the stream ----------------------------------------------------------------

    def start(self) -> Self:
        """Send the journal request (again: a restart may repeat or miss events)."""
        self.rpc = self.handle.rpc(self.topic, self.request_payload, 0, FLUX_RPC_STREAMING)
        self._then_set = False
        self._set_then()
        return self

    def stop(self) -> None:
        """Cancel the stream; once the events already sent are consumed, the end
        (``None``) comes out of :meth:`poll` or the callback."""
        if self.rpc is None:
            raise RuntimeError("stop() called before start()")
        self.handle.rpc(self.cancel_topic, {"matchtag": self.rpc.matchtag}, 0, FLUX_RPC_NORESPONSE)

    def poll(self, timeout: float = -1.0) -> _E | None:
        """The next event, blocking up to ``timeout`` seconds (< 0: forever).

        The backlog is read whole first and handed out in time order. Returns
        ``None`` once the stream ended. With ``timeout`` 0, only what already
        arrived is looked at.

        :raises RuntimeError: :meth:`start` was not called.
        :raises TimeoutError: nothing came within ``timeout``.
        """
        rpc = self.rpc
        if rpc is None:
            raise RuntimeError("poll() called before start()")
        if timeout == 0:
            self.handle._pump()
        while self.processing_inactive:
            resp = self._next(rpc, timeout)
            if resp is not None and self.is_empty_response(resp):
                self._sort_backlog()
            else:
                self._enqueue(resp)
        while not self.backlog:
            self._enqueue(self._next(rpc, timeout))
        return self.backlog.popleft()

    def set_callback(self, event_cb: EventCallback, *args: Any, **kwargs: Any) -> Self:
        """Call ``event_cb(event, *args, **kwargs)`` for each event, from the reactor
        (``Flux.reactor_run()``). Setting another callback replaces this one.

        As in flux 0.88, the callback is not called for the end of the stream:
        ``reactor_run()`` returns once a stopped stream has ended.
        """
        self.cb = event_cb
        self.cb_args = args
        self.cb_kwargs = kwargs
        self._set_then()
        return self

    # -- internals -----------------------------------------------------------------

    def _next(self, rpc: RPC, timeout: float) -> Mapping[str, Any] | None:
        """The next response, or None at the end of the stream."""
        if timeout == 0 and not rpc.is_ready():
            raise TimeoutError(errno.ETIMEDOUT, "no journal event is ready")
        try:
            resp: Mapping[str, Any] = rpc.wait_for(timeout).get()
        except OSError as exc:
            if exc.errno != errno.ENODATA:
                raise
            rpc.reset()
            return None
        rpc.reset()
        return resp

    def _enqueue(self, resp: Mapping[str, Any] | None) -> None:
        if resp is None:
            self.backlog.append(None)
            self.processing_inactive = False
            return
        kwargs = self.process_response(resp)
        for entry in resp["events"]:
            event = self.create_event(entry, **kwargs)
            if event.timestamp > self.since:
                self.backlog.append(event)

    def _sort_backlog(self) -> None:
        self.processing_inactive = False
        events = sorted(
            (e for e in self.backlog if e is not None), key=lambda event: event.timestamp
        )
        self.backlog = deque(events)
        if self.include_sentinel:
            self.backlog.append(cast(_E, self.SENTINEL_EVENT))

    def _set_then(self) -> None:
        if self.rpc is not None and self.cb is not None and not self._then_set:
            self._then_set = True
            self.rpc.then(self._on_response)

    def _on_response(self, future: RPC) -> None:
        try:
            resp = future.get()
        except OSError as exc:
            if exc.errno != errno.ENODATA:
                raise
            # As flux 0.88 does: the end is queued for poll(), but the callback is
            # not called for it; reactor_run() returns as the stream is over.
            self._enqueue(None)
            return
        else:
            if self.processing_inactive and self.is_empty_response(resp):
                self._sort_backlog()
            else:
                self._enqueue(resp)
        finally:
            future.reset()
        if self.processing_inactive:
            return  # the backlog is handed out once whole, in time order
        while self.backlog and self.cb is not None:
            self.cb(self.backlog.popleft(), *self.cb_args, **self.cb_kwargs)
