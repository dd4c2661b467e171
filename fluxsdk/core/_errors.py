"""The exceptions raised by the Flux handle, its connectors and its futures.

All derive from :class:`fluxsdk.errors.FluxSDKError`; those about the
connection also derive from :class:`OSError` (with an ``errno``), so code
written for the Flux bindings, which catches ``OSError``, keeps working::

    FluxSDKError
    ├── InvalidInputError (ValueError)
    │   ├── InvalidURIError                    a URI that names no instance (fluxsdk._uri)
    │   └── InvalidPayloadError                an RPC payload that is no JSON
    ├── ConnectorUnavailableError (OSError)    the URI's connector cannot be loaded
    ├── DefaultInstanceUnavailableError (OSError)  no URI given, no default instance
    ├── ConnectError (OSError)                 the instance could not be reached
    ├── ConnectionLostError (ConnectionResetError)  the instance went away
    ├── ReactorStoppedError (OSError)          reactor_stop_error() ended reactor_run()
    └── HandleThreadError (RuntimeError)       a handle used outside its own thread

Error *responses* are not in this tree: like the Flux bindings, a future whose
RPC failed raises a plain ``OSError(errnum, errstr)`` (so ``FileNotFoundError``
for ENOENT, ``TimeoutError`` for ETIMEDOUT, and so on).
"""

from __future__ import annotations

from fluxsdk._uri import InvalidURIError
from fluxsdk.errors import FluxSDKError, InvalidInputError

__all__ = [
    "ConnectError",
    "ConnectionLostError",
    "ConnectorUnavailableError",
    "DefaultInstanceUnavailableError",
    "HandleThreadError",
    "InvalidPayloadError",
    "InvalidURIError",
    "ReactorStoppedError",
]


class InvalidPayloadError(InvalidInputError):
    """An RPC payload given as text or bytes that is not valid JSON."""


class ConnectorUnavailableError(FluxSDKError, OSError):
    """The URI is valid, but the connector it needs is not available.

    Raised for Flux's own schemes (``local://``, ``ssh://``, ...) where
    libflux-core cannot be found, and for any scheme whose connector cannot
    be loaded.
    """


class DefaultInstanceUnavailableError(FluxSDKError, OSError):
    """No URI was given, ``$FLUX_URI`` is unset, and no default instance can be used."""


class ConnectError(FluxSDKError, OSError):
    """The instance named by the URI could not be reached (``errno`` says why)."""


class ConnectionLostError(FluxSDKError, ConnectionResetError):
    """The connection to the instance was lost; ``errno`` is ECONNRESET."""


class ReactorStoppedError(FluxSDKError, OSError):
    """``reactor_run()`` ended because ``reactor_stop_error()`` was called."""


class HandleThreadError(FluxSDKError, RuntimeError):
    """A Flux handle was used from a thread other than the one that created it.

    Handles, their futures and their reactor are not thread-safe: open one
    handle per thread.
    """
