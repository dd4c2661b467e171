"""Helpers to test code against a real embedded instance.

``instance_running(statedir)`` starts an instance in the background and stops
it (and waits for it to exit) when the block ends, so tests leave nothing
running. With pytest, use the fixtures in :mod:`fluxsdk.testing` by adding
``pytest_plugins = ["fluxsdk.testing"]`` to a ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fluxsdk._control import shutdown
from fluxsdk.instance import start_detached

__all__ = ["instance_running", "shutdown"]


@contextlib.contextmanager
def instance_running(
    statedir: str | os.PathLike[str],
    *,
    size: int = 1,
    cores: int | None = None,
    gpus: int | None = 0,
    queues: Sequence[str] = (),
    plugins: Sequence[str] = (),
    config: str | os.PathLike[str] | None = None,
) -> Iterator[str]:
    """Run an instance in ``statedir`` for the duration of the block; yields its URI.

    ``gpus`` defaults to 0 so tests behave alike on machines with and without GPUs;
    ``plugins`` and ``config`` (a YAML file) as for ``fluxsdk start``.
    """
    uri = start_detached(
        statedir, size=size, cores=cores, gpus=gpus, queues=queues, plugins=plugins, config=config
    )
    try:
        yield uri
    finally:
        shutdown(uri)


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional
    pass
else:

    @pytest.fixture(scope="session")
    def fluxsdk_uri(tmp_path_factory: Any) -> Iterator[str]:
        """The URI of an embedded instance shared by the whole test session."""
        statedir: Path = tmp_path_factory.mktemp("fluxsdk-instance")
        with instance_running(statedir, size=1, cores=4) as uri:
            yield uri

    @pytest.fixture
    def flux_handle(fluxsdk_uri: str) -> Iterator[Any]:
        """A handle on the session's instance, closed after the test."""
        from fluxsdk.core import Flux

        with Flux(fluxsdk_uri) as handle:
            yield handle
