"""Tests for fluxsdk.job._dependency: RFC 26 dependency URIs and objects."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fluxsdk.errors import InvalidDependencyError
from fluxsdk.job import _dependency
from fluxsdk.job._dependency import (
    AFTER_SCHEMES,
    dependency_array_create,
    dependency_create,
    validate_dependency,
)

SPEC_DATA = Path(__file__).resolve().parents[2] / "shared" / "specs" / "data" / "spec_26"

# The after* schemes validate job IDs with fluxsdk.job._jobid; skip those
# cases (only) if that module is not there.
HAVE_JOBID = importlib.util.find_spec("fluxsdk.job._jobid") is not None
needs_jobid = pytest.mark.skipif(not HAVE_JOBID, reason="fluxsdk.job._jobid not available")

NOW = 1_700_000_000.0


# --- RFC 26 examples ------------------------------------------------------------------


@needs_jobid
def test_rfc26_cli_example_afterany() -> None:
    assert dependency_create("afterany:ƒ2oLkTLb") == {"scheme": "afterany", "value": "ƒ2oLkTLb"}


def test_rfc26_cli_example_string() -> None:
    assert dependency_create("string:foo?type=out") == {
        "scheme": "string",
        "value": "foo",
        "type": "out",
    }


def test_rfc26_cli_example_fluid() -> None:
    assert dependency_create("fluid:hungry-hippos-white-elephant") == {
        "scheme": "fluid",
        "value": "hungry-hippos-white-elephant",
    }


def _spec_examples() -> list[Path]:
    return sorted(SPEC_DATA.glob("example_*.yaml")) if SPEC_DATA.is_dir() else []


@pytest.mark.parametrize("path", _spec_examples(), ids=lambda p: p.name)
def test_rfc26_yaml_examples_validate(path: Path) -> None:
    deps = yaml.safe_load(path.read_text())
    assert deps, "example has dependencies"
    for dep in deps:
        validate_dependency(dep)
        # The URI form of the same dependency gives the same object.
        uri = f"{dep['scheme']}:{dep['value']}?type={dep['type']}&scope={dep['scope']}"
        assert dependency_create(uri) == dep


def test_rfc26_yaml_examples_present(shared: Path) -> None:
    assert len(_spec_examples()) == 5


def test_openmp_enums_match_rfc26_schema(shared: Path) -> None:
    schema = json.loads((shared / "specs/data/spec_26/schema.json").read_text())
    props = schema["items"]["properties"]
    assert tuple(props["type"]["enum"]) == _dependency._OPENMP_KEYS["type"]
    assert tuple(props["scope"]["enum"]) == _dependency._OPENMP_KEYS["scope"]


# --- dependency_create: URI forms -------------------------------------------------------


@needs_jobid
@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("afterok:ƒ2", {"scheme": "afterok", "value": "ƒ2"}),
        ("afterok:f2", {"scheme": "afterok", "value": "f2"}),
        ("after:123", {"scheme": "after", "value": "123"}),
        ("afterstart:123", {"scheme": "afterstart", "value": "123"}),
        ("afterany:0x7b", {"scheme": "afterany", "value": "0x7b"}),
        ("afternotok:123", {"scheme": "afternotok", "value": "123"}),
        ("afterexcept:123", {"scheme": "afterexcept", "value": "123"}),
        ("AfterOK:123", {"scheme": "afterok", "value": "123"}),  # scheme lowercased
    ],
)
def test_after_schemes(uri: str, expected: dict[str, Any]) -> None:
    assert dependency_create(uri) == expected


@needs_jobid
@pytest.mark.parametrize("scheme", sorted(AFTER_SCHEMES))
@pytest.mark.parametrize("value", ["", "zzz", "-1", "ƒ", "18446744073709551616", "1.5"])
def test_after_schemes_reject_bad_jobids(scheme: str, value: str) -> None:
    with pytest.raises(InvalidDependencyError, match="not a valid job ID"):
        dependency_create(f"{scheme}:{value}")
    with pytest.raises(InvalidDependencyError, match="not a valid job ID"):
        validate_dependency({"scheme": scheme, "value": value})


@needs_jobid
def test_after_rejects_jobid_any() -> None:
    with pytest.raises(InvalidDependencyError, match="FLUX_JOBID_ANY"):
        dependency_create(f"afterok:{2**64 - 1}")


def test_singleton_has_empty_value() -> None:
    assert dependency_create("singleton") == {"scheme": "singleton", "value": ""}
    assert dependency_create("singleton:") == {"scheme": "singleton", "value": ""}


def test_query_parameters_become_keys() -> None:
    assert dependency_create("custom:v?a=1&b=2.5&c=text&d=-3") == {
        "scheme": "custom",
        "value": "v",
        "a": 1,
        "b": 2.5,
        "c": "text",
        "d": -3,
    }


def test_query_semicolon_separator_and_decoding() -> None:
    assert dependency_create("custom:v?a=x+y;b=%41%3D&c=") == {
        "scheme": "custom",
        "value": "v",
        "a": "x y",
        "b": "A=",
        "c": "",
    }


def test_query_repeated_key_is_list() -> None:
    assert dependency_create("custom:v?k=1&k=b&k=3")["k"] == [1, "b", 3]


def test_query_values_not_numbers_stay_strings() -> None:
    dep = dependency_create("custom:v?a=1_000&b=nan&c=inf&d=0x10&e=1e3")
    assert dep["a"] == "1_000"
    assert dep["b"] == "nan"
    assert dep["c"] == "inf"
    assert dep["d"] == "0x10"
    assert dep["e"] == 1000.0


def test_empty_query_adds_nothing() -> None:
    assert dependency_create("custom:v?") == {"scheme": "custom", "value": "v"}


def test_value_keeps_colons_and_is_not_url_decoded() -> None:
    assert dependency_create("custom:a:b%20c")["value"] == "a:b%20c"


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("", "missing scheme"),
        (":value", "missing scheme"),
        ("1abc:value", "invalid scheme '1abc'"),
        ("sch eme:value", "invalid scheme"),
        ("a_b:value", "invalid scheme"),
        ("custom:v?novalue", "is not key=val"),
        ("custom:v?=x", "is not key=val"),
        ("custom:v?a=1&&b=2", "is not key=val"),
        ("custom:v?value=3", "would replace"),
        ("custom:v?scheme=x", "would replace"),
        ("string:foo?type=sideways", "'type' is 'sideways'"),
        ("fluid:x?scope=everyone", "'scope' is 'everyone'"),
    ],
)
def test_dependency_create_rejects(uri: str, fragment: str) -> None:
    with pytest.raises(InvalidDependencyError, match=fragment) as excinfo:
        dependency_create(uri)
    assert repr(uri) in str(excinfo.value)


def test_dependency_create_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        dependency_create(123)  # type: ignore[arg-type]


# --- begin-time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "value"),
    [
        ("begin-time:1700000000.5", "1700000000.5"),  # kept as written
        ("begin-time:1700000000", "1700000000"),
        ("begin-time:@1700000000.5", "1700000000.5"),
        ("begin-time:@1700000000", "1700000000.0"),
        ("begin-time:now", repr(NOW)),
        ("begin-time:+1h", repr(NOW + 3600)),
        ("begin-time:+90", repr(NOW + 90)),
        ("begin-time:+1.5m", repr(NOW + 90)),
        ("begin-time:-1d", repr(NOW - 86400)),
        ("begin-time:-100000d", "0.0"),  # never before the epoch
    ],
)
def test_begin_time(uri: str, value: str) -> None:
    assert dependency_create(uri, now=NOW) == {"scheme": "begin-time", "value": value}


def test_begin_time_iso_datetime_is_local_time() -> None:
    dep = dependency_create("begin-time:2030-01-31T09:00:00")
    assert float(dep["value"]) == datetime(2030, 1, 31, 9, 0, 0).timestamp()
    dep = dependency_create("begin-time:2030-01-31T09:00:00+00:00")
    assert float(dep["value"]) == 1896080400.0


def test_begin_time_now_defaults_to_clock() -> None:
    import time

    before = time.time()
    value = float(dependency_create("begin-time:+10s")["value"])
    assert before + 10 <= value <= time.time() + 10


@pytest.mark.parametrize(
    "value",
    ["", "tomorrow", "+", "+1x", "+inf", "-nan", "@", "@abc", "@-5", "1e400", "nan", "0x10"],
)
def test_begin_time_rejects(value: str) -> None:
    with pytest.raises(InvalidDependencyError, match="begin-time"):
        dependency_create(f"begin-time:{value}", now=NOW)


@pytest.mark.parametrize("value", ["-1", "inf", "", "abc", "1 ", "@5"])
def test_validate_begin_time_value(value: str) -> None:
    with pytest.raises(InvalidDependencyError, match="not a timestamp"):
        validate_dependency({"scheme": "begin-time", "value": value})


def test_validate_begin_time_accepts_timestamps() -> None:
    for value in ("0", "1700000000.25", "1e9", "+5"):
        validate_dependency({"scheme": "begin-time", "value": value})


# --- dependency_array_create -------------------------------------------------------------


@needs_jobid
def test_dependency_array_create() -> None:
    assert dependency_array_create(["afterok:ƒ2", "singleton"]) == [
        {"scheme": "afterok", "value": "ƒ2"},
        {"scheme": "singleton", "value": ""},
    ]
    assert dependency_array_create(iter(["singleton"])) == [{"scheme": "singleton", "value": ""}]
    assert dependency_array_create([]) == []


def test_dependency_array_create_refuses_single_string() -> None:
    with pytest.raises(TypeError, match="single str"):
        dependency_array_create("singleton")


def test_dependency_array_create_propagates_errors() -> None:
    with pytest.raises(InvalidDependencyError, match="':nope'"):
        dependency_array_create(["singleton", ":nope"])


# --- validate_dependency -------------------------------------------------------------------


def test_validate_accepts_extra_keys() -> None:
    validate_dependency({"scheme": "custom", "value": "x", "extra": [1, 2], "n": 3})
    validate_dependency({"scheme": "singleton", "value": ""})


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        ("afterok:1", "must be an object"),
        (None, "must be an object"),
        ([("scheme", "x")], "must be an object"),
        ({"value": "x"}, "missing required key 'scheme'"),
        ({"scheme": "x"}, "missing required key 'value'"),
        ({"scheme": 1, "value": "x"}, "'scheme' must be a string, not int"),
        ({"scheme": "x", "value": 5}, "'value' must be a string, not int"),
        ({"scheme": "x", "value": None}, "'value' must be a string, not NoneType"),
        ({"scheme": "", "value": "x"}, "non-empty"),
        ({"scheme": "string", "value": "x", "type": "both"}, "'type' is 'both'"),
        ({"scheme": "string", "value": "x", "scope": 1}, "'scope' is 1"),
    ],
)
def test_validate_rejects(obj: Any, fragment: str) -> None:
    with pytest.raises(InvalidDependencyError, match=fragment):
        validate_dependency(obj)


def test_invalid_dependency_is_value_error() -> None:
    with pytest.raises(ValueError):
        validate_dependency({})


# --- round trip --------------------------------------------------------------------------

schemes = st.from_regex(r"[a-z][a-z0-9+.-]{0,10}", fullmatch=True).filter(
    lambda s: s not in AFTER_SCHEMES and s not in ("begin-time", "string", "fluid")
)
plain_text = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters="?&;=%+#", exclude_categories=("Cs", "Cc")
    ),
    max_size=12,
)
keys = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda k: k not in ("scheme", "value")
)


@given(schemes, plain_text, st.dictionaries(keys, st.from_regex(r"[a-z]{1,6}", fullmatch=True)))
def test_uri_round_trip(scheme: str, value: str, extra: dict[str, str]) -> None:
    query = "&".join(f"{k}={v}" for k, v in extra.items())
    uri = f"{scheme}:{value}" + (f"?{query}" if query else "")
    assert dependency_create(uri) == {"scheme": scheme, "value": value, **extra}
