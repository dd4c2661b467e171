"""Events of the embedded instance's broker, with flux-core's topics.

* ``event.subscribe`` / ``event.unsubscribe`` ``{"topic"}``: a connection
  receives the events whose topic starts with one of its subscriptions
  (flux's prefix rule).
* ``event.publish`` ``{"topic", "flags", "payload"?}`` (the payload is base64
  text, as libflux sends it): the event goes to every subscribed connection
  as an event message with the next sequence number, answered ``{"seq"}``.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
from typing import Any

from fluxsdk.constants import FLUX_MSGFLAG_PRIVATE, FLUX_MSGTYPE_EVENT
from fluxsdk.core._message import Message
from fluxsdk.instance._broker import Broker, Connection, Request, RequestError

__all__ = ["EventService"]


class EventService:
    """Event subscriptions and publishing for the broker's connections."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.seq = 0
        self._subscriptions: dict[Connection, list[str]] = {}
        for topic, handler in (
            ("event.subscribe", self._subscribe),
            ("event.unsubscribe", self._unsubscribe),
            ("event.publish", self._publish),
        ):
            broker.register(topic, handler)

    def _subscribe(self, request: Request) -> None:
        topic = request.payload_get("topic", str)
        conn = request.conn
        if conn not in self._subscriptions:
            self._subscriptions[conn] = []
            conn.on_close(self._forget)
        self._subscriptions[conn].append(topic)
        request.respond()

    def _unsubscribe(self, request: Request) -> None:
        topic = request.payload_get("topic", str)
        topics = self._subscriptions.get(request.conn, [])
        if topic in topics:
            topics.remove(topic)
        request.respond()

    def _publish(self, request: Request) -> None:
        topic = request.payload_get("topic", str)
        flags = request.payload_get("flags", int, 0)
        encoded = request.payload_get("payload", str, None)
        if flags & ~FLUX_MSGFLAG_PRIVATE:
            raise RequestError(errno.EPROTO, f"event.publish: invalid flags {flags:#x}")
        payload: Any = None
        if encoded is not None:
            try:
                text = base64.b64decode(encoded, validate=True).rstrip(b"\0").decode()
                payload = json.loads(text) if text else None
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise RequestError(
                    errno.EPROTO, "event.publish: payload must be base64 JSON text"
                ) from None
        self.seq += 1
        event = Message(FLUX_MSGTYPE_EVENT, topic, payload, flags, aux1=self.seq)
        for conn, topics in self._subscriptions.items():
            if any(topic.startswith(prefix) for prefix in topics):
                conn.send(event)
        request.respond({"seq": self.seq})

    def _forget(self, conn: Connection) -> None:
        self._subscriptions.pop(conn, None)
