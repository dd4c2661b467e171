"""Fuzzing the instance and the input paths it shares with the public API (issue #15).

``test_fuzz_run`` runs ``tests/fuzz_instance.py`` (2,000 cases, fixed seed)
against an instance of its own; the hypothesis tests below fuzz one thing each
(request payloads per topic, jobspecs, YAML, eventlog text, the JSON checker)
with a bounded number of derandomized examples.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxsdk._json import MAX_DEPTH, JSONInputError, loads_checked
from fluxsdk.core import FLUX_RPC_NORESPONSE
from fluxsdk.eventlog import EventLogEvent, encode_entry
from fluxsdk.job import JobspecV1, validate_jobspec
from fluxsdk.testing import instance_running
from tests.fuzz_instance import Fuzzer, protocol_topics, run

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def test_fuzz_run() -> None:
    """2,000 cases: no wedge, no crash, nothing lost, only the allowed errors."""
    report = run(2000, seed=15, time_limit=300.0)  # ~10 s usually; a bound for wedges
    assert report.cases == 2000
    assert set(report.topics) == set(protocol_topics())
    assert report.jobs_submitted > 100 and report.jobs_refused > 0
    assert report.closes > 0 and report.errnos["EPROTO"] > 0
    assert set(report.api_errors) <= {
        name
        for name, kind in _error_names().items()
        if issubclass(kind, (ValueError, TypeError, OSError))
    }


def _error_names() -> dict[str, type[BaseException]]:
    import builtins

    import fluxsdk.core
    import fluxsdk.errors

    names: dict[str, type[BaseException]] = {}
    for module in (fluxsdk.errors, fluxsdk.core, builtins):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, BaseException):
                names[name] = value
    return names


# -- request payloads, per topic ---------------------------------------------------


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    with instance_running(tmp_path_factory.mktemp("fuzz"), cores=2) as uri:
        fuzzer = Fuzzer(uri, seed=0)
        fuzzer.setup()
        try:
            yield fuzzer
            fuzzer.finish()
        finally:
            fuzzer.h.close()


TOPICS = [t for t in protocol_topics() if t != "instance.shutdown"]


@pytest.mark.parametrize("topic", TOPICS)
@FUZZ
@given(payload=st.dictionaries(st.text(max_size=10), json_values, max_size=5) | json_values)
def test_any_payload_is_answered(fuzzer: Fuzzer, topic: str, payload: Any) -> None:
    if topic == "job-info.eventlog-watch-cancel":
        # A request without a response, in flux as here: the checks show it was harmless.
        fuzzer.send(topic, payload, FLUX_RPC_NORESPONSE)
        fuzzer.check(topic)
        return
    if isinstance(payload, dict) and topic.startswith("job-manager."):
        payload.pop("id", None)  # never a real job: the witnesses stay intact
    if topic in ("job-manager.wait", "job-info.eventlog-watch") and isinstance(payload, dict):
        payload["id"] = 2**64 - 2  # an unknown job: answered at once
    fuzzer.answered(topic, payload)
    fuzzer.check(f"{topic} {payload!r:.100}")


@FUZZ
@given(payload=json_values)
def test_instance_shutdown_refuses_payloads_that_are_not_objects(
    fuzzer: Fuzzer, payload: Any
) -> None:
    if not isinstance(payload, list):
        payload = [payload]  # a str would be taken as JSON text by the client
    number, _ = fuzzer.answered("instance.shutdown", payload)
    assert number == errno.EPROTO
    fuzzer.check("instance.shutdown")


# -- jobspecs --------------------------------------------------------------------------

base = json.loads(JobspecV1.from_command(["true"]).dumps())


@FUZZ
@given(
    count=json_values,
    total=json_values,
    options=json_values,
    env=st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
    arg=st.text(max_size=10),
)
def test_any_jobspec_is_refused_or_runs_to_the_end(
    fuzzer: Fuzzer, count: Any, total: Any, options: Any, env: dict[str, str], arg: str
) -> None:
    doc = json.loads(json.dumps(base))
    doc["resources"][0]["with"][0]["count"] = count if isinstance(count, int) else 1
    doc["tasks"][0]["count"] = {"total": total}
    doc["tasks"][0]["command"] = ["echo", arg]
    doc["attributes"]["system"]["shell"] = {"options": options}
    doc["attributes"]["system"]["environment"] = {"PATH": os.environ["PATH"], **env}
    text = json.dumps(doc)
    jobid = fuzzer.submit_text(text)
    if jobid is not None:
        names = [e.name for e in fuzzer.wait_inactive(jobid)]
        assert names[-1] == "clean"
        assert "finish" in names
    fuzzer.check("jobspec")


@FUZZ
@given(doc=json_values, text=st.text(max_size=200))
def test_public_jobspec_api_raises_only_input_errors(doc: Any, text: str) -> None:
    import yaml

    for source in (json.dumps(doc), text, yaml.safe_dump(doc)):
        for api in (JobspecV1.from_yaml_stream, validate_jobspec):
            with contextlib.suppress(ValueError, TypeError, OSError):
                api(source)


@FUZZ
@given(depth=st.integers(min_value=1, max_value=3 * MAX_DEPTH), width=st.integers(1, 12))
def test_yaml_depth_and_aliases_are_bounded(depth: int, width: int) -> None:
    from fluxsdk.errors import JobspecError
    from fluxsdk.job._yaml import MAX_YAML_DEPTH, MAX_YAML_NODES, load_yaml

    nested = "[" * depth + "]" * depth
    if depth > MAX_YAML_DEPTH:
        with pytest.raises(JobspecError):
            load_yaml(nested)
    else:
        load_yaml(nested)
    lines = ["a0: &a0 [1]"]
    levels = 1
    while width**levels <= 10 * MAX_YAML_NODES and levels < 40:
        lines.append(f"a{levels}: &a{levels} [{', '.join([f'*a{levels - 1}'] * width)}]")
        levels += 1
    if width > 1:
        with pytest.raises(JobspecError):
            load_yaml("\n".join(lines))


# -- what reaches eventlogs --------------------------------------------------------------


@FUZZ
@given(name=st.text(min_size=1, max_size=10), context=st.dictionaries(st.text(), st.text()))
def test_any_text_makes_a_storable_eventlog_entry(name: str, context: dict[str, str]) -> None:
    line = encode_entry(name, context, 1.0)
    line.encode("utf-8")
    assert line.endswith("\n") and line.count("\n") == 1
    event = EventLogEvent(line)
    assert [event.name, event.context] == json.loads(json.dumps([name, context]))


@FUZZ
@given(memo=st.dictionaries(st.text(max_size=5), json_values, min_size=1, max_size=3))
def test_accepted_memos_are_logged_exactly(fuzzer: Fuzzer, memo: dict[str, Any]) -> None:
    jobid = fuzzer.submit_text(json.dumps(base), urgency=0)
    assert jobid is not None
    number, _ = fuzzer.answered("job-manager.memo", {"id": jobid, "memo": memo})
    if number == 0:
        fuzzer.memos[jobid] = json.loads(json.dumps(memo))
    else:
        assert number == errno.EPROTO  # a lone surrogate or an integer beyond 64 bits
    fuzzer.check("memo")


# -- the one JSON checker -------------------------------------------------------------------


@FUZZ
@given(value=json_values)
def test_checked_json_agrees_with_json_or_says_why(value: Any) -> None:
    text = json.dumps(value)
    try:
        decoded = loads_checked(text)
    except JSONInputError as exc:
        assert str(exc)
        return
    assert decoded == json.loads(text)
    json.dumps(decoded).encode("utf-8")


@FUZZ
@given(raw=st.binary(max_size=64))
def test_checked_json_raises_only_its_error(raw: bytes) -> None:
    with contextlib.suppress(JSONInputError):
        loads_checked(raw)
