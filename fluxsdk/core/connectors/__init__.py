"""Connectors, chosen by URI scheme.

The table maps a scheme to a factory that opens a :class:`Connector` for a
parsed URI. Schemes come from three places, in this order of precedence:
:func:`register_connector`, then the connector lookup a higher layer installs
with :func:`set_connector_lookup` (``fluxsdk.hooks`` installs the
``fluxsdk_connectors`` plugin hook's table, which also provides the built-in
``fluxsdk`` scheme, the embedded instance), then defaults. Flux's own schemes
open the libflux-core connector (:mod:`fluxsdk.core.connectors._flux`, loaded
with cffi on first use), which fails with
:class:`~fluxsdk.core.ConnectorUnavailableError` where libflux-core cannot be
found. Plugins add schemes with :func:`register_connector` (and may claim
Flux's schemes without ``replace``: the libflux-core connector is a default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from fluxsdk.core._errors import InvalidURIError
from fluxsdk.core._uri import FluxURI
from fluxsdk.core.connectors._base import Connector, ConnectorFactory
from fluxsdk.core.connectors._embedded import EmbeddedConnector

__all__ = [
    "FLUX_SCHEMES",
    "Connector",
    "ConnectorFactory",
    "ConnectorLookup",
    "EmbeddedConnector",
    "open_connector",
    "register_connector",
    "set_connector_lookup",
]

FLUX_SCHEMES: Final = ("local", "ssh", "tcp", "loop", "shmem", "interthread")
"""The schemes of flux-core's own connectors (``flux_open(3)``)."""


ConnectorLookup = Callable[[], Mapping[str, ConnectorFactory]]
"""Returns the connectors a higher layer provides (plugins), by lower-case scheme."""


def _no_lookup() -> Mapping[str, ConnectorFactory]:
    return {}


_lookup: ConnectorLookup = _no_lookup


def set_connector_lookup(lookup: ConnectorLookup | None) -> ConnectorLookup | None:
    """Consult ``lookup()`` for schemes :func:`register_connector` did not claim.

    Core does not know about plugins: ``fluxsdk.hooks`` installs the
    ``fluxsdk_connectors`` hook's table here when it is imported (``import
    fluxsdk`` does). ``lookup`` is called each time a URI is opened, so it
    should be cheap. ``None`` removes it. Returns the lookup it replaces
    (None if there was none).
    """
    global _lookup
    if lookup is not None and not callable(lookup):
        raise TypeError(f"the connector lookup must be callable, not {lookup!r}")
    previous, _lookup = _lookup, lookup or _no_lookup
    return None if previous is _no_lookup else previous


def _open_libflux(uri: FluxURI) -> Connector:
    # Imported here: cffi and libflux-core are loaded only when a Flux URI is opened.
    from fluxsdk.core.connectors._flux import open_flux

    return open_flux(uri)


_factories: dict[str, ConnectorFactory] = {}
# Schemes whose entry may be replaced without replace=True (built-in defaults).
_placeholders: set[str] = set()
for _scheme in FLUX_SCHEMES:
    _factories[_scheme] = _open_libflux
    _placeholders.add(_scheme)


def register_connector(scheme: str, factory: ConnectorFactory, *, replace: bool = False) -> None:
    """Open URIs of ``scheme`` with ``factory(parsed_uri)``.

    A scheme that already has a working connector is only replaced when
    ``replace`` is true (Flux's reserved schemes may always be claimed).
    """
    key = scheme.lower()
    if not key or not key.replace("+", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidURIError(f"{scheme!r} is not a valid URI scheme")
    taken = (key in _factories and key not in _placeholders) or key in _lookup()
    if taken and not replace:
        raise ValueError(f"a connector for {key}:// is already registered (pass replace=True)")
    _factories[key] = factory
    _placeholders.discard(key)


def open_connector(uri: FluxURI) -> Connector:
    """Open the connector that ``uri``'s scheme names."""
    factory = _factories.get(uri.scheme)
    if factory is None or uri.scheme in _placeholders:
        factory = _lookup().get(uri.scheme, factory)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted({*_factories, *_lookup()}))
        raise InvalidURIError(f"{uri.text!r}: unknown URI scheme {uri.scheme!r} (known: {known})")
    return factory(uri)
