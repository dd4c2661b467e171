"""The libflux-core connector: fluxsdk's handle on a real Flux broker.

It opens a ``flux_t`` with ``flux_open_ex(uri)`` (so every scheme the site's
libflux accepts works: ``local://``, ``ssh://``, connector plugins) and
moves messages, nothing more: :meth:`FluxCoreConnector.send` converts a
fluxsdk :class:`~fluxsdk.core._message.Message` to a ``flux_msg_t`` and
``flux_send``\\ s it; :meth:`FluxCoreConnector.recv` takes what
``flux_recv(FLUX_MATCH_ANY, FLUX_O_NONBLOCK)`` has. RPCs, matchtags, futures
and the reactor stay in fluxsdk's handle, as for the embedded instance, so
every ``fluxsdk.job`` call path is the same on both. Responses are routed back
by the broker to the connection that sent the request, with the request's
matchtag, whatever value fluxsdk chose. No C code calls into Python.

Polling. ``flux_pollfd()`` is an epoll fd that libflux makes readable, edge
triggered, when one of the connection's events is raised; ``flux_pollevents``
consumes those edges. So :meth:`~FluxCoreConnector.recv` first calls
``flux_pollevents`` and then drains ``flux_recv`` until EAGAIN: a message that
arrives after that makes a new edge, and none is left in libflux's buffers
without one. :meth:`~FluxCoreConnector.fileno` is an epoll fd of the
connector's own watching libflux's (level triggered) and an eventfd, which the
connector sets to be called again (after it returned the last messages of a
connection that then failed). For a reactor (fluxsdk's, or asyncio's
``add_reader``) the rule is the usual one for a non-blocking socket: when
``fileno()`` is readable, call ``recv()``; wakeups may be spurious
(``flux_pollfd`` also signals "writable" edges).

Sending is blocking (``flux_send`` with flags 0), as in flux-core's own
bindings: the broker always reads its clients, so a send waits at most for
socket buffer space; :attr:`pending_output` is therefore always false.

Job signing. ``flux_job_submit`` signs a jobspec the way this libflux is built
and configured (flux-security with the site's mechanism, or ``none``; ``none``
when the caller owns the instance). It is called on a private ``loop://``
handle, its ``job-ingest.submit`` request taken off the loop to read the
signed ``J``, and its future fulfilled and destroyed at once; the request is
then sent like any other through fluxsdk's RPC path. The broker's
``security.owner`` is put in the loop handle's attribute cache, so
``flux_job_submit`` makes the same choice it would on the real connection.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import select
import time
import weakref
from typing import TYPE_CHECKING, Any, Final

from fluxsdk._ffi import Libflux, LibfluxUnavailableError, load_libflux
from fluxsdk._ffi import _cdef as c
from fluxsdk.core._errors import ConnectError, ConnectionLostError, ConnectorUnavailableError
from fluxsdk.core._message import (
    FLUX_MSGFLAG_PAYLOAD,
    FLUX_MSGFLAG_STREAMING,
    FLUX_MSGFLAG_TOPIC,
    FLUX_MSGTYPE_EVENT,
    FLUX_MSGTYPE_REQUEST,
    FLUX_MSGTYPE_RESPONSE,
    FLUX_USERID_UNKNOWN,
    Message,
)
from fluxsdk.core._uri import FluxURI
from fluxsdk.core.connectors._base import Connector

if TYPE_CHECKING:
    from _libflux_core import FluxHandle, FluxMsg, LibfluxCore
    from cffi import FFI, CData

__all__ = ["FluxCoreConnector", "open_flux"]

#: How long opening may wait for the broker's first answers (attr.get).
OPEN_TIMEOUT: Final = 60.0
_json_encode = json.JSONEncoder(separators=(",", ":")).encode
_AGAIN: Final = frozenset((errno.EAGAIN, errno.EWOULDBLOCK))


def open_flux(uri: FluxURI) -> Connector:
    """Connector factory for Flux's own URI schemes (``local://``, ``ssh://``, ...).

    Raises:
        ConnectorUnavailableError: libflux-core (or cffi) cannot be loaded.
        ConnectError: ``flux_open`` failed (``errno`` and libflux's message say why).
    """
    try:
        libflux = load_libflux()
    except LibfluxUnavailableError as exc:
        raise ConnectorUnavailableError(
            exc.errno,
            f"{uri.text!r} names a real Flux broker ({uri.scheme}://), but fluxsdk's "
            f"libflux-core connector is not available: {exc.strerror}",
        ) from exc
    return FluxCoreConnector(uri.text.strip(), libflux)


class FluxCoreConnector(Connector):
    """A connection to a Flux broker through libflux-core's ``flux_t``."""

    def __init__(self, uri: str, libflux: Libflux, *, timeout: float = OPEN_TIMEOUT) -> None:
        self._ffi: FFI = libflux.ffi
        self._lib: LibfluxCore = libflux.lib
        self._uri = uri
        self._codec = _Codec(libflux)
        self._h: FluxHandle | None = _open(libflux, uri)
        self._epoll: select.epoll | None = None
        self._wake = -1
        self._error: ConnectionLostError | None = None
        self._signer: _Signer | None = None
        # Requests received, kept (as libflux's messages) until answered or dropped:
        # a response goes back along the request's route, which only libflux knows.
        self._requests: dict[int, FluxMsg] = {}
        try:
            pollfd = self._lib.flux_pollfd(self._h)
            if pollfd < 0:
                raise _os_error(self._ffi.errno, f"flux_pollfd on {uri}")
            self._epoll = select.epoll()
            self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._epoll.register(pollfd, select.EPOLLIN)
            self._epoll.register(self._wake, select.EPOLLIN)
            self._rank, self._owner = self._bootstrap(timeout)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<FluxCoreConnector {self._uri!r} {'open' if self._h else 'closed'}>"

    # -- the Connector interface --------------------------------------------------

    def send(self, message: Message) -> None:
        """Send ``message`` (blocks at most until the socket takes it)."""
        h = self._live()
        msg = self._codec.encode(message)
        try:
            if self._lib.flux_send(h, msg, 0) < 0:
                code = self._ffi.errno
                if code in (errno.EINVAL, errno.EPROTO, errno.ENOMEM, errno.EMSGSIZE):
                    raise _os_error(code, f"flux_send {message.topic!r}")
                raise self._lost(code)
        finally:
            self._lib.flux_msg_destroy(msg)

    def fileno(self) -> int:
        """An fd that is readable whenever :meth:`recv` may have something."""
        if self._epoll is None:
            raise ConnectionLostError(errno.ECONNRESET, f"{self._uri}: connection is closed")
        return self._epoll.fileno()

    def recv(self) -> list[Message]:
        """Every message libflux has now (never blocks).

        Raises:
            ConnectionLostError: the connection failed, after every message
                received before the failure was returned.
        """
        h = self._live()
        if self._error is not None:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self._wake)
            raise ConnectionLostError(self._error.errno, self._error.strerror)
        lib, ffi, decode = self._lib, self._ffi, self._codec.decode
        # Consume libflux's edges first: whatever arrives after this makes a new one.
        events = lib.flux_pollevents(h)
        messages: list[Message] = []
        match = self._codec.match_any
        while True:
            msg = lib.flux_recv(h, match, c.FLUX_O_NONBLOCK)
            if not msg:
                code = ffi.errno
                if code not in _AGAIN:
                    self._error = self._lost(code)
                break
            try:
                message = decode(msg)
            except BaseException:
                lib.flux_msg_destroy(msg)
                raise
            if message is not None and message.type == FLUX_MSGTYPE_REQUEST:
                self._keep_request(message, msg)
            else:
                lib.flux_msg_destroy(msg)
            if message is not None:
                messages.append(message)
        if self._error is None and (events < 0 or events & c.FLUX_POLLERR):
            self._error = self._lost(ffi.errno if events < 0 else errno.ECONNRESET)
        if self._error is not None:
            if not messages:
                raise ConnectionLostError(self._error.errno, self._error.strerror)
            os.eventfd_write(self._wake, 1)  # be called again, to report the failure
        return messages

    def respond(self, request: Message, response: Message) -> None:
        """Answer ``request`` along its route (``flux_respond`` / ``flux_respond_error``)."""
        msg = self._requests.get(id(request))
        if msg is None:
            raise OSError(errno.EINVAL, "this request was not received on this connection")
        h = self._live()
        lib, ffi = self._lib, self._ffi
        if response.errnum:
            text = response.payload
            errstr = str(text).encode() if text else ffi.NULL
            rc = lib.flux_respond_error(h, msg, response.errnum, errstr)
        else:
            payload = response.payload
            rc = lib.flux_respond(
                h, msg, ffi.NULL if payload is None else _json_encode(payload).encode()
            )
        if rc < 0:
            raise self._lost(ffi.errno)
        if response.errnum or not request.flags & FLUX_MSGFLAG_STREAMING:
            self._drop_request(id(request))  # nothing more may be sent

    def _keep_request(self, message: Message, msg: FluxMsg) -> None:
        key = id(message)
        self._requests[key] = msg
        # Dropped with the message if it is never answered.
        weakref.finalize(message, _drop_request, weakref.ref(self), key)

    def _drop_request(self, key: int) -> None:
        msg = self._requests.pop(key, None)
        if msg is not None:
            self._lib.flux_msg_destroy(msg)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        for key in list(self._requests):
            self._drop_request(key)
        h, self._h = self._h, None
        if self._signer is not None:
            self._signer.close()
            self._signer = None
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        if self._wake >= 0:
            os.close(self._wake)
            self._wake = -1
        if h is not None:
            self._lib.flux_close(h)

    def __del__(self) -> None:
        # A handle dropped without close() (as Flux binding scripts do) must not
        # leak its connection.
        with contextlib.suppress(Exception):
            self.close()

    @property
    def rank(self) -> int:
        """The rank of the broker this connection reaches."""
        return self._rank

    def sign_jobspec(self, jobspec: bytes) -> str:
        """``jobspec`` signed by libflux's ``flux_job_submit`` (see the module docs)."""
        self._live()
        if self._signer is None:
            self._signer = _Signer(self._ffi, self._lib, self._codec, self._owner)
        return self._signer.sign(jobspec)

    # -- internals ----------------------------------------------------------------

    def _bootstrap(self, timeout: float) -> tuple[int, str | None]:
        """Ask the broker for its rank and owner, before the handle sends anything."""
        names = ("rank", "security.owner")
        answers: dict[int, Message] = {}
        poller = select.poll()
        poller.register(self.fileno(), select.POLLIN)
        deadline = time.monotonic() + timeout
        try:
            for tag, name in enumerate(names, 1):
                self.send(Message.request("attr.get", {"name": name}, matchtag=tag))
            while True:
                for message in self.recv():
                    if message.type == FLUX_MSGTYPE_RESPONSE and message.matchtag in (1, 2):
                        answers[message.matchtag] = message
                if len(answers) == len(names):
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectError(
                        errno.ETIMEDOUT, f"{self._uri}: the broker did not answer in {timeout}s"
                    )
                poller.poll(math.ceil(remaining * 1000))
        except ConnectionLostError as exc:
            raise ConnectError(exc.errno, f"cannot talk to {self._uri}: {exc.strerror}") from None
        rank = answers[1]
        if rank.errnum or not isinstance(rank.payload, dict):
            raise ConnectError(
                rank.errnum or errno.EPROTO,
                f"{self._uri} did not give its rank ({rank.payload}); is it a Flux broker?",
            )
        owner = answers[2]
        value = None if owner.errnum or not isinstance(owner.payload, dict) else owner.payload
        return int(rank.payload["value"]), None if value is None else str(value["value"])

    def _live(self) -> FluxHandle:
        if self._h is None:
            raise ConnectionLostError(errno.ECONNRESET, f"{self._uri}: connection is closed")
        return self._h

    def _lost(self, code: int) -> ConnectionLostError:
        why = os.strerror(code) if code else "the broker closed the connection"
        return ConnectionLostError(errno.ECONNRESET, f"lost connection to {self._uri}: {why}")


def _drop_request(ref: weakref.ref[FluxCoreConnector], key: int) -> None:
    connector = ref()
    if connector is not None:
        connector._drop_request(key)


def _open(libflux: Libflux, uri: str) -> FluxHandle:
    """``flux_open_ex(uri)``, without a requeue queue (one fd fewer) when libflux allows."""
    ffi, lib = libflux.ffi, libflux.lib
    error = ffi.new("flux_error_t *")
    h = lib.flux_open_ex(uri.encode(), c.FLUX_O_NOREQUEUE, error)
    if not h and ffi.errno == errno.EINVAL:
        h = lib.flux_open_ex(uri.encode(), 0, error)  # a libflux without FLUX_O_NOREQUEUE
    if not h:
        code = ffi.errno or errno.ECONNREFUSED
        text = ffi.string(error.text).decode(errors="replace") or os.strerror(code)
        raise ConnectError(code, f"cannot connect to {uri}: {text}")
    return h


def _os_error(code: int, what: str) -> OSError:
    code = code or errno.EIO
    return OSError(code, f"{what}: {os.strerror(code)}")


class _Codec:
    """Converts between fluxsdk messages and ``flux_msg_t`` with libflux's accessors.

    Holds the out-parameters the accessors fill, allocated once.
    """

    def __init__(self, libflux: Libflux) -> None:
        ffi = self._ffi = libflux.ffi
        self._lib = libflux.lib
        self._int = ffi.new("int *")
        self._u32 = ffi.new("uint32_t *")
        self._str = ffi.new("const char **")
        self._buf = ffi.new("const void **")
        self._size = ffi.new("size_t *")
        self._cred = ffi.new("struct flux_msg_cred *")
        self._match = ffi.new(
            "struct flux_match *",
            {"typemask": c.FLUX_MSGTYPE_ANY, "matchtag": c.FLUX_MATCHTAG_NONE},
        )
        self.match_any: CData = self._match[0]

    def encode(self, message: Message) -> FluxMsg:
        """A new ``flux_msg_t`` for ``message``; the caller destroys it."""
        ffi, lib = self._ffi, self._lib
        msg = lib.flux_msg_create(message.type)
        if not msg:
            raise _os_error(ffi.errno, "flux_msg_create")
        mtype = message.type
        rc = 0
        if message.topic:
            rc |= lib.flux_msg_set_topic(msg, message.topic.encode())
        if message.payload is not None:
            if mtype == FLUX_MSGTYPE_RESPONSE and message.aux1:
                text = str(message.payload)  # an error response carries its message
            else:
                text = _json_encode(message.payload)
            rc |= lib.flux_msg_set_string(msg, text.encode())
        flags = message.flags & c.FLUX_MSGFLAG_SETTABLE
        if flags:
            rc |= lib.flux_msg_set_flag(msg, flags)
        if mtype == FLUX_MSGTYPE_REQUEST:
            rc |= lib.flux_msg_set_nodeid(msg, message.aux1)
            rc |= lib.flux_msg_set_matchtag(msg, message.aux2)
        elif mtype == FLUX_MSGTYPE_RESPONSE:
            rc |= lib.flux_msg_set_errnum(msg, message.aux1)
            rc |= lib.flux_msg_set_matchtag(msg, message.aux2)
        elif mtype == FLUX_MSGTYPE_EVENT:
            rc |= lib.flux_msg_set_seq(msg, message.aux1)
        if message.userid != FLUX_USERID_UNKNOWN or message.rolemask:
            cred = self._cred
            cred.userid, cred.rolemask = message.userid, message.rolemask
            rc |= lib.flux_msg_set_cred(msg, cred[0])
        if rc < 0:
            code = ffi.errno
            lib.flux_msg_destroy(msg)
            raise _os_error(code, f"cannot build the {message.topic!r} message")
        return msg

    def decode(self, msg: FluxMsg) -> Message | None:
        """The fluxsdk message for ``msg`` (None for kinds fluxsdk does not use)."""
        ffi, lib = self._ffi, self._lib
        lib.flux_msg_get_type(msg, self._int)
        mtype: int = self._int[0]
        aux1 = aux2 = 0
        if mtype == FLUX_MSGTYPE_RESPONSE:
            lib.flux_msg_get_errnum(msg, self._int)
            aux1 = self._int[0]
            lib.flux_msg_get_matchtag(msg, self._u32)
            aux2 = self._u32[0]
        elif mtype == FLUX_MSGTYPE_REQUEST:
            lib.flux_msg_get_nodeid(msg, self._u32)
            aux1 = self._u32[0]
            lib.flux_msg_get_matchtag(msg, self._u32)
            aux2 = self._u32[0]
        elif mtype == FLUX_MSGTYPE_EVENT:
            lib.flux_msg_get_seq(msg, self._u32)
            aux1 = self._u32[0]
        else:
            return None  # control messages are libflux's business
        flags = FLUX_MSGFLAG_STREAMING if lib.flux_msg_has_flag(msg, FLUX_MSGFLAG_STREAMING) else 0
        topic = ""
        if lib.flux_msg_get_topic(msg, self._str) == 0:
            flags |= FLUX_MSGFLAG_TOPIC
            topic = ffi.string(self._str[0]).decode(errors="replace")
        payload: Any = None
        if lib.flux_msg_get_payload(msg, self._buf, self._size) == 0:
            flags |= FLUX_MSGFLAG_PAYLOAD
            raw = ffi.unpack(ffi.cast("char *", self._buf[0]), self._size[0])
            if raw.endswith(b"\0"):
                raw = raw[:-1]  # string payloads carry their C terminator
            if mtype == FLUX_MSGTYPE_RESPONSE and aux1:
                payload = raw.decode(errors="replace") or None
            else:
                try:
                    payload = json.loads(raw)
                except ValueError as exc:
                    if mtype != FLUX_MSGTYPE_RESPONSE:
                        return None  # nothing in fluxsdk would read it
                    # Fail this one RPC, not the connection.
                    aux1 = errno.EPROTO
                    payload = f"response to {topic!r} is not JSON: {exc}"
        lib.flux_msg_get_cred(msg, self._cred)
        cred = self._cred
        return Message(mtype, topic, payload, flags, cred.userid, cred.rolemask, aux1, aux2)


class _Signer:
    """Signs jobspecs with ``flux_job_submit`` on a private ``loop://`` handle."""

    def __init__(self, ffi: FFI, lib: LibfluxCore, codec: _Codec, owner: str | None) -> None:
        self._ffi, self._lib, self._codec = ffi, lib, codec
        error = ffi.new("flux_error_t *")
        h = lib.flux_open_ex(b"loop://", c.FLUX_O_NOREQUEUE, error)
        if not h:
            h = lib.flux_open_ex(b"loop://", 0, error)
        if not h:
            raise _os_error(ffi.errno, "cannot open the loop:// handle used to sign jobs")
        # flux_job_submit asks for security.owner to choose the mechanism; on a
        # loop handle the RPC would go unanswered, so it must be cached. An
        # unknown owner is one that matches no user.
        value = owner if owner is not None else str(FLUX_USERID_UNKNOWN)
        lib.flux_attr_set_cacheonly(h, b"security.owner", value.encode())
        self._h: FluxHandle | None = h

    def sign(self, jobspec: bytes) -> str:
        """The signed request ``J`` for ``jobspec``.

        Raises:
            OSError: signing failed (flux-security's message, when it has one),
                or EINVAL for a jobspec with a NUL byte (C cannot pass it).
        """
        ffi, lib = self._ffi, self._lib
        h = self._h
        if h is None:
            raise OSError(errno.EBADF, "the job signer is closed")
        if b"\0" in jobspec:
            raise OSError(errno.EINVAL, "a jobspec cannot contain a NUL byte")
        future = lib.flux_job_submit(h, jobspec, c.FLUX_JOB_URGENCY_DEFAULT, 0)
        if not future:
            raise _os_error(ffi.errno, "flux_job_submit could not sign the jobspec")
        try:
            if lib.flux_future_is_ready(future):  # fulfilled at once: signing failed
                lib.flux_future_get(future, ffi.NULL)
                code = ffi.errno or errno.EPERM
                text = lib.flux_future_error_string(future)
                raise OSError(code, ffi.string(text).decode() if text else os.strerror(code))
            msg = lib.flux_recv(h, self._codec.match_any, c.FLUX_O_NONBLOCK)
            if not msg:
                raise OSError(errno.EPROTO, "flux_job_submit sent no job-ingest.submit request")
            try:
                request = self._codec.decode(msg)
            finally:
                lib.flux_msg_destroy(msg)
        finally:
            if not lib.flux_future_is_ready(future):
                # Fulfilled so that destroying it gives its matchtag back.
                lib.flux_future_fulfill_error(future, errno.ECANCELED, ffi.NULL)
            lib.flux_future_destroy(future)
        payload = request.payload if request is not None else None
        if not isinstance(payload, dict) or not isinstance(payload.get("J"), str):
            raise OSError(errno.EPROTO, "flux_job_submit sent a request without J")
        signed: str = payload["J"]
        return signed

    def close(self) -> None:
        """Close the loop handle (idempotent)."""
        h, self._h = self._h, None
        if h is not None:
            self._lib.flux_close(h)
