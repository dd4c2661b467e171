"""The ``fluxsdk://`` URI of an embedded instance, and where its socket is.

An embedded instance lives in a directory; its clients reach it through the
Unix socket ``local.sock`` in that directory, and name it by the URI
``fluxsdk:///abs/path/of/the/directory`` (the path percent-encoded)::

    >>> embedded_uri("/tmp/my instance")  # doctest: +SKIP
    'fluxsdk:///tmp/my%20instance'

This module is pure (no I/O beyond resolving a path) and sits at the bottom of
the layers: both the instance, which listens on the socket, and the core,
which connects to it, use it, so the format is written down once.
"""

from __future__ import annotations

import errno
import os
import sys
import urllib.parse
from typing import Final

from fluxsdk.errors import FluxSDKError, InvalidInputError

__all__ = [
    "EMBEDDED_SCHEME",
    "MAX_SOCKET_PATH",
    "SOCKET_NAME",
    "InvalidURIError",
    "SocketPathTooLongError",
    "check_socket_path",
    "embedded_directory",
    "embedded_uri",
    "socket_path",
]

EMBEDDED_SCHEME: Final = "fluxsdk"
SOCKET_NAME: Final = "local.sock"
#: The longest socket path ``bind``/``connect`` accept, in bytes: ``sun_path``
#: holds 108 bytes on Linux (104 on the BSDs and macOS), one of them the NUL.
MAX_SOCKET_PATH: Final = (104 if sys.platform == "darwin" or "bsd" in sys.platform else 108) - 1


class InvalidURIError(InvalidInputError):
    """A string that is not a URI fluxsdk can open (bad syntax or unknown scheme)."""


class SocketPathTooLongError(FluxSDKError, OSError):
    """An instance directory whose socket path exceeds the Unix socket limit (ENAMETOOLONG)."""


def embedded_uri(directory: str | os.PathLike[str]) -> str:
    """The URI of the embedded instance in ``directory`` (made absolute, symlinks resolved)."""
    path = os.path.realpath(os.fspath(directory))
    return f"{EMBEDDED_SCHEME}://{urllib.parse.quote(path)}"


def embedded_directory(uri: str) -> str:
    """The instance directory a ``fluxsdk://`` URI names (percent-decoded).

    Raises:
        InvalidURIError: ``uri`` is not a ``fluxsdk`` URI of an absolute path
            (it has a host, a query, a fragment, or a relative path).
    """
    text = uri.strip()
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:
        raise InvalidURIError(f"{uri!r} is not a valid URI: {exc}") from None
    if parts.scheme.lower() != EMBEDDED_SCHEME or "://" not in text:
        raise InvalidURIError(f"{uri!r} is not a {EMBEDDED_SCHEME}:// URI")
    if parts.netloc not in ("", "localhost"):
        raise InvalidURIError(
            f"{uri!r}: a {EMBEDDED_SCHEME} URI names a local directory and "
            f"takes no host (write {EMBEDDED_SCHEME}:///abs/path)"
        )
    if parts.query or parts.fragment:
        raise InvalidURIError(f"{uri!r}: a {EMBEDDED_SCHEME} URI takes no ?query or #frag")
    path = urllib.parse.unquote(parts.path)
    if not os.path.isabs(path) or "\0" in path:
        raise InvalidURIError(
            f"{uri!r}: a {EMBEDDED_SCHEME} URI needs an absolute directory path "
            f"({EMBEDDED_SCHEME}:///abs/path/to/instance)"
        )
    return path


def check_socket_path(path: str | os.PathLike[str]) -> str:
    """Return ``path`` if a Unix socket can be bound or reached there.

    Raises:
        SocketPathTooLongError: the path is longer than ``MAX_SOCKET_PATH`` bytes.
    """
    text = os.fspath(path)
    size = len(os.fsencode(text))
    if size > MAX_SOCKET_PATH:
        raise SocketPathTooLongError(
            errno.ENAMETOOLONG,
            f"the socket path {text!r} is {size} bytes long, more than the "
            f"{MAX_SOCKET_PATH} a Unix socket address allows; use a shorter "
            "instance directory",
        )
    return text


def socket_path(directory: str | os.PathLike[str]) -> str:
    """The instance's socket in ``directory``, checked with :func:`check_socket_path`."""
    return check_socket_path(os.path.join(os.fspath(directory), SOCKET_NAME))
