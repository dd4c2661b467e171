"""Parsing and building the URIs that name an instance.

A URI is ``scheme://host/path``. The scheme chooses the connector (see
:mod:`fluxsdk.core.connectors`). fluxsdk's own scheme, ``fluxsdk``, names an
embedded instance by its directory, which holds the socket ``local.sock``::

    fluxsdk:///home/me/.local/state/fluxsdk/default

Flux's schemes (``local``, ``ssh``, ``tcp``, ...) name real Flux brokers; they
are parsed here only far enough to choose a connector.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Final

import attrs

from fluxsdk.core._errors import InvalidURIError

__all__ = ["EMBEDDED_SCHEME", "SOCKET_NAME", "FluxURI", "embedded_uri", "parse_uri"]

EMBEDDED_SCHEME: Final = "fluxsdk"
SOCKET_NAME: Final = "local.sock"


@attrs.frozen
class FluxURI:
    """A parsed URI: ``scheme``, ``host`` (may be empty), ``path`` (decoded).

    ``text`` is the URI as given, for messages.
    """

    scheme: str
    host: str
    path: str
    text: str

    @property
    def socket_path(self) -> str:
        """For a ``fluxsdk`` URI, the instance's Unix socket."""
        return os.path.join(self.path, SOCKET_NAME)


def parse_uri(uri: str) -> FluxURI:
    """Parse ``uri``; raise :class:`InvalidURIError` when it is malformed."""
    if not isinstance(uri, str):
        raise InvalidURIError(f"a URI must be a string, not {type(uri).__name__}")
    text = uri.strip()
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:
        raise InvalidURIError(f"{uri!r} is not a valid URI: {exc}") from None
    if not parts.scheme or not text.lower().startswith(parts.scheme.lower() + "://"):
        raise InvalidURIError(
            f"{uri!r} is not a URI: expected scheme://..., "
            f"such as {EMBEDDED_SCHEME}:///path/to/instance or local:///run/flux/local"
        )
    scheme = parts.scheme.lower()
    path = urllib.parse.unquote(parts.path)
    parsed = FluxURI(scheme, parts.netloc, path, uri)
    if scheme == EMBEDDED_SCHEME:
        _check_embedded(parsed, parts)
    return parsed


def _check_embedded(parsed: FluxURI, parts: urllib.parse.SplitResult) -> None:
    if parts.netloc not in ("", "localhost"):
        raise InvalidURIError(
            f"{parsed.text!r}: a {EMBEDDED_SCHEME} URI names a local directory and "
            f"takes no host (write {EMBEDDED_SCHEME}:///abs/path)"
        )
    if parts.query or parts.fragment:
        raise InvalidURIError(f"{parsed.text!r}: a {EMBEDDED_SCHEME} URI takes no ?query or #frag")
    if not os.path.isabs(parsed.path) or "\0" in parsed.path:
        raise InvalidURIError(
            f"{parsed.text!r}: a {EMBEDDED_SCHEME} URI needs an absolute directory path "
            f"({EMBEDDED_SCHEME}:///abs/path/to/instance)"
        )


def embedded_uri(directory: str | os.PathLike[str]) -> str:
    """The ``fluxsdk`` URI of the embedded instance in ``directory``."""
    path = os.path.abspath(os.fspath(directory))
    return f"{EMBEDDED_SCHEME}://{urllib.parse.quote(path)}"
