"""RFC 18 KVS event logs: one JSON object per line, ``timestamp``, ``name``, ``context``.

* :class:`EventLogEvent` is one entry, a ``dict`` with typed accessors, as in
  ``flux.eventlog`` (and re-exported by ``flux.job.event``).
* :func:`encode_entry` serializes one entry as a compact JSON line.
* :func:`decode_eventlog` parses a whole event log into entries.

Validation follows libeventlog: an entry is a JSON object whose ``name`` is a
string, whose ``timestamp`` is a number, and whose optional ``context`` is an
object; other keys are kept. In addition, as RFC 18 requires, the timestamp
must be finite and greater than zero, and ``NaN``/``Infinity`` literals
(which Python's ``json`` would accept but standard JSON does not) are
refused.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any, NoReturn

from fluxsdk.errors import InvalidEventlogError

__all__ = [
    "EventLogEvent",
    "decode_eventlog",
    "encode_entry",
]


def _reject_constant(literal: str) -> NoReturn:
    raise ValueError(f"{literal} is not valid JSON")


# Built once: json.dumps()/loads() with non-default options build a new
# encoder or decoder on every call, and these run once per event.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ASCII_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def _validate(entry: Mapping[str, Any], where: str) -> None:
    """Raise InvalidEventlogError unless ``entry`` holds a valid RFC 18 event."""
    if "name" not in entry:
        raise InvalidEventlogError(f"{where}: missing required key 'name' (a string)")
    if not isinstance(entry["name"], str):
        raise InvalidEventlogError(
            f"{where}: 'name' must be a string, not {type(entry['name']).__name__}"
        )
    if "timestamp" not in entry:
        raise InvalidEventlogError(
            f"{where}: missing required key 'timestamp' (seconds since the epoch)"
        )
    ts = entry["timestamp"]
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        raise InvalidEventlogError(
            f"{where}: 'timestamp' must be a number, not {type(ts).__name__}"
        )
    if not math.isfinite(ts) or ts <= 0:
        raise InvalidEventlogError(
            f"{where}: 'timestamp' must be a finite number greater than zero, not {ts!r}"
        )
    if "context" in entry and not isinstance(entry["context"], dict):
        raise InvalidEventlogError(
            f"{where}: 'context' must be a JSON object, not {type(entry['context']).__name__}"
        )


class EventLogEvent(dict[str, Any]):
    """A single RFC 18 event log entry.

    It is a ``dict`` of the entry's keys, and ``context`` is always present
    (``{}`` when the entry has none), as in ``flux.eventlog.EventLogEvent``.

    >>> ev = EventLogEvent('{"timestamp":1552593348.073045,"name":"submit"}')
    >>> ev.name, ev.timestamp, ev.context, ev.context_string
    ('submit', 1552593348.073045, {}, '')

    Args:
        event: the entry as a mapping, or as its JSON text (one line; a
            single trailing newline is allowed).

    Raises:
        InvalidEventlogError: (a ``ValueError``) the text is not JSON or not
            one line, or the entry lacks a string ``name`` or a positive
            numeric ``timestamp``, or has a ``context`` that is not an object.
        TypeError: ``event`` is neither a ``str``, ``bytes`` nor a mapping.
    """

    def __init__(self, event: Mapping[str, Any] | str | bytes) -> None:
        if isinstance(event, (bytes, bytearray)):
            event = bytes(event).decode("utf-8")
        if isinstance(event, str):
            event = _decode_line(event.removesuffix("\n"), "eventlog entry")
        elif isinstance(event, Mapping):
            _validate(event, "eventlog entry")
        else:
            raise TypeError(
                "EventLogEvent() expects a dict or a JSON string of one entry, "
                f"not {type(event).__name__}"
            )
        super().__init__(event)
        if "context" not in self:
            self["context"] = {}

    def __str__(self) -> str:
        return f"{self.timestamp:<0.5f}: {self.name} {self.context}"

    @property
    def name(self) -> str:
        """The event name, e.g. ``"submit"``."""
        name: str = self["name"]
        return name

    @property
    def timestamp(self) -> float:
        """Seconds since the Unix epoch when the event was created."""
        return float(self["timestamp"])

    @property
    def context(self) -> dict[str, Any]:
        """Event-specific data; ``{}`` when the entry has none."""
        context: dict[str, Any] = self["context"]
        return context

    @property
    def context_string(self) -> str:
        """The context as compact JSON with sorted keys, or ``""`` when empty."""
        if not self.context:
            return ""
        return json.dumps(self.context, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _decode_line(line: str, where: str) -> dict[str, Any]:
    """Parse and validate one entry (``line`` without its newline)."""
    if "\n" in line:
        raise InvalidEventlogError(
            f"{where}: contains an embedded newline; expected one JSON object on one line"
        )
    if not line:
        raise InvalidEventlogError(f"{where}: is empty; expected a JSON object")
    try:
        entry = _DECODER.decode(line)
    except ValueError as exc:
        raise InvalidEventlogError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(entry, dict):
        raise InvalidEventlogError(
            f"{where}: expected a JSON object, got a JSON {type(entry).__name__}"
        )
    _validate(entry, where)
    return entry


def encode_entry(
    name: str,
    context: Mapping[str, Any] | None = None,
    timestamp: float | None = None,
) -> str:
    """Return one RFC 18 event log line: compact JSON ending in ``"\\n"``.

    Keys appear in RFC order (``timestamp``, ``name``, ``context``), as
    libeventlog writes them. ``context`` is written whenever it is given, even
    if empty, and left out when it is ``None``.

    >>> encode_entry("finish", {"status": 0}, timestamp=1552593348.090927)
    '{"timestamp":1552593348.090927,"name":"finish","context":{"status":0}}\\n'

    Args:
        name: the event name; a non-empty string.
        context: event data; a mapping with string keys and JSON values.
        timestamp: seconds since the epoch, greater than zero; ``None`` means now.

    Returns:
        The encoded entry, including its trailing newline.

    Raises:
        InvalidEventlogError: ``name`` is empty or not a string, ``timestamp``
            is not a finite number greater than zero, or ``context`` is not a
            mapping or does not serialize to JSON.
    """
    if not isinstance(name, str) or not name:
        raise InvalidEventlogError(f"event name must be a non-empty string, not {name!r}")
    if timestamp is None:
        ts = time.time()
    else:
        if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
            raise InvalidEventlogError(
                f"event timestamp must be a number, not {type(timestamp).__name__}"
            )
        if not math.isfinite(timestamp) or timestamp <= 0:
            raise InvalidEventlogError(
                f"event timestamp must be a finite number greater than zero, not {timestamp!r}"
            )
        # Always a JSON real, as libeventlog writes it (1700000000 -> 1700000000.0).
        ts = float(timestamp)
    entry: dict[str, Any] = {"timestamp": ts, "name": name}
    if context is not None:
        if not isinstance(context, Mapping):
            raise InvalidEventlogError(
                f"event context must be a mapping (JSON object), not {type(context).__name__}"
            )
        entry["context"] = context if isinstance(context, dict) else dict(context)
    try:
        line = _ENCODER.encode(entry) + "\n"
    except (TypeError, ValueError) as exc:
        raise InvalidEventlogError(
            f"event {name!r}: context is not JSON-serializable ({exc})"
        ) from None
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate has no UTF-8 form: escape it (and all non-ASCII) as
            # \uXXXX, the same JSON value, so any str can be stored.
            line = _ASCII_ENCODER.encode(entry) + "\n"
    return line


def decode_eventlog(text: str) -> list[EventLogEvent]:
    """Parse an RFC 18 event log into its entries, in order.

    Every entry must be a valid JSON object on its own line and end with a
    newline; the empty string is an empty log.

    Args:
        text: the whole event log.

    Returns:
        One :class:`EventLogEvent` per line.

    Raises:
        InvalidEventlogError: a line is empty, is not a valid entry, or the
            last line lacks its newline; the message gives the 1-based line
            number.
    """
    if not isinstance(text, str):
        raise TypeError(f"decode_eventlog() expects a str, not {type(text).__name__}")
    if not text:
        return []
    lines = text.split("\n")
    # split() leaves "" after a final newline; anything else is a partial line.
    if lines[-1] != "":
        raise InvalidEventlogError(
            f"eventlog line {len(lines)}: does not end with a newline; "
            "expected every entry to be newline-terminated"
        )
    events: list[EventLogEvent] = []
    for lineno, line in enumerate(lines[:-1], start=1):
        entry = _decode_line(line, f"eventlog line {lineno}")
        # Already validated: build the dict directly rather than re-checking.
        event = EventLogEvent.__new__(EventLogEvent)
        dict.__init__(event, entry)
        if "context" not in event:
            event["context"] = {}
        events.append(event)
    return events
