"""Parsing the URIs that name an instance.

A URI is ``scheme://host/path``. The scheme chooses the connector (see
:mod:`fluxsdk.core.connectors`). fluxsdk's own scheme, ``fluxsdk``, names an
embedded instance by its directory, which holds the socket ``local.sock``::

    fluxsdk:///home/me/.local/state/fluxsdk/default

Its format is defined once, in :mod:`fluxsdk._uri` (shared with the instance).
Flux's schemes (``local``, ``ssh``, ``tcp``, ...) name real Flux brokers; they
are parsed here only far enough to choose a connector.
"""

from __future__ import annotations

import os
import urllib.parse

import attrs

from fluxsdk._uri import EMBEDDED_SCHEME, SOCKET_NAME, embedded_directory, embedded_uri
from fluxsdk.core._errors import InvalidURIError

__all__ = ["EMBEDDED_SCHEME", "SOCKET_NAME", "FluxURI", "embedded_uri", "parse_uri"]


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
    if scheme == EMBEDDED_SCHEME:
        return FluxURI(scheme, parts.netloc, embedded_directory(text), uri)
    return FluxURI(scheme, parts.netloc, urllib.parse.unquote(parts.path), uri)
