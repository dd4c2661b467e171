"""fluxsdk: a typed Python SDK for Flux jobs.

``import fluxsdk as flux; from fluxsdk import job`` stands in for the Flux
Python bindings' ``flux`` and ``flux.job``: ``flux.Flux()`` opens a handle on
the instance named by ``FLUX_URI`` or, without one, on the per-user embedded
instance, started on first use.
"""

from __future__ import annotations

from fluxsdk.core import Flux
from fluxsdk.errors import FluxSDKError
from fluxsdk.hooks import hookimpl, hookspec

__all__ = ["Flux", "FluxSDKError", "__version__", "hookimpl", "hookspec"]

__version__ = "0.1.0"
