"""Services offered by clients: ``service.add`` / ``service.remove``, and request routing.

As in flux, a client registers a service name (``Flux.service_register``);
requests whose topic is ``NAME.method`` are then forwarded to it, and its
responses (with ``Flux.respond``) go back to the requester, streaming ones
included. The broker renumbers forwarded requests, so requesters' matchtags
never collide. When a requester goes away, each service it used gets a
``NAME.disconnect`` request (no response expected), as flux's broker sends;
when the providing client goes away its services are removed and the
requests it left unanswered fail with ENOSYS.
"""

from __future__ import annotations

import errno
from typing import Final

import attrs

from fluxsdk.constants import (
    FLUX_MSGFLAG_NORESPONSE,
    FLUX_MSGFLAG_STREAMING,
    FLUX_MSGTYPE_REQUEST,
)
from fluxsdk.core._message import Message
from fluxsdk.instance._broker import Broker, Connection, Request, RequestError

__all__ = ["ServiceRouter"]

_MAX_TAG: Final = 0xFFFFFFFF


@attrs.define(eq=False)
class _Forwarded:
    """A request forwarded to a provider, and where its responses go."""

    origin: Connection
    request: Message  # as the requester sent it

    @property
    def streaming(self) -> bool:
        return bool(self.request.flags & FLUX_MSGFLAG_STREAMING)


class ServiceRouter:
    """Client-provided services of the embedded instance."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._providers: dict[str, Connection] = {}
        self._pending: dict[tuple[Connection, int], _Forwarded] = {}
        # Which services each requester used (told of its disconnection).
        self._clients: dict[Connection, set[str]] = {}
        self._next_tag = 1
        broker.register("service.add", self._add)
        broker.register("service.remove", self._remove)
        broker.set_router(self._route_request, self._route_response)

    def _add(self, request: Request) -> None:
        name = request.payload_get("service", str)
        if not name or "." in name:
            raise RequestError(errno.EINVAL, f"invalid service name {name!r}")
        if name in self._providers or self.broker.serves(name):
            raise RequestError(errno.EEXIST, f"service {name!r} already exists")
        conn = request.conn
        if conn not in self._providers.values():
            conn.on_close(self._provider_gone)
        self._providers[name] = conn
        request.respond()

    def _remove(self, request: Request) -> None:
        name = request.payload_get("service", str)
        if self._providers.get(name) is not request.conn:
            raise RequestError(errno.ENOENT, f"service {name!r} is not registered here")
        del self._providers[name]
        request.respond()

    def _route_request(self, conn: Connection, message: Message) -> bool:
        """Forward ``message`` if a client provides its service; False if none does."""
        service = message.topic.split(".", 1)[0]
        provider = self._providers.get(service)
        if provider is None:
            return False
        if conn not in self._clients:
            self._clients[conn] = set()
            conn.on_close(self._client_gone)
        self._clients[conn].add(service)
        wants_response = not message.flags & FLUX_MSGFLAG_NORESPONSE
        tag = self._new_tag(provider) if wants_response else 0
        forwarded = attrs.evolve(message, userid=conn.userid, rolemask=conn.rolemask, aux2=tag)
        if wants_response:
            self._pending[(provider, tag)] = _Forwarded(conn, message)
        provider.send(forwarded)
        return True

    def _route_response(self, conn: Connection, message: Message) -> None:
        """Send a provider's response back to the requester (others are dropped)."""
        forwarded = self._pending.get((conn, message.matchtag))
        if forwarded is None:
            return
        if message.errnum or not forwarded.streaming:
            del self._pending[(conn, message.matchtag)]
        reply = attrs.evolve(message, userid=0, rolemask=0, aux2=forwarded.request.matchtag)
        forwarded.origin.send(reply)

    def _new_tag(self, provider: Connection) -> int:
        while True:
            tag = self._next_tag
            self._next_tag = tag + 1 if tag < _MAX_TAG else 1
            if (provider, tag) not in self._pending:
                return tag

    def _client_gone(self, conn: Connection) -> None:
        for service in sorted(self._clients.pop(conn, ())):
            provider = self._providers.get(service)
            if provider is not None and provider is not conn:
                notice = Message(
                    FLUX_MSGTYPE_REQUEST,
                    f"{service}.disconnect",
                    flags=FLUX_MSGFLAG_NORESPONSE,
                    userid=conn.userid,
                    rolemask=conn.rolemask,
                )
                provider.send(notice)

    def _provider_gone(self, conn: Connection) -> None:
        for name in [n for n, c in self._providers.items() if c is conn]:
            del self._providers[name]
        for key in [k for k in self._pending if k[0] is conn]:
            forwarded = self._pending.pop(key)
            error = forwarded.request.error(errno.ENOSYS, "the service provider went away")
            forwarded.origin.send(error)
