"""Qarnot's time spans: ``d.hh:mm:ss`` or ``hh:mm:ss`` (seconds may have a fraction)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from fluxsdk.errors import InvalidDurationError

__all__ = ["TimespanLike", "format_timespan", "parse_timespan"]

TimespanLike = str | timedelta
"""What ``max_wall_time`` and ``completion_ttl`` accept."""

_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):([0-5]\d):([0-5]\d(?:\.\d+)?)")


def parse_timespan(value: TimespanLike) -> timedelta:
    """The :class:`timedelta` of a time span string or a timedelta.

    :raises InvalidDurationError: (a ``ValueError``) for text in another format.
    :raises TypeError: for a value that is neither a string nor a timedelta.
    """
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise InvalidDurationError(f"a time span cannot be negative, got {value}")
        return value
    if not isinstance(value, str):
        raise TypeError(
            "a time span must be a string such as '1.02:00:00' (d.hh:mm:ss) or "
            f"'02:00:00' (hh:mm:ss), or a timedelta, not {type(value).__name__}"
        )
    match = _TIMESPAN.fullmatch(value.strip())
    if match is None or (int(match[2]) > 23 and match[1] is not None):
        raise InvalidDurationError(
            f"invalid time span {value!r}: expected d.hh:mm:ss or hh:mm:ss, "
            "e.g. '1.02:30:00' for one day, two hours and a half"
        )
    days, hours, minutes, seconds = match.groups()
    return timedelta(
        days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds)
    )


def format_timespan(span: timedelta) -> str:
    """``hh:mm:ss``, or ``d.hh:mm:ss`` from one day on (fractions of a second kept)."""
    total = span.total_seconds()
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    whole = math.floor(seconds)
    fraction = seconds - whole
    text = f"{int(hours):02d}:{int(minutes):02d}:{whole:02d}"
    if fraction > 1e-9:
        text += f"{fraction:.6f}".rstrip("0")[1:]
    return f"{int(days)}.{text}" if days else text
