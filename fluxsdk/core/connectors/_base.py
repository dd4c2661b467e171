"""The connector interface: how a Flux handle talks to an instance.

A connector moves whole messages; it knows nothing of RPCs, futures or
matchtags (the handle does that, once, for every connector). It is
non-blocking: the handle's reactor polls :meth:`Connector.fileno` and calls
:meth:`Connector.recv` when it is readable and :meth:`Connector.flush` when it
is writable while :attr:`Connector.pending_output` is true.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from typing import TypeAlias

from fluxsdk._sign import sign_none
from fluxsdk.core._message import Message
from fluxsdk.core._uri import FluxURI

__all__ = ["Connector", "ConnectorFactory"]


class Connector(abc.ABC):
    """One open connection to an instance."""

    @abc.abstractmethod
    def send(self, message: Message) -> None:
        """Send ``message``, or queue what the socket cannot take yet.

        Raises :class:`~fluxsdk.core.ConnectionLostError` if the peer is gone.
        """

    @abc.abstractmethod
    def fileno(self) -> int:
        """The file descriptor to poll for input (and output, while pending)."""

    @abc.abstractmethod
    def recv(self) -> list[Message]:
        """The messages available now, without blocking (possibly none).

        Raises :class:`~fluxsdk.core.ConnectionLostError` once the peer has
        closed the connection and every message it sent has been returned.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection (idempotent); queued output is sent if it can be."""

    def respond(self, request: Message, response: Message) -> None:
        """Send ``response`` to ``request``, a request this connection received.

        The default sends it as any message; a connector whose requests carry
        routing of their own (libflux's) answers through them.
        """
        self.send(response)

    @property
    def rank(self) -> int:
        """The rank of the broker this connection reaches.

        A request to ``FLUX_NODEID_UPSTREAM`` is sent with this nodeid and the
        upstream flag, as ``flux_rpc()`` does. The embedded instance is one
        broker, rank 0.
        """
        return 0

    @property
    def pending_output(self) -> bool:
        """True while queued output waits for the socket to become writable."""
        return False

    def flush(self) -> None:  # noqa: B027 (a no-op for connectors that never queue)
        """Write queued output that the socket now accepts (never blocks)."""

    def sign_jobspec(self, jobspec: bytes) -> str:
        """The signed job request ``J`` (RFC 39) for ``jobspec``, as the instance wants it.

        The default signs for this user with the ``none`` mechanism, which the
        embedded instance accepts; the libflux-core connector signs the way
        the site configured libflux (``flux_job_submit``).
        """
        return sign_none(jobspec, os.getuid())


ConnectorFactory: TypeAlias = Callable[[FluxURI], Connector]
"""Opens a connector for a parsed URI; raises OSError-derived errors on failure."""
