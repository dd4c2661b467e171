"""fluxsdk: a typed Python SDK for Flux jobs.

``import fluxsdk as flux; from fluxsdk import job`` stands in for the Flux
Python bindings' ``flux`` and ``flux.job``: ``flux.Flux()`` opens a handle on
the instance named by ``FLUX_URI`` or, without one, on the per-user embedded
instance, started on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fluxsdk import constants
from fluxsdk.core import Flux, set_default_uri_provider
from fluxsdk.errors import FluxSDKError
from fluxsdk.hooks import hookimpl, hookspec

if TYPE_CHECKING:  # imported on first use: the model loads fluxsdk.job
    from fluxsdk.model import Connection

__all__ = ["Connection", "Flux", "FluxSDKError", "__version__", "constants", "hookimpl", "hookspec"]

__version__ = "0.1.0"


def _default_instance_uri() -> str:
    """The per-user embedded instance's URI, starting it on first use (see fluxsdk.instance)."""
    from fluxsdk.instance import default_uri

    return default_uri(start=True)


# Core never imports the instance: this layer tells it where Flux() with no URI goes.
# (Importing fluxsdk.hooks, above, installed the plugins' connectors the same way.)
set_default_uri_provider(_default_instance_uri)


def __getattr__(name: str) -> Any:
    """``fluxsdk.Connection``, the object model's entry point, imported when first used."""
    if name == "Connection":
        from fluxsdk.model import Connection

        return Connection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
