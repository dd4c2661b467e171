"""Flux messages (RFC 3) and their framing on a stream socket.

A message is the RFC 3 header (magic, version, type, flags, userid, rolemask
and two type-dependent 32-bit words, big endian) followed by an optional topic
and an optional payload. On a stream socket each message is sent as a frame::

    u32 length | header (20 bytes) | [u16 topic length | topic] | [payload]

Payloads are JSON text, as in flux-core; an error response carries its error
string as the payload, also as in flux-core.
"""

from __future__ import annotations

import contextlib
import json
import struct
from typing import Any, Final

import attrs

from fluxsdk._json import JSONInputError, loads_checked

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
    "PayloadError",
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
    """Bytes that are not a valid framed Flux message.

    ``message`` is what could be read of it (header and topic, no payload)
    when that is enough to answer it, else None.
    """

    def __init__(self, reason: str, message: Message | None = None) -> None:
        super().__init__(reason)
        self.message = message


class PayloadError(MessageError):
    """A well-framed message whose topic or payload is invalid: it can be answered
    (``message`` is set) and the stream stays usable."""

    message: Message


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
    def decode(cls, body: bytes | memoryview, *, checked: bool = False) -> Message:
        """Decode one frame body (without its length prefix).

        With ``checked``, a JSON payload must also be one jansson accepts
        within fluxsdk's limits (see :func:`fluxsdk._json.loads_checked`).

        Raises:
            MessageError: the frame cannot be read (too short, bad magic,
                a topic longer than the frame).
            PayloadError: the frame is readable but its topic is not UTF-8
                or its payload is not acceptable JSON; ``message`` holds its
                header and topic, so a request can still be answered.
        """
        if len(body) < _HEADER.size:
            raise MessageError(f"message of {len(body)} bytes is shorter than its header")
        magic, version, mtype, flags, userid, rolemask, aux1, aux2 = _HEADER.unpack_from(body)
        if magic != _MAGIC or version != _VERSION:
            raise MessageError("not a Flux message (bad magic or version)")
        offset = _HEADER.size
        topic = ""
        problem = ""
        if flags & FLUX_MSGFLAG_TOPIC:
            if len(body) < offset + _TOPIC_LENGTH.size:
                raise MessageError("message announces a topic but has no topic length")
            (length,) = _TOPIC_LENGTH.unpack_from(body, offset)
            offset += _TOPIC_LENGTH.size
            if len(body) < offset + length:
                raise MessageError(
                    f"topic of {length} bytes announced, {len(body) - offset} present"
                )
            raw_topic = bytes(body[offset : offset + length])
            offset += length
            try:
                topic = raw_topic.decode()
            except UnicodeDecodeError:
                topic = raw_topic.decode(errors="replace")
                problem = "topic is not UTF-8"
        payload: Any = None
        if flags & FLUX_MSGFLAG_PAYLOAD and not problem:
            raw = bytes(body[offset:])
            try:
                if aux1 and mtype == FLUX_MSGTYPE_RESPONSE:
                    payload = raw.decode()
                elif checked:
                    payload = loads_checked(raw)
                else:
                    payload = _json_decode(raw.decode())
            except JSONInputError as exc:
                problem = f"invalid payload: {exc}"
            except (ValueError, RecursionError) as exc:
                problem = f"payload of {topic!r} is not valid JSON: {exc}"
        message = cls(mtype, topic, payload, flags, userid, rolemask, aux1, aux2)
        if problem:
            raise PayloadError(problem, message)
        return message


class FrameDecoder:
    """Reassembles frames from the bytes of a stream, however they were split.

    ``max_frame`` bounds the size of one frame (a larger one is a protocol
    error: it is never buffered).
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    def split(self, data: bytes) -> tuple[list[bytes], MessageError | None]:
        """Add received bytes; return every frame body now complete, and the
        error that stops the stream after them, if any (the stream is then
        unusable: nothing after the error can be framed)."""
        self._buffer += data
        frames: list[bytes] = []
        error: MessageError | None = None
        buffer, offset = self._buffer, 0
        while len(buffer) - offset >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            start = offset + _LENGTH.size
            if length > self._max_frame:
                header = None
                if len(buffer) - start >= _HEADER.size:
                    # Enough to answer it (no topic: it may not have arrived).
                    head = bytearray(buffer[start : start + _HEADER.size])
                    head[3] &= ~(FLUX_MSGFLAG_TOPIC | FLUX_MSGFLAG_PAYLOAD)
                    with contextlib.suppress(MessageError):
                        header = Message.decode(bytes(head))
                error = MessageError(
                    f"message of {length} bytes exceeds the {self._max_frame} byte limit", header
                )
                break
            end = start + length
            if len(buffer) < end:
                break
            frames.append(bytes(buffer[start:end]))
            offset = end
        if offset:
            del buffer[:offset]
        return frames, error

    def feed(self, data: bytes) -> list[Message]:
        """Add received bytes; return every message now complete.

        Raises:
            MessageError: a frame cannot be decoded.
        """
        frames, error = self.split(data)
        messages = [Message.decode(frame) for frame in frames]
        if error is not None:
            raise error
        return messages
