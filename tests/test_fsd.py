"""Tests for fluxsdk.util: RFC 23 durations (parse_fsd, fsd) and the tree-dict helpers."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fluxsdk.errors import InvalidDurationError
from fluxsdk.util import del_treedict, fsd, get_treedict, parse_fsd, set_treedict

# --- parse_fsd ---------------------------------------------------------------

# Every test vector of RFC 23.
RFC23_VECTORS = [
    ("2ms", 0.002),
    ("0.1s", 0.1),
    ("30", 30.0),
    ("1.2h", 4320.0),
    ("5m", 300.0),
    ("0s", 0.0),
    ("5d", 432000.0),
    ("inf", math.inf),
    ("INF", math.inf),
    ("infinity", math.inf),
]


@pytest.mark.parametrize(("text", "seconds"), RFC23_VECTORS)
def test_parse_fsd_rfc23_vectors(text: str, seconds: float) -> None:
    assert parse_fsd(text) == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("1", 1.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1.5m", 90.0),
        ("1e3", 1000.0),
        ("1E3s", 1000.0),
        ("1e-3s", 0.001),
        ("2.5e+1m", 1500.0),
        ("+5s", 5.0),
        ("7ms", 0.007),
        ("1.157e+04d", 1.157e04 * 86400),
        ("0.5h", 1800.0),
        ("Infinity", math.inf),  # strtod() reads inf/infinity in any case
        ("iNf", math.inf),
        ("+inf", math.inf),
    ],
)
def test_parse_fsd_accepts(text: str, seconds: float) -> None:
    assert parse_fsd(text) == seconds


def test_parse_fsd_returns_float() -> None:
    assert type(parse_fsd("30")) is float
    assert type(parse_fsd("5m")) is float


def test_parse_fsd_negative_zero_is_plain_zero() -> None:
    # strtod() and flux accept "-0"; the result has no sign.
    result = parse_fsd("-0")
    assert result == 0.0
    assert math.copysign(1.0, result) == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "",  # C's strtod() would read 0 from nothing; an FSD needs a number
        "s",
        "ms",
        "m",
        ".",
        "e3",
        "-1",  # negative
        "-1s",
        "-0.5ms",
        "-inf",
        "nan",  # NaN
        "NaN",
        "nans",
        "infs",  # no unit with infinity
        "infm",
        "infinityd",
        "5S",  # units are case sensitive
        "5M",
        "5 s",  # whitespace anywhere
        " 5",
        "5 ",
        "5\n",
        "5x",  # unknown unit
        "5sec",
        "5mss",
        "5us",
        "5ns",
        "0x10",  # no hex
        "1_000",  # no digit separators
        "1,5",
        "１",  # non-ASCII digits
        "1e400",  # overflow is not infinity
        "1e308d",
        "5h5m",
    ],
)
def test_parse_fsd_rejects(text: str) -> None:
    with pytest.raises(InvalidDurationError) as excinfo:
        parse_fsd(text)
    message = str(excinfo.value)
    # Says what was wrong (the input) and what was expected.
    assert repr(text) in message
    assert "expected" in message or "infinity" in message


def test_parse_fsd_rejection_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_fsd("bogus")


def test_parse_fsd_negative_message_says_negative() -> None:
    with pytest.raises(InvalidDurationError, match="negative"):
        parse_fsd("-5m")


def test_parse_fsd_overflow_message_suggests_inf() -> None:
    with pytest.raises(InvalidDurationError, match="inf"):
        parse_fsd("1e400")


@pytest.mark.parametrize("value", [30, 1.5, None, b"30"])
def test_parse_fsd_rejects_non_str(value: Any) -> None:
    with pytest.raises(TypeError, match="str"):
        parse_fsd(value)


@given(
    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "s", "m", "h", "d", "ms"]),
)
def test_parse_fsd_scales_by_unit(number: float, unit: str) -> None:
    multiplier = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "ms": 1}[unit]
    result = parse_fsd(repr(number) + unit)
    if unit == "ms":
        assert result == number / 1000
    else:
        assert result == number * multiplier


# --- fsd ---------------------------------------------------------------------

# flux.util.fsd()'s exact output.
FSD_FORMATS = [
    (0, "0s"),
    (0.0, "0s"),
    (0.0009999, "0s"),  # under 1ms shows as 0s
    (0.001, "0.001s"),
    (0.0015, "0.002s"),
    (1, "1.000s"),
    (5, "5.000s"),
    (9.9994, "9.999s"),
    (10, "10s"),
    (10.5, "10.5s"),
    (59.99, "59.99s"),
    (60, "1m"),
    (90, "1.5m"),
    (100, "1.667m"),
    (3599, "59.98m"),
    (3600, "1h"),
    (4320, "1.2h"),
    (5400, "1.5h"),
    (86399, "24h"),
    (86400, "1d"),
    (129600, "1.5d"),
    (432000, "5d"),
    (90061, "1.042d"),
    (1e9, "1.157e+04d"),
    (math.inf, "inf"),
    (-math.inf, "inf"),
    (-3, "0s"),  # like flux, negatives show as 0s
]


@pytest.mark.parametrize(("secs", "text"), FSD_FORMATS)
def test_fsd_formats_like_flux(secs: float, text: str) -> None:
    assert fsd(secs) == text


def test_fsd_rejects_nan() -> None:
    with pytest.raises(InvalidDurationError, match="NaN"):
        fsd(math.nan)


def test_fsd_output_parses_back_for_infinity() -> None:
    assert parse_fsd(fsd(math.inf)) == math.inf


durations = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(durations)
@example(59.9999)
@example(9.9999)
@example(3599.99)
@example(86399.99)
@example(0.000999)
def test_fsd_output_always_parses(secs: float) -> None:
    back = parse_fsd(fsd(secs))
    # Four significant digits (three decimals below 10s, 0 below 1ms).
    if secs < 1e-3:
        assert back == 0.0
    elif secs < 10:
        assert abs(back - secs) <= 0.0005 + 1e-12
    else:
        assert math.isclose(back, secs, rel_tol=5e-4)


@given(durations)
@example(59.9999)
@example(9.9999)
@example(3599.99)
def test_fsd_parse_fsd_is_stable(secs: float) -> None:
    # After one round trip the text stops changing.
    once = fsd(parse_fsd(fsd(secs)))
    assert fsd(parse_fsd(once)) == once


# --- tree dicts ------------------------------------------------------------------


def test_set_treedict_creates_levels() -> None:
    d: dict[str, Any] = {}
    set_treedict(d, "a.b.c", 42)
    assert d == {"a": {"b": {"c": 42}}}


def test_set_treedict_top_level_key() -> None:
    d: dict[str, Any] = {"x": 1}
    set_treedict(d, "y", 2)
    assert d == {"x": 1, "y": 2}


def test_set_treedict_keeps_siblings_and_overwrites_leaf() -> None:
    d: dict[str, Any] = {"a": {"b": 1, "c": 2}}
    set_treedict(d, "a.b", {"new": True})
    assert d == {"a": {"b": {"new": True}, "c": 2}}


def test_set_treedict_replaces_leaf_even_if_mapping() -> None:
    d: dict[str, Any] = {"a": {"b": {"deep": 1}}}
    set_treedict(d, "a.b", 5)
    assert d == {"a": {"b": 5}}


@pytest.mark.parametrize("blocker", [5, "text", [1, 2], None])
def test_set_treedict_non_mapping_intermediate_is_type_error(blocker: Any) -> None:
    d: dict[str, Any] = {"a": {"b": blocker}}
    with pytest.raises(TypeError) as excinfo:
        set_treedict(d, "a.b.c", 1)
    message = str(excinfo.value)
    assert "'a.b'" in message
    assert "mapping" in message
    assert d == {"a": {"b": blocker}}  # untouched


def test_get_treedict() -> None:
    d = {"a": {"b": {"c": 42}}, "x": 1}
    assert get_treedict(d, "a.b.c") == 42
    assert get_treedict(d, "a.b") == {"c": 42}
    assert get_treedict(d, "x") == 1
    assert get_treedict(d, "a.z") is None
    assert get_treedict(d, "a.z.q", default="dflt") == "dflt"
    assert get_treedict(d, "x.y", default=0) == 0  # x is not a mapping


def test_del_treedict() -> None:
    d: dict[str, Any] = {"a": {"b": {"c": 1, "d": 2}}}
    del_treedict(d, "a.b.c")
    assert d == {"a": {"b": {"d": 2}}}


def test_del_treedict_leaves_empty_levels_by_default() -> None:
    d: dict[str, Any] = {"a": {"b": {"c": 1}}}
    del_treedict(d, "a.b.c")
    assert d == {"a": {"b": {}}}


def test_del_treedict_remove_empty_cascades() -> None:
    d: dict[str, Any] = {"a": {"b": {"c": 1}}, "z": 0}
    del_treedict(d, "a.b.c", remove_empty=True)
    assert d == {"z": 0}


def test_del_treedict_remove_empty_stops_at_nonempty_level() -> None:
    d: dict[str, Any] = {"a": {"b": {"c": 1}, "keep": 1}}
    del_treedict(d, "a.b.c", remove_empty=True)
    assert d == {"a": {"keep": 1}}


def test_del_treedict_never_removes_root() -> None:
    d: dict[str, Any] = {"a": 1}
    del_treedict(d, "a", remove_empty=True)
    assert d == {}


def test_del_treedict_missing_key_is_key_error() -> None:
    d: dict[str, Any] = {"a": {"b": 1}}
    with pytest.raises(KeyError):
        del_treedict(d, "a.c")
    with pytest.raises(KeyError):
        del_treedict(d, "q.b")
    assert d == {"a": {"b": 1}}


def test_del_treedict_non_mapping_intermediate_is_type_error() -> None:
    d: dict[str, Any] = {"a": 5}
    with pytest.raises(TypeError, match="'a'"):
        del_treedict(d, "a.b")


@given(
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4).map(".".join),
    st.integers(),
)
def test_set_then_get_then_del_treedict(key: str, val: int) -> None:
    d: dict[str, Any] = {}
    set_treedict(d, key, val)
    assert get_treedict(d, key) == val
    del_treedict(d, key, remove_empty=True)
    assert d == {}
