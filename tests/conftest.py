"""Shared fixtures: where the conformance vectors and RFC data live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxsdk.core import Flux
from tests.flux_broker import flux_broker
from tests.real_flux import require_flux

# The reusable fixtures fluxsdk ships: a session-wide embedded instance and handles on it.
pytest_plugins = ["fluxsdk.testing"]

# shared/ sits beside the repository (in development and in CI).
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared/ folder with the RFCs and vectors; skips when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"conformance vectors not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def flux_command() -> str:
    """The ``flux`` command, with a libflux-core fluxsdk can load (else skip)."""
    return require_flux()


@pytest.fixture(scope="session")
def flux_uri(flux_command: str) -> Iterator[str]:
    """A real Flux instance (``flux start``) shared by the session."""
    with flux_broker(flux_command) as uri:
        yield uri


@pytest.fixture(params=["embedded", pytest.param("flux", marks=pytest.mark.flux)])
def embedded_or_flux(request: pytest.FixtureRequest) -> Iterator[Flux]:
    """A handle on the embedded instance, then on a real Flux broker (if there is one)."""
    if request.param == "embedded":
        yield request.getfixturevalue("flux_handle")
        return
    with Flux(request.getfixturevalue("flux_uri")) as handle:
        yield handle
