"""Tests for fluxsdk.eventlog: RFC 18 entries, EventLogEvent, encode and decode."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxsdk.errors import InvalidEventlogError
from fluxsdk.eventlog import EventLogEvent, decode_eventlog, encode_entry

# RFC 18's example event log, verbatim. Its third line has an unquoted key
# (`context:`), which is not JSON; the rest is valid.
RFC18_EXAMPLE = (
    '{"timestamp":1552593348.073045,"name":"submit","context":{"urgency":16,"userid":5588,"flags":0}}\n'
    '{"timestamp":1552593547.411336,"name":"urgency","context":{"urgency":0,"userid":5588}}\n'
    '{"timestamp":1552593348.088391,"name":"alloc",context:{"note":"rank0/core[0-1]"}}\n'
    '{"timestamp":1552593348.093541,"name":"free"}\n'
    '{"timestamp":1552593348.089787,"name":"start"}\n'
    '{"timestamp":1552593348.092830,"name":"release","context":{"ranks":"all","final":true}}\n'
    '{"timestamp":1552593348.090927,"name":"finish","context":{"status":0}}\n'
    '{"timestamp":1552593348.104432,"name":"clean"}\n'
)


# --- the RFC 18 example -----------------------------------------------------------


def test_rfc18_example_as_published_fails_on_line_3() -> None:
    with pytest.raises(InvalidEventlogError, match="line 3"):
        decode_eventlog(RFC18_EXAMPLE)


def test_rfc18_example_with_line_3_quoted() -> None:
    fixed = RFC18_EXAMPLE.replace(",context:", ',"context":')
    events = decode_eventlog(fixed)
    assert [e.name for e in events] == [
        "submit",
        "urgency",
        "alloc",
        "free",
        "start",
        "release",
        "finish",
        "clean",
    ]
    assert all(isinstance(e, EventLogEvent) for e in events)
    assert events[0].timestamp == 1552593348.073045
    assert events[0].context == {"urgency": 16, "userid": 5588, "flags": 0}
    assert events[2].context == {"note": "rank0/core[0-1]"}
    assert events[3].context == {}
    assert events[5].context == {"ranks": "all", "final": True}
    assert events[6].context_string == '{"status":0}'
    assert events[7].context_string == ""


@pytest.mark.parametrize("index", [0, 1, 3, 4, 5, 6, 7])
def test_rfc18_example_lines_reencode_identically(index: int) -> None:
    # encode_entry() writes what RFC 18 shows (key order, compact JSON);
    # line 6's timestamp is written 1552593348.092830, which re-encodes as ...83.
    line = RFC18_EXAMPLE.splitlines()[index]
    event = EventLogEvent(line)
    raw = json.loads(line)
    encoded = encode_entry(event.name, raw.get("context"), event.timestamp)
    assert json.loads(encoded) == raw
    if index != 5:
        assert encoded == line + "\n"


# --- libeventlog's own cases ------------------------------------------------------

GOOD_EVENTS = [
    '{"timestamp":42.0,"name":"foo"}\n',
    '{"timestamp":42.0,"name":"foo","context":{"bar":16}}\n',
]

BAD_EVENTS = [
    "\n",
    "\n\n",
    "foo",
    "foo\n",
    '{"timestamp":42.0,"name":"foo"}\n\n',
    '\n{"timestamp":42.0,"name":"foo"}',
    '{"timestamp":"foo","name":"foo"}\n',
    '{"timestamp":42.0,"name":18}\n',
    '{"timestamp":42.0}\n',
    '{"name":"foo"}\n',
    '{"timestamp":42.0,"name":"foo","context":"bar"}',
]

GOOD_LOGS = [
    "",
    '{"timestamp":42.0,"name":"foo"}\n{"timestamp":42.0,"name":"foo"}\n',
    '{"timestamp":42.0,"name":"foo"}\n{"timestamp":42.0,"name":"foo","context":{"bar":16}}\n',
]

BAD_LOGS = [
    '{"timestamp":42.0,"name":"foo"}{"timestamp":42.0,"name":"foo"}\n',
    '{"timestamp":42.0,"name":"foo"}\n\n{"timestamp":42.0,"name":"foo"}\n',
    # missing final newline (libeventlog ignores a trailing partial line; we refuse it)
    '{"timestamp":42.0,"name":"foo"}',
    '{"timestamp":42.0,"name":"foo"}\n{"timestamp":43.0,"name":"bar"}',
]


@pytest.mark.parametrize("text", GOOD_EVENTS)
def test_good_event(text: str) -> None:
    event = EventLogEvent(text)
    assert event.name == "foo"
    assert event.timestamp == 42.0
    assert decode_eventlog(text) == [event]


@pytest.mark.parametrize("text", BAD_EVENTS)
def test_bad_event(text: str) -> None:
    with pytest.raises(InvalidEventlogError):
        EventLogEvent(text)
    with pytest.raises(InvalidEventlogError):
        decode_eventlog(text)


@pytest.mark.parametrize("text", GOOD_LOGS)
def test_good_log(text: str) -> None:
    events = decode_eventlog(text)
    assert len(events) == text.count("\n")


@pytest.mark.parametrize("text", BAD_LOGS)
def test_bad_log(text: str) -> None:
    with pytest.raises(InvalidEventlogError, match=r"line \d"):
        decode_eventlog(text)


# --- decode_eventlog messages -------------------------------------------------

OK = '{"timestamp":1.5,"name":"ok"}\n'


def test_decode_empty_log() -> None:
    assert decode_eventlog("") == []


def test_decode_names_line_without_newline() -> None:
    with pytest.raises(InvalidEventlogError, match="line 3: does not end with a newline"):
        decode_eventlog(OK + OK + '{"timestamp":1.5,"name":"partial"}')


def test_decode_names_empty_line() -> None:
    with pytest.raises(InvalidEventlogError, match="line 2: is empty"):
        decode_eventlog(OK + "\n" + OK)


def test_decode_names_bad_json_line() -> None:
    with pytest.raises(InvalidEventlogError, match="line 2: not valid JSON"):
        decode_eventlog(OK + "{nope}\n" + OK)


def test_decode_names_invalid_entry_line() -> None:
    with pytest.raises(InvalidEventlogError, match="line 3: 'name' must be a string"):
        decode_eventlog(OK + OK + '{"timestamp":1.5,"name":null}\n')


def test_decode_rejects_non_object_line() -> None:
    with pytest.raises(InvalidEventlogError, match="line 1: expected a JSON object"):
        decode_eventlog("[1,2]\n")


def test_decode_adds_empty_context() -> None:
    (event,) = decode_eventlog(OK)
    assert event == {"timestamp": 1.5, "name": "ok", "context": {}}


def test_decode_keeps_extra_keys() -> None:
    (event,) = decode_eventlog('{"timestamp":1.5,"name":"x","extra":[1]}\n')
    assert event["extra"] == [1]


def test_decode_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        decode_eventlog(b"")  # type: ignore[arg-type]


# --- EventLogEvent ------------------------------------------------------------------


def test_event_from_dict() -> None:
    event = EventLogEvent({"timestamp": 10, "name": "start"})
    assert isinstance(event, dict)
    assert event.name == "start"
    assert event.timestamp == 10.0
    assert isinstance(event.timestamp, float)
    assert event.context == {}
    assert event["context"] == {}  # stored, as flux does


def test_event_from_str_bytes_and_trailing_newline() -> None:
    line = '{"timestamp":2.5,"name":"finish","context":{"status":256}}'
    for arg in (line, line + "\n", line.encode()):
        event = EventLogEvent(arg)
        assert event.name == "finish"
        assert event.context == {"status": 256}


def test_event_does_not_alias_input_dict() -> None:
    source: dict[str, Any] = {"timestamp": 1.0, "name": "x"}
    event = EventLogEvent(source)
    event["name"] = "y"
    assert source == {"timestamp": 1.0, "name": "x"}


def test_context_string() -> None:
    event = EventLogEvent({"timestamp": 1.0, "name": "x", "context": {"b": 1, "a": "é"}})
    # compact, sorted keys, UTF-8 kept, as flux does
    assert event.context_string == '{"a":"é","b":1}'
    assert EventLogEvent({"timestamp": 1.0, "name": "x", "context": {}}).context_string == ""


def test_event_str_like_flux() -> None:
    event = EventLogEvent({"timestamp": 1.5, "name": "finish", "context": {"status": 0}})
    assert str(event) == "1.50000: finish {'status': 0}"


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"name": "x"}, "missing required key 'timestamp'"),
        ({"timestamp": 1.0}, "missing required key 'name'"),
        ({"timestamp": 1.0, "name": 5}, "'name' must be a string"),
        ({"timestamp": "1", "name": "x"}, "'timestamp' must be a number"),
        ({"timestamp": True, "name": "x"}, "'timestamp' must be a number"),
        ({"timestamp": None, "name": "x"}, "'timestamp' must be a number"),
        ({"timestamp": -1.0, "name": "x"}, "zero or more"),
        ({"timestamp": math.nan, "name": "x"}, "finite"),
        ({"timestamp": math.inf, "name": "x"}, "finite"),
        ({"timestamp": 1.0, "name": "x", "context": None}, "'context' must be a JSON object"),
        ({"timestamp": 1.0, "name": "x", "context": [1]}, "'context' must be a JSON object"),
        ({"timestamp": 1.0, "name": "x", "context": "s"}, "'context' must be a JSON object"),
    ],
)
def test_event_validation(entry: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidEventlogError, match=fragment):
        EventLogEvent(entry)
    # As text, NaN/Infinity are not even JSON.
    with pytest.raises(InvalidEventlogError, match=f"{fragment}|not valid JSON"):
        EventLogEvent(json.dumps(entry))


def test_a_single_event_may_have_timestamp_zero_but_a_stored_log_may_not() -> None:
    # flux.eventlog.EventLogEvent takes hand-made events stamped 0; RFC 18 logs need > 0.
    event = EventLogEvent({"timestamp": 0, "name": "start"})
    assert event.timestamp == 0.0 and event.context == {}
    assert EventLogEvent('{"timestamp":0,"name":"x"}').name == "x"
    with pytest.raises(InvalidEventlogError, match=r"line 1: 'timestamp' .* greater than zero"):
        decode_eventlog('{"timestamp":0,"name":"x"}\n')
    with pytest.raises(InvalidEventlogError, match="greater than zero"):
        encode_entry("x", timestamp=0.0)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"timestamp":NaN,"name":"x"}', "not valid JSON"),
        ('{"timestamp":Infinity,"name":"x"}', "not valid JSON"),
        ('{"timestamp":1,"name":"x"} trailing', "not valid JSON"),
        ('{"timestamp":1,\n"name":"x"}', "embedded newline"),
        ("", "empty"),
        ("42", "expected a JSON object"),
        ('"str"', "expected a JSON object"),
    ],
)
def test_event_rejects_text(text: str, fragment: str) -> None:
    with pytest.raises(InvalidEventlogError, match=fragment):
        EventLogEvent(text)


@pytest.mark.parametrize("bad", [42, None, ["timestamp", "name"]])
def test_event_rejects_other_types(bad: Any) -> None:
    with pytest.raises(TypeError):
        EventLogEvent(bad)


# --- encode_entry --------------------------------------------------------------------


def test_encode_key_order_and_compact() -> None:
    line = encode_entry("submit", {"urgency": 16, "userid": 5588, "flags": 0}, 1552593348.073045)
    assert line == (
        '{"timestamp":1552593348.073045,"name":"submit",'
        '"context":{"urgency":16,"userid":5588,"flags":0}}\n'
    )


def test_encode_omits_context_only_when_none() -> None:
    assert encode_entry("clean", timestamp=5.0) == '{"timestamp":5.0,"name":"clean"}\n'
    assert encode_entry("clean", {}, 5.0) == '{"timestamp":5.0,"name":"clean","context":{}}\n'


def test_encode_integer_timestamp_is_real() -> None:
    assert encode_entry("x", timestamp=1700000000) == '{"timestamp":1700000000.0,"name":"x"}\n'


def test_encode_default_timestamp_is_now() -> None:
    before = time.time()
    event = EventLogEvent(encode_entry("x"))
    after = time.time()
    assert before <= event.timestamp <= after


def test_encode_keeps_unicode_and_escapes_newlines() -> None:
    line = encode_entry("log", {"message": "ƒ2 done\nnext"}, 1.0)
    assert line.count("\n") == 1 and line.endswith("\n")
    assert "ƒ2" in line
    assert EventLogEvent(line).context == {"message": "ƒ2 done\nnext"}


def test_encode_accepts_any_mapping_context() -> None:
    from types import MappingProxyType

    line = encode_entry("x", MappingProxyType({"a": 1}), 1.0)
    assert line == '{"timestamp":1.0,"name":"x","context":{"a":1}}\n'


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": ""}, "non-empty string"),
        ({"name": 5}, "non-empty string"),
        ({"name": "x", "timestamp": 0}, "greater than zero"),
        ({"name": "x", "timestamp": -1.0}, "greater than zero"),
        ({"name": "x", "timestamp": math.nan}, "finite"),
        ({"name": "x", "timestamp": math.inf}, "finite"),
        ({"name": "x", "timestamp": "1"}, "must be a number"),
        ({"name": "x", "timestamp": True}, "must be a number"),
        ({"name": "x", "context": [1]}, "must be a mapping"),
        ({"name": "x", "context": {"a": object()}}, "not JSON-serializable"),
        ({"name": "x", "context": {"a": math.nan}}, "not JSON-serializable"),
    ],
)
def test_encode_rejects(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidEventlogError, match=fragment):
        encode_entry(**kwargs)


# --- round trips ------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
contexts = st.none() | st.dictionaries(st.text(), json_values, max_size=4)
timestamps = st.floats(min_value=1e-6, max_value=1e11, allow_nan=False, allow_infinity=False)
names = st.text(min_size=1)


@given(st.lists(st.tuples(names, contexts, timestamps), max_size=6))
def test_encode_decode_round_trip(entries: list[tuple[str, Any, float]]) -> None:
    text = "".join(encode_entry(name, ctx, ts) for name, ctx, ts in entries)
    assert text.count("\n") == len(entries)
    events = decode_eventlog(text)
    assert len(events) == len(entries)
    for event, (name, ctx, ts) in zip(events, entries, strict=True):
        assert event.name == name
        assert event.timestamp == ts
        assert event.context == ({} if ctx is None else ctx)
        assert ("context" in json.loads(encode_entry(name, ctx, ts))) == (ctx is not None)


@given(names, contexts, timestamps)
def test_encode_is_the_compact_json_of_the_entry(name: str, ctx: Any, ts: float) -> None:
    """Byte for byte what a JSON encoder writes for the entry (keys in RFC order)."""
    entry: dict[str, Any] = {"timestamp": float(ts), "name": name}
    if ctx is not None:
        entry["context"] = ctx
    options: dict[str, Any] = {"separators": (",", ":"), "allow_nan": False}
    expected = json.dumps(entry, ensure_ascii=False, **options)
    try:
        expected.encode("utf-8")
    except UnicodeEncodeError:
        expected = json.dumps(entry, **options)  # a lone surrogate: all non-ASCII escaped
    assert encode_entry(name, ctx, ts) == expected + "\n"
