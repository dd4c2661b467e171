"""The Flux handle, futures, reactor and messages (the layer every other one uses).

``Flux(uri)`` connects to an instance through the connector its URI scheme
names (:func:`register_connector` adds schemes); ``Flux.rpc()`` returns an
:class:`RPC` future; ``Flux.reactor_run()`` runs future continuations and
timers. :func:`wait_any` blocks until one of several futures is ready, and
:class:`CompositeFuture` builds futures out of others (flux's ``FutureExt``).
The same surface serves the embedded instance and, through the
libflux-core connector, a real Flux broker.

Core imports no layer above it: what it needs from them is registered into
it (:func:`set_default_uri_provider` for ``Flux()`` with no URI,
:func:`set_connector_lookup` for the plugins' connectors); ``import fluxsdk``
does both.
"""

from __future__ import annotations

from fluxsdk.core._composite import CompositeFuture
from fluxsdk.core._errors import (
    ConnectError,
    ConnectionLostError,
    ConnectorUnavailableError,
    DefaultInstanceUnavailableError,
    HandleThreadError,
    InvalidPayloadError,
    InvalidURIError,
    ReactorStoppedError,
)
from fluxsdk.core._future import RPC, Future, wait_any
from fluxsdk.core._handle import Flux, set_default_uri_provider
from fluxsdk.core._message import (
    FLUX_NODEID_ANY,
    FLUX_NODEID_UPSTREAM,
    FLUX_RPC_NORESPONSE,
    FLUX_RPC_STREAMING,
)
from fluxsdk.core._msgwatch import MessageWatcher
from fluxsdk.core._reactor import (
    FLUX_REACTOR_NOWAIT,
    FLUX_REACTOR_ONCE,
    Reactor,
    TimerWatcher,
    Watcher,
)
from fluxsdk.core._uri import FluxURI, embedded_uri, parse_uri
from fluxsdk.core.connectors import (
    Connector,
    register_connector,
    set_connector_lookup,
)

__all__ = [
    "FLUX_NODEID_ANY",
    "FLUX_NODEID_UPSTREAM",
    "FLUX_REACTOR_NOWAIT",
    "FLUX_REACTOR_ONCE",
    "FLUX_RPC_NORESPONSE",
    "FLUX_RPC_STREAMING",
    "RPC",
    "CompositeFuture",
    "ConnectError",
    "ConnectionLostError",
    "Connector",
    "ConnectorUnavailableError",
    "DefaultInstanceUnavailableError",
    "Flux",
    "FluxURI",
    "Future",
    "HandleThreadError",
    "InvalidPayloadError",
    "InvalidURIError",
    "MessageWatcher",
    "Reactor",
    "ReactorStoppedError",
    "TimerWatcher",
    "Watcher",
    "embedded_uri",
    "parse_uri",
    "register_connector",
    "set_connector_lookup",
    "set_default_uri_provider",
    "wait_any",
]

# Exported objects name the public module in reprs and tracebacks.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        _obj.__module__ = __name__
del _name, _obj
