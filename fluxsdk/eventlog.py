"""RFC 18 KVS event logs: one JSON object per line, ``timestamp``, ``name``, ``context``.

* :class:`EventLogEvent` is one entry, a ``dict`` with typed accessors, as in
  ``flux.eventlog`` (and re-exported by ``flux.job.event``).
* :func:`encode_entry` serializes one entry as a compact JSON line.
* :func:`decode_eventlog` parses a whole event log into entries.
* :class:`EventLogFormatter` writes entries for people (as ``flux job
  eventlog`` and ``flux resource eventlog`` do): text or JSON, raw, ISO 8601,
  offset or human timestamps, with or without colour.

Validation follows libeventlog: an entry is a JSON object whose ``name`` is a
string, whose ``timestamp`` is a number, and whose optional ``context`` is an
object; other keys are kept. In addition the timestamp must be finite and not
negative, and ``NaN``/``Infinity`` literals (which Python's ``json`` would
accept but standard JSON does not) are refused. An entry of a stored event log
(:func:`decode_eventlog`, :func:`encode_entry`) must have a timestamp greater
than zero, as RFC 18 requires; a single :class:`EventLogEvent` may have ``0``,
as flux's tools use for an event built by hand (and libeventlog for "now").
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, NoReturn

from fluxsdk.errors import InvalidEventlogError

__all__ = [
    "EventLogEvent",
    "EventLogFormatter",
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
# Event names as JSON strings: the instance writes the same dozen names over and over.
_NAME_JSON: dict[str, str] = {}


def _json_string(name: str) -> str:
    text = _NAME_JSON.get(name)
    if text is None:
        text = _ENCODER.encode(name)
        if len(_NAME_JSON) < 1024:
            _NAME_JSON[name] = text
    return text


def _validate(entry: Mapping[str, Any], where: str, *, stored: bool = True) -> None:
    """Raise InvalidEventlogError unless ``entry`` holds a valid RFC 18 event.

    ``stored``: the entry is part of an event log, whose timestamps RFC 18
    wants greater than zero; otherwise 0 is allowed too.
    """
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
    if not math.isfinite(ts) or ts < 0 or (stored and ts == 0):
        least = "greater than zero" if stored else "zero or more"
        raise InvalidEventlogError(
            f"{where}: 'timestamp' must be a finite number {least}, not {ts!r}"
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
            one line, or the entry lacks a string ``name`` or a numeric
            ``timestamp`` (finite, zero or more), or has a ``context`` that is
            not an object.
        TypeError: ``event`` is neither a ``str``, ``bytes`` nor a mapping.
    """

    def __init__(self, event: Mapping[str, Any] | str | bytes) -> None:
        if isinstance(event, EventLogEvent):  # validated when it was made
            super().__init__(event)
            return
        if isinstance(event, (bytes, bytearray)):
            event = bytes(event).decode("utf-8")
        if isinstance(event, str):
            event = _decode_line(event.removesuffix("\n"), "eventlog entry", stored=False)
        elif isinstance(event, Mapping):
            _validate(event, "eventlog entry", stored=False)
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


def _decode_line(line: str, where: str, *, stored: bool = True) -> dict[str, Any]:
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
    _validate(entry, where, stored=stored)
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
    elif type(timestamp) is float and 0 < timestamp < math.inf:  # the usual case, checked fast
        ts = timestamp
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
    body: Mapping[str, Any] | None = context
    if type(context) is not dict and context is not None:  # dicts, the usual case, as they are
        if not isinstance(context, Mapping):
            raise InvalidEventlogError(
                f"event context must be a mapping (JSON object), not {type(context).__name__}"
            )
        body = dict(context)
    try:
        # Only the context needs the encoder: the rest is a float's repr (what the
        # encoder writes for it) and a string, so the entry is put together here.
        if body is None:
            tail = "}\n"
        else:
            tail = f',"context":{_ENCODER.encode(body) if body else "{}"}}}\n'
        line = f'{{"timestamp":{ts!r},"name":{_json_string(name)}{tail}'
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
            entry: dict[str, Any] = {"timestamp": ts, "name": name}
            if body is not None:
                entry["context"] = body
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


_ENTRY_FORMATS: Final = ("text", "json")
_TIMESTAMP_FORMATS: Final = ("raw", "human", "reltime", "iso", "offset")
_COLOR_CHOICES: Final = ("always", "never", "auto")


class EventLogFormatter:
    """Formats event log entries for people, as flux's tools print them.

    ``format(entry)`` returns one line. As text, ``<time> <name> key=value
    ...`` with the values as compact JSON; as JSON, the entry itself
    (without an empty ``context``).

    Timestamps (``timestamp_format``):

    * ``raw``: seconds since the epoch (``1700000000.250000``);
    * ``iso``: local time, ISO 8601 with microseconds and the offset (``Z`` for UTC);
    * ``offset``: seconds since the first entry this formatter saw;
    * ``human`` (or ``reltime``): ``[Nov14 22:13]`` (local time) for the first
      entry and whenever a minute has passed since the last such line,
      otherwise ``[  +0.250000]`` seconds since it.

    Args:
        format: ``"text"`` or ``"json"``.
        timestamp_format: one of the above.
        color: ``"always"``, ``"never"``, or ``"auto"`` (colour when standard
            output is a terminal).

    Raises:
        ValueError: an argument is not one of its choices.
    """

    BOLD: ClassVar[str] = "\033[1m"
    YELLOW: ClassVar[str] = "\033[33m"
    GREEN: ClassVar[str] = "\033[32m"
    BLUE: ClassVar[str] = "\033[34m"
    MAGENTA: ClassVar[str] = "\033[35m"
    GRAY: ClassVar[str] = "\033[37m"
    RED: ClassVar[str] = "\033[31m"

    eventlog_colors: ClassVar[dict[str, str]] = {
        "name": YELLOW,
        "time": GREEN,
        "timebreak": BOLD + GREEN,
        "key": BLUE,
        "value": MAGENTA,
        "number": GRAY,
        "exception": BOLD + RED,
    }
    """The colour of each part of a text line."""

    def __init__(
        self, format: str = "text", timestamp_format: str = "raw", color: str = "auto"
    ) -> None:
        if format not in _ENTRY_FORMATS:
            raise ValueError(f"Invalid entry_fmt: {format} (expected text or json)")
        if timestamp_format not in _TIMESTAMP_FORMATS:
            raise ValueError(
                f"Invalid timestamp_fmt: {timestamp_format} "
                f"(expected one of {', '.join(_TIMESTAMP_FORMATS)})"
            )
        if color not in _COLOR_CHOICES:
            raise ValueError(f"Invalid color: {color} (expected always, never or auto)")
        self.entry_format = format
        self.timestamp_format = "human" if timestamp_format == "reltime" else timestamp_format
        self.color = sys.stdout.isatty() if color == "auto" else color == "always"
        self.t0: float | None = None
        """The first entry's timestamp (for ``offset``)."""
        self.last_dt: datetime | None = None
        """When the last ``human`` date line was (deltas count from it)."""
        self.last_ts: float | None = None

    def format(self, entry: Mapping[str, Any]) -> str:
        """One line for ``entry`` (an :class:`EventLogEvent`, or a dict as RFC 18 has it).

        Raises:
            InvalidEventlogError: ``entry`` is not a valid entry.
        """
        event = entry if isinstance(entry, EventLogEvent) else EventLogEvent(entry)
        if self.entry_format == "json":
            shown = {k: v for k, v in event.items() if k != "context" or v}
            return json.dumps(shown, separators=(",", ":"), ensure_ascii=False)
        return self._text(event)

    def _paint(self, part: str, text: str) -> str:
        if not self.color:
            return text
        return f"{self.eventlog_colors[part]}{text}\033[0m"

    def _text(self, event: EventLogEvent) -> str:
        line = [self._timestamp(event.timestamp)]
        line.append(self._paint("exception" if event.name == "exception" else "name", event.name))
        for key, value in event.context.items():
            # Only real numbers count as numbers (JSON true/false are values).
            part = "number" if type(value) in (int, float) else "value"
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            line.append(f"{self._paint('key', key)}={self._paint(part, text)}")
        return " ".join(line)

    def _timestamp(self, ts: float) -> str:
        if self.t0 is None:
            self.t0 = ts
        style = self.timestamp_format
        if style == "human":
            return self._human(ts)
        if style == "raw":
            text = f"{ts:11.6f}"
        elif style == "offset":
            text = f"{ts - self.t0:15.6f}"
        else:  # iso, in local time
            local = datetime.fromtimestamp(ts).astimezone()
            micro = int((ts - int(ts)) * 1e6)
            zone = local.strftime("%z").replace("+0000", "Z")
            text = f"{local.strftime('%Y-%m-%dT%H:%M:%S')}.{micro:06d}{zone}"
        return self._paint("time", text)

    def _human(self, ts: float) -> str:
        when = datetime.fromtimestamp(ts)
        if self.last_dt is not None and when - self.last_dt < timedelta(minutes=1):
            return self._paint("time", f"[{(when - self.last_dt).total_seconds():>+11.6f}]")
        self.last_dt, self.last_ts = when, ts
        return self._paint("timebreak", f"[{when.astimezone().strftime('%b%d %H:%M')}]")
