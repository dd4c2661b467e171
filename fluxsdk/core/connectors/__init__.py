"""Connectors, chosen by URI scheme.

The table maps a scheme to a factory that opens a :class:`Connector` for a
parsed URI. ``fluxsdk`` (the embedded instance) is built in; Flux's own schemes
are reserved for the libflux-core connector and, until it is available, fail
with :class:`~fluxsdk.core.ConnectorUnavailableError`. Plugins add schemes with
:func:`register_connector`.
"""

from __future__ import annotations

import errno
from typing import Final

from fluxsdk.core._errors import ConnectorUnavailableError, InvalidURIError
from fluxsdk.core._uri import EMBEDDED_SCHEME, FluxURI
from fluxsdk.core.connectors._base import Connector, ConnectorFactory
from fluxsdk.core.connectors._embedded import EmbeddedConnector, open_embedded

__all__ = [
    "FLUX_SCHEMES",
    "Connector",
    "ConnectorFactory",
    "EmbeddedConnector",
    "open_connector",
    "register_connector",
]

FLUX_SCHEMES: Final = ("local", "ssh", "tcp", "loop", "shmem", "interthread")
"""The schemes of flux-core's own connectors (``flux_open(3)``)."""


def _libflux_unavailable(uri: FluxURI) -> Connector:
    raise ConnectorUnavailableError(
        errno.ENOSYS,
        f"{uri.text!r} names a real Flux broker ({uri.scheme}://), and fluxsdk's "
        "libflux-core connector is not available yet; use the embedded instance "
        f"({EMBEDDED_SCHEME}:///path, or no URI and no FLUX_URI for the default one)",
    )


_factories: dict[str, ConnectorFactory] = {EMBEDDED_SCHEME: open_embedded}
# Schemes whose entry may be replaced without replace=True (placeholders).
_placeholders: set[str] = set()
for _scheme in FLUX_SCHEMES:
    _factories[_scheme] = _libflux_unavailable
    _placeholders.add(_scheme)


def register_connector(scheme: str, factory: ConnectorFactory, *, replace: bool = False) -> None:
    """Open URIs of ``scheme`` with ``factory(parsed_uri)``.

    A scheme that already has a working connector is only replaced when
    ``replace`` is true (Flux's reserved schemes may always be claimed).
    """
    key = scheme.lower()
    if not key or not key.replace("+", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidURIError(f"{scheme!r} is not a valid URI scheme")
    if key in _factories and key not in _placeholders and not replace:
        raise ValueError(f"a connector for {key}:// is already registered (pass replace=True)")
    _factories[key] = factory
    _placeholders.discard(key)


def open_connector(uri: FluxURI) -> Connector:
    """Open the connector that ``uri``'s scheme names."""
    factory = _factories.get(uri.scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(_factories))
        raise InvalidURIError(f"{uri.text!r}: unknown URI scheme {uri.scheme!r} (known: {known})")
    return factory(uri)
