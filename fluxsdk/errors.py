"""The exceptions fluxsdk raises.

Every exception fluxsdk defines derives from one root, :class:`FluxSDKError`,
so ``except fluxsdk.errors.FluxSDKError`` catches them all. Each also derives
from the built-in exception that ``flux.job`` code already catches for the same
failure (``ValueError`` for bad input, ``TypeError`` for input of the wrong
type), so scripts ported from the Flux bindings keep working unchanged::

    FluxSDKError
    ├── InvalidInputError (ValueError)      bad input: says what to fix
    │   ├── JobspecError                    a jobspec that breaks RFC 14/25
    │   │   └── JobspecTypeError (TypeError)  a jobspec value of the wrong type
    │   ├── InvalidJobIDError               a string that is no RFC 19 FLUID
    │   │   └── JobIDOverflowError (OverflowError)  an integer outside 0..2**64-1
    │   ├── InvalidIdsetError               a string that is no RFC 22 idset
    │   ├── InvalidDurationError            a string that is no RFC 23 FSD
    │   ├── InvalidEventlogError            a line that is no RFC 18 entry
    │   └── InvalidDependencyError          a string that is no RFC 26 dependency
    └── FluidExhaustedError (RuntimeError)  a FLUID generator ran out of IDs

Each layer defines the errors of its own job under the same root (see their
modules); every one that carries an errno is also an ``OSError``::

    FluxSDKError
    ├── InvalidInputError
    │   ├── fluxsdk._uri.InvalidURIError            a URI fluxsdk cannot open
    │   ├── fluxsdk.core.InvalidPayloadError        a payload that is not JSON
    │   ├── fluxsdk._sign.SignatureError            a malformed signed request
    │   └── fluxsdk.hooks.JobspecRejectedError      a validator plugin said no (also OSError EPERM)
    ├── fluxsdk.core.ConnectError (OSError)         the instance cannot be reached
    ├── fluxsdk.core.ConnectionLostError (ConnectionResetError)
    ├── fluxsdk.core.ConnectorUnavailableError (OSError)  no connector for the URI
    ├── fluxsdk.core.DefaultInstanceUnavailableError (OSError)
    ├── fluxsdk._uri.SocketPathTooLongError (OSError ENAMETOOLONG)
    ├── fluxsdk.instance.InstanceError (OSError)    an instance cannot start or stop
    ├── fluxsdk.hooks.PluginError (OSError)         a plugin cannot be loaded
    │   └── fluxsdk.hooks.PluginFailedError         a submission plugin failed: nothing sent
    ├── fluxsdk.job.JobException                    a job's fatal exception event
    └── fluxsdk.model: MissingJobException, MissingTaskException, MissingPoolException
        (FileNotFoundError), UnauthorizedException (PermissionError), MaxJobException,
        PoolNotReadyException (TimeoutError), BulkSubmitError
"""

from __future__ import annotations

__all__ = [
    "FluidExhaustedError",
    "FluxSDKError",
    "InvalidDependencyError",
    "InvalidDurationError",
    "InvalidEventlogError",
    "InvalidIdsetError",
    "InvalidInputError",
    "InvalidJobIDError",
    "JobIDOverflowError",
    "JobspecError",
    "JobspecTypeError",
]


class FluxSDKError(Exception):
    """Root of every exception fluxsdk defines."""


class InvalidInputError(FluxSDKError, ValueError):
    """Input that cannot be used; the message says what was expected."""


class JobspecError(InvalidInputError):
    """A jobspec that breaks the rules of RFC 14 (and RFC 25 for V1).

    ``path`` names the offending place in the jobspec, such as
    ``resources[0].with[1].count``, or is empty for the document as a whole.
    """

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)


class JobspecTypeError(JobspecError, TypeError):
    """A jobspec value of the wrong type (also a ``TypeError``)."""


class InvalidJobIDError(InvalidInputError):
    """A string or number that is not a valid RFC 19 job ID."""


class JobIDOverflowError(InvalidJobIDError, OverflowError):
    """An integer job ID outside ``0 .. 2**64 - 1``.

    Also an ``OverflowError``: flux raises that where such an integer meets
    the 64-bit job ID of its C API (``event_watch_async(h, -1)``).
    """


class InvalidIdsetError(InvalidInputError):
    """A string that is not a valid RFC 22 idset."""


class InvalidDurationError(InvalidInputError):
    """A value that is not a valid RFC 23 Flux Standard Duration."""


class InvalidEventlogError(InvalidInputError):
    """Text that is not a valid RFC 18 eventlog entry."""


class InvalidDependencyError(InvalidInputError):
    """A string that is not a valid RFC 26 dependency."""


class FluidExhaustedError(FluxSDKError, RuntimeError):
    """A FLUID generator cannot produce another unique ID."""
