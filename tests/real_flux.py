"""Finding a real Flux for tests: skip cleanly when none can be run.

The session's Flux instance itself is conftest's ``flux_uri`` fixture (one
``flux start`` per test session, see :mod:`tests.flux_broker`); tests that use
it need the ``flux`` marker.
"""

from __future__ import annotations

import errno

import pytest

from fluxsdk._ffi import LibfluxUnavailableError, load_libflux
from tests.flux_broker import find_flux

__all__ = ["require_flux"]


def require_flux() -> str:
    """The ``flux`` command, with a libflux-core fluxsdk can load; else skip the test."""
    try:
        load_libflux()
    except LibfluxUnavailableError as exc:
        why = "not found" if exc.errno == errno.ENOENT else "unusable"
        pytest.skip(
            f"libflux-core {why}: install flux-core and put its bin on PATH, or set FLUXSDK_LIBFLUX"
        )
    flux = find_flux()
    if flux is None:
        pytest.skip("no flux command: put flux-core's bin on PATH or set FLUXSDK_FLUX")
    return flux
