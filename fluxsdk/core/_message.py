"""Flux messages (RFC 3) and their framing on a stream socket.

A message is the RFC 3 header (magic, version, type, flags, userid, rolemask
and two type-dependent 32-bit words, big endian) followed by an optional topic
and an optional payload. On a stream socket each message is sent as a frame::

    u32 length | header (20 bytes) | [u16 topic length | topic] | [payload]

Payloads are JSON text, as in flux-core; an error response carries its error
string as the payload, also as in flux-core.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Final

import attrs

# FLUX_MSGFLAG_UPSTREAM marks a request whose nodeid is the sender's rank, to
# be routed away from it (flux_rpc() sets it for FLUX_NODEID_UPSTREAM).
from fluxsdk.constants import (
    FLUX_MSGFLAG_NORESPONSE,
    FLUX_MSGFLAG_PAYLOAD,
    FLUX_MSGFLAG_STREAMING,
    FLUX_MSGFLAG_TOPIC,
    FLUX_MSGFLAG_UPSTREAM,
    FLUX_MSGTYPE_EVENT,
    FLUX_MSGTYPE_REQUEST,
    FLUX_MSGTYPE_RESPONSE,
    FLUX_NODEID_ANY,
    FLUX_NODEID_UPSTREAM,
    FLUX_ROLE_OWNER,
    FLUX_ROLE_USER,
    FLUX_RPC_NORESPONSE,
    FLUX_RPC_STREAMING,
    FLUX_USERID_UNKNOWN,
)

__all__ = [
    "FLUX_MSGFLAG_NORESPONSE",
    "FLUX_MSGFLAG_PAYLOAD",
    "FLUX_MSGFLAG_STREAMING",
    "FLUX_MSGFLAG_TOPIC",
    "FLUX_MSGFLAG_UPSTREAM",
    "FLUX_MSGTYPE_EVENT",
    "FLUX_MSGTYPE_REQUEST",
    "FLUX_MSGTYPE_RESPONSE",
    "FLUX_NODEID_ANY",
    "FLUX_NODEID_UPSTREAM",
    "FLUX_ROLE_OWNER",
    "FLUX_ROLE_USER",
    "FLUX_RPC_NORESPONSE",
    "FLUX_RPC_STREAMING",
    "FLUX_USERID_UNKNOWN",
    "FrameDecoder",
    "Message",
    "MessageError",
]


_MAGIC: Final = 0x8E
_VERSION: Final = 0x01
_HEADER = struct.Struct(">BBBBIIII")
_LENGTH = struct.Struct(">I")
_TOPIC_LENGTH = struct.Struct(">H")
# A frame larger than this is a protocol error, not a message (guards memory).
MAX_FRAME: Final = 1 << 30
# Built once: json.dumps() with options makes a new encoder per call, which
# was about a fifth of the client's CPU time per RPC.
_json_encode = json.JSONEncoder(separators=(",", ":")).encode
_json_decode = json.JSONDecoder().decode


class MessageError(ValueError):
    """Bytes that are not a valid framed Flux message."""


@attrs.define(slots=True)
class Message:
    """One Flux message (RFC 3).

    ``aux1`` is the nodeid of a request, the errnum of a response, the
    sequence of an event; ``aux2`` is the matchtag of a request or response.
    ``payload`` is the decoded JSON payload (or the error string of an error
    response), ``None`` when absent.
    """

    type: int
    topic: str = ""
    payload: Any = None
    flags: int = 0
    userid: int = FLUX_USERID_UNKNOWN
    rolemask: int = 0
    aux1: int = 0
    aux2: int = 0

    @property
    def matchtag(self) -> int:
        return self.aux2

    @property
    def nodeid(self) -> int:
        return self.aux1

    @property
    def errnum(self) -> int:
        return self.aux1 if self.type == FLUX_MSGTYPE_RESPONSE else 0

    @classmethod
    def request(
        cls,
        topic: str,
        payload: Any = None,
        *,
        matchtag: int = 0,
        nodeid: int = FLUX_NODEID_ANY,
        flags: int = 0,
    ) -> Message:
        """A request message for ``topic``."""
        return cls(FLUX_MSGTYPE_REQUEST, topic, payload, flags, aux1=nodeid, aux2=matchtag)

    def response(self, payload: Any = None) -> Message:
        """A successful response to this request."""
        flags = self.flags & FLUX_MSGFLAG_STREAMING
        return Message(FLUX_MSGTYPE_RESPONSE, self.topic, payload, flags, aux2=self.aux2)

    def error(self, errnum: int, errstr: str | None = None) -> Message:
        """An error response to this request (``errstr`` travels as the payload).

        Raises:
            ValueError: ``errnum`` is not a positive errno value (a response
                with errnum 0 would read as a success).
        """
        if errnum <= 0:
            raise ValueError(f"an error response needs a positive errnum, not {errnum}")
        flags = self.flags & FLUX_MSGFLAG_STREAMING
        return Message(
            FLUX_MSGTYPE_RESPONSE, self.topic, errstr, flags, aux1=errnum, aux2=self.aux2
        )

    def encode(self) -> bytes:
        """This message as one frame, ready to write to a stream socket."""
        flags = self.flags & ~(FLUX_MSGFLAG_TOPIC | FLUX_MSGFLAG_PAYLOAD)
        parts: list[bytes] = []
        if self.topic:
            topic = self.topic.encode()
            flags |= FLUX_MSGFLAG_TOPIC
            parts += (_TOPIC_LENGTH.pack(len(topic)), topic)
        if self.payload is not None:
            flags |= FLUX_MSGFLAG_PAYLOAD
            if self.aux1 and self.type == FLUX_MSGTYPE_RESPONSE:
                parts.append(str(self.payload).encode())
            else:
                parts.append(_json_encode(self.payload).encode())
        header = _HEADER.pack(
            _MAGIC, _VERSION, self.type, flags, self.userid, self.rolemask, self.aux1, self.aux2
        )
        body = b"".join((header, *parts))
        return _LENGTH.pack(len(body)) + body

    @classmethod
    def decode(cls, body: bytes | memoryview) -> Message:
        """Decode one frame body (without its length prefix)."""
        if len(body) < _HEADER.size:
            raise MessageError(f"message of {len(body)} bytes is shorter than its header")
        magic, version, mtype, flags, userid, rolemask, aux1, aux2 = _HEADER.unpack_from(body)
        if magic != _MAGIC or version != _VERSION:
            raise MessageError("not a Flux message (bad magic or version)")
        offset = _HEADER.size
        topic = ""
        if flags & FLUX_MSGFLAG_TOPIC:
            (length,) = _TOPIC_LENGTH.unpack_from(body, offset)
            offset += _TOPIC_LENGTH.size
            topic = bytes(body[offset : offset + length]).decode()
            offset += length
        payload: Any = None
        if flags & FLUX_MSGFLAG_PAYLOAD:
            raw = bytes(body[offset:])
            try:
                if aux1 and mtype == FLUX_MSGTYPE_RESPONSE:
                    payload = raw.decode()
                else:
                    payload = _json_decode(raw.decode())
            except ValueError as exc:
                raise MessageError(f"payload of {topic!r} is not valid JSON: {exc}") from None
        return cls(mtype, topic, payload, flags, userid, rolemask, aux1, aux2)


class FrameDecoder:
    """Reassembles frames from the bytes of a stream, however they were split."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        """Add received bytes; return every message now complete."""
        self._buffer += data
        messages: list[Message] = []
        buffer, offset = self._buffer, 0
        while len(buffer) - offset >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if length > MAX_FRAME:
                raise MessageError(f"frame of {length} bytes exceeds the {MAX_FRAME} byte limit")
            end = offset + _LENGTH.size + length
            if len(buffer) < end:
                break
            messages.append(Message.decode(bytes(buffer[offset + _LENGTH.size : end])))
            offset = end
        if offset:
            del buffer[:offset]
        return messages
