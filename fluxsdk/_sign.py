"""Signed job requests, mechanism ``none`` (RFC 39, with RFC 38 headers).

A signed request ``J`` is ``HEADER.PAYLOAD.SIGNATURE``: the base64 header holds
``version``, ``userid`` and ``mechanism`` as RFC 38 key/value pairs; the
payload is the base64 jobspec; the ``none`` mechanism's signature is the word
``none``. This is what flux-core produces when it is built without
flux-security, and what a single-user instance accepts.
"""

from __future__ import annotations

import base64
import binascii

from fluxsdk.errors import InvalidInputError

__all__ = ["SignatureError", "sign_none", "unwrap_none"]


class SignatureError(InvalidInputError):
    """A signed request that cannot be unwrapped or is not the caller's."""


def _header(userid: int) -> bytes:
    fields = ("version", "i1", "userid", f"i{userid}", "mechanism", "snone")
    return base64.b64encode(b"".join(f.encode() + b"\0" for f in fields))


def sign_none(payload: bytes, userid: int) -> str:
    """Wrap ``payload`` (the jobspec) for ``userid`` with the ``none`` mechanism."""
    return b".".join((_header(userid), base64.b64encode(payload), b"none")).decode("ascii")


def unwrap_none(signed: str) -> tuple[bytes, int]:
    """Return ``(payload, userid)`` from a ``none``-signed request.

    :raises SignatureError: the request is malformed or uses another mechanism.
    """
    parts = signed.split(".")
    if len(parts) != 3:
        raise SignatureError("signed request must have three '.'-separated parts")
    header_b64, payload_b64, signature = parts
    try:
        header = base64.b64decode(header_b64, validate=True)
        payload = base64.b64decode(payload_b64, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signed request is not valid base64") from None
    fields = header.split(b"\0")
    if fields[-1] != b"" or len(fields) % 2 != 1:
        raise SignatureError("signed request header is malformed")
    values = dict(zip(fields[0:-1:2], fields[1:-1:2], strict=True))
    if values.get(b"version") != b"i1" or set(values) != {b"version", b"userid", b"mechanism"}:
        raise SignatureError("signed request header is not version 1")
    if values[b"mechanism"] != b"snone" or signature != "none":
        mechanism = values[b"mechanism"][1:].decode(errors="replace")
        raise SignatureError(f"signing mechanism {mechanism!r} is not supported (only 'none')")
    userid = values[b"userid"]
    if not userid.startswith(b"i") or not userid[1:].isdigit():
        raise SignatureError("signed request header has a malformed userid")
    return payload, int(userid[1:])
