"""The precise types of results and events: JobResultInfo and the RFC 21 event contexts.

The contexts are checked against RFC 21's own examples (its "Event Descriptions"); the
result of an ended job against the eventlogs that end a job each way.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.errors import InvalidEventlogError, InvalidInputError
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job.contexts import event_context
from fluxsdk.job.info import FLUX_JOB_RESULT_TIMEOUT, JobInfo
from fluxsdk.job.wait import JobResultInfo, result_from_events

T0 = 1552593348.0

# RFC 21's example entries, one per event with a defined context.
RFC21_EXAMPLES = [
    '{"timestamp":1552593348.073045,"name":"submit","context":'
    '{"urgency":16,"userid":5588,"flags":0,"version":1}}',
    '{"timestamp":1552593348.073045,"name":"resource-update","context":{"expiration":1692206240}}',
    '{"timestamp":1552593348.073045,"name":"set-flags","context":{"flags":["debug"]}}',
    '{"timestamp":1552593348.073045,"name":"dependency-add","context":'
    '{"description":"begin-time=1552594348"}}',
    '{"timestamp":1552594348.0,"name":"dependency-remove","context":'
    '{"description":"begin-time=1552594348"}}',
    '{"timestamp":1552593547.411336,"name":"priority","context":{"priority":42}}',
    '{"timestamp":1552593547.411336,"name":"urgency","context":{"urgency":0,"userid":5588}}',
    '{"timestamp":1552593348.088391,"name":"alloc","context":'
    '{"annotations":{"sched.resource_summary":"rank0/core[0-1]"}}}',
    '{"timestamp":1552593348.073045,"name":"prolog-start","context":'
    '{"description":"/usr/sbin/job-prolog.sh"}}',
    '{"timestamp":1552594348.0,"name":"prolog-finish","context":'
    '{"description":"/usr/sbin/job-prolog.sh", "status":0}}',
    '{"timestamp":1552593348.073045,"name":"epilog-start","context":'
    '{"description":"/usr/sbin/job-epilog.sh"}}',
    '{"timestamp":1552594348.0,"name":"epilog-finish","context":'
    '{"description":"/usr/sbin/job-epilog.sh", "status":0}}',
    '{"timestamp":1552593348.093541,"name":"free"}',
    '{"timestamp":1552593348.089787,"name":"start"}',
    '{"timestamp":1552593348.092830,"name":"release","context":{"ranks":"all","final":true}}',
    '{"timestamp":1552593348.090927,"name":"finish","context":{"status":0}}',
    '{"timestamp":1552593348.104432,"name":"clean"}',
    '{"timestamp":1552593986.335602,"name":"exception","context":'
    '{"type":"oom","severity":0,"userid":5588,"note":"out of memory on foo42"}}',
    '{"timestamp":1552593986.335602,"name":"exception","context":{"type":"exec","severity":0,'
    '"note":"app: task rank 1 on host foo42 failed and exit-on-error is set","wait_status":11}}',
    '{"timestamp":1637723184.3725791,"name":"memo","context":{"key":"value"}}',
]


@pytest.mark.parametrize("line", RFC21_EXAMPLES)
def test_rfc21_examples_have_their_typed_context(line: str) -> None:
    event = EventLogEvent(line)
    context = event_context(event, event.name)
    assert context is event.context  # the context itself, typed


def test_typed_context_values() -> None:
    finish = EventLogEvent({"timestamp": T0, "name": "finish", "context": {"status": 256}})
    status: int = event_context(finish, "finish")["status"]
    assert os.WEXITSTATUS(status) == 1
    exc = EventLogEvent(RFC21_EXAMPLES[-3])
    ctx = event_context(exc, "exception")
    assert (ctx["type"], ctx["severity"], ctx["note"]) == ("oom", 0, "out of memory on foo42")
    assert ctx.get("userid") == 5588 and ctx.get("wait_status") is None
    # The fluxsdk.job re-export is the same function.
    assert job.event_context is event_context


def test_context_of_another_event_is_refused() -> None:
    start = EventLogEvent({"timestamp": T0, "name": "start"})
    with pytest.raises(InvalidInputError, match="the event is 'start', not 'finish'"):
        event_context(start, "finish")
    with pytest.raises(ValueError):  # input errors are ValueErrors too
        event_context(start, "clean")


@pytest.mark.parametrize(
    ("name", "context", "message"),
    [
        ("finish", {}, "finish event: context has no 'status'"),
        ("finish", {"status": "0"}, "context 'status' must be int, not str"),
        ("finish", {"status": True}, "context 'status' must be int, not bool"),
        ("exception", {"type": "cancel", "severity": 0}, "has no 'note'"),
        ("exception", {"type": "x", "severity": 0, "note": "", "userid": "me"}, "'userid'"),
        ("release", {"ranks": "all", "final": 1}, "'final' must be bool, not int"),
        ("submit", {"urgency": 16, "userid": 1, "flags": 0}, "has no 'version'"),
        ("alloc", {"annotations": []}, "'annotations' must be dict, not list"),
    ],
)
def test_contexts_breaking_rfc21_are_reported(
    name: str, context: dict[str, Any], message: str
) -> None:
    event = EventLogEvent({"timestamp": T0, "name": name, "context": context})
    with pytest.raises(InvalidEventlogError, match=message):
        event_context(event, name)


def test_contexts_may_carry_more_keys() -> None:
    event = EventLogEvent({"timestamp": T0, "name": "finish", "context": {"status": 0, "x": 1}})
    assert event_context(event, "finish")["status"] == 0


# -- JobResultInfo ---------------------------------------------------------------------


def entry(name: str, context: dict[str, Any] | None = None, ts: float = T0) -> EventLogEvent:
    return EventLogEvent({"timestamp": ts, "name": name, "context": context or {}})


def ended(*middle: EventLogEvent) -> JobResultInfo:
    events = [entry("submit", {"urgency": 16, "userid": 0, "flags": 0, "version": 1})]
    events += [*middle, entry("clean", ts=T0 + 20)]
    return JobResultInfo(result_from_events(42, events))


def run(status: int) -> list[EventLogEvent]:
    return [
        entry("alloc", ts=T0 + 1),
        entry("start", ts=T0 + 2),
        entry("finish", {"status": status}),
    ]


def fatal(exc_type: str) -> EventLogEvent:
    return entry("exception", {"type": exc_type, "severity": 0, "note": ""}, T0 + 1)


@pytest.mark.parametrize(
    ("events", "result", "code"),
    [
        (run(0), "COMPLETED", 0),
        (run(3 << 8), "FAILED", 3),
        (run(signal.SIGKILL), "FAILED", -signal.SIGKILL),
        ([fatal("cancel")], "CANCELED", -128),  # canceled before it ran
        ([fatal("alloc")], "FAILED", 1),  # failed before it ran
        ([*run(signal.SIGALRM)[:2], fatal("timeout"), run(signal.SIGALRM)[2]], "TIMEOUT", -14),
    ],
)
def test_result_info_returncode_is_an_int(
    events: list[EventLogEvent], result: str, code: int
) -> None:
    info = ended(*events)
    assert isinstance(info, JobInfo)
    assert (info.result, info.returncode) == (result, code)
    assert type(info.returncode) is int


def test_result_info_timeout_before_running() -> None:
    """The one case where flux's JobInfo has no number: a timeout before any exit status."""
    info = ended(fatal("timeout"))
    assert info.result_id == FLUX_JOB_RESULT_TIMEOUT
    assert info.returncode == ""  # type: ignore[comparison-overlap]  # flux's own answer


def test_result_info_is_flux_s_exact_class() -> None:
    """Code that compares types (flux-core's own tests do) sees a JobInfo at run time."""
    assert type(ended(*run(0))) is JobInfo
