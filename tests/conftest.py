"""Shared fixtures: where the conformance vectors and RFC data live."""

from __future__ import annotations

from pathlib import Path

import pytest

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
