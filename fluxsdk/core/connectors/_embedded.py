"""The embedded instance's connector: a Unix stream socket in the instance directory.

Frames are RFC 3 messages with a length prefix (see :mod:`fluxsdk.core._message`).
The socket is non-blocking once connected: :meth:`EmbeddedConnector.send`
writes at once and keeps whatever the socket does not take, to be written by
:meth:`EmbeddedConnector.flush` when the reactor sees the socket writable.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import Final

from fluxsdk._uri import SocketPathTooLongError, check_socket_path
from fluxsdk.core._errors import ConnectError, ConnectionLostError
from fluxsdk.core._message import FrameDecoder, Message, MessageError
from fluxsdk.core._uri import FluxURI
from fluxsdk.core.connectors._base import Connector

__all__ = ["EmbeddedConnector", "open_embedded"]

_READ_SIZE: Final = 256 * 1024
# How long close() may wait to hand queued output to the instance.
_CLOSE_FLUSH_TIMEOUT: Final = 1.0
_UCRED = struct.Struct("3i")


class EmbeddedConnector(Connector):
    """A connection to the embedded instance listening on ``socket_path``."""

    def __init__(self, socket_path: str, *, uri: str | None = None) -> None:
        name = uri or socket_path
        try:
            check_socket_path(socket_path)
        except SocketPathTooLongError as exc:
            raise ConnectError(
                errno.ENAMETOOLONG, f"cannot connect to {name}: {exc.strerror}"
            ) from None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(socket_path)
            _check_peer(sock, name)
        except ConnectError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            raise _connect_error(exc, name) from None
        sock.setblocking(False)
        self._sock: socket.socket | None = sock
        self._fd = sock.fileno()
        self._name = name
        self._decoder = FrameDecoder()
        self._unsent = bytearray()

    def send(self, message: Message) -> None:
        """Write ``message`` now, queueing what the socket cannot take."""
        data = message.encode()
        if self._unsent:
            self._unsent += data
            self.flush()
            return
        sock = self._live()
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            raise self._lost(exc) from None
        if sent < len(data):
            self._unsent += data[sent:]

    def flush(self) -> None:
        """Write as much queued output as the socket accepts now."""
        if not self._unsent:
            return
        sock = self._live()
        try:
            sent = sock.send(self._unsent)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            raise self._lost(exc) from None
        del self._unsent[:sent]

    @property
    def pending_output(self) -> bool:
        """True while some output is queued."""
        return bool(self._unsent)

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self._fd

    def recv(self) -> list[Message]:
        """The messages received so far (reads at most once; never blocks)."""
        sock = self._live()
        try:
            data = sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError as exc:
            raise self._lost(exc) from None
        if not data:
            raise self._lost(None)
        try:
            return self._decoder.feed(data)
        except MessageError as exc:
            raise ConnectionLostError(
                errno.ECONNRESET, f"{self._name}: protocol error from the instance: {exc}"
            ) from None

    def close(self) -> None:
        """Close the socket, first giving queued output up to a second to leave."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            if self._unsent:
                sock.settimeout(_CLOSE_FLUSH_TIMEOUT)
                sock.sendall(self._unsent)
        except OSError:
            pass
        finally:
            self._unsent.clear()
            sock.close()

    def __del__(self) -> None:
        # A handle dropped without close() (as Flux binding scripts do) must not
        # leak its socket or warn about it.
        sock = getattr(self, "_sock", None)
        if sock is not None:
            self._sock = None
            sock.close()

    def _live(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionLostError(errno.ECONNRESET, f"{self._name}: connection is closed")
        return self._sock

    def _lost(self, exc: OSError | None) -> ConnectionLostError:
        why = "the instance closed the connection" if exc is None else str(exc)
        return ConnectionLostError(errno.ECONNRESET, f"lost connection to {self._name}: {why}")


def _check_peer(sock: socket.socket, name: str) -> None:
    # Defence in depth: talk only to an instance run by this user.
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return
    _, uid, _ = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, peercred, _UCRED.size))
    if uid != os.getuid():
        raise ConnectError(
            errno.EPERM, f"{name}: the socket belongs to uid {uid}, not to this user"
        )


def _connect_error(exc: OSError, name: str) -> ConnectError:
    code = exc.errno if exc.errno is not None else errno.EIO
    hint = ""
    if code in (errno.ENOENT, errno.ECONNREFUSED):
        hint = " (is the instance running? start one with `fluxsdk start`)"
    return ConnectError(code, f"cannot connect to {name}: {os.strerror(code)}{hint}")


def open_embedded(uri: FluxURI) -> Connector:
    """Connector factory for ``fluxsdk://`` URIs."""
    return EmbeddedConnector(uri.socket_path, uri=uri.text)
