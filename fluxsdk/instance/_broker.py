"""The embedded instance's message broker: a Unix socket, connections, dispatch.

One thread runs an asyncio loop. Clients connect to a Unix socket inside a
0700 directory; each connection's peer credentials are checked (only the
instance owner may talk to it). Requests are dispatched by topic to service
handlers, which answer through :class:`Request`.

Durability: nothing leaves the broker before the state it reports is on disk.
Replies are queued, and once per loop iteration the broker runs its
*pre-send hooks* (the store commits its batch there) and only then writes
the queued replies. Many requests handled in one iteration share one commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

from fluxsdk.core._message import (
    FLUX_MSGFLAG_NORESPONSE,
    FLUX_MSGFLAG_STREAMING,
    FLUX_MSGTYPE_REQUEST,
    FLUX_MSGTYPE_RESPONSE,
    FLUX_ROLE_OWNER,
    FrameDecoder,
    Message,
    MessageError,
    PayloadError,
)
from fluxsdk.errors import FluxSDKError

__all__ = ["MAX_REQUEST", "Broker", "Connection", "Request", "RequestError"]

log = logging.getLogger("fluxsdk.instance")

_UCRED = struct.Struct("3i")
_READ_SIZE = 256 * 1024
# The largest request frame accepted; a larger one is answered EMSGSIZE and its
# connection closed (its bytes are never buffered).
MAX_REQUEST = 64 << 20
#: Seconds a write nobody waits for may stay in memory before a durability point
#: of its own (under load the next wanted one, a reply or a job start, comes sooner).
LAZY_FLUSH_DELAY = 0.002


class RequestError(Exception):
    """Raised by a handler to answer its request with an error."""

    def __init__(self, errnum: int, errstr: str | None = None) -> None:
        super().__init__(errnum, errstr or os.strerror(errnum))
        self.errnum = errnum
        self.errstr = errstr or os.strerror(errnum)


class Connection:
    """One client connection: decodes its frames, queues its replies."""

    def __init__(self, broker: Broker, sock: socket.socket, userid: int) -> None:
        self.broker = broker
        self.sock = sock
        self.userid = userid
        self.rolemask = FLUX_ROLE_OWNER
        self.closed = False
        self._decoder = FrameDecoder(MAX_REQUEST)
        self._closing = False
        self._outbox: list[bytes] = []
        self._unsent = bytearray()
        self._writing = False
        self._close_hooks: list[Callable[[Connection], None]] = []

    def on_close(self, hook: Callable[[Connection], None]) -> None:
        """Call ``hook`` once when this connection goes away (to drop its watches)."""
        self._close_hooks.append(hook)

    def send(self, message: Message) -> None:
        """Queue a message; it is written after the next durability point."""
        if not self.closed:
            self._outbox.append(message.encode())
            self.broker._want_flush(self)

    def _read(self) -> None:
        try:
            data = self.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # The client is done sending: what it asked for is still answered.
            self._close_after_flush()
            return
        # Every frame is decoded and checked here, before any handler sees it:
        # a bad payload is answered EPROTO, a frame that cannot be read ends
        # the connection, and what came before it in the stream is served.
        frames, error = self._decoder.split(data)
        for body in frames:
            if self.closed or self._closing:
                return
            try:
                message = Message.decode(body, checked=True)
            except PayloadError as exc:
                self.broker._refuse(self, exc.message, errno.EPROTO, str(exc))
                continue
            except MessageError as exc:
                error = exc
                break
            self.broker._dispatch(self, message)
        if error is not None:
            log.warning("closing connection: %s", error)
            if error.message is not None:
                self.broker._refuse(self, error.message, errno.EMSGSIZE, str(error))
            self._close_after_flush()

    def _close_after_flush(self) -> None:
        """Read no more; close once the replies queued so far are written."""
        if self.closed or self._closing:
            return
        self._closing = True
        self.broker.loop.remove_reader(self.sock)
        self.broker._want_flush(self)

    def _flush(self) -> None:
        if self.closed:
            return
        if not (self._outbox or self._unsent):
            if self._closing:
                self.close()
            return
        if self._outbox:
            self._unsent += b"".join(self._outbox)
            self._outbox.clear()
        try:
            sent = self.sock.send(self._unsent)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close()
            return
        del self._unsent[:sent]
        loop = self.broker.loop
        if self._unsent and not self._writing:
            loop.add_writer(self.sock, self._flush)
            self._writing = True
        elif not self._unsent and self._writing:
            loop.remove_writer(self.sock)
            self._writing = False
        if self._closing and not self._unsent:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        loop = self.broker.loop
        loop.remove_reader(self.sock)
        if self._writing:
            loop.remove_writer(self.sock)
        self.sock.close()
        self.broker._connections.discard(self)
        for hook in self._close_hooks:
            try:
                hook(self)
            except Exception:
                log.exception("connection close hook failed")


class Request:
    """A request being handled: its message and the means to answer it."""

    __slots__ = ("conn", "message", "responded")

    def __init__(self, conn: Connection, message: Message) -> None:
        self.conn = conn
        self.message = message
        self.responded = False

    @property
    def payload(self) -> Any:
        return self.message.payload

    @property
    def topic(self) -> str:
        return self.message.topic

    @property
    def userid(self) -> int:
        return self.conn.userid

    @property
    def matchtag(self) -> int:
        return self.message.matchtag

    @property
    def streaming(self) -> bool:
        return bool(self.message.flags & FLUX_MSGFLAG_STREAMING)

    @property
    def wants_response(self) -> bool:
        return not self.message.flags & FLUX_MSGFLAG_NORESPONSE

    def respond(self, payload: Any = None) -> None:
        """Send a (possibly one of many, when streaming) successful response."""
        if self.wants_response:
            self.conn.send(self.message.response(payload))
        self.responded = True

    def error(self, errnum: int, errstr: str | None = None) -> None:
        """Send an error response (ENODATA ends a stream)."""
        if self.wants_response:
            self.conn.send(self.message.error(errnum, errstr))
        self.responded = True

    def payload_get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        """A payload field of the given type, or EPROTO naming what is wrong."""
        payload = self.message.payload
        if not isinstance(payload, dict):
            raise RequestError(errno.EPROTO, f"{self.topic}: payload must be a JSON object")
        if key not in payload:
            if default is ...:
                raise RequestError(errno.EPROTO, f"{self.topic}: missing {key!r}")
            return default
        value = payload[key]
        bad_bool = isinstance(value, bool) and bool not in (
            kind if isinstance(kind, tuple) else (kind,)
        )
        if not isinstance(value, kind) or bad_bool:
            raise RequestError(errno.EPROTO, f"{self.topic}: {key!r} has the wrong type")
        return value


Handler = Callable[[Request], None]


class Broker:
    """Accepts connections on a Unix socket and dispatches requests by topic."""

    def __init__(self, loop: asyncio.AbstractEventLoop, socket_path: str, owner: int) -> None:
        self.loop = loop
        self.socket_path = socket_path
        self.owner = owner
        self._handlers: dict[str, Handler] = {}
        self._any_payload: set[str] = set()
        self._connections: set[Connection] = set()
        self._pending_flush: set[Connection] = set()
        self._flush_scheduled = False
        self._flushing = False
        self._lazy_flush: asyncio.TimerHandle | None = None
        self._pre_send: list[Callable[[], None]] = []
        self._durability_checks: list[tuple[Callable[[], bool], Callable[[], bool]]] = []
        self._listener: socket.socket | None = None
        # Client-provided services (fluxsdk.instance._services): requests no handler
        # serves, and the responses of the clients that serve them.
        self._route_request: Callable[[Connection, Message], bool] | None = None
        self._route_response: Callable[[Connection, Message], None] | None = None

    def register(self, topic: str, handler: Handler, *, any_payload: bool = False) -> None:
        """Serve ``topic`` with ``handler``.

        Its requests' payloads must be JSON objects (or absent), as for every
        flux service that unpacks its request, unless ``any_payload``.
        """
        self._handlers[topic] = handler
        if any_payload:
            self._any_payload.add(topic)
        else:
            self._any_payload.discard(topic)

    def unregister(self, topic: str) -> None:
        """Stop serving ``topic`` (its requests are then routed, or get ``ENOSYS``)."""
        self._handlers.pop(topic, None)
        self._any_payload.discard(topic)

    def serves(self, service: str) -> bool:
        """True if a handler of the broker serves some ``service.*`` topic."""
        prefix = service + "."
        return any(topic.startswith(prefix) for topic in self._handlers)

    def set_router(
        self,
        route_request: Callable[[Connection, Message], bool],
        route_response: Callable[[Connection, Message], None],
    ) -> None:
        """Hand requests no handler serves to ``route_request`` (True: it took the
        request), and every response a client sends to ``route_response``."""
        self._route_request = route_request
        self._route_response = route_response

    def add_pre_send_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before queued messages are written (the durability point)."""
        self._pre_send.append(hook)

    def request_flush(self) -> None:
        """Make sure a durability point runs this iteration: someone waits for it
        (a reply, an eventlog watcher, work that may start only once it is durable).

        Everything handled in one loop iteration shares that one commit; a time
        window would batch more but would sit on every job's critical path.
        Asked for while a durability point runs, it is decided after it (see
        :meth:`add_durability_check`).
        """
        if not (self._flush_scheduled or self._flushing):
            self._flush_scheduled = True
            self.loop.call_soon(self._flush_all)

    def request_lazy_flush(self) -> None:
        """Make sure a durability point runs within :data:`LAZY_FLUSH_DELAY`: for
        writes nobody waits for, which the next wanted one usually carries."""
        if not (self._flush_scheduled or self._flushing or self._lazy_flush is not None):
            self._lazy_flush = self.loop.call_later(LAZY_FLUSH_DELAY, self._flush_all)

    def add_durability_check(self, wanted: Callable[[], bool], dirty: Callable[[], bool]) -> None:
        """After each durability point, ask again for one now if ``wanted()``, or
        within the lazy delay if ``dirty()`` (what its own work wrote meanwhile)."""
        self._durability_checks.append((wanted, dirty))

    def listen(self) -> None:
        """Bind the socket and start accepting connections."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self.loop.add_reader(listener, self._accept)

    def close(self) -> None:
        """Stop accepting, flush what can be flushed, and close every connection."""
        self._flush_all()
        if self._listener is not None:
            self.loop.remove_reader(self._listener)
            self._listener.close()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
        for conn in list(self._connections):
            conn.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
            _, uid, _ = _UCRED.unpack(creds)
            if uid != self.owner:
                # Nobody but the owner may use this instance.
                log.warning("refused connection from uid %d", uid)
                sock.close()
                continue
            sock.setblocking(False)
            conn = Connection(self, sock, uid)
            self._connections.add(conn)
            self.loop.add_reader(sock, conn._read)

    def _dispatch(self, conn: Connection, message: Message) -> None:
        if message.type != FLUX_MSGTYPE_REQUEST:
            if message.type == FLUX_MSGTYPE_RESPONSE and self._route_response is not None:
                self._route_response(conn, message)
            return
        handler = self._handlers.get(message.topic)
        router = self._route_request
        if handler is None and router is not None and router(conn, message):
            return
        request = Request(conn, message)
        if handler is None:
            request.error(errno.ENOSYS, f"unknown service method {message.topic!r}")
            return
        payload = message.payload
        if not (payload is None or isinstance(payload, dict) or message.topic in self._any_payload):
            request.error(errno.EPROTO, "payload is not a JSON object")
            return
        try:
            handler(request)
        except RequestError as exc:
            request.error(exc.errnum, exc.errstr)
        except Exception as exc:
            # A handler that did not expect its input: the request gets a clean
            # error (EINVAL for a value, EPROTO for a malformed request), the log
            # one line, and the broker carries on.
            number = errno.EINVAL if isinstance(exc, ValueError) else errno.EPROTO
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())
            log.warning("%s request failed: %s", message.topic, detail[:500])
            if not request.responded or request.streaming:
                text = str(exc) if isinstance(exc, FluxSDKError) else os.strerror(number)
                request.error(number, text)

    def _refuse(self, conn: Connection, message: Message, errnum: int, errstr: str) -> None:
        """Answer a request that never reached a handler (unless it wants no answer)."""
        if message.type == FLUX_MSGTYPE_REQUEST:
            Request(conn, message).error(errnum, errstr)

    def _want_flush(self, conn: Connection) -> None:
        self._pending_flush.add(conn)
        self.request_flush()

    def _flush_all(self) -> None:
        if self._lazy_flush is not None:
            self._lazy_flush.cancel()
            self._lazy_flush = None
        self._flushing = True
        try:
            for hook in self._pre_send:
                try:
                    hook()
                except Exception as exc:  # replies must still go out
                    log.error("pre-send hook failed: %s: %s", type(exc).__name__, exc)
            pending, self._pending_flush = self._pending_flush, set()
            for conn in pending:
                conn._flush()
        finally:
            self._flushing = False
            self._flush_scheduled = False
        if self._pending_flush:  # replies queued while sending
            self.request_flush()
        for wanted, dirty in self._durability_checks:
            if wanted():
                self.request_flush()
            elif dirty():
                self.request_lazy_flush()
