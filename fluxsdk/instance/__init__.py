"""The embedded local instance: a broker process that really runs jobs here.

It serves flux-core's RPC topics over a Unix socket, keeps its state in
SQLite, schedules this machine's cores (or N simulated nodes) and runs tasks
with their output captured into RFC 24 eventlogs. Start one with
``fluxsdk start`` (scoped to a command, or detached), or let ``Flux()`` start
the per-user default instance on first use.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from fluxsdk.instance._instance import (
    SOCKET_NAME,
    Instance,
    InstanceError,
    start_detached,
    uri_for,
)

__all__ = [
    "Instance",
    "InstanceError",
    "default_statedir",
    "default_uri",
    "is_running",
    "start_detached",
    "uri_for",
]


def default_statedir() -> Path:
    """Where the per-user default instance keeps its state.

    ``$FLUXSDK_STATEDIR`` if set, else ``$XDG_STATE_HOME/fluxsdk/default``
    (``~/.local/state/fluxsdk/default``): state outlives reboots, as jobs do.
    """
    explicit = os.environ.get("FLUXSDK_STATEDIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "fluxsdk" / "default"


def is_running(statedir: str | os.PathLike[str]) -> bool:
    """True if an instance answers on the socket in ``statedir``."""
    path = Path(statedir) / SOCKET_NAME
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def default_uri(start: bool = True) -> str:
    """The URI of the per-user default instance, started in the background if
    it is not running and ``start`` is true."""
    statedir = default_statedir()
    if is_running(statedir) or not start:
        return uri_for(statedir)
    try:
        return start_detached(statedir)
    except InstanceError:
        # Another process may have started it at the same moment.
        if is_running(statedir):
            return uri_for(statedir)
        raise
