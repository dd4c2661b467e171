"""The Flux handle: a connection to an instance, its RPCs and its reactor.

``Flux(uri)`` opens the connector that the URI's scheme names; with no URI it
uses ``$FLUX_URI``, and without that the URI of the default instance, which a
higher layer provides with :func:`set_default_uri_provider` (``import
fluxsdk`` registers the user's embedded instance, started on first use).
``Flux.rpc()`` sends a request and returns its :class:`~fluxsdk.core.RPC`
future; responses are matched to futures by matchtag, allocated per handle and
recycled once a request is answered.

A handle is confined to the thread that created it, as ``flux_t`` is: open
one handle per thread. Using it from another thread raises
:class:`~fluxsdk.core.HandleThreadError`.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import json
import math
import os
import select
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Final, Protocol

from fluxsdk.constants import FLUX_MATCHTAG_NONE, FLUX_MSGFLAG_PRIVATE, FLUX_MSGTYPE_ANY
from fluxsdk.core._errors import (
    ConnectionLostError,
    DefaultInstanceUnavailableError,
    HandleThreadError,
    InvalidPayloadError,
)
from fluxsdk.core._future import RPC, Future
from fluxsdk.core._message import (
    FLUX_MSGFLAG_NORESPONSE,
    FLUX_MSGFLAG_STREAMING,
    FLUX_MSGFLAG_UPSTREAM,
    FLUX_MSGTYPE_REQUEST,
    FLUX_MSGTYPE_RESPONSE,
    FLUX_NODEID_ANY,
    FLUX_NODEID_UPSTREAM,
    FLUX_RPC_NORESPONSE,
    FLUX_RPC_STREAMING,
    Message,
)
from fluxsdk.core._msgwatch import MessageCallback, MessageWatcher
from fluxsdk.core._reactor import EVENT_READ, EVENT_WRITE, Reactor, TimerCallback, TimerWatcher
from fluxsdk.core._uri import parse_uri
from fluxsdk.core.connectors import Connector, open_connector

__all__ = ["DefaultURIProvider", "Flux", "resolve_uri", "set_default_uri_provider"]

_MAX_MATCHTAG: Final = 0xFFFFFFFF
_POLLIN: Final = select.POLLIN
_POLLOUT: Final = select.POLLOUT
_POLL_READ: Final = select.POLLIN | select.POLLHUP | select.POLLERR


class LoopHook(Protocol):
    """An outside event loop driving this handle (see :mod:`fluxsdk.core._asyncio`)."""

    def wake(self) -> None:
        """A future continuation was queued on the handle's reactor: run it soon."""

    def writing(self, writing: bool) -> None:
        """Output is queued (True) or has all been written (False)."""

    def detach(self) -> None:
        """The connection is going away: stop watching it and wake every waiter."""


DefaultURIProvider = Callable[[], str]
"""Returns the URI of the default instance (starting it if need be)."""

_default_uri_provider: DefaultURIProvider | None = None


def set_default_uri_provider(provider: DefaultURIProvider | None) -> DefaultURIProvider | None:
    """Make ``provider()`` the source of the URI a handle opens when none is given.

    Core cannot know how a default instance is found or started (that is a
    higher layer's business), so that layer registers it here; ``import
    fluxsdk`` registers the per-user embedded instance. ``None`` removes it.
    Returns the provider it replaces.
    """
    global _default_uri_provider
    if provider is not None and not callable(provider):
        raise TypeError(f"the default URI provider must be callable, not {provider!r}")
    previous, _default_uri_provider = _default_uri_provider, provider
    return previous


def resolve_uri(uri: str | None = None) -> str:
    """The URI a handle opens: ``uri``, else ``$FLUX_URI``, else the default instance's.

    Raises:
        DefaultInstanceUnavailableError: no URI, no ``$FLUX_URI``, and no
            default instance (none registered, or it cannot be imported).
    """
    if uri:
        return uri
    env = os.environ.get("FLUX_URI")
    if env:
        return env
    provider = _default_uri_provider
    why = "no default instance is registered"
    if provider is not None:
        try:
            resolved = provider()
        except ImportError as exc:
            why = f"the default instance cannot be loaded: {exc}"
        else:
            if not isinstance(resolved, str) or not resolved:
                raise DefaultInstanceUnavailableError(
                    errno.EINVAL, f"the default URI provider returned {resolved!r}, not a URI"
                )
            return resolved
    raise DefaultInstanceUnavailableError(
        errno.ENOSYS,
        f"no URI given and FLUX_URI is not set, and {why}; "
        "pass a URI such as fluxsdk:///path/to/instance",
    )


class Flux:
    """A handle on a Flux instance, the counterpart of ``flux.Flux``.

    ``url`` (or, by keyword, ``uri``) names the instance:
    ``fluxsdk:///path/to/dir`` for an embedded instance; Flux's own URIs
    (``local://...``, ``ssh://...``) open a real broker through libflux-core.
    Without one,
    ``$FLUX_URI`` or else the default embedded instance is used. The
    signature is flux's ``Flux(url, flags=0, handle=None)``: ``flags`` is
    accepted and ignored, and ``handle`` (a libflux pointer to wrap) must be
    None.

    The handle owns a socket: close it with :meth:`close` or a ``with``
    block (it is also closed when the handle is garbage collected).
    """

    def __init__(
        self,
        url: str | None = None,
        flags: int = 0,
        handle: object = None,
        *,
        uri: str | None = None,
    ) -> None:
        del flags
        if handle is not None:
            raise TypeError(
                "Flux(handle=...) wraps a libflux flux_t pointer, which fluxsdk does not "
                "support; pass a URI instead"
            )
        if url and uri and url != uri:
            raise TypeError(f"Flux() got two different URIs: url={url!r} and uri={uri!r}")
        self._thread = threading.get_ident()
        self.uri = resolve_uri(url or uri)
        """The URI this handle is connected to."""
        self._conn: Connector = open_connector(parse_uri(self.uri))
        self._fd = self._conn.fileno()
        self._reactor = Reactor()
        self._reactor.add_fd(self._fd, EVENT_READ, _weak_io(self))
        self._poller = select.poll()
        self._poller.register(self._fd, _POLL_READ)
        self._writing = False
        self._rpcs: dict[int, RPC] = {}
        self._free_tags: list[int] = []
        self._next_tag = 1
        self._lost: ConnectionLostError | None = None
        self._closed = False
        self._watchers: set[Any] = set()
        self._msg_watchers: list[MessageWatcher] = []
        # Set while an asyncio loop drives this handle (fluxsdk.core._asyncio).
        self._loop_hook: LoopHook | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "lost" if self._lost else "open"
        return f"<fluxsdk.Flux {self.uri!r} {state}>"

    # -- RPCs ---------------------------------------------------------------

    def rpc(
        self,
        topic: str | bytes,
        payload: Any = None,
        nodeid: int = FLUX_NODEID_ANY,
        flags: int = 0,
    ) -> RPC:
        """Send a request to ``topic`` and return its future.

        ``payload`` is a JSON-serialisable value (usually a dict), JSON text
        (str or bytes), or None. ``flags`` may be ``FLUX_RPC_STREAMING``
        (many responses, ending with ENODATA) or ``FLUX_RPC_NORESPONSE``.
        Raises :class:`~fluxsdk.core.ConnectionLostError` if the connection
        is gone.
        """
        return RPC(self, topic, payload, nodeid, flags)

    # -- broker attributes, events, services ---------------------------------

    def attr_get(self, attr_name: str) -> str:
        """The value of broker attribute ``attr_name`` (``attr.get``), e.g. ``"size"``.

        Raises:
            FileNotFoundError: the instance has no such attribute.
        """
        value: str = self.rpc("attr.get", {"name": attr_name}).get()["value"]
        return value

    def get_rank(self) -> int:
        """The rank of the broker this handle is connected to."""
        return int(self.attr_get("rank"))

    def event_subscribe(self, topic: str) -> None:
        """Receive events whose topic starts with ``topic`` (see :meth:`msg_watcher_create`)."""
        self.rpc("event.subscribe", {"topic": _topic(topic)}).get()

    def event_unsubscribe(self, topic: str) -> None:
        """Stop a subscription made with :meth:`event_subscribe`."""
        self.rpc("event.unsubscribe", {"topic": _topic(topic)}).get()

    def event_send(self, topic: str, payload: Any = None, flags: int = 0) -> int:
        """Publish an event (``event.publish``) and return its sequence number.

        ``payload`` is a JSON value or JSON text; ``flags`` may be
        ``FLUX_MSGFLAG_PRIVATE`` (only the instance owner and the sender see it).
        """
        if flags & ~FLUX_MSGFLAG_PRIVATE:
            raise OSError(errno.EINVAL, f"invalid event flags {flags:#x}")
        request: dict[str, Any] = {"topic": _topic(topic), "flags": flags}
        if payload is not None:
            if not isinstance(payload, (str, bytes, bytearray)):
                payload = json.dumps(payload)
            text = payload if isinstance(payload, str) else bytes(payload).decode()
            # As libflux sends it: base64 of the text and its terminating NUL.
            request["payload"] = base64.b64encode(text.encode() + b"\0").decode()
        seq: int = self.rpc("event.publish", request, nodeid=0).get()["seq"]
        return seq

    def msg_watcher_create(
        self,
        callback: MessageCallback,
        type_mask: int = FLUX_MSGTYPE_ANY,
        topic_glob: str = "*",
        args: Any = None,
        match_tag: int = FLUX_MATCHTAG_NONE,
        rolemask: int | None = None,
    ) -> MessageWatcher:
        """A watcher calling ``callback(handle, watcher, message, args)`` for each
        matching message received (events once subscribed); call ``start()``.
        ``rolemask`` is accepted for flux's signature."""
        del rolemask
        return MessageWatcher(self, type_mask, callback, topic_glob, match_tag, args)

    def service_register(self, name: str) -> RPC:
        """Ask the instance to route requests for ``name.*`` to this handle (``service.add``).

        Receive them with :meth:`msg_watcher_create` (``FLUX_MSGTYPE_REQUEST``)
        and answer with :meth:`respond` / :meth:`respond_error`. The future
        fails with EEXIST if the name is taken.
        """
        return self.rpc("service.add", {"service": name})

    def service_unregister(self, name: str) -> RPC:
        """Undo :meth:`service_register` (``service.remove``)."""
        return self.rpc("service.remove", {"service": name})

    def respond(self, message: Message, payload: Any = None) -> None:
        """Answer request ``message`` (received by a message watcher) with ``payload``.

        ``payload`` is a JSON value or JSON text. A streaming request may be
        answered many times; end it with ``respond_error(message, ENODATA)``.
        A request sent with ``FLUX_RPC_NORESPONSE`` is not answered.
        """
        if payload is not None and not isinstance(payload, dict):
            payload = _decode_payload(payload)
        self._respond(message, lambda: message.response(payload))

    def respond_error(self, message: Message, errnum: int, errstr: str | None = None) -> None:
        """Answer request ``message`` with error ``errnum`` (and message ``errstr``)."""
        self._respond(message, lambda: message.error(errnum, errstr))

    def _respond(self, request: Message, response: Callable[[], Message]) -> None:
        self._check_thread()
        if request.type != FLUX_MSGTYPE_REQUEST:
            raise ValueError("only a request message can be responded to")
        if request.flags & FLUX_MSGFLAG_NORESPONSE:
            return
        if self._lost is not None:
            raise ConnectionLostError(self._lost.errno, self._lost.strerror)
        try:
            self._conn.respond(request, response())
        except ConnectionLostError as exc:
            self._lose(exc)
            raise
        if self._conn.pending_output:
            self._set_writing(True)

    def _add_msg_watcher(self, watcher: MessageWatcher) -> None:
        self._msg_watchers.append(watcher)

    def _remove_msg_watcher(self, watcher: MessageWatcher) -> None:
        if watcher in self._msg_watchers:
            self._msg_watchers.remove(watcher)

    def _deliver_message(self, message: Message) -> None:
        for watcher in list(self._msg_watchers):
            if watcher in self._msg_watchers and watcher.matches(message):
                watcher.callback(self, watcher, message, watcher.args)

    # -- reactor ------------------------------------------------------------

    def get_reactor(self) -> Reactor:
        """This handle's reactor."""
        return self._reactor

    def reactor_running(self) -> bool:
        """True while :meth:`reactor_run` is running."""
        return self._reactor.running

    def reactor_run(self, reactor: Reactor | None = None, flags: int = 0) -> int:
        """Run the reactor until nothing is left to wait for, or it is stopped.

        Returns how many things were still active (0 when it ran dry).
        An exception raised by a callback is re-raised here.
        """
        self._check_thread()
        return (reactor or self._reactor).run(flags)

    def reactor_stop(self, reactor: Reactor | None = None) -> None:
        """Make :meth:`reactor_run` return after the current callback."""
        (reactor or self._reactor).stop()

    def reactor_stop_error(self, reactor: Reactor | None = None) -> None:
        """Make :meth:`reactor_run` return and raise an error."""
        (reactor or self._reactor).stop_error()

    def timer_watcher_create(
        self,
        after: float,
        callback: TimerCallback,
        repeat: float = 0.0,
        args: Any = None,
    ) -> TimerWatcher:
        """A timer calling ``callback(handle, watcher, revents, args)``; call ``start()``."""
        return TimerWatcher(self, after, callback, repeat=repeat, args=args)

    def add_watcher(self, watcher: Any) -> Any:
        """Keep a reference to ``watcher`` until :meth:`del_watcher`."""
        self._watchers.add(watcher)
        return watcher

    def del_watcher(self, watcher: Any) -> None:
        """Drop the reference taken by :meth:`add_watcher`."""
        self._watchers.discard(watcher)

    # -- lifetime -----------------------------------------------------------

    def close(self) -> None:
        """Close the connection; futures still waiting fail with ECONNRESET."""
        if self._closed:
            return
        self._closed = True
        if self._lost is None:
            self._lost = ConnectionLostError(
                errno.ECONNRESET, f"the handle on {self.uri} was closed"
            )
            self._fail_all(self._lost)
        if self._loop_hook is not None:
            self._loop_hook.detach()
        self._conn.close()
        self._reactor.close()

    def __enter__(self) -> Flux:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- used by futures ----------------------------------------------------

    def _send_request(self, rpc: RPC, topic: str, payload: Any, nodeid: int, flags: int) -> int:
        if threading.get_ident() != self._thread:
            self._check_thread()
        if self._lost is not None:
            raise ConnectionLostError(self._lost.errno, self._lost.strerror)
        if not topic:
            raise ValueError("an RPC topic must be a non-empty string")
        if flags & ~(FLUX_RPC_STREAMING | FLUX_RPC_NORESPONSE) or flags == (
            FLUX_RPC_STREAMING | FLUX_RPC_NORESPONSE
        ):
            raise OSError(errno.EINVAL, f"invalid RPC flags {flags:#x}")
        if payload is not None and not isinstance(payload, dict):
            payload = _decode_payload(payload)
        if flags & FLUX_RPC_NORESPONSE:
            tag, msgflags = 0, FLUX_MSGFLAG_NORESPONSE
        else:
            tag = self._free_tags.pop() if self._free_tags else self._new_tag()
            msgflags = FLUX_MSGFLAG_STREAMING if flags & FLUX_RPC_STREAMING else 0
        if nodeid == FLUX_NODEID_UPSTREAM:
            # As flux_rpc(): the flag routes the request away from this rank.
            msgflags |= FLUX_MSGFLAG_UPSTREAM
            nodeid = self._conn.rank
        message = Message(FLUX_MSGTYPE_REQUEST, topic, payload, msgflags, aux1=nodeid, aux2=tag)
        try:
            self._conn.send(message)
        except BaseException as exc:
            if tag:
                self._free_tags.append(tag)
            if isinstance(exc, ConnectionLostError):
                self._lose(exc)
            raise
        if tag:
            self._rpcs[tag] = rpc
        if self._conn.pending_output:
            self._set_writing(True)
        return tag

    def _hand_over(self) -> None:
        """Make the calling thread this handle's owner.

        For code that opens a handle and then starts the thread that uses it
        (the job executor's workers): the opening thread must not touch the
        handle afterwards.
        """
        if self._closed:
            raise ConnectionLostError(errno.ECONNRESET, f"the handle on {self.uri} is closed")
        self._thread = threading.get_ident()

    def _sign_jobspec(self, jobspec: bytes) -> str:
        """``jobspec`` signed as this handle's instance expects (for job submission)."""
        self._check_thread()
        return self._conn.sign_jobspec(jobspec)

    def _new_tag(self) -> int:
        tag = self._next_tag
        if tag > _MAX_MATCHTAG:
            raise OSError(errno.EAGAIN, "no matchtag available: too many RPCs in flight")
        self._next_tag = tag + 1
        return tag

    def _retire(self, rpc: RPC) -> None:
        tag = rpc.matchtag
        if self._rpcs.get(tag) is rpc:
            del self._rpcs[tag]
            self._free_tags.append(tag)
        if rpc._holds_ref:
            rpc._holds_ref = False
            self._reactor.unref()

    def _is_pending(self, rpc: RPC) -> bool:
        return self._rpcs.get(rpc.matchtag) is rpc

    def _pending_count(self) -> int:
        return len(self._rpcs)

    def _wait(self, future: Future, timeout: float) -> None:
        """Pump the connection until ``future`` is ready (no callbacks run)."""
        self._wait_any((future,), timeout)

    def _wait_any(self, futures: Sequence[Future], timeout: float) -> None:
        """Pump the connection until one of ``futures`` is ready (no callbacks run).

        Each round lets composite futures consume their children's results
        (``Future._drive``), then polls the connection once. Raises
        ``OSError(ETIMEDOUT)`` when ``timeout`` (>= 0) seconds pass first, and
        ``OSError(EDEADLOCK)`` when nothing left could fulfil any of them.
        """
        self._check_thread()
        deadline = None if timeout < 0 else time.monotonic() + timeout
        poll = self._poller.poll
        while True:
            for future in futures:
                future._drive()
                if future._result is not None:
                    return
            if not any(future._may_progress() for future in futures):
                raise OSError(
                    errno.EDEADLOCK,
                    "the future cannot be fulfilled: nothing it waits for is pending",
                )
            if deadline is None:
                events = poll()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
                events = poll(math.ceil(remaining * 1000))
            for _, revents in events:
                if revents & _POLLOUT:
                    self._flush()
                if revents & _POLL_READ:
                    self._read()

    def _pump(self) -> None:
        """Take in every message that has already arrived, without blocking.

        Responses are stored in their futures (no continuation runs), as in a
        blocking wait; a stream's consumer then reads them without waiting.
        """
        self._check_thread()
        if self._writing:
            self._flush()
        while self._lost is None and self._read():
            pass

    # -- I/O ----------------------------------------------------------------

    def _on_io(self, mask: int) -> None:
        if mask & EVENT_WRITE:
            self._flush()
        if mask & EVENT_READ:
            self._read()

    def _read(self) -> int:
        """Read what the connection has (never blocks); returns how many messages."""
        if self._lost is not None:
            return 0
        try:
            messages = self._conn.recv()
        except ConnectionLostError as exc:
            self._lose(exc)
            return 0
        rpcs = self._rpcs
        for message in messages:
            if message.type == FLUX_MSGTYPE_RESPONSE:
                rpc = rpcs.get(message.aux2)
                if rpc is not None:
                    rpc._response(message)
            elif self._msg_watchers:
                # Events and requests go to message watchers, from the reactor only.
                self._reactor.call_soon(functools.partial(self._deliver_message, message))
                if self._loop_hook is not None:
                    self._loop_hook.wake()
        return len(messages)

    def _flush(self) -> None:
        if self._lost is not None:
            return
        try:
            self._conn.flush()
        except ConnectionLostError as exc:
            self._lose(exc)
            return
        if not self._conn.pending_output:
            self._set_writing(False)

    def _set_writing(self, writing: bool) -> None:
        if writing == self._writing:
            return
        self._writing = writing
        if writing:
            self._reactor.ref()  # unsent output keeps reactor_run() going
            self._reactor.modify_fd(self._fd, EVENT_READ | EVENT_WRITE)
            self._poller.modify(self._fd, _POLL_READ | _POLLOUT)
        else:
            self._reactor.unref()
            self._reactor.modify_fd(self._fd, EVENT_READ)
            self._poller.modify(self._fd, _POLL_READ)
        if self._loop_hook is not None:
            self._loop_hook.writing(writing)

    def _lose(self, exc: ConnectionLostError) -> None:
        """The connection is gone: stop watching it and fail every pending RPC."""
        if self._lost is not None:
            return
        self._lost = exc
        self._set_writing(False)
        self._reactor.remove_fd(self._fd)
        with contextlib.suppress(KeyError):
            self._poller.unregister(self._fd)
        if self._loop_hook is not None:
            self._loop_hook.detach()
        self._conn.close()
        self._fail_all(exc)

    def _fail_all(self, exc: ConnectionLostError) -> None:
        rpcs = list(self._rpcs.values())
        self._rpcs.clear()
        for rpc in rpcs:
            if rpc._holds_ref:
                rpc._holds_ref = False
                self._reactor.unref()
            rpc._lost(str(exc.strerror))

    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread:
            raise HandleThreadError(
                f"this Flux handle ({self.uri}) belongs to another thread; "
                "handles are not thread-safe: open one handle per thread"
            )
        if self._closed:
            raise ConnectionLostError(errno.ECONNRESET, f"the handle on {self.uri} is closed")


def _weak_io(handle: Flux) -> Callable[[int], None]:
    # The reactor must not keep its handle alive: a handle dropped without
    # close() (as Flux binding scripts do) is then freed, and its socket
    # closed, as soon as the last reference goes.
    ref = weakref.ref(handle)

    def on_io(mask: int) -> None:
        target = ref()
        if target is not None:
            target._on_io(mask)

    return on_io


def _topic(topic: str | bytes) -> str:
    """An event topic as text (bytes are decoded); anything else is a TypeError."""
    if isinstance(topic, bytes):
        topic = topic.decode()
    if not isinstance(topic, str):
        raise TypeError(f"an event topic must be a string, not {type(topic).__name__}")
    return topic


def _decode_payload(payload: Any) -> Any:
    """Payload text (str/bytes) decoded to JSON values; other values as given."""
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = bytes(payload).decode()
        except UnicodeDecodeError as exc:
            raise InvalidPayloadError(f"RPC payload is not UTF-8 text: {exc}") from None
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise InvalidPayloadError(f"RPC payload text is not valid JSON: {exc}") from None
    return payload
