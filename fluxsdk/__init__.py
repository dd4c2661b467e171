"""fluxsdk: a typed Python SDK for Flux jobs.

``import fluxsdk as flux; from fluxsdk import job`` stands in for the Flux
Python bindings' ``flux`` and ``flux.job``.
"""

from __future__ import annotations

from fluxsdk.errors import FluxSDKError

__all__ = ["FluxSDKError", "__version__"]

__version__ = "0.1.0"
