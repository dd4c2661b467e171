"""fluxsdk.eventlog.EventLogFormatter against what real Flux's formatter prints.

``tests/data/flux_progress_eventlog.json`` holds flux-core v0.88.0's lines for
the same entries in every format, timestamp style and colour setting, in two
time zones (recorded by ``tests/data/record_progress_eventlog.py``).
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk.errors import InvalidEventlogError
from fluxsdk.eventlog import EventLogEvent, EventLogFormatter

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux_progress_eventlog.json").read_text()
)
ENTRIES: list[dict[str, Any]] = RECORDED["entries"]


@pytest.fixture
def zone() -> Iterator[None]:
    """Restore the process's time zone after a test changes it."""
    before = os.environ.get("TZ")
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("key", sorted(RECORDED["formatted"]))
def test_lines_are_those_flux_prints(key: str, zone: None) -> None:
    tz, fmt, ts, color = key.split(" ")
    os.environ["TZ"] = tz
    time.tzset()
    formatter = EventLogFormatter(format=fmt, timestamp_format=ts, color=color)
    assert [formatter.format(dict(entry)) for entry in ENTRIES] == RECORDED["formatted"][key]


def test_events_and_dicts_format_alike() -> None:
    as_dicts = EventLogFormatter(color="never")
    as_events = EventLogFormatter(color="never")
    for entry in ENTRIES:
        assert as_events.format(EventLogEvent(entry)) == as_dicts.format(entry)


def test_offsets_count_from_the_first_entry_seen() -> None:
    formatter = EventLogFormatter(timestamp_format="offset", color="never")
    first = formatter.format({"timestamp": 100.5, "name": "a"})
    later = formatter.format({"timestamp": 102.0, "name": "b", "context": {"k": [1]}})
    assert first == f"{0.0:15.6f} a"
    assert later == f"{1.5:15.6f} b k=[1]"
    assert formatter.t0 == 100.5


def test_auto_colour_follows_whether_stdout_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", Tty())
    assert EventLogFormatter().color is True
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert EventLogFormatter().color is False
    assert EventLogFormatter(color="always").color is True


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"format": "yaml"}, "Invalid entry_fmt: yaml"),
        ({"timestamp_format": "epoch"}, "Invalid timestamp_fmt: epoch"),
        ({"color": "sometimes"}, "Invalid color: sometimes"),
    ],
)
def test_bad_choices_are_value_errors(kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        EventLogFormatter(**kwargs)


def test_bad_entries_are_refused() -> None:
    formatter = EventLogFormatter()
    with pytest.raises(InvalidEventlogError, match="missing required key 'name'"):
        formatter.format({"timestamp": 1.0})
    with pytest.raises(InvalidEventlogError, match="'context' must be a JSON object"):
        formatter.format({"timestamp": 1.0, "name": "x", "context": [1]})
