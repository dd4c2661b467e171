"""Qarnot's exception names, importable from one module as in Qarnot's SDK::

    from fluxsdk.exceptions import MissingTaskException, UnauthorizedException

They are the object model's exceptions (:mod:`fluxsdk.model`); each also
derives from the built-in exception ``flux.job`` code already catches for the
same failure (``FileNotFoundError``, ``PermissionError``, ``TimeoutError``).
:class:`QarnotException` is the root of every error this SDK raises
(:class:`fluxsdk.errors.FluxSDKError`). Qarnot's exceptions for what fluxsdk
has no notion of (credits, buckets, disks) do not exist here.
"""

from __future__ import annotations

from fluxsdk.errors import FluxSDKError
from fluxsdk.model._errors import (
    BulkSubmitError,
    MaxJobException,
    MissingJobException,
    MissingObjectException,
    MissingPoolException,
    MissingTaskException,
    PoolNotReadyException,
    UnauthorizedException,
)

QarnotException = FluxSDKError
"""The root of the SDK's exceptions (Qarnot's ``QarnotException``)."""

__all__ = [
    "BulkSubmitError",
    "MaxJobException",
    "MissingJobException",
    "MissingObjectException",
    "MissingPoolException",
    "MissingTaskException",
    "PoolNotReadyException",
    "QarnotException",
    "UnauthorizedException",
]
