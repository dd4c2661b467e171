"""The flux.job-compatible job API without an instance.

Part 1 needs no I/O at all: exceptions, output event classes and their
rendering, JobInfo derivations, argument validation. Part 2 runs the API
against a scripted broker (tests/core_server.py) that answers flux-core's
RPC topics with canned payloads, to check the requests sent and the futures'
behaviour (signing, streaming, cancel, composition) deterministically.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from fluxsdk import job
from fluxsdk._sign import sign_none, unwrap_none
from fluxsdk.core import Flux
from fluxsdk.errors import FluxSDKError, InvalidJobIDError
from fluxsdk.eventlog import EventLogEvent, encode_entry
from fluxsdk.instance._broker import Request, RequestError
from fluxsdk.job import JobID, JobspecV1
from fluxsdk.job import event as ev
from fluxsdk.job import info as inf
from fluxsdk.job import list as ls
from fluxsdk.job import output as out
from fluxsdk.job.submit import (
    FLUX_JOB_DEBUG,
    FLUX_JOB_NOVALIDATE,
    FLUX_JOB_URGENCY_DEFAULT,
    FLUX_JOB_WAITABLE,
    SubmitFuture,
)
from fluxsdk.job.wait import (
    FLUX_JOBID_ANY,
    JobWaitFuture,
    JobWaitResult,
    WaitErrorString,
    result_from_events,
)
from tests.core_server import CoreServer, watchdog

T0 = 1700000000.0

# A handle that is never used: argument checks must fail before any I/O.
UNUSED = cast(Flux, object())


def entry(name: str, context: dict[str, Any] | None = None, ts: float = T0) -> EventLogEvent:
    return EventLogEvent(encode_entry(name, context, timestamp=ts))


def exc_ctx(type_: str, severity: int = 0, note: str = "") -> dict[str, Any]:
    return {"type": type_, "severity": severity, "userid": 0, "note": note}


# ====================================================================================
# Part 1: no I/O
# ====================================================================================

# -- JobException --------------------------------------------------------------------


def test_job_exception_attributes_and_str() -> None:
    exc = ev.JobException(entry("exception", exc_ctx("cancel", 0, "by user"), ts=T0 + 1))
    assert (exc.timestamp, exc.type, exc.severity, exc.note) == (T0 + 1, "cancel", 0, "by user")
    assert str(exc) == "job.exception: type=cancel: by user"
    assert isinstance(exc, FluxSDKError)
    assert isinstance(exc, Exception)


def test_job_exception_without_note_and_pickles() -> None:
    event = entry("exception", {"type": "timeout", "severity": 0})
    exc = ev.JobException(event)
    assert exc.note == ""
    assert str(exc) == "job.exception: type=timeout: "
    clone = pickle.loads(pickle.dumps(exc))
    assert (clone.type, clone.severity, clone.timestamp) == ("timeout", 0, T0)


def test_main_events_are_rfc21_names() -> None:
    assert {"submit", "alloc", "start", "finish", "clean", "exception"} <= ev.MAIN_EVENTS
    assert "validate" not in ev.MAIN_EVENTS  # as in flux


# -- output event classes ------------------------------------------------------------


def data(stream: str, text: str | None = None, rank: str = "0", **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"stream": stream, "rank": rank, **extra}
    if text is not None:
        context["data"] = text
    return {"timestamp": T0, "name": "data", "context": context}


def test_output_event_plain() -> None:
    event = out.OutputEvent(data("stdout", "hello\n"))
    assert (event.name, event.stream, event.data, event.eof) == ("data", "stdout", "hello\n", False)
    assert str(event.rank) == "0"
    assert event.render() == "hello\n"
    assert event.timestamp == T0
    assert isinstance(event, EventLogEvent)


def test_output_event_from_json_line_and_eof_without_data() -> None:
    line = json.dumps(data("stderr", None, eof=True))
    event = out.OutputEvent(line)
    assert event.eof is True
    assert event.data is None
    assert event.render() is None


def test_output_event_base64_and_repeat() -> None:
    raw = b"caf\xc3\xa9 \xff\n"  # valid UTF-8 then an invalid byte
    text = base64.b64encode(raw).decode()
    event = out.OutputEvent(data("stdout", text, encoding="base64"))
    assert event.data == "café \udcff\n"
    assert event.data.encode("utf-8", errors="surrogateescape") == raw
    repeated = out.OutputEvent(data("stdout", "ab", repeat=3))
    assert repeated.data == "ababab"


def test_output_event_labelio() -> None:
    event = out.OutputEvent(data("stdout", "one\ntwo\n", rank="3"), labelio=True)
    assert event.data == "3: one\n3: two\n"
    partial = out.OutputEvent(data("stdout", "no newline", rank="0-1"), labelio=True)
    assert partial.data == "0-1: no newline\n"  # flux adds the final newline
    everyone = out.OutputEvent(data("stdout", "x\n", rank="all"), labelio=True)
    assert everyone.data == "all: x\n"


def test_output_event_classes_reject_other_events() -> None:
    with pytest.raises(ValueError, match="is not a data event"):
        out.OutputEvent({"timestamp": T0, "name": "log", "context": {}})
    with pytest.raises(ValueError, match="is not a log event"):
        out.LogEvent(data("stdout", "x"))
    with pytest.raises(ValueError):
        out.OutputHeaderEvent(data("stdout", "x"))
    with pytest.raises(ValueError):
        out.RedirectEvent(data("stdout", "x"))
    with pytest.raises(ValueError):
        out.JobExceptionEvent(data("stdout", "x"))


def log(level: int, message: str, **extra: Any) -> dict[str, Any]:
    context = {"rank": 0, "level": level, "message": message, **extra}
    return {"timestamp": T0, "name": "log", "context": context}


def test_log_event_render() -> None:
    event = out.LogEvent(log(out.LOG_ERROR, "boom", component="exec", file="x.c", line=12))
    assert (event.level, event.levelstr, event.message) == (3, "ERROR", "boom")
    assert (event.component, event.file, event.line) == ("exec", "x.c", 12)
    assert event.render() == "flux-shell[0]: ERROR: exec: boom"
    assert event.render(include_file_and_line=True) == "flux-shell[0]: ERROR: exec: x.c:12: boom"
    notice = out.LogEvent(log(out.LOG_NOTICE, "hi"))
    assert notice.levelstr == ""
    assert notice.render() == "flux-shell[0]: hi"
    assert notice.file is None and notice.line == -1
    assert out.LogEvent(log(out.LOG_WARN, "w")).render() == "flux-shell[0]:  WARN: w"
    assert [out.LogEvent(log(n, "")).levelstr for n in range(8)] == [
        "FATAL",
        "FATAL",
        "FATAL",
        "ERROR",
        " WARN",
        "",
        "DEBUG",
        "TRACE",
    ]


def test_log_level_constants() -> None:
    levels = (out.LOG_QUIET, out.LOG_FATAL, out.LOG_ERROR, out.LOG_WARN)
    assert levels == (-1, 0, 3, 4)
    assert (out.LOG_NOTICE, out.LOG_DEBUG, out.LOG_TRACE) == (5, 6, 7)


def test_header_redirect_and_exception_events() -> None:
    header = out.OutputHeaderEvent(
        {
            "timestamp": T0,
            "name": "header",
            "context": {
                "version": 1,
                "encoding": {"stdout": "UTF-8", "stderr": "base64"},
                "count": {"stdout": 2, "stderr": 3},
                "options": {},
            },
        }
    )
    assert (header.version, header.stdout_count, header.stderr_count) == (1, 2, 3)
    assert (header.stdout_encoding, header.stderr_encoding) == ("UTF-8", "base64")

    redirect = out.RedirectEvent(
        {
            "timestamp": T0,
            "name": "redirect",
            "context": {"stream": "stdout", "rank": "0-3", "path": "/tmp/out"},
        }
    )
    assert redirect.render() == "0-3: stdout redirected to /tmp/out"

    exc = out.JobExceptionEvent(entry("exception", exc_ctx("cancel", 0, "stop it")))
    assert (exc.exc_type, exc.severity, exc.note) == ("cancel", 0, "stop it")
    assert exc.render() == "job.exception: type=cancel severity=0 stop it"
    quiet = out.JobExceptionEvent(entry("exception", exc_ctx("test", 3)))
    assert quiet.render() == "job.exception: type=test severity=3"


def test_taskset_is_reexported() -> None:
    assert str(out.Taskset("*").intersect("0-1")) == "0-1"
    assert not out.Taskset("0-1").intersect("2")


def eventlog_text(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


OUTPUT_LOG = eventlog_text(
    {
        "timestamp": T0,
        "name": "header",
        "context": {
            "version": 1,
            "encoding": {"stdout": "UTF-8", "stderr": "UTF-8"},
            "count": {"stdout": 2, "stderr": 2},
            "options": {},
        },
    },
    data("stdout", "zero\n", rank="0"),
    data("stdout", "one\n", rank="1"),
    data("stderr", "err1\n", rank="1"),
    log(out.LOG_DEBUG, "debug message"),
    log(out.LOG_ERROR, "error message"),
    data("stdout", None, rank="0-1", eof=True),
    {
        "timestamp": T0,
        "name": "redirect",
        "context": {"stream": "stderr", "rank": "0", "path": "/tmp/e"},
    },
)


def test_parse_output_eventlog_all_tasks() -> None:
    result = out._parse_output_eventlog(OUTPUT_LOG)
    assert isinstance(result, out.JobOutput)
    assert result.stdout == "zero\none\n"
    # Unlike flux (which glues them together), each notice ends its line,
    # so job_output() equals the joined chunks of output_watch().
    assert result.stderr == (
        "err1\nflux-shell[0]: DEBUG: debug message\n"
        "flux-shell[0]: ERROR: error message\n"
        "0: stderr redirected to /tmp/e\n"
    )
    assert result.log == ""


def test_parse_output_eventlog_tasks_labelio_and_log_level() -> None:
    result = out._parse_output_eventlog(
        OUTPUT_LOG, tasks="1", labelio=True, log_stderr_level=out.LOG_ERROR
    )
    assert result.stdout == "1: one\n"
    assert result.stderr == "1: err1\nflux-shell[0]: ERROR: error message\n"
    assert result.log == "flux-shell[0]: DEBUG: debug message\n"
    quiet = out._parse_output_eventlog(OUTPUT_LOG, log_stderr_level=out.LOG_QUIET)
    assert "flux-shell" not in quiet.stderr
    assert quiet.log.count("flux-shell") == 2


def test_parse_output_entry_dispatch() -> None:
    parsed = out._parse_output_eventlog_entry(data("stdout", "x"))
    assert type(parsed) is out.OutputEvent
    assert type(out._parse_output_eventlog_entry(log(0, "m"))) is out.LogEvent
    exc = out._parse_output_eventlog_entry(entry("exception", exc_ctx("x")))
    assert type(exc) is out.JobExceptionEvent
    with pytest.raises(ValueError, match="not a supported output event"):
        out._parse_output_eventlog_entry(entry("shell.init"))


# -- JobInfo from a result (eventlog) ------------------------------------------------


def run_events(status: int, *, ts_alloc: float = T0 + 1.0) -> list[EventLogEvent]:
    return [
        entry("submit", {"urgency": 16}, T0),
        entry("alloc", None, ts_alloc),
        entry("start", None, ts_alloc + 0.5),
        entry("finish", {"status": status}, T0 + 10.0),
        entry("clean", None, T0 + 11.0),
    ]


def result_info(events: list[EventLogEvent]) -> inf.JobInfo:
    return inf.JobInfo(result_from_events(JobID(42), events))


def test_result_completed() -> None:
    info = result_info(run_events(0))
    assert info.id == 42 and isinstance(info.id, JobID)
    assert (info.result, info.result_id, info.returncode) == ("COMPLETED", 1, 0)
    assert info.result_abbrev == "CD"
    assert (info.t_submit, info.t_run, info.t_cleanup) == (T0, T0 + 1.0, T0 + 10.0)
    # t_run is the alloc event, as in libjob's flux_job_result()
    assert info.runtime == pytest.approx(9.0)
    assert info.exception.occurred is False


def test_result_exit_3() -> None:
    info = result_info(run_events(3 << 8))
    assert (info.result, info.returncode, info.waitstatus) == ("FAILED", 3, 768)


def test_result_signal_9() -> None:
    info = result_info(run_events(signal.SIGKILL))
    assert (info.result, info.returncode) == ("FAILED", -9)


def test_result_canceled_before_start() -> None:
    events = [
        entry("submit", {"urgency": 16}),
        entry("exception", exc_ctx("cancel", 0, "no longer needed"), T0 + 1),
        entry("clean", None, T0 + 2),
    ]
    info = result_info(events)
    assert (info.result, info.returncode, info.waitstatus) == ("CANCELED", -128, "")
    assert info.runtime == 0.0
    exc = info.exception
    assert (exc.occurred, exc.type, exc.severity, exc.note) == (
        True,
        "cancel",
        0,
        "no longer needed",
    )


def test_result_canceled_while_running() -> None:
    events = run_events(signal.SIGTERM)
    events.insert(3, entry("exception", exc_ctx("cancel"), T0 + 5))
    info = result_info(events)
    assert (info.result, info.returncode) == ("CANCELED", -15)


def test_result_timeout() -> None:
    events = run_events((128 + signal.SIGALRM) << 8)
    events.insert(3, entry("exception", exc_ctx("timeout", 0, "resource allocation expired")))
    info = result_info(events)
    assert (info.result, info.returncode) == ("TIMEOUT", 128 + signal.SIGALRM)
    assert info.result_abbrev == "TO"


def test_result_fatal_exception_before_start_is_failed_with_returncode_1() -> None:
    events = [entry("submit"), entry("exception", exc_ctx("alloc", 0, "unsatisfiable"))]
    info = result_info([*events, entry("clean")])
    assert (info.result, info.returncode) == ("FAILED", 1)


def test_result_nonfatal_exception_keeps_completed() -> None:
    events = run_events(0)
    events.insert(2, entry("exception", exc_ctx("warning", 4, "hmm")))
    info = result_info(events)
    assert info.result == "COMPLETED"
    assert info.exception.type == "warning"


def test_result_exception_overwrite_rule_matches_libjob() -> None:
    # A later, less severe exception does not replace a non-fatal one...
    res = result_from_events(
        1, [entry("exception", exc_ctx("a", 2)), entry("exception", exc_ctx("b", 5))]
    )
    assert res["exception_type"] == "a"
    # ...but a more severe one does,
    res = result_from_events(
        1, [entry("exception", exc_ctx("a", 5)), entry("exception", exc_ctx("b", 2))]
    )
    assert res["exception_type"] == "b"
    # and a fatal one is always replaced (libjob's "prev_sev > 0" test).
    res = result_from_events(
        1, [entry("exception", exc_ctx("cancel", 0)), entry("exception", exc_ctx("c", 3))]
    )
    assert (res["exception_type"], res["exception_severity"]) == ("c", 3)


def test_result_dict_keys() -> None:
    res = result_from_events(7, run_events(0))
    assert res == {
        "id": 7,
        "exception_occurred": False,
        "t_submit": T0,
        "t_run": T0 + 1.0,
        "t_cleanup": T0 + 10.0,
        "waitstatus": 0,
        "result": inf.FLUX_JOB_RESULT_COMPLETED,
    }


# -- JobInfo from job-list -----------------------------------------------------------


def listed(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 1234,
        "userid": os.getuid(),
        "urgency": 16,
        "priority": 16,
        "t_submit": T0,
        "state": inf.FLUX_JOB_STATE_SCHED,
        "name": "sleep",
        "ntasks": 1,
        "ncores": 1,
        "duration": 0.0,
    }
    base.update(kw)
    return base


def test_jobinfo_pending_fields_and_defaults() -> None:
    info = inf.JobInfo(listed())
    assert (info.state, info.state_single, info.status) == ("SCHED", "S", "SCHED")
    assert (info.result, info.returncode, info.nodelist, info.t_run) == ("", "", "", 0.0)
    assert info.runtime == 0.0
    assert info.contextual_info == ""
    assert info.contextual_time == 0.0
    assert info.inactive_reason == ""
    assert info.username  # a name or the uid as text
    with pytest.raises(AttributeError, match="invalid JobInfo attribute 'nosuch'"):
        _ = info.nosuch  # type: ignore[attr-defined]
    held = inf.JobInfo(listed(urgency=0))
    assert held.contextual_info == "held"
    assert inf.JobInfo(listed(priority=0)).contextual_info == "priority-hold"
    assert inf.JobInfo(listed(state=inf.FLUX_JOB_STATE_PRIORITY)).contextual_info == (
        "priority-wait"
    )


def test_jobinfo_sched_estimate_and_annotations() -> None:
    annotations = {"sched": {"t_estimate": time.time() + 120, "reason_pending": "busy"}}
    info = inf.JobInfo(listed(annotations=annotations))
    assert info.sched.reason_pending == "busy"
    assert info.contextual_info.startswith("eta:")
    assert f"{info.annotations.user.nothing.here:>5}" == "     "
    assert f"{info.sched.missing:d}" == ""
    assert repr(info.annotations) == json.dumps(annotations)
    assert repr(inf.JobInfo(listed()).annotations) == ""


def test_jobinfo_depend_state_lists_dependencies() -> None:
    info = inf.JobInfo(listed(state=inf.FLUX_JOB_STATE_DEPEND, dependencies=["after:123"]))
    assert info.contextual_info == "depends:after:123"
    begin = inf.DependencyList([f"begin-time={time.time() + 60:.0f}"])
    assert begin[0].startswith("begin@")


def test_jobinfo_inactive_and_to_dict() -> None:
    info = inf.JobInfo(
        listed(
            state=inf.FLUX_JOB_STATE_INACTIVE,
            result=inf.FLUX_JOB_RESULT_FAILED,
            waitstatus=127 << 8,
            t_run=T0 + 1,
            t_cleanup=T0 + 3,
            nodelist="node0",
        )
    )
    assert (info.status, info.returncode, info.runtime) == ("FAILED", 127, 2.0)
    assert info.inactive_reason == "command not found"
    assert info.contextual_info == "node0"
    full = info.to_dict(filtered=False)
    assert full["state"] == "INACTIVE" and full["result"] == "FAILED"
    assert full["jobid"] == JobID(1234).f58
    assert full["exception"] == {"occurred": "", "severity": "", "type": "", "note": ""}
    assert full["t_depend"] == 0.0  # unset values stay in the unfiltered dict
    short = info.to_dict()
    assert "t_depend" not in short and "project" not in short
    assert short["exception"] == {"occurred": False}
    json.dumps(short)  # JSON-serializable


@pytest.mark.parametrize(
    ("result", "waitstatus", "exc", "reason"),
    [
        (inf.FLUX_JOB_RESULT_CANCELED, None, ("cancel", 0, "why"), "Canceled: why"),
        (inf.FLUX_JOB_RESULT_CANCELED, None, ("cancel", 0, ""), "Canceled"),
        (inf.FLUX_JOB_RESULT_FAILED, None, ("alloc", 0, "no"), "Exception: type=alloc note=no"),
        (inf.FLUX_JOB_RESULT_FAILED, (128 + 9) << 8, None, "Killed"),
        (inf.FLUX_JOB_RESULT_FAILED, 126 << 8, None, "Command invoked cannot execute"),
        (inf.FLUX_JOB_RESULT_FAILED, 2 << 8, None, "Exit 2"),
        (inf.FLUX_JOB_RESULT_FAILED, 3 << 8, ("exec", 0, "x"), "Exit 3"),
        (inf.FLUX_JOB_RESULT_TIMEOUT, 142 << 8, ("timeout", 0, ""), "Timeout"),
        (inf.FLUX_JOB_RESULT_COMPLETED, 0, None, "Exit 0"),
    ],
)
def test_inactive_reason(
    result: int, waitstatus: int | None, exc: tuple[str, int, str] | None, reason: str
) -> None:
    fields: dict[str, Any] = {"state": inf.FLUX_JOB_STATE_INACTIVE, "result": result}
    if waitstatus is not None:
        fields["waitstatus"] = waitstatus
    if exc is not None:
        fields.update(
            exception_occurred=True,
            exception_type=exc[0],
            exception_severity=exc[1],
            exception_note=exc[2],
        )
    assert inf.JobInfo(listed(**fields)).inactive_reason == reason


def test_state_and_result_names() -> None:
    assert [inf.statetostr(1 << i) for i in range(7)] == [
        "NEW",
        "DEPEND",
        "PRIORITY",
        "SCHED",
        "RUN",
        "CLEANUP",
        "INACTIVE",
    ]
    assert inf.statetostr(inf.FLUX_JOB_STATE_RUN, "l") == "run"
    assert inf.statetostr(inf.FLUX_JOB_STATE_RUN, "s") == "r"
    assert inf.statetostr(inf.FLUX_JOB_STATE_PENDING, "S") == "PD"
    assert inf.statetostr(3) == "(unknown)" and inf.statetostr(3, "S") == "?"
    assert inf.resulttostr(inf.FLUX_JOB_RESULT_CANCELED) == "CANCELED"
    assert inf.resulttostr(inf.FLUX_JOB_RESULT_CANCELED, "S") == "CA"
    assert inf.resulttostr("") == ""
    assert inf.statustostr(inf.FLUX_JOB_STATE_INACTIVE, inf.FLUX_JOB_RESULT_TIMEOUT) == "TIMEOUT"
    assert inf.statustostr(inf.FLUX_JOB_STATE_RUN, "") == "RUN"


def test_job_fields_to_attrs() -> None:
    assert inf.job_fields_to_attrs(["id", "returncode"]) == {"waitstatus", "result"}
    assert inf.job_fields_to_attrs(["annotations.sched.t_estimate"]) == {"annotations"}
    with pytest.raises(KeyError):
        inf.job_fields_to_attrs(["nonsense"])


# -- argument validation -------------------------------------------------------------


def test_missing_handle_is_einval() -> None:
    calls: list[Callable[[], object]] = [
        lambda: job.submit_async(cast(Flux, None), "{}"),
        lambda: ev.event_watch_async(cast(Flux, None), 1),
        lambda: ev.event_wait(cast(Flux, None), 123, "start"),
        lambda: job.kill_async(cast(Flux, None), 1),
        lambda: job.cancel_async(cast(Flux, None), 1),
        lambda: job.wait_async(cast(Flux, None), 1),
        lambda: job.result_async(cast(Flux, None), 1),
        lambda: ls.job_list(cast(Flux, None)),
        lambda: out.output_watch_async(cast(Flux, None), 1),
        lambda: out.job_output(cast(Flux, None), 1),
    ]
    for call in calls:
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EINVAL


def test_submit_argument_checks() -> None:
    with pytest.raises(OSError) as info:
        job.submit_async(UNUSED, cast(str, None))
    assert info.value.errno == errno.EINVAL
    with pytest.raises(TypeError, match="jobspec must be a Jobspec or string"):
        job.submit_async(UNUSED, cast(str, 42))
    with pytest.raises(TypeError, match="urgency must be an int"):
        job.submit_async(UNUSED, "{}", urgency=cast(int, "16"))
    for future in (None,):
        with pytest.raises(OSError):
            job.submit_get_id(cast(SubmitFuture, future))
        with pytest.raises(OSError):
            job.wait_get_status(cast(JobWaitFuture, future))


def test_jobid_and_signal_checks() -> None:
    with pytest.raises(ValueError):
        job.kill(UNUSED, "abc")
    with pytest.raises(InvalidJobIDError):
        job.cancel(UNUSED, "abc")
    with pytest.raises(OSError) as info:
        job.kill_async(UNUSED, 1, signum=-1)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:
        job.job_raise_async(UNUSED, 1, cast(str, None))
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:
        ev.event_watch_async(UNUSED, 1, flags=0x100)
    assert info.value.errno == errno.EINVAL


def test_job_list_payload_and_filters() -> None:
    payload = ls._listing_payload(
        10,
        ["id", "state"],
        1000,
        inf.FLUX_JOB_STATE_RUN,
        inf.FLUX_JOB_RESULT_FAILED,
        5.0,
        "app",
        "batch",
        {"not": [{"name": ["x"]}]},
    )
    assert payload == {
        "max_entries": 10,
        "attrs": ["id", "state"],
        "since": 5.0,
        "constraint": {
            "and": [
                {"not": [{"name": ["x"]}]},
                {"userid": [1000]},
                {"name": ["app"]},
                {"queue": ["batch"]},
                {"or": [{"states": [16]}, {"results": [2]}]},
            ]
        },
    }
    anyone = ls._listing_payload(1000, ["all"], ls.FLUX_USERID_UNKNOWN, 0, 0, 0.0, None, None, None)
    assert anyone["constraint"] == {"and": []}


def test_joblist_filters_and_users() -> None:
    jl = ls.JobList(UNUSED, filters=["pending,running", "failed"], user="all", ids=["ƒ2"])
    assert jl.states == inf.FLUX_JOB_STATE_PENDING | inf.FLUX_JOB_STATE_RUNNING
    assert jl.results == inf.FLUX_JOB_RESULT_FAILED
    assert jl.userid == ls.FLUX_USERID_UNKNOWN
    assert jl.ids == [JobID("ƒ2")]
    assert ls.JobList(UNUSED, user="1234").userid == 1234
    assert ls.JobList(UNUSED).userid == os.getuid()
    with pytest.raises(ValueError, match="Invalid filter"):
        ls.JobList(UNUSED, filters=["bogus"])
    with pytest.raises(ValueError, match="Invalid user"):
        ls.JobList(UNUSED, user="no such user, surely")


# ====================================================================================
# Part 2: a scripted broker
# ====================================================================================


class Script:
    """Canned answers for flux-core's job topics, and a record of the requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.logs: dict[tuple[int, str], list[EventLogEvent]] = {}
        self.open_logs: set[tuple[int, str]] = set()  # left open until canceled
        self.held: dict[int, Request] = {}
        self.jobs: dict[int, dict[str, Any]] = {}
        self.next_id = 1000

    def handlers(self) -> dict[str, Any]:
        return {
            "job-ingest.submit": self.submit,
            "job-info.eventlog-watch": self.watch,
            "job-info.eventlog-watch-cancel": self.cancel,
            "job-info.lookup": self.lookup,
            "job-manager.raise": self.ack,
            "job-manager.kill": self.ack,
            "job-manager.urgency": self.urgency,
            "job-manager.wait": self.wait,
            "job-list.list": self.list,
            "job-list.list-id": self.list_id,
        }

    def record(self, req: Request) -> None:
        self.requests.append((req.topic, req.payload))

    def submit(self, req: Request) -> None:
        self.record(req)
        self.next_id += 1
        req.respond({"id": self.next_id})

    def watch(self, req: Request) -> None:
        self.record(req)
        key = (req.payload["id"], req.payload["path"])
        events = self.logs.get(key)
        # A job with output had a job shell: its exec eventlog, unless scripted.
        shell_ran = (key[0], "guest.output") in self.logs
        if events is None and key[1] == "guest.exec.eventlog" and shell_ran:
            events = [entry("init"), entry("starting"), entry("shell.init"), entry("done")]
        if events is None:
            raise RequestError(errno.ENOENT, "job not found")
        for event in events:
            req.respond({"event": json.dumps(event) + "\n"})
        if key in self.open_logs:
            self.held[req.matchtag] = req
        else:
            req.error(errno.ENODATA)

    def cancel(self, req: Request) -> None:
        self.record(req)
        held = self.held.pop(req.payload["matchtag"], None)
        if held is not None:
            held.error(errno.ENODATA)

    def lookup(self, req: Request) -> None:
        self.record(req)
        key = (req.payload["id"], "guest.output")
        if key not in self.logs:
            raise RequestError(errno.ENOENT, "guest.output: key not found")
        text = "".join(json.dumps(e) + "\n" for e in self.logs[key])
        req.respond({"id": key[0], "guest.output": text})

    def ack(self, req: Request) -> None:
        self.record(req)
        if req.payload["id"] not in self.jobs:
            raise RequestError(errno.ENOENT, "unknown job")
        req.respond({})

    def urgency(self, req: Request) -> None:
        self.record(req)
        req.respond({"old_urgency": 16})

    def wait(self, req: Request) -> None:
        self.record(req)
        req.respond({"id": 77, "success": False, "errstr": "task(s) exited with exit code 1"})

    def list(self, req: Request) -> None:
        self.record(req)
        jobs = list(self.jobs.values())
        for index, entry in enumerate(jobs):
            req.respond({"jobs": [entry], "version": 1} if index == 0 else {"jobs": [entry]})
        req.error(errno.ENODATA)

    def list_id(self, req: Request) -> None:
        self.record(req)
        job = self.jobs.get(req.payload["id"])
        if job is None:
            raise RequestError(errno.ENOENT, "JobID not found")
        req.respond({"job": job})


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def h(script: Script) -> Iterator[Flux]:
    with watchdog(30), CoreServer(script.handlers()) as server, Flux(server.uri) as handle:
        yield handle


def topics(script: Script, topic: str) -> list[Any]:
    return [payload for t, payload in script.requests if t == topic]


HEADER = {
    "version": 1,
    "encoding": {"stdout": "UTF-8", "stderr": "UTF-8"},
    "count": {"stdout": 1, "stderr": 1},
    "options": {},
}


def output_log(*chunks: tuple[str, str]) -> list[EventLogEvent]:
    events = [entry("header", HEADER)]
    events += [EventLogEvent(data(stream, text)) for stream, text in chunks]
    events += [EventLogEvent(data(s, None, eof=True)) for s in ("stdout", "stderr")]
    return events


# -- submit ----------------------------------------------------------------------------


def test_submit_signs_with_mechanism_none(h: Flux, script: Script) -> None:
    jobspec = JobspecV1.from_command(["hostname"])
    jobid = job.submit(h, jobspec, urgency=20, waitable=True, debug=True)
    assert isinstance(jobid, JobID) and jobid == 1001
    (payload,) = topics(script, "job-ingest.submit")
    assert payload["urgency"] == 20
    assert payload["flags"] == FLUX_JOB_WAITABLE | FLUX_JOB_DEBUG
    spec, userid = unwrap_none(payload["J"])
    assert userid == os.getuid()
    assert json.loads(spec) == jobspec.jobspec


def test_submit_text_bytes_and_pre_signed(h: Flux, script: Script) -> None:
    text = JobspecV1.from_command(["true"]).dumps()
    future = job.submit_async(h, text.encode(), novalidate=True)
    assert isinstance(future, SubmitFuture)
    assert job.submit_get_id(future) == future.get_id() == 1001
    signed = sign_none(text.encode(), 4242)
    job.submit(h, signed, pre_signed=True)
    first, second = topics(script, "job-ingest.submit")
    assert unwrap_none(first["J"])[0] == text.encode()
    assert first["flags"] == FLUX_JOB_NOVALIDATE
    assert second["J"] == signed  # sent untouched
    assert second["flags"] == 0  # PRE_SIGNED is a client-side flag
    assert first["urgency"] == FLUX_JOB_URGENCY_DEFAULT == 16


def test_submit_async_then(h: Flux, script: Script) -> None:
    ids: list[JobID] = []
    for _ in range(3):
        job.submit_async(h, "{}").then(lambda f: ids.append(f.get_id()))
    h.reactor_run()
    assert ids == [1001, 1002, 1003]


def test_set_urgency(h: Flux, script: Script) -> None:
    assert job.set_urgency(h, "ƒ2", 0) == 16
    assert topics(script, "job-manager.urgency") == [{"id": int(JobID("ƒ2")), "urgency": 0}]


# -- kill / cancel / raise ---------------------------------------------------------------


def test_kill_cancel_raise_payloads(h: Flux, script: Script) -> None:
    script.jobs[5] = {"id": 5}
    job.kill(h, 5)
    job.kill(h, JobID(5), signum=signal.SIGKILL)
    job.cancel(h, 5)
    job.cancel(h, "5", reason="no longer needed")
    job.job_raise(h, 5, "mytype", 3, "note")
    assert topics(script, "job-manager.kill") == [
        {"id": 5, "signum": signal.SIGTERM},
        {"id": 5, "signum": signal.SIGKILL},
    ]
    assert topics(script, "job-manager.raise") == [
        {"id": 5, "type": "cancel", "severity": 0},
        {"id": 5, "type": "cancel", "severity": 0, "note": "no longer needed"},
        {"id": 5, "type": "mytype", "severity": 3, "note": "note"},
    ]
    with pytest.raises(FileNotFoundError):
        job.cancel(h, 6)


# -- events ----------------------------------------------------------------------------


MAIN = [
    entry("submit", {"userid": 0, "urgency": 16, "flags": 0, "version": 1}),
    entry("alloc"),
    entry("start"),
    entry("exception", exc_ctx("warn", 4, "minor")),
    entry("finish", {"status": 0}),
    entry("clean"),
]


def test_event_watch_and_wait(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = MAIN
    assert [e.name for e in ev.event_watch(h, 9)] == [e.name for e in MAIN]
    assert ev.event_wait(h, 9, "finish").context == {"status": 0}  # non-fatal exc ignored
    with pytest.raises(OSError) as info:
        ev.event_wait(h, 9, "nosuch")
    assert info.value.errno == errno.ENODATA
    with pytest.raises(FileNotFoundError):
        ev.event_wait(h, 10, "start")
    assert topics(script, "job-info.eventlog-watch")[0] == {"id": 9, "path": "eventlog", "flags": 0}


def test_event_wait_fatal_exception(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = [
        entry("submit"),
        entry("exception", exc_ctx("alloc", 0, "unsatisfiable"), T0 + 2),
        entry("clean"),
    ]
    with pytest.raises(ev.JobException) as info:
        ev.event_wait(h, 9, "start")
    assert (info.value.type, info.value.severity, info.value.timestamp) == ("alloc", 0, T0 + 2)
    with pytest.raises(OSError) as oserr:
        ev.event_wait(h, 9, "start", raiseJobException=False)
    assert oserr.value.errno == errno.ENODATA


def test_event_watch_future_autoreset_and_cancel(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = MAIN[:3]
    script.open_logs.add((9, "eventlog"))
    future = ev.event_watch_async(h, 9)
    assert isinstance(future, ev.JobEventWatchFuture)
    first = future.get_event(autoreset=False)
    assert first is not None and first.name == "submit"
    again = future.get_event(autoreset=False)
    assert again is not None and again.name == "submit"
    future.reset()
    names = []
    while (event := future.get_event()) is not None:
        names.append(event.name)
        if event.name == "start":
            future.cancel()
    assert names == ["alloc", "start"]
    (cancel,) = topics(script, "job-info.eventlog-watch-cancel")
    assert cancel == {"matchtag": future.matchtag}
    future.cancel()  # the stream has ended: nothing more is sent
    assert len(topics(script, "job-info.eventlog-watch-cancel")) == 1


def test_event_watch_generator_cancels_when_left(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = MAIN[:2]
    script.open_logs.add((9, "eventlog"))
    for _ in ev.event_watch(h, 9):
        break
    assert ls.get_job(h, 1) is None  # a round trip: the cancel was handled before it
    assert len(topics(script, "job-info.eventlog-watch-cancel")) == 1


def test_event_watch_async_then(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = MAIN
    seen: list[str] = []

    def cb(future: ev.JobEventWatchFuture, tag: str) -> None:
        event = future.get_event()
        if event is not None:
            seen.append(f"{tag}{event.name}")

    ev.event_watch_async(h, 9).then(cb, "-")
    h.reactor_run()
    assert seen == [f"-{e.name}" for e in MAIN]


# -- result / wait ---------------------------------------------------------------------


def test_result_sync_and_async(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = run_events(3 << 8)
    info = job.result(h, 9)
    assert (info.id, info.result, info.returncode) == (9, "FAILED", 3)
    future = job.result_async(h, 9)
    assert future.get_dict()["waitstatus"] == 768
    infos: list[inf.JobInfo] = []
    job.result_async(h, 9).then(lambda f: infos.append(f.get_info()))
    h.reactor_run()
    assert infos[0].returncode == 3
    with pytest.raises(FileNotFoundError):
        job.result(h, 10)


def test_result_malformed_finish_is_eproto(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = [entry("submit"), entry("finish", {}), entry("clean")]
    with pytest.raises(OSError) as info:
        job.result(h, 9)
    assert info.value.errno == errno.EPROTO


def test_wait(h: Flux, script: Script) -> None:
    status = job.wait(h)
    assert status == JobWaitResult(77, False, WaitErrorString("task(s) exited with exit code 1"))
    # As libjob sends it: jansson integers are signed, so ANY (2**64-1) travels as -1.
    assert topics(script, "job-manager.wait") == [{"id": -1}]
    assert FLUX_JOBID_ANY == 2**64 - 1
    jobid, success, errstr = job.wait_async(h, 77).get_status()
    assert (jobid, success, errstr) == (77, False, status.errstr)


# -- output ----------------------------------------------------------------------------


def test_output_watch_lines_and_exception_on_stderr(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = [
        entry("submit"),
        entry("start"),
        entry("exception", exc_ctx("cancel", 0, "stop")),
        entry("finish", {"status": 15}),
        entry("clean"),
    ]
    script.logs[(9, "guest.output")] = output_log(("stdout", "a\nb\n"), ("stderr", "oops\n"))
    lines = list(out.output_watch_lines(h, 9))
    assert sorted(lines) == sorted(
        [
            ("stdout", "a"),
            ("stdout", "b"),
            ("stderr", "oops"),
            ("stderr", "job.exception: type=cancel severity=0 stop"),
        ]
    )
    watch = topics(script, "job-info.eventlog-watch")
    # As flux's clients: the output is watched once the shell is up, without WAITCREATE.
    assert {"id": 9, "path": "guest.exec.eventlog", "flags": 0} in watch
    assert {"id": 9, "path": "guest.output", "flags": 0} in watch
    kept = list(out.output_watch_lines(h, 9, keepends=True, labelio=True))
    assert ("stdout", "0: a\n") in kept


def test_output_watch_and_events(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = run_events(0)
    script.logs[(9, "guest.output")] = [
        *output_log(("stdout", "x\n")),
        EventLogEvent(log(out.LOG_DEBUG, "dbg")),
    ]
    chunks = list(out.output_watch(h, 9, log_stderr_level=out.LOG_ERROR))
    assert chunks == [("stdout", "x\n"), ("log", "flux-shell[0]: DEBUG: dbg\n")]
    kinds = [type(e).__name__ for e in out.output_event_watch(h, 9)]
    assert kinds == ["OutputHeaderEvent", "OutputEvent", "OutputEvent", "OutputEvent", "LogEvent"]


def test_output_never_started_is_eio(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = [
        entry("submit"),
        entry("exception", exc_ctx("cancel", 0, "")),
        entry("clean"),
    ]
    watcher = out.output_watch_async(h, 9)
    assert watcher.get_output() == ("stderr", "job.exception: type=cancel severity=0\n")
    with pytest.raises(OSError) as info:
        watcher.get_output()
    assert info.value.errno == errno.EIO
    assert str(info.value.strerror) == f"job {JobID(9)} never started"
    with pytest.raises(ev.JobException):
        out.job_output(h, 9)


def test_output_unknown_job(h: Flux, script: Script) -> None:
    with pytest.raises(FileNotFoundError) as info:
        list(out.output_watch(h, 404))
    assert info.value.strerror == f"job {JobID(404)} not found"
    with pytest.raises(FileNotFoundError):
        out.job_output(h, 404)
    with pytest.raises(FileNotFoundError):
        out.job_output(h, 404, nowait=True)


def test_job_output_wait_and_nowait(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = run_events(0)
    script.logs[(9, "guest.output")] = output_log(("stdout", "hi\n"), ("stderr", "e\n"))
    assert out.job_output(h, 9) == out.JobOutput("hi\n", "e\n", "")
    assert out.job_output(h, 9, nowait=True, labelio=True) == out.JobOutput("0: hi\n", "0: e\n", "")
    assert out.job_output(h, 9, tasks="1") == out.JobOutput("", "", "")


def test_output_watch_lines_async(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = run_events(0)
    script.logs[(9, "guest.output")] = output_log(("stdout", "1\n2\n"))
    got: list[tuple[str | None, str | None]] = []

    def cb(future: out.JobOutputWatchLines) -> None:
        got.append(future.getline())

    out.output_watch_lines_async(h, 9).then(cb)
    h.reactor_run()
    assert got == [("stdout", "1"), ("stdout", "2"), (None, None)]


# -- listing ---------------------------------------------------------------------------


def test_job_list_and_get_job(h: Flux, script: Script) -> None:
    script.jobs[3] = listed(id=3)
    script.jobs[4] = listed(id=4, state=inf.FLUX_JOB_STATE_RUN)
    rpc = ls.job_list(h, max_entries=5)
    assert [j["id"] for j in rpc.get_jobs()] == [3, 4]
    assert topics(script, "job-list.list")[0]["constraint"] == {"and": [{"userid": [os.getuid()]}]}
    assert [i.state for i in ls.JobList(h).jobs()] == ["SCHED", "RUN"]
    job = ls.get_job(h, 3)
    assert job is not None
    assert (job["id"], job["state"], job["name"], job["returncode"]) == (3, "SCHED", "sleep", "")
    assert ls.get_job(h, 99) is None
    jl = ls.JobList(h, ids=[4, 99])
    assert [i.id for i in jl.jobs()] == [4]
    assert jl.errors == ["JobID 99 unknown"]
    assert ls.job_list_id(h, 4).get_jobinfo().state == "RUN"


def test_job_output_equals_joined_output_watch(h: Flux, script: Script) -> None:
    script.logs[(9, "eventlog")] = run_events(0)
    script.logs[(9, "guest.output")] = [
        *output_log(("stdout", "a\n"), ("stderr", "b\n")),
        EventLogEvent(log(out.LOG_ERROR, "bad")),
        EventLogEvent(log(out.LOG_DEBUG, "dbg")),
    ]
    for level in (out.LOG_QUIET, out.LOG_ERROR, out.LOG_TRACE):
        joined: dict[str, str] = {"stdout": "", "stderr": "", "log": ""}
        for stream, text in out.output_watch(h, 9, log_stderr_level=level):
            joined[stream] += text
        expected = out.JobOutput(joined["stdout"], joined["stderr"], joined["log"])
        assert out.job_output(h, 9, log_stderr_level=level) == expected
