"""Controlling an embedded instance from outside: asking it to stop."""

from __future__ import annotations

import os
import time

from fluxsdk.instance import InstanceError

__all__ = ["shutdown"]


def shutdown(uri: str, timeout: float = 30.0) -> None:
    """Ask the instance at ``uri`` to stop, and wait until its process is gone.

    Running jobs get an exception and are stopped; pending jobs stay queued in
    the instance's state and resume when it starts again.
    """
    from fluxsdk.core import Flux

    with Flux(uri) as handle:
        pid = int(handle.rpc("broker.getattr", {"name": "broker.pid"}).get()["value"])
        handle.rpc("instance.shutdown", {}).get()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise InstanceError(f"instance {uri} (pid {pid}) did not stop within {timeout}s")
